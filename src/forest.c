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

static int
forest_num_groups(int num_trees)
{
	return num_trees / FOREST_LANES + 1;
}

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

	/* One aligned copy; the arrays point into it. */
	copy = MemoryContextAllocHuge(context, len);
	memcpy(copy, data, len);
	forest = MemoryContextAllocZero(context, sizeof(Forest));
	forest->num_trees = header.num_trees;
	forest->num_nodes = header.num_nodes;
	forest->capacity = header.num_nodes;
	forest->num_features = header.num_features;
	forest->base_margin = header.base_margin;
	forest->roots = (int32 *) (copy + sizeof(ForestHeader));
	stored_depth = forest->roots + header.num_trees;
	forest->nodes = (ForestNode *) (stored_depth + header.num_groups);
	forest->inputs = MemoryContextAlloc(context, sizeof(float) * (2 * num_features + 1));

	/* Recompute the depths and insist they are what was stored. */
	forest->group_depth = MemoryContextAllocZero(context, sizeof(int32) * header.num_groups);
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
