-- fraud_model_train(): training from queries, validation metrics, thresholds.
-- PL/pgSQL context lines name internal line numbers; the messages are what matter.
\set SHOW_CONTEXT never

-- 3,000 deterministic rows: fraud when x1 is high and x2 low, plus noise;
-- x3 is missing on every seventh row.
CREATE TABLE train_rows AS
SELECT i AS id,
       ((i * 7919) % 1000) / 10.0 AS x1,
       (i * 104729) % 97 AS x2,
       CASE WHEN i % 7 = 0 THEN NULL ELSE ((i * 31) % 50)::float8 END AS x3,
       (((i * 7919) % 1000) / 10.0 > 70 AND (i * 104729) % 97 < 40) OR i % 53 = 0 AS is_fraud
FROM generate_series(1, 3000) AS i;
SELECT count(*) AS rows, count(*) FILTER (WHERE is_fraud) AS frauds FROM train_rows;

-- Columns are the features; progress every 10 rounds, on both sets.
SELECT fraud_model_train('trained',
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id <= 2000',
    'is_fraud',
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 20, "notice_every": 10,
      "eval_metric": "error", "description": "unit test"}',
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id > 2000',
    activate => true);
SELECT version, active, features, description, metrics->'training_rows' AS training_rows,
       metrics->'validation_rows' AS validation_rows, metrics->'validation_frauds' AS validation_frauds,
       (metrics->>'auc')::float8 > 0.9 AS good_auc,
       review_threshold <= decline_threshold AS ordered_thresholds
FROM fraud_models WHERE name = 'trained';

-- The stored metrics agree with the stored model's own scores on the
-- validation rows (AUC recomputed here from ranks, ties counted half).
CREATE VIEW valid_scores AS
SELECT fraud_score(jsonb_build_object('x1', x1, 'x2', x2, 'x3', x3), 'trained') AS score, is_fraud
FROM train_rows WHERE id > 2000;
WITH ranked AS (
    SELECT is_fraud,
           rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS r
    FROM valid_scores),
totals AS (
    SELECT count(*) FILTER (WHERE is_fraud) AS p, count(*) FILTER (WHERE NOT is_fraud) AS n,
           sum(r) FILTER (WHERE is_fraud) AS rank_sum
    FROM ranked)
SELECT abs((rank_sum - p * (p + 1) / 2.0) / (p * n)
           - (SELECT (metrics->>'auc')::numeric FROM fraud_models WHERE name = 'trained')) < 1e-5
       AS auc_matches
FROM totals;
-- The review threshold is the lowest score with validation precision >= 0.5.
SELECT count(*) FILTER (WHERE is_fraud)::float8 / count(*) >= 0.5 AS review_precision_reached,
       round((count(*) FILTER (WHERE is_fraud)::numeric
              / (SELECT count(*) FROM valid_scores WHERE is_fraud)), 6)
       = round((SELECT (metrics->>'recall_at_precision_50')::numeric FROM fraud_models WHERE name = 'trained'), 6)
       AS recall_matches
FROM valid_scores, fraud_models m
WHERE m.name = 'trained' AND score >= m.review_threshold;

-- Training may use nthread threads (scoring never does).  On these rows
-- XGBoost 1.7 builds the same trees with 2 threads as with 1: the same
-- model bytes and metrics, with the default tree method and with hist.
SELECT fraud_model_train('trained_2_threads',
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id <= 2000',
    'is_fraud',
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 20, "notice_every": 0,
      "eval_metric": "error", "nthread": 2}',
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id > 2000');
SELECT fraud_model_train('hist_' || n || '_threads',
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id <= 2000',
    'is_fraud',
    jsonb_build_object('max_depth', 3, 'eta', 0.3, 'num_boost_round', 20, 'notice_every', 0,
                       'tree_method', 'hist', 'nthread', n),
    'SELECT x1, x2, x3, is_fraud FROM train_rows WHERE id > 2000')
FROM (VALUES (1), (2)) AS threads(n) ORDER BY n;
SELECT a.name, b.name, a.sha256 = b.sha256 AS same_model, a.metrics = b.metrics AS same_metrics,
       a.review_threshold = b.review_threshold AND a.decline_threshold = b.decline_threshold
       AS same_thresholds
FROM fraud_models a, fraud_models b
WHERE (a.name, b.name) IN (('trained', 'trained_2_threads'), ('hist_1_threads', 'hist_2_threads'))
ORDER BY 1;
-- The OpenMP threads training left in this backend (idle until it exits)
-- block the signals PostgreSQL handles (SIGHUP, SIGINT, SIGQUIT, SIGUSR1,
-- SIGUSR2, SIGALRM, SIGTERM: bits 0x6A07 of SigBlk), so that its handlers
-- only ever run on the backend's own thread.
SELECT coalesce(bool_and(('x' || lpad(substring(pg_read_file('/proc/self/task/' || t || '/status')
                                                from 'SigBlk:\s*(\w+)'), 16, '0'))::bit(64)::bigint
                         & x'6A07'::bigint = x'6A07'::bigint), true) AS other_threads_block_signals
FROM pg_ls_dir('/proc/self/task') AS t
WHERE t::int <> pg_backend_pid();

-- Or one jsonb column of features (a feature function's output): its keys.
SELECT fraud_model_train('from_jsonb',
    $$SELECT jsonb_build_object('x1', x1, 'x2', x2) AS features, is_fraud::int AS label
      FROM train_rows$$,
    'label', '{"num_boost_round": 5, "notice_every": 0, "feature_function": "jsonb_strip_nulls(jsonb)"}',
    activate => true);
SELECT version, active, features, feature_function, review_threshold, decline_threshold,
       metrics - 'rounds' AS metrics
FROM fraud_models WHERE name = 'from_jsonb';

-- Errors.
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'nope');
SELECT fraud_model_train('x', 'SELECT x1, NULL::boolean AS is_fraud FROM train_rows', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, 2 AS is_fraud FROM train_rows', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, ''a''::text AS label FROM train_rows', 'label');
SELECT fraud_model_train('x', 'SELECT x1, id::text AS t, is_fraud FROM train_rows', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT is_fraud FROM train_rows', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows WHERE false', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, false AS is_fraud FROM train_rows', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{}',
                         'SELECT x1 AS other, is_fraud FROM train_rows');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{}',
                         'SELECT x1, is_fraud FROM train_rows WHERE false');
SELECT fraud_model_train('x', 'DELETE FROM train_rows RETURNING x1, is_fraud', 'is_fraud');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"num_boost_round": 0}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"objective": "reg:squarederror"}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"max_depth": "deep"}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '[1]');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"eta": [1]}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"review_precision": 2}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"feature_function": "lower(text)"}');
SELECT fraud_model_train('bad name', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"num_boost_round": 1}');
SELECT fraud_model_train('x', NULL, 'is_fraud');
SELECT fraud_model_train('x', $$SELECT CASE WHEN id > 1 THEN jsonb_build_object('x1', x1) END AS f, is_fraud
                               FROM train_rows ORDER BY id$$, 'is_fraud');
SELECT fraud_model_train('x', 'SELECT jsonb_build_object(''x1'', x1) AS f, is_fraud FROM train_rows', 'is_fraud',
                         '{}', 'SELECT x1 AS f, is_fraud FROM train_rows');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud',
                         '{}', 'SELECT x1::text AS x1, is_fraud FROM train_rows');
-- nthread (or its alias n_jobs) is an integer from 1 to 64, checked before any row is read.
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"nthread": 0}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"nthread": 1000}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"nthread": "two"}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"nthread": 2.5}');
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud', '{"n_jobs": 65}');
SELECT count(*) AS no_model_left_behind FROM fraud_models WHERE name IN ('x', 'bad name');

-- Training needs fraud_score_admin, and the caller's own rights on the data.
CREATE ROLE regress_trainer;
SET ROLE regress_trainer;
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud');
RESET ROLE;
GRANT fraud_score_admin TO regress_trainer;
SET ROLE regress_trainer;
SELECT fraud_model_train('x', 'SELECT x1, is_fraud FROM train_rows', 'is_fraud');
RESET ROLE;
DROP ROLE regress_trainer;

-- Export and import: a model version as one JSON document.
SELECT jsonb_object_keys(fraud_model_export('trained')) ORDER BY 1;
SELECT fraud_model_import(fraud_model_export('trained'), 'imported');
SELECT a.sha256 = b.sha256 AS same_bytes, a.features = b.features AS same_features,
       a.review_threshold = b.review_threshold AS same_thresholds, a.metrics = b.metrics AS same_metrics,
       b.description
FROM fraud_models a, fraud_models b WHERE a.name = 'trained' AND b.name = 'imported';
SELECT fraud_model_import(fraud_model_export('from_jsonb', 1))  -- same name: next version
       AS version;
SELECT fraud_model_export('trained', 9);
SELECT fraud_model_import('{"format": "something else"}');
SELECT fraud_model_import(jsonb_set(fraud_model_export('trained'), '{sha256}', '"00"'));
SELECT fraud_model_import(jsonb_set(fraud_model_export('trained'), '{model_ubj_base64}', '"AAAA"') - 'sha256');
