/*-------------------------------------------------------------------------
 *
 * buckets.c
 *		The bucket tables of declared feature sets: the slot payload (sparse
 *		slots of 8-byte words), and applying one row's change to the stripe
 *		rows of a (keys, tier, bucket) without ever waiting on another
 *		writer (docs/velocity-design.md, "Storage").
 *
 * A stripe row is found with the transaction's snapshot after
 * CommandCounterIncrement and updated with heap_update(wait = false), a
 * compare-and-swap on the version found; when every stripe is held or
 * replaced by somebody else, a new stripe row is inserted.
 * Counts therefore go into a row this transaction holds, never lost, and a
 * writer never waits, so two writers of one hot entity neither deadlock nor
 * queue.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "executor/tuptable.h"
#include "access/nbtree.h"
#include "catalog/index.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "velocity.h"
#include "buckets.h"

/* Words of a slot's payload for an entity: n, nk, min/max labeled time,
 * then per summed column sum and labeled sum, and min and max if kept. */
int
buckets_payload_words(const VelocitySet *vs, const VelocityEntity *e, int *column_offsets)
{
	int			words = SLOT_FIRST_COLUMN_WORD;

	for (int c = 0; c < vs->num_columns; c++)
	{
		column_offsets[c] = -1;
		if (!e->column_used[c])
			continue;
		column_offsets[c] = words;
		words += e->column_extremes[c] ? 4 : 2;
	}
	return words;
}

/* The sparse slots of a row as a dense array of num_slots * words words,
 * with "present" marking the slots that have an entry. */
void
buckets_decode(bytea *slots, int num_slots, int words, int64 *dense, bool *present)
{
	const char *p = VARDATA_ANY(slots);
	const char *end = p + VARSIZE_ANY_EXHDR(slots);
	Size		entry = sizeof(int64) * (words + 1);

	memset(present, 0, sizeof(bool) * num_slots);
	for (; p + entry <= end; p += entry)
	{
		int64		slot;

		memcpy(&slot, p, sizeof(int64));
		if (slot < 0 || slot >= num_slots)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bucket row has slot %lld of %d", (long long) slot, num_slots),
					 errhint("Rebuild the buckets with fraud_feature_set_backfill.")));
		memcpy(dense + slot * words, p + sizeof(int64), sizeof(int64) * words);
		present[slot] = true;
	}
}

bytea *
buckets_encode(int num_slots, int words, const int64 *dense, const bool *present)
{
	Size		entry = sizeof(int64) * (words + 1);
	int			count = 0;
	bytea	   *out;
	char	   *p;

	for (int s = 0; s < num_slots; s++)
		count += present[s];
	out = palloc(VARHDRSZ + entry * count);
	SET_VARSIZE(out, VARHDRSZ + entry * count);
	p = VARDATA(out);
	for (int64 s = 0; s < num_slots; s++)
	{
		if (!present[s])
			continue;
		memcpy(p, &s, sizeof(int64));
		memcpy(p + sizeof(int64), dense + s * words, sizeof(int64) * words);
		p += entry;
	}
	return out;
}

/* Adds one delta to a dense slot: additive words add, extremes widen. */
void
buckets_add_delta(int64 *slot, const BucketDelta *d, int words, const int *column_offsets,
				  const VelocitySet *vs, const VelocityEntity *e, bool was_present)
{
	slot[SLOT_N] += d->n;
	slot[SLOT_NK] += d->nk;
	if (d->labeled_time_valid)
	{
		if (!was_present || slot[SLOT_NK] - d->nk == 0 || d->labeled_time < slot[SLOT_MIN_LTIME])
			slot[SLOT_MIN_LTIME] = d->labeled_time;
		if (!was_present || slot[SLOT_NK] - d->nk == 0 || d->labeled_time > slot[SLOT_MAX_LTIME])
			slot[SLOT_MAX_LTIME] = d->labeled_time;
	}
	for (int c = 0; c < vs->num_columns; c++)
	{
		int			o = column_offsets[c];

		if (o < 0)
			continue;
		if (vs->columns[c].fixed)
		{
			slot[o] += d->fixed[c];
			slot[o + 1] += d->fixed_known[c];
		}
		else
		{
			double		sum,
						known;

			memcpy(&sum, &slot[o], sizeof(double));
			memcpy(&known, &slot[o + 1], sizeof(double));
			sum += d->real[c];
			known += d->real_known[c];
			memcpy(&slot[o], &sum, sizeof(double));
			memcpy(&slot[o + 1], &known, sizeof(double));
		}
		if (e->column_extremes[c] && d->value_valid[c])
		{
			/* extremes as the column's own representation, ordered as int64 or double */
			if (vs->columns[c].fixed)
			{
				if (!was_present || d->fixed_value[c] < slot[o + 2])
					slot[o + 2] = d->fixed_value[c];
				if (!was_present || d->fixed_value[c] > slot[o + 3])
					slot[o + 3] = d->fixed_value[c];
			}
			else
			{
				double		lo,
							hi;

				memcpy(&lo, &slot[o + 2], sizeof(double));
				memcpy(&hi, &slot[o + 3], sizeof(double));
				if (!was_present || d->real_value[c] < lo)
					memcpy(&slot[o + 2], &d->real_value[c], sizeof(double));
				if (!was_present || d->real_value[c] > hi)
					memcpy(&slot[o + 3], &d->real_value[c], sizeof(double));
			}
		}
	}
}

/* Index entries for a new tuple version that is not heap-only (every index
 * of a bucket table is on plain columns, as fraud_feature_set_create
 * makes it; an expression index would need an executor state). */
static void
insert_index_entries(Relation rel, HeapTuple tuple)
{
	List	   *indexes;
	ListCell   *lc;
	TupleTableSlot *slot;

	if (HeapTupleIsHeapOnly(tuple))
		return;
	indexes = RelationGetIndexList(rel);
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tuple, slot, false);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("bucket table \"%s\" has an index on expressions or with a predicate",
							RelationGetRelationName(rel)),
					 errhint("Drop that index: bucket tables keep only the index fraud_feature_set_create made.")));
		FormIndexDatum(info, slot, NULL, values, isnull);
		index_insert(index, values, isnull, &tuple->t_self, rel, UNIQUE_CHECK_NO, false, info);
		index_close(index, RowExclusiveLock);
	}
	ExecDropSingleTupleTableSlot(slot);
	list_free(indexes);
}

/* The row's values with the delta added: bounds widened, the slot changed. */
static HeapTuple
row_with_delta(BucketTarget *target, HeapTuple old, int tier, int slot_index,
			   const BucketDelta *d)
{
	TupleDesc	desc = RelationGetDescr(target->rel);
	int			k = target->e->num_keys;
	int			num_slots = target->e->tier_slots[tier];
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int64	   *dense = palloc0(sizeof(int64) * num_slots * target->words);
	bool	   *present = palloc(sizeof(bool) * num_slots);
	bool		was_present;
	HeapTuple	tuple;

	heap_deform_tuple(old, desc, values, nulls);
	buckets_decode(DatumGetByteaPP(values[k + BUCKET_ATT_SLOTS - 1]), num_slots, target->words,
				   dense, present);
	was_present = present[slot_index];
	buckets_add_delta(dense + slot_index * target->words, d, target->words,
					  target->column_offsets, target->vs, target->e, was_present);
	present[slot_index] = true;
	values[k + BUCKET_ATT_SLOTS - 1] = PointerGetDatum(buckets_encode(num_slots, target->words,
																	   dense, present));
	values[k + BUCKET_ATT_MIN_TIME - 1] =
		Int64GetDatum(Min(DatumGetInt64(values[k + BUCKET_ATT_MIN_TIME - 1]), d->time));
	values[k + BUCKET_ATT_MAX_TIME - 1] =
		Int64GetDatum(Max(DatumGetInt64(values[k + BUCKET_ATT_MAX_TIME - 1]), d->time));
	values[k + BUCKET_ATT_MAX_SEQ - 1] =
		Int64GetDatum(Max(DatumGetInt64(values[k + BUCKET_ATT_MAX_SEQ - 1]), d->arrival));
	if (d->known_valid)
		values[k + BUCKET_ATT_MAX_KNOWN - 1] =
			Int64GetDatum(Max(DatumGetInt64(values[k + BUCKET_ATT_MAX_KNOWN - 1]), d->known));
	if (d->removal)
		values[k + BUCKET_ATT_STALE - 1] = BoolGetDatum(true);
	tuple = heap_form_tuple(desc, values, nulls);
	tuple->t_self = old->t_self;
	return tuple;
}

/* A new stripe row holding only the delta. */
static HeapTuple
new_row(BucketTarget *target, const Datum *keys, int tier, int64 bucket, int slot_index,
		const BucketDelta *d)
{
	TupleDesc	desc = RelationGetDescr(target->rel);
	int			k = target->e->num_keys;
	int			num_slots = target->e->tier_slots[tier];
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc0(sizeof(bool) * desc->natts);
	int64	   *dense = palloc0(sizeof(int64) * num_slots * target->words);
	bool	   *present = palloc0(sizeof(bool) * num_slots);

	for (int i = 0; i < k; i++)
		values[i] = keys[i];
	buckets_add_delta(dense + slot_index * target->words, d, target->words,
					  target->column_offsets, target->vs, target->e, false);
	present[slot_index] = true;
	values[k + BUCKET_ATT_TIER - 1] = Int16GetDatum((int16) tier);
	values[k + BUCKET_ATT_BUCKET - 1] = Int64GetDatum(bucket);
	values[k + BUCKET_ATT_MIN_TIME - 1] = Int64GetDatum(d->time);
	values[k + BUCKET_ATT_MAX_TIME - 1] = Int64GetDatum(d->time);
	values[k + BUCKET_ATT_MAX_SEQ - 1] = Int64GetDatum(d->arrival);
	values[k + BUCKET_ATT_MAX_KNOWN - 1] = Int64GetDatum(d->known_valid ? d->known : PG_INT64_MIN);
	values[k + BUCKET_ATT_STALE - 1] = BoolGetDatum(d->removal);
	values[k + BUCKET_ATT_SLOTS - 1] = PointerGetDatum(buckets_encode(num_slots, target->words,
																	   dense, present));
	return heap_form_tuple(desc, values, nulls);
}

/*
 * Applies a delta to the first stripe row of (keys, tier, bucket) that can
 * be updated at once, or to a new one.  Stripes are found with the
 * transaction's snapshot (REPEATABLE READ: a version committed after it is
 * skipped, never updated, so this transaction's own reads cannot count a
 * stripe twice) and updated with heap_update(wait = false): a version that
 * another writer holds or has replaced is skipped.  The caller has called
 * CommandCounterIncrement, so that this command's own versions are visible
 * and updatable.
 */
void
buckets_apply(BucketTarget *target, const Datum *keys, int tier, int64 bucket, int slot_index,
			  const BucketDelta *d)
{
	int			k = target->e->num_keys;
	ScanKeyData skeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	TupleTableSlot *found = table_slot_create(target->rel, NULL);
	Snapshot	snapshot = RegisterSnapshot(IsolationUsesXactSnapshot() ?
											GetTransactionSnapshot() : GetLatestSnapshot());
	bool		done = false;

	for (int i = 0; i < k; i++)
		ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, target->key_eq_procs[i], keys[i]);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) tier));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(bucket));
	scan = index_beginscan(target->rel, target->index, snapshot, k + 2, 0);
	index_rescan(scan, skeys, k + 2, NULL, 0);
	while (!done && index_getnext_slot(scan, ForwardScanDirection, found))
	{
		bool		should_free;
		HeapTuple	old = ExecFetchSlotHeapTuple(found, false, &should_free);
		HeapTuple	tuple = row_with_delta(target, old, tier, slot_index, d);
		TM_FailureData tmfd;
		LockTupleMode lockmode;

		if (heap_update(target->rel, &found->tts_tid, tuple, GetCurrentCommandId(true),
						InvalidSnapshot, false, &tmfd, &lockmode) == TM_Ok)
		{
			insert_index_entries(target->rel, tuple);
			done = true;
		}
		/* held by another writer, or replaced since the snapshot: the next */
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	if (!done)
	{
		HeapTuple	tuple = new_row(target, keys, tier, bucket, slot_index, d);

		simple_heap_insert(target->rel, tuple);
		insert_index_entries(target->rel, tuple);
	}
	ExecDropSingleTupleTableSlot(found);
}
