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
} ModelInfo;

/* model.c */
extern void model_check_size(Size len);
extern void model_validate(const char *data, Size len, ModelInfo *info);
extern void model_check_feature_names(char **names, int count, int num_features);

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
	double		review_threshold;
	double		decline_threshold;
	struct XgbModel *xgb;
} FraudModel;

/* catalog.c */
extern FraudModel *catalog_get_active_model(const char *name);
extern const char *catalog_resolve_name(text *name_or_null);
extern Oid	catalog_models_relid(void);
extern void catalog_init(void);

/* features.c */
extern void features_from_jsonb(FraudModel *model, Jsonb *doc, float *out);


/* Where each feature comes from in a relation; attnum 0 = always missing. */
typedef struct FeatureMap
{
	int			num_features;
	AttrNumber *attnums;
	Oid		   *types;			/* base type of each mapped column */
} FeatureMap;

extern FeatureMap *feature_map_build(FraudModel *model, TupleDesc tupdesc,
									 const char *relname, MemoryContext context);
extern void features_from_tuple(FraudModel *model, const FeatureMap *map,
								TupleDesc tupdesc, HeapTuple tuple, float *out);

/* trigger.c */
extern void trigger_init(void);

/* score.c */
extern float *score_feature_buffer(int num_features);
extern double score_features(FraudModel *model, const float *features);
extern const char *score_decision(FraudModel *model, double score);

#endif							/* FRAUD_SCORE_H */
