/*-------------------------------------------------------------------------
 *
 * vread.h
 *		One entity's window as the reader adds it up (vread.c), and the
 *		feature computation of a declared set for one row document
 *		(vfeatures.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VREAD_H
#define VREAD_H

#include "velocity.h"

typedef struct VelocityWindow
{
	int64		n;				/* rows */
	int64		nk;				/* rows known as positive at t */
	int64		min_known_time; /* their times' extremes */
	int64		max_known_time;
	int64		count[VELOCITY_MAX_COLUMNS];	/* non-null values */
	int128		sum[VELOCITY_MAX_COLUMNS];
	int64		count_known[VELOCITY_MAX_COLUMNS];
	int128		sum_known[VELOCITY_MAX_COLUMNS];
	int64		min[VELOCITY_MAX_COLUMNS];
	int64		max[VELOCITY_MAX_COLUMNS];
} VelocityWindow;

/* One row's view of one entity: what vread.c reads for it. */
typedef struct EntityQuery
{
	int			entity;
	const Datum *keys;
	int64		t;				/* the row's time */
	int64		arrival;		/* rows before it; PG_INT64_MAX for all */
	int			num_windows;
	const int64 *windows;		/* durations; VELOCITY_UNBOUNDED for "latest known" */
	int64		raw_window;		/* > 0: the window whose rows the caller reads */
	VelocityWindow *aggs;		/* out, per window */
	bool	   *latest_found;	/* out, per window: latest known row, if unbounded */
	int64	   *latest;
	int			raw_count;		/* out: the rows of raw_window before the row */
	VelocityRowValues *raw_rows;
} EntityQuery;

extern void vread_empty(const VelocityEntity *e, VelocityWindow *agg);
extern void vread_entity(VelocityRuntime *rt, EntityQuery *q);

/* vfeatures.c */
extern Jsonb *vfeatures_compute(VelocityRuntime *rt, Jsonb *document);

#endif							/* VREAD_H */
