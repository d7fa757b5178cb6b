#!/usr/bin/env bash
# The seasonal-shift replay (bench/README.md): does the nightly recalibration
# keep the flagged set's precision when the fraud rate moves?
#
# tools/simulate writes April to September 2018 with twice the genuine
# traffic in August (--season 122:31:2); a model is trained in the database
# with the example feature function on May 1 - June 17, its thresholds chosen
# on June 18-30 (as models/build.sh does on the handbook data); then July to
# September are replayed through the trigger, labels arriving a day late,
# with and without --recalibrate TARGET (the one without also backtests the
# model over the replayed rows: its rate beside the trigger's).  Prints detection by month for both;
# with --check, fails unless the recalibrated replay keeps precision >=
# TARGET - 0.05 in every month and recall >= 0.80 overall.
#
#   bench/season.sh [--target P] [--customers N] [--check] [--only-recalibrated]
set -euo pipefail
cd "$(dirname "$0")/.."
target=0.5
customers=2000
check=0
both=1
while [ $# -gt 0 ]; do
	case $1 in
	--target) target=$2; shift 2 ;;
	--customers) customers=$2; shift 2 ;;
	--check) check=1; shift ;;
	--only-recalibrated) both=0; shift ;;
	*) echo "season.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
make -s -C tools
tools/simulate --customers "$customers" --terminals $((customers * 2)) --days 183 --seed 3 \
	--season 122:31:2 > "$work/season.csv"
echo "== season: $(($(wc -l < "$work/season.csv") - 1)) simulated rows, 2018-04-01 .. 2018-09-30" >&2

# Train on the simulator's own history, in a throwaway cluster.
export SEASON_WORK=$work
pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' -o synchronous_commit=off bash -c '
set -euo pipefail
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
q <<SQL
SET client_min_messages = warning;
CREATE EXTENSION fraud_score;
\i examples/card_transactions.sql
CREATE TABLE raw (transaction_id bigint, tx_datetime timestamp, customer_id int, terminal_id int,
                  tx_amount numeric(12,2), tx_time_seconds bigint, tx_time_days int, tx_fraud int,
                  tx_fraud_scenario int);
\copy raw FROM '"'"'$SEASON_WORK/season.csv'"'"' WITH (FORMAT csv, HEADER true)
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
FROM raw WHERE tx_datetime < '"'"'2018-07-01'"'"' ORDER BY tx_datetime, transaction_id;
INSERT INTO card_tx_labels
SELECT transaction_id, tx_fraud = 1, tx_fraud_scenario FROM raw WHERE tx_datetime < '"'"'2018-07-01'"'"';
DROP TABLE raw;
SELECT card_tx_report_frauds('"'"'2018-07-01'"'"', '"'"'1 day'"'"') \g /dev/null
VACUUM ANALYZE card_tx;
SELECT fraud_model_train('"'"'season'"'"',
    \$q\$SELECT card_tx_features(to_jsonb(t)) AS features, l.is_fraud
        FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
        WHERE t.tx_datetime >= '"'"'2018-05-01'"'"' AND t.tx_datetime < '"'"'2018-06-18'"'"'\$q\$,
    '"'"'is_fraud'"'"',
    '"'"'{"max_depth": 6, "eta": 0.1, "num_boost_round": 200, "tree_method": "hist",
      "nthread": 2, "notice_every": 0, "feature_function": "card_tx_features(jsonb)",
      "description": "bench/season.sh: simulated 2018-05-01..06-17, thresholds on 06-18..06-30"}'"'"',
    \$q\$SELECT card_tx_features(to_jsonb(t)) AS features, l.is_fraud
        FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
        WHERE t.tx_datetime >= '"'"'2018-06-18'"'"' AND t.tx_datetime < '"'"'2018-07-01'"'"'\$q\$,
    activate => true) \g /dev/null
SQL
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT fraud_model_export('"'"'season'"'"')" > "$SEASON_WORK/season.json"
psql -X -At -c "SELECT '"'"'== season: model trained: '"'"' || (metrics->>'"'"'auc'"'"') || '"'"' AUC on June 18-30, review threshold '"'"' || review_threshold FROM fraud_models WHERE name = '"'"'season'"'"'" >&2
' >&2

replay() {
	bench/replay --history "$work/season.csv" --replay "$work/season.csv" --from 2018-07-01 \
		--delay-days 1 --model "$work/season.json" "$@" 2> "$work/replay.err" | tail -n 1
}
# Detection by month from the replay's JSON line (no jq in Debian's base system).
monthly() {
	grep -o '{"month":[^}]*}' | sed 's/[{}"]//g; s/[a-z_]*://g' |
		awk -F, '{printf "   %s  rows %7d  frauds %5d  flagged %6d  precision %.4f  recall %.4f\n", $1, $2, $3, $4, $5, $6}'
}
overall() { sed -n 's/.*"precision":\([0-9.]*\),"recall":\([0-9.]*\),"auc".*/   overall  precision \1  recall \2/p'; }
if [ "$both" = 1 ]; then
	echo "== season: replay July-September with the thresholds chosen in June" >&2
	plain=$(replay --backtest)
	monthly <<< "$plain"
	overall <<< "$plain"
	sed -n 's/.*"inserts_per_second":\([0-9.]*\),.*"backtest_rows_per_second":\([0-9.]*\),"backtest_rows":\([0-9]*\),"backtest_candidate_flagged":[0-9]*,"backtest_active_flagged":\([0-9]*\).*/   backtest \2 rows\/s beside scored INSERTs \1 rows\/s over \3 rows; its active side flagged \4/p' <<< "$plain"
	sed -n 's/^{"rows":[0-9]*,"frauds":[0-9]*,"flagged":\([0-9]*\),.*/   (the trigger flagged \1)/p' <<< "$plain"
fi
echo "== season: replay July-September, recalibrated every night for precision $target" >&2
recal=$(replay --recalibrate "$target")
monthly <<< "$recal"
overall <<< "$recal"
grep -c "recalibration changed" "$work/replay.err" | sed 's/^/   nights that changed the thresholds: /'
echo "$recal"
if [ "$check" = 1 ]; then
	short=$(monthly <<< "$recal" | awk -v t="$target" '$9 < t - 0.05 {print $1}' | tr '\n' ' ')
	recall=$(overall <<< "$recal" | awk '{print $5}')
	if [ -n "$short" ] || ! awk -v r="$recall" 'BEGIN { exit !(r >= 0.80) }'; then
		echo "FAILED: recalibrated replay: precision below $target - 0.05 in: ${short:-no month}; recall $recall (needs 0.80)" >&2
		exit 1
	fi
fi
