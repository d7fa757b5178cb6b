-- fraud_score(): agreement with XGBoost's own predictions, value rules, errors.
\i test/fixtures.psql
SELECT fraud_model_load('small', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('small_json', decode(:'small_json', 'base64'));

\set expected_table expected
\i test/expected_table.psql

-- Missing values as absent keys, and as JSON nulls.
CREATE VIEW docs AS
SELECT id, xgboost_score,
       jsonb_strip_nulls(jsonb_build_object('amount', amount, 'hour', hour,
           'merchant_risk', merchant_risk, 'card_age_days', card_age_days,
           'is_foreign', is_foreign)) AS absent,
       jsonb_build_object('amount', amount, 'hour', hour,
           'merchant_risk', merchant_risk, 'card_age_days', card_age_days,
           'is_foreign', is_foreign) AS nulls
FROM expected;

SELECT count(*) AS rows,
       count(*) FILTER (WHERE absent ? 'merchant_risk' AND absent ? 'card_age_days') AS complete,
       max(abs(fraud_score(absent, 'small') - xgboost_score)) < 1e-6 AS absent_keys_match,
       max(abs(fraud_score(nulls, 'small') - xgboost_score)) < 1e-6 AS json_nulls_match,
       max(abs(fraud_score(absent, 'small_json') - xgboost_score)) < 1e-6 AS json_model_matches
FROM docs;

-- Both engines give XGBoost's predictions: the C API, and the native
-- evaluator (the default), which walks the same trees in the same float order.
SET fraud_score.engine = xgboost;
CREATE TEMP TABLE via_xgboost AS SELECT id, fraud_score(absent, 'small') AS s FROM docs;
SET fraud_score.engine = native;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE v.s = fraud_score(d.absent, 'small')) AS identical,
       max(abs(v.s - fraud_score(d.absent, 'small'))) < 1e-6 AS within_1e6,
       max(abs(d.xgboost_score - fraud_score(d.absent, 'small'))) < 1e-6 AS native_matches_csv
FROM docs d JOIN via_xgboost v USING (id);
SET fraud_score.engine = gpu;
RESET fraud_score.engine;

-- Rows that differ from XGBoost, if any (expect none).
SELECT id, absent, fraud_score(absent, 'small'), xgboost_score
FROM docs WHERE abs(fraud_score(absent, 'small') - xgboost_score) >= 1e-6;

-- A few scores to read (rounded).
SELECT id, absent, round(fraud_score(absent, 'small')::numeric, 6) AS score
FROM docs WHERE id IN (1, 4, 21, 22, 36, 39) ORDER BY id;

-- Value rules: booleans are 0/1, unknown keys are ignored, NULL gives NULL.
SELECT fraud_score('{"amount": 50, "hour": 3, "is_foreign": true}', 'small')
     = fraud_score('{"amount": 50, "hour": 3, "is_foreign": 1}', 'small') AS true_is_1,
       fraud_score('{"amount": 50, "hour": 3, "is_foreign": false}', 'small')
     = fraud_score('{"amount": 50, "hour": 3, "is_foreign": 0}', 'small') AS false_is_0,
       fraud_score('{"amount": 50, "hour": 3, "note": "hi", "x": [1]}', 'small')
     = fraud_score('{"amount": 50, "hour": 3}', 'small') AS extra_keys_ignored,
       fraud_score('{}', 'small') = (SELECT xgboost_score FROM expected
                                     WHERE amount IS NULL AND hour IS NULL
                                       AND merchant_risk IS NULL AND card_age_days IS NULL
                                       AND is_foreign IS NULL)::float4 AS empty_is_all_missing,
       fraud_score(NULL, 'small') IS NULL AS null_features_null_score;

-- Numbers are model inputs as single-precision floats, as in XGBoost.
SELECT fraud_score('{"amount": 1e30}', 'small') = fraud_score('{"amount": 1e31}', 'small') AS huge_ok;
SELECT fraud_score('{"amount": 1e39}', 'small');
SELECT fraud_score('{"amount": -1e39}', 'small');
SELECT fraud_score('{"amount": 1e-50}', 'small') = fraud_score('{"amount": 0}', 'small') AS tiny_is_0;
SELECT fraud_score('{"amount": 1e400}', 'small');

-- Anything but a number, boolean or null is an error naming the key.
SELECT fraud_score('{"amount": "12.50"}', 'small');
SELECT fraud_score('{"hour": [3]}', 'small');
SELECT fraud_score('{"merchant_risk": {"v": 1}}', 'small');
SELECT fraud_score('[1, 2, 3]', 'small');
SELECT fraud_score('42', 'small');

-- The model argument: NULL means fraud_score.default_model.
SELECT fraud_score('{"amount": 50}');
SET fraud_score.default_model = 'small';
SELECT fraud_score('{"amount": 50}') = fraud_score('{"amount": 50}', 'small') AS default_used;
SELECT fraud_score('{"amount": 50}', NULL) = fraud_score('{"amount": 50}', 'small') AS null_model_is_default;
SET fraud_score.default_model = '';
SELECT fraud_score('{"amount": 50}');
RESET fraud_score.default_model;

-- Unknown model, model without an active version.
SELECT fraud_score('{"amount": 50}', 'nope');
SELECT fraud_score('{"amount": 50}', repeat('x', 100));
SELECT fraud_model_load('inactive', decode(:'small_ubj', 'base64'), activate => false);
SELECT fraud_score('{"amount": 50}', 'inactive');

-- Bytes written to the catalog directly are stored (with a WARNING: refusing
-- them would also make pg_restore drop every model), and validated again
-- before any backend loads them.
UPDATE fraud_score_models SET model = substr(model, 1, 500),
       sha256 = encode(sha256(substr(model, 1, 500)), 'hex')
WHERE name = 'small_json';
SELECT fraud_score('{"amount": 50}', 'small_json');
SELECT fraud_score('{"amount": 50}', 'small') > 0 AS other_models_unaffected;

-- The catalog keeps its own invariants, even against direct writes.
SELECT fraud_model_load('small', decode(:'small_ubj', 'base64'), activate => false);
\set VERBOSITY terse
UPDATE fraud_score_models SET sha256 = 'x' WHERE name = 'small';
UPDATE fraud_score_models SET active = true WHERE name = 'small' AND version = 2;
UPDATE fraud_score_models SET review_threshold = 0.95 WHERE name = 'small';
UPDATE fraud_score_models SET features = '{a}' WHERE name = 'small';
UPDATE fraud_score_models SET name = 'no spaces' WHERE name = 'small';
\set VERBOSITY default

-- Without system indexes the active version is still the active one.
SELECT fraud_model_load('small', decode(:'small_ubj', 'base64'), activate => false) AS inactive_version;
\set no_index_conninfo 'dbname=' :DBNAME ' options=-cignore_system_indexes=on'
\c :no_index_conninfo
SHOW ignore_system_indexes;
SET client_min_messages = error;  -- detoasting warns that it uses an index anyway
SELECT (fraud_decide('{"amount": 50}', 'small')).version;
\set normal_conninfo 'dbname=' :DBNAME ' options=-cignore_system_indexes=off'
\c :normal_conninfo

-- Parallel workers score too (the function is PARALLEL SAFE).
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT max(fraud_score(absent, 'small')) FROM docs;
SELECT count(*), max(abs(fraud_score(absent, 'small') - xgboost_score)) < 1e-6 AS parallel_match
FROM docs;
RESET ALL;

-- The SQLSTATE of each kind of scoring error (README's error table).
\set VERBOSITY sqlstate
SELECT fraud_score('{"amount": 50}', 'nope');
SELECT fraud_score('{"amount": 50}', 'inactive');
SELECT fraud_score('{"amount": "x"}', 'small');
SELECT fraud_score('[]', 'small');
SELECT fraud_score('{"amount": 1e39}', 'small');
\set VERBOSITY default
