/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		How well scores rank fraud: ROC AUC, average precision, precision at
 *		80% recall, recall at 50% precision, and the score thresholds that
 *		reach a target precision.
 *
 * Thresholds are the distinct scores; a row is flagged when its score is at
 * or above the threshold, the same rule fraud_decide() applies.  Average
 * precision is the step-wise sum over thresholds of (recall gain) x
 * precision, as scikit-learn computes it; AUC counts ties as half.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fraud_score.h"

typedef struct ScoredRow
{
	double		score;
	bool		positive;
} ScoredRow;

static int
by_score_desc(const void *a, const void *b)
{
	double		x = ((const ScoredRow *) a)->score;
	double		y = ((const ScoredRow *) b)->score;

	return (x < y) - (x > y);
}

void
metrics_compute(const double *scores, const float *labels, int n,
				double review_precision, double decline_precision,
				FraudMetrics *m)
{
	ScoredRow  *rows = palloc_extended(sizeof(ScoredRow) * Max(n, 1), MCXT_ALLOC_HUGE);
	int64		tp = 0,
				fp = 0;
	double		prev_recall = 0;
	double		auc_sum = 0;	/* pairs (positive, negative) ranked right */
	int			i = 0;

	memset(m, 0, sizeof(*m));
	m->rows = n;
	m->review_threshold = 1.0;
	m->decline_threshold = 1.0;
	for (int k = 0; k < n; k++)
	{
		rows[k].score = scores[k];
		rows[k].positive = labels[k] > 0.5f;
		m->positives += rows[k].positive;
	}
	if (m->positives == 0 || m->positives == n)
	{
		pfree(rows);
		m->auc = m->average_precision = NAN;
		return;
	}
	qsort(rows, n, sizeof(ScoredRow), by_score_desc);

	while (i < n)
	{
		double		threshold = rows[i].score;
		int64		group_tp = 0,
					group_fp = 0;
		double		precision,
					recall;

		for (; i < n && rows[i].score == threshold; i++)
		{
			if (rows[i].positive)
				group_tp++;
			else
				group_fp++;
		}
		/* negatives in this group rank below the positives seen before it */
		auc_sum += (double) group_fp * tp + 0.5 * (double) group_fp * group_tp;
		tp += group_tp;
		fp += group_fp;

		precision = (double) tp / (tp + fp);
		recall = (double) tp / m->positives;
		m->average_precision += (recall - prev_recall) * precision;
		prev_recall = recall;
		if (recall >= 0.8 && precision > m->precision_at_recall_80)
			m->precision_at_recall_80 = precision;
		if (precision >= 0.5 && recall > m->recall_at_precision_50)
			m->recall_at_precision_50 = recall;
		/* thresholds only fall, so the last one reaching a precision is lowest */
		if (precision >= review_precision)
			m->review_threshold = threshold;
		if (precision >= decline_precision)
			m->decline_threshold = threshold;
	}
	m->auc = auc_sum / ((double) m->positives * (n - m->positives));
	if (m->decline_threshold < m->review_threshold)
		m->decline_threshold = m->review_threshold;
	pfree(rows);
}
