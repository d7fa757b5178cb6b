-- How a feature function is called (featurefn.c): what it receives from the
-- trigger, the checks made before each call and when they are made again,
-- and the memory its FmgrInfos hold.
\i test/fixtures.psql

-- The trigger gives the function NEW exactly as to_jsonb(NEW) would, built
-- from the values it has deformed: every common column type converted
-- directly, the others (arrays, composites, json, enums, ...) through
-- to_jsonb itself.
CREATE TYPE fc_channel AS ENUM ('web', 'pos');
CREATE DOMAIN fc_amount AS numeric(12, 2) CHECK (VALUE >= 0);
CREATE TYPE fc_place AS (city text, lat float8);
CREATE TABLE fc_rows (
    id int, dropped_before int, amount fc_amount, hour smallint, big bigint, f4 real,
    f8 float8, n numeric, flag boolean, note text, code varchar(8), pad char(5),
    d date, ts timestamp, tstz timestamptz, doc jsonb, raw json, tags text[],
    channel fc_channel, place fc_place, span interval, uid uuid, bytes bytea,
    score float8);
ALTER TABLE fc_rows DROP COLUMN dropped_before;
CREATE TABLE fc_received (id int, doc jsonb);
CREATE FUNCTION fc_record(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fc_received VALUES ((doc->>'id')::int, doc);
    RETURN '{}';
END $$;
SELECT fraud_model_load('fc_record', decode(:'small_ubj', 'base64'),
                        feature_function => 'fc_record(jsonb)');
CREATE TRIGGER score BEFORE INSERT OR UPDATE ON fc_rows
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('fc_record', 'score');
SET timezone = 'America/New_York';
INSERT INTO fc_rows VALUES
    (1, 12.5, 4, 9007199254740993, 1.5, 0.1, 1.50, true, 'plain', 'abc', 'ab',
     '2018-04-01', '2018-04-01 10:11:12.345678', '2018-04-01 10:11:12+02', '{"a": [1, {"b": null}]}',
     '{"x": 1, "x": 2}', ARRAY['a', NULL, 'c"d'], 'pos', ROW('Zürich', 47.37), '1 day 02:03:04',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff', NULL),
    (2, 0, -32768, -9223372036854775808, 'NaN', 'Infinity', 'NaN', false, E'tab\there "quoted" \\ é', '', '',
     'infinity', '-infinity', 'infinity', '"a string"', '[]', '{}', 'web', ROW(NULL, 'NaN'), '-1 year',
     NULL, '', NULL),
    (3, NULL, 0, 0, '-0', '-Infinity', '1e-40', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 99999999.99, 32767, 1, 3.4028235e38, 1.7976931348623157e308, '-Infinity', true, 'x', 'y', 'zzzzz',
     '0001-01-01 BC', '294276-12-31 23:59:59.999999', '4713-01-01 00:00:00+00 BC', '12.50', '"é"', '{{1,2},{3,4}}',
     'pos', ROW('', -0.0), '0', NULL, '\x', NULL),
    (5, 1e-2, 1, 2, 1e-45, 4.9e-324, 123456789012345678901234567890.123456789, true, 'y', NULL, NULL,
     '2000-02-29', '2000-02-29 00:00:00', '2000-02-29 00:00:00-12', '{"nested": {"deep": [true, false, 1.0E+2]}}',
     '1e2', ARRAY[]::text[], 'web', NULL, '1 mon 2 days', NULL, NULL, NULL);
-- Every row's argument, as jsonb and as text, is to_jsonb of the row before
-- the trigger set its score.
SELECT r.id,
       received.doc = to_jsonb(r) - 'score' || '{"score": null}' AS same_jsonb,
       received.doc::text = (to_jsonb(r) - 'score' || '{"score": null}')::text AS same_text
FROM fc_rows r JOIN fc_received received USING (id) ORDER BY r.id;
SELECT doc FROM fc_received WHERE id = 2;
-- Through UPDATE as well.
DELETE FROM fc_received;
UPDATE fc_rows SET note = 'updated' WHERE id IN (1, 3);
SELECT r.id, received.doc = to_jsonb(r) - 'score' || jsonb_build_object('score', received.doc->'score')
           AS same_jsonb,
       received.doc->>'note' AS note
FROM fc_rows r JOIN fc_received received USING (id) ORDER BY r.id;
-- A new column is seen at the next row.
ALTER TABLE fc_rows ADD COLUMN added int DEFAULT 7;
INSERT INTO fc_rows (id, amount) VALUES (6, 1);
SELECT doc->'added' AS added, doc ? 'dropped_before' AS has_dropped FROM fc_received WHERE id = 6;
RESET timezone;

-- EXECUTE is checked for the role that scores; the result is cached, and a
-- GRANT, a REVOKE or a change of role membership takes effect at the next
-- call of a session that already called.
CREATE FUNCTION fc_plain(jsonb) RETURNS jsonb LANGUAGE sql PARALLEL SAFE AS $$ SELECT '{"hour": 3}'::jsonb $$;
SELECT fraud_model_load('fc_plain', decode(:'small_ubj', 'base64'), feature_function => 'fc_plain(jsonb)');
REVOKE EXECUTE ON FUNCTION fc_plain(jsonb) FROM PUBLIC;
CREATE ROLE regress_fc_group;
CREATE ROLE regress_fc_member;
GRANT EXECUTE ON FUNCTION fc_plain(jsonb) TO regress_fc_member;
SET ROLE regress_fc_member;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION fc_plain(jsonb) FROM regress_fc_member;
SET ROLE regress_fc_member;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored;
RESET ROLE;
GRANT EXECUTE ON FUNCTION fc_plain(jsonb) TO regress_fc_group;
GRANT regress_fc_group TO regress_fc_member;
SET ROLE regress_fc_member;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored_through_group;
RESET ROLE;
REVOKE regress_fc_group FROM regress_fc_member;
SET ROLE regress_fc_member;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored;
RESET ROLE;
GRANT EXECUTE ON FUNCTION fc_plain(jsonb) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION fc_plain(jsonb) FROM regress_fc_group;
DROP ROLE regress_fc_member;
DROP ROLE regress_fc_group;

-- Parallel safety is cached too, and read again after ALTER FUNCTION.
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored_in_parallel_mode;
ALTER FUNCTION fc_plain(jsonb) PARALLEL RESTRICTED;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored_in_parallel_mode;
ALTER FUNCTION fc_plain(jsonb) PARALLEL SAFE;
SELECT fraud_score('{"amount": 5}', 'fc_plain') IS NOT NULL AS scored_in_parallel_mode;
RESET force_parallel_mode;
RESET parallel_setup_cost;

-- Memory: after any pg_proc change a call gets a fresh FmgrInfo, and the
-- one it supersedes is freed.  200 replacements of fc_plain leave one
-- context per function called: fc_record's and fc_plain's.
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE format('CREATE OR REPLACE FUNCTION fc_plain(jsonb) RETURNS jsonb LANGUAGE sql '
                       'PARALLEL SAFE AS $f$ SELECT ''{"hour": %s}''::jsonb $f$', i % 24);
        PERFORM fraud_score('{"amount": 5}', 'fc_plain');
    END LOOP;
END $$;
SELECT fraud_score('{"amount": 5}', 'fc_plain') = fraud_score('{"amount": 5, "hour": 8}', 'fc_record')
    AS last_body_used;
SELECT count(*) AS feature_function_contexts
FROM pg_backend_memory_contexts WHERE name = 'fraud_score feature function';

-- A function replaced while a call through it is running: the running call
-- finishes on the FmgrInfo it started with, which is freed only afterwards.
CREATE FUNCTION fc_self_replacing(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF doc ? 'outer' THEN
        EXECUTE 'CREATE OR REPLACE FUNCTION fc_self_replacing(doc jsonb) RETURNS jsonb '
                'LANGUAGE sql AS $f$ SELECT ''{"hour": 20}''::jsonb $f$';
        -- the new body, through a fresh FmgrInfo, while this call runs
        RETURN jsonb_build_object('hour', 1,
                                  'inner_score', fraud_score('{"amount": 5}', 'fc_self'));
    END IF;
    RETURN '{"hour": 2}';
END $$;
SELECT fraud_model_load('fc_self', decode(:'small_ubj', 'base64'),
                        feature_function => 'fc_self_replacing(jsonb)');
SELECT fraud_score('{"amount": 5, "outer": true}', 'fc_self')
       = fraud_score('{"amount": 5, "hour": 1}', 'fc_record') AS outer_used_first_body;
SELECT fraud_score('{"amount": 5, "outer": true}', 'fc_self')
       = fraud_score('{"amount": 5, "hour": 20}', 'fc_record') AS next_call_uses_new_body;
-- fc_self's first FmgrInfo has been freed: one context per function again.
SELECT count(*) AS feature_function_contexts
FROM pg_backend_memory_contexts WHERE name = 'fraud_score feature function';

-- An SQL feature function that scores with a model naming it again: the
-- nested call runs through an FmgrInfo of its own (the SQL function's state
-- belongs to the call in progress), and both calls give their own output.
CREATE FUNCTION fc_recursive(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN doc ? 'nested' THEN '{"hour": 9}'::jsonb
                ELSE jsonb_build_object('hour', 10, 'nested_score',
                                        fraud_score('{"amount": 5, "nested": true}', 'fc_recursive'))
           END
$$;
SELECT fraud_model_load('fc_recursive', decode(:'small_ubj', 'base64'),
                        feature_function => 'fc_recursive(jsonb)');
SELECT fraud_score('{"amount": 5}', 'fc_recursive')
       = fraud_score('{"amount": 5, "hour": 10}', 'fc_record') AS outer_call,
       fraud_score('{"amount": 5, "nested": true}', 'fc_recursive')
       = fraud_score('{"amount": 5, "hour": 9}', 'fc_record') AS nested_call;
SELECT count(*) AS nested_contexts_left
FROM pg_backend_memory_contexts WHERE name = 'fraud_score nested feature function';

DELETE FROM fraud_score_models WHERE name IN ('fc_record', 'fc_plain', 'fc_self', 'fc_recursive');
DROP TABLE fc_rows, fc_received;
DROP FUNCTION fc_record(jsonb), fc_plain(jsonb), fc_self_replacing(jsonb), fc_recursive(jsonb);
DROP TYPE fc_place;
DROP TYPE fc_channel;
DROP DOMAIN fc_amount;
