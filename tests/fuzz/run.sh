#!/usr/bin/env bash
# Fuzzes every reader: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Coverage-guided (libFuzzer through cargo-fuzz, on the stable toolchain without a sanitizer:
# the readers are safe Rust, so a panic is what is looked for). Each target starts from its
# committed seeds (tests/fuzz/seeds/TARGET) copied to a scratch folder, so a run never changes
# the repository. A crash is copied to tests/fuzz/crashes/TARGET/ (commit it: `cargo test`
# replays every file there) and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario npy scores metadata part)
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
cargo fuzz build --fuzz-dir tests/fuzz --sanitizer none "${targets[@]/#/--bin=}" 2>/dev/null ||
    cargo fuzz build --fuzz-dir tests/fuzz --sanitizer none
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "$scratch/artifacts-$t"
    cp tests/fuzz/seeds/"$t"/* "$scratch/$t/"
    start=$(date +%s)
    if cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none "$t" "$scratch/$t" -- \
        -max_total_time="$secs" -max_len=8192 -artifact_prefix="$scratch/artifacts-$t/" \
        >"$scratch/$t.log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$scratch/$t.log" | tail -1 || true)
        echo "fuzz $t: no finding in $(( $(date +%s) - start )) s (${runs:-?})"
    else
        status=1
        mkdir -p "tests/fuzz/crashes/$t"
        cp "$scratch/artifacts-$t"/* "tests/fuzz/crashes/$t/" 2>/dev/null || true
        echo "fuzz $t: FOUND A CRASH (copied to tests/fuzz/crashes/$t/):"
        grep -m 5 -E "panicked|ERROR" "$scratch/$t.log" || tail -20 "$scratch/$t.log"
    fi
done
exit $status
