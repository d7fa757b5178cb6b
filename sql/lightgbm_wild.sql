-- LightGBM models saved by LightGBM 2.x, 3.3.2 and 4.6.0, with LightGBM's own
-- predictions (../shared/models-wild/lightgbm, never copied into this
-- repository): every binary model's expected rows through fraud_score(jsonb)
-- and through the trigger, raw margins and leaf indices where those are what
-- LightGBM wrote, and the refusals of the other objectives.  Without
-- ../shared the test says so and checks nothing (expected/lightgbm_wild_1.out).
\set have_lgbm `test -f "$PG_ABS_SRCDIR/../shared/models-wild/lightgbm/README.md" && echo true || echo false`
\if :have_lgbm
-- psql reads the files (the server's user may not read the checkout).
CREATE TEMP TABLE lgb_files (file text PRIMARY KEY, base64 text);
\copy lgb_files FROM PROGRAM 'cd "$PG_ABS_SRCDIR/../shared/models-wild/lightgbm" && for f in jpmml-lightgbm/*/lgbm/*.txt jpmml-lightgbm/*/expected/*.csv jpmml-lightgbm/features/*.tsv jpmml-lightgbm/input/Audit.csv leaves/* treelite/*/*; do echo "$f $(base64 -w0 "$f")"; done' WITH (DELIMITER ' ')

CREATE FUNCTION pg_temp.text_of(f text) RETURNS text LANGUAGE sql AS $$
    SELECT convert_from(decode(base64, 'base64'), 'UTF8') FROM lgb_files WHERE file = f $$;
CREATE FUNCTION pg_temp.lines(f text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT l FROM regexp_split_to_table(rtrim(pg_temp.text_of(f), E'\n'), E'\n') l $$;

-- The model truncated to its first n iterations (LightGBM's num_iteration).
CREATE FUNCTION pg_temp.first_trees(t text, n int) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN strpos(t, E'\nTree=' || n || E'\n') = 0 THEN t
                ELSE substr(t, 1, strpos(t, E'\nTree=' || n || E'\n'))
                     || substr(t, strpos(t, 'end of trees')) END $$;

-- Rows of a derived matrix (header: the model's feature names; NaN missing),
-- numbered from 1, as documents.
CREATE FUNCTION pg_temp.tsv_docs(f text) RETURNS TABLE (n bigint, doc jsonb) LANGUAGE sql AS $$
    WITH l AS (SELECT line, row_number() OVER () - 1 AS n FROM pg_temp.lines(f) line),
         h AS (SELECT string_to_array(line, E'\t') AS names FROM l WHERE n = 0)
    SELECT l.n, (SELECT coalesce(jsonb_object_agg(h.names[i], c::numeric), '{}')
                 FROM unnest(string_to_array(l.line, E'\t')) WITH ORDINALITY AS x(c, i) WHERE c <> 'NaN')
    FROM l, h WHERE l.n > 0 $$;

-- A binary model against a jpmml expected CSV (probability(1), the third
-- column): through fraud_score and through the trigger on a table whose
-- float8 columns are the features.
CREATE FUNCTION pg_temp.jpmml(model_file text, features_file text, expected_file text, iterations int DEFAULT NULL,
                              OUT rows int, OUT exact int, OUT max_diff float8, OUT trigger_same int)
LANGUAGE plpgsql AS $$
DECLARE
    m text := 'lgb_' || left(md5(model_file || coalesce(iterations, 0)), 12);
    cols text;
BEGIN
    PERFORM fraud_model_load(m, convert_to(CASE WHEN iterations IS NULL THEN pg_temp.text_of(model_file)
                                                ELSE pg_temp.first_trees(pg_temp.text_of(model_file), iterations) END,
                                           'UTF8'));
    CREATE TEMP TABLE lgb_rows AS
    SELECT d.n, d.doc, split_part(e.line, ',', 3)::float8 AS expected
    FROM pg_temp.tsv_docs(features_file) d
    JOIN (SELECT line, row_number() OVER () - 1 AS n FROM pg_temp.lines(expected_file) line) e USING (n);
    SELECT count(*), count(*) FILTER (WHERE fraud_score(doc, m) = expected),
           max(abs(fraud_score(doc, m) - expected))
    INTO rows, exact, max_diff FROM lgb_rows;
    SELECT string_agg(format('%I float8', f), ', ') INTO cols
    FROM unnest((SELECT features FROM fraud_models WHERE name = m AND active)) f;
    EXECUTE format('CREATE TEMP TABLE lgb_t (n bigint, %s, score float8)', cols);
    EXECUTE format('CREATE TRIGGER s BEFORE INSERT ON lgb_t FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger(%L, %L)',
                   m, 'score');
    INSERT INTO lgb_t SELECT (jsonb_populate_record(NULL::lgb_t, doc || jsonb_build_object('n', n))).* FROM lgb_rows;
    SELECT count(*) FILTER (WHERE t.score = r.expected) INTO trigger_same FROM lgb_t t JOIN lgb_rows r USING (n);
    DROP TABLE lgb_t;
    DROP TABLE lgb_rows;
END $$;

WITH cases AS MATERIALIZED (
    SELECT v.version, f.*
    FROM unnest(ARRAY['4.6.0', '3.3.2']) AS v(version),
         (VALUES ('ClassificationAudit', 'Audit.codes', 'ClassificationAudit', NULL::int),
                 ('ClassificationAudit', 'Audit.codes', 'ClassificationAudit@17', 17),
                 ('ClassificationAudit', 'AuditInvalid.codes', 'ClassificationAuditInvalid', NULL),
                 ('ClassificationAuditNA', 'AuditNA.codes', 'ClassificationAuditNA', NULL),
                 ('ClassificationAuditNA', 'AuditNA.codes', 'ClassificationAuditNA@17', 17),
                 ('ClassificationAuditBin', 'Audit.onehot48', 'ClassificationAuditBin', NULL),
                 ('ClassificationAuditBinNA', 'AuditNA.onehot47', 'ClassificationAuditBinNA', NULL),
                 ('ClassificationVersicolor', 'Versicolor', 'ClassificationVersicolor', NULL),
                 ('ClassificationVersicolor', 'Versicolor', 'ClassificationVersicolor@9', 9),
                 ('LinearTreeClassificationAudit', 'Audit.codes', 'LinearTreeClassificationAudit', NULL),
                 ('LinearTreeClassificationAuditNA', 'AuditNA.codes', 'LinearTreeClassificationAuditNA', NULL),
                 ('RFClassificationAudit', 'Audit.codes', 'RFClassificationAudit', NULL))
             AS f(model, features, expected, iterations)
    WHERE EXISTS (SELECT FROM lgb_files WHERE file = 'jpmml-lightgbm/' || v.version || '/lgbm/' || f.model || '.txt'))
SELECT c.version, c.expected, w.rows, w.exact, w.trigger_same, to_char(w.max_diff, '9.9EEEE') AS max_diff
FROM cases c,
     LATERAL pg_temp.jpmml('jpmml-lightgbm/' || c.version || '/lgbm/' || c.model || '.txt',
                           'jpmml-lightgbm/features/' || c.features || '.tsv',
                           'jpmml-lightgbm/' || c.version || '/expected/' || c.expected || '.csv', c.iterations) w
ORDER BY c.version DESC, c.expected;

-- The model's format version, library and category names (pandas_categorical).
SELECT library, format_version, num_features, categories->'Gender' AS gender, categories->'Deductions' AS deductions
FROM fraud_models WHERE name = 'lgb_' || left(md5('jpmml-lightgbm/4.6.0/lgbm/ClassificationAudit.txt0'), 12) AND active;
-- Audit.csv as users hold it: strings for the category columns, scored through
-- the model's own names, give the codes' scores.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE fraud_score(named, m) = fraud_score(coded, m)) AS same
FROM (SELECT 'lgb_' || left(md5('jpmml-lightgbm/4.6.0/lgbm/ClassificationAudit.txt0'), 12) AS m) mm,
     (SELECT jsonb_build_object('Age', f[1]::numeric, 'Employment', f[2], 'Education', f[3], 'Marital', f[4],
                                'Occupation', f[5], 'Income', f[6]::numeric, 'Gender', f[7],
                                'Deductions', f[8] = 'TRUE', 'Hours', f[9]::numeric) AS named, n
      FROM (SELECT string_to_array(line, ',') AS f, row_number() OVER () - 1 AS n
            FROM pg_temp.lines('jpmml-lightgbm/input/Audit.csv') line) a WHERE n > 0) named
JOIN pg_temp.tsv_docs('jpmml-lightgbm/features/Audit.codes.tsv') c(n, coded) USING (n);

-- leaves' and treelite's models (LightGBM 2.x and 3.0/3.1).  Their inputs
-- have no missing values; libsvm rows leave out zeros (LightGBM reads an
-- absent entry as 0.0).
CREATE FUNCTION pg_temp.plain_docs(f text, sep text, names text[]) RETURNS TABLE (n bigint, doc jsonb)
LANGUAGE sql AS $$
    SELECT row_number() OVER (), (SELECT jsonb_object_agg(names[i], c::float8)
                                  FROM unnest(string_to_array(trim(line), sep)) WITH ORDINALITY AS x(c, i) WHERE c <> '')
    FROM pg_temp.lines(f) line $$;
CREATE FUNCTION pg_temp.libsvm_docs(f text, names text[]) RETURNS TABLE (n bigint, doc jsonb)
LANGUAGE sql AS $$
    SELECT row_number() OVER (),
           (SELECT jsonb_object_agg(name, coalesce(v.value, 0))
            FROM unnest(names) WITH ORDINALITY AS a(name, i)
            LEFT JOIN (SELECT split_part(e, ':', 1)::int + 1 AS i, split_part(e, ':', 2)::float8 AS value
                       FROM unnest((string_to_array(trim(line), ' '))[2:]) e) v USING (i))
    FROM pg_temp.lines(f) line $$;
CREATE FUNCTION pg_temp.expected(f text) RETURNS TABLE (n bigint, value text) LANGUAGE sql AS $$
    SELECT row_number() OVER (), trim(line) FROM pg_temp.lines(f) line $$;
CREATE FUNCTION pg_temp.load(name text, f text) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fraud_model_load(name, convert_to(pg_temp.text_of(f), 'UTF8'));
    RETURN (SELECT features FROM fraud_models WHERE fraud_models.name = load.name AND active);
END $$;

-- dart (2.2.x): probabilities
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score(d.doc, 'lg_dart') = e.value::float8) AS exact,
       to_char(max(abs(fraud_score(d.doc, 'lg_dart') - e.value::float8)), '9.9EEEE') AS max_diff
FROM pg_temp.plain_docs('leaves/breast_cancer_test.tsv', E'\t',
                        pg_temp.load('lg_dart', 'leaves/lg_dart_breast_cancer.model')) d
JOIN pg_temp.expected('leaves/lg_dart_breast_cancer_true_predictions.txt') e USING (n);
-- 3.0/3.1: the leaf every tree reaches (39 trees)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE fraud_score_leaves(d.doc, 'lg_leaves') = string_to_array(e.value, ' ')::int[]) AS same_leaves
FROM pg_temp.plain_docs('leaves/lg_breast_cancer_data.txt', ' ',
                        pg_temp.load('lg_leaves', 'leaves/lg_breast_cancer.txt')) d
JOIN pg_temp.expected('leaves/lg_breast_cancer_data_pred_leaves.txt') e USING (n);
-- random forest saved by 2.2.2 or before, whose expected values are the
-- plain mean of the trees: LightGBM from 2.2.3 on, and fraud_score, put
-- that raw mean through the sigmoid.
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score_margin(d.doc, 'lg_rf') = e.value::float8) AS exact_margin,
       count(*) FILTER (WHERE fraud_score(d.doc, 'lg_rf') = 1 / (1 + exp(-e.value::float8))) AS sigmoid_of_it
FROM pg_temp.libsvm_docs('leaves/iris_test.libsvm', pg_temp.load('lg_rf', 'leaves/lg_rf_iris.model')) d
JOIN pg_temp.expected('leaves/lg_rf_iris_true_predictions.txt') e USING (n);
-- treelite's sparse categorical model (one tree of 255 leaves, bitsets up to
-- 257,049 words), raw margins as LightGBM wrote them
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score_margin(d.doc, 'lg_sparse') = e.value::float8) AS exact_margin
FROM pg_temp.libsvm_docs('treelite/sparse_categorical/sparse_categorical.test',
                         pg_temp.load('lg_sparse', 'treelite/sparse_categorical/sparse_categorical_model.txt')) d
JOIN pg_temp.expected('treelite/sparse_categorical/sparse_categorical.test.margin.orig-ee820b1') e USING (n);

-- Traversal oracles from objectives fraud_score refuses: LightGBM's raw
-- score of a regression model, and of each class of a 13-class one, is a sum
-- of trees, so each, rewritten as a binary model of just those trees, must
-- give it as fraud_score_margin.
CREATE FUNCTION pg_temp.load_text(name text, t text) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fraud_model_load(name, convert_to(t, 'UTF8'));
    RETURN (SELECT features FROM fraud_models WHERE fraud_models.name = load_text.name AND active);
END $$;
-- treelite's toy (v2, 30 trees, categorical splits on both features)
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score_margin(d.doc, 'lg_toy') = e.value::float8) AS exact_raw
FROM pg_temp.libsvm_docs('treelite/toy_categorical/toy_categorical.test',
                         pg_temp.load_text('lg_toy', replace(pg_temp.text_of('treelite/toy_categorical/toy_categorical_model.txt'),
                                                             'objective=regression', 'objective=binary sigmoid:1'))) d
JOIN pg_temp.expected('treelite/toy_categorical/toy_categorical.test.pred') e USING (n);
-- leaves' kddcup99 (v2, 13 classes x 10 iterations, 275 categorical nodes,
-- bitsets up to 16 words): class k's trees are k, k + 13, ...
CREATE FUNCTION pg_temp.one_class(t text, k int) RETURNS text LANGUAGE sql AS $$
    WITH parts AS (SELECT p, n FROM regexp_split_to_table(t, E'\nTree=') WITH ORDINALITY AS s(p, n))
    SELECT replace(replace(replace((SELECT p FROM parts WHERE n = 1), 'num_class=13', 'num_class=1'),
                           'num_tree_per_iteration=13', 'num_tree_per_iteration=1'),
                   'objective=multiclass num_class:13', 'objective=binary sigmoid:1')
           || string_agg(E'\nTree=' || ((n - 2) / 13) || substr(p, strpos(p, E'\n')), '' ORDER BY n)
    FROM parts WHERE n > 1 AND (n - 2) % 13 = k $$;
CREATE TEMP TABLE kdd_docs AS
SELECT * FROM pg_temp.plain_docs('leaves/kddcup99_test.tsv', E'\t',
                                 (SELECT array_agg('Column_' || i ORDER BY i) FROM generate_series(0, 40) i));
SELECT count(*) AS margins,
       count(*) FILTER (WHERE fraud_score_margin(d.doc, 'lg_kdd_' || k)
                              = (string_to_array(e.value, E'\t'))[k + 1]::float8) AS exact_raw
FROM generate_series(0, 12) k,
     LATERAL (SELECT pg_temp.load_text('lg_kdd_' || k, pg_temp.one_class(pg_temp.text_of('leaves/lg_kddcup99.model'), k))) l,
     kdd_docs d JOIN pg_temp.expected('leaves/lg_kddcup99_true_predictions.txt') e USING (n);

-- Explanations of these real models (LightGBM's own counts weigh the
-- branches): bias + contributions = raw score, and TreeSHAP = Shapley's
-- formula over every subset of each tree's features where a tree splits on
-- at most 16 (NULL where one splits on more); 30 rows each.
CREATE FUNCTION pg_temp.explained(doc jsonb, model text, OUT sum_gap float8, OUT shapley_gap float8)
LANGUAGE plpgsql AS $$
BEGIN
    sum_gap := abs(fraud_explain_bias(model)
                   + coalesce((SELECT sum(contribution) FROM fraud_explain(doc, model, NULL)), 0)
                   - fraud_score_margin(doc, model));
    BEGIN
        shapley_gap := (SELECT coalesce(max(abs(coalesce(a.contribution, 0) - coalesce(b.contribution, 0))), 0)
                        FROM fraud_explain(doc, model, NULL) a
                             FULL JOIN fraud_explain(doc, model, NULL, 'exhaustive') b USING (feature));
    EXCEPTION WHEN program_limit_exceeded THEN
        shapley_gap := NULL;
    END;
END $$;
SELECT model, count(*) AS rows, max(x.sum_gap) < 1e-9 AS sums_to_raw_score,
       max(x.shapley_gap) < 1e-9 AS shap_is_shapley
FROM (SELECT 'lg_dart' AS model, doc FROM pg_temp.plain_docs('leaves/breast_cancer_test.tsv', E'\t',
              (SELECT features FROM fraud_models WHERE name = 'lg_dart')) WHERE n <= 30
      UNION ALL
      SELECT 'lg_leaves', doc FROM pg_temp.plain_docs('leaves/lg_breast_cancer_data.txt', ' ',
              (SELECT features FROM fraud_models WHERE name = 'lg_leaves')) WHERE n <= 30
      UNION ALL
      SELECT 'lg_rf', doc FROM pg_temp.libsvm_docs('leaves/iris_test.libsvm',
              (SELECT features FROM fraud_models WHERE name = 'lg_rf')) WHERE n <= 30
      UNION ALL
      SELECT 'lg_toy', doc FROM pg_temp.libsvm_docs('treelite/toy_categorical/toy_categorical.test',
              (SELECT features FROM fraud_models WHERE name = 'lg_toy')) WHERE n <= 30
      UNION ALL
      SELECT 'lg_kdd_0', doc FROM kdd_docs WHERE n <= 30) c,
     LATERAL pg_temp.explained(c.doc, c.model) x
GROUP BY model ORDER BY model;

-- Refused: multi-class and regression.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT fraud_model_load('lg_multi', convert_to(pg_temp.text_of('leaves/lg_kddcup99.model'), 'UTF8'));
SELECT fraud_model_load('lg_reg', convert_to(pg_temp.text_of('treelite/toy_categorical/toy_categorical_model.txt'), 'UTF8'));
\set VERBOSITY terse
\set SHOW_CONTEXT errors
\else
\echo ../shared/models-wild/lightgbm is absent: nothing checked
\endif
