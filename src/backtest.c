/*-------------------------------------------------------------------------
 *
 * backtest.c
 *		fraud_model_backtest(): a candidate version and the active one
 *		scored side by side over the same historical rows, before the
 *		candidate is activated.
 *
 * Each row document goes through each version's feature function, which
 * computes the features as of the row (the example's function looks only
 * at rows before it and labels known by its time), then the version's
 * trees, exactly as the trigger would have scored it; when both versions
 * name the same function it runs once per row.  The versions are loaded
 * for this call only (catalog_load_version), so the report is about the
 * versions as they were when it started, and serving statistics are not
 * touched.  Counts follow each version's own thresholds: flagged is a
 * score at or above the review threshold, declined at or above the
 * decline threshold; precision and recall are over the rows whose label is
 * known, AUC and average precision over the same rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "fraud_score.h"

FRAUD_SQL_FUNCTION(fraud_model_backtest);

#define BACKTEST_COLUMNS 18

/* One version's side of the report. */
typedef struct BacktestSide
{
	const char *role;
	FraudModel *model;
	double	   *inputs;
	int64		rows;
	int64		flagged;
	int64		declined;
	int64		frauds;
	int64		frauds_caught;
	int64		false_positives;
	double		fraud_amount;
	double		amount_caught;
	double	   *labeled_scores; /* for AUC and average precision */
} BacktestSide;

typedef struct Backtest
{
	int			num_sides;
	BacktestSide sides[2];
	int			label_att;		/* 0: no is_fraud column */
	int			amount_att;		/* 0: no amount column */
	Oid			amount_type;
	int64		labeled;
	int64		labeled_capacity;
	float	   *labels;			/* of the labeled rows, 1 fraud */
} Backtest;

static bool
is_bool_type(Oid type)
{
	return type == BOOLOID;
}

static void
side_init(BacktestSide *side, const char *role, FraudModel *model)
{
	memset(side, 0, sizeof(BacktestSide));
	side->role = role;
	side->model = model;
	side->inputs = palloc(sizeof(double) * Max(model->num_features, 1));
}

/* Room for one more labeled row in every side's arrays. */
static void
grow_labeled(Backtest *bt)
{
	if (bt->labeled < bt->labeled_capacity)
		return;
	if (bt->labeled >= INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("history_query returned more than %d labeled rows", INT_MAX)));
	bt->labeled_capacity = Max(4096, bt->labeled_capacity * 2);
	bt->labels = bt->labels == NULL ?
		palloc_extended(sizeof(float) * bt->labeled_capacity, MCXT_ALLOC_HUGE) :
		repalloc_huge(bt->labels, sizeof(float) * bt->labeled_capacity);
	for (int s = 0; s < bt->num_sides; s++)
	{
		BacktestSide *side = &bt->sides[s];

		side->labeled_scores = side->labeled_scores == NULL ?
			palloc_extended(sizeof(double) * bt->labeled_capacity, MCXT_ALLOC_HUGE) :
			repalloc_huge(side->labeled_scores, sizeof(double) * bt->labeled_capacity);
	}
}

/* One version's score of a row, counted. */
static void
side_count(BacktestSide *side, double score, int label, double amount, int64 labeled_index)
{
	int			band = scoring_band(side->model, score);

	side->rows++;
	side->flagged += band >= 1;
	side->declined += band == 2;
	if (label < 0)
		return;
	side->labeled_scores[labeled_index] = score;
	if (label == 1)
	{
		side->frauds++;
		side->fraud_amount += amount;
		if (band >= 1)
		{
			side->frauds_caught++;
			side->amount_caught += amount;
		}
	}
	else if (band >= 1)
		side->false_positives++;
}

/* One history row: its label and amount, then each version's score. */
static void
backtest_row(Backtest *bt, HistoryReader *reader, HeapTuple tuple)
{
	Jsonb	   *doc = history_document(reader, tuple);
	int			label = -1;
	double		amount = 0;
	bool		isnull;
	Jsonb	   *extra = NULL;
	Oid			extra_of = InvalidOid;
	MemoryContext old;

	if (bt->label_att > 0)
	{
		Datum		value = SPI_getbinval(tuple, reader->desc, bt->label_att, &isnull);

		label = isnull ? -1 : DatumGetBool(value) ? 1 : 0;
	}
	if (bt->amount_att > 0)
	{
		Datum		value = SPI_getbinval(tuple, reader->desc, bt->amount_att, &isnull);

		amount = isnull ? 0 : history_number(value, bt->amount_type);
	}
	if (label >= 0)
	{
		grow_labeled(bt);
		bt->labels[bt->labeled] = label;
	}

	old = MemoryContextSwitchTo(reader->batch_context);
	for (int s = 0; s < bt->num_sides; s++)
	{
		BacktestSide *side = &bt->sides[s];
		double		score;

		if (s == 0 || side->model->feature_function != extra_of)
		{
			extra = history_feature_output(side->model, doc);
			extra_of = side->model->feature_function;
		}
		features_from_jsonb(side->model->keys, doc, extra, side->inputs);
		(void) scoring_score(side->model, side->inputs, &score, NULL);
		side_count(side, score, label, amount, bt->labeled);
	}
	MemoryContextSwitchTo(old);
	if (label >= 0)
		bt->labeled++;
}

static double
ratio(int64 numerator, int64 denominator, bool *isnull)
{
	*isnull = denominator == 0;
	return denominator == 0 ? 0 : (double) numerator / (double) denominator;
}

static void
put_side(ReturnSetInfo *rsinfo, const Backtest *bt, const BacktestSide *side)
{
	Datum		values[BACKTEST_COLUMNS];
	bool		nulls[BACKTEST_COLUMNS] = {0};
	FraudMetrics metrics;

	values[0] = CStringGetTextDatum(side->role);
	values[1] = Int32GetDatum(side->model->version);
	values[2] = Float8GetDatum(side->model->review_threshold);
	values[3] = Float8GetDatum(side->model->decline_threshold);
	values[4] = Int64GetDatum(side->rows);
	values[5] = Int64GetDatum(side->flagged);
	values[6] = Float8GetDatum(ratio(side->flagged, side->rows, &nulls[6]));
	values[7] = Int64GetDatum(side->declined);
	values[8] = Int64GetDatum(bt->labeled);
	values[9] = Int64GetDatum(side->frauds);
	values[10] = Int64GetDatum(side->frauds_caught);
	values[11] = Int64GetDatum(side->false_positives);
	values[12] = Float8GetDatum(side->fraud_amount);
	values[13] = Float8GetDatum(side->amount_caught);
	nulls[12] = nulls[13] = bt->amount_att == 0;
	values[14] = Float8GetDatum(ratio(side->frauds_caught, side->frauds_caught + side->false_positives,
									  &nulls[14]));
	values[15] = Float8GetDatum(ratio(side->frauds_caught, side->frauds, &nulls[15]));
	metrics_compute(side->labeled_scores, bt->labels, (int) bt->labeled, 0.5, 0.9, &metrics);
	values[16] = Float8GetDatum(metrics.auc);
	values[17] = Float8GetDatum(metrics.average_precision);
	nulls[16] = nulls[17] = isnan(metrics.auc);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The active version of "name", or -1 if it has none. */
static int32
active_version(const char *schema, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	char	   *sql = psprintf("SELECT version FROM %s.fraud_score_models "
							   "WHERE name OPERATOR(pg_catalog.=) $1 AND active",
							   quote_identifier(schema));
	bool		isnull;

	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the active version");
	if (SPI_processed == 0)
		return -1;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * fraud_model_backtest(name, candidate, history_query): one row for the
 * candidate version, one for the active version (none when there is no
 * active version).
 */
Datum
fraud_model_backtest(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	char	   *query;
	Backtest	bt = {0};
	HistoryReader reader;
	HeapTuple	tuple;
	int32		active;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, candidate and history_query must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	side_init(&bt.sides[0], "candidate", catalog_load_version(name, false, PG_GETARG_INT32(1), NULL));
	bt.num_sides = 1;
	active = active_version(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)), name);
	if (active >= 0)
		side_init(&bt.sides[bt.num_sides++], "active", catalog_load_version(name, false, active, NULL));

	history_start(&reader, query, "history_query");
	bt.label_att = history_column(&reader, "is_fraud", is_bool_type, "boolean", false);
	bt.amount_att = history_column(&reader, "amount", history_is_number_type, "a number", false);
	if (bt.amount_att > 0)
		bt.amount_type = getBaseType(TupleDescAttr(reader.desc, bt.amount_att - 1)->atttypid);
	grow_labeled(&bt);
	while ((tuple = history_next(&reader)) != NULL)
		backtest_row(&bt, &reader, tuple);

	for (int s = 0; s < bt.num_sides; s++)
		put_side(rsinfo, &bt, &bt.sides[s]);
	SPI_finish();
	return (Datum) 0;
}
