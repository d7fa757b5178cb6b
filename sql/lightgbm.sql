-- LightGBM text models, on a hand-written fixture (test/fixtures/lgbm_rules.txt)
-- whose six trees each exercise one of LightGBM's rules, with the leaves and
-- sums derived by hand from them (test/fixtures/README.md): <= goes left;
-- missing types NaN, Zero and None; the dense rows' zero threshold;
-- categorical bitsets over two words with NaN, negative, non-integer and
-- out-of-range categories; a one-leaf tree; a linear tree and its NaN
-- fallback; the sigmoid parameter.  Leaf values are binary fractions, so
-- every sum is exact in any order.  Then the same model as cross_entropy
-- with average_output, as v2 writes it, with pandas category names, through
-- the trigger, export and import, and every refusal.
\getenv abs_srcdir PG_ABS_SRCDIR
\set rules `cat :'abs_srcdir'/test/fixtures/lgbm_rules.txt`
CREATE TABLE lgb_text AS SELECT :'rules'::text AS t;
SELECT fraud_model_load('lgb_rules', convert_to(t, 'UTF8')) FROM lgb_text;
SELECT library, format_version, objective, num_features, features, size_bytes = octet_length(t) AS stored_as_given
FROM fraud_models, lgb_text WHERE name = 'lgb_rules';

-- x, c, z as given (absent = missing), the leaf each tree must reach, and
-- why.  Tree 0: x <= 1.5 left, NaN the default (left).  Tree 1: z with
-- missing type Zero, default right, threshold 0.5: 0, NaN and |z| <= 1e-35
-- right.  Tree 2: x (missing None: NaN is 0.0) <= -1 leaf 0, else z (NaN
-- type, default right) <= 0.25 leaf 1 else leaf 2.  Tree 3: c in {0, 1, 3,
-- 33} left.  Tree 4: one leaf.  Tree 5: x (None) <= 0 to a linear leaf
-- 0.5 + 0.25 z (0.1 if z is NaN), else leaf 1, -0.5.
CREATE TABLE lgb_cases (id int, doc jsonb, leaves int[], why text);
INSERT INTO lgb_cases VALUES
    (1, '{"x": 1.5, "c": 1, "z": 0}', '{0,1,1,0,0,1}', 'x on the threshold goes left; z = 0 takes Zero''s default'),
    (2, '{"x": 1.5000000000000002, "c": 1, "z": 0.3}', '{1,0,2,0,0,1}', 'one double above the threshold goes right'),
    (3, '{"c": 3, "z": 0.125}', '{0,0,1,0,0,0}', 'x missing: NaN type takes the default, None types read 0.0'),
    (4, '{"x": -2, "c": 33, "z": 1e-36}', '{0,1,0,0,0,0}', 'z within the zero threshold is zero; c = 33 in word 2'),
    (5, '{"x": -2, "c": -0.5}', '{0,1,0,0,0,0}', 'z missing: Zero type reads 0.0, linear leaf falls back; c = -0.5 is category 0'),
    (6, '{"x": 5, "c": 2, "z": -1}', '{1,0,1,1,0,1}', 'c = 2 not in the set'),
    (7, '{"x": 5, "c": -1, "z": 0.26}', '{1,0,2,1,0,1}', 'a negative category goes right'),
    (8, '{"x": 5, "c": 3.7}', '{1,1,2,0,0,1}', 'c = 3.7 is category 3; z missing: NaN type default right'),
    (9, '{"x": 5, "c": 64}', '{1,1,2,1,0,1}', 'c = 64 beyond the two words goes right'),
    (10, '{"x": 5, "c": 1e10}', '{1,1,2,1,0,1}', 'c beyond int goes right'),
    (11, '{"x": 5, "c": 32}', '{1,1,2,1,0,1}', 'c = 32 not in word 2'),
    (12, '{"x": -1, "c": 0, "z": 0.5}', '{0,0,0,0,0,0}', 'x = -1 on tree 2''s threshold; z = 0.5 on tree 1''s');
-- The raw sum a row's leaves give, linear leaf included.
CREATE FUNCTION pg_temp.expected_margin(doc jsonb, leaves int[]) RETURNS float8 LANGUAGE sql AS $$
    SELECT (ARRAY[0.125, -0.25])[leaves[1] + 1] + (ARRAY[0.0625, -0.03125])[leaves[2] + 1]
         + (ARRAY[0.5, 0.015625, -0.5])[leaves[3] + 1] + (ARRAY[0.75, -0.375])[leaves[4] + 1]
         + 0.0078125
         + CASE WHEN leaves[6] = 1 THEN -0.5
                WHEN doc->'z' IS NULL THEN 0.1
                ELSE 0.5 + 0.25 * CASE WHEN abs((doc->>'z')::float8) <= 1e-35 THEN 0 ELSE (doc->>'z')::float8 END
           END $$;
SELECT id, fraud_score_leaves(doc, 'lgb_rules') = leaves AS leaves_ok,
       fraud_score_margin(doc, 'lgb_rules') = pg_temp.expected_margin(doc, leaves) AS margin_ok,
       fraud_score(doc, 'lgb_rules') = 1 / (1 + exp(-2 * pg_temp.expected_margin(doc, leaves))) AS sigmoid_2_ok,
       why
FROM lgb_cases ORDER BY id;
-- The xgboost engine does not read LightGBM models: the native evaluator scores them either way.
SET fraud_score.engine = xgboost;
SELECT count(*) FILTER (WHERE fraud_score(doc, 'lgb_rules') = 1 / (1 + exp(-2 * pg_temp.expected_margin(doc, leaves))))
    AS same_with_xgboost_engine FROM lgb_cases;
RESET fraud_score.engine;

-- cross_entropy with average_output (a random forest): the mean of the six
-- trees, through 1 / (1 + exp(-raw)).
SELECT fraud_model_load('lgb_xent', convert_to(replace(replace(t, 'objective=binary sigmoid:2', 'objective=cross_entropy'),
                                                       'feature_names=', E'average_output\nfeature_names='), 'UTF8'))
FROM lgb_text;
SELECT count(*) FILTER (WHERE fraud_score_margin(doc, 'lgb_xent') = pg_temp.expected_margin(doc, leaves) / 6
                          AND fraud_score(doc, 'lgb_xent') = 1 / (1 + exp(-(pg_temp.expected_margin(doc, leaves) / 6))))
    AS cross_entropy_mean_ok FROM lgb_cases;
-- As v2 writes it: no is_linear (tree 5's plain leaves, 0.1 and -0.1), no
-- "end of trees", feature importances next.
SELECT fraud_model_load('lgb_v2', convert_to(replace(replace(replace(regexp_replace(t, E'is_linear=[01]\n', '', 'g'),
                                                                      'version=v4', 'version=v2'),
                                                              E'end of trees\n\nfeature_importances:', 'feature importances:'),
                                                      'objective=binary sigmoid:2', 'objective=binary sigmoid:1'), 'UTF8'))
FROM lgb_text;
SELECT format_version FROM fraud_models WHERE name = 'lgb_v2';
SELECT count(*) FILTER (WHERE fraud_score_margin(doc, 'lgb_v2')
                              = pg_temp.expected_margin(doc, leaves)
                                - CASE WHEN leaves[6] = 1 THEN -0.5 WHEN doc->'z' IS NULL THEN 0.1
                                       ELSE 0.5 + 0.25 * CASE WHEN abs((doc->>'z')::float8) <= 1e-35 THEN 0
                                                              ELSE (doc->>'z')::float8 END END
                                + CASE WHEN leaves[6] = 1 THEN -0.1 ELSE 0.1 END) AS v2_ok
FROM lgb_cases;

-- Category names from pandas_categorical (c's 40 categories k0..k39): a
-- name scores as its code, an unknown one as a missing category (pandas
-- makes it NaN, which goes right); through jsonb and a text column.
SELECT fraud_model_load('lgb_names', convert_to(replace(t, 'pandas_categorical:null',
    'pandas_categorical:[' || (SELECT jsonb_agg('k' || g ORDER BY g) FROM generate_series(0, 39) g)::text || ']'), 'UTF8'))
FROM lgb_text;
SELECT jsonb_array_length(categories->'c') AS c_names, categories->'c'->>33 AS code_33 FROM fraud_models WHERE name = 'lgb_names';
SELECT fraud_score('{"x": 5, "c": "k33"}', 'lgb_names') = fraud_score('{"x": 5, "c": 33}', 'lgb_names') AS by_name,
       fraud_score('{"x": 5, "c": "k99"}', 'lgb_names') = fraud_score('{"x": 5}', 'lgb_names') AS unknown_is_missing,
       fraud_score_features('{"x": 5, "c": "k99"}', 'lgb_names') AS inputs;
CREATE TABLE lgb_rows (x float8, c text, z float8, score float8);
CREATE TRIGGER s BEFORE INSERT ON lgb_rows FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('lgb_names', 'score');
INSERT INTO lgb_rows (x, c, z) VALUES (1.5, 'k1', 0), (-2, 'k33', 1e-36), (5, 'k99', NULL), (NULL, NULL, 0.125);
SELECT count(*) FILTER (WHERE score = fraud_score(jsonb_strip_nulls(jsonb_build_object('x', x, 'c', c, 'z', z)), 'lgb_names'))
    AS trigger_same FROM lgb_rows;

-- Export keeps the text as text; import gives the same model.
SELECT fraud_model_export('lgb_rules')->>'library' AS library,
       fraud_model_export('lgb_rules')->>'model_text' = t AS text_kept,
       fraud_model_export('lgb_rules') ? 'model_ubj_base64' AS has_ubj
FROM lgb_text;
SELECT fraud_model_import(fraud_model_export('lgb_rules'), 'lgb_imported');
SELECT count(*) FILTER (WHERE fraud_score(doc, 'lgb_imported') = fraud_score(doc, 'lgb_rules')) AS imported_same FROM lgb_cases;

-- The compiled forest is stored and checked like an XGBoost one: a damaged
-- one is ignored and the text compiled again.
SELECT forest IS NOT NULL AS stored, substr(forest, 1, 4) AS magic FROM fraud_score_models WHERE name = 'lgb_rules';
SET session_replication_role = replica;
-- (the first node's left child: after the 120-byte header and 6 trees of 16 bytes, past its double threshold)
UPDATE fraud_score_models SET forest = set_byte(forest, 120 + 6 * 16 + 8, 200) WHERE name = 'lgb_rules';
RESET session_replication_role;
\c
SET client_min_messages = debug1;
SELECT fraud_score('{}', 'lgb_rules') > 0 AS scored;
RESET client_min_messages;

-- LightGBM reads its inputs as doubles: a number becomes exactly value::float8
-- (fast paths for up to 16 and up to 19 digits, strtod otherwise).  A one-leaf
-- linear tree 0 + 1 * x returns its input as the margin; 155,000 numbers of every shape,
-- and the edges of the fast path (2^53, 10^22), through jsonb and a numeric column.
SELECT fraud_model_load('lgb_identity', convert_to(
    E'tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=0\n'
    || E'objective=binary sigmoid:1\nfeature_names=x\nfeature_infos=[-1:1]\ntree_sizes=0\n\n'
    || E'Tree=0\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nthreshold=\ndecision_type=\nleft_child=\nright_child=\n'
    || E'leaf_value=0\nis_linear=1\nleaf_const=0\nnum_features=1\nleaf_features=0\nleaf_coeff=1\nshrinkage=1\n\n\n'
    || E'end of trees\n', 'UTF8'));
SELECT setseed(0.25);
CREATE TABLE lgb_numbers AS
SELECT round((random() - 0.5)::numeric * 10::numeric ^ (1 + (random() * 16)::int), (random() * 20)::int - 3) AS v
FROM generate_series(1, 50000)
UNION ALL
SELECT (floor(random() * 1e15)::numeric * 10::numeric ^ ((random() * 40)::int - 20)) FROM generate_series(1, 50000)
UNION ALL
-- doubles in their shortest decimal form: up to 17 digits (the long double path)
SELECT ((random() - 0.5) * 10 ^ ((random() * 40)::int - 20))::numeric FROM generate_series(1, 50000)
UNION ALL
SELECT floor(random() * 1.8e19)::numeric FROM generate_series(1, 5000)
UNION ALL
SELECT v::numeric FROM (VALUES ('9007199254740992'), ('9007199254740993'), ('-9007199254740993'), ('1e22'), ('1e23'),
                               ('0.1'), ('123456789012345678'), ('1.7976931348623157e308'), ('4.9e-324'),
                               ('2e-35'), ('0'), ('-0.000001')) t(v);
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE fraud_score_margin(jsonb_build_object('x', v), 'lgb_identity')
                              = CASE WHEN abs(v::float8) <= 1e-35 THEN 0 ELSE v::float8 END) AS exact
FROM lgb_numbers;
CREATE TABLE lgb_numeric_rows (x numeric, score float8);
CREATE TRIGGER s BEFORE INSERT ON lgb_numeric_rows FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('lgb_identity', 'score');
INSERT INTO lgb_numeric_rows (x) SELECT v FROM lgb_numbers;
SELECT count(*) FILTER (WHERE score = fraud_score(jsonb_build_object('x', x), 'lgb_identity')) AS trigger_same
FROM lgb_numeric_rows;

-- XGBoost models have a margin but no LightGBM leaves.
\getenv abs_srcdir PG_ABS_SRCDIR
\set small_ubj `base64 -w0 :'abs_srcdir'/test/fixtures/small.ubj`
SELECT fraud_model_load('lgb_xgb', decode(:'small_ubj', 'base64'));
SELECT abs(fraud_score('{"amount": 80, "hour": 3}', 'lgb_xgb')
           - 1 / (1 + exp(-fraud_score_margin('{"amount": 80, "hour": 3}', 'lgb_xgb')))) < 1e-7 AS margin_is_the_logit;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT fraud_score_leaves('{}', 'lgb_xgb');

-- What LightGBM models are refused with: the model's own faults.
CREATE TABLE lgb_rules_text AS SELECT :'rules'::text AS t;
CREATE FUNCTION pg_temp.try(model text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fraud_model_load('lgb_bad', convert_to(model, 'UTF8'));
END $$;
SELECT pg_temp.try(replace(t, 'version=v4', 'version=v5')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'num_class=1', 'num_class=3')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'objective=binary sigmoid:2', 'objective=lambdarank')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'objective=binary sigmoid:2', 'objective=multiclass num_class:3')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'objective=binary sigmoid:2', 'objective=binary sigmoid:-1')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'feature_names=x c z', 'feature_names=x c')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'max_feature_idx=2', 'max_feature_idx=20000')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'Tree=3', 'Tree=7')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, E'threshold=-1 0.25\n', E'threshold=-1 nan\n')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'leaf_value=0.125 -0.25', 'leaf_value=0.125')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'leaf_value=0.125 -0.25', 'leaf_value=0.125 inf')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'split_feature=0 2', 'split_feature=0 3')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'decision_type=2 8', 'decision_type=2 12')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'right_child=1 -3', 'right_child=1 -4')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'left_child=-1 -2', 'left_child=-1 -3')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'left_child=-1 -2', 'left_child=-1 0')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, E'num_cat=1\nsplit_feature=1\nsplit_gain=1\nthreshold=0', E'num_cat=1\nsplit_feature=1\nsplit_gain=1\nthreshold=1')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'cat_boundaries=0 2', 'cat_boundaries=0 3')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'cat_threshold=11 2', 'cat_threshold=11 4294967296')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'leaf_features=2  ', 'leaf_features=5  ')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'num_leaves=3', 'num_leaves=x')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, E'right_child=1 -3\n', E'')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'pandas_categorical:null', 'pandas_categorical:[["a"], ["b"]]')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'pandas_categorical:null', 'pandas_categorical:{"a": 1}')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, 'pandas_categorical:null', 'pandas_categorical:[[{"a": 1}]]')) FROM lgb_rules_text;
SELECT pg_temp.try(replace(t, E'shrinkage=1\n\n\nTree=1', E'shrinkage=1\nnot a key\n\n\nTree=1')) FROM lgb_rules_text;
-- Bytes that are not text: a zero byte, a feature name that is not UTF-8.
SELECT fraud_model_load('lgb_bad', overlay(convert_to(t, 'UTF8') PLACING '\x00'::bytea FROM 200 FOR 1)) FROM lgb_rules_text;
SELECT fraud_model_load('lgb_bad', overlay(convert_to(t, 'UTF8') PLACING '\xff'::bytea
                                          FROM position('feature_names=x' IN t) + 14 FOR 1)) FROM lgb_rules_text;
SELECT count(*) AS bad_versions FROM fraud_score_models WHERE name = 'lgb_bad';
