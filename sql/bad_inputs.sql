-- Hostile and broken input, in bulk: every model byte string either loads
-- as a working model or fails with a clean error, and no document crashes
-- scoring.  (Each kind of error has its message in load.sql and inputs.sql;
-- fuzz/ runs the same code under sanitizers for longer.)
\i test/fixtures.psql
SELECT fraud_model_load('bad', decode(:'small_ubj', 'base64'));
SELECT pg_backend_pid() AS start_pid \gset

-- Try bytes as a model: 'loaded' (and then it must score), or the error's
-- SQLSTATE.  Anything else (a crash, a hang) fails the whole test.  38000
-- is XGBoost refusing bytes the validator let through (a key it requires
-- was renamed, say): a clean error from its loader, never a crash.
CREATE FUNCTION pg_temp.try_model(bytes bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s float8;
BEGIN
    PERFORM fraud_model_check(bytes);
    BEGIN
        PERFORM fraud_model_load('bad_probe', bytes);
        s := fraud_score('{"amount": 12.5, "hour": 3, "merchant_risk": 0.7}', 'bad_probe');
        DELETE FROM fraud_score_models WHERE name = 'bad_probe';
        IF s IS NULL OR s < 0 OR s > 1 OR s <> s THEN
            RETURN 'loaded with a bad score ' || s;
        END IF;
        RETURN 'loaded';
    EXCEPTION WHEN OTHERS THEN
        RETURN 'load failed after check passed: ' || SQLSTATE || ' ' || SQLERRM;
    END;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

SELECT setseed(0.17);
CREATE TEMP TABLE good AS SELECT decode(:'small_ubj', 'base64') AS ubj, decode(:'small_json', 'base64') AS json;

-- Every prefix of the UBJSON model (0 bytes up to one byte short), in steps.
SELECT pg_temp.try_model(substring(ubj FROM 1 FOR n)) AS outcome, count(*)
FROM good, generate_series(0, octet_length(ubj) - 1, 7) n
GROUP BY 1 ORDER BY 1;

-- Random bytes, from empty to 4 kB, some starting like UBJSON or JSON.
SELECT pg_temp.try_model(prefix || coalesce((SELECT string_agg(set_byte('\x00'::bytea, 0, (random() * 255)::int), '')
                                             FROM generate_series(1, g * 7 % 4096)), ''))
       AS outcome, count(*)
FROM generate_series(0, 600) g, (VALUES (''::bytea), ('\x7b'::bytea), ('\x7b4c'::bytea)) p(prefix)
GROUP BY 1 ORDER BY 1;

-- The UBJSON model with 1 to 8 bytes overwritten at random places: length
-- fields, type markers, node indices and floats all get hit.
SELECT pg_temp.try_model(m) AS outcome, count(*)
FROM good, generate_series(1, 1500) g,
     LATERAL (WITH RECURSIVE flips(i, m) AS (
                  SELECT 0, ubj
                  UNION ALL
                  SELECT i + 1, set_byte(m, (random() * (octet_length(m) - 1))::int, (random() * 255)::int)
                  FROM flips WHERE i < 1 + g % 8)
              SELECT m FROM flips ORDER BY i DESC LIMIT 1) mutated
GROUP BY 1 ORDER BY 1;

-- The JSON model with digits and structural characters put in at random.
SELECT pg_temp.try_model(m) AS outcome, count(*)
FROM good, generate_series(1, 500) g,
     LATERAL (WITH RECURSIVE flips(i, m) AS (
                  SELECT 0, json
                  UNION ALL
                  SELECT i + 1, set_byte(m, (random() * (octet_length(m) - 1))::int,
                                         ascii(substr('0123456789-[]{},:."e', 1 + (random() * 19)::int, 1)))
                  FROM flips WHERE i < 1 + g % 4)
              SELECT m FROM flips ORDER BY i DESC LIMIT 1) mutated
GROUP BY 1 ORDER BY 1;

-- Nothing above left a probe version behind.
SELECT count(*) AS probe_versions FROM fraud_score_models WHERE name = 'bad_probe';

-- Documents: deep nesting, huge values, many keys, duplicate keys, every
-- JSON type, in and beside the features.  Nested values are errors only
-- where a feature is; elsewhere they are ignored.
SELECT fraud_score(jsonb_build_object('amount', 1, 'deep', repeat('[', 5000)::text || repeat(']', 5000)), 'bad') > 0 AS deep_text_ignored;
SELECT fraud_score(('{"amount": 1, "deep": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::jsonb, 'bad') > 0 AS deep_array_ignored;
SELECT fraud_score(('{"amount": ' || repeat('{"a": ', 1000) || '1' || repeat('}', 1000) || '}')::jsonb, 'bad');
SELECT fraud_score(jsonb_build_object('amount', 1, 'note', repeat('x', 50 * 1024 * 1024)), 'bad') > 0 AS huge_value_ignored;
SELECT fraud_score(jsonb_build_object('amount', repeat('9', 10000)::numeric), 'bad');
SELECT fraud_score(jsonb_build_object('amount', ('0.' || repeat('0', 1000) || '1')::numeric), 'bad') > 0 AS tiny_is_zero;
SELECT fraud_score(jsonb_build_object('amount', ('1' || repeat('0', 38))::numeric), 'bad');
SELECT fraud_score('{"amount": 1e308}', 'bad');
SELECT fraud_score('{"amount": -0}', 'bad') = fraud_score('{"amount": 0}', 'bad') AS negative_zero;
SELECT fraud_score('{"amount": 5, "amount": "five"}', 'bad');
SELECT fraud_score('{"amount": "five", "amount": 5}', 'bad') = fraud_score('{"amount": 5}', 'bad') AS last_duplicate_wins;
SELECT fraud_score((SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 100000) g), 'bad') > 0 AS many_keys;
SELECT fraud_score('{"amount": NaN}', 'bad');
SELECT fraud_score('{"amount": Infinity}', 'bad');
SELECT fraud_score('{"": 1, "amount\u0000": 2}', 'bad');
SELECT fraud_score('{"\u00e9": 1, "amount": true}', 'bad') = fraud_score('{"amount": 1}', 'bad') AS unicode_keys_ignored;

-- Still the backend that started the test: nothing above crashed it.
SELECT pg_backend_pid() = :start_pid AS same_backend;
