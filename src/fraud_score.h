/*-------------------------------------------------------------------------
 *
 * fraud_score.h
 *		The small structs and entry points that cross source files.
 *
 * Everything else in src/ is static to its file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_H
#define FRAUD_SCORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

/* GUCs (fraud_score.c) */
extern char *fraud_score_default_model;
extern int	fraud_score_max_model_size_kb;

typedef enum ScoringEngine
{
	ENGINE_NATIVE,
	ENGINE_XGBOOST
} ScoringEngine;
extern int	fraud_score_engine;

/* What the trigger does with a row it cannot score (fraud_score.on_error). */
typedef enum OnErrorPolicy
{
	ON_ERROR_ERROR,				/* raise the error: the INSERT fails */
	ON_ERROR_REVIEW,			/* decision "review", NULL score, WARNING */
	ON_ERROR_APPROVE			/* decision "approve", NULL score, WARNING */
} OnErrorPolicy;
extern int	fraud_score_on_error;

/*
 * What model.c learns from validating a model's bytes.  The trees
 * themselves stay in the parsed document; only XGBoost evaluates them.
 */
typedef struct ModelInfo
{
	const char *format;			/* "json" or "ubjson" */
	int			num_features;
	int			num_trees;
	int			num_nodes;		/* over all trees */
	char	  **feature_names;	/* num_features names, or NULL if absent */
	const char *objective;
	double		base_score;
	struct Forest *forest;		/* native evaluator, if asked for */
} ModelInfo;

/* model.c */
extern void model_validate(const char *data, Size len, ModelInfo *info,
						   MemoryContext forest_context);
extern void model_check_feature_names(char **names, int count, int num_features);

/* Feature names ready for matching jsonb keys (features.c). */
typedef struct FeatureKeys
{
	int			count;
	char	  **names;			/* in the model's feature order */
	int		   *lengths;
	int		   *sorted;			/* feature indexes in jsonb's key order */
	bool	   *filled;			/* scratch: which features a pass has set */
} FeatureKeys;

/*
 * An active model version as one backend holds it: catalog metadata plus
 * the loaded XGBoost booster.  Owned by catalog.c's cache; callers must not
 * keep a pointer across anything that may process invalidations.
 */
typedef struct FraudModel
{
	char		name[NAMEDATALEN];
	int32		version;
	uint32		generation;		/* changes whenever this entry is rebuilt */
	int			num_features;
	char	  **feature_names;
	FeatureKeys *keys;			/* the same names, for jsonb lookups */
	double		review_threshold;
	double		decline_threshold;
	Oid			feature_function;	/* (jsonb) RETURNS jsonb, or InvalidOid */
	struct XgbModel *xgb;		/* NULL unless the xgboost engine (or a model
								 * the forest cannot represent) needs it */
	struct Forest *forest;		/* native evaluator of the same trees, or NULL */
	MemoryContext booster_context;	/* owns xgb and forest */
} FraudModel;

/* catalog.c */
extern FraudModel *catalog_get_active_model(const char *name);
extern const char *catalog_resolve_name(text *name_or_null);
extern void catalog_init(void);

/* features.c: "extra" (may be NULL) is a feature function's output, which
 * takes precedence over the row's own values */
extern FeatureKeys *feature_keys_build(char **names, int count, MemoryContext context);
extern void features_from_jsonb(const FeatureKeys *keys, Jsonb *doc, Jsonb *extra,
								float *out);
extern bool is_feature_type(Oid type);
extern float datum_to_input(Datum value, Oid type, const char *feature);


/* Where each feature comes from in a relation; attnum 0 = always missing. */
typedef struct FeatureMap
{
	int			num_features;
	AttrNumber *attnums;
	Oid		   *types;			/* base type of each mapped column */
} FeatureMap;

extern FeatureMap *feature_map_build(FraudModel *model, TupleDesc tupdesc,
									 const char *relname, MemoryContext context);
extern void features_from_values(FraudModel *model, const FeatureMap *map,
								 const Datum *values, const bool *isnull, Jsonb *extra,
								 float *out);

/* trigger.c */
extern void trigger_init(void);

/* stats.c */
extern void stats_init(void);
extern void stats_count_scored(void);
extern void stats_count_failure(OnErrorPolicy outcome, const char *message);

/* metrics.c: ranking quality of scores against 0/1 labels */
typedef struct FraudMetrics
{
	int64		rows;
	int64		positives;
	double		auc;
	double		average_precision;
	double		precision_at_recall_80;	/* best precision with recall >= 0.8 */
	double		recall_at_precision_50;	/* best recall with precision >= 0.5 */
	double		review_threshold;	/* lowest threshold reaching review_precision */
	double		decline_threshold;	/* lowest threshold reaching decline_precision */
} FraudMetrics;

extern void metrics_compute(const double *scores, const float *labels, int n,
							double review_precision, double decline_precision,
							FraudMetrics *metrics);

/* score.c */
extern float *score_feature_buffer(int num_features);
extern double score_features(FraudModel *model, const float *features);
extern const char *score_decision(FraudModel *model, double score);
extern bool error_is_not_the_rows(int sqlerrcode);
extern FraudModel *score_model_with_features(const char *name, FraudModel *model,
											 Datum row_jsonb,
											 Jsonb **extra);
extern Datum score_tuple_to_jsonb(HeapTuple tuple, TupleDesc tupdesc);
extern void score_check_feature_function(Oid fn);

#endif							/* FRAUD_SCORE_H */
