-- Drift: reference distributions stored at training (or set from a query)
-- and the population stability index of recent rows against them.
\set SHOW_CONTEXT never

-- 3,000 deterministic rows (as in sql/train.sql); x3 is missing on every
-- seventh row.
CREATE TABLE dr_rows AS
SELECT i AS id,
       ((i * 7919) % 1000) / 10.0 AS x1,
       (i * 104729) % 97 AS x2,
       CASE WHEN i % 7 = 0 THEN NULL ELSE ((i * 31) % 50)::float8 END AS x3,
       (((i * 7919) % 1000) / 10.0 > 70 AND (i * 104729) % 97 < 40) OR i % 53 = 0 AS is_fraud
FROM generate_series(1, 3000) AS i;
CREATE VIEW dr_docs AS
SELECT id, jsonb_build_object('x1', x1, 'x2', x2, 'x3', x3) AS doc, is_fraud FROM dr_rows;

SET client_min_messages = warning;
SELECT fraud_model_train('dr',
    'SELECT x1, x2, x3, is_fraud FROM dr_rows WHERE id <= 2000', 'is_fraud',
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 20}',
    'SELECT x1, x2, x3, is_fraud FROM dr_rows WHERE id > 2000', activate => true);
-- Without a validation query: the training rows' features, no score.
SELECT fraud_model_train('dr',
    'SELECT x1, x2, x3, is_fraud FROM dr_rows WHERE id <= 2000', 'is_fraud',
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 20}');
RESET client_min_messages;

-- The document: where it came from, rows, and each distribution's bins
-- adding up to its rows.
SELECT version, reference->>'format' AS format, reference->>'source' AS source,
       reference->'rows' AS rows, reference->'bins' AS bins, reference ? 'score' AS has_score,
       (SELECT array_agg(f->>'name') FROM jsonb_array_elements(reference->'features') f) AS features,
       (SELECT array_agg(f->'missing') FROM jsonb_array_elements(reference->'features') f) AS missing
FROM fraud_models WHERE name = 'dr' ORDER BY version;
SELECT count(*) FILTER (WHERE x3 IS NULL) AS validation_rows_without_x3
FROM dr_rows WHERE id > 2000;
SELECT m.version, d.name,
       (SELECT sum(c::bigint) FROM jsonb_array_elements_text(d.dist->'counts') c)
       + (d.dist->>'missing')::bigint = (m.reference->>'rows')::bigint AS adds_up,
       jsonb_array_length(d.dist->'counts') = jsonb_array_length(d.dist->'edges') + 1 AS one_more_count
FROM fraud_models m,
     LATERAL (SELECT 'score' AS name, m.reference->'score' AS dist WHERE m.reference ? 'score'
              UNION ALL
              SELECT f->>'name', f FROM jsonb_array_elements(m.reference->'features') f) d
WHERE m.name = 'dr' ORDER BY 1, 2;

-- The edges are the deciles (percentile_disc) of the values as the model
-- sees them (float4) and their largest, equal ones merged, after one just
-- below the smallest (so that values outside the reference's range have
-- bins of their own).
CREATE FUNCTION dr_edges(v float8[]) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(e ORDER BY e), '[]')
    FROM (SELECT DISTINCT e
          FROM unnest((SELECT percentile_disc(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
                              WITHIN GROUP (ORDER BY x) FROM unnest(v) x WHERE x IS NOT NULL)) e) d
$$;
CREATE FUNCTION dr_below_smallest(edges jsonb, v float8[]) RETURNS boolean LANGUAGE sql AS $$
    SELECT (edges->>0)::float8 < min(x) AND (edges->>0)::float8 > min(x) - 1e-12 * greatest(1, abs(min(x)))
    FROM unnest(v) x
$$;
CREATE VIEW dr_validation_columns AS
SELECT 'x1' AS feature, array_agg(x1::float4::float8) AS v FROM dr_rows WHERE id > 2000
UNION ALL SELECT 'x2', array_agg(x2::float4::float8) FROM dr_rows WHERE id > 2000
UNION ALL SELECT 'x3', array_agg(x3::float4::float8) FROM dr_rows WHERE id > 2000;
SELECT f->>'name' AS feature, (f->'edges') - 0 = dr_edges(c.v) AS edges_are_deciles,
       dr_below_smallest(f->'edges', c.v) AS first_just_below, (f->'edges') - 0 AS edges
FROM fraud_models m, jsonb_array_elements(m.reference->'features') f
JOIN dr_validation_columns c ON c.feature = f->>'name'
WHERE m.name = 'dr' AND m.version = 1;
-- The score's edges are the deciles of the validation rows' scores (XGBoost's
-- at training; the native evaluator's here, equal to float precision).
SELECT jsonb_array_length(m.reference->'score'->'edges') AS score_edges,
       (SELECT bool_and(abs((m.reference->'score'->'edges'->>(k::int))::float8 - e::float8) < 1e-6)
        FROM jsonb_array_elements_text(dr_edges((SELECT array_agg(fraud_score(doc, 'dr'))
                                                 FROM dr_docs WHERE id > 2000))) WITH ORDINALITY AS x(e, k))
       AS score_edges_are_deciles
FROM fraud_models m WHERE m.name = 'dr' AND m.version = 1;

-- The same rows again: no drift.  Recent rows are scored by the version.
SELECT kind, feature, round(psi::numeric, 6) AS psi, drift, recent_rows, reference_rows,
       round(recent_missing::numeric, 4) AS recent_missing,
       round(reference_missing::numeric, 4) AS reference_missing
FROM fraud_model_drift('dr', 'SELECT doc FROM dr_docs WHERE id > 2000');
-- Other rows of the same population: small indexes, of the size sampling
-- alone gives (sampling_psi), none beyond 'none'.
SELECT kind, feature, psi < 0.05 AS small, psi < 3 * sampling_psi AS within_sampling, drift
FROM fraud_model_drift('dr', 'SELECT doc FROM dr_docs WHERE id <= 1000');
-- A shifted population: x1 moved up, x3 never present, x2 as it was.
SELECT kind, feature, round(psi::numeric, 3) AS psi, drift, round(recent_missing::numeric, 2) AS recent_missing
FROM fraud_model_drift('dr',
    $$SELECT jsonb_build_object('x1', x1 + 30, 'x2', x2) FROM dr_rows WHERE id > 2000$$);
-- A version named: version 2 has no score reference, so no score row.
SELECT kind, feature, drift FROM fraud_model_drift('dr', 'SELECT doc FROM dr_docs WHERE id > 2000', 2);
-- No recent rows: indexes are null (a quiet hour is not an error).
SELECT kind, feature, psi, drift, recent_rows FROM fraud_model_drift('dr', 'SELECT doc FROM dr_docs WHERE false');

-- A reference from a query, and an index computed by hand: ten rows with
-- x1 = 1..10 make edges just below 1, then 1..10: twelve bins, the first
-- and last empty.  Five recent rows 1, 1, 1, 2, 20 fill bins 2, 2, 2, 3 and
-- 12.  Empty bins count half a row (share 0.1 for the recent rows' bins 4
-- to 11, as the reference's; 0.05 for the reference's last), bin 1 is empty
-- on both sides, so PSI = (0.6 - 0.1) ln 6 + (0.2 - 0.1) ln 2
-- + (0.2 - 0.05) ln 4 over 11 bins.  x2 and x3 are missing on both sides:
-- index 0.
SELECT s->'rows' AS rows, s->>'source' AS source, s->'score'->'counts' AS score_counts,
       s->'features'->0 AS x1, s->'features'->1 AS x2
FROM fraud_model_set_reference('dr', 2,
    'SELECT jsonb_build_object(''x1'', i) FROM generate_series(1, 10) i') AS s;
SELECT feature, round(psi::numeric, 6) AS psi,
       CASE feature WHEN 'x1' THEN round((0.5 * ln(6) + 0.1 * ln(2) + 0.15 * ln(4))::numeric, 6) ELSE 0 END AS by_hand,
       drift, round(sampling_psi::numeric, 4) AS sampling_psi,
       CASE feature WHEN 'x1' THEN round((10 * (1 / 5.0 + 1 / 10.0))::numeric, 4) ELSE 0 END AS expected
FROM fraud_model_drift('dr', $$SELECT jsonb_build_object('x1', v) FROM unnest(ARRAY[1, 1, 1, 2, 20]) v$$, 2)
WHERE kind = 'feature';

-- A feature function: the reference and the recent rows go through it, as
-- fraud_score's documents do.
CREATE FUNCTION dr_features(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('x1', (doc->>'a')::float8 * 10)
$$;
SELECT fraud_model_load('dr_fn', (SELECT model FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                        ARRAY['x1', 'x2', 'x3'], feature_function => 'dr_features(jsonb)');
SELECT (s->'features'->0->'edges') AS x1_edges
FROM fraud_model_set_reference('dr_fn', 1,
    'SELECT jsonb_build_object(''a'', i) FROM generate_series(1, 10) i') AS s;
SELECT feature, drift FROM fraud_model_drift('dr_fn',
    'SELECT jsonb_build_object(''a'', i) FROM generate_series(1, 10) i') WHERE kind = 'feature';

-- Export and import carry the reference.
SELECT fraud_model_import(fraud_model_export('dr', 1), 'dr_copy') AS imported;
SELECT (SELECT reference FROM fraud_models WHERE name = 'dr_copy')
     = (SELECT reference FROM fraud_models WHERE name = 'dr' AND version = 1) AS same_reference;

-- Errors.
SELECT fraud_model_drift(NULL, 'SELECT 1');
SELECT fraud_model_drift('dr', NULL);
SELECT fraud_model_set_reference('dr', NULL, 'SELECT 1');
SELECT fraud_model_drift('dr_missing', 'SELECT doc FROM dr_docs');
SELECT fraud_model_drift('dr', 'SELECT doc FROM dr_docs', 9);
SELECT fraud_model_set_reference('dr', 9, 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models SET active = false WHERE name = 'dr_copy';
SELECT fraud_model_drift('dr_copy', 'SELECT doc FROM dr_docs');
SELECT fraud_model_drift('dr', 'SELECT 1');
SELECT fraud_model_drift('dr', 'DELETE FROM dr_rows RETURNING to_jsonb(dr_rows)');
SELECT fraud_model_drift('dr', 'SELECT NULL::jsonb');
SELECT fraud_model_drift('dr', 'SELECT doc FROM dr_docs WHERE id > 2000 UNION ALL SELECT NULL');
SELECT fraud_model_set_reference('dr', 2, 'SELECT doc FROM dr_docs WHERE false');
SELECT fraud_model_drift('dr', 'SELECT doc FROM no_such_table');
-- A version without reference distributions (loaded, not trained).
SELECT fraud_model_load('dr_bare', (SELECT model FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                        ARRAY['x1', 'x2', 'x3']);
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
-- Documents written into the column by hand are checked before use.
UPDATE fraud_score_models SET reference = '[1]' WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models SET reference = '{"format": 2, "features": []}' WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models SET reference = '{"format": 1, "features": []}' WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models
SET reference = jsonb_set((SELECT reference FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                          '{features,1,name}', '"y"')
WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models
SET reference = jsonb_set((SELECT reference FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                          '{features,0,edges,2}', '1')
WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models
SET reference = jsonb_set((SELECT reference FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                          '{score,counts}', '[1, 2]')
WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models
SET reference = jsonb_set((SELECT reference FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                          '{features,2,missing}', '-1')
WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');
UPDATE fraud_score_models
SET reference = jsonb_set((SELECT reference FROM fraud_score_models WHERE name = 'dr' AND version = 1),
                          '{score}', '[]')
WHERE name = 'dr_bare';
SELECT fraud_model_drift('dr_bare', 'SELECT doc FROM dr_docs');

-- Only administrators run them.
CREATE ROLE dr_user;
SET ROLE dr_user;
SELECT fraud_model_drift('dr', 'SELECT doc FROM dr_docs');
SELECT fraud_model_set_reference('dr', 1, 'SELECT doc FROM dr_docs');
RESET ROLE;
DROP ROLE dr_user;
