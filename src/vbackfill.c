/*-------------------------------------------------------------------------
 *
 * vbackfill.c
 *		A declared feature set's buckets computed from the source's rows:
 *		one ordered pass per entity through the source's (keys, time) index,
 *		each bucket complete when the pass leaves it.  Backfill writes the
 *		buckets so computed; verify compares them with the stored ones.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "velocity.h"
#include "buckets.h"
#include "vbackfill.h"

/* The bucket of one tier being filled by the pass. */
typedef struct OpenBucket
{
	bool		open;
	int64		bucket;
	int64	   *dense;
	bool	   *present;
} OpenBucket;

typedef struct EntityPass
{
	VelocityRuntime *rt;
	const VelocityEntity *e;
	int			entity;
	Datum		keys[INDEX_MAX_KEYS];
	bool		have_keys;
	OpenBucket	tiers[VELOCITY_MAX_TIERS];
	BucketDone	done;
	void	   *arg;
} EntityPass;

static void
close_bucket(EntityPass *p, int tier)
{
	OpenBucket *ob = &p->tiers[tier];

	if (ob->open)
		p->done(p->arg, p->entity, p->keys, tier, ob->bucket, ob->dense, ob->present);
	ob->open = false;
}

static bool
keys_changed(EntityPass *p, const Datum *keys)
{
	if (!p->have_keys)
		return true;
	for (int k = 0; k < p->e->num_keys; k++)
		if (!DatumGetBool(OidFunctionCall2Coll(p->rt->key_eq_procs[p->entity][k], InvalidOid,
											   p->keys[k], keys[k])))
			return true;
	return false;
}

static void
add_to_pass(EntityPass *p, const Datum *keys, const VelocityRowValues *row, int64 *payload)
{
	const VelocityEntity *e = p->e;

	if (keys_changed(p, keys))
	{
		for (int t = 0; t < e->num_tiers; t++)
			close_bucket(p, t);
		for (int k = 0; k < e->num_keys; k++)
		{
			int16		typlen;
			bool		byval;

			get_typlenbyval(e->key_types[k], &typlen, &byval);
			p->keys[k] = datumCopy(keys[k], byval, typlen);
		}
		p->have_keys = true;
	}
	buckets_row_payload(e, row, 1, payload);
	for (int t = 0; t < e->num_tiers; t++)
	{
		OpenBucket *ob = &p->tiers[t];
		int64		bucket = buckets_floor_div(row->time, e->tier_width[t]);
		int64		slot_width = e->tier_width[t] / e->tier_slots[t];
		int			slot = (int) ((row->time - bucket * e->tier_width[t]) / slot_width);

		if (ob->open && ob->bucket != bucket)
			close_bucket(p, t);
		if (!ob->open)
		{
			ob->open = true;
			ob->bucket = bucket;
			memset(ob->present, 0, sizeof(bool) * e->tier_slots[t]);
		}
		if (!ob->present[slot])
			buckets_empty(e, ob->dense + slot * e->words);
		buckets_merge(e, ob->dense + slot * e->words, payload);
		ob->present[slot] = true;
	}
}

/*
 * Passes over the rows of one entity in (keys, time) order, those whose
 * keys equal "filter_keys" when given, calling "done" with every bucket
 * once it is complete.  Returns the number of rows.
 */
int64
vbackfill_pass(VelocityRuntime *rt, int entity, const Datum *filter_keys, BucketDone done,
			   void *arg)
{
	const VelocitySet *vs = rt->set;
	EntityPass	p;
	Relation	source = table_open(vs->source, AccessShareLock);
	Relation	index = index_open(rt->raw_indexes[entity], AccessShareLock);
	TupleTableSlot *slot = table_slot_create(source, NULL);
	ScanKeyData skeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	VelocityRowValues row;
	int64	   *payload;
	int64		rows = 0;
	int			nkeys = 0;

	memset(&p, 0, sizeof(p));
	p.rt = rt;
	p.e = &vs->entities[entity];
	p.entity = entity;
	p.done = done;
	p.arg = arg;
	for (int t = 0; t < p.e->num_tiers; t++)
	{
		p.tiers[t].dense = palloc(sizeof(int64) * p.e->tier_slots[t] * p.e->words);
		p.tiers[t].present = palloc0(sizeof(bool) * p.e->tier_slots[t]);
	}
	payload = palloc(sizeof(int64) * p.e->words);
	row.value_valid = palloc0(sizeof(bool) * Max(vs->num_columns, 1));
	row.value = palloc0(sizeof(int64) * Max(vs->num_columns, 1));
	if (filter_keys != NULL)
		for (; nkeys < p.e->num_keys; nkeys++)
			ScanKeyInit(&skeys[nkeys], nkeys + 1, BTEqualStrategyNumber,
						rt->key_eq_procs[entity][nkeys], filter_keys[nkeys]);
	scan = index_beginscan(source, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skeys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		should_free;
		HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		Datum		keys[INDEX_MAX_KEYS];
		bool		null_key = false;

		for (int k = 0; k < p.e->num_keys; k++)
		{
			bool		isnull;

			keys[k] = heap_getattr(tuple, p.e->key_attnums[k], RelationGetDescr(source), &isnull);
			null_key |= isnull;
		}
		if (!null_key)
		{
			vset_row_values(vs, RelationGetDescr(source), tuple, &row);
			add_to_pass(&p, keys, &row, payload);
			rows++;
			if (rows % 100000 == 0)
				ereport(NOTICE,
						(errmsg("feature set \"%s\", entity \"%s\": " INT64_FORMAT " rows",
								vs->name, p.e->name, rows)));
		}
		if (should_free)
			heap_freetuple(tuple);
	}
	index_endscan(scan);
	for (int t = 0; t < p.e->num_tiers; t++)
		close_bucket(&p, t);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(source, AccessShareLock);
	return rows;
}
