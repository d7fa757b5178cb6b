/*-------------------------------------------------------------------------
 *
 * explain.c
 *		Why a tree model gave a row its margin: each feature's contribution,
 *		as exact path-dependent TreeSHAP values, computed natively.
 *
 * Owns the Explainer (each tree of a compiled forest, XGBoost's or
 * LightGBM's, in depth-first order with its branches' cover ratios and
 * expected outputs) and the three methods over it.
 *
 * TreeSHAP (Lundberg et al., 2020) gives feature i of a row x the Shapley
 * value of the game v(S) = the tree's expected output when only the
 * features in S are known, a branch on an unknown feature being weighed by
 * the share of training cover that went down it.  For one leaf l with value
 * v_l, let z_j be the product of those shares over the path's splits on
 * feature j and o_j whether x follows all of them (1 or 0); then
 * v(S) = v_l prod_{j in S} o_j prod_{j not in S} z_j, and its Shapley value
 * is the integral of a polynomial (the multilinear extension's derivative
 * along the diagonal):
 *
 *	 phi_i = v_l (o_i - z_i) int_0^1 prod_{j != i} (z_j + t (o_j - z_j)) dt
 *
 * whose degree is below the number of distinct features on the path, so
 * Gauss-Legendre quadrature with ceil(that number / 2) points is exact.
 * Working with each polynomial's values at those points, the product over a
 * path is built on the way down and the sum over a subtree's leaves on the
 * way up, so a tree costs O(nodes x points), not O(leaves x depth^2) as
 * Lundberg's extend/unwind recursion does (this is Linear TreeSHAP's
 * idea, Yu et al., 2022, with quadrature in place of its interpolation).
 * A feature split on more than once on a path has one merged factor, and a
 * split's contribution is the difference its split makes to that factor's
 * share, so the terms of the earlier splits cancel (quadrature is linear).
 *
 * EXPLAIN_SAABAS is XGBoost's approx_contribs: the change in expected
 * output at each step of the row's own path.  EXPLAIN_EXHAUSTIVE computes
 * v(S) for every subset of each tree's features and the Shapley formula
 * itself: the reference the tests hold TreeSHAP to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_bitutils.h"
#include "utils/memutils.h"

#include "explain.h"
#include "forest.h"
#include "lgbmforest.h"

/* ------------------------------------------------------------- building */

/* Where the k points' table starts: tables for 1, 2, ... points follow each other. */
#define QUADRATURE_OFFSET(k) ((Size) ((k) - 1) * (k) / 2)

/* Gauss-Legendre points and weights on [0, 1], k = 1 .. max (Newton on P_k). */
static void
build_quadrature(Explainer *e, MemoryContext context)
{
	int			max = e->max_points;
	Size		size = sizeof(double) * ((Size) max * (max + 1) / 2);

	e->quad_t = MemoryContextAllocHuge(context, size);
	e->quad_w = MemoryContextAllocHuge(context, size);
	e->quad_wt = MemoryContextAllocHuge(context, size);
	e->ones = MemoryContextAlloc(context, sizeof(double) * max);
	for (int i = 0; i < max; i++)
		e->ones[i] = 1.0;
	for (int k = 1; k <= max; k++)
	{
		double	   *t = e->quad_t + QUADRATURE_OFFSET(k);
		double	   *w = e->quad_w + QUADRATURE_OFFSET(k);

		for (int i = 0; i < (k + 1) / 2; i++)
		{
			double		x = cos(M_PI * (i + 0.75) / (k + 0.5));
			double		derivative = 1.0;

			for (int iteration = 0; iteration < 100; iteration++)
			{
				double		p1 = 1.0,
							p2 = 0.0,
							previous = x;

				for (int j = 1; j <= k; j++)
				{
					double		p3 = p2;

					p2 = p1;
					p1 = ((2.0 * j - 1.0) * x * p2 - (j - 1.0) * p3) / j;
				}
				derivative = k * (x * p1 - p2) / (x * x - 1.0);
				x = previous - p1 / derivative;
				if (fabs(x - previous) <= 1e-16)
					break;
			}
			t[i] = (1.0 - x) / 2.0;
			t[k - 1 - i] = (1.0 + x) / 2.0;
			w[i] = w[k - 1 - i] = 1.0 / ((1.0 - x * x) * derivative * derivative);
		}
		for (int i = 0; i < k; i++)
			e->quad_wt[QUADRATURE_OFFSET(k) + i] = w[i] / (1.0 - t[i]);
	}
}

/* The share of "parent"'s cover that went to a child; an even split where it had none. */
static double
cover_ratio(double child, double parent)
{
	return parent > 0.0 ? child / parent : 0.5;
}

/*
 * What every tree needs once its nodes are in: subtree ends, expected
 * outputs, and the quadrature points (distinct features on its longest path).
 */
static void
finish_tree(Explainer *e, ShapTree *tree, int32 *feature_count, int32 *path)
{
	ShapNode   *nodes = e->nodes + tree->first;
	int			n = tree->num_nodes;
	int			top = -1;
	int			distinct = 0;
	int			most = 0;

	for (int i = n - 1; i >= 0; i--)
	{
		ShapNode   *node = &nodes[i];

		if (node->feature < 0)
		{
			node->end = i + 1;
			node->mean = node->value;
			continue;
		}
		node->end = nodes[node->right].end;
		node->mean = node->ratio[0] * nodes[i + 1].mean + node->ratio[1] * nodes[node->right].mean;
	}
	for (int i = 0; i < n; i++)
	{
		while (top >= 0 && nodes[path[top]].end <= i)
			if (--feature_count[nodes[path[top--]].feature] == 0)
				distinct--;
		if (nodes[i].feature < 0)
		{
			most = Max(most, distinct);
			continue;
		}
		path[++top] = i;
		if (feature_count[nodes[i].feature]++ == 0)
			distinct++;
	}
	while (top >= 0)
		feature_count[nodes[path[top--]].feature]--;
	/*
	 * ceil(most / 2) points are exact; up to 4 get 4, the width of one AVX
	 * vector of doubles, which costs no more and lets one copy of the walk
	 * serve every tree of up to 8 distinct features on a path.
	 */
	tree->points = (most + 1) / 2 <= 4 ? 4 : (most + 1) / 2;
	e->max_points = Max(e->max_points, tree->points);
	e->max_nodes = Max(e->max_nodes, n);
	e->bias += nodes[0].mean;
}

/*
 * What each edge contributes that does not depend on the row: the merged
 * z of its split's feature before and after it, and 1 / F(t) after it for
 * a row that follows the feature (at the tree's points), found from the
 * feature's previous split on the path ("previous").
 */
static void
edge_statics(Explainer *e, ShapTree *tree, double *feature_z, int32 *feature_last, int32 *path,
			 double *saved_z, int32 *saved_last)
{
	ShapNode   *nodes = e->nodes + tree->first;
	ShapEdge   *edges = e->edges + tree->first;
	ShapSplit  *splits = e->splits + tree->first;
	int			n = tree->num_nodes;
	int			k = tree->points;
	const double *t = e->quad_t + QUADRATURE_OFFSET(k);
	double	   *inverse = e->inverse + tree->first_inverse;
	int			top = 0;

	for (int i = 0; i < k; i++)
		inverse[i] = 1.0;
	tree->num_splits = 0;
	for (int c = n - 1; c >= 0; c--)
		if (nodes[c].feature >= 0)
		{
			splits[tree->num_splits].node = c;
			splits[tree->num_splits].right = nodes[c].right;
			splits[tree->num_splits++].feature = nodes[c].feature;
		}
	memset(&edges[0], 0, sizeof(ShapEdge));
	edges[0].value = nodes[0].value;
	path[top++] = 0;
	for (int c = 1; c < n; c++)
	{
		ShapNode   *split;
		int			f;

		while (nodes[path[top - 1]].end <= c)
		{
			top--;
			f = nodes[path[top - 1]].feature;
			feature_z[f] = saved_z[path[top]];
			feature_last[f] = saved_last[path[top]];
		}
		split = &nodes[path[top - 1]];
		f = split->feature;
		saved_z[c] = feature_z[f];
		saved_last[c] = feature_last[f];
		edges[c].parent = path[top - 1];
		edges[c].parent_source = split->source;
		edges[c].side = c != path[top - 1] + 1;
		edges[c].previous = feature_last[f];
		edges[c].ratio = split->ratio[edges[c].side];
		edges[c].z_old = feature_z[f];
		edges[c].z_new = feature_z[f] * edges[c].ratio;
		edges[c].value = nodes[c].value;
		for (int i = 0; i < k; i++)
			inverse[(c + 1) * k + i] = 1.0 / (edges[c].z_new + t[i] * (1.0 - edges[c].z_new));
		feature_z[f] = edges[c].z_new;
		feature_last[f] = c;
		path[top++] = c;
	}
	while (top > 1)
	{
		top--;
		feature_z[nodes[path[top - 1]].feature] = saved_z[path[top]];
		feature_last[nodes[path[top - 1]].feature] = saved_last[path[top]];
	}
}

/* The quadrature, each edge's statics, and the scratch every explanation reuses. */
static void
finish_explainer(Explainer *e, int max_source_nodes, MemoryContext context)
{
	int			k = e->max_points;
	int			n = Max(e->max_nodes, 1);
	Size		inverses = 0;
	double	   *feature_z = palloc(sizeof(double) * Max(e->num_features, 1));
	int32	   *feature_last = palloc(sizeof(int32) * Max(e->num_features, 1));
	int32	   *path = palloc(sizeof(int32) * n);
	double	   *saved_z = palloc(sizeof(double) * n);
	int32	   *saved_last = palloc(sizeof(int32) * n);

	build_quadrature(e, context);
	for (int t = 0; t < e->num_trees; t++)
	{
		e->trees[t].first_inverse = inverses;
		inverses += (Size) (e->trees[t].num_nodes + 1) * e->trees[t].points;
	}
	e->inverse = MemoryContextAllocHuge(context, sizeof(double) * Max(inverses, 1));
	e->edges = MemoryContextAllocHuge(context, sizeof(ShapEdge) * Max(e->num_nodes_total, 1));
	e->splits = MemoryContextAllocHuge(context, sizeof(ShapSplit) * Max(e->num_nodes_total, 1));
	for (int f = 0; f < e->num_features; f++)
	{
		feature_z[f] = 1.0;
		feature_last[f] = -1;
	}
	for (int t = 0; t < e->num_trees; t++)
		edge_statics(e, &e->trees[t], feature_z, feature_last, path, saved_z, saved_last);
	pfree(feature_z);
	pfree(feature_last);
	pfree(path);
	pfree(saved_z);
	pfree(saved_last);

	e->right = MemoryContextAllocZero(context, Max(max_source_nodes, 1));
	/* per node: A, R, W times A, B (k each) */
	e->work = MemoryContextAllocHuge(context, sizeof(double) * (Size) n * 4 * k);
	e->o_at = MemoryContextAllocHuge(context, sizeof(double) * ((Size) n + 1));
	e->bytes = MemoryContextMemAllocated(context, true);
}

static Explainer *
explainer_alloc(int num_trees, int num_features, int num_nodes, MemoryContext context)
{
	Explainer  *e = MemoryContextAllocZero(context, sizeof(Explainer));

	e->num_trees = num_trees;
	e->num_features = num_features;
	e->trees = MemoryContextAllocZero(context, sizeof(ShapTree) * Max(num_trees, 1));
	e->nodes = MemoryContextAllocHuge(context, sizeof(ShapNode) * Max(num_nodes, 1));
	e->num_nodes_total = num_nodes;
	return e;
}

/*
 * An XGBoost forest's trees, depth first from each root (nodes no walk
 * reaches are left out).  "context" should be the explainer's own: its
 * size is what it has allocated.
 */
Explainer *
explainer_build_xgboost(const Forest *forest, MemoryContext context)
{
	Explainer  *e = explainer_alloc(forest->num_trees, forest->num_features, forest->num_nodes,
									context);
	int			n = forest->num_features;
	int			used = 0;
	int			max_source = 1;
	int32	   *stack = palloc(sizeof(int32) * 2 * Max(forest->num_nodes, 1));
	int32	   *feature_count = palloc0(sizeof(int32) * Max(n, 1));
	int32	   *path = palloc(sizeof(int32) * Max(forest->num_nodes, 1));

	e->forest = forest;
	e->bias = forest->base_margin;
	for (int t = 0; t < forest->num_trees; t++)
	{
		const ForestNode *nodes = forest->nodes + forest->roots[t];
		const float *cover = forest->cover + forest->roots[t];
		ShapTree   *tree = &e->trees[t];
		int			top = 0;

		tree->first = used;
		tree->source_nodes = forest_tree_size(forest, t);
		max_source = Max(max_source, tree->source_nodes);
		/* (source, parent's index + 1, negated for a right child) */
		stack[0] = 0;
		stack[1] = 0;
		top = 1;
		while (top > 0)
		{
			int32		source = stack[2 * (top - 1)];
			int32		parent = stack[2 * (top - 1) + 1];
			ShapNode   *node = &e->nodes[used];
			const ForestNode *f = &nodes[source];

			top--;
			if (parent < 0)
				e->nodes[tree->first - parent - 1].right = used - tree->first;
			memset(node, 0, sizeof(*node));
			node->source = source;
			if (f->child_delta == 0)
			{
				node->feature = -1;
				node->value = f->condition;
			}
			else
			{
				int			left = source + f->child_delta;

				node->feature = f->input >= n ? f->input - n : f->input;
				node->ratio[0] = cover_ratio(cover[left], cover[source]);
				node->ratio[1] = cover_ratio(cover[left + 1], cover[source]);
				stack[2 * top] = left + 1;
				stack[2 * top + 1] = -(used - tree->first) - 1;
				top++;
				stack[2 * top] = left;
				stack[2 * top + 1] = used - tree->first + 1;
				top++;
			}
			used++;
		}
		tree->num_nodes = used - tree->first;
		finish_tree(e, tree, feature_count, path);
	}
	pfree(stack);
	pfree(feature_count);
	pfree(path);
	finish_explainer(e, max_source, context);
	return e;
}

/* One LightGBM tree, depth first from node 0 (or its single leaf). */
static void
add_lgbm_tree(Explainer *e, const LgbmForest *lgbm, int t, int *used, int32 *stack, double scale)
{
	const LgbmTree *lt = &lgbm->trees[t];
	const LgbmNode *nodes = lgbm->nodes + lt->first_node;
	ShapTree   *tree = &e->trees[t];
	int			top = 1;

	tree->first = *used;
	tree->source_nodes = lt->num_leaves - 1;
	/* (child as LightGBM writes it: >= 0 a node, else ~leaf; parent as above) */
	stack[0] = lt->num_leaves > 1 ? 0 : ~0;
	stack[1] = 0;
	while (top > 0)
	{
		int32		child = stack[2 * (top - 1)];
		int32		parent = stack[2 * (top - 1) + 1];
		ShapNode   *node = &e->nodes[*used];

		top--;
		if (parent < 0)
			e->nodes[tree->first - parent - 1].right = *used - tree->first;
		memset(node, 0, sizeof(*node));
		if (child < 0)
		{
			node->feature = -1;
			node->source = ~child;
			node->value = lgbm->leaf_value[lt->first_leaf + ~child] * scale;
		}
		else
		{
			const LgbmNode *split = &nodes[child];
			double		count = lgbm->node_count[lt->first_node + child];
			int32		sides[2] = {split->left, split->right};

			node->feature = split->feature;
			node->source = child;
			for (int side = 0; side < 2; side++)
				node->ratio[side] = cover_ratio(sides[side] >= 0 ?
												lgbm->node_count[lt->first_node + sides[side]] :
												lgbm->leaf_count[lt->first_leaf + ~sides[side]],
												count);
			stack[2 * top] = split->right;
			stack[2 * top + 1] = -(*used - tree->first) - 1;
			top++;
			stack[2 * top] = split->left;
			stack[2 * top + 1] = *used - tree->first + 1;
			top++;
		}
		(*used)++;
	}
	tree->num_nodes = *used - tree->first;
}

/*
 * Why a forest cannot be explained, or NULL if it can: what the builders
 * raise, as a phrase, for callers that must not raise (the trigger under
 * fraud_score.on_error = review or approve).
 */
const char *
explainer_refusal(const Forest *forest, const LgbmForest *lgbm)
{
	if (lgbm != NULL)
	{
		for (int t = 0; t < lgbm->num_trees; t++)
			if (lgbm->trees[t].is_linear)
				return "its LightGBM trees have linear leaves";
		if (!lgbm->has_counts)
			return "its LightGBM trees have no usable node counts";
		return NULL;
	}
	if (forest == NULL)
		return "it has no native evaluator";
	return NULL;
}

Explainer *
explainer_build_lgbm(const LgbmForest *lgbm, MemoryContext context)
{
	Explainer  *e;
	int			used = 0;
	int			max_source = 1;
	double		scale = lgbm->average_output && lgbm->num_trees > 0 ? 1.0 / lgbm->num_trees : 1.0;
	int32	   *stack;
	int32	   *feature_count;
	int32	   *path;

	for (int t = 0; t < lgbm->num_trees; t++)
		if (lgbm->trees[t].is_linear)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("fraud_score cannot explain a LightGBM model with linear leaves"),
					 errdetail("Tree %d has linear leaves, whose output is not one value per leaf.", t)));
	if (!lgbm->has_counts)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fraud_score cannot explain a LightGBM model without node counts"),
				 errdetail("A tree has no internal_count and leaf_count of counts that are finite and not negative, which weigh the branches a row does not take."),
				 errhint("Save the model with LightGBM's save_model, which writes them.")));
	e = explainer_alloc(lgbm->num_trees, lgbm->num_features, lgbm->num_nodes + lgbm->num_leaves,
						context);
	e->lgbm = lgbm;
	stack = palloc(sizeof(int32) * 2 * Max(lgbm->num_nodes + lgbm->num_leaves, 1));
	feature_count = palloc0(sizeof(int32) * Max(lgbm->num_features, 1));
	path = palloc(sizeof(int32) * Max(lgbm->num_nodes + lgbm->num_leaves, 1));
	for (int t = 0; t < lgbm->num_trees; t++)
	{
		add_lgbm_tree(e, lgbm, t, &used, stack, scale);
		max_source = Max(max_source, e->trees[t].source_nodes);
		finish_tree(e, &e->trees[t], feature_count, path);
	}
	pfree(stack);
	pfree(feature_count);
	pfree(path);
	finish_explainer(e, max_source, context);
	return e;
}

/* ------------------------------------------------------------ explaining */

/* Which way the row goes at every split of tree t, by the engine's own rules. */
static void
tree_directions(Explainer *e, int t, const double *features)
{
	if (e->forest != NULL)
		forest_tree_directions(e->forest, t, features, e->right);
	else
		lgbm_forest_tree_directions(e->lgbm, t, e->right);
}

static inline bool
goes_right(const Explainer *e, const ShapNode *node)
{
	return e->right[node->source] != 0;
}

/*
 * TreeSHAP over one tree, with "k" quadrature points (a constant in the
 * specializations below, so that the loops over points unroll).
 *
 * Down, in depth-first order, each edge p -> c on p's feature f, whose
 * merged factor F(t) = z + t (o - z) goes from (z_old, o_old) to
 * (z_new, o_new): the z are the tree's (edge_statics), only o depends on
 * the row.  R = F_new / F_old, what the path polynomial A is multiplied by,
 * and W = w (g_new - g_old), g = (o - z) / F, the change in the feature's
 * weighted share, are:
 *	 o_old 1, o_new 1:	R = F_new / F_old		W = w ((1-z_new)/F_new - (1-z_old)/F_old)
 *	 o_old 1, o_new 0:	R = z_new (1-t) / F_old  W = w (-1/(1-t) - (1-z_old)/F_old)
 *	 o_old 0:			R = the edge's ratio	W = 0
 * Everything but o is the tree's: edge_statics keeps each edge's z and
 * 1 / F(t) in the o = 1 state (inverse, whose row 0 is the ones of a
 * feature not split on yet), so that R = ratio + o_old (R0 - ratio) +
 * o_new t / F_old and W = o_old E0 + o_new E1 need no division; o_old is
 * the o after the same feature's previous split on the path (o_at, whose
 * entry 0 is 1).
 * A branch no cover went down gives R = 0, and so nothing below counts.
 * The three cases are selected by arithmetic, not branches: which way a
 * row goes is as good as random to the branch predictor.  Up, in reverse
 * order over the splits, B (the subtree's leaf values times their
 * polynomials below) and each edge's contribution sum_k W A B to f.
 */
static pg_attribute_always_inline void
tree_shap_points(Explainer *e, const ShapTree *tree, double *phi, const int k)
{
	const ShapEdge *edges = e->edges + tree->first;
	const ShapSplit *splits = e->splits + tree->first;
	const double *inverse = e->inverse + tree->first_inverse;
	const double *t = e->quad_t + QUADRATURE_OFFSET(k);
	const double *w = e->quad_w + QUADRATURE_OFFSET(k);
	const double *wt = e->quad_wt + QUADRATURE_OFFSET(k);
	const uint8 *right = e->right;
	int			n = tree->num_nodes;
	double	   *a = e->work;
	double	   *r = a + n * k;
	double	   *wa = r + n * k;		/* W times A */
	double	   *b = wa + n * k;
	double	   *o_at = e->o_at;

	for (int i = 0; i < k; i++)
		a[i] = 1.0;
	o_at[0] = 1.0;
	for (int c = 1; c < n; c++)
	{
		const ShapEdge *edge = &edges[c];
		double		o_old = o_at[edge->previous + 1];
		double		o_new = o_old * (double) (1 ^ right[edge->parent_source] ^ edge->side);
		const double *inv_old = inverse + (edge->previous + 1) * k;
		const double *inv_new = inverse + (c + 1) * k;
		const double *ap = a + edge->parent * k;
		double		zo = edge->z_old;
		double		zn = edge->z_new;
		double		ratio = edge->ratio;

		o_at[c + 1] = o_new;
		for (int i = 0; i < k; i++)
		{
			double		io = inv_old[i];
			double		r0 = zn * (1.0 - t[i]) * io;
			double		ri = ratio + o_old * (r0 - ratio) + o_new * (t[i] * io);
			double		e0 = -wt[i] - w[i] * (1.0 - zo) * io;
			double		e1 = w[i] * (1.0 - zn) * inv_new[i] + wt[i];
			double		ac = ap[i] * ri;

			r[c * k + i] = ri;
			a[c * k + i] = ac;
			wa[c * k + i] = (o_old * e0 + o_new * e1) * ac;
			b[c * k + i] = edge->value;
		}
	}

	for (int s = 0; s < tree->num_splits; s++)
	{
		int			p = splits[s].node;
		int			left = p + 1;
		int			right_child = splits[s].right;
		double		sum = 0.0;

		for (int i = 0; i < k; i++)
		{
			double		bl = b[left * k + i];
			double		br = b[right_child * k + i];

			sum += wa[left * k + i] * bl + wa[right_child * k + i] * br;
			b[p * k + i] = r[left * k + i] * bl + r[right_child * k + i] * br;
		}
		phi[splits[s].feature] += sum;
	}
}

/*
 * Trees of up to 8 distinct features on a path: tree_shap_points with its
 * 4 points as one vector (GCC's vector extension: two SSE2 operations by
 * default, one AVX2 operation, fused multiply-adds included, in the clone
 * the dynamic loader picks on an x86-64-v3 CPU).  The same formulas; only
 * the FMA's single rounding differs.
 */
typedef double Vec4 __attribute__((vector_size(4 * sizeof(double))));

/* The arrays' 4-point groups as vectors: 8-byte aligned only, and aliasing doubles. */
typedef double UnalignedVec4 __attribute__((vector_size(4 * sizeof(double)), aligned(8), may_alias));
#define load4(p) (*(const UnalignedVec4 *) (p))
#define store4(p, v) (*(UnalignedVec4 *) (p) = (v))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
static void
tree_shap_4(Explainer *e, const ShapTree *tree, double *phi)
{
	const ShapEdge *edges = e->edges + tree->first;
	const ShapSplit *splits = e->splits + tree->first;
	const double *inverse = e->inverse + tree->first_inverse;
	const Vec4	t = load4(e->quad_t + QUADRATURE_OFFSET(4));
	const Vec4	w = load4(e->quad_w + QUADRATURE_OFFSET(4));
	const Vec4	wt = load4(e->quad_wt + QUADRATURE_OFFSET(4));
	const Vec4	one_minus_t = 1.0 - t;
	const uint8 *right = e->right;
	int			n = tree->num_nodes;
	double	   *a = e->work;
	double	   *r = a + n * 4;
	double	   *wa = r + n * 4;
	double	   *b = wa + n * 4;
	double	   *o_at = e->o_at;

	store4(a, ((Vec4) {1.0, 1.0, 1.0, 1.0}));
	o_at[0] = 1.0;
	for (int c = 1; c < n; c++)
	{
		const ShapEdge *edge = &edges[c];
		double		o_old = o_at[edge->previous + 1];
		double		o_new = o_old * (double) (1 ^ right[edge->parent_source] ^ edge->side);
		Vec4		io = load4(inverse + (edge->previous + 1) * 4);
		Vec4		in = load4(inverse + (c + 1) * 4);
		Vec4		r0 = edge->z_new * one_minus_t * io;
		Vec4		ri = edge->ratio + o_old * (r0 - edge->ratio) + o_new * (t * io);
		Vec4		e0 = -wt - w * (1.0 - edge->z_old) * io;
		Vec4		e1 = w * (1.0 - edge->z_new) * in + wt;
		Vec4		ac = load4(a + edge->parent * 4) * ri;

		o_at[c + 1] = o_new;
		store4(r + c * 4, ri);
		store4(a + c * 4, ac);
		store4(wa + c * 4, (o_old * e0 + o_new * e1) * ac);
		store4(b + c * 4, ((Vec4) {edge->value, edge->value, edge->value, edge->value}));
	}
	for (int s = 0; s < tree->num_splits; s++)
	{
		int			p = splits[s].node;
		int			left = p + 1;
		int			right_child = splits[s].right;
		Vec4		bl = load4(b + left * 4);
		Vec4		br = load4(b + right_child * 4);
		Vec4		sum = load4(wa + left * 4) * bl + load4(wa + right_child * 4) * br;

		store4(b + p * 4, load4(r + left * 4) * bl + load4(r + right_child * 4) * br);
		phi[splits[s].feature] += (sum[0] + sum[1]) + (sum[2] + sum[3]);
	}
}

static void
tree_shap(Explainer *e, const ShapTree *tree, double *phi)
{
	if (tree->num_nodes <= 1)
		return;
	if (tree->points == 4)
		tree_shap_4(e, tree, phi);
	else
		tree_shap_points(e, tree, phi, tree->points);
}

/* XGBoost's approx_contribs: each step of the row's path, the change in expected output. */
static void
tree_saabas(Explainer *e, const ShapTree *tree, double *phi)
{
	const ShapNode *nodes = e->nodes + tree->first;
	int			at = 0;

	while (nodes[at].feature >= 0)
	{
		int			next = goes_right(e, &nodes[at]) ? nodes[at].right : at + 1;

		phi[nodes[at].feature] += nodes[next].mean - nodes[at].mean;
		at = next;
	}
}

/* The tree's expected output when the features in "known" (bits of "slots") are known. */
static double
subset_value(Explainer *e, const ShapNode *nodes, int n, const int32 *slot, uint32 known,
			 double *value)
{
	for (int i = n - 1; i >= 0; i--)
	{
		const ShapNode *node = &nodes[i];

		if (node->feature < 0)
			value[i] = node->value;
		else if (known & ((uint32) 1 << slot[node->feature]))
			value[i] = goes_right(e, node) ? value[node->right] : value[i + 1];
		else
			value[i] = node->ratio[0] * value[i + 1] + node->ratio[1] * value[node->right];
	}
	return value[0];
}

/* Shapley's formula over every subset of the tree's features. */
static void
tree_exhaustive(Explainer *e, const ShapTree *tree, double *phi, int32 *slot)
{
	const ShapNode *nodes = e->nodes + tree->first;
	int			n = tree->num_nodes;
	int			u = 0;
	int32		features[EXPLAIN_EXHAUSTIVE_MAX_FEATURES];
	double	   *value;
	double	   *v;
	double		weight[EXPLAIN_EXHAUSTIVE_MAX_FEATURES];

	for (int i = 0; i < n; i++)
	{
		int			f = nodes[i].feature;

		if (f < 0 || slot[f] >= 0)
			continue;
		if (u == EXPLAIN_EXHAUSTIVE_MAX_FEATURES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the exhaustive method explains trees that split on at most %d features",
							EXPLAIN_EXHAUSTIVE_MAX_FEATURES),
					 errdetail("A tree of the model splits on more."),
					 errhint("Use method => 'tree_shap', which gives the same values.")));
		slot[f] = u;
		features[u++] = f;
	}
	value = palloc(sizeof(double) * n);
	v = palloc(sizeof(double) * ((Size) 1 << u));
	for (uint32 s = 0; s < ((uint32) 1 << u); s++)
		v[s] = subset_value(e, nodes, n, slot, s, value);
	/* weight[m] = m! (u - m - 1)! / u! */
	for (int m = 0; m < u; m++)
	{
		double		x = 1.0 / u;

		for (int j = 1; j <= m; j++)
			x *= (double) j / (u - j);
		weight[m] = x;
	}
	for (int i = 0; i < u; i++)
	{
		double		sum = 0.0;

		for (uint32 s = 0; s < ((uint32) 1 << u); s++)
			if (!(s & ((uint32) 1 << i)))
				sum += weight[pg_popcount32(s)] * (v[s | ((uint32) 1 << i)] - v[s]);
		phi[features[i]] += sum;
	}
	for (int i = 0; i < u; i++)
		slot[features[i]] = -1;
	pfree(value);
	pfree(v);
}

double
explainer_explain(Explainer *e, const double *features, ExplainMethod method, double *phi)
{
	int32	   *slot = NULL;

	memset(phi, 0, sizeof(double) * e->num_features);
	if (e->lgbm != NULL)
		lgbm_forest_begin_row(e->lgbm, features);
	else
		forest_begin_row(e->forest, features);
	if (method == EXPLAIN_EXHAUSTIVE)
	{
		slot = palloc(sizeof(int32) * Max(e->num_features, 1));
		for (int f = 0; f < e->num_features; f++)
			slot[f] = -1;
	}
	for (int t = 0; t < e->num_trees; t++)
	{
		const ShapTree *tree = &e->trees[t];

		if (tree->num_nodes <= 1)
			continue;
		tree_directions(e, t, features);
		if (method == EXPLAIN_TREE_SHAP)
			tree_shap(e, tree, phi);
		else if (method == EXPLAIN_SAABAS)
			tree_saabas(e, tree, phi);
		else
			tree_exhaustive(e, tree, phi, slot);
	}
	if (slot)
		pfree(slot);
	return e->bias;
}
