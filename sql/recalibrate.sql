-- fraud_model_recalibrate: thresholds for the days ahead from matured labels,
-- following a shift in the fraud rate that the recent unlabeled rows show.
\i test/fixtures.psql
SELECT fraud_model_load('rc', decode(:'small_ubj', 'base64'),
                        review_threshold => 0.1, decline_threshold => 0.5);
-- Synthetic scores: 20,000 genuine rows mostly low, 400 frauds mostly high
-- (a fraud rate of 1.96%), and the days ahead drawn the same way; then the
-- same days ahead with twice the genuine rows (0.99%).
SELECT setseed(0.42);
CREATE TABLE rc_labeled AS
SELECT (random() ^ 6) * 0.6 AS score, false AS is_fraud FROM generate_series(1, 20000)
UNION ALL
SELECT 1 - (random() ^ 2) * 0.7, true FROM generate_series(1, 400);
CREATE TABLE rc_ahead AS
SELECT (random() ^ 6) * 0.6 AS score, false AS is_fraud FROM generate_series(1, 20000)
UNION ALL
SELECT 1 - (random() ^ 2) * 0.7, true FROM generate_series(1, 400);
CREATE TABLE rc_ahead_shifted AS
SELECT * FROM rc_ahead
UNION ALL
SELECT (random() ^ 6) * 0.6, false FROM generate_series(1, 20000);
-- Precision of the rows at or above a threshold.
CREATE FUNCTION rc_precision(rows regclass, threshold float8) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE p numeric;
BEGIN
    EXECUTE format('SELECT round(avg(is_fraud::int)::numeric, 3) FROM %s WHERE score >= $1', rows)
        INTO p USING threshold;
    RETURN p;
END $$;

-- From the labels alone: the lowest threshold whose precision, with the
-- sampling error of the labeled rows (confidence 0.9), reaches 0.5.
SELECT id, name, version, outcome, old_review_threshold, old_decline_threshold,
       labeled_rows, labeled_frauds, recent_rows, round(labeled_fraud_rate::numeric, 4) AS labeled_rate,
       round(estimated_fraud_rate::numeric, 4) AS estimated_rate, target_precision, decline_precision,
       recalibrated_by = current_user AS by_me, recalibrated_at = now() AS now
FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled');
SELECT review_threshold AS labeled_only_review FROM fraud_models WHERE name = 'rc' AND active \gset
SELECT review_threshold = new_review_threshold AND decline_threshold = new_decline_threshold AS catalog_updated,
       rc_precision('rc_labeled', review_threshold) AS labeled_precision,
       round(predicted_precision::numeric, 3) AS predicted_precision,
       rc_precision('rc_ahead', review_threshold) >= 0.5 AS ahead_keeps_0_5,
       rc_precision('rc_labeled', decline_threshold) >= 0.9 AS decline_keeps_0_9,
       new_decline_threshold > new_review_threshold AS decline_above_review
FROM fraud_models m JOIN fraud_score_recalibrations r ON r.name = m.name AND r.version = m.version
WHERE m.name = 'rc' AND m.active AND r.id = (SELECT max(id) FROM fraud_score_recalibrations);
-- No lower threshold would keep the bound: one step below the chosen one the
-- labeled precision is at most what the bound allowed.
SELECT count(*) FILTER (WHERE l.score < m.review_threshold) > 0 AS rows_below,
       rc_precision('rc_labeled', (SELECT max(score) FROM rc_labeled WHERE score < m.review_threshold))
           < rc_precision('rc_labeled', m.review_threshold) AS lower_is_worse
FROM rc_labeled l, fraud_models m WHERE m.name = 'rc' AND m.active GROUP BY m.review_threshold;

-- Twice the genuine rows ahead: at the old threshold precision falls below
-- the target; with the recent scores the fraud rate is estimated (about
-- half) and the threshold rises so that the shifted days keep it.
SELECT rc_precision('rc_ahead_shifted', review_threshold) < 0.5 AS unshifted_threshold_falls_short
FROM fraud_models WHERE name = 'rc' AND active;
SELECT outcome, recent_rows, round(estimated_fraud_rate::numeric, 4) AS estimated_rate,
       abs(estimated_fraud_rate - 400.0 / 40400) < 0.002 AS near_true_rate,
       new_review_threshold > old_review_threshold AS raised
FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled',
                             recent_query => 'SELECT score FROM rc_ahead_shifted');
-- (this synthetic model separates the classes poorly: keeping the precision
-- costs recall, as the audit row predicted)
SELECT rc_precision('rc_ahead_shifted', review_threshold) >= 0.5 AS shifted_keeps_0_5,
       (SELECT round(avg((score >= m.review_threshold)::int)::numeric, 2) FROM rc_ahead_shifted WHERE is_fraud)
           AS recall,
       (SELECT round(predicted_recall::numeric, 2) FROM fraud_score_recalibrations ORDER BY id DESC LIMIT 1)
           AS predicted_recall
FROM fraud_models m WHERE name = 'rc' AND active;

-- A rising fraud rate (a wave: half the genuine rows) is estimated but not
-- followed until its labels mature: the thresholds go back to what the
-- labels alone give.
CREATE TABLE rc_wave AS
SELECT * FROM rc_ahead WHERE is_fraud OR random() < 0.5;
SELECT outcome, abs(estimated_fraud_rate - (SELECT avg(is_fraud::int) FROM rc_wave)) < 0.005 AS wave_estimated,
       new_review_threshold = :labeled_only_review AS labels_alone
FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled',
                             recent_query => 'SELECT score FROM rc_wave');
SELECT outcome FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled',
                                            recent_query => 'SELECT score FROM rc_ahead_shifted');

-- Scoring uses the new thresholds at once, here and (after commit) in every session.
\set expected_table rc_expected
\i test/expected_table.psql
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (fraud_decide(d, 'rc')).decision =
                        CASE WHEN fraud_score(d, 'rc') >= m.decline_threshold THEN 'decline'
                             WHEN fraud_score(d, 'rc') >= m.review_threshold THEN 'review'
                             ELSE 'approve' END) AS at_new_thresholds,
       count(DISTINCT (fraud_decide(d, 'rc')).decision) AS decisions
FROM (SELECT to_jsonb(e) - 'xgboost_score' AS d FROM rc_expected e) r,
     fraud_models m WHERE m.name = 'rc' AND m.active;
-- A second call with the same data changes nothing.
SELECT outcome FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled',
                                             recent_query => 'SELECT score FROM rc_ahead_shifted');
-- A target no threshold reaches keeps the thresholds, and says so.
SELECT outcome, new_review_threshold = old_review_threshold AS kept
FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', 0.999, 0.9999);
-- Transactional: rolled back, the thresholds and the audit are as before.
SELECT review_threshold AS before FROM fraud_models WHERE name = 'rc' AND active \gset
SELECT count(*) AS audits FROM fraud_score_recalibrations \gset
BEGIN;
SELECT outcome FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', 0.3);
ROLLBACK;
SELECT review_threshold = :before AS same_threshold,
       (SELECT count(*) FROM fraud_score_recalibrations) = :audits AS same_audits
FROM fraud_models WHERE name = 'rc' AND active;

-- The queries run with the caller's search_path.
CREATE SCHEMA rc;
CREATE TABLE rc.labels AS SELECT * FROM rc_labeled;
SET search_path = rc, public;
SELECT outcome, labeled_rows FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM labels');
RESET search_path;

-- Mistakes are errors.
SELECT fraud_model_recalibrate('rc', '(SELECT score, is_fraud FROM rc_labeled WHERE is_fraud LIMIT 10) UNION ALL SELECT 0.1, false');
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', min_frauds => 1000);
SELECT fraud_model_recalibrate('rc', 'SELECT score FROM rc_labeled');
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', recent_query => 'SELECT 1 AS x');
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', 1.5);
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', 0.5, 0.4);
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', confidence => 0.2);
SELECT fraud_model_recalibrate('rc', NULL);
SELECT fraud_model_recalibrate('nosuch', 'SELECT score, is_fraud FROM rc_labeled');
SELECT fraud_model_load('rc_inactive', decode(:'small_ubj', 'base64'), activate => false);
SELECT fraud_model_recalibrate('rc_inactive', 'SELECT score, is_fraud FROM rc_labeled');
SELECT fraud_model_recalibrate('bad name!', 'SELECT score, is_fraud FROM rc_labeled');

-- The policy alone, called directly.
SELECT review_threshold, decline_threshold, labeled_rows, labeled_frauds, recent_rows,
       round(review_recall::numeric, 4) AS review_recall
FROM fraud_recalibration_thresholds(ARRAY[0.9, 0.8, 0.7, 0.6, 0.1, 0.05], ARRAY[true, true, true, false, false, false],
                                    NULL, 0.5, 0.9, 0.5, 1);
SELECT * FROM fraud_recalibration_thresholds(NULL, ARRAY[true], NULL, 0.5, 0.9, 0.9, 1);
SELECT * FROM fraud_recalibration_thresholds(ARRAY[0.5, 0.4], ARRAY[true], NULL, 0.5, 0.9, 0.9, 1);
SELECT * FROM fraud_recalibration_thresholds(ARRAY[0.5, 0.4], ARRAY[true, false], ARRAY[[0.1], [0.2]], 0.5, 0.9, 0.9, 1);
SELECT * FROM fraud_recalibration_thresholds(ARRAY[0.5, 0.4], ARRAY[true, false], NULL, 0, 0.9, 0.9, 1);
SELECT * FROM fraud_recalibration_thresholds(ARRAY[0.5, 0.4], ARRAY[true, false], NULL, 0.5, 0.9, 0.9, NULL);
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', confidence => NULL);

-- Recalibrating is for fraud_score_admin, whose audit rows name them.
CREATE ROLE rc_app;
CREATE ROLE rc_dba IN ROLE fraud_score_admin;
GRANT SELECT ON rc_labeled TO rc_app, rc_dba;
SET ROLE rc_app;
SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled');
SET ROLE rc_dba;
SELECT outcome, recalibrated_by FROM fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled', 0.6);
RESET ROLE;
DROP OWNED BY rc_app, rc_dba;
DROP ROLE rc_app, rc_dba;
