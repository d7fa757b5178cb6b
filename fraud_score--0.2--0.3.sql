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
-- Also under session_replication_role = replica (logical replication apply,
-- bulk loaders), or a stored forest could outlive the bytes it came from.
ALTER TABLE fraud_score_models ENABLE ALWAYS TRIGGER fraud_score_models_compile;

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

-- The last version number given to each model name, so that a version
-- number is never given twice (dropping the newest version used to free its
-- number for the next load).
CREATE TABLE fraud_score_versions (
	name text COLLATE "C" PRIMARY KEY,
	last_version integer NOT NULL CHECK (last_version > 0)
);
SELECT pg_catalog.pg_extension_config_dump('fraud_score_versions', '');
REVOKE ALL ON fraud_score_versions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON fraud_score_versions TO fraud_score_admin;
INSERT INTO fraud_score_versions (name, last_version)
SELECT name, max(version) FROM fraud_score_models GROUP BY name;

CREATE OR REPLACE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
								 review_threshold float8 DEFAULT 0.5,
								 decline_threshold float8 DEFAULT 0.9,
								 activate boolean DEFAULT true,
								 description text DEFAULT NULL,
								 feature_function regprocedure DEFAULT NULL,
								 metrics jsonb DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	checked record;
	new_version integer;
	function_signature text;
BEGIN
	PERFORM @extschema@.fraud_model_check_name(fraud_model_load.name);
	IF fraud_model_load.model IS NULL THEN
		RAISE EXCEPTION 'model must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM @extschema@.fraud_model_check_thresholds(fraud_model_load.review_threshold,
													  fraud_model_load.decline_threshold);
	function_signature := @extschema@.fraud_model_check_feature_function(fraud_model_load.feature_function);

	SELECT * INTO checked
	FROM @extschema@.fraud_model_check(fraud_model_load.model, fraud_model_load.features);

	-- Serialise loads and activations so version numbers and the active flag
	-- stay consistent; scoring only reads and is not blocked.
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;

	-- Versions are never reused, even after the newest is dropped: rows
	-- scored by a version keep naming it.  Under REPEATABLE READ a
	-- concurrent load of the same name makes this fail with 40001.
	INSERT INTO @extschema@.fraud_score_versions AS v (name, last_version)
	SELECT fraud_model_load.name, coalesce(max(m.version), 0) + 1
	FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_load.name
	ON CONFLICT (name) DO UPDATE
		SET last_version = greatest(v.last_version, excluded.last_version - 1) + 1
	RETURNING v.last_version INTO new_version;

	IF coalesce(fraud_model_load.activate, false) THEN
		UPDATE @extschema@.fraud_score_models m SET active = false
		WHERE m.name = fraud_model_load.name AND m.active;
	END IF;

	BEGIN
		INSERT INTO @extschema@.fraud_score_models
			(name, version, model, sha256, features, num_features, objective,
			 review_threshold, decline_threshold, active, description, metrics,
			 feature_function)
		VALUES (fraud_model_load.name, new_version, checked.ubjson,
				encode(sha256(checked.ubjson), 'hex'), checked.feature_names,
				checked.num_features, checked.objective,
				fraud_model_load.review_threshold, fraud_model_load.decline_threshold,
				coalesce(fraud_model_load.activate, false), fraud_model_load.description,
				fraud_model_load.metrics, function_signature);
	EXCEPTION WHEN unique_violation THEN
		-- Under REPEATABLE READ the version was counted before the lock.
		RAISE EXCEPTION 'could not load fraud model "%" version % because of a concurrent load',
			fraud_model_load.name, new_version
			USING ERRCODE = 'serialization_failure',
				  HINT = 'Retry the transaction.';
	END;
	RETURN new_version;
END
$$;
