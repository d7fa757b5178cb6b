/* fraud_score--0.5--0.6.sql: running models in production */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.6'" to load this file. \quit

-- Serving statistics per model version, kept in shared memory (fraud_score in
-- shared_preload_libraries), replacing 0.3's server-wide trigger counters.
DROP FUNCTION fraud_score_stats();
DROP FUNCTION fraud_score_stats_reset();

CREATE FUNCTION fraud_score_stats(
	OUT model text,
	OUT version integer,
	OUT calls bigint,
	OUT approved bigint,
	OUT reviewed bigint,
	OUT declined bigint,
	OUT errors_raised bigint,
	OUT errors_reviewed bigint,
	OUT errors_approved bigint,
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
AS 'MODULE_PATHNAME', 'fraud_score_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- One row per (model, version) this database has scored with since the
-- counters were reset; version is NULL for trigger rows that failed before
-- any version was known (no active version).  Error messages can quote row
-- values: for admins and monitoring roles.
CREATE VIEW fraud_score_stats AS
	SELECT * FROM fraud_score_stats();

CREATE FUNCTION fraud_score_stats_reset(model text DEFAULT NULL, version integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'fraud_score_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION fraud_score_stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_score_stats_reset(text, integer) FROM PUBLIC;
REVOKE ALL ON fraud_score_stats FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_score_stats() TO fraud_score_admin, pg_read_all_stats;
GRANT SELECT ON fraud_score_stats TO fraud_score_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION fraud_score_stats_reset(text, integer) TO fraud_score_admin;
