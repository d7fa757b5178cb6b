/*-------------------------------------------------------------------------
 *
 * forest.c
 *		Score a row with the native evaluator, exactly as XGBoost 1.7 does.
 *
 * model.c builds a Forest (forest_begin, forest_add_tree, forest_finish)
 * from trees it has validated (every child index in range, every tree
 * acyclic), so the walk below needs no checks.  The
 * arithmetic follows XGBoost's CPU predictor: the margin starts at
 * base_score's margin and adds each tree's leaf in tree order, in float;
 * a split sends a value left when it is below the condition, and a missing
 * value (NaN) the node's default way; the result goes through XGBoost's
 * float sigmoid.  Its agreement with XGBoost is tested on every fixture row,
 * including values on and one float step below split conditions.
 *
 * Also the forest's stored form (forest_to_bytes, forest_from_bytes): the
 * arrays as they are in memory behind a header naming the format, the byte
 * order and the sha256 of the model they were compiled from.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

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
		margin += nodes[at[lane]].condition;
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
	inputs[2 * n] = NAN;

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

/* A margin (binary:logitraw's output) as the probability forest_predict gives. */
double
forest_probability(float margin)
{
	return (double) xgboost_sigmoid(margin);
}

/* ------------------------------------------------------------- building */

/* One depth per FOREST_LANES trees, and one more for a partial group. */
static int
forest_num_groups(int num_trees)
{
	return num_trees / FOREST_LANES + 1;
}

/*
 * A Forest's header, group depths and input scratch, for "num_trees" trees;
 * the caller provides the roots and nodes.
 */
static Forest *
forest_alloc(int num_trees, int num_features, MemoryContext context)
{
	Forest	   *forest = MemoryContextAllocZero(context, sizeof(Forest));

	forest->num_trees = num_trees;
	forest->num_features = num_features;
	forest->group_depth = MemoryContextAllocZero(context,
												 sizeof(int32) * forest_num_groups(num_trees));
	forest->inputs = MemoryContextAlloc(context, sizeof(float) * (2 * num_features + 1));
	return forest;
}

Forest *
forest_begin(int num_trees, int num_features, float base_score, bool base_score_is_margin,
			 MemoryContext context)
{
	Forest	   *forest = forest_alloc(num_trees, num_features, context);

	forest->num_trees = 0;		/* counts the trees added */
	forest->roots = MemoryContextAlloc(context, sizeof(int32) * Max(num_trees, 1));
	forest->capacity = 1024;
	forest->nodes = MemoryContextAllocHuge(context, sizeof(ForestNode) * forest->capacity);
	/*
	 * XGBoost's ProbToMargin for binary:logistic and reg:logistic, in float;
	 * binary:logitraw starts from base_score itself.
	 */
	forest->base_margin = base_score_is_margin ? base_score : -logf(1.0f / base_score - 1.0f);
	return forest;
}

/*
 * Append a validated tree to the forest being built, breadth first with
 * siblings adjacent, in forest.h's encoding; unreachable nodes are left out.
 * A tree whose nodes child_delta cannot span marks the forest
 * unrepresentable, and the xgboost engine scores the model instead.
 */
void
forest_add_tree(Forest *forest, int n, const double *left, const double *right,
				const double *split_index, const double *split_cond,
				const double *default_left, const float *leaf_weight)
{
	int			base = forest->num_nodes;
	int		   *order;			/* new position -> old index */
	int		   *position;		/* old index -> new position */
	int		   *level;			/* by new position */
	int			count = 1;
	int			depth = 0;
	int			group = forest->num_trees / FOREST_LANES;

	if (n > FOREST_MAX_TREE_NODES || forest->unrepresentable)
	{
		forest->unrepresentable = true;
		return;
	}
	order = palloc(sizeof(int) * n);
	position = palloc(sizeof(int) * n);
	level = palloc(sizeof(int) * n);
	order[0] = 0;
	position[0] = 0;
	level[0] = 0;
	for (int head = 0; head < count; head++)
	{
		int			old = order[head];

		if (left[old] == -1)
		{
			depth = Max(depth, level[head]);
			continue;
		}
		level[count] = level[count + 1] = level[head] + 1;
		position[(int) left[old]] = count;
		order[count++] = (int) left[old];
		position[(int) right[old]] = count;
		order[count++] = (int) right[old];
	}

	if (forest->num_nodes + count > forest->capacity)
	{
		forest->capacity = Max(forest->capacity * 2, forest->num_nodes + count);
		forest->nodes = repalloc_huge(forest->nodes, sizeof(ForestNode) * forest->capacity);
	}
	for (int k = 0; k < count; k++)
	{
		int			old = order[k];
		ForestNode *node = &forest->nodes[base + k];

		if (left[old] == -1)
		{
			/*
			 * A dart tree's leaves carry its weight_drop: XGBoost adds leaf
			 * times weight, in float, to the margin.
			 */
			node->condition = leaf_weight ? (float) split_cond[old] * *leaf_weight :
				(float) split_cond[old];
			node->input = 2 * forest->num_features;
			node->child_delta = 0;
		}
		else
		{
			node->condition = (float) split_cond[old];
			node->input = (uint16) split_index[old] +
				(default_left[old] != 0 ? forest->num_features : 0);
			node->child_delta = (uint16) (position[(int) left[old]] - k);
		}
	}
	forest->roots[forest->num_trees++] = base;
	forest->group_depth[group] = Max(forest->group_depth[group], depth);
	forest->num_nodes += count;
	pfree(order);
	pfree(position);
	pfree(level);
}

Forest *
forest_finish(Forest *forest)
{
	/* Unrepresentable: left for the memory context to free. */
	return forest->unrepresentable ? NULL : forest;
}


/* ------------------------------------------------------------ stored form */

#define FOREST_MAGIC "FSF1"
#define FOREST_BYTE_ORDER 0x01020304
#define FOREST_FORMAT_VERSION 2

typedef struct ForestHeader
{
	char		magic[4];
	uint32		byte_order;		/* as written; another machine's reads differ */
	uint32		format_version;
	int32		num_trees;
	int32		num_nodes;
	int32		num_features;
	int32		num_groups;
	float		base_margin;
	char		sha256[64];		/* the model's, hex, not terminated */
} ForestHeader;

bytea *
forest_to_bytes(const Forest *forest, const char *sha256)
{
	ForestHeader header = {0};
	Size		groups = forest_num_groups(forest->num_trees);
	Size		len = sizeof(ForestHeader) + sizeof(int32) * (forest->num_trees + groups) +
		sizeof(ForestNode) * forest->num_nodes;
	bytea	   *result = palloc(VARHDRSZ + len);
	char	   *p = VARDATA(result);

	memcpy(header.magic, FOREST_MAGIC, 4);
	header.byte_order = FOREST_BYTE_ORDER;
	header.format_version = FOREST_FORMAT_VERSION;
	header.num_trees = forest->num_trees;
	header.num_nodes = forest->num_nodes;
	header.num_features = forest->num_features;
	header.num_groups = groups;
	header.base_margin = forest->base_margin;
	strncpy(header.sha256, sha256, sizeof(header.sha256));

	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(p, &header, sizeof(header));
	p += sizeof(header);
	memcpy(p, forest->roots, sizeof(int32) * forest->num_trees);
	p += sizeof(int32) * forest->num_trees;
	memcpy(p, forest->group_depth, sizeof(int32) * groups);
	p += sizeof(int32) * groups;
	memcpy(p, forest->nodes, sizeof(ForestNode) * forest->num_nodes);
	return result;
}

/*
 * Check a stored forest node by node: every index in range, every child
 * after its parent within its own tree (so every walk ends), leaves NaN
 * reading the NaN slot with finite values, splits finite conditions, and each group's
 * depth exactly what its trees need.
 */
static const char *
forest_check(const Forest *forest)
{
	const char *why = NULL;
	int32	   *depth;

	if (!isfinite(forest->base_margin))
		return "its base margin is not finite";
	if (forest->num_trees > 0 && forest->roots[0] != 0)
		return "its first tree does not start at node 0";

	depth = palloc0(sizeof(int32) * Max(forest->num_nodes, 1));
	for (int t = 0; t < forest->num_trees && why == NULL; t++)
	{
		int32		start = forest->roots[t];
		int32		end = t + 1 < forest->num_trees ? forest->roots[t + 1] : forest->num_nodes;
		int32		deepest = 0;
		int			group = t / FOREST_LANES;

		if (start < 0 || end <= start || end > forest->num_nodes)
		{
			why = "its trees' node ranges are out of order";
			break;
		}
		for (int32 i = start; i < end; i++)
		{
			const ForestNode *node = &forest->nodes[i];

			if (node->child_delta == 0)
			{
				if (node->input != 2 * forest->num_features || !isfinite(node->condition))
				{
					why = "a leaf reads an input or has a value it should not";
					break;
				}
				if (i == start || depth[i] > 0)
					deepest = Max(deepest, depth[i]);
				continue;
			}
			if (node->input >= 2 * forest->num_features)
			{
				why = "a node reads an input beyond the model's features";
				break;
			}
			if (!isfinite(node->condition) || (int64) i + node->child_delta + 1 >= end)
			{
				why = "a split has a condition that is not finite or children outside its tree";
				break;
			}
			if (i != start && depth[i] == 0)
				continue;		/* unreachable: never walked */
			depth[i + node->child_delta] = Max(depth[i + node->child_delta], depth[i] + 1);
			depth[i + node->child_delta + 1] = Max(depth[i + node->child_delta + 1], depth[i] + 1);
		}
		if (why == NULL)
			forest->group_depth[group] = Max(forest->group_depth[group], deepest);
	}
	pfree(depth);
	return why;
}

Forest *
forest_from_bytes(const char *data, Size len, const char *sha256, int num_features,
				  MemoryContext context, const char **why)
{
	ForestHeader header;
	uint64		expected;
	Forest	   *forest;
	char	   *copy;
	int32	   *stored_depth;

	if (len < sizeof(ForestHeader))
	{
		*why = "it is shorter than its header";
		return NULL;
	}
	memcpy(&header, data, sizeof(header));
	if (memcmp(header.magic, FOREST_MAGIC, 4) != 0 || header.byte_order != FOREST_BYTE_ORDER ||
		header.format_version != FOREST_FORMAT_VERSION)
	{
		*why = "it was written in another format or byte order";
		return NULL;
	}
	if (strlen(sha256) != sizeof(header.sha256) ||
		memcmp(header.sha256, sha256, sizeof(header.sha256)) != 0)
	{
		*why = "it was compiled from other model bytes";
		return NULL;
	}
	if (header.num_features != num_features || header.num_trees < 0 || header.num_nodes < 0 ||
		header.num_groups != forest_num_groups(header.num_trees))
	{
		*why = "its counts do not fit the model";
		return NULL;
	}
	expected = sizeof(ForestHeader) +
		(uint64) sizeof(int32) * ((uint64) header.num_trees + header.num_groups) +
		(uint64) sizeof(ForestNode) * header.num_nodes;
	if (expected != len)
	{
		*why = "its length does not match its counts";
		return NULL;
	}

	/* One aligned copy; the roots and nodes point into it. */
	copy = MemoryContextAllocHuge(context, len);
	memcpy(copy, data, len);
	forest = forest_alloc(header.num_trees, header.num_features, context);
	forest->num_nodes = header.num_nodes;
	forest->capacity = header.num_nodes;
	forest->base_margin = header.base_margin;
	forest->roots = (int32 *) (copy + sizeof(ForestHeader));
	stored_depth = forest->roots + header.num_trees;
	forest->nodes = (ForestNode *) (stored_depth + header.num_groups);

	/* Recompute the depths and insist they are what was stored. */
	*why = forest_check(forest);
	if (*why == NULL &&
		memcmp(forest->group_depth, stored_depth, sizeof(int32) * header.num_groups) != 0)
		*why = "its tree depths are wrong";
	if (*why != NULL)
	{
		pfree(forest->group_depth);
		pfree(forest->inputs);
		pfree(forest);
		pfree(copy);
		return NULL;
	}
	return forest;
}
