-- Declared feature sets: the errors met after a definition is accepted
-- (refused definitions are in velocity.sql), each with its message, and
-- what mends them.
\i test/fixtures.psql
SET client_min_messages = warning;
CREATE TABLE vex (
	id bigint PRIMARY KEY,
	t timestamp NOT NULL,
	card integer NOT NULL,
	amount bigint,
	seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
SELECT fraud_feature_set_create('vex_features', 'vex', $${"time": "t", "arrival": "seq",
  "entities": {"card": {"keys": ["card"], "tiers": ["1 day"], "resolution": "1 hour"}},
  "features": {"n_1d": {"kind": "count", "entity": "card", "window": "1 day"},
               "sum_1d": {"kind": "sum", "entity": "card", "window": "1 day", "column": "amount"}}}$$);
INSERT INTO vex (id, t, card, amount) VALUES (1, '2024-01-01 10:00', 1, 5), (2, '2024-01-01 11:00', 1, 7);
SELECT vex_features('{"t": "2024-01-01 12:00", "card": 1}');

-- Only the table's owner declares or drops a set on it.
CREATE ROLE regress_vex_admin IN ROLE fraud_score_admin;
SET ROLE regress_vex_admin;
SELECT fraud_feature_set_create('vex_other', 'vex', '{"time": "t", "arrival": "seq",
  "entities": {"card": {"keys": ["card"], "tiers": ["1 day"]}}}');
SELECT fraud_feature_set_drop('vex_features');
RESET ROLE;

-- The function-making and function-dropping helpers refuse a set that has
-- its function, and a function that belongs to no dropped set.
SELECT fraud_feature_set_make_function('vex_features');
SELECT fraud_feature_set_drop_function('vex_features(jsonb)');
SELECT fraud_feature_set_drop_function('lower(text)');
SELECT count(*) AS vex_features_kept FROM pg_proc WHERE proname = 'vex_features';

-- A set whose function a model version names is not dropped.
SELECT fraud_model_load('vexm', decode(:'small_ubj', 'base64'),
                        features => ARRAY['amount', 'hour', 'n_1d', 'sum_1d', 'card'],
                        feature_function => 'vex_features(jsonb)', activate => false);
SELECT fraud_feature_set_drop('vex_features');
SELECT fraud_model_drop('vexm', 1);

-- verify needs a set's name.
SELECT * FROM fraud_feature_set_verify(NULL);
SELECT * FROM fraud_feature_set_verify('no_such_set');

-- The maintenance trigger only as the AFTER ROW trigger it was made as.
CREATE TRIGGER vex_before BEFORE INSERT ON vex FOR EACH ROW
	EXECUTE FUNCTION fraud_feature_set_maintain('vex_features');
INSERT INTO vex (id, t, card, amount) VALUES (3, '2024-01-01 12:00', 1, 1);
DROP TRIGGER vex_before ON vex;
CREATE TRIGGER vex_no_name AFTER INSERT ON vex FOR EACH ROW
	EXECUTE FUNCTION fraud_feature_set_maintain();
INSERT INTO vex (id, t, card, amount) VALUES (3, '2024-01-01 12:00', 1, 1);
DROP TRIGGER vex_no_name ON vex;

-- A sum past int64 (in units of the column's scale) fails the statement, and
-- the buckets stay as they were.
INSERT INTO vex (id, t, card, amount) VALUES (4, '2024-01-01 12:00', 2, 5000000000000000000);
INSERT INTO vex (id, t, card, amount) VALUES (5, '2024-01-01 12:30', 2, 5000000000000000000);
SELECT vex_features('{"t": "2024-01-01 13:00", "card": 2}');
DELETE FROM vex WHERE id = 4;

-- A time column whose NOT NULL was dropped afterwards: a NULL time is in no
-- window, and the insert is refused.
ALTER TABLE vex ALTER t DROP NOT NULL;
INSERT INTO vex (id, t, card, amount) VALUES (6, NULL, 1, 1);
ALTER TABLE vex ALTER t SET NOT NULL;

-- The source's index on the keys then the time, dropped: reads need one.
SELECT indexrelid::regclass AS raw_index FROM pg_index
WHERE indrelid = 'vex'::regclass AND indkey[0] = 3 AND indkey[1] = 2 \gset
DROP INDEX :raw_index;
SELECT vex_features('{"t": "2024-01-01 12:00", "card": 1}');
CREATE INDEX ON vex (card, t);
SELECT vex_features('{"t": "2024-01-01 12:00", "card": 1}');

-- A bucket table's own index, dropped, or joined by an index on an
-- expression.
SELECT indexrelid::regclass AS bucket_index FROM pg_index
WHERE indrelid = 'vex_features_card_buckets'::regclass \gset
DROP INDEX :bucket_index;
SELECT vex_features('{"t": "2024-01-01 12:00", "card": 1}');
CREATE INDEX ON vex_features_card_buckets (card, tier, bucket);
CREATE INDEX vex_bucket_expression ON vex_features_card_buckets ((bucket + 1));
INSERT INTO vex (id, t, card, amount) VALUES (7, '2024-01-01 12:00', 3, 1);
DROP INDEX vex_bucket_expression;
INSERT INTO vex (id, t, card, amount) VALUES (7, '2024-01-01 12:00', 3, 1);

-- A slot's list of its rows, tampered with byte by byte.  Two rows at the
-- start of one hour slot of card 9: the row's last eight bytes are that
-- slot's list (2 entries + 1, their 6 bytes, then per entry its flags, its
-- time from the slot's start and its arrival coded from the one before).
-- Verify decodes every list and says what is wrong, or raises for bytes it
-- cannot read; a backfill mends them.
INSERT INTO vex (id, t, card, amount) VALUES (20, '2024-01-02 00:00', 9, NULL);
INSERT INTO vex (id, t, card, amount) VALUES (21, '2024-01-02 00:00', 9, NULL);
CREATE TEMP TABLE vex_list AS SELECT slots FROM vex_features_card_buckets WHERE card = 9;
SELECT count(*) AS rows, encode(substr(slots, length(slots) - 7), 'hex') AS list FROM vex_list GROUP BY slots;
CREATE PROCEDURE vex_tamper(tail bytea) LANGUAGE sql AS $f$
	UPDATE vex_features_card_buckets b SET slots = substr(l.slots, 1, length(l.slots) - 8) || tail
	FROM vex_list l WHERE b.card = 9
$f$;
CALL vex_tamper('\x0306000001000002');	-- as stored
SELECT count(*) AS problems FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
CALL vex_tamper('\x0307000001000002');	-- one byte longer than the row holds
SELECT count(*) FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
-- so does a read that needs the slot's rows (row 21's features: row 20 only)
SELECT vex_features(to_jsonb(v)) FROM vex v WHERE id = 21;
CALL vex_tamper('\x0306080001000002');	-- flags of no known kind
SELECT count(*) FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
CALL vex_tamper('\x0306010001000002');	-- the first row listed as removed
SELECT tier, slot, problem FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
CALL vex_tamper('\x0203000001');			-- only the first row listed
SELECT tier, slot, problem FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
CALL vex_tamper('\x0306000001000202');	-- the second row a microsecond later
SELECT tier, slot, problem FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
SELECT fraud_feature_set_backfill('vex_features');
SELECT count(*) AS problems_after_backfill FROM fraud_feature_set_verify('vex_features', '{"card": 9}');
DROP PROCEDURE vex_tamper(bytea);

-- The bucket tables' trigger (fraud_feature_set_buckets_written) fires after
-- rows change; as a BEFORE trigger it refuses.
CREATE TRIGGER vex_wrong BEFORE UPDATE ON vex_features_card_buckets
	FOR EACH ROW EXECUTE FUNCTION fraud_feature_set_buckets_written();
UPDATE vex_features_card_buckets SET slots = slots WHERE card = 9;
DROP TRIGGER vex_wrong ON vex_features_card_buckets;

-- A bucket table dropped by hand: the set cannot be read, and dropping the
-- set mends it.
DROP TABLE vex_features_card_buckets;
SELECT vex_features('{"t": "2024-01-01 12:00", "card": 1}');
SELECT fraud_feature_set_drop('vex_features');
SELECT count(*) AS vex_features_left FROM fraud_feature_sets WHERE name = 'vex_features';

DROP TABLE vex;
DROP ROLE regress_vex_admin;
