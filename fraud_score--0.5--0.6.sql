/* fraud_score--0.5--0.6.sql: running models in production */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.6'" to load this file. \quit

-- Serving statistics per model version, kept in shared memory (fraud_score in
-- shared_preload_libraries), replacing 0.3's server-wide trigger counters (a
-- view of the user's on fraud_score_stats() must be dropped first).
DROP FUNCTION fraud_score_stats();
DROP FUNCTION fraud_score_stats_reset();

CREATE FUNCTION fraud_score_stats(
	OUT model text,
	OUT version integer,
	OUT calls bigint,
	OUT shadow_calls bigint,
	OUT approved bigint,
	OUT reviewed bigint,
	OUT declined bigint,
	OUT errors_raised bigint,
	OUT errors_reviewed bigint,
	OUT errors_approved bigint,
	OUT errors_shadow bigint,
	OUT timed_calls bigint,
	OUT total_ms float8,
	OUT mean_ms float8,
	OUT min_ms float8,
	OUT max_ms float8,
	OUT p50_ms float8,
	OUT p95_ms float8,
	OUT p99_ms float8,
	OUT last_call timestamptz,
	OUT last_error_at timestamptz,
	OUT last_error text,
	OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fraud_score_stats_0_6'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- One row per (model, version) this database has scored with since the
-- counters were reset; version is NULL for trigger rows that failed before
-- any version was known (no active version).  Error messages can quote row
-- values: for admins and monitoring roles.
CREATE VIEW fraud_score_stats AS
	SELECT * FROM fraud_score_stats();

CREATE FUNCTION fraud_score_stats_reset(model text DEFAULT NULL, version integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'fraud_score_stats_reset_0_6'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION fraud_score_stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_score_stats_reset(text, integer) FROM PUBLIC;
REVOKE ALL ON fraud_score_stats FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_score_stats() TO fraud_score_admin, pg_read_all_stats;
GRANT SELECT ON fraud_score_stats TO fraud_score_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION fraud_score_stats_reset(text, integer) TO fraud_score_admin;

-- Challenger (shadow) versions: scored by the trigger beside the active
-- version on a deterministic sample of rows (shadow_fraction of them, by a
-- hash of the row's primary key), logged, never acting on the row.
ALTER TABLE fraud_score_models ADD COLUMN shadow_fraction float8
	CONSTRAINT fraud_score_models_shadow_check
	CHECK (shadow_fraction IS NULL OR (shadow_fraction > 0 AND shadow_fraction <= 1 AND NOT active));

-- Reference distributions of the version's score and features (quantile
-- bins, src/drift.c), which drift reports compare recent rows with: stored
-- by fraud_model_train from its validation rows, or by
-- fraud_model_set_reference from a query.
ALTER TABLE fraud_score_models ADD COLUMN reference jsonb;

CREATE OR REPLACE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics, feature_function,
		   categories, library, format_version, reasons, shadow_fraction, reference
	FROM fraud_score_models;

-- What each challenger decided beside the champion, one row per sampled row
-- and challenger.  row_key is the row's primary key as text (a JSON array of
-- texts for a composite key; NULL for a table without one).  Written by the
-- trigger as the table's owner; kept by pg_dump.
CREATE TABLE fraud_score_shadow_log (
	model text COLLATE "C" NOT NULL,
	relation regclass NOT NULL,
	row_key text,
	scored_at timestamptz NOT NULL,
	champion_version integer NOT NULL,
	champion_score float8 NOT NULL,
	champion_decision text NOT NULL,
	challenger_version integer NOT NULL,
	challenger_score float8,	-- NULL: the challenger failed on this row
	challenger_decision text
);
SELECT pg_catalog.pg_extension_config_dump('fraud_score_shadow_log', '');
REVOKE ALL ON fraud_score_shadow_log FROM PUBLIC;
GRANT SELECT, DELETE, TRUNCATE ON fraud_score_shadow_log TO fraud_score_admin;

-- Activating a challenger makes it the champion: it stops shadowing.
CREATE OR REPLACE FUNCTION fraud_model_activate(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.fraud_model_version_is_active(fraud_model_activate.name,
												 fraud_model_activate.version) THEN
		RETURN;
	END IF;
	-- Two statements: the active index is checked row by row.
	UPDATE @extschema@.fraud_score_models m SET active = false
	WHERE m.name = fraud_model_activate.name AND m.active;
	UPDATE @extschema@.fraud_score_models m SET active = true, shadow_fraction = NULL
	WHERE m.name = fraud_model_activate.name AND m.version = fraud_model_activate.version;
END
$$;

-- Score "version" beside the active version on "fraction" of the rows the
-- trigger scores (every row: 1).  Calling it again changes the fraction.
CREATE FUNCTION fraud_model_shadow(name text, version integer, fraction float8 DEFAULT 1.0)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF fraction IS NULL OR NOT (fraction > 0 AND fraction <= 1) THEN
		RAISE EXCEPTION 'shadow fraction must be greater than 0 and at most 1, not %',
			coalesce(fraction::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use fraud_model_shadow_stop() to stop shadowing.';
	END IF;
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.fraud_model_version_is_active(fraud_model_shadow.name,
												 fraud_model_shadow.version) THEN
		RAISE EXCEPTION 'fraud model "%" version % is active', fraud_model_shadow.name,
			fraud_model_shadow.version
			USING ERRCODE = 'object_in_use',
				  DETAIL = 'A challenger is scored beside the active version.',
				  HINT = 'Shadow a version that is not active.';
	END IF;
	UPDATE @extschema@.fraud_score_models m SET shadow_fraction = fraction
	WHERE m.name = fraud_model_shadow.name AND m.version = fraud_model_shadow.version;
END
$$;

CREATE FUNCTION fraud_model_shadow_stop(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	-- raises for a version that does not exist
	PERFORM @extschema@.fraud_model_version_is_active(fraud_model_shadow_stop.name,
													  fraud_model_shadow_stop.version);
	UPDATE @extschema@.fraud_score_models m SET shadow_fraction = NULL
	WHERE m.name = fraud_model_shadow_stop.name AND m.version = fraud_model_shadow_stop.version;
END
$$;

-- Champion against each challenger on the logged rows of "model" (scored in
-- [since, until)): how often they agree, and, on the rows "labels" knows,
-- precision and recall of each at its own thresholds (flagged = review or
-- decline).  "labels" is a query returning (row_key text, is_fraud boolean),
-- for the relation given (or every relation logged).  It runs as the caller
-- with the caller's search_path (labels_search_path, evaluated where the
-- function is called, before its own pinned search_path applies).
CREATE FUNCTION fraud_shadow_compare(model text, labels text DEFAULT NULL,
									 since timestamptz DEFAULT NULL,
									 until timestamptz DEFAULT NULL,
									 relation regclass DEFAULT NULL,
									 labels_search_path text DEFAULT current_setting('search_path'))
RETURNS TABLE (challenger_version integer, champion_versions integer[], rows bigint,
			   agreement float8, champion_flagged bigint, challenger_flagged bigint,
			   challenger_errors bigint, labeled_rows bigint, frauds bigint,
			   champion_precision float8, champion_recall float8,
			   challenger_precision float8, challenger_recall float8,
			   mean_abs_score_difference float8)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	keys text[];
	frauds boolean[];
BEGIN
	IF labels IS NOT NULL THEN
		PERFORM set_config('search_path', labels_search_path, true);
		BEGIN
			EXECUTE format('SELECT array_agg(l.row_key::text), array_agg(l.is_fraud::boolean) FROM (%s) l', labels)
				INTO keys, frauds;
		EXCEPTION WHEN undefined_column OR cannot_coerce OR datatype_mismatch THEN
			RAISE EXCEPTION 'the labels query must return row_key (text) and is_fraud (boolean)'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = SQLERRM,
					  HINT = 'For example: SELECT id::text AS row_key, is_fraud FROM labels.';
		END;
		PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
	END IF;
	RETURN QUERY
	WITH labels AS (
		-- a row labeled more than once counts as fraud if any label says so
		SELECT l.row_key, bool_or(l.is_fraud) AS is_fraud
		FROM unnest(keys, frauds) AS l(row_key, is_fraud)
		WHERE l.row_key IS NOT NULL GROUP BY 1
	), logged AS (
		SELECT s.challenger_version, s.champion_version, s.champion_score, s.challenger_score,
			   s.champion_decision, s.challenger_decision, l.is_fraud,
			   s.champion_decision <> 'approve' AS champion_flags,
			   s.challenger_decision <> 'approve' AS challenger_flags
		FROM @extschema@.fraud_score_shadow_log s LEFT JOIN labels l ON l.row_key = s.row_key
		WHERE s.model = fraud_shadow_compare.model
		  AND (fraud_shadow_compare.since IS NULL OR s.scored_at >= fraud_shadow_compare.since)
		  AND (fraud_shadow_compare.until IS NULL OR s.scored_at < fraud_shadow_compare.until)
		  AND (fraud_shadow_compare.relation IS NULL OR s.relation = fraud_shadow_compare.relation)
	)
	SELECT g.challenger_version,
		   array_agg(DISTINCT g.champion_version ORDER BY g.champion_version),
		   count(*),
		   avg((g.champion_decision = g.challenger_decision)::int)::float8,
		   count(*) FILTER (WHERE g.champion_flags),
		   count(*) FILTER (WHERE g.challenger_flags),
		   count(*) FILTER (WHERE g.challenger_score IS NULL),
		   count(*) FILTER (WHERE g.is_fraud IS NOT NULL),
		   count(*) FILTER (WHERE g.is_fraud),
		   count(*) FILTER (WHERE g.champion_flags AND g.is_fraud)::float8 /
			   nullif(count(*) FILTER (WHERE g.champion_flags AND g.is_fraud IS NOT NULL), 0),
		   count(*) FILTER (WHERE g.champion_flags AND g.is_fraud)::float8 /
			   nullif(count(*) FILTER (WHERE g.is_fraud), 0),
		   count(*) FILTER (WHERE g.challenger_flags AND g.is_fraud)::float8 /
			   nullif(count(*) FILTER (WHERE g.challenger_flags AND g.is_fraud IS NOT NULL), 0),
		   count(*) FILTER (WHERE g.challenger_flags AND g.is_fraud)::float8 /
			   nullif(count(*) FILTER (WHERE g.is_fraud), 0),
		   avg(abs(g.challenger_score - g.champion_score))
	FROM logged g
	GROUP BY g.challenger_version
	ORDER BY g.challenger_version;
END
$$;

REVOKE ALL ON FUNCTION fraud_model_shadow(text, integer, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_shadow_stop(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_shadow_compare(text, text, timestamptz, timestamptz, regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_shadow(text, integer, float8) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_shadow_stop(text, integer) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_shadow_compare(text, text, timestamptz, timestamptz, regclass, text) TO fraud_score_admin;

-- Live performance as labels arrive: per period (date_trunc's 'hour', 'day',
-- 'week', 'month', or 'all') and model version, over the rows "scored"
-- returns as (scored_at timestamp, version integer, score float8, decision
-- text, is_fraud boolean), is_fraud NULL while a row's label has not matured:
-- rows, flagged (review or decline, at the thresholds in force when it was
-- scored), matured rows, frauds among them, and on the matured rows the
-- realized precision and recall of the flagged set and the average precision
-- of the scores.  The query runs as the caller with the caller's search_path.
CREATE FUNCTION fraud_live_performance(scored text, period text DEFAULT 'day',
									   scored_search_path text DEFAULT current_setting('search_path'))
RETURNS TABLE (period_start timestamp, version integer, rows bigint, flagged bigint,
			   flagged_rate float8, matured_rows bigint, frauds bigint, flagged_frauds bigint,
			   "precision" float8, recall float8, average_precision float8)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	at timestamp[];
	versions integer[];
	scores float8[];
	decisions text[];
	labels boolean[];
BEGIN
	IF period IS NULL OR period NOT IN ('hour', 'day', 'week', 'month', 'all') THEN
		RAISE EXCEPTION 'unknown period %', coalesce(quote_literal(period), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use hour, day, week, month or all.';
	END IF;
	PERFORM set_config('search_path', scored_search_path, true);
	BEGIN
		EXECUTE format('SELECT array_agg(s.scored_at::timestamp), array_agg(s.version::integer), '
					   'array_agg(s.score::float8), array_agg(s.decision::text), '
					   'array_agg(s.is_fraud::boolean) FROM (%s) s', scored)
			INTO at, versions, scores, decisions, labels;
	EXCEPTION WHEN undefined_column OR cannot_coerce OR datatype_mismatch THEN
		RAISE EXCEPTION 'the scored query must return scored_at, version, score, decision and is_fraud'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = SQLERRM,
				  HINT = 'is_fraud is NULL for a row whose label has not matured yet.';
	END;
	PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
	RETURN QUERY
	WITH r AS (
		SELECT CASE WHEN period = 'all' THEN NULL ELSE date_trunc(period, u.at) END AS p,
			   u.version AS v, u.score, u.decision <> 'approve' AS flag, u.is_fraud
		FROM unnest(at, versions, scores, decisions, labels) AS u(at, version, score, decision, is_fraud)
	), g AS (
		SELECT r.p, r.v, count(*) AS n, count(*) FILTER (WHERE r.flag) AS nflag,
			   count(*) FILTER (WHERE r.is_fraud IS NOT NULL) AS nmatured,
			   count(*) FILTER (WHERE r.is_fraud) AS nfraud,
			   count(*) FILTER (WHERE r.is_fraud AND r.flag) AS tp,
			   count(*) FILTER (WHERE r.is_fraud IS NOT NULL AND r.flag) AS nflag_matured
		FROM r GROUP BY r.p, r.v
	), by_score AS (
		-- average precision: over distinct scores, highest first, the precision
		-- at each score weighted by the frauds it adds (as scikit-learn does)
		SELECT r.p, r.v, r.score, count(*) AS n, count(*) FILTER (WHERE r.is_fraud) AS f
		FROM r WHERE r.is_fraud IS NOT NULL AND r.score IS NOT NULL GROUP BY r.p, r.v, r.score
	), running AS (
		SELECT b.p, b.v, b.f,
			   sum(b.f) OVER w AS cum_f, sum(b.n) OVER w AS cum_n
		FROM by_score b
		WINDOW w AS (PARTITION BY b.p, b.v ORDER BY b.score DESC)
	), ap AS (
		SELECT x.p, x.v, sum(x.f::float8 * x.cum_f / x.cum_n) / nullif(sum(x.f), 0) AS ap
		FROM running x GROUP BY x.p, x.v
	)
	SELECT g.p, g.v, g.n, g.nflag, g.nflag::float8 / g.n, g.nmatured, g.nfraud, g.tp,
		   g.tp::float8 / nullif(g.nflag_matured, 0), g.tp::float8 / nullif(g.nfraud, 0), ap.ap
	FROM g LEFT JOIN ap ON ap.p IS NOT DISTINCT FROM g.p AND ap.v IS NOT DISTINCT FROM g.v
	ORDER BY g.p NULLS FIRST, g.v NULLS FIRST;
END
$$;
-- (open to everyone, as scoring is: it runs only the caller's query)

-- Recalibration: thresholds for the days ahead from matured labels (and the
-- fraud rate the recent rows show), transactional, with an audit row.
CREATE TABLE fraud_score_recalibrations (
	id bigserial PRIMARY KEY,
	name text COLLATE "C" NOT NULL,
	version integer NOT NULL,
	recalibrated_at timestamptz NOT NULL DEFAULT now(),
	recalibrated_by name NOT NULL DEFAULT current_user,
	outcome text NOT NULL,	-- changed, unchanged, or why the thresholds were kept
	old_review_threshold float8 NOT NULL,
	old_decline_threshold float8 NOT NULL,
	new_review_threshold float8 NOT NULL,
	new_decline_threshold float8 NOT NULL,
	target_precision float8 NOT NULL,
	decline_precision float8 NOT NULL,
	confidence float8 NOT NULL,
	labeled_rows bigint NOT NULL,
	labeled_frauds bigint NOT NULL,
	recent_rows bigint NOT NULL,
	labeled_fraud_rate float8,
	estimated_fraud_rate float8,	-- of the days ahead, from the recent rows
	predicted_precision float8,		-- at the new review threshold
	predicted_recall float8,
	predicted_decline_precision float8
);
SELECT pg_catalog.pg_extension_config_dump('fraud_score_recalibrations', '');
SELECT pg_catalog.pg_extension_config_dump('fraud_score_recalibrations_id_seq', '');
REVOKE ALL ON fraud_score_recalibrations FROM PUBLIC;
GRANT SELECT, INSERT ON fraud_score_recalibrations TO fraud_score_admin;
GRANT USAGE ON SEQUENCE fraud_score_recalibrations_id_seq TO fraud_score_admin;

CREATE FUNCTION fraud_recalibration_thresholds(
	scores float8[], labels boolean[], recent float8[],
	review_precision float8, decline_precision float8, confidence float8, min_frauds integer,
	OUT review_threshold float8, OUT decline_threshold float8,
	OUT labeled_rows bigint, OUT labeled_frauds bigint, OUT recent_rows bigint,
	OUT labeled_fraud_rate float8, OUT estimated_fraud_rate float8,
	OUT review_predicted_precision float8, OUT review_precision_bound float8,
	OUT review_recall float8,
	OUT decline_predicted_precision float8, OUT decline_precision_bound float8,
	OUT decline_recall float8)
RETURNS record
AS 'MODULE_PATHNAME', 'fraud_recalibration_thresholds'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Set the active version of "name"'s review threshold so that the flagged
-- set of the days ahead keeps target_precision, and its decline threshold
-- likewise for decline_precision.  labeled_query returns (score float8,
-- is_fraud boolean) for rows whose labels have matured, scored by the active
-- version; recent_query (optional) returns (score float8) for recent rows,
-- whose fraud rate is estimated and used in place of the labeled rows' (the
-- policy: see calibration.c and the README).  Where no threshold reaches a
-- target, or another version was activated while the queries ran, the
-- thresholds are kept and the audit row says why.  Queries run as the caller with the caller's search_path.
CREATE FUNCTION fraud_model_recalibrate(name text, labeled_query text,
										target_precision float8 DEFAULT 0.5,
										decline_precision float8 DEFAULT 0.9,
										recent_query text DEFAULT NULL,
										confidence float8 DEFAULT 0.9,
										min_frauds integer DEFAULT 30,
										query_search_path text DEFAULT current_setting('search_path'))
RETURNS fraud_score_recalibrations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	active_version integer;
	queried_version integer;
	old_review float8;
	old_decline float8;
	scores float8[];
	labels boolean[];
	recent float8[];
	t record;
	audit @extschema@.fraud_score_recalibrations;
	outcome text;
	new_review float8;
	new_decline float8;
BEGIN
	IF labeled_query IS NULL THEN
		RAISE EXCEPTION 'labeled_query must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF target_precision IS NULL OR decline_precision IS NULL
	   OR NOT (target_precision > 0 AND target_precision < 1)
	   OR NOT (decline_precision > 0 AND decline_precision < 1) THEN
		RAISE EXCEPTION 'target precisions must be greater than 0 and less than 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF decline_precision < target_precision THEN
		RAISE EXCEPTION 'decline_precision (%) is below target_precision (%)', decline_precision,
			target_precision
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Declining is the stricter decision: its precision target is the higher one.';
	END IF;
	-- The version the labels are for (labeled_query selects its scores), then
	-- the labels, under the caller's search_path.
	SELECT m.version INTO queried_version
	FROM @extschema@.fraud_score_models m WHERE m.name = fraud_model_recalibrate.name AND m.active;
	PERFORM set_config('search_path', query_search_path, true);
	BEGIN
		EXECUTE format('SELECT array_agg(l.score::float8), array_agg(l.is_fraud::boolean) FROM (%s) l',
					   labeled_query) INTO scores, labels;
		IF recent_query IS NOT NULL THEN
			EXECUTE format('SELECT array_agg(r.score::float8) FROM (%s) r', recent_query) INTO recent;
		END IF;
	EXCEPTION WHEN undefined_column OR cannot_coerce OR datatype_mismatch THEN
		RAISE EXCEPTION 'labeled_query must return score and is_fraud, recent_query score'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = SQLERRM;
	END;
	PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

	-- Then the active version, locked until commit: a concurrent activation
	-- or load waits, and a recalibration running beside this one too.
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	SELECT m.version, m.review_threshold, m.decline_threshold
	INTO active_version, old_review, old_decline
	FROM @extschema@.fraud_score_models m WHERE m.name = fraud_model_recalibrate.name AND m.active;
	IF NOT FOUND THEN
		PERFORM @extschema@.fraud_model_check_name(fraud_model_recalibrate.name);
		IF EXISTS (SELECT 1 FROM @extschema@.fraud_score_models m WHERE m.name = fraud_model_recalibrate.name) THEN
			RAISE EXCEPTION 'fraud model "%" has no active version', fraud_model_recalibrate.name
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Activate a version with fraud_model_activate().';
		END IF;
		RAISE EXCEPTION 'fraud model "%" does not exist', fraud_model_recalibrate.name
			USING ERRCODE = 'undefined_object',
				  HINT = 'The fraud_models view lists the loaded versions.';
	END IF;

	t := @extschema@.fraud_recalibration_thresholds(coalesce(scores, '{}'), coalesce(labels, '{}'),
		recent, target_precision, decline_precision, confidence, min_frauds);
	new_review := coalesce(t.review_threshold, old_review);
	new_decline := greatest(coalesce(t.decline_threshold, old_decline), new_review);
	IF queried_version IS DISTINCT FROM active_version THEN
		outcome := format('kept: version %s was activated while the labels were read for version %s',
						  active_version, queried_version);
		new_review := old_review;
		new_decline := old_decline;
	ELSIF t.review_threshold IS NULL THEN
		outcome := format('kept: no threshold reaches precision %s', target_precision);
		new_decline := old_decline;
	ELSIF new_review = old_review AND new_decline = old_decline THEN
		outcome := 'unchanged';
	ELSE
		outcome := 'changed';
		UPDATE @extschema@.fraud_score_models m
		SET review_threshold = new_review, decline_threshold = new_decline
		WHERE m.name = fraud_model_recalibrate.name AND m.version = active_version;
	END IF;
	INSERT INTO @extschema@.fraud_score_recalibrations
		(name, version, outcome, old_review_threshold, old_decline_threshold,
		 new_review_threshold, new_decline_threshold, target_precision, decline_precision,
		 confidence, labeled_rows, labeled_frauds, recent_rows, labeled_fraud_rate,
		 estimated_fraud_rate, predicted_precision, predicted_recall, predicted_decline_precision)
	VALUES (fraud_model_recalibrate.name, active_version, outcome, old_review, old_decline,
			new_review, new_decline, target_precision, decline_precision, confidence,
			t.labeled_rows, t.labeled_frauds, t.recent_rows, t.labeled_fraud_rate,
			t.estimated_fraud_rate, t.review_predicted_precision, t.review_recall,
			t.decline_predicted_precision)
	RETURNING * INTO audit;
	RETURN audit;
END
$$;

REVOKE ALL ON FUNCTION fraud_model_recalibrate(text, text, float8, float8, text, float8, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_recalibrate(text, text, float8, float8, text, float8, integer, text) TO fraud_score_admin;

-- Drift.  A version's reference distributions from a query of row documents
-- (as fraud_score takes them; the first column), scored by the version;
-- returns the stored document.  The query runs as the caller.
CREATE FUNCTION fraud_model_set_reference(name text, version integer, reference_query text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'fraud_model_set_reference'
LANGUAGE C VOLATILE;

-- The population stability index of recent row documents (recent_query's
-- first column) against the version's reference distributions (the active
-- version when version is null): a row for the score, then one per feature
-- in the version's order.  drift is 'none' below 0.1, 'moderate' below
-- 0.25, else 'major'; sampling_psi is what two samples of these sizes from
-- one distribution show on average.
CREATE FUNCTION fraud_model_drift(name text, recent_query text, version integer DEFAULT NULL,
								  OUT kind text, OUT feature text, OUT psi float8, OUT drift text,
								  OUT sampling_psi float8, OUT reference_rows bigint,
								  OUT recent_rows bigint, OUT reference_missing float8,
								  OUT recent_missing float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fraud_model_drift'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION fraud_model_set_reference(text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_drift(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_set_reference(text, integer, text) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_drift(text, text, integer) TO fraud_score_admin;

-- Backtest: a candidate version and the active one scored over the same
-- historical row documents (history_query: the document first, then
-- is_fraud boolean, null where unknown, and optionally amount), each row's
-- features through each version's feature function as of the row, as the
-- trigger would have computed them.  One row per version: what each would
-- have flagged (score >= its review threshold) and caught.
CREATE FUNCTION fraud_model_backtest(name text, candidate integer, history_query text,
									 OUT role text, OUT version integer,
									 OUT review_threshold float8, OUT decline_threshold float8,
									 OUT rows bigint, OUT flagged bigint, OUT flagged_rate float8,
									 OUT declined bigint, OUT labeled bigint, OUT frauds bigint,
									 OUT frauds_caught bigint, OUT false_positives bigint,
									 OUT fraud_amount float8, OUT amount_caught float8,
									 OUT "precision" float8, OUT recall float8,
									 OUT auc float8, OUT average_precision float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fraud_model_backtest'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION fraud_model_backtest(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_backtest(text, integer, text) TO fraud_score_admin;

-- Export and import carry the reference distributions.
CREATE OR REPLACE FUNCTION fraud_model_export(name text, version integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	m @extschema@.fraud_score_models%ROWTYPE;
BEGIN
	SELECT * INTO m FROM @extschema@.fraud_score_models s
	WHERE s.name = fraud_model_export.name
	  AND (s.version = fraud_model_export.version
		   OR (fraud_model_export.version IS NULL AND s.active));
	IF NOT FOUND THEN
		RAISE EXCEPTION 'fraud model "%" has no version %', fraud_model_export.name,
			coalesce(fraud_model_export.version::text, 'that is active')
			USING ERRCODE = 'undefined_object',
				  HINT = 'The fraud_models view lists the loaded versions.';
	END IF;
	RETURN jsonb_build_object(
		'format', 'fraud_score model 1',
		'name', m.name,
		'version', m.version,
		'objective', m.objective,
		'features', to_jsonb(m.features),
		'review_threshold', m.review_threshold,
		'decline_threshold', m.decline_threshold,
		'feature_function', m.feature_function,
		'description', m.description,
		'metrics', m.metrics,
		'categories', m.categories,
		'library', m.library,
		'format_version', m.format_version,
		'reasons', m.reasons,
		'reference', m.reference,
		'sha256', m.sha256)
	|| CASE WHEN m.library = 'lightgbm'
			THEN jsonb_build_object('model_text', convert_from(m.model, 'UTF8'))
			ELSE jsonb_build_object('model_ubj_base64', translate(encode(m.model, 'base64'), E'\n', ''))
	   END;
END
$$;

CREATE OR REPLACE FUNCTION fraud_model_import(document jsonb, name text DEFAULT NULL,
											  activate boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bytes bytea;
	imported integer;
BEGIN
	IF document IS NULL OR document->>'format' IS DISTINCT FROM 'fraud_score model 1' THEN
		RAISE EXCEPTION 'not a fraud_score model document'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The "format" key is %s, not "fraud_score model 1".',
								  coalesce(document->>'format', 'missing')),
				  HINT = 'Export models with fraud_model_export().';
	END IF;
	bytes := CASE WHEN document ? 'model_text' THEN convert_to(document->>'model_text', 'UTF8')
				  ELSE decode(document->>'model_ubj_base64', 'base64') END;
	IF document ? 'sha256' AND encode(sha256(bytes), 'hex') <> document->>'sha256' THEN
		RAISE EXCEPTION 'model document is corrupt'
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'The sha256 of the model bytes does not match the document.';
	END IF;
	imported := @extschema@.fraud_model_load(
		coalesce(name, document->>'name'), bytes,
		ARRAY(SELECT jsonb_array_elements_text(document->'features')),
		(document->>'review_threshold')::float8,
		(document->>'decline_threshold')::float8,
		activate,
		document->>'description',
		(document->>'feature_function')::regprocedure,
		document->'metrics',
		nullif(document->'categories', 'null'),
		nullif(document->'reasons', 'null'));
	IF nullif(document->'reference', 'null') IS NOT NULL THEN
		UPDATE @extschema@.fraud_score_models m SET reference = document->'reference'
		WHERE m.name = coalesce(fraud_model_import.name, document->>'name') AND m.version = imported;
	END IF;
	RETURN imported;
END
$$;
