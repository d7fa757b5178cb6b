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

/*
 * XGBoost's partition split (common::Decision): a missing value goes the
 * default way; a code goes right when it is in the node's set, and left when
 * it is not, when it is negative or at least 2^24, or when it is beyond the
 * set's last word.  A code that is not an integer is truncated toward zero
 * first, as XGBoost's cast to its integer category type does.
 */
static inline bool
category_goes_right(const Forest *forest, const ForestNode *node, const double *features)
{
	int			n = forest->num_features;
	bool		default_left = node->input >= n;
	float		value = (float) features[default_left ? node->input - n : node->input];
	uint32		bits;
	const ForestCategorySet *set;
	uint32		code;

	if (isnan(value))
		return !default_left;
	if (!(value >= 0.0f && value < (float) FOREST_MAX_CATEGORY))
		return false;
	memcpy(&bits, &node->condition, sizeof(bits));
	set = &forest->category_sets[bits & (FOREST_MAX_CATEGORY_SETS - 1)];
	code = (uint32) value;
	return code / 32 < set->num_words &&
		(forest->category_words[set->first_word + code / 32] >> (code % 32)) & 1;
}

/* walk_group for a group of trees with categorical splits. */
static float
walk_group_categorical(const Forest *forest, const float *inputs, const double *features,
					   int32 *at, int lanes, int depth, float margin)
{
	const ForestNode *nodes = forest->nodes;

	for (int step = 0; step < depth; step++)
	{
		for (int lane = 0; lane < lanes; lane++)
		{
			const ForestNode *node = &nodes[at[lane]];
			bool		right;

			if (isnan(node->condition))
				right = category_goes_right(forest, node, features);
			else
				right = inputs[node->input] >= node->condition;
			at[lane] += node->child_delta + right;
		}
	}
	for (int lane = 0; lane < lanes; lane++)
		margin += nodes[at[lane]].condition;
	return margin;
}

/*
 * The margin of a forest with categorical splits: groups that have some are
 * walked by the step that tests for them, the others as usual.
 */
static float
walk_categorical_forest(const Forest *forest, const float *inputs, const double *features)
{
	float		margin = forest->base_margin;
	int			group = 0;
	int32		at[FOREST_LANES];

	for (int t = 0; t < forest->num_trees; t += FOREST_LANES, group++)
	{
		int			lanes = Min(FOREST_LANES, forest->num_trees - t);

		memcpy(at, &forest->roots[t], sizeof(int32) * lanes);
		if (forest->group_has_categories[group])
			margin = walk_group_categorical(forest, inputs, features, at, lanes,
											forest->group_depth[group], margin);
		else
			margin = walk_group(forest, inputs, at, lanes, forest->group_depth[group], margin);
	}
	return margin;
}

/* The margin: base_score's plus every tree's leaf, in tree order, in float. */
static inline float
forest_margin_of(const Forest *forest, const double *features)
{
	float		margin = forest->base_margin;
	float	   *inputs = forest->inputs;
	int			n = forest->num_features;
	int			t = 0;
	int			group = 0;
	int32		at[FOREST_LANES];

	for (int f = 0; f < n; f++)
	{
		float		v = (float) features[f];
		bool		missing = isnan(v);

		inputs[f] = missing ? INFINITY : v;
		inputs[n + f] = missing ? -INFINITY : v;
	}
	inputs[2 * n] = NAN;

	if (forest->group_has_categories != NULL)
		return walk_categorical_forest(forest, inputs, features);

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
	return margin;
}

double
forest_predict(const Forest *forest, const double *features)
{
	return (double) xgboost_sigmoid(forest_margin_of(forest, features));
}

double
forest_margin(const Forest *forest, const double *features)
{
	return (double) forest_margin_of(forest, features);
}

int
forest_tree_size(const Forest *forest, int tree)
{
	int32		end = tree + 1 < forest->num_trees ? forest->roots[tree + 1] : forest->num_nodes;

	return end - forest->roots[tree];
}

/* The input slots forest_tree_directions reads, as forest_margin_of fills them. */
void
forest_begin_row(const Forest *forest, const double *features)
{
	float	   *inputs = forest->inputs;
	int			n = forest->num_features;

	for (int f = 0; f < n; f++)
	{
		float		v = (float) features[f];
		bool		missing = isnan(v);

		inputs[f] = missing ? INFINITY : v;
		inputs[n + f] = missing ? -INFINITY : v;
	}
	inputs[2 * n] = NAN;
}

/*
 * The walk's own step at every node, without branches (a leaf reads the
 * NaN slot: 0), except in a tree whose group has categorical splits.
 */
void
forest_tree_directions(const Forest *forest, int tree, const double *features, uint8 *right)
{
	const ForestNode *nodes = forest->nodes + forest->roots[tree];
	const float *inputs = forest->inputs;
	int			size = forest_tree_size(forest, tree);

	if (forest->group_has_categories == NULL ||
		!forest->group_has_categories[tree / FOREST_LANES])
	{
		for (int i = 0; i < size; i++)
			right[i] = inputs[nodes[i].input] >= nodes[i].condition;
		return;
	}
	for (int i = 0; i < size; i++)
	{
		const ForestNode *node = &nodes[i];

		if (node->child_delta == 0)
			right[i] = 0;
		else if (isnan(node->condition))
			right[i] = category_goes_right(forest, node, features);
		else
			right[i] = inputs[node->input] >= node->condition;
	}
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
	forest->capacity_trees = num_trees;
	forest->context = context;
	forest->roots = MemoryContextAlloc(context, sizeof(int32) * Max(num_trees, 1));
	forest->capacity = 1024;
	forest->nodes = MemoryContextAllocHuge(context, sizeof(ForestNode) * forest->capacity);
	forest->cover = MemoryContextAllocHuge(context, sizeof(float) * forest->capacity);
	/*
	 * XGBoost's ProbToMargin for binary:logistic and reg:logistic, in float;
	 * binary:logitraw starts from base_score itself.
	 */
	forest->base_margin = base_score_is_margin ? base_score : -logf(1.0f / base_score - 1.0f);
	return forest;
}

/* Room for "sets" more category sets and "words" more words. */
static void
reserve_categories(Forest *forest, int sets, int words)
{
	MemoryContext context = forest->context;

	if (forest->group_has_categories == NULL)
	{
		forest->group_has_categories =
			MemoryContextAllocZero(context, sizeof(bool) * forest_num_groups(forest->capacity_trees));
		forest->category_capacity[0] = 64;
		forest->category_capacity[1] = 256;
		forest->category_sets = MemoryContextAlloc(context, sizeof(ForestCategorySet) * 64);
		forest->category_words = MemoryContextAlloc(context, sizeof(uint32) * 256);
	}
	if (forest->num_category_sets + sets > forest->category_capacity[0])
	{
		forest->category_capacity[0] = Max(forest->category_capacity[0] * 2,
										   forest->num_category_sets + sets);
		forest->category_sets = repalloc_huge(forest->category_sets,
											  sizeof(ForestCategorySet) * forest->category_capacity[0]);
	}
	if (forest->num_category_words + words > forest->category_capacity[1])
	{
		forest->category_capacity[1] = Max(forest->category_capacity[1] * 2,
										   forest->num_category_words + words);
		forest->category_words = repalloc_huge(forest->category_words,
											   sizeof(uint32) * forest->category_capacity[1]);
	}
}

/*
 * A categorical split's set, from the codes it sends right (validated:
 * integers in 0..FOREST_MAX_CATEGORY-1), as a NaN whose payload numbers it.
 */
static float
add_category_set(Forest *forest, const double *codes, int count)
{
	int			max_code = 0;
	int			words;
	ForestCategorySet *set;
	uint32		bits;
	float		boxed;

	for (int i = 0; i < count; i++)
		max_code = Max(max_code, (int) codes[i]);
	words = max_code / 32 + 1;
	reserve_categories(forest, 1, words);
	set = &forest->category_sets[forest->num_category_sets];
	set->first_word = forest->num_category_words;
	set->num_words = words;
	forest->num_category_words += words;
	memset(&forest->category_words[set->first_word], 0, sizeof(uint32) * words);
	for (int i = 0; i < count; i++)
	{
		uint32		code = (uint32) codes[i];

		forest->category_words[set->first_word + code / 32] |= (uint32) 1 << (code % 32);
	}
	bits = 0x7FC00000 | (uint32) forest->num_category_sets++;
	memcpy(&boxed, &bits, sizeof(boxed));
	return boxed;
}

/*
 * Append a validated tree to the forest being built, breadth first with
 * siblings adjacent, in forest.h's encoding; unreachable nodes are left out.
 * A tree whose nodes child_delta cannot span, or a forest with more
 * category sets than a NaN can number, marks the forest unrepresentable,
 * and the xgboost engine scores the model instead.
 */
void
forest_add_tree(Forest *forest, const ForestTree *tree, const float *leaf_weight)
{
	int			n = tree->num_nodes;
	int			base = forest->num_nodes;
	int		   *order;			/* new position -> old index */
	int		   *position;		/* old index -> new position */
	int		   *level;			/* by new position */
	int			count = 1;
	int			depth = 0;
	int			group = forest->num_trees / FOREST_LANES;

	if (n > FOREST_MAX_TREE_NODES || forest->unrepresentable ||
		forest->num_category_sets + n > FOREST_MAX_CATEGORY_SETS)
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

		if (tree->left[old] == -1)
		{
			depth = Max(depth, level[head]);
			continue;
		}
		level[count] = level[count + 1] = level[head] + 1;
		position[(int) tree->left[old]] = count;
		order[count++] = (int) tree->left[old];
		position[(int) tree->right[old]] = count;
		order[count++] = (int) tree->right[old];
	}

	if (forest->num_nodes + count > forest->capacity)
	{
		forest->capacity = Max(forest->capacity * 2, forest->num_nodes + count);
		forest->nodes = repalloc_huge(forest->nodes, sizeof(ForestNode) * forest->capacity);
		forest->cover = repalloc_huge(forest->cover, sizeof(float) * forest->capacity);
	}
	for (int k = 0; k < count; k++)
	{
		int			old = order[k];
		ForestNode *node = &forest->nodes[base + k];
		float		cover = tree->sum_hess ? (float) tree->sum_hess[old] : 0.0f;

		forest->cover[base + k] = isfinite(cover) && cover >= 0.0f ? cover : 0.0f;
		if (tree->left[old] == -1)
		{
			/*
			 * A dart tree's leaves carry its weight_drop: XGBoost adds leaf
			 * times weight, in float, to the margin.
			 */
			node->condition = leaf_weight ? (float) tree->split_cond[old] * *leaf_weight :
				(float) tree->split_cond[old];
			node->input = 2 * forest->num_features;
			node->child_delta = 0;
			continue;
		}
		if (tree->split_type != NULL && tree->split_type[old] == 1)
		{
			node->condition = add_category_set(forest,
											   &tree->categories[tree->category_begin[old]],
											   tree->category_count[old]);
			forest->group_has_categories[group] = true;
		}
		else
			node->condition = (float) tree->split_cond[old];
		node->input = (uint16) tree->split_index[old] +
			(tree->default_left[old] != 0 ? forest->num_features : 0);
		node->child_delta = (uint16) (position[(int) tree->left[old]] - k);
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
#define FOREST_FORMAT_VERSION 4	/* 3: category sets; 4: covers */

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
	int32		num_category_sets;
	int32		num_category_words;
	char		sha256[64];		/* the model's, hex, not terminated */
} ForestHeader;

/* The arrays behind the header, in this order, and their sizes. */
static uint64
forest_body_size(uint64 num_trees, uint64 num_groups, uint64 num_nodes, uint64 num_sets,
				 uint64 num_words)
{
	return sizeof(int32) * (num_trees + num_groups) + sizeof(ForestNode) * num_nodes +
		sizeof(float) * num_nodes + sizeof(ForestCategorySet) * num_sets + sizeof(uint32) * num_words;
}

bytea *
forest_to_bytes(const Forest *forest, const char *sha256)
{
	ForestHeader header = {0};
	Size		groups = forest_num_groups(forest->num_trees);
	Size		len = sizeof(ForestHeader) +
		forest_body_size(forest->num_trees, groups, forest->num_nodes,
						 forest->num_category_sets, forest->num_category_words);
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
	header.num_category_sets = forest->num_category_sets;
	header.num_category_words = forest->num_category_words;
	strncpy(header.sha256, sha256, sizeof(header.sha256));

	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(p, &header, sizeof(header));
	p += sizeof(header);
	memcpy(p, forest->roots, sizeof(int32) * forest->num_trees);
	p += sizeof(int32) * forest->num_trees;
	memcpy(p, forest->group_depth, sizeof(int32) * groups);
	p += sizeof(int32) * groups;
	memcpy(p, forest->nodes, sizeof(ForestNode) * forest->num_nodes);
	p += sizeof(ForestNode) * forest->num_nodes;
	memcpy(p, forest->cover, sizeof(float) * forest->num_nodes);
	p += sizeof(float) * forest->num_nodes;
	if (forest->num_category_sets > 0)
	{
		memcpy(p, forest->category_sets, sizeof(ForestCategorySet) * forest->num_category_sets);
		p += sizeof(ForestCategorySet) * forest->num_category_sets;
		memcpy(p, forest->category_words, sizeof(uint32) * forest->num_category_words);
	}
	return result;
}

/* Every category set within the words, none empty. */
static const char *
check_category_sets(const Forest *forest)
{
	for (int i = 0; i < forest->num_category_sets; i++)
	{
		const ForestCategorySet *set = &forest->category_sets[i];

		if (set->num_words == 0 || set->num_words > FOREST_MAX_CATEGORY / 32 ||
			(uint64) set->first_word + set->num_words > (uint64) forest->num_category_words)
			return "a category set lies outside its words";
	}
	return NULL;
}

/* A split node's own fields: its input, and a finite condition or a set. */
static const char *
check_split_node(const Forest *forest, const ForestNode *node, bool *categorical)
{
	uint32		bits;

	if (node->input >= 2 * forest->num_features)
		return "a node reads an input beyond the model's features";
	memcpy(&bits, &node->condition, sizeof(bits));
	*categorical = isnan(node->condition);
	if (*categorical && (bits & ~(uint32) (FOREST_MAX_CATEGORY_SETS - 1)) != 0x7FC00000)
		return "a split has a condition that is not finite";
	if (*categorical && (int64) (bits & (FOREST_MAX_CATEGORY_SETS - 1)) >= forest->num_category_sets)
		return "a categorical split names a category set that does not exist";
	if (!*categorical && !isfinite(node->condition))
		return "a split has a condition that is not finite";
	return NULL;
}

/*
 * Check a stored forest node by node: every index in range, every child
 * after its parent within its own tree (so every walk ends), leaves NaN
 * reading the NaN slot with finite values, splits finite conditions or
 * category sets that exist, and each group's depth exactly what its trees
 * need; and recompute which groups have categorical splits.
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
	if ((why = check_category_sets(forest)) != NULL)
		return why;

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
			bool		categorical;

			if (!(forest->cover[i] >= 0.0f) || !isfinite(forest->cover[i]))
			{
				why = "a node's cover is not a finite number >= 0";
				break;
			}
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
			if ((why = check_split_node(forest, node, &categorical)) != NULL)
				break;
			if ((int64) i + node->child_delta + 1 >= end)
			{
				why = "a split has children outside its tree";
				break;
			}
			if (categorical)
				forest->group_has_categories[group] = true;
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
		header.num_groups != forest_num_groups(header.num_trees) ||
		header.num_category_sets < 0 || header.num_category_sets > FOREST_MAX_CATEGORY_SETS ||
		header.num_category_words < 0 || (header.num_category_sets == 0) != (header.num_category_words == 0))
	{
		*why = "its counts do not fit the model";
		return NULL;
	}
	expected = sizeof(ForestHeader) +
		forest_body_size(header.num_trees, header.num_groups, header.num_nodes,
						 header.num_category_sets, header.num_category_words);
	if (expected != len)
	{
		*why = "its length does not match its counts";
		return NULL;
	}

	/* One aligned copy; the arrays point into it. */
	copy = MemoryContextAllocHuge(context, len);
	memcpy(copy, data, len);
	forest = forest_alloc(header.num_trees, header.num_features, context);
	forest->num_nodes = header.num_nodes;
	forest->capacity = header.num_nodes;
	forest->base_margin = header.base_margin;
	forest->roots = (int32 *) (copy + sizeof(ForestHeader));
	stored_depth = forest->roots + header.num_trees;
	forest->nodes = (ForestNode *) (stored_depth + header.num_groups);
	forest->cover = (float *) (forest->nodes + header.num_nodes);
	forest->num_category_sets = header.num_category_sets;
	forest->num_category_words = header.num_category_words;
	if (header.num_category_sets > 0)
	{
		forest->category_sets = (ForestCategorySet *) (forest->cover + header.num_nodes);
		forest->category_words = (uint32 *) (forest->category_sets + header.num_category_sets);
		forest->group_has_categories =
			MemoryContextAllocZero(context, sizeof(bool) * header.num_groups);
	}

	/* Recompute the depths and insist they are what was stored. */
	*why = forest_check(forest);
	if (*why == NULL &&
		memcmp(forest->group_depth, stored_depth, sizeof(int32) * header.num_groups) != 0)
		*why = "its tree depths are wrong";
	if (*why != NULL)
	{
		if (forest->group_has_categories)
			pfree(forest->group_has_categories);
		pfree(forest->group_depth);
		pfree(forest->inputs);
		pfree(forest);
		pfree(copy);
		return NULL;
	}
	return forest;
}
