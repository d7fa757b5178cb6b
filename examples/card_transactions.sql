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
-- card_tx_velocity(jsonb) RETURNS jsonb
--                  the same features from a declared feature set: computed in
--                  C from time buckets kept by triggers (docs/velocity.md).
-- card_tx_report_frauds(until timestamp, delay interval)
--                  marks as known every fraud whose label arrives by "until",
--                  a label arriving "delay" after its transaction.
-- card_tx_live_performance(as_of, delay, period, since)
--                  fraud_live_performance over card_tx as of "as_of": a row's
--                  label has matured once "delay" has passed since it.
-- card_tx_recalibrate(model, as_of, target_precision, ...)
--                  the nightly recalibration: fraud_model_recalibrate on the
--                  rows of the last "labeled_window" that have matured, scored
--                  by the active version, with the fraud rate of the last
--                  "recent_window" estimated from its scores.
-- card_tx_drift(model, as_of, recent_window)
--                  fraud_model_drift over the transactions of the last
--                  "recent_window": their features and the active version's
--                  score against the version's reference distributions.
-- card_tx_backtest(model, candidate, since, until, as_of, delay)
--                  fraud_model_backtest of version "candidate" beside the active
--                  version over the transactions from "since" to "until", their
--                  features as of each one, labels as known at "as_of".

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

-- Each feature query is one index-only range scan of one of these: VACUUM
-- card_tx after bulk loads and label updates so that the scans need not visit
-- the heap (it made the features 2.5x faster on the handbook data).
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

-- PL/pgSQL, so that every query is planned with the row's values as
-- parameters: each is then one index range scan (a SQL function's CTEs were
-- planned as joins that scanned whole indexes).  VOLATILE, not STABLE: a
-- volatile function's queries see the rows inserted earlier by the same
-- statement, so a multi-row INSERT scores each row with the same history as
-- one INSERT per row.
CREATE FUNCTION card_tx_features(tx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
AS $$
DECLARE
	t timestamp := coalesce((tx->>'tx_datetime')::timestamp, localtimestamp);
	customer integer := (tx->>'customer_id')::integer;
	terminal integer := (tx->>'terminal_id')::integer;
	amount float8 := (tx->>'tx_amount')::float8;
	-- an ad hoc document without seq sees every stored row
	arrival bigint := coalesce((tx->>'seq')::bigint, 9223372036854775807);
	-- window starts, computed once rather than for every row scanned
	since_1d timestamp := t - interval '1 day';
	since_7d timestamp := t - interval '7 days';
	since_14d timestamp := t - interval '14 days';
	since_30d timestamp := t - interval '30 days';
	since_90d timestamp := t - interval '90 days';
	-- how far back the current fraud episode of a terminal or card may start
	episode_terminal timestamp := t - interval '35 days';
	episode_card timestamp := t - interval '21 days';
	card record;
	spikes record;
	term record;
	last_fraud timestamp;
	terminal_episode timestamp;
BEGIN
	SELECT count(*) FILTER (WHERE h.tx_datetime > since_1d) AS n_1d,
		   count(*) FILTER (WHERE h.tx_datetime > since_7d) AS n_7d,
		   count(*) FILTER (WHERE h.tx_datetime > since_14d) AS n_14d,
		   count(*) AS n_90d,
		   avg(h.tx_amount) FILTER (WHERE h.tx_datetime > since_7d
									  AND NOT coalesce(h.fraud_reported_at <= t, false)) AS mean_7d,
		   avg(h.tx_amount) FILTER (WHERE h.tx_datetime > since_14d
									  AND NOT coalesce(h.fraud_reported_at <= t, false)) AS mean_14d,
		   avg(h.tx_amount) FILTER (WHERE NOT coalesce(h.fraud_reported_at <= t, false)) AS mean_90d,
		   count(*) FILTER (WHERE h.tx_datetime > since_30d
							  AND h.fraud_reported_at <= t) AS known_frauds_30d,
		   min(h.tx_datetime) FILTER (WHERE h.tx_datetime > episode_card
										AND h.fraud_reported_at <= t) AS episode_start
	INTO card
	FROM card_tx h
	WHERE h.customer_id = customer AND h.tx_datetime > since_90d
	  AND h.tx_datetime <= t AND h.seq < arrival;

	SELECT count(*) FILTER (WHERE h.tx_amount > 2.5 * card.mean_90d) AS over_2_5x_7d,
		   count(*) FILTER (WHERE h.tx_amount > 3.5 * card.mean_90d) AS over_3_5x_7d
	INTO spikes
	FROM card_tx h
	WHERE h.customer_id = customer AND h.tx_datetime > since_7d
	  AND h.tx_datetime <= t AND h.seq < arrival;

	SELECT count(*) FILTER (WHERE h.tx_datetime > since_7d) AS n_7d,
		   count(*) AS n_30d,
		   count(*) FILTER (WHERE h.tx_datetime > since_7d
							  AND h.fraud_reported_at <= t) AS known_frauds_7d,
		   count(*) FILTER (WHERE h.fraud_reported_at <= t) AS known_frauds_30d
	INTO term
	FROM card_tx h
	WHERE h.terminal_id = terminal AND h.tx_datetime > since_30d
	  AND h.tx_datetime <= t AND h.seq < arrival;

	-- The terminal's known frauds (few, through the partial index): its last
	-- one, and the first of its current episode: compromises last weeks, so
	-- the episode's age tells an ongoing one from one that is over.
	SELECT max(h.tx_datetime), min(h.tx_datetime) FILTER (WHERE h.tx_datetime > episode_terminal)
	INTO last_fraud, terminal_episode
	FROM card_tx h
	WHERE h.terminal_id = terminal AND h.fraud_reported_at IS NOT NULL
	  AND h.fraud_reported_at <= t AND h.tx_datetime <= t AND h.seq < arrival;

	RETURN jsonb_build_object(
		'amount', amount,
		'hour', extract(hour FROM t),
		'is_weekend', extract(isodow FROM t) >= 6,
		'card_n_1d', card.n_1d,
		'card_n_7d', card.n_7d,
		'card_n_14d', card.n_14d,
		'card_n_90d', card.n_90d,
		'card_mean_7d', round(card.mean_7d, 4),
		'card_mean_14d', round(card.mean_14d, 4),
		'card_mean_90d', round(card.mean_90d, 4),
		'amount_ratio_7d', round((amount / nullif(card.mean_7d, 0))::numeric, 4),
		'amount_ratio_14d', round((amount / nullif(card.mean_14d, 0))::numeric, 4),
		'amount_ratio_90d', round((amount / nullif(card.mean_90d, 0))::numeric, 4),
		'card_over_2_5x_7d', spikes.over_2_5x_7d,
		'card_over_3_5x_7d', spikes.over_3_5x_7d,
		'card_known_frauds_30d', card.known_frauds_30d,
		'terminal_n_7d', term.n_7d,
		'terminal_n_30d', term.n_30d,
		'terminal_known_frauds_7d', term.known_frauds_7d,
		'terminal_known_frauds_30d', term.known_frauds_30d,
		'terminal_fraud_rate_7d', round(term.known_frauds_7d::numeric / nullif(term.n_7d, 0), 4),
		'terminal_fraud_rate_30d', round(term.known_frauds_30d::numeric / nullif(term.n_30d, 0), 4),
		'days_since_terminal_fraud',
			round((extract(epoch FROM t - last_fraud) / 86400)::numeric, 4),
		'days_since_terminal_episode',
			round((extract(epoch FROM t - terminal_episode) / 86400)::numeric, 4),
		'days_since_card_episode',
			round((extract(epoch FROM t - card.episode_start) / 86400)::numeric, 4));
END
$$;

-- The same 25 features as a declared feature set (docs/velocity.md):
-- card_tx_velocity(jsonb), computed in C from time buckets that triggers on
-- card_tx keep as rows and labels arrive, equal to card_tx_features (an
-- amount ratio may differ in its last digit: card_tx_features divides in
-- float8, the set exactly).  Models name either function as their feature
-- function.  Both entities keep day slots in 28-day buckets and no finer
-- tier: a handbook card or terminal has a few payments a day, and a day
-- with few rows is read from the table's own rows at a window's edge (one
-- index descent) rather than from a finer tier, which would cost an update
-- of a second bucket row on every insert.  A hot entity type (a merchant
-- with thousands a day) would add "1 day" and "1 hour" tiers with a
-- "1 minute" resolution.
SELECT fraud_feature_set_create('card_tx_velocity', 'card_tx', $$ {
  "time": "tx_datetime", "arrival": "seq", "known_at": "fraud_reported_at", "digits": 4,
  "entities": {
    "card": {"keys": ["customer_id"], "tiers": ["28 days"], "resolution": "1 day"},
    "terminal": {"keys": ["terminal_id"], "tiers": ["28 days"], "resolution": "1 day"}
  },
  "features": {
    "amount": {"kind": "value", "column": "tx_amount"},
    "hour": {"kind": "hour"},
    "is_weekend": {"kind": "is_weekend"},
    "card_n_1d": {"kind": "count", "entity": "card", "window": "1 day"},
    "card_n_7d": {"kind": "count", "entity": "card", "window": "7 days"},
    "card_n_14d": {"kind": "count", "entity": "card", "window": "14 days"},
    "card_n_90d": {"kind": "count", "entity": "card", "window": "90 days"},
    "card_mean_7d": {"kind": "mean", "entity": "card", "window": "7 days", "column": "tx_amount",
                     "rows": "unlabeled"},
    "card_mean_14d": {"kind": "mean", "entity": "card", "window": "14 days", "column": "tx_amount",
                      "rows": "unlabeled"},
    "card_mean_90d": {"kind": "mean", "entity": "card", "window": "90 days", "column": "tx_amount",
                      "rows": "unlabeled"},
    "amount_ratio_7d": {"kind": "ratio", "entity": "card", "window": "7 days", "column": "tx_amount",
                        "rows": "unlabeled"},
    "amount_ratio_14d": {"kind": "ratio", "entity": "card", "window": "14 days", "column": "tx_amount",
                         "rows": "unlabeled"},
    "amount_ratio_90d": {"kind": "ratio", "entity": "card", "window": "90 days", "column": "tx_amount",
                         "rows": "unlabeled"},
    "card_over_2_5x_7d": {"kind": "exceeds", "entity": "card", "window": "7 days", "column": "tx_amount",
                          "factor": 2.5, "mean_window": "90 days", "mean_rows": "unlabeled"},
    "card_over_3_5x_7d": {"kind": "exceeds", "entity": "card", "window": "7 days", "column": "tx_amount",
                          "factor": 3.5, "mean_window": "90 days", "mean_rows": "unlabeled"},
    "card_known_frauds_30d": {"kind": "known_count", "entity": "card", "window": "30 days"},
    "days_since_card_episode": {"kind": "episode_days", "entity": "card", "window": "21 days"},
    "terminal_n_7d": {"kind": "count", "entity": "terminal", "window": "7 days"},
    "terminal_n_30d": {"kind": "count", "entity": "terminal", "window": "30 days"},
    "terminal_known_frauds_7d": {"kind": "known_count", "entity": "terminal", "window": "7 days"},
    "terminal_known_frauds_30d": {"kind": "known_count", "entity": "terminal", "window": "30 days"},
    "terminal_fraud_rate_7d": {"kind": "known_rate", "entity": "terminal", "window": "7 days"},
    "terminal_fraud_rate_30d": {"kind": "known_rate", "entity": "terminal", "window": "30 days"},
    "days_since_terminal_fraud": {"kind": "days_since_known", "entity": "terminal"},
    "days_since_terminal_episode": {"kind": "episode_days", "entity": "terminal", "window": "35 days"}
  } } $$);

CREATE FUNCTION card_tx_live_performance(as_of timestamp DEFAULT localtimestamp,
										 delay interval DEFAULT '7 days',
										 period text DEFAULT 'day',
										 since timestamp DEFAULT NULL)
RETURNS TABLE (period_start timestamp, version integer, rows bigint, flagged bigint,
			   flagged_rate float8, matured_rows bigint, frauds bigint, flagged_frauds bigint,
			   "precision" float8, recall float8, average_precision float8)
LANGUAGE sql
AS $$
	SELECT * FROM fraud_live_performance(format($q$
		SELECT tx_datetime AS scored_at, model_version AS version, score, decision,
			   CASE WHEN fraud_reported_at <= %1$L THEN true
					WHEN tx_datetime <= %1$L::timestamp - %2$L::interval THEN false END AS is_fraud
		FROM card_tx
		WHERE score IS NOT NULL AND tx_datetime <= %1$L
		  AND (%3$L::timestamp IS NULL OR tx_datetime >= %3$L::timestamp)
	$q$, as_of, delay, since), period)
$$;

CREATE FUNCTION card_tx_recalibrate(model text,
									as_of timestamp DEFAULT localtimestamp,
									target_precision float8 DEFAULT 0.5,
									decline_precision float8 DEFAULT 0.9,
									delay interval DEFAULT '7 days',
									labeled_window interval DEFAULT '14 days',
									recent_window interval DEFAULT '2 days')
RETURNS fraud_score_recalibrations
LANGUAGE sql
AS $$
	SELECT fraud_model_recalibrate(model,
		labeled_query => format($q$
			SELECT score, fraud_reported_at IS NOT NULL AND fraud_reported_at <= %1$L AS is_fraud
			FROM card_tx
			WHERE tx_datetime >= %1$L::timestamp - %2$L::interval - %3$L::interval
			  AND tx_datetime < %1$L::timestamp - %2$L::interval
			  AND model_version = (SELECT version FROM fraud_models WHERE name = %4$L AND active)
		$q$, as_of, delay, labeled_window, model),
		recent_query => format($q$
			SELECT score FROM card_tx
			WHERE tx_datetime >= %1$L::timestamp - %2$L::interval AND tx_datetime < %1$L
			  AND score IS NOT NULL
		$q$, as_of, recent_window),
		target_precision => target_precision,
		decline_precision => decline_precision)
$$;

CREATE FUNCTION card_tx_drift(model text,
							  as_of timestamp DEFAULT localtimestamp,
							  recent_window interval DEFAULT '1 day')
RETURNS TABLE (kind text, feature text, psi float8, drift text, sampling_psi float8,
			   reference_rows bigint, recent_rows bigint, reference_missing float8,
			   recent_missing float8)
LANGUAGE sql
AS $$
	SELECT * FROM fraud_model_drift(model, format($q$
		SELECT to_jsonb(t) FROM card_tx t
		WHERE tx_datetime >= %1$L::timestamp - %2$L::interval AND tx_datetime < %1$L
	$q$, as_of, recent_window))
$$;

CREATE FUNCTION card_tx_backtest(model text, candidate integer, since timestamp, until timestamp,
								 as_of timestamp DEFAULT localtimestamp,
								 delay interval DEFAULT '7 days')
RETURNS TABLE (role text, version integer, review_threshold float8, decline_threshold float8,
			   rows bigint, flagged bigint, flagged_rate float8, declined bigint, labeled bigint,
			   frauds bigint, frauds_caught bigint, false_positives bigint, fraud_amount float8,
			   amount_caught float8, "precision" float8, recall float8, auc float8,
			   average_precision float8)
LANGUAGE sql
AS $$
	SELECT * FROM fraud_model_backtest(model, candidate, format($q$
		SELECT to_jsonb(t) AS document,
			   CASE WHEN fraud_reported_at <= %3$L THEN true
					WHEN tx_datetime <= %3$L::timestamp - %4$L::interval THEN false END AS is_fraud,
			   tx_amount AS amount
		FROM card_tx t
		WHERE tx_datetime >= %1$L AND tx_datetime < %2$L
		ORDER BY seq
	$q$, since, until, as_of, delay))
$$;
