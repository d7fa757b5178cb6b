/*-------------------------------------------------------------------------
 *
 * velocity.h
 *		A declared feature set once checked against its source table: what
 *		vdef.c builds from the definition document, and what the bucket
 *		maintenance and the feature computation read (docs/velocity-design.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELOCITY_H
#define VELOCITY_H

#include "postgres.h"

#include "access/attnum.h"
#include "utils/jsonb.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/relcache.h"

#define VELOCITY_MAX_TIERS 4
#define VELOCITY_MAX_SLOTS 1024
#define VELOCITY_MAX_COLUMNS 16
#define VELOCITY_UNBOUNDED INT64CONST(-1)

typedef enum VelocityKind
{
	VK_VALUE,
	VK_HOUR,
	VK_DAY_OF_WEEK,
	VK_IS_WEEKEND,
	VK_COUNT,
	VK_SUM,
	VK_MEAN,
	VK_MIN,
	VK_MAX,
	VK_RATIO,
	VK_EXCEEDS,
	VK_KNOWN_COUNT,
	VK_KNOWN_RATE,
	VK_DAYS_SINCE_KNOWN,
	VK_EPISODE_DAYS
} VelocityKind;

/* Which rows of a window an aggregate counts. */
typedef enum VelocityRows
{
	ROWS_ALL,
	ROWS_UNLABELED,				/* not known as positive by the row's time */
	ROWS_KNOWN					/* known as positive by the row's time */
} VelocityRows;

/* A column whose values are aggregated or returned. */
typedef struct VelocityColumn
{
	char	   *name;
	AttrNumber	attnum;
	Oid			type;
	bool		fixed;			/* integer or numeric(p, s): exact scaled int64 */
	int			scale;			/* digits after the point when fixed */
	int64		scale_factor;	/* 10^scale */
	bool		aggregated;		/* summed by some entity (then fixed) */
} VelocityColumn;

typedef struct VelocityEntity
{
	char	   *name;
	int			num_keys;
	char	  **key_names;
	AttrNumber *key_attnums;
	Oid		   *key_types;
	int			num_tiers;
	int64		tier_width[VELOCITY_MAX_TIERS]; /* microseconds, coarsest first */
	int			tier_slots[VELOCITY_MAX_TIERS]; /* slots per bucket row */
	int64		resolution;		/* the finest tier's slot width */
	bool	   *column_used;	/* per set column: summed for this entity */
	bool	   *column_extremes;	/* per set column: min/max kept */
	int64		longest_window; /* microseconds, or VELOCITY_UNBOUNDED */
	bool		needs_labels;	/* some feature splits rows by known_at */
	bool		needs_extremes; /* min, max, days_since_known or episode_days */
	int			words;			/* slot payload words (buckets.c) */
	int			list_offset;	/* first word of the slot's row list (buckets.c) */
	int			entry_words;	/* words of one listed row */
	int			list_budget[VELOCITY_MAX_TIERS];	/* bytes a stored list may take */
	int		   *column_offsets; /* per set column: first word, or -1 */
	unsigned char *word_kinds;	/* per word: how buckets.c encodes it */
	int			num_columns;	/* the set's, for buckets.c */
} VelocityEntity;

typedef struct VelocityFeature
{
	char	   *name;
	VelocityKind kind;
	int			entity;			/* -1 for the row's own values */
	int64		window;			/* microseconds, or VELOCITY_UNBOUNDED */
	int			column;			/* into the set's columns, or -1 */
	VelocityRows rows;
	double		factor;			/* exceeds */
	int64		factor_numerator;	/* factor as an exact fraction */
	int64		factor_denominator;
	int64		mean_window;	/* exceeds */
	VelocityRows mean_rows;
} VelocityFeature;

typedef struct VelocitySet
{
	char	   *name;
	Oid			source;
	char	   *time_name;
	char	   *arrival_name;
	AttrNumber	time_attnum;
	Oid			time_type;		/* TIMESTAMPOID or TIMESTAMPTZOID */
	AttrNumber	arrival_attnum;
	Oid			arrival_type;
	AttrNumber	known_attnum;	/* 0: no labels */
	int			digits;			/* of rounded outputs (default 6) */
	int			num_columns;
	VelocityColumn *columns;
	int			num_entities;
	VelocityEntity *entities;
	int			num_features;
	VelocityFeature *features;
} VelocitySet;

/* A source row's values that the buckets keep (times as microseconds). */
typedef struct VelocityRowValues
{
	int64		time;
	int64		arrival;
	bool		known_valid;
	int64		known;
	bool	   *value_valid;	/* per set column */
	int64	   *value;			/* scaled by 10^scale */
} VelocityRowValues;

/* vdef.c */
extern VelocitySet *vdef_build(const char *name, Relation source, Jsonb *definition);

/* A set as one backend holds it: the definition and where its buckets are. */
typedef struct VelocityRuntime
{
	VelocitySet *set;
	Oid		   *bucket_relids;	/* per entity */
	Oid		   *bucket_indexes;
	Oid		   *raw_indexes;	/* per entity: on the source (keys, time, ...) */
	AttrNumber **raw_index_map; /* per entity: source attnum -> index column, when the
								 * index covers what raw reads need; else NULL */
	Oid		  **key_eq_procs;	/* per entity, per key */
	Oid		  **key_input;		/* per entity, per key: input function */
	Oid		  **key_ioparam;
	MemoryContext context;
} VelocityRuntime;

/* vset.c */
extern void vset_init(void);
extern VelocityRuntime *vset_get(const char *name);
extern VelocityRuntime *vset_get_by_function(Oid fn);
extern int64 vset_scaled_value(const VelocityColumn *c, Datum value);
extern int64 vset_scaled_numeric(const VelocityColumn *c, Datum value);
extern void vset_row_values(const VelocitySet *vs, TupleDesc desc, HeapTuple tuple,
							VelocityRowValues *row);


#endif							/* VELOCITY_H */
