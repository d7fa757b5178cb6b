-- Loading, activating and dropping model versions; every load error.
\i test/fixtures.psql
-- PL/pgSQL context lines name internal line numbers; the messages are what matter.
\set SHOW_CONTEXT never

-- What fraud_model_check() sees in each accepted format.
SELECT format, objective, num_features, num_trees, num_nodes, feature_names,
       octet_length(model_bytes) > 0 AS has_ubjson
FROM fraud_model_check(decode(:'small_json', 'base64'));
SELECT format, num_trees, num_nodes
FROM fraud_model_check(decode(:'small_ubj', 'base64'));

-- JSON and UBJSON loads are stored as the same UBJSON.
SELECT fraud_model_load('m', decode(:'small_json', 'base64'), description => 'from JSON');
SELECT fraud_model_load('m', decode(:'small_ubj', 'base64'), activate => false,
                        review_threshold => 0.2, decline_threshold => 0.6);
SELECT name, version, active, objective, num_features, features, review_threshold,
       decline_threshold, size_bytes, description, created_by = current_user AS by_me,
       metrics
FROM fraud_models ORDER BY name, version;
SELECT count(DISTINCT sha256) AS distinct_bytes FROM fraud_models WHERE name = 'm';
SELECT substr(model, 1, 2) AS ubjson_header FROM fraud_score_models WHERE name = 'm' AND version = 1;

-- Activation moves the single active flag; it is also the way to roll back.
SELECT fraud_model_activate('m', 2);
SELECT version, active FROM fraud_models WHERE name = 'm' ORDER BY version;
SELECT fraud_model_activate('m', 1);
SELECT version, active FROM fraud_models WHERE name = 'm' ORDER BY version;
SELECT fraud_model_activate('m', 1);  -- already active: no change, no error
SELECT version, active FROM fraud_models WHERE name = 'm' ORDER BY version;

-- Versions count per name.
SELECT fraud_model_load('other', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('m', decode(:'small_ubj', 'base64'), activate => false);
SELECT name, version, active FROM fraud_models ORDER BY name, version;

-- Dropping: only inactive versions.
SELECT fraud_model_drop('m', 3);
SELECT fraud_model_drop('m', 1);
SELECT fraud_model_drop('m', 42);
SELECT fraud_model_activate('m', 42);
SELECT fraud_model_activate('nope', 1);
SELECT name, version, active FROM fraud_models ORDER BY name, version;

-- The catalog's compile trigger function serves only the catalog.
CREATE TABLE not_the_catalog (forest bytea);
CREATE TRIGGER compile BEFORE INSERT ON not_the_catalog
    FOR EACH ROW EXECUTE FUNCTION fraud_score_models_compile();
INSERT INTO not_the_catalog VALUES (NULL);
CREATE TRIGGER compile_after AFTER INSERT ON fraud_score_models
    FOR EACH ROW EXECUTE FUNCTION fraud_score_models_compile();
SELECT fraud_model_load('m', decode(:'small_ubj', 'base64'), activate => false);
DROP TRIGGER compile_after ON fraud_score_models;
DROP TABLE not_the_catalog;

-- A version number is never given twice, even after the newest is dropped:
-- rows scored by a version keep naming that version.
SELECT fraud_model_load('m', decode(:'small_ubj', 'base64'), activate => false) AS newest \gset
SELECT fraud_model_drop('m', :newest);
SELECT fraud_model_load('m', decode(:'small_ubj', 'base64'), activate => false) = :newest + 1 AS next_number;
SELECT name, last_version FROM fraud_score_versions WHERE name = 'm';

-- Feature names: taken from the model, or given (and then stamped into it).
SELECT fraud_model_load('nonames', decode(:'nonames_json', 'base64'));
SELECT fraud_model_load('nonames', decode(:'nonames_json', 'base64'),
                        features => ARRAY['amount', 'hour', 'merchant_risk']);
SELECT feature_names FROM fraud_model_check(
    (SELECT model FROM fraud_score_models WHERE name = 'nonames'));
SELECT fraud_model_load('renamed', decode(:'small_ubj', 'base64'),
                        features => ARRAY['a', 'b', 'c', 'd', 'e']);
SELECT features FROM fraud_models WHERE name = 'renamed';
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), features => ARRAY['a', 'b']);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'),
                        features => ARRAY['a', 'b', 'a', 'd', 'e']);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'),
                        features => ARRAY['a', 'b', '', 'd', 'e']);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'),
                        features => ARRAY['a', 'b', NULL, 'd', 'e']);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'),
                        features => ARRAY[['a', 'b'], ['c', 'd']]);

-- Names and thresholds.
SELECT fraud_model_load('bad name', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load(NULL, decode(:'small_ubj', 'base64'));
SELECT fraud_model_load(repeat('n', 64), decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('x', NULL);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), review_threshold => 1.5);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), decline_threshold => -0.1);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.9, decline_threshold => 0.5);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), review_threshold => NULL);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), review_threshold => 'NaN');

-- Bytes that are not a usable model.
SELECT fraud_model_load('x', ''::bytea);
SELECT fraud_model_load('x', '\x00010203'::bytea);
SELECT fraud_model_load('x', convert_to('hello', 'UTF8'));
SELECT fraud_model_load('x', decode(:'small_bin', 'base64'));
SELECT fraud_model_load('x', decode(:'regression_json', 'base64'));
SELECT fraud_model_load('x', substr(decode(:'small_ubj', 'base64'), 1, 1000));
SELECT fraud_model_load('x', substr(decode(:'small_json', 'base64'), 1, 1000));
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64') || '\x00'::bytea);
-- UBJSON headers that claim sizes far beyond the bytes present.
SELECT fraud_model_load('x', '\x7b4c7fffffffffffffff'::bytea);
SELECT fraud_model_load('x', '\x7b4c000000000000000161'
                             '5b2464234c7fffffffffffffff'::bytea);
SELECT fraud_model_load('x', '\x7b4c0000000000000001615b245a234c7fffffffffffffff'::bytea);
-- Duplicate keys would let XGBoost and the validator read different values.
SELECT fraud_model_load('x', convert_to('{"learner": {}, "learner": {}}', 'UTF8'));
SELECT fraud_model_load('x', convert_to('{"learner": ' || repeat('[', 100) || repeat(']', 100) || '}', 'UTF8'));
SELECT fraud_model_load('x', convert_to('[1, 2, 3]', 'UTF8'));
SELECT fraud_model_load('x', convert_to('{"learner": []}', 'UTF8'));

-- Structures that crash or hang XGBoost 1.7.4 itself, made from a good model.
CREATE TEMP TABLE good AS
SELECT convert_from(decode(:'small_json', 'base64'), 'UTF8')::jsonb AS m;
CREATE FUNCTION pg_temp.try_load(broken jsonb) RETURNS integer
LANGUAGE sql AS $$ SELECT fraud_model_load('broken', convert_to(broken::text, 'UTF8')) $$;
-- num_trees far above the trees present
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,gbtree_model_param,num_trees}', '"1000"')) FROM good;
-- The same in UBJSON bytes written to the catalog directly (num_trees
-- 2147483647 beside 20 trees): refused for the count, by the compile trigger
-- (a WARNING: the row is kept) and when a backend loads it, before anything
-- is sized by the count.
SELECT fraud_model_load('huge_count', decode(:'small_ubj', 'base64'), activate => true);
UPDATE fraud_score_models m SET model = b.bytes, sha256 = encode(sha256(b.bytes), 'hex')
FROM (SELECT decode(replace(encode(model, 'hex'), '6e756d5f7472656573534c00000000000000023230',
                            '6e756d5f7472656573534c000000000000000a32313437343833363437'), 'hex') AS bytes
      FROM fraud_score_models WHERE name = 'huge_count') b
WHERE m.name = 'huge_count';
SELECT fraud_score('{}', 'huge_count');
DELETE FROM fraud_score_models WHERE name = 'huge_count';
-- tree_info emptied
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,tree_info}', '[]')) FROM good;
-- tree_info naming another output group
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,tree_info,3}', '1')) FROM good;
-- a child index out of range
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,left_children,0}', '999')) FROM good;
-- a negative child index
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,left_children,0}', '-5')) FROM good;
-- a node that is its own child
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,left_children,1}', '1')) FROM good;
-- a cycle back to the root
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,right_children,1}', '0')) FROM good;
-- two parents sharing a child
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,right_children,2}', '3')) FROM good;
-- a split on a feature beyond num_feature
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,split_indices,0}', '5')) FROM good;
-- a parent index out of range
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,parents,5}', '1000000')) FROM good;
-- a node array shorter than num_nodes
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,default_left}', '[1]')) FROM good;
SELECT pg_temp.try_load(m #- '{learner,gradient_booster,model,trees,0,split_conditions}') FROM good;
-- tree ids out of order
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,id}', '7')) FROM good;
-- a leaf value beyond double range
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,split_conditions,30}', '1e400')) FROM good;
-- learner parameters
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,base_score}', '"2"')) FROM good;
-- XGBoost reads base_score as a float: these are 1 and 0 to it.
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,base_score}', '"0.99999999"')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,base_score}', '"1E-50"')) FROM good;
-- An array of numbers where the trees should be.
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees}', '[1]')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,num_feature}', '"0"')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,num_feature}', '"five"')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,num_class}', '"3"')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,feature_names}', '["a", "b"]')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,feature_names,0}', '7')) FROM good;
-- other boosters and categorical splits are not supported
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,name}', '"gblinear"')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,2,split_type,0}', '1')) FROM good;
SELECT pg_temp.try_load(jsonb_set(m, '{learner,objective,name}', '"reg:squarederror"')) FROM good;
-- jsonb rewrites XGBoost's 0E0 as 0, which XGBoost's own loader refuses among
-- floats: a model that passes validation can still fail in XGBoost, cleanly.
SELECT pg_temp.try_load(m) FROM good;

-- Bytes that XGBoost would read differently from the validator: a UBJSON
-- char marker (XGBoost takes 'C' '1' as the integer 49, which here would give
-- two trees the same id and leave a null tree), and leading whitespace
-- (which sends JSON to XGBoost's legacy binary loader).
SELECT fraud_model_load('x', decode(regexp_replace(encode(decode(:'small_ubj', 'base64'), 'hex'),
                                                   '4c00000000000000026964' || '6901',
                                                   '4c00000000000000026964' || '4331'), 'hex'));
SELECT fraud_model_load('x', ' '::bytea || decode(:'small_json', 'base64'));
-- A leaf beyond float range would be an infinite leaf in XGBoost.
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,split_conditions,30}', '1e39')) FROM good;
-- A few megabytes of one-byte nulls must not cost a gigabyte to check.
SELECT fraud_model_load('x', '\x7b4c0000000000000001615b'::bytea
                             || decode(repeat('5a', 3000000), 'hex') || '\x5d7d'::bytea);

-- The size cap applies to the bytes given.
SET fraud_score.max_model_size = '16kB';
SELECT fraud_model_load('x', decode(:'small_json', 'base64'));
RESET fraud_score.max_model_size;

-- Nothing above left a row behind.
SELECT name, version, active FROM fraud_models ORDER BY name, version;

-- The SQLSTATE of each kind of load error (README's error table).
\set VERBOSITY sqlstate
SELECT fraud_model_load('x', ''::bytea);
SELECT fraud_model_load('x', '\x00010203'::bytea);
SELECT fraud_model_load('x', decode(:'small_bin', 'base64'));
SELECT fraud_model_load('x', substr(decode(:'small_ubj', 'base64'), 1, 1000));
SELECT pg_temp.try_load(jsonb_set(m, '{learner,gradient_booster,model,trees,0,left_children,1}', '1')) FROM good;
SELECT fraud_model_load('x', decode(:'regression_json', 'base64'));
SELECT pg_temp.try_load(jsonb_set(m, '{learner,learner_model_param,num_class}', '"3"')) FROM good;
SELECT fraud_model_load('x', decode(:'nonames_json', 'base64'));
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), features => ARRAY['a']);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), review_threshold => 2);
SELECT fraud_model_load('x', decode(:'small_ubj', 'base64'), review_threshold => NULL);
SELECT fraud_model_load('bad name', decode(:'small_ubj', 'base64'));
SELECT fraud_model_activate('m', 42);
SELECT fraud_model_drop('m', 1);
SELECT pg_temp.try_load(m) FROM good;
SET fraud_score.max_model_size = '16kB';
SELECT fraud_model_load('x', decode(:'small_json', 'base64'));
RESET fraud_score.max_model_size;
\set VERBOSITY default
