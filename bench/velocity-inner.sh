#!/usr/bin/env bash
# Run by bench/velocity.sh inside pg_virtualenv.
set -euo pipefail
cd "$REPO"
# card_tx_features is VOLATILE (its queries see the same statement's rows): no parallel plans.
export PGOPTIONS="-c max_parallel_workers_per_gather=0"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== loading 2018-04-01..$TO from $FRAUD_DATA (bucket triggers off, then a backfill)"
psql <<SQL
CREATE EXTENSION fraud_score;
SET client_min_messages = warning;
\i examples/card_transactions.sql
RESET client_min_messages;
CREATE TABLE raw (file_order bigserial, transaction_id bigint, tx_datetime timestamp,
                  customer_id int, terminal_id int, tx_amount numeric(12,2),
                  tx_time_seconds bigint, tx_time_days int, tx_fraud int, tx_fraud_scenario int);
\copy raw (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, tx_time_seconds, tx_time_days, tx_fraud, tx_fraud_scenario) FROM PROGRAM 'gzip -dc "$FRAUD_DATA"' WITH (FORMAT csv, HEADER true)
ALTER TABLE card_tx DISABLE TRIGGER card_tx_velocity_buckets;
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
FROM raw WHERE tx_datetime < '$TO' ORDER BY file_order;
INSERT INTO card_tx_labels
SELECT transaction_id, tx_fraud = 1, tx_fraud_scenario FROM raw WHERE tx_datetime < '$TO';
DROP TABLE raw;
SELECT card_tx_report_frauds('$TO', '7 days') AS frauds_known;
ALTER TABLE card_tx ENABLE TRIGGER card_tx_velocity_buckets;
\timing on
SELECT fraud_feature_set_backfill('card_tx_velocity') AS backfilled_rows;
\timing off
VACUUM ANALYZE card_tx;
SELECT count(*) AS rows FROM card_tx;
SQL

echo "== every feature of the rows $FROM..$TO, both functions"
psql <<SQL
CREATE TABLE compared AS
SELECT t.transaction_id, card_tx_features(to_jsonb(t)) AS plpgsql, card_tx_velocity(to_jsonb(t)) AS declared
FROM card_tx t WHERE t.tx_datetime >= '$FROM' AND t.tx_datetime < '$TO';
SELECT count(*) AS rows_compared, count(*) * 25 AS features_compared,
       count(*) FILTER (WHERE plpgsql = declared) AS rows_equal FROM compared;
SELECT k AS feature, count(*) AS rows_differing,
       max(abs((declared->>k)::numeric - (plpgsql->>k)::numeric)) AS largest_difference
FROM compared, jsonb_object_keys(plpgsql) k
WHERE declared->k IS DISTINCT FROM plpgsql->k
GROUP BY k ORDER BY k;
SELECT transaction_id, k, plpgsql->k AS plpgsql, declared->k AS declared
FROM compared, jsonb_object_keys(plpgsql) k
WHERE declared->k IS DISTINCT FROM plpgsql->k AND k NOT LIKE 'amount_ratio%'
ORDER BY 1, 2 LIMIT 10;
SQL

echo "== per-row cost over the same rows, $ROUNDS interleaved rounds (best of each)"
psql -At <<SQL
CREATE TEMP TABLE docs AS SELECT to_jsonb(t) AS d FROM card_tx t
WHERE t.tx_datetime >= '$FROM' AND t.tx_datetime < '$TO';
CREATE TEMP TABLE timings (side text, round int, us float8);
DO \$\$
DECLARE
	started timestamptz;
	n bigint := (SELECT count(*) FROM docs);
BEGIN
	FOR r IN 1..$ROUNDS LOOP
		started := clock_timestamp();
		PERFORM count(card_tx_features(d)) FROM docs;
		INSERT INTO timings VALUES ('plpgsql', r, extract(epoch FROM clock_timestamp() - started) * 1e6 / n);
		started := clock_timestamp();
		PERFORM count(card_tx_velocity(d)) FROM docs;
		INSERT INTO timings VALUES ('declared', r, extract(epoch FROM clock_timestamp() - started) * 1e6 / n);
	END LOOP;
END
\$\$;
SELECT format('%s: %s us per row (rounds: %s)', side, round(min(us)::numeric, 2),
              string_agg(round(us::numeric, 2)::text, ' ' ORDER BY round))
FROM timings GROUP BY side ORDER BY side;
SELECT format('declared is %sx faster than PL/pgSQL',
              round((min(us) FILTER (WHERE side = 'plpgsql') / min(us) FILTER (WHERE side = 'declared'))::numeric, 2))
FROM timings;
SQL
