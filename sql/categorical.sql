-- Categorical features: XGBoost's partition splits, natively and through
-- XGBoost, on the fixture trained by test/tools with XGBoost 1.7.4 (20 trees,
-- 123 categorical splits on merchant_category and channel; see
-- test/fixtures/README.md), in the layouts XGBoost 1.4 to 3.4 write; the
-- category names a model keeps (3.1+) or is given at load; and every error.
\getenv abs_srcdir PG_ABS_SRCDIR
\set categorical_json `base64 -w0 :'abs_srcdir'/test/fixtures/categorical.json`
\set categorical_ubj `base64 -w0 :'abs_srcdir'/test/fixtures/categorical.ubj`
\set categorical_csv `cat :'abs_srcdir'/test/fixtures/categorical_expected.csv`
CREATE TABLE cat_rows AS
SELECT f[1]::int AS id,
       jsonb_strip_nulls(jsonb_build_object('amount', nullif(f[2], '')::numeric,
                                            'merchant_category', nullif(f[3], '')::numeric,
                                            'channel', nullif(f[4], '')::numeric,
                                            'hour', nullif(f[5], '')::numeric)) AS doc,
       f[6]::float8 AS xgboost_score
FROM regexp_split_to_table(:'categorical_csv', E'\n') WITH ORDINALITY AS l(line, n),
     LATERAL string_to_array(line, ',') AS f
WHERE n > 1 AND line <> '';
CREATE TABLE cat_json AS SELECT convert_from(decode(:'categorical_json', 'base64'), 'UTF8') AS j;
CREATE TABLE cat_ubj AS SELECT decode(:'categorical_ubj', 'base64') AS u;

-- Load bytes as a model; the number of rows (of 74) where each engine gives
-- XGBoost's own score.  The rows hold codes every split names and codes it
-- does not, unseen codes (20, 21, 31-33, 63, 64, 1000, 65535, 2^24 - 1,
-- 2^24, 1e9), negative (-1, -0.5) and non-integer ones (0.5, 3.9, 7.2,
-- 3.99999999, which is 4 as a float), and missing values.
CREATE FUNCTION pg_temp.same_scores(model_name text, model bytea, categories jsonb DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    native int;
    xgboost int;
BEGIN
    PERFORM fraud_model_load(model_name, model, categories => categories);
    SELECT count(*) FILTER (WHERE fraud_score(doc, model_name)::float4 = xgboost_score::float4)
    INTO native FROM cat_rows;
    PERFORM set_config('fraud_score.engine', 'xgboost', true);
    SELECT count(*) FILTER (WHERE fraud_score(doc, model_name)::float4 = xgboost_score::float4)
    INTO xgboost FROM cat_rows;
    PERFORM set_config('fraud_score.engine', 'native', true);
    RETURN format('native %s, xgboost %s', native, xgboost);
END $$;

-- As XGBoost 1.7 saves it (JSON categorical split conditions are bare NaN tokens).
SELECT pg_temp.same_scores('cat_json', convert_to(j, 'UTF8')) AS json_1_7 FROM cat_json;
SELECT pg_temp.same_scores('cat_ubj', u) AS ubjson_1_7 FROM cat_ubj;
SELECT count(*) AS rows, count(*) FILTER (WHERE fraud_score(doc, 'cat_json') = fraud_score(doc, 'cat_ubj')) AS identical
FROM cat_rows;
-- Codes XGBoost sends left like any category a split did not choose score
-- alike; a non-integer code is truncated toward zero.
SELECT count(DISTINCT fraud_score(jsonb_set(doc, '{merchant_category}', to_jsonb(c)), 'cat_json')) AS unseen_scores
FROM cat_rows, unnest(ARRAY[20, 31, 64, 1000, 16777215, 16777216, 1e9, -1, -0.5]::numeric[]) c
WHERE id = 1;
SELECT fraud_score('{"merchant_category": 3.9, "channel": 2.5}', 'cat_json')
       = fraud_score('{"merchant_category": 3, "channel": 2}', 'cat_json') AS truncated;

-- As 1.4-1.5 write it: default_left as booleans, no num_parallel_tree.
CREATE FUNCTION pg_temp.booleans(j text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text := '';
    rest text := j;
    p int;
BEGIN
    LOOP
        p := strpos(rest, '"default_left":[');
        EXIT WHEN p = 0;
        result := result || left(rest, p + 15);
        rest := substr(rest, p + 16);
        result := result || replace(replace(split_part(rest, ']', 1), '0', 'false'), '1', 'true');
        rest := substr(rest, strpos(rest, ']'));
    END LOOP;
    RETURN result || rest;
END $$;
SELECT strpos(pg_temp.booleans(j), '"default_left":[false,true,true,false') > 0 AS converted FROM cat_json;
SELECT pg_temp.same_scores('cat_1_4', convert_to(replace(pg_temp.booleans(j), '"num_parallel_tree":"1",', ''),
                                                 'UTF8')) AS as_1_4
FROM cat_json;
-- As 3.4 writes it: a denormal for the meaningless condition, size_leaf_vector
-- "1" and base_score "[x]".
SELECT pg_temp.same_scores('cat_3_4',
    convert_to(replace(replace(replace(j, 'NaN', '1.4E-45'),
                               '"size_leaf_vector":"0"', '"size_leaf_vector":"1"'),
                       '"base_score":"5E-1"', '"base_score":"[5E-1]"'), 'UTF8')) AS as_3_4
FROM cat_json;

-- Category names.  XGBoost 3.1 and later keep them in the model ("cats":
-- per feature, the names' UTF-8 bytes cut at offsets, or numbers with their
-- type); a name's code is its position.  Here merchant_category has 20
-- names, channel 4 (one not ASCII), in JSON; then channel's as numbers.
CREATE TABLE cat_names AS
SELECT ARRAY(SELECT 'mcc_' || lpad(g::text, 2, '0') FROM generate_series(0, 19) g) AS merchants,
       ARRAY['web', 'pos', 'atm', 'téléphone'] AS channels;
CREATE FUNCTION pg_temp.enc(names text[]) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN names IS NULL THEN '{"offsets": [], "values": []}'::jsonb
    ELSE jsonb_build_object(
        'offsets', (SELECT jsonb_agg(o ORDER BY k)
                    FROM (SELECT 0 AS k, 0::bigint AS o
                          UNION ALL
                          SELECT k, sum(octet_length(convert_to(n, 'UTF8'))) OVER (ORDER BY k)
                          FROM unnest(names) WITH ORDINALITY u(n, k)) x),
        -- int8, as XGBoost writes them: bytes above 127 are negative
        'values', (SELECT jsonb_agg(CASE WHEN get_byte(b, g) > 127 THEN get_byte(b, g) - 256
                                         ELSE get_byte(b, g) END ORDER BY k, g)
                   FROM unnest(names) WITH ORDINALITY u(n, k), convert_to(n, 'UTF8') b,
                        generate_series(0, octet_length(b) - 1) g))
    END $$;
CREATE TABLE cat_cats AS
SELECT jsonb_build_object('enc', jsonb_build_array(pg_temp.enc(NULL), pg_temp.enc(merchants),
                                                  pg_temp.enc(channels), pg_temp.enc(NULL)),
                          'feature_segments', '[0, 0, 20, 24, 24]'::jsonb) AS cats
FROM cat_names;
CREATE FUNCTION pg_temp.with_cats(j text, cats jsonb) RETURNS bytea LANGUAGE sql AS $$
    SELECT convert_to(replace(replace(j, '"gradient_booster":{"model":{',
                                      '"gradient_booster":{"model":{"cats":' || cats::text || ','),
                              '"base_score":"5E-1"', '"base_score":"[5E-1]"'), 'UTF8')
$$;
SELECT pg_temp.same_scores('cat_3_1', pg_temp.with_cats(j, cats)) AS with_names FROM cat_json, cat_cats;
SELECT categories FROM fraud_models WHERE name = 'cat_3_1';
-- A name scores as its code, wherever the code is a category's; an unknown
-- name is an unseen category (code -1); a number is still a code.
CREATE TABLE cat_named AS
SELECT id, doc, jsonb_strip_nulls(doc
       || jsonb_build_object('merchant_category', CASE WHEN (doc->>'merchant_category')::numeric IN (SELECT generate_series(0, 19))
                                                      THEN to_jsonb(merchants[(doc->>'merchant_category')::int + 1])
                                                      ELSE doc->'merchant_category' END,
                             'channel', CASE WHEN (doc->>'channel')::numeric IN (0, 1, 2, 3)
                                             THEN to_jsonb(channels[(doc->>'channel')::int + 1])
                                             ELSE doc->'channel' END)) AS named
FROM cat_rows, cat_names;
SELECT count(*) AS rows, count(*) FILTER (WHERE named <> doc) AS with_names,
       count(*) FILTER (WHERE fraud_score(named, 'cat_3_1') = fraud_score(doc, 'cat_3_1')) AS same
FROM cat_named;
SELECT fraud_score_features('{"merchant_category": "mcc_07", "channel": "téléphone", "amount": 12}', 'cat_3_1'),
       fraud_score_features('{"merchant_category": "MCC_07", "channel": "fax"}', 'cat_3_1');
SELECT fraud_score('{"merchant_category": "no such merchant", "channel": "atm"}', 'cat_3_1')
       = fraud_score('{"merchant_category": 20, "channel": 2}', 'cat_3_1') AS unknown_is_unseen;
-- Numeric categories: their names are their decimal forms.
SELECT pg_temp.same_scores('cat_numeric',
    pg_temp.with_cats(j, jsonb_set(cats, '{enc,2}', '{"type": 13, "values": [10, 20, 30, 40]}')))
    AS numeric_names
FROM cat_json, cat_cats;
SELECT categories->'channel' AS channel FROM fraud_models WHERE name = 'cat_numeric';
SELECT fraud_score('{"channel": "30"}', 'cat_numeric') = fraud_score('{"channel": 2}', 'cat_numeric') AS by_name;

-- UBJSON from 3.1 on keeps the names' bytes as an int8 typed array, which
-- XGBoost 1.7.4 cannot parse: they reach it widened to int32.  The same
-- "cats", written in UBJSON into the UBJSON fixture.
CREATE FUNCTION pg_temp.ubj_key(k text) RETURNS bytea LANGUAGE sql AS $$
    SELECT '\x4c'::bytea || int8send(octet_length(convert_to(k, 'UTF8'))) || convert_to(k, 'UTF8') $$;
CREATE FUNCTION pg_temp.ubj_enc(names text[]) RETURNS bytea LANGUAGE sql AS $$
    SELECT '\x7b'::bytea
        || pg_temp.ubj_key('offsets') || '\x5b246c234c'::bytea
        || int8send(coalesce(jsonb_array_length(e->'offsets'), 0))
        || coalesce((SELECT string_agg(int4send(v::int), '' ORDER BY n)
                     FROM jsonb_array_elements_text(e->'offsets') WITH ORDINALITY a(v, n)), '')
        || pg_temp.ubj_key('values') || '\x5b2469234c'::bytea
        || int8send(coalesce(jsonb_array_length(e->'values'), 0))
        || coalesce((SELECT string_agg(set_byte('\x00'::bytea, 0, (v::int + 256) % 256), '' ORDER BY n)
                     FROM jsonb_array_elements_text(e->'values') WITH ORDINALITY a(v, n)), '')
        || '\x7d'::bytea
    FROM (SELECT pg_temp.enc(names) AS e) x $$;
CREATE TABLE cat_ubj_3_1 AS
SELECT overlay(u PLACING pg_temp.ubj_key('cats') || '\x7b'::bytea || pg_temp.ubj_key('enc') || '\x5b'::bytea
                         || pg_temp.ubj_enc(NULL) || pg_temp.ubj_enc(merchants)
                         || pg_temp.ubj_enc(channels) || pg_temp.ubj_enc(NULL) || '\x5d7d'::bytea
               FROM position(pg_temp.ubj_key('model') || '\x7b'::bytea IN u) + 15 FOR 0) AS u
FROM cat_ubj, cat_names;
SELECT position('\x5b2469234c'::bytea IN u) > 0 AS has_int8_arrays FROM cat_ubj_3_1;
SELECT pg_temp.same_scores('cat_ubj_3_1', u) AS ubjson_with_names FROM cat_ubj_3_1;
SELECT (SELECT categories FROM fraud_models WHERE name = 'cat_ubj_3_1')
       = (SELECT categories FROM fraud_models WHERE name = 'cat_3_1') AS same_names;

-- A model without names (any XGBoost before 3.1) is given them at load: the
-- same scores as codes, and a JSON string, a text or an enum column names a
-- category.
SELECT pg_temp.same_scores('cat_given', decode(:'categorical_ubj', 'base64'),
                           jsonb_build_object('merchant_category', to_jsonb(merchants),
                                              'channel', to_jsonb(channels))) AS given
FROM cat_names;
SELECT (SELECT categories FROM fraud_models WHERE name = 'cat_given')
       = (SELECT categories FROM fraud_models WHERE name = 'cat_3_1') AS same_names;
SELECT count(*) FILTER (WHERE fraud_score(named, 'cat_given') = fraud_score(doc, 'cat_given')) AS same
FROM cat_named;
CREATE TYPE cat_channel AS ENUM ('web', 'pos', 'atm', 'téléphone', 'fax');
CREATE TABLE cat_payments (id int, amount numeric, merchant_category varchar(20),
                           channel cat_channel, hour numeric, score float8);
CREATE TRIGGER score BEFORE INSERT ON cat_payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('cat_given', 'score');
INSERT INTO cat_payments (id, amount, merchant_category, channel, hour)
SELECT id, (named->>'amount')::numeric, named->>'merchant_category',
       CASE WHEN named->>'channel' IN ('web', 'pos', 'atm', 'téléphone') THEN (named->>'channel')::cat_channel END,
       (named->>'hour')::numeric
FROM cat_named WHERE jsonb_typeof(named->'merchant_category') IS DISTINCT FROM 'number'
                 AND jsonb_typeof(named->'channel') IS DISTINCT FROM 'number';
INSERT INTO cat_payments (id, merchant_category, channel) VALUES (1000, 'new merchant', 'fax');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE score = fraud_score(jsonb_strip_nulls(jsonb_build_object(
           'amount', amount, 'merchant_category', merchant_category, 'channel', channel, 'hour', hour)),
           'cat_given')) AS same_as_jsonb,
       count(*) FILTER (WHERE id = 1000 AND score = fraud_score('{"merchant_category": -1, "channel": -1}',
                                                              'cat_given')) AS unknown_is_unseen
FROM cat_payments;
-- char(n) loses its padding; a number column is the code itself.
CREATE TABLE cat_padded (merchant_category char(10), channel int, score float8);
CREATE TRIGGER score BEFORE INSERT ON cat_padded
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('cat_given', 'score');
INSERT INTO cat_padded VALUES ('mcc_03', 2);
SELECT score = fraud_score('{"merchant_category": 3, "channel": 2}', 'cat_given') AS padded FROM cat_padded;

-- Export and import keep the names.
SELECT fraud_model_import(fraud_model_export('cat_given'), name => 'cat_imported');
SELECT (SELECT categories FROM fraud_models WHERE name = 'cat_imported')
       = (SELECT categories FROM fraud_models WHERE name = 'cat_given') AS same_names,
       (SELECT count(*) FILTER (WHERE fraud_score(named, 'cat_imported') = fraud_score(doc, 'cat_given'))
        FROM cat_named) AS same_scores;

-- Errors in the names given.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '["mcc_00"]');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"merchant": ["a"]}');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"amount": ["a"]}');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"channel": "web"}');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"channel": []}');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"channel": ["web", 1]}');
SELECT fraud_model_load('cat_bad', decode(:'categorical_ubj', 'base64'), categories => '{"channel": ["web", "pos", "web"]}');
SELECT fraud_model_load('cat_bad', pg_temp.with_cats(j, cats), categories => '{"channel": ["web", "pos"]}')
FROM cat_json, cat_cats;
-- The model's own names may be given again, unchanged.
SELECT fraud_model_load('cat_again', pg_temp.with_cats(j, cats),
                        categories => jsonb_build_object('channel', to_jsonb(channels))) > 0 AS loaded
FROM cat_json, cat_cats, cat_names;
-- A string for a categorical feature without names is an error, as for
-- any feature; so is a text column.
SELECT fraud_score('{"channel": "web"}', 'cat_json');
CREATE TABLE cat_text (channel text, score float8);
CREATE TRIGGER score BEFORE INSERT ON cat_text
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('cat_json', 'score');
INSERT INTO cat_text VALUES ('web');
CREATE TABLE cat_point (channel point, score float8);
CREATE TRIGGER score BEFORE INSERT ON cat_point
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('cat_given', 'score');
INSERT INTO cat_point VALUES (point(1, 2));

-- Categorical splits and names the model itself gets wrong.
CREATE FUNCTION pg_temp.try_load(model text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fraud_model_load('cat_bad', convert_to(model, 'UTF8'));
END $$;
SELECT pg_temp.try_load(replace(j, '"split_type":[1,1,1,1,0', '"split_type":[2,1,1,1,0')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories_nodes":[0,1,2,3,9,11]', '"categories_nodes":[0,2,1,3,9,11]')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories_nodes":[0,1,2,3,9,11]', '"categories_nodes":[0,1,2,3,9]')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories_segments":[0,3,19,34,50,59]', '"categories_segments":[0,3,19,34,50,60]')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories":[0,1,3,', '"categories":[0,1,16777216,')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories_sizes":[3,16,15,16,9,2]', '"categories_sizes":[3,16,15,16,9,0]')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"split_type":[1,1,1,1,0,0,0,0,0,1', '"split_type":[1,1,1,1,1,0,0,0,0,1')) FROM cat_json;
SELECT pg_temp.try_load(replace(j, '"categories_nodes":[0,1,2,3,9,11]', '"categories_nodes":[0,1,2,3,6,9,11]')) FROM cat_json;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc}', (cats->'enc') - 3)), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc,2,offsets}', '[0, 3, 2, 9, 19]')), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc,2,values,0}', '-1')), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc,2,values,0}', '300')), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc,2}', '{"offsets": [0, 1, 2], "values": [97, 97]}')), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, jsonb_set(cats, '{enc,2}', '[1, 2]')), 'UTF8'))
FROM cat_json, cat_cats;
SELECT pg_temp.try_load(convert_from(pg_temp.with_cats(j, '"names"'), 'UTF8')) FROM cat_json;
-- Category sets are bit sets up to the largest code: one code near 2^24 in
-- the first set of each of the 20 trees asks for more than the 2^27 bits allowed.
SELECT pg_temp.try_load(replace(j, '"categories":[0,', '"categories":[16777215,')) FROM cat_json;
\set VERBOSITY terse
\set SHOW_CONTEXT errors
SELECT count(*) AS bad_versions FROM fraud_score_models WHERE name = 'cat_bad';

-- The stored forest keeps the category sets, and a backend checks them:
-- one naming a set that does not exist is ignored, and the model bytes
-- compiled instead (the scores stay XGBoost's).  Tree 0's root, a
-- categorical split, is the first node after the 104-byte header, 20 roots
-- and 3 group depths.
SELECT forest IS NOT NULL AS stored, get_byte(forest, 196 + 3) AS nan_high_byte
FROM fraud_score_models WHERE name = 'cat_ubj';
SET session_replication_role = replica;
UPDATE fraud_score_models SET forest = set_byte(set_byte(forest, 196, 255), 197, 255) WHERE name = 'cat_ubj';
RESET session_replication_role;
\c
SET fraud_score.engine = native;
SET client_min_messages = debug1;
SELECT fraud_score('{}', 'cat_ubj') > 0 AS scored;
RESET client_min_messages;
SELECT count(*) FILTER (WHERE fraud_score(doc, 'cat_ubj')::float4 = xgboost_score::float4) AS same FROM cat_rows;
