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
