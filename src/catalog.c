/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The model catalog as backends read it, and the per-backend cache of
 *		active models.
 *
 * Owns: finding the active version of a model name in fraud_score_models,
 * loading it once per backend, and dropping cached models when the catalog
 * changes.
 *
 * Invalidation follows pg_cron: a statement trigger on the catalog table
 * (fraud_score_models_changed) sends a relcache invalidation for the table.
 * Other backends receive it after commit, this backend at its next command,
 * and a rolled-back transaction replays it locally at abort; our relcache
 * callback then marks every cached entry stale.  A stale entry re-reads its
 * catalog row and keeps its booster when the model's sha256 is unchanged.
 *
 * The catalog is read with a catalog snapshot through the partial unique
 * index on active rows, without an ACL check: scoring needs no privilege on
 * the table, so a DBA may revoke SELECT on the model bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "access/skey.h"
#include "access/xact.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "fraud_score.h"
#include "forest.h"
#include "xgb.h"

#define MODELS_TABLE "fraud_score_models"
#define MODELS_ACTIVE_INDEX "fraud_score_models_active_idx"
#define MODELS_PKEY_INDEX "fraud_score_models_pkey"

/* Columns of fraud_score_models, in table order. */
enum
{
	Anum_name = 1,
	Anum_version,
	Anum_model,
	Anum_sha256,
	Anum_features,
	Anum_num_features,
	Anum_objective,
	Anum_review_threshold,
	Anum_decline_threshold,
	Anum_active,
	Natts_models_min = Anum_active
};

typedef struct CacheEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	bool		valid;
	MemoryContext meta_context; /* feature names; NULL if never loaded */
	MemoryContext booster_context;	/* owns model.xgb; NULL if never loaded */
	char		sha256[65];
	FraudModel	model;
} CacheEntry;

static HTAB *model_cache = NULL;
static MemoryContext cache_context = NULL;
static Oid	models_relid = InvalidOid;
static uint32 next_generation = 1;

/*
 * Bumped by every invalidation that concerns the catalog.  Loading an entry
 * can itself process invalidations (locks, detoasting); an entry whose load
 * saw the count change is used once but not kept.
 */
static uint64 catalog_invalidations = 0;

PG_FUNCTION_INFO_V1(fraud_score_models_changed);
PG_FUNCTION_INFO_V1(fraud_score_models_compile);

static void
catalog_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CacheEntry *entry;

	/*
	 * While the table's OID is not known (after a reset, or before the first
	 * load), any relation may be it.
	 */
	if (relid != InvalidOid && OidIsValid(models_relid) && relid != models_relid)
		return;
	catalog_invalidations++;
	/* The table may have been dropped and recreated: look it up again. */
	models_relid = InvalidOid;
	if (model_cache == NULL)
		return;
	hash_seq_init(&status, model_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/*
 * A function changed (CREATE OR REPLACE, ALTER, DROP): models re-resolve
 * and re-check their feature function's name at their next use.
 */
static void
catalog_proc_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	CacheEntry *entry;

	if (model_cache == NULL)
		return;
	hash_seq_init(&status, model_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (OidIsValid(entry->model.feature_function))
			entry->valid = false;
}

void
catalog_init(void)
{
	CacheRegisterRelcacheCallback(catalog_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, catalog_proc_callback, (Datum) 0);
}

/* PostgreSQL 15 does not export get_extension_schema(). */
static Oid
extension_namespace(void)
{
	Oid			ext = get_extension_oid("fraud_score", true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nsp = InvalidOid;

	if (!OidIsValid(ext))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"fraud_score\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION fraud_score.")));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nsp = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

static Oid
catalog_models_relid(void)
{
	if (!OidIsValid(models_relid))
	{
		Oid			nsp = extension_namespace();

		models_relid = get_relname_relid(MODELS_TABLE, nsp);
		if (!OidIsValid(models_relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("fraud_score model catalog table is missing"),
					 errhint("Recreate the extension with DROP EXTENSION fraud_score; CREATE EXTENSION fraud_score.")));
	}
	return models_relid;
}

static Oid
models_index(Relation rel, const char *index_name)
{
	Oid			index = get_relname_relid(index_name, RelationGetNamespace(rel));

	if (!OidIsValid(index))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud_score catalog index \"%s\" is missing", index_name),
				 errhint("Recreate the extension with DROP EXTENSION fraud_score; CREATE EXTENSION fraud_score.")));
	return index;
}

const char *
catalog_resolve_name(text *name_or_null)
{
	if (name_or_null != NULL)
		return text_to_cstring(name_or_null);
	if (fraud_score_default_model == NULL || fraud_score_default_model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no fraud model named and fraud_score.default_model is empty"),
				 errhint("Pass a model name, or set fraud_score.default_model.")));
	return fraud_score_default_model;
}

/* Does any version of this model exist?  Only asked on the error path. */
static bool
model_name_exists(Relation rel, const char *name)
{
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyEntryInitialize(&key, 0, Anum_name, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(rel, models_index(rel, MODELS_PKEY_INDEX), true, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	return found;
}

typedef struct LoadContext
{
	const char *name;
	int32		version;
} LoadContext;

static void
load_error_context(void *arg)
{
	LoadContext *lc = arg;

	errcontext("loading version %d of fraud model \"%s\"", lc->version, lc->name);
}

/*
 * The compiled forest stored with a catalog row, or NULL if there is none
 * (rows loaded before 0.3) or it cannot be used (written elsewhere, for
 * other bytes, or damaged): the caller then compiles the model itself.
 */
static Forest *
stored_forest(Relation rel, HeapTuple tuple, const char *sha256, int num_features,
			  MemoryContext context)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "forest");
	bool		isnull;
	Datum		value;
	bytea	   *bytes;
	Forest	   *forest;
	const char *why = NULL;

	if (att == InvalidAttrNumber)
		return NULL;
	value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	if (isnull)
		return NULL;
	bytes = DatumGetByteaPP(value);
	forest = forest_from_bytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), sha256,
							   num_features, context, &why);
	if (forest == NULL)
		ereport(DEBUG1,
				(errmsg_internal("fraud_score: not using the stored forest: %s", why)));
	if ((Pointer) bytes != DatumGetPointer(value))
		pfree(bytes);
	return forest;
}

/*
 * Validate the model bytes themselves (the table's owner can write them
 * directly: trust nothing), building the native forest if "build_forest",
 * and load them into XGBoost if "load_xgb" or if no forest could be built.
 */
static void
load_model_bytes(CacheEntry *entry, FraudModel *model, Datum model_datum,
				 MemoryContext booster_context, bool build_forest, bool load_xgb)
{
	MemoryContext check = AllocSetContextCreate(CurrentMemoryContext,
												"fraud_score model check",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(check);
	bytea	   *bytes = DatumGetByteaPP(model_datum);
	ModelInfo	info;

	model_validate(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), &info,
				   build_forest ? booster_context : NULL);
	if (info.num_features != model->num_features)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("fraud model \"%s\" version %d has %d features, but its catalog row says %d",
						entry->name, model->version, info.num_features, model->num_features)));
	if (build_forest)
		model->forest = info.forest;
	if (load_xgb || model->forest == NULL)
		model->xgb = xgb_load(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), model->num_features,
							  booster_context);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(check);
}

/*
 * (Re)build a cache entry from the active catalog row.  New memory is built
 * under the caller's context and adopted only on success, so an error
 * anywhere leaves the previous entry as it was and frees what was built
 * (including a booster, through xgb.c's reset callback).
 */
static void
load_entry(CacheEntry *entry, Relation rel, HeapTuple tuple)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum		values[Natts_models_min];
	bool		isnull[Natts_models_min];
	char	   *sha256;
	MemoryContext meta_context;
	MemoryContext booster_context = NULL;
	MemoryContext old;
	Datum	   *names;
	int			num_names;
	FraudModel	model = {0};
	LoadContext lc;
	ErrorContextCallback errcb;
	AttrNumber	feature_function_att;
	bool		need_xgb;

	if (desc->natts < Natts_models_min)
		elog(ERROR, "fraud_score catalog table has %d columns, expected at least %d",
			 desc->natts, Natts_models_min);
	for (int i = 0; i < Natts_models_min; i++)
	{
		values[i] = heap_getattr(tuple, i + 1, desc, &isnull[i]);
		if (isnull[i])
			elog(ERROR, "fraud_score catalog row has a null in column %d", i + 1);
	}

	strlcpy(model.name, entry->name, NAMEDATALEN);
	model.version = DatumGetInt32(values[Anum_version - 1]);
	model.num_features = DatumGetInt32(values[Anum_num_features - 1]);
	model.review_threshold = DatumGetFloat8(values[Anum_review_threshold - 1]);
	model.decline_threshold = DatumGetFloat8(values[Anum_decline_threshold - 1]);
	sha256 = TextDatumGetCString(values[Anum_sha256 - 1]);

	lc.name = entry->name;
	lc.version = model.version;
	errcb.callback = load_error_context;
	errcb.arg = &lc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	meta_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score model",
										 ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(meta_context, entry->name);
	old = MemoryContextSwitchTo(meta_context);
	deconstruct_array(DatumGetArrayTypeP(values[Anum_features - 1]), TEXTOID, -1, false,
					  TYPALIGN_INT, &names, NULL, &num_names);
	if (num_names != model.num_features)
		elog(ERROR, "fraud_score catalog row has %d feature names for %d features",
			 num_names, model.num_features);
	model.feature_names = palloc(sizeof(char *) * num_names);
	for (int i = 0; i < num_names; i++)
		model.feature_names[i] = TextDatumGetCString(names[i]);
	model.keys = feature_keys_build(model.feature_names, num_names, meta_context);
	MemoryContextSwitchTo(old);

	/* Added in 0.2: a 0.1 catalog (before ALTER EXTENSION UPDATE) lacks it. */
	feature_function_att = get_attnum(RelationGetRelid(rel), "feature_function");
	if (feature_function_att != InvalidAttrNumber)
	{
		bool		fn_isnull;
		Datum		fn = heap_getattr(tuple, feature_function_att, desc, &fn_isnull);

		/* A dropped function is an error here, naming it, not a crash later. */
		if (!fn_isnull)
		{
			model.feature_function =
				DatumGetObjectId(DirectFunctionCall1(regprocedurein,
													 CStringGetDatum(TextDatumGetCString(fn))));
			/* The column can be written directly: check what it names. */
			score_check_feature_function(model.feature_function);
		}
	}

	need_xgb = fraud_score_engine == ENGINE_XGBOOST;
	if (entry->booster_context != NULL && strcmp(entry->sha256, sha256) == 0 &&
		entry->model.num_features == model.num_features &&
		(entry->model.xgb != NULL || (!need_xgb && entry->model.forest != NULL)))
	{
		/* same bytes, loaded for what is asked: keep the forest and booster */
		model.xgb = entry->model.xgb;
		model.forest = entry->model.forest;
		model.booster_context = entry->model.booster_context;
	}
	else
	{
		booster_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score booster",
												ALLOCSET_SMALL_SIZES);
		model.booster_context = booster_context;

		/*
		 * The native engine needs only the compiled forest stored beside the
		 * model (checked in full by forest_from_bytes): parsing and
		 * validating the model itself was most of a backend's first score.
		 */
		if (!need_xgb)
			model.forest = stored_forest(rel, tuple, sha256, model.num_features, booster_context);
		if (model.forest == NULL || need_xgb)
			load_model_bytes(entry, &model, values[Anum_model - 1], booster_context,
							 model.forest == NULL, need_xgb);
	}
	error_context_stack = errcb.previous;

	/* Success: adopt the new contexts and free the old; nothing can fail. */
	MemoryContextSetParent(meta_context, cache_context);
	if (entry->meta_context != NULL)
		MemoryContextDelete(entry->meta_context);
	entry->meta_context = meta_context;
	if (booster_context != NULL)
	{
		MemoryContextSetParent(booster_context, cache_context);
		if (entry->booster_context != NULL)
			MemoryContextDelete(entry->booster_context);
		entry->booster_context = booster_context;
	}
	strlcpy(entry->sha256, sha256, sizeof(entry->sha256));
	model.generation = next_generation++;
	entry->model = model;
	entry->valid = true;
}

FraudModel *
catalog_get_active_model(const char *name)
{
	CacheEntry *entry;
	bool		found;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	uint64		invalidations_before;

	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud model \"%s\" does not exist", name)));

	if (model_cache == NULL)
	{
		HASHCTL		ctl = {0};

		cache_context = AllocSetContextCreate(TopMemoryContext, "fraud_score model cache",
											  ALLOCSET_SMALL_SIZES);
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(CacheEntry);
		ctl.hcxt = cache_context;
		model_cache = hash_create("fraud_score models", 16, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	entry = hash_search(model_cache, name, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->meta_context = NULL;
		entry->booster_context = NULL;
		entry->sha256[0] = '\0';
		memset(&entry->model, 0, sizeof(entry->model));
	}
	/* A native-only entry is reloaded (cheaply) once the xgboost engine is on. */
	if (entry->valid && (entry->model.xgb != NULL || fraud_score_engine != ENGINE_XGBOOST))
		return &entry->model;

	invalidations_before = catalog_invalidations;
	rel = table_open(catalog_models_relid(), AccessShareLock);
	ScanKeyEntryInitialize(&key, 0, Anum_name, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(rel, models_index(rel, MODELS_ACTIVE_INDEX), true, NULL, 1, &key);
	/*
	 * The partial index holds only active rows, but with
	 * ignore_system_indexes the scan reads the heap: check the flag.
	 */
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;

		if (DatumGetBool(heap_getattr(tuple, Anum_active, RelationGetDescr(rel), &isnull)) && !isnull)
			break;
	}
	if (!HeapTupleIsValid(tuple))
	{
		bool		exists = model_name_exists(rel, name);

		/* Do not keep an entry per name that was only asked for. */
		if (entry->meta_context == NULL)
			hash_search(model_cache, name, HASH_REMOVE, NULL);
		if (exists)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("fraud model \"%s\" has no active version", name),
					 errhint("Activate a version with fraud_model_activate().")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud model \"%s\" does not exist", name),
				 errhint("Load it with fraud_model_load(); the fraud_models view lists loaded models.")));
	}
	load_entry(entry, rel, tuple);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (catalog_invalidations != invalidations_before)
		entry->valid = false;
	return &entry->model;
}

/* Statement trigger on the catalog: tell every backend to reload. */
Datum
fraud_score_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_models_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}

/*
 * The forest compiled from model bytes, as stored bytes, or NULL if the
 * native evaluator cannot represent the model.  Errors propagate.
 */
static bytea *
compile_forest(Datum model_datum, const char *sha256)
{
	MemoryContext check = AllocSetContextCreate(CurrentMemoryContext,
												"fraud_score model compile",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(check);
	bytea	   *bytes = DatumGetByteaPP(model_datum);
	bytea	   *result = NULL;
	ModelInfo	info;

	model_validate(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), &info, check);
	MemoryContextSwitchTo(old);
	if (info.forest != NULL)
		result = forest_to_bytes(info.forest, sha256);
	MemoryContextDelete(check);
	return result;
}

/*
 * Row trigger on the catalog, BEFORE INSERT OR UPDATE OF model, sha256:
 * store the compiled forest (forest.c) of the row's model bytes, or NULL
 * when the native evaluator cannot represent the model.
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
	if (RelationGetRelid(rel) != catalog_models_relid() || forest_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_models_compile() is only for the table fraud_score_models")));

	model_datum = heap_getattr(tuple, Anum_model, desc, &model_null);
	sha_datum = heap_getattr(tuple, Anum_sha256, desc, &sha_null);
	if (!model_null && !sha_null)
	{
		MemoryContext caller_context = CurrentMemoryContext;
		ResourceOwner caller_owner = CurrentResourceOwner;
		char	   *sha256 = TextDatumGetCString(sha_datum);
		bytea	   *volatile compiled = NULL;
		ErrorData  *volatile edata = NULL;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(caller_context);
		PG_TRY();
		{
			compiled = compile_forest(model_datum, sha256);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller_context);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;

		if (edata != NULL)
		{
			bool		isnull;
			Datum		name = heap_getattr(tuple, Anum_name, desc, &isnull);
			Datum		version = heap_getattr(tuple, Anum_version, desc, &isnull);

			if (error_is_not_the_rows(edata->sqlerrcode))
				ReThrowError(edata);
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("fraud model \"%s\" version %d is stored, but it is not a usable model: %s",
							TextDatumGetCString(name), DatumGetInt32(version), edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
					 errhint("Scoring with it will fail until a valid model is loaded.")));
		}
		else if (compiled != NULL)
		{
			values[0] = PointerGetDatum(compiled);
			nulls[0] = false;
		}
	}
	columns[0] = forest_att;
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, columns, values, nulls));
}
