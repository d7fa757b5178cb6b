-- fraud_score_features(): the input row a model sees.  Checks the one-pass
-- jsonb key matching and the fast numeric-to-float conversion against
-- PostgreSQL's own casts.
\i test/fixtures.psql
SELECT fraud_model_load('inputs', decode(:'small_ubj', 'base64'));
SELECT features FROM fraud_models WHERE name = 'inputs';

-- Numbers, booleans, nulls and absent keys; keys in any order.
SELECT fraud_score_features('{"is_foreign": true, "amount": 912.5, "hour": 3, "card_age_days": null}', 'inputs');
SELECT fraud_score_features('{}', 'inputs');
SELECT fraud_score_features(NULL, 'inputs') IS NULL AS null_in_null_out;

-- Keys that sort next to the feature names (jsonb orders keys by length,
-- then bytes) must not be taken for them.
SELECT fraud_score_features('{"amoun": 1, "amountt": 2, "amounT": 3, "hour ": 4, "Hour": 5, "our": 6, "is_foreign": 0}', 'inputs');

-- More than 32 keys (jsonb then stores offsets, not lengths, in some
-- entries), and so many keys that each feature is searched for instead.
SELECT fraud_score_features(jsonb_build_object('amount', 10, 'hour', 11, 'merchant_risk', 0.25,
                                               'card_age_days', 400, 'is_foreign', false)
                            || coalesce((SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, n) g), '{}'),
                            'inputs')
       AS inputs, n AS other_keys
FROM (VALUES (0), (27), (28), (40), (200), (100000)) v(n);
SELECT fraud_score_features((SELECT jsonb_object_agg(lpad(g::text, 13, 'z'), g) FROM generate_series(1, 1000) g)
                            || '{"merchant_risk": 7, "is_foreign": 1}', 'inputs');

-- Every feature that is not the first or last in key order, among up to 200
-- neighbours of every length: the value lands in the right slot.
SELECT count(*) AS docs,
       count(*) FILTER (WHERE (fraud_score_features(doc, 'inputs'))[2] = 42) AS hour_found,
       count(*) FILTER (WHERE (fraud_score_features(doc, 'inputs'))[3] = 43) AS merchant_risk_found
FROM (SELECT n, jsonb_build_object('hour', 42, 'merchant_risk', 43)
             || coalesce((SELECT jsonb_object_agg(repeat(chr(97 + g % 26), 1 + g % 15), g)
                          FROM generate_series(1, n) g), '{}') AS doc
      FROM generate_series(0, 200) n) d;

-- Numbers become single-precision floats exactly as numeric -> float8 ->
-- float4 would make them, over every shape a numeric can have: short and
-- long digit strings, tiny and huge exponents, both signs, integers, values
-- from float8 columns, and values placed on and a few units beside the
-- points halfway between two floats (where rounding twice could differ).
SELECT setseed(0.42);
CREATE TEMP TABLE numbers AS
SELECT v FROM (
    SELECT (random() * 10 ^ (floor(random() * 60) - 25))::numeric AS v FROM generate_series(1, 40000)
    UNION ALL
    SELECT round((random() * 10 ^ floor(random() * 9))::numeric, (random() * 8)::int) FROM generate_series(1, 40000)
    UNION ALL
    SELECT (random() * 1e30)::numeric(40, 0) / 10 ^ (random() * 45)::int FROM generate_series(1, 20000)
    UNION ALL
    SELECT trunc(random()::numeric * 10 ^ (random() * 20)::int) FROM generate_series(1, 20000)
    UNION ALL
    SELECT ((f + (f_next - f) / 2) * (1 + k * 2.0 ^ -52))::numeric
    FROM (SELECT f, (f * (1 + 2.0 ^ -23))::float4::float8 AS f_next
          FROM (SELECT (random() * 10 ^ (floor(random() * 12) - 4))::float4::float8 AS f
                FROM generate_series(1, 2000)) a) b,
         generate_series(-20, 20) k
    UNION ALL
    VALUES (0::numeric), (-0.0), (1), (-1), (0.1), (16777217), (16777216.5), (3.4e38), (-3.4e38),
           (1e-45), (1.4e-45), (1e-38), (123456789012345678901234567890.123456789),
           (0.000000000000000000000000000001)
) s;
INSERT INTO numbers SELECT -v FROM numbers;
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE (fraud_score_features(jsonb_build_object('amount', v), 'inputs'))[1]
                              IS DISTINCT FROM v::float8::float4) AS differ
FROM numbers;
-- (The trigger's numeric columns go through the same conversion.)

-- JSON has no NaN or Infinity: jsonb turns such numerics into strings.
SELECT fraud_score_features(jsonb_build_object('amount', 'NaN'::numeric), 'inputs');
SELECT fraud_score_features(jsonb_build_object('amount', 'Infinity'::float8), 'inputs');

-- Errors, each naming the feature.
SELECT fraud_score_features('{"amount": 1e39}', 'inputs');
SELECT fraud_score_features('{"amount": -1e39}', 'inputs');
SELECT fraud_score_features('{"hour": "3"}', 'inputs');
SELECT fraud_score_features('{"hour": [3]}', 'inputs');
SELECT fraud_score_features('{"hour": {"h": 3}}', 'inputs');
SELECT fraud_score_features('[1, 2]', 'inputs');
SELECT fraud_score_features('3', 'inputs');
SELECT fraud_score_features('{}', 'no_such_model');

-- A feature function's output takes precedence over the document, key by
-- key, even where the document's own value would be an error.
CREATE FUNCTION override_features(doc jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('hour', 23, 'merchant_risk', NULL, 'unused', 'text')
$$;
SELECT fraud_model_load('inputs', decode(:'small_ubj', 'base64'), feature_function => 'override_features(jsonb)');
SELECT fraud_score_features('{"amount": 5, "hour": "not a number", "merchant_risk": 0.5}', 'inputs');
SELECT fraud_score_features('{"amount": "still checked"}', 'inputs');
