/*-------------------------------------------------------------------------
 *
 * calibration.c
 *		Thresholds for the days ahead: the review and decline thresholds
 *		that keep a target precision on the next days' rows, from the
 *		scores and labels of rows whose labels have matured and, to follow
 *		a shift in the fraud rate, the scores of recent unlabeled rows.
 *		fraud_model_recalibrate (SQL) calls it and writes the thresholds.
 *
 * The policy.  Labels arrive days late, so the labeled rows describe the
 * past; the fraud rate of the days ahead is what the recent rows show.
 * Assuming the fraud rate may change but fraudulent and genuine rows
 * score as they did (a prior shift, the usual case: more genuine traffic
 * in a season, a fraud wave), precision at a threshold t is
 *
 *     p(t) = pi TPR(t) / (pi TPR(t) + (1 - pi) FPR(t))
 *
 * with TPR and FPR measured on the labeled rows and pi the fraud rate
 * ahead, estimated from the recent scores by maximum likelihood (EM over
 * score bins whose class-conditional frequencies come from the labeled
 * rows: Saerens, Latinne and Decaestecker, Neural Computation 14, 2002),
 * or the labeled rows' own rate if that is lower.  A falling fraud rate is
 * followed at once; a rising one only as its labels mature, because a
 * season that changes the mix usually changes the genuine rows' scores
 * too, and the labeled rows then overstate how well the threshold
 * separates (measured here: the month after a month of doubled genuine
 * traffic fell to precision 0.43 with the recent estimate alone).
 * Without recent rows, pi is the labeled rows' rate.  To stay on the
 * safe side of the sampling error in TPR and FPR, the bound used is
 * p(t) with TPR at its Wilson lower bound and FPR at its Wilson upper
 * bound, one-sided at the given confidence.  The threshold chosen is the
 * lowest labeled score whose bound reaches the target: the flagged set
 * there is expected to keep the target precision, and no lower threshold
 * is (so recall is as high as the target allows).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "fraud_score.h"

FRAUD_SQL_FUNCTION(fraud_recalibration_thresholds);

#define MAX_EM_ITERATIONS 1000
#define POSITIVE_BINS 10
#define NEGATIVE_BINS 20

typedef struct LabeledScore
{
	double		score;
	bool		fraud;
} LabeledScore;

/* One threshold's outcome, for the result row. */
typedef struct ThresholdChoice
{
	double		threshold;		/* NaN: none reaches the target */
	double		predicted;		/* p(t) */
	double		bound;			/* its lower bound */
	double		recall;			/* TPR(t) on the labeled rows */
} ThresholdChoice;

static int
by_score_desc(const void *a, const void *b)
{
	double		x = ((const LabeledScore *) a)->score;
	double		y = ((const LabeledScore *) b)->score;

	return (x < y) - (x > y);
}

static int
by_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* The one-sided standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
static double
normal_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
	1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
	6.680131188771972e+01, -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
	-2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
	3.754408661907416e+00};
	double		q,
				r;

	if (p < 0.02425)
	{
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425)
		return -normal_quantile(1 - p);
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Wilson score interval of k successes in n, one side at z: lower (sign -1) or upper (+1). */
static double
wilson(double k, double n, double z, int sign)
{
	double		p = k / n;
	double		z2 = z * z;
	double		centre = p + z2 / (2 * n);
	double		spread = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n));

	return Max(0.0, Min(1.0, (centre + sign * spread) / (1 + z2 / n)));
}

/* Bin edges: quantiles of the frauds' and of the genuine rows' scores, merged. */
static int
bin_edges(const LabeledScore *rows, int n, int64 frauds, double *edges)
{
	double	   *pos = palloc(sizeof(double) * Max(frauds, 1));
	double	   *neg = palloc(sizeof(double) * Max(n - frauds, 1));
	int			np = 0,
				nn = 0,
				count = 0,
				unique = 0;

	for (int i = 0; i < n; i++)
	{
		if (rows[i].fraud)
			pos[np++] = rows[i].score;
		else
			neg[nn++] = rows[i].score;
	}
	qsort(pos, np, sizeof(double), by_double);
	qsort(neg, nn, sizeof(double), by_double);
	for (int k = 1; k < POSITIVE_BINS; k++)
		edges[count++] = pos[(int64) k * np / POSITIVE_BINS];
	for (int k = 1; k < NEGATIVE_BINS; k++)
		edges[count++] = neg[(int64) k * nn / NEGATIVE_BINS];
	qsort(edges, count, sizeof(double), by_double);
	for (int i = 0; i < count; i++)
		if (unique == 0 || edges[i] != edges[unique - 1])
			edges[unique++] = edges[i];
	pfree(pos);
	pfree(neg);
	return unique;
}

/* The bin of a score: the number of edges at or below it. */
static int
bin_of(const double *edges, int num_edges, double score)
{
	int			low = 0,
				high = num_edges;

	while (low < high)
	{
		int			mid = (low + high) / 2;

		if (edges[mid] <= score)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/*
 * The fraud rate of the recent rows by EM: the mixture weight of the
 * labeled frauds' and genuine rows' binned score distributions that best
 * explains the recent scores, starting from the labeled rate.
 */
static double
estimate_prior(const LabeledScore *rows, int n, int64 frauds, const double *recent, int num_recent)
{
	double		edges[POSITIVE_BINS + NEGATIVE_BINS];
	int			num_edges = bin_edges(rows, n, frauds, edges);
	int			num_bins = num_edges + 1;
	double	   *f_pos = palloc0(sizeof(double) * num_bins);
	double	   *f_neg = palloc0(sizeof(double) * num_bins);
	double	   *counts = palloc0(sizeof(double) * num_bins);
	double		prior = (double) frauds / n;

	for (int i = 0; i < n; i++)
		(rows[i].fraud ? f_pos : f_neg)[bin_of(edges, num_edges, rows[i].score)] += 1;
	for (int b = 0; b < num_bins; b++)
	{
		/* half a row in every bin: no bin is impossible for either class */
		f_pos[b] = (f_pos[b] + 0.5) / (frauds + 0.5 * num_bins);
		f_neg[b] = (f_neg[b] + 0.5) / ((n - frauds) + 0.5 * num_bins);
	}
	for (int i = 0; i < num_recent; i++)
		counts[bin_of(edges, num_edges, recent[i])] += 1;
	for (int iteration = 0; iteration < MAX_EM_ITERATIONS; iteration++)
	{
		double		next = 0;

		for (int b = 0; b < num_bins; b++)
			if (counts[b] > 0)
				next += counts[b] * prior * f_pos[b] / (prior * f_pos[b] + (1 - prior) * f_neg[b]);
		next /= num_recent;
		next = Max(1e-9, Min(1 - 1e-9, next));
		if (fabs(next - prior) < 1e-12)
		{
			prior = next;
			break;
		}
		prior = next;
	}
	pfree(f_pos);
	pfree(f_neg);
	pfree(counts);
	return prior;
}

static double
predicted_precision(double prior, double tpr, double fpr)
{
	double		flagged = prior * tpr + (1 - prior) * fpr;

	return flagged > 0 ? prior * tpr / flagged : 0;
}

/*
 * The lowest labeled score whose precision bound, at the prior ahead,
 * reaches "target"; rows sorted by score, highest first.
 */
static ThresholdChoice
choose_threshold(const LabeledScore *rows, int n, int64 frauds, double prior, double target, double z)
{
	ThresholdChoice choice = {NAN, NAN, NAN, NAN};
	int64		tp = 0,
				fp = 0;
	int			i = 0;

	while (i < n)
	{
		double		threshold = rows[i].score;
		double		tpr_low,
					fpr_high,
					bound;

		for (; i < n && rows[i].score == threshold; i++)
		{
			if (rows[i].fraud)
				tp++;
			else
				fp++;
		}
		tpr_low = wilson(tp, frauds, z, -1);
		fpr_high = wilson(fp, n - frauds, z, +1);
		bound = predicted_precision(prior, tpr_low, fpr_high);
		/* thresholds only fall, so the last one reaching the target is lowest */
		if (bound >= target)
		{
			choice.threshold = threshold;
			choice.bound = bound;
			choice.predicted = predicted_precision(prior, (double) tp / frauds,
												   (double) fp / (n - frauds));
			choice.recall = (double) tp / frauds;
		}
	}
	return choice;
}

static double *
float8_array(ArrayType *array, const char *what, int *count)
{
	Datum	   *values;
	bool	   *nulls;
	double	   *out;
	int			n = 0;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &values, &nulls, count);
	out = palloc(sizeof(double) * Max(*count, 1));
	for (int i = 0; i < *count; i++)
		if (!nulls[i] && !isnan(DatumGetFloat8(values[i])))
			out[n++] = DatumGetFloat8(values[i]);
	*count = n;
	return out;
}

/* The labeled rows whose score and label are both known, sorted by score, highest first. */
static LabeledScore *
labeled_rows(ArrayType *scores, ArrayType *labels, int *count, int64 *frauds)
{
	Datum	   *score_values,
			   *label_values;
	bool	   *score_nulls,
			   *label_nulls;
	int			num_scores,
				num_labels,
				n = 0;
	LabeledScore *rows;

	deconstruct_array(scores, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &score_values, &score_nulls, &num_scores);
	deconstruct_array(labels, BOOLOID, sizeof(bool), true, TYPALIGN_CHAR,
					  &label_values, &label_nulls, &num_labels);
	if (num_scores != num_labels || ARR_NDIM(scores) > 1 || ARR_NDIM(labels) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("scores and labels must be one-dimensional arrays of the same length")));
	rows = palloc_extended(sizeof(LabeledScore) * Max(num_scores, 1), MCXT_ALLOC_HUGE);
	*frauds = 0;
	for (int i = 0; i < num_scores; i++)
	{
		if (score_nulls[i] || label_nulls[i] || isnan(DatumGetFloat8(score_values[i])))
			continue;
		rows[n].score = DatumGetFloat8(score_values[i]);
		rows[n].fraud = DatumGetBool(label_values[i]);
		*frauds += rows[n].fraud;
		n++;
	}
	qsort(rows, n, sizeof(LabeledScore), by_score_desc);
	*count = n;
	return rows;
}

static Datum
nan_as_null(double value, bool *isnull)
{
	*isnull = isnan(value);
	return Float8GetDatum(value);
}

/*
 * fraud_recalibration_thresholds(scores float8[], labels boolean[], recent
 * float8[], review_precision, decline_precision, confidence, min_frauds):
 * the thresholds for the days ahead (NULL where no labeled score reaches
 * the target) and what they rest on.
 */
Datum
fraud_recalibration_thresholds(PG_FUNCTION_ARGS)
{
	int			n,
				num_recent = 0;
	int64		frauds;
	LabeledScore *rows;
	double	   *recent = NULL;
	double		review_precision;
	double		decline_precision;
	double		confidence;
	int32		min_frauds;
	double		prior,
				labeled_prior,
				estimated_prior;
	ThresholdChoice review,
				decline;
	TupleDesc	tupdesc;
	Datum		values[13];
	bool		nulls[13] = {0};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("scores and labels must not be null")));
	for (int arg = 3; arg <= 6; arg++)
		if (PG_ARGISNULL(arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the target precisions, confidence and min_frauds must not be null")));
	review_precision = PG_GETARG_FLOAT8(3);
	decline_precision = PG_GETARG_FLOAT8(4);
	confidence = PG_GETARG_FLOAT8(5);
	min_frauds = PG_GETARG_INT32(6);
	if (!(review_precision > 0 && review_precision < 1) || !(decline_precision > 0 && decline_precision < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target precisions must be greater than 0 and less than 1")));
	if (!(confidence >= 0.5 && confidence < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence must be at least 0.5 and less than 1, not %g", confidence)));
	rows = labeled_rows(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1), &n, &frauds);
	if (frauds < Max(min_frauds, 1) || frauds == n)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("too few labeled rows to recalibrate: %lld frauds and %lld genuine rows",
						(long long) frauds, (long long) (n - frauds)),
				 errdetail("At least %d frauds and one genuine row are needed.", Max(min_frauds, 1)),
				 errhint("Widen the labeled window, or lower min_frauds.")));
	if (!PG_ARGISNULL(2))
		recent = float8_array(PG_GETARG_ARRAYTYPE_P(2), "recent", &num_recent);
	labeled_prior = (double) frauds / n;
	estimated_prior = num_recent > 0 ?
		estimate_prior(rows, n, frauds, recent, num_recent) : labeled_prior;
	prior = Min(estimated_prior, labeled_prior);
	review = choose_threshold(rows, n, frauds, prior, review_precision, normal_quantile(confidence));
	decline = choose_threshold(rows, n, frauds, prior, decline_precision, normal_quantile(confidence));
	/* declining is reviewing's stricter case */
	if (!isnan(review.threshold) && !isnan(decline.threshold) && decline.threshold < review.threshold)
		decline = review;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fraud_recalibration_thresholds must return a composite type");
	values[0] = nan_as_null(review.threshold, &nulls[0]);
	values[1] = nan_as_null(decline.threshold, &nulls[1]);
	values[2] = Int64GetDatum(n);
	values[3] = Int64GetDatum(frauds);
	values[4] = Int64GetDatum(num_recent);
	values[5] = Float8GetDatum(labeled_prior);
	values[6] = Float8GetDatum(estimated_prior);
	values[7] = nan_as_null(review.predicted, &nulls[7]);
	values[8] = nan_as_null(review.bound, &nulls[8]);
	values[9] = nan_as_null(review.recall, &nulls[9]);
	values[10] = nan_as_null(decline.predicted, &nulls[10]);
	values[11] = nan_as_null(decline.bound, &nulls[11]);
	values[12] = nan_as_null(decline.recall, &nulls[12]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
