/*-------------------------------------------------------------------------
 *
 * velocity_sql.c
 *		SQL entry points of declared feature sets: fraud_feature_set_check,
 *		the bucket maintenance trigger fraud_feature_set_maintain and the
 *		sets' feature function fraud_feature_set_function.  Called by no
 *		other file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "access/genam.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fraud_score.h"
#include "velocity.h"
#include "buckets.h"
#include "vread.h"
#include "vbackfill.h"
#include "vcache.h"
#include "funcapi.h"
#include "storage/lmgr.h"

FRAUD_SQL_FUNCTION(fraud_feature_set_check);
FRAUD_SQL_FUNCTION(fraud_feature_set_maintain);
FRAUD_SQL_FUNCTION(fraud_feature_set_function);
FRAUD_SQL_FUNCTION(fraud_feature_set_backfill);
FRAUD_SQL_FUNCTION(fraud_feature_set_verify);
FRAUD_SQL_FUNCTION(fraud_feature_set_buckets_written);
FRAUD_SQL_FUNCTION(fraud_feature_set_cache);

Datum
fraud_feature_set_check(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Relation	source = table_open(PG_GETARG_OID(1), AccessShareLock);

	if (source->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(source)),
				 errdetail("A feature set's source must be an ordinary table.")));
	vdef_build(name, source, PG_GETARG_JSONB_P(2));
	table_close(source, AccessShareLock);
	PG_RETURN_VOID();
}

static void
alloc_row_values(const VelocitySet *vs, VelocityRowValues *row)
{
	row->value_valid = palloc0(sizeof(bool) * Max(vs->num_columns, 1));
	row->value = palloc0(sizeof(int64) * Max(vs->num_columns, 1));
}

static bool
entity_keys(const VelocityEntity *e, HeapTuple tuple, TupleDesc desc, Datum *keys)
{
	for (int k = 0; k < e->num_keys; k++)
	{
		bool		isnull;

		keys[k] = heap_getattr(tuple, e->key_attnums[k], desc, &isnull);
		if (isnull)
			return false;		/* a NULL key matches no row */
	}
	return true;
}

static bool
same_keys(VelocityRuntime *rt, int entity, const Datum *a, const Datum *b)
{
	const VelocityEntity *e = &rt->set->entities[entity];

	for (int k = 0; k < e->num_keys; k++)
		if (!DatumGetBool(OidFunctionCall2Coll(rt->key_eq_procs[entity][k], InvalidOid, a[k], b[k])))
			return false;
	return true;
}

/* One delta into every tier of one entity's buckets, at the row's time. */
static void
apply_delta(VelocityRuntime *rt, int entity, const Datum *keys, int64 time, const int64 *delta)
{
	const VelocityEntity *e = &rt->set->entities[entity];
	BucketTarget target;

	target.e = e;
	target.rel = table_open(rt->bucket_relids[entity], RowExclusiveLock);
	target.index = index_open(rt->bucket_indexes[entity], RowExclusiveLock);
	target.key_eq_procs = rt->key_eq_procs[entity];
	for (int t = 0; t < e->num_tiers; t++)
	{
		int64		bucket = buckets_floor_div(time, e->tier_width[t]);
		int64		slot_width = e->tier_width[t] / e->tier_slots[t];
		int			slot = (int) ((time - bucket * e->tier_width[t]) / slot_width);

		buckets_apply(&target, keys, t, bucket, slot, delta);
	}
	index_close(target.index, RowExclusiveLock);
	table_close(target.rel, RowExclusiveLock);
}

/*
 * The change of one source row: OLD removed and NEW added, or, when an
 * update kept the entity's keys, the time and the values, only the label's
 * change.  CommandCounterIncrement first, so that the stripe versions this
 * statement wrote for earlier rows are visible and updatable.
 */
static void
maintain_row(VelocityRuntime *rt, TupleDesc desc, HeapTuple old_tuple, HeapTuple new_tuple)
{
	const VelocitySet *vs = rt->set;
	VelocityRowValues old_row;
	VelocityRowValues new_row;
	Datum		old_keys[INDEX_MAX_KEYS];
	Datum		new_keys[INDEX_MAX_KEYS];

	alloc_row_values(vs, &old_row);
	alloc_row_values(vs, &new_row);
	if (old_tuple)
		vset_row_values(vs, desc, old_tuple, &old_row);
	if (new_tuple)
		vset_row_values(vs, desc, new_tuple, &new_row);
	CommandCounterIncrement();
	for (int i = 0; i < vs->num_entities; i++)
	{
		const VelocityEntity *e = &vs->entities[i];
		int64	   *delta = palloc(sizeof(int64) * e->words);
		bool		old_valid = old_tuple && entity_keys(e, old_tuple, desc, old_keys);
		bool		new_valid = new_tuple && entity_keys(e, new_tuple, desc, new_keys);

		if (old_valid && new_valid && same_keys(rt, i, old_keys, new_keys) &&
			buckets_label_delta(e, &old_row, &new_row, delta))
		{
			if (delta[W_NK] != 0 || delta[W_MAX_KNOWN] != PG_INT64_MIN || delta[W_STALE] != 0)
				apply_delta(rt, i, new_keys, new_row.time, delta);
			continue;
		}
		if (old_valid)
		{
			buckets_row_payload(e, &old_row, -1, delta);
			apply_delta(rt, i, old_keys, old_row.time, delta);
		}
		if (new_valid)
		{
			buckets_row_payload(e, &new_row, 1, delta);
			apply_delta(rt, i, new_keys, new_row.time, delta);
		}
	}
}

Datum
fraud_feature_set_maintain(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	VelocityRuntime *rt;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_feature_set_maintain must be an AFTER ... FOR EACH ROW trigger with the feature set's name as its argument")));
	rt = vset_get(td->tg_trigger->tgargs[0]);
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		maintain_row(rt, desc, NULL, td->tg_trigtuple);
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		maintain_row(rt, desc, td->tg_trigtuple, NULL);
	else
		maintain_row(rt, desc, td->tg_trigtuple, td->tg_newtuple);
	return PointerGetDatum(NULL);
}

/*
 * The feature function of every declared set: CREATE FUNCTION <set>(jsonb)
 * made by fraud_feature_set_create, which finds its set by its own OID.
 */
Datum
fraud_feature_set_function(PG_FUNCTION_ARGS)
{
	VelocityRuntime *rt;
	Jsonb	   *result;

	if (fcinfo->flinfo->fn_extra == NULL)
	{
		rt = vset_get_by_function(fcinfo->flinfo->fn_oid);
		fcinfo->flinfo->fn_extra = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, rt->set->name);
	}
	rt = vset_get((const char *) fcinfo->flinfo->fn_extra);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	result = vfeatures_compute(rt, PG_GETARG_JSONB_P(0));
	PG_RETURN_JSONB_P(result);
}

/* Rebuilds a set's buckets from its source's rows, writers kept out by a
 * SHARE lock on the source, taken before the buckets' as TRUNCATE does. */
Datum
fraud_feature_set_backfill(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	VelocityRuntime *rt;

	catalog_check_writable("fraud_feature_set_backfill()");
	rt = vset_get(name);
	LockRelationOid(rt->set->source, ShareLock);
	rt = vset_get(name);
	vcache_writing_every();
	PG_RETURN_INT64(vverify_backfill(rt));
}

/*
 * The bucket tables' trigger, AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW
 * (enabled always): a bucket row written through SQL, by hand, a restore or
 * the backfill, makes every backend's copies of bucket rows stale
 * (vcache.c).  The maintenance trigger's own writes do not fire it.
 */
Datum
fraud_feature_set_buckets_written(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(((TriggerData *) fcinfo->context)->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_feature_set_buckets_written must be an AFTER trigger on a bucket table")));
	vcache_writing_every();
	return PointerGetDatum(NULL);
}

/* This backend's copies of bucket rows and how often they served. */
Datum
fraud_feature_set_cache(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {0};
	bool		enabled;
	int64		hits;
	int64		fetches;
	int64		kept;
	int64		num_copies;
	int64		bytes;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	vcache_counts(&enabled, &hits, &fetches, &kept, &num_copies, &bytes);
	values[0] = BoolGetDatum(enabled);
	values[1] = Int64GetDatum(hits);
	values[2] = Int64GetDatum(fetches);
	values[3] = Int64GetDatum(kept);
	values[4] = Int64GetDatum(num_copies);
	values[5] = Int64GetDatum(bytes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* Rows of (entity, keys, tier, bucket, slot, problem): every difference
 * between the stored buckets and the source's rows. */
Datum
fraud_feature_set_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VelocityRuntime *rt;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the feature set's name must not be null")));
	rt = vset_get(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	vverify_compare(rt, PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), rsinfo->setResult,
					rsinfo->setDesc);
	return (Datum) 0;
}
