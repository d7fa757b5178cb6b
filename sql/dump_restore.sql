-- pg_dump / pg_restore keeps every model version, which one is active, and
-- the privileges; the restored database scores exactly as the original.
\i test/fixtures.psql
SELECT fraud_model_load('dumped', decode(:'small_ubj', 'base64'), description => 'first');
SELECT fraud_model_load('dumped', decode(:'small_json', 'base64'),
                        review_threshold => 0.2, decline_threshold => 0.3, description => 'second');
SELECT fraud_model_load('dumped', decode(:'small_ubj', 'base64'), activate => false,
                        feature_function => 'jsonb_strip_nulls(jsonb)', metrics => '{"auc": 0.5}');
SELECT fraud_model_activate('dumped', 2);
CREATE TABLE dump_scores AS
SELECT d.* FROM fraud_decide('{"amount": 88.42, "hour": 8}', 'dumped') AS d;
CREATE TABLE dump_models AS
SELECT name, version, active, features, review_threshold, decline_threshold, sha256,
       description, created_at, created_by, metrics, feature_function
FROM fraud_models;

-- A declared feature set: its catalog row, bucket tables, triggers and
-- function are dumped, so the restore needs no backfill.
CREATE TABLE dump_tx (id bigint PRIMARY KEY, t timestamp NOT NULL, card int NOT NULL,
					  amount numeric(10, 2), seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE);
SET client_min_messages = warning;
SELECT fraud_feature_set_create('dump_velocity', 'dump_tx', $${"time": "t", "arrival": "seq",
  "entities": {"card": {"keys": ["card"], "tiers": ["7 days"], "resolution": "1 day"}},
  "features": {"n_7d": {"kind": "count", "entity": "card", "window": "7 days"},
               "mean_7d": {"kind": "mean", "entity": "card", "window": "7 days", "column": "amount"}}}$$);
RESET client_min_messages;
INSERT INTO dump_tx (id, t, card, amount)
SELECT i, '2024-01-01'::timestamp + i * interval '97 minutes', i % 7, i % 100 + 0.25
FROM generate_series(1, 300) i;
CREATE TABLE dump_features AS
SELECT id, dump_velocity(to_jsonb(x)) AS features FROM dump_tx x;

-- Dump this database and restore it into a new one.
\setenv PGHOST :HOST
\setenv PGPORT :PORT
\setenv PGUSER :USER
\setenv PGDATABASE :DBNAME
\set original_db :DBNAME
DROP DATABASE IF EXISTS fraud_score_restored;
CREATE DATABASE fraud_score_restored TEMPLATE template0;
\! pg_dump --format=custom --file="$PG_ABS_BUILDDIR/results/fraud_score.dump" && pg_restore --exit-on-error --dbname=fraud_score_restored "$PG_ABS_BUILDDIR/results/fraud_score.dump" && echo restored
\c fraud_score_restored

-- Every version came back, with its metadata and bytes.
SELECT version, active, description, metrics, feature_function FROM fraud_models WHERE name = 'dumped' ORDER BY version;
(SELECT name, version, active, features, review_threshold, decline_threshold, sha256,
        description, created_at, created_by, metrics, feature_function FROM fraud_models
 EXCEPT SELECT * FROM dump_models)
UNION ALL
(SELECT * FROM dump_models
 EXCEPT SELECT name, version, active, features, review_threshold, decline_threshold, sha256,
        description, created_at, created_by, metrics, feature_function FROM fraud_models);
SELECT count(*) FILTER (WHERE sha256 <> encode(sha256(model), 'hex')) AS bad_hashes
FROM fraud_score_models;

-- The feature set reads the restored buckets as the original did, they agree
-- with the restored rows, and its trigger keeps them.
SELECT name, source, function FROM fraud_feature_sets WHERE name = 'dump_velocity';
SELECT count(*) AS rows_compared,
       count(*) FILTER (WHERE dump_velocity(to_jsonb(x)) IS DISTINCT FROM f.features) AS differing
FROM dump_tx x JOIN dump_features f USING (id);
SELECT count(*) AS bucket_differences FROM fraud_feature_set_verify('dump_velocity');
INSERT INTO dump_tx (id, t, card, amount) VALUES (301, '2024-01-22 12:00', 3, 10);
SELECT dump_velocity('{"t": "2024-01-22 13:00", "card": 3}') =
       fraud_feature_set_recompute('dump_velocity', '{"t": "2024-01-22 13:00", "card": 3}') AS after_insert_equal;

-- Same decisions from the same active version.
SELECT d.score = s.score AS same_score, d.decision, d.version
FROM fraud_decide('{"amount": 88.42, "hour": 8}', 'dumped') AS d, dump_scores s;

-- Administration goes on where it left off.
SELECT fraud_model_load('dumped', decode(:'small_ubj', 'base64'));
SELECT version, active FROM fraud_models WHERE name = 'dumped' ORDER BY version;
SELECT has_function_privilege('public', 'fraud_model_load(text,bytea,text[],float8,float8,boolean,text,regprocedure,jsonb,jsonb,jsonb)',
                              'EXECUTE') AS public_can_load,
       has_table_privilege('fraud_score_admin', 'fraud_score_models', 'INSERT') AS admin_can_write;

\c :original_db
DROP DATABASE fraud_score_restored;
