/*-------------------------------------------------------------------------
 *
 * forest.h
 *		The native tree evaluator: a validated gbtree model as flat arrays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_FOREST_H
#define FRAUD_SCORE_FOREST_H

#include "utils/palloc.h"

/*
 * Trees walked side by side by forest_predict.  Eight independent walks keep
 * the core busy while each waits for its next node, and their branch-free
 * steps leave nothing for the branch predictor to get wrong.
 */
#define FOREST_LANES 8

/* A tree with more nodes than this is left to XGBoost (child_delta's range). */
#define FOREST_MAX_TREE_NODES 65535

/*
 * 8 bytes.  Each tree is laid out breadth first with siblings adjacent: the
 * left child is child_delta nodes on, the right one just after it, and the
 * top levels every row walks share cache lines.
 *
 * A step is "next = this + child_delta + (input >= condition)", with no test
 * for missing values or leaves:
 * - forest_predict gives each feature two input slots, one where a missing
 *   value (NaN) reads +Infinity and one where it reads -Infinity; a node
 *   whose missing values go left reads the second.  Conditions are finite
 *   (validated), so a missing value goes the node's default way, and a real
 *   infinity still goes where XGBoost's "value < condition" sends it.
 * - A leaf has child_delta 0 and reads the last input slot, always NaN, so
 *   every comparison fails and stepping from a leaf stays on it; its
 *   "condition" is the leaf value, which the walk finds in the node it
 *   stopped on, already in cache.
 * - A categorical split names its feature and default direction in
 *   "input" the same way, but reads the row's own value (to XGBoost a real
 *   infinity is an invalid code there, not a missing value), and its "condition"
 *   is a NaN whose payload numbers its category set (so the numerical step,
 *   were it ever to meet one, would only go left).  Only groups of trees
 *   that have such splits are walked by the step that looks for them.
 */
typedef struct ForestNode
{
	float		condition;		/* a leaf's value; NaN-boxed category set */
	uint16		input;			/* feature, plus num_features if default left;
								 * 2 * num_features (the NaN slot) for a leaf */
	uint16		child_delta;
} ForestNode;

/* A categorical split's set: bit c of words[first_word + c / 32] is code c. */
typedef struct ForestCategorySet
{
	uint32		first_word;
	uint32		num_words;
} ForestCategorySet;

/* Category sets a NaN payload can number (22 bits beside the quiet bit). */
#define FOREST_MAX_CATEGORY_SETS (1 << 22)

/*
 * Category codes XGBoost can tell apart: a code is a float, and from 2^24 on
 * floats skip integers, so XGBoost sends every code >= 2^24 left.
 */
#define FOREST_MAX_CATEGORY 16777216

typedef struct Forest
{
	int			num_trees;
	int			num_nodes;
	int			capacity;		/* nodes allocated; only while building */
	int			capacity_trees; /* trees to come; only while building */
	MemoryContext context;		/* the forest's; only while building */
	int			num_features;
	bool		unrepresentable;	/* a tree too big for ForestNode */
	float		base_margin;	/* base_score as a margin, as XGBoost computes it */
	int32	   *roots;
	int32	   *group_depth;	/* deepest leaf of each FOREST_LANES trees */
	ForestNode *nodes;
	/*
	 * Each node's cover (XGBoost's sum_hessian), beside the nodes so that
	 * the walk's cache lines hold nodes only: what fraud_explain weighs
	 * the branches a row does not take by.  A cover that was not a finite
	 * number >= 0 is kept as 0.
	 */
	float	   *cover;
	/* categorical splits: none in a numerical model */
	int			num_category_sets;
	int			num_category_words;
	int			category_capacity[2];	/* sets, words: only while building */
	ForestCategorySet *category_sets;
	uint32	   *category_words;
	bool	   *group_has_categories;	/* NULL when no tree has any */
	float	   *inputs;			/* scratch: 2 * num_features + 1 */
} Forest;

/*
 * One validated tree as model.c reads it, in XGBoost's node order: the node
 * arrays, and for a categorical split (split_type 1) the codes it sends
 * right, categories[category_begin[i] ...] (category_count[i] of them).
 * split_type is NULL when the tree has no categorical split.
 */
typedef struct ForestTree
{
	int			num_nodes;
	const double *left;
	const double *right;
	const double *parents;
	const double *split_index;
	const double *split_cond;
	const double *default_left;
	const double *split_type;
	const double *sum_hess;
	const int32 *category_begin;
	const int32 *category_count;
	const double *categories;
} ForestTree;

/* features: XGBoost's float inputs, held as doubles */
extern double forest_predict(const Forest *forest, const double *features);
extern double forest_margin(const Forest *forest, const double *features);
extern double forest_probability(float margin);

/*
 * For explanations (explain.c): the nodes of tree t (forest.h's layout,
 * numbered from the tree's root); forest_begin_row once per row, then the
 * way the row goes at each split of a tree, as forest_predict would send
 * it (1: right; leaves are left 0).
 */
extern int	forest_tree_size(const Forest *forest, int tree);
extern void forest_begin_row(const Forest *forest, const double *features);
extern void forest_tree_directions(const Forest *forest, int tree, const double *features,
								   uint8 *right);

/*
 * The one way a Forest is built from trees (model.c, once it has validated
 * them): forest_begin, forest_add_tree for each tree in model order, then
 * forest_finish, which returns NULL if some tree was too big for ForestNode
 * (the xgboost engine scores such a model).  Everything is allocated in
 * "context"; a forest abandoned on error goes with it.
 */
extern Forest *forest_begin(int num_trees, int num_features, float base_score,
							bool base_score_is_margin, MemoryContext context);
extern void forest_add_tree(Forest *forest, const ForestTree *tree, const float *leaf_weight);
extern Forest *forest_finish(Forest *forest);

/*
 * A compiled forest as bytes, stored beside the model in the catalog so a
 * backend's first score need not parse and validate the model document.
 * forest_from_bytes checks everything forest_predict relies on and returns
 * NULL, with the reason in *why, for bytes it cannot use.
 */
extern bytea *forest_to_bytes(const Forest *forest, const char *sha256);
extern Forest *forest_from_bytes(const char *data, Size len, const char *sha256,
								 int num_features, MemoryContext context,
								 const char **why);

#endif							/* FRAUD_SCORE_FOREST_H */
