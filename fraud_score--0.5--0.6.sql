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

CREATE OR REPLACE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics, feature_function,
		   categories, library, format_version, reasons, shadow_fraction
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
