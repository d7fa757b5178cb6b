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
