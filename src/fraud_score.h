/*-------------------------------------------------------------------------
 *
 * fraud_score.h
 *		What crosses source files, file by file in the order of the flow in
 *		DEVELOPERS.md: lower layers first, each file using only those above
 *		it here (xgb.h, forest.h and modeldoc.h are the engines' own).
 *
 * Everything else in src/ is static to its file, and the library exports
 * only the SQL-callable functions (-fvisibility=hidden; see the Makefile).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_H
#define FRAUD_SCORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/*
 * A SQL-callable function.  The library is built with -fvisibility=hidden
 * (PostgreSQL 15 loads modules RTLD_GLOBAL, so an exported helper could be
 * captured by another library's symbol of the same name): these, _PG_init
 * and the magic block are all it exports.  PostgreSQL 16 and later mark
 * PG_FUNCTION_INFO_V1's function PGDLLEXPORT themselves.
 */
#define FRAUD_SQL_FUNCTION(name) \
	PG_FUNCTION_INFO_V1(name); \
	extern PGDLLEXPORT Datum name(PG_FUNCTION_ARGS)

/* ------------------------------------------------------------- gucs.c */
extern void gucs_define(void);
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

/* Which rows the trigger writes reasons for (fraud_score.reasons_for). */
typedef enum ReasonsFor
{
	REASONS_FOR_FLAGGED,		/* review and decline */
	REASONS_FOR_ALL
} ReasonsFor;
extern int	fraud_score_reasons_for;
extern int	fraud_score_reasons_count;
extern int	fraud_score_stats_max;	/* shared entries, fraud_score_stats */
extern bool fraud_score_track_stats;
extern int	fraud_score_stats_timing_interval;
extern int	fraud_score_malloc_trim_threshold_kb;
extern int	fraud_score_bucket_cache_kb;	/* per backend, vcache.c */

/*
 * A failure that a plain-C step reports instead of raising it, so that the
 * trigger can turn it into an outcome without a subtransaction.  Passing a
 * NULL FraudFailure makes such a step raise the error itself.
 */
typedef struct FraudFailure
{
	bool		failed;
	int			sqlerrcode;
	char	   *message;
	char	   *detail;			/* or NULL */
} FraudFailure;

/* Record a failure (the first one wins), or raise it if "failure" is NULL. */
static inline void
failure_set(FraudFailure *failure, int sqlerrcode, char *message, char *detail)
{
	if (failure == NULL)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg_internal("%s", message),
				 detail ? errdetail_internal("%s", detail) : 0));
	if (!failure->failed)
	{
		failure->failed = true;
		failure->sqlerrcode = sqlerrcode;
		failure->message = message;
		failure->detail = detail;
	}
}

/* ------------------------------------------------------------ guard.c */
extern bool guard_error_is_not_the_rows(int sqlerrcode);
extern bool guard_run(void (*step) (void *arg), void *arg, FraudFailure *failure);

/* ------------------------------------------------------------ model.c */

/* What model.c learns from validating a model's bytes. */
typedef struct ModelInfo
{
	const char *library;		/* "xgboost" or "lightgbm" */
	const char *format;			/* "json", "ubjson" or (LightGBM) "text" */
	const char *format_version; /* the XGBoost that saved it, or LightGBM's "v4" */
	int			num_features;
	int			num_trees;
	int			num_nodes;		/* over all trees */
	char	  **feature_names;	/* num_features names, or NULL if absent */
	const char *objective;		/* binary:logistic, reg:logistic, binary:logitraw */
	double		base_score;
	bool		base_score_is_margin;	/* binary:logitraw: not a probability */
	/* base_score as XGBoost >= 3.1 writes it, "[x]": where, for model_normalize */
	bool		base_score_bracketed;
	Size		base_score_start;	/* UBJSON: the string value's bytes */
	Size		base_score_end;
	/* size_leaf_vector "1" (2.0 and later) string values, which 1.7.4
	 * cannot predict with: UBJSON offsets (JSON: count only), for
	 * model_normalize */
	int			num_leaf_vector_ones;
	Size	   *leaf_vector_ones;
	/* UBJSON typed arrays of int8 or int16 (3.1 and later, in "cats"), which
	 * 1.7.4 cannot read: start and end offsets, for model_normalize */
	int			num_narrow_arrays;
	Size	   *narrow_arrays;
	int64		num_category_words; /* categorical splits' sets, 32 codes a word */
	bool	   *categorical;	/* per feature: "c" in feature_types, or split
								 * on by a categorical split */
	/* per feature, the category names XGBoost >= 3.1 keeps in "cats" (code
	 * = position), in the server encoding; NULL where there are none */
	char	 ***category_names;
	int		   *num_category_names;
	struct Forest *forest;		/* native evaluator, if asked for */
	struct LgbmForest *lgbm;	/* the same for a LightGBM model */
} ModelInfo;

extern void model_validate(const char *data, Size len, ModelInfo *info,
						   MemoryContext forest_context);
extern void model_check_feature_names(char **names, int count, int num_features);
extern bytea *model_normalize(const char *data, Size len, const ModelInfo *info);
extern char **model_feature_names_to_utf8(char **names, int count);

/* ------------------------------------------------------------- lgbm.c */
extern bool lgbm_is_text_model(const char *data, Size len);
extern void lgbm_validate(const char *data, Size len, ModelInfo *info,
						  MemoryContext forest_context);

/* ------------------------------------------------------- categories.c */

/* One feature's category names; a name's code is its position. */
typedef struct CategoryNames
{
	int			count;
	char	  **names;			/* in code order */
	int		   *lengths;
	int		   *sorted;			/* codes in bytewise order of their names */
} CategoryNames;

extern CategoryNames **categories_build(Jsonb *doc, char **feature_names, int num_features,
										MemoryContext context);
extern float categories_code(const CategoryNames *lookup, const char *name, int len);
extern Jsonb *categories_effective(const ModelInfo *info, char **feature_names, Jsonb *given);

/* --------------------------------------------------------- features.c */

/* Feature names ready for matching jsonb keys. */
typedef struct FeatureKeys
{
	int			count;
	char	  **names;			/* in the model's feature order */
	int		   *lengths;
	int		   *sorted;			/* feature indexes in jsonb's key order */
	bool	   *filled;			/* scratch: which features a pass has set */
	CategoryNames **categories; /* per feature, or NULL: none has names */
	bool		double_precision;	/* inputs as doubles (LightGBM), not floats */
	double		unknown_category;	/* an unknown name's input: -1 for XGBoost
									 * (unseen), NaN for LightGBM (as pandas) */
} FeatureKeys;

/* Where each feature comes from in a relation; attnum 0 = always missing. */
typedef struct FeatureMap
{
	int			num_features;
	AttrNumber *attnums;
	Oid		   *types;			/* base type of each mapped column */
	char	   *kinds;			/* FEATURE_COLUMN_*: how to read it */
} FeatureMap;

#define FEATURE_COLUMN_NUMBER 'n'	/* numbers and booleans */
#define FEATURE_COLUMN_TEXT 't' /* a category's name */
#define FEATURE_COLUMN_BPCHAR 'b'	/* the same, without char(n)'s padding */
#define FEATURE_COLUMN_ENUM 'e' /* an enum label as the name */

/* "extra" (may be NULL) is a feature function's output, which takes
 * precedence over the row's own values. */
extern FeatureKeys *feature_keys_build(char **names, int count, MemoryContext context);
extern void features_from_jsonb(const FeatureKeys *keys, Jsonb *doc, Jsonb *extra,
								double *out);
extern bool is_feature_type(Oid type);
extern float datum_to_input(Datum value, Oid type, const char *feature);
extern FeatureMap *feature_map_build(const FeatureKeys *keys, TupleDesc tupdesc,
									 const char *relname, MemoryContext context);
extern bool features_values_are_toasted(const FeatureMap *map, const Datum *values,
										const bool *isnull);
extern bool features_from_values(const FeatureKeys *keys, const FeatureMap *map,
								 const Datum *values, const bool *isnull, Jsonb *extra,
								 double *out, FraudFailure *failure);

/* -------------------------------------------------------- featurefn.c */
typedef struct RowJsonLayout RowJsonLayout;

extern void featurefn_init(void);
extern uint64 featurefn_generation(void);
extern Oid	featurefn_resolve(const char *signature);
extern void featurefn_check(Oid fn);
extern Jsonb *featurefn_call(Oid fn, Datum row_jsonb);
extern RowJsonLayout *featurefn_row_layout(TupleDesc tupdesc, MemoryContext context);
extern Datum featurefn_row_jsonb(const RowJsonLayout *layout, TupleDesc tupdesc,
								 const Datum *values, const bool *nulls);

/* ---------------------------------------------------------- compile.c */
extern bytea *compile_model(const char *data, Size len, const char *sha256);
extern void compile_stored_forest(bytea *stored, const char *sha256, int num_features,
								  MemoryContext context, struct Forest **forest,
								  struct LgbmForest **lgbm);

/* ---------------------------------------------------------- catalog.c */

/*
 * An active model version as one backend holds it: catalog metadata, the
 * native forest and, when needed, the XGBoost booster.  Owned by catalog.c's
 * cache; callers must not keep a pointer across anything that may process
 * invalidations.
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
	bool		xgb_gives_margin;	/* binary:logitraw: XGBoost predicts the
									 * margin, turned into the probability */
	struct XgbModel *xgb;		/* NULL unless the xgboost engine (or a model
								 * the forest cannot represent) needs it */
	struct Forest *forest;		/* native evaluator of the same trees, or NULL */
	struct LgbmForest *lgbm;	/* a LightGBM model's (always native), or NULL */
	MemoryContext trees_context;	/* owns xgb, forest, lgbm and explainer */
	struct Explainer *explainer;	/* built at the first explanation, or NULL */
	/* reason texts by feature (NULL: none); a direction: 1 raises, -1 lowers, 0 either */
	char	  **reason_text;
	int8	   *reason_direction;
	struct StatsSlot *stats_entry;	/* stats.c's counts for it, or NULL */
	double		shadow_fraction;	/* a challenger's share of rows; 0 otherwise */
} FraudModel;

extern void catalog_init(void);
extern Oid	catalog_extension_namespace(void);
extern const char *catalog_resolve_name(text *name_or_null);
extern FraudModel *catalog_get_active_model(const char *name);
extern FraudModel *catalog_cached_model(const char *name);
extern int	catalog_cached_shadows(FraudModel *active, FraudModel ***models);
extern int	catalog_shadow_models(FraudModel *active, FraudModel ***models);
extern void catalog_forget_shadows(FraudModel *active);
extern Oid	catalog_shadow_log_relid(void);
extern void catalog_check_writable(const char *operation);
extern FraudModel *catalog_load_version(const char *name, bool active, int32 version,
										Jsonb **reference);

/* ---------------------------------------------------------- history.c */
typedef struct HistoryReader
{
	const char *query_name;		/* for messages: "history_query" */
	struct PortalData *portal;
	struct SPITupleTable *batch;
	TupleDesc	desc;			/* the current batch's (freed with it) */
	uint64		next;			/* in batch */
	int64		rows;			/* read so far */
	MemoryContext batch_context;	/* reset before each batch */
} HistoryReader;

extern struct PortalData *history_open(const char *query, const char *query_name);
extern void history_start(HistoryReader *reader, const char *query, const char *query_name);
extern HeapTuple history_next(HistoryReader *reader);
extern int	history_column(HistoryReader *reader, const char *name, bool (*accepts) (Oid type),
						   const char *type_description, bool required);
extern bool history_is_number_type(Oid type);
extern double history_number(Datum value, Oid type);
extern Jsonb *history_document(HistoryReader *reader, HeapTuple tuple);
extern Jsonb *history_feature_output(FraudModel *model, Jsonb *doc);

/* ---------------------------------------------------------- scoring.c */
extern double *scoring_input_buffer(int num_features);
extern bool scoring_uses_xgboost(const FraudModel *model);
extern bool scoring_score(FraudModel *model, const double *inputs, double *score,
						  FraudFailure *failure);
extern const char *scoring_decision(FraudModel *model, double score);
extern int	scoring_band(const FraudModel *model, double score);
extern double scoring_margin(FraudModel *model, const double *inputs);
extern int	scoring_leaves(FraudModel *model, const double *inputs, int32 **leaves);
extern double scoring_explain(FraudModel *model, const double *inputs, int method, double *phi);
extern const char *scoring_explain_refusal(FraudModel *model);
extern FraudModel *scoring_model_with_features(const char *name, FraudModel *model,
											   Datum row_jsonb, Jsonb **extra);

/* ---------------------------------------------------------- reasons.c */
typedef struct Reason
{
	int			feature;
	double		value;			/* the input (NaN: missing) */
	double		contribution;	/* to the margin */
	const char *text;
} Reason;

extern int	reasons_rank(FraudModel *model, const double *inputs, int method, int top_k,
						 bool raising_only, Reason **reasons, double *bias);
extern const char *reasons_text(FraudModel *model, int f, double contribution);
extern Datum reasons_text_array(const Reason *reasons, int count);
extern Datum reasons_jsonb(FraudModel *model, const Reason *reasons, int count);

/* ------------------------------------------------------------ stats.c */
extern void stats_init(void);
extern uint64 stats_call_begin(void);
extern void stats_count_call(FraudModel *model, double score, uint64 started);
extern void stats_count_shadow_call(FraudModel *model, double score, uint64 started);
extern void stats_count_shadow_failure(const FraudModel *model, const char *message);
extern void stats_count_failure(const char *model_name, const FraudModel *model,
								OnErrorPolicy outcome, const char *message);

/* ----------------------------------------------------------- shadow.c */

/* What the active version made of a row, for the challengers' log. */
typedef struct ShadowChampion
{
	FraudModel *model;
	const char *name;			/* copied: a feature function may rebuild */
	int32		version;		/* the cached model in place */
	double		score;
	const char *decision;
} ShadowChampion;

extern void shadow_init(void);
extern bool shadow_has_challengers(FraudModel *active);
extern void shadow_score_row(const ShadowChampion *champion, Relation rel,
							 const RowJsonLayout *layout, const Datum *values,
							 const bool *nulls);

/* ------------------------------------------------------------ drift.c */
extern Jsonb *drift_reference_from_matrix(const float *x, const double *scores, int64 nrow,
										  int num_features, char **feature_names,
										  const char *source);
extern void drift_store_reference(const char *schema, const char *name, int32 version,
								  Jsonb *reference);

/* ---------------------------------------------------------- metrics.c */

/* Ranking quality of scores against 0/1 labels. */
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

/* ---------------------------------------------------------- trigger.c */
extern void trigger_init(void);

#endif							/* FRAUD_SCORE_H */
