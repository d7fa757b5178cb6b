/*-------------------------------------------------------------------------
 *
 * velocity_sql.c
 *		SQL entry points of declared feature sets: fraud_feature_set_check
 *		and the bucket maintenance trigger fraud_feature_set_maintain (the
 *		feature function, backfill and verify come next: see
 *		docs/velocity-design.md).  Called by no other file.
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
#include "utils/rel.h"

#include "fraud_score.h"
#include "velocity.h"
#include "buckets.h"

FRAUD_SQL_FUNCTION(fraud_feature_set_check);
FRAUD_SQL_FUNCTION(fraud_feature_set_maintain);

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

/* A value column's contribution: exact scaled integer or double. */
static void
column_value(VelocityRuntime *rt, int c, Datum value, int64 *fixed, double *real)
{
	const VelocityColumn *col = &rt->set->columns[c];

	*fixed = 0;
	*real = 0;
	switch (col->type)
	{
		case INT2OID:
			*fixed = DatumGetInt16(value);
			break;
		case INT4OID:
			*fixed = DatumGetInt32(value);
			break;
		case INT8OID:
			*fixed = DatumGetInt64(value);
			break;
		case FLOAT4OID:
			*real = DatumGetFloat4(value);
			break;
		case FLOAT8OID:
			*real = DatumGetFloat8(value);
			break;
		case NUMERICOID:
			if (col->fixed)
				*fixed = DatumGetInt64(DirectFunctionCall1(numeric_int8,
														   DirectFunctionCall2(numeric_mul, value,
																			   rt->scale_factors[c])));
			else
				*real = DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
			break;
	}
}

/* The delta of one source row, added (sign 1) or removed (sign -1). */
static bool
row_delta(VelocityRuntime *rt, HeapTuple tuple, TupleDesc desc, int sign, BucketDelta *d)
{
	VelocitySet *vs = rt->set;
	bool		isnull;
	Datum		value;

	memset(d, 0, sizeof(BucketDelta));
	value = heap_getattr(tuple, vs->time_attnum, desc, &isnull);
	if (isnull)
		return false;			/* a row without a time is in no window */
	d->time = DatumGetInt64(value);
	value = heap_getattr(tuple, vs->arrival_attnum, desc, &isnull);
	d->arrival = isnull ? 0 : (vs->arrival_type == INT8OID ? DatumGetInt64(value) :
							   vs->arrival_type == INT4OID ? DatumGetInt32(value) :
							   DatumGetInt16(value));
	d->n = sign;
	if (vs->known_attnum != InvalidAttrNumber)
	{
		value = heap_getattr(tuple, vs->known_attnum, desc, &isnull);
		if (!isnull)
		{
			d->nk = sign;
			d->known_valid = sign > 0;
			d->known = DatumGetInt64(value);
			d->labeled_time_valid = sign > 0;
			d->labeled_time = d->time;
			d->removal |= sign < 0;
		}
	}
	for (int c = 0; c < vs->num_columns; c++)
	{
		int64		fixed;
		double		real;

		value = heap_getattr(tuple, vs->columns[c].attnum, desc, &isnull);
		if (isnull)
			continue;
		column_value(rt, c, value, &fixed, &real);
		d->fixed[c] = sign * fixed;
		d->real[c] = sign * real;
		if (d->nk != 0)
		{
			d->fixed_known[c] = d->fixed[c];
			d->real_known[c] = d->real[c];
		}
		d->value_valid[c] = sign > 0;
		d->fixed_value[c] = fixed;
		d->real_value[c] = real;
		d->removal |= sign < 0;
	}
	return true;
}

static int64
floor_div(int64 a, int64 b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* One source row into (or out of) every tier of every entity. */
static void
apply_row(VelocityRuntime *rt, HeapTuple tuple, TupleDesc desc, int sign)
{
	VelocitySet *vs = rt->set;
	BucketDelta *d = palloc(sizeof(BucketDelta));

	if (!row_delta(rt, tuple, desc, sign, d))
		return;
	for (int i = 0; i < vs->num_entities; i++)
	{
		VelocityEntity *e = &vs->entities[i];
		Datum		keys[INDEX_MAX_KEYS];
		bool		null_key = false;
		BucketTarget target;

		for (int k = 0; k < e->num_keys; k++)
		{
			bool		isnull;

			keys[k] = heap_getattr(tuple, e->key_attnums[k], desc, &isnull);
			null_key |= isnull;
		}
		if (null_key)
			continue;			/* a NULL key matches no row */
		target.vs = vs;
		target.e = e;
		target.rel = table_open(rt->bucket_relids[i], RowExclusiveLock);
		target.index = index_open(rt->bucket_indexes[i], RowExclusiveLock);
		target.key_eq_procs = rt->key_eq_procs[i];
		target.words = rt->words[i];
		target.column_offsets = rt->column_offsets[i];
		for (int t = 0; t < e->num_tiers; t++)
		{
			int64		bucket = floor_div(d->time, e->tier_width[t]);
			int64		slot_width = e->tier_width[t] / e->tier_slots[t];
			int			slot = (int) ((d->time - bucket * e->tier_width[t]) / slot_width);

			CommandCounterIncrement();
			buckets_apply(&target, keys, t, bucket, slot, d);
		}
		index_close(target.index, RowExclusiveLock);
		table_close(target.rel, RowExclusiveLock);
	}
	pfree(d);
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
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		apply_row(rt, td->tg_trigtuple, desc, -1);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		apply_row(rt, td->tg_trigtuple, desc, 1);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		apply_row(rt, td->tg_newtuple, desc, 1);
	return PointerGetDatum(NULL);
}
