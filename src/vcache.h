/*-------------------------------------------------------------------------
 *
 * vcache.h
 *		A backend's copies of finer-tier bucket rows, kept across
 *		transactions, and the shared counters that tell when one may have
 *		changed (vcache.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VCACHE_H
#define VCACHE_H

#include "utils/relcache.h"

/* A bucket of more stripe rows than this is fetched every time. */
#define BUCKET_COPY_MAX_STRIPES 8

/* The "tier" of copies of a finest slot's raw rows (their "bucket": the slot). */
#define BUCKET_COPY_RAW_TIER (-1)

/* The stripes of one bucket as a read fetched them. */
typedef struct BucketCopy BucketCopy;

/* What a fetch of a bucket needs to leave a copy of it. */
typedef struct BucketCopyFetch
{
	bool		possible;		/* nobody was writing it when the fetch began */
	Oid			relid;
	int			tier;
	int64		bucket;
	uint32		key_hash;
	uint32		slot;
	uint64		generation;
	uint64		every_generation;
} BucketCopyFetch;

/* Decodes a stripe for its copy: one allocation, its size in "bytes". */
typedef void *(*VCacheDecode) (bytea *slots, int64 bucket, void *arg, Size *bytes);

extern void vcache_init(void);
extern void vcache_writing(Relation buckets, const Datum *keys, int tier, int64 bucket);
extern void vcache_writing_every(void);
extern BucketCopy *vcache_find(Relation buckets, const Datum *keys, int tier, int64 bucket,
							   int guard_tier, int64 guard, BucketCopyFetch *fetch);
extern int	vcache_stripes(const BucketCopy *copy, bytea *const **stripes,
						   void *const **decoded);
extern void vcache_keep(BucketCopyFetch *fetch, Relation buckets, const Datum *keys,
						bytea *const *stripes, int num_stripes, VCacheDecode decode, void *arg);
extern void vcache_counts(bool *enabled, int64 *hits, int64 *fetches, int64 *kept,
						  int64 *num_copies, int64 *bytes);

#endif							/* VCACHE_H */
