-- fraud_live_performance: per period and version, what the flagged set
-- realized on the rows whose labels have matured.
CREATE TABLE lp_rows (scored_at timestamp, version integer, score float8, decision text, is_fraud boolean);
INSERT INTO lp_rows VALUES
    -- day 1, version 1: scores 0.9 F, 0.8 G, 0.7 F, 0.1 G matured; 0.95 not yet
    ('2026-03-01 10:00', 1, 0.9, 'decline', true),
    ('2026-03-01 11:00', 1, 0.8, 'review', false),
    ('2026-03-01 12:00', 1, 0.7, 'approve', true),
    ('2026-03-01 13:00', 1, 0.1, 'approve', false),
    ('2026-03-01 14:00', 1, 0.95, 'decline', NULL),
    -- day 1, version 2: a tie at 0.6 of one fraud and one genuine
    ('2026-03-01 15:00', 2, 0.6, 'review', true),
    ('2026-03-01 16:00', 2, 0.6, 'review', false),
    ('2026-03-01 17:00', 2, 0.2, 'approve', false),
    -- day 2, version 1: nothing matured, no fraud
    ('2026-03-02 09:00', 1, 0.3, 'approve', NULL),
    ('2026-03-02 10:00', 1, 0.5, 'review', false);
-- Day 1 v1: flagged 3 of 5; matured 4, frauds 2; flagged and matured 2 (0.9,
-- 0.8), 1 fraud: precision 0.5, recall 0.5; average precision over 0.9 F,
-- 0.8 G, 0.7 F, 0.1 G: (1/1 + 2/3) / 2 = 0.8333.  v2: the tie counts as one
-- threshold of precision 1/2, so AP 0.5.
SELECT period_start, version, rows, flagged, round(flagged_rate::numeric, 4) AS flagged_rate,
       matured_rows, frauds, flagged_frauds, round(precision::numeric, 4) AS precision,
       round(recall::numeric, 4) AS recall, round(average_precision::numeric, 4) AS average_precision
FROM fraud_live_performance('SELECT * FROM lp_rows');
SELECT period_start, version, rows, matured_rows, round(precision::numeric, 4) AS precision,
       round(average_precision::numeric, 4) AS average_precision
FROM fraud_live_performance('SELECT * FROM lp_rows', 'all');
SELECT period_start, version, rows FROM fraud_live_performance('SELECT * FROM lp_rows', 'month');

-- The query runs with the caller's search_path (and privileges).
CREATE SCHEMA lp;
CREATE TABLE lp.other AS SELECT * FROM lp_rows WHERE version = 2;
SET search_path = lp, public;
SELECT version, rows FROM fraud_live_performance('SELECT * FROM other');
RESET search_path;

-- Mistakes are errors.
SELECT * FROM fraud_live_performance('SELECT * FROM lp_rows', 'fortnight');
SELECT * FROM fraud_live_performance('SELECT 1 AS scored_at');
SELECT * FROM fraud_live_performance('SELECT scored_at, version, score, decision, point(1, 1) AS is_fraud FROM lp_rows');

-- The example schema's ready call: card_tx as of a time, labels maturing 7
-- days after a transaction.
-- (in a schema of its own: sql/features.sql installs the example too)
\getenv abs_srcdir PG_ABS_SRCDIR
\set example `cat :'abs_srcdir'/examples/card_transactions.sql`
CREATE SCHEMA lp_example;
SET search_path = lp_example, public;
SET client_min_messages = warning;
:example
RESET client_min_messages;
INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
                     fraud_reported_at, score, decision, model_version)
VALUES (1, '2026-03-01 10:00', 1, 1, 10, '2026-03-08 10:00', 0.9, 'decline', 1),
       (2, '2026-03-01 11:00', 2, 1, 10, NULL, 0.8, 'review', 1),
       (3, '2026-03-01 12:00', 3, 1, 10, '2026-03-08 12:00', 0.2, 'approve', 1),
       (4, '2026-03-09 12:00', 3, 1, 10, NULL, 0.9, 'decline', 1);
-- As of 2026-03-08 11:00: the first two rows have matured, the third not yet
-- (its report comes at 12:00); the fourth is in the future.
SELECT period_start, version, rows, matured_rows, frauds, round(precision::numeric, 4) AS precision
FROM card_tx_live_performance('2026-03-08 11:00');
SELECT period_start, version, rows, matured_rows, frauds, round(recall::numeric, 4) AS recall
FROM card_tx_live_performance('2026-03-20', period => 'all');
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA lp_example CASCADE;
RESET client_min_messages;
