-- ALTER EXTENSION fraud_score UPDATE from the first release keeps every model,
-- and the library serves both catalog versions (in the style of
-- pg_stat_statements' oldextversions test).
\i test/fixtures.psql
\set original_db :DBNAME
DROP DATABASE IF EXISTS fraud_score_upgrade;
CREATE DATABASE fraud_score_upgrade TEMPLATE template0;
\c fraud_score_upgrade

CREATE EXTENSION fraud_score VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
SELECT fraud_model_load('old', decode(:'small_ubj', 'base64'), description => 'loaded under 0.1');
SELECT fraud_model_load('old', decode(:'small_json', 'base64'), activate => false);
CREATE TABLE payments (amount float8, hour int, score float8, decision text, v int);
CREATE TRIGGER t BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('old', 'score', 'decision', 'v');
INSERT INTO payments (amount, hour) VALUES (250, 3);
-- Today's library scores from a 0.1 catalog.
SELECT fraud_score('{"amount": 250, "hour": 3}', 'old') = (SELECT score FROM payments) AS scores_before;

ALTER EXTENSION fraud_score UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
SELECT name, version, active, description, feature_function, metrics FROM fraud_models ORDER BY version;
SELECT fraud_score('{"amount": 250, "hour": 3}', 'old') = (SELECT score FROM payments) AS scores_after;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score, min(v) AS version FROM payments;
-- 0.2 administration works on models loaded under 0.1.
SELECT fraud_model_activate('old', 2);
SELECT fraud_model_load('old', decode(:'small_ubj', 'base64'), feature_function => 'jsonb_strip_nulls(jsonb)');
SELECT version, active, feature_function FROM fraud_models ORDER BY version;
SELECT (fraud_decide('{"amount": 250, "hour": 3}', 'old')).version;

ALTER EXTENSION fraud_score UPDATE TO '0.3';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
SELECT name, version, active, description, feature_function FROM fraud_models ORDER BY version;
-- Model bytes are now stored uncompressed; inputs can be inspected.
SELECT attstorage FROM pg_attribute
WHERE attrelid = 'fraud_score_models'::regclass AND attname = 'model';
SELECT fraud_score_features('{"amount": 250, "hour": 3}', 'old');
SELECT count(DISTINCT score) AS one_score FROM payments;

ALTER EXTENSION fraud_score UPDATE TO '0.4';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
-- Category names: none for the models loaded before; loads take them.
SELECT version, categories FROM fraud_models ORDER BY version;
SELECT fraud_model_load('old', decode(:'small_ubj', 'base64'), activate => false,
                        categories => '{}') AS loaded_under_0_4;
SELECT fraud_model_export('old', 1)->'categories' AS exported;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score FROM payments;

ALTER EXTENSION fraud_score UPDATE TO '0.5';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
-- The stored forests are compiled again with their covers, which
-- explanations weigh by; reason texts: none until given.
SELECT version, forest IS NOT NULL AS compiled, reasons FROM fraud_score_models ORDER BY version;
SELECT feature, round(contribution::numeric, 6) AS contribution
FROM fraud_explain('{"amount": 250, "hour": 3}', 'old', 2);
SELECT fraud_model_set_reasons('old', 1, '{"amount": "Large amount"}');
SELECT fraud_model_export('old', 1)->'reasons' AS exported;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score FROM payments;

-- This library with 0.5's SQL definitions: the statistics functions say what to do.
SELECT * FROM fraud_score_stats();
SELECT fraud_score_stats_reset();
ALTER EXTENSION fraud_score UPDATE TO '0.6';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
-- The server-wide trigger counters became per-version serving statistics, a view.
SELECT to_regprocedure('fraud_score_stats_reset()') AS old_reset,
       to_regprocedure('fraud_score_stats_reset(text, integer)') AS new_reset;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns
FROM pg_attribute WHERE attrelid = 'fraud_score_stats'::regclass AND attnum > 0;
-- Challengers: none until shadowed.
SELECT version, shadow_fraction FROM fraud_models ORDER BY version;
SELECT count(*) AS logged FROM fraud_score_shadow_log;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score FROM payments;
-- Drift: no reference for versions loaded before.
SELECT version, reference IS NULL AS no_reference FROM fraud_models ORDER BY version;

ALTER EXTENSION fraud_score UPDATE TO '0.7';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
-- Model changes refuse read-only transactions (and standbys) by name; a row
-- trigger for logical replication subscribers.
\set SHOW_CONTEXT never
BEGIN READ ONLY;
SELECT fraud_model_activate('old', 1);
ROLLBACK;
\set SHOW_CONTEXT errors
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = 'fraud_score_models'::regclass AND NOT tgisinternal ORDER BY tgname;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score FROM payments;

-- 0.8: declared feature sets, none until created.
ALTER EXTENSION fraud_score UPDATE TO '0.8';
SELECT extversion FROM pg_extension WHERE extname = 'fraud_score';
SELECT count(*) AS feature_sets FROM fraud_feature_sets;
INSERT INTO payments (amount, hour) VALUES (250, 3);
SELECT count(DISTINCT score) AS one_score FROM payments;

-- A fresh install has the same objects as 0.1 updated (today by construction:
-- CREATE EXTENSION runs 0.1 then each update; this guards a future full script).
CREATE TEMP TABLE updated AS
SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fraud_score');
DROP TABLE payments;
DROP EXTENSION fraud_score;
CREATE EXTENSION fraud_score;
SELECT object FROM updated
EXCEPT
SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fraud_score');

\c :original_db
DROP DATABASE fraud_score_upgrade;
