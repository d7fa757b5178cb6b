-- fraud_score_stats: serving statistics per model version, in shared memory.
-- Loaded on first use (expected/stats_1.out) reading them is an error with
-- a hint, and scoring works as ever; the rest needs fraud_score in
-- shared_preload_libraries (expected/stats.out).
\set original_db :DBNAME
\i test/fixtures.psql
\set expected_table st_expected
\i test/expected_table.psql
SELECT fraud_model_load('st', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.1, decline_threshold => 0.5);
SELECT fraud_score_stats_reset();
SELECT count(*) AS versions FROM fraud_score_stats;
SELECT round(fraud_score('{"amount": 30}', 'st')::numeric, 6) AS scored_anyway;
SELECT current_setting('shared_preload_libraries') LIKE '%fraud_score%' AS preloaded \gset
\if :preloaded
\else
\quit
\endif
SELECT fraud_score_stats_reset();

-- Every call of fraud_score and fraud_decide counts, with the band its score
-- falls in; the view shows this session's calls at once, others' when their
-- transaction ends.
SELECT count(fraud_score(to_jsonb(e) - 'xgboost_score', 'st')) AS scored FROM st_expected e;
SELECT (fraud_decide(to_jsonb(e) - 'xgboost_score', 'st')).decision, count(*)
FROM st_expected e GROUP BY 1 ORDER BY 1;
SELECT model, version, calls, approved, reviewed, declined,
       calls = 2 * (SELECT count(*) FROM st_expected) AS every_call,
       approved = 2 * (SELECT count(*) FROM st_expected WHERE xgboost_score < 0.1) AS approved_twice,
       declined = 2 * (SELECT count(*) FROM st_expected WHERE xgboost_score >= 0.5) AS declined_twice,
       errors_raised, errors_reviewed, errors_approved
FROM fraud_score_stats;

-- Times: a total, their mean, the largest, and percentiles from a histogram
-- (within a quarter octave), never above the largest.
SELECT total_ms > 0 AS timed, abs(mean_ms - total_ms / calls) < 1e-9 AS mean_is_total_over_calls,
       0 < min_ms AND min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms
           AND min_ms <= mean_ms AND mean_ms <= max_ms AS ordered,
       last_call IS NOT NULL AND last_call <= now() + interval '1 second' AS last_call_known,
       stats_since <= last_call AS since_before_last
FROM fraud_score_stats WHERE model = 'st';

-- The trigger counts its rows; a second version gets its own row.
CREATE TABLE st_tx (id integer, amount numeric, hour float8, merchant_risk float8,
                    card_age_days float8, is_foreign float8, score float8, decision text,
                    model_version integer);
CREATE TRIGGER score_tx BEFORE INSERT ON st_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('st', 'score', 'decision', 'model_version');
SELECT fraud_model_load('st', decode(:'small_ubj', 'base64'), review_threshold => 0.05,
                        decline_threshold => 0.9, activate => true);
SELECT fraud_score_stats_reset();
INSERT INTO st_tx SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM st_expected;
SELECT fraud_model_activate('st', 1);
INSERT INTO st_tx SELECT id, amount, hour, merchant_risk, card_age_days, is_foreign FROM st_expected WHERE id <= 10;
SELECT s.version, s.calls, s.approved, s.reviewed, s.declined,
       (SELECT count(*) FROM st_tx t WHERE t.model_version = s.version) AS rows_written,
       (SELECT count(*) FROM st_tx t WHERE t.model_version = s.version AND t.decision = 'decline') AS declined_written
FROM fraud_score_stats s WHERE model = 'st' ORDER BY version;

-- A rolled-back insert was still scored: its calls count.
BEGIN;
INSERT INTO st_tx (id, amount) VALUES (1000, 1), (1001, 2);
ROLLBACK;
SELECT calls FROM fraud_score_stats WHERE model = 'st' AND version = 1;

-- Latency is the whole call, the feature function's time included.
CREATE FUNCTION st_slow_features(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('slept', pg_sleep(0.02))
$$;
SELECT fraud_model_load('st_slow', decode(:'small_ubj', 'base64'),
                        feature_function => 'st_slow_features(jsonb)');
SELECT count(fraud_score('{"amount": 1}', 'st_slow')) FROM generate_series(1, 5);
SELECT calls, min_ms >= 20 AND p50_ms >= min_ms AND mean_ms >= min_ms AND p99_ms <= max_ms AS slept_20ms
FROM fraud_score_stats WHERE model = 'st_slow';

-- Rows the trigger could not score, by outcome (fraud_score.on_error), with
-- the last message; failures before any version was known have a NULL one.
CREATE FUNCTION st_failing_features(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'no features for amount %', doc->>'amount';
END $$;
SELECT fraud_model_load('st_fail', decode(:'small_ubj', 'base64'),
                        feature_function => 'st_failing_features(jsonb)');
CREATE TABLE st_fail_tx (amount float8, score float8, decision text);
CREATE TRIGGER score_tx BEFORE INSERT ON st_fail_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('st_fail', 'score', 'decision');
SET client_min_messages = error;
SET fraud_score.on_error = review;
INSERT INTO st_fail_tx VALUES (1), (2);
SET fraud_score.on_error = approve;
INSERT INTO st_fail_tx VALUES (3);
SET fraud_score.on_error = error;
INSERT INTO st_fail_tx VALUES (4);
RESET client_min_messages;
CREATE TABLE st_nomodel_tx (amount float8, score float8, decision text);
CREATE TRIGGER score_tx BEFORE INSERT ON st_nomodel_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('st_nothing', 'score', 'decision');
SET fraud_score.on_error = review;
SET client_min_messages = error;
INSERT INTO st_nomodel_tx VALUES (5);
RESET client_min_messages;
RESET fraud_score.on_error;
SELECT model, version, calls, errors_raised, errors_reviewed, errors_approved, last_error,
       last_error_at IS NOT NULL AS has_time
FROM fraud_score_stats WHERE model IN ('st_fail', 'st_nothing') ORDER BY model;

-- The last message is kept whole characters at a time: 300 é (600 bytes) in
-- this UTF8 database keep 127 (254 bytes).
\i test/long_message_failure.psql
SELECT errors_reviewed, length(last_error) AS characters, octet_length(last_error) AS bytes
FROM fraud_score_stats WHERE model = 'st_long';

-- Parallel workers count their calls too.
CREATE TABLE st_many AS
SELECT i, jsonb_build_object('amount', i % 500, 'hour', i % 24) AS doc FROM generate_series(1, 20000) i;
ANALYZE st_many;
SELECT fraud_score_stats_reset('st');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FILTER (WHERE fraud_score(doc, 'st') > 0.5) FROM st_many;
SELECT count(*) FILTER (WHERE fraud_score(doc, 'st') > 0.5) > 0 AS some_flagged FROM st_many;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- One call in fraud_score.stats_timing_interval (8) is timed beyond the first
-- of each transaction (of the leader's and each worker's).
SELECT calls, approved + reviewed + declined AS by_decision, abs(timed_calls - calls / 8.0) <= 3 AS one_in_8_timed
FROM fraud_score_stats WHERE model = 'st';
SELECT fraud_score_stats_reset('st');
SET fraud_score.stats_timing_interval = 1;
SELECT count(fraud_score(doc, 'st')) FROM st_many WHERE i <= 100;
RESET fraud_score.stats_timing_interval;
SELECT calls, timed_calls FROM fraud_score_stats WHERE model = 'st';

-- fraud_score.track_stats = off counts nothing; only superusers set it.
SET fraud_score.track_stats = off;
SELECT count(fraud_score(doc, 'st')) FROM st_many WHERE i <= 100;
RESET fraud_score.track_stats;
SELECT calls FROM fraud_score_stats WHERE model = 'st';

-- Challengers (sql/shadow.sql) count as calls of their own version, in
-- shadow_calls too, and the rows they could not score in errors_shadow.
SELECT fraud_model_load('st_ch', decode(:'small_ubj', 'base64'));
SELECT fraud_model_load('st_ch', decode(:'small_ubj', 'base64'), activate => false,
                        feature_function => 'st_failing_features(jsonb)');
SELECT fraud_model_load('st_ch', decode(:'small_ubj', 'base64'), activate => false);
SELECT fraud_model_shadow('st_ch', 2), fraud_model_shadow('st_ch', 3);
CREATE TABLE st_ch_tx (id integer PRIMARY KEY, amount float8, score float8);
CREATE TRIGGER score_tx BEFORE INSERT ON st_ch_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('st_ch', 'score');
INSERT INTO st_ch_tx SELECT i, i FROM generate_series(1, 10) i;
SELECT version, calls, shadow_calls, errors_raised, errors_shadow, last_error
FROM fraud_score_stats WHERE model = 'st_ch' ORDER BY version;

-- Resetting one version, one model, everything.
SELECT fraud_score_stats_reset('st_fail', 1);
SELECT model, version FROM fraud_score_stats WHERE model LIKE 'st_%' ORDER BY 1, 2;
SELECT fraud_score_stats_reset('st_slow');
SELECT model, version FROM fraud_score_stats WHERE model LIKE 'st_%' ORDER BY 1, 2;
SELECT fraud_score_stats_reset();
SELECT count(*) AS versions FROM fraud_score_stats;

-- Another database's versions are its own, and so are its messages, in its
-- encoding: in SQL_ASCII every byte is a character, so the 600 bytes of 300 é
-- keep 255.
SELECT fraud_score('{"amount": 1}', 'st') IS NOT NULL AS scored_here;
CREATE DATABASE fraud_score_stats_other ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c fraud_score_stats_other
CREATE EXTENSION fraud_score;
SELECT fraud_model_load('st', decode(:'small_ubj', 'base64'));
SELECT count(fraud_score('{"amount": 1}', 'st')) FROM generate_series(1, 3);
\i test/long_message_failure.psql
SELECT model, version, calls, errors_reviewed, octet_length(last_error) AS bytes,
       last_error = substring(repeat('é', 300) FROM 1 FOR 255) AS first_255_bytes
FROM fraud_score_stats ORDER BY model;
\c :original_db
SELECT model, version, calls FROM fraud_score_stats;
DROP DATABASE fraud_score_stats_other;

-- Reading is for admins and monitoring roles, resetting for admins.
CREATE ROLE st_app;
SET ROLE st_app;
SELECT calls FROM fraud_score_stats;
SELECT fraud_score_stats_reset();
SET fraud_score.track_stats = off;
RESET ROLE;
GRANT pg_read_all_stats TO st_app;
SET ROLE st_app;
SELECT count(*) AS readable FROM fraud_score_stats;
RESET ROLE;
DROP ROLE st_app;
