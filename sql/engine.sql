-- The native evaluator against the XGBoost C API: random models of varied
-- shapes (trained here by XGBoost itself), random inputs with missing values,
-- infinities and values on split thresholds.  Every score must be identical.
-- PL/pgSQL context lines name internal line numbers; the messages are what matter.
\set SHOW_CONTEXT never
SELECT setseed(0.42);
CREATE TABLE engine_data AS
SELECT i AS id,
       CASE WHEN random() < 0.15 THEN NULL ELSE round((random() * 200 - 50)::numeric, 3) END::float8 AS a,
       CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 10) END::float8 AS b,
       CASE WHEN random() < 0.30 THEN NULL ELSE random() END::float8 AS c,
       (random() < 0.5) AS d,
       false AS label
FROM generate_series(1, 3000) AS i;
-- A label that needs interactions and depends on missingness.
UPDATE engine_data SET label = (coalesce(a, 80) > 60 AND coalesce(b, 9) >= 5) OR (c IS NULL AND d)
                               OR (coalesce(c, 0) > 0.9 AND random() < 0.8) OR random() < 0.03;

-- Inputs: fresh values and missing values; further down, values on and just
-- below the round numbers the labels split at, and (through a trigger, since
-- JSON has none) infinities and NaN.
CREATE TABLE engine_inputs AS
SELECT i AS id,
       jsonb_strip_nulls(jsonb_build_object(
           'a', CASE WHEN i % 11 = 0 THEN NULL ELSE round((random() * 300 - 100)::numeric, 4) END,
           'b', CASE WHEN i % 13 = 0 THEN NULL ELSE floor(random() * 12) - 1 END,
           'c', CASE WHEN i % 5 = 0 THEN NULL ELSE random() END,
           'd', CASE WHEN i % 17 = 0 THEN NULL ELSE random() < 0.5 END)) AS doc
FROM generate_series(1, 2000) AS i;

CREATE FUNCTION engine_compare(model text) RETURNS TABLE (rows bigint, identical bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SET LOCAL fraud_score.engine = xgboost;
	CREATE TEMP TABLE xgb_scores ON COMMIT DROP AS
	SELECT i.id, fraud_score(i.doc, model) AS s FROM engine_inputs i;
	SET LOCAL fraud_score.engine = native;
	RETURN QUERY
	SELECT count(*), count(*) FILTER (WHERE x.s = fraud_score(i.doc, model))
	FROM engine_inputs i JOIN xgb_scores x USING (id);
	DROP TABLE xgb_scores;
END $$;

-- Shapes: stumps to deep trees, one tree to many, and a base_score that is
-- not 0.5.
CREATE TABLE shapes (name text, params jsonb);
INSERT INTO shapes VALUES
    ('stump',     '{"max_depth": 1, "num_boost_round": 1}'),
    ('shallow',   '{"max_depth": 2, "num_boost_round": 30, "eta": 0.5}'),
    ('default',   '{"max_depth": 6, "num_boost_round": 50}'),
    ('deep',      '{"max_depth": 12, "num_boost_round": 20, "min_child_weight": 0}'),
    ('many',      '{"max_depth": 4, "num_boost_round": 300, "eta": 0.05}'),
    ('hist',      '{"max_depth": 6, "num_boost_round": 40, "tree_method": "hist", "max_bin": 16}'),
    ('base',      '{"max_depth": 3, "num_boost_round": 25, "base_score": 0.2}'),
    ('weighted',  '{"max_depth": 5, "num_boost_round": 25, "scale_pos_weight": 7, "lambda": 0}');

SET client_min_messages = warning;
SELECT s.name,
       fraud_model_train('engine_' || s.name,
                         'SELECT a, b, c, d, label FROM engine_data', 'label',
                         s.params || '{"notice_every": 0}', activate => true) AS version
FROM shapes s ORDER BY s.name;
RESET client_min_messages;

-- Each version is stored with its forest compiled (forest.c), which a
-- backend checks in full before using it; a forest that fails any check is
-- ignored with a DEBUG1 line and the model bytes are compiled instead, so
-- the scores stay identical.  (A superuser can write any bytes there with
-- triggers off.)
SELECT count(*) AS versions, count(forest) AS with_forest
FROM fraud_score_models WHERE name LIKE 'engine\_%';
-- Each case runs in a new backend, since a backend keeps the forest it
-- built for as long as the model's sha256 stays the same.
CREATE TABLE damaged_forests (k int, what text, forest bytea);
INSERT INTO damaged_forests
SELECT k, what, f FROM (SELECT forest AS good, 104 + 4 * 50 + 4 * 7 AS nodes_at
                        FROM fraud_score_models WHERE name = 'engine_default') g,
LATERAL (VALUES
    (1, 'truncated', substring(good FROM 1 FOR 120)),
    (2, 'a byte too long', good || '\x00'::bytea),
    (3, 'other byte order', set_byte(good, 4, 1)),
    (4, 'another model''s', (SELECT forest FROM fraud_score_models WHERE name = 'engine_many')),
    (5, 'sha256 changed', set_byte(good, 40, 48)),
    (6, 'NaN base margin', set_byte(set_byte(set_byte(set_byte(good, 28, 255), 29, 255), 30, 255), 31, 255)),
    (7, 'child out of its tree', set_byte(good, nodes_at + 7, 255)),
    (8, 'input beyond the features', set_byte(set_byte(good, nodes_at + 4, 255), nodes_at + 5, 255)),
    (9, 'wrong group depth', set_byte(good, nodes_at - 28, 1)),
    (10, 'first root moved', set_byte(good, 104, 1)),
    (11, 'none', NULL),
    (12, 'intact', good)) v(k, what, f);
CREATE FUNCTION damaged_case(case_k int) RETURNS TABLE (what text, rows bigint, identical bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    UPDATE fraud_score_models SET forest = (SELECT forest FROM damaged_forests WHERE k = case_k)
    WHERE name = 'engine_default';
    SET LOCAL session_replication_role = origin;
    SET LOCAL fraud_score.engine = native;
    SET LOCAL client_min_messages = debug1;
    PERFORM fraud_score('{}', 'engine_default');
    SET LOCAL client_min_messages = notice;
    RETURN QUERY SELECT (SELECT d.what FROM damaged_forests d WHERE d.k = case_k), c.*
                 FROM engine_compare('engine_default') c;
END $$;
\set VERBOSITY terse
\c
SELECT * FROM damaged_case(1);
\c
SELECT * FROM damaged_case(2);
\c
SELECT * FROM damaged_case(3);
\c
SELECT * FROM damaged_case(4);
\c
SELECT * FROM damaged_case(5);
\c
SELECT * FROM damaged_case(6);
\c
SELECT * FROM damaged_case(7);
\c
SELECT * FROM damaged_case(8);
\c
SELECT * FROM damaged_case(9);
\c
SELECT * FROM damaged_case(10);
\c
SELECT * FROM damaged_case(11);
\c
SELECT * FROM damaged_case(12);
\set VERBOSITY default
DROP FUNCTION damaged_case(int);
DROP TABLE damaged_forests;

-- Values on the round numbers the labels split at, extremes, and just below.
INSERT INTO engine_inputs
SELECT 100000 + row_number() OVER (), jsonb_build_object('a', v, 'b', v, 'c', v)
FROM (VALUES (-3e38::float8), (3e38), (0), (0.5), (5), (60)) t(v);
INSERT INTO engine_inputs
SELECT 200000 + row_number() OVER (), jsonb_build_object('a', 60 - 1e-5, 'b', 5 - 1e-7, 'c', 0.9 - 1e-8);

SELECT s.name, c.rows, c.identical
FROM shapes s, LATERAL engine_compare('engine_' || s.name) c
ORDER BY s.name;

-- Infinities and NaN, through the trigger's float8 columns.
CREATE TABLE engine_rows (a float8, b float8, c float8, d boolean, s float8);
CREATE TRIGGER t BEFORE INSERT ON engine_rows
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('engine_default', 's');
CREATE TEMP TABLE specials AS
SELECT a::float8, b::float8, c::float8, d
FROM (VALUES ('Infinity', '-Infinity', 'NaN', true), ('-Infinity', 'Infinity', 'Infinity', false),
             ('NaN', 'NaN', 'NaN', NULL), ('Infinity', 'Infinity', '-Infinity', true),
             ('1e30', '-1e30', 'NaN', false)) v(a, b, c, d);
SET fraud_score.engine = xgboost;
INSERT INTO engine_rows (a, b, c, d) SELECT * FROM specials;
SET fraud_score.engine = native;
INSERT INTO engine_rows (a, b, c, d) SELECT * FROM specials;
RESET fraud_score.engine;
SELECT count(*) AS pairs, count(*) FILTER (WHERE x.s = n.s) AS identical
FROM (SELECT *, row_number() OVER () AS k FROM (SELECT * FROM engine_rows ORDER BY ctid LIMIT 5) q) x
JOIN (SELECT *, row_number() OVER () AS k FROM (SELECT * FROM engine_rows ORDER BY ctid OFFSET 5) q) n USING (k);

-- The reference model card_d7 goes through the same comparison in the
-- replay of August 2018: bench/replay's scores are identical with either
-- engine on all 296,559 rows.
