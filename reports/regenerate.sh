#!/usr/bin/env bash
# Regenerates every committed report folder under reports/ with the commands a user runs.
# `.ci/run` verifies each folder (falsematch verify), so run this after any change to results.
# Usage: reports/regenerate.sh [NAME...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
fm=target/release/falsematch
SELECTED=("$@")
want() { [ ${#SELECTED[@]} -eq 0 ] || [[ " ${SELECTED[*]} " == *" $1 "* ]]; }
fresh() { rm -rf "reports/$1"; }
for name in kaganskikh-2019 kuznetsova-2020 metro-watchlist aclu-2018 npl-met-2023 nist-demographics closed-form-check lfw-facenet; do
    if want "$name"; then fresh "$name"; "$fm" run "$name" --out "reports/$name" --quiet; fi
done
if want evaluate-continuous; then
    fresh evaluate-continuous
    "$fm" evaluate --scores tests/data/parity/continuous.csv --out reports/evaluate-continuous --quiet
fi
if want kaganskikh-2019-sweep; then
    fresh kaganskikh-2019-sweep
    "$fm" sweep kaganskikh-2019 --sizes 4.2e5..8.4e6 --per-decade 4 --simulate-up-to 2.1e6 --out reports/kaganskikh-2019-sweep --quiet
fi
if want metro-watchlist-sweep; then
    fresh metro-watchlist-sweep
    "$fm" sweep metro-watchlist --sizes 1e2..1e5 --per-decade 2 --simulate-up-to 1e5 --out reports/metro-watchlist-sweep --quiet
fi
if want moscow-citywide; then
    fresh moscow-citywide
    "$fm" sweep moscow-citywide --sizes 1e4..2.8e9 --per-decade 2 --simulate-up-to 1e6 --out reports/moscow-citywide --quiet
fi
if want moscow-citywide-screened; then
    fresh moscow-citywide-screened
    "$fm" sweep moscow-citywide-screened --sizes 1e4..2.8e9 --per-decade 1 --simulate-up-to 1e9 --out reports/moscow-citywide-screened --quiet
fi
