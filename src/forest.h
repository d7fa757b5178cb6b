/*-------------------------------------------------------------------------
 *
 * forest.h
 *		The native tree evaluator: a validated gbtree model as flat arrays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_FOREST_H
#define FRAUD_SCORE_FOREST_H

/*
 * 12 bytes.  Each tree is laid out breadth first with siblings adjacent, so
 * a node needs only its left child's index (the right one follows it), and
 * the top levels every row walks share cache lines.
 */
typedef struct ForestNode
{
	float		value;			/* split condition, or the leaf value */
	int32		left;			/* absolute index of the left child */
	int16		feature;		/* split feature; -1 for a leaf */
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
