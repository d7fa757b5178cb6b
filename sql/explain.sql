-- fraud_explain: each feature's contribution to the margin, exact
-- path-dependent TreeSHAP computed natively (src/explain.c), held to
-- XGBoost's own pred_contribs (through its C API, the xgboost engine), to
-- Shapley's formula over every feature subset, and to bias + contributions
-- = margin; reason texts; the trigger's reasons column.
\set SHOW_CONTEXT never
\i test/fixtures.psql
\set categorical_json `base64 -w0 :'abs_srcdir'/test/fixtures/categorical.json`
\set categorical_csv `cat :'abs_srcdir'/test/fixtures/categorical_expected.csv`
\set dart_json `base64 -w0 :'abs_srcdir'/test/fixtures/dart.json`
\set forest_json `base64 -w0 :'abs_srcdir'/test/fixtures/forest.json`
\set small_lgbm `base64 -w0 :'abs_srcdir'/test/fixtures/small_lgbm.txt`
\set lgbm_rules `base64 -w0 :'abs_srcdir'/test/fixtures/lgbm_rules.txt`

SELECT fraud_model_load('x_small', decode(:'small_json', 'base64'),
                        review_threshold => 0.3, decline_threshold => 0.8,
                        reasons => '{"amount": "Unusually large amount",
                                     "is_foreign": {"text": "Card used abroad", "direction": "raises"},
                                     "card_age_days": {"text": "New card"}}');
SELECT fraud_model_load('x_categorical', decode(:'categorical_json', 'base64'));
SELECT fraud_model_load('x_dart', decode(:'dart_json', 'base64'));
SELECT fraud_model_load('x_forest', decode(:'forest_json', 'base64'));
SELECT fraud_model_load('x_lgbm', decode(:'small_lgbm', 'base64'));

-- The fixtures' test rows as documents (an empty field is a missing value).
CREATE FUNCTION pg_temp.csv_docs(csv text, model text)
RETURNS TABLE (model_name text, n bigint, doc jsonb) LANGUAGE sql AS $$
    WITH lines AS (SELECT string_to_array(csv, E'\n') AS l),
         header AS (SELECT string_to_array(l[1], ',') AS h FROM lines)
    SELECT model, r.n,
           (SELECT coalesce(jsonb_object_agg(h[i], cell::numeric), '{}')
            FROM unnest(f) WITH ORDINALITY AS c(cell, i)
            WHERE i > 1 AND i < array_length(h, 1) AND cell <> '')
    FROM lines, header, unnest(l[2:]) WITH ORDINALITY AS r(line, n), string_to_array(line, ',') AS f
    WHERE line <> '' $$;

-- The shapes of sql/engine.sql, trained here by XGBoost itself: a stump,
-- shallow trees, the default depth, deep trees where nodes may have no
-- cover at all (min_child_weight 0), many trees, hist, a base_score that is
-- not 0.5, and weighted classes without regularisation.
SELECT setseed(0.21);
CREATE TABLE x_data AS
SELECT i AS id,
       CASE WHEN random() < 0.15 THEN NULL ELSE round((random() * 200 - 50)::numeric, 3) END::float8 AS a,
       CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 10) END::float8 AS b,
       CASE WHEN random() < 0.30 THEN NULL ELSE random() END::float8 AS c,
       (random() < 0.5) AS d,
       false AS label
FROM generate_series(1, 2000) AS i;
UPDATE x_data SET label = (coalesce(a, 80) > 60 AND coalesce(b, 9) >= 5) OR (c IS NULL AND d)
                          OR (coalesce(c, 0) > 0.9 AND random() < 0.8) OR random() < 0.03;
CREATE TABLE x_shapes (name text, params jsonb);
INSERT INTO x_shapes VALUES
    ('stump',    '{"max_depth": 1, "num_boost_round": 1}'),
    ('shallow',  '{"max_depth": 2, "num_boost_round": 30, "eta": 0.5}'),
    ('default',  '{"max_depth": 6, "num_boost_round": 50}'),
    ('deep',     '{"max_depth": 12, "num_boost_round": 20, "min_child_weight": 0}'),
    ('many',     '{"max_depth": 4, "num_boost_round": 300, "eta": 0.05}'),
    ('hist',     '{"max_depth": 6, "num_boost_round": 40, "tree_method": "hist", "max_bin": 16}'),
    ('base',     '{"max_depth": 3, "num_boost_round": 25, "base_score": 0.2}'),
    ('weighted', '{"max_depth": 5, "num_boost_round": 25, "scale_pos_weight": 7, "lambda": 0}');
SET client_min_messages = warning;
SELECT s.name, fraud_model_train('xs_' || s.name, 'SELECT a, b, c, d, label FROM x_data', 'label',
                                 s.params || '{"notice_every": 0}', activate => true) AS version
FROM x_shapes s ORDER BY s.name;
RESET client_min_messages;

CREATE TABLE x_cases AS
SELECT * FROM pg_temp.csv_docs(:'expected_csv', 'x_small')
UNION ALL SELECT * FROM pg_temp.csv_docs(:'expected_csv', 'x_dart')
UNION ALL SELECT * FROM pg_temp.csv_docs(:'expected_csv', 'x_forest')
UNION ALL SELECT * FROM pg_temp.csv_docs(:'categorical_csv', 'x_categorical');
INSERT INTO x_cases
SELECT 'xs_' || s.name, i,
       jsonb_strip_nulls(jsonb_build_object(
           'a', CASE WHEN i % 11 = 0 THEN NULL ELSE round((random() * 300 - 100)::numeric, 4) END,
           'b', CASE WHEN i % 13 = 0 THEN NULL ELSE floor(random() * 12) - 1 END,
           'c', CASE WHEN i % 5 = 0 THEN NULL ELSE random() END,
           'd', CASE WHEN i % 17 = 0 THEN NULL ELSE random() < 0.5 END))
FROM x_shapes s, generate_series(1, 100) AS i;

-- Two methods' contributions for one row, the largest difference (a
-- feature one of them leaves out contributes 0 there).
CREATE FUNCTION pg_temp.gap(doc jsonb, model text, m1 text, model2 text, m2 text)
RETURNS float8 LANGUAGE sql AS $$
    SELECT coalesce(max(abs(coalesce(a.contribution, 0) - coalesce(b.contribution, 0))), 0)
    FROM fraud_explain(doc, model, NULL, m1) a
         FULL JOIN fraud_explain(doc, model2, NULL, m2) b USING (feature) $$;
-- |bias + every contribution - margin|.
CREATE FUNCTION pg_temp.sum_gap(doc jsonb, model text, m text)
RETURNS float8 LANGUAGE sql AS $$
    SELECT abs(fraud_explain_bias(model, m)
               + coalesce((SELECT sum(contribution) FROM fraud_explain(doc, model, NULL, m)), 0)
               - fraud_score_margin(doc, model)) $$;

-- XGBoost's own contributions need its booster: the xgboost engine.
SET fraud_score.engine = xgboost;
CREATE TABLE x_figures AS
SELECT model_name AS model, count(*) AS rows,
       max(pg_temp.gap(doc, model_name, 'tree_shap', model_name, 'xgboost')) AS shap_vs_xgboost,
       max(pg_temp.gap(doc, model_name, 'saabas', model_name, 'xgboost_approx')) AS saabas_vs_xgboost,
       max(pg_temp.gap(doc, model_name, 'tree_shap', model_name, 'exhaustive')) AS shap_vs_exhaustive,
       max(pg_temp.sum_gap(doc, model_name, 'tree_shap')) AS shap_sum_gap,
       max(pg_temp.sum_gap(doc, model_name, 'saabas')) AS saabas_sum_gap,
       max(pg_temp.sum_gap(doc, model_name, 'xgboost')) AS xgboost_sum_gap,
       max(abs(fraud_explain_bias(model_name) - fraud_explain_bias(model_name, 'xgboost'))) AS bias_gap
FROM x_cases GROUP BY model_name;
-- Within 1e-5 of XGBoost (which works in float), 1e-9 of Shapley's formula
-- (both in double), and the margin (in float) within 1e-5.
SELECT model, rows, shap_vs_xgboost < 1e-5 AS shap_is_xgboosts,
       saabas_vs_xgboost < 1e-5 AS saabas_is_xgboosts_approx,
       shap_vs_exhaustive < 1e-9 AS shap_is_shapley,
       shap_sum_gap < 1e-5 AS shap_sums_to_margin, saabas_sum_gap < 1e-5 AS saabas_sums_to_margin,
       xgboost_sum_gap < 1e-5 AS xgboost_sums_to_margin, bias_gap < 1e-5 AS bias_is_xgboosts
FROM x_figures ORDER BY model;
-- Contributions that make a difference: the row's own path counts.
SELECT count(*) FILTER (WHERE shap_vs_xgboost > 0) AS models_with_nonzero_gaps,
       bool_and(shap_vs_exhaustive < shap_vs_xgboost) AS closer_to_shapley_than_to_float
FROM x_figures;

-- LightGBM: the same trees as x_small in LightGBM's text (its <= at the
-- float thresholds, base_score inside tree 0), explained in double by its
-- own evaluator, against XGBoost's contributions for x_small, Shapley's
-- formula and its raw margin.  The inputs are moved to multiples of 1/128
-- off the round numbers: values a float holds exactly and no threshold
-- equals, so that XGBoost's float "<" and LightGBM's double "<=" send them
-- the same way at every split (elsewhere they may part at splits off the
-- row's path, which TreeSHAP weighs and Saabas does not).
SELECT count(*) AS rows,
       max(pg_temp.gap(doc, 'x_lgbm', 'tree_shap', 'x_small', 'xgboost')) < 1e-5 AS shap_is_xgboosts,
       max(pg_temp.gap(doc, 'x_lgbm', 'tree_shap', 'x_lgbm', 'exhaustive')) < 1e-12 AS shap_is_shapley,
       max(pg_temp.gap(doc, 'x_lgbm', 'saabas', 'x_small', 'xgboost_approx')) < 1e-5 AS saabas_is_xgboosts_approx,
       max(pg_temp.sum_gap(doc, 'x_lgbm', 'tree_shap')) < 1e-12 AS sums_to_raw_margin,
       max(abs(fraud_explain_bias('x_lgbm') - fraud_explain_bias('x_small', 'xgboost'))) < 1e-5
           AS bias_is_xgboosts
FROM (SELECT n, (SELECT jsonb_object_agg(key, round(value::numeric * 64) / 64 + 0.0078125)
                 FROM jsonb_each_text(doc)) AS doc
      FROM pg_temp.csv_docs(:'expected_csv', 'x_lgbm')) AS exact;
RESET fraud_score.engine;

-- What an analyst reads: the largest contributions first, with the
-- version's reason texts (a text with a direction only for that sign; the
-- feature's name otherwise), the input (NULL when missing).
SELECT feature, value, round(contribution::numeric, 6) AS contribution, reason
FROM fraud_explain('{"amount": 2500, "hour": 3, "card_age_days": 4, "is_foreign": 1}', 'x_small');
SELECT feature, value, round(contribution::numeric, 6) AS contribution, reason
FROM fraud_explain('{"amount": 12, "hour": 14, "card_age_days": 900, "is_foreign": 0}', 'x_small', top_k => 3);
SELECT round(fraud_explain_bias('x_small')::numeric, 6) AS bias,
       round(fraud_score_margin('{"amount": 2500, "hour": 3}', 'x_small')::numeric, 6) AS margin,
       round((fraud_explain_bias('x_small') + (SELECT sum(contribution)
              FROM fraud_explain('{"amount": 2500, "hour": 3}', 'x_small', NULL)))::numeric, 6) AS bias_plus_contributions;
SELECT count(*) AS rows FROM fraud_explain('{"amount": 2500}', 'x_small', top_k => 0);
SELECT count(*) AS rows FROM fraud_explain(NULL, 'x_small');
-- A categorical feature's value is its code.
SELECT feature, value FROM fraud_explain('{"merchant_category": 7, "channel": 2, "amount": 80}', 'x_categorical', NULL)
ORDER BY feature;
-- Ties in |contribution| go in the model's feature order: a stump's one
-- split is the only nonzero contribution.
SELECT feature, round(contribution::numeric, 6) FROM fraud_explain('{"a": 90, "b": 7}', 'xs_stump', NULL);

-- Reason texts belong to the version: shown, exported and imported with
-- it, and changed without a new version.
SELECT name, version, reasons FROM fraud_models WHERE name = 'x_small';
SELECT fraud_model_export('x_small')->'reasons' = (SELECT reasons FROM fraud_models WHERE name = 'x_small') AS exported;
SELECT fraud_model_import(fraud_model_export('x_small'), 'x_small_copy');
SELECT reasons IS NOT DISTINCT FROM (SELECT reasons FROM fraud_models WHERE name = 'x_small') AS imported
FROM fraud_models WHERE name = 'x_small_copy';
SELECT fraud_model_set_reasons('x_small_copy', 1, '{"hour": "Night-time purchase"}');
SELECT feature, reason FROM fraud_explain('{"amount": 2500, "hour": 3}', 'x_small_copy', 2);
SELECT fraud_model_set_reasons('x_small_copy', 1, NULL);
SELECT feature, reason FROM fraud_explain('{"amount": 2500, "hour": 3}', 'x_small_copy', 2);

-- Errors.
SELECT * FROM fraud_explain('{}', 'x_small', 5, 'lime');
SELECT * FROM fraud_explain('{}', 'x_small', -1);
SET fraud_score.engine = native;
SELECT fraud_model_load('x_native', decode(:'small_json', 'base64'));
SELECT * FROM fraud_explain('{}', 'x_native', 5, 'xgboost');
SELECT fraud_explain_bias('x_native', 'xgboost_approx');
SET fraud_score.engine = xgboost;
SELECT * FROM fraud_explain('{}', 'x_lgbm', 5, 'xgboost');
RESET fraud_score.engine;
SELECT * FROM fraud_explain('{}', 'nonexistent');
SELECT fraud_model_load('x_rules', decode(:'lgbm_rules', 'base64'));
SELECT * FROM fraud_explain('{"x": 1}', 'x_rules');
SELECT fraud_model_load('x_nocounts', convert_to(regexp_replace(convert_from(decode(:'small_lgbm', 'base64'), 'UTF8'),
                                                               E'internal_count=[^\\n]*\\n', '', 'g'), 'UTF8'));
SELECT fraud_score('{"amount": 100}', 'x_nocounts') = fraud_score('{"amount": 100}', 'x_lgbm') AS still_scores;
SELECT * FROM fraud_explain('{"amount": 100}', 'x_nocounts');
-- Counts that cannot weigh anything (negative) are as good as none: the model scores.
SELECT fraud_model_load('x_badcounts', convert_to(replace(convert_from(decode(:'small_lgbm', 'base64'), 'UTF8'),
                                                         'leaf_count=', 'leaf_count=-'), 'UTF8'));
SELECT fraud_score('{"amount": 100}', 'x_badcounts') = fraud_score('{"amount": 100}', 'x_lgbm') AS still_scores;
SELECT * FROM fraud_explain('{"amount": 100}', 'x_badcounts');
-- A tree that splits on more than 16 features is too many subsets to enumerate.
CREATE TABLE x_wide AS
SELECT i, (random() < 0.1) AS label, random() AS f1, random() AS f2, random() AS f3, random() AS f4, random() AS f5,
       random() AS f6, random() AS f7, random() AS f8, random() AS f9, random() AS f10, random() AS f11,
       random() AS f12, random() AS f13, random() AS f14, random() AS f15, random() AS f16, random() AS f17,
       random() AS f18, random() AS f19, random() AS f20
FROM generate_series(1, 3000) i;
SET client_min_messages = warning;
SELECT fraud_model_train('x_wide', 'SELECT * FROM x_wide', 'label',
                         '{"max_depth": 12, "num_boost_round": 2, "min_child_weight": 0, "notice_every": 0}', activate => true) > 0 AS trained;
RESET client_min_messages;
SELECT count(*) FROM fraud_explain('{"f1": 0.5}', 'x_wide', NULL, 'exhaustive');
SELECT count(*) > 0 AS explained FROM fraud_explain('{"f1": 0.5}', 'x_wide', NULL);
-- Reason documents are checked against the model.
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '["amount"]');
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '{"amt": "Large"}');
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '{"amount": 5}');
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '{"amount": {"direction": "raises"}}');
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '{"amount": {"text": "Large", "why": "x"}}');
SELECT fraud_model_load('x_bad', decode(:'small_json', 'base64'), reasons => '{"amount": {"text": "Large", "direction": "up"}}');
SELECT fraud_model_set_reasons('x_small', 99, '{}');
SELECT fraud_model_set_reasons('x_small', 1, '{"nope": "x"}');
SELECT count(*) FROM fraud_models WHERE name = 'x_bad';

-- The trigger's fifth argument: a reasons column (text[] or jsonb), filled
-- with the features that raised the score most, only for rows not approved
-- unless fraud_score.reasons_for is all.
CREATE TABLE x_tx (id int, amount float8, hour float8, merchant_risk float8, card_age_days float8,
                   is_foreign float8, score float8, decision text, version int, reasons text[]);
CREATE TRIGGER x_tx_score BEFORE INSERT ON x_tx FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'reasons');
INSERT INTO x_tx (id, amount, hour, merchant_risk, card_age_days, is_foreign)
SELECT n, (doc->>'amount')::float8, (doc->>'hour')::float8, (doc->>'merchant_risk')::float8,
       (doc->>'card_age_days')::float8, (doc->>'is_foreign')::float8
FROM pg_temp.csv_docs(:'expected_csv', 'x_small');
SELECT decision, count(*) AS rows, count(reasons) AS with_reasons,
       min(cardinality(reasons)) AS fewest, max(cardinality(reasons)) AS most
FROM x_tx GROUP BY decision ORDER BY decision;
-- They are fraud_explain's top raising features, in order.
SELECT count(*) AS flagged,
       count(*) FILTER (WHERE reasons = ARRAY(
           SELECT e.reason FROM fraud_explain(jsonb_build_object('amount', amount, 'hour', hour,
                   'merchant_risk', merchant_risk, 'card_age_days', card_age_days, 'is_foreign', is_foreign),
                   'x_small', NULL) e WHERE e.contribution > 0 LIMIT 3)) AS as_explained
FROM x_tx WHERE decision <> 'approve';
SELECT id, decision, reasons FROM x_tx WHERE decision = 'decline' ORDER BY id LIMIT 3;
SET fraud_score.reasons_for = 'all';
SET fraud_score.reasons_count = 2;
INSERT INTO x_tx (id, amount, hour, merchant_risk, card_age_days, is_foreign) VALUES (100, 9.5, 15, 0.15, 26, 0);
SELECT id, decision, reasons FROM x_tx WHERE id = 100;
RESET fraud_score.reasons_for;
RESET fraud_score.reasons_count;
-- jsonb: each reason's feature, input, contribution and text.
CREATE TABLE x_tx2 (amount float8, hour float8, card_age_days float8, is_foreign float8,
                    score float8, decision text, version bigint, reasons jsonb);
CREATE TRIGGER x_tx2_score BEFORE INSERT ON x_tx2 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'reasons');
INSERT INTO x_tx2 (amount, hour, card_age_days, is_foreign) VALUES (2500, 3, 4, 1), (12, 14, 900, 0);
SELECT decision, jsonb_path_query_array(reasons, '$[*].feature') AS features,
       jsonb_path_query_array(reasons, '$[*].reason') AS texts,
       jsonb_path_query_array(reasons, '$[*].value') AS inputs,
       (SELECT bool_and((r->>'contribution')::float8 > 0) FROM jsonb_array_elements(reasons) r) AS all_raise
FROM x_tx2 ORDER BY amount;
-- Misconfigured: always an error.
CREATE DOMAIN x_reasons AS text[];
CREATE TABLE x_tx3 (amount float8, score float8, decision text, version int, why integer, why2 x_reasons);
CREATE TRIGGER x_tx3_score BEFORE INSERT ON x_tx3 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'why');
INSERT INTO x_tx3 (amount) VALUES (1);
DROP TRIGGER x_tx3_score ON x_tx3;
CREATE TRIGGER x_tx3_score BEFORE INSERT ON x_tx3 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'why2');
INSERT INTO x_tx3 (amount) VALUES (1);
DROP TRIGGER x_tx3_score ON x_tx3;
CREATE TRIGGER x_tx3_score BEFORE INSERT ON x_tx3 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'nothing');
INSERT INTO x_tx3 (amount) VALUES (1);
DROP TRIGGER x_tx3_score ON x_tx3;
CREATE TRIGGER x_tx3_score BEFORE INSERT ON x_tx3 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_small', 'score', 'decision', 'version', 'why', 'extra');
INSERT INTO x_tx3 (amount) VALUES (1);
SET fraud_score.reasons_for = 'some';
SET fraud_score.reasons_count = 0;
-- A model that cannot be explained fails a row that asks for reasons, as a
-- misconfiguration does; under on_error = review or approve the row keeps
-- its score and decision, with NULL reasons and a WARNING.
CREATE TABLE x_tx4 (x float8, c float8, z float8, score float8, decision text, version int, reasons text[]);
CREATE TRIGGER x_tx4_score BEFORE INSERT ON x_tx4 FOR EACH ROW
    EXECUTE FUNCTION fraud_score_trigger('x_rules', 'score', 'decision', 'version', 'reasons');
SET fraud_score.reasons_for = 'all';
INSERT INTO x_tx4 (x, c, z) VALUES (1, 0, 1);
SET fraud_score.on_error = review;
INSERT INTO x_tx4 (x, c, z) VALUES (1, 0, 1);
SELECT score IS NOT NULL AS scored, decision, version, reasons FROM x_tx4;
RESET fraud_score.on_error;
RESET fraud_score.reasons_for;

DROP TABLE x_tx, x_tx2, x_tx3, x_tx4, x_data, x_shapes, x_cases, x_figures, x_wide;
DROP DOMAIN x_reasons;
DELETE FROM fraud_score_models WHERE name LIKE 'x\_%';
