/* fraud_score--0.6--0.7.sql: standbys, failover and many nodes */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.7'" to load this file. \quit

-- Model changes on a standby (or in a read-only transaction) fail at once with
-- PostgreSQL's read-only error naming the operation, not with the first
-- internal statement that cannot run there (LOCK TABLE).
CREATE FUNCTION fraud_model_check_writable(operation text)
RETURNS void
AS 'MODULE_PATHNAME', 'fraud_model_check_writable'
LANGUAGE C STRICT STABLE;

CREATE OR REPLACE FUNCTION fraud_model_load(name text, model bytea, features text[] DEFAULT NULL,
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
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_load()');
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

CREATE OR REPLACE FUNCTION fraud_model_set_reasons(name text, version integer, reasons jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	model_features text[];
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_set_reasons()');
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
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_import()');
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

CREATE OR REPLACE FUNCTION fraud_model_activate(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_activate()');
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

CREATE OR REPLACE FUNCTION fraud_model_drop(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_drop()');
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

CREATE OR REPLACE FUNCTION fraud_model_shadow(name text, version integer, fraction float8 DEFAULT 1.0)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_shadow()');
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

CREATE OR REPLACE FUNCTION fraud_model_shadow_stop(name text, version integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_shadow_stop()');
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	-- raises for a version that does not exist
	PERFORM @extschema@.fraud_model_version_is_active(fraud_model_shadow_stop.name,
													  fraud_model_shadow_stop.version);
	UPDATE @extschema@.fraud_score_models m SET shadow_fraction = NULL
	WHERE m.name = fraud_model_shadow_stop.name AND m.version = fraud_model_shadow_stop.version;
END
$$;

CREATE OR REPLACE FUNCTION fraud_model_recalibrate(name text, labeled_query text,
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
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_recalibrate()');
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

-- A logical replication apply worker fires row triggers only: on a
-- subscriber of fraud_score_models, this one sends the invalidation the
-- statement trigger sends everywhere else (it does nothing outside
-- session_replication_role = replica).
CREATE TRIGGER fraud_score_models_changed_replica
	AFTER INSERT OR UPDATE OR DELETE ON fraud_score_models
	FOR EACH ROW EXECUTE FUNCTION fraud_score_models_changed();
ALTER TABLE fraud_score_models ENABLE ALWAYS TRIGGER fraud_score_models_changed_replica;

-- Many primaries, one model.  A node's connection string with its password
-- masked, for messages.
CREATE FUNCTION fraud_node_label(node text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT regexp_replace(regexp_replace(node, '(password\s*=\s*)(''([^''\\]|\\.)*''|\S+)', '\1***', 'gi'),
						  '(://[^:/@]*):[^@]*@', '\1:***@')
$$;

-- The receiving side of fraud_model_push: the exported version stored as
-- exactly "version" (through fraud_model_import, so with every check of a
-- load), or left as it is when this node has that version with the same
-- bytes, thresholds and feature function; activated if asked.  Returns
-- 'copied' or 'present'.
CREATE FUNCTION fraud_model_receive(document jsonb, version integer, activate boolean)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	model_name text := document->>'name';
	existing record;
	imported integer;
	numbered integer;
	outcome text := 'present';
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_model_receive()');
	IF fraud_model_receive.version IS NULL OR fraud_model_receive.version < 1 THEN
		RAISE EXCEPTION 'version must be a positive integer'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	LOCK TABLE @extschema@.fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	SELECT m.sha256, m.review_threshold, m.decline_threshold, m.feature_function INTO existing
	FROM @extschema@.fraud_score_models m
	WHERE m.name = model_name AND m.version = fraud_model_receive.version;
	IF FOUND THEN
		IF existing.sha256 IS DISTINCT FROM document->>'sha256'
		   OR existing.review_threshold IS DISTINCT FROM (document->>'review_threshold')::float8
		   OR existing.decline_threshold IS DISTINCT FROM (document->>'decline_threshold')::float8
		   OR existing.feature_function IS DISTINCT FROM document->>'feature_function' THEN
			RAISE EXCEPTION 'fraud model "%" version % differs on this node', model_name,
				fraud_model_receive.version
				USING ERRCODE = 'duplicate_object',
					  DETAIL = format('Here: sha256 %s, thresholds %s/%s, feature function %s.',
									  existing.sha256, existing.review_threshold,
									  existing.decline_threshold,
									  coalesce(existing.feature_function, 'none')),
					  HINT = 'Drop the version there, or push the model under another version.';
		END IF;
	ELSE
		-- Versions are never reused (rows scored by one keep naming it):
		-- numbered as fraud_model_load numbers them.
		SELECT greatest((SELECT v.last_version FROM @extschema@.fraud_score_versions v
						 WHERE v.name = model_name),
						(SELECT max(m.version) FROM @extschema@.fraud_score_models m
						 WHERE m.name = model_name))
		INTO numbered;
		IF numbered >= fraud_model_receive.version THEN
			RAISE EXCEPTION 'fraud model "%" version % was used on this node before', model_name,
				fraud_model_receive.version
				USING ERRCODE = 'duplicate_object',
					  DETAIL = format('This node has numbered its versions up to %s; a version number is never reused, since rows scored by it keep naming it.',
									  numbered),
					  HINT = 'Push the model under a version number this node has not used.';
		END IF;
		imported := @extschema@.fraud_model_import(document, activate => false);
		UPDATE @extschema@.fraud_score_models m SET version = fraud_model_receive.version
		WHERE m.name = model_name AND m.version = imported AND imported <> fraud_model_receive.version;
		UPDATE @extschema@.fraud_score_versions v
		SET last_version = greatest(v.last_version, fraud_model_receive.version)
		WHERE v.name = model_name;
		outcome := 'copied';
	END IF;
	IF activate THEN
		PERFORM @extschema@.fraud_model_activate(model_name, fraud_model_receive.version);
	END IF;
	RETURN outcome;
END
$$;

-- The dblink extension's schema, which push and compare call through.
CREATE FUNCTION fraud_dblink_schema(operation text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	schema_name text;
BEGIN
	SELECT n.nspname INTO schema_name
	FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'dblink';
	IF NOT FOUND THEN
		RAISE EXCEPTION '% needs the dblink extension', operation
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Run CREATE EXTENSION dblink on this node (Debian: postgresql-contrib).';
	END IF;
	RETURN schema_name;
END
$$;

-- Open a dblink connection to a node and find fraud_score's schema there.
CREATE FUNCTION fraud_node_connect(dblink_schema text, connection text, node text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	remote_schema text;
	stale boolean;
BEGIN
	-- a connection a failed call left open in this session
	EXECUTE format('SELECT $1 = ANY (coalesce(%I.dblink_get_connections(), ''{}''))', dblink_schema)
		INTO stale USING connection;
	IF stale THEN
		EXECUTE format('SELECT %I.dblink_disconnect($1)', dblink_schema) USING connection;
	END IF;
	EXECUTE format('SELECT %I.dblink_connect($1, $2)', dblink_schema) USING connection, node;
	BEGIN
		EXECUTE format($q$SELECT s FROM %I.dblink($1, 'SELECT n.nspname FROM pg_catalog.pg_extension e
			JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ''fraud_score''')
			AS t(s text)$q$, dblink_schema) INTO remote_schema USING connection;
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		EXECUTE format('SELECT %I.dblink_disconnect($1)', dblink_schema) USING connection;
		RAISE;
	END;
	IF remote_schema IS NULL THEN
		EXECUTE format('SELECT %I.dblink_disconnect($1)', dblink_schema) USING connection;
		RAISE EXCEPTION 'fraud_score is not installed on node %', @extschema@.fraud_node_label(node)
			USING ERRCODE = 'undefined_object',
				  HINT = 'Run CREATE EXTENSION fraud_score there.';
	END IF;
	RETURN remote_schema;
END
$$;

-- Copy a version of this node to every node in "nodes" (libpq connection
-- strings) all or nothing: each node stores it in a transaction that is
-- prepared (two-phase commit) before any is committed, so a node that is
-- down or refuses leaves every node as it was.  With activate, every node
-- ends with it active.  Needs dblink here and max_prepared_transactions > 0
-- on the nodes.
CREATE FUNCTION fraud_model_push(name text, version integer, nodes text[],
								 activate boolean DEFAULT true)
RETURNS TABLE (node text, outcome text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	dblink_schema text;
	document jsonb := @extschema@.fraud_model_export(fraud_model_push.name, fraud_model_push.version);
	push_id text := format('fraud_model_push %s %s %s', pg_backend_pid(), txid_current(), clock_timestamp());
	opened text[] := '{}';
	prepared text[] := '{}';
	outcomes text[] := '{}';
	orphaned text[] := '{}';
	remote_schema text;
	connection text;
	result text;
	failure text;
	failure_state text;
BEGIN
	-- In a Citus cluster, without a node list: every node of pg_dist_node
	-- through Citus's own propagation (not atomic across nodes, as Citus
	-- says of it; receiving is idempotent, so pushing again completes a
	-- partial push, and fraud_model_compare shows one).
	IF nodes IS NULL AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		FOR node, result IN EXECUTE
			format('SELECT nodeid::text, CASE WHEN success THEN result ELSE ''failed: '' || result END FROM run_command_on_all_nodes(%L)',
				   format('SELECT %s.fraud_model_receive(%L::jsonb, %s, %L)', '@extschema@', document,
						  fraud_model_push.version, activate))
		LOOP
			outcome := result;
			node := 'citus node ' || node;
			RETURN NEXT;
		END LOOP;
		RETURN;
	END IF;
	IF nodes IS NULL OR cardinality(nodes) = 0 THEN
		RAISE EXCEPTION 'nodes must name at least one node'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the nodes'' connection strings (a Citus coordinator may give NULL for all its nodes).';
	END IF;
	dblink_schema := @extschema@.fraud_dblink_schema('fraud_model_push()');
	IF (SELECT count(DISTINCT n) FROM unnest(nodes) n) <> cardinality(nodes) THEN
		RAISE EXCEPTION 'nodes lists a node twice'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name each node once: its second transaction would wait for its first.';
	END IF;
	FOR i IN 1 .. cardinality(nodes) LOOP
		connection := format('fraud_model_push_%s', i);
		BEGIN
			remote_schema := @extschema@.fraud_node_connect(dblink_schema, connection, nodes[i]);
			opened := opened || connection;
			-- a node whose catalog stays locked (by a push listing the nodes in
			-- another order, or by this very transaction) fails, not waits forever
			EXECUTE format('SELECT %I.dblink_exec($1, $2)', dblink_schema)
				USING connection, 'BEGIN; SET LOCAL lock_timeout = ''10s''';
			EXECUTE format('SELECT r FROM %I.dblink($1, format(''SELECT %%I.fraud_model_receive(%%L::jsonb, %%s, %%L)'', $2, $3, $4, $5)) AS t(r text)',
						   dblink_schema)
				INTO result USING connection, remote_schema, document, fraud_model_push.version, activate;
			EXECUTE format('SELECT %I.dblink_exec($1, $2)', dblink_schema)
				USING connection, format('PREPARE TRANSACTION %L', push_id || ' ' || i);
			prepared := prepared || connection;
			outcomes := outcomes || result;
		EXCEPTION WHEN OTHERS OR query_canceled THEN
			GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, failure_state = RETURNED_SQLSTATE;
			FOR j IN 1 .. cardinality(prepared) LOOP
				EXECUTE format('SELECT %I.dblink_exec($1, $2, false)', dblink_schema)
					INTO result USING prepared[j], format('ROLLBACK PREPARED %L', push_id || ' ' || j);
				IF result IS DISTINCT FROM 'ROLLBACK PREPARED' THEN
					orphaned := orphaned || format('%L on %s', push_id || ' ' || j,
												   @extschema@.fraud_node_label(nodes[j]));
				END IF;
			END LOOP;
			FOREACH connection IN ARRAY opened LOOP
				EXECUTE format('SELECT %I.dblink_disconnect($1)', dblink_schema) USING connection;
			END LOOP;
			IF cardinality(orphaned) > 0 THEN
				RAISE EXCEPTION 'fraud_model_push: node % failed: %', @extschema@.fraud_node_label(nodes[i]), failure
					USING ERRCODE = failure_state,
						  DETAIL = format('These prepared transactions could not be rolled back: %s.',
										  array_to_string(orphaned, '; ')),
						  HINT = 'Run ROLLBACK PREPARED with each name on its node when it is back; nothing else changed.';
			END IF;
			RAISE EXCEPTION 'fraud_model_push: node % failed: %', @extschema@.fraud_node_label(nodes[i]), failure
				USING ERRCODE = failure_state,
					  DETAIL = 'No node was changed.';
		END;
	END LOOP;
	-- Every node has it prepared: commit them.
	FOR i IN 1 .. cardinality(nodes) LOOP
		BEGIN
			EXECUTE format('SELECT %I.dblink_exec($1, $2)', dblink_schema)
				USING prepared[i], format('COMMIT PREPARED %L', push_id || ' ' || i);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT;
			RAISE WARNING 'fraud_model_push: node % prepared the version but did not commit it: %',
				@extschema@.fraud_node_label(nodes[i]), failure
				USING HINT = format('When it is back, run COMMIT PREPARED %L there.', push_id || ' ' || i);
			outcomes[i] := 'prepared, not committed';
		END;
		node := @extschema@.fraud_node_label(nodes[i]);
		outcome := outcomes[i];
		RETURN NEXT;
	END LOOP;
	FOREACH connection IN ARRAY opened LOOP
		EXECUTE format('SELECT %I.dblink_disconnect($1)', dblink_schema) USING connection;
	END LOOP;
END
$$;

-- Every (node, model, version) that differs from this node: missing there,
-- only there, or with other bytes, thresholds, feature function or
-- activation.  Nothing when all agree.
CREATE FUNCTION fraud_model_compare(nodes text[])
RETURNS TABLE (node text, model text, version integer, difference text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	dblink_schema text := @extschema@.fraud_dblink_schema('fraud_model_compare()');
	remote_schema text;
BEGIN
	FOR i IN 1 .. coalesce(cardinality(nodes), 0) LOOP
		remote_schema := @extschema@.fraud_node_connect(dblink_schema, 'fraud_model_compare', nodes[i]);
		RETURN QUERY EXECUTE format($q$
			WITH here AS (SELECT m.name, m.version, m.sha256, m.review_threshold, m.decline_threshold,
								 m.feature_function, m.active
						  FROM %1$s.fraud_score_models m),
				 there AS (SELECT * FROM %2$I.dblink('fraud_model_compare', format(
							   'SELECT name, version, sha256, review_threshold, decline_threshold, feature_function, active FROM %%I.fraud_score_models', %3$L))
						   AS t(name text, version integer, sha256 text, review_threshold float8,
								decline_threshold float8, feature_function text, active boolean))
			SELECT %4$L, coalesce(h.name, t.name), coalesce(h.version, t.version),
				   CASE WHEN t.name IS NULL THEN 'missing there'
						WHEN h.name IS NULL THEN 'only there'
						ELSE concat_ws(', ',
							CASE WHEN h.sha256 <> t.sha256 THEN 'bytes' END,
							CASE WHEN h.review_threshold <> t.review_threshold
									  OR h.decline_threshold <> t.decline_threshold THEN 'thresholds' END,
							CASE WHEN h.feature_function IS DISTINCT FROM t.feature_function THEN 'feature function' END,
							CASE WHEN h.active <> t.active THEN
								CASE WHEN h.active THEN 'active here, not there' ELSE 'active there, not here' END END)
				   END
			FROM here h FULL JOIN there t ON h.name = t.name AND h.version = t.version
			WHERE t.name IS NULL OR h.name IS NULL OR h.sha256 <> t.sha256
			   OR h.review_threshold <> t.review_threshold OR h.decline_threshold <> t.decline_threshold
			   OR h.feature_function IS DISTINCT FROM t.feature_function OR h.active <> t.active
			ORDER BY 2, 3
		$q$, '@extschema@', dblink_schema, remote_schema, @extschema@.fraud_node_label(nodes[i]));
		EXECUTE format('SELECT %I.dblink_disconnect(''fraud_model_compare'')', dblink_schema);
	END LOOP;
EXCEPTION WHEN OTHERS OR query_canceled THEN
	-- leave no connection open behind an error
	EXECUTE format('SELECT %I.dblink_disconnect(''fraud_model_compare'') WHERE ''fraud_model_compare'' = ANY (coalesce(%I.dblink_get_connections(), ''{}''))',
				   dblink_schema, dblink_schema);
	RAISE;
END
$$;

REVOKE ALL ON FUNCTION fraud_model_receive(jsonb, integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_push(text, integer, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_model_compare(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraud_node_connect(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_model_receive(jsonb, integer, boolean) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_push(text, integer, text[], boolean) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_model_compare(text[]) TO fraud_score_admin;
GRANT EXECUTE ON FUNCTION fraud_node_connect(text, text, text) TO fraud_score_admin;
