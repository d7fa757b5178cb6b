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
#include "access/xact.h"
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
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "access/stratnum.h"
#include <math.h>

#include "fraud_score.h"
#include "velocity.h"
#include "buckets.h"
#include "jsonbutil.h"

typedef struct CachedSet
{
	char	   *name;
	Oid			function;		/* its feature function */
	VelocityRuntime *runtime;
	struct CachedSet *next;
} CachedSet;

static CachedSet *cached_sets = NULL;

/* Sets invalidated while a transaction may still be using them: freed when
 * it ends, since an invalidation can arrive in the middle of a computation
 * (at any relation open) that holds a pointer into them. */
static CachedSet *retired_sets = NULL;

/* Any relcache invalidation may be of a source or bucket table, or of the
 * catalog itself: they are rare, so every set is rebuilt at its next use. */
static void
vset_relcache_callback(Datum arg, Oid relid)
{
	while (cached_sets != NULL)
	{
		CachedSet  *next = cached_sets->next;

		cached_sets->next = retired_sets;
		retired_sets = cached_sets;
		cached_sets = next;
	}
}

static void
vset_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	while (retired_sets != NULL)
	{
		CachedSet  *next = retired_sets->next;

		MemoryContextDelete(retired_sets->runtime->context);
		pfree(retired_sets->name);
		pfree(retired_sets);
		retired_sets = next;
	}
}

void
vset_init(void)
{
	CacheRegisterRelcacheCallback(vset_relcache_callback, (Datum) 0);
	RegisterXactCallback(vset_xact_callback, NULL);
}

/* Whether a source column is in the index, and where (0: not). */
static AttrNumber
index_position(Relation index, AttrNumber attnum)
{
	for (int i = 0; i < index->rd_index->indnatts; i++)
		if (index->rd_index->indkey.values[i] == attnum)
			return i + 1;
	return 0;
}

/* The columns raw reads of an entity need, mapped to the index's, or NULL
 * when the index lacks one of them. */
static AttrNumber *
covering_map(VelocityRuntime *rt, Relation source, Relation index, const VelocityEntity *e)
{
	const VelocitySet *vs = rt->set;
	AttrNumber *map = palloc0(sizeof(AttrNumber) * (RelationGetDescr(source)->natts + 1));
	AttrNumber	needed[VELOCITY_MAX_COLUMNS + 3];
	int			n = 0;

	needed[n++] = vs->time_attnum;
	needed[n++] = vs->arrival_attnum;
	if (vs->known_attnum != InvalidAttrNumber)
		needed[n++] = vs->known_attnum;
	for (int c = 0; c < vs->num_columns; c++)
		if (e->column_used[c])
			needed[n++] = vs->columns[c].attnum;
	for (int i = 0; i < n; i++)
	{
		map[needed[i]] = index_position(index, needed[i]);
		if (map[needed[i]] == 0)
		{
			pfree(map);
			return NULL;
		}
	}
	return map;
}

/* The source's btree index whose leading columns are the keys then the time:
 * what raw reads of an entity's rows use; one that covers them is preferred
 * (index-only reads). */
static Oid
raw_index(VelocityRuntime *rt, Relation source, const VelocityEntity *e, AttrNumber **map)
{
	List	   *indexes = RelationGetIndexList(source);
	ListCell   *lc;
	Oid			found = InvalidOid;

	*map = NULL;
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		bool		fits = index->rd_rel->relam == BTREE_AM_OID &&
			index->rd_index->indnkeyatts > e->num_keys &&
			RelationGetIndexPredicate(index) == NIL &&
			RelationGetIndexExpressions(index) == NIL &&
			index->rd_index->indkey.values[e->num_keys] == rt->set->time_attnum;
		AttrNumber *covering = NULL;

		for (int k = 0; fits && k < e->num_keys; k++)
			fits = index->rd_index->indkey.values[k] == e->key_attnums[k];
		if (fits)
			covering = covering_map(rt, source, index, e);
		index_close(index, AccessShareLock);
		if (fits && (!OidIsValid(found) || (covering != NULL && *map == NULL)))
		{
			found = lfirst_oid(lc);
			*map = covering;
		}
	}
	list_free(indexes);
	if (!OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no index on the keys of entity \"%s\" then \"%s\"",
						RelationGetRelationName(source), e->name, rt->set->time_name),
				 errdetail("Feature set \"%s\" reads the rows of an entity's open buckets through it.",
						   rt->set->name),
				 errhint("Create one, e.g. CREATE INDEX ON %s (%s, ...).",
						 RelationGetRelationName(source), e->key_names[0])));
	return found;
}

static void
resolve_entity(VelocityRuntime *rt, int i, const char *buckets_name, Relation source)
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
	rt->key_input[i] = palloc(sizeof(Oid) * e->num_keys);
	rt->key_ioparam[i] = palloc(sizeof(Oid) * e->num_keys);
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
		getTypeInputInfo(e->key_types[k], &rt->key_input[i][k], &rt->key_ioparam[i][k]);
	}
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	rt->raw_indexes[i] = raw_index(rt, source, e, &rt->raw_index_map[i]);
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
	int			n;

	memcpy(definition_copy, definition, VARSIZE(definition));
	rt->context = context;
	rt->set = vdef_build(name, rel, definition_copy);
	n = rt->set->num_entities;
	rt->bucket_relids = palloc0(sizeof(Oid) * n);
	rt->bucket_indexes = palloc0(sizeof(Oid) * n);
	rt->raw_indexes = palloc0(sizeof(Oid) * n);
	rt->raw_index_map = palloc0(sizeof(AttrNumber *) * n);
	rt->key_eq_procs = palloc0(sizeof(Oid *) * n);
	rt->key_input = palloc0(sizeof(Oid *) * n);
	rt->key_ioparam = palloc0(sizeof(Oid *) * n);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = jsonb_member(&buckets->root, rt->set->entities[i].name);

		if (v == NULL || v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("feature set \"%s\" has no bucket table for entity \"%s\"", name,
							rt->set->entities[i].name)));
		resolve_entity(rt, i, pnstrdup(v->val.string.val, v->val.string.len), rel);
	}
	table_close(rel, AccessShareLock);
	MemoryContextSwitchTo(old);
	return rt;
}

/* A fixed column's value in units of 10^-scale. */
/*
 * round(value * 10^scale) of a numeric, read off its stored digits (base
 * 10000, PostgreSQL's on-disk format) rather than by four numeric function
 * calls: a raw read converts every row's values.  Rounds half away from
 * zero as numeric_round does.  False for NaN, infinities, compressed or
 * external values, and results out of int64's range: the caller takes
 * numeric's own functions for those, and their errors.
 */
static bool
numeric_scaled(Datum value, int scale, int64 *result)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(value);
	const char *data;
	int			len;
	uint16		header;
	int			weight;
	bool		negative;
	const char *digits;
	int			ndigits;
	int128		acc = 0;
	int			dropped = 0;	/* the first digit right of the scaled point */

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		return false;			/* a toast pointer has a 1-byte header too */
	data = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&header, data, sizeof(uint16));
	if ((header & 0xC000) == 0xC000)
		return false;			/* NaN or an infinity */
	if ((header & 0xC000) == 0x8000)
	{
		/* short header: sign, display scale and a 7-bit weight in 16 bits */
		negative = (header & 0x2000) != 0;
		weight = (header & 0x0040) ? (int) (~0x003F | (header & 0x003F)) : (header & 0x003F);
		digits = data + sizeof(uint16);
		ndigits = (len - (int) sizeof(uint16)) / (int) sizeof(int16);
	}
	else
	{
		int16		w;

		if (len < (int) (2 * sizeof(uint16)))
			return false;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		negative = (header & 0xC000) == 0x4000;
		weight = w;
		digits = data + 2 * sizeof(uint16);
		ndigits = (len - 2 * (int) sizeof(uint16)) / (int) sizeof(int16);
	}
	for (int i = 0; i < ndigits; i++)
	{
		int16		d;
		int			exponent = 4 * (weight - i) + scale;	/* of the group's last digit */

		memcpy(&d, digits + i * sizeof(int16), sizeof(int16));
		if (d < 0 || d >= 10000)
			return false;
		if (d == 0)
			continue;
		if (exponent > 18)
			return false;
		if (exponent >= 0)
		{
			int128		p = 1;

			for (int e = 0; e < exponent; e++)
				p *= 10;
			acc += (int128) d * p;
		}
		else if (exponent >= -4)
		{
			int			p = 1;

			for (int e = 0; e < -exponent; e++)
				p *= 10;
			acc += d / p;
			dropped = (d / (p / 10)) % 10;
		}
		else
			break;				/* digits past the first dropped one */
		if (acc > PG_INT64_MAX)
			return false;
	}
	if (dropped >= 5)
		acc++;
	if (acc > PG_INT64_MAX)
		return false;
	*result = negative ? (int64) -acc : (int64) acc;
	return true;
}

int64
vset_scaled_value(const VelocityColumn *c, Datum value)
{
	switch (c->type)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return DatumGetInt64(value);
		case NUMERICOID:
			return vset_scaled_numeric(c, value);
	}
	elog(ERROR, "column \"%s\" is not an exact type", c->name);
	return 0;
}

/* A numeric scaled as column "c" is kept, whatever the column's type. */
int64
vset_scaled_numeric(const VelocityColumn *c, Datum value)
{
	int64		scaled;
	Datum		factor;
	Datum		product;

	if (numeric_scaled(value, c->scale, &scaled))
		return scaled;
	factor = DirectFunctionCall1(int8_numeric, Int64GetDatum(c->scale_factor));
	product = DirectFunctionCall2(numeric_mul, value, factor);
	product = DirectFunctionCall2(numeric_round, product, Int32GetDatum(0));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, product));
}

static int64
integer_datum(Oid type, Datum value)
{
	return type == INT8OID ? DatumGetInt64(value) :
		type == INT4OID ? DatumGetInt32(value) : DatumGetInt16(value);
}

/* The values of a stored source row that the buckets keep. */
void
vset_row_values(const VelocitySet *vs, TupleDesc desc, HeapTuple tuple, VelocityRowValues *row)
{
	bool		isnull;
	Datum		value;

	row->time = DatumGetInt64(heap_getattr(tuple, vs->time_attnum, desc, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the time column of feature set \"%s\" is null", vs->name),
				 errhint("Declare it NOT NULL.")));
	value = heap_getattr(tuple, vs->arrival_attnum, desc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the arrival column of feature set \"%s\" is null", vs->name),
				 errhint("Declare it NOT NULL, e.g. bigint GENERATED ALWAYS AS IDENTITY.")));
	row->arrival = integer_datum(vs->arrival_type, value);
	row->known_valid = false;
	if (vs->known_attnum != InvalidAttrNumber)
	{
		value = heap_getattr(tuple, vs->known_attnum, desc, &isnull);
		row->known_valid = !isnull;
		row->known = isnull ? 0 : DatumGetInt64(value);
	}
	for (int c = 0; c < vs->num_columns; c++)
	{
		row->value_valid[c] = false;
		if (!vs->columns[c].aggregated)
			continue;
		value = heap_getattr(tuple, vs->columns[c].attnum, desc, &isnull);
		row->value_valid[c] = !isnull;
		if (!isnull)
			row->value[c] = vset_scaled_value(&vs->columns[c], value);
	}
}

/* The set whose feature function is "fn". */
VelocityRuntime *
vset_get_by_function(Oid fn)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(fn)};
	char	   *value;
	char	   *name;
	VelocityRuntime *rt;

	/* a PL/pgSQL expression calling the function has a new FmgrInfo in each
	 * transaction: the cache answers without a query */
	for (CachedSet *c = cached_sets; c != NULL; c = c->next)
		if (c->function == fn)
			return c->runtime;
	SPI_connect();
	if (SPI_execute_with_args(psprintf("SELECT name FROM %s.fraud_feature_sets WHERE function = $1::regprocedure",
									   quote_identifier(get_namespace_name(catalog_extension_namespace()))),
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fraud_feature_sets");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("function %s is not the feature function of a feature set",
						format_procedure(fn)),
				 errhint("Create feature functions with fraud_feature_set_create.")));
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	name = SPI_palloc(strlen(value) + 1);
	strcpy(name, value);
	SPI_finish();
	rt = vset_get(name);
	/* an entry cached before its function was made learns it now */
	for (CachedSet *c = cached_sets; c != NULL; c = c->next)
		if (c->runtime == rt)
			c->function = fn;
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
	Oid			function;

	for (CachedSet *c = cached_sets; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c->runtime;
	args[0] = CStringGetTextDatum(name);
	SPI_connect();
	if (SPI_execute_with_args(psprintf("SELECT source::oid, definition, buckets, function::oid "
									   "FROM %s.fraud_feature_sets WHERE name = $1",
									   quote_identifier(get_namespace_name(catalog_extension_namespace()))), 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read fraud_feature_sets");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature set \"%s\" does not exist", name)));
	rt = build_runtime(name,
					   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
					   DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
					   DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)));
	function = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	if (isnull)
		function = InvalidOid;	/* between a drop of its function and its own drop */
	SPI_finish();
	entry = MemoryContextAlloc(CacheMemoryContext, sizeof(CachedSet));
	entry->name = MemoryContextStrdup(CacheMemoryContext, name);
	entry->function = function;
	entry->runtime = rt;
	entry->next = cached_sets;
	cached_sets = entry;
	return rt;
}
