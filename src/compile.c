/*-------------------------------------------------------------------------
 *
 * compile.c
 *		Model bytes compiled for the native evaluator, and stored so.
 *
 * Owns the compiled forest stored with each catalog row: the row trigger
 * fraud_score_models_compile (BEFORE INSERT OR UPDATE OF model, sha256 on
 * fraud_score_models) that validates the row's bytes (model.c), builds the
 * forest (forest.c's builder) and stores it in forest_to_bytes form; and
 * reading a stored forest back for catalog.c, which checks it in full
 * (forest_from_bytes) before any backend walks it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/dependency.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fraud_score.h"
#include "forest.h"
#include "lgbmforest.h"

FRAUD_SQL_FUNCTION(fraud_score_models_compile);

/*
 * The forest compiled from model bytes, as stored bytes, or NULL if the
 * native evaluator cannot represent the model.  Errors propagate.
 */
bytea *
compile_model(const char *data, Size len, const char *sha256)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext,
											   "fraud_score model compile",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(work);
	bytea	   *result = NULL;
	ModelInfo	info;

	model_validate(data, len, &info, work);
	MemoryContextSwitchTo(old);
	if (info.forest != NULL)
		result = forest_to_bytes(info.forest, sha256);
	else if (info.lgbm != NULL)
		result = lgbm_forest_to_bytes(info.lgbm, sha256);
	MemoryContextDelete(work);
	return result;
}

/*
 * A stored forest, checked in full, into *forest (XGBoost) or *lgbm
 * (LightGBM); neither if it cannot be used (written elsewhere, for other
 * bytes, or damaged): the caller then compiles the model bytes itself.
 */
void
compile_stored_forest(bytea *stored, const char *sha256, int num_features,
					  MemoryContext context, Forest **forest, LgbmForest **lgbm)
{
	const char *why = NULL;
	const char *data = VARDATA_ANY(stored);
	Size		len = VARSIZE_ANY_EXHDR(stored);

	*forest = NULL;
	*lgbm = NULL;
	if (lgbm_forest_bytes_are_lgbm(data, len))
		*lgbm = lgbm_forest_from_bytes(data, len, sha256, num_features, context, &why);
	else
		*forest = forest_from_bytes(data, len, sha256, num_features, context, &why);
	if (why != NULL)
		ereport(DEBUG1,
				(errmsg_internal("fraud_score: not using the stored forest: %s", why)));
}

/* The extension's catalog table, and nothing else, has this trigger. */
static bool
is_models_table(Relation rel)
{
	Oid			extension = get_extension_oid("fraud_score", true);

	return strcmp(RelationGetRelationName(rel), "fraud_score_models") == 0 &&
		OidIsValid(extension) &&
		getExtensionOfObject(RelationRelationId, RelationGetRelid(rel)) == extension;
}

typedef struct CompileStep
{
	bytea	   *model;
	const char *sha256;
	bytea	   *compiled;
} CompileStep;

static void
compile_step(void *arg)
{
	CompileStep *step = arg;

	step->compiled = compile_model(VARDATA_ANY(step->model), VARSIZE_ANY_EXHDR(step->model),
								   step->sha256);
}

/*
 * Row trigger on the catalog, BEFORE INSERT OR UPDATE OF model, sha256:
 * store the compiled forest of the row's model bytes, or NULL when the
 * native evaluator cannot represent the model.
 *
 * Bytes that do not validate are stored anyway, with a NULL forest and a
 * WARNING: fraud_model_load() has refused them already, so they come from
 * a direct write or a restore, and refusing them would make pg_restore
 * drop every model of the database with this one.  Every backend validates
 * the bytes again before it uses them and reports the error then.
 */
Datum
fraud_score_models_compile(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	AttrNumber	forest_att;
	bool		model_null;
	bool		sha_null;
	Datum		model_datum;
	Datum		sha_datum;
	int			columns[1];
	Datum		values[1] = {(Datum) 0};
	bool		nulls[1] = {true};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_models_compile() must be a BEFORE INSERT OR UPDATE row trigger")));
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	forest_att = get_attnum(RelationGetRelid(rel), "forest");
	if (!is_models_table(rel) || forest_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_models_compile() is only for the table fraud_score_models")));

	model_datum = heap_getattr(tuple, get_attnum(RelationGetRelid(rel), "model"), desc, &model_null);
	sha_datum = heap_getattr(tuple, get_attnum(RelationGetRelid(rel), "sha256"), desc, &sha_null);
	if (!model_null && !sha_null)
	{
		CompileStep step = {DatumGetByteaPP(model_datum), TextDatumGetCString(sha_datum), NULL};
		FraudFailure failure = {0};

		if (guard_run(compile_step, &step, &failure))
		{
			values[0] = PointerGetDatum(step.compiled);
			nulls[0] = step.compiled == NULL;
		}
		else
		{
			bool		isnull;
			Datum		name = heap_getattr(tuple, get_attnum(RelationGetRelid(rel), "name"),
											desc, &isnull);
			Datum		version = heap_getattr(tuple, get_attnum(RelationGetRelid(rel), "version"),
											   desc, &isnull);

			ereport(WARNING,
					(errcode(failure.sqlerrcode),
					 errmsg("fraud model \"%s\" version %d is stored, but it is not a usable model: %s",
							TextDatumGetCString(name), DatumGetInt32(version), failure.message),
					 failure.detail ? errdetail_internal("%s", failure.detail) : 0,
					 errhint("Scoring with it will fail until a valid model is loaded.")));
		}
	}
	columns[0] = forest_att;
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, columns, values, nulls));
}
