#!/usr/bin/env bash
# bench/velocity.sh: the example's declared feature set (card_tx_velocity,
# examples/card_transactions.sql) beside its PL/pgSQL feature function
# (card_tx_features) on the Fraud Detection Handbook data, on a throwaway
# cluster: the buckets' backfill time, every feature of every compared row
# side by side (differences counted per feature), and the per-row cost of
# both functions over the same rows in interleaved rounds.
#
# Usage: bench/velocity.sh [FROM [TO [ROUNDS]]]   (default 2018-07-01 2018-07-08 3)
# Needs fraud_score installed and ../shared/data (FRAUD_DATA to override).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FRAUD_DATA:-../shared/data/fraud_handbook_simulated_raw.csv.gz}
[ -r "$data" ] || { echo "bench/velocity.sh: cannot read $data (set FRAUD_DATA)" >&2; exit 1; }
export FRAUD_DATA=$(readlink -f "$data") REPO=$PWD
export FROM=${1:-2018-07-01} TO=${2:-2018-07-08} ROUNDS=${3:-3}
exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o max_wal_size=4GB -o synchronous_commit=off -o shared_buffers=1GB bash bench/velocity-inner.sh
