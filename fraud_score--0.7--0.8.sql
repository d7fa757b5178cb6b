/* fraud_score--0.7--0.8.sql: declared velocity features (docs/velocity-design.md) */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.8'" to load this file. \quit

-- One row per declared feature set.  "buckets" names each entity's bucket
-- table (text, so that pg_dump and restore keep it by name); "function" is
-- the set's feature function, made by fraud_feature_set_create.
CREATE TABLE fraud_feature_sets (
	name text PRIMARY KEY,
	source regclass NOT NULL,
	definition jsonb NOT NULL,
	function regprocedure UNIQUE,
	buckets jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by name NOT NULL DEFAULT current_user
);
SELECT pg_catalog.pg_extension_config_dump('fraud_feature_sets', '');
REVOKE ALL ON fraud_feature_sets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON fraud_feature_sets TO fraud_score_admin;

-- Refuses a definition that does not fit the table, before anything is made.
CREATE FUNCTION fraud_feature_set_check(name text, source regclass, definition jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'fraud_feature_set_check'
LANGUAGE C STRICT STABLE;

-- The bucket maintenance trigger: AFTER INSERT OR UPDATE OR DELETE FOR EACH
-- ROW on the source, its argument the set's name.
CREATE FUNCTION fraud_feature_set_maintain()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fraud_feature_set_maintain'
LANGUAGE C;

-- TRUNCATE of the source empties its buckets.
CREATE FUNCTION fraud_feature_set_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	table_name text;
BEGIN
	FOR table_name IN
		SELECT b.value FROM @extschema@.fraud_feature_sets s, jsonb_each_text(s.buckets) b
		WHERE s.name = TG_ARGV[0]
	LOOP
		EXECUTE 'TRUNCATE ' || table_name;
	END LOOP;
	RETURN NULL;
END
$$;

-- The bucket tables' trigger: a bucket row written through SQL (by hand, a
-- restore, the backfill) makes backends' copies of bucket rows stale
-- (fraud_score.bucket_cache_size).  Enabled always, so that a logical
-- replication subscriber fires it too.
CREATE FUNCTION fraud_feature_set_buckets_written()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fraud_feature_set_buckets_written'
LANGUAGE C;

-- This backend's copies of finer bucket rows and how often they served
-- (docs/velocity.md, "The bucket cache").
CREATE FUNCTION fraud_feature_set_cache(OUT enabled boolean, OUT hits bigint, OUT fetches bigint,
										OUT copies_made bigint, OUT copies bigint, OUT bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'fraud_feature_set_cache'
LANGUAGE C VOLATILE;

-- Makes the feature function of a set that has none yet: LANGUAGE c, so
-- made by the extension's owner, named as the set in the source's schema.
CREATE FUNCTION fraud_feature_set_make_function(name text)
RETURNS regprocedure
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fs record;
	schema_name name;
	made regprocedure;
BEGIN
	SELECT * INTO fs FROM @extschema@.fraud_feature_sets s WHERE s.name = fraud_feature_set_make_function.name;
	IF NOT FOUND OR fs.function IS NOT NULL THEN
		RAISE EXCEPTION 'feature set "%" does not exist or has its function', fraud_feature_set_make_function.name
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT n.nspname INTO schema_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = fs.source;
	EXECUTE format('CREATE FUNCTION %I.%I(jsonb) RETURNS jsonb LANGUAGE c STABLE PARALLEL SAFE '
				   'AS %L, %L', schema_name, fs.name, '$libdir/fraud_score', 'fraud_feature_set_function');
	made := format('%I.%I(jsonb)', schema_name, fs.name)::regprocedure;
	EXECUTE format('COMMENT ON FUNCTION %s IS %L', made,
				   format('features of the declared feature set %s (fraud_feature_set_create)', fs.name));
	UPDATE @extschema@.fraud_feature_sets s SET function = made WHERE s.name = fs.name;
	RETURN made;
END
$$;
REVOKE ALL ON FUNCTION fraud_feature_set_make_function(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_make_function(text) TO fraud_score_admin;

-- The bucket table of one entity: keys, tier, bucket, slots (docs/velocity.md).
CREATE FUNCTION fraud_feature_set_bucket_table(source regclass, set_name text, entity text, keys jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	source_schema name;
	source_name name;
	source_owner name;
	key_columns text;
	key_list text;
	buckets_name text;
BEGIN
	SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner)
	INTO source_schema, source_name, source_owner
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = source;
	SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY k.ord),
		   string_agg(format('%I', a.attname), ', ' ORDER BY k.ord)
	INTO key_columns, key_list
	FROM jsonb_array_elements_text(keys) WITH ORDINALITY AS k(col, ord)
	JOIN pg_attribute a ON a.attrelid = source AND a.attname = k.col;
	buckets_name := left(set_name || '_' || entity, 48) || '_buckets';
	EXECUTE format('CREATE TABLE %I.%I (%s, tier int2 NOT NULL, bucket int8 NOT NULL, slots bytea NOT NULL) '
				   'WITH (fillfactor = 90)', source_schema, buckets_name, key_columns);
	EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN slots SET STORAGE PLAIN', source_schema, buckets_name);
	-- no unique key: stripes of one bucket share (keys, tier, bucket)
	EXECUTE format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', source_schema, buckets_name);
	-- Without deduplication: a hot bucket's stripe versions that moved pages
	-- leave entries of one key, and a scan cannot mark a posting list that
	-- mixes dead and live ones dead, so every scan of the bucket visited the
	-- dead ones until a page split's deletion removed them.
	EXECUTE format('CREATE INDEX ON %I.%I (%s, tier, bucket) WITH (deduplicate_items = off)',
				   source_schema, buckets_name, key_list);
	EXECUTE format('CREATE TRIGGER written AFTER INSERT OR UPDATE OR DELETE ON %I.%I '
				   'FOR EACH ROW EXECUTE FUNCTION @extschema@.fraud_feature_set_buckets_written()',
				   source_schema, buckets_name);
	EXECUTE format('ALTER TABLE %I.%I ENABLE ALWAYS TRIGGER written', source_schema, buckets_name);
	EXECUTE format('COMMENT ON TABLE %I.%I IS %L', source_schema, buckets_name,
				   format('buckets of entity %s of the feature set %s: written by its triggers, '
						  'rebuilt by fraud_feature_set_backfill', entity, set_name));
	EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', source_schema, buckets_name, source_owner);
	RETURN format('%I.%I', source_schema, buckets_name);
END
$$;

REVOKE ALL ON FUNCTION fraud_feature_set_bucket_table(regclass, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_bucket_table(regclass, text, text, jsonb) TO fraud_score_admin;

CREATE FUNCTION fraud_feature_set_create(name text, source regclass, definition jsonb)
RETURNS regprocedure
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	entity record;
	buckets jsonb := '{}';
	time_column text := definition->>'time';
	time_attnum int2;
	made regprocedure;
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_feature_set_create()');
	IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = source), 'USAGE') THEN
		RAISE EXCEPTION 'must be the owner of table % to declare a feature set on it', source
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.fraud_feature_sets s WHERE s.name = fraud_feature_set_create.name) THEN
		RAISE EXCEPTION 'feature set "%" already exists', fraud_feature_set_create.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	PERFORM @extschema@.fraud_feature_set_check(name, source, definition);
	-- the source is not written while its buckets are made and filled
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', source);
	SELECT attnum INTO time_attnum FROM pg_attribute WHERE attrelid = source AND attname = time_column;
	FOR entity IN SELECT e.key AS entity, e.value->'keys' AS keys
				  FROM jsonb_each(definition->'entities') e
	LOOP
		buckets := buckets || jsonb_build_object(entity.entity,
			@extschema@.fraud_feature_set_bucket_table(source, name, entity.entity, entity.keys));
		IF NOT EXISTS (
			SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
			WHERE i.indrelid = source AND ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
			  AND i.indpred IS NULL AND i.indnkeyatts > jsonb_array_length(entity.keys)
			  AND (i.indkey::int2[])[0:jsonb_array_length(entity.keys)] =
				  (SELECT array_agg(a.attnum ORDER BY k.ord) || time_attnum
				   FROM jsonb_array_elements_text(entity.keys) WITH ORDINALITY AS k(col, ord)
				   JOIN pg_attribute a ON a.attrelid = source AND a.attname = k.col)) THEN
			-- covering what raw reads need, so that they can be index-only
			EXECUTE format('CREATE INDEX ON %s (%s, %I) INCLUDE (%s)', source,
						   (SELECT string_agg(format('%I', k.col), ', ' ORDER BY k.ord)
							FROM jsonb_array_elements_text(entity.keys) WITH ORDINALITY AS k(col, ord)),
						   time_column,
						   (SELECT string_agg(format('%I', c), ', ' ORDER BY c)
							FROM (SELECT definition->>'arrival' AS c
								  UNION SELECT definition->>'known_at' WHERE definition ? 'known_at'
								  UNION SELECT f.value->>'column' FROM jsonb_each(definition->'features') f
								  WHERE f.value->>'entity' = entity.entity AND f.value ? 'column') cols));
		END IF;
	END LOOP;
	INSERT INTO @extschema@.fraud_feature_sets (name, source, definition, buckets)
	VALUES (fraud_feature_set_create.name, source, definition, buckets);
	made := @extschema@.fraud_feature_set_make_function(name);
	EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION @extschema@.fraud_feature_set_maintain(%L)',
				   left(name, 40) || '_buckets', source, name);
	EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fraud_feature_set_truncate(%L)',
				   left(name, 40) || '_truncate', source, name);
	PERFORM @extschema@.fraud_feature_set_backfill(name);
	RETURN made;
END
$$;

REVOKE ALL ON FUNCTION fraud_feature_set_create(text, regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_create(text, regclass, jsonb) TO fraud_score_admin;

-- Rebuilds a set's buckets from the source's rows, under a lock that keeps
-- writers of the source out meanwhile.
CREATE FUNCTION fraud_feature_set_backfill(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fraud_feature_set_backfill'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION fraud_feature_set_backfill(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_backfill(text) TO fraud_score_admin;

-- The reference: a row document's features recomputed from the raw rows by
-- plain SQL, one query per feature, with the same point-in-time rules
-- (arrival before the row's, time in (t - window, t], known_at <= t).  Slow
-- by design: the tests compare the feature functions with it.
CREATE FUNCTION fraud_feature_set_recompute(name text, document jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fs record;
	d jsonb;
	f record;
	time_type text;
	t text;
	arrival bigint;
	key_match text;
	in_window text;
	known text;
	rows_filter text;
	result jsonb := '{}';
	agg numeric;
	mean_count bigint;
	mean_sum numeric;
	digits integer;
	v jsonb;
BEGIN
	SELECT * INTO fs FROM @extschema@.fraud_feature_sets s WHERE s.name = fraud_feature_set_recompute.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature set "%" does not exist', fraud_feature_set_recompute.name
			USING ERRCODE = 'undefined_object';
	END IF;
	d := fs.definition;
	digits := coalesce((d->>'digits')::integer, 6);
	SELECT format_type(a.atttypid, NULL) INTO time_type
	FROM pg_attribute a WHERE a.attrelid = fs.source AND a.attname = d->>'time';
	t := format('%L::%s', coalesce(document->>(d->>'time'),
								   CASE WHEN time_type = 'timestamp without time zone'
										THEN localtimestamp::text ELSE now()::text END), time_type);
	arrival := coalesce((document->>(d->>'arrival'))::bigint, 9223372036854775807);
	known := CASE WHEN d ? 'known_at' THEN format('coalesce(h.%I <= %s, false)', d->>'known_at', t)
			 ELSE 'false' END;
	FOR f IN SELECT e.key, e.value FROM jsonb_each(d->'features') e LOOP
		IF f.value->>'kind' IN ('value', 'hour', 'day_of_week', 'is_weekend') THEN
			EXECUTE format('SELECT %s', CASE f.value->>'kind'
				WHEN 'value' THEN format('%L::jsonb', coalesce(document->(f.value->>'column'), 'null'))
				WHEN 'hour' THEN format('to_jsonb(extract(hour FROM %s))', t)
				WHEN 'day_of_week' THEN format('to_jsonb(extract(isodow FROM %s))', t)
				ELSE format('to_jsonb(extract(isodow FROM %s) >= 6)', t) END)
			INTO v;
			result := result || jsonb_build_object(f.key, v);
			CONTINUE;
		END IF;
		SELECT string_agg(format('h.%I = (%L::jsonb->>%L)::%s', k.col, document, k.col,
								 format_type(a.atttypid, a.atttypmod)), ' AND ')
		INTO key_match
		FROM jsonb_array_elements_text(d->'entities'->(f.value->>'entity')->'keys') k(col)
		JOIN pg_attribute a ON a.attrelid = fs.source AND a.attname = k.col;
		in_window := format('%s AND h.%I <= %s AND h.%I < %s', key_match, d->>'time', t, d->>'arrival', arrival);
		IF f.value ? 'window' THEN
			in_window := in_window || format(' AND h.%I > %s - extract(epoch FROM %L::interval) * interval ''1 second''',
											 d->>'time', t, f.value->>'window');
		END IF;
		rows_filter := CASE coalesce(f.value->>'rows', 'all') WHEN 'unlabeled' THEN ' AND NOT ' || known
						  WHEN 'known' THEN ' AND ' || known ELSE '' END;
		IF f.value->>'kind' = 'exceeds' THEN
			EXECUTE format('SELECT count(h.%1$I), sum(h.%1$I) FROM %2$s h WHERE %3$s AND h.%4$I <= %5$s AND h.%6$I < %7$s '
						   'AND h.%4$I > %5$s - extract(epoch FROM %8$L::interval) * interval ''1 second''%9$s',
						   f.value->>'column', fs.source, key_match, d->>'time', t, d->>'arrival', arrival,
						   f.value->>'mean_window',
						   CASE coalesce(f.value->>'mean_rows', 'all') WHEN 'unlabeled' THEN ' AND NOT ' || known
								WHEN 'known' THEN ' AND ' || known ELSE '' END)
			INTO mean_count, mean_sum;
			EXECUTE format('SELECT count(*) FILTER (WHERE h.%I * %s > %s * %s) FROM %s h WHERE %s%s',
						   f.value->>'column', mean_count, f.value->>'factor', coalesce(mean_sum::text, 'NULL'),
						   fs.source, in_window, rows_filter)
			INTO agg;
			result := result || jsonb_build_object(f.key, agg);
			CONTINUE;
		END IF;
		EXECUTE format('SELECT %s FROM %s h WHERE %s',
			CASE f.value->>'kind'
				WHEN 'count' THEN 'count(*)'
				WHEN 'sum' THEN format('sum(h.%I)', f.value->>'column')
				WHEN 'mean' THEN format('round(sum(h.%1$I) / count(h.%1$I), %2$s)', f.value->>'column', digits)
				WHEN 'min' THEN format('min(h.%I)', f.value->>'column')
				WHEN 'max' THEN format('max(h.%I)', f.value->>'column')
				WHEN 'ratio' THEN format('round((%1$L::jsonb->>%2$L)::numeric * count(h.%2$I) / nullif(sum(h.%2$I), 0), %3$s)',
										 document, f.value->>'column', digits)
				WHEN 'known_count' THEN format('count(*) FILTER (WHERE %s)', known)
				WHEN 'known_rate' THEN format('round((count(*) FILTER (WHERE %s))::numeric / nullif(count(*), 0), %s)',
											  known, digits)
				WHEN 'days_since_known' THEN format('round(extract(epoch FROM %s - max(h.%I) FILTER (WHERE %s)) / 86400, %s)',
													t, d->>'time', known, digits)
				WHEN 'episode_days' THEN format('round(extract(epoch FROM %s - min(h.%I) FILTER (WHERE %s)) / 86400, %s)',
												t, d->>'time', known, digits)
			END, fs.source,
			in_window || CASE WHEN f.value->>'kind' IN ('known_count', 'known_rate', 'days_since_known', 'episode_days')
							  THEN '' ELSE rows_filter END)
		INTO agg;
		result := result || jsonb_build_object(f.key, agg);
	END LOOP;
	RETURN result;
END
$$;

-- Every difference between a set's stored buckets and its source's rows, of
-- the entities whose keys "keys" names (all when NULL), e.g.
-- fraud_feature_set_verify('card_tx_velocity', '{"customer_id": 42}').
CREATE FUNCTION fraud_feature_set_verify(name text, keys jsonb DEFAULT NULL)
RETURNS TABLE (entity text, keys text, tier integer, bucket bigint, slot integer, problem text)
AS 'MODULE_PATHNAME', 'fraud_feature_set_verify'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION fraud_feature_set_verify(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_verify(text, jsonb) TO fraud_score_admin;

-- Drops a set: its triggers, feature function and bucket tables; refused
-- while a model version names the function.
CREATE FUNCTION fraud_feature_set_drop(name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fs record;
	table_name text;
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_feature_set_drop()');
	SELECT * INTO fs FROM @extschema@.fraud_feature_sets s WHERE s.name = fraud_feature_set_drop.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature set "%" does not exist', fraud_feature_set_drop.name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.fraud_score_models m WHERE m.feature_function = fs.function::text) THEN
		RAISE EXCEPTION 'feature set "%" is the feature function of a model version', fs.name
			USING ERRCODE = 'dependent_objects_still_exist',
				  DETAIL = format('%s: %s.', fs.function,
								  (SELECT string_agg(format('%s version %s', m.name, m.version), ', ' ORDER BY m.name, m.version)
								   FROM @extschema@.fraud_score_models m WHERE m.feature_function = fs.function::text)),
				  HINT = 'Drop those versions, or load them again with another feature function.';
	END IF;
	IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = fs.source), 'USAGE') THEN
		RAISE EXCEPTION 'must be the owner of table % to drop its feature set', fs.source
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', left(fs.name, 40) || '_buckets', fs.source);
	EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', left(fs.name, 40) || '_truncate', fs.source);
	FOR table_name IN SELECT b.value FROM jsonb_each_text(fs.buckets) b LOOP
		EXECUTE 'DROP TABLE IF EXISTS ' || table_name;
	END LOOP;
	DELETE FROM @extschema@.fraud_feature_sets s WHERE s.name = fs.name;
	PERFORM @extschema@.fraud_feature_set_drop_function(fs.function);
END
$$;
REVOKE ALL ON FUNCTION fraud_feature_set_drop(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_drop(text) TO fraud_score_admin;

-- The feature function of a set no longer in the catalog, dropped by its
-- owner (the extension's owner).
CREATE FUNCTION fraud_feature_set_drop_function(function regprocedure)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM @extschema@.fraud_feature_sets s WHERE s.function = fraud_feature_set_drop_function.function)
	   OR (SELECT probin || '/' || prosrc FROM pg_proc WHERE oid = function) IS DISTINCT FROM
		  '$libdir/fraud_score/fraud_feature_set_function' THEN
		RAISE EXCEPTION 'function % is not the feature function of a dropped feature set', function
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	EXECUTE format('DROP FUNCTION %s', function);
END
$$;
REVOKE ALL ON FUNCTION fraud_feature_set_drop_function(regprocedure) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_drop_function(regprocedure) TO fraud_score_admin;

-- A set whose source table or feature function is dropped (DROP TABLE,
-- DROP SCHEMA ... CASCADE) goes with it: its triggers went with the table,
-- and its bucket tables, function and catalog row follow here.
CREATE FUNCTION fraud_feature_sets_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fs record;
	table_name text;
BEGIN
	FOR fs IN
		SELECT s.name, s.source::oid AS source, s.function::oid AS function, s.buckets
		FROM @extschema@.fraud_feature_sets s
		WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = s.source::oid)
		   OR (s.function IS NOT NULL AND NOT EXISTS (SELECT FROM pg_proc p WHERE p.oid = s.function::oid))
	LOOP
		IF EXISTS (SELECT FROM pg_class c WHERE c.oid = fs.source) THEN
			EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', left(fs.name, 40) || '_buckets', fs.source::regclass);
			EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', left(fs.name, 40) || '_truncate', fs.source::regclass);
		END IF;
		FOR table_name IN SELECT b.value FROM jsonb_each_text(fs.buckets) b LOOP
			IF to_regclass(table_name) IS NOT NULL THEN
				EXECUTE 'DROP TABLE ' || table_name;
			END IF;
		END LOOP;
		IF EXISTS (SELECT FROM pg_proc p WHERE p.oid = fs.function) THEN
			EXECUTE format('DROP FUNCTION %s', fs.function::regprocedure);
		END IF;
		DELETE FROM @extschema@.fraud_feature_sets s WHERE s.name = fs.name;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION fraud_feature_sets_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER fraud_feature_sets_dropped ON sql_drop
	EXECUTE FUNCTION fraud_feature_sets_dropped();
