-- Parallel query: fraud_score() in a parallel scan (Gather) gives the serial
-- result, with and without a feature function.
\i test/fixtures.psql
SELECT fraud_model_load('par', decode(:'small_ubj', 'base64'), review_threshold => 0.1,
                        decline_threshold => 0.5);
CREATE FUNCTION par_features(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('amount', (doc->>'a')::float8 * 3)
$$;
SELECT fraud_model_load('par_fn', decode(:'small_ubj', 'base64'), feature_function => 'par_features(jsonb)');

CREATE TABLE par_big AS
SELECT i, jsonb_build_object('amount', (i * 7919) % 5000 / 10.0, 'a', (i * 31) % 900,
                             'hour', i % 24, 'merchant_risk', (i % 10) / 10.0,
                             'card_age_days', (i * 13) % 3000, 'is_foreign', i % 2) AS doc
FROM generate_series(1, 200000) i;
ANALYZE par_big;

-- Serial first.
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE par_serial AS
SELECT count(*) FILTER (WHERE fraud_score(doc, 'par') > 0.1) AS flagged,
       count(*) FILTER (WHERE fraud_score(doc, 'par_fn') > 0.1) AS flagged_fn,
       sum(fraud_score(doc, 'par')::numeric) AS total,
       sum(fraud_score(doc, 'par_fn')::numeric) AS total_fn
FROM par_big;

-- Then with two workers: the plan gathers, the result is the same (sums in
-- numeric, exact whatever the order of the rows).
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF)
SELECT count(*) FILTER (WHERE fraud_score(doc, 'par') > 0.1) FROM par_big;
EXPLAIN (COSTS OFF)
SELECT count(*) FILTER (WHERE fraud_score(doc, 'par_fn') > 0.1) FROM par_big;
SELECT p.flagged = s.flagged AS same_flagged, p.flagged_fn = s.flagged_fn AS same_flagged_fn,
       p.total = s.total AS same_sum, p.total_fn = s.total_fn AS same_sum_fn, s.flagged, s.flagged_fn
FROM (SELECT count(*) FILTER (WHERE fraud_score(doc, 'par') > 0.1) AS flagged,
             count(*) FILTER (WHERE fraud_score(doc, 'par_fn') > 0.1) AS flagged_fn,
             sum(fraud_score(doc, 'par')::numeric) AS total,
             sum(fraud_score(doc, 'par_fn')::numeric) AS total_fn
      FROM par_big) p, par_serial s;
-- Both workers ran and scored their share (EXPLAIN ANALYZE's rows are per loop).
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FILTER (WHERE fraud_score(doc, 'par_fn') > 0.1) FROM par_big;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE par_big;
