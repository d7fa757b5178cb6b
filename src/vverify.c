/*-------------------------------------------------------------------------
 *
 * vverify.c
 *		Backfill (the buckets rewritten from the source's rows) and verify
 *		(the stored buckets compared with the rows): both take the buckets
 *		that vbackfill.c computes.
 *
 * Verify holds stored buckets to what readers rely on: counts and sums
 * equal to the rows'; bounds (times, arrival, known_at) enclosing the rows';
 * extremes equal unless the slot is marked stale, then enclosing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "velocity.h"
#include "buckets.h"
#include "vbackfill.h"
#include "jsonbutil.h"

typedef struct BackfillState
{
	BucketTarget target;
	int64		buckets;
} BackfillState;

static void
insert_bucket(void *arg, int entity, const Datum *keys, int tier, int64 bucket,
			  const int64 *dense, const bool *present)
{
	BackfillState *st = arg;

	buckets_insert_row(&st->target, keys, tier, bucket, dense, present);
	st->buckets++;
}

/* Rewrites every entity's buckets; the caller holds a lock that keeps
 * writers of the source out.  Returns the rows passed. */
int64
vverify_backfill(VelocityRuntime *rt)
{
	const VelocitySet *vs = rt->set;
	int64		rows = 0;

	for (int i = 0; i < vs->num_entities; i++)
	{
		BackfillState st;

		SPI_connect();
		if (SPI_execute(psprintf("DELETE FROM %s", get_rel_name(rt->bucket_relids[i]) ?
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(rt->bucket_relids[i])),
															get_rel_name(rt->bucket_relids[i])) : "?"),
						false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not empty the buckets of entity \"%s\"", vs->entities[i].name);
		SPI_finish();
		CommandCounterIncrement();
		st.target.e = &vs->entities[i];
		st.target.rel = table_open(rt->bucket_relids[i], RowExclusiveLock);
		st.target.index = index_open(rt->bucket_indexes[i], RowExclusiveLock);
		st.target.key_eq_procs = rt->key_eq_procs[i];
		st.buckets = 0;
		rows = vbackfill_pass(rt, i, NULL, insert_bucket, &st);
		index_close(st.target.index, RowExclusiveLock);
		table_close(st.target.rel, RowExclusiveLock);
		if (rows > 0)
			ereport(NOTICE,
					(errmsg("feature set \"%s\", entity \"%s\": " INT64_FORMAT " rows in " INT64_FORMAT
							" bucket rows", vs->name, vs->entities[i].name, rows, st.buckets)));
	}
	return rows;
}

typedef struct VerifyState
{
	VelocityRuntime *rt;
	int			entity;
	Relation	buckets;
	Relation	index;
	TupleTableSlot *slot;
	HTAB	   *seen;
	Tuplestorestate *out;
	TupleDesc	out_desc;
	int64	   *stored;
	bool	   *stored_present;
	int64	   *scratch;
	bool	   *scratch_present;
	bool		summary_wrong;	/* a stripe's summary is not its slots merged */
} VerifyState;

#define SUMMARY_WRONG "the bucket's summary differs from its slots"

typedef struct SeenKey
{
	char		text[NAMEDATALEN * 4];
} SeenKey;

static char *
keys_text(VerifyState *vs, const Datum *keys)
{
	const VelocityEntity *e = &vs->rt->set->entities[vs->entity];
	StringInfoData s;

	initStringInfo(&s);
	for (int k = 0; k < e->num_keys; k++)
	{
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(e->key_types[k], &out, &varlena);
		appendStringInfo(&s, "%s%s", k > 0 ? "," : "", OidOutputFunctionCall(out, keys[k]));
	}
	return s.data;
}

static void
report(VerifyState *vs, const char *keys, int tier, int64 bucket, int slot, const char *problem)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = CStringGetTextDatum(vs->rt->set->entities[vs->entity].name);
	values[1] = CStringGetTextDatum(keys);
	values[2] = Int32GetDatum(tier);
	values[3] = Int64GetDatum(bucket);
	values[4] = Int32GetDatum(slot);
	nulls[4] = slot < 0;
	values[5] = CStringGetTextDatum(problem);
	tuplestore_putvalues(vs->out, vs->out_desc, values, nulls);
}

/* The stored stripes of (keys, tier, bucket), merged into vs->stored. */
static bool
stored_bucket(VerifyState *vs, const Datum *keys, int tier, int64 bucket)
{
	const VelocityEntity *e = &vs->rt->set->entities[vs->entity];
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			k = e->num_keys;
	IndexScanDesc scan;
	bool		any = false;

	for (int i = 0; i < k; i++)
		ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, vs->rt->key_eq_procs[vs->entity][i],
					keys[i]);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) tier));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(bucket));
	memset(vs->stored_present, 0, sizeof(bool) * e->tier_slots[tier]);
	vs->summary_wrong = false;
	scan = index_beginscan(vs->buckets, vs->index, GetActiveSnapshot(), k + 2, 0);
	index_rescan(scan, skeys, k + 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, vs->slot))
	{
		bool		isnull;
		Datum		slots = slot_getattr(vs->slot, k + BUCKET_ATT_SLOTS, &isnull);

		any = true;
		if (!buckets_summary_matches(e, tier, bucket, DatumGetByteaPP(slots)))
			vs->summary_wrong = true;
		buckets_decode(e, tier, bucket, DatumGetByteaPP(slots), vs->scratch, vs->scratch_present,
					   NULL, NULL);
		for (int s = 0; s < e->tier_slots[tier]; s++)
		{
			if (!vs->scratch_present[s])
				continue;
			if (!vs->stored_present[s])
				buckets_empty(e, vs->stored + s * e->words);
			buckets_merge(e, vs->stored + s * e->words, vs->scratch + s * e->words);
			vs->stored_present[s] = true;
		}
	}
	index_endscan(scan);
	return any;
}

/* A kept list must list exactly the slot's rows (in any order). */
static const char *
list_problem(const VelocityEntity *e, const int64 *st, const int64 *rows)
{
	const int64 *stored = st + e->list_offset;
	const int64 *actual = rows + e->list_offset;
	bool		matched[BUCKETS_LIST_ROWS] = {false};

	if (stored[0] == LIST_NONE)
		return NULL;
	if (!buckets_list_usable(e, st))
		return "a listed removal matches no listed row";
	if (actual[0] != stored[0])
		return psprintf("the slot lists %lld row%s; it has %lld",
						(long long) stored[0], stored[0] == 1 ? "" : "s", (long long) rows[W_N]);
	for (int i = 0; i < stored[0]; i++)
	{
		int			j;

		for (j = 0; j < actual[0]; j++)
			if (!matched[j] && memcmp(stored + 1 + i * e->entry_words, actual + 1 + j * e->entry_words,
									  sizeof(int64) * e->entry_words) == 0)
				break;
		if (j == actual[0])
			return "a listed row differs from the rows";
		matched[j] = true;
	}
	return NULL;
}

/* What is wrong with a stored slot given the rows' own, or NULL. */
static const char *
slot_problem(const VelocityEntity *e, const int64 *st, const int64 *rows)
{
	if (st[W_N] != rows[W_N] || st[W_NK] != rows[W_NK])
		return psprintf("stored %lld rows, %lld labeled; the rows have %lld, %lld",
						(long long) st[W_N], (long long) st[W_NK],
						(long long) rows[W_N], (long long) rows[W_NK]);
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o < 0)
			continue;
		for (int w = WC_COUNT; w <= WC_SUM_KNOWN; w++)
			if (st[o + w] != rows[o + w])
				return psprintf("a count or sum of value column %d differs", c + 1);
		if (e->column_extremes[c] && rows[o + WC_COUNT] > 0 &&
			(st[o + WC_MIN] > rows[o + WC_MIN] || st[o + WC_MAX] < rows[o + WC_MAX] ||
			 (!st[W_STALE] && (st[o + WC_MIN] != rows[o + WC_MIN] || st[o + WC_MAX] != rows[o + WC_MAX]))))
			return psprintf("the extremes of value column %d are wrong", c + 1);
	}
	if (rows[W_N] > 0 && (st[W_MIN_TIME] > rows[W_MIN_TIME] || st[W_MAX_TIME] < rows[W_MAX_TIME] ||
						  st[W_MAX_ARRIVAL] < rows[W_MAX_ARRIVAL]))
		return "the time or arrival bounds do not enclose the rows";
	if (rows[W_NK] > 0 && (st[W_MIN_KNOWN] > rows[W_MIN_KNOWN] || st[W_MAX_KNOWN] < rows[W_MAX_KNOWN]))
		return "the known_at bounds do not enclose the labeled rows";
	if (rows[W_NK] > 0 && (st[W_MIN_LTIME] > rows[W_MIN_LTIME] || st[W_MAX_LTIME] < rows[W_MAX_LTIME] ||
						   (!st[W_STALE] && (st[W_MIN_LTIME] != rows[W_MIN_LTIME] ||
											 st[W_MAX_LTIME] != rows[W_MAX_LTIME]))))
		return "the labeled rows' time extremes are wrong";
	return list_problem(e, st, rows);
}

static bool
empty_slot(const VelocityEntity *e, const int64 *p)
{
	int64	   *none = palloc(sizeof(int64) * e->words);

	buckets_empty(e, none);
	return slot_problem(e, p, none) == NULL;
}

static void
compare_bucket(void *arg, int entity, const Datum *keys, int tier, int64 bucket,
			   const int64 *dense, const bool *present)
{
	VerifyState *vs = arg;
	const VelocityEntity *e = &vs->rt->set->entities[entity];
	char	   *keys_str = keys_text(vs, keys);
	SeenKey		seen;

	memset(&seen, 0, sizeof(seen));
	snprintf(seen.text, sizeof(seen.text), "%d/" INT64_FORMAT "/%s", tier, bucket, keys_str);
	hash_search(vs->seen, &seen, HASH_ENTER, NULL);
	if (!stored_bucket(vs, keys, tier, bucket))
	{
		report(vs, keys_str, tier, bucket, -1, "the bucket is missing");
		return;
	}
	if (vs->summary_wrong)
		report(vs, keys_str, tier, bucket, -1, SUMMARY_WRONG);
	for (int s = 0; s < e->tier_slots[tier]; s++)
	{
		const char *problem = NULL;

		if (present[s] && !vs->stored_present[s])
			problem = "the slot is missing";
		else if (present[s])
			problem = slot_problem(e, vs->stored + s * e->words, dense + s * e->words);
		else if (vs->stored_present[s] && !empty_slot(e, vs->stored + s * e->words))
			problem = "the slot counts rows that do not exist";
		if (problem)
			report(vs, keys_str, tier, bucket, s, problem);
	}
}

/* Stored buckets the rows have none for must count nothing. */
static void
check_unseen(VerifyState *vs, const Datum *filter_keys)
{
	const VelocityEntity *e = &vs->rt->set->entities[vs->entity];
	ScanKeyData skeys[INDEX_MAX_KEYS];
	int			nkeys = 0;
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(vs->buckets, NULL);

	if (filter_keys != NULL)
		for (; nkeys < e->num_keys; nkeys++)
			ScanKeyInit(&skeys[nkeys], nkeys + 1, BTEqualStrategyNumber,
						vs->rt->key_eq_procs[vs->entity][nkeys], filter_keys[nkeys]);
	scan = index_beginscan(vs->buckets, vs->index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skeys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		Datum		keys[INDEX_MAX_KEYS];
		bool		isnull;
		int			tier;
		int64		bucket;
		SeenKey		seen;
		bool		found;
		char	   *keys_str;

		slot_getallattrs(slot);
		for (int k = 0; k < e->num_keys; k++)
			keys[k] = slot->tts_values[k];
		tier = DatumGetInt16(slot_getattr(slot, e->num_keys + BUCKET_ATT_TIER, &isnull));
		bucket = DatumGetInt64(slot_getattr(slot, e->num_keys + BUCKET_ATT_BUCKET, &isnull));
		if (tier < 0 || tier >= e->num_tiers)
		{
			report(vs, keys_text(vs, keys), tier, bucket, -1, "the tier does not exist");
			continue;
		}
		keys_str = keys_text(vs, keys);
		memset(&seen, 0, sizeof(seen));
		snprintf(seen.text, sizeof(seen.text), "%d/" INT64_FORMAT "/%s", tier, bucket, keys_str);
		hash_search(vs->seen, &seen, HASH_ENTER, &found);
		if (found)
			continue;
		stored_bucket(vs, keys, tier, bucket);
		if (vs->summary_wrong)
			report(vs, keys_str, tier, bucket, -1, SUMMARY_WRONG);
		for (int s = 0; s < e->tier_slots[tier]; s++)
			if (vs->stored_present[s] && !empty_slot(e, vs->stored + s * e->words))
				report(vs, keys_str, tier, bucket, s, "the slot counts rows that do not exist");
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/* The keys of entity "entity" in a filter document, or NULL if it has not
 * all of them. */
static Datum *
filter_keys_of(VelocityRuntime *rt, int entity, Jsonb *filter)
{
	const VelocityEntity *e = &rt->set->entities[entity];
	Datum	   *keys = palloc(sizeof(Datum) * e->num_keys);

	for (int k = 0; k < e->num_keys; k++)
	{
		JsonbValue *v = jsonb_member(&filter->root, e->key_names[k]);
		char	   *text;

		if (v == NULL || v->type == jbvNull || v->type == jbvBinary)
			return NULL;
		text = v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) :
			v->type == jbvNumeric ?
			DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))) :
			pstrdup(v->val.boolean ? "true" : "false");
		keys[k] = OidInputFunctionCall(rt->key_input[entity][k], text, rt->key_ioparam[entity][k], -1);
	}
	return keys;
}

/*
 * Every difference between the stored buckets and the source's rows, of
 * the entities whose keys "filter" gives all of (every entity's, every
 * key, when it is NULL), into "out".
 */
void
vverify_compare(VelocityRuntime *rt, Jsonb *filter, Tuplestorestate *out, TupleDesc out_desc)
{
	const VelocitySet *set = rt->set;

	for (int i = 0; i < set->num_entities; i++)
	{
		const VelocityEntity *e = &set->entities[i];
		VerifyState vs;
		HASHCTL		ctl;
		Datum	   *filter_keys = filter ? filter_keys_of(rt, i, filter) : NULL;
		int			max_slots = 0;

		if (filter != NULL && filter_keys == NULL)
			continue;
		for (int t = 0; t < e->num_tiers; t++)
			max_slots = Max(max_slots, e->tier_slots[t]);
		memset(&vs, 0, sizeof(vs));
		vs.rt = rt;
		vs.entity = i;
		vs.out = out;
		vs.out_desc = out_desc;
		vs.buckets = table_open(rt->bucket_relids[i], AccessShareLock);
		vs.index = index_open(rt->bucket_indexes[i], AccessShareLock);
		vs.slot = table_slot_create(vs.buckets, NULL);
		vs.stored = palloc(sizeof(int64) * max_slots * e->words);
		vs.stored_present = palloc(sizeof(bool) * max_slots);
		vs.scratch = palloc(sizeof(int64) * max_slots * e->words);
		vs.scratch_present = palloc(sizeof(bool) * max_slots);
		ctl.keysize = sizeof(SeenKey);
		ctl.entrysize = sizeof(SeenKey);
		ctl.hcxt = CurrentMemoryContext;
		vs.seen = hash_create("fraud_score verified buckets", 1024, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		vbackfill_pass(rt, i, filter_keys, compare_bucket, &vs);
		check_unseen(&vs, filter_keys);
		hash_destroy(vs.seen);
		ExecDropSingleTupleTableSlot(vs.slot);
		index_close(vs.index, AccessShareLock);
		table_close(vs.buckets, AccessShareLock);
	}
}
