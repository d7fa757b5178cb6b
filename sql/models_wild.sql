-- Real XGBoost models from public repositories, saved by XGBoost 1.0 to 3.4
-- (../shared/models-wild, with their provenance and predictions computed by
-- XGBoost itself; never copied into this repository).  Each file is loaded
-- as it is, with the feature names of its expected/<file>.csv (f0..fN-1 for
-- files that name none), and scored on every expected row with both
-- engines; a file fraud_score refuses shows its error.  Without
-- ../shared the test says so and checks nothing (expected/models_wild_1.out).
\set have_wild `test -f "$PG_ABS_SRCDIR/../shared/models-wild/README.md" && echo true || echo false`
\if :have_wild
-- The files are read by psql, not by the server: the server's user need not
-- be able to read the checkout.
CREATE TEMP TABLE wild_files (file text PRIMARY KEY, base64 text);
\copy wild_files FROM PROGRAM 'cd "$PG_ABS_SRCDIR/../shared/models-wild" && for f in *.json *.ubj expected/*.csv; do echo "$f $(base64 -w0 "$f")"; done' WITH (DELIMITER ' ')

-- One file: load, then score every expected row with each engine; the
-- largest |score - XGBoost's probability| per engine, or the error.
CREATE FUNCTION pg_temp.wild(file text, OUT outcome text, OUT rows int,
                             OUT native_max_diff float8, OUT xgboost_max_diff float8,
                             OUT native_float32_equal int, OUT xgboost_float32_equal int,
                             OUT explained int, OUT shap_gap float8, OUT sum_gap float8)
LANGUAGE plpgsql AS $$
DECLARE
    lines text[];
    header text[];
    nf int;
    model_name text := 'wild_' || md5(file);
BEGIN
    lines := string_to_array(rtrim(convert_from(decode((SELECT base64 FROM wild_files w
                                                        WHERE w.file = 'expected/' || wild.file || '.csv'),
                                                       'base64'), 'UTF8'), E'\n'), E'\n');
    header := string_to_array(lines[1], ',');
    nf := array_length(header, 1) - 2;
    BEGIN
        PERFORM fraud_model_load(model_name,
                                 decode((SELECT base64 FROM wild_files w WHERE w.file = wild.file), 'base64'),
                                 features => header[1:nf]);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS outcome = PG_EXCEPTION_DETAIL;
        outcome := SQLSTATE || ' ' || SQLERRM || ': ' || outcome;
        RETURN;
    END;
    outcome := 'loaded';
    CREATE TEMP TABLE wild_rows AS
    SELECT n, (SELECT coalesce(jsonb_object_agg(header[i], cell::numeric), '{}')
               FROM unnest(f[1:nf]) WITH ORDINALITY AS c(cell, i) WHERE cell <> '') AS doc,
           f[nf + 2]::float8 AS probability
    FROM unnest(lines[2:]) WITH ORDINALITY AS l(line, n), string_to_array(line, ',') AS f;
    -- Scores are XGBoost's float32s: the CSV holds each as its shortest
    -- decimal, so they compare equal as float4.
    SELECT count(*), max(abs(fraud_score(doc, model_name) - probability)),
           count(*) FILTER (WHERE fraud_score(doc, model_name)::float4 = probability::float4)
    INTO rows, native_max_diff, native_float32_equal
    FROM wild_rows;
    PERFORM set_config('fraud_score.engine', 'xgboost', true);
    SELECT max(abs(fraud_score(doc, model_name) - probability)),
           count(*) FILTER (WHERE fraud_score(doc, model_name)::float4 = probability::float4)
    INTO xgboost_max_diff, xgboost_float32_equal
    FROM wild_rows;
    -- fraud_explain's TreeSHAP against XGBoost's own pred_contribs (its
    -- booster loaded by the xgboost engine), and bias + contributions
    -- against the margin, on the first 30 rows.
    SELECT count(*),
           max((SELECT coalesce(max(abs(coalesce(a.contribution, 0) - coalesce(b.contribution, 0))), 0)
                FROM fraud_explain(doc, model_name, NULL) a
                     FULL JOIN fraud_explain(doc, model_name, NULL, 'xgboost') b USING (feature))),
           max(abs(fraud_explain_bias(model_name)
                   + coalesce((SELECT sum(contribution) FROM fraud_explain(doc, model_name, NULL)), 0)
                   - fraud_score_margin(doc, model_name)))
    INTO explained, shap_gap, sum_gap
    FROM wild_rows WHERE n <= 30;
    PERFORM set_config('fraud_score.engine', 'native', true);
    DROP TABLE wild_rows;
    DELETE FROM fraud_score_models WHERE name = model_name;
END $$;

SELECT file, w.outcome, w.rows, w.native_float32_equal AS native_equal,
       w.xgboost_float32_equal AS xgboost_equal,
       to_char(w.native_max_diff, '9.9EEEE') AS native_max_diff,
       to_char(w.xgboost_max_diff, '9.9EEEE') AS xgboost_max_diff,
       w.explained, to_char(w.shap_gap, '9.9EEEE') AS shap_vs_xgboost,
       to_char(w.sum_gap, '9.9EEEE') AS sum_vs_margin
FROM unnest(ARRAY[
    -- binary:logistic gbtree, 1.0-1.5 JSON (no num_parallel_tree, no names)
    'jpmml-1.3.2-binlogistic-auditNA.json', 'leaves-1.4.1-binlogistic-agaricus.json',
    'jpmml-1.5.2-binlogistic-auditNA.json',
    -- 1.6-1.7
    'jpmml-1.6.0-binlogistic-auditNA.ubj', 'jpmml-1.7.2-binlogistic-auditNA.json',
    'jacobj215-1.7.5-binlogistic-creditdefault.json', 'udaykoti-1.7.6-binlogistic-smart.ubj',
    'garvitt-1.7.6-binlogistic-churn.json',
    -- 2.0-3.0 (size_leaf_vector "1")
    'harshk-2.0.3-binlogistic-fraudshield.json', 'adityak-2.0.3-binlogistic-smsspam.ubj',
    'sumanb-2.0.3-binlogistic-churn.ubj', '8hellotapu-2.1.1-binlogistic-ctr.json',
    'kenneth017-2.1.2-binlogistic-phishing.json', 'adamrehman-2.1.3-binlogistic-fraud.json',
    'angelgm-2.1.4-binlogistic-churn.json', 'hrbayezid-3.0.2-binlogistic-fraud.json',
    'rohitsk-3.0.4-binlogistic-churn.json',
    -- 3.1-3.4 (base_score "[x]")
    'rithika-3.1.0-binlogistic-phishing.json', 'xinkai-3.1.3-binlogistic-fraudstream.json',
    'shipsense-3.2.0-binlogistic-delay.ubj', 'cardiotrust-3.2.0-binlogistic-heart.ubj',
    'akashkoli-3.2.0-binlogistic-fraud.json', 'bankshield-3.3.0-binlogistic-fraud.json',
    'alwafi-3.3.0-binlogistic-churn-nonames.json', 'agentop-3.4.0-binlogistic-fraud.json',
    -- random forest (2 rounds x 2 parallel trees), reg:logistic, binary:logitraw
    'dmlc-1.0.0-binlogistic-iris4.json', 'jpmml-1.7.2-reglogistic-auditNA.json',
    'dmlc-1.0.0-logitraw-iris4.json',
    -- dart: each tree's leaves times its weight_drop
    'jpmml-1.5.2-binlogistic-dart-audit.json',
    -- categorical splits (codes as numbers; the rows include unseen, negative,
    -- non-integer and >= 2^24 codes); 3.4.1 writes int8 typed arrays in "cats"
    'cjrockball-3.0.0-binlogistic-categorical.ubj', 'jpmml-3.4.1-binlogistic-categorical-auditNA.ubj'
]) WITH ORDINALITY AS f(file, n), pg_temp.wild(file) w
ORDER BY n;

-- Files refused for what they are (no expected rows: loaded with their own
-- feature names, or none).
CREATE FUNCTION pg_temp.refusal(file text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fraud_model_check(decode((SELECT base64 FROM wild_files w WHERE w.file = refusal.file), 'base64'));
    message := 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END $$;
SELECT file, r.code, r.message, r.detail
FROM unnest(ARRAY[
    'jpmml-3.4.1-binlogistic-multitarget2-auditNA.json',
    'dmlc-1.0.0-multisoftmax-iris.json', 'ayseddurall-2.1.4-multisoftprob-iris.ubj',
    'dmlc-1.0.0-rankndcg.json', 'jaahnavi-3.2.0-rankpairwise.json', 'geekychris-3.2.0-rankndcg.ubj',
    'msabenda-3.0.1-regsqerr-bus.json', 'safonovo-2.1.1-regsqerr-anime.ubj',
    'treelite-1.4.0-regsqerr-categorical-toy.json', 'jarve-3.2.1-poisson-elo.ubj',
    'leaves-1.4.1-binlogistic-gblinear-agaricus.json'
]) WITH ORDINALITY AS f(file, n), pg_temp.refusal(file) r
ORDER BY n;
\else
\echo 'NOTICE: ../shared/models-wild is absent: the real-model test is skipped.'
\endif
