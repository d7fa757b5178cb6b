/*-------------------------------------------------------------------------
 *
 * trigger.c
 *		fraud_score_trigger(): score NEW in a BEFORE INSERT OR UPDATE trigger.
 *
 * Arguments: model name, score column, then optionally decision column,
 * model-version column and reasons column (text[] or jsonb: the features
 * that raised the score most, for rows not approved unless
 * fraud_score.reasons_for is all; reasons.c).  Features come straight from NEW's columns whose
 * names match the model's feature names.  Which column is which is worked
 * out at a trigger's first row and cached per trigger, until the relation
 * changes (relcache callback) or the model version does (generation).
 *
 * A row that cannot be scored (no active model, a failing feature function,
 * a bad value, a broken stored model) fails the INSERT, unless
 * fraud_score.on_error is review or approve: then the row is written with
 * that decision and a NULL score and version, with a WARNING.  Only the
 * steps that read catalogs or run SQL (loading a model this backend has not
 * cached, the feature function, a new feature map, the xgboost engine) run
 * in a subtransaction (guard.c), as a PL/pgSQL exception block would; the
 * rest is plain C that reports a failure without longjmp, so a row of a
 * cached model without a feature function costs no subtransaction.  A
 * misconfigured trigger (arguments, output columns) is always an error, and
 * so are a cancel, a deadlock, a serialization failure and running out of
 * resources (guard_error_is_not_the_rows).
 *
 * A feature function gets NEW as to_jsonb(NEW) would give it, built from
 * the values the trigger has deformed anyway (featurefn_row_jsonb), with
 * the relation's column layout cached here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fraud_score.h"
#include "explain.h"

FRAUD_SQL_FUNCTION(fraud_score_trigger);

typedef struct TriggerCacheEntry
{
	Oid			trigger_oid;	/* hash key */
	bool		outputs_valid;	/* the output columns below, for relid */
	bool		map_valid;		/* map, for relid and model_generation */
	bool		row_layout_valid;	/* row_layout, for relid */
	Oid			relid;
	uint32		model_generation;
	MemoryContext context;		/* owns map; NULL until first built */
	FeatureMap *map;
	MemoryContext row_context;	/* owns row_layout; NULL until first built */
	RowJsonLayout *row_layout;	/* NEW as jsonb, for feature functions */
	AttrNumber	score_attnum;
	Oid			score_type;
	AttrNumber	decision_attnum;	/* 0 if not requested */
	AttrNumber	version_attnum; /* 0 if not requested */
	Oid			version_type;
	AttrNumber	reasons_attnum; /* 0 if not requested */
	Oid			reasons_type;
} TriggerCacheEntry;

static HTAB *trigger_cache = NULL;
static MemoryContext trigger_cache_context = NULL;

static void
trigger_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TriggerCacheEntry *entry;

	if (trigger_cache == NULL)
		return;
	hash_seq_init(&status, trigger_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || entry->relid == relid)
			entry->outputs_valid = entry->map_valid = entry->row_layout_valid = false;
}

void
trigger_init(void)
{
	CacheRegisterRelcacheCallback(trigger_relcache_callback, (Datum) 0);
}

static AttrNumber
find_column(TupleDesc tupdesc, const char *column)
{
	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, a);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), column) == 0)
			return attr->attnum;
	}
	return InvalidAttrNumber;
}

/* An output column named by a trigger argument, of one of the allowed types. */
static AttrNumber
output_column(Relation rel, Trigger *trigger, const char *column, const char *role,
			  const Oid *allowed, int num_allowed, const char *allowed_names,
			  Oid *type_out)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	AttrNumber	attnum = find_column(tupdesc, column);
	Oid			type;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, RelationGetRelationName(rel)),
				 errdetail("Trigger \"%s\" passes it to fraud_score_trigger() as the %s column.",
						   trigger->tgname, role)));
	/*
	 * Exact types only: the new tuple is formed directly, so a domain's
	 * constraints or a typmod would not be applied.  varchar(n) is accepted
	 * when every decision fits.
	 */
	type = TupleDescAttr(tupdesc, attnum - 1)->atttypid;
	for (int i = 0; i < num_allowed; i++)
		if (type == allowed[i])
		{
			int32		typmod = TupleDescAttr(tupdesc, attnum - 1)->atttypmod;

			if (type == VARCHAROID && typmod >= 0 && typmod - VARHDRSZ < (int32) strlen("decline"))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of relation \"%s\" is too short for a decision",
								column, RelationGetRelationName(rel)),
						 errdetail("Decisions are up to %d characters long.", (int) strlen("decline"))));
			if (type_out)
				*type_out = type;
			return attnum;
		}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of relation \"%s\" has type %s, but a %s column must be %s",
					column, RelationGetRelationName(rel),
					format_type_be(TupleDescAttr(tupdesc, attnum - 1)->atttypid),
					role, allowed_names),
			 get_typtype(type) == TYPTYPE_DOMAIN ?
			 errhint("Domains are not accepted for output columns: their constraints would not be checked.") : 0));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/* The trigger's output columns: a misconfiguration is always an error. */
static void
resolve_outputs(TriggerCacheEntry *entry, Trigger *trigger, Relation rel)
{
	static const Oid score_types[] = {FLOAT8OID, FLOAT4OID};
	static const Oid decision_types[] = {TEXTOID, VARCHAROID};
	static const Oid version_types[] = {INT4OID, INT8OID};
	static const Oid reasons_types[] = {TEXTARRAYOID, JSONBOID};
	TriggerCacheEntry built = *entry;

	built.score_attnum = output_column(rel, trigger, trigger->tgargs[1], "score",
									   score_types, lengthof(score_types),
									   "double precision or real", &built.score_type);
	built.decision_attnum = trigger->tgnargs > 2 ?
		output_column(rel, trigger, trigger->tgargs[2], "decision",
					  decision_types, lengthof(decision_types), "text or varchar", NULL) : 0;
	built.version_attnum = trigger->tgnargs > 3 ?
		output_column(rel, trigger, trigger->tgargs[3], "model version",
					  version_types, lengthof(version_types), "integer or bigint",
					  &built.version_type) : 0;
	built.reasons_attnum = trigger->tgnargs > 4 ?
		output_column(rel, trigger, trigger->tgargs[4], "reasons",
					  reasons_types, lengthof(reasons_types), "text[] or jsonb",
					  &built.reasons_type) : 0;
	built.relid = RelationGetRelid(rel);
	built.outputs_valid = true;
	built.map_valid = entry->map_valid && entry->relid == built.relid;
	built.row_layout_valid = entry->row_layout_valid && entry->relid == built.relid;
	*entry = built;
}

/* Which column feeds which feature of "model". */
static void
build_map(TriggerCacheEntry *entry, Relation rel, FraudModel *model)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score trigger",
												  ALLOCSET_SMALL_SIZES);
	FeatureMap *map = feature_map_build(model->keys, RelationGetDescr(rel),
										RelationGetRelationName(rel), context);

	/* Success: adopt. */
	MemoryContextSetParent(context, trigger_cache_context);
	if (entry->context != NULL)
		MemoryContextDelete(entry->context);
	entry->context = context;
	entry->map = map;
	entry->model_generation = model->generation;
	entry->map_valid = true;
}

/* How NEW becomes jsonb for a feature function. */
static void
build_row_layout(TriggerCacheEntry *entry, Relation rel)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score trigger row",
												  ALLOCSET_SMALL_SIZES);
	RowJsonLayout *layout = featurefn_row_layout(RelationGetDescr(rel), context);

	MemoryContextSetParent(context, trigger_cache_context);
	if (entry->row_context != NULL)
		MemoryContextDelete(entry->row_context);
	entry->row_context = context;
	entry->row_layout = layout;
	entry->row_layout_valid = true;
}

static TriggerCacheEntry *
trigger_entry(Trigger *trigger)
{
	TriggerCacheEntry *entry;
	bool		found;

	if (trigger_cache == NULL)
	{
		HASHCTL		ctl = {0};

		trigger_cache_context = AllocSetContextCreate(TopMemoryContext,
													  "fraud_score trigger cache",
													  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TriggerCacheEntry);
		ctl.hcxt = trigger_cache_context;
		trigger_cache = hash_create("fraud_score triggers", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(trigger_cache, &trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) entry) + sizeof(Oid), 0, sizeof(*entry) - sizeof(Oid));
	}
	return entry;
}

/* What scoring one row gives. */
typedef struct RowScore
{
	double		score;
	const char *decision;
	int32		version;
	Datum		reasons;		/* (Datum) 0: none */
} RowScore;

/* NEW: its columns deformed once for reading and rewriting. */
typedef struct NewRow
{
	Datum	   *values;
	bool	   *nulls;
} NewRow;

/* One row being scored, as the steps below fill it in. */
typedef struct RowScoring
{
	TriggerCacheEntry *entry;
	Trigger    *trigger;
	Relation	rel;
	const NewRow *row;
	FraudModel *model;			/* cached model, then the one to score with */
	Jsonb	   *extra;			/* the feature function's output, or NULL */
	double	   *inputs;			/* the model's input row */
	RowScore   *result;
} RowScoring;

/*
 * Whether the row needs the steps that read catalogs or run SQL: the model
 * is not cached, it has a feature function, or the feature map is not for
 * it.
 */
static bool
needs_catalog_steps(const RowScoring *rs)
{
	return rs->model == NULL || OidIsValid(rs->model->feature_function) ||
		!rs->entry->map_valid || rs->entry->model_generation != rs->model->generation;
}

/*
 * Those steps: the active model, the feature function (NEW as jsonb is
 * built only for one) and the feature map.  They may raise anything.
 */
static void
catalog_steps(void *arg)
{
	RowScoring *rs = arg;
	const char *name = rs->trigger->tgargs[0];
	FraudModel *model = catalog_get_active_model(name);

	rs->model = model;			/* the version a failure below is counted for */
	rs->extra = NULL;
	if (OidIsValid(model->feature_function))
	{
		TupleDesc	tupdesc = RelationGetDescr(rs->rel);

		if (!rs->entry->row_layout_valid)
			build_row_layout(rs->entry, rs->rel);
		model = scoring_model_with_features(name, model,
											featurefn_row_jsonb(rs->entry->row_layout, tupdesc,
																rs->row->values, rs->row->nulls),
											&rs->extra);
	}
	if (!rs->entry->map_valid || rs->entry->model_generation != model->generation)
		build_map(rs->entry, rs->rel, model);
	rs->model = model;
}

/*
 * Plain C: the model's inputs from NEW and the feature function's output.
 * A value that cannot be an input is reported in *failure.
 */
static bool
row_inputs(RowScoring *rs, FraudFailure *failure)
{
	rs->inputs = scoring_input_buffer(rs->model->num_features);
	return features_from_values(rs->model->keys, rs->entry->map, rs->row->values,
								rs->row->nulls, rs->extra, rs->inputs, failure);
}

/*
 * The reasons column's value: the features that raised the margin most.
 * Explaining is plain C.  A model it cannot explain (a LightGBM model with
 * linear leaves or no counts, a forest too big for the native evaluator)
 * fails the row under fraud_score.on_error = error, like any
 * misconfiguration; under review or approve the row keeps its score and
 * decision, with a NULL reasons column and a WARNING.
 */
static void
row_reasons(RowScoring *rs)
{
	Reason	   *reasons;
	double		bias;
	int			count;
	const char *refusal = fraud_score_on_error != ON_ERROR_ERROR ?
		scoring_explain_refusal(rs->model) : NULL;

	if (refusal != NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud_score_trigger cannot write the reasons of a row of \"%s\": fraud model \"%s\" version %d cannot be explained, because %s",
						RelationGetRelationName(rs->rel), rs->model->name, rs->model->version, refusal),
				 errdetail("The row is written with its score and decision and a NULL reasons column, because fraud_score.on_error is \"%s\".",
						   fraud_score_on_error == ON_ERROR_REVIEW ? "review" : "approve")));
		return;
	}
	count = reasons_rank(rs->model, rs->inputs, EXPLAIN_TREE_SHAP, fraud_score_reasons_count, true,
						 &reasons, &bias);
	rs->result->reasons = rs->entry->reasons_type == JSONBOID ?
		reasons_jsonb(rs->model, reasons, count) : reasons_text_array(reasons, count);
	pfree(reasons);
}

/*
 * The score and its decision.  Plain C with the native engine (a NaN score
 * is reported in *failure); the xgboost engine raises its own errors.
 */
static bool
row_score(RowScoring *rs, FraudFailure *failure)
{
	if (!scoring_score(rs->model, rs->inputs, &rs->result->score, failure))
		return false;
	rs->result->decision = scoring_decision(rs->model, rs->result->score);
	rs->result->version = rs->model->version;
	rs->result->reasons = (Datum) 0;
	if (rs->entry->reasons_attnum &&
		(fraud_score_reasons_for == REASONS_FOR_ALL || strcmp(rs->result->decision, "approve") != 0))
		row_reasons(rs);
	return true;
}

static void
xgboost_score_step(void *arg)
{
	(void) row_score(arg, NULL);
}

static void
toasted_inputs_step(void *arg)
{
	(void) row_inputs(arg, NULL);
}

static const char *
on_error_name(OnErrorPolicy policy)
{
	return policy == ON_ERROR_APPROVE ? "approve" : policy == ON_ERROR_REVIEW ? "review" : "error";
}

/*
 * Score the row, or, if it fails with the row's failure, raise a WARNING,
 * count it and return false; anything else is raised.  A subtransaction
 * only around what can fail only by raising.
 */
static bool
score_row_or_warn(RowScoring *rs, OnErrorPolicy policy)
{
	FraudFailure failure = {0};
	bool		scored;

	scored = !needs_catalog_steps(rs) || guard_run(catalog_steps, rs, &failure);
	if (scored)
		scored = features_values_are_toasted(rs->entry->map, rs->row->values, rs->row->nulls) ?
			guard_run(toasted_inputs_step, rs, &failure) : row_inputs(rs, &failure);
	if (scored)
		scored = scoring_uses_xgboost(rs->model) ?
			guard_run(xgboost_score_step, rs, &failure) : row_score(rs, &failure);
	if (scored)
		return true;
	stats_count_failure(rs->trigger->tgargs[0], rs->model, policy, failure.message);
	ereport(WARNING,
			(errcode(failure.sqlerrcode),
			 errmsg("fraud_score_trigger could not score a row of \"%s\": %s",
					RelationGetRelationName(rs->rel), failure.message),
			 errdetail("The row is written with decision \"%s\" and a NULL score, because fraud_score.on_error is \"%s\".",
					   on_error_name(policy), on_error_name(policy)),
			 failure.detail ? errhint("The error's detail: %s", failure.detail) : 0));
	return false;
}

/* Score the row, counting an error before it propagates. */
static void
score_row_or_raise(RowScoring *rs)
{
	MemoryContext caller_context = CurrentMemoryContext;

	PG_TRY();
	{
		FraudFailure failure = {0};

		if (needs_catalog_steps(rs))
			catalog_steps(rs);
		if (!row_inputs(rs, &failure) || !row_score(rs, &failure))
			failure_set(NULL, failure.sqlerrcode, failure.message, failure.detail);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		if (!guard_error_is_not_the_rows(edata->sqlerrcode))
			stats_count_failure(rs->trigger->tgargs[0], rs->model, ON_ERROR_ERROR, edata->message);
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* How fraud_score_trigger() must be called: a misuse is always an error. */
static void
check_trigger_call(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_trigger() must be a BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 2 || trigger->tgnargs > 5)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_trigger() takes 2 to 5 arguments, but trigger \"%s\" on \"%s\" gives %d",
						trigger->tgname, RelationGetRelationName(trigdata->tg_relation),
						trigger->tgnargs),
				 errhint("Use EXECUTE FUNCTION fraud_score_trigger(model, score_column [, decision_column [, version_column [, reasons_column]]]).")));
}

/*
 * NEW with the outputs set: the score, decision and version, or, for a row
 * that could not be scored, a NULL score and version and the on_error
 * policy's decision.
 */
static HeapTuple
row_with_outputs(const TriggerCacheEntry *entry, TupleDesc tupdesc, HeapTuple new_tuple,
				 NewRow *row, const RowScore *result, bool scored, OnErrorPolicy policy)
{
	HeapTuple	result_tuple;

	row->nulls[entry->score_attnum - 1] = !scored;
	row->values[entry->score_attnum - 1] = !scored ? (Datum) 0 : entry->score_type == FLOAT4OID ?
		Float4GetDatum((float4) result->score) : Float8GetDatum(result->score);
	if (entry->decision_attnum)
	{
		row->nulls[entry->decision_attnum - 1] = false;
		row->values[entry->decision_attnum - 1] =
			CStringGetTextDatum(scored ? result->decision : on_error_name(policy));
	}
	if (entry->version_attnum)
	{
		row->nulls[entry->version_attnum - 1] = !scored;
		row->values[entry->version_attnum - 1] = !scored ? (Datum) 0 : entry->version_type == INT8OID ?
			Int64GetDatum(result->version) : Int32GetDatum(result->version);
	}
	if (entry->reasons_attnum)
	{
		row->nulls[entry->reasons_attnum - 1] = !scored || result->reasons == (Datum) 0;
		row->values[entry->reasons_attnum - 1] = row->nulls[entry->reasons_attnum - 1] ?
			(Datum) 0 : result->reasons;
	}
	result_tuple = heap_form_tuple(tupdesc, row->values, row->nulls);
	/* as heap_modify_tuple does */
	result_tuple->t_data->t_ctid = new_tuple->t_data->t_ctid;
	result_tuple->t_self = new_tuple->t_self;
	result_tuple->t_tableOid = new_tuple->t_tableOid;
	return result_tuple;
}

/* The row's challengers (shadow.c), after the row has its outputs. */
static void
score_challengers(RowScoring *rs, const RowScore *result)
{
	ShadowChampion champion;

	champion.model = rs->model;
	champion.name = pstrdup(rs->model->name);
	champion.version = result->version;
	champion.score = result->score;
	champion.decision = result->decision;
	if (!rs->entry->row_layout_valid)
		build_row_layout(rs->entry, rs->rel);
	shadow_score_row(&champion, rs->rel, rs->entry->row_layout, rs->row->values, rs->row->nulls);
}

Datum
fraud_score_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	new_tuple;
	NewRow		row;
	RowScoring	rs = {0};
	TriggerCacheEntry *entry;
	OnErrorPolicy policy = (OnErrorPolicy) fraud_score_on_error;
	RowScore	result;
	bool		scored;
	HeapTuple	result_tuple;
	uint64		started = stats_call_begin();

	check_trigger_call(fcinfo);
	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);
	new_tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	entry = trigger_entry(trigger);
	if (!entry->outputs_valid || entry->relid != RelationGetRelid(rel))
		resolve_outputs(entry, trigger, rel);

	/* Deformed once: features are read from it, outputs written into it. */
	row.values = palloc(sizeof(Datum) * tupdesc->natts);
	row.nulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(new_tuple, tupdesc, row.values, row.nulls);

	rs.entry = entry;
	rs.trigger = trigger;
	rs.rel = rel;
	rs.row = &row;
	rs.model = catalog_cached_model(trigger->tgargs[0]);
	rs.result = &result;
	if (policy == ON_ERROR_ERROR)
	{
		score_row_or_raise(&rs);
		scored = true;
	}
	else
		scored = score_row_or_warn(&rs, policy);
	result_tuple = row_with_outputs(entry, tupdesc, new_tuple, &row, &result, scored, policy);
	if (scored)
	{
		stats_count_call(rs.model, result.score, started);
		if (shadow_has_challengers(rs.model))
			score_challengers(&rs, &result);
	}
	return PointerGetDatum(result_tuple);
}
