-- fraud_decide(): score, decision band, model and version.
\i test/fixtures.psql
SELECT fraud_model_load('dec', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.1, decline_threshold => 0.5);

-- Scores 0.0698, 0.1228 and 0.6220 against review 0.1 / decline 0.5.
SELECT d.decision, round(d.score::numeric, 4) AS score, d.model, d.version
FROM (VALUES (1, '{"amount": 9.55, "hour": 15, "merchant_risk": 0.154, "card_age_days": 26, "is_foreign": 0}'::jsonb),
             (2, '{"amount": 88.42, "hour": 8, "card_age_days": 0, "is_foreign": 0}'),
             (3, '{}')) AS v(i, doc),
     LATERAL fraud_decide(doc, 'dec') AS d
ORDER BY v.i;

-- The score agrees with fraud_score().
SELECT (fraud_decide('{"amount": 88.42}', 'dec')).score = fraud_score('{"amount": 88.42}', 'dec') AS same_score;

-- Bands are closed below: a score equal to a threshold takes the higher band.
SELECT fraud_model_load('edge', decode(:'small_ubj', 'base64'),
                        review_threshold => fraud_score('{}', 'dec'),
                        decline_threshold => 1);
SELECT decision, version FROM fraud_decide('{}', 'edge');
SELECT fraud_model_load('edge', decode(:'small_ubj', 'base64'),
                        review_threshold => 0,
                        decline_threshold => fraud_score('{}', 'dec'));
SELECT decision, version FROM fraud_decide('{}', 'edge');
SELECT fraud_model_load('edge', decode(:'small_ubj', 'base64'),
                        review_threshold => 0, decline_threshold => 0);
SELECT decision FROM fraud_decide('{"amount": 9.55}', 'edge');
SELECT fraud_model_load('edge', decode(:'small_ubj', 'base64'),
                        review_threshold => 1, decline_threshold => 1);
SELECT decision FROM fraud_decide('{}', 'edge');

-- Rolling back changes the version reported and the thresholds applied.
SELECT fraud_model_activate('edge', 1);
SELECT decision, version FROM fraud_decide('{}', 'edge');

-- NULL features give a NULL row; the default model and errors as fraud_score().
SELECT fraud_decide(NULL, 'dec') IS NULL AS null_row;
SET fraud_score.default_model = 'dec';
SELECT model, version FROM fraud_decide('{"amount": 1}');
RESET fraud_score.default_model;
SELECT * FROM fraud_decide('{"amount": 1}');
SELECT * FROM fraud_decide('{"amount": "1"}', 'dec');
