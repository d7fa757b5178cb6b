#!/usr/bin/env bash
# Run by models/build.sh inside pg_virtualenv.
set -euo pipefail
cd "$REPO"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== loading 2018-04-01..2018-07-31 from $FRAUD_DATA"
psql <<SQL
CREATE EXTENSION fraud_score;
\i examples/card_transactions.sql
CREATE TABLE raw (file_order bigserial, transaction_id bigint, tx_datetime timestamp,
                  customer_id int, terminal_id int, tx_amount numeric(12,2),
                  tx_time_seconds bigint, tx_time_days int, tx_fraud int, tx_fraud_scenario int);
\copy raw (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, tx_time_seconds, tx_time_days, tx_fraud, tx_fraud_scenario) FROM PROGRAM 'gzip -dc "$FRAUD_DATA"' WITH (FORMAT csv, HEADER true)
-- August is the test month: it never enters the training database.
-- The declared set's buckets are built once after the load, not row by row.
ALTER TABLE card_tx DISABLE TRIGGER card_tx_velocity_buckets;
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
FROM raw WHERE tx_datetime < '2018-08-01' ORDER BY file_order;
INSERT INTO card_tx_labels
SELECT transaction_id, tx_fraud = 1, tx_fraud_scenario FROM raw WHERE tx_datetime < '2018-08-01';
DROP TABLE raw;
ALTER TABLE card_tx ENABLE TRIGGER card_tx_velocity_buckets;
SELECT fraud_feature_set_backfill('card_tx_velocity') AS backfilled_rows;
VACUUM ANALYZE card_tx;
VACUUM ANALYZE card_tx_labels;
SELECT count(*) AS rows, count(*) FILTER (WHERE is_fraud) AS frauds FROM card_tx_labels;
SQL

for d in $DELAYS; do
	echo "== delay $d days: features and training"
	start=$(date +%s)
	psql <<SQL
UPDATE card_tx SET fraud_reported_at = NULL WHERE fraud_reported_at IS NOT NULL;
SELECT card_tx_report_frauds('2018-08-01', '$d days') AS frauds_known_by_august;
-- The features are index-only scans: give them back an all-visible table.
VACUUM card_tx;
SELECT fraud_model_train('card_d$d',
    \$q\$SELECT card_tx_velocity(to_jsonb(t)) AS features, l.is_fraud
        FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
        WHERE t.tx_datetime >= '2018-05-01' AND t.tx_datetime < '2018-07-18'\$q\$,
    'is_fraud',
    '{"max_depth": 6, "eta": 0.1, "num_boost_round": 200, "tree_method": "hist",
      "min_child_weight": 1, "nthread": 2, "notice_every": 50,
      "feature_function": "card_tx_velocity(jsonb)",
      "description": "reference model: handbook data 2018-05-01..07-17, thresholds on 07-18..07-31, label delay $d days"}',
    \$q\$SELECT card_tx_velocity(to_jsonb(t)) AS features, l.is_fraud
        FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
        WHERE t.tx_datetime >= '2018-07-18' AND t.tx_datetime < '2018-08-01'\$q\$,
    activate => true) AS version;
SELECT review_threshold, decline_threshold, metrics FROM fraud_models WHERE name = 'card_d$d';
SELECT fraud_model_set_reasons('card_d$d', 1, \$r\$$(cat models/card_reasons.json)\$r\$);
SQL
	command psql -X -At -v ON_ERROR_STOP=1 -c "SELECT fraud_model_export('card_d$d')" > "models/card_d$d.json"
	echo "== wrote models/card_d$d.json ($(stat -c %s "models/card_d$d.json") bytes) in $(( $(date +%s) - start )) s"
done
