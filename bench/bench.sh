#!/usr/bin/env bash
# make bench: fraud_score's benchmark suite on a throwaway cluster.  Every
# figure is measured side by side in this one run; nothing here is a test.
# Prints a Markdown table and, as its last line, one JSON object; with
# --results, also writes bench/RESULTS.md.
#
#   scoring cost, 200-tree depth-6 model, 1,000,000 rows of 10 features:
#     fraud_score(jsonb) per row beyond building its jsonb, native and
#     xgboost engines; the trigger's row path; XGBoost's own batch prediction
#   single-call latency p50/p99/p99.9 under 2 clients; first score in a new
#     backend (model load)
#   INSERT rate, plain vs scored by the trigger, one pgbench run interleaving
#     both, 2 clients, prepared, synchronous_commit on and off
#   model size sweep: 50/200/1000 trees x depth 4/6/8, per-row cost
#   categorical against numerical: fraud_score(jsonb) per call over 100,000
#     documents for the 20-tree depth-4 fixtures, categorical codes and names
#     beside numerical, in interleaved rounds, with their ratios
#   LightGBM against XGBoost: fraud_score(jsonb) per call over 100,000 documents
#     for the 200-tree depth-6 model and its LightGBM twin (the same trees as a
#     LightGBM text model, bench/xgb_to_lgbm.py), interleaved rounds, the ratio
#     and the fraction of scores within 0.01 of each other
#   explanations: fraud_explain per call for the 200-tree depth-6 model,
#     TreeSHAP and Saabas over 100,000 documents and XGBoost's own
#     pred_contribs over 5,000, interleaved rounds, and the explainer's size;
#     the trigger with a reasons column, approved and flagged rows with and
#     without it, in one pgbench run
#   serving statistics (bench/serving-inner.sh, a second server with
#     fraud_score preloaded): fraud_score.track_stats on against off for the
#     scored INSERT ... SELECT per row, fraud_score(jsonb) per call and
#     single-row INSERT transactions, interleaved
#   declared features (bench/declared-inner.sh, a third server): single-row
#     INSERTs scored with the example's declared set card_tx_velocity against
#     plain INSERTs of the same rows into a twin of card_tx, interleaved
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_RESULTS=0 BENCH_SECONDS=${BENCH_SECONDS:-15}
[ "${1:-}" = --results ] && BENCH_RESULTS=1
make -s -C bench
export REPO=$PWD BENCH_WORK
BENCH_WORK=$(mktemp -d)
chmod 755 "$BENCH_WORK"
trap 'rm -rf "$BENCH_WORK"' EXIT
# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o shared_buffers=512MB -o max_wal_size=4GB bash bench/bench-inner.sh
# Serving statistics need fraud_score in shared_preload_libraries: a second server.
pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o shared_buffers=512MB -o max_wal_size=4GB -o shared_preload_libraries=fraud_score \
	bash bench/serving-inner.sh
pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o shared_buffers=512MB -o max_wal_size=4GB bash bench/declared-inner.sh
json="$(sed 's/}$//' "$BENCH_WORK/main.json"),\"serving\":$(cat "$BENCH_WORK/serving.json"),\"declared\":$(cat "$BENCH_WORK/declared.json")}"
{ cat "$BENCH_WORK/table.md"; echo; cat "$BENCH_WORK/serving.md"; echo; cat "$BENCH_WORK/declared.md"; } > "$BENCH_WORK/all.md"
cat "$BENCH_WORK/all.md"
if [ "$BENCH_RESULTS" = 1 ]; then
	{ cat "$BENCH_WORK/all.md"; echo; echo '```'; echo "$json"; echo '```'; } > bench/RESULTS.md
fi
echo "$json"
