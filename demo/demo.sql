-- fraud_score demo: run by `make demo` on a throwaway cluster.
\pset footer off
\echo '== 1. Install the extension and load a model (XGBoost UBJSON, 20 trees)'
CREATE EXTENSION fraud_score;
\set model `base64 -w0 test/fixtures/small.ubj`
SELECT fraud_model_load('default', decode(:'model', 'base64'),
                        review_threshold => 0.25, decline_threshold => 0.7,
                        description => 'demo model (test fixture)') AS version;
SELECT name, version, active, features, review_threshold, decline_threshold, size_bytes
FROM fraud_models;

\echo '== 2. A payments table scored by a BEFORE INSERT trigger'
CREATE TABLE payments (
    id bigserial PRIMARY KEY,
    card text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    hour integer,
    merchant_risk real,
    card_age_days integer,
    is_foreign boolean,
    score float8,
    decision text,
    model_version integer
);
CREATE TRIGGER score_payment BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('default', 'score', 'decision', 'model_version');

INSERT INTO payments (card, amount, hour, merchant_risk, card_age_days, is_foreign) VALUES
    ('4111-0001', 12.50, 14, 0.05, 900, false),
    ('4111-0002', 64.00, 11, 0.20, 400, false),
    ('4111-0003', 35.99, 2, 1.00, 0, true),
    ('4111-0004', 0.01, 3, 0.95, 0, true),
    ('4111-0005', 88.42, 8, NULL, 0, false),
    ('4111-0006', 4999.99, 4, NULL, NULL, true)
RETURNING id, card, amount, round(score::numeric, 4) AS score, decision, model_version;

\echo '== 3. Ad hoc scoring of a JSON document'
SELECT round(fraud_score('{"amount": 912.5, "hour": 4, "merchant_risk": 0.8, "card_age_days": 3, "is_foreign": true}')::numeric, 4) AS score;
SELECT * FROM fraud_decide('{"amount": 912.5, "hour": 4, "merchant_risk": 0.8, "card_age_days": 3, "is_foreign": true}');

\echo '== 4. A stricter version goes live, then is rolled back'
SELECT fraud_model_load('default', decode(:'model', 'base64'),
                        review_threshold => 0.02, decline_threshold => 0.5,
                        description => 'stricter thresholds') AS version;
INSERT INTO payments (card, amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES ('4111-0007', 64.00, 11, 0.20, 400, false)
RETURNING id, card, round(score::numeric, 4) AS score, decision, model_version;
SELECT fraud_model_activate('default', 1);
INSERT INTO payments (card, amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES ('4111-0008', 64.00, 11, 0.20, 400, false)
RETURNING id, card, round(score::numeric, 4) AS score, decision, model_version;

\echo '== 5. Decisions so far'
SELECT decision, count(*) AS payments, round(avg(score)::numeric, 4) AS mean_score
FROM payments GROUP BY decision ORDER BY decision;
