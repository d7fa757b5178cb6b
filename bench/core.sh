#!/usr/bin/env bash
# Core figures on a throwaway cluster, measured side by side in one run:
#  - the per-call cost of fraud_score(jsonb) over 100,000 calls (beyond building
#    the jsonb argument), best of 3;
#  - INSERT rate into a plain table and into the same table with the scoring
#    trigger, from ONE pgbench run that mixes both scripts 50/50
#    (2 clients, prepared statements, synchronous_commit off).
# Uses the fixture model test/fixtures/small.ubj (20 trees, depth 4).
# Usage: bench/core.sh [seconds]   (pgbench duration, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
export BENCH_SECONDS=$seconds
# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o synchronous_commit=off bash bench/core-inner.sh
