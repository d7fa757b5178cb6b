-- fraud_score.on_error: what the trigger does with a row it cannot score.
-- error (the default) fails the INSERT; review and approve write the row
-- with that decision, a NULL score and version, a WARNING, and count it.
\i test/fixtures.psql
SELECT fraud_model_load('oe', decode(:'small_ubj', 'base64'));

CREATE TABLE tx (
    id serial PRIMARY KEY,
    amount float8,
    hour text,                -- a text column named like a feature
    score float8,
    decision text,
    model_version integer
);
CREATE TRIGGER score_tx BEFORE INSERT ON tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe', 'score', 'decision', 'model_version');
CREATE TABLE tx_missing_model (LIKE tx INCLUDING DEFAULTS);
ALTER TABLE tx_missing_model DROP COLUMN hour;
CREATE TRIGGER score_tx BEFORE INSERT ON tx_missing_model
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('no_such_model', 'score', 'decision', 'model_version');

SHOW fraud_score.on_error;

-- error: each kind of failure aborts the INSERT, as before.
INSERT INTO tx (amount, hour) VALUES (10, '3');
INSERT INTO tx_missing_model (amount) VALUES (10);
SELECT count(*) AS rows_written FROM tx;

-- review: the same rows are written for a human to look at.
SET fraud_score.on_error = review;
INSERT INTO tx (amount, hour) VALUES (10, '3') RETURNING amount, score, decision, model_version;
INSERT INTO tx_missing_model (amount) VALUES (10) RETURNING amount, score, decision, model_version;

-- approve: written as approved.
SET fraud_score.on_error = approve;
INSERT INTO tx_missing_model (amount) VALUES (20) RETURNING amount, score, decision, model_version;

-- A feature function that fails, and one that gives a bad value.  Only the
-- call runs in a subtransaction: a call that raised has its effects (a row
-- it inserted) rolled back, a call that returned keeps them even when its
-- output is then refused, and the rest of the transaction goes on.  Of the
-- three rows' calls (10 fine, 60 a bad value, 200 raising) two rows remain.
CREATE TABLE oe_feature_calls (n int);
CREATE FUNCTION oe_failing_features(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oe_feature_calls VALUES (1);
    IF (doc->>'amount')::float8 > 100 THEN
        RAISE EXCEPTION 'history lookup failed for amount %', doc->>'amount';
    END IF;
    RETURN jsonb_build_object('merchant_risk', CASE WHEN (doc->>'amount')::float8 > 50 THEN '"high"'::jsonb ELSE '0.5'::jsonb END);
END $$;
SELECT fraud_model_load('oe_fn', decode(:'small_ubj', 'base64'), feature_function => 'oe_failing_features(jsonb)');
CREATE TABLE tx_fn (LIKE tx_missing_model INCLUDING DEFAULTS);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_fn
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe_fn', 'score', 'decision', 'model_version');
SET fraud_score.on_error = review;
BEGIN;
INSERT INTO tx_fn (amount) VALUES (10), (60), (200) RETURNING amount, score IS NOT NULL AS scored, decision, model_version;
SELECT count(*) AS feature_function_rows_kept FROM oe_feature_calls;
COMMIT;
SELECT amount, decision FROM tx_fn ORDER BY amount;

-- A stored model that no longer validates (the table's owner can write it).
CREATE TABLE tx_broken (LIKE tx_missing_model INCLUDING DEFAULTS);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_broken
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe_broken', 'score', 'decision', 'model_version');
SELECT fraud_model_load('oe_broken', decode(:'small_ubj', 'base64'));
UPDATE fraud_score_models SET model = substring(model FROM 1 FOR 100),
                              sha256 = encode(sha256(substring(model FROM 1 FOR 100)), 'hex')
WHERE name = 'oe_broken';
INSERT INTO tx_broken (amount) VALUES (1) RETURNING score, decision, model_version;
SET fraud_score.on_error = error;
INSERT INTO tx_broken (amount) VALUES (1);

-- (sql/stats.sql shows these failures counted in fraud_score_stats.)

-- A misconfigured trigger is always an error, whatever the policy.
SET fraud_score.on_error = approve;
CREATE TABLE tx_bad_config (amount float8, score text);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_bad_config
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe', 'score');
INSERT INTO tx_bad_config (amount) VALUES (1);
CREATE TABLE tx_no_column (amount float8);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_no_column
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe', 'score');
INSERT INTO tx_no_column (amount) VALUES (1);

-- A cancel is never turned into a decision.
CREATE FUNCTION oe_slow_features(doc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('slept', pg_sleep(5))
$$;
SELECT fraud_model_load('oe_slow', decode(:'small_ubj', 'base64'), feature_function => 'oe_slow_features(jsonb)');
CREATE TABLE tx_slow (LIKE tx_missing_model INCLUDING DEFAULTS);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_slow
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe_slow', 'score', 'decision');
SET statement_timeout = '100ms';
INSERT INTO tx_slow (amount) VALUES (1);
RESET statement_timeout;
SELECT count(*) AS slow_rows FROM tx_slow;

-- Errors that belong to the transaction, not the row, are raised whatever
-- the policy (each ERROR below): a serialization failure and a deadlock (the
-- client must retry), exhausted resources.  A lock timeout in a feature
-- function is the row's failure: its data was late.
CREATE FUNCTION oe_raising_features(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'raised on purpose' USING ERRCODE = doc->>'code';
END $$;
SELECT fraud_model_load('oe_raise', decode(:'small_ubj', 'base64'), feature_function => 'oe_raising_features(jsonb)');
CREATE TABLE tx_raise (amount float8, code text, score float8, decision text);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_raise
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe_raise', 'score', 'decision');
SET fraud_score.on_error = review;
INSERT INTO tx_raise (amount, code) VALUES (1, '40001');
INSERT INTO tx_raise (amount, code) VALUES (1, '40P01');
INSERT INTO tx_raise (amount, code) VALUES (1, '53200');
INSERT INTO tx_raise (amount, code) VALUES (1, '55P03') RETURNING code, score, decision;

SET fraud_score.on_error = approve;

-- Scoring that works is unaffected by the policy.
CREATE TABLE tx_ok (LIKE tx_missing_model INCLUDING DEFAULTS);
CREATE TRIGGER score_tx BEFORE INSERT ON tx_ok
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('oe', 'score', 'decision', 'model_version');
INSERT INTO tx_ok (amount) VALUES (30) RETURNING round(score::numeric, 6) AS score, decision, model_version;
SELECT round(fraud_score('{"amount": 30}', 'oe')::numeric, 6) AS same_score;

-- Only superusers set the policy: a role that could would be able to make
-- its own rows fail on purpose and have them approved.
CREATE ROLE oe_app;
SET ROLE oe_app;
SET fraud_score.on_error = approve;
RESET ROLE;
DROP ROLE oe_app;
RESET fraud_score.on_error;
