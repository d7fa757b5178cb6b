/* fraud_score--0.7--0.8.sql: declared velocity features (docs/velocity-design.md) */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.8'" to load this file. \quit

-- One row per declared feature set.  "buckets" names each entity's bucket
-- table (regclass text, so that pg_dump and restore keep it by name).
CREATE TABLE fraud_feature_sets (
	name text PRIMARY KEY,
	source regclass NOT NULL,
	definition jsonb NOT NULL,
	function text NOT NULL,
	buckets jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by name NOT NULL DEFAULT current_user
);
SELECT pg_catalog.pg_extension_config_dump('fraud_feature_sets', '');
REVOKE ALL ON fraud_feature_sets FROM PUBLIC;
GRANT SELECT ON fraud_feature_sets TO fraud_score_admin;

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

CREATE FUNCTION fraud_feature_set_create(name text, source regclass, definition jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	entity record;
	source_schema name;
	source_name name;
	source_owner name;
	buckets_name text;
	key_columns text;
	key_list text;
	buckets jsonb := '{}';
BEGIN
	PERFORM @extschema@.fraud_model_check_writable('fraud_feature_set_create()');
	PERFORM @extschema@.fraud_feature_set_check(name, source, definition);
	SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner)
	INTO source_schema, source_name, source_owner
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = source;
	FOR entity IN SELECT e.key AS entity, e.value->'keys' AS keys
				  FROM jsonb_each(definition->'entities') e
	LOOP
		SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
						  ORDER BY k.ord),
			   string_agg(format('%I', a.attname), ', ' ORDER BY k.ord)
		INTO key_columns, key_list
		FROM jsonb_array_elements_text(entity.keys) WITH ORDINALITY AS k(col, ord)
		JOIN pg_attribute a ON a.attrelid = source AND a.attname = k.col;
		buckets_name := left(source_name || '_' || entity.entity, 48) || '_fraud_buckets';
		EXECUTE format('CREATE TABLE %I.%I (%s, tier int2 NOT NULL, bucket int8 NOT NULL, '
					   'min_time int8 NOT NULL, max_time int8 NOT NULL, max_seq int8 NOT NULL, '
					   'max_known int8 NOT NULL, stale boolean NOT NULL, slots bytea NOT NULL) '
					   'WITH (fillfactor = 70)',
					   source_schema, buckets_name, key_columns);
		EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN slots SET STORAGE PLAIN',
					   source_schema, buckets_name);
		EXECUTE format('CREATE INDEX ON %I.%I (%s, tier, bucket)',
					   source_schema, buckets_name, key_list);
		EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', source_schema, buckets_name, source_owner);
		buckets := buckets || jsonb_build_object(entity.entity,
												 format('%I.%I', source_schema, buckets_name));
	END LOOP;
	EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION @extschema@.fraud_feature_set_maintain(%L)',
				   'fraud_features_' || name, source, name);
	INSERT INTO @extschema@.fraud_feature_sets (name, source, definition, function, buckets)
	VALUES (fraud_feature_set_create.name, source, definition, '', buckets);
END
$$;

REVOKE ALL ON FUNCTION fraud_feature_set_create(text, regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fraud_feature_set_create(text, regclass, jsonb) TO fraud_score_admin;

-- The reference: a row document's features recomputed from the raw rows by
-- plain SQL, one query per feature, with the same point-in-time rules
-- (arrival < the row's, time in (t - window, t], known_at <= t).  Slow by
-- design; the tests and fraud_feature_set_verify compare against it.
CREATE FUNCTION fraud_feature_set_recompute(name text, document jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fs record;
	d jsonb;
	f record;
	t timestamptz;
	arrival bigint;
	key_match text;
	in_window text;
	unlabeled text;
	known text;
	result jsonb := '{}';
	value numeric;
	mean numeric;
	digits integer;
	v jsonb;
BEGIN
	SELECT * INTO fs FROM @extschema@.fraud_feature_sets s WHERE s.name = fraud_feature_set_recompute.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature set "%" does not exist', fraud_feature_set_recompute.name
			USING ERRCODE = 'undefined_object';
	END IF;
	d := fs.definition;
	digits := (d->>'digits')::integer;
	t := coalesce((document->>(d->>'time'))::timestamptz, localtimestamp);
	arrival := coalesce((document->>(d->>'arrival'))::bigint, 9223372036854775807);
	known := CASE WHEN d ? 'known_at' THEN format('h.%I <= %L', d->>'known_at', t) ELSE 'false' END;
	unlabeled := format('NOT coalesce(%s, false)', known);
	FOR f IN SELECT key, value FROM jsonb_each(d->'features') LOOP
		IF f.value->>'kind' IN ('value', 'hour', 'day_of_week', 'is_weekend') THEN
			v := CASE f.value->>'kind'
				WHEN 'value' THEN document->(f.value->>'column')
				WHEN 'hour' THEN to_jsonb(extract(hour FROM t::timestamp))
				WHEN 'day_of_week' THEN to_jsonb(extract(isodow FROM t::timestamp))
				ELSE to_jsonb(extract(isodow FROM t::timestamp) >= 6) END;
			result := result || jsonb_build_object(f.key, v);
			CONTINUE;
		END IF;
		SELECT string_agg(format('h.%I IS NOT DISTINCT FROM (%L::jsonb->>%L)::%s', k.col, document, k.col,
								 format_type(a.atttypid, a.atttypmod)), ' AND ')
		INTO key_match
		FROM jsonb_array_elements_text(d->'entities'->(f.value->>'entity')->'keys') k(col)
		JOIN pg_attribute a ON a.attrelid = fs.source AND a.attname = k.col;
		in_window := format('%s AND h.%I <= %L AND h.%I < %s', key_match, d->>'time', t, d->>'arrival', arrival);
		IF f.value ? 'window' THEN
			in_window := in_window || format(' AND h.%I > %L::timestamptz - %L::interval', d->>'time', t,
											 f.value->>'window');
		END IF;
		-- per kind, one aggregate over the window's rows
		EXECUTE format('SELECT %s FROM %s h WHERE %s',
			CASE f.value->>'kind'
				WHEN 'count' THEN 'count(*)'
				WHEN 'sum' THEN format('sum(h.%I)', f.value->>'column')
				WHEN 'mean' THEN format('avg(h.%I)', f.value->>'column')
				WHEN 'min' THEN format('min(h.%I)', f.value->>'column')
				WHEN 'max' THEN format('max(h.%I)', f.value->>'column')
				WHEN 'ratio' THEN format('(%L::jsonb->>%L)::numeric / nullif(avg(h.%I), 0)', document,
										 f.value->>'column', f.value->>'column')
				WHEN 'known_count' THEN format('count(*) FILTER (WHERE %s)', known)
				WHEN 'known_rate' THEN format('(count(*) FILTER (WHERE %s))::numeric / nullif(count(*), 0)', known)
				WHEN 'days_since_known' THEN format('extract(epoch FROM %L::timestamptz - max(h.%I) FILTER (WHERE %s)) / 86400',
													t, d->>'time', known)
				WHEN 'episode_days' THEN format('extract(epoch FROM %L::timestamptz - min(h.%I) FILTER (WHERE %s)) / 86400',
												t, d->>'time', known)
				WHEN 'exceeds' THEN 'NULL'
			END, fs.source,
			in_window || CASE WHEN coalesce(f.value->>'rows', 'all') = 'unlabeled' THEN ' AND ' || unlabeled
							  WHEN f.value->>'rows' = 'known' THEN ' AND ' || known ELSE '' END)
		INTO value;
		IF f.value->>'kind' = 'exceeds' THEN
			EXECUTE format('SELECT avg(h.%I) FROM %s h WHERE %s AND h.%I > %L::timestamptz - %L::interval%s',
						   f.value->>'column', fs.source, key_match || format(' AND h.%I <= %L AND h.%I < %s',
						   d->>'time', t, d->>'arrival', arrival), d->>'time', t, f.value->>'mean_window',
						   CASE WHEN coalesce(f.value->>'mean_rows', 'all') = 'unlabeled' THEN ' AND ' || unlabeled
								WHEN f.value->>'mean_rows' = 'known' THEN ' AND ' || known ELSE '' END)
			INTO mean;
			EXECUTE format('SELECT count(*) FILTER (WHERE h.%I > %s * %L::numeric) FROM %s h WHERE %s',
						   f.value->>'column', f.value->>'factor', mean, fs.source, in_window)
			INTO value;
		END IF;
		IF digits IS NOT NULL AND f.value->>'kind' NOT IN ('count', 'known_count', 'exceeds', 'min', 'max', 'sum') THEN
			value := round(value, digits);
		END IF;
		result := result || jsonb_build_object(f.key, value);
	END LOOP;
	RETURN result;
END
$$;
