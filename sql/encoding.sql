-- fraud_score in a SQL_ASCII database, as every database of a cluster made
-- without a locale is: bytes are characters there, and nothing converts to
-- or from UTF8.  Models carry UTF-8 names, which such a database stores and
-- matches byte for byte.  (This file is UTF-8: each é below is two bytes, so
-- two characters in SQL_ASCII.)  The suite's own database is UTF8, whatever
-- the machine's locale (scripts/test creates its clusters so); this test
-- makes a SQL_ASCII database of its own and drops it at the end.
\i test/fixtures.psql
-- PL/pgSQL context lines name internal line numbers; the messages are what matter.
\set SHOW_CONTEXT never
SELECT getdatabaseencoding() AS suite_encoding;
\set original_db :DBNAME
DROP DATABASE IF EXISTS fraud_score_sql_ascii;
CREATE DATABASE fraud_score_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c fraud_score_sql_ascii
SELECT getdatabaseencoding() AS encoding;
CREATE EXTENSION fraud_score;
\set expected_table enc_expected
\i test/expected_table.psql

-- Feature names from the model (ASCII), and given ones that are not.
SELECT fraud_model_load('enc_small', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('enc_names', decode(:'small_ubj', 'base64'),
                        features => ARRAY['montant_é', 'heure', 'risque_marchand', 'âge_carte', 'étranger']);
SELECT name, version, active, features, length(features[1]) AS characters,
       octet_length(features[1]) AS bytes
FROM fraud_models ORDER BY name;

-- Both models give XGBoost's predictions, keys matched byte for byte.
SELECT count(*) AS rows,
       max(abs(fraud_score(jsonb_strip_nulls(jsonb_build_object('amount', amount, 'hour', hour,
               'merchant_risk', merchant_risk, 'card_age_days', card_age_days,
               'is_foreign', is_foreign)), 'enc_small') - xgboost_score)) < 1e-6 AS ascii_names_match,
       max(abs(fraud_score(jsonb_strip_nulls(jsonb_build_object('montant_é', amount, 'heure', hour,
               'risque_marchand', merchant_risk, 'âge_carte', card_age_days,
               'étranger', is_foreign)), 'enc_names') - xgboost_score)) < 1e-6 AS other_names_match
FROM enc_expected;
SELECT d.decision, d.model, d.version,
       d.score = fraud_score('{"amount": 912.5, "hour": 4, "merchant_risk": 0.8, "card_age_days": 3,
                               "is_foreign": true}', 'enc_small') AS same_score
FROM fraud_decide('{"montant_é": 912.5, "heure": 4, "risque_marchand": 0.8, "âge_carte": 3,
                    "étranger": true}', 'enc_names') d;
-- A key of another spelling is another key: "montant_e" is not a feature.
SELECT fraud_score('{"montant_e": 912.5}', 'enc_names') = fraud_score('{}', 'enc_names') AS not_a_feature;
-- Messages name the feature as given.
SELECT fraud_score('{"montant_é": "912.5"}', 'enc_names');
-- A \u escape of a non-ASCII character cannot be read into jsonb here: that
-- is PostgreSQL's json input (no conversion from UTF8 to SQL_ASCII exists),
-- before fraud_score is called.  The key written as its UTF-8 bytes, as above,
-- is the one to use.
SELECT fraud_score('{"montant_\u00e9": 912.5}', 'enc_names');
-- XGBoost models hold UTF-8: a name that is not UTF-8 is refused.
SELECT fraud_model_load('enc_latin1', decode(:'small_ubj', 'base64'),
                        features => ARRAY[E'montant_\xe9', 'heure', 'risque_marchand', 'age_carte', 'etranger']);
-- A model given as JSON with its UTF-8 names as they are.
SELECT feature_names
FROM fraud_model_check(convert_to(replace(convert_from(decode(:'small_json', 'base64'), 'SQL_ASCII'),
                                          '"amount"', '"montant_é"'), 'SQL_ASCII'));
-- Export and import keep the names.
SELECT fraud_model_import(fraud_model_export('enc_names'), 'enc_copie');
SELECT features FROM fraud_models WHERE name = 'enc_copie';

-- The trigger, with columns and an output column named so.
CREATE TABLE enc_paiements (
    id int PRIMARY KEY,
    "montant_é" numeric,
    heure float8,
    risque_marchand float8,
    "âge_carte" float8,
    "étranger" float8,
    score float8,
    "décision" text,
    version int
);
CREATE TRIGGER score BEFORE INSERT OR UPDATE ON enc_paiements
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('enc_names', 'score', 'décision', 'version');
INSERT INTO enc_paiements (id, "montant_é", heure, risque_marchand, "âge_carte", "étranger")
SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM enc_expected;
SELECT count(*) AS rows,
       max(abs(p.score - e.xgboost_score)) < 1e-6 AS trigger_matches,
       count(*) FILTER (WHERE p."décision" = (fraud_decide(jsonb_build_object('amount', e.amount,
           'hour', e.hour, 'merchant_risk', e.merchant_risk, 'card_age_days', e.card_age_days,
           'is_foreign', e.is_foreign), 'enc_small')).decision) AS same_decisions,
       min(p.version) AS version
FROM enc_paiements p JOIN enc_expected e USING (id);

-- In a LATIN1 database names are converted: a model document holds them as
-- UTF-8 (fraud_model_check and training write them so), the catalog and the
-- jsonb keys in LATIN1, where é is one byte.
DROP DATABASE IF EXISTS fraud_score_latin1;
CREATE DATABASE fraud_score_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c fraud_score_latin1
-- This file is UTF-8; the server converts it (psql would otherwise send it
-- as LATIN1, the database's encoding).
SET client_encoding = 'UTF8';
SELECT getdatabaseencoding() AS encoding;
CREATE EXTENSION fraud_score;
\set expected_table enc_expected
\i test/expected_table.psql
SELECT fraud_model_load('enc_names', decode(:'small_ubj', 'base64'),
                        features => ARRAY['montant_é', 'heure', 'risque_marchand', 'âge_carte', 'étranger']);
SELECT features, length(features[1]) AS characters, octet_length(features[1]) AS bytes,
       position('\x6d6f6e74616e745fc3a9'::bytea IN model) > 0 AS stored_as_utf8
FROM fraud_score_models WHERE name = 'enc_names';
SELECT count(*) AS rows,
       max(abs(fraud_score(jsonb_strip_nulls(jsonb_build_object('montant_é', amount, 'heure', hour,
               'risque_marchand', merchant_risk, 'âge_carte', card_age_days,
               'étranger', is_foreign)), 'enc_names') - xgboost_score)) < 1e-6 AS names_match
FROM enc_expected;
-- The stored bytes load again (a new backend validates them) with the same names.
\c fraud_score_latin1
SET client_encoding = 'UTF8';
SELECT (fraud_decide('{"montant_é": 912.5, "heure": 4}', 'enc_names')).version;
SELECT feature_names FROM fraud_model_check((SELECT model FROM fraud_score_models WHERE name = 'enc_names'));
-- Training writes them the same way.
CREATE TABLE enc_training AS
SELECT amount AS "montant_é", hour AS heure, (xgboost_score > 0.5) AS label FROM enc_expected;
SET client_min_messages = warning;
SELECT fraud_model_train('enc_trained', 'SELECT * FROM enc_training', 'label',
                         '{"num_boost_round": 3, "notice_every": 0}', activate => true);
RESET client_min_messages;
SELECT features, position('\x6d6f6e74616e745fc3a9'::bytea IN model) > 0 AS stored_as_utf8
FROM fraud_score_models WHERE name = 'enc_trained';
SELECT fraud_score('{"montant_é": 912.5, "heure": 4}', 'enc_trained') IS NOT NULL AS scored;

\c :original_db
DROP DATABASE fraud_score_sql_ascii;
DROP DATABASE fraud_score_latin1;
