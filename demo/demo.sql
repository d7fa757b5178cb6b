-- fraud_score demo: run by `make demo` on a throwaway cluster (demo/run).
-- Environment: DEMO_CSV, the transactions made by tools/simulate.
\pset footer off
\echo '== 1. The extension, the card-transaction example schema, and the reference model'
CREATE EXTENSION fraud_score;
\i examples/card_transactions.sql
\set model `cat models/card_d7.json`
SELECT fraud_model_import(:'model', 'cards') AS version;
-- The document carries the reason texts of its 25 features (models/card_reasons.json).
SELECT count(*) AS reason_texts FROM fraud_models, jsonb_object_keys(reasons) WHERE name = 'cards';
SELECT name, version, num_features, round(review_threshold::numeric, 3) AS review_at,
       round(decline_threshold::numeric, 3) AS decline_at, feature_function,
       metrics->'recall_at_precision_50' AS validation_recall_at_p50
FROM fraud_models;

\echo '== 2. History: 40 simulated days of card transactions (tools/simulate), fraud labels known 7 days late'
CREATE TEMP TABLE sim (transaction_id bigint, tx_datetime timestamp, customer_id int, terminal_id int,
                       tx_amount numeric(12, 2), tx_time_seconds bigint, tx_time_days int,
                       tx_fraud int, tx_fraud_scenario int);
\copy sim FROM PROGRAM 'cat "$DEMO_CSV"' WITH (FORMAT csv, HEADER true)
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
SELECT transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
FROM sim WHERE tx_time_days < 40 ORDER BY transaction_id;
INSERT INTO card_tx_labels SELECT transaction_id, tx_fraud = 1, tx_fraud_scenario FROM sim;
SELECT card_tx_report_frauds('2018-05-11', '7 days') AS frauds_known;
ANALYZE card_tx;
SELECT count(*) AS history_rows FROM card_tx;

\echo '== 3. Day 41 goes live: every INSERT is scored by the trigger, with features from the history'
ALTER TABLE card_tx ADD COLUMN reasons text[];
CREATE TRIGGER score BEFORE INSERT ON card_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('cards', 'score', 'decision', 'model_version', 'reasons');
DO $$
DECLARE
	tx record;
BEGIN
	FOR tx IN SELECT * FROM sim WHERE tx_time_days = 40 ORDER BY transaction_id LOOP
		PERFORM card_tx_report_frauds(tx.tx_datetime, '7 days');
		INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
		VALUES (tx.transaction_id, tx.tx_datetime, tx.customer_id, tx.terminal_id, tx.tx_amount);
	END LOOP;
END $$;

SELECT t.transaction_id, t.tx_datetime, t.customer_id, t.terminal_id, t.tx_amount,
       round(t.score::numeric, 4) AS score, t.decision,
       CASE WHEN l.is_fraud THEN 'fraud (scenario ' || l.scenario || ')' ELSE '' END AS truth
FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
WHERE t.score IS NOT NULL AND (t.decision <> 'approve' OR l.is_fraud)
ORDER BY t.tx_datetime LIMIT 15;

\echo '== 4. The day in numbers: decisions against the truth'
SELECT t.decision, count(*) AS transactions, count(*) FILTER (WHERE l.is_fraud) AS frauds
FROM card_tx t JOIN card_tx_labels l USING (transaction_id)
WHERE t.score IS NOT NULL GROUP BY 1 ORDER BY 1;

\echo '== 5. Ad hoc: the same model on a JSON document (its feature function looks the card up)'
SELECT * FROM fraud_decide(jsonb_build_object('customer_id', 7, 'terminal_id', 42,
                                              'tx_amount', 912.50, 'tx_datetime', '2018-05-11 23:59:00'),
                           'cards');

\echo '== 6. Why: the reasons the trigger wrote with the day''s last declined transaction, and its full explanation'
SELECT transaction_id, tx_amount, round(score::numeric, 4) AS score, reasons
FROM card_tx WHERE decision = 'decline' ORDER BY seq DESC LIMIT 1;
-- Contributions are in log-odds, relative to the model's bias; bias + all = the margin.
SELECT round(fraud_explain_bias('cards')::numeric, 3) AS bias;
SELECT feature, round(value::numeric, 3) AS value, round(contribution::numeric, 3) AS contribution, reason
FROM card_tx t, fraud_explain(to_jsonb(t), 'cards', 8)
WHERE t.transaction_id = (SELECT transaction_id FROM card_tx WHERE decision = 'decline' ORDER BY seq DESC LIMIT 1);
