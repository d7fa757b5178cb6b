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
	tree->points = Max(1, (most + 1) / 2);
	e->max_points = Max(e->max_points, tree->points);
	e->max_nodes = Max(e->max_nodes, n);
	e->bias += nodes[0].mean;
}

/* The scratch every explanation reuses, and the feature state's resting values. */
static void
finish_explainer(Explainer *e, int max_source_nodes, MemoryContext context)
{
	int			k = e->max_points;
	int			n = Max(e->max_nodes, 1);

	build_quadrature(e, context);
	e->right = MemoryContextAllocZero(context, Max(max_source_nodes, 1));
	/* per node: A, R, W, inverse, B (k each); saved z */
	e->work = MemoryContextAllocHuge(context, sizeof(double) * (Size) n * (5 * k + 1));
	e->path = MemoryContextAllocHuge(context, sizeof(int32) * (Size) n * 3);
	e->feature_z = MemoryContextAlloc(context, sizeof(double) * Max(e->num_features, 1));
	e->feature_o = MemoryContextAlloc(context, Max(e->num_features, 1));
	e->feature_inv = MemoryContextAlloc(context, sizeof(int32) * Max(e->num_features, 1));
	for (int f = 0; f < e->num_features; f++)
	{
		e->feature_z[f] = 1.0;
		e->feature_o[f] = 1;
		e->feature_inv[f] = -1;
	}
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
				 errdetail("A tree has no internal_count or leaf_count, which weigh the branches a row does not take."),
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
 * Per-node vectors of the tree being explained (k values each): A, the
 * path's polynomial at the points down to the node; R, what the edge into
 * the node multiplies it by; W, the edge's change to its feature's
 * weighted share; INV, 1 / the feature's merged factor after the edge
 * (while the row still follows that feature); B, the subtree's leaves'
 * values times their polynomials below the node.
 */
typedef struct TreeWork
{
	int			k;
	const double *t;
	const double *w;
	double	   *a;
	double	   *r;
	double	   *wt;
	double	   *inv;
	double	   *b;
	double	   *saved_z;
	int32	   *saved_inv;
	uint8	   *saved_o;
	uint8	   *live;
	uint8	   *contributes;
} TreeWork;

/*
 * The edge from split p into child c: how it changes the merged factor of
 * p's feature, F(t) = z + t (o - z).  Returns false when the factor becomes
 * zero (the row left a branch no training cover went down), so that
 * nothing below contributes.
 */
static bool
enter_edge(Explainer *e, TreeWork *w, const ShapNode *nodes, int p, int c)
{
	const ShapNode *split = &nodes[p];
	int			f = split->feature;
	int			side = c == p + 1 ? 0 : 1;
	double		z_old = e->feature_z[f];
	bool		o_old = e->feature_o[f];
	int32		inv_old = e->feature_inv[f];
	double		z_new = z_old * split->ratio[side];
	bool		o_new = o_old && goes_right(e, split) == side;
	int			k = w->k;
	double	   *r = w->r + c * k;
	double	   *wt = w->wt + c * k;
	double	   *a = w->a + c * k;
	const double *a_parent = w->a + p * k;
	const double *inv_f_old = inv_old >= 0 ? w->inv + inv_old * k : e->ones;

	if (!o_new && z_new == 0.0)
		return false;
	w->contributes[c] = o_old;
	if (o_new)
	{
		double	   *inv = w->inv + c * k;

		for (int i = 0; i < k; i++)
		{
			double		factor = z_new + w->t[i] * (1.0 - z_new);

			inv[i] = 1.0 / factor;
			r[i] = factor * inv_f_old[i];
			wt[i] = w->w[i] * ((1.0 - z_new) * inv[i] - (1.0 - z_old) * inv_f_old[i]);
		}
	}
	else if (o_old)
	{
		for (int i = 0; i < k; i++)
		{
			r[i] = z_new * (1.0 - w->t[i]) * inv_f_old[i];
			wt[i] = w->w[i] * (-1.0 / (1.0 - w->t[i]) - (1.0 - z_old) * inv_f_old[i]);
		}
	}
	else
	{
		for (int i = 0; i < k; i++)
			r[i] = split->ratio[side];
	}
	for (int i = 0; i < k; i++)
		a[i] = a_parent[i] * r[i];
	w->saved_z[c] = z_old;
	w->saved_o[c] = o_old;
	w->saved_inv[c] = inv_old;
	e->feature_z[f] = z_new;
	e->feature_o[f] = o_new;
	e->feature_inv[f] = o_new ? c : -1;
	return true;
}

/* Back out of the edge into c, on a split of feature f: its factor as before. */
static void
leave_edge(Explainer *e, TreeWork *w, int f, int c)
{
	e->feature_z[f] = w->saved_z[c];
	e->feature_o[f] = w->saved_o[c];
	e->feature_inv[f] = w->saved_inv[c];
}

/*
 * One tree's TreeSHAP values into phi: down the tree in depth-first order
 * (A, R, W, INV), then up in reverse (B and the contributions).
 */
static void
tree_shap(Explainer *e, const ShapTree *tree, double *phi)
{
	const ShapNode *nodes = e->nodes + tree->first;
	int			n = tree->num_nodes;
	int			k = tree->points;
	double	   *work = e->work;
	int32	   *path = e->path;		/* the nodes entered, root first */
	int			top = 0;
	TreeWork	w;

	if (n <= 1)
		return;
	w.k = k;
	w.t = e->quad_t + QUADRATURE_OFFSET(k);
	w.w = e->quad_w + QUADRATURE_OFFSET(k);
	w.a = work;
	w.r = w.a + n * k;
	w.wt = w.r + n * k;
	w.inv = w.wt + n * k;
	w.b = w.inv + n * k;
	w.saved_z = w.b + n * k;
	/* e->path holds 3n int32s: the path, saved_inv, then three n-byte arrays */
	w.saved_inv = e->path + n;
	w.saved_o = (uint8 *) (e->path + 2 * n);
	w.live = w.saved_o + n;
	w.contributes = w.live + n;
	for (int i = 0; i < k; i++)
		w.a[i] = 1.0;
	w.live[0] = true;
	path[top++] = 0;
	for (int c = 1; c < n; c++)
	{
		int			p;

		while (nodes[path[top - 1]].end <= c)
		{
			top--;
			leave_edge(e, &w, nodes[path[top - 1]].feature, path[top]);
		}
		p = path[top - 1];
		if (!enter_edge(e, &w, nodes, p, c))
		{
			memset(w.live + c, 0, nodes[c].end - c);
			c = nodes[c].end - 1;
			continue;
		}
		w.live[c] = true;
		path[top++] = c;
	}
	while (top > 1)
	{
		top--;
		leave_edge(e, &w, nodes[path[top - 1]].feature, path[top]);
	}

	for (int p = n - 1; p >= 0; p--)
	{
		const ShapNode *node = &nodes[p];
		double	   *b = w.b + p * k;

		if (!w.live[p])
			continue;
		if (node->feature < 0)
		{
			for (int i = 0; i < k; i++)
				b[i] = node->value;
			continue;
		}
		for (int i = 0; i < k; i++)
			b[i] = 0.0;
		for (int side = 0; side < 2; side++)
		{
			int			c = side == 0 ? p + 1 : node->right;
			const double *bc = w.b + c * k;
			const double *r = w.r + c * k;

			if (!w.live[c])
				continue;
			if (w.contributes[c])
			{
				const double *a = w.a + c * k;
				const double *wt = w.wt + c * k;
				double		sum = 0.0;

				for (int i = 0; i < k; i++)
					sum += wt[i] * a[i] * bc[i];
				phi[node->feature] += sum;
			}
			for (int i = 0; i < k; i++)
				b[i] += r[i] * bc[i];
		}
	}
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
