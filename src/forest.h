/*-------------------------------------------------------------------------
 *
 * forest.h
 *		The native tree evaluator: a validated gbtree model as flat arrays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_FOREST_H
#define FRAUD_SCORE_FOREST_H

typedef struct ForestNode
{
	float		value;			/* split condition, or the leaf value */
	int32		feature;		/* split feature; -1 for a leaf */
	int32		left;			/* absolute node indices */
	int32		right;
	bool		default_left;	/* where a missing (NaN) value goes */
} ForestNode;

typedef struct Forest
{
	int			num_trees;
	int			num_nodes;
	int			capacity;
	float		base_margin;	/* base_score as a margin, as XGBoost computes it */
	int32	   *roots;
	ForestNode *nodes;
} Forest;

extern double forest_predict(const Forest *forest, const float *features);

#endif							/* FRAUD_SCORE_FOREST_H */
