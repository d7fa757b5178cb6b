/*-------------------------------------------------------------------------
 *
 * vread.c
 *		Reading a declared feature set's windows for one row: the bucket
 *		tiers where they can answer, the raw rows where they cannot
 *		(docs/velocity.md, "How features are read").
 *
 * A window of an entity is (t - w, t] of the row's time t, over rows that
 * arrived before the row (arrival < A), with labels known by t.  A slot of
 * a tier answers for its rows when all of them are inside the window by the
 * slot's time bounds, all arrived before A, its labels are all known or all
 * unknown at t, and (when extremes are read) no removal made it stale;
 * otherwise the next tier's bucket for that slot is read, and below the
 * finest tier the source's rows themselves.  Reads use the active
 * snapshot and write nothing, so standbys and parallel workers read as the
 * leader does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/itup.h"
#include "catalog/pg_am_d.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "executor/tuptable.h"
#include "pgstat.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "velocity.h"
#include "buckets.h"
#include "vread.h"
#include "vcache.h"

/* A bucket of one tier, its stripes merged. */
typedef struct CachedBucket
{
	int64		key[2];			/* tier, bucket */
	bool		present;
	int64	   *dense;
	bool	   *slot_present;
	int64	   *summary;		/* every slot merged, when has_summary */
	bool		has_summary;	/* every stripe row had one */
	bool		summary_only;	/* the slots are not read (ensure_slots) */
	int64		decoded_from;	/* slots ending before this time are not read */
} CachedBucket;

/*
 * A slot whose rows are read from the source rather than from finer tiers
 * when it holds at most this many: one index descent that returns a few
 * rows costs less than a finer bucket's descent, heap fetch and decoding
 * followed by a raw read of its edge slot anyway.
 */
#define RAW_DIRECT_ROWS 16

/* A finest slot of more rows than this is never copied whole (raw_from_copy). */
#define RAW_COPY_ROWS 64

/* The source's rows with time in [start, end]. */
typedef struct RawSlot
{
	int64		start;
	int64		end;
	int			count;
	VelocityRowValues *rows;
} RawSlot;

typedef struct EntityRead
{
	VelocityRuntime *rt;
	const VelocitySet *vs;
	const VelocityEntity *e;
	int			entity;
	const Datum *keys;
	int64		t;
	int64		arrival;
	Relation	buckets;
	Relation	buckets_index;
	Relation	source;
	Relation	raw_index;
	const AttrNumber *raw_map;	/* covering index: source attnum -> index column */
	Buffer		vm_buffer;
	bool		source_is_heap;
	Buffer		heap_buffer;	/* the last heap page a visibility check read */
	Snapshot	snapshot;
	CachedBucket **cache;		/* few per call: searched linearly */
	int			cache_count;
	int			cache_allocated;
	RawSlot    *raw_cache;
	int			raw_count;
	int			raw_allocated;
	char	   *value_pool;		/* raw rows' value arrays, carved from blocks */
	Size		value_pool_left;
	int64		prefetched_lo;	/* tier 0 buckets read by one range scan */
	int64		prefetched_hi;
	int64		history_lo;		/* and older ones down to this one, read whole */
	bool		history_all;	/* no older one exists */
	TupleTableSlot *bucket_slot;
	TupleTableSlot *raw_slot;
	int64	   *scratch;
	bool	   *scratch_present;
	const EntityQuery *q;
	bool	   *wanted;			/* per slot of the bucket being decoded */
	int64	   *stripe_summary;
	bool		read_slots;		/* decode every bucket's slots */
	int64		read_from;		/* no window reads a row before it */
	int64		fetch_from;		/* nor does the fetch under way */
	int			decoding_tier;	/* of the stripes decode_for_copy decodes */
} EntityRead;

static void ensure_slots(EntityRead *r, CachedBucket *cb);

static void
key_scan_keys(EntityRead *r, ScanKey skeys)
{
	for (int k = 0; k < r->e->num_keys; k++)
		ScanKeyInit(&skeys[k], k + 1, BTEqualStrategyNumber, r->rt->key_eq_procs[r->entity][k],
					r->keys[k]);
}

static void
want_time(EntityRead *r, int tier, int64 b, int64 time)
{
	int64		width = r->e->tier_width[tier];

	if (buckets_floor_div(time, width) == b)
		r->wanted[(time - b * width) / (width / r->e->tier_slots[tier])] = true;
}

/*
 * The slots of a bucket whose rows the windows may need: those at a
 * window's edge (where it starts, and the row's own), and in tier 0 those
 * of the raw window.  Only their lists are decoded, besides the lists of
 * slots whose words cannot answer; a bucket with none of them is read by
 * its summary alone.  Whether any is.
 */
static bool
want_edges(EntityRead *r, int tier, int64 b)
{
	const EntityQuery *q = r->q;
	int64		width = r->e->tier_width[tier];
	int64		slot_width = width / r->e->tier_slots[tier];
	bool		any = false;

	memset(r->wanted, 0, sizeof(bool) * r->e->tier_slots[tier]);
	want_time(r, tier, b, q->t);
	for (int w = 0; w < q->num_windows; w++)
		if (q->windows[w] != VELOCITY_UNBOUNDED)
			want_time(r, tier, b, q->t - q->windows[w] + 1);
	if (tier == 0 && q->raw_window > 0)
		for (int s = 0; s < r->e->tier_slots[tier]; s++)
		{
			int64		start = b * width + s * slot_width;

			if (start + slot_width - 1 >= q->t - q->raw_window + 1 && start <= q->t)
				r->wanted[s] = true;
		}
	for (int s = 0; s < r->e->tier_slots[tier] && !any; s++)
		any = r->wanted[s];
	return any;
}

/*
 * A stripe's slots as buckets_decode gives them, from its bytes or from the
 * whole decoding a copy of it keeps (assert builds check the two agree).
 */
static bool
decode_stripe(EntityRead *r, int tier, int64 bucket, bytea *slots, const BucketsDecoded *decoded,
			  int64 *dense, bool *present, const ListFilter *filter, int64 *summary)
{
	const VelocityEntity *e = r->e;
	bool		lists;

	if (decoded == NULL)
		return buckets_decode(e, tier, bucket, slots, dense, present, filter, summary);
	lists = buckets_decode_from(e, tier, bucket, decoded, dense, present, filter, summary);
#ifdef USE_ASSERT_CHECKING
	{
		int			n = e->tier_slots[tier];
		int64	   *check = palloc(sizeof(int64) * n * e->words);
		bool	   *check_present = palloc(sizeof(bool) * n);
		int64	   *check_summary = palloc(sizeof(int64) * e->words);

		Assert(buckets_decode(e, tier, bucket, slots, check, check_present, filter,
							  summary != NULL ? check_summary : NULL) == lists);
		Assert(memcmp(present, check_present, sizeof(bool) * n) == 0);
		Assert(summary == NULL || !lists ||
			   memcmp(summary, check_summary, sizeof(int64) * (e->list_offset + 1)) == 0);
		for (int s = 0; s < n; s++)
		{
			const int64 *a = dense + s * e->words;
			const int64 *b = check + s * e->words;

			if (!present[s])
				continue;
			Assert(memcmp(a, b, sizeof(int64) * (e->list_offset + 1)) == 0);
			Assert(a[e->list_offset] <= 0 ||
				   memcmp(a, b, sizeof(int64) * (e->list_offset + 1 +
												 a[e->list_offset] * e->entry_words)) == 0);
		}
		pfree(check);
		pfree(check_present);
		pfree(check_summary);
	}
#endif
	return lists;
}

/* Merges a stripe row's slots into the cached bucket: "decoded" when a copy
 * of the row holds them decoded, else NULL. */
static void
merge_stripe(EntityRead *r, int tier, CachedBucket *cb, Datum slots, bool isnull,
			 const BucketsDecoded *decoded)
{
	const VelocityEntity *e = r->e;
	int			n = e->tier_slots[tier];
	ListFilter	filter;
	bool		first = !cb->present;

	if (isnull)
		return;
	filter.summary_only = !want_edges(r, tier, cb->key[1]) && !r->read_slots;
	if (first)
	{
		cb->present = true;
		cb->has_summary = true;
		cb->summary_only = filter.summary_only;
		cb->decoded_from = r->fetch_from;
		cb->summary = palloc(sizeof(int64) * e->words);
		if (!cb->summary_only)
		{
			cb->dense = palloc(sizeof(int64) * n * e->words);
			cb->slot_present = palloc(sizeof(bool) * n);
		}
	}
	filter.summary_only = cb->summary_only;
	filter.wanted = r->wanted;
	filter.t = r->t;
	filter.arrival = r->arrival;
	filter.from = r->fetch_from;
	/* the first stripe (most buckets have one) is decoded in place */
	if (first && !cb->summary_only)
	{
		cb->has_summary = decode_stripe(r, tier, cb->key[1], DatumGetByteaPP(slots), decoded,
										cb->dense, cb->slot_present, &filter, cb->summary);
		return;
	}
	if (!decode_stripe(r, tier, cb->key[1], DatumGetByteaPP(slots), decoded, r->scratch,
					   r->scratch_present, &filter, first ? cb->summary : r->stripe_summary))
		cb->has_summary = false;	/* written before summaries */
	else if (!first)
		buckets_merge(e, cb->summary, r->stripe_summary);
	if (cb->summary_only)
		return;
	for (int s = 0; s < n; s++)
	{
		if (!r->scratch_present[s])
			continue;
		if (!cb->slot_present[s])
			buckets_empty(e, cb->dense + s * e->words);
		buckets_merge(e, cb->dense + s * e->words, r->scratch + s * e->words);
		cb->slot_present[s] = true;
	}
}

/* Merges the stripe row the bucket scan returned. */
static void
merge_scanned(EntityRead *r, int tier, CachedBucket *cb)
{
	bool		isnull;
	Datum		slots = slot_getattr(r->bucket_slot, r->e->num_keys + BUCKET_ATT_SLOTS, &isnull);

	merge_stripe(r, tier, cb, slots, isnull, NULL);
}

static CachedBucket *
cache_find(EntityRead *r, int tier, int64 bucket)
{
	for (int i = r->cache_count - 1; i >= 0; i--)
		if (r->cache[i]->key[1] == bucket && r->cache[i]->key[0] == tier)
			return r->cache[i];
	return NULL;
}

static CachedBucket *
cache_entry(EntityRead *r, int tier, int64 bucket)
{
	CachedBucket *cb = cache_find(r, tier, bucket);

	if (cb != NULL)
		return cb;
	if (r->cache_count == r->cache_allocated)
	{
		r->cache_allocated *= 2;
		r->cache = repalloc(r->cache, sizeof(CachedBucket *) * r->cache_allocated);
	}
	cb = palloc(sizeof(CachedBucket));
	r->cache[r->cache_count++] = cb;
	cb->key[0] = tier;
	cb->key[1] = bucket;
	cb->present = false;
	cb->has_summary = false;
	cb->summary_only = false;
	cb->decoded_from = PG_INT64_MIN;
	return cb;
}

/* Whether a tier 0 bucket holds a labeled row in a slot that starts by t. */
static bool
labeled_by_t(EntityRead *r, int64 b)
{
	const VelocityEntity *e = r->e;
	CachedBucket *cb = cache_find(r, 0, b);
	int64		slot_width = e->tier_width[0] / e->tier_slots[0];

	if (cb != NULL && cb->present && cb->has_summary)
		return cb->summary[W_NK] != 0 && b * e->tier_width[0] <= r->t;
	if (cb != NULL)
		ensure_slots(r, cb);
	for (int s = 0; cb != NULL && cb->present && s < e->tier_slots[0]; s++)
		if (cb->slot_present[s] && cb->dense[s * e->words + W_NK] != 0 &&
			b * e->tier_width[0] + s * slot_width <= r->t)
			return true;
	return false;
}

/*
 * Tier 0's buckets from "lo" to "hi" and, for the time since the last
 * known row, the older ones down to the newest holding a labeled row: one
 * backward scan instead of two.
 */
static void
prefetch_with_history(EntityRead *r, int64 lo, int64 hi)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			k = r->e->num_keys;
	IndexScanDesc scan;
	int64		current = hi + 1;
	bool		stopped = false;

	r->prefetched_lo = lo;
	r->prefetched_hi = hi;
	key_scan_keys(r, skeys);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(0));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(hi));
	for (int64 b = lo; b <= hi && hi - lo < 64; b++)
		cache_entry(r, 0, b);
	scan = index_beginscan(r->buckets, r->buckets_index, r->snapshot, k + 2, 0);
	index_rescan(scan, skeys, k + 2, NULL, 0);
	while (index_getnext_slot(scan, BackwardScanDirection, r->bucket_slot))
	{
		bool		isnull;
		int64		b = DatumGetInt64(slot_getattr(r->bucket_slot, k + BUCKET_ATT_BUCKET, &isnull));

		if (b != current && current < lo && labeled_by_t(r, current))
		{
			stopped = true;		/* "current" is whole: its stripes came together */
			break;
		}
		current = b;
		merge_scanned(r, 0, cache_entry(r, 0, b));
	}
	index_endscan(scan);
	r->history_lo = Min(current, lo);
	r->history_all = !stopped;
}

/* A stripe decoded whole for a copy of its bucket (vcache_keep). */
static void *
decode_for_copy(bytea *slots, int64 bucket, void *arg, Size *bytes)
{
	EntityRead *r = arg;
	BucketsDecoded *d = buckets_decode_all(r->e, r->decoding_tier, bucket, slots);

	*bytes = d->bytes;
	return d;
}

/* Reads the buckets of a tier from "lo" to "hi" into the cache. */
static void
fetch_buckets(EntityRead *r, int tier, int64 lo, int64 hi)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			k = r->e->num_keys;
	int			nkeys = k + 3;
	IndexScanDesc scan;
	BucketCopyFetch copy_fetch = {0};
	bytea	   *stripes[BUCKET_COPY_MAX_STRIPES];
	int			num_stripes = 0;

	for (int64 b = lo; b <= hi && hi - lo < 64; b++)
		cache_entry(r, tier, b);

	/*
	 * A finer tier's bucket that ends before the row's time is one a
	 * window's start descends, the same for the next rows of the entity: the
	 * backend may keep a copy.  The bucket of the row's time is written by
	 * the row itself.
	 */
	if (tier > 0 && lo == hi && lo < buckets_floor_div(r->t, r->e->tier_width[tier]))
	{
		BucketCopy *copy = vcache_find(r->buckets, r->keys, tier, lo, tier, lo, &copy_fetch);

		if (copy != NULL)
		{
			bytea	   *const *copied;
			void	   *const *decoded;
			int			n = vcache_stripes(copy, &copied, &decoded);

			for (int i = 0; i < n; i++)
				merge_stripe(r, tier, cache_entry(r, tier, lo), PointerGetDatum(copied[i]), false,
							 (const BucketsDecoded *) decoded[i]);
			return;
		}
	}
	key_scan_keys(r, skeys);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) tier));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(lo));
	ScanKeyInit(&skeys[k + 2], k + BUCKET_ATT_BUCKET, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(hi));

	/*
	 * Each scan ends before the next begins: a B-tree scan takes 50 kB, and
	 * several freed together would make malloc return them to the system
	 * each time.
	 */
	scan = index_beginscan(r->buckets, r->buckets_index, r->snapshot, nkeys, 0);
	index_rescan(scan, skeys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, r->bucket_slot))
	{
		bool		isnull;
		int64		bucket = DatumGetInt64(slot_getattr(r->bucket_slot, k + BUCKET_ATT_BUCKET,
														&isnull));
		Datum		slots = slot_getattr(r->bucket_slot, k + BUCKET_ATT_SLOTS, &isnull);

		if (copy_fetch.possible && !isnull && num_stripes < BUCKET_COPY_MAX_STRIPES)
		{
			stripes[num_stripes] = palloc(VARSIZE_ANY(DatumGetPointer(slots)));
			memcpy(stripes[num_stripes], DatumGetPointer(slots), VARSIZE_ANY(DatumGetPointer(slots)));
			num_stripes++;
		}
		else
			copy_fetch.possible = false;	/* too many stripes to keep */
		merge_stripe(r, tier, cache_entry(r, tier, bucket), slots, isnull, NULL);
	}
	index_endscan(scan);
	r->decoding_tier = tier;
	vcache_keep(&copy_fetch, r->buckets, r->keys, stripes, num_stripes, decode_for_copy, r);
	for (int i = 0; i < num_stripes; i++)
		pfree(stripes[i]);
}

/*
 * A bucket whose slots from time "from" on are read: a finer tier's bucket
 * is fetched for one edge, and its slots before the edge are passed over
 * unless a later read needs them (then it is read again, whole).
 */
static CachedBucket *
bucket(EntityRead *r, int tier, int64 b, int64 from)
{
	CachedBucket *cb = cache_find(r, tier, b);

	if (cb != NULL && cb->present && !cb->summary_only && from < cb->decoded_from)
		cb->present = false;
	else if (cb != NULL)
		return cb;
	if (cb == NULL && tier == 0 && b >= r->prefetched_lo && b <= r->prefetched_hi)
		return cache_entry(r, tier, b);
	if (cb == NULL && tier > 0)
		r->fetch_from = Max(from, r->read_from);
	fetch_buckets(r, tier, b, b);
	r->fetch_from = r->read_from;
	return cache_entry(r, tier, b);
}

/* The slots of a bucket read by its summary alone: the bucket read again. */
static void
ensure_slots(EntityRead *r, CachedBucket *cb)
{
	if (!cb->present || !cb->summary_only)
		return;
	cb->present = false;
	cb->summary_only = false;
	r->read_slots = true;
	fetch_buckets(r, (int) cb->key[0], cb->key[1], cb->key[1]);
	r->read_slots = false;
}

/* Adds a row of the source to a window's aggregate. */
static void
add_row(EntityRead *r, VelocityWindow *agg, const VelocityRowValues *row)
{
	const VelocityEntity *e = r->e;
	bool		known = row->known_valid && row->known <= r->t;

	agg->n++;
	if (known)
	{
		agg->nk++;
		agg->min_known_time = Min(agg->min_known_time, row->time);
		agg->max_known_time = Max(agg->max_known_time, row->time);
	}
	for (int c = 0; c < e->num_columns; c++)
	{
		if (e->column_offsets[c] < 0 || !row->value_valid[c])
			continue;
		agg->count[c]++;
		agg->sum[c] += row->value[c];
		if (known)
		{
			agg->count_known[c]++;
			agg->sum_known[c] += row->value[c];
		}
		agg->min[c] = Min(agg->min[c], row->value[c]);
		agg->max[c] = Max(agg->max[c], row->value[c]);
	}
}

/* Adds a slot that answers for its rows; "known" says whether its labeled
 * rows are all known at t (else none is). */
static void
add_slot(const VelocityEntity *e, VelocityWindow *agg, const int64 *p, bool known)
{
	agg->n += p[W_N];
	if (known)
	{
		agg->nk += p[W_NK];
		agg->min_known_time = Min(agg->min_known_time, p[W_MIN_LTIME]);
		agg->max_known_time = Max(agg->max_known_time, p[W_MAX_LTIME]);
	}
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o < 0)
			continue;
		agg->count[c] += p[o + WC_COUNT];
		agg->sum[c] += p[o + WC_SUM];
		if (known)
		{
			agg->count_known[c] += p[o + WC_COUNT_KNOWN];
			agg->sum_known[c] += p[o + WC_SUM_KNOWN];
		}
		if (e->column_extremes[c])
		{
			agg->min[c] = Min(agg->min[c], p[o + WC_MIN]);
			agg->max[c] = Max(agg->max[c], p[o + WC_MAX]);
		}
	}
}

/* A raw row from a covering index's tuple (visible: the page is all-visible). */
static void
row_from_index(EntityRead *r, IndexTuple itup, TupleDesc itupdesc, VelocityRowValues *row)
{
	const VelocitySet *vs = r->vs;
	bool		isnull;
	Datum		value;

	row->time = DatumGetInt64(index_getattr(itup, r->raw_map[vs->time_attnum], itupdesc, &isnull));
	value = index_getattr(itup, r->raw_map[vs->arrival_attnum], itupdesc, &isnull);
	row->arrival = vs->arrival_type == INT8OID ? DatumGetInt64(value) :
		vs->arrival_type == INT4OID ? DatumGetInt32(value) : DatumGetInt16(value);
	row->known_valid = false;
	if (vs->known_attnum != InvalidAttrNumber)
	{
		value = index_getattr(itup, r->raw_map[vs->known_attnum], itupdesc, &isnull);
		row->known_valid = !isnull;
		row->known = isnull ? 0 : DatumGetInt64(value);
	}
	for (int c = 0; c < vs->num_columns; c++)
	{
		row->value_valid[c] = false;
		if (!r->e->column_used[c])
			continue;
		value = index_getattr(itup, r->raw_map[vs->columns[c].attnum], itupdesc, &isnull);
		row->value_valid[c] = !isnull;
		if (!isnull)
			row->value[c] = vset_scaled_value(&vs->columns[c], value);
	}
}

/*
 * Whether the heap tuple an index entry points to (or a later member of its
 * HOT chain, whose indexed columns are the same) is visible to the read's
 * snapshot.  What index_fetch_heap does, without pruning the page and
 * storing the tuple in a slot: a covering index gives the values.
 */
static bool
heap_entry_visible(EntityRead *r, IndexScanDesc scan, ItemPointer tid)
{
	BlockNumber block = ItemPointerGetBlockNumber(tid);
	ItemPointerData chain = *tid;
	HeapTupleData tuple;
	bool		all_dead;
	bool		found;

	if (!BufferIsValid(r->heap_buffer) || BufferGetBlockNumber(r->heap_buffer) != block)
	{
		if (BufferIsValid(r->heap_buffer))
			ReleaseBuffer(r->heap_buffer);
		r->heap_buffer = ReadBuffer(r->source, block);
	}
	LockBuffer(r->heap_buffer, BUFFER_LOCK_SHARE);
	found = heap_hot_search_buffer(&chain, r->source, r->heap_buffer, r->snapshot, &tuple,
								   &all_dead, true);
	LockBuffer(r->heap_buffer, BUFFER_LOCK_UNLOCK);
	/* as index_fetch_heap: counted when found, a dead entry marked for the index */
	if (found)
		pgstat_count_heap_fetch(r->raw_index);
	else if (!scan->xactStartedInRecovery)
		scan->kill_prior_tuple = all_dead;
	return found;
}

/*
 * The next raw row of an index scan: from the index tuple when the index
 * covers what is read and the tuple is visible (as an index-only scan reads:
 * the visibility map, else the heap tuple's visibility), else from the heap.
 */
static bool
next_raw_row(EntityRead *r, IndexScanDesc scan, VelocityRowValues *row)
{
	ItemPointer tid;

	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		should_free;
		HeapTuple	tuple;

		if (r->raw_map != NULL &&
			VM_ALL_VISIBLE(r->source, ItemPointerGetBlockNumber(tid), &r->vm_buffer))
		{
			/* as an index-only scan: the page read is a serializable read */
			PredicateLockPage(r->source, ItemPointerGetBlockNumber(tid), r->snapshot);
			row_from_index(r, scan->xs_itup, scan->xs_itupdesc, row);
			return true;
		}
		if (r->raw_map != NULL && r->source_is_heap)
		{
			if (!heap_entry_visible(r, scan, tid))
				continue;
			row_from_index(r, scan->xs_itup, scan->xs_itupdesc, row);
			return true;
		}
		if (!index_fetch_heap(scan, r->raw_slot))
			continue;			/* not visible to the snapshot */
		tuple = ExecFetchSlotHeapTuple(r->raw_slot, false, &should_free);
		vset_row_values(r->vs, RelationGetDescr(r->source), tuple, row);
		if (should_free)
			heap_freetuple(tuple);
		return true;
	}
	return false;
}

/* Whether the rows with time in [start, end] are read already. */
static RawSlot *
raw_cached(EntityRead *r, int64 start, int64 end)
{
	for (int i = 0; i < r->raw_count; i++)
		if (r->raw_cache[i].start <= start && r->raw_cache[i].end >= end)
			return &r->raw_cache[i];
	return NULL;
}

/* Room for one raw row's values: a hot entity's edges read hundreds of rows
 * per call, too many for two pallocs each. */
static void
row_value_arrays(EntityRead *r, VelocityRowValues *row)
{
	int			n = Max(r->vs->num_columns, 1);
	Size		need = MAXALIGN(sizeof(int64) * n) + MAXALIGN(sizeof(bool) * n);

	if (r->value_pool_left < need)
	{
		Size		block = Max(need, 8000);

		r->value_pool = palloc(block);
		r->value_pool_left = block;
	}
	row->value = (int64 *) r->value_pool;
	row->value_valid = (bool *) (r->value_pool + MAXALIGN(sizeof(int64) * n));
	r->value_pool += need;
	r->value_pool_left -= need;
}

/* The source and its raw index, opened by the first raw read: most reads
 * need neither (the slots' lists give their rows). */
static void
open_source(EntityRead *r)
{
	if (r->source != NULL)
		return;
	r->source = table_open(r->vs->source, AccessShareLock);
	r->raw_index = index_open(r->rt->raw_indexes[r->entity], AccessShareLock);
	r->source_is_heap = r->source->rd_rel->relam == HEAP_TABLE_AM_OID;
	r->raw_slot = table_slot_create(r->source, NULL);
}

/* A raw slot added to the cache, empty, with room for "allocated" rows. */
static RawSlot *
new_raw_slot(EntityRead *r, int64 start, int64 end, int allocated)
{
	RawSlot    *rs;

	if (r->raw_count == r->raw_allocated)
	{
		r->raw_allocated *= 2;
		r->raw_cache = repalloc(r->raw_cache, sizeof(RawSlot) * r->raw_allocated);
	}
	rs = &r->raw_cache[r->raw_count++];
	rs->start = start;
	rs->end = end;
	rs->count = 0;
	rs->rows = palloc(sizeof(VelocityRowValues) * allocated);
	return rs;
}

/* The source's rows with time in [start, end], read by an index scan; NULL
 * (and nothing cached) when there are more than "limit" (if > 0). */
static RawSlot *
read_raw(EntityRead *r, int64 start, int64 end, int limit)
{
	RawSlot    *rs = NULL;
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			k = r->e->num_keys;
	bool		tz = r->vs->time_type == TIMESTAMPTZOID;
	IndexScanDesc scan;
	int			allocated = 16;

	open_source(r);
	rs = new_raw_slot(r, start, end, allocated);
	key_scan_keys(r, skeys);
	ScanKeyInit(&skeys[k], k + 1, BTGreaterEqualStrategyNumber,
				tz ? F_TIMESTAMPTZ_GE : F_TIMESTAMP_GE, Int64GetDatum(start));
	ScanKeyInit(&skeys[k + 1], k + 1, BTLessEqualStrategyNumber,
				tz ? F_TIMESTAMPTZ_LE : F_TIMESTAMP_LE, Int64GetDatum(end));
	scan = index_beginscan(r->source, r->raw_index, r->snapshot, k + 2, 0);
	scan->xs_want_itup = r->raw_map != NULL;
	index_rescan(scan, skeys, k + 2, NULL, 0);
	for (;;)
	{
		VelocityRowValues *row;

		if (rs->count == allocated)
		{
			allocated *= 2;
			rs->rows = repalloc(rs->rows, sizeof(VelocityRowValues) * allocated);
		}
		row = &rs->rows[rs->count];
		row_value_arrays(r, row);
		if (!next_raw_row(r, scan, row))
			break;
		if (limit > 0 && rs->count == limit)
		{
			r->raw_count--;		/* the entry just made */
			rs = NULL;
			break;
		}
		rs->count++;
	}
	index_endscan(scan);
	return rs;
}

/*
 * A copy of a finest slot's raw rows: a bytea (made here and copied whole
 * into palloc'd memory, so that its words after the header, padded to
 * MAXALIGN, are aligned) of the row count (-1 for a slot of more than
 * RAW_COPY_ROWS, given as NULL), then per row its time,
 * arrival, known_at (or PG_INT64_MIN), and per set column its value and
 * whether it is one (1 or 0).
 */
#define RAW_ROWS_WORDS(b) ((int64 *) ((char *) (b) + MAXALIGN(VARHDRSZ)))

static bytea *
raw_rows_bytes(EntityRead *r, const RawSlot *rs)
{
	int			n = r->vs->num_columns;
	Size		row_words = 3 + 2 * n;
	int			count = rs != NULL ? rs->count : 0;
	Size		size = MAXALIGN(VARHDRSZ) + sizeof(int64) * (1 + row_words * count);
	bytea	   *b = palloc(size);
	int64	   *w = RAW_ROWS_WORDS(b);

	SET_VARSIZE(b, size);
	*w++ = rs != NULL ? count : -1; /* -1: more rows than a copy keeps */
	for (int i = 0; i < count; i++)
	{
		const VelocityRowValues *row = &rs->rows[i];

		*w++ = row->time;
		*w++ = row->arrival;
		*w++ = row->known_valid ? row->known : PG_INT64_MIN;
		for (int c = 0; c < n; c++)
		{
			*w++ = row->value_valid[c] ? row->value[c] : 0;
			*w++ = row->value_valid[c] ? 1 : 0;
		}
	}
	return b;
}

static RawSlot *
raw_rows_from_bytes(EntityRead *r, const bytea *b, int64 start, int64 end)
{
	int			n = r->vs->num_columns;
	const int64 *w = RAW_ROWS_WORDS(b);
	int			count = (int) *w++;
	RawSlot    *rs = new_raw_slot(r, start, end, Max(count, 1));

	for (int i = 0; i < count; i++)
	{
		VelocityRowValues *row = &rs->rows[i];

		row_value_arrays(r, row);
		row->time = *w++;
		row->arrival = *w++;
		row->known_valid = *w != PG_INT64_MIN;
		row->known = row->known_valid ? *w : 0;
		w++;
		for (int c = 0; c < n; c++)
		{
			row->value[c] = *w++;
			row->value_valid[c] = *w++ != 0;
		}
	}
	rs->count = count;
	return rs;
}

/*
 * The rows of [start, end] from the finest slot that holds them, when that
 * slot ends before the row's time: from the backend's copy of the slot's
 * rows, or read whole to leave one (vcache.c).  A source row changed in the
 * slot writes the finest bucket holding it, whose shared slot guards the
 * copy.  False when no copy can serve or be made (the caller reads [start,
 * end] itself); else *result as read_raw would give it.
 */
static bool
raw_from_copy(EntityRead *r, int64 start, int64 end, int limit, RawSlot **result)
{
	const VelocityEntity *e = r->e;
	int			finest = e->num_tiers - 1;
	int64		resolution = e->tier_width[finest] / e->tier_slots[finest];
	int64		slot = buckets_floor_div(start, resolution);
	int64		slot_start = slot * resolution;
	int64		slot_end = slot_start + resolution - 1;
	BucketCopyFetch fetch;
	BucketCopy *copy;
	RawSlot    *rs;
	int			inside = 0;

	if (buckets_floor_div(end, resolution) != slot || slot_end >= r->t)
		return false;
	copy = vcache_find(r->buckets, r->keys, BUCKET_COPY_RAW_TIER, slot, finest,
					   buckets_floor_div(start, e->tier_width[finest]), &fetch);
	if (copy != NULL)
	{
		bytea	   *const *copied;
		void	   *const *decoded;

		(void) vcache_stripes(copy, &copied, &decoded);
		if (*RAW_ROWS_WORDS(copied[0]) < 0)
			return false;		/* a slot of too many rows, seen before */
		rs = raw_rows_from_bytes(r, copied[0], slot_start, slot_end);
	}
	else if (fetch.possible)
	{
		bytea	   *b;

		rs = read_raw(r, slot_start, slot_end, RAW_COPY_ROWS + 1);
		b = raw_rows_bytes(r, rs);
		/* too many rows to copy: a copy that says so, not to try again */
		vcache_keep(&fetch, r->buckets, r->keys, &b, 1, NULL, NULL);
		pfree(b);
		if (rs == NULL)
			return false;
	}
	else
		return false;
	for (int i = 0; i < rs->count; i++)
		if (rs->rows[i].time >= start && rs->rows[i].time <= end)
			inside++;
	*result = limit > 0 && inside >= limit ? NULL : rs;
	return true;
}

/* The source's rows with time in [start, end] (a read may give more: its
 * callers filter); NULL when a read would find more than "limit" (if > 0). */
static RawSlot *
raw_slot(EntityRead *r, int64 start, int64 end, int limit)
{
	RawSlot    *rs = raw_cached(r, start, end);

	if (rs != NULL)
		return rs;
	if (raw_from_copy(r, start, end, limit, &rs))
		return rs;
	return read_raw(r, start, end, limit);
}

static void
add_raw(EntityRead *r, VelocityWindow *agg, int64 lo, int64 hi, int64 start, int64 end)
{
	RawSlot    *rs = raw_slot(r, start, end, 0);

	for (int i = 0; i < rs->count; i++)
	{
		const VelocityRowValues *row = &rs->rows[i];

		if (row->time > lo && row->time <= hi && row->arrival < r->arrival)
			add_row(r, agg, row);
	}
}

/* Adds a slot's listed rows with time in (lo, hi] that arrived before the row. */
static void
add_listed(EntityRead *r, VelocityWindow *agg, const int64 *p, int64 lo, int64 hi)
{
	const VelocityEntity *e = r->e;
	const int64 *list = p + e->list_offset;
	int64		value[VELOCITY_MAX_COLUMNS];
	bool		value_valid[VELOCITY_MAX_COLUMNS];
	VelocityRowValues row;

	row.value = value;
	row.value_valid = value_valid;
	for (int i = 0; i < list[0]; i++)
	{
		const int64 *entry = list + 1 + i * e->entry_words;

		if (entry[E_TIME] <= lo || entry[E_TIME] > hi || entry[E_ARRIVAL] >= r->arrival)
			continue;
		buckets_list_row(e, entry, &row);
		add_row(r, agg, &row);
	}
}

/*
 * Whether a slot answers for its rows in (lo, hi]; sets *known to whether
 * its labeled rows are known at t.
 */
static bool
slot_answers(EntityRead *r, const int64 *p, int64 lo, int64 hi, int64 start, int64 end,
			 bool *known)
{
	const VelocityEntity *e = r->e;

	if (Max(start, p[W_MIN_TIME]) <= lo || Min(end, p[W_MAX_TIME]) > hi)
		return false;
	if (p[W_MAX_ARRIVAL] >= r->arrival)
		return false;
	*known = p[W_NK] == 0 || p[W_MAX_KNOWN] <= r->t;
	if (e->needs_labels && !*known && p[W_MIN_KNOWN] <= r->t)
		return false;
	if (e->needs_extremes && p[W_STALE] != 0)
		return false;
	return true;
}

/*
 * A slot that a window's edge cuts: added less its rows outside (lo, hi],
 * which the source gives, when they are at most "limit".  That is the
 * slot holding t whose only fault is rows after t (another session's,
 * committed while this row was scored), or the slot where a window starts,
 * when fewer of its rows are before the start than after it (by the
 * slot's time bounds).  False when the rows outside cannot be taken out
 * exactly: one of them is labeled (known by the slot's words before any
 * is read) or may hold an extreme, or the labels of the rest may be mixed
 * at t; or when the slot is cut on both sides.
 */
static bool
add_slot_less(EntityRead *r, VelocityWindow *agg, const int64 *p, int64 lo, int64 hi,
			  int64 start, int64 end, int limit)
{
	const VelocityEntity *e = r->e;
	int64	   *rest;
	RawSlot    *outside;
	int64		cut_start;
	int64		cut_end;
	bool		known;

	if (p[W_MAX_ARRIVAL] >= r->arrival || (e->needs_extremes && p[W_STALE] != 0))
		return false;
	if (hi == r->t && start > lo && p[W_MAX_TIME] > hi && (p[W_NK] == 0 || p[W_MAX_LTIME] <= hi))
	{
		cut_start = hi + 1;
		cut_end = end;
	}
	else if (start <= lo && end <= hi && p[W_MIN_TIME] <= lo && (p[W_NK] == 0 || p[W_MIN_LTIME] > lo) &&
			 (double) p[W_N] * (lo + 1 - p[W_MIN_TIME]) <
			 (double) Min(limit, p[W_N] / 2) * (p[W_MAX_TIME] - p[W_MIN_TIME] + 1))
	{
		/* by the slot's time bounds, few enough of its rows are before lo */
		cut_start = start;
		cut_end = lo;
	}
	else
		return false;
	outside = raw_slot(r, cut_start, cut_end, limit);
	if (outside == NULL)
		return false;
	rest = palloc(sizeof(int64) * e->words);
	memcpy(rest, p, sizeof(int64) * e->words);
	for (int i = 0; i < outside->count; i++)
	{
		const VelocityRowValues *row = &outside->rows[i];

		if (row->time < cut_start || row->time > cut_end)
			continue;			/* a wider range read before */
		if (row->known_valid)
			return false;
		rest[W_N]--;
		for (int c = 0; c < e->num_columns; c++)
		{
			int			o = e->column_offsets[c];

			if (o < 0 || !row->value_valid[c])
				continue;
			if (e->column_extremes[c] && p[o + WC_MIN] != p[o + WC_MAX] &&
				(row->value[c] == p[o + WC_MIN] || row->value[c] == p[o + WC_MAX]))
				return false;
			rest[o + WC_COUNT]--;
			rest[o + WC_SUM] -= row->value[c];
		}
	}
	if (rest[W_N] <= 0)
		return rest[W_N] == 0;	/* every row is outside */
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o >= 0 && e->column_extremes[c] && rest[o + WC_COUNT] == 0)
		{
			rest[o + WC_MIN] = PG_INT64_MAX;
			rest[o + WC_MAX] = PG_INT64_MIN;
		}
	}
	if (cut_start == start)
		rest[W_MIN_TIME] = lo + 1;
	else
		rest[W_MAX_TIME] = hi;
	if (!slot_answers(r, rest, lo, hi, start, end, &known))
		return false;
	add_slot(e, agg, rest, known);
	return true;
}

/* Adds the rows with time in (lo, hi] from tier "tier" down. */
static void
add_range(EntityRead *r, VelocityWindow *agg, int tier, int64 lo, int64 hi)
{
	const VelocityEntity *e = r->e;
	int64		width = e->tier_width[tier];
	int64		slot_width = width / e->tier_slots[tier];

	for (int64 b = buckets_floor_div(lo + 1, width); b <= buckets_floor_div(hi, width); b++)
	{
		CachedBucket *cb = bucket(r, tier, b, lo + 1);
		int			first = (int) (Max(lo + 1 - b * width, 0) / slot_width);
		int			last = (int) (Min(hi - b * width, width - 1) / slot_width);
		bool		known;

		if (!cb->present)
			continue;
		if (cb->has_summary && b * width > lo && b * width + width - 1 <= hi)
		{
			/* the whole bucket is in the window */
			if (cb->summary[W_N] == 0)
				continue;
			if (slot_answers(r, cb->summary, lo, hi, b * width, b * width + width - 1, &known))
			{
				add_slot(e, agg, cb->summary, known);
				continue;
			}
		}
		ensure_slots(r, cb);
		for (int s = first; s <= last; s++)
		{
			const int64 *p = cb->dense + s * e->words;
			int64		start = b * width + s * slot_width;
			int64		end = start + slot_width - 1;

			if (!cb->slot_present[s] || p[W_N] == 0)
				continue;		/* no row (its stripes' removals cancel its inserts) */
			if (p[W_MAX_TIME] <= lo || p[W_MIN_TIME] > hi)
				continue;		/* every row of the slot is outside */
			if (slot_answers(r, p, lo, hi, start, end, &known))
				add_slot(e, agg, p, known);
			else if (buckets_list_usable(e, p))
				add_listed(r, agg, p, lo, hi);
			else if (p[W_N] > RAW_DIRECT_ROWS &&
					 add_slot_less(r, agg, p, lo, hi, start, end,
								   tier + 1 < e->num_tiers ? RAW_DIRECT_ROWS : p[W_N] / 2))
				continue;
			else if (tier + 1 < e->num_tiers && p[W_N] > RAW_DIRECT_ROWS &&
					 raw_cached(r, Max(lo + 1, start), Min(hi, end)) == NULL)
				add_range(r, agg, tier + 1, Max(lo, start - 1), Min(hi, end));
			else
				add_raw(r, agg, Max(lo, start - 1), Min(hi, end), Max(lo + 1, start), Min(hi, end));
		}
	}
}

void
vread_empty(const VelocityEntity *e, VelocityWindow *agg)
{
	memset(agg, 0, sizeof(VelocityWindow));
	agg->min_known_time = PG_INT64_MAX;
	agg->max_known_time = PG_INT64_MIN;
	for (int c = 0; c < VELOCITY_MAX_COLUMNS; c++)
	{
		agg->min[c] = PG_INT64_MAX;
		agg->max[c] = PG_INT64_MIN;
	}
}

/* The latest time of a known row in a tier 0 bucket, searched newest slot first. */
static bool
latest_in_bucket(EntityRead *r, int64 b, VelocityWindow *agg, int64 *latest)
{
	const VelocityEntity *e = r->e;
	int64		width = e->tier_width[0];
	int64		slot_width = width / e->tier_slots[0];
	CachedBucket *cb = bucket(r, 0, b, r->read_from);
	const int64 *p = cb->summary;

	if (!cb->present)
		return false;
	if (cb->has_summary && (p[W_N] == 0 || p[W_NK] == 0))
		return false;			/* no labeled row */
	if (cb->has_summary && b * width + width - 1 <= r->t && p[W_MAX_ARRIVAL] < r->arrival &&
		p[W_MAX_KNOWN] <= r->t && p[W_STALE] == 0)
	{
		*latest = p[W_MAX_LTIME];	/* every labeled row known by t */
		return true;
	}
	ensure_slots(r, cb);
	for (int s = e->tier_slots[0] - 1; s >= 0; s--)
	{
		int64		start = b * width + s * slot_width;

		if (!cb->slot_present[s] || cb->dense[s * e->words + W_NK] == 0 || start > r->t)
			continue;
		vread_empty(e, agg);
		add_range(r, agg, 0, start - 1, Min(r->t, start + slot_width - 1));
		if (agg->nk > 0)
		{
			*latest = agg->max_known_time;
			return true;
		}
	}
	return false;
}

/* The latest time of a row known at t, over all history: tier 0's buckets
 * backward from t, each read in full before it is searched. */
static bool
latest_known(EntityRead *r, int64 *latest)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			k = r->e->num_keys;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	VelocityWindow *agg = palloc(sizeof(VelocityWindow));
	bool		have = false;
	bool		merging = false;
	int64		current = 0;
	bool		found = false;
	int64		newest = buckets_floor_div(r->t, r->e->tier_width[0]);

	/* the buckets the windows read already, then the older ones */
	if (r->prefetched_lo <= r->prefetched_hi && r->prefetched_hi == newest)
	{
		for (int64 b = newest; b >= r->history_lo; b--)
			if ((b >= r->prefetched_lo || cache_find(r, 0, b) != NULL) &&
				latest_in_bucket(r, b, agg, latest))
				return true;
		if (r->history_all)
			return false;
		newest = r->history_lo - 1;
	}
	slot = table_slot_create(r->buckets, NULL);
	key_scan_keys(r, skeys);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(0));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(newest));
	scan = index_beginscan(r->buckets, r->buckets_index, r->snapshot, k + 2, 0);
	index_rescan(scan, skeys, k + 2, NULL, 0);
	while (!found && index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;
		int64		b = DatumGetInt64(slot_getattr(slot, k + BUCKET_ATT_BUCKET, &isnull));
		if (!have || b != current)
		{
			if (have && latest_in_bucket(r, current, agg, latest))
			{
				found = true;
				break;
			}
			have = true;
			current = b;
			/* a bucket already read whole is not merged again */
			merging = cache_find(r, 0, b) == NULL &&
				!(b >= r->prefetched_lo && b <= r->prefetched_hi);
		}
		if (merging)
		{
			TupleTableSlot *saved = r->bucket_slot;

			r->bucket_slot = slot;
			merge_scanned(r, 0, cache_entry(r, 0, b));
			r->bucket_slot = saved;
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	if (!found && have)
		found = latest_in_bucket(r, current, agg, latest);
	return found;
}

static void
begin_read(VelocityRuntime *rt, EntityQuery *q, EntityRead *r)
{
	const VelocityEntity *e = &rt->set->entities[q->entity];
	int			max_slots = 0;

	memset(r, 0, sizeof(EntityRead));
	r->rt = rt;
	r->vs = rt->set;
	r->e = e;
	r->entity = q->entity;
	r->keys = q->keys;
	r->t = q->t;
	r->arrival = q->arrival;
	r->snapshot = GetActiveSnapshot();
	r->buckets = table_open(rt->bucket_relids[q->entity], AccessShareLock);
	r->buckets_index = index_open(rt->bucket_indexes[q->entity], AccessShareLock);
	r->raw_map = rt->raw_index_map[q->entity];
	r->vm_buffer = InvalidBuffer;
	r->heap_buffer = InvalidBuffer;
	r->bucket_slot = table_slot_create(r->buckets, NULL);
	for (int t = 0; t < e->num_tiers; t++)
		max_slots = Max(max_slots, e->tier_slots[t]);
	r->scratch = palloc(sizeof(int64) * max_slots * e->words);
	r->scratch_present = palloc(sizeof(bool) * max_slots);
	r->wanted = palloc(sizeof(bool) * max_slots);
	r->stripe_summary = palloc(sizeof(int64) * e->words);
	r->q = q;
	r->cache_allocated = 32;
	r->cache = palloc(sizeof(CachedBucket *) * r->cache_allocated);
	r->raw_allocated = 8;
	r->raw_cache = palloc(sizeof(RawSlot) * r->raw_allocated);
	r->prefetched_lo = 1;
	r->prefetched_hi = 0;
	r->history_lo = 1;
	r->history_all = false;
}

static void
end_read(EntityRead *r)
{
	ExecDropSingleTupleTableSlot(r->bucket_slot);
	if (BufferIsValid(r->vm_buffer))
		ReleaseBuffer(r->vm_buffer);
	if (BufferIsValid(r->heap_buffer))
		ReleaseBuffer(r->heap_buffer);
	if (r->source != NULL)
	{
		ExecDropSingleTupleTableSlot(r->raw_slot);
		index_close(r->raw_index, AccessShareLock);
		table_close(r->source, AccessShareLock);
	}
	index_close(r->buckets_index, AccessShareLock);
	table_close(r->buckets, AccessShareLock);
}

/*
 * The rows with time in [start, end] from the lists of tier 0's prefetched
 * slots, cached as if read from the source; false when a slot with rows
 * keeps none.
 */
static bool
raw_from_lists(EntityRead *r, int64 start, int64 end)
{
	const VelocityEntity *e = r->e;
	int64		width = e->tier_width[0];
	int64		slot_width = width / e->tier_slots[0];
	int			allocated = 16;
	RawSlot    *rs = NULL;

	if (buckets_floor_div(start, width) < r->prefetched_lo ||
		buckets_floor_div(end, width) > r->prefetched_hi)
		return false;
	/* first whether every slot lists its rows, then the rows */
	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
			rs = new_raw_slot(r, start, end, allocated);
		for (int64 b = buckets_floor_div(start, width); b <= buckets_floor_div(end, width); b++)
		{
			CachedBucket *cb = bucket(r, 0, b, start);
			int			first = (int) (Max(start - b * width, 0) / slot_width);
			int			last = (int) (Min(end - b * width, width - 1) / slot_width);

			ensure_slots(r, cb);
			for (int s = first; cb->present && s <= last; s++)
			{
				const int64 *p = cb->dense + s * e->words;

				if (!cb->slot_present[s])
					continue;
				if (pass == 0 && !buckets_list_usable(e, p))
					return false;
				for (int i = 0; pass == 1 && i < p[e->list_offset]; i++)
				{
					const int64 *entry = p + e->list_offset + 1 + i * e->entry_words;

					if (entry[E_TIME] < start || entry[E_TIME] > end)
						continue;
					if (rs->count == allocated)
					{
						allocated *= 2;
						rs->rows = repalloc(rs->rows, sizeof(VelocityRowValues) * allocated);
					}
					row_value_arrays(r, &rs->rows[rs->count]);
					buckets_list_row(e, entry, &rs->rows[rs->count]);
					rs->count++;
				}
			}
		}
	}
	return true;
}

/*
 * Every window of the query.  Tier 0 of the longest window is read by one
 * scan; the rows of the raw window (read for the caller, from tier 0's
 * lists when they keep them all) answer the windows no longer than it.
 */
void
vread_entity(VelocityRuntime *rt, EntityQuery *q)
{
	EntityRead	r;
	int64		longest = 0;
	int64		raw_start = q->t - q->raw_window + 1;
	bool		unbounded = false;

	begin_read(rt, q, &r);
	for (int w = 0; w < q->num_windows; w++)
		if (q->windows[w] != VELOCITY_UNBOUNDED)
			longest = Max(longest, q->windows[w]);
		else
			unbounded = true;
	longest = Max(longest, q->raw_window);
	r.read_from = unbounded ? PG_INT64_MIN : q->t - longest + 1;
	r.fetch_from = r.read_from;
	if (longest > 0)
	{
		int64		lo = buckets_floor_div(q->t - longest + 1, r.e->tier_width[0]);
		int64		hi = buckets_floor_div(q->t, r.e->tier_width[0]);

		if (unbounded)
			prefetch_with_history(&r, lo, hi);
		else
		{
			r.prefetched_lo = lo;
			r.prefetched_hi = hi;
			fetch_buckets(&r, 0, lo, hi);
		}
	}
	if (q->raw_window > 0)
	{
		/* not kept: raw_cache moves as it grows */
		RawSlot    *raw;

		if (!raw_from_lists(&r, raw_start, q->t))
			raw_slot(&r, raw_start, q->t, 0);
		raw = raw_cached(&r, raw_start, q->t);
		q->raw_rows = palloc(sizeof(VelocityRowValues) * Max(raw->count, 1));
		for (int i = 0; i < raw->count; i++)
			if (raw->rows[i].arrival < q->arrival)
				q->raw_rows[q->raw_count++] = raw->rows[i];
	}
	for (int w = 0; w < q->num_windows; w++)
	{
		vread_empty(r.e, &q->aggs[w]);
		if (q->windows[w] == VELOCITY_UNBOUNDED)
			q->latest_found[w] = latest_known(&r, &q->latest[w]);
		else if (q->windows[w] <= q->raw_window)
			add_raw(&r, &q->aggs[w], q->t - q->windows[w], q->t, raw_start, q->t);
		else
			add_range(&r, &q->aggs[w], 0, q->t - q->windows[w], q->t);
	}
	end_read(&r);
}
