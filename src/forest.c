/*-------------------------------------------------------------------------
 *
 * forest.c
 *		Score a row with the native evaluator, exactly as XGBoost 1.7 does.
 *
 * model.c fills a Forest from a model it has validated (every child index
 * in range, every tree acyclic), so the walk below needs no checks.  The
 * arithmetic follows XGBoost's CPU predictor: the margin starts at
 * base_score's margin and adds each tree's leaf in tree order, in float;
 * a split sends a value left when it is below the condition, and a missing
 * value (NaN) the node's default way; the result goes through XGBoost's
 * float sigmoid.  Its agreement with XGBoost is tested on every fixture row,
 * including values on and one float step below split conditions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "forest.h"

/* XGBoost 1.7's common::Sigmoid. */
static inline float
xgboost_sigmoid(float x)
{
	const float eps = 1e-16f;
	float		neg = Min(-x, 88.7f);

	return 1.0f / (expf(neg) + 1.0f + eps);
}

double
forest_predict(const Forest *forest, const float *features)
{
	float		margin = forest->base_margin;
	const ForestNode *nodes = forest->nodes;

	for (int t = 0; t < forest->num_trees; t++)
	{
		const ForestNode *node = &nodes[forest->roots[t]];

		while (node->feature >= 0)
		{
			float		v = features[node->feature];
			bool		go_left = isnan(v) ? node->default_left : v < node->value;

			node = &nodes[node->left + !go_left];
		}
		margin += node->value;
	}
	return (double) xgboost_sigmoid(margin);
}
