/* fraud_score--0.3--0.4.sql: category names, LightGBM models */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.4'" to load this file. \quit

-- The names of each categorical feature's categories, in code order
-- ({"channel": ["web", "pos", "atm"]}): from the model (XGBoost 3.1 and later
-- keep them) or given at load.  A JSON string or a text or enum column of
-- such a feature is scored as its category's code (src/categories.c).
ALTER TABLE fraud_score_models ADD COLUMN categories jsonb;

-- Which library's model a version is ("xgboost" or "lightgbm"), and the
-- format it came in: the XGBoost release that saved it, or LightGBM's text
-- format version ("v4").  A LightGBM model is stored as the text given.
ALTER TABLE fraud_score_models ADD COLUMN library text NOT NULL DEFAULT 'xgboost'
	CHECK (library IN ('xgboost', 'lightgbm'));
ALTER TABLE fraud_score_models ADD COLUMN format_version text;

CREATE OR REPLACE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics, feature_function,
		   categories, library, format_version
	FROM fraud_score_models;

DROP FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
							   regprocedure, jsonb);
DROP FUNCTION fraud_model_check(bytea, text[]);

-- Validate model bytes (XGBoost JSON or UBJSON, or a LightGBM text model)
-- and return what to store: model_bytes (XGBoost UBJSON, or the LightGBM
-- text as given), the categories document, the library and format version.
CREATE FUNCTION fraud_model_check(model bytea, features text[] DEFAULT NULL,
								  categories jsonb DEFAULT NULL,
								  OUT format text, OUT objective text,
								  OUT num_features integer, OUT num_trees integer,
								  OUT num_nodes integer, OUT feature_names text[],
								  OUT model_bytes bytea, OUT category_names jsonb,
								  OUT library text, OUT format_version text)
RETURNS record
AS 'MODULE_PATHNAME', 'fraud_model_check'
LANGUAGE C VOLATILE;

CREATE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
								 review_threshold float8 DEFAULT 0.5,
								 decline_threshold float8 DEFAULT 0.9,
								 activate boolean DEFAULT true,
								 description text DEFAULT NULL,
								 feature_function regprocedure DEFAULT NULL,
								 metrics jsonb DEFAULT NULL,
								 categories jsonb DEFAULT NULL)
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
	FROM @extschema@.fraud_model_check(fraud_model_load.model, fraud_model_load.features,
									   fraud_model_load.categories);

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
			 feature_function, categories, library, format_version)
		VALUES (fraud_model_load.name, new_version, checked.model_bytes,
				encode(sha256(checked.model_bytes), 'hex'), checked.feature_names,
				checked.num_features, checked.objective,
				fraud_model_load.review_threshold, fraud_model_load.decline_threshold,
				coalesce(fraud_model_load.activate, false), fraud_model_load.description,
				fraud_model_load.metrics, function_signature, checked.category_names,
				checked.library, checked.format_version);
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

REVOKE ALL ON FUNCTION fraud_model_check(bytea, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_check(bytea, text[], jsonb) TO fraud_score_admin;
REVOKE ALL ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
										regprocedure, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
										   regprocedure, jsonb, jsonb) TO fraud_score_admin;

-- Export and import carry the category names.
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
	RETURN @extschema@.fraud_model_load(
		coalesce(name, document->>'name'), bytes,
		ARRAY(SELECT jsonb_array_elements_text(document->'features')),
		(document->>'review_threshold')::float8,
		(document->>'decline_threshold')::float8,
		activate,
		document->>'description',
		(document->>'feature_function')::regprocedure,
		document->'metrics',
		nullif(document->'categories', 'null'));
END
$$;

-- The raw score before the objective's transform (XGBoost's margin, LightGBM's
-- raw score), and the leaf each tree of a LightGBM model reaches: what a
-- score was computed from.
CREATE FUNCTION fraud_score_margin(features jsonb, model text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'fraud_score_margin'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION fraud_score_leaves(features jsonb, model text DEFAULT NULL)
RETURNS integer[]
AS 'MODULE_PATHNAME', 'fraud_score_leaves'
LANGUAGE C STABLE PARALLEL SAFE;
