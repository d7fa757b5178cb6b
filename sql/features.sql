-- Feature functions: a model names a (jsonb) RETURNS jsonb function whose
-- output is merged over the row's own values.  With the card-transaction
-- example, features computed live at insert equal those computed afterwards
-- for training, on the same rows.
\i test/fixtures.psql
\set ECHO none
\i examples/card_transactions.sql
\set ECHO all

-- The fixture model, with five of the example's features as its inputs.
SELECT fraud_model_load('card', decode(:'small_ubj', 'base64'),
                        features => ARRAY['amount', 'hour', 'card_n_7d', 'amount_ratio_90d',
                                          'terminal_known_frauds_30d'],
                        feature_function => 'card_tx_features(jsonb)');
SELECT name, version, features, feature_function FROM fraud_models WHERE name = 'card';

CREATE TRIGGER score BEFORE INSERT OR UPDATE ON card_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('card', 'score', 'decision', 'model_version');

-- Record what the feature function returns at insert time (runs before "score").
CREATE TABLE live_features (transaction_id bigint PRIMARY KEY, features jsonb);
CREATE FUNCTION capture_features() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO live_features VALUES (NEW.transaction_id, card_tx_features(to_jsonb(NEW)));
	RETURN NEW;
END $$;
CREATE TRIGGER a_capture BEFORE INSERT ON card_tx
    FOR EACH ROW EXECUTE FUNCTION capture_features();

-- 40 days of a small deterministic card world: 30 cards, 12 terminals.
-- Frauds: amounts over 220; every transaction at terminal 3 on days 10-23;
-- card 7's amounts times 5 on odd transactions of days 20-33.
CREATE TABLE world AS
SELECT i AS transaction_id,
       timestamp '2018-04-01' + (i * interval '23 minutes') AS tx_datetime,
       (i * 7) % 30 AS customer_id,
       ((i * 7) % 30 + (i / 3) % 4) % 12 AS terminal_id,
       round((((i * 7919) % 9000) / 100.0 + 5)
             * CASE WHEN (i * 7) % 30 = 7 AND i % 2 = 1 AND i / 63 BETWEEN 20 AND 33
                    THEN 5 ELSE 1 END, 2) AS tx_amount
FROM generate_series(0, 2503) AS i;
INSERT INTO card_tx_labels
SELECT transaction_id,
       tx_amount > 220 OR (terminal_id = 3 AND tx_datetime >= '2018-04-11' AND tx_datetime < '2018-04-25')
           OR (customer_id = 7 AND transaction_id % 2 = 1 AND transaction_id / 63 BETWEEN 20 AND 33),
       CASE WHEN customer_id = 7 AND transaction_id % 2 = 1 AND transaction_id / 63 BETWEEN 20 AND 33 THEN 3
            WHEN terminal_id = 3 AND tx_datetime >= '2018-04-11' AND tx_datetime < '2018-04-25' THEN 2
            WHEN tx_amount > 220 THEN 1 ELSE 0 END
FROM world;
SELECT count(*) AS transactions, count(*) FILTER (WHERE is_fraud) AS frauds,
       min(tx_datetime) AS first, max(tx_datetime) AS last
FROM world JOIN card_tx_labels USING (transaction_id);

-- Replay in time order, one INSERT per transaction; before each, every fraud
-- label due by its time (7 days after the fraud) is reported.
DO $$
DECLARE
	tx record;
BEGIN
	FOR tx IN SELECT * FROM world ORDER BY tx_datetime LOOP
		PERFORM card_tx_report_frauds(tx.tx_datetime, '7 days');
		INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
		VALUES (tx.transaction_id, tx.tx_datetime, tx.customer_id, tx.terminal_id, tx.tx_amount);
	END LOOP;
END $$;
SELECT count(*) AS scored, count(*) FILTER (WHERE fraud_reported_at IS NOT NULL) AS reported,
       count(DISTINCT model_version) AS versions
FROM card_tx;

-- Afterwards, with every later row and label in the table, the same function
-- gives every row the features it had at insert time ...
SELECT count(*) AS rows,
       count(*) FILTER (WHERE l.features = card_tx_features(to_jsonb(t))) AS same_features
FROM card_tx t JOIN live_features l USING (transaction_id);
-- ... and the jsonb path gives the score the trigger wrote.
SELECT count(*) FILTER (WHERE fraud_score(to_jsonb(t), 'card') = t.score) AS same_scores
FROM card_tx t;

-- A backtest over the stored rows reproduces the live decisions: each row's
-- features as of its arrival, the active version's thresholds; labels as
-- known at the last row (reported frauds; older than 7 days: genuine).  A candidate
-- (the same trees with a lower review threshold) beside it flags more.
SELECT fraud_model_load('card', decode(:'small_ubj', 'base64'),
                        features => ARRAY['amount', 'hour', 'card_n_7d', 'amount_ratio_90d',
                                          'terminal_known_frauds_30d'],
                        feature_function => 'card_tx_features(jsonb)', activate => false,
                        review_threshold => 0.05, decline_threshold => 0.9);
SELECT b.role, b.version, b.rows, b.flagged, b.labeled, b.frauds, b.frauds_caught,
       b.flagged = (SELECT count(*) FROM card_tx t, fraud_models m
                    WHERE m.name = 'card' AND m.version = b.version AND t.score >= m.review_threshold)
       AS flags_match_stored_scores,
       b.frauds_caught = (SELECT count(*) FROM card_tx t JOIN card_tx_labels l USING (transaction_id), fraud_models m
                          WHERE m.name = 'card' AND m.version = b.version AND t.score >= m.review_threshold
                            AND l.is_fraud AND t.tx_datetime <= (SELECT max(tx_datetime) FROM card_tx) - interval '7 days')
       AS caught_match_labels
FROM card_tx_backtest('card', 2, '2018-04-01', '2018-05-12',
                      as_of => (SELECT max(tx_datetime) FROM card_tx)) b;
SELECT count(*) FILTER (WHERE decision <> 'approve') AS flagged_live FROM card_tx;
-- Drift of the last ten days against the first twenty (the reference set
-- from those rows, scored by version 1): terminal 3's fraud wave and card
-- 7's amounts are in the reference only.
SELECT (fraud_model_set_reference('card', 1,
        $$SELECT to_jsonb(t) FROM card_tx t WHERE tx_datetime < '2018-04-21'$$))->'rows' AS reference_rows;
SELECT kind, feature, drift, recent_rows, round(psi::numeric, 3) AS psi
FROM card_tx_drift('card', '2018-05-12', '10 days');

-- Known fraud shows in the features only once reported: terminal 3's frauds
-- start on April 11 and are known from April 18.
SELECT date_trunc('day', t.tx_datetime)::date AS day,
       max((l.features->>'terminal_known_frauds_30d')::int) AS known_frauds_30d,
       max((l.features->>'days_since_terminal_fraud')::numeric) FILTER (WHERE l.features->>'days_since_terminal_fraud' IS NOT NULL) AS max_days_since
FROM card_tx t JOIN live_features l USING (transaction_id)
WHERE t.terminal_id = 3 AND t.tx_datetime BETWEEN '2018-04-16' AND '2018-04-20'
GROUP BY 1 ORDER BY 1;
-- Card 7's fivefold amounts stand out against its own history.
SELECT (l.features->>'amount_ratio_90d')::numeric > 3 AS far_above_norm, count(*)
FROM card_tx t JOIN live_features l USING (transaction_id) JOIN card_tx_labels b USING (transaction_id)
WHERE t.customer_id = 7 AND b.scenario = 3 AND t.tx_datetime > '2018-04-25'
GROUP BY 1 ORDER BY 1;

-- Features the function returns win over the row's own keys (the example
-- computes "amount" from "tx_amount"), even when the function's value is null.
SELECT fraud_score('{"tx_amount": 50, "customer_id": 1, "terminal_id": 1}', 'card')
     = fraud_score('{"amount": 99999, "tx_amount": 50, "customer_id": 1, "terminal_id": 1}', 'card')
       AS function_wins,
       fraud_score('{"amount": 99999, "customer_id": 1, "terminal_id": 1}', 'card')
     = fraud_score('{"customer_id": 1, "terminal_id": 1}', 'card') AS function_null_wins;

-- A feature function must take jsonb and return jsonb.
\set SHOW_CONTEXT never
SELECT fraud_model_load('bad', decode(:'small_ubj', 'base64'), feature_function => 'lower(text)');
SELECT fraud_model_load('bad', decode(:'small_ubj', 'base64'), feature_function => 'jsonb_each(jsonb)');
CREATE TABLE fixture AS SELECT decode(:'small_ubj', 'base64') AS model;
SELECT fraud_model_load('bad', model, feature_function => 'no_such_function(jsonb)') FROM fixture;
\set SHOW_CONTEXT errors

-- Its output must be an object; its errors are the caller's errors.
CREATE FUNCTION array_features(jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[1, 2]'::jsonb $$;
CREATE FUNCTION failing_features(jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'history unavailable for card %', $1->>'customer_id';
END $$;
CREATE FUNCTION null_features(jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
SELECT fraud_model_load('arr', decode(:'small_ubj', 'base64'), feature_function => 'array_features(jsonb)');
SELECT fraud_model_load('fail', decode(:'small_ubj', 'base64'), feature_function => 'failing_features(jsonb)');
SELECT fraud_model_load('nul', decode(:'small_ubj', 'base64'), feature_function => 'null_features(jsonb)');
SELECT fraud_model_load('plain', decode(:'small_ubj', 'base64'));
SELECT fraud_score('{"amount": 50}', 'arr');
SELECT fraud_score('{"amount": 50, "customer_id": 42}', 'fail');
SELECT fraud_score('{"amount": 50}', 'nul') = fraud_score('{"amount": 50}', 'plain') AS null_means_no_extra;

-- A trigger row whose feature function fails is not inserted.
CREATE TABLE guarded (customer_id int, amount float8, score float8);
CREATE TRIGGER t BEFORE INSERT ON guarded
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('fail', 'score');
INSERT INTO guarded VALUES (5, 10);
SELECT count(*) FROM guarded;

-- Scoring runs the function with the caller's rights: EXECUTE is required.
CREATE ROLE regress_feature_user;
REVOKE EXECUTE ON FUNCTION null_features(jsonb) FROM PUBLIC;
SET ROLE regress_feature_user;
SELECT fraud_score('{"amount": 50}', 'nul');
RESET ROLE;
DROP ROLE regress_feature_user;

-- It runs with the rights of every role that scores, so only a superuser may
-- own it: checked at load, and again whenever a backend loads the model.
CREATE ROLE regress_feature_owner;
CREATE FUNCTION owned_features(jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
ALTER FUNCTION owned_features(jsonb) OWNER TO regress_feature_owner;
\set SHOW_CONTEXT never
SELECT fraud_model_load('owned', decode(:'small_ubj', 'base64'), feature_function => 'owned_features(jsonb)');
\set SHOW_CONTEXT errors
UPDATE fraud_score_models SET feature_function = 'public.owned_features(jsonb)' WHERE name = 'plain';
SELECT fraud_score('{"amount": 50}', 'plain');
-- A catalog row naming a function of another shape is refused, not called.
UPDATE fraud_score_models SET feature_function = 'pg_catalog.jsonb_typeof(jsonb)' WHERE name = 'plain';
SELECT fraud_score('{"amount": 50}', 'plain');
UPDATE fraud_score_models SET feature_function = NULL WHERE name = 'plain';
DROP FUNCTION owned_features(jsonb);
DROP ROLE regress_feature_owner;

-- Replacing a feature function takes effect at the next call, even when its
-- language changes.
CREATE FUNCTION swapped_features(jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"amount": 1}'::jsonb $$;
SELECT fraud_model_load('swapped', decode(:'small_ubj', 'base64'), feature_function => 'swapped_features(jsonb)');
SELECT fraud_score('{}', 'swapped') = fraud_score('{"amount": 1}', 'plain') AS first_body;
CREATE OR REPLACE FUNCTION swapped_features(jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN '{"amount": 5000}'::jsonb;
END $$;
SELECT fraud_score('{}', 'swapped') = fraud_score('{"amount": 5000}', 'plain') AS second_body;

-- In a parallel query, the feature function must be parallel safe.
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SELECT fraud_score('{}', 'swapped');
RESET force_parallel_mode;
RESET parallel_setup_cost;

-- A dropped feature function is an error when a backend loads the model.
DROP FUNCTION null_features(jsonb);
\c
SELECT fraud_score('{"amount": 50}', 'nul');
