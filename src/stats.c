/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Counters of what the scoring trigger did: rows scored, and rows it
 *		could not score by the fraud_score.on_error outcome, with the last
 *		failure's message.  fraud_score_stats() reads them.
 *
 * Counting is per backend: the trigger adds to this backend's pending
 * counts, which are added to the counters at transaction end (commit or
 * abort) and before this backend reads them, so that inserting backends
 * do not all write one shared cache line per row.
 *
 * Loaded through shared_preload_libraries, the counters live in shared
 * memory and cover the whole server (the chained shmem_request_hook and
 * shmem_startup_hook of pg_stat_statements).  Loaded on first use, there is
 * no shared memory to be had, so each backend counts only its own rows and
 * fraud_score_stats() says so in its "scope" column.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "fraud_score.h"

FRAUD_SQL_FUNCTION(fraud_score_stats);
FRAUD_SQL_FUNCTION(fraud_score_stats_reset);

#define LAST_FAILURE_LEN 256

typedef struct ScoringStats
{
	pg_atomic_uint64 rows_scored;
	pg_atomic_uint64 failures[ON_ERROR_APPROVE + 1];	/* by outcome */
	slock_t		mutex;			/* protects the fields below */
	TimestampTz last_failure_at;
	char		last_failure[LAST_FAILURE_LEN];
	int			last_failure_encoding;	/* the writing database's */
	TimestampTz reset_at;
} ScoringStats;

static ScoringStats *stats = NULL;
static bool stats_shared = false;

/* This backend's counts not yet added to *stats. */
typedef struct PendingStats
{
	uint64		rows_scored;
	uint64		failures[ON_ERROR_APPROVE + 1];
	bool		any;
} PendingStats;

static PendingStats pending;
static bool xact_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
stats_reset_fields(ScoringStats *s)
{
	TimestampTz now = GetCurrentTimestamp();

	pg_atomic_write_u64(&s->rows_scored, 0);
	for (int i = 0; i <= ON_ERROR_APPROVE; i++)
		pg_atomic_write_u64(&s->failures[i], 0);
	SpinLockAcquire(&s->mutex);
	s->last_failure_at = 0;
	s->last_failure[0] = '\0';
	s->reset_at = now;
	SpinLockRelease(&s->mutex);
}

static void
stats_init_fields(ScoringStats *s)
{
	pg_atomic_init_u64(&s->rows_scored, 0);
	for (int i = 0; i <= ON_ERROR_APPROVE; i++)
		pg_atomic_init_u64(&s->failures[i], 0);
	SpinLockInit(&s->mutex);
	stats_reset_fields(s);
}

static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ScoringStats)));
}

static void
stats_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats = ShmemInitStruct("fraud_score stats", sizeof(ScoringStats), &found);
	if (!found)
		stats_init_fields(stats);
	LWLockRelease(AddinShmemInitLock);
	stats_shared = true;
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

/* The counters: shared ones if the server has them, else this backend's. */
static ScoringStats *
get_stats(void)
{
	if (stats == NULL)
	{
		stats = MemoryContextAllocZero(TopMemoryContext, sizeof(ScoringStats));
		stats_init_fields(stats);
	}
	return stats;
}

/* Add the pending counts to the counters. */
static void
stats_flush(void)
{
	ScoringStats *s;

	if (!pending.any)
		return;
	s = get_stats();
	if (pending.rows_scored > 0)
		pg_atomic_fetch_add_u64(&s->rows_scored, pending.rows_scored);
	for (int i = 0; i <= ON_ERROR_APPROVE; i++)
		if (pending.failures[i] > 0)
			pg_atomic_fetch_add_u64(&s->failures[i], pending.failures[i]);
	memset(&pending, 0, sizeof(pending));
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
count_pending(void)
{
	/* allocate a non-preloaded backend's counters now, not in the COMMIT callback */
	(void) get_stats();
	if (!xact_callback_registered)
	{
		RegisterXactCallback(stats_xact_callback, NULL);
		xact_callback_registered = true;
	}
	pending.any = true;
}

void
stats_count_scored(void)
{
	pending.rows_scored++;
	if (unlikely(!pending.any))
		count_pending();
}

/*
 * The last failure's message is written at once (failures are rare, and a
 * DBA looks for the newest); its count goes with the other pending counts.
 */
void
stats_count_failure(OnErrorPolicy outcome, const char *message)
{
	ScoringStats *s = get_stats();
	TimestampTz now = GetCurrentTimestamp();
	const char *text = message ? message : "";
	/* whole characters only: a cut one would make the text unreadable */
	int			len = pg_mbcliplen(text, strlen(text), LAST_FAILURE_LEN - 1);

	pending.failures[outcome]++;
	count_pending();
	SpinLockAcquire(&s->mutex);
	s->last_failure_at = now;
	memcpy(s->last_failure, text, len);
	s->last_failure[len] = '\0';
	s->last_failure_encoding = GetDatabaseEncoding();
	SpinLockRelease(&s->mutex);
}

/*
 * The last failure's message as this database can show it.  Shared
 * counters serve every database: a message written in another encoding
 * keeps its ASCII and shows "?" for every other byte, which is valid in any
 * encoding and never fails (converting could).
 */
static void
readable_in_this_database(char *message, int encoding)
{
	if (encoding == GetDatabaseEncoding() || GetDatabaseEncoding() == PG_SQL_ASCII)
		return;
	for (char *p = message; *p; p++)
		if (IS_HIGHBIT_SET(*p))
			*p = '?';
}

Datum
fraud_score_stats(PG_FUNCTION_ARGS)
{
	ScoringStats *s = get_stats();
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {0};
	TimestampTz last_failure_at;
	TimestampTz reset_at;
	char		last_failure[LAST_FAILURE_LEN];
	int			last_failure_encoding;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fraud_score_stats must return a composite type");
	stats_flush();				/* this backend's own rows, up to now */

	SpinLockAcquire(&s->mutex);
	last_failure_at = s->last_failure_at;
	reset_at = s->reset_at;
	memcpy(last_failure, s->last_failure, LAST_FAILURE_LEN);
	last_failure_encoding = s->last_failure_encoding;
	SpinLockRelease(&s->mutex);
	readable_in_this_database(last_failure, last_failure_encoding);

	values[0] = CStringGetTextDatum(stats_shared ? "server" : "backend");
	values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&s->rows_scored));
	values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&s->failures[ON_ERROR_ERROR]));
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&s->failures[ON_ERROR_REVIEW]));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->failures[ON_ERROR_APPROVE]));
	values[5] = TimestampTzGetDatum(last_failure_at);
	nulls[5] = last_failure_at == 0;
	values[6] = CStringGetTextDatum(last_failure);
	nulls[6] = last_failure_at == 0;
	values[7] = TimestampTzGetDatum(reset_at);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

Datum
fraud_score_stats_reset(PG_FUNCTION_ARGS)
{
	memset(&pending, 0, sizeof(pending));
	stats_reset_fields(get_stats());
	PG_RETURN_VOID();
}
