/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Serving statistics per model version, the fraud_score_stats view:
 *		calls (every score, SQL functions and trigger), rows by decision,
 *		trigger rows that could not be scored by fraud_score.on_error
 *		outcome with the last message, total and largest time, a latency
 *		histogram for percentiles, and when the version last served.
 *
 * The counters live in shared memory, one entry per (database, model,
 * version) in a hash table of fraud_score.stats_max entries under one
 * LWLock, set up through the chained shmem_request_hook and
 * shmem_startup_hook of pg_stat_statements: they need fraud_score in
 * shared_preload_libraries.  Loaded on first use, scoring counts nothing
 * and reading the view is an error that says so.
 *
 * A backend counts into its own entry per version (reached from the cached
 * FraudModel without a lookup) and adds its counts to the shared entries at
 * transaction end, commit or abort, and before it reads them: scoring
 * backends take no lock and share no cache line per row.  The flush runs in
 * transaction callbacks after commit, where an ERROR would be a PANIC, so
 * nothing on that path can raise: a full table evicts the version that
 * served least recently, and a table that cannot take an entry drops the
 * counts.
 *
 * Latencies go into log-linear buckets, four per octave from 64 ns (each at
 * most 25% of its lower bound wide) to 18 minutes; percentiles interpolate
 * within a bucket.  Not every call is timed (stats_call_begin).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fraud_score.h"

FRAUD_SQL_FUNCTION(fraud_score_stats);
FRAUD_SQL_FUNCTION(fraud_score_stats_reset);
FRAUD_SQL_FUNCTION(fraud_score_stats_0_6);
FRAUD_SQL_FUNCTION(fraud_score_stats_reset_0_6);

#define LAST_ERROR_LEN 256
#define FIRST_OCTAVE 6			/* bucket 0 holds calls under 2^6 ns */
#define BUCKETS_PER_OCTAVE 4
#define NUM_BUCKETS (1 + 34 * BUCKETS_PER_OCTAVE)	/* to 2^40 ns; the last
														 * one holds all above */
#define NUM_DECISIONS 3
#define CALL_UNTIMED 1			/* stats_call_begin: count, do not time */

/* A version's counters; a version of 0 counts failures before one was known. */
typedef struct StatsKey
{
	Oid			dbid;
	int32		version;
	char		model[NAMEDATALEN];
} StatsKey;

typedef struct StatsCounts
{
	int64		calls;
	int64		shadow_calls;	/* of which as a challenger */
	int64		timed_calls;	/* of which timed (stats_call_begin) */
	int64		decisions[NUM_DECISIONS];	/* approve, review, decline */
	int64		errors[ON_ERROR_APPROVE + 1];	/* by on_error outcome */
	int64		shadow_errors;	/* rows it could not score as a challenger */
	int64		total_ns;
	int64		min_ns;			/* of timed calls > 0 */
	int64		max_ns;
	int64		histogram[NUM_BUCKETS];
} StatsCounts;

typedef struct SharedEntry
{
	StatsKey	key;			/* hash key: first */
	slock_t		mutex;			/* protects everything below */
	StatsCounts counts;
	TimestampTz stats_since;
	TimestampTz last_call;
	TimestampTz last_error_at;
	char		last_error[LAST_ERROR_LEN];
} SharedEntry;

typedef struct SharedState
{
	LWLock	   *lock;			/* the hash table's entries and their set */
} SharedState;

/* This backend's counts for one version, not yet added to shared memory. */
typedef struct StatsSlot
{
	StatsKey	key;			/* hash key: first */
	StatsCounts counts;
	int			lowest_bucket;	/* histogram range touched since the flush */
	int			highest_bucket;
	bool		pending;
	struct StatsSlot *next_pending;
	TimestampTz last_error_at;	/* 0: no new error */
	char		last_error[LAST_ERROR_LEN];
} StatsSlot;

static SharedState *shared = NULL;
static HTAB *shared_entries = NULL;
static HTAB *local_entries = NULL;
static StatsSlot *pending_entries = NULL;
static bool xact_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static inline uint64
monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64) now.tv_sec * UINT64CONST(1000000000) + (uint64) now.tv_nsec;
}

static Size
shared_size(void)
{
	return add_size(MAXALIGN(sizeof(SharedState)),
					hash_estimate_size(fraud_score_stats_max, sizeof(SharedEntry)));
}

static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("fraud_score", 1);
}

static void
stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		ctl = {0};

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("fraud_score stats", sizeof(SharedState), &found);
	if (!found)
		shared->lock = &(GetNamedLWLockTranche("fraud_score"))->lock;
	ctl.keysize = sizeof(StatsKey);
	ctl.entrysize = sizeof(SharedEntry);
	shared_entries = ShmemInitHash("fraud_score stats entries",
								   fraud_score_stats_max, fraud_score_stats_max,
								   &ctl, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

void
stats_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

static inline int
bucket_of(uint64 ns)
{
	int			octave;
	int			bucket;

	if (ns < (UINT64CONST(1) << FIRST_OCTAVE))
		return 0;
	octave = pg_leftmost_one_pos64(ns);
	bucket = 1 + (octave - FIRST_OCTAVE) * BUCKETS_PER_OCTAVE +
		(int) ((ns >> (octave - 2)) & (BUCKETS_PER_OCTAVE - 1));
	return Min(bucket, NUM_BUCKETS - 1);
}

/* A bucket's range in nanoseconds (the last one's upper end is the max). */
static void
bucket_range(int bucket, double *low, double *high)
{
	int			octave;
	int			step;

	if (bucket == 0)
	{
		*low = 0;
		*high = (double) (1 << FIRST_OCTAVE);
		return;
	}
	octave = FIRST_OCTAVE + (bucket - 1) / BUCKETS_PER_OCTAVE;
	step = (bucket - 1) % BUCKETS_PER_OCTAVE;
	*low = ldexp(1.0, octave) + step * ldexp(1.0, octave - 2);
	*high = *low + ldexp(1.0, octave - 2);
}

/* Whether scoring counts: only where there is shared memory to add to. */
static inline bool
stats_tracking(void)
{
	return shared != NULL && fraud_score_track_stats;
}

/*
 * When a call starts, for stats_count_call: 0 when nothing is counted,
 * CALL_UNTIMED when it is counted but not timed.
 *
 * Reading the clock twice costs about 55 ns under KVM here (clock_gettime
 * through the vDSO; the kernel does not trust the TSC, so neither do we),
 * 2-3% of a batch-inserted scored row.  So the first call of each
 * transaction is timed, and then one call in fraud_score.stats_timing_interval:
 * a single-row transaction always, a batch by sample.
 */
uint64
stats_call_begin(void)
{
	static TimestampTz timed_transaction = 0;
	static int	untimed = 0;
	TimestampTz transaction = GetCurrentTransactionStartTimestamp();

	if (!stats_tracking())
		return 0;
	if (transaction != timed_transaction || ++untimed >= fraud_score_stats_timing_interval)
	{
		timed_transaction = transaction;
		untimed = 0;
		return monotonic_ns();
	}
	return CALL_UNTIMED;
}

static void stats_xact_callback(XactEvent event, void *arg);

static StatsSlot *
local_entry(const char *model_name, int32 version)
{
	StatsKey	key;
	StatsSlot *entry;
	bool		found;

	if (local_entries == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(StatsKey);
		ctl.entrysize = sizeof(StatsSlot);
		ctl.hcxt = TopMemoryContext;
		local_entries = hash_create("fraud_score local stats", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.version = version;
	strlcpy(key.model, model_name, NAMEDATALEN);
	entry = hash_search(local_entries, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) entry) + sizeof(StatsKey), 0, sizeof(StatsSlot) - sizeof(StatsKey));
		entry->lowest_bucket = NUM_BUCKETS;
		entry->highest_bucket = -1;
	}
	return entry;
}

static void
mark_pending(StatsSlot *entry)
{
	if (entry->pending)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(stats_xact_callback, NULL);
		xact_callback_registered = true;
	}
	entry->pending = true;
	entry->next_pending = pending_entries;
	pending_entries = entry;
}

/*
 * Count a score of "model" that started at "started" (stats_call_begin),
 * made as a challenger or not.  Plain C on the row's path: the local entry
 * is found once per cached model.
 */
static inline void
count_call(FraudModel *model, double score, uint64 started, bool shadow)
{
	StatsSlot *entry;
	uint64		now;
	uint64		elapsed;
	int			bucket;

	if (started == 0)
		return;
	entry = model->stats_entry;
	if (unlikely(entry == NULL))
		entry = model->stats_entry = local_entry(model->name, model->version);
	entry->counts.calls++;
	entry->counts.shadow_calls += shadow;
	entry->counts.decisions[scoring_band(model, score)]++;
	if (unlikely(!entry->pending))
		mark_pending(entry);
	if (started == CALL_UNTIMED)
		return;
	now = monotonic_ns();
	elapsed = now - started;
	entry->counts.timed_calls++;
	entry->counts.total_ns += elapsed;
	if ((int64) elapsed > entry->counts.max_ns)
		entry->counts.max_ns = elapsed;
	if ((int64) elapsed < entry->counts.min_ns || entry->counts.timed_calls == 1)
		entry->counts.min_ns = elapsed;
	bucket = bucket_of(elapsed);
	entry->counts.histogram[bucket]++;
	if (bucket < entry->lowest_bucket)
		entry->lowest_bucket = bucket;
	if (bucket > entry->highest_bucket)
		entry->highest_bucket = bucket;
}

void
stats_count_call(FraudModel *model, double score, uint64 started)
{
	count_call(model, score, started, false);
}

void
stats_count_shadow_call(FraudModel *model, double score, uint64 started)
{
	count_call(model, score, started, true);
}

/* Keep a failure's message in "entry" (whole characters only: a cut one is unreadable). */
static void
keep_error(StatsSlot *entry, const char *message)
{
	const char *text = message ? message : "";
	int			len = pg_mbcliplen(text, strlen(text), LAST_ERROR_LEN - 1);

	entry->last_error_at = GetCurrentTimestamp();
	memcpy(entry->last_error, text, len);
	entry->last_error[len] = '\0';
	mark_pending(entry);
}

/*
 * Count a trigger row that could not be scored, with its outcome and
 * message, for "model" (NULL: before a version was known).
 */
void
stats_count_failure(const char *model_name, const FraudModel *model, OnErrorPolicy outcome,
					const char *message)
{
	StatsSlot *entry;

	if (!stats_tracking() || strlen(model_name) >= NAMEDATALEN)
		return;
	entry = local_entry(model_name, model != NULL ? model->version : 0);
	entry->counts.errors[outcome]++;
	keep_error(entry, message);
}

/* Count a row a challenger version could not score (the row is written as if it had none). */
void
stats_count_shadow_failure(const FraudModel *model, const char *message)
{
	StatsSlot *entry;

	if (!stats_tracking())
		return;
	entry = local_entry(model->name, model->version);
	entry->counts.shadow_errors++;
	keep_error(entry, message);
}

/* The version that served least recently, to make room.  Exclusive lock held. */
static void
evict_least_recent(void)
{
	HASH_SEQ_STATUS status;
	SharedEntry *entry;
	SharedEntry *oldest = NULL;

	hash_seq_init(&status, shared_entries);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (oldest == NULL || Max(entry->last_call, entry->stats_since) <
			Max(oldest->last_call, oldest->stats_since))
			oldest = entry;
	if (oldest != NULL)
		hash_search(shared_entries, &oldest->key, HASH_REMOVE, NULL);
}

/* A new shared entry, or NULL if there is no room.  Never raises. */
static SharedEntry *
create_shared_entry(const StatsKey *key, TimestampTz now)
{
	SharedEntry *entry;
	bool		found;

	if (hash_get_num_entries(shared_entries) >= fraud_score_stats_max)
		evict_least_recent();
	entry = hash_search(shared_entries, key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		memset(&entry->counts, 0, sizeof(entry->counts));
		entry->stats_since = now;
		entry->last_call = 0;
		entry->last_error_at = 0;
		entry->last_error[0] = '\0';
	}
	return entry;
}

static void
add_counts(SharedEntry *to, StatsSlot *from, TimestampTz now)
{
	SpinLockAcquire(&to->mutex);
	to->counts.calls += from->counts.calls;
	to->counts.shadow_calls += from->counts.shadow_calls;
	to->counts.timed_calls += from->counts.timed_calls;
	to->counts.shadow_errors += from->counts.shadow_errors;
	for (int d = 0; d < NUM_DECISIONS; d++)
		to->counts.decisions[d] += from->counts.decisions[d];
	for (int o = 0; o <= ON_ERROR_APPROVE; o++)
		to->counts.errors[o] += from->counts.errors[o];
	to->counts.total_ns += from->counts.total_ns;
	if (from->counts.timed_calls > 0)
		to->counts.min_ns = to->counts.timed_calls == from->counts.timed_calls ?
			from->counts.min_ns : Min(to->counts.min_ns, from->counts.min_ns);
	to->counts.max_ns = Max(to->counts.max_ns, from->counts.max_ns);
	for (int b = from->lowest_bucket; b <= from->highest_bucket; b++)
		to->counts.histogram[b] += from->counts.histogram[b];
	if (from->counts.calls > 0)
		to->last_call = now;
	if (from->last_error_at != 0)
	{
		to->last_error_at = from->last_error_at;
		memcpy(to->last_error, from->last_error, LAST_ERROR_LEN);
	}
	SpinLockRelease(&to->mutex);
}

static void
clear_local(StatsSlot *entry)
{
	memset(&entry->counts, 0, sizeof(entry->counts));
	entry->lowest_bucket = NUM_BUCKETS;
	entry->highest_bucket = -1;
	entry->last_error_at = 0;
	entry->pending = false;
	entry->next_pending = NULL;
}

/* Nothing to add (its counts were reset after it was marked pending). */
static bool
slot_is_empty(const StatsSlot *slot)
{
	return slot->counts.calls == 0 && slot->last_error_at == 0;
}

/*
 * Add this backend's pending counts to the shared entries.  Runs after
 * commit: nothing here may raise.  Versions already in the table need only
 * the shared lock; new ones take it exclusively, once.
 */
static void
stats_flush(void)
{
	TimestampTz now;
	StatsSlot *missing = NULL;
	StatsSlot *entry;
	StatsSlot *next;

	if (pending_entries == NULL)
		return;
	if (shared == NULL)
	{
		for (entry = pending_entries; entry != NULL; entry = next)
		{
			next = entry->next_pending;
			clear_local(entry);
		}
		pending_entries = NULL;
		return;
	}
	now = GetCurrentTimestamp();
	LWLockAcquire(shared->lock, LW_SHARED);
	for (entry = pending_entries; entry != NULL; entry = next)
	{
		SharedEntry *to = hash_search(shared_entries, &entry->key, HASH_FIND, NULL);

		next = entry->next_pending;
		if (slot_is_empty(entry))
		{
			clear_local(entry);
			continue;
		}
		if (to == NULL)
		{
			entry->next_pending = missing;
			missing = entry;
			continue;
		}
		add_counts(to, entry, now);
		clear_local(entry);
	}
	LWLockRelease(shared->lock);
	pending_entries = NULL;
	if (missing == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (entry = missing; entry != NULL; entry = next)
	{
		SharedEntry *to = create_shared_entry(&entry->key, now);

		next = entry->next_pending;
		if (to != NULL)
			add_counts(to, entry, now);
		clear_local(entry);
	}
	LWLockRelease(shared->lock);
}

static void
stats_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			stats_flush();
			break;
		default:
			break;
	}
}

static void
require_shared_memory(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fraud_score statistics need fraud_score in shared_preload_libraries"),
				 errdetail("Serving statistics are kept in shared memory, which only a library loaded at server start can have. Scoring works without it."),
				 errhint("Add fraud_score to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * The value at quantile q of a histogram, in milliseconds: interpolated
 * within its bucket, narrowed to the smallest and largest call.
 */
static double
histogram_quantile(const StatsCounts *counts, double q)
{
	double		rank = q * (double) counts->timed_calls;
	double		seen = 0;
	double		low;
	double		high;

	for (int b = 0; b < NUM_BUCKETS; b++)
	{
		double		here = (double) counts->histogram[b];

		if (here > 0 && seen + here >= rank)
		{
			bucket_range(b, &low, &high);
			low = Max(low, (double) counts->min_ns);
			if (b == NUM_BUCKETS - 1 || high > (double) counts->max_ns)
				high = (double) counts->max_ns;
			high = Max(low, high);
			return (low + (rank - seen) / here * (high - low)) / 1e6;
		}
		seen += here;
	}
	return (double) counts->max_ns / 1e6;
}

static void
put_entry_row(ReturnSetInfo *rsinfo, const SharedEntry *entry)
{
	const StatsCounts *c = &entry->counts;
	Datum		values[23];
	bool		nulls[23] = {0};
	int			i = 0;
	double		mean_ms = c->timed_calls > 0 ? (double) c->total_ns / 1e6 / c->timed_calls : 0;

	values[i++] = CStringGetTextDatum(entry->key.model);
	nulls[i] = entry->key.version == 0;
	values[i++] = Int32GetDatum(entry->key.version);
	values[i++] = Int64GetDatum(c->calls);
	values[i++] = Int64GetDatum(c->shadow_calls);
	for (int d = 0; d < NUM_DECISIONS; d++)
		values[i++] = Int64GetDatum(c->decisions[d]);
	for (int o = 0; o <= ON_ERROR_APPROVE; o++)
		values[i++] = Int64GetDatum(c->errors[o]);
	values[i++] = Int64GetDatum(c->shadow_errors);
	values[i++] = Int64GetDatum(c->timed_calls);
	/* the calls not timed are taken to cost what the timed ones did */
	for (int k = 0; k < 7; k++)
		nulls[i + k] = c->timed_calls == 0;
	values[i++] = Float8GetDatum(mean_ms * (double) c->calls);
	values[i++] = Float8GetDatum(mean_ms);
	values[i++] = Float8GetDatum((double) c->min_ns / 1e6);
	values[i++] = Float8GetDatum((double) c->max_ns / 1e6);
	values[i++] = Float8GetDatum(c->timed_calls > 0 ? histogram_quantile(c, 0.50) : 0);
	values[i++] = Float8GetDatum(c->timed_calls > 0 ? histogram_quantile(c, 0.95) : 0);
	values[i++] = Float8GetDatum(c->timed_calls > 0 ? histogram_quantile(c, 0.99) : 0);
	nulls[i] = entry->last_call == 0;
	values[i++] = TimestampTzGetDatum(entry->last_call);
	nulls[i] = entry->last_error_at == 0;
	values[i++] = TimestampTzGetDatum(entry->last_error_at);
	nulls[i] = entry->last_error_at == 0;
	values[i++] = CStringGetTextDatum(entry->last_error);
	values[i++] = TimestampTzGetDatum(entry->stats_since);
	Assert(i == lengthof(values));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * fraud_score_stats(): one row per model version this database has scored
 * with.  (The symbol is versioned, as pg_stat_statements' are: the 0.3 SQL
 * definition of fraud_score_stats() returns other columns.)
 */
Datum
fraud_score_stats_0_6(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	SharedEntry *entry;
	SharedEntry copy;

	require_shared_memory();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != 23)
		elog(ERROR, "fraud_score_stats must return 23 columns");
	stats_flush();				/* this backend's own calls, up to now */

	/* rows go to the tuplestore under the shared lock, as pg_stat_statements does */
	LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&status, shared_entries);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&entry->mutex);
		memcpy(&copy, entry, sizeof(SharedEntry));
		SpinLockRelease(&entry->mutex);
		put_entry_row(rsinfo, &copy);
	}
	LWLockRelease(shared->lock);
	return (Datum) 0;
}

/* The 0.3-0.5 definitions, called by a library newer than the extension's SQL. */
static void
require_update(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("fraud_score's SQL definitions are older than its library"),
			 errdetail("Serving statistics changed in fraud_score 0.6."),
			 errhint("Run ALTER EXTENSION fraud_score UPDATE.")));
}

Datum
fraud_score_stats(PG_FUNCTION_ARGS)
{
	require_update();
	PG_RETURN_VOID();
}

Datum
fraud_score_stats_reset(PG_FUNCTION_ARGS)
{
	require_update();
	PG_RETURN_VOID();
}

static bool
key_matches(const StatsKey *key, const char *model_name, bool any_version, int32 version)
{
	return key->dbid == MyDatabaseId &&
		(model_name == NULL || strcmp(key->model, model_name) == 0) &&
		(any_version || key->version == version);
}

/*
 * fraud_score_stats_reset(model text, version integer): forget this
 * database's counters of that version, every version of that model, or
 * (both NULL) every model.  Calls in other sessions' open transactions are
 * added when those end.
 */
Datum
fraud_score_stats_reset_0_6(PG_FUNCTION_ARGS)
{
	const char *model_name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		any_version = PG_ARGISNULL(1);
	int32		version = any_version ? 0 : PG_GETARG_INT32(1);
	HASH_SEQ_STATUS status;
	SharedEntry *entry;
	StatsSlot *local;

	require_shared_memory();
	if (local_entries != NULL)
	{
		hash_seq_init(&status, local_entries);
		while ((local = hash_seq_search(&status)) != NULL)
			if (key_matches(&local->key, model_name, any_version, version))
			{
				/* cleared but kept in the pending list, which it may be on */
				bool		pending = local->pending;
				StatsSlot *next = local->next_pending;

				clear_local(local);
				local->pending = pending;
				local->next_pending = next;
			}
	}
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, shared_entries);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (key_matches(&entry->key, model_name, any_version, version))
			hash_search(shared_entries, &entry->key, HASH_REMOVE, NULL);
	LWLockRelease(shared->lock);
	PG_RETURN_VOID();
}
