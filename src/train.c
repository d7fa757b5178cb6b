/*-------------------------------------------------------------------------
 *
 * train.c
 *		fraud_model_train(): train an XGBoost model on a query's rows and
 *		store it as a new model version with its validation metrics.
 *
 * The training and validation queries are read through SPI cursors, a batch
 * at a time, into float matrices (the only copy XGBoost needs).  Feature
 * columns are every column but the label, by name; or, when the only other
 * column is jsonb (typically a feature function's output), its keys, taken
 * from the first row.  Thresholds are chosen on the validation rows only:
 * review at the lowest score whose precision reaches review_precision (0.5),
 * decline at the lowest reaching decline_precision (0.9).  The model is
 * stored through fraud_model_load(), so it gets the same validation and
 * privilege checks as any other model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "fraud_score.h"
#include "xgb.h"

FRAUD_SQL_FUNCTION(fraud_model_train);

#define FETCH_BATCH 10000

/* How the query's columns become features. */
typedef struct FeatureLayout
{
	bool		from_jsonb;		/* one jsonb column whose keys are features */
	int			num_features;
	char	  **names;
	FeatureKeys *keys;			/* names for jsonb lookups, if from_jsonb */
	double	   *row;			/* scratch for one row, if from_jsonb */
} FeatureLayout;

/* Rows read from one query. */
typedef struct RowSet
{
	int			nrow;
	int			capacity;
	float	   *x;				/* nrow x num_features */
	float	   *y;
	int			positives;
} RowSet;

typedef struct TrainOptions
{
	int			rounds;
	int			notice_every;
	double		review_precision;
	double		decline_precision;
	char	   *feature_function;
	char	   *description;
	int			num_xgb_params;	/* everything else goes to XGBoost, in order */
	char	  **xgb_keys;
	char	  **xgb_values;
} TrainOptions;

static char *
jsonb_value_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/*
 * Training threads: XGBoost's "nthread" (alias "n_jobs") must be an integer
 * from 1 to MAX_TRAINING_THREADS.  The cap is fixed rather than the number of
 * online CPUs so that a call valid on one server is valid on all (a replica,
 * a smaller test machine), and XGBoost 1.7 lowers it to a cgroup CPU quota
 * when it finds one.  It bounds what one call can leave behind: the OpenMP
 * threads it starts stay, idle, until the backend exits.
 */
#define MAX_TRAINING_THREADS 64

static void
check_thread_count(const char *key, const char *value)
{
	char	   *end = NULL;
	long		n;

	errno = 0;
	n = isdigit((unsigned char) value[0]) ? strtol(value, &end, 10) : 0;
	if (n < 1 || n > MAX_TRAINING_THREADS || errno != 0 || *end != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for training parameter \"%s\": \"%s\"", key, value),
				 errdetail("The number of training threads must be an integer from 1 to %d.",
						   MAX_TRAINING_THREADS),
				 errhint("Choose at most the number of CPUs the server can spare for training.")));
}

/*
 * Split params into fraud_score's own options and XGBoost parameters, which
 * are set on the booster in order.  "nthread", checked here, overrides the
 * default of one thread for this training only: scoring boosters are always
 * single-threaded (see xgb.c).  Checked before any row is read.
 */
static void
parse_params(Jsonb *params, TrainOptions *opts)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object")));
	opts->xgb_keys = palloc(sizeof(char *) * Max(JB_ROOT_COUNT(params), 1));
	opts->xgb_values = palloc(sizeof(char *) * Max(JB_ROOT_COUNT(params), 1));
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *value;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		value = jsonb_value_text(&v);
		if (value == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training parameter \"%s\" must be a string, number or boolean", key)));
		if (strcmp(key, "nthread") == 0 || strcmp(key, "n_jobs") == 0)
		{
			check_thread_count(key, value);
			/* as XGBoost's alias, n_jobs would lose to the default nthread=1 */
			key = pstrdup("nthread");
		}
		if (strcmp(key, "num_boost_round") == 0)
			opts->rounds = pg_strtoint32(value);
		else if (strcmp(key, "notice_every") == 0)
			opts->notice_every = pg_strtoint32(value);
		else if (strcmp(key, "review_precision") == 0)
			opts->review_precision = float8in_internal(value, NULL, "double precision", value);
		else if (strcmp(key, "decline_precision") == 0)
			opts->decline_precision = float8in_internal(value, NULL, "double precision", value);
		else if (strcmp(key, "feature_function") == 0)
			opts->feature_function = value;
		else if (strcmp(key, "description") == 0)
			opts->description = value;
		else if (strcmp(key, "objective") == 0 && strcmp(value, "binary:logistic") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("model objective \"%s\" is not supported", value),
					 errdetail("fraud_model_train trains binary:logistic models only.")));
		else
		{
			opts->xgb_keys[opts->num_xgb_params] = key;
			opts->xgb_values[opts->num_xgb_params++] = value;
		}
	}
	if (opts->rounds < 1 || opts->rounds > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num_boost_round must be between 1 and 100000")));
	if (!(opts->review_precision > 0 && opts->review_precision <= 1) ||
		!(opts->decline_precision > 0 && opts->decline_precision <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("review_precision and decline_precision must be in (0, 1]")));
}

static float
label_value(Datum value, bool isnull, Oid type, const char *label_column, int row)
{
	float		y;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("label column \"%s\" is null in row %d", label_column, row)));
	if (!is_feature_type(getBaseType(type)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("label column \"%s\" has type %s", label_column, format_type_be(type)),
				 errhint("The label must be boolean or a number that is 0 or 1.")));
	y = datum_to_input(value, getBaseType(type), label_column);
	if (y != 0 && y != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label column \"%s\" is %g in row %d, not 0 or 1", label_column, y, row)));
	return y;
}

/* Decide the layout from the first query's columns and first row. */
static void
layout_from_first_batch(SPITupleTable *tuptable, int label_att, const char *query_name,
						FeatureLayout *layout)
{
	TupleDesc	desc = tuptable->tupdesc;
	int			others = desc->natts - 1;

	if (others == 1 && getBaseType(TupleDescAttr(desc, label_att == 0 ? 1 : 0)->atttypid) == JSONBOID)
	{
		int			att = label_att == 0 ? 2 : 1;
		bool		isnull;
		Jsonb	   *doc;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		int			n = 0;

		if (tuptable->numvals == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA),
					 errmsg("%s returned no rows", query_name)));
		{
			Datum		value = SPI_getbinval(tuptable->vals[0], desc, att, &isnull);

			doc = isnull ? NULL : DatumGetJsonbP(value);
		}
		if (doc == NULL || !JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the features column of the first row of %s must be a JSON object", query_name)));
		layout->from_jsonb = true;
		layout->names = palloc(sizeof(char *) * Max(JB_ROOT_COUNT(doc), 1));
		it = JsonbIteratorInit(&doc->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY)
				layout->names[n++] = pnstrdup(v.val.string.val, v.val.string.len);
		layout->num_features = n;
		layout->keys = feature_keys_build(layout->names, n, CurrentMemoryContext);
		layout->row = palloc(sizeof(double) * Max(n, 1));
	}
	else
	{
		layout->from_jsonb = false;
		layout->names = palloc(sizeof(char *) * Max(others, 1));
		layout->num_features = 0;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, a);

			if (a == label_att || attr->attisdropped)
				continue;
			if (!is_feature_type(getBaseType(attr->atttypid)))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of %s has type %s, which cannot be a model feature",
								NameStr(attr->attname), query_name, format_type_be(attr->atttypid)),
						 errhint("Feature columns must be numeric or boolean, or the query must return one jsonb column of features besides the label.")));
			layout->names[layout->num_features++] = pstrdup(NameStr(attr->attname));
		}
	}
	if (layout->num_features == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has no feature columns", query_name)));
}

static void
rowset_grow(RowSet *rows, int num_features, MemoryContext data_context)
{
	if (rows->nrow < rows->capacity)
		return;
	rows->capacity = rows->capacity == 0 ? FETCH_BATCH : rows->capacity * 2;
	if ((Size) rows->capacity * num_features > MaxAllocHugeSize / sizeof(float))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many training rows")));
	rows->x = rows->x ? repalloc_huge(rows->x, sizeof(float) * rows->capacity * num_features)
		: MemoryContextAllocExtended(data_context, sizeof(float) * rows->capacity * num_features,
									 MCXT_ALLOC_HUGE);
	rows->y = rows->y ? repalloc_huge(rows->y, sizeof(float) * rows->capacity)
		: MemoryContextAllocExtended(data_context, sizeof(float) * rows->capacity, MCXT_ALLOC_HUGE);
}

/* One query being read: where its label and features are. */
typedef struct QueryReader
{
	const char *query_name;
	const char *label_column;
	FeatureLayout *layout;
	RowSet	   *rows;
	MemoryContext data_context;	/* the matrices; detoasted values go elsewhere */
	int			label_att;		/* 0-based; -1 until the first batch is read */
	int			features_att;	/* jsonb layout: attnum of the features column */
	int		   *columns;		/* column layout: attnum of each feature */
} QueryReader;

/*
 * Column layout: the attnum of each of the layout's features in this
 * query, which must have them all, of usable types.
 */
static int *
feature_columns(TupleDesc desc, const FeatureLayout *layout, const char *query_name)
{
	int		   *columns = palloc(sizeof(int) * layout->num_features);

	for (int f = 0; f < layout->num_features; f++)
	{
		columns[f] = SPI_fnumber(desc, layout->names[f]);
		if (columns[f] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s has no column \"%s\"", query_name, layout->names[f]),
					 errdetail("The training query has it as a feature.")));
		if (!is_feature_type(getBaseType(TupleDescAttr(desc, columns[f] - 1)->atttypid)))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of %s has type %s, which cannot be a model feature",
							layout->names[f], query_name,
							format_type_be(TupleDescAttr(desc, columns[f] - 1)->atttypid))));
	}
	return columns;
}

/*
 * At the first batch: find the label column, decide the layout if this is
 * the first query, and find the layout's features in this query.
 */
static void
reader_start(QueryReader *reader, SPITupleTable *tuptable)
{
	TupleDesc	desc = tuptable->tupdesc;
	FeatureLayout *layout = reader->layout;

	reader->label_att = SPI_fnumber(desc, reader->label_column) - 1;
	if (reader->label_att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s has no column \"%s\"", reader->query_name, reader->label_column),
				 errhint("label_column names the query's 0/1 fraud label.")));
	if (layout->names == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(reader->data_context);

		layout_from_first_batch(tuptable, reader->label_att, reader->query_name, layout);
		MemoryContextSwitchTo(old);
	}
	if (layout->from_jsonb)
	{
		reader->features_att = reader->label_att == 0 ? 2 : 1;
		if (desc->natts != 2 ||
			getBaseType(TupleDescAttr(desc, reader->features_att - 1)->atttypid) != JSONBOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s must return one jsonb column of features and the label, as training_query does",
							reader->query_name)));
	}
	else
		reader->columns = feature_columns(desc, layout, reader->query_name);
}

/* One row's features, from its jsonb column or from its feature columns. */
static void
row_features(QueryReader *reader, HeapTuple tuple, TupleDesc desc, float *x)
{
	FeatureLayout *layout = reader->layout;
	bool		isnull;
	Datum		value;

	if (layout->from_jsonb)
	{
		value = SPI_getbinval(tuple, desc, reader->features_att, &isnull);
		if (isnull)
			for (int f = 0; f < layout->num_features; f++)
				x[f] = NAN;
		else
		{
			features_from_jsonb(layout->keys, DatumGetJsonbP(value), NULL, layout->row);
			for (int f = 0; f < layout->num_features; f++)
				x[f] = (float) layout->row[f];
		}
	}
	else
		for (int f = 0; f < layout->num_features; f++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, reader->columns[f] - 1);

			value = SPI_getbinval(tuple, desc, reader->columns[f], &isnull);
			x[f] = isnull ? NAN : datum_to_input(value, getBaseType(attr->atttypid),
												 layout->names[f]);
		}
}

/* Append one row: its label, then its features. */
static void
reader_add_row(QueryReader *reader, HeapTuple tuple, TupleDesc desc)
{
	RowSet	   *rows = reader->rows;
	int			num_features = reader->layout->num_features;
	bool		isnull;
	Datum		value;

	rowset_grow(rows, num_features, reader->data_context);
	value = SPI_getbinval(tuple, desc, reader->label_att + 1, &isnull);
	rows->y[rows->nrow] = label_value(value, isnull, TupleDescAttr(desc, reader->label_att)->atttypid,
									  reader->label_column, rows->nrow + 1);
	rows->positives += rows->y[rows->nrow] > 0.5f;
	row_features(reader, tuple, desc, rows->x + (Size) rows->nrow * num_features);
	rows->nrow++;
}

/*
 * Read a query's rows into "rows", in "data_context", a batch at a time
 * through a cursor.  The first query decides "layout"; later ones must
 * provide the same features.
 */
static void
read_query(const char *query, const char *query_name, const char *label_column,
		   FeatureLayout *layout, RowSet *rows, MemoryContext data_context)
{
	QueryReader reader = {query_name, label_column, layout, rows, data_context, -1, 0, NULL};

	/* detoasted values and conversions of one batch; matrices go to data_context */
	MemoryContext batch_context = AllocSetContextCreate(CurrentMemoryContext,
														"fraud_score training batch",
														ALLOCSET_DEFAULT_SIZES);
	Portal		portal = history_open(query, query_name);

	for (;;)
	{
		SPITupleTable *tuptable;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		tuptable = SPI_tuptable;
		if (reader.label_att < 0)
			reader_start(&reader, tuptable);
		if (tuptable->numvals == 0)
			break;

		old = MemoryContextSwitchTo(batch_context);
		for (uint64 r = 0; r < tuptable->numvals; r++)
			reader_add_row(&reader, tuptable->vals[r], tuptable->tupdesc);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_context);
		SPI_freetuptable(tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch_context);
}

/*
 * The training rows, then the validation rows if there is a validation
 * query, each checked for what training needs.
 */
static void
read_training_rows(const char *training_query, const char *validation_query,
				   const char *label_column, FeatureLayout *layout,
				   RowSet *train, RowSet *valid, MemoryContext data_context)
{
	read_query(training_query, "training_query", label_column, layout, train, data_context);
	if (train->nrow == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA),
				 errmsg("training_query returned no rows")));
	if (train->positives == 0 || train->positives == train->nrow)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training rows must include both labels"),
				 errdetail("%d rows, %d labelled 1.", train->nrow, train->positives)));
	if (validation_query != NULL)
	{
		read_query(validation_query, "validation_query", label_column, layout, valid, data_context);
		if (valid->nrow == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA),
					 errmsg("validation_query returned no rows")));
	}
	ereport(NOTICE,
			(errmsg("training on %d rows (%d fraud), validating on %d rows (%d fraud), %d features",
					train->nrow, train->positives, valid->nrow, valid->positives, layout->num_features)));
}

/*
 * The checks fraud_model_load() will make on the name and the feature
 * function, made before training rather than after it.
 */
static void
check_before_training(const char *schema, text *name, const char *feature_function)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	char	   *sql = psprintf("SELECT %s.fraud_model_check_name($1), "
							   "%s.fraud_model_check_feature_function($2::regprocedure)",
							   quote_identifier(schema), quote_identifier(schema));

	values[0] = PointerGetDatum(name);
	if (feature_function != NULL)
		values[1] = CStringGetTextDatum(feature_function);
	else
		nulls[1] = 'n';
	if (SPI_execute_with_args(sql, 2, argtypes, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check the model name and feature function");
}

static void
append_metric(StringInfo json, const char *key, double value)
{
	appendStringInfo(json, ", \"%s\": ", key);
	if (isnan(value))
		appendStringInfoString(json, "null");
	else
		appendStringInfo(json, "%.6f", value);
}

/*
 * Create the booster and run the rounds, with a NOTICE carrying XGBoost's
 * evaluation every notice_every rounds and after the last one.
 */
static XgbTraining *
train_booster(const TrainOptions *opts, const FeatureLayout *layout,
			  const RowSet *train, const RowSet *valid, MemoryContext owner)
{
	XgbTraining *training = xgb_train_begin(train->x, train->y, train->nrow,
											valid->x, valid->y, valid->nrow,
											layout->num_features, owner);

	xgb_train_set_param(training, "seed", "0");
	for (int p = 0; p < opts->num_xgb_params; p++)
		xgb_train_set_param(training, opts->xgb_keys[p], opts->xgb_values[p]);

	for (int round = 0; round < opts->rounds; round++)
	{
		CHECK_FOR_INTERRUPTS();
		xgb_train_round(training, round);
		if (opts->notice_every > 0 &&
			((round + 1) % opts->notice_every == 0 || round + 1 == opts->rounds))
		{
			char	   *eval = xgb_train_eval(training, round);

			for (char *p = eval; *p; p++)
				if (*p == '\t')
					*p = ' ';
			ereport(NOTICE, (errmsg("round %d of %d: %s", round + 1, opts->rounds, eval)));
		}
	}
	return training;
}

/* What the model is stored with besides its bytes. */
typedef struct TrainResult
{
	double		review_threshold;
	double		decline_threshold;
	char	   *metrics;		/* the metrics column, as JSON text */
	double	   *validation_scores;	/* the model's, of the validation rows; or NULL */
} TrainResult;

/*
 * The metrics document, and thresholds chosen on the validation rows when
 * there are rows of both labels (else the defaults, with a NOTICE).
 */
static void
training_metrics(XgbTraining *training, const TrainOptions *opts,
				 const RowSet *train, const RowSet *valid, TrainResult *result)
{
	StringInfoData json;
	FraudMetrics metrics;
	bool		have_metrics = false;

	result->review_threshold = 0.5;
	result->decline_threshold = 0.9;
	result->validation_scores = NULL;
	initStringInfo(&json);
	appendStringInfo(&json, "{\"training_rows\": %d, \"training_frauds\": %d", train->nrow, train->positives);
	if (valid->nrow > 0)
	{
		double	   *scores = palloc_extended(sizeof(double) * valid->nrow, MCXT_ALLOC_HUGE);

		xgb_train_predict_validation(training, scores);
		result->validation_scores = scores;
		metrics_compute(scores, valid->y, valid->nrow, opts->review_precision,
						opts->decline_precision, &metrics);
		have_metrics = !isnan(metrics.auc);
		appendStringInfo(&json, ", \"validation_rows\": %d, \"validation_frauds\": %d",
						 valid->nrow, valid->positives);
		if (have_metrics)
		{
			append_metric(&json, "auc", metrics.auc);
			append_metric(&json, "average_precision", metrics.average_precision);
			append_metric(&json, "precision_at_recall_80", metrics.precision_at_recall_80);
			append_metric(&json, "recall_at_precision_50", metrics.recall_at_precision_50);
			append_metric(&json, "review_precision", opts->review_precision);
			append_metric(&json, "decline_precision", opts->decline_precision);
			result->review_threshold = metrics.review_threshold;
			result->decline_threshold = metrics.decline_threshold;
		}
	}
	appendStringInfo(&json, ", \"rounds\": %d}", opts->rounds);
	if (!have_metrics)
		ereport(NOTICE,
				(errmsg("thresholds are the defaults, 0.5 and 0.9"),
				 errdetail("Thresholds are chosen on validation rows with both labels; there were none.")));
	result->metrics = json.data;
}

/*
 * Store the model like any model, through fraud_model_load(): validated,
 * versioned, privilege-checked.  Returns its version.
 */
static int32
store_model(const char *schema, text *name, bytea *model, const FeatureLayout *layout,
			const TrainOptions *opts, const TrainResult *result, bool activate)
{
	Oid			argtypes[9] = {TEXTOID, BYTEAOID, TEXTARRAYOID, FLOAT8OID, FLOAT8OID,
	BOOLOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		values[9];
	char		nulls[9] = "         ";
	char	   *sql = psprintf("SELECT %s.fraud_model_load($1, $2, $3, $4, $5, $6, $7, "
							   "$8::regprocedure, $9)", quote_identifier(schema));
	Datum	   *name_datums = palloc(sizeof(Datum) * layout->num_features);
	bool		isnull;

	for (int f = 0; f < layout->num_features; f++)
		name_datums[f] = CStringGetTextDatum(layout->names[f]);
	values[0] = PointerGetDatum(name);
	values[1] = PointerGetDatum(model);
	values[2] = PointerGetDatum(construct_array(name_datums, layout->num_features, TEXTOID,
												-1, false, TYPALIGN_INT));
	values[3] = Float8GetDatum(result->review_threshold);
	values[4] = Float8GetDatum(result->decline_threshold);
	values[5] = BoolGetDatum(activate);
	values[6] = CStringGetTextDatum(opts->description ? opts->description : "trained by fraud_model_train");
	if (opts->feature_function)
		values[7] = CStringGetTextDatum(opts->feature_function);
	else
		nulls[7] = 'n';
	values[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(result->metrics));
	if (SPI_execute_with_args(sql, 9, argtypes, values, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not store the trained model");
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The version's reference distributions for drift reports (drift.c): its
 * validation rows' features and scores, or, without validation rows, its
 * training rows' features alone.
 */
static void
store_reference(const char *schema, text *name, int32 version, const FeatureLayout *layout,
				const RowSet *train, const RowSet *valid, const TrainResult *result)
{
	Jsonb	   *reference;

	if (valid->nrow > 0)
		reference = drift_reference_from_matrix(valid->x, result->validation_scores, valid->nrow,
												layout->num_features, layout->names,
												"validation_query");
	else
		reference = drift_reference_from_matrix(train->x, NULL, train->nrow,
												layout->num_features, layout->names,
												"training_query");
	drift_store_reference(schema, text_to_cstring(name), version, reference);
}

Datum
fraud_model_train(PG_FUNCTION_ARGS)
{
	text	   *name;
	char	   *training_query;
	char	   *validation_query = NULL;
	char	   *label_column;
	bool		activate;
	TrainOptions opts = {100, 10, 0.5, 0.9, NULL, NULL, 0, NULL, NULL};
	FeatureLayout layout = {0};
	RowSet		train = {0};
	RowSet		valid = {0};
	MemoryContext train_context;
	XgbTraining *training;
	TrainResult result;
	bytea	   *model;
	int32		version;
	char	   *schema;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, training_query and label_column must not be null")));
	catalog_check_writable("fraud_model_train()");
	name = PG_GETARG_TEXT_PP(0);
	training_query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	label_column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(4))
		validation_query = text_to_cstring(PG_GETARG_TEXT_PP(4));
	activate = PG_ARGISNULL(5) ? false : PG_GETARG_BOOL(5);
	if (!PG_ARGISNULL(3))
		parse_params(PG_GETARG_JSONB_P(3), &opts);

	/* Matrices and booster live here; the booster is freed with it, even on error. */
	train_context = AllocSetContextCreate(CurrentMemoryContext, "fraud_score training",
										  ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	check_before_training(schema, name, opts.feature_function);
	read_training_rows(training_query, validation_query, label_column, &layout,
					   &train, &valid, train_context);
	training = train_booster(&opts, &layout, &train, &valid, train_context);
	training_metrics(training, &opts, &train, &valid, &result);
	model = xgb_train_save(training,
						   model_feature_names_to_utf8(layout.names, layout.num_features),
						   layout.num_features);
	version = store_model(schema, name, model, &layout, &opts, &result, activate);
	store_reference(schema, name, version, &layout, &train, &valid, &result);
	SPI_finish();
	MemoryContextDelete(train_context);
	PG_RETURN_INT32(version);
}
