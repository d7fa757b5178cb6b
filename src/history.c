/*-------------------------------------------------------------------------
 *
 * history.c
 *		Reading a caller's query over many past rows, for the operations
 *		that run one (training, reference distributions, drift reports,
 *		backtests): a single SELECT through an SPI cursor, a batch at a
 *		time; its columns found by position or name and checked for type;
 *		and the input row a given model version sees for a row document.
 *
 * Callers are connected to SPI.  The query runs as the caller and under
 * the caller's search_path, as the same query typed at psql would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"

#include "fraud_score.h"

#define HISTORY_FETCH_BATCH 1000

/* Prepare a query, check that it is one SELECT, and open a cursor on it. */
Portal
history_open(const char *query, const char *query_name)
{
	SPIPlanPtr	plan;
	List	   *sources;

	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s: %s", query_name, SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1 ||
		((CachedPlanSource *) linitial(sources))->commandTag != CMDTAG_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single SELECT", query_name)));
	return SPI_cursor_open(NULL, plan, NULL, NULL, true);
}

/*
 * Start reading a query whose first column is the row document (jsonb, as
 * fraud_score takes it).  Rows are read a batch at a time; everything a
 * caller allocates while handling a batch's rows should go to
 * reader->batch_context, which is reset before the next batch.
 */
void
history_start(HistoryReader *reader, const char *query, const char *query_name)
{
	memset(reader, 0, sizeof(HistoryReader));
	reader->query_name = query_name;
	reader->batch_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score history batch",
												  ALLOCSET_DEFAULT_SIZES);
	reader->portal = history_open(query, query_name);
	SPI_cursor_fetch(reader->portal, true, HISTORY_FETCH_BATCH);
	reader->batch = SPI_tuptable;
	reader->desc = reader->batch->tupdesc;
	if (reader->desc->natts < 1 ||
		getBaseType(TupleDescAttr(reader->desc, 0)->atttypid) != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the first column of %s must be the row document, of type jsonb", query_name),
				 errhint("Select the rows as fraud_score() takes them, e.g. SELECT to_jsonb(t) FROM my_table t.")));
}

/*
 * The next row, or NULL at the end (the reader is then closed).  A row's
 * tuple stays valid until the call after the next batch starts.
 */
HeapTuple
history_next(HistoryReader *reader)
{
	CHECK_FOR_INTERRUPTS();
	if (reader->next >= reader->batch->numvals)
	{
		SPI_freetuptable(reader->batch);
		MemoryContextReset(reader->batch_context);
		SPI_cursor_fetch(reader->portal, true, HISTORY_FETCH_BATCH);
		reader->batch = SPI_tuptable;
		/* each batch has its own copy of the descriptor, freed with it */
		reader->desc = reader->batch->tupdesc;
		reader->next = 0;
		if (reader->batch->numvals == 0)
		{
			SPI_freetuptable(reader->batch);
			SPI_cursor_close(reader->portal);
			MemoryContextDelete(reader->batch_context);
			reader->batch = NULL;
			reader->batch_context = NULL;
			return NULL;
		}
	}
	reader->rows++;
	return reader->batch->vals[reader->next++];
}

/*
 * The attribute number of the column "name" of the query, of a type that
 * "accepts" takes, or 0 if there is none and it is optional.
 */
int
history_column(HistoryReader *reader, const char *name, bool (*accepts) (Oid type),
			   const char *type_description, bool required)
{
	int			att = SPI_fnumber(reader->desc, name);
	Oid			type;

	if (att <= 0)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s has no column \"%s\"", reader->query_name, name)));
		return 0;
	}
	type = getBaseType(TupleDescAttr(reader->desc, att - 1)->atttypid);
	if (!accepts(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of %s has type %s, not %s", name, reader->query_name,
						format_type_be(type), type_description)));
	return att;
}

bool
history_is_number_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID || type == FLOAT4OID ||
		type == FLOAT8OID || type == NUMERICOID;
}

/* A value of a history_is_number_type column as a double. */
double
history_number(Datum value, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
	}
}

/*
 * The current row's document, detoasted into the batch context.
 */
Jsonb *
history_document(HistoryReader *reader, HeapTuple tuple)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, reader->desc, 1, &isnull);
	MemoryContext old;
	Jsonb	   *doc;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("row %lld of %s has a null document", (long long) reader->rows,
						reader->query_name)));
	old = MemoryContextSwitchTo(reader->batch_context);
	doc = DatumGetJsonbP(value);
	MemoryContextSwitchTo(old);
	return doc;
}

/*
 * The output of a model's feature function for a row document (NULL when
 * the model has none), to pass to history_inputs: computed once, it serves
 * every version that names the same function (features_from_jsonb).
 */
Jsonb *
history_feature_output(FraudModel *model, Jsonb *doc)
{
	if (!OidIsValid(model->feature_function))
		return NULL;
	return featurefn_call(model->feature_function, JsonbPGetDatum(doc));
}
