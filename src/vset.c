/*-------------------------------------------------------------------------
 *
 * vset.c
 *		Declared feature sets as a backend holds them: read from
 *		fraud_feature_sets, built by vdef.c, with the bucket tables and
 *		their key equality functions resolved; cached by name until a
 *		relcache invalidation of the catalog, a source or a bucket table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "access/genam.h"
#include "access/stratnum.h"
#include <math.h>

#include "velocity.h"
#include "buckets.h"

typedef struct CachedSet
{
	char	   *name;
	VelocityRuntime *runtime;
	struct CachedSet *next;
} CachedSet;

static CachedSet *cached_sets = NULL;

/* Any relcache invalidation may be of a source or bucket table, or of the
 * catalog itself: they are rare, so every set is rebuilt at its next use. */
static void
vset_relcache_callback(Datum arg, Oid relid)
{
	while (cached_sets != NULL)
	{
		CachedSet  *next = cached_sets->next;

		MemoryContextDelete(cached_sets->runtime->context);
		pfree(cached_sets->name);
		pfree(cached_sets);
		cached_sets = next;
	}
}

void
vset_init(void)
{
	CacheRegisterRelcacheCallback(vset_relcache_callback, (Datum) 0);
}

static void
resolve_entity(VelocityRuntime *rt, int i, const char *buckets_name)
{
	VelocityEntity *e = &rt->set->entities[i];
	Relation	rel;
	List	   *indexes;
	Relation	index;

	rt->bucket_relids[i] = DatumGetObjectId(DirectFunctionCall1(regclassin,
																CStringGetDatum(buckets_name)));
	rel = table_open(rt->bucket_relids[i], AccessShareLock);
	indexes = RelationGetIndexList(rel);
	if (indexes == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bucket table %s has no index", buckets_name),
				 errhint("Drop and create the feature set \"%s\" again.", rt->set->name)));
	rt->bucket_indexes[i] = linitial_oid(indexes);
	index = index_open(rt->bucket_indexes[i], AccessShareLock);
	rt->key_eq_procs[i] = palloc(sizeof(Oid) * e->num_keys);
	for (int k = 0; k < e->num_keys; k++)
	{
		Oid			op = get_opfamily_member(index->rd_opfamily[k], e->key_types[k],
											 e->key_types[k], BTEqualStrategyNumber);

		if (!OidIsValid(op))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("no equality operator for the key \"%s\" of entity \"%s\"",
							e->key_names[k], e->name)));
		rt->key_eq_procs[i][k] = get_opcode(op);
	}
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	rt->column_offsets[i] = palloc(sizeof(int) * Max(rt->set->num_columns, 1));
	rt->words[i] = buckets_payload_words(rt->set, e, rt->column_offsets[i]);
}

static VelocityRuntime *
build_runtime(const char *name, Oid source, Jsonb *definition, Jsonb *buckets)
{
	MemoryContext context = AllocSetContextCreate(CacheMemoryContext, "fraud_score feature set",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(context);
	VelocityRuntime *rt = palloc0(sizeof(VelocityRuntime));
	Relation	rel = table_open(source, AccessShareLock);
	Jsonb	   *definition_copy = palloc(VARSIZE(definition));

	memcpy(definition_copy, definition, VARSIZE(definition));
	rt->context = context;
	rt->set = vdef_build(name, rel, definition_copy);
	table_close(rel, AccessShareLock);
	rt->bucket_relids = palloc0(sizeof(Oid) * rt->set->num_entities);
	rt->bucket_indexes = palloc0(sizeof(Oid) * rt->set->num_entities);
	rt->key_eq_procs = palloc0(sizeof(Oid *) * rt->set->num_entities);
	rt->words = palloc0(sizeof(int) * rt->set->num_entities);
	rt->column_offsets = palloc0(sizeof(int *) * rt->set->num_entities);
	for (int i = 0; i < rt->set->num_entities; i++)
	{
		JsonbValue	k;
		JsonbValue *v;

		k.type = jbvString;
		k.val.string.val = rt->set->entities[i].name;
		k.val.string.len = strlen(k.val.string.val);
		v = findJsonbValueFromContainer(&buckets->root, JB_FOBJECT, &k);
		if (v == NULL || v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("feature set \"%s\" has no bucket table for entity \"%s\"", name,
							rt->set->entities[i].name)));
		resolve_entity(rt, i, pnstrdup(v->val.string.val, v->val.string.len));
	}
	rt->scale_factors = palloc0(sizeof(Datum) * Max(rt->set->num_columns, 1));
	for (int c = 0; c < rt->set->num_columns; c++)
		if (rt->set->columns[c].fixed && rt->set->columns[c].type == NUMERICOID)
			rt->scale_factors[c] = DirectFunctionCall1(int8_numeric,
													   Int64GetDatum((int64) pow(10, rt->set->columns[c].scale)));
	MemoryContextSwitchTo(old);
	return rt;
}

VelocityRuntime *
vset_get(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	VelocityRuntime *rt;
	CachedSet  *entry;
	bool		isnull;

	for (CachedSet *c = cached_sets; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c->runtime;
	args[0] = CStringGetTextDatum(name);
	SPI_connect();
	if (SPI_execute_with_args("SELECT source::oid, definition, buckets FROM fraud_feature_sets "
							  "WHERE name = $1", 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fraud_feature_sets");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature set \"%s\" does not exist", name)));
	rt = build_runtime(name,
					   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
					   DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
					   DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)));
	SPI_finish();
	entry = MemoryContextAlloc(CacheMemoryContext, sizeof(CachedSet));
	entry->name = MemoryContextStrdup(CacheMemoryContext, name);
	entry->runtime = rt;
	entry->next = cached_sets;
	cached_sets = entry;
	return rt;
}
