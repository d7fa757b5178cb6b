#!/usr/bin/env bash
# bench/velocity_hot.sh: a declared feature set's cost for a hot entity and
# under concurrent writers of one entity, on a throwaway cluster.
#
# Two merchants with ROWS rows each in their last 30 days (default
# 1,000,000, built by a backfill) beside cold merchants with a few rows each.  Every INSERT goes
# through a BEFORE trigger that computes the set's features of the new row
# (count, sum and max over 1 hour, 1 day and 30 days) and through the
# set's bucket trigger.  First, two clients inserting for one hot merchant
# against one client on each hot merchant, in alternating runs of SECONDS
# each.  Then pgbench runs two scripts in one run, picked at random per
# transaction: an INSERT for a hot merchant and one for a cold merchant;
# their latencies are compared.  Then glibc's malloc trim threshold against
# fraud_score's, and no copies of finer bucket rows against 8MB of them
# (fraud_score.bucket_cache_size; fraud_score is preloaded, which copies
# need), each a client with either setting at once.  Each measure gives the
# median of its rounds.
#
# Usage: bench/velocity_hot.sh [ROWS [SECONDS [ROUNDS]]]   (default 1000000 10 5)
set -euo pipefail
cd "$(dirname "$0")/.."
export ROWS=${1:-1000000} SECONDS_EACH=${2:-10} ROUNDS=${3:-5} REPO=$PWD
exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o max_wal_size=4GB -o synchronous_commit=off -o shared_buffers=1GB \
	-o shared_preload_libraries=fraud_score bash bench/velocity_hot-inner.sh
