#!/usr/bin/env bash
# make model: rebuild the reference models models/card_d{1,3,7}.json from the
# Fraud Detection Handbook data in ../shared/data, on a throwaway cluster.
#
# For each label delay D: load 2018-04-01..2018-07-31 into the example schema
# (examples/card_transactions.sql), mark each fraud known D days after it,
# compute features with the example's declared feature set card_tx_velocity
# (point in time; equal to its PL/pgSQL card_tx_features), and
# train with fraud_model_train on 2018-05-01..2018-07-17, choosing thresholds
# on 2018-07-18..2018-07-31.  August is never read: it is the test month.
#
# Usage: models/build.sh [DELAY ...]     (default: 1 3 7)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FRAUD_DATA:-../shared/data/fraud_handbook_simulated_raw.csv.gz}
[ -r "$data" ] || { echo "models/build.sh: cannot read $data (set FRAUD_DATA)" >&2; exit 1; }
delays=("$@")
[ ${#delays[@]} -gt 0 ] || delays=(1 3 7)
export FRAUD_DATA=$(readlink -f "$data") DELAYS="${delays[*]}" REPO=$PWD
# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	-o max_wal_size=4GB -o synchronous_commit=off -o shared_buffers=1GB bash models/build-inner.sh
