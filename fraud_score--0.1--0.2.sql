/* fraud_score--0.1--0.2.sql: feature functions, metrics and in-database training */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.2'" to load this file. \quit

-- A model may name a feature function (jsonb) RETURNS jsonb that computes
-- features from the database for the row being scored.  Stored as the
-- function's signature text, not regprocedure, so that pg_upgrade accepts
-- the table; backends resolve it when they load the model.
ALTER TABLE fraud_score_models ADD COLUMN feature_function text;

-- Also under session_replication_role = replica (logical replication apply),
-- or a subscriber's backends would keep scoring with replaced models.
ALTER TABLE fraud_score_models ENABLE ALWAYS TRIGGER fraud_score_models_changed;

CREATE OR REPLACE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics, feature_function
	FROM fraud_score_models;

-- An error unless "name" can name a model.
CREATE FUNCTION fraud_model_check_name(name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL OR name !~ '^[A-Za-z0-9_.:-]{1,63}$' THEN
		RAISE EXCEPTION 'invalid fraud model name %', coalesce('"' || name || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A model name has 1 to 63 characters from A-Z, a-z, 0-9, "_", ".", ":" and "-".';
	END IF;
END
$$;

-- The function's signature, schema-qualified, after checking its shape.
CREATE FUNCTION fraud_model_check_feature_function(feature_function regprocedure)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fn pg_proc%ROWTYPE;
BEGIN
	IF feature_function IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO fn FROM pg_proc WHERE oid = feature_function;
	IF fn.pronargs <> 1 OR fn.proargtypes[0] <> 'jsonb'::regtype
	   OR fn.prorettype <> 'jsonb'::regtype OR fn.proretset THEN
		RAISE EXCEPTION 'feature function % must take one jsonb argument and return jsonb',
			feature_function
			USING ERRCODE = 'invalid_function_definition',
				  DETAIL = format('%s returns %s%s.', feature_function,
								  CASE WHEN fn.proretset THEN 'SETOF ' ELSE '' END,
								  fn.prorettype::regtype),
				  HINT = 'A feature function receives the row as jsonb and returns an object of extra features.';
	END IF;
	-- It runs with the rights of whoever scores: only a superuser may own it.
	IF NOT (SELECT rolsuper FROM pg_roles WHERE oid = fn.proowner) THEN
		RAISE EXCEPTION 'feature function % must be owned by a superuser', feature_function
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'It runs with the privileges of every role that scores with the model.',
				  HINT = 'Create it as a superuser, or ALTER FUNCTION ... OWNER TO a superuser.';
	END IF;
	-- With search_path pinned to pg_catalog the text is schema-qualified.
	RETURN feature_function::text;
END
$$;

DROP FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text);

CREATE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
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

	SELECT coalesce(max(m.version), 0) + 1 INTO new_version
	FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_load.name;

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

REVOKE ALL ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
										regprocedure, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
										   regprocedure, jsonb) TO fraud_score_admin;

-- In-database training: see src/train.c.
CREATE FUNCTION fraud_model_train(name text, training_query text, label_column text,
								  params jsonb DEFAULT '{}',
								  validation_query text DEFAULT NULL,
								  activate boolean DEFAULT false)
RETURNS integer
AS 'MODULE_PATHNAME', 'fraud_model_train'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION fraud_model_train(text, text, text, jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_train(text, text, text, jsonb, text, boolean) TO fraud_score_admin;
REVOKE ALL ON FUNCTION fraud_model_check_feature_function(regprocedure) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_check_feature_function(regprocedure) TO fraud_score_admin;

-- A model version as one self-describing JSON document, and back: how models
-- travel between databases and how the reference models in models/ ship.
CREATE FUNCTION fraud_model_export(name text, version integer DEFAULT NULL)
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
		'sha256', m.sha256,
		'model_ubj_base64', translate(encode(m.model, 'base64'), E'\n', ''));
END
$$;

CREATE FUNCTION fraud_model_import(document jsonb, name text DEFAULT NULL,
								   activate boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bytes bytea;
BEGIN
	IF document IS NULL OR document->>'format' IS DISTINCT FROM 'fraud_score model 1' THEN
		RAISE EXCEPTION 'not a fraud_score model document'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The "format" key is %s, not "fraud_score model 1".',
								  coalesce(document->>'format', 'missing')),
				  HINT = 'Export models with fraud_model_export().';
	END IF;
	bytes := decode(document->>'model_ubj_base64', 'base64');
	IF document ? 'sha256' AND encode(sha256(bytes), 'hex') <> document->>'sha256' THEN
		RAISE EXCEPTION 'model document is corrupt'
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'The sha256 of the model bytes does not match the document.';
	END IF;
	RETURN @extschema@.fraud_model_load(
		coalesce(name, document->>'name'), bytes,
		ARRAY(SELECT jsonb_array_elements_text(document->'features')),
		(document->>'review_threshold')::float8,
		(document->>'decline_threshold')::float8,
		activate,
		document->>'description',
		(document->>'feature_function')::regprocedure,
		document->'metrics');
END
$$;

REVOKE ALL ON FUNCTION fraud_model_export(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_import(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_export(text, integer) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_import(jsonb, text, boolean) TO fraud_score_admin;

-- Messages quote model names as the C code does: "name".
CREATE OR REPLACE FUNCTION fraud_model_version_is_active(name text, version integer)
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
		RAISE EXCEPTION 'fraud model "%" version % does not exist',
			fraud_model_version_is_active.name,
			coalesce(fraud_model_version_is_active.version::text, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'The fraud_models view lists the loaded versions.';
	END IF;
	RETURN is_active;
END
$$;

CREATE OR REPLACE FUNCTION fraud_model_drop(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	IF @extschema@.fraud_model_version_is_active(fraud_model_drop.name,
												 fraud_model_drop.version) THEN
		RAISE EXCEPTION 'cannot drop the active version of fraud model "%"', fraud_model_drop.name
			USING ERRCODE = 'object_in_use',
				  DETAIL = format('Version %s is active.', fraud_model_drop.version),
				  HINT = 'Activate another version with fraud_model_activate() first.';
	END IF;
	DELETE FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_drop.name AND m.version = fraud_model_drop.version;
END
$$;
