-- fraud_score_trigger(): scores rows on INSERT and UPDATE from their columns.
\i test/fixtures.psql
SELECT fraud_model_load('trg', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.1, decline_threshold => 0.5);

\set expected_table trg_expected
\i test/expected_table.psql

-- Feature columns in table order unlike the model's, plus unrelated columns.
CREATE TABLE payments (
    id integer PRIMARY KEY,
    note text,
    is_foreign float8,
    card_age_days float8,
    hour float8,
    merchant_risk float8,
    amount numeric,
    score float8,
    decision text,
    model_version integer
);
CREATE TRIGGER score_payment BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score', 'decision', 'model_version');

INSERT INTO payments (id, note, is_foreign, card_age_days, hour, merchant_risk, amount)
SELECT id, 'row ' || id, is_foreign, card_age_days, hour, merchant_risk, amount FROM trg_expected;

SELECT count(*) AS rows,
       max(abs(p.score - e.xgboost_score)) < 1e-6 AS scores_match_xgboost,
       count(*) FILTER (WHERE p.score <> fraud_score(to_jsonb(p) - 'score', 'trg')) AS differ_from_jsonb_path,
       count(*) FILTER (WHERE p.decision <> (fraud_decide(to_jsonb(p) - 'score', 'trg')).decision) AS decisions_differ,
       count(DISTINCT model_version) AS versions
FROM payments p JOIN trg_expected e USING (id);

SELECT decision, count(*) FROM payments GROUP BY 1 ORDER BY 1;

-- INSERT ... RETURNING shows what the application gets back.
INSERT INTO payments (id, amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES (100, 9.55, 15, 0.154, 26, 0), (101, 0.01, 3, 0.95, 0, 1), (102, NULL, NULL, NULL, NULL, NULL)
RETURNING id, round(score::numeric, 6) AS score, decision, model_version;

-- UPDATE rescores with the new values; the application cannot override the score.
UPDATE payments SET merchant_risk = 0.95, card_age_days = 0, is_foreign = 1, hour = 3,
                    amount = 0.01, score = 0
WHERE id = 100
RETURNING id, round(score::numeric, 6) AS score, decision;

-- A new active version is used by the next row, and recorded with it.
SELECT fraud_model_load('trg', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.01, decline_threshold => 0.02);
INSERT INTO payments (id, amount) VALUES (103, 10) RETURNING decision, model_version;
SELECT fraud_model_activate('trg', 1);
INSERT INTO payments (id, amount) VALUES (104, 10) RETURNING decision, model_version;

-- Output column types: real score, varchar decision, bigint version; domains;
-- feature columns of every accepted type; absent feature columns are missing.
CREATE DOMAIN risk AS float8 CHECK (VALUE BETWEEN 0 AND 1);
CREATE TABLE typed (
    amount smallint,
    hour bigint,
    merchant_risk risk,
    card_age_days real,
    is_foreign boolean,
    s real,
    d varchar(10),
    v bigint
);
CREATE TRIGGER t BEFORE INSERT ON typed
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 's', 'd', 'v');
INSERT INTO typed (amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES (88, 8, NULL, 0, false), (1, 3, 0.95, 0, true), (NULL, NULL, NULL, NULL, NULL);
SELECT t.s = fraud_score(jsonb_build_object('amount', amount, 'hour', hour,
           'merchant_risk', merchant_risk, 'card_age_days', card_age_days,
           'is_foreign', is_foreign), 'trg')::real AS same_as_jsonb, d, v
FROM typed t;

CREATE TABLE few (amount integer, score float8);
CREATE TRIGGER t BEFORE INSERT ON few
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score');
INSERT INTO few (amount) VALUES (250) RETURNING score = fraud_score('{"amount": 250}', 'trg') AS only_amount;

-- A schema change is picked up at the next row.
ALTER TABLE few ADD COLUMN hour integer;
INSERT INTO few (amount, hour) VALUES (250, 3) RETURNING score = fraud_score('{"amount": 250, "hour": 3}', 'trg') AS with_hour;
ALTER TABLE few DROP COLUMN hour;
INSERT INTO few (amount) VALUES (250) RETURNING score = fraud_score('{"amount": 250}', 'trg') AS hour_gone;

-- Errors at the first row, naming the column.
CREATE TABLE bad (amount integer, score float8, decision text, version integer, hour text, n int);
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'nope');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'decision');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score', 'n');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score', 'decision', 'decision');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score', 'decision', 'version');
INSERT INTO bad (amount) VALUES (1);  -- "hour" is text: not a feature column
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score', 'decision', 'version', 'reasons', 'extra');
INSERT INTO bad (amount) VALUES (1);
DROP TRIGGER t ON bad;
CREATE TRIGGER t1 AFTER INSERT ON few
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score');
INSERT INTO few (amount) VALUES (1);
DROP TRIGGER t1 ON few;
CREATE TRIGGER t2 BEFORE INSERT ON few
    FOR EACH STATEMENT EXECUTE FUNCTION fraud_score_trigger('trg', 'score');
INSERT INTO few (amount) VALUES (1);
DROP TRIGGER t2 ON few;
CREATE TRIGGER t3 BEFORE DELETE ON few
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score');
DELETE FROM few;
DROP TRIGGER t3 ON few;
DROP TRIGGER t ON few;
CREATE TRIGGER t4 BEFORE INSERT ON few
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('missing_model', 'score');
INSERT INTO few (amount) VALUES (1);
SELECT fraud_score_trigger();

-- Output columns of exact types only: a domain's constraints and a short
-- varchar would be bypassed by writing the new row directly.
CREATE DOMAIN low_score AS float8 CHECK (VALUE < 0.1);
CREATE TABLE constrained (amount float8, s low_score, d varchar(3));
CREATE TRIGGER t BEFORE INSERT ON constrained
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 's');
INSERT INTO constrained (amount) VALUES (1);
ALTER TABLE constrained ALTER COLUMN s TYPE float8;
DROP TRIGGER t ON constrained;
CREATE TRIGGER t BEFORE INSERT ON constrained
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 's', 'd');
INSERT INTO constrained (amount) VALUES (1);
SELECT count(*) FROM constrained;

-- Bad values abort the insert, naming the feature; nothing is written.
CREATE TABLE wide (amount float8, score float8);
CREATE TRIGGER t BEFORE INSERT ON wide
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('trg', 'score');
INSERT INTO wide VALUES (1e300);
-- Infinity is compared like any number; NaN is XGBoost's missing value.
INSERT INTO wide VALUES ('Infinity'), ('NaN')
RETURNING amount, score = fraud_score('{"amount": 3e38}', 'trg') AS same_as_huge,
          score = fraud_score('{}', 'trg') AS same_as_missing;
SELECT count(*) FROM wide;
