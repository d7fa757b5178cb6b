-- examples/card_transactions.sql: an installable schema for card transactions
-- with point-in-time fraud features.  Run it with psql in a database where
-- CREATE EXTENSION fraud_score has been done:
--
--     psql -f examples/card_transactions.sql
--
-- card_tx          one row per transaction, in arrival order (seq); the
--                  scoring trigger fills score, decision and model_version.
-- card_tx_labels   ground truth as it arrives from chargebacks; a fraud label
--                  is copied to card_tx.fraud_reported_at when it becomes known.
-- card_tx_features(jsonb) RETURNS jsonb
--                  the feature function: for one transaction (the trigger's
--                  NEW, or to_jsonb() of a stored row), features computed from
--                  the rows inserted before it (seq) and from the fraud labels
--                  known at its time (fraud_reported_at <= tx_datetime).  It
--                  never reads a later row or a label not yet known, so the
--                  same function serves live scoring and training.
-- card_tx_report_frauds(until timestamp, delay interval)
--                  marks as known every fraud whose label arrives by "until",
--                  a label arriving "delay" after its transaction.

CREATE TABLE card_tx (
	transaction_id bigint PRIMARY KEY,
	tx_datetime timestamp NOT NULL,
	customer_id integer NOT NULL,
	terminal_id integer NOT NULL,
	tx_amount numeric(12, 2) NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,	-- arrival order
	fraud_reported_at timestamp,	-- when it became known as fraud; NULL: not known
	score float8,
	decision text,
	model_version integer
);

-- Each feature query is one range scan of one of these.
CREATE INDEX card_tx_customer_idx ON card_tx (customer_id, tx_datetime)
	INCLUDE (tx_amount, seq, fraud_reported_at);
CREATE INDEX card_tx_terminal_idx ON card_tx (terminal_id, tx_datetime)
	INCLUDE (seq, fraud_reported_at);
CREATE INDEX card_tx_terminal_fraud_idx ON card_tx (terminal_id, tx_datetime)
	INCLUDE (seq, fraud_reported_at) WHERE fraud_reported_at IS NOT NULL;

CREATE TABLE card_tx_labels (
	transaction_id bigint PRIMARY KEY,
	is_fraud boolean NOT NULL,
	scenario integer NOT NULL DEFAULT 0	-- simulator's fraud scenario; never a feature
);

CREATE FUNCTION card_tx_report_frauds(until timestamp, delay interval DEFAULT '7 days')
RETURNS bigint
LANGUAGE sql
AS $$
	WITH reported AS (
		UPDATE card_tx t SET fraud_reported_at = t.tx_datetime + delay
		FROM card_tx_labels l
		WHERE l.transaction_id = t.transaction_id AND l.is_fraud
		  AND t.fraud_reported_at IS NULL AND t.tx_datetime + delay <= until
		RETURNING 1
	)
	SELECT count(*) FROM reported
$$;

-- VOLATILE, not STABLE: a volatile function's queries see the rows inserted
-- earlier by the same statement, so a multi-row INSERT scores each row with
-- the same history as one INSERT per row.
CREATE FUNCTION card_tx_features(tx jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
WITH me AS (
	SELECT coalesce((tx->>'tx_datetime')::timestamp, localtimestamp) AS t,
		   (tx->>'customer_id')::integer AS customer,
		   (tx->>'terminal_id')::integer AS terminal,
		   (tx->>'tx_amount')::float8 AS amount,
		   -- an ad hoc document without seq sees every stored row
		   coalesce((tx->>'seq')::bigint, 9223372036854775807) AS seq
),
card AS (
	SELECT count(*) FILTER (WHERE h.tx_datetime > me.t - interval '1 day') AS n_1d,
		   count(*) FILTER (WHERE h.tx_datetime > me.t - interval '7 days') AS n_7d,
		   count(*) FILTER (WHERE h.tx_datetime > me.t - interval '14 days') AS n_14d,
		   count(*) AS n_90d,
		   avg(h.tx_amount) FILTER (WHERE h.tx_datetime > me.t - interval '7 days'
									  AND NOT coalesce(h.fraud_reported_at <= me.t, false)) AS mean_7d,
		   avg(h.tx_amount) FILTER (WHERE h.tx_datetime > me.t - interval '14 days'
									  AND NOT coalesce(h.fraud_reported_at <= me.t, false)) AS mean_14d,
		   avg(h.tx_amount) FILTER (WHERE NOT coalesce(h.fraud_reported_at <= me.t, false)) AS mean_90d,
		   count(*) FILTER (WHERE h.tx_datetime > me.t - interval '30 days'
							  AND h.fraud_reported_at <= me.t) AS known_frauds_30d
	FROM me, card_tx h
	WHERE h.customer_id = me.customer AND h.tx_datetime > me.t - interval '90 days'
	  AND h.tx_datetime <= me.t AND h.seq < me.seq
),
card_spikes AS (
	SELECT count(*) FILTER (WHERE h.tx_amount > 2.5 * card.mean_90d) AS over_2_5x_7d,
		   count(*) FILTER (WHERE h.tx_amount > 3.5 * card.mean_90d) AS over_3_5x_7d
	FROM me, card, card_tx h
	WHERE h.customer_id = me.customer AND h.tx_datetime > me.t - interval '7 days'
	  AND h.tx_datetime <= me.t AND h.seq < me.seq
),
terminal AS (
	SELECT count(*) FILTER (WHERE h.tx_datetime > me.t - interval '7 days') AS n_7d,
		   count(*) AS n_30d,
		   count(*) FILTER (WHERE h.tx_datetime > me.t - interval '7 days'
							  AND h.fraud_reported_at <= me.t) AS known_frauds_7d,
		   count(*) FILTER (WHERE h.fraud_reported_at <= me.t) AS known_frauds_30d
	FROM me, card_tx h
	WHERE h.terminal_id = me.terminal AND h.tx_datetime > me.t - interval '30 days'
	  AND h.tx_datetime <= me.t AND h.seq < me.seq
),
terminal_last_fraud AS (
	SELECT max(h.tx_datetime) AS at
	FROM me, card_tx h
	WHERE h.terminal_id = me.terminal AND h.fraud_reported_at IS NOT NULL
	  AND h.fraud_reported_at <= me.t AND h.tx_datetime <= me.t AND h.seq < me.seq
)
SELECT jsonb_build_object(
	'amount', me.amount,
	'hour', extract(hour FROM me.t),
	'is_weekend', extract(isodow FROM me.t) >= 6,
	'card_n_1d', card.n_1d,
	'card_n_7d', card.n_7d,
	'card_n_14d', card.n_14d,
	'card_n_90d', card.n_90d,
	'card_mean_7d', round(card.mean_7d, 4),
	'card_mean_14d', round(card.mean_14d, 4),
	'card_mean_90d', round(card.mean_90d, 4),
	'amount_ratio_7d', round((me.amount / nullif(card.mean_7d, 0))::numeric, 4),
	'amount_ratio_14d', round((me.amount / nullif(card.mean_14d, 0))::numeric, 4),
	'amount_ratio_90d', round((me.amount / nullif(card.mean_90d, 0))::numeric, 4),
	'card_over_2_5x_7d', card_spikes.over_2_5x_7d,
	'card_over_3_5x_7d', card_spikes.over_3_5x_7d,
	'card_known_frauds_30d', card.known_frauds_30d,
	'terminal_n_7d', terminal.n_7d,
	'terminal_n_30d', terminal.n_30d,
	'terminal_known_frauds_7d', terminal.known_frauds_7d,
	'terminal_known_frauds_30d', terminal.known_frauds_30d,
	'terminal_fraud_rate_7d', round(terminal.known_frauds_7d::numeric / nullif(terminal.n_7d, 0), 4),
	'terminal_fraud_rate_30d', round(terminal.known_frauds_30d::numeric / nullif(terminal.n_30d, 0), 4),
	'days_since_terminal_fraud',
		round((extract(epoch FROM me.t - terminal_last_fraud.at) / 86400)::numeric, 4))
FROM me, card, card_spikes, terminal, terminal_last_fraud
$$;
