-- Model changes in a read-only transaction fail at once with PostgreSQL's
-- read-only error naming the operation (a standby gives the recovery form
-- of it: t/020_standby.pl); scoring still works.
\i test/fixtures.psql
\set SHOW_CONTEXT never
SELECT fraud_model_load('ro', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('ro', decode(:'small_ubj', 'base64'), activate => false);
CREATE TABLE ro_docs AS SELECT jsonb_build_object('amount', 50) AS doc;
SELECT (fraud_model_set_reference('ro', 1, 'SELECT doc FROM ro_docs'))->'rows' AS reference_rows;
SET default_transaction_read_only = on;
SELECT fraud_model_load('ro', decode(:'small_ubj', 'base64'));
SELECT fraud_model_activate('ro', 2);
SELECT fraud_model_drop('ro', 2);
SELECT fraud_model_set_reasons('ro', 1, NULL);
SELECT fraud_model_import(fraud_model_export('ro'), 'ro_copy');
SELECT fraud_model_shadow('ro', 2);
SELECT fraud_model_shadow_stop('ro', 2);
SELECT fraud_model_recalibrate('ro', 'SELECT 0.5::float8 AS score, true AS is_fraud');
SELECT fraud_model_set_reference('ro', 1, 'SELECT doc FROM ro_docs');
SELECT fraud_model_train('ro_trained', 'SELECT 1 AS x, 1 AS y', 'y');
SELECT fraud_model_receive(fraud_model_export('ro'), 5, false);
-- The SQLSTATE is the read-only one (25006).
\set VERBOSITY sqlstate
SELECT fraud_model_activate('ro', 2);
\set VERBOSITY default
-- Scoring, exporting and reading are not changes.
SELECT fraud_score(doc, 'ro') IS NOT NULL AS scored FROM ro_docs;
SELECT fraud_model_export('ro', 1)->>'version' AS exported;
SELECT kind, drift FROM fraud_model_drift('ro', 'SELECT doc FROM ro_docs', 1) WHERE kind = 'score';
RESET default_transaction_read_only;
SELECT version, active FROM fraud_models WHERE name = 'ro' ORDER BY version;
