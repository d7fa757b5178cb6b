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

/*
 * Step "lanes" trees, starting at "at", "depth" times (see forest.h), and
 * add their leaves to the margin in tree order, as XGBoost adds them.
 */
static inline float
walk_group(const Forest *forest, const float *inputs, int32 *at, int lanes, int depth,
		   float margin)
{
	const ForestNode *nodes = forest->nodes;

	for (int step = 0; step < depth; step++)
	{
#pragma GCC unroll 8
		for (int lane = 0; lane < lanes; lane++)
		{
			const ForestNode *node = &nodes[at[lane]];

			at[lane] += node->child_delta + (inputs[node->input] >= node->condition);
		}
	}
	for (int lane = 0; lane < lanes; lane++)
		margin += forest->leaf_values[at[lane]];
	return margin;
}

double
forest_predict(const Forest *forest, const float *features)
{
	float		margin = forest->base_margin;
	float	   *inputs = forest->inputs;
	int			n = forest->num_features;
	int			t = 0;
	int			group = 0;
	int32		at[FOREST_LANES];

	for (int f = 0; f < n; f++)
	{
		float		v = features[f];
		bool		missing = isnan(v);

		inputs[f] = missing ? INFINITY : v;
		inputs[n + f] = missing ? -INFINITY : v;
	}

	for (; t + FOREST_LANES <= forest->num_trees; t += FOREST_LANES, group++)
	{
		memcpy(at, &forest->roots[t], sizeof(at));
		margin = walk_group(forest, inputs, at, FOREST_LANES, forest->group_depth[group], margin);
	}
	if (t < forest->num_trees)
	{
		int			lanes = forest->num_trees - t;

		memcpy(at, &forest->roots[t], sizeof(int32) * lanes);
		margin = walk_group(forest, inputs, at, lanes, forest->group_depth[group], margin);
	}
	return (double) xgboost_sigmoid(margin);
}
