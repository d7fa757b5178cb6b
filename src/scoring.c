/*-------------------------------------------------------------------------
 *
 * scoring.c
 *		The scoring core both entry points share (score.c for SQL calls,
 *		trigger.c for rows): the model a row is scored with once its feature
 *		function has run, the engine that scores it, and its decision band.
 *
 * Which errors may become outcomes is guard.c's; this file reports the one
 * failure of its own (a score that is not a number) through a FraudFailure,
 * so that the trigger needs no subtransaction for the native engine.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "fraud_score.h"
#include "explain.h"
#include "forest.h"
#include "lgbmforest.h"
#include "xgb.h"

/* One input row, reused by every call in this backend. */
double *
scoring_input_buffer(int num_features)
{
	static double *buffer = NULL;
	static int	capacity = 0;

	if (num_features > capacity)
	{
		if (buffer)
			pfree(buffer);
		buffer = MemoryContextAlloc(TopMemoryContext, sizeof(double) * Max(num_features, 1));
		capacity = num_features;
	}
	return buffer;
}

/* An input row as XGBoost takes it, in a buffer reused by every call. */
static const float *
single_precision(const double *inputs, int num_features)
{
	static float *buffer = NULL;
	static int	capacity = 0;

	if (num_features > capacity)
	{
		if (buffer)
			pfree(buffer);
		buffer = MemoryContextAlloc(TopMemoryContext, sizeof(float) * Max(num_features, 1));
		capacity = num_features;
	}
	for (int f = 0; f < num_features; f++)
		buffer[f] = (float) inputs[f];
	return buffer;
}

/*
 * The raw score before the objective's transform (XGBoost's margin, in
 * float; LightGBM's raw score, averaged for average_output), always from
 * the native evaluator.
 */
double
scoring_margin(FraudModel *model, const double *inputs)
{
	if (model->lgbm != NULL)
		return lgbm_forest_raw(model->lgbm, inputs);
	if (model->forest == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud model \"%s\" version %d has no native evaluator to give its margin",
						model->name, model->version),
				 errdetail("A tree has more nodes than the native evaluator represents; the xgboost engine scores the model.")));
	return forest_margin(model->forest, inputs);
}

/* The model's explainer, built in its own context under the model's trees at first use. */
static Explainer *
model_explainer(FraudModel *model)
{
	MemoryContext context;

	if (model->explainer != NULL)
		return model->explainer;
	if (model->forest == NULL && model->lgbm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud model \"%s\" version %d has no native evaluator to explain it",
						model->name, model->version),
				 errdetail("A tree has more nodes than the native evaluator represents.")));
	context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score explainer",
									ALLOCSET_DEFAULT_SIZES);
	model->explainer = model->lgbm != NULL ? explainer_build_lgbm(model->lgbm, context) :
		explainer_build_xgboost(model->forest, context);
	/* Built: adopt. */
	MemoryContextSetParent(context, model->trees_context);
	elog(DEBUG1, "fraud_score explainer of model \"%s\" version %d: %zu bytes",
		 model->name, model->version, model->explainer->bytes);
	return model->explainer;
}

/* XGBoost's own contributions: only with the xgboost engine, which loads its booster. */
static double
xgboost_contributions(FraudModel *model, const double *inputs, bool approximate, double *phi)
{
	double	   *out;
	double		bias;

	if (model->lgbm != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud model \"%s\" is a LightGBM model, which XGBoost cannot explain",
						model->name),
				 errhint("Use method => 'tree_shap'.")));
	if (model->xgb == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("explaining with XGBoost needs the xgboost engine"),
				 errhint("SET fraud_score.engine = xgboost first.")));
	out = palloc(sizeof(double) * (model->num_features + 1));
	xgb_contributions(model->xgb, single_precision(inputs, model->num_features), approximate, out);
	memcpy(phi, out, sizeof(double) * model->num_features);
	bias = out[model->num_features];
	pfree(out);
	return bias;
}

/*
 * Each feature's contribution to the margin of "inputs" into
 * phi[num_features]; returns the bias, so that the bias plus the
 * contributions is the margin.  "method" is an ExplainMethod.
 */
double
scoring_explain(FraudModel *model, const double *inputs, int method, double *phi)
{
	if (method == EXPLAIN_XGBOOST || method == EXPLAIN_XGBOOST_APPROX)
		return xgboost_contributions(model, inputs, method == EXPLAIN_XGBOOST_APPROX, phi);
	return explainer_explain(model_explainer(model), inputs, (ExplainMethod) method, phi);
}

/* Why "model" cannot be explained, without raising; NULL if it can. */
const char *
scoring_explain_refusal(FraudModel *model)
{
	return model->explainer != NULL ? NULL : explainer_refusal(model->forest, model->lgbm);
}

/* The leaf each tree of a LightGBM model reaches, into *leaves; the tree count. */
int
scoring_leaves(FraudModel *model, const double *inputs, int32 **leaves)
{
	if (model->lgbm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud model \"%s\" is not a LightGBM model", model->name),
				 errdetail("Leaf indices are LightGBM's; fraud_score keeps no XGBoost leaf numbering.")));
	*leaves = palloc(sizeof(int32) * Max(model->lgbm->num_trees, 1));
	lgbm_forest_leaves(model->lgbm, inputs, *leaves);
	return model->lgbm->num_trees;
}

/*
 * Whether scoring_score would ask XGBoost (which raises its own errors): the
 * xgboost engine, or a model the native evaluator cannot represent.
 */
bool
scoring_uses_xgboost(const FraudModel *model)
{
	return model->lgbm == NULL &&
		!((fraud_score_engine == ENGINE_NATIVE || model->xgb == NULL) && model->forest != NULL);
}

/*
 * Score one input row into *score.  With the native engine this is plain C:
 * given a "failure", a NaN score is reported there and false returned.  The
 * xgboost engine raises its own errors (xgb.c), so callers that turn
 * failures into outcomes run it in a subtransaction.
 */
bool
scoring_score(FraudModel *model, const double *inputs, double *score, FraudFailure *failure)
{
	/*
	 * catalog.c loads a booster whenever the xgboost engine is on or the
	 * model has no forest; only a feature function that changed the engine
	 * mid-call would find neither, and then the forest answers.
	 */
	if (model->lgbm != NULL)
		*score = lgbm_forest_predict(model->lgbm, inputs);
	else if (!scoring_uses_xgboost(model))
		*score = forest_predict(model->forest, inputs);
	else if (model->xgb != NULL)
	{
		*score = xgb_predict_one(model->xgb, single_precision(inputs, model->num_features));
		/* the forest's own sigmoid, so that both engines agree to the bit */
		if (model->xgb_gives_margin)
			*score = forest_probability((float) *score);
	}
	else
		elog(ERROR, "fraud model \"%s\" version %d is loaded for neither engine",
			 model->name, model->version);

	/* Validation keeps leaves finite; never let a NaN fall through to approve. */
	if (isnan(*score))
	{
		failure_set(failure, ERRCODE_DATA_EXCEPTION,
					psprintf("fraud model \"%s\" version %d produced a score that is not a number",
							 model->name, model->version),
					NULL);
		return false;
	}
	return true;
}

/* The decision band of a score: 0 approve, 1 review, 2 decline. */
int
scoring_band(const FraudModel *model, double score)
{
	if (score >= model->decline_threshold)
		return 2;
	if (score >= model->review_threshold)
		return 1;
	return 0;
}

const char *
scoring_decision(FraudModel *model, double score)
{
	static const char *const decisions[] = {"approve", "review", "decline"};

	return decisions[scoring_band(model, score)];
}

/*
 * Given the active model "name" (just looked up), the model to score with
 * and, if it names a feature function, that function's output for the row
 * in *extra.  The function runs SQL, which may process invalidations and
 * rebuild the cached model: look the model up again after it, and call
 * again in the rare case that the new version names another function.
 */
FraudModel *
scoring_model_with_features(const char *name, FraudModel *model, Datum row_jsonb, Jsonb **extra)
{
	Oid			called = InvalidOid;

	*extra = NULL;
	for (int attempt = 0;; attempt++)
	{
		if (!OidIsValid(model->feature_function) || model->feature_function == called)
		{
			if (!OidIsValid(model->feature_function))
				*extra = NULL;
			return model;
		}
		if (attempt >= 3)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("fraud model \"%s\" kept changing its feature function during scoring", name)));
		called = model->feature_function;
		*extra = featurefn_call(called, row_jsonb);
		model = catalog_get_active_model(name);
	}
}
