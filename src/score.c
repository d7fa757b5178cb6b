/*-------------------------------------------------------------------------
 *
 * score.c
 *		SQL entry points for scoring and model checking; kept thin.
 *
 * fraud_score(jsonb, text), fraud_decide(jsonb, text) and
 * fraud_model_check(bytea, text[]) resolve their arguments and hand over
 * to catalog.c, features.c, model.c and xgb.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "fraud_score.h"
#include "forest.h"
#include "xgb.h"

PG_FUNCTION_INFO_V1(fraud_score_jsonb);
PG_FUNCTION_INFO_V1(fraud_decide_jsonb);
PG_FUNCTION_INFO_V1(fraud_model_check);
PG_FUNCTION_INFO_V1(fraud_score_features);

/* One input row, reused by every call in this backend. */
float *
score_feature_buffer(int num_features)
{
	static float *buffer = NULL;
	static int	capacity = 0;

	if (num_features > capacity)
	{
		if (buffer)
			pfree(buffer);
		buffer = MemoryContextAlloc(TopMemoryContext, sizeof(float) * num_features);
		capacity = num_features;
	}
	return buffer;
}

double
score_features(FraudModel *model, const float *features)
{
	double		score;

	/*
	 * catalog.c loads a booster whenever the xgboost engine is on or the
	 * model has no forest; only a feature function that changed the engine
	 * mid-call would find neither, and then the forest answers.
	 */
	if ((fraud_score_engine == ENGINE_NATIVE || model->xgb == NULL) && model->forest != NULL)
		score = forest_predict(model->forest, features);
	else if (model->xgb != NULL)
		score = xgb_predict_one(model->xgb, features);
	else
		elog(ERROR, "fraud model \"%s\" version %d is loaded for neither engine",
			 model->name, model->version);

	/* Validation keeps leaves finite; never let a NaN fall through to approve. */
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fraud model \"%s\" version %d produced a score that is not a number",
						model->name, model->version)));
	return score;
}

/*
 * Whether an error belongs to the transaction or the server rather than to
 * the row (or model) being handled: a cancel or shutdown (class 57), a
 * deadlock or serialization failure (class 40, which the client must
 * retry), exhausted resources (53) or a system error (58).  Such errors are
 * raised as they are wherever fraud_score otherwise turns a failure into an
 * outcome (fraud_score.on_error, storing an unusable model).  A lock
 * timeout in a feature function is the row's failure: its data was not
 * available in time.
 */
bool
error_is_not_the_rows(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
			return true;
		default:
			return false;
	}
}

const char *
score_decision(FraudModel *model, double score)
{
	if (score >= model->decline_threshold)
		return "decline";
	if (score >= model->review_threshold)
		return "review";
	return "approve";
}

/*
 * One FmgrInfo per feature function for the life of the backend: SQL and
 * PL/pgSQL functions keep their cached plans in it, and it must not live in
 * a model cache entry that a nested call could rebuild while it runs.
 */
static uint64 proc_changes = 0;	/* bumped by any pg_proc invalidation */

static void
score_proc_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	proc_changes++;
}

/*
 * A feature function's FmgrInfo.  After any change to pg_proc a fresh one is
 * made (CREATE OR REPLACE may change the language); the old one is left
 * allocated, because a call through it may still be running.
 */
static FmgrInfo *
feature_function_info(Oid fn)
{
	static HTAB *infos = NULL;
	struct
	{
		Oid			fn;
		uint64		proc_changes;
		FmgrInfo   *info;
	}		   *entry;
	bool		found;

	if (infos == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(*entry);
		ctl.hcxt = TopMemoryContext;
		infos = hash_create("fraud_score feature functions", 8, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterSyscacheCallback(PROCOID, score_proc_callback, (Datum) 0);
	}
	entry = hash_search(infos, &fn, HASH_ENTER, &found);
	if (!found || entry->info == NULL || entry->proc_changes != proc_changes)
	{
		FmgrInfo   *info = MemoryContextAllocZero(TopMemoryContext, sizeof(FmgrInfo));

		entry->info = NULL;
		fmgr_info_cxt(fn, info, TopMemoryContext);
		entry->info = info;
		entry->proc_changes = proc_changes;
	}
	return entry->info;
}

/*
 * What a feature function must be, checked whenever a backend loads a model
 * (the catalog column can be written directly, and functions can be
 * replaced): (jsonb) RETURNS jsonb, a plain function, and owned by a
 * superuser.  It runs with the rights of whoever scores, possibly a
 * superuser, so only a role trusted with every right may have written it.
 */
void
score_check_feature_function(Oid fn)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	if (proc->prokind != PROKIND_FUNCTION || proc->proretset || proc->pronargs != 1 ||
		proc->proargtypes.values[0] != JSONBOID || proc->prorettype != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("feature function %s must take one jsonb argument and return jsonb",
						format_procedure(fn))));
	if (!superuser_arg(proc->proowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("feature function %s must be owned by a superuser", format_procedure(fn)),
				 errdetail("It runs with the privileges of every role that scores with the model."),
				 errhint("Create it as a superuser, or ALTER FUNCTION ... OWNER TO a superuser.")));
	ReleaseSysCache(tuple);
}

static Jsonb *
call_feature_function(Oid fn, Datum row_jsonb)
{
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo   *info;
	AclResult	aclresult;
	Datum		result;
	Jsonb	   *extra;

	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
	/* fraud_score is PARALLEL SAFE; its feature function must be too there. */
	if (IsInParallelMode() && func_parallel(fn) != PROPARALLEL_SAFE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("feature function %s is not parallel safe", format_procedure(fn)),
				 errhint("Mark it PARALLEL SAFE if it only reads, or score outside parallel queries.")));

	info = feature_function_info(fn);
	InitFunctionCallInfoData(*fcinfo, info, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = row_jsonb;
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		return NULL;			/* no extra features */
	extra = DatumGetJsonbP(result);
	if (!JB_ROOT_IS_OBJECT(extra) || JB_ROOT_IS_SCALAR(extra))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature function %s must return a JSON object",
						format_procedure(fn)),
				 errdetail("It returned a JSON %s.", JB_ROOT_IS_SCALAR(extra) ? "scalar" : "array")));
	return extra;
}

/*
 * Given the active model "name" (just looked up), the model to score with
 * and, if it names a feature function, that function's output for the row.  The function runs SQL, which may process
 * invalidations and rebuild the cached model: look the model up again after
 * it, and call again in the rare case that the new version names another
 * function.
 */
FraudModel *
score_model_with_features(const char *name, FraudModel *model, Datum row_jsonb, Jsonb **extra)
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
		*extra = call_feature_function(called, row_jsonb);
		model = catalog_get_active_model(name);
	}
}

/* NEW as jsonb, the way to_jsonb(NEW) would give it to a feature function. */
Datum
score_tuple_to_jsonb(HeapTuple tuple, TupleDesc tupdesc)
{
	Datum		row = heap_copy_tuple_as_datum(tuple, tupdesc);
	text	   *json = DatumGetTextPP(DirectFunctionCall1(row_to_json, row));

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(json)));
}

/*
 * The input row for fraud_score's (features jsonb, model text) arguments,
 * feature function included, and the model it is for.
 */
static float *
jsonb_args_inputs(FunctionCallInfo fcinfo, FraudModel **model_out)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	const char *name = catalog_resolve_name(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	Jsonb	   *extra;
	FraudModel *model = score_model_with_features(name, catalog_get_active_model(name),
												  JsonbPGetDatum(doc), &extra);
	float	   *row = score_feature_buffer(model->num_features);

	features_from_jsonb(model->keys, doc, extra, row);
	*model_out = model;
	return row;
}

static FraudModel *
score_jsonb_args(FunctionCallInfo fcinfo, double *score)
{
	FraudModel *model;
	float	   *row = jsonb_args_inputs(fcinfo, &model);

	*score = score_features(model, row);
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
	float	   *row;
	Datum	   *values;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	row = jsonb_args_inputs(fcinfo, &model);

	values = palloc(sizeof(Datum) * model->num_features);
	for (int i = 0; i < model->num_features; i++)
		values[i] = Float4GetDatum(row[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(values, model->num_features, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
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
	values[1] = CStringGetTextDatum(score_decision(model, score));
	values[2] = CStringGetTextDatum(model->name);
	values[3] = Int32GetDatum(model->version);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
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
 * fraud_model_check(model bytea, features text[]): validate model bytes and
 * return them as XGBoost UBJSON, with the feature names to store.
 */
Datum
fraud_model_check(PG_FUNCTION_ARGS)
{
	bytea	   *bytes;
	ModelInfo	info;
	char	  **names;
	int			num_names;
	bytea	   *ubjson;
	ModelInfo	stored;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	Datum	   *name_datums;

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
				 errhint("Pass the names, in the model's feature order, in the features argument.")));
	model_check_feature_names(names, num_names, info.num_features);

	ubjson = xgb_to_ubjson(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), names, num_names);
	/* What is stored must pass the check every backend makes before loading. */
	model_validate(VARDATA(ubjson), VARSIZE(ubjson) - VARHDRSZ, &stored, NULL);

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
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
