/* fraud_score--0.2--0.3.sql: compiled forests, scoring statistics, model inputs */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.3'" to load this file. \quit

-- Model bytes are stored uncompressed: pglz decompression was a quarter of a
-- model's first load in every new backend, and UBJSON compresses poorly
-- anyway.  Versions loaded before the update stay compressed until rewritten.
ALTER TABLE fraud_score_models ALTER COLUMN model SET STORAGE EXTERNAL;

-- Each version's trees compiled for the native evaluator (src/forest.c),
-- written by a row trigger whenever the model bytes are, so that a backend
-- scores its first row without parsing and validating the model document;
-- backends still check the compiled form in full before using it.  NULL
-- when the native evaluator cannot represent the model.
ALTER TABLE fraud_score_models ADD COLUMN forest bytea;
ALTER TABLE fraud_score_models ALTER COLUMN forest SET STORAGE EXTERNAL;

CREATE FUNCTION fraud_score_models_compile()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fraud_score_models_compile'
LANGUAGE C;

CREATE TRIGGER fraud_score_models_compile
	BEFORE INSERT OR UPDATE OF model, sha256 ON fraud_score_models
	FOR EACH ROW EXECUTE FUNCTION fraud_score_models_compile();

-- Compile the versions already loaded (a WARNING names any that no longer
-- validates; it keeps a NULL forest).
UPDATE fraud_score_models SET model = model;

-- The input row a model sees for a document, in the model's feature order
-- (see fraud_models.features), after its feature function; NaN where a
-- feature is missing.
CREATE FUNCTION fraud_score_features(features jsonb, model text DEFAULT NULL)
RETURNS real[]
AS 'MODULE_PATHNAME', 'fraud_score_features'
LANGUAGE C STABLE PARALLEL SAFE;

-- What the scoring trigger did: rows scored, and rows it could not score by
-- outcome (fraud_score.on_error), with the last failure.  Server-wide when
-- fraud_score is in shared_preload_libraries (scope 'server'), otherwise
-- only the calling backend's rows (scope 'backend').  Failure messages can
-- quote row values, so reading them is for admins and monitoring roles.
CREATE FUNCTION fraud_score_stats(
	OUT scope text,
	OUT rows_scored bigint,
	OUT failures_error bigint,
	OUT failures_review bigint,
	OUT failures_approve bigint,
	OUT last_failure_at timestamptz,
	OUT last_failure text,
	OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'fraud_score_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION fraud_score_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fraud_score_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION fraud_score_stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_score_stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_score_stats() TO fraud_score_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION fraud_score_stats_reset() TO fraud_score_admin;
