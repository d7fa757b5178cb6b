-- Declared velocity features (docs/velocity.md): definitions refused with
-- their messages, and the feature function equal to a plain SQL
-- recomputation from the raw rows while rows and labels arrive.
SET client_min_messages = warning;
CREATE TABLE vtx (
	id bigint PRIMARY KEY,
	t timestamp NOT NULL,
	card integer NOT NULL,
	terminal integer,
	amount numeric(10, 2),
	seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	known timestamp,
	label_due timestamp			-- when its label will arrive; never a feature
);
SELECT fraud_feature_set_create('vtx_features', 'vtx', $${
  "time": "t", "arrival": "seq", "known_at": "known", "digits": 4,
  "entities": {
    "card": {"keys": ["card"], "tiers": ["7 days", "1 day"], "resolution": "1 hour"},
    "terminal": {"keys": ["terminal"], "tiers": ["1 day", "1 hour"], "resolution": "1 minute"}
  },
  "features": {
    "amount": {"kind": "value", "column": "amount"},
    "hour": {"kind": "hour"},
    "dow": {"kind": "day_of_week"},
    "weekend": {"kind": "is_weekend"},
    "card_n_1d": {"kind": "count", "entity": "card", "window": "1 day"},
    "card_n_30d": {"kind": "count", "entity": "card", "window": "30 days"},
    "card_unlabeled_n_7d": {"kind": "count", "entity": "card", "window": "7 days", "rows": "unlabeled"},
    "card_sum_7d": {"kind": "sum", "entity": "card", "window": "7 days", "column": "amount"},
    "card_known_sum_30d": {"kind": "sum", "entity": "card", "window": "30 days", "column": "amount", "rows": "known"},
    "card_mean_7d": {"kind": "mean", "entity": "card", "window": "7 days", "column": "amount", "rows": "unlabeled"},
    "card_min_7d": {"kind": "min", "entity": "card", "window": "7 days", "column": "amount"},
    "card_max_30d": {"kind": "max", "entity": "card", "window": "30 days", "column": "amount"},
    "ratio_7d": {"kind": "ratio", "entity": "card", "window": "7 days", "column": "amount", "rows": "unlabeled"},
    "over_2_5x": {"kind": "exceeds", "entity": "card", "window": "7 days", "column": "amount",
                  "factor": 2.5, "mean_window": "30 days", "mean_rows": "unlabeled"},
    "card_known_30d": {"kind": "known_count", "entity": "card", "window": "30 days"},
    "card_episode": {"kind": "episode_days", "entity": "card", "window": "21 days"},
    "terminal_n_1h": {"kind": "count", "entity": "terminal", "window": "1 hour"},
    "terminal_n_7d": {"kind": "count", "entity": "terminal", "window": "7 days"},
    "terminal_rate_7d": {"kind": "known_rate", "entity": "terminal", "window": "7 days"},
    "terminal_since": {"kind": "days_since_known", "entity": "terminal"},
    "terminal_since_3d": {"kind": "days_since_known", "entity": "terminal", "window": "3 days"},
    "terminal_episode": {"kind": "episode_days", "entity": "terminal", "window": "35 days"}
  }}$$);
SELECT name, source, function, buckets FROM fraud_feature_sets WHERE name = 'vtx_features';
\d vtx_features_card_buckets

-- The replay: rows one by one in arrival order, times mostly increasing but
-- some late (arrival order is not time order), one hot terminal, NULL
-- terminals, labels arriving as the replay's clock passes them, and now and
-- then an amount corrected or a row deleted (removals: stale extremes), and
-- a burst of 400 rows in minutes.
-- Before each insert, the new row's features (a document without arrival:
-- it sees every stored row) are compared with the recomputation.
CREATE TABLE vtx_mismatches (phase text, id bigint, feature text, computed jsonb, recomputed jsonb);
SELECT setseed(0.15);
DO $$
DECLARE
	clock timestamp := '2024-03-01';
	doc jsonb;
	computed jsonb;
	recomputed jsonb;
	k text;
	compared bigint := 0;
BEGIN
	FOR i IN 1..2000 LOOP
		-- rows 1001-1400 in a burst of seconds: slots with more rows than
		-- vread.c reads raw at once (RAW_DIRECT_ROWS), answered by finer tiers
		clock := clock + CASE WHEN i BETWEEN 1001 AND 1400 THEN (random() * 2)::int * interval '1 second'
							  ELSE (random() * 40)::int * interval '1 minute' END;
		doc := jsonb_build_object(
			'id', i,
			't', CASE WHEN random() < 0.05 THEN clock - (random() * 3000)::int * interval '1 minute'
					  ELSE clock END,
			'card', (random() * 25)::int,
			'terminal', CASE WHEN random() < 0.03 THEN NULL
							 WHEN random() < 0.4 THEN 0 ELSE (random() * 12)::int END,
			'amount', CASE WHEN random() < 0.02 THEN NULL ELSE round((random() * random() * 300)::numeric, 2) END);
		UPDATE vtx SET known = label_due WHERE label_due <= clock AND known IS NULL;
		computed := vtx_features(doc);
		recomputed := fraud_feature_set_recompute('vtx_features', doc);
		FOR k IN SELECT jsonb_object_keys(recomputed) LOOP
			compared := compared + 1;
			IF computed->k IS DISTINCT FROM recomputed->k THEN
				INSERT INTO vtx_mismatches VALUES ('live', i, k, computed->k, recomputed->k);
			END IF;
		END LOOP;
		INSERT INTO vtx (id, t, card, terminal, amount, label_due)
		SELECT (doc->>'id')::bigint, (doc->>'t')::timestamp, (doc->>'card')::int, (doc->>'terminal')::int,
			   (doc->>'amount')::numeric,
			   CASE WHEN random() < 0.12 THEN (doc->>'t')::timestamp + (random() * 14400)::int * interval '1 minute' END;
		IF random() < 0.01 THEN
			UPDATE vtx SET amount = amount + 1 WHERE id = (random() * i)::int;
		END IF;
		IF random() < 0.005 THEN
			DELETE FROM vtx WHERE id = (random() * i)::int;
		END IF;
	END LOOP;
	RAISE WARNING 'live: % features of % rows compared', compared, 2000;
END
$$;

-- Every stored row as training reads it (to_jsonb of the row, with its
-- arrival: only rows before it, labels known at its time, whatever the
-- buckets hold since).
INSERT INTO vtx_mismatches
SELECT 'stored', v.id, k, c->k, r->k
FROM vtx v,
	 LATERAL (SELECT vtx_features(to_jsonb(v)) AS c,
					 fraud_feature_set_recompute('vtx_features', to_jsonb(v)) AS r) f,
	 LATERAL jsonb_object_keys(f.r) k
WHERE c->k IS DISTINCT FROM r->k;
SELECT count(*) AS stored_rows, count(*) * 22 AS stored_features_compared FROM vtx;
SELECT phase, count(*) AS mismatches FROM vtx_mismatches GROUP BY phase;
SELECT * FROM vtx_mismatches ORDER BY phase, id, feature LIMIT 20;
-- the buckets agree with the rows: counts, sums, bounds, extremes
SELECT * FROM fraud_feature_set_verify('vtx_features') LIMIT 10;

-- Rolled-back rows and labels leave no trace in the buckets.
CREATE TEMP TABLE vtx_bucket_rows AS
SELECT 'card' AS entity, count(*) AS n, md5(string_agg(slots::text, ',' ORDER BY card, tier, bucket, slots)) AS digest
FROM vtx_features_card_buckets
UNION ALL
SELECT 'terminal', count(*), md5(string_agg(slots::text, ',' ORDER BY terminal, tier, bucket, slots))
FROM vtx_features_terminal_buckets;
BEGIN;
INSERT INTO vtx (id, t, card, terminal, amount) VALUES (100000, '2024-04-01', 1, 0, 10);
SAVEPOINT s;
UPDATE vtx SET known = t WHERE id IN (SELECT id FROM vtx WHERE known IS NULL LIMIT 5);
DELETE FROM vtx WHERE id = 7;
ROLLBACK TO SAVEPOINT s;
SELECT vtx_features('{"t": "2024-04-01 00:00:01", "card": 1, "terminal": 0}')->'card_n_1d' AS with_uncommitted_row;
ROLLBACK;
SELECT vtx_features('{"t": "2024-04-01 00:00:01", "card": 1, "terminal": 0}')->'card_n_1d' AS after_rollback;
SELECT b.entity, b.n = a.n AND b.digest = a.digest AS unchanged
FROM vtx_bucket_rows b JOIN (
	SELECT 'card' AS entity, count(*) AS n, md5(string_agg(slots::text, ',' ORDER BY card, tier, bucket, slots)) AS digest
	FROM vtx_features_card_buckets
	UNION ALL
	SELECT 'terminal', count(*), md5(string_agg(slots::text, ',' ORDER BY terminal, tier, bucket, slots))
	FROM vtx_features_terminal_buckets) a USING (entity);

-- Tampered buckets: verify names them, features read from them differ from
-- the recomputation, and a backfill rebuilds them.
DELETE FROM vtx_features_card_buckets
WHERE ctid = (SELECT min(ctid) FROM vtx_features_card_buckets WHERE card = 3 AND tier = 0);
SELECT entity, keys, tier, problem FROM fraud_feature_set_verify('vtx_features') ORDER BY 1, 2, 3, 4 LIMIT 5;
SELECT count(*) AS verify_rows_for_card_4 FROM fraud_feature_set_verify('vtx_features', '{"card": 4}');
SELECT count(*) > 0 AS features_differ
FROM (SELECT to_jsonb(v) AS doc FROM vtx v WHERE card = 3) d
WHERE vtx_features(doc) IS DISTINCT FROM fraud_feature_set_recompute('vtx_features', doc);
-- Slots doubled: verify decodes every slot and meets the corruption, a
-- read that needs only the bucket's summary (an old bucket of terminal 0,
-- for terminal_since) does not; a row cut inside its summary fails both.
UPDATE vtx_features_terminal_buckets SET slots = slots || slots
WHERE ctid = (SELECT min(ctid) FROM vtx_features_terminal_buckets WHERE terminal = 0 AND tier = 0);
SELECT count(*) FROM fraud_feature_set_verify('vtx_features');
SELECT vtx_features('{"t": "2024-04-01", "card": 1, "terminal": 0}') ? 'terminal_since' AS read;
UPDATE vtx_features_terminal_buckets SET slots = substr(slots, 1, 4)
WHERE ctid = (SELECT min(ctid) FROM vtx_features_terminal_buckets WHERE terminal = 0 AND tier = 0);
SELECT vtx_features('{"t": "2024-04-01", "card": 1, "terminal": 0}');
-- A summary that no longer matches its slots (its row count one more).
UPDATE vtx_features_card_buckets SET slots = set_byte(slots, 2, get_byte(slots, 2) + 2)
WHERE ctid = (SELECT min(ctid) FROM vtx_features_card_buckets WHERE card = 5 AND tier = 0);
SELECT DISTINCT entity, keys, tier, slot, problem FROM fraud_feature_set_verify('vtx_features', '{"card": 5}');
SET client_min_messages = notice;
SELECT fraud_feature_set_backfill('vtx_features');
SET client_min_messages = warning;
SELECT count(*) AS differences_after_backfill FROM fraud_feature_set_verify('vtx_features');
SELECT count(*) AS mismatches_after_backfill
FROM (SELECT to_jsonb(v) AS doc FROM vtx v WHERE card IN (3, 4, 5) OR terminal = 0) d
WHERE vtx_features(doc) IS DISTINCT FROM fraud_feature_set_recompute('vtx_features', doc);

-- Definitions that do not fit the table are refused before anything is made.
\set VERBOSITY default
CREATE FUNCTION vtx_check(change jsonb) RETURNS void LANGUAGE sql AS $f$
	SELECT fraud_feature_set_check('bad', 'vtx', jsonb_strip_nulls(
		$${"time": "t", "arrival": "seq", "known_at": "known",
		   "entities": {"card": {"keys": ["card"]}},
		   "features": {"n": {"kind": "count", "entity": "card", "window": "1 day"}}}$$::jsonb || change))
$f$;
SELECT vtx_check('{}');		-- fits
SELECT vtx_check('{"time": null}');
SELECT vtx_check('{"time": 3}');
SELECT vtx_check('{"time": "nope"}');
SELECT vtx_check('{"time": "amount"}');
SELECT vtx_check('{"time": "label_due"}');
SELECT vtx_check('{"arrival": "t"}');
SELECT vtx_check('{"arrival": "terminal"}');
SELECT vtx_check('{"known_at": "card"}');
SELECT vtx_check('{"digits": 13}');
SELECT vtx_check('{"digits": "4"}');
SELECT vtx_check('{"entities": []}');
SELECT vtx_check('{"entities": {}}');
SELECT vtx_check('{"entities": {"card": 1}}');
SELECT vtx_check('{"entities": {"card": {"keys": []}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card", 2]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["cardd"]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": "1 day"}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": []}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["7 days", "2 days"]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["1 month"]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["-1 day"]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["1 day"], "resolution": "1 second"}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["8 days", "4 days", "2 days", "1 day", "12 hours"]}}}');
SELECT vtx_check('{"entities": {"card": {"keys": ["card"], "tiers": ["1 day"], "resolution": "2 minutes"}}, "features": {"m": {"kind": "min", "entity": "card", "window": "1 day", "column": "amount"}}}');
SELECT vtx_check('{"features": {}}');
SELECT vtx_check('{"features": {"n": {"kind": "avg"}}}');
SELECT vtx_check('{"features": {"n": {"entity": "card"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "window": "1 day"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "entity": "merchant", "window": "1 day"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "entity": "card"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "entity": "card", "window": "1 mon"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "entity": "card", "window": "1 day", "column": "amount"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "sum", "entity": "card", "window": "1 day"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "sum", "entity": "card", "window": "1 day", "column": "t"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "count", "entity": "card", "window": "1 day", "rows": "some"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "min", "entity": "card", "window": "1 day", "column": "amount", "rows": "known"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "exceeds", "entity": "card", "window": "1 day", "column": "amount", "mean_window": "7 days"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "exceeds", "entity": "card", "window": "1 day", "column": "amount", "factor": -2, "mean_window": "7 days"}}}');
SELECT vtx_check('{"features": {"n": {"kind": "exceeds", "entity": "card", "window": "1 day", "column": "amount", "factor": 2.5}}}');
SELECT vtx_check('{"known_at": null, "features": {"n": {"kind": "known_count", "entity": "card", "window": "1 day"}}}');
SELECT vtx_check('{"known_at": null, "features": {"n": {"kind": "count", "entity": "card", "window": "1 day", "rows": "unlabeled"}}}');
SELECT fraud_feature_set_check('bad', 'vtx', '[1]');
CREATE VIEW vtx_view AS SELECT * FROM vtx;
SELECT fraud_feature_set_check('bad', 'vtx_view', '{}');
CREATE TABLE vtx_float (t timestamp NOT NULL, seq int NOT NULL, k int, x float8);
SELECT fraud_feature_set_check('bad', 'vtx_float', $${"time": "t", "arrival": "seq", "entities": {"k": {"keys": ["k"]}},
	"features": {"x": {"kind": "value", "column": "x"}, "s": {"kind": "sum", "entity": "k", "window": "1 day", "column": "x"}}}$$);
CREATE TABLE vtx_nullable (t timestamp, seq int NOT NULL, k int);
SELECT fraud_feature_set_check('bad', 'vtx_nullable', $${"time": "t", "arrival": "seq", "entities": {"k": {"keys": ["k"]}},
	"features": {"n": {"kind": "count", "entity": "k", "window": "1 day"}}}$$);
SELECT fraud_feature_set_create('vtx_features', 'vtx', '{}');
SELECT vtx_features('[1, 2]');
SELECT vtx_features('{"t": "infinity"}');
SELECT vtx_features('{"t": "2024-03-02", "card": [1]}');
\set VERBOSITY terse

-- Dropping a set takes its triggers, function and bucket tables with it.
SELECT fraud_feature_set_drop('no_such_set');
CREATE TABLE vtx_small (t timestamptz NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY, k text);
SELECT fraud_feature_set_create('vtx_small_features', 'vtx_small', $${"time": "t", "arrival": "seq",
	"entities": {"k": {"keys": ["k"], "tiers": ["1 day"], "resolution": "1 hour"}},
	"features": {"n_1h": {"kind": "count", "entity": "k", "window": "1 hour"},
				 "dow": {"kind": "day_of_week"}}}$$);
INSERT INTO vtx_small (t, k) VALUES ('2024-03-01 10:00+00', 'a'), ('2024-03-01 10:30+00', 'a');
SET TIME ZONE 'UTC';
SELECT vtx_small_features('{"t": "2024-03-01 10:45+00", "k": "a"}');
TRUNCATE vtx_small;
SELECT vtx_small_features('{"t": "2024-03-01 10:45+00", "k": "a"}');
SELECT count(*) AS bucket_rows FROM vtx_small_features_k_buckets;
SELECT fraud_feature_set_drop('vtx_small_features');
SELECT to_regclass('vtx_small_features_k_buckets') AS buckets, to_regprocedure('vtx_small_features(jsonb)') AS function,
	   (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'vtx_small'::regclass) AS triggers,
	   (SELECT count(*) FROM fraud_feature_sets WHERE name = 'vtx_small_features') AS catalog_rows;
-- Dropping the source takes the set with it.
CREATE TABLE vtx_gone (t timestamp NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY, k int);
SELECT fraud_feature_set_create('vtx_gone_features', 'vtx_gone', $${"time": "t", "arrival": "seq",
	"entities": {"k": {"keys": ["k"]}}, "features": {"n": {"kind": "count", "entity": "k", "window": "1 day"}}}$$);
DROP TABLE vtx_gone;
SELECT to_regclass('vtx_gone_features_k_buckets') AS buckets, to_regprocedure('vtx_gone_features(jsonb)') AS function,
	   (SELECT count(*) FROM fraud_feature_sets WHERE name = 'vtx_gone_features') AS catalog_rows;

-- Raw rows are read from the index fraud_feature_set_create made, which
-- covers them: once its pages are all-visible, without the heap (an
-- index-only read), with the same features.
SELECT pg_get_indexdef(i.indexrelid) AS raw_index FROM pg_index i
WHERE i.indrelid = 'vtx'::regclass AND pg_get_indexdef(i.indexrelid) LIKE '%INCLUDE%' ORDER BY 1;
VACUUM vtx;
BEGIN;
SELECT count(vtx_features(to_jsonb(v))) AS rows_read FROM vtx v WHERE id % 7 = 0;
SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) > 0 AS raw_index_rows_read,
	   sum(pg_stat_get_xact_tuples_fetched(indexrelid)) AS heap_rows_fetched_through_it
FROM pg_index WHERE indrelid = 'vtx'::regclass AND pg_get_indexdef(indexrelid) LIKE '%INCLUDE%';
COMMIT;
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE vtx_features(doc) IS DISTINCT FROM fraud_feature_set_recompute('vtx_features', doc)) AS mismatches
FROM (SELECT to_jsonb(v) AS doc FROM vtx v WHERE card BETWEEN 1 AND 6) d;

-- Many windows of one entity, each edge a slot read raw, then windows the
-- exceeds window's rows answer: a read keeps more raw slots than its first
-- allocation holds.
CREATE TABLE vtx_edges (t timestamp NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
						k int NOT NULL, amount integer NOT NULL);
SELECT fraud_feature_set_create('vtx_edges_features', 'vtx_edges', $${"time": "t", "arrival": "seq",
	"entities": {"k": {"keys": ["k"], "tiers": ["1 day"], "resolution": "1 hour"}},
	"features": {
		"n_2h": {"kind": "count", "entity": "k", "window": "2 hours"},
		"n_3h": {"kind": "count", "entity": "k", "window": "3 hours"},
		"n_4h": {"kind": "count", "entity": "k", "window": "4 hours"},
		"n_5h": {"kind": "count", "entity": "k", "window": "5 hours"},
		"n_6h": {"kind": "count", "entity": "k", "window": "6 hours"},
		"n_7h": {"kind": "count", "entity": "k", "window": "7 hours"},
		"n_8h": {"kind": "count", "entity": "k", "window": "8 hours"},
		"n_9h": {"kind": "count", "entity": "k", "window": "9 hours"},
		"n_10h": {"kind": "count", "entity": "k", "window": "10 hours"},
		"n_11h": {"kind": "count", "entity": "k", "window": "11 hours"},
		"over_2x_1h": {"kind": "exceeds", "entity": "k", "window": "1 hour", "column": "amount",
					   "factor": 2, "mean_window": "11 hours"},
		"n_1h": {"kind": "count", "entity": "k", "window": "1 hour"},
		"n_30m": {"kind": "count", "entity": "k", "window": "30 minutes"}}}$$);
INSERT INTO vtx_edges (t, k, amount)
SELECT '2024-05-01'::timestamp + i * interval '7 minutes', 1, (i * 37) % 100 FROM generate_series(1, 200) i;
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE vtx_edges_features(doc) IS DISTINCT FROM
						fraud_feature_set_recompute('vtx_edges_features', doc)) AS mismatches
FROM (SELECT jsonb_build_object('t', '2024-05-01 14:03'::timestamp + i * interval '11 minutes', 'k', 1) AS doc
	  FROM generate_series(0, 40) i) d;
SELECT vtx_edges_features('{"t": "2024-05-01 20:30", "k": 1}') - '{n_2h,n_3h,n_4h,n_5h,n_6h,n_7h,n_8h,n_9h,n_10h}'::text[];
SELECT fraud_feature_set_drop('vtx_edges_features');
DROP TABLE vtx_edges;

-- A window that starts inside a slot of many rows, at the finest tier: the
-- slot is added less its rows before the start, read from the raw rows,
-- when by the slot's time bounds they are the fewer; none may be labeled or
-- hold an extreme of the slot, else the rows inside are read instead.
-- Either way only one side of the start is read.
CREATE TABLE vtx_cut (t timestamp NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
					  k int, g int, amount integer NOT NULL, known timestamp);
SELECT fraud_feature_set_create('vtx_cut_features', 'vtx_cut', $${"time": "t", "arrival": "seq",
	"known_at": "known",
	"entities": {"k": {"keys": ["k"], "tiers": ["1 hour"], "resolution": "1 minute"},
				 "g": {"keys": ["g"], "tiers": ["1 hour"], "resolution": "1 minute"}},
	"features": {
		"n_10m": {"kind": "count", "entity": "k", "window": "10 minutes"},
		"sum_10m": {"kind": "sum", "entity": "k", "window": "10 minutes", "column": "amount"},
		"known_10m": {"kind": "known_count", "entity": "k", "window": "10 minutes"},
		"min_10m": {"kind": "min", "entity": "g", "window": "10 minutes", "column": "amount"},
		"max_10m": {"kind": "max", "entity": "g", "window": "10 minutes", "column": "amount"}}}$$);
-- 600 rows of each key (and group) in the minute from midnight, one every
-- 0.1 second, with amounts from 10 to 109 between two extremes, 0 and 1000:
-- at 55 and 56 s for key 1, at 2 and 50 s for keys 2 and 3; key 2's rows
-- have labels (every tenth)
INSERT INTO vtx_cut (t, k, g, amount, known)
SELECT '2024-06-01'::timestamp + (i / 10.0 + 0.05) * interval '1 second', key, key,
	   CASE WHEN i = CASE key WHEN 1 THEN 550 ELSE 20 END THEN 0
			WHEN i = CASE key WHEN 1 THEN 560 ELSE 500 END THEN 1000 ELSE 10 + (i * 37) % 100 END,
	   CASE WHEN key = 2 AND i % 10 = 3 THEN timestamp '2024-06-01 00:05' END
FROM generate_series(0, 599) i, (VALUES (1), (2), (3)) v(key);
SELECT count(*) AS docs,
	   count(*) FILTER (WHERE vtx_cut_features(doc) IS DISTINCT FROM
						fraud_feature_set_recompute('vtx_cut_features', doc)) AS mismatches
FROM (SELECT jsonb_build_object('t', '2024-06-01 00:10'::timestamp + s * interval '1.5 seconds', 'k', key, 'g', key) AS doc
	  FROM generate_series(0, 40) s, (VALUES (1), (2), (3)) v(key)) d;
-- The raw rows read for one window starting 6 s into the minute: key 1's
-- 60 rows before the start, and group 1's (its extremes are after it); key
-- 2's 540 inside (its words show labeled rows before the start); group 3's
-- 60 before, one of which is its minimum, then the 540 inside.  At 50 s,
-- key 1's 100 inside.
CREATE FUNCTION vtx_cut_rows_read(doc jsonb) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
	before bigint;
	after bigint;
BEGIN
	SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) INTO before
	FROM pg_index WHERE indrelid = 'vtx_cut'::regclass AND pg_get_indexdef(indexrelid) LIKE '%INCLUDE%';
	PERFORM vtx_cut_features(doc);
	SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) INTO after
	FROM pg_index WHERE indrelid = 'vtx_cut'::regclass AND pg_get_indexdef(indexrelid) LIKE '%INCLUDE%';
	RETURN after - before;
END $f$;
-- (Counted without the backend's copies of slots' rows, which with
-- fraud_score in shared_preload_libraries read a past slot of at most 64
-- rows whole once, and then none: fraud_score.bucket_cache_size.)
SET fraud_score.bucket_cache_size = 0;
SELECT vtx_cut_rows_read('{"t": "2024-06-01 00:10:06", "k": 1}') AS key_1_at_6s,
	   vtx_cut_rows_read('{"t": "2024-06-01 00:10:06", "k": 2}') AS key_2_at_6s,
	   vtx_cut_rows_read('{"t": "2024-06-01 00:10:50", "k": 1}') AS key_1_at_50s,
	   vtx_cut_rows_read('{"t": "2024-06-01 00:10:06", "g": 1}') AS group_1_at_6s,
	   vtx_cut_rows_read('{"t": "2024-06-01 00:10:06", "g": 3}') AS group_3_at_6s;
RESET fraud_score.bucket_cache_size;
SELECT vtx_cut_features('{"t": "2024-06-01 00:10:06", "k": 1, "g": 1}') AS key_1,
	   vtx_cut_features('{"t": "2024-06-01 00:10:06", "k": 2, "g": 3}') AS key_2_group_3;
DROP FUNCTION vtx_cut_rows_read(jsonb);
SELECT fraud_feature_set_drop('vtx_cut_features');
DROP TABLE vtx_cut;

-- Slots with few rows list them in their bucket rows (buckets.h): an entity
-- whose slots all do is read from its bucket rows alone, with no scan of the
-- raw rows' index, even at window edges and for the rows "exceeds" compares;
-- one whose slots hold more than the lists keep is read from the raw rows.
-- Either way the features equal the recomputation.  Labels arrive and one
-- row is deleted, so that lists hold label changes and a removal.
CREATE TABLE vtx_listed (t timestamp NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
						 card int NOT NULL, amount numeric(8, 2) NOT NULL, known timestamp);
SELECT fraud_feature_set_create('vtx_listed_features', 'vtx_listed', $${"time": "t", "arrival": "seq",
	"known_at": "known",
	"entities": {"card": {"keys": ["card"], "tiers": ["28 days"], "resolution": "1 day"}},
	"features": {
		"n_1d": {"kind": "count", "entity": "card", "window": "1 day"},
		"n_9d": {"kind": "count", "entity": "card", "window": "9 days"},
		"sum_30d": {"kind": "sum", "entity": "card", "window": "30 days", "column": "amount"},
		"over_2x_7d": {"kind": "exceeds", "entity": "card", "window": "7 days", "column": "amount",
					   "factor": 2, "mean_window": "30 days"},
		"known_7d": {"kind": "known_count", "entity": "card", "window": "7 days"},
		"max_9d": {"kind": "max", "entity": "card", "window": "9 days", "column": "amount"},
		"since_known": {"kind": "days_since_known", "entity": "card"}}}$$);
-- cards 1 and 2: 3 rows a day; card 3: 12 a day, more than a list keeps;
-- card 4: 40 rows in one day, scored at times within it (its day's slot
-- holds rows after t: fewer than 17 are taken out of the slot, more make
-- it read from the source; so do those holding an extreme)
INSERT INTO vtx_listed (t, card, amount)
SELECT '2024-06-01'::timestamp + i * interval '8 hours' + (i % 5) * interval '37 minutes', c, (i * 13) % 90 + 1
FROM generate_series(0, 179) i, (VALUES (1), (2)) v(c);
INSERT INTO vtx_listed (t, card, amount)
SELECT '2024-06-01'::timestamp + i * interval '2 hours', 3, (i * 7) % 50 + 1 FROM generate_series(0, 719) i;
INSERT INTO vtx_listed (t, card, amount)
SELECT '2024-06-15'::timestamp + i * interval '36 minutes', 4, (i * 17) % 60 + 1 FROM generate_series(0, 39) i;
UPDATE vtx_listed SET known = t + interval '2 days' WHERE seq % 17 = 0;
DELETE FROM vtx_listed WHERE seq = 100;
-- scans of the raw rows' index (on card, t) in this transaction
CREATE FUNCTION vtx_raw_scans() RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(pg_stat_get_xact_numscans(i.indexrelid))::bigint FROM pg_index i
	WHERE i.indrelid = 'vtx_listed'::regclass AND i.indnkeyatts = 2 $$;
CREATE TABLE vtx_scans (card int, raw_index_scans bigint);
CREATE TABLE vtx_listed_docs AS
SELECT c AS card, jsonb_build_object('t', '2024-06-20 05:00'::timestamp + i * interval '97 minutes',
									 'card', c) AS doc, NULL::jsonb AS computed
FROM generate_series(0, 200) i, generate_series(1, 3) c
UNION ALL
SELECT 4, jsonb_build_object('t', '2024-06-15 00:10'::timestamp + i * interval '23 minutes', 'card', 4), NULL
FROM generate_series(0, 62) i;
DO $$
DECLARE
	scans bigint;
BEGIN
	FOR c IN 1..4 LOOP
		scans := vtx_raw_scans();
		UPDATE vtx_listed_docs SET computed = vtx_listed_features(doc) WHERE card = c;
		INSERT INTO vtx_scans VALUES (c, vtx_raw_scans() - scans);
	END LOOP;
END
$$;
SELECT card, raw_index_scans > 0 AS reads_raw_rows, count(*) AS rows_compared,
	   count(*) FILTER (WHERE computed IS DISTINCT FROM
						fraud_feature_set_recompute('vtx_listed_features', doc)) AS mismatches
FROM vtx_scans JOIN vtx_listed_docs USING (card) GROUP BY card, raw_index_scans ORDER BY card;
SELECT count(*) AS differences FROM fraud_feature_set_verify('vtx_listed_features');
SELECT fraud_feature_set_drop('vtx_listed_features');
DROP TABLE vtx_listed, vtx_scans, vtx_listed_docs;
DROP FUNCTION vtx_raw_scans();
