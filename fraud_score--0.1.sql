/* fraud_score--0.1.sql: the model catalog, its administration and scoring */

\echo Use "CREATE EXTENSION fraud_score" to load this file. \quit

-- Model administration is granted to this role, not to PUBLIC.  A role is
-- cluster-wide, so it outlives DROP EXTENSION and is shared by databases.
--
-- No function here is SECURITY DEFINER: administrators act with their own
-- privileges on the catalog table, so created_by is truthful and there is
-- nothing to hijack.  The PL/pgSQL functions still pin search_path, so that
-- an administrator's own search_path cannot redirect what they call.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'fraud_score_admin') THEN
		CREATE ROLE fraud_score_admin NOLOGIN;
	END IF;
END
$$;

-- One row per (model name, version).  The bytes are XGBoost UBJSON that
-- passed fraud_model_check(); backends validate them again before loading.
CREATE TABLE fraud_score_models (
	name text COLLATE "C" NOT NULL
		CONSTRAINT fraud_score_models_name_check
		CHECK (name ~ '^[A-Za-z0-9_.:-]{1,63}$'),
	version integer NOT NULL CHECK (version > 0),
	model bytea NOT NULL,
	sha256 text NOT NULL,
	features text[] NOT NULL,
	num_features integer NOT NULL,
	objective text NOT NULL,
	review_threshold float8 NOT NULL,
	decline_threshold float8 NOT NULL,
	active boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by name NOT NULL DEFAULT current_user,
	description text,
	metrics jsonb,
	PRIMARY KEY (name, version),
	CONSTRAINT fraud_score_models_sha256_check
		CHECK (sha256 = encode(sha256(model), 'hex')),
	CONSTRAINT fraud_score_models_features_check
		CHECK (cardinality(features) = num_features AND array_ndims(features) = 1),
	CONSTRAINT fraud_score_models_thresholds_check
		CHECK (review_threshold >= 0 AND decline_threshold <= 1
			   AND review_threshold <= decline_threshold)
);

-- At most one active version per name; backends find it through this index.
CREATE UNIQUE INDEX fraud_score_models_active_idx
	ON fraud_score_models (name) WHERE active;

SELECT pg_catalog.pg_extension_config_dump('fraud_score_models', '');

REVOKE ALL ON fraud_score_models FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON fraud_score_models TO fraud_score_admin;

-- Every change to the catalog tells every backend to drop its cached models
-- (a relcache invalidation, sent at commit; seen at once by this transaction).
CREATE FUNCTION fraud_score_models_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fraud_score_models_changed'
LANGUAGE C;

CREATE TRIGGER fraud_score_models_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fraud_score_models
	FOR EACH STATEMENT EXECUTE FUNCTION fraud_score_models_changed();

CREATE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics
	FROM fraud_score_models;

GRANT SELECT ON fraud_models TO PUBLIC;

-- Validate model bytes (JSON or UBJSON) and return them as XGBoost UBJSON,
-- with what fraud_score needs to know about the model.
CREATE FUNCTION fraud_model_check(model bytea, features text[] DEFAULT NULL,
								  OUT format text, OUT objective text,
								  OUT num_features integer, OUT num_trees integer,
								  OUT num_nodes integer, OUT feature_names text[],
								  OUT ubjson bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'fraud_model_check'
LANGUAGE C VOLATILE;

CREATE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
								 review_threshold float8 DEFAULT 0.5,
								 decline_threshold float8 DEFAULT 0.9,
								 activate boolean DEFAULT true,
								 description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	checked record;
	new_version integer;
BEGIN
	IF fraud_model_load.name IS NULL OR fraud_model_load.name !~ '^[A-Za-z0-9_.:-]{1,63}$' THEN
		RAISE EXCEPTION 'invalid fraud model name %', coalesce(quote_literal(fraud_model_load.name), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A model name has 1 to 63 characters from A-Z, a-z, 0-9, "_", ".", ":" and "-".';
	END IF;
	IF fraud_model_load.model IS NULL THEN
		RAISE EXCEPTION 'model must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM @extschema@.fraud_model_check_thresholds(fraud_model_load.review_threshold,
													  fraud_model_load.decline_threshold);

	SELECT * INTO checked
	FROM @extschema@.fraud_model_check(fraud_model_load.model, fraud_model_load.features);

	-- Serialise loads and activations so version numbers and the active flag
	-- stay consistent; scoring only reads and is not blocked.
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;

	SELECT coalesce(max(m.version), 0) + 1 INTO new_version
	FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_load.name;

	IF coalesce(fraud_model_load.activate, false) THEN
		UPDATE @extschema@.fraud_score_models m SET active = false
		WHERE m.name = fraud_model_load.name AND m.active;
	END IF;

	INSERT INTO @extschema@.fraud_score_models
		(name, version, model, sha256, features, num_features, objective,
		 review_threshold, decline_threshold, active, description)
	VALUES (fraud_model_load.name, new_version, checked.ubjson,
			encode(sha256(checked.ubjson), 'hex'), checked.feature_names,
			checked.num_features, checked.objective,
			fraud_model_load.review_threshold, fraud_model_load.decline_threshold,
			coalesce(fraud_model_load.activate, false), fraud_model_load.description);
	RETURN new_version;
END
$$;

CREATE FUNCTION fraud_model_check_thresholds(review_threshold float8, decline_threshold float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF review_threshold IS NULL OR decline_threshold IS NULL THEN
		RAISE EXCEPTION 'thresholds must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT (review_threshold BETWEEN 0 AND 1) OR NOT (decline_threshold BETWEEN 0 AND 1) THEN
		RAISE EXCEPTION 'thresholds must be between 0 and 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('review_threshold is %s and decline_threshold is %s.',
								  review_threshold, decline_threshold);
	END IF;
	IF review_threshold > decline_threshold THEN
		RAISE EXCEPTION 'review_threshold must not be above decline_threshold'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('review_threshold is %s and decline_threshold is %s.',
								  review_threshold, decline_threshold),
				  HINT = 'Scores at or above decline_threshold are declined, scores at or above review_threshold are reviewed.';
	END IF;
END
$$;

-- Whether a version is the active one; an error naming it if it does not exist.
CREATE FUNCTION fraud_model_version_is_active(name text, version integer)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	is_active boolean;
BEGIN
	SELECT m.active INTO is_active FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_version_is_active.name
	  AND m.version = fraud_model_version_is_active.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'fraud model % version % does not exist',
			quote_ident(coalesce(fraud_model_version_is_active.name, 'NULL')),
			coalesce(fraud_model_version_is_active.version::text, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'The fraud_models view lists the loaded versions.';
	END IF;
	RETURN is_active;
END
$$;

CREATE FUNCTION fraud_model_activate(name text, version integer)
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
	UPDATE @extschema@.fraud_score_models m SET active = true
	WHERE m.name = fraud_model_activate.name AND m.version = fraud_model_activate.version;
END
$$;

CREATE FUNCTION fraud_model_drop(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.fraud_model_version_is_active(fraud_model_drop.name,
												 fraud_model_drop.version) THEN
		RAISE EXCEPTION 'cannot drop the active version of fraud model %', quote_ident(fraud_model_drop.name)
			USING ERRCODE = 'object_in_use',
				  DETAIL = format('Version %s is active.', fraud_model_drop.version),
				  HINT = 'Activate another version with fraud_model_activate() first.';
	END IF;
	DELETE FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_drop.name AND m.version = fraud_model_drop.version;
END
$$;

REVOKE ALL ON FUNCTION fraud_model_check(bytea, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_activate(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_drop(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_version_is_active(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_check(bytea, text[]) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_activate(text, integer) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_drop(text, integer) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_version_is_active(text, integer) TO fraud_score_admin;

-- Scoring: open to everyone.  Not STRICT, so that a NULL model reaches
-- fraud_score.default_model.
CREATE FUNCTION fraud_score(features jsonb, model text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'fraud_score_jsonb'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE TYPE fraud_decision AS (
	score float8,
	decision text,
	model text,
	version integer
);

CREATE FUNCTION fraud_decide(features jsonb, model text DEFAULT NULL)
RETURNS fraud_decision
AS 'MODULE_PATHNAME', 'fraud_decide_jsonb'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION fraud_score_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fraud_score_trigger'
LANGUAGE C;
