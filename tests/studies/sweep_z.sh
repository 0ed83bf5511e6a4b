#!/usr/bin/env bash
# On-demand study: does a sweep's z (simulated SEL against the scenario's closed form, over the
# simulated interval) behave like a standard normal? moscow-citywide resized to N detections,
# re-run over seeds; prints, per threshold, the mean and spread of z and the share of |z| > 1.96
# (an interval that covers 95 % of the time gives about 0.05).
#   tests/studies/sweep_z.sh [N] [SEEDS]        (defaults 100000 and 120; about 3 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
seeds=${2:-120}
cargo build --release --locked -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in $(seq 1 "$seeds"); do
    sed "s/^seed = 20210101/seed = $seed/" datasets/scenarios/moscow-citywide.toml >"$work/s.toml"
    target/release/falsematch sweep "$work/s.toml" --sizes "$n..$n" --simulate-up-to "$n" \
        --threads 2 --quiet --out "$work/out"
    tail -n +2 "$work/out/sweep.csv" | awk -F, '$13 != "" {print $2 "," $13}' >>"$work/z.csv"
    rm -rf "$work/out"
done
python3 - "$work/z.csv" <<'PY'
import csv, statistics, sys
by = {}
for label, z in csv.reader(open(sys.argv[1])):
    by.setdefault(label, []).append(float(z))
for label, zs in by.items():
    miss = sum(abs(z) > 1.96 for z in zs)
    print(f"{label:<22} {len(zs):>4} runs  mean z {statistics.mean(zs):+.2f}  sd {statistics.pstdev(zs):.2f}  |z| > 1.96: {miss} ({miss / len(zs):.3f})")
PY
