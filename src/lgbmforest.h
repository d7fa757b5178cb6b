/*-------------------------------------------------------------------------
 *
 * lgbmforest.h
 *		The native evaluator of LightGBM models: LightGBM's arithmetic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_LGBMFOREST_H
#define FRAUD_SCORE_LGBMFOREST_H

#include "utils/palloc.h"

/* decision_type bits (LightGBM's tree.h) */
#define LGBM_CATEGORICAL 1
#define LGBM_DEFAULT_LEFT 2
#define LGBM_MISSING_SHIFT 2		/* (decision_type >> 2) & 3: None, Zero, NaN */
#define LGBM_MISSING_NONE 0
#define LGBM_MISSING_ZERO 1
#define LGBM_MISSING_NAN 2

/*
 * A split node.  A child is a node of the same tree (>= 0, always after its
 * parent: LightGBM numbers nodes as it splits leaves) or a leaf (~leaf).
 */
typedef struct LgbmNode
{
	double		threshold;		/* numerical splits: left iff value <= it */
	int32		left;
	int32		right;
	int32		feature;
	int32		decision_type;
	int32		cat_first;		/* categorical: its bitset's first word */
	int32		cat_words;		/* and its length */
} LgbmNode;

typedef struct LgbmTree
{
	int32		first_node;		/* num_leaves - 1 nodes from here */
	int32		first_leaf;		/* num_leaves leaves from here */
	int32		num_leaves;
	int32		is_linear;
} LgbmTree;

/* How the raw sum becomes the score. */
typedef enum LgbmObjective
{
	LGBM_BINARY,				/* 1 / (1 + exp(-sigmoid * raw)) */
	LGBM_CROSS_ENTROPY			/* 1 / (1 + exp(-raw)) */
} LgbmObjective;

typedef struct LgbmForest
{
	int			num_trees;
	int			num_features;
	int			num_nodes;
	int			num_leaves;
	int			num_cat_words;
	int			num_coeffs;		/* linear leaves' terms, over all leaves */
	int32		objective;		/* LgbmObjective */
	int32		average_output; /* random forest: the mean of the trees */
	int32		has_counts;		/* every tree gave internal_count and leaf_count */
	double		sigmoid;
	LgbmTree   *trees;
	LgbmNode   *nodes;
	double	   *leaf_value;
	uint32	   *cat_words;
	/* linear leaves, per leaf (meaningful in linear trees only) */
	double	   *leaf_const;
	int32	   *coeff_first;
	int32	   *coeff_count;
	int32	   *coeff_feature;
	double	   *coeff;
	/* training rows through each node and leaf (fraud_explain's weights) */
	double	   *node_count;
	double	   *leaf_count;
	/*
	 * Derived when the forest is built or read (lgbm_forest_prepare): each
	 * split's input slot, and the scratch row of slots, LGBM_SLOTS values of
	 * each feature, so that a numerical split's step is one comparison
	 * whatever its missing type (lgbmforest.c).
	 */
	int32	   *node_slot;
	double	   *slots;
} LgbmForest;

#define LGBM_SLOTS 5

/* The raw sum (LightGBM's raw score, averaged for average_output) and the probability. */
extern double lgbm_forest_raw(const LgbmForest *forest, const double *features);
extern double lgbm_forest_predict(const LgbmForest *forest, const double *features);
/*
 * For explanations (explain.c): lgbm_forest_begin_row once per row, then
 * the way the row goes at each node of tree t as the walk would send it
 * (1: right), indexed from the tree's first node.
 */
extern void lgbm_forest_begin_row(const LgbmForest *forest, const double *features);
extern void lgbm_forest_tree_directions(const LgbmForest *forest, int tree, uint8 *right);

/* The leaf index each tree reaches (LightGBM's pred_leaf), into leaves[num_trees]. */
extern void lgbm_forest_leaves(const LgbmForest *forest, const double *features, int32 *leaves);

/*
 * The stored form, as for XGBoost forests (forest.h): the arrays behind a
 * header with the model's sha256; lgbm_forest_from_bytes checks every index
 * and value and returns NULL with the reason in *why for bytes it cannot use.
 */
extern bool lgbm_forest_bytes_are_lgbm(const char *data, Size len);
extern bytea *lgbm_forest_to_bytes(const LgbmForest *forest, const char *sha256);
extern LgbmForest *lgbm_forest_from_bytes(const char *data, Size len, const char *sha256,
										  int num_features, MemoryContext context,
										  const char **why);
/* The same checks, for a forest lgbm.c has just built. */
extern const char *lgbm_forest_check(const LgbmForest *forest);
/* The arrays for the counts set in "forest", for lgbm.c to fill, and what it then derives. */
extern void lgbm_forest_alloc_arrays(LgbmForest *forest, MemoryContext context);
extern void lgbm_forest_prepare(LgbmForest *forest);

#endif							/* FRAUD_SCORE_LGBMFOREST_H */
