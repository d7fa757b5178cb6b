/*-------------------------------------------------------------------------
 *
 * explain.h
 *		Per-feature contributions to a tree model's margin (explain.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_EXPLAIN_H
#define FRAUD_SCORE_EXPLAIN_H

#include "utils/palloc.h"

struct Forest;
struct LgbmForest;

typedef enum ExplainMethod
{
	EXPLAIN_TREE_SHAP,			/* exact path-dependent TreeSHAP */
	EXPLAIN_SAABAS,				/* XGBoost's approx_contribs */
	EXPLAIN_EXHAUSTIVE,			/* Shapley values over every feature subset */
	EXPLAIN_XGBOOST,			/* XGBoost's own pred_contribs (scoring.c) */
	EXPLAIN_XGBOOST_APPROX		/* and its approx_contribs */
} ExplainMethod;

/*
 * One node of a tree, in depth-first order (a split's left child is the
 * next node).  ratio[side] is the share of the split's training cover (XGBoost's
 * sum_hessian, LightGBM's row count) that went to that child: the weight a
 * row that does not know the split's feature gives each branch.
 */
typedef struct ShapNode
{
	int32		feature;		/* -1 for a leaf */
	int32		right;			/* the right child, in this tree's numbering */
	int32		end;			/* one past this node's subtree */
	int32		source;			/* the engine's node, for its directions */
	double		ratio[2];
	double		value;			/* a leaf's output */
	double		mean;			/* the subtree's expected output */
} ShapNode;

/*
 * The edge into a node, all that TreeSHAP's per-row pass reads of it, kept
 * apart from ShapNode so that the pass streams as few bytes as it can.
 * z_old and z_new are the product of the cover ratios of the path's splits
 * on the parent's feature before and after this one (explain.c).
 */
typedef struct ShapEdge
{
	int32		previous;		/* the same feature's last edge above, or -1 */
	int32		parent;
	int32		parent_source;	/* the parent's engine node */
	int32		side;			/* 0 if the parent's left child, 1 if its right */
	double		z_old;
	double		z_new;
	double		ratio;			/* the parent's ratio[side] */
	double		value;			/* the node's, if a leaf */
} ShapEdge;

/* A split, as the per-row pass's way up reads it. */
typedef struct ShapSplit
{
	int32		node;
	int32		right;
	int32		feature;
} ShapSplit;

typedef struct ShapTree
{
	int32		first;			/* its first node in Explainer.nodes */
	int32		num_nodes;
	int32		points;			/* quadrature points its polynomials need */
	int32		source_nodes;	/* the engine's nodes, for directions */
	int32		num_splits;
	Size		first_inverse;	/* its rows in Explainer.inverse */
} ShapTree;

typedef struct Explainer
{
	int			num_trees;
	int			num_features;
	double		bias;			/* base margin + every tree's expected output */
	ShapTree   *trees;
	ShapNode   *nodes;
	const struct Forest *forest;	/* the engine that decides directions */
	const struct LgbmForest *lgbm;
	/* Gauss-Legendre points and weights on [0, 1] for 1 .. max_points points */
	int			max_points;
	double	   *quad_t;
	double	   *quad_w;
	double	   *ones;			/* max_points of them: a factor not yet changed */
	double	   *quad_wt;		/* w / (1 - t) */
	ShapEdge   *edges;			/* per node, as nodes */
	double	   *inverse;		/* per tree: ones, then per node 1 / F(t) at each point */
	ShapSplit  *splits;			/* per tree, from its first node: its splits, last first */
	int			num_nodes_total;
	/* scratch, sized for the largest tree */
	int			max_nodes;
	uint8	   *right;
	double	   *work;
	double	   *o_at;			/* per node + 1: 1 if the row follows its feature's splits down to it, else 0 */
	Size		bytes;			/* what all of this takes */
} Explainer;

extern Explainer *explainer_build_xgboost(const struct Forest *forest, MemoryContext context);
extern Explainer *explainer_build_lgbm(const struct LgbmForest *lgbm, MemoryContext context);
extern const char *explainer_refusal(const struct Forest *forest, const struct LgbmForest *lgbm);

/*
 * The contributions of each feature to the margin of "features" into
 * phi[num_features] (zeroed first); returns the bias, so that the bias plus
 * every contribution is the margin.
 */
extern double explainer_explain(Explainer *explainer, const double *features, ExplainMethod method,
								double *phi);

/* The largest number of distinct features a tree may split on for EXPLAIN_EXHAUSTIVE. */
#define EXPLAIN_EXHAUSTIVE_MAX_FEATURES 16

#endif							/* FRAUD_SCORE_EXPLAIN_H */
