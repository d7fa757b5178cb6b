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
 * An entry whose model names a feature function is also re-read after any
 * pg_proc or role change (featurefn_generation), so that the function is
 * resolved and checked again.  catalog_cached_model answers from the cache
 * alone and never raises, for the trigger's on_error path.
 *
 * The catalog is read with a catalog snapshot through the partial unique
 * index on active rows, without an ACL check: scoring needs no privilege on
 * the table, so a DBA may revoke SELECT on the model bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "access/skey.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "fraud_score.h"
#include "forest.h"
#include "xgb.h"
#include "jsonbutil.h"

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
	uint64		featurefn_checked;	/* featurefn_generation() when checked */
	MemoryContext meta_context; /* feature names; NULL if never loaded */
	MemoryContext booster_context;	/* owns model.xgb and model.forest;
									 * NULL if never loaded */
	char		sha256[65];
	FraudModel	model;
	/* the name's challenger versions (active entries only) */
	bool		shadows_valid;
	int			num_shadows;
	struct CacheEntry **shadows;	/* in cache_context */
	FraudModel **shadow_models; /* &shadows[i]->model, for callers */
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

FRAUD_SQL_FUNCTION(fraud_score_models_changed);

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
	{
		entry->valid = false;
		entry->shadows_valid = false;
	}
}

void
catalog_init(void)
{
	CacheRegisterRelcacheCallback(catalog_relcache_callback, (Datum) 0);
}

/* PostgreSQL 15 does not export get_extension_schema(). */
Oid
catalog_extension_namespace(void)
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
		Oid			nsp = catalog_extension_namespace();

		models_relid = get_relname_relid(MODELS_TABLE, nsp);
		if (!OidIsValid(models_relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("fraud_score model catalog table is missing"),
					 errhint("Recreate the extension with DROP EXTENSION fraud_score; CREATE EXTENSION fraud_score.")));
	}
	return models_relid;
}

/*
 * The challengers' log table, fraud_score_shadow_log (0.6).  Looked up
 * once: a table of that OID exists only until the extension is dropped.
 */
Oid
catalog_shadow_log_relid(void)
{
	static Oid	relid = InvalidOid;

	if (OidIsValid(relid) && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return relid;
	relid = get_relname_relid("fraud_score_shadow_log", catalog_extension_namespace());
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("fraud_score challenger log table is missing"),
				 errhint("Update the extension with ALTER EXTENSION fraud_score UPDATE.")));
	return relid;
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
 * The compiled forest stored with a catalog row into model->forest or
 * model->lgbm; neither if there is none (rows loaded before 0.3) or
 * compile.c finds it unusable.
 */
static void
stored_forest(Relation rel, HeapTuple tuple, const char *sha256, FraudModel *model,
			  MemoryContext context)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "forest");
	bool		isnull;
	Datum		value;
	bytea	   *bytes;

	if (att == InvalidAttrNumber)
		return;
	value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	if (isnull)
		return;
	bytes = DatumGetByteaPP(value);
	compile_stored_forest(bytes, sha256, model->num_features, context, &model->forest,
						  &model->lgbm);
	if ((Pointer) bytes != DatumGetPointer(value))
		pfree(bytes);
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
	{
		model->forest = info.forest;
		model->lgbm = info.lgbm;
	}
	/* LightGBM models are the native evaluator's alone */
	if ((load_xgb || model->forest == NULL) && strcmp(info.library, "xgboost") == 0)
		model->xgb = xgb_load(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), model->num_features,
							  booster_context);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(check);
}

/* A string member of a jsonb object, or NULL. */
static char *
jsonb_string_member(JsonbContainer *object, const char *key)
{
	JsonbValue *v = jsonb_member(object, key);

	return v != NULL && v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

/*
 * Added in 0.5: the version's reason texts, {"feature": "text"} or
 * {"feature": {"text": "...", "direction": "raises" | "lowers"}}, into
 * per-feature arrays.  fraud_model_load checked the document; the table's
 * owner could have written anything, so what does not fit is ignored.
 */
static void
read_reasons(Relation rel, HeapTuple tuple, FraudModel *model, MemoryContext meta_context)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "reasons");
	bool		isnull;
	Datum		doc;
	Jsonb	   *reasons;
	MemoryContext old;

	if (att == InvalidAttrNumber)
		return;
	doc = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	if (isnull)
		return;
	reasons = DatumGetJsonbP(doc);
	if (!JB_ROOT_IS_OBJECT(reasons))
		return;
	old = MemoryContextSwitchTo(meta_context);
	model->reason_text = palloc0(sizeof(char *) * Max(model->num_features, 1));
	model->reason_direction = palloc0(sizeof(int8) * Max(model->num_features, 1));
	for (int f = 0; f < model->num_features; f++)
	{
		JsonbValue *v = jsonb_member(&reasons->root, model->feature_names[f]);

		if (v == NULL)
			continue;
		if (v->type == jbvString)
			model->reason_text[f] = pnstrdup(v->val.string.val, v->val.string.len);
		else if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
		{
			char	   *direction = jsonb_string_member(v->val.binary.data, "direction");

			model->reason_text[f] = jsonb_string_member(v->val.binary.data, "text");
			model->reason_direction[f] = direction == NULL ? 0 :
				strcmp(direction, "raises") == 0 ? 1 : strcmp(direction, "lowers") == 0 ? -1 : 0;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * The row's metadata into *model: version, thresholds, feature names (and
 * their jsonb keys, in meta_context) and the feature function, checked.
 */
static void
read_row_metadata(CacheEntry *entry, Relation rel, HeapTuple tuple, FraudModel *model,
				  Datum *values, MemoryContext meta_context)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	Datum	   *names;
	int			num_names;
	AttrNumber	feature_function_att;
	AttrNumber	categories_att;

	strlcpy(model->name, entry->name, NAMEDATALEN);
	model->version = DatumGetInt32(values[Anum_version - 1]);
	model->num_features = DatumGetInt32(values[Anum_num_features - 1]);
	model->review_threshold = DatumGetFloat8(values[Anum_review_threshold - 1]);
	model->decline_threshold = DatumGetFloat8(values[Anum_decline_threshold - 1]);
	model->xgb_gives_margin = strcmp(TextDatumGetCString(values[Anum_objective - 1]),
									 "binary:logitraw") == 0;

	old = MemoryContextSwitchTo(meta_context);
	deconstruct_array(DatumGetArrayTypeP(values[Anum_features - 1]), TEXTOID, -1, false,
					  TYPALIGN_INT, &names, NULL, &num_names);
	if (num_names != model->num_features)
		elog(ERROR, "fraud_score catalog row has %d feature names for %d features",
			 num_names, model->num_features);
	model->feature_names = palloc(sizeof(char *) * num_names);
	for (int i = 0; i < num_names; i++)
		model->feature_names[i] = TextDatumGetCString(names[i]);
	model->keys = feature_keys_build(model->feature_names, num_names, meta_context);
	MemoryContextSwitchTo(old);

	/* Added in 0.4: the category names of categorical features. */
	categories_att = get_attnum(RelationGetRelid(rel), "categories");
	if (categories_att != InvalidAttrNumber)
	{
		bool		isnull;
		Datum		doc = heap_getattr(tuple, categories_att, desc, &isnull);

		if (!isnull)
			model->keys->categories = categories_build(DatumGetJsonbP(doc), model->feature_names,
													   num_names, meta_context);
	}

	read_reasons(rel, tuple, model, meta_context);

	/* Added in 0.2: a 0.1 catalog (before ALTER EXTENSION UPDATE) lacks it. */
	feature_function_att = get_attnum(RelationGetRelid(rel), "feature_function");
	if (feature_function_att != InvalidAttrNumber)
	{
		bool		fn_isnull;
		Datum		fn = heap_getattr(tuple, feature_function_att, desc, &fn_isnull);

		if (!fn_isnull)
		{
			model->feature_function = featurefn_resolve(TextDatumGetCString(fn));
			/* The column can be written directly: check what it names. */
			featurefn_check(model->feature_function);
		}
	}
}

/* Whether the catalog's model bytes are a LightGBM text model (its first bytes only). */
static bool
is_lightgbm(Datum model_bytes)
{
	bytea	   *head = DatumGetByteaPSlice(model_bytes, 0, 6);

	return lgbm_is_text_model(VARDATA_ANY(head), VARSIZE_ANY_EXHDR(head));
}

/*
 * The forest and, for the xgboost engine or a model the forest cannot
 * represent, the booster, in a new booster context returned (NULL if the
 * entry's are kept: same bytes, loaded for what is asked).
 */
static MemoryContext
load_trees(CacheEntry *entry, Relation rel, HeapTuple tuple, FraudModel *model,
		   Datum model_bytes, const char *sha256)
{
	bool		need_xgb = fraud_score_engine == ENGINE_XGBOOST && !is_lightgbm(model_bytes);
	MemoryContext booster_context;

	if (entry->booster_context != NULL && strcmp(entry->sha256, sha256) == 0 &&
		entry->model.num_features == model->num_features &&
		(entry->model.xgb != NULL || entry->model.lgbm != NULL ||
		 (!need_xgb && entry->model.forest != NULL)))
	{
		model->xgb = entry->model.xgb;
		model->forest = entry->model.forest;
		model->lgbm = entry->model.lgbm;
		model->trees_context = entry->model.trees_context;
		model->explainer = entry->model.explainer;
		return NULL;
	}

	booster_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score booster",
											ALLOCSET_SMALL_SIZES);
	model->trees_context = booster_context;

	/*
	 * The native engine needs only the compiled forest stored beside the
	 * model (checked in full): parsing and validating the model itself was
	 * most of a backend's first score.
	 */
	if (!need_xgb)
		stored_forest(rel, tuple, sha256, model, booster_context);
	if ((model->forest == NULL && model->lgbm == NULL) || need_xgb)
		load_model_bytes(entry, model, model_bytes, booster_context,
						 model->forest == NULL && model->lgbm == NULL, need_xgb);
	return booster_context;
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
	MemoryContext booster_context;
	FraudModel	model = {0};
	LoadContext lc;
	ErrorContextCallback errcb;
	uint64		featurefn_checked = featurefn_generation();

	if (desc->natts < Natts_models_min)
		elog(ERROR, "fraud_score catalog table has %d columns, expected at least %d",
			 desc->natts, Natts_models_min);
	for (int i = 0; i < Natts_models_min; i++)
	{
		values[i] = heap_getattr(tuple, i + 1, desc, &isnull[i]);
		if (isnull[i])
			elog(ERROR, "fraud_score catalog row has a null in column %d", i + 1);
	}
	sha256 = TextDatumGetCString(values[Anum_sha256 - 1]);

	lc.name = entry->name;
	lc.version = DatumGetInt32(values[Anum_version - 1]);
	errcb.callback = load_error_context;
	errcb.arg = &lc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	meta_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score model",
										 ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(meta_context, entry->name);
	read_row_metadata(entry, rel, tuple, &model, values, meta_context);
	booster_context = load_trees(entry, rel, tuple, &model, values[Anum_model - 1], sha256);
	/* LightGBM reads its inputs as doubles */
	model.keys->double_precision = model.lgbm != NULL;
	model.keys->unknown_category = model.lgbm != NULL ? NAN : -1.0;
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
	entry->featurefn_checked = featurefn_checked;
	entry->valid = true;
}

/*
 * Whether a cached entry can be used as it is: valid, loaded for the
 * engine in use (a native-only entry is reloaded, cheaply, once the xgboost
 * engine is on), and its feature function checked since the last pg_proc or
 * role change.
 */
static bool
entry_usable(const CacheEntry *entry)
{
	return entry->valid &&
		(entry->model.xgb != NULL || entry->model.lgbm != NULL ||
		 fraud_score_engine != ENGINE_XGBOOST) &&
		(!OidIsValid(entry->model.feature_function) ||
		 entry->featurefn_checked == featurefn_generation());
}

/*
 * The active model "name" if this backend has it cached and usable, else
 * NULL.  Plain C, never raises: the trigger calls it before deciding
 * whether a row needs a subtransaction.
 */
FraudModel *
catalog_cached_model(const char *name)
{
	CacheEntry *entry;

	if (model_cache == NULL || strlen(name) >= NAMEDATALEN)
		return NULL;
	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	return entry != NULL && entry_usable(entry) ? &entry->model : NULL;
}

static void
create_model_cache(void)
{
	HASHCTL		ctl = {0};

	if (model_cache != NULL)
		return;
	cache_context = AllocSetContextCreate(TopMemoryContext, "fraud_score model cache",
										  ALLOCSET_SMALL_SIZES);
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(CacheEntry);
	ctl.hcxt = cache_context;
	model_cache = hash_create("fraud_score models", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
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

	create_model_cache();
	entry = hash_search(model_cache, name, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->meta_context = NULL;
		entry->booster_context = NULL;
		entry->sha256[0] = '\0';
		memset(&entry->model, 0, sizeof(entry->model));
		entry->shadows_valid = false;
		entry->num_shadows = 0;
		entry->shadows = NULL;
		entry->shadow_models = NULL;
	}
	if (entry_usable(entry))
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

/* The cache entry an active model returned by this file lives in. */
static CacheEntry *
entry_of(FraudModel *model)
{
	return (CacheEntry *) ((char *) model - offsetof(CacheEntry, model));
}

/*
 * The challenger versions of an active model's name as cached: their count
 * (0: none) and *models, or -1 if they must be loaded first
 * (catalog_shadow_models).  Plain C, never raises: the trigger asks for
 * every row.
 */
int
catalog_cached_shadows(FraudModel *active, FraudModel ***models)
{
	CacheEntry *entry = entry_of(active);

	if (!entry->shadows_valid)
		return -1;
	for (int i = 0; i < entry->num_shadows; i++)
		if (!entry_usable(entry->shadows[i]))
			return -1;
	*models = entry->shadow_models;
	return entry->num_shadows;
}

/* The version's shadow fraction, or 0 when it is not a challenger (or before 0.6). */
static double
shadow_fraction(Relation rel, HeapTuple tuple, AttrNumber att)
{
	bool		isnull;
	Datum		value;

	if (att == InvalidAttrNumber)
		return 0;
	value = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);
	return isnull ? 0 : DatumGetFloat8(value);
}

/*
 * Load the challengers of "entry" from the catalog rows of its name into
 * loaded[] (an entry kept from before when its version is still one, else
 * a new one in the caller's context); the count.  A failure frees what the
 * new entries had adopted.
 */
static int
load_shadow_entries(CacheEntry *entry, Relation rel, CacheEntry ***loaded)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), "shadow_fraction");
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			count = 0;
	int			capacity = 4;
	CacheEntry **found = palloc(sizeof(CacheEntry *) * capacity);

	*loaded = NULL;
	ScanKeyEntryInitialize(&key, 0, Anum_name, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(entry->name));
	scan = systable_beginscan(rel, models_index(rel, MODELS_PKEY_INDEX), true, NULL, 1, &key);
	PG_TRY();
	{
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			double		fraction = shadow_fraction(rel, tuple, att);
			int32		version;
			CacheEntry *shadow = NULL;
			bool		isnull;

			if (fraction <= 0)
				continue;
			version = DatumGetInt32(heap_getattr(tuple, Anum_version, RelationGetDescr(rel), &isnull));
			for (int i = 0; i < entry->num_shadows && shadow == NULL; i++)
				if (entry->shadows[i]->model.version == version)
					shadow = entry->shadows[i];
			if (shadow == NULL)
			{
				shadow = palloc0(sizeof(CacheEntry));
				strlcpy(shadow->name, entry->name, NAMEDATALEN);
			}
			if (count == capacity)
				found = repalloc(found, sizeof(CacheEntry *) * (capacity *= 2));
			found[count++] = shadow;
			load_entry(shadow, rel, tuple);
			shadow->model.shadow_fraction = fraction;
		}
	}
	PG_CATCH();
	{
		for (int i = 0; i < count; i++)
		{
			bool		kept = false;

			for (int j = 0; j < entry->num_shadows; j++)
				kept |= entry->shadows[j] == found[i];
			if (!kept && found[i]->meta_context != NULL)
				MemoryContextDelete(found[i]->meta_context);
			if (!kept && found[i]->booster_context != NULL)
				MemoryContextDelete(found[i]->booster_context);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	systable_endscan(scan);
	*loaded = found;
	return count;
}

static void
free_shadow_entry(CacheEntry *shadow)
{
	if (shadow->meta_context != NULL)
		MemoryContextDelete(shadow->meta_context);
	if (shadow->booster_context != NULL)
		MemoryContextDelete(shadow->booster_context);
	pfree(shadow);
}

/*
 * After a failure to load them: no challengers for this name until the
 * catalog changes (the next invalidation loads them again).
 */
void
catalog_forget_shadows(FraudModel *active)
{
	CacheEntry *entry = entry_of(active);

	for (int j = 0; j < entry->num_shadows; j++)
		free_shadow_entry(entry->shadows[j]);
	entry->num_shadows = 0;
	entry->shadows_valid = true;
}

/*
 * The challenger versions of an active model's name (shadow_fraction set),
 * each loaded as the active version is: their count, and *models, valid
 * until the next call of this function.  May raise.
 */
int
catalog_shadow_models(FraudModel *active, FraudModel ***models)
{
	CacheEntry *entry = entry_of(active);
	CacheEntry **loaded;
	CacheEntry **shadows;
	uint64		invalidations_before = catalog_invalidations;
	Relation	rel;
	int			count;
	MemoryContext old;

	if (catalog_cached_shadows(active, models) >= 0)
		return entry->num_shadows;
	rel = table_open(catalog_models_relid(), AccessShareLock);
	count = load_shadow_entries(entry, rel, &loaded);
	table_close(rel, AccessShareLock);

	/* Loaded: keep them in the cache's memory, and free what is no longer a challenger. */
	old = MemoryContextSwitchTo(cache_context);
	shadows = palloc(sizeof(CacheEntry *) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		bool		kept = false;

		for (int j = 0; j < entry->num_shadows; j++)
			kept |= entry->shadows[j] == loaded[i];
		shadows[i] = kept ? loaded[i] : memcpy(palloc(sizeof(CacheEntry)), loaded[i], sizeof(CacheEntry));
	}
	for (int j = 0; j < entry->num_shadows; j++)
	{
		bool		still = false;

		for (int i = 0; i < count; i++)
			still |= shadows[i] == entry->shadows[j];
		if (!still)
			free_shadow_entry(entry->shadows[j]);
	}
	if (entry->shadows != NULL)
		pfree(entry->shadows);
	if (entry->shadow_models != NULL)
		pfree(entry->shadow_models);
	entry->shadows = shadows;
	entry->shadow_models = palloc(sizeof(FraudModel *) * Max(count, 1));
	for (int i = 0; i < count; i++)
		entry->shadow_models[i] = &shadows[i]->model;
	MemoryContextSwitchTo(old);
	entry->num_shadows = count;
	entry->shadows_valid = catalog_invalidations == invalidations_before;
	*models = entry->shadow_models;
	return count;
}

/*
 * One version of a model, loaded for one operation (a backtest, a drift
 * report) as the active version would be, but not cached: it lives in the
 * caller's memory context (its booster freed with it) and is not counted
 * in the serving statistics.  The active version when "active", else
 * "version".  *reference (if asked) gets the version's reference
 * distributions, or NULL.
 */
FraudModel *
catalog_load_version(const char *name, bool active, int32 version, Jsonb **reference)
{
	CacheEntry *entry = palloc0(sizeof(CacheEntry));
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		isnull;

	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud model \"%s\" does not exist", name)));
	create_model_cache();
	strlcpy(entry->name, name, NAMEDATALEN);
	rel = table_open(catalog_models_relid(), AccessShareLock);
	ScanKeyEntryInitialize(&key[0], 0, Anum_name, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(name));
	ScanKeyInit(&key[1], Anum_version, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(version));
	scan = systable_beginscan(rel, models_index(rel, MODELS_PKEY_INDEX), true, NULL,
							  active ? 1 : 2, key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		if (!active || DatumGetBool(heap_getattr(tuple, Anum_active, RelationGetDescr(rel), &isnull)))
			break;
	if (!HeapTupleIsValid(tuple))
	{
		if (model_name_exists(rel, name) && active)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("fraud model \"%s\" has no active version", name),
					 errhint("Activate a version with fraud_model_activate(), or name a version.")));
		if (model_name_exists(rel, name))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("fraud model \"%s\" has no version %d", name, version),
					 errhint("The fraud_models view lists the loaded versions.")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud model \"%s\" does not exist", name),
				 errhint("The fraud_models view lists the loaded versions.")));
	}
	load_entry(entry, rel, tuple);
	/* load_entry gave the cache its memory: the caller owns it instead */
	MemoryContextSetParent(entry->meta_context, CurrentMemoryContext);
	if (entry->booster_context != NULL)
		MemoryContextSetParent(entry->booster_context, CurrentMemoryContext);
	if (reference != NULL)
	{
		AttrNumber	att = get_attnum(RelationGetRelid(rel), "reference");
		Datum		value = att == InvalidAttrNumber ? (Datum) 0 :
			heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);

		*reference = att == InvalidAttrNumber || isnull ? NULL : DatumGetJsonbPCopy(value);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return &entry->model;
}

/*
 * Model changes are refused at once on a standby and in a read-only
 * transaction, with PostgreSQL's read-only error naming the operation
 * (not the first internal statement that cannot run there).
 */
void
catalog_check_writable(const char *operation)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute %s during recovery", operation),
				 errhint("Change models on the primary: a standby uses a change as soon as it has replayed it.")));
	PreventCommandIfReadOnly(operation);
}

/*
 * Trigger on the catalog: tell every backend to reload.  As a statement
 * trigger it fires for every change but those a logical replication apply
 * worker makes, which fires row triggers only; as a row trigger (0.7) it
 * acts only there, under session_replication_role = replica, so that a
 * subscriber's sessions use a published version at their next call.  The
 * invalidation is queued once per transaction however many rows change.
 */
Datum
fraud_score_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_models_changed() must be called as a trigger")));
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}
