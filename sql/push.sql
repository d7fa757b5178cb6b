-- fraud_model_push / fraud_model_receive / fraud_model_compare: the errors a
-- single node shows (t/040_push.pl runs the pushes between three clusters).
\i test/fixtures.psql
\set SHOW_CONTEXT never
SELECT fraud_model_load('pu', decode(:'small_ubj', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
SELECT fraud_model_load('pu', decode(:'small_ubj', 'base64'), review_threshold => 0.2, activate => false);

-- Receiving: an identical version is left as it is; a different one with
-- that number, a number used before, and a non-positive one are refused.
SELECT fraud_model_receive(fraud_model_export('pu', 1), 1, false) AS outcome;
SELECT fraud_model_receive(fraud_model_export('pu', 2), 1, false);
SELECT fraud_model_drop('pu', 2);
SELECT fraud_model_receive(fraud_model_export('pu', 1) || '{"name": "pu"}', 2, false);
SELECT fraud_model_receive(fraud_model_export('pu', 1), 0, false);
-- A new number is stored as exactly that number, and activated if asked.
SELECT fraud_model_receive(fraud_model_export('pu', 1), 7, true) AS outcome;
SELECT version, active, review_threshold FROM fraud_models WHERE name = 'pu' ORDER BY version;
-- The next load continues after it.
SELECT fraud_model_load('pu', decode(:'small_ubj', 'base64'), activate => false) AS next_version;

-- Pushing: no nodes; dblink missing (it is not installed here).
SELECT fraud_model_push('pu', 7, NULL);
SELECT fraud_model_push('pu', 7, '{}');
SELECT fraud_model_push('pu', 7, ARRAY['host=nowhere']);
SELECT fraud_model_push('pu', 99, ARRAY['host=nowhere']);
SELECT * FROM fraud_model_compare(ARRAY['host=nowhere']);

-- Node labels in messages hide passwords.
SELECT fraud_node_label('host=x password=secret dbname=y') AS keyword,
       fraud_node_label($$host=x password='it\'s secret' dbname=y$$) AS quoted,
       fraud_node_label('postgresql://u:secret@x/y') AS uri;
