/*-------------------------------------------------------------------------
 *
 * score.c
 *		SQL entry points for scoring and model checking; kept thin.
 *
 * fraud_score(jsonb, text), fraud_decide(jsonb, text) and
 * fraud_score_features(jsonb, text) resolve their arguments and hand over
 * to catalog.c (the model), scoring.c (feature function, engine, decision)
 * and features.c (the input row); fraud_model_check(bytea, text[]) to
 * model.c and xgb.c.  No other file calls into this one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "fraud_score.h"
#include "explain.h"
#include "xgb.h"

FRAUD_SQL_FUNCTION(fraud_score_jsonb);
FRAUD_SQL_FUNCTION(fraud_decide_jsonb);
FRAUD_SQL_FUNCTION(fraud_model_check);
FRAUD_SQL_FUNCTION(fraud_score_features);
FRAUD_SQL_FUNCTION(fraud_score_margin);
FRAUD_SQL_FUNCTION(fraud_score_leaves);
FRAUD_SQL_FUNCTION(fraud_explain);
FRAUD_SQL_FUNCTION(fraud_explain_bias);
FRAUD_SQL_FUNCTION(fraud_model_check_writable);

/* fraud_explain's method argument as an ExplainMethod. */
static int
explain_method(text *name)
{
	char	   *method = text_to_cstring(name);

	if (strcmp(method, "tree_shap") == 0)
		return EXPLAIN_TREE_SHAP;
	if (strcmp(method, "saabas") == 0)
		return EXPLAIN_SAABAS;
	if (strcmp(method, "exhaustive") == 0)
		return EXPLAIN_EXHAUSTIVE;
	if (strcmp(method, "xgboost") == 0)
		return EXPLAIN_XGBOOST;
	if (strcmp(method, "xgboost_approx") == 0)
		return EXPLAIN_XGBOOST_APPROX;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown explanation method \"%s\"", method),
			 errhint("The methods are tree_shap (exact, the default), saabas (approximate), exhaustive (exact, every feature subset), xgboost and xgboost_approx (XGBoost's own, with the xgboost engine).")));
	return EXPLAIN_TREE_SHAP;	/* keep compiler quiet */
}

/*
 * The input row for fraud_score's (features jsonb, model text) arguments,
 * feature function included, and the model it is for.
 */
static double *
jsonb_args_inputs(FunctionCallInfo fcinfo, FraudModel **model_out)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	const char *name = catalog_resolve_name(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	Jsonb	   *extra;
	FraudModel *model = scoring_model_with_features(name, catalog_get_active_model(name),
													JsonbPGetDatum(doc), &extra);
	double	   *row = scoring_input_buffer(model->num_features);

	features_from_jsonb(model->keys, doc, extra, row);
	*model_out = model;
	return row;
}

static FraudModel *
score_jsonb_args(FunctionCallInfo fcinfo, double *score)
{
	uint64		started = stats_call_begin();
	FraudModel *model;
	double	   *row = jsonb_args_inputs(fcinfo, &model);

	(void) scoring_score(model, row, score, NULL);
	stats_count_call(model, *score, started);
	return model;
}

Datum
fraud_score_jsonb(PG_FUNCTION_ARGS)
{
	double		score;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	(void) score_jsonb_args(fcinfo, &score);
	PG_RETURN_FLOAT8(score);
}

/*
 * The model's input row for a document, as fraud_score would build it
 * (feature function included): what the trees see, NaN for missing.
 */
Datum
fraud_score_features(PG_FUNCTION_ARGS)
{
	FraudModel *model;
	double	   *row;
	Datum	   *values;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	row = jsonb_args_inputs(fcinfo, &model);

	values = palloc(sizeof(Datum) * model->num_features);
	for (int i = 0; i < model->num_features; i++)
		values[i] = Float4GetDatum((float4) row[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, model->num_features, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
}

/*
 * fraud_score_margin(features jsonb, model text): the raw score before the
 * objective's transform (XGBoost's margin, LightGBM's raw score).
 */
Datum
fraud_score_margin(PG_FUNCTION_ARGS)
{
	FraudModel *model;
	double	   *row;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	row = jsonb_args_inputs(fcinfo, &model);
	PG_RETURN_FLOAT8(scoring_margin(model, row));
}

/*
 * fraud_score_leaves(features jsonb, model text): the leaf each tree of a
 * LightGBM model reaches (LightGBM's pred_leaf).
 */
Datum
fraud_score_leaves(PG_FUNCTION_ARGS)
{
	FraudModel *model;
	double	   *row;
	int32	   *leaves;
	Datum	   *values;
	int			n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	row = jsonb_args_inputs(fcinfo, &model);
	n = scoring_leaves(model, row, &leaves);
	values = palloc(sizeof(Datum) * Max(n, 1));
	for (int t = 0; t < n; t++)
		values[t] = Int32GetDatum(leaves[t]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * fraud_explain(features jsonb, model text, top_k integer, method text):
 * (feature, value, contribution, reason) for the features whose
 * contribution to the margin is not zero, largest |contribution| first,
 * at most top_k rows (all if NULL).
 */
Datum
fraud_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FraudModel *model;
	double	   *row;
	Reason	   *reasons;
	double		bias;
	int			top_k = PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2);
	int			method = PG_ARGISNULL(3) ? EXPLAIN_TREE_SHAP : explain_method(PG_GETARG_TEXT_PP(3));
	int			count;

	if (!PG_ARGISNULL(2) && top_k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_k must not be negative"),
				 errhint("Pass NULL for every contribution.")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	row = jsonb_args_inputs(fcinfo, &model);
	count = reasons_rank(model, row, method, top_k, false, &reasons, &bias);
	for (int i = 0; i < count; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(model->feature_names[reasons[i].feature]);
		values[1] = Float8GetDatum(reasons[i].value);
		nulls[1] = isnan(reasons[i].value);
		values[2] = Float8GetDatum(reasons[i].contribution);
		values[3] = CStringGetTextDatum(reasons[i].text);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * fraud_explain_bias(model text, method text): what fraud_explain's
 * contributions are relative to, the model's expected margin (the same for
 * every row), so that it plus every contribution is the margin.
 */
Datum
fraud_explain_bias(PG_FUNCTION_ARGS)
{
	const char *name = catalog_resolve_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	int			method = PG_ARGISNULL(1) ? EXPLAIN_TREE_SHAP : explain_method(PG_GETARG_TEXT_PP(1));
	FraudModel *model = catalog_get_active_model(name);
	double	   *row = scoring_input_buffer(model->num_features);
	double	   *phi = palloc(sizeof(double) * Max(model->num_features, 1));

	/* the bias does not depend on the row: ask with every feature missing */
	for (int f = 0; f < model->num_features; f++)
		row[f] = NAN;
	PG_RETURN_FLOAT8(scoring_explain(model, row, method, phi));
}

Datum
fraud_decide_jsonb(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	FraudModel *model;
	double		score;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fraud_decide must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);

	model = score_jsonb_args(fcinfo, &score);
	values[0] = Float8GetDatum(score);
	values[1] = CStringGetTextDatum(scoring_decision(model, score));
	values[2] = CStringGetTextDatum(model->name);
	values[3] = Int32GetDatum(model->version);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * XGBoost 1.7.4 re-saves every model fraud_score stores: it must have read
 * what validation read (a later XGBoost's field it would misread is
 * normalized first, model_normalize).
 */
static void
check_same_model(const ModelInfo *given, const ModelInfo *stored)
{
	if ((float) given->base_score != (float) stored->base_score ||
		given->num_trees != stored->num_trees || given->num_nodes != stored->num_nodes ||
		given->num_features != stored->num_features ||
		given->num_category_words != stored->num_category_words ||
		strcmp(given->objective, stored->objective) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost %s read the model differently from fraud_score", "1.7.4"),
				 errdetail("fraud_score read %s with %d trees of %d nodes, %d features, base_score %g and %lld words of category sets; XGBoost re-saved %s, %d, %d, %d, %g and %lld.",
						   given->objective, given->num_trees, given->num_nodes, given->num_features,
						   given->base_score, (long long) given->num_category_words,
						   stored->objective, stored->num_trees, stored->num_nodes,
						   stored->num_features, stored->base_score,
						   (long long) stored->num_category_words),
				 errhint("Save the model with XGBoost 1.7 or later as JSON or UBJSON, and report the model if it still fails.")));
}

static char **
feature_names_from_array(ArrayType *array, int *count)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **names;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, count);
	names = palloc(sizeof(char *) * Max(*count, 1));
	for (int i = 0; i < *count; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature name %d is null", i + 1)));
		names[i] = TextDatumGetCString(elems[i]);
	}
	return names;
}

/*
 * fraud_model_check(model bytea, features text[], categories jsonb): validate
 * model bytes and return the bytes to store (XGBoost UBJSON, or a LightGBM
 * text model as given), with the feature names, the categories document,
 * the library and the format version.  (0.3's SQL definition has neither the
 * categories argument nor the last three columns.)
 */
Datum
fraud_model_check(PG_FUNCTION_ARGS)
{
	bytea	   *bytes;
	ModelInfo	info;
	char	  **names;
	int			num_names;
	bytea	   *ubjson;
	bytea	   *normalized;
	ModelInfo	stored;
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10] = {0};
	Datum	   *name_datums;
	Jsonb	   *categories;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	bytes = PG_GETARG_BYTEA_PP(0);
	model_validate(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), &info, NULL);

	if (!PG_ARGISNULL(1))
		names = feature_names_from_array(PG_GETARG_ARRAYTYPE_P(1), &num_names);
	else if (info.feature_names != NULL)
	{
		names = info.feature_names;
		num_names = info.num_features;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model has no feature names"),
				 errdetail("The model has %d features and does not name them.", info.num_features),
				 errhint("Pass the names, in the model's feature order, in the features argument (XGBoost calls them f0 to f%d).",
						 info.num_features - 1)));
	model_check_feature_names(names, num_names, info.num_features);
	categories = categories_effective(&info, names,
									  PG_NARGS() > 2 && !PG_ARGISNULL(2) ? PG_GETARG_JSONB_P(2) : NULL);

	if (strcmp(info.library, "lightgbm") == 0)
	{
		/* stored as given: no XGBoost reads it */
		ubjson = (bytea *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	}
	else
	{
		normalized = model_normalize(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), &info);
		ubjson = normalized != NULL ?
			xgb_to_ubjson(VARDATA(normalized), VARSIZE(normalized) - VARHDRSZ,
						  model_feature_names_to_utf8(names, num_names), num_names) :
			xgb_to_ubjson(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes),
						  model_feature_names_to_utf8(names, num_names), num_names);
		/* What is stored must pass the check every backend makes before loading. */
		model_validate(VARDATA(ubjson), VARSIZE(ubjson) - VARHDRSZ, &stored, NULL);
		check_same_model(&info, &stored);
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fraud_model_check must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);

	name_datums = palloc(sizeof(Datum) * num_names);
	for (int i = 0; i < num_names; i++)
		name_datums[i] = CStringGetTextDatum(names[i]);
	values[0] = CStringGetTextDatum(info.format);
	values[1] = CStringGetTextDatum(info.objective);
	values[2] = Int32GetDatum(info.num_features);
	values[3] = Int32GetDatum(info.num_trees);
	values[4] = Int32GetDatum(info.num_nodes);
	values[5] = PointerGetDatum(construct_array(name_datums, num_names, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[6] = PointerGetDatum(ubjson);
	values[7] = PointerGetDatum(categories);
	nulls[7] = categories == NULL;
	values[8] = CStringGetTextDatum(info.library);
	values[9] = CStringGetTextDatum(info.format_version);
	if (tupdesc->natts > (int) lengthof(values))
		elog(ERROR, "fraud_model_check must return at most %d columns", (int) lengthof(values));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * fraud_model_check_writable(operation): raises PostgreSQL's read-only
 * error naming the operation on a standby or in a read-only transaction;
 * the administration functions call it first.
 */
Datum
fraud_model_check_writable(PG_FUNCTION_ARGS)
{
	catalog_check_writable(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
