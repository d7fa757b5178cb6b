/*-------------------------------------------------------------------------
 *
 * buckets.h
 *		A bucket row's slot payload and one row's change to it (buckets.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUCKETS_H
#define BUCKETS_H

#include "velocity.h"

/* Word positions in a slot's payload. */
#define SLOT_N 0
#define SLOT_NK 1				/* rows with a known_at (labeled) */
#define SLOT_MIN_LTIME 2		/* labeled rows' earliest time */
#define SLOT_MAX_LTIME 3		/* labeled rows' latest time */
#define SLOT_FIRST_COLUMN_WORD 4

/* Bucket table attributes after the entity's keys (1-based offsets). */
#define BUCKET_ATT_TIER 1
#define BUCKET_ATT_BUCKET 2
#define BUCKET_ATT_MIN_TIME 3
#define BUCKET_ATT_MAX_TIME 4
#define BUCKET_ATT_MAX_SEQ 5
#define BUCKET_ATT_MAX_KNOWN 6
#define BUCKET_ATT_STALE 7
#define BUCKET_ATT_SLOTS 8
#define BUCKET_NATTS_AFTER_KEYS 8

/* One source row's contribution (or, negated, its removal) to a slot. */
typedef struct BucketDelta
{
	int64		n;				/* +1 or -1 */
	int64		nk;				/* +1, -1 or 0 */
	bool		labeled_time_valid; /* an added labeled row: widen its times */
	int64		labeled_time;
	int64		time;			/* the row's time, arrival and known_at: bounds */
	int64		arrival;
	bool		known_valid;
	int64		known;
	bool		removal;		/* extremes of the row may now be wrong: stale */
	int64		fixed[64];
	int64		fixed_known[64];
	double		real[64];
	double		real_known[64];
	bool		value_valid[64];	/* an added value: widen the extremes */
	int64		fixed_value[64];
	double		real_value[64];
} BucketDelta;

extern int	buckets_payload_words(const VelocitySet *vs, const VelocityEntity *e,
								  int *column_offsets);
extern void buckets_decode(bytea *slots, int num_slots, int words, int64 *dense, bool *present);
extern bytea *buckets_encode(int num_slots, int words, const int64 *dense, const bool *present);
extern void buckets_add_delta(int64 *slot, const BucketDelta *d, int words,
							  const int *column_offsets, const VelocitySet *vs,
							  const VelocityEntity *e, bool was_present);



/* What applying deltas to one entity's bucket table needs, opened by the caller. */
typedef struct BucketTarget
{
	const VelocitySet *vs;
	const VelocityEntity *e;
	Relation	rel;
	Relation	index;			/* on (keys, tier, bucket) */
	Oid		   *key_eq_procs;	/* equality functions of the keys' types */
	int			words;
	int		   *column_offsets;
} BucketTarget;

extern void buckets_apply(BucketTarget *target, const Datum *keys, int tier, int64 bucket,
						  int slot_index, const BucketDelta *d);
#endif							/* BUCKETS_H */
