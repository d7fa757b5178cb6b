#!/usr/bin/env bash
# Run by bench/bench.sh inside pg_virtualenv (a third server): scored INSERTs
# through the example's trigger with its declared feature set card_tx_velocity
# (the reference model card_d7) against plain INSERTs of the same rows into a
# twin of card_tx with the same columns and indexes and no trigger, one
# pgbench run interleaving both, one client, prepared.  Simulated data
# (tools/simulate): 50 days of history, then the next days' rows in order.
# Writes $BENCH_WORK/declared.md and declared.json.
set -euo pipefail
cd "$REPO"
work=$BENCH_WORK
. bench/lib.sh

echo "== declared features: scored INSERTs with card_tx_velocity against plain INSERTs into card_tx's twin" >&2
make -s -C tools
tools/simulate --customers 2000 --terminals 4000 --days 60 --start 2018-04-01 --seed 11 > "$work/sim.csv"
chmod 644 "$work/sim.csv"
q > /dev/null <<SQL
CREATE EXTENSION fraud_score;
SET client_min_messages = warning;
\i examples/card_transactions.sql
RESET client_min_messages;
CREATE TABLE sim (transaction_id bigint, tx_datetime timestamp, customer_id int, terminal_id int,
                  tx_amount numeric(12, 2), tx_time_seconds bigint, tx_time_days int,
                  tx_fraud int, tx_fraud_scenario int);
\copy sim FROM '$work/sim.csv' WITH (FORMAT csv, HEADER true)
ALTER TABLE card_tx DISABLE TRIGGER card_tx_velocity_buckets;
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
FROM sim WHERE tx_time_days < 50 ORDER BY transaction_id;
INSERT INTO card_tx_labels SELECT transaction_id, tx_fraud = 1, tx_fraud_scenario FROM sim;
SELECT card_tx_report_frauds('2018-05-21', '7 days') IS NOT NULL AS reported;
ALTER TABLE card_tx ENABLE TRIGGER card_tx_velocity_buckets;
SET client_min_messages = warning;
SELECT fraud_feature_set_backfill('card_tx_velocity') > 0 AS backfilled;
RESET client_min_messages;
-- The twin: card_tx's columns, defaults, identity and indexes, the same history, no trigger.
CREATE TABLE card_tx_twin (LIKE card_tx INCLUDING ALL);
INSERT INTO card_tx_twin OVERRIDING SYSTEM VALUE SELECT * FROM card_tx;
SELECT setval(pg_get_serial_sequence('card_tx_twin', 'seq'), (SELECT max(seq) FROM card_tx_twin));
CREATE TABLE live AS
SELECT row_number() OVER (ORDER BY transaction_id) AS n, transaction_id, tx_datetime, customer_id,
       terminal_id, tx_amount
FROM sim WHERE tx_time_days >= 50;
CREATE UNIQUE INDEX ON live (n);
CREATE SEQUENCE scored_row;
CREATE SEQUENCE plain_row;
\\set model \`cat models/card_d7.json\`
SELECT fraud_model_import(:'model', 'cards') AS version;
CREATE TRIGGER score BEFORE INSERT ON card_tx FOR EACH ROW
	EXECUTE FUNCTION fraud_score_trigger('cards', 'score', 'decision', 'model_version');
VACUUM ANALYZE;
SQL
live_rows=$(q -At -c "SELECT count(*) FROM live")
cat > "$work/declared_scored.sql" <<'SQL'
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount FROM live WHERE n = (SELECT nextval('scored_row'));
SQL
sed 's/card_tx (/card_tx_twin (/; s/scored_row/plain_row/' "$work/declared_scored.sql" > "$work/declared_plain.sql"
# Each side inserts at most half the live rows: a run never runs out of them.
rm -f "$work"/dcl.*
(cd "$work" && PGOPTIONS="-c synchronous_commit=off" pgbench -n -M prepared -c 1 -t $((live_rows * 9 / 10)) \
	-l --log-prefix=dcl -f declared_plain.sql@1 -f declared_scored.sql@1 > /dev/null)
read -r dcl_plain_us dcl_scored_us dcl_plain_n dcl_scored_n <<< "$(cat "$work"/dcl.* |
	awk '{sum[$4] += $3; n[$4]++} END {printf "%.1f %.1f %d %d", sum[0] / n[0], sum[1] / n[1], n[0], n[1]}')"
scored_rows=$(q -At -c "SELECT count(*) FROM card_tx WHERE score IS NOT NULL")
dcl_ratio=$(ratio "$dcl_plain_us" "$dcl_scored_us")
{
	echo "Declared features (examples/card_transactions.sql's card_tx_velocity, 25 features in C from time buckets):"
	echo "single-row INSERT transactions through the scoring trigger with the reference model card_d7, beside plain"
	echo "INSERTs of the same simulated rows into a twin of card_tx (the same columns, indexes and 50 days of history,"
	echo "no trigger), one pgbench run interleaving both, 1 client, prepared, synchronous_commit off, mean latency:"
	echo
	echo "| INSERT | rows | us per row | rate to plain |"
	echo "|---|---|---|---|"
	echo "| plain, into the twin | $dcl_plain_n | $dcl_plain_us us | 1 |"
	echo "| scored, features from the buckets, buckets kept by the set's trigger | $dcl_scored_n ($scored_rows scored) | $dcl_scored_us us | ${dcl_ratio}x |"
} > "$work/declared.md"
printf '{"plain_us":%s,"scored_us":%s,"plain_rows":%s,"scored_rows":%s,"rate_ratio":%s}' \
	"$dcl_plain_us" "$dcl_scored_us" "$dcl_plain_n" "$dcl_scored_n" "$dcl_ratio" > "$work/declared.json"
