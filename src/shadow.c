/*-------------------------------------------------------------------------
 *
 * shadow.c
 *		Challenger (shadow) versions on live rows: which rows each one
 *		scores, scoring them beside the active version, counting them, and
 *		the log, fraud_score_shadow_log.
 *
 * A challenger never changes the row and never fails the INSERT: loading
 * it, its feature function and its prediction run in a subtransaction
 * (guard_run), and a failure is counted in fraud_score_stats (and logged
 * with a NULL score).  Errors that belong to the transaction or the server
 * (guard.c) are raised as everywhere else.  The log rows are inserted
 * after every challenger has scored, in the row's own transaction and
 * outside any subtransaction (a subtransaction that writes takes an XID of
 * its own, and a batch of rows would overflow every backend's snapshot
 * cache of them), through SPI as the log table's owner: the inserting role
 * needs no privilege on it.
 *
 * Sampling is deterministic: a row is scored by a challenger when a hash
 * of its primary key (the row's document when the table has none) falls
 * below the challenger's shadow_fraction, so the same rows are sampled by
 * every challenger and again in a replay.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "fraud_score.h"

#define LOG_COLUMNS 10

/* What one challenger made of the row. */
typedef struct ShadowResult
{
	FraudModel *model;
	bool		scored;
	double		score;
	const char *decision;
} ShadowResult;

/* A challenger scoring the row, inside guard_run. */
typedef struct ShadowStep
{
	FraudModel *model;
	Datum		row_jsonb;
	double		score;
} ShadowStep;

/* The log's INSERT, prepared once per backend for the log table it names. */
static SPIPlanPtr log_plan = NULL;
static Oid	log_plan_relid = InvalidOid;

/*
 * Set while challengers score a row.  A challenger's feature function
 * could insert into a scored table itself; that row is scored by its
 * champion alone, so that loading challengers again cannot free the ones
 * in use.
 */
static bool scoring_challengers = false;

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

static void
score_step(void *arg)
{
	ShadowStep *step = arg;
	FraudModel *model = step->model;
	Jsonb	   *extra = OidIsValid(model->feature_function) ?
		featurefn_call(model->feature_function, step->row_jsonb) : NULL;
	double	   *inputs = scoring_input_buffer(model->num_features);

	features_from_jsonb(model->keys, DatumGetJsonbP(step->row_jsonb), extra, inputs);
	(void) scoring_score(model, inputs, &step->score, NULL);
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

/* The log's INSERT, as the table's owner wrote it, for the current log table. */
static SPIPlanPtr
prepared_log_insert(Oid relid)
{
	Oid			types[LOG_COLUMNS] = {TEXTOID, REGCLASSOID, TEXTOID, TIMESTAMPTZOID, INT4OID,
	FLOAT8OID, TEXTOID, INT4OID, FLOAT8OID, TEXTOID};
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
	plan = SPI_prepare(sql, LOG_COLUMNS, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the challenger log insert: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	log_plan = plan;
	log_plan_relid = relid;
	return plan;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Append the challengers' results to the log, as the log table's owner. */
static void
write_log(const ShadowChampion *champion, Relation rel, const char *key,
		  const ShadowResult *results, int count)
{
	Oid			log_relid = catalog_shadow_log_relid();
	Oid			saved_user;
	int			saved_context;
	Datum		values[LOG_COLUMNS];
	char		nulls[LOG_COLUMNS];

	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(relation_owner(log_relid),
						   saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(champion->name);
	values[1] = ObjectIdGetDatum(RelationGetRelid(rel));
	values[2] = key != NULL ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[2] = key != NULL ? ' ' : 'n';
	values[3] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	values[4] = Int32GetDatum(champion->version);
	values[5] = Float8GetDatum(champion->score);
	values[6] = CStringGetTextDatum(champion->decision);
	for (int i = 0; i < count; i++)
	{
		int			rc;

		values[7] = Int32GetDatum(results[i].model->version);
		values[8] = Float8GetDatum(results[i].score);
		nulls[8] = results[i].scored ? ' ' : 'n';
		values[9] = results[i].scored ? CStringGetTextDatum(results[i].decision) : (Datum) 0;
		nulls[9] = nulls[8];
		rc = SPI_execute_plan(prepared_log_insert(log_relid), values, nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "challenger log insert failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_context);
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
	ereport(WARNING,
			(errcode(failure.sqlerrcode),
			 errmsg("fraud_score_trigger could not load the challengers of fraud model \"%s\": %s",
					active->name, failure.message),
			 errdetail("The row is scored by the active version alone.")));
	return 0;
}

static void score_with(const ShadowChampion *champion, Relation rel, const RowJsonLayout *layout,
					   const Datum *values, const bool *nulls, FraudModel **models, int count);

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

/*
 * Score the row with every challenger of the champion's model that samples
 * it, count and log the results.  "layout" builds NEW as jsonb, which the
 * challengers' features come from.
 */
void
shadow_score_row(const ShadowChampion *champion, Relation rel, const RowJsonLayout *layout,
				 const Datum *values, const bool *nulls)
{
	FraudModel **models;
	int			count;

	if (scoring_challengers)
		return;
	count = challengers(champion->model, &models);
	if (count == 0)
		return;
	scoring_challengers = true;
	PG_TRY();
	{
		score_with(champion, rel, layout, values, nulls, models, count);
	}
	PG_FINALLY();
	{
		scoring_challengers = false;
	}
	PG_END_TRY();
}

/* shadow_score_row's work, given the challengers. */
static void
score_with(const ShadowChampion *champion, Relation rel, const RowJsonLayout *layout,
		   const Datum *values, const bool *nulls, FraudModel **models, int count)
{
	ShadowResult *results;
	int			num_results = 0;
	Datum		row_jsonb;
	char	   *key;
	uint64		hash;

	row_jsonb = featurefn_row_jsonb(layout, RelationGetDescr(rel), values, nulls);
	key = row_key(rel, values, nulls);
	hash = key != NULL ? hash_bytes_extended((const unsigned char *) key, strlen(key), 0) :
		hash_bytes_extended((const unsigned char *) DatumGetPointer(row_jsonb),
							VARSIZE_ANY(DatumGetPointer(row_jsonb)), 0);
	results = palloc(sizeof(ShadowResult) * count);
	for (int i = 0; i < count; i++)
	{
		ShadowStep	step = {models[i], row_jsonb, 0};
		FraudFailure failure = {0};
		uint64		started;
		ShadowResult *result;

		if (!sampled(hash, models[i]->shadow_fraction))
			continue;
		started = stats_call_begin();
		result = &results[num_results++];
		result->model = models[i];
		result->scored = guard_run(score_step, &step, &failure);
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
		write_log(champion, rel, key, results, num_results);
}
