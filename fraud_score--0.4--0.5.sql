/* fraud_score--0.4--0.5.sql: explanations and reason texts */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.5'" to load this file. \quit

-- What each feature means to an analyst, per version:
-- {"amount_ratio_90d": "Amount far above the card's usual spending"} or, for
-- a text that holds only when the feature raises (or lowers) the score,
-- {"amount_ratio_90d": {"text": "...", "direction": "raises"}}.  fraud_explain
-- and the trigger's reasons column name a feature by its text, else by its name.
ALTER TABLE fraud_score_models ADD COLUMN reasons jsonb;

CREATE OR REPLACE VIEW fraud_models AS
	SELECT name, version, active, objective, num_features, features,
		   review_threshold, decline_threshold,
		   octet_length(model) AS size_bytes, sha256,
		   created_at, created_by, description, metrics, feature_function,
		   categories, library, format_version, reasons
	FROM fraud_score_models;

-- A reasons document checked against the model's features, as stored
-- (NULL stays NULL).
CREATE FUNCTION fraud_model_check_reasons(features text[], reasons jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text;
	value jsonb;
	extra text;
BEGIN
	IF reasons IS NULL OR reasons = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(reasons) <> 'object' THEN
		RAISE EXCEPTION 'reasons must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('It is %s.', jsonb_typeof(reasons)),
				  HINT = 'Map each feature to its reason text: {"amount": "Unusually large amount"}.';
	END IF;
	FOR key, value IN SELECT * FROM jsonb_each(reasons) LOOP
		IF NOT key = ANY (features) THEN
			RAISE EXCEPTION 'reasons name feature "%", which the model does not have', key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'The keys of reasons are the model''s feature names.';
		END IF;
		IF jsonb_typeof(value) = 'string' THEN
			CONTINUE;
		END IF;
		IF jsonb_typeof(value) <> 'object' OR jsonb_typeof(value->'text') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'the reason of feature "%" must be a string or an object with a "text" string', key
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('It is %s.', value::text);
		END IF;
		SELECT k INTO extra FROM jsonb_object_keys(value) k
		WHERE k NOT IN ('text', 'direction') LIMIT 1;
		IF extra IS NOT NULL THEN
			RAISE EXCEPTION 'the reason of feature "%" has key "%"', key, extra
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'A reason object has "text" and, optionally, "direction".';
		END IF;
		IF value ? 'direction' AND (value->>'direction') IS DISTINCT FROM 'raises'
		   AND (value->>'direction') IS DISTINCT FROM 'lowers' THEN
			RAISE EXCEPTION 'the reason of feature "%" has direction %, not "raises" or "lowers"',
				key, value->'direction'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A text with a direction names the feature only when its contribution has that sign.';
		END IF;
	END LOOP;
	RETURN reasons;
END
$$;

DROP FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
							   regprocedure, jsonb, jsonb);

CREATE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
								 review_threshold float8 DEFAULT 0.5,
								 decline_threshold float8 DEFAULT 0.9,
								 activate boolean DEFAULT true,
								 description text DEFAULT NULL,
								 feature_function regprocedure DEFAULT NULL,
								 metrics jsonb DEFAULT NULL,
								 categories jsonb DEFAULT NULL,
								 reasons jsonb DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	checked record;
	new_version integer;
	reason_texts jsonb;
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
	reason_texts := @extschema@.fraud_model_check_reasons(checked.feature_names,
														   fraud_model_load.reasons);

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
			 feature_function, categories, library, format_version, reasons)
		VALUES (fraud_model_load.name, new_version, checked.model_bytes,
				encode(sha256(checked.model_bytes), 'hex'), checked.feature_names,
				checked.num_features, checked.objective,
				fraud_model_load.review_threshold, fraud_model_load.decline_threshold,
				coalesce(fraud_model_load.activate, false), fraud_model_load.description,
				fraud_model_load.metrics, function_signature, checked.category_names,
				checked.library, checked.format_version, reason_texts);
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
										regprocedure, jsonb, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_load(text, bytea, text[], float8, float8, boolean, text,
										   regprocedure, jsonb, jsonb, jsonb) TO fraud_score_admin;

-- Change a version's reason texts (they are not part of the model).
CREATE FUNCTION fraud_model_set_reasons(name text, version integer, reasons jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	model_features text[];
BEGIN
	SELECT m.features INTO model_features FROM @extschema@.fraud_score_models m
	WHERE m.name = fraud_model_set_reasons.name AND m.version = fraud_model_set_reasons.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'fraud model "%" has no version %', fraud_model_set_reasons.name,
			fraud_model_set_reasons.version
			USING ERRCODE = 'undefined_object',
				  HINT = 'The fraud_models view lists the loaded versions.';
	END IF;
	UPDATE @extschema@.fraud_score_models m
	SET reasons = @extschema@.fraud_model_check_reasons(model_features, fraud_model_set_reasons.reasons)
	WHERE m.name = fraud_model_set_reasons.name AND m.version = fraud_model_set_reasons.version;
END
$$;

REVOKE ALL ON FUNCTION fraud_model_set_reasons(text, integer, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_set_reasons(text, integer, jsonb) TO fraud_score_admin;

-- Export and import carry the reason texts.
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
		nullif(document->'categories', 'null'),
		nullif(document->'reasons', 'null'));
END
$$;

-- Each feature's contribution to the margin (log-odds for a binary model),
-- relative to fraud_explain_bias: exact path-dependent TreeSHAP values by
-- default (src/explain.c).
CREATE FUNCTION fraud_explain(features jsonb, model text DEFAULT NULL, top_k integer DEFAULT 5,
							  method text DEFAULT 'tree_shap',
							  OUT feature text, OUT value float8, OUT contribution float8,
							  OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fraud_explain'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;

CREATE FUNCTION fraud_explain_bias(model text DEFAULT NULL, method text DEFAULT 'tree_shap')
RETURNS float8
AS 'MODULE_PATHNAME', 'fraud_explain_bias'
LANGUAGE C STABLE PARALLEL SAFE;

-- Stored forests now carry each node's cover (format 4) and LightGBM's
-- counts: compile them again, as the row trigger does when the model changes.
UPDATE fraud_score_models SET model = model;
