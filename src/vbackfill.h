/*-------------------------------------------------------------------------
 *
 * vbackfill.h
 *		Buckets computed from the source's rows (vbackfill.c), and what
 *		backfill and verify do with them (vverify.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VBACKFILL_H
#define VBACKFILL_H

#include "utils/tuplestore.h"
#include "velocity.h"

/* Called with each bucket of the pass once it is complete. */
typedef void (*BucketDone) (void *arg, int entity, const Datum *keys, int tier, int64 bucket,
							const int64 *dense, const bool *present);

extern int64 vbackfill_pass(VelocityRuntime *rt, int entity, const Datum *filter_keys,
							BucketDone done, void *arg);

/* vverify.c */
extern int64 vverify_backfill(VelocityRuntime *rt);
extern void vverify_compare(VelocityRuntime *rt, Jsonb *filter, Tuplestorestate *out,
							TupleDesc out_desc);

#endif							/* VBACKFILL_H */
