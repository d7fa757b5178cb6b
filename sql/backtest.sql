-- Backtest: a candidate version and the active one scored over the same
-- historical rows, with each one's thresholds, before activating.
\set SHOW_CONTEXT never

-- 3,000 deterministic rows (as in sql/train.sql), an amount, and labels
-- unknown on every tenth row of the history.
CREATE TABLE bt_rows AS
SELECT i AS id,
       ((i * 7919) % 1000) / 10.0 AS x1,
       (i * 104729) % 97 AS x2,
       CASE WHEN i % 7 = 0 THEN NULL ELSE ((i * 31) % 50)::float8 END AS x3,
       (i % 100) + 0.25 AS amount,
       (((i * 7919) % 1000) / 10.0 > 70 AND (i * 104729) % 97 < 40) OR i % 53 = 0 AS is_fraud
FROM generate_series(1, 3000) AS i;
CREATE VIEW bt_history AS
SELECT id, jsonb_build_object('x1', x1, 'x2', x2, 'x3', x3) AS document,
       CASE WHEN id % 10 = 0 THEN NULL ELSE is_fraud END AS is_fraud, amount
FROM bt_rows WHERE id > 2000;

-- Version 1 (active): shallow and short.  Version 2 (the candidate): deeper.
SET client_min_messages = warning;
SELECT fraud_model_train('bt',
    'SELECT x1, x2, x3, is_fraud FROM bt_rows WHERE id <= 1000', 'is_fraud',
    '{"max_depth": 1, "eta": 0.3, "num_boost_round": 3}',
    'SELECT x1, x2, x3, is_fraud FROM bt_rows WHERE id > 1000 AND id <= 2000', activate => true);
SELECT fraud_model_train('bt',
    'SELECT x1, x2, x3, is_fraud FROM bt_rows WHERE id <= 1000', 'is_fraud',
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 20}',
    'SELECT x1, x2, x3, is_fraud FROM bt_rows WHERE id > 1000 AND id <= 2000');
-- The candidate's bytes and thresholds as an active model of its own, to
-- recompute its figures with fraud_score() below.
SELECT fraud_model_import(fraud_model_export('bt', 2), 'bt_candidate') AS imported;
RESET client_min_messages;

SELECT role, version, rows, flagged, round(flagged_rate::numeric, 4) AS flagged_rate, declined,
       labeled, frauds, frauds_caught, false_positives, fraud_amount, amount_caught,
       round("precision"::numeric, 4) AS "precision", round(recall::numeric, 4) AS recall,
       round(auc::numeric, 4) AS auc, round(average_precision::numeric, 4) AS average_precision
FROM fraud_model_backtest('bt', 2, 'SELECT document, is_fraud, amount FROM bt_history');

-- The same figures from fraud_score() and each version's thresholds.
CREATE FUNCTION bt_expected(model text) RETURNS TABLE (
    rows bigint, flagged bigint, declined bigint, labeled bigint, frauds bigint,
    frauds_caught bigint, false_positives bigint, fraud_amount float8, amount_caught float8)
LANGUAGE sql AS $$
    WITH s AS (SELECT fraud_score(h.document, model) AS score, h.is_fraud, h.amount::float8 AS amount,
                      m.review_threshold AS r, m.decline_threshold AS d
               FROM bt_history h, fraud_models m WHERE m.name = model AND m.active)
    SELECT count(*), count(*) FILTER (WHERE score >= r), count(*) FILTER (WHERE score >= d),
           count(is_fraud), count(*) FILTER (WHERE is_fraud),
           count(*) FILTER (WHERE is_fraud AND score >= r),
           count(*) FILTER (WHERE NOT is_fraud AND score >= r),
           sum(amount) FILTER (WHERE is_fraud), sum(amount) FILTER (WHERE is_fraud AND score >= r)
    FROM s
$$;
SELECT b.role, (b.rows, b.flagged, b.declined, b.labeled, b.frauds, b.frauds_caught,
                b.false_positives, b.fraud_amount, b.amount_caught) = e AS figures_match,
       b."precision" = e.frauds_caught::float8 / (e.frauds_caught + e.false_positives) AS precision_matches,
       b.recall = e.frauds_caught::float8 / e.frauds AS recall_matches
FROM fraud_model_backtest('bt', 2, 'SELECT document, is_fraud, amount FROM bt_history') b,
     LATERAL bt_expected(CASE b.role WHEN 'candidate' THEN 'bt_candidate' ELSE 'bt' END) e;
-- AUC from ranks (ties half) on the labeled rows.
WITH s AS (SELECT fraud_score(document, 'bt_candidate') AS score, is_fraud FROM bt_history
           WHERE is_fraud IS NOT NULL),
     ranked AS (SELECT is_fraud, rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS r FROM s),
     t AS (SELECT count(*) FILTER (WHERE is_fraud) AS p, count(*) FILTER (WHERE NOT is_fraud) AS n,
                  sum(r) FILTER (WHERE is_fraud) AS rank_sum FROM ranked)
SELECT abs((rank_sum - p * (p + 1) / 2.0) / (p * n)
           - (SELECT auc FROM fraud_model_backtest('bt', 2, 'SELECT document, is_fraud FROM bt_history')
              WHERE role = 'candidate')::numeric) < 1e-9 AS auc_matches
FROM t;

-- Without labels or amounts: what each would flag, nothing about frauds.
SELECT role, version, rows, flagged, labeled, frauds, fraud_amount, "precision", recall, auc
FROM fraud_model_backtest('bt', 2, 'SELECT document FROM bt_history');
-- The active version as the candidate compares it with itself.
SELECT role, version, flagged, frauds_caught FROM fraud_model_backtest('bt', 1, 'SELECT document, is_fraud FROM bt_history');
-- A model without an active version: the candidate alone.
SELECT fraud_model_import(fraud_model_export('bt', 2), 'bt_inactive', activate => false) AS imported;
SELECT role, version, rows, flagged FROM fraud_model_backtest('bt_inactive', 1, 'SELECT document FROM bt_history');

-- Feature functions run as of each row.  Here the function counts the
-- rows before this one with the same x2 (a point-in-time velocity
-- feature, into x3) and counts its own calls: when both versions name it,
-- it runs once per row.
CREATE TABLE bt_calls (n bigint);
INSERT INTO bt_calls VALUES (0);
CREATE FUNCTION bt_features(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bt_calls SET n = n + 1;
    RETURN jsonb_build_object('x3', (SELECT count(*) FROM bt_rows r
                                     WHERE r.x2 = (doc->>'x2')::int AND r.id < (doc->>'id')::int));
END
$$;
CREATE FUNCTION bt_features_again(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT bt_features(doc)
$$;
SELECT fraud_model_load('bt_fn', (SELECT model FROM fraud_score_models WHERE name = 'bt' AND version = 1),
                        ARRAY['x1', 'x2', 'x3'], feature_function => 'bt_features(jsonb)');
SELECT fraud_model_load('bt_fn', (SELECT model FROM fraud_score_models WHERE name = 'bt' AND version = 2),
                        ARRAY['x1', 'x2', 'x3'], feature_function => 'bt_features(jsonb)', activate => false);
SELECT fraud_model_load('bt_fn', (SELECT model FROM fraud_score_models WHERE name = 'bt' AND version = 2),
                        ARRAY['x1', 'x2', 'x3'], feature_function => 'bt_features_again(jsonb)', activate => false);
CREATE VIEW bt_fn_history AS
SELECT id, to_jsonb(r) - 'is_fraud' - 'amount' AS document, is_fraud FROM bt_rows r WHERE id > 2900;
SELECT role, version, rows, flagged, frauds_caught
FROM fraud_model_backtest('bt_fn', 2, 'SELECT document, is_fraud FROM bt_fn_history');
SELECT n AS feature_function_calls FROM bt_calls;
-- Version 3 names another function (which calls the same one): twice per row.
UPDATE bt_calls SET n = 0;
SELECT role, version, rows FROM fraud_model_backtest('bt_fn', 3, 'SELECT document, is_fraud FROM bt_fn_history');
SELECT n AS feature_function_calls FROM bt_calls;
-- The active side's flags are the trigger's: fraud_score() with the function.
SELECT count(*) FILTER (WHERE fraud_score(document, 'bt_fn') >= m.review_threshold)
       = (SELECT flagged FROM fraud_model_backtest('bt_fn', 2, 'SELECT document FROM bt_fn_history')
          WHERE role = 'active') AS active_flags_match
FROM bt_fn_history, fraud_models m WHERE m.name = 'bt_fn' AND m.active;

-- Errors.
SELECT fraud_model_backtest(NULL, 1, 'SELECT 1');
SELECT fraud_model_backtest('bt', NULL, 'SELECT 1');
SELECT fraud_model_backtest('bt', 1, NULL);
SELECT fraud_model_backtest('bt_missing', 1, 'SELECT document FROM bt_history');
SELECT fraud_model_backtest('bt', 7, 'SELECT document FROM bt_history');
SELECT fraud_model_backtest('bt', 2, 'SELECT id FROM bt_history');
SELECT fraud_model_backtest('bt', 2, 'SELECT document, id AS is_fraud FROM bt_history');
SELECT fraud_model_backtest('bt', 2, 'SELECT document, is_fraud, amount::text AS amount FROM bt_history');
SELECT fraud_model_backtest('bt', 2, 'SELECT document FROM bt_history; SELECT 1');
SELECT fraud_model_backtest('bt', 2, 'SELECT NULL::jsonb AS document');
CREATE ROLE bt_user;
SET ROLE bt_user;
SELECT fraud_model_backtest('bt', 2, 'SELECT document FROM bt_history');
RESET ROLE;
DROP ROLE bt_user;
