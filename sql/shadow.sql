-- Challenger (shadow) versions: the trigger scores them beside the active
-- version on a deterministic sample of rows and logs what they decided,
-- without touching the row or failing the INSERT.
\i test/fixtures.psql
\set expected_table sh_expected
\i test/expected_table.psql
\set dart_ubj `base64 -w0 :'abs_srcdir'/test/fixtures/dart.ubj`
\set dart_forest_csv `cat :'abs_srcdir'/test/fixtures/dart_forest_expected.csv`
CREATE TABLE sh_dart AS
SELECT f[1]::int AS id, f[7]::float8 AS dart_score
FROM regexp_split_to_table(:'dart_forest_csv', E'\n') WITH ORDINALITY AS l(line, n),
     LATERAL string_to_array(line, ',') AS f
WHERE n > 1 AND line <> '';

-- Champion: small.ubj, version 1.  Challengers: the DART model on the same
-- features (version 2) and small.ubj again with other thresholds (version 3).
SELECT fraud_model_load('sh', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.1, decline_threshold => 0.5);
SELECT fraud_model_load('sh', decode(:'dart_ubj', 'base64'), activate => false,
                        review_threshold => 0.2, decline_threshold => 0.6);
SELECT fraud_model_load('sh', decode(:'small_ubj', 'base64'), activate => false,
                        review_threshold => 0.05, decline_threshold => 0.3);
SELECT fraud_model_shadow('sh', 2);
SELECT fraud_model_shadow('sh', 3, 0.5);
TRUNCATE fraud_score_shadow_log;	-- (sql/stats.sql logs challengers of its own)
SELECT version, active, shadow_fraction FROM fraud_models WHERE name = 'sh' ORDER BY version;

CREATE TABLE sh_tx (
    id integer PRIMARY KEY,
    amount numeric, hour float8, merchant_risk float8, card_age_days float8, is_foreign float8,
    score float8, decision text, model_version integer
);
CREATE TRIGGER score_tx BEFORE INSERT ON sh_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('sh', 'score', 'decision', 'model_version');
INSERT INTO sh_tx SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM sh_expected;

-- The rows are the champion's alone.
SELECT count(*) AS rows, count(*) FILTER (WHERE model_version = 1) AS by_version_1,
       max(abs(t.score - e.xgboost_score)) < 1e-6 AS champion_scores
FROM sh_tx t JOIN sh_expected e USING (id);

-- Version 2 scored every row, as XGBoost scores the DART model, at its own
-- thresholds; the champion's side is what the row got.
SELECT count(*) AS logged,
       count(*) FILTER (WHERE l.challenger_score::float4 = d.dart_score::float4) AS as_xgboost,
       count(*) FILTER (WHERE l.challenger_decision = CASE WHEN d.dart_score >= 0.6 THEN 'decline'
                                                           WHEN d.dart_score >= 0.2 THEN 'review'
                                                           ELSE 'approve' END) AS own_thresholds,
       count(*) FILTER (WHERE l.champion_score = t.score AND l.champion_decision = t.decision
                        AND l.champion_version = t.model_version) AS champion_matches,
       count(DISTINCT l.relation) AS relations, min(l.model) AS model
FROM fraud_score_shadow_log l JOIN sh_tx t ON t.id::text = l.row_key JOIN sh_dart d USING (id)
WHERE l.challenger_version = 2;

-- Version 3 samples half of the rows, by a hash of the primary key: the same
-- rows again when they are inserted again.
CREATE TEMP TABLE sampled_first AS
SELECT row_key FROM fraud_score_shadow_log WHERE challenger_version = 3;
SELECT count(*) BETWEEN 10 AND 35 AS about_half FROM sampled_first;
TRUNCATE sh_tx, fraud_score_shadow_log;
INSERT INTO sh_tx SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM sh_expected;
SELECT (SELECT count(*) FROM sampled_first) = count(*) AS same_count,
       count(*) FILTER (WHERE row_key IN (SELECT row_key FROM sampled_first)) = count(*) AS same_rows
FROM fraud_score_shadow_log WHERE challenger_version = 3;
-- Version 3 is version 1's trees: the same scores, other decisions.
SELECT count(*) FILTER (WHERE challenger_score = champion_score) = count(*) AS same_scores,
       count(*) FILTER (WHERE challenger_decision <> champion_decision) > 0 AS some_decisions_differ
FROM fraud_score_shadow_log WHERE challenger_version = 3;

-- Champion against challengers on the logged rows, with labels for the rows
-- that have matured (here: the first 30, fraud when XGBoost's score > 0.3).
SELECT challenger_version, champion_versions, rows, round(agreement::numeric, 4) AS agreement,
       champion_flagged, challenger_flagged, challenger_errors, labeled_rows, frauds,
       round(champion_precision::numeric, 4) AS champion_precision,
       round(champion_recall::numeric, 4) AS champion_recall,
       round(challenger_precision::numeric, 4) AS challenger_precision,
       round(challenger_recall::numeric, 4) AS challenger_recall
FROM fraud_shadow_compare('sh', 'SELECT id::text AS row_key, xgboost_score > 0.3 AS is_fraud
                                 FROM sh_expected WHERE id <= 30');
-- The same figures for version 2, recomputed from the rows and the labels.
SELECT round((count(*) FILTER (WHERE t.decision = l.challenger_decision))::numeric / count(*), 4) AS agreement,
       count(*) FILTER (WHERE e.id <= 30 AND e.xgboost_score > 0.3) AS frauds,
       round((count(*) FILTER (WHERE e.id <= 30 AND e.xgboost_score > 0.3 AND t.decision <> 'approve'))::numeric
             / nullif(count(*) FILTER (WHERE e.id <= 30 AND t.decision <> 'approve'), 0), 4) AS champion_precision,
       round((count(*) FILTER (WHERE e.id <= 30 AND e.xgboost_score > 0.3 AND l.challenger_decision <> 'approve'))::numeric
             / nullif(count(*) FILTER (WHERE e.id <= 30 AND e.xgboost_score > 0.3), 0), 4) AS challenger_recall
FROM fraud_score_shadow_log l JOIN sh_tx t ON t.id::text = l.row_key JOIN sh_expected e ON e.id = t.id
WHERE l.challenger_version = 2;
-- Without labels: agreement only; a time window or relation selects rows.
SELECT challenger_version, rows, labeled_rows, challenger_precision IS NULL AS no_precision
FROM fraud_shadow_compare('sh');
SELECT count(*) AS windows FROM fraud_shadow_compare('sh', since => now() + interval '1 day');
SELECT count(*) AS other_relation FROM fraud_shadow_compare('sh', relation => 'sh_expected');
SELECT * FROM fraud_shadow_compare('sh', 'SELECT 1');
SELECT * FROM fraud_shadow_compare('sh', 'SELECT 1 AS row_key, point(1, 2) AS is_fraud');

-- A challenger that fails never fails the INSERT: its side is logged with a
-- NULL score (and counted in fraud_score_stats, sql/stats.sql).
CREATE FUNCTION sh_failing(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF (doc->>'amount')::numeric > 100 THEN
        RAISE EXCEPTION 'no history for amount %', doc->>'amount';
    END IF;
    RETURN '{}';
END $$;
SELECT fraud_model_load('sh', decode(:'small_ubj', 'base64'), activate => false,
                        feature_function => 'sh_failing(jsonb)');
SELECT fraud_model_shadow('sh', 4);
TRUNCATE sh_tx, fraud_score_shadow_log;
INSERT INTO sh_tx SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM sh_expected;
SELECT count(*) AS rows FROM sh_tx;
SELECT count(*) AS logged, count(*) FILTER (WHERE challenger_score IS NULL) AS failed,
       (SELECT count(*) FROM sh_expected WHERE amount > 100) AS over_100
FROM fraud_score_shadow_log WHERE challenger_version = 4;
SELECT challenger_version, rows, challenger_errors FROM fraud_shadow_compare('sh') WHERE challenger_version = 4;
SELECT fraud_model_shadow_stop('sh', 4);

-- A challenger that cannot even be loaded (here its feature function was
-- dropped) is reported once, and the rows are the champion's alone until
-- the catalog changes.
CREATE FUNCTION sh_gone(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SELECT fraud_model_load('sh', decode(:'small_ubj', 'base64'), activate => false,
                        feature_function => 'sh_gone(jsonb)') AS gone_version \gset
SELECT fraud_model_shadow('sh', :gone_version);
DROP FUNCTION sh_gone(jsonb);
TRUNCATE fraud_score_shadow_log;
INSERT INTO sh_tx (id, amount) VALUES (900, 1), (901, 2), (902, 3);
SELECT count(*) AS rows FROM sh_tx WHERE id >= 900;
SELECT count(*) AS logged FROM fraud_score_shadow_log;
SELECT fraud_model_shadow_stop('sh', :gone_version);
INSERT INTO sh_tx (id, amount) VALUES (903, 4);
SELECT count(DISTINCT challenger_version) AS challengers_again FROM fraud_score_shadow_log;

-- A rolled-back INSERT leaves no log rows.
BEGIN;
INSERT INTO sh_tx (id, amount) VALUES (1000, 1);
SELECT count(*) AS during FROM fraud_score_shadow_log WHERE row_key = '1000';
ROLLBACK;
SELECT count(*) AS after FROM fraud_score_shadow_log WHERE row_key = '1000';

-- A composite key is logged as a JSON array; a table without one logs a NULL key.
CREATE TABLE sh_pair (region text, id integer, amount numeric, score float8, PRIMARY KEY (id, region));
CREATE TRIGGER score_tx BEFORE INSERT ON sh_pair
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('sh', 'score');
INSERT INTO sh_pair VALUES ('eu "west"', 7, 12);
CREATE TABLE sh_nokey (amount numeric, score float8);
CREATE TRIGGER score_tx BEFORE INSERT ON sh_nokey
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('sh', 'score');
INSERT INTO sh_nokey VALUES (12);
SELECT relation, row_key, challenger_version FROM fraud_score_shadow_log
WHERE relation IN ('sh_pair'::regclass, 'sh_nokey'::regclass) AND challenger_version = 2 ORDER BY 1;

-- The inserting role needs no privilege on the log.
CREATE ROLE sh_app;
GRANT INSERT ON sh_tx TO sh_app;
SET ROLE sh_app;
INSERT INTO sh_tx (id, amount) VALUES (2000, 5);
SELECT count(*) FROM fraud_score_shadow_log;
RESET ROLE;
SELECT count(*) AS logged_for_app FROM fraud_score_shadow_log WHERE row_key = '2000';
DROP OWNED BY sh_app;
DROP ROLE sh_app;

-- With an index of the owner's on the log, rows go through the executor and
-- the index has them.
CREATE INDEX sh_log_key ON fraud_score_shadow_log (row_key);
INSERT INTO sh_tx (id, amount) VALUES (2001, 5);
SET enable_seqscan = off;
SELECT row_key, challenger_version FROM fraud_score_shadow_log WHERE row_key = '2001' ORDER BY 2;
RESET enable_seqscan;
DROP INDEX sh_log_key;
-- A trigger of the owner's on the log that fails: the row is written, its
-- challengers are not logged, with a WARNING.
CREATE FUNCTION sh_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the log is full';
END $$;
CREATE TRIGGER log_guard BEFORE INSERT ON fraud_score_shadow_log
    FOR EACH ROW EXECUTE FUNCTION sh_log_guard();
INSERT INTO sh_tx (id, amount) VALUES (2002, 5) RETURNING id, model_version;
SELECT count(*) AS logged FROM fraud_score_shadow_log WHERE row_key = '2002';
DROP TRIGGER log_guard ON fraud_score_shadow_log;

-- fraud_score() and fraud_decide() score with the champion alone.
SELECT count(*) AS before FROM fraud_score_shadow_log \gset
SELECT fraud_score('{"amount": 5}', 'sh') IS NOT NULL AS scored;
SELECT count(*) = :before AS nothing_logged FROM fraud_score_shadow_log;

-- Activating a challenger makes it the champion: it stops shadowing.
SELECT fraud_model_activate('sh', 2);
SELECT version, active, shadow_fraction FROM fraud_models WHERE name = 'sh' ORDER BY version;
SELECT fraud_model_shadow('sh', 3);
INSERT INTO sh_tx (id, amount) VALUES (3000, 5) RETURNING model_version;
SELECT champion_version, challenger_version FROM fraud_score_shadow_log WHERE row_key = '3000';

-- Mistakes are errors.
SELECT fraud_model_shadow('sh', 2);
SELECT fraud_model_shadow('sh', 3, 0);
SELECT fraud_model_shadow('sh', 3, 1.5);
SELECT fraud_model_shadow('sh', 3, NULL);
SELECT fraud_model_shadow('sh', 9);
SELECT fraud_model_shadow_stop('sh', 9);
SELECT fraud_model_shadow('nosuch', 1);
-- (the table's own check, whose detail would show the whole row)
\set VERBOSITY terse
UPDATE fraud_score_models SET shadow_fraction = 0.5 WHERE name = 'sh' AND version = 2;
\set VERBOSITY default
SET ROLE fraud_score_admin;
SELECT count(*) >= 0 AS admin_reads_log FROM fraud_score_shadow_log;
RESET ROLE;
