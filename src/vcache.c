/*-------------------------------------------------------------------------
 *
 * vcache.c
 *		A backend's copies of finer-tier bucket rows of declared feature
 *		sets, kept across transactions, and the shared counters that tell
 *		it when one may have changed since (docs/velocity.md, "The bucket
 *		cache").
 *
 * Each window of a live row starts in the past, where it descends a bucket
 * row of each finer tier that rarely changes (a late row, a label): the
 * same rows for every row of a busy entity for minutes.  A backend keeps
 * their stripes as its fetch saw them (and each decoded whole) and adds
 * them again without the index descent and heap visits.  It also keeps the
 * source rows of a past finest slot of at most 64 rows (vread.c), read
 * whole once and then served for any part of the slot; such a copy is
 * guarded by the finest bucket holding the slot, since a source row
 * changed there is a write of that bucket in the same transaction (the
 * maintenance trigger's).
 *
 * Whether a copy still holds is told by VCACHE_SLOTS shared slots, each
 * standing for the buckets whose (bucket table, keys, tier, bucket) hash
 * to it, and one more that stands for every bucket.  A slot counts the
 * transactions writing one of its buckets ("writers"), changes its
 * generation when one begins or ends, and keeps the clock value of its
 * latest end ("ended").  The clock advances at each writing transaction's
 * end, after its commit or abort is visible to new snapshots.  A backend
 * reads the clock at the end of each of its transactions (its "stamp"):
 * every snapshot its next transaction takes sees every writer whose end
 * came before.
 *
 * A copy is made when its slot had no writer as the fetch began, kept its
 * generation through the fetch, and ended before the stamp: the fetch then
 * saw every change ever made to the bucket.  It serves while the generation
 * stays the same, that is while nobody has begun writing one of the slot's
 * buckets.  Copies serve only READ COMMITTED transactions (whose snapshots
 * are all taken after the transaction began; an imported one can be older),
 * never in recovery (replay writes without counting), and not in the
 * transaction that writes (it counts as a writer).  A prepared transaction
 * leaves its slots written until the server restarts: its end is not this
 * backend's to see.
 *
 * Bucket rows written through SQL (by hand, or the backfill's DELETE) fire
 * the bucket tables' trigger fraud_feature_set_buckets_written, which
 * counts as writing every bucket.  Without fraud_score in
 * shared_preload_libraries there are no counters and no copies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "fraud_score.h"
#include "vcache.h"

#define VCACHE_SLOTS 65536		/* a power of two */
#define VCACHE_EVERY VCACHE_SLOTS	/* the slot of every bucket */

typedef struct VCacheSlot
{
	pg_atomic_uint64 generation;
	pg_atomic_uint64 ended;
	pg_atomic_uint32 writers;
} VCacheSlot;

typedef struct VCacheShared
{
	pg_atomic_uint64 clock;
	VCacheSlot	slots[VCACHE_SLOTS + 1];
} VCacheShared;

typedef struct CopyKey
{
	Oid			relid;
	int32		tier;
	int64		bucket;
	uint32		key_hash;
} CopyKey;

struct BucketCopy
{
	CopyKey		key;			/* hash key: first */
	uint32		slot;			/* the shared slot that guards it */
	uint64		generation;
	uint64		every_generation;
	int			num_keys;
	Datum		keys[INDEX_MAX_KEYS];
	bool		keys_allocated[INDEX_MAX_KEYS];
	int			num_stripes;
	bytea	  **stripes;
	void	  **decoded;		/* each stripe decoded whole, one allocation */
	Size		bytes;
	bool		complete;		/* all of the above made */
};

static VCacheShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* the slots this transaction writes */
static uint32 written[VCACHE_SLOTS + 1];
static int	written_count = 0;
static uint8 written_map[(VCACHE_SLOTS + 1 + 7) / 8];

static uint64 stamp = 0;		/* none until a transaction ends */

static MemoryContext copies_context = NULL;
static HTAB *copies = NULL;
static Size copies_bytes = 0;
static Oid	copies_relids[64];	/* bucket tables with copies; all when full */
static int	copies_relid_count = 0;

static int64 count_hits = 0;
static int64 count_fetches = 0;
static int64 count_kept = 0;

static Size
shared_size(void)
{
	return sizeof(VCacheShared);
}

static void
vcache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
}

static void
vcache_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("fraud_score bucket cache", shared_size(), &found);
	if (!found)
	{
		pg_atomic_init_u64(&shared->clock, 1);
		for (int s = 0; s <= VCACHE_SLOTS; s++)
		{
			pg_atomic_init_u64(&shared->slots[s].generation, 0);
			pg_atomic_init_u64(&shared->slots[s].ended, 0);
			pg_atomic_init_u32(&shared->slots[s].writers, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
forget_copies(void)
{
	if (copies_context == NULL)
		return;
	MemoryContextReset(copies_context);
	copies = NULL;
	copies_bytes = 0;
	copies_relid_count = 0;
}

/* A dropped, truncated or altered bucket table: its copies go. */
static void
vcache_relcache_callback(Datum arg, Oid relid)
{
	bool		held = copies_relid_count == (int) lengthof(copies_relids) || relid == InvalidOid;

	for (int i = 0; i < copies_relid_count && !held; i++)
		held = copies_relids[i] == relid;
	if (held)
		forget_copies();
}

static void
advance_to(pg_atomic_uint64 *ended, uint64 value)
{
	uint64		seen = pg_atomic_read_u64(ended);

	while (seen < value && !pg_atomic_compare_exchange_u64(ended, &seen, value))
		;
}

/*
 * Runs after the transaction's commit or abort is visible (CommitTransaction
 * and AbortTransaction call back after ProcArrayEndTransaction), and must
 * not fail: atomics only.
 */
static void
vcache_xact_callback(XactEvent event, void *arg)
{
	bool		prepared = event == XACT_EVENT_PREPARE;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT && !prepared)
		return;
	if (shared == NULL)
		return;
	if (written_count > 0)
	{
		uint64		end = pg_atomic_add_fetch_u64(&shared->clock, 1);

		for (int i = 0; i < written_count; i++)
		{
			VCacheSlot *slot = &shared->slots[written[i]];

			written_map[written[i] / 8] &= ~(1 << (written[i] % 8));
			if (prepared)
				continue;		/* its writes end elsewhere: writing for good */
			advance_to(&slot->ended, end);
			pg_atomic_fetch_add_u64(&slot->generation, 1);
			pg_atomic_fetch_sub_u32(&slot->writers, 1);
		}
		written_count = 0;
	}
	stamp = pg_atomic_read_u64(&shared->clock);
}

void
vcache_init(void)
{
	CacheRegisterRelcacheCallback(vcache_relcache_callback, (Datum) 0);
	RegisterXactCallback(vcache_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = vcache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = vcache_shmem_startup;
}

/*
 * The keys' hash by their types' hash functions, which agree with the
 * B-tree equality that finds bucket rows; false for a type without one
 * (its buckets are never copied).
 */
static bool
key_hash(Relation buckets, const Datum *keys, int num_keys, uint32 *hash)
{
	TupleDesc	desc = RelationGetDescr(buckets);
	uint32		h = 0;

	for (int k = 0; k < num_keys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k);
		TypeCacheEntry *tc = lookup_type_cache(att->atttypid, TYPECACHE_HASH_PROC_FINFO);

		if (!OidIsValid(tc->hash_proc))
			return false;
		h = hash_combine(h, DatumGetUInt32(FunctionCall1Coll(&tc->hash_proc_finfo, att->attcollation,
															   keys[k])));
	}
	*hash = h;
	return true;
}

static uint32
slot_of(const CopyKey *key)
{
	uint32		h = hash_bytes_uint32(key->relid);

	h = hash_combine(h, (uint32) key->tier);
	h = hash_combine(h, hash_bytes_uint32((uint32) key->bucket) ^ (uint32) (key->bucket >> 32));
	h = hash_combine(h, key->key_hash);
	return h & (VCACHE_SLOTS - 1);
}

/* The bucket table's key count: its columns before (tier, bucket, slots). */
static int
num_keys_of(Relation buckets)
{
	return RelationGetDescr(buckets)->natts - 3;
}

static void
note_written(uint32 s)
{
	if (written_map[s / 8] & (1 << (s % 8)))
		return;
	pg_atomic_fetch_add_u32(&shared->slots[s].writers, 1);
	pg_atomic_fetch_add_u64(&shared->slots[s].generation, 1);
	written_map[s / 8] |= 1 << (s % 8);
	written[written_count++] = s;
}

/* A bucket row is about to be written by this transaction. */
void
vcache_writing(Relation buckets, const Datum *keys, int tier, int64 bucket)
{
	CopyKey		key;

	if (shared == NULL)
		return;
	memset(&key, 0, sizeof(key));
	if (!key_hash(buckets, keys, num_keys_of(buckets), &key.key_hash))
		return;
	key.relid = RelationGetRelid(buckets);
	key.tier = tier;
	key.bucket = bucket;
	note_written(slot_of(&key));
}

/* Bucket rows are written through SQL: as if every bucket were. */
void
vcache_writing_every(void)
{
	if (shared != NULL)
		note_written(VCACHE_EVERY);
}

static bool
copies_serve(void)
{
	return shared != NULL && fraud_score_bucket_cache_kb > 0 && stamp != 0 &&
		!IsolationUsesXactSnapshot() && !RecoveryInProgress();
}

static bool
same_keys(Relation buckets, const BucketCopy *copy, const Datum *keys)
{
	TupleDesc	desc = RelationGetDescr(buckets);

	for (int k = 0; k < copy->num_keys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k);

		if (!datumIsEqual(copy->keys[k], keys[k], att->attbyval, att->attlen))
			return false;
	}
	return true;
}

/*
 * The copy of (tier, bucket), when one serves this transaction; otherwise
 * NULL and "fetch" says whether the fetch that follows may leave one.  The
 * writers of bucket "guard" of "guard_tier" make it stale: the bucket
 * itself, or for a finest slot's raw rows the finest bucket holding them.
 */
BucketCopy *
vcache_find(Relation buckets, const Datum *keys, int tier, int64 bucket, int guard_tier,
			int64 guard, BucketCopyFetch *fetch)
{
	CopyKey		key;
	BucketCopy *copy = NULL;
	VCacheSlot *slot;
	VCacheSlot *every;

	fetch->possible = false;
	if (!copies_serve())
		return NULL;
	memset(&key, 0, sizeof(key));
	if (!key_hash(buckets, keys, num_keys_of(buckets), &key.key_hash))
		return NULL;
	key.relid = RelationGetRelid(buckets);
	key.tier = guard_tier;
	key.bucket = guard;
	fetch->slot = slot_of(&key);
	key.tier = tier;
	key.bucket = bucket;
	fetch->relid = key.relid;
	fetch->tier = tier;
	fetch->bucket = bucket;
	fetch->key_hash = key.key_hash;
	slot = &shared->slots[fetch->slot];
	every = &shared->slots[VCACHE_EVERY];
	fetch->generation = pg_atomic_read_u64(&slot->generation);
	fetch->every_generation = pg_atomic_read_u64(&every->generation);
	if (copies != NULL)
		copy = hash_search(copies, &key, HASH_FIND, NULL);
	if (copy != NULL && copy->complete && copy->slot == fetch->slot &&
		copy->generation == fetch->generation &&
		copy->every_generation == fetch->every_generation && same_keys(buckets, copy, keys))
	{
		count_hits++;
		return copy;
	}
	count_fetches++;
	fetch->possible = pg_atomic_read_u32(&slot->writers) == 0 &&
		pg_atomic_read_u32(&every->writers) == 0;
	/* the fetch's reads come after these */
	pg_memory_barrier();
	return NULL;
}

int
vcache_stripes(const BucketCopy *copy, bytea *const **stripes, void *const **decoded)
{
	*stripes = copy->stripes;
	*decoded = copy->decoded;
	return copy->num_stripes;
}

/* Frees what a replaced copy held. */
static void
free_copy(BucketCopy *copy)
{
	for (int k = 0; k < copy->num_keys; k++)
		if (copy->keys_allocated[k])
			pfree(DatumGetPointer(copy->keys[k]));
	for (int i = 0; i < copy->num_stripes; i++)
	{
		pfree(copy->stripes[i]);
		if (copy->decoded[i] != NULL)
			pfree(copy->decoded[i]);
	}
	pfree(copy->stripes);
	pfree(copy->decoded);
	copies_bytes -= copy->bytes;
}

static void
note_relid(Oid relid)
{
	for (int i = 0; i < copies_relid_count; i++)
		if (copies_relids[i] == relid)
			return;
	if (copies_relid_count < (int) lengthof(copies_relids))
		copies_relids[copies_relid_count++] = relid;
}

/*
 * Keeps a copy of the stripes a fetch read, when nothing may have changed
 * them unseen, each with what "decode" (if any) makes of it: one
 * allocation without pointers, made in the caller's memory (an error there
 * leaves the copies as they were).
 */
void
vcache_keep(BucketCopyFetch *fetch, Relation buckets, const Datum *keys,
			bytea *const *stripes, int num_stripes, VCacheDecode decode, void *arg)
{
	VCacheSlot *slot;
	VCacheSlot *every;
	CopyKey		key;
	BucketCopy *copy;
	bool		found;
	Size		bytes = sizeof(BucketCopy) + 2 * sizeof(void *) * Max(num_stripes, 1);
	TupleDesc	desc = RelationGetDescr(buckets);
	void	   *decoded[BUCKET_COPY_MAX_STRIPES];
	Size		decoded_bytes[BUCKET_COPY_MAX_STRIPES];
	MemoryContext old;

	if (!fetch->possible || num_stripes > BUCKET_COPY_MAX_STRIPES)
		return;
	pg_memory_barrier();
	slot = &shared->slots[fetch->slot];
	every = &shared->slots[VCACHE_EVERY];
	if (pg_atomic_read_u64(&slot->generation) != fetch->generation ||
		pg_atomic_read_u64(&every->generation) != fetch->every_generation ||
		pg_atomic_read_u64(&slot->ended) > stamp || pg_atomic_read_u64(&every->ended) > stamp)
		return;
	for (int i = 0; i < num_stripes; i++)
	{
		decoded[i] = NULL;
		decoded_bytes[i] = 0;
		if (decode != NULL)
			decoded[i] = decode(stripes[i], fetch->bucket, arg, &decoded_bytes[i]);
		bytes += VARSIZE_ANY(stripes[i]) + decoded_bytes[i];
	}
	if (copies_context == NULL)
		copies_context = AllocSetContextCreate(TopMemoryContext, "fraud_score bucket copies",
											   ALLOCSET_DEFAULT_SIZES);
	if (copies_bytes + bytes > (Size) fraud_score_bucket_cache_kb * 1024)
		forget_copies();		/* full: begin again */
	if (bytes > (Size) fraud_score_bucket_cache_kb * 1024)
		return;
	if (copies == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(CopyKey);
		ctl.entrysize = sizeof(BucketCopy);
		ctl.hcxt = copies_context;
		copies = hash_create("fraud_score bucket copies", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.relid = fetch->relid;
	key.tier = fetch->tier;
	key.bucket = fetch->bucket;
	key.key_hash = fetch->key_hash;
	copy = hash_search(copies, &key, HASH_ENTER, &found);
	if (found && copy->complete)
		free_copy(copy);
	copy->complete = false;
	old = MemoryContextSwitchTo(copies_context);
	copy->slot = fetch->slot;
	copy->generation = fetch->generation;
	copy->every_generation = fetch->every_generation;
	copy->num_keys = num_keys_of(buckets);
	for (int k = 0; k < copy->num_keys; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, k);

		copy->keys[k] = datumCopy(keys[k], att->attbyval, att->attlen);
		copy->keys_allocated[k] = !att->attbyval;
	}
	copy->num_stripes = num_stripes;
	copy->stripes = palloc(sizeof(bytea *) * Max(num_stripes, 1));
	copy->decoded = palloc(sizeof(void *) * Max(num_stripes, 1));
	for (int i = 0; i < num_stripes; i++)
	{
		copy->stripes[i] = palloc(VARSIZE_ANY(stripes[i]));
		memcpy(copy->stripes[i], stripes[i], VARSIZE_ANY(stripes[i]));
		copy->decoded[i] = NULL;
		if (decoded[i] == NULL)
			continue;
		copy->decoded[i] = palloc(decoded_bytes[i]);
		memcpy(copy->decoded[i], decoded[i], decoded_bytes[i]);
		pfree(decoded[i]);
	}
	MemoryContextSwitchTo(old);
	copy->bytes = bytes;
	copy->complete = true;
	copies_bytes += bytes;
	count_kept++;
	note_relid(fetch->relid);
}

/* This backend's counts, for fraud_feature_set_cache(). */
void
vcache_counts(bool *enabled, int64 *hits, int64 *fetches, int64 *kept, int64 *num_copies,
			  int64 *bytes)
{
	*enabled = shared != NULL && fraud_score_bucket_cache_kb > 0;
	*hits = count_hits;
	*fetches = count_fetches;
	*kept = count_kept;
	*num_copies = copies != NULL ? (int64) hash_get_num_entries(copies) : 0;
	*bytes = (int64) copies_bytes;
}
