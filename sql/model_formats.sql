-- What XGBoost 1.0 to 3.x write, made from the 1.7.4 fixture (test/fixtures)
-- so that the suite covers the formats without ../shared (models_wild.sql
-- runs the real files).  Each variant must score every fixture row exactly as
-- the model it stands for, with both engines.
\i test/fixtures.psql
\set expected_table fmt_expected
\i test/expected_table.psql
CREATE TABLE fmt_rows AS
SELECT id, jsonb_strip_nulls(jsonb_build_object('amount', amount, 'hour', hour,
       'merchant_risk', merchant_risk, 'card_age_days', card_age_days, 'is_foreign', is_foreign)) AS doc,
       xgboost_score
FROM fmt_expected;
CREATE TABLE fmt_json AS SELECT convert_from(decode(:'small_json', 'base64'), 'UTF8') AS j;

-- Load text as a model; the number of rows (of 45) where both engines give
-- "reference"'s score, or XGBoost's own if no reference is named.
CREATE FUNCTION pg_temp.same_scores(model_name text, model_text text, reference text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    native int;
    xgboost int;
BEGIN
    PERFORM fraud_model_load(model_name, convert_to(model_text, 'UTF8'));
    SELECT count(*) FILTER (WHERE CASE WHEN reference IS NULL
                                       THEN fraud_score(doc, model_name)::float4 = xgboost_score::float4
                                       ELSE fraud_score(doc, model_name) = fraud_score(doc, reference) END)
    INTO native FROM fmt_rows;
    PERFORM set_config('fraud_score.engine', 'xgboost', true);
    SELECT count(*) FILTER (WHERE CASE WHEN reference IS NULL
                                       THEN fraud_score(doc, model_name)::float4 = xgboost_score::float4
                                       ELSE fraud_score(doc, model_name) = fraud_score(doc, reference) END)
    INTO xgboost FROM fmt_rows;
    PERFORM set_config('fraud_score.engine', 'native', true);
    RETURN format('native %s, xgboost %s', native, xgboost);
END $$;

SELECT pg_temp.same_scores('fmt_plain', j) AS as_saved_by_1_7 FROM fmt_json;
-- 2.0 and later: size_leaf_vector "1" for scalar leaves.
SELECT pg_temp.same_scores('fmt_2x', replace(j, '"size_leaf_vector":"0"', '"size_leaf_vector":"1"'))
    AS size_leaf_vector_1 FROM fmt_json;
-- 1.0-1.5: no num_parallel_tree.
SELECT pg_temp.same_scores('fmt_1x', replace(j, '"num_parallel_tree":"1",', '')) AS no_num_parallel_tree
FROM fmt_json;
-- A random forest's grouping: every tree still adds to the margin.
SELECT pg_temp.same_scores('fmt_rf', replace(j, '"num_parallel_tree":"1"', '"num_parallel_tree":"4"'))
    AS num_parallel_tree_4 FROM fmt_json;
-- reg:logistic: the same probability.
SELECT pg_temp.same_scores('fmt_reglogistic', replace(j, '"binary:logistic"', '"reg:logistic"'))
    AS reg_logistic FROM fmt_json;

-- 3.1 and later: base_score "[x]".  It must be read as x (XGBoost 1.7.4 would
-- take its default 0.5): the bracketed model scores as the same model with
-- base_score "2.5E-1", in JSON and in UBJSON.
SELECT fraud_model_load('fmt_base', convert_to(replace(j, '"base_score":"5E-1"', '"base_score":"2.5E-1"'), 'UTF8'))
FROM fmt_json;
SELECT pg_temp.same_scores('fmt_3x', replace(j, '"base_score":"5E-1"', '"base_score":"[2.5E-1]"'), 'fmt_base')
    AS base_score_bracketed FROM fmt_json;
SELECT count(*) FILTER (WHERE fraud_score(doc, 'fmt_3x') <> fraud_score(doc, 'fmt_plain')) AS rows_unlike_0_5
FROM fmt_rows;
-- In UBJSON the value "5E-1" is S L <8-byte length 4> 5E-1, and "[2.5E-1]"
-- has 8 bytes.
SELECT fraud_model_load('fmt_3x_ubj',
    decode(replace(encode(decode(:'small_ubj', 'base64'), 'hex'),
                   '626173655f73636f7265534c000000000000000435452d31',
                   '626173655f73636f7265534c0000000000000008' || encode('[2.5E-1]', 'hex')), 'hex'));
SELECT count(*) FILTER (WHERE fraud_score(doc, 'fmt_3x_ubj') = fraud_score(doc, 'fmt_base')) AS ubjson_rows_equal
FROM fmt_rows;

-- binary:logitraw: XGBoost predicts the margin, whose starting point is
-- base_score itself (0.5 here); fraud_score gives its logistic, the same in
-- both engines, and equal within float rounding to a binary:logistic model
-- starting from the margin 0.5 (base_score 1/(1 + e^-0.5)).
SELECT fraud_model_load('fmt_logitraw', convert_to(replace(j, '"binary:logistic"', '"binary:logitraw"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_load('fmt_logit_half', convert_to(replace(j, '"base_score":"5E-1"', '"base_score":"6.2245935E-1"'), 'UTF8'))
FROM fmt_json;
CREATE TEMP TABLE fmt_logitraw_scores AS
SELECT id, fraud_score(doc, 'fmt_logitraw') AS native, fraud_score(doc, 'fmt_logit_half') AS logistic
FROM fmt_rows;
SET fraud_score.engine = xgboost;
SELECT count(*) FILTER (WHERE fraud_score(r.doc, 'fmt_logitraw') = s.native) AS engines_equal,
       max(abs(s.native - s.logistic)) < 1e-6 AS logistic_of_the_margin,
       count(*) FILTER (WHERE s.native <> fraud_score(r.doc, 'fmt_plain')) AS unlike_binary_logistic
FROM fmt_rows r JOIN fmt_logitraw_scores s USING (id);
RESET fraud_score.engine;
SELECT objective FROM fraud_models WHERE name IN ('fmt_logitraw', 'fmt_reglogistic') ORDER BY name;

-- dart (as 1.x-3.x write it): the gbtree inside, and a weight per tree that
-- multiplies its leaves.  Both engines give the same scores, unlike the
-- unweighted model's.
SELECT fraud_model_load('fmt_dart', convert_to(
    replace(replace(j, '"gradient_booster":{"model":', '"gradient_booster":{"gbtree":{"model":'),
            ']},"name":"gbtree"},"learner_model_param"',
            ']},"name":"gbtree"},"name":"dart","weight_drop":['
            || (SELECT string_agg(format('%sE-1', 5 + i % 5), ',') FROM generate_series(1, 20) i)
            || ']},"learner_model_param"'), 'UTF8'))
FROM fmt_json;
CREATE TEMP TABLE fmt_dart_scores AS SELECT id, fraud_score(doc, 'fmt_dart') AS native FROM fmt_rows;
SET fraud_score.engine = xgboost;
SELECT count(*) FILTER (WHERE fraud_score(r.doc, 'fmt_dart') = s.native) AS engines_equal,
       count(*) FILTER (WHERE s.native <> fraud_score(r.doc, 'fmt_plain')) AS unlike_unweighted
FROM fmt_rows r JOIN fmt_dart_scores s USING (id);
RESET fraud_score.engine;
-- A weight per tree, each a finite float.
SELECT fraud_model_check(convert_to(
    replace(replace(j, '"gradient_booster":{"model":', '"gradient_booster":{"gbtree":{"model":'),
            ']},"name":"gbtree"},"learner_model_param"',
            ']},"name":"gbtree"},"name":"dart","weight_drop":[1,1]},"learner_model_param"'), 'UTF8'))
FROM fmt_json;

-- A dart model and a random forest trained by XGBoost 1.7.4 itself
-- (test/tools: dart with rate_drop 0.3, 20 trees weighted 0.11 to 0.75; a
-- forest of 3 rounds of 4 parallel trees), scored as XGBoost scores them,
-- as 1.7 saves them and as 1.0-1.5 and 3.1+ write them.
\set dart_json `base64 -w0 :'abs_srcdir'/test/fixtures/dart.json`
\set dart_ubj `base64 -w0 :'abs_srcdir'/test/fixtures/dart.ubj`
\set forest_json `base64 -w0 :'abs_srcdir'/test/fixtures/forest.json`
\set forest_ubj `base64 -w0 :'abs_srcdir'/test/fixtures/forest.ubj`
\set dart_forest_csv `cat :'abs_srcdir'/test/fixtures/dart_forest_expected.csv`
CREATE TABLE fmt_trained AS
SELECT f[1]::int AS id, f[7]::float8 AS dart_score, f[8]::float8 AS forest_score
FROM regexp_split_to_table(:'dart_forest_csv', E'\n') WITH ORDINALITY AS l(line, n),
     LATERAL string_to_array(line, ',') AS f
WHERE n > 1 AND line <> '';
-- Rows (of 45) where each engine gives XGBoost's own score.
CREATE FUNCTION pg_temp.trained_scores(model_name text, model bytea, kind text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    native int;
    xgboost int;
BEGIN
    PERFORM fraud_model_load(model_name, model);
    SELECT count(*) FILTER (WHERE fraud_score(r.doc, model_name)::float4
                                  = (CASE kind WHEN 'dart' THEN t.dart_score ELSE t.forest_score END)::float4)
    INTO native FROM fmt_rows r JOIN fmt_trained t USING (id);
    PERFORM set_config('fraud_score.engine', 'xgboost', true);
    SELECT count(*) FILTER (WHERE fraud_score(r.doc, model_name)::float4
                                  = (CASE kind WHEN 'dart' THEN t.dart_score ELSE t.forest_score END)::float4)
    INTO xgboost FROM fmt_rows r JOIN fmt_trained t USING (id);
    PERFORM set_config('fraud_score.engine', 'native', true);
    RETURN format('native %s, xgboost %s', native, xgboost);
END $$;
SELECT pg_temp.trained_scores('fmt_dart_json', decode(:'dart_json', 'base64'), 'dart') AS dart_json,
       pg_temp.trained_scores('fmt_dart_ubj', decode(:'dart_ubj', 'base64'), 'dart') AS dart_ubj,
       pg_temp.trained_scores('fmt_forest_json', decode(:'forest_json', 'base64'), 'forest') AS forest_json,
       pg_temp.trained_scores('fmt_forest_ubj', decode(:'forest_ubj', 'base64'), 'forest') AS forest_ubj;
-- As 1.0-1.5 (no num_parallel_tree) and 3.1+ (size_leaf_vector "1", base_score "[x]") write them.
SELECT pg_temp.trained_scores('fmt_dart_1x', convert_to(replace(convert_from(decode(:'dart_json', 'base64'), 'UTF8'),
                                                                '"num_parallel_tree":"1",', ''), 'UTF8'), 'dart') AS dart_1x,
       pg_temp.trained_scores('fmt_forest_1x', convert_to(replace(convert_from(decode(:'forest_json', 'base64'), 'UTF8'),
                                                                  '"num_parallel_tree":"4",', ''), 'UTF8'), 'forest') AS forest_1x,
       pg_temp.trained_scores('fmt_dart_3x', convert_to(replace(replace(convert_from(decode(:'dart_json', 'base64'), 'UTF8'),
                                                                        '"size_leaf_vector":"0"', '"size_leaf_vector":"1"'),
                                                                '"base_score":"5E-1"', '"base_score":"[5E-1]"'), 'UTF8'), 'dart') AS dart_3x,
       pg_temp.trained_scores('fmt_forest_3x', convert_to(replace(replace(convert_from(decode(:'forest_json', 'base64'), 'UTF8'),
                                                                          '"size_leaf_vector":"0"', '"size_leaf_vector":"1"'),
                                                                  '"base_score":"5E-1"', '"base_score":"[5E-1]"'), 'UTF8'), 'forest') AS forest_3x;
-- (each rewrite above changes the text it names)
SELECT strpos(j, '"num_parallel_tree":"4",') > 0 AND strpos(j, '"size_leaf_vector":"0"') > 0
       AND strpos(j, '"base_score":"5E-1"') > 0 AS forest_rewritable,
       strpos(d, '"num_parallel_tree":"1",') > 0 AND strpos(d, '"weight_drop":[') > 0 AS dart_rewritable
FROM (SELECT convert_from(decode(:'forest_json', 'base64'), 'UTF8') AS j,
             convert_from(decode(:'dart_json', 'base64'), 'UTF8') AS d) t;

-- Refusals name the real reason.
\set SHOW_CONTEXT never
SELECT fraud_model_check(convert_to(replace(replace(j, '"num_target":"1"', '"num_target":"2"'),
                                             '"base_score":"5E-1"', '"base_score":"[5E-1,5E-1]"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"base_score":"5E-1"', '"base_score":"[5E-1,5E-1]"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"base_score":"5E-1"', '"base_score":"[x]"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"size_leaf_vector":"0"', '"size_leaf_vector":"2"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"binary:logistic"', '"multi:softprob"'), 'UTF8')) FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"binary:logistic"', '"rank:ndcg"'), 'UTF8')) FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"binary:logistic"', '"reg:squarederror"'), 'UTF8')) FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"binary:logistic"', '"count:poisson"'), 'UTF8')) FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"binary:logistic"', '"binary:hinge"'), 'UTF8')) FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(j, '"name":"gbtree"', '"name":"gblinear"'), 'UTF8')) FROM fmt_json;
-- XGBoost writes a NaN float as a bare NaN token (1.4's categorical split
-- conditions), which its reader takes: such a model is read, here to be
-- refused for its objective; a numerical split on NaN is refused as such;
-- the text "NaN" in a string stays a string.
SELECT fraud_model_check(convert_to(replace(replace(j, '"binary:logistic"', '"reg:squarederror"'),
                                            '"split_conditions":[', '"split_conditions":[NaN,'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(regexp_replace(j, '"split_conditions":\[[-0-9.E]+', '"split_conditions":[NaN'), 'UTF8'))
FROM fmt_json;
SELECT c.feature_names[1] AS first_name
FROM fmt_json, fraud_model_check(convert_to(replace(j, '"feature_names":["amount"', '"feature_names":["NaN"'), 'UTF8')) c;
-- A dart weight must be a float, and so must a logitraw starting margin.
SELECT fraud_model_check(convert_to(
    replace(replace(j, '"gradient_booster":{"model":', '"gradient_booster":{"gbtree":{"model":'),
            ']},"name":"gbtree"},"learner_model_param"',
            ']},"name":"gbtree"},"name":"dart","weight_drop":[1E39'
            || repeat(',1E0', 19) || ']},"learner_model_param"'), 'UTF8'))
FROM fmt_json;
SELECT fraud_model_check(convert_to(replace(replace(j, '"binary:logistic"', '"binary:logitraw"'),
                                            '"base_score":"5E-1"', '"base_score":"1E39"'), 'UTF8'))
FROM fmt_json;
-- binary:logitraw's base_score is a margin, and any float: 3 is accepted.
SELECT objective, num_trees
FROM fmt_json, fraud_model_check(convert_to(replace(replace(j, '"binary:logistic"', '"binary:logitraw"'),
                                                    '"base_score":"5E-1"', '"base_score":"3E0"'), 'UTF8'));
\set SHOW_CONTEXT errors

DELETE FROM fraud_score_models WHERE name LIKE 'fmt\_%';
