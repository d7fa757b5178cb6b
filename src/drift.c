/*-------------------------------------------------------------------------
 *
 * drift.c
 *		Reference distributions of a model version's score and features,
 *		and the population stability index of recent rows against them.
 *
 * Owns the `reference` column of fraud_score_models: a document built by
 * fraud_model_train from its validation rows (its training rows when it
 * has none, then without the score, which on training rows says how well
 * the trees fit, not how they will score) or by fraud_model_set_reference
 * from a query of row documents scored by the version; and
 * fraud_model_drift, which scores a query of recent row documents with
 * the version and compares.
 *
 * A distribution is REFERENCE_BINS quantile bins: edges at the deciles of
 * the reference values, with one just below the smallest and one at the
 * largest (equal edges merged), so that a recent value outside the
 * reference's range falls in a bin of its own, empty in the reference (a
 * wave of tiny card-testing amounts, a velocity count never seen); a value
 * belongs to the first bin whose edge it does not exceed, and the missing
 * values (NaN inputs) are a bin of their own.  The index of a column is
 *
 *     PSI = sum over bins of (a - e) ln(a / e)
 *
 * with e and a the reference's and the recent rows' shares; a bin empty on
 * one side counts half a row there, so that the index stays finite, and a
 * bin empty on both is left out (a feature missing everywhere has index 0).  The
 * conventional reading (Siddiqi, Credit Risk Scorecards, 2006): below 0.1
 * no change, 0.1 to 0.25 a moderate one, above 0.25 a major one.  Two
 * samples from one distribution show on average about
 * (bins - 1) (1/n + 1/N), bins counted as in the sum (the index is a symmetric divergence, whose
 * sampling distribution is chi-squared-like); fraud_model_drift reports
 * that figure beside each index, so that a small window is not read as
 * drift.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "fraud_score.h"

FRAUD_SQL_FUNCTION(fraud_model_set_reference);
FRAUD_SQL_FUNCTION(fraud_model_drift);

#define REFERENCE_BINS 10
#define REFERENCE_FORMAT 1
#define MODERATE_DRIFT 0.1
#define MAJOR_DRIFT 0.25

/* One column's values as they are collected (NaN: missing). */
typedef struct Column
{
	double	   *values;
	int64		count;
	int64		capacity;
	int64		missing;
} Column;

/* One column's bins: counts[i] holds the values v with edges[i-1] < v <= edges[i]. */
typedef struct Distribution
{
	int			num_edges;
	double	   *edges;
	int64	   *counts;			/* num_edges + 1 */
	int64		missing;
	int64		rows;
} Distribution;

/* Columns 0 .. num_features - 1 are the features, num_features the score. */
typedef struct ReferenceBuilder
{
	int			num_features;
	Column	   *columns;
	int64		rows;
} ReferenceBuilder;

static void
builder_init(ReferenceBuilder *builder, int num_features)
{
	builder->num_features = num_features;
	builder->columns = palloc0(sizeof(Column) * (num_features + 1));
	builder->rows = 0;
}

static void
column_add(Column *column, double value)
{
	if (isnan(value))
	{
		column->missing++;
		return;
	}
	if (column->count == column->capacity)
	{
		column->capacity = Max(1024, column->capacity * 2);
		column->values = column->values == NULL ?
			palloc_extended(sizeof(double) * column->capacity, MCXT_ALLOC_HUGE) :
			repalloc_huge(column->values, sizeof(double) * column->capacity);
	}
	column->values[column->count++] = value;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* An edge after those there are, unless equal to the last (or infinite). */
static void
add_edge(Distribution *dist, double edge)
{
	if (isfinite(edge) && (dist->num_edges == 0 || edge > dist->edges[dist->num_edges - 1]))
		dist->edges[dist->num_edges++] = edge;
}

/* The quantile bins of a column (its values sorted in place). */
static void
distribution_of(Column *column, Distribution *dist)
{
	int64		n = column->count;
	int			bin = 0;

	dist->edges = palloc(sizeof(double) * (REFERENCE_BINS + 1));
	dist->num_edges = 0;
	dist->missing = column->missing;
	dist->rows = n + column->missing;
	if (n > 0)
	{
		qsort(column->values, n, sizeof(double), compare_doubles);
		add_edge(dist, nextafter(column->values[0], -INFINITY));
		for (int i = 1; i < REFERENCE_BINS; i++)
			add_edge(dist, column->values[(i * n + REFERENCE_BINS - 1) / REFERENCE_BINS - 1]);
		add_edge(dist, column->values[n - 1]);
	}
	dist->counts = palloc0(sizeof(int64) * (dist->num_edges + 1));
	for (int64 k = 0; k < n; k++)
	{
		while (bin < dist->num_edges && column->values[k] > dist->edges[bin])
			bin++;
		dist->counts[bin]++;
	}
}

/* The bin of a (non-missing) value. */
static int
bin_of(const Distribution *dist, double value)
{
	int			low = 0;
	int			high = dist->num_edges;

	/* the first edge not below the value */
	while (low < high)
	{
		int			mid = (low + high) / 2;

		if (value > dist->edges[mid])
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

static void
append_double(StringInfo out, double value)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(value, buf);
	appendStringInfoString(out, buf);
}

static void
append_distribution(StringInfo out, const Distribution *dist)
{
	appendStringInfoString(out, "\"edges\": [");
	for (int i = 0; i < dist->num_edges; i++)
	{
		if (i > 0)
			appendStringInfoString(out, ", ");
		append_double(out, dist->edges[i]);
	}
	appendStringInfoString(out, "], \"counts\": [");
	for (int i = 0; i <= dist->num_edges; i++)
		appendStringInfo(out, "%s" INT64_FORMAT, i > 0 ? ", " : "", dist->counts[i]);
	appendStringInfo(out, "], \"missing\": " INT64_FORMAT, dist->missing);
}

/*
 * A reference document: "fill" gives column c's values (c = num_features
 * is the score, asked for only when with_score) in a Column it may reuse.
 */
static Jsonb *
reference_document(const char *source, int64 rows, int num_features, char **feature_names,
				   bool with_score, Column *(*fill) (void *arg, int c), void *arg)
{
	StringInfoData json;
	Distribution dist;

	initStringInfo(&json);
	appendStringInfo(&json, "{\"format\": %d, \"source\": ", REFERENCE_FORMAT);
	escape_json(&json, source);
	appendStringInfo(&json, ", \"rows\": " INT64_FORMAT ", \"bins\": %d", rows, REFERENCE_BINS);
	if (with_score)
	{
		distribution_of(fill(arg, num_features), &dist);
		appendStringInfoString(&json, ", \"score\": {");
		append_distribution(&json, &dist);
		appendStringInfoChar(&json, '}');
	}
	appendStringInfoString(&json, ", \"features\": [");
	for (int f = 0; f < num_features; f++)
	{
		distribution_of(fill(arg, f), &dist);
		appendStringInfoString(&json, f > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(&json, feature_names[f]);
		appendStringInfoString(&json, ", ");
		append_distribution(&json, &dist);
		appendStringInfoChar(&json, '}');
	}
	appendStringInfoString(&json, "]}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
}

static Column *
builder_column(void *arg, int c)
{
	return &((ReferenceBuilder *) arg)->columns[c];
}

/* Training's rows, read a column at a time into one reused buffer. */
typedef struct MatrixColumns
{
	const float *x;
	const double *scores;
	int64		nrow;
	int			num_features;
	Column		buffer;
} MatrixColumns;

static Column *
matrix_column(void *arg, int c)
{
	MatrixColumns *m = arg;

	m->buffer.count = m->buffer.missing = 0;
	for (int64 r = 0; r < m->nrow; r++)
		column_add(&m->buffer, c == m->num_features ? m->scores[r] : m->x[r * m->num_features + c]);
	return &m->buffer;
}

/*
 * fraud_model_train's reference: its rows' features (nrow x num_features,
 * row-major) and, when given, the trained model's scores of those rows;
 * beside the training matrices, one column of doubles at a time.
 */
Jsonb *
drift_reference_from_matrix(const float *x, const double *scores, int64 nrow, int num_features,
							char **feature_names, const char *source)
{
	MatrixColumns m = {x, scores, nrow, num_features, {0}};

	m.buffer.capacity = Max(nrow, 1);
	m.buffer.values = palloc_extended(sizeof(double) * m.buffer.capacity, MCXT_ALLOC_HUGE);
	return reference_document(source, nrow, num_features, feature_names, scores != NULL,
							  matrix_column, &m);
}

/*
 * Store a version's reference document, as the caller (who needs UPDATE on
 * the catalog); nothing before the 0.6 catalog has the column.  Connected
 * to SPI.
 */
void
drift_store_reference(const char *schema, const char *name, int32 version, Jsonb *reference)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, JSONBOID};
	Datum		values[3];
	Oid			catalog = get_relname_relid("fraud_score_models", get_namespace_oid(schema, false));
	char	   *sql;

	/* a library newer than the extension's SQL (before ALTER EXTENSION UPDATE) */
	if (get_attnum(catalog, "reference") == InvalidAttrNumber)
		return;
	sql = psprintf("UPDATE %s.fraud_score_models SET reference = $3 "
							   "WHERE name OPERATOR(pg_catalog.=) $1 "
							   "AND version OPERATOR(pg_catalog.=) $2",
							   quote_identifier(schema));

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = JsonbPGetDatum(reference);
	if (SPI_execute_with_args(sql, 3, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store the reference distributions");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("fraud model \"%s\" version %d was dropped while its reference was built",
						name, version)));
}

/*
 * Score a query's row documents with a version: each row's inputs and
 * score to "add" (the builder's columns, or a drift report's bins).
 */
static int64
score_documents(FraudModel *model, const char *query, const char *query_name,
				void (*add) (void *arg, const double *inputs, double score), void *arg)
{
	HistoryReader reader;
	HeapTuple	tuple;
	double	   *inputs = palloc(sizeof(double) * Max(model->num_features, 1));

	history_start(&reader, query, query_name);
	while ((tuple = history_next(&reader)) != NULL)
	{
		Jsonb	   *doc = history_document(&reader, tuple);
		MemoryContext old = MemoryContextSwitchTo(reader.batch_context);
		Jsonb	   *extra = history_feature_output(model, doc);
		double		score;

		features_from_jsonb(model->keys, doc, extra, inputs);
		(void) scoring_score(model, inputs, &score, NULL);
		MemoryContextSwitchTo(old);
		add(arg, inputs, score);
	}
	return reader.rows;
}

static void
builder_add(void *arg, const double *inputs, double score)
{
	ReferenceBuilder *builder = arg;

	for (int f = 0; f < builder->num_features; f++)
		column_add(&builder->columns[f], inputs[f]);
	column_add(&builder->columns[builder->num_features], score);
	builder->rows++;
}

/* The schema the extension's objects are in: that of the called function. */
static char *
function_schema(FunctionCallInfo fcinfo)
{
	return get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
}

/*
 * fraud_model_set_reference(name, version, reference_query): the version's
 * reference distributions from the row documents the query returns, scored
 * by the version; the stored document.
 */
Datum
fraud_model_set_reference(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		version;
	char	   *query;
	FraudModel *model;
	ReferenceBuilder builder;
	Jsonb	   *reference;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, version and reference_query must not be null")));
	catalog_check_writable("fraud_model_set_reference()");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = PG_GETARG_INT32(1);
	query = text_to_cstring(PG_GETARG_TEXT_PP(2));

	SPI_connect();
	model = catalog_load_version(name, false, version, NULL);
	builder_init(&builder, model->num_features);
	score_documents(model, query, "reference_query", builder_add, &builder);
	if (builder.rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA),
				 errmsg("reference_query returned no rows")));
	reference = reference_document("reference_query", builder.rows, model->num_features,
								   model->feature_names, true, builder_column, &builder);
	drift_store_reference(function_schema(fcinfo), name, version, reference);
	reference = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(reference), false, -1);
	SPI_finish();
	PG_RETURN_JSONB_P(reference);
}

/* Reading a stored reference document back; the table's owner can write anything there. */
typedef struct ReferenceDoc
{
	const char *problem;		/* the first thing found wrong, or NULL */
} ReferenceDoc;

static JsonbValue *
doc_member(ReferenceDoc *doc, JsonbContainer *object, const char *key, enum jbvType type)
{
	JsonbValue *value = JsonContainerIsObject(object) ?
		getKeyJsonValueFromContainer(object, key, strlen(key), NULL) : NULL;

	if (value == NULL || value->type != type ||
		(type == jbvBinary && !JsonContainerIsArray(value->val.binary.data)))
	{
		if (doc->problem == NULL)
			doc->problem = psprintf("Its \"%s\" is missing or not of the right type.", key);
		return NULL;
	}
	return value;
}

/* A number as a double; beyond double range, an infinity (refused by the checks). */
static double
numeric_value(JsonbValue *value)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(value->val.numeric)));
}

/* A non-negative integer member, or -1 after noting the problem. */
static int64
doc_count(ReferenceDoc *doc, JsonbValue *value)
{
	double		number = value != NULL && value->type == jbvNumeric ? numeric_value(value) : -1;

	if (!(number >= 0 && number <= 1e15 && number == floor(number)))
	{
		if (doc->problem == NULL)
			doc->problem = "A count is not a non-negative integer.";
		return -1;
	}
	return (int64) number;
}

/* One distribution object ({"edges", "counts", "missing"}) into *dist. */
static void
read_distribution(ReferenceDoc *doc, JsonbContainer *object, Distribution *dist)
{
	JsonbValue *edges = doc_member(doc, object, "edges", jbvBinary);
	JsonbValue *counts = doc_member(doc, object, "counts", jbvBinary);
	JsonbValue *missing = doc_member(doc, object, "missing", jbvNumeric);

	memset(dist, 0, sizeof(Distribution));
	if (edges == NULL || counts == NULL || missing == NULL)
		return;
	dist->num_edges = JsonContainerSize(edges->val.binary.data);
	if (dist->num_edges > REFERENCE_BINS * 16 ||
		JsonContainerSize(counts->val.binary.data) != (uint32) dist->num_edges + 1)
	{
		doc->problem = doc->problem ? doc->problem : "A distribution's counts are not one more than its edges.";
		dist->num_edges = 0;
		return;
	}
	dist->edges = palloc(sizeof(double) * Max(dist->num_edges, 1));
	dist->counts = palloc(sizeof(int64) * (dist->num_edges + 1));
	for (int i = 0; i < dist->num_edges; i++)
	{
		JsonbValue *edge = getIthJsonbValueFromContainer(edges->val.binary.data, i);

		dist->edges[i] = edge != NULL && edge->type == jbvNumeric ? numeric_value(edge) : NAN;
		if (!isfinite(dist->edges[i]) || (i > 0 && !(dist->edges[i] > dist->edges[i - 1])))
			doc->problem = doc->problem ? doc->problem : "A distribution's edges are not increasing numbers.";
	}
	dist->missing = doc_count(doc, missing);
	dist->rows = dist->missing;
	for (int i = 0; i <= dist->num_edges; i++)
	{
		dist->counts[i] = doc_count(doc, getIthJsonbValueFromContainer(counts->val.binary.data, i));
		dist->rows += dist->counts[i];
	}
}

/*
 * A version's reference document as distributions: the score's (NULL
 * when the document has none) and one per feature, in the version's
 * feature order.  Raises if the document does not fit the version.
 */
static void
read_reference(const FraudModel *model, Jsonb *reference, Distribution **score, Distribution *features)
{
	ReferenceDoc doc = {NULL};
	JsonbContainer *root = &reference->root;
	JsonbValue *format = doc_member(&doc, root, "format", jbvNumeric);
	JsonbValue *list = format ? doc_member(&doc, root, "features", jbvBinary) : NULL;
	JsonbValue *score_doc = list ? getKeyJsonValueFromContainer(root, "score", 5, NULL) : NULL;

	if (format != NULL && numeric_value(format) != REFERENCE_FORMAT)
		doc.problem = psprintf("Its format is %g; this version of fraud_score reads format %d.",
							   numeric_value(format), REFERENCE_FORMAT);
	if (list != NULL && JsonContainerSize(list->val.binary.data) != (uint32) model->num_features)
		doc.problem = doc.problem ? doc.problem :
			psprintf("It has %u features; the version has %d.",
					 JsonContainerSize(list->val.binary.data), model->num_features);
	*score = NULL;
	if (doc.problem == NULL && score_doc != NULL && score_doc->type == jbvBinary &&
		JsonContainerIsObject(score_doc->val.binary.data))
	{
		*score = palloc(sizeof(Distribution));
		read_distribution(&doc, score_doc->val.binary.data, *score);
	}
	else if (score_doc != NULL && score_doc->type != jbvNull)
		doc.problem = doc.problem ? doc.problem : "Its \"score\" is not an object.";
	for (int f = 0; doc.problem == NULL && f < model->num_features; f++)
	{
		JsonbValue *entry = getIthJsonbValueFromContainer(list->val.binary.data, f);
		JsonbValue *fname = entry && entry->type == jbvBinary ?
			doc_member(&doc, entry->val.binary.data, "name", jbvString) : NULL;

		if (fname == NULL || fname->val.string.len != (int) strlen(model->feature_names[f]) ||
			memcmp(fname->val.string.val, model->feature_names[f], fname->val.string.len) != 0)
			doc.problem = psprintf("Its feature %d is not \"%s\".", f + 1, model->feature_names[f]);
		else
			read_distribution(&doc, entry->val.binary.data, &features[f]);
	}
	if (doc.problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the reference distributions of fraud model \"%s\" version %d are not valid",
						model->name, model->version),
				 errdetail_internal("%s", doc.problem),
				 errhint("Set them again with fraud_model_set_reference().")));
}

/* A drift report's bins: the recent rows' counts in the reference's bins. */
typedef struct DriftCounts
{
	int			num_features;
	Distribution *reference;	/* num_features + 1; the score's last, rows 0 if none */
	Distribution *recent;		/* the same bins, counted */
} DriftCounts;

static void
count_value(const Distribution *reference, Distribution *recent, double value)
{
	recent->rows++;
	if (isnan(value))
		recent->missing++;
	else
		recent->counts[bin_of(reference, value)]++;
}

static void
drift_add(void *arg, const double *inputs, double score)
{
	DriftCounts *counts = arg;

	for (int f = 0; f < counts->num_features; f++)
		count_value(&counts->reference[f], &counts->recent[f], inputs[f]);
	count_value(&counts->reference[counts->num_features], &counts->recent[counts->num_features], score);
}

/* One bin's share, an empty bin counting half a row. */
static double
share(int64 count, int64 rows)
{
	return (count > 0 ? (double) count : 0.5) / (double) rows;
}

/* PSI and the figure two samples of one distribution would show, of one column. */
static void
stability_index(const Distribution *reference, const Distribution *recent,
				double *psi, double *sampling_psi)
{
	int			bins = 0;

	*psi = 0;
	/* the value bins, then the missing values' */
	for (int i = 0; i <= reference->num_edges + 1; i++)
	{
		int64		expected = i <= reference->num_edges ? reference->counts[i] : reference->missing;
		int64		actual = i <= reference->num_edges ? recent->counts[i] : recent->missing;
		double		e = share(expected, reference->rows);
		double		a = share(actual, recent->rows);

		if (expected == 0 && actual == 0)
			continue;
		bins++;
		*psi += (a - e) * log(a / e);
	}
	*sampling_psi = Max(bins - 1, 0) * (1.0 / recent->rows + 1.0 / reference->rows);
}

static void
put_drift_row(ReturnSetInfo *rsinfo, const char *kind, const char *feature,
			  const Distribution *reference, const Distribution *recent)
{
	Datum		values[9];
	bool		nulls[9] = {0};
	double		psi;
	double		sampling_psi;

	values[0] = CStringGetTextDatum(kind);
	if (feature != NULL)
		values[1] = CStringGetTextDatum(feature);
	else
		nulls[1] = true;
	if (recent->rows > 0 && reference->rows > 0)
	{
		stability_index(reference, recent, &psi, &sampling_psi);
		values[2] = Float8GetDatum(psi);
		values[3] = CStringGetTextDatum(psi >= MAJOR_DRIFT ? "major" :
										psi >= MODERATE_DRIFT ? "moderate" : "none");
		values[4] = Float8GetDatum(sampling_psi);
		values[8] = Float8GetDatum((double) recent->missing / recent->rows);
	}
	else
		nulls[2] = nulls[3] = nulls[4] = nulls[8] = true;
	values[5] = Int64GetDatum(reference->rows);
	values[6] = Int64GetDatum(recent->rows);
	values[7] = Float8GetDatum(reference->rows > 0 ? (double) reference->missing / reference->rows : 0);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * fraud_model_drift(name, recent_query, version): per column (the score,
 * then each feature in the version's order) the population stability index
 * of the recent row documents, scored by the version (the active one when
 * version is null), against its reference distributions.
 */
Datum
fraud_model_drift(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	char	   *query;
	FraudModel *model;
	Jsonb	   *reference;
	Distribution *score;
	DriftCounts counts;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name and recent_query must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	model = catalog_load_version(name, PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2),
								 &reference);
	if (reference == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fraud model \"%s\" version %d has no reference distributions",
						model->name, model->version),
				 errhint("fraud_model_train() stores them; for a model loaded otherwise, set them with fraud_model_set_reference().")));
	counts.num_features = model->num_features;
	counts.reference = palloc0(sizeof(Distribution) * (model->num_features + 1));
	counts.recent = palloc0(sizeof(Distribution) * (model->num_features + 1));
	read_reference(model, reference, &score, counts.reference);
	if (score != NULL)
		counts.reference[model->num_features] = *score;
	for (int c = 0; c <= model->num_features; c++)
		counts.recent[c].counts = palloc0(sizeof(int64) * (counts.reference[c].num_edges + 1));

	score_documents(model, query, "recent_query", drift_add, &counts);
	if (score != NULL)
		put_drift_row(rsinfo, "score", NULL, score, &counts.recent[model->num_features]);
	for (int f = 0; f < model->num_features; f++)
		put_drift_row(rsinfo, "feature", model->feature_names[f], &counts.reference[f], &counts.recent[f]);
	SPI_finish();
	return (Datum) 0;
}
