/*-------------------------------------------------------------------------
 *
 * shadow.c
 *		Challenger (shadow) versions on live rows: which rows each one
 *		scores, scoring them beside the active version, counting them, and
 *		the log, fraud_score_shadow_log.
 *
 * A challenger never changes the row and never fails the INSERT.  As for
 * the champion (trigger.c), what can fail only by raising runs in a
 * subtransaction (guard_run): loading the challengers, building a
 * challenger's feature map for the table, its feature function, reading
 * values still toasted, the xgboost engine.  A cached native challenger
 * without a feature function is scored in plain C from the deformed row,
 * reporting a bad value through a FraudFailure.  A failure is counted in
 * fraud_score_stats and logged with a NULL score; errors that belong to the
 * transaction or the server (guard.c) are raised as everywhere else.
 *
 * The log rows are inserted after every challenger has scored, in the
 * row's own transaction and outside any subtransaction (a subtransaction
 * that writes takes an XID of its own, and a batch of rows would overflow
 * every backend's snapshot cache of them).  The log table as the extension
 * creates it has no index and no trigger, and rows go straight to the heap;
 * if its owner has added either, through SPI as the owner instead.  Either
 * way the inserting role needs no privilege on it.
 *
 * Sampling is deterministic: a row is scored by a challenger when a hash
 * of its primary key (the row's document when the table has none) falls
 * below the challenger's shadow_fraction, so the same rows are sampled by
 * every challenger and again in a replay.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "fraud_score.h"

#define LOG_COLUMNS 10

/* A challenger's feature map for one table, kept while both are unchanged. */
typedef struct ChallengerMapKey
{
	Oid			relid;
	int32		version;
	char		model[NAMEDATALEN];
} ChallengerMapKey;

typedef struct ChallengerMap
{
	ChallengerMapKey key;		/* hash key: first */
	bool		valid;			/* for the relation as it is */
	uint32		generation;		/* of the FraudModel the map is for */
	MemoryContext context;		/* owns map; NULL until first built */
	FeatureMap *map;
} ChallengerMap;

static HTAB *challenger_maps = NULL;
static MemoryContext shadow_context = NULL;

/* What one challenger made of the row. */
typedef struct ShadowResult
{
	FraudModel *model;
	bool		scored;
	double		score;
	const char *decision;
} ShadowResult;

/* The row the challengers score. */
typedef struct ShadowRow
{
	Relation	rel;
	const RowJsonLayout *layout;
	const Datum *values;
	const bool *nulls;
	Datum		row_jsonb;		/* NEW as jsonb, built when first needed */
} ShadowRow;

/* A challenger scoring the row. */
typedef struct ShadowStep
{
	ShadowRow  *row;
	FraudModel *model;
	ChallengerMap *map;
	double		score;
} ShadowStep;

/* The log's INSERT through SPI, prepared once per backend for the log table it names. */
static SPIPlanPtr log_plan = NULL;
static Oid	log_plan_relid = InvalidOid;

/*
 * Set while challengers score a row.  A challenger's feature function
 * could insert into a scored table itself; that row is scored by its
 * champion alone, so that loading challengers again cannot free the ones
 * in use.
 */
static bool scoring_challengers = false;

static void
shadow_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ChallengerMap *entry;

	if (challenger_maps == NULL)
		return;
	hash_seq_init(&status, challenger_maps);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || entry->key.relid == relid)
			entry->valid = false;
}

void
shadow_init(void)
{
	CacheRegisterRelcacheCallback(shadow_relcache_callback, (Datum) 0);
}

static ChallengerMap *
challenger_map(Relation rel, const FraudModel *model)
{
	ChallengerMapKey key;
	ChallengerMap *entry;
	bool		found;

	if (challenger_maps == NULL)
	{
		HASHCTL		ctl = {0};

		shadow_context = AllocSetContextCreate(TopMemoryContext, "fraud_score challengers",
											   ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(ChallengerMapKey);
		ctl.entrysize = sizeof(ChallengerMap);
		ctl.hcxt = shadow_context;
		challenger_maps = hash_create("fraud_score challenger maps", 16, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.version = model->version;
	strlcpy(key.model, model->name, NAMEDATALEN);
	entry = hash_search(challenger_maps, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->context = NULL;
		entry->map = NULL;
	}
	return entry;
}

static bool
map_usable(const ChallengerMap *entry, const FraudModel *model)
{
	return entry->valid && entry->generation == model->generation;
}

/* Build the map in its own context, adopted once built. */
static void
build_challenger_map(ChallengerMap *entry, Relation rel, FraudModel *model)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score challenger map",
												  ALLOCSET_SMALL_SIZES);
	FeatureMap *map = feature_map_build(model->keys, RelationGetDescr(rel),
										RelationGetRelationName(rel), context);

	MemoryContextSetParent(context, shadow_context);
	if (entry->context != NULL)
		MemoryContextDelete(entry->context);
	entry->context = context;
	entry->map = map;
	entry->generation = model->generation;
	entry->valid = true;
}

static Datum
row_jsonb(ShadowRow *row)
{
	if (row->row_jsonb == (Datum) 0)
		row->row_jsonb = featurefn_row_jsonb(row->layout, RelationGetDescr(row->rel),
											 row->values, row->nulls);
	return row->row_jsonb;
}

/* Plain C: the challenger's inputs from the deformed row (and "extra"), and its score. */
static bool
score_from_values(ShadowStep *step, Jsonb *extra, FraudFailure *failure)
{
	FraudModel *model = step->model;
	double	   *inputs = scoring_input_buffer(model->num_features);

	return features_from_values(model->keys, step->map->map, step->row->values, step->row->nulls,
								extra, inputs, failure) &&
		scoring_score(model, inputs, &step->score, failure);
}

/* What needs a subtransaction: the map, the feature function, toasted values, XGBoost. */
static void
guarded_score_step(void *arg)
{
	ShadowStep *step = arg;
	FraudModel *model = step->model;
	Jsonb	   *extra = NULL;

	if (!map_usable(step->map, model))
		build_challenger_map(step->map, step->row->rel, model);
	if (OidIsValid(model->feature_function))
		extra = featurefn_call(model->feature_function, row_jsonb(step->row));
	(void) score_from_values(step, extra, NULL);
}

/* Score the row with one challenger: plain C when nothing can raise. */
static bool
score_challenger(ShadowStep *step, FraudFailure *failure)
{
	FraudModel *model = step->model;

	if (!OidIsValid(model->feature_function) && !scoring_uses_xgboost(model) &&
		map_usable(step->map, model) &&
		!features_values_are_toasted(step->map->map, step->row->values, step->row->nulls))
		return score_from_values(step, NULL, failure);
	return guard_run(guarded_score_step, step, failure);
}

/* Loading the challengers, inside guard_run. */
typedef struct LoadStep
{
	FraudModel *active;
	FraudModel **models;
	int			count;
} LoadStep;

static void
load_step(void *arg)
{
	LoadStep   *step = arg;

	step->count = catalog_shadow_models(step->active, &step->models);
}

/*
 * The row's primary key as text: the column's output, or a JSON array of
 * the columns' outputs in the key's order for a composite key; NULL
 * without a primary key.
 */
static char *
row_key(Relation rel, const Datum *values, const bool *nulls)
{
	Oid			index = RelationGetPrimaryKeyIndex(rel);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	HeapTuple	tuple;
	Form_pg_index form;
	StringInfoData key;

	if (!OidIsValid(index))
		return NULL;
	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for index %u", index);
	form = (Form_pg_index) GETSTRUCT(tuple);
	initStringInfo(&key);
	if (form->indnkeyatts > 1)
		appendStringInfoChar(&key, '[');
	for (int k = 0; k < form->indnkeyatts; k++)
	{
		AttrNumber	attnum = form->indkey.values[k];
		Oid			output;
		bool		varlena;
		char	   *text;

		getTypeOutputInfo(TupleDescAttr(tupdesc, attnum - 1)->atttypid, &output, &varlena);
		/* a primary key is never NULL; a BEFORE trigger may still see one */
		text = nulls[attnum - 1] ? "" : OidOutputFunctionCall(output, values[attnum - 1]);
		if (form->indnkeyatts == 1)
			appendStringInfoString(&key, text);
		else
		{
			if (k > 0)
				appendStringInfoChar(&key, ',');
			escape_json(&key, text);
		}
	}
	if (form->indnkeyatts > 1)
		appendStringInfoChar(&key, ']');
	ReleaseSysCache(tuple);
	return key.data;
}

/* Whether a row whose key hashes to "hash" is one of "fraction" of the rows. */
static bool
sampled(uint64 hash, double fraction)
{
	/* the top 53 bits as a fraction in [0, 1) */
	return fraction >= 1.0 || (double) (hash >> 11) * (1.0 / (double) (UINT64CONST(1) << 53)) < fraction;
}

/* fraud_score_shadow_log's columns, as the extension creates them. */
static const Oid log_column_types[LOG_COLUMNS] = {TEXTOID, REGCLASSOID, TEXTOID, TIMESTAMPTZOID,
INT4OID, FLOAT8OID, TEXTOID, INT4OID, FLOAT8OID, TEXTOID};

/* The log's INSERT, for the current log table. */
static SPIPlanPtr
prepared_log_insert(Oid relid)
{
	char	   *sql;
	SPIPlanPtr	plan;

	if (log_plan != NULL && log_plan_relid == relid)
		return log_plan;
	if (log_plan != NULL)
		SPI_freeplan(log_plan);
	log_plan = NULL;
	sql = psprintf("INSERT INTO %s.%s (model, relation, row_key, scored_at, champion_version, "
				   "champion_score, champion_decision, challenger_version, challenger_score, "
				   "challenger_decision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				   quote_identifier(get_namespace_name(get_rel_namespace(relid))),
				   quote_identifier(get_rel_name(relid)));
	plan = SPI_prepare(sql, LOG_COLUMNS, (Oid *) log_column_types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the challenger log insert: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	log_plan = plan;
	log_plan_relid = relid;
	return plan;
}

/* The log rows through SPI, as the table's owner: it has indexes or triggers of the owner's. */
static void
insert_log_rows_spi(Relation log, Datum (*values)[LOG_COLUMNS], bool (*nulls)[LOG_COLUMNS], int count)
{
	Oid			saved_user;
	int			saved_context;

	int			guc_level;

	/*
	 * As the owner, with a search_path the inserting role cannot choose:
	 * the owner's triggers and index expressions run here.
	 */
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(log->rd_rel->relowner,
						   saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < count; i++)
	{
		char		spi_nulls[LOG_COLUMNS];
		int			rc;

		for (int c = 0; c < LOG_COLUMNS; c++)
			spi_nulls[c] = nulls[i][c] ? 'n' : ' ';
		rc = SPI_execute_plan(prepared_log_insert(RelationGetRelid(log)), values[i], spi_nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "challenger log insert failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
	AtEOXact_GUC(true, guc_level);
	SetUserIdAndSecContext(saved_user, saved_context);
}

/*
 * Whether rows can go straight to the log's heap: the table exactly as the
 * extension made it (its columns and types, none dropped or added) with
 * nothing of the owner's that an INSERT would run or check: no index,
 * trigger, rule, check constraint or row security.
 */
static bool
log_as_created(Relation log)
{
	TupleDesc	desc = RelationGetDescr(log);

	if (desc->natts != LOG_COLUMNS || log->rd_rel->relkind != RELKIND_RELATION ||
		log->rd_rel->relhasindex || log->rd_rel->relhasrules || log->rd_rel->relrowsecurity ||
		log->trigdesc != NULL || (desc->constr != NULL && desc->constr->num_check > 0))
		return false;
	for (int c = 0; c < LOG_COLUMNS; c++)
		if (TupleDescAttr(desc, c)->attisdropped || TupleDescAttr(desc, c)->atttypid != log_column_types[c])
			return false;
	return true;
}

/* The log rows through SPI, in a subtransaction: the owner's additions may fail. */
typedef struct LogRows
{
	Relation	log;
	Datum		(*values)[LOG_COLUMNS];
	bool		(*nulls)[LOG_COLUMNS];
	int			count;
} LogRows;

static void
log_rows_step(void *arg)
{
	LogRows    *rows = arg;

	insert_log_rows_spi(rows->log, rows->values, rows->nulls, rows->count);
}

/* Append the challengers' results to the log. */
static void
write_log(const ShadowChampion *champion, Relation rel, const char *key,
		  const ShadowResult *results, int count)
{
	Relation	log = table_open(catalog_shadow_log_relid(), RowExclusiveLock);
	Datum		(*values)[LOG_COLUMNS] = palloc(sizeof(*values) * count);
	bool		(*nulls)[LOG_COLUMNS] = palloc0(sizeof(*nulls) * count);

	for (int i = 0; i < count; i++)
	{
		values[i][0] = CStringGetTextDatum(champion->name);
		values[i][1] = ObjectIdGetDatum(RelationGetRelid(rel));
		values[i][2] = key != NULL ? CStringGetTextDatum(key) : (Datum) 0;
		nulls[i][2] = key == NULL;
		values[i][3] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
		values[i][4] = Int32GetDatum(champion->version);
		values[i][5] = Float8GetDatum(champion->score);
		values[i][6] = CStringGetTextDatum(champion->decision);
		values[i][7] = Int32GetDatum(results[i].model->version);
		values[i][8] = Float8GetDatum(results[i].score);
		nulls[i][8] = !results[i].scored;
		values[i][9] = results[i].scored ? CStringGetTextDatum(results[i].decision) : (Datum) 0;
		nulls[i][9] = !results[i].scored;
	}
	if (log_as_created(log))
		for (int i = 0; i < count; i++)
			simple_heap_insert(log, heap_form_tuple(RelationGetDescr(log), values[i], nulls[i]));
	else
	{
		LogRows		rows = {log, values, nulls, count};
		FraudFailure failure = {0};

		if (!guard_run(log_rows_step, &rows, &failure))
			ereport(WARNING,
					(errcode(failure.sqlerrcode),
					 errmsg("fraud_score_trigger could not log the challengers of a row of \"%s\": %s",
							RelationGetRelationName(rel), failure.message),
					 errdetail("The row is written; the challengers' results for it are not logged.")));
	}
	table_close(log, RowExclusiveLock);
}

/* The challengers of the row's model, loaded if need be; 0 if none or they fail to load. */
static pg_noinline int
challengers(FraudModel *active, FraudModel ***models)
{
	LoadStep	step = {active, NULL, 0};
	FraudFailure failure = {0};
	int			count = catalog_cached_shadows(active, models);

	if (count >= 0)
		return count;
	if (guard_run(load_step, &step, &failure))
	{
		*models = step.models;
		return step.count;
	}
	/* none until the catalog changes: not again for every row */
	catalog_forget_shadows(active);
	ereport(WARNING,
			(errcode(failure.sqlerrcode),
			 errmsg("fraud_score_trigger could not load the challengers of fraud model \"%s\": %s",
					active->name, failure.message),
			 errdetail("Rows are scored by the active version alone until the catalog changes.")));
	return 0;
}

/*
 * Whether the active model's name has challengers; plain C, for every row.
 * True also when they are not loaded yet.
 */
bool
shadow_has_challengers(FraudModel *active)
{
	FraudModel **models;

	return !scoring_challengers && catalog_cached_shadows(active, &models) != 0;
}

/* shadow_score_row's work, given the challengers. */
static void
score_with(const ShadowChampion *champion, ShadowRow *row, FraudModel **models, int count)
{
	ShadowResult *results = palloc(sizeof(ShadowResult) * count);
	int			num_results = 0;
	char	   *key = row_key(row->rel, row->values, row->nulls);
	uint64		hash;

	if (key != NULL)
		hash = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	else
	{
		Datum		doc = row_jsonb(row);

		hash = hash_bytes_extended((const unsigned char *) DatumGetPointer(doc),
								   VARSIZE_ANY(DatumGetPointer(doc)), 0);
	}
	for (int i = 0; i < count; i++)
	{
		ShadowStep	step = {row, models[i], NULL, 0};
		FraudFailure failure = {0};
		uint64		started;
		ShadowResult *result;

		if (!sampled(hash, models[i]->shadow_fraction))
			continue;
		started = stats_call_begin();
		step.map = challenger_map(row->rel, models[i]);
		result = &results[num_results++];
		result->model = models[i];
		result->scored = score_challenger(&step, &failure);
		result->score = step.score;
		if (result->scored)
		{
			result->decision = scoring_decision(models[i], step.score);
			stats_count_shadow_call(models[i], step.score, started);
		}
		else
			stats_count_shadow_failure(models[i], failure.message);
	}
	if (num_results > 0)
		write_log(champion, row->rel, key, results, num_results);
}

/*
 * Score the row with every challenger of the champion's model that samples
 * it, count and log the results.  "layout" builds NEW as jsonb, for
 * challengers' feature functions.
 */
void
shadow_score_row(const ShadowChampion *champion, Relation rel, const RowJsonLayout *layout,
				 const Datum *values, const bool *nulls)
{
	FraudModel **models;
	int			count;
	ShadowRow	row = {rel, layout, values, nulls, (Datum) 0};

	if (scoring_challengers)
		return;
	count = challengers(champion->model, &models);
	if (count == 0)
		return;
	scoring_challengers = true;
	PG_TRY();
	{
		score_with(champion, &row, models, count);
	}
	PG_FINALLY();
	{
		scoring_challengers = false;
	}
	PG_END_TRY();
}
