/*-------------------------------------------------------------------------
 *
 * trigger.c
 *		fraud_score_trigger(): score NEW in a BEFORE INSERT OR UPDATE trigger.
 *
 * Arguments: model name, score column, then optionally decision column and
 * model-version column.  Features come straight from NEW's columns whose
 * names match the model's feature names.  Which column is which is worked
 * out at a trigger's first row and cached per trigger, until the relation
 * changes (relcache callback) or the model version does (generation).
 *
 * A row that cannot be scored (no active model, a failing feature function,
 * a bad value, a broken stored model) fails the INSERT, unless
 * fraud_score.on_error is review or approve: then scoring runs in a
 * subtransaction, as a PL/pgSQL exception block would, and the row is
 * written with that decision and a NULL score and version, with a WARNING.
 * A misconfigured trigger (arguments, output columns) is always an error,
 * and so are a cancel, a deadlock, a serialization failure and running out
 * of resources (error_is_not_the_rows).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "fraud_score.h"

PG_FUNCTION_INFO_V1(fraud_score_trigger);

typedef struct TriggerCacheEntry
{
	Oid			trigger_oid;	/* hash key */
	bool		outputs_valid;	/* the output columns below, for relid */
	bool		map_valid;		/* map, for relid and model_generation */
	Oid			relid;
	uint32		model_generation;
	MemoryContext context;		/* owns map; NULL until first built */
	FeatureMap *map;
	AttrNumber	score_attnum;
	Oid			score_type;
	AttrNumber	decision_attnum;	/* 0 if not requested */
	AttrNumber	version_attnum; /* 0 if not requested */
	Oid			version_type;
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
			entry->outputs_valid = entry->map_valid = false;
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
	built.relid = RelationGetRelid(rel);
	built.outputs_valid = true;
	built.map_valid = entry->map_valid && entry->relid == built.relid;
	*entry = built;
}

/* Which column feeds which feature of "model". */
static void
build_map(TriggerCacheEntry *entry, Relation rel, FraudModel *model)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score trigger",
												  ALLOCSET_SMALL_SIZES);
	FeatureMap *map = feature_map_build(model, RelationGetDescr(rel),
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
} RowScore;

/* NEW: the tuple, and its columns deformed once for reading and rewriting. */
typedef struct NewRow
{
	HeapTuple	tuple;
	Datum	   *values;
	bool	   *nulls;
} NewRow;

static void
score_row(TriggerCacheEntry *entry, Trigger *trigger, Relation rel, const NewRow *row,
		  RowScore *result)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	FraudModel *model = catalog_get_active_model(trigger->tgargs[0]);
	Jsonb	   *extra = NULL;
	float	   *inputs;

	/* NEW as jsonb is built only for a feature function. */
	if (OidIsValid(model->feature_function))
		model = score_model_with_features(trigger->tgargs[0], model,
										  score_tuple_to_jsonb(row->tuple, tupdesc), &extra);
	if (!entry->map_valid || entry->model_generation != model->generation)
		build_map(entry, rel, model);

	inputs = score_feature_buffer(model->num_features);
	features_from_values(model, entry->map, row->values, row->nulls, extra, inputs);
	result->score = score_features(model, inputs);
	result->decision = score_decision(model, result->score);
	result->version = model->version;
}

static const char *
on_error_name(OnErrorPolicy policy)
{
	return policy == ON_ERROR_APPROVE ? "approve" : policy == ON_ERROR_REVIEW ? "review" : "error";
}

/*
 * score_row in a subtransaction.  Returns false, having raised a WARNING
 * and counted the failure, if it failed with a scoring failure; raises
 * anything else.
 */
static bool
score_row_or_warn(TriggerCacheEntry *entry, Trigger *trigger, Relation rel, const NewRow *row,
				  RowScore *result, OnErrorPolicy policy)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		score_row(entry, trigger, rel, row, result);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_END_TRY();

	if (edata == NULL)
		return true;
	if (error_is_not_the_rows(edata->sqlerrcode))
		ReThrowError(edata);
	stats_count_failure(policy, edata->message);
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("fraud_score_trigger could not score a row of \"%s\": %s",
					RelationGetRelationName(rel), edata->message),
			 errdetail("The row is written with decision \"%s\" and a NULL score, because fraud_score.on_error is \"%s\".",
					   on_error_name(policy), on_error_name(policy)),
			 edata->detail ? errhint("The error's detail: %s", edata->detail) : 0));
	FreeErrorData(edata);
	return false;
}

/* score_row, counting an error before it propagates. */
static void
score_row_or_raise(TriggerCacheEntry *entry, Trigger *trigger, Relation rel, const NewRow *row,
				   RowScore *result)
{
	MemoryContext caller_context = CurrentMemoryContext;

	PG_TRY();
	{
		score_row(entry, trigger, rel, row, result);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		if (!error_is_not_the_rows(edata->sqlerrcode))
			stats_count_failure(ON_ERROR_ERROR, edata->message);
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

Datum
fraud_score_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	tupdesc;
	NewRow		row;
	HeapTuple	result_tuple;
	TriggerCacheEntry *entry;
	OnErrorPolicy policy = (OnErrorPolicy) fraud_score_on_error;
	RowScore	result;
	bool		scored;

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
	rel = trigdata->tg_relation;
	if (trigger->tgnargs < 2 || trigger->tgnargs > 4)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraud_score_trigger() takes 2 to 4 arguments, but trigger \"%s\" on \"%s\" gives %d",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs),
				 errhint("Use EXECUTE FUNCTION fraud_score_trigger(model, score_column [, decision_column [, version_column]]).")));

	tupdesc = RelationGetDescr(rel);
	row.tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	entry = trigger_entry(trigger);
	if (!entry->outputs_valid || entry->relid != RelationGetRelid(rel))
		resolve_outputs(entry, trigger, rel);

	/* Deformed once: features are read from it, outputs written into it. */
	row.values = palloc(sizeof(Datum) * tupdesc->natts);
	row.nulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(row.tuple, tupdesc, row.values, row.nulls);

	if (policy == ON_ERROR_ERROR)
	{
		score_row_or_raise(entry, trigger, rel, &row, &result);
		scored = true;
	}
	else
		scored = score_row_or_warn(entry, trigger, rel, &row, &result, policy);
	if (scored)
		stats_count_scored();

	row.nulls[entry->score_attnum - 1] = !scored;
	row.values[entry->score_attnum - 1] = !scored ? (Datum) 0 : entry->score_type == FLOAT4OID ?
		Float4GetDatum((float4) result.score) : Float8GetDatum(result.score);
	if (entry->decision_attnum)
	{
		row.nulls[entry->decision_attnum - 1] = false;
		row.values[entry->decision_attnum - 1] =
			CStringGetTextDatum(scored ? result.decision : on_error_name(policy));
	}
	if (entry->version_attnum)
	{
		row.nulls[entry->version_attnum - 1] = !scored;
		row.values[entry->version_attnum - 1] = !scored ? (Datum) 0 : entry->version_type == INT8OID ?
			Int64GetDatum(result.version) : Int32GetDatum(result.version);
	}
	result_tuple = heap_form_tuple(tupdesc, row.values, row.nulls);
	/* as heap_modify_tuple does */
	result_tuple->t_data->t_ctid = row.tuple->t_data->t_ctid;
	result_tuple->t_self = row.tuple->t_self;
	result_tuple->t_tableOid = row.tuple->t_tableOid;
	return PointerGetDatum(result_tuple);
}
