/*-------------------------------------------------------------------------
 *
 * buckets.h
 *		The slot payload of declared feature sets' bucket rows, one source
 *		row's contribution to it, and the stripe writes (buckets.c).
 *
 * A payload is an array of int64 words.  Counts and sums add; bounds and
 * extremes widen; "stale" ORs.  A source row's contribution is itself a
 * payload (a removal has negative counts, empty bounds and stale set), so
 * adding a row, removing one and merging the stripes of a bucket are all
 * buckets_merge.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUCKETS_H
#define BUCKETS_H

#include "velocity.h"

#define W_N 0					/* rows */
#define W_MIN_TIME 1			/* bounds of the rows' times */
#define W_MAX_TIME 2
#define W_MAX_ARRIVAL 3			/* bound of the rows' arrivals */
#define W_NK 4					/* rows with a known_at */
#define W_MIN_KNOWN 5			/* bounds of their known_at */
#define W_MAX_KNOWN 6
#define W_MIN_LTIME 7			/* extremes of their times */
#define W_MAX_LTIME 8
#define W_STALE 9				/* a removal: extremes may be too wide */
#define W_FIRST_COLUMN 10
/* then per summed column: */
#define WC_COUNT 0				/* non-null values */
#define WC_SUM 1				/* exact, in units of 10^-scale */
#define WC_COUNT_KNOWN 2		/* of rows with a known_at */
#define WC_SUM_KNOWN 3
#define WC_MIN 4				/* when the entity keeps extremes */
#define WC_MAX 5

/*
 * Then the slot's rows themselves while they are few: a state word (the
 * number of entries, or LIST_NONE once they overflowed or were never kept)
 * and up to BUCKETS_LIST_ROWS entries of entry_words words.  An entry is a
 * row added or, flagged, removed; merging cancels a removal against its
 * addition, so that the stripes of a slot together list its rows exactly.
 */
#define BUCKETS_LIST_ROWS 8
#define LIST_NONE (-1)
#define E_FLAGS 0				/* E_REMOVAL, E_KNOWN, E_VALUE << j */
#define E_TIME 1
#define E_ARRIVAL 2
#define E_KNOWN_AT 3
#define E_FIRST_VALUE 4			/* per column the entity sums, in order */
#define E_REMOVAL 1
#define E_KNOWN 2
#define E_VALUE 4

/* Bucket table attributes after the entity's keys (1-based offsets). */
#define BUCKET_ATT_TIER 1
#define BUCKET_ATT_BUCKET 2
#define BUCKET_ATT_SLOTS 3

extern int	buckets_payload_words(const VelocitySet *vs, VelocityEntity *e);
extern void buckets_empty(const VelocityEntity *e, int64 *payload);
extern void buckets_merge(const VelocityEntity *e, int64 *into, const int64 *from);
extern void buckets_row_payload(const VelocityEntity *e, const VelocityRowValues *row,
								int sign, int64 *payload);
extern bool buckets_label_delta(const VelocityEntity *e, const VelocityRowValues *old_row,
								const VelocityRowValues *new_row, int64 *payload);
/* Which slots' lists a reader decodes (buckets_decode). */
typedef struct ListFilter
{
	const bool *wanted;			/* per slot: the reader asks for its rows */
	int64		t;				/* the row read for: its time and arrival */
	int64		arrival;
	int64		from;			/* no slot ending before it is read */
	bool		summary_only;	/* the bucket's summary, not its slots */
} ListFilter;

extern bool buckets_decode(const VelocityEntity *e, int tier, int64 bucket, bytea *slots,
						   int64 *dense, bool *present, const ListFilter *filter,
						   int64 *summary);
/*
 * A row decoded whole (buckets_decode_all), for reads that decode nothing:
 * one allocation of "bytes" without pointers, so that it can be copied
 * with memcpy.  Its arrays follow the header, at the offsets given.
 */
typedef struct BucketsDecoded
{
	bool		lists;			/* the row keeps lists and a summary */
	int			num_slots;		/* slots with an entry */
	Size		bytes;
	uint32		words_at;		/* int64: per slot its words, then its list's */
	uint32		summary_at;		/* int64: when lists */
	uint32		offset_at;		/* int32: where each slot's words begin */
	uint32		slot_at;		/* int16: the slots' indexes, in order */
} BucketsDecoded;

extern BucketsDecoded *buckets_decode_all(const VelocityEntity *e, int tier, int64 bucket,
										  bytea *slots);
extern bool buckets_decode_from(const VelocityEntity *e, int tier, int64 bucket,
								const BucketsDecoded *d, int64 *dense, bool *present,
								const ListFilter *filter, int64 *summary);
extern bool buckets_summary_matches(const VelocityEntity *e, int tier, int64 bucket,
									bytea *slots);
extern bytea *buckets_encode(const VelocityEntity *e, int tier, int64 bucket, const int64 *dense,
							 const bool *present);
extern bytea *buckets_add_delta(const VelocityEntity *e, int tier, int64 bucket, bytea *slots,
								 int slot_index, const int64 *delta);
extern bool buckets_list_usable(const VelocityEntity *e, const int64 *payload);
extern void buckets_list_row(const VelocityEntity *e, const int64 *entry, VelocityRowValues *row);
extern int64 buckets_floor_div(int64 a, int64 b);
extern int	buckets_slot_bytes_bound(const VelocityEntity *e, int tier);
extern int	buckets_summary_bytes_bound(const VelocityEntity *e);

/* What writing one entity's bucket table needs, opened by the caller. */
typedef struct BucketTarget
{
	const VelocityEntity *e;
	Relation	rel;
	Relation	index;			/* on (keys, tier, bucket) */
	const Oid  *key_eq_procs;
} BucketTarget;

extern void buckets_apply(BucketTarget *target, const Datum *keys, int tier, int64 bucket,
						  int slot_index, const int64 *delta);
extern void buckets_insert_row(BucketTarget *target, const Datum *keys, int tier, int64 bucket,
							   const int64 *dense, const bool *present);
#endif							/* BUCKETS_H */
