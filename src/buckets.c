/*-------------------------------------------------------------------------
 *
 * buckets.c
 *		The bucket tables of declared feature sets: the slot payload (sparse
 *		slots of 8-byte words), and applying one row's change to the stripe
 *		rows of a (keys, tier, bucket) without ever waiting on another
 *		writer (docs/velocity-design.md, "Storage").
 *
 * A stripe row is found with the transaction's snapshot after
 * CommandCounterIncrement, locked without waiting (heap_lock_tuple with
 * LockWaitSkip) and updated: a compare-and-swap on the version found; when
 * every stripe is held or replaced by somebody else, a new stripe row is
 * inserted.  Under READ COMMITTED a stripe replaced by a committed writer
 * is looked up again, and a bucket of many stripes has one folded into the
 * stripe written, so that stripes stay about as many as the writers.
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
#include "access/nbtree.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "pgstat.h"
#include "storage/backendid.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "velocity.h"
#include "buckets.h"
#include "vcache.h"

static unsigned char classify_word(const VelocityEntity *e, int w);

/* Words of a slot's payload for an entity (W_* then WC_* per summed column),
 * each word's encoding kind noted for the decoder's inner loop. */
int
buckets_payload_words(const VelocitySet *vs, VelocityEntity *e)
{
	int			words = W_FIRST_COLUMN;

	e->column_offsets = palloc(sizeof(int) * Max(vs->num_columns, 1));
	for (int c = 0; c < vs->num_columns; c++)
	{
		e->column_offsets[c] = -1;
		if (!e->column_used[c])
			continue;
		e->column_offsets[c] = words;
		words += e->column_extremes[c] ? 6 : 4;
	}
	e->word_kinds = palloc(words);
	for (int w = 0; w < words; w++)
		e->word_kinds[w] = classify_word(e, w);
	e->list_offset = words;
	e->entry_words = E_FIRST_VALUE;
	for (int c = 0; c < vs->num_columns; c++)
		e->entry_words += e->column_used[c] ? 1 : 0;
	return words + 1 + BUCKETS_LIST_ROWS * e->entry_words;
}

/* A payload with no rows: empty bounds, so that merging widens from it. */
void
buckets_empty(const VelocityEntity *e, int64 *p)
{
	memset(p, 0, sizeof(int64) * e->words);
	p[W_MIN_TIME] = p[W_MIN_KNOWN] = p[W_MIN_LTIME] = PG_INT64_MAX;
	p[W_MAX_TIME] = p[W_MAX_ARRIVAL] = p[W_MAX_KNOWN] = p[W_MAX_LTIME] = PG_INT64_MIN;
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o >= 0 && e->column_extremes[c])
		{
			p[o + WC_MIN] = PG_INT64_MAX;
			p[o + WC_MAX] = PG_INT64_MIN;
		}
	}
}

static int64
checked_add(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("a bucket sum of a declared feature set is out of range"),
				 errdetail("Sums are kept as 64-bit integers in units of the column's scale.")));
	return r;
}

/* Whether two entries are one row's addition and its removal. */
static bool
entries_cancel(const VelocityEntity *e, const int64 *a, const int64 *b)
{
	if ((a[E_FLAGS] ^ b[E_FLAGS]) != E_REMOVAL)
		return false;
	for (int w = E_TIME; w < e->entry_words; w++)
		if (a[w] != b[w])
			return false;
	return true;
}

/* Appends an entry, or cancels it against its counterpart. */
static void
list_add(const VelocityEntity *e, int64 *list, const int64 *entry)
{
	int			ew = e->entry_words;
	int			n = (int) list[0];

	if (n == LIST_NONE)
		return;
	for (int i = 0; i < n; i++)
		if (entries_cancel(e, list + 1 + i * ew, entry))
		{
			if (i != n - 1)
				memcpy(list + 1 + i * ew, list + 1 + (n - 1) * ew, sizeof(int64) * ew);
			list[0] = n - 1;
			return;
		}
	if (n == BUCKETS_LIST_ROWS)
	{
		list[0] = LIST_NONE;
		return;
	}
	memcpy(list + 1 + n * ew, entry, sizeof(int64) * ew);
	list[0] = n + 1;
}

static void
list_merge(const VelocityEntity *e, int64 *into, const int64 *from)
{
	int64	   *list = into + e->list_offset;
	const int64 *other = from + e->list_offset;

	if (other[0] == LIST_NONE)
		list[0] = LIST_NONE;
	for (int i = 0; i < other[0] && list[0] != LIST_NONE; i++)
		list_add(e, list, other + 1 + i * e->entry_words);
}

/* One row as an entry of a list. */
static void
row_entry(const VelocityEntity *e, const VelocityRowValues *row, int sign, int64 *entry)
{
	int			j = 0;

	memset(entry, 0, sizeof(int64) * e->entry_words);
	entry[E_FLAGS] = sign < 0 ? E_REMOVAL : 0;
	entry[E_TIME] = row->time;
	entry[E_ARRIVAL] = row->arrival;
	if (row->known_valid)
	{
		entry[E_FLAGS] |= E_KNOWN;
		entry[E_KNOWN_AT] = row->known;
	}
	for (int c = 0; c < e->num_columns; c++)
	{
		if (!e->column_used[c])
			continue;
		if (row->value_valid[c])
		{
			entry[E_FLAGS] |= (int64) E_VALUE << j;
			entry[E_FIRST_VALUE + j] = row->value[c];
		}
		j++;
	}
}

static void
list_add_row(const VelocityEntity *e, int64 *p, const VelocityRowValues *row, int sign)
{
	int64		entry[E_FIRST_VALUE + VELOCITY_MAX_COLUMNS];

	row_entry(e, row, sign, entry);
	list_add(e, p + e->list_offset, entry);
}

/* Whether a slot's list gives its rows: kept, and every removal matched. */
bool
buckets_list_usable(const VelocityEntity *e, const int64 *p)
{
	const int64 *list = p + e->list_offset;

	if (list[0] == LIST_NONE)
		return false;
	for (int i = 0; i < list[0]; i++)
		if (list[1 + i * e->entry_words + E_FLAGS] & E_REMOVAL)
			return false;
	return true;
}

/* A listed row's values; "row" has arrays for the set's columns. */
void
buckets_list_row(const VelocityEntity *e, const int64 *entry, VelocityRowValues *row)
{
	int			j = 0;

	row->time = entry[E_TIME];
	row->arrival = entry[E_ARRIVAL];
	row->known_valid = (entry[E_FLAGS] & E_KNOWN) != 0;
	row->known = entry[E_KNOWN_AT];
	for (int c = 0; c < e->num_columns; c++)
	{
		row->value_valid[c] = false;
		if (!e->column_used[c])
			continue;
		row->value_valid[c] = (entry[E_FLAGS] & ((int64) E_VALUE << j)) != 0;
		row->value[c] = entry[E_FIRST_VALUE + j];
		j++;
	}
}

/* The words of "from" merged into "into", its list aside. */
static void
merge_words(const VelocityEntity *e, int64 *into, const int64 *from)
{
	into[W_N] = checked_add(into[W_N], from[W_N]);
	into[W_NK] = checked_add(into[W_NK], from[W_NK]);
	into[W_MIN_TIME] = Min(into[W_MIN_TIME], from[W_MIN_TIME]);
	into[W_MAX_TIME] = Max(into[W_MAX_TIME], from[W_MAX_TIME]);
	into[W_MAX_ARRIVAL] = Max(into[W_MAX_ARRIVAL], from[W_MAX_ARRIVAL]);
	into[W_MIN_KNOWN] = Min(into[W_MIN_KNOWN], from[W_MIN_KNOWN]);
	into[W_MAX_KNOWN] = Max(into[W_MAX_KNOWN], from[W_MAX_KNOWN]);
	into[W_MIN_LTIME] = Min(into[W_MIN_LTIME], from[W_MIN_LTIME]);
	into[W_MAX_LTIME] = Max(into[W_MAX_LTIME], from[W_MAX_LTIME]);
	into[W_STALE] |= from[W_STALE];
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o < 0)
			continue;
		for (int w = WC_COUNT; w <= WC_SUM_KNOWN; w++)
			into[o + w] = checked_add(into[o + w], from[o + w]);
		if (e->column_extremes[c])
		{
			into[o + WC_MIN] = Min(into[o + WC_MIN], from[o + WC_MIN]);
			into[o + WC_MAX] = Max(into[o + WC_MAX], from[o + WC_MAX]);
		}
	}
}

void
buckets_merge(const VelocityEntity *e, int64 *into, const int64 *from)
{
	merge_words(e, into, from);
	list_merge(e, into, from);
}

/*
 * A source row's contribution (sign 1) or its removal (sign -1).  A removal
 * subtracts the counts and sums but cannot narrow bounds or extremes: it
 * leaves them as they were and marks the slot stale instead.
 */
void
buckets_row_payload(const VelocityEntity *e, const VelocityRowValues *row, int sign,
					int64 *p)
{
	buckets_empty(e, p);
	p[W_N] = sign;
	if (sign > 0)
	{
		p[W_MIN_TIME] = p[W_MAX_TIME] = row->time;
		p[W_MAX_ARRIVAL] = row->arrival;
	}
	else
		p[W_STALE] = 1;
	if (row->known_valid)
	{
		p[W_NK] = sign;
		if (sign > 0)
		{
			p[W_MIN_KNOWN] = p[W_MAX_KNOWN] = row->known;
			p[W_MIN_LTIME] = p[W_MAX_LTIME] = row->time;
		}
	}
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o < 0 || !row->value_valid[c])
			continue;
		p[o + WC_COUNT] = sign;
		p[o + WC_SUM] = sign * row->value[c];
		if (row->known_valid)
		{
			p[o + WC_COUNT_KNOWN] = sign;
			p[o + WC_SUM_KNOWN] = sign * row->value[c];
		}
		if (e->column_extremes[c] && sign > 0)
			p[o + WC_MIN] = p[o + WC_MAX] = row->value[c];
	}
	list_add_row(e, p, row, sign);
}

/*
 * The change of an update that kept the row's time, arrival and values and
 * changed only its known_at (a label arriving): false if it changed more.
 * A label set or moved only widens bounds; one taken away marks the slot
 * stale, as its labeled rows' extremes may now be too wide.
 */
bool
buckets_label_delta(const VelocityEntity *e, const VelocityRowValues *o,
					const VelocityRowValues *n, int64 *p)
{
	if (o->time != n->time || o->arrival != n->arrival)
		return false;
	for (int c = 0; c < e->num_columns; c++)
		if (e->column_offsets[c] >= 0 &&
			(o->value_valid[c] != n->value_valid[c] ||
			 (o->value_valid[c] && o->value[c] != n->value[c])))
			return false;
	buckets_empty(e, p);
	if (o->known_valid == n->known_valid && (!o->known_valid || o->known == n->known))
		return true;
	/* the listed row replaced by its new version */
	list_add_row(e, p, o, -1);
	list_add_row(e, p, n, 1);
	if (o->known_valid && !n->known_valid)
	{
		p[W_NK] = -1;
		p[W_STALE] = 1;
		for (int c = 0; c < e->num_columns; c++)
		{
			int			off = e->column_offsets[c];

			if (off >= 0 && o->value_valid[c])
			{
				p[off + WC_COUNT_KNOWN] = -1;
				p[off + WC_SUM_KNOWN] = -o->value[c];
			}
		}
		return true;
	}
	p[W_MIN_KNOWN] = p[W_MAX_KNOWN] = n->known;
	if (o->known_valid)
		return true;
	p[W_NK] = 1;
	p[W_MIN_LTIME] = p[W_MAX_LTIME] = n->time;
	for (int c = 0; c < e->num_columns; c++)
	{
		int			off = e->column_offsets[c];

		if (off >= 0 && n->value_valid[c])
		{
			p[off + WC_COUNT_KNOWN] = 1;
			p[off + WC_SUM_KNOWN] = n->value[c];
		}
	}
	return true;
}

int64
buckets_floor_div(int64 a, int64 b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/*
 * The stored form of a row's slots: for each slot that has an entry, in
 * order, the distance from the previous one, then its words as variable
 * length integers (7 bits a byte).  Times and known_at are offsets from the
 * slot's start, arrivals from the previous slot's, bounds and extremes with
 * 0 for "none"; counts and sums as they are.  A card's slot with one row
 * takes about 25 bytes instead of 8 per word.
 */
typedef enum WordKind
{
	WORD_PLAIN,					/* counts, sums, stale */
	WORD_TIME_MIN,				/* times and known_at: from the slot's start */
	WORD_TIME_MAX,
	WORD_ARRIVAL,				/* from the previous slot's */
	WORD_VALUE_MIN,				/* column extremes */
	WORD_VALUE_MAX
} WordKind;

static unsigned char
classify_word(const VelocityEntity *e, int w)
{
	switch (w)
	{
		case W_MIN_TIME:
		case W_MIN_KNOWN:
		case W_MIN_LTIME:
			return WORD_TIME_MIN;
		case W_MAX_TIME:
		case W_MAX_KNOWN:
		case W_MAX_LTIME:
			return WORD_TIME_MAX;
		case W_MAX_ARRIVAL:
			return WORD_ARRIVAL;
	}
	for (int c = 0; c < e->num_columns; c++)
	{
		int			o = e->column_offsets[c];

		if (o >= 0 && e->column_extremes[c] && w == o + WC_MIN)
			return WORD_VALUE_MIN;
		if (o >= 0 && e->column_extremes[c] && w == o + WC_MAX)
			return WORD_VALUE_MAX;
	}
	return WORD_PLAIN;
}

static inline WordKind
word_kind(const VelocityEntity *e, int w)
{
	return (WordKind) e->word_kinds[w];
}

static uint64
zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static int64
unzigzag(uint64 u)
{
	return (int64) (u >> 1) ^ -(int64) (u & 1);
}

/* A word as the unsigned integer stored, relative to its references. */
static uint64
word_code(WordKind kind, int64 v, int64 slot_start, int64 prev_arrival)
{
	switch (kind)
	{
		case WORD_PLAIN:
			return zigzag(v);
		case WORD_TIME_MIN:
		case WORD_VALUE_MIN:
			if (v == PG_INT64_MAX)
				return 0;
			break;
		case WORD_TIME_MAX:
		case WORD_VALUE_MAX:
		case WORD_ARRIVAL:
			if (v == PG_INT64_MIN)
				return 0;
			break;
	}
	if (kind == WORD_TIME_MIN || kind == WORD_TIME_MAX)
		return zigzag((int64) ((uint64) v - (uint64) slot_start)) + 1;
	if (kind == WORD_ARRIVAL)
		return zigzag((int64) ((uint64) v - (uint64) prev_arrival)) + 1;
	return zigzag(v) + 1;
}

static int64
word_value(WordKind kind, uint64 code, int64 slot_start, int64 prev_arrival)
{
	if (kind == WORD_PLAIN)
		return unzigzag(code);
	if (code == 0)
		return kind == WORD_TIME_MIN || kind == WORD_VALUE_MIN ? PG_INT64_MAX : PG_INT64_MIN;
	if (kind == WORD_TIME_MIN || kind == WORD_TIME_MAX)
		return (int64) ((uint64) unzigzag(code - 1) + (uint64) slot_start);
	if (kind == WORD_ARRIVAL)
		return (int64) ((uint64) unzigzag(code - 1) + (uint64) prev_arrival);
	return unzigzag(code - 1);
}

/*
 * Rows written with lists and a summary begin with a two-byte mark, a
 * non-canonical varint 1 that the earlier format (a slot distance first)
 * never wrote; rows without it are read as keeping neither.  The summary,
 * every slot's words merged, follows the mark: a reader whose windows
 * cover the whole bucket adds it without decoding the slots.
 */
#define FORMAT_MARK_0 0x81
#define FORMAT_MARK_1 0x00

static void
put_varint(StringInfo out, uint64 v)
{
	while (v >= 0x80)
	{
		appendStringInfoChar(out, (char) (v | 0x80));
		v >>= 7;
	}
	appendStringInfoChar(out, (char) v);
}

static pg_noinline void
corrupt_slots(const VelocityEntity *e, int tier, int64 bucket, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("bucket row of entity \"%s\" (tier %d, bucket " INT64_FORMAT ") is corrupt: %s",
					e->name, tier, bucket, what),
			 errhint("Rebuild the buckets with fraud_feature_set_backfill.")));
}

static uint64
get_long_varint(const VelocityEntity *e, int tier, int64 bucket, const unsigned char **p,
				const unsigned char *end)
{
	uint64		v = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		if (*p >= end)
			corrupt_slots(e, tier, bucket, "it ends inside a number");
		v |= (uint64) (**p & 0x7f) << shift;
		if ((*(*p)++ & 0x80) == 0)
			return v;
	}
	corrupt_slots(e, tier, bucket, "a number is longer than 64 bits");
	return 0;
}

/*
 * Most words (counts, empty bounds, small offsets) take one byte; times
 * take up to 6.  Away from the row's end no byte needs a bounds check.
 */
static inline uint64
get_varint(const VelocityEntity *e, int tier, int64 bucket, const unsigned char **p,
		   const unsigned char *end)
{
	const unsigned char *q = *p;

	if (likely(q < end && (*q & 0x80) == 0))
	{
		*p = q + 1;
		return *q;
	}
	if (likely(end - q >= 10))
	{
		uint64		v = 0;

		for (int i = 0; i < 10; i++)
		{
			v |= (uint64) (q[i] & 0x7f) << (7 * i);
			if ((q[i] & 0x80) == 0)
			{
				*p = q + i + 1;
				return v;
			}
		}
	}
	return get_long_varint(e, tier, bucket, p, end);
}

static int
varint_bytes(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * The most bytes one slot of a tier can take: times are within the slot, so
 * their offsets are bounded by its width; counts stay under 2^35; sums,
 * arrivals, known_at offsets and extremes may take all 10 bytes.
 */
int
buckets_slot_bytes_bound(const VelocityEntity *e, int tier)
{
	int64		slot_width = e->tier_width[tier] / e->tier_slots[tier];
	int			bytes = 3;		/* the slot's distance, an empty list's mark */

	for (int w = 0; w < e->list_offset; w++)
	{
		WordKind	kind = word_kind(e, w);

		if ((kind == WORD_TIME_MIN || kind == WORD_TIME_MAX) && w != W_MIN_KNOWN && w != W_MAX_KNOWN)
			bytes += varint_bytes(zigzag(slot_width) + 1);
		else if (kind == WORD_PLAIN && (w < W_FIRST_COLUMN ||
										(w - W_FIRST_COLUMN) % 2 == 0))
			bytes += 5;			/* a count, or stale */
		else
			bytes += 10;
	}
	return bytes;
}

/*
 * A slot's list after its words: 0 when none is kept, else 1 + the number
 * of entries, then each entry's flags, its time from the slot's start, its
 * arrival from the previous entry's (the first from the slot's latest), its
 * known_at from its time and its values, after their length in bytes (so
 * that a reader skips lists it does not need).  A list longer than the tier's
 * budget is stored as none, so that a full bucket row still fits its page.
 */
static void
put_list(const VelocityEntity *e, int tier, StringInfo out, const int64 *words, int64 start)
{
	const int64 *list = words + e->list_offset;
	int			mark = out->len;
	int64		prev_arrival = words[W_MAX_ARRIVAL];
	StringInfoData entries;

	if (list[0] == LIST_NONE || e->list_budget[tier] == 0)
	{
		appendStringInfoChar(out, 0);
		return;
	}
	put_varint(out, (uint64) list[0] + 1);
	initStringInfo(&entries);
	for (int i = 0; i < list[0]; i++)
	{
		const int64 *entry = list + 1 + i * e->entry_words;

		put_varint(&entries, (uint64) entry[E_FLAGS]);
		put_varint(&entries, zigzag((int64) ((uint64) entry[E_TIME] - (uint64) start)));
		put_varint(&entries, zigzag((int64) ((uint64) entry[E_ARRIVAL] - (uint64) prev_arrival)));
		prev_arrival = entry[E_ARRIVAL];
		if (entry[E_FLAGS] & E_KNOWN)
			put_varint(&entries, zigzag((int64) ((uint64) entry[E_KNOWN_AT] - (uint64) entry[E_TIME])));
		for (int j = 0; E_FIRST_VALUE + j < e->entry_words; j++)
			if (entry[E_FLAGS] & ((int64) E_VALUE << j))
				put_varint(&entries, zigzag(entry[E_FIRST_VALUE + j]));
	}
	put_varint(out, (uint64) entries.len);
	appendBinaryStringInfo(out, entries.data, entries.len);
	pfree(entries.data);
	if (out->len - mark > e->list_budget[tier])
	{
		out->len = mark;
		out->data[out->len] = '\0';
		appendStringInfoChar(out, 0);
	}
}

static void
get_list(const VelocityEntity *e, int tier, int64 bucket, const unsigned char **p,
		 const unsigned char *end, int64 *words, int64 start, bool wanted)
{
	int64	   *list = words + e->list_offset;
	uint64		code = get_varint(e, tier, bucket, p, end);
	uint64		bytes;
	int64		prev_arrival = words[W_MAX_ARRIVAL];

	if (code == 0)
	{
		list[0] = LIST_NONE;
		return;
	}
	if (code - 1 > BUCKETS_LIST_ROWS)
		corrupt_slots(e, tier, bucket, "a slot lists too many rows");
	bytes = get_varint(e, tier, bucket, p, end);
	if (bytes > (uint64) (end - *p))
		corrupt_slots(e, tier, bucket, "a list ends past the row");
	if (!wanted)
	{
		*p += bytes;
		list[0] = LIST_NONE;	/* not read: as if none were kept */
		return;
	}
	list[0] = (int64) code - 1;
	for (int i = 0; i < list[0]; i++)
	{
		int64	   *entry = list + 1 + i * e->entry_words;
		uint64		flags = get_varint(e, tier, bucket, p, end);

		if (flags >= ((uint64) E_VALUE << (e->entry_words - E_FIRST_VALUE)))
			corrupt_slots(e, tier, bucket, "a listed row has unknown flags");
		memset(entry, 0, sizeof(int64) * e->entry_words);
		entry[E_FLAGS] = (int64) flags;
		entry[E_TIME] = (int64) ((uint64) unzigzag(get_varint(e, tier, bucket, p, end)) +
								 (uint64) start);
		entry[E_ARRIVAL] = (int64) ((uint64) unzigzag(get_varint(e, tier, bucket, p, end)) +
									(uint64) prev_arrival);
		prev_arrival = entry[E_ARRIVAL];
		if (flags & E_KNOWN)
			entry[E_KNOWN_AT] = (int64) ((uint64) unzigzag(get_varint(e, tier, bucket, p, end)) +
										 (uint64) entry[E_TIME]);
		for (int j = 0; E_FIRST_VALUE + j < e->entry_words; j++)
			if (flags & ((uint64) E_VALUE << j))
				entry[E_FIRST_VALUE + j] = unzigzag(get_varint(e, tier, bucket, p, end));
	}
}

/*
 * Whether a reader may need a slot's rows: the slot is one it asked for (an
 * edge of a window), or its words cannot answer for it (vread.c's
 * slot_answers, less the time bounds).
 */
static bool
list_wanted(const VelocityEntity *e, const int64 *words, int slot, const ListFilter *filter)
{
	if (filter == NULL || filter->wanted[slot] || words[W_MAX_ARRIVAL] >= filter->arrival)
		return true;
	if (e->needs_labels && words[W_NK] != 0 && words[W_MAX_KNOWN] > filter->t &&
		words[W_MIN_KNOWN] <= filter->t)
		return true;
	return e->needs_extremes && words[W_STALE] != 0;
}

/* The most bytes a bucket row's summary can take. */
int
buckets_summary_bytes_bound(const VelocityEntity *e)
{
	return 10 * e->list_offset;
}

/* The slots of a row as a dense array of slots * words words, with
 * "present" marking the slots that have an entry; with a filter, only the
 * slots within [from, t], and lists only as it wants them. */
bool
buckets_decode(const VelocityEntity *e, int tier, int64 bucket, bytea *slots, int64 *dense,
			   bool *present, const ListFilter *filter, int64 *summary)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(slots);
	const unsigned char *end = p + VARSIZE_ANY_EXHDR(slots);
	int			num_slots = e->tier_slots[tier];
	int64		slot_width = e->tier_width[tier] / num_slots;
	int64		slot = -1;
	int64		prev_arrival = 0;

	bool		lists = end - p >= 2 && p[0] == FORMAT_MARK_0 && p[1] == FORMAT_MARK_1;

	memset(present, 0, sizeof(bool) * num_slots);
	if (lists)
	{
		int64		bucket_start = bucket * e->tier_width[tier];

		p += 2;
		for (int w = 0; w < e->list_offset; w++)
		{
			int64		v = word_value(word_kind(e, w), get_varint(e, tier, bucket, &p, end),
									   bucket_start, 0);

			if (summary != NULL)
				summary[w] = v;
		}
		if (summary != NULL)
			summary[e->list_offset] = LIST_NONE;
		if (filter != NULL && filter->summary_only)
			return true;
	}
	while (p < end)
	{
		uint64		gap = get_varint(e, tier, bucket, &p, end);
		int64	   *words;
		int64		start;

		if (gap >= (uint64) (num_slots - slot - 1))
			corrupt_slots(e, tier, bucket, "a slot is out of range");
		slot += (int64) gap + 1;
		words = dense + slot * e->words;
		start = bucket * e->tier_width[tier] + slot * slot_width;
		if (filter != NULL && start > filter->t)
			break;				/* no read counts rows after t */
		if (filter != NULL && start + slot_width - 1 < filter->from)
		{
			/* before every window: passed over, its latest arrival kept */
			for (int w = 0; w < e->list_offset; w++)
			{
				uint64		code = get_varint(e, tier, bucket, &p, end);

				if (w == W_MAX_ARRIVAL)
					words[w] = word_value(WORD_ARRIVAL, code, start, prev_arrival);
			}
			if (lists)
				get_list(e, tier, bucket, &p, end, words, start, false);
			if (words[W_MAX_ARRIVAL] != PG_INT64_MIN)
				prev_arrival = words[W_MAX_ARRIVAL];
			continue;
		}
		for (int w = 0; w < e->list_offset; w++)
			words[w] = word_value(word_kind(e, w), get_varint(e, tier, bucket, &p, end), start,
								  prev_arrival);
		if (lists)
			get_list(e, tier, bucket, &p, end, words, start,
					 list_wanted(e, words, (int) slot, filter));
		else
			words[e->list_offset] = LIST_NONE;
		if (words[W_MAX_ARRIVAL] != PG_INT64_MIN)
			prev_arrival = words[W_MAX_ARRIVAL];
		present[slot] = true;
	}
	return lists;
}

/*
 * A row decoded whole, its lists with it, compactly: what a copy of a bucket
 * row keeps (vcache.c), so that a read of it decodes nothing.
 */
#define DECODED_AT(d, at, type) ((type *) ((char *) (d) + (d)->at))

BucketsDecoded *
buckets_decode_all(const VelocityEntity *e, int tier, int64 bucket, bytea *slots)
{
	int			n = e->tier_slots[tier];
	int64	   *dense = palloc(sizeof(int64) * n * e->words);
	bool	   *present = palloc(sizeof(bool) * n);
	int64	   *summary = palloc(sizeof(int64) * e->words);
	bool		lists = buckets_decode(e, tier, bucket, slots, dense, present, NULL, summary);
	int			num_slots = 0;
	int			used = 0;
	int			summary_words = lists ? e->list_offset + 1 : 0;
	BucketsDecoded *d;
	int64	   *words;
	int32	   *offset;
	int16	   *slot;

	for (int s = 0; s < n; s++)
	{
		const int64 *list = dense + s * e->words + e->list_offset;

		if (!present[s])
			continue;
		num_slots++;
		used += e->list_offset + 1 + (list[0] > 0 ? (int) list[0] * e->entry_words : 0);
	}
	d = palloc(MAXALIGN(sizeof(BucketsDecoded)) + sizeof(int64) * (used + summary_words) +
			   MAXALIGN(sizeof(int32) * (num_slots + 1)) + sizeof(int16) * num_slots);
	d->lists = lists;
	d->num_slots = num_slots;
	d->words_at = MAXALIGN(sizeof(BucketsDecoded));
	d->summary_at = d->words_at + sizeof(int64) * used;
	d->offset_at = d->summary_at + sizeof(int64) * summary_words;
	d->slot_at = d->offset_at + MAXALIGN(sizeof(int32) * (num_slots + 1));
	d->bytes = d->slot_at + sizeof(int16) * num_slots;
	words = DECODED_AT(d, words_at, int64);
	offset = DECODED_AT(d, offset_at, int32);
	slot = DECODED_AT(d, slot_at, int16);
	num_slots = 0;
	used = 0;
	for (int s = 0; s < n; s++)
	{
		const int64 *from = dense + s * e->words;
		int			len;

		if (!present[s])
			continue;
		len = e->list_offset + 1 +
			(from[e->list_offset] > 0 ? (int) from[e->list_offset] * e->entry_words : 0);
		slot[num_slots] = (int16) s;
		offset[num_slots++] = used;
		memcpy(words + used, from, sizeof(int64) * len);
		used += len;
	}
	offset[num_slots] = used;
	if (lists)
		memcpy(DECODED_AT(d, summary_at, int64), summary, sizeof(int64) * summary_words);
	pfree(dense);
	pfree(present);
	pfree(summary);
	return d;
}

/*
 * What buckets_decode returns for the row a BucketsDecoded holds, with the
 * same filter: the same words in the same places (slots before "from" only
 * their latest arrival, lists only as the filter wants them).
 */
bool
buckets_decode_from(const VelocityEntity *e, int tier, int64 bucket, const BucketsDecoded *d,
					int64 *dense, bool *present, const ListFilter *filter, int64 *summary)
{
	int64		slot_width = e->tier_width[tier] / e->tier_slots[tier];
	const int64 *words_of = DECODED_AT(d, words_at, const int64);
	const int32 *offset = DECODED_AT(d, offset_at, const int32);
	const int16 *slot_of = DECODED_AT(d, slot_at, const int16);

	memset(present, 0, sizeof(bool) * e->tier_slots[tier]);
	if (d->lists)
	{
		if (summary != NULL)
			memcpy(summary, DECODED_AT(d, summary_at, const int64),
				   sizeof(int64) * (e->list_offset + 1));
		if (filter != NULL && filter->summary_only)
			return true;
	}
	for (int i = 0; i < d->num_slots; i++)
	{
		int			slot = slot_of[i];
		const int64 *from = words_of + offset[i];
		int64	   *words = dense + slot * e->words;
		int64		start = bucket * e->tier_width[tier] + slot * slot_width;

		if (filter != NULL && start > filter->t)
			break;
		if (filter != NULL && start + slot_width - 1 < filter->from)
		{
			words[W_MAX_ARRIVAL] = from[W_MAX_ARRIVAL];
			if (d->lists)
				words[e->list_offset] = LIST_NONE;
			continue;
		}
		memcpy(words, from, sizeof(int64) * e->list_offset);
		if (d->lists && from[e->list_offset] != LIST_NONE &&
			list_wanted(e, words, slot, filter))
			memcpy(words + e->list_offset, from + e->list_offset,
				   sizeof(int64) * (offset[i + 1] - offset[i] - e->list_offset));
		else
			words[e->list_offset] = LIST_NONE;
		present[slot] = true;
	}
	return d->lists;
}

/* Whether a stored row's summary is its slots' words merged (true for a
 * row without one). */
bool
buckets_summary_matches(const VelocityEntity *e, int tier, int64 bucket, bytea *slots)
{
	int			n = e->tier_slots[tier];
	int64	   *dense = palloc(sizeof(int64) * n * e->words);
	bool	   *present = palloc(sizeof(bool) * n);
	int64	   *stored = palloc(sizeof(int64) * e->words);
	int64	   *merged = palloc(sizeof(int64) * e->words);

	if (!buckets_decode(e, tier, bucket, slots, dense, present, NULL, stored))
		return true;
	buckets_empty(e, merged);
	for (int s = 0; s < n; s++)
		if (present[s])
			merge_words(e, merged, dense + s * e->words);
	return memcmp(stored, merged, sizeof(int64) * e->list_offset) == 0;
}

static void
put_summary(const VelocityEntity *e, int tier, int64 bucket, StringInfo out, const int64 *summary)
{
	appendStringInfoChar(out, (char) FORMAT_MARK_0);
	appendStringInfoChar(out, (char) FORMAT_MARK_1);
	for (int w = 0; w < e->list_offset; w++)
		put_varint(out, word_code(word_kind(e, w), summary[w], bucket * e->tier_width[tier], 0));
}

/* The present slots from "from" on, after a slot prev_slot whose latest
 * arrival was prev_arrival. */
static void
put_slots(const VelocityEntity *e, int tier, int64 bucket, StringInfo out, const int64 *dense,
		  const bool *present, int64 from, int64 prev_slot, int64 prev_arrival)
{
	int64		slot_width = e->tier_width[tier] / e->tier_slots[tier];

	for (int64 s = from; s < e->tier_slots[tier]; s++)
	{
		const int64 *words = dense + s * e->words;
		int64		start = bucket * e->tier_width[tier] + s * slot_width;

		if (!present[s])
			continue;
		put_varint(out, (uint64) (s - prev_slot - 1));
		prev_slot = s;
		for (int w = 0; w < e->list_offset; w++)
			put_varint(out, word_code(word_kind(e, w), words[w], start, prev_arrival));
		put_list(e, tier, out, words, start);
		if (words[W_MAX_ARRIVAL] != PG_INT64_MIN)
			prev_arrival = words[W_MAX_ARRIVAL];
	}
}

static bytea *
bytea_from(StringInfo out)
{
	bytea	   *result = palloc(VARHDRSZ + out->len);

	SET_VARSIZE(result, VARHDRSZ + out->len);
	memcpy(VARDATA(result), out->data, out->len);
	pfree(out->data);
	return result;
}

bytea *
buckets_encode(const VelocityEntity *e, int tier, int64 bucket, const int64 *dense,
			   const bool *present)
{
	StringInfoData out;
	int64	   *summary = palloc(sizeof(int64) * e->words);

	buckets_empty(e, summary);
	for (int64 s = 0; s < e->tier_slots[tier]; s++)
		if (present[s])
			merge_words(e, summary, dense + s * e->words);
	initStringInfo(&out);
	put_summary(e, tier, bucket, &out, summary);
	pfree(summary);
	put_slots(e, tier, bucket, &out, dense, present, 0, -1, 0);
	return bytea_from(&out);
}

/*
 * A row's slots with a delta merged into one slot.  The slots before it
 * are copied as stored, passed over without decoding more than their
 * latest arrival (the next slot's arrivals are coded from it); the summary
 * takes the delta (its words are the slots' merged, and merging is
 * associative), and the slots from that one on are written anew.  A live
 * row's slot is its bucket's latest, so that an insert re-encodes one slot.
 * A row without a summary (an older format) is rewritten whole.
 */
bytea *
buckets_add_delta(const VelocityEntity *e, int tier, int64 bucket, bytea *slots, int slot_index,
				  const int64 *delta)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(slots);
	const unsigned char *end = p + VARSIZE_ANY_EXHDR(slots);
	const unsigned char *copy_from;
	int			num_slots = e->tier_slots[tier];
	int64		slot_width = e->tier_width[tier] / num_slots;
	int64		bucket_start = bucket * e->tier_width[tier];
	int64	   *dense = palloc(sizeof(int64) * num_slots * e->words);
	bool	   *present = palloc0(sizeof(bool) * num_slots);
	int64	   *summary = palloc(sizeof(int64) * e->words);
	int64		slot = -1;
	int64		prev_arrival = 0;
	int64		kept_slot;
	int64		kept_arrival;
	StringInfoData out;

	if (!(end - p >= 2 && p[0] == FORMAT_MARK_0 && p[1] == FORMAT_MARK_1))
	{
		buckets_decode(e, tier, bucket, slots, dense, present, NULL, NULL);
		if (!present[slot_index])
			buckets_empty(e, dense + slot_index * e->words);
		buckets_merge(e, dense + slot_index * e->words, delta);
		present[slot_index] = true;
		return buckets_encode(e, tier, bucket, dense, present);
	}
	p += 2;
	for (int w = 0; w < e->list_offset; w++)
		summary[w] = word_value(word_kind(e, w), get_varint(e, tier, bucket, &p, end),
								bucket_start, 0);
	merge_words(e, summary, delta);
	copy_from = p;

	/* the slots before slot_index: passed over */
	while (p < end)
	{
		const unsigned char *slot_begin = p;
		uint64		gap = get_varint(e, tier, bucket, &p, end);
		int64	   *words = dense;	/* scratch */
		int64		start;

		if (gap >= (uint64) (num_slots - slot - 1))
			corrupt_slots(e, tier, bucket, "a slot is out of range");
		if (slot + (int64) gap + 1 >= slot_index)
		{
			p = slot_begin;
			break;
		}
		slot += (int64) gap + 1;
		start = bucket_start + slot * slot_width;
		for (int w = 0; w < e->list_offset; w++)
		{
			uint64		code = get_varint(e, tier, bucket, &p, end);

			if (w == W_MAX_ARRIVAL)
				words[w] = word_value(WORD_ARRIVAL, code, start, prev_arrival);
		}
		get_list(e, tier, bucket, &p, end, words, start, false);
		if (words[W_MAX_ARRIVAL] != PG_INT64_MIN)
			prev_arrival = words[W_MAX_ARRIVAL];
	}
	kept_slot = slot;
	kept_arrival = prev_arrival;
	initStringInfo(&out);
	put_summary(e, tier, bucket, &out, summary);
	appendBinaryStringInfo(&out, (const char *) copy_from, (int) (p - copy_from));

	/* slot_index and the slots after it: decoded, merged and written anew */
	while (p < end)
	{
		uint64		gap = get_varint(e, tier, bucket, &p, end);
		int64	   *words;
		int64		start;

		if (gap >= (uint64) (num_slots - slot - 1))
			corrupt_slots(e, tier, bucket, "a slot is out of range");
		slot += (int64) gap + 1;
		words = dense + slot * e->words;
		start = bucket_start + slot * slot_width;
		for (int w = 0; w < e->list_offset; w++)
			words[w] = word_value(word_kind(e, w), get_varint(e, tier, bucket, &p, end), start,
								  prev_arrival);
		get_list(e, tier, bucket, &p, end, words, start, true);
		if (words[W_MAX_ARRIVAL] != PG_INT64_MIN)
			prev_arrival = words[W_MAX_ARRIVAL];
		present[slot] = true;
	}
	if (!present[slot_index])
		buckets_empty(e, dense + slot_index * e->words);
	buckets_merge(e, dense + slot_index * e->words, delta);
	present[slot_index] = true;
	put_slots(e, tier, bucket, &out, dense, present, slot_index, kept_slot, kept_arrival);
	return bytea_from(&out);
}

/*
 * Index entries for a new tuple version that is not heap-only (every index
 * of a bucket table is on plain columns, as fraud_feature_set_create
 * makes it; an expression index would need an executor state).  A new
 * version of a stripe keeps its keys ("unchanged"): the hint lets the
 * index delete the older versions' entries bottom-up before splitting a
 * page, as it does for UPDATE, so that a hot entity's churn of versions
 * does not pile up entries every scan of the bucket walks.
 */
static void
insert_index_entries(Relation rel, HeapTuple tuple, bool unchanged)
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
		index_insert(index, values, isnull, &tuple->t_self, rel, UNIQUE_CHECK_NO, unchanged,
					 info);
		index_close(index, RowExclusiveLock);
	}
	ExecDropSingleTupleTableSlot(slot);
	list_free(indexes);
}

/* The row's values with the delta merged into one slot. */
static HeapTuple
row_with_delta(BucketTarget *target, HeapTuple old, int tier, int slot_index,
			   const int64 *delta)
{
	TupleDesc	desc = RelationGetDescr(target->rel);
	int			k = target->e->num_keys;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	bytea	   *slots;
	HeapTuple	tuple;

	heap_deform_tuple(old, desc, values, nulls);
	slots = buckets_add_delta(target->e, tier, DatumGetInt64(values[k + BUCKET_ATT_BUCKET - 1]),
							  DatumGetByteaPP(values[k + BUCKET_ATT_SLOTS - 1]), slot_index, delta);
#ifdef USE_ASSERT_CHECKING
	{
		/* the same bytes as decoding every slot and encoding them again */
		const VelocityEntity *e = target->e;
		int64		bucket = DatumGetInt64(values[k + BUCKET_ATT_BUCKET - 1]);
		int64	   *dense = palloc(sizeof(int64) * e->tier_slots[tier] * e->words);
		bool	   *present = palloc(sizeof(bool) * e->tier_slots[tier]);
		bytea	   *whole;

		buckets_decode(e, tier, bucket, DatumGetByteaPP(values[k + BUCKET_ATT_SLOTS - 1]), dense,
					   present, NULL, NULL);
		if (!present[slot_index])
			buckets_empty(e, dense + slot_index * e->words);
		buckets_merge(e, dense + slot_index * e->words, delta);
		present[slot_index] = true;
		whole = buckets_encode(e, tier, bucket, dense, present);
		Assert(VARSIZE(whole) == VARSIZE(slots) &&
			   memcmp(VARDATA(whole), VARDATA(slots), VARSIZE(slots) - VARHDRSZ) == 0);
	}
#endif
	values[k + BUCKET_ATT_SLOTS - 1] = PointerGetDatum(slots);
	tuple = heap_form_tuple(desc, values, nulls);
	tuple->t_self = old->t_self;
	return tuple;
}

/* A new stripe row holding the given slots. */
void
buckets_insert_row(BucketTarget *target, const Datum *keys, int tier, int64 bucket,
				   const int64 *dense, const bool *present)
{
	TupleDesc	desc = RelationGetDescr(target->rel);
	int			k = target->e->num_keys;
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc0(sizeof(bool) * desc->natts);
	HeapTuple	tuple;

	vcache_writing(target->rel, keys, tier, bucket);
	for (int i = 0; i < k; i++)
		values[i] = keys[i];
	values[k + BUCKET_ATT_TIER - 1] = Int16GetDatum((int16) tier);
	values[k + BUCKET_ATT_BUCKET - 1] = Int64GetDatum(bucket);
	values[k + BUCKET_ATT_SLOTS - 1] = PointerGetDatum(buckets_encode(target->e, tier, bucket, dense,
																	   present));
	tuple = heap_form_tuple(desc, values, nulls);
	simple_heap_insert(target->rel, tuple);
	insert_index_entries(target->rel, tuple, false);
}

/*
 * The slots of stripe "from" merged into those of "into": one row holding
 * both, as a reader adding the two would see them.
 */
static bytea *
stripes_folded(const VelocityEntity *e, int tier, int64 bucket, bytea *into, bytea *from)
{
	int			num_slots = e->tier_slots[tier];
	int64	   *dense = palloc(sizeof(int64) * num_slots * e->words);
	int64	   *other = palloc(sizeof(int64) * num_slots * e->words);
	bool	   *present = palloc(sizeof(bool) * num_slots);
	bool	   *other_present = palloc(sizeof(bool) * num_slots);

	buckets_decode(e, tier, bucket, into, dense, present, NULL, NULL);
	buckets_decode(e, tier, bucket, from, other, other_present, NULL, NULL);
	for (int s = 0; s < num_slots; s++)
	{
		if (!other_present[s])
			continue;
		if (!present[s])
			buckets_empty(e, dense + s * e->words);
		buckets_merge(e, dense + s * e->words, other + s * e->words);
		present[s] = true;
	}
	return buckets_encode(e, tier, bucket, dense, present);
}

/*
 * Prunes the page of a stripe this writer has just locked, when its free
 * space is under half a page or under three versions of the stripe.
 * Readers prune only when under a tenth of the page is left
 * (heap_page_prune_opt, fillfactor 90): a stripe of a busy hour bucket
 * (1-2 kB) fills a page in a few updates, and its next version then no
 * longer fits while the page still has more than a tenth free, so it moved
 * to a new page at every page's worth (a new index entry and a new page
 * each time: the bucket table grew by a page every few updates of a hot
 * entity).  The cleanup lock is only tried: a page another backend has
 * pinned is left to the next write.
 */
static void
stripe_page_pruned(Relation rel, Buffer buffer, Size version_bytes)
{
	Page		page = BufferGetPage(buffer);
	TransactionId prune_xid = ((PageHeader) page)->pd_prune_xid;
	Size		below = Max(BLCKSZ / 2, 3 * MAXALIGN(version_bytes));
	GlobalVisState *vistest;

	if (!TransactionIdIsValid(prune_xid) ||
		(!PageIsFull(page) && PageGetHeapFreeSpace(page) >= below))
		return;
	vistest = GlobalVisTestFor(rel);
	if (!GlobalVisTestIsRemovableXid(vistest, prune_xid) || !ConditionalLockBufferForCleanup(buffer))
		return;
	if (PageIsFull(page) || PageGetHeapFreeSpace(page) < below)
	{
		int			nnewlpdead;
		int			ndeleted = heap_page_prune(rel, buffer, InvalidTransactionId, vistest,
											   InvalidTransactionId, 0, &nnewlpdead, NULL);

		if (ndeleted > nnewlpdead)
			pgstat_update_heap_dead_tuples(rel, ndeleted - nnewlpdead);
	}
	LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
}

/*
 * Locks the stripe version at tid in the given mode without waiting and
 * returns a copy of it; NULL when another writer holds it, or (REPEATABLE
 * READ) it was replaced since the snapshot, or (READ COMMITTED) it was
 * replaced or deleted at all, *replaced then telling the caller that a new
 * scan would find its latest version free.  The copy is taken under the pin that
 * heap_lock_tuple leaves, without the content lock: the version is ours
 * and its data cannot change or move while the page is pinned.
 */
static HeapTuple
stripe_locked(BucketTarget *target, ItemPointer tid, LockTupleMode mode, bool *replaced)
{
	HeapTupleData locked;
	HeapTuple	copy = NULL;
	Buffer		buffer;
	TM_FailureData tmfd;
	TM_Result	result;

	locked.t_self = *tid;
	result = heap_lock_tuple(target->rel, &locked, GetCurrentCommandId(true),
							 mode, LockWaitSkip, false, &buffer, &tmfd);
	if (result == TM_Ok)
	{
		copy = heap_copytuple(&locked);
		stripe_page_pruned(target->rel, buffer, locked.t_len);
	}
	ReleaseBuffer(buffer);
	if (result == TM_Updated && !ItemPointerEquals(&tmfd.ctid, tid))
		*replaced = true;
	return copy;
}

/*
 * The locked stripe "held" with another stripe folded into it, when one can
 * be locked at once; that one is deleted.  Readers see both stripes or the
 * folded one, never a mix, since the two changes commit together.
 */
static HeapTuple
fold_one_stripe(BucketTarget *target, int tier, HeapTuple held_row, ItemPointerData *tids,
				int n, int held)
{
	TupleDesc	desc = RelationGetDescr(target->rel);
	int			k = target->e->num_keys;
	bool		replaced = false;

	for (int i = 1; i < n; i++)
	{
		int			other = (held + i) % n;
		HeapTuple	other_row;
		Datum	   *values;
		bool	   *nulls;
		int64		bucket;
		bool		isnull;
		HeapTuple	folded;

		/* the mode a delete takes, so that the delete cannot wait */
		other_row = stripe_locked(target, &tids[other], LockTupleExclusive, &replaced);
		if (other_row == NULL)
			continue;
		values = palloc(sizeof(Datum) * desc->natts);
		nulls = palloc(sizeof(bool) * desc->natts);
		heap_deform_tuple(held_row, desc, values, nulls);
		bucket = DatumGetInt64(values[k + BUCKET_ATT_BUCKET - 1]);
		values[k + BUCKET_ATT_SLOTS - 1] =
			PointerGetDatum(stripes_folded(target->e, tier, bucket,
										   DatumGetByteaPP(values[k + BUCKET_ATT_SLOTS - 1]),
										   DatumGetByteaPP(heap_getattr(other_row,
																		k + BUCKET_ATT_SLOTS,
																		desc, &isnull))));
		folded = heap_form_tuple(desc, values, nulls);
		folded->t_self = held_row->t_self;
		simple_heap_delete(target->rel, &tids[other]);
		return folded;
	}
	return held_row;
}

/*
 * The stripes of (keys, tier, bucket) this snapshot sees, as the tids of
 * their versions, at most "max".
 */
static int
stripes_seen(BucketTarget *target, const Datum *keys, int tier, int64 bucket, Snapshot snapshot,
			 ItemPointerData *tids, int max)
{
	int			k = target->e->num_keys;
	ScanKeyData skeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	TupleTableSlot *found = table_slot_create(target->rel, NULL);
	int			n = 0;

	for (int i = 0; i < k; i++)
		ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, target->key_eq_procs[i], keys[i]);
	ScanKeyInit(&skeys[k], k + BUCKET_ATT_TIER, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum((int16) tier));
	ScanKeyInit(&skeys[k + 1], k + BUCKET_ATT_BUCKET, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(bucket));
	scan = index_beginscan(target->rel, target->index, snapshot, k + 2, 0);
	index_rescan(scan, skeys, k + 2, NULL, 0);
	while (n < max && index_getnext_slot(scan, ForwardScanDirection, found))
		tids[n++] = found->tts_tid;
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(found);
	return n;
}

/*
 * Applies a delta to a stripe row of (keys, tier, bucket) that can be
 * updated at once, or to a new one.  Stripes are found with the
 * transaction's snapshot (REPEATABLE READ: a version committed after it is
 * skipped, never updated, so this transaction's own reads cannot count a
 * stripe twice), locked without waiting and updated: a version that
 * another writer holds is skipped.  Under READ COMMITTED a version replaced
 * by a committed writer is looked up again with a new snapshot, since its
 * latest version is free: otherwise every such race adds a stripe that
 * every later read of the bucket adds up.  Backends start at different
 * stripes (by backend id) so that two writers do not try the same one
 * first.  A bucket of more than STRIPES_FOLDED_ABOVE stripes has one more
 * that is free folded into the stripe written, and deleted.  The caller
 * has called CommandCounterIncrement, so that this command's own versions
 * are visible and updatable.
 */
#define STRIPES_SEEN_MAX 64
#define STRIPES_FOLDED_ABOVE 4
#define STRIPE_RESCANS 3

void
buckets_apply(BucketTarget *target, const Datum *keys, int tier, int64 bucket, int slot_index,
			  const int64 *delta)
{
	ItemPointerData tids[STRIPES_SEEN_MAX];
	bool		read_committed = !IsolationUsesXactSnapshot();
	HeapTuple	old = NULL;
	Snapshot	snapshot = NULL;
	int			held = -1;
	int			n = 0;

	vcache_writing(target->rel, keys, tier, bucket);
	for (int scans = 0; held < 0 && scans <= STRIPE_RESCANS; scans++)
	{
		bool		replaced = false;

		/*
		 * Registered until the tids seen are used, so that no version seen
		 * can be pruned and its line pointer reused meanwhile.
		 */
		if (snapshot != NULL)
			UnregisterSnapshot(snapshot);
		snapshot = RegisterSnapshot(read_committed ? GetLatestSnapshot() :
									GetTransactionSnapshot());
		n = stripes_seen(target, keys, tier, bucket, snapshot, tids, STRIPES_SEEN_MAX);
		for (int i = 0; i < n && held < 0; i++)
		{
			int			at = (int) ((MyBackendId + i) % n);

			old = stripe_locked(target, &tids[at], LockTupleNoKeyExclusive, &replaced);
			if (old != NULL)
				held = at;
		}
		if (!replaced || !read_committed)
			break;
	}
	if (held >= 0)
	{
		HeapTuple	tuple;
		TM_FailureData tmfd;
		LockTupleMode lockmode;

		if (n > STRIPES_FOLDED_ABOVE)
			old = fold_one_stripe(target, tier, old, tids, n, held);
		tuple = row_with_delta(target, old, tier, slot_index, delta);
		if (heap_update(target->rel, &tids[held], tuple, GetCurrentCommandId(true),
						InvalidSnapshot, true, &tmfd, &lockmode) != TM_Ok)
			elog(ERROR, "could not update locked stripe row of \"%s\"",
				 RelationGetRelationName(target->rel));
		insert_index_entries(target->rel, tuple, true);
	}
	else
	{
		int			num_slots = target->e->tier_slots[tier];
		int64	   *dense = palloc(sizeof(int64) * num_slots * target->e->words);
		bool	   *present = palloc0(sizeof(bool) * num_slots);

		buckets_empty(target->e, dense + slot_index * target->e->words);
		buckets_merge(target->e, dense + slot_index * target->e->words, delta);
		present[slot_index] = true;
		buckets_insert_row(target, keys, tier, bucket, dense, present);
	}
	UnregisterSnapshot(snapshot);
}
