/*-------------------------------------------------------------------------
 *
 * lgbmforest.c
 *		Score a row with a LightGBM model exactly as LightGBM 4.6 does.
 *
 * The walk and the arithmetic follow LightGBM's Tree::GetLeaf,
 * NumericalDecision, CategoricalDecision and Predict (include/LightGBM/
 * tree.h) and GBDT::Predict: inputs and thresholds are doubles, a value
 * goes left when it is <= the threshold, the trees' outputs are summed in
 * tree order in double, and the sum goes through the objective's transform.
 * LightGBM's own node layout is kept (its thresholds are doubles and its
 * missing values have three kinds), so XGBoost's forest (forest.c) is not
 * slowed by any of it.  lgbm.c builds the forest from a validated text
 * model; the stored form is checked as fully as forest.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "lgbmforest.h"

/*
 * LightGBM's kZeroThreshold is the float literal 1e-35f: as a double,
 * 1.0000000180025095e-35.
 */
static const double zero_threshold = (double) 1e-35f;

static inline bool
is_zero(double x)
{
	return x >= -zero_threshold && x <= zero_threshold;
}

/*
 * A numerical split (Tree::NumericalDecision) goes left iff "value <=
 * threshold" once its missing type has had its say, so each missing type
 * and default direction is a transformation of the value, made once per
 * row into its own slot (fill_slots):
 *   RAW        NaN type, default right: NaN <= t is false, so NaN goes right
 *   NAN_LEFT   NaN type, default left: NaN is -inf, which is <= any threshold
 *   NONE       None type: NaN is 0.0
 *   ZERO_LEFT  Zero type, default left: 0 (and NaN, which is 0.0) is -inf
 *   ZERO_RIGHT Zero type, default right: 0 and NaN are NaN
 * Thresholds are never NaN (checked), and a value within the zero
 * threshold is already 0.0, so these are LightGBM's decisions exactly.
 */
enum
{
	SLOT_RAW,
	SLOT_NAN_LEFT,
	SLOT_NONE,
	SLOT_ZERO_LEFT,
	SLOT_ZERO_RIGHT
};

static int
slot_kind(int decision_type)
{
	int			missing = (decision_type >> LGBM_MISSING_SHIFT) & 3;
	bool		left = (decision_type & LGBM_DEFAULT_LEFT) != 0;

	if (missing == LGBM_MISSING_NAN)
		return left ? SLOT_NAN_LEFT : SLOT_RAW;
	if (missing == LGBM_MISSING_ZERO)
		return left ? SLOT_ZERO_LEFT : SLOT_ZERO_RIGHT;
	return SLOT_NONE;
}

/* Each split's input slot. */
void
lgbm_forest_prepare(LgbmForest *forest)
{
	int			n = forest->num_features;

	for (int i = 0; i < forest->num_nodes; i++)
	{
		const LgbmNode *node = &forest->nodes[i];

		forest->node_slot[i] = (node->decision_type & LGBM_CATEGORICAL) ?
			SLOT_RAW * n + node->feature : slot_kind(node->decision_type) * n + node->feature;
	}
}

/*
 * LightGBM's dense rows keep a value only if it is NaN or beyond the zero
 * threshold (RowPairFunctionFromDenseMatric): a tiny value, -0.0 included,
 * reaches the trees as 0.0.  Then each feature's slots.
 */
static void
fill_slots(const LgbmForest *forest, const double *features)
{
	int			n = forest->num_features;
	double	   *slots = forest->slots;

	for (int f = 0; f < n; f++)
	{
		double		v = is_zero(features[f]) ? 0.0 : features[f];
		bool		missing = isnan(v);
		bool		zero = missing || v == 0.0;

		slots[SLOT_RAW * n + f] = v;
		slots[SLOT_NAN_LEFT * n + f] = missing ? -INFINITY : v;
		slots[SLOT_NONE * n + f] = missing ? 0.0 : v;
		slots[SLOT_ZERO_LEFT * n + f] = zero ? -INFINITY : v;
		slots[SLOT_ZERO_RIGHT * n + f] = zero ? NAN : v;
	}
}

/*
 * Tree::CategoricalDecision (LightGBM >= 3.3): NaN goes right; the value is
 * cast to int (truncated; beyond int's range x86-64 gives INT_MIN), and a
 * negative category goes right; a category in the node's bitset goes left.
 */
static inline int32
categorical_child(const LgbmForest *forest, const LgbmNode *node, double value)
{
	int32		category;

	if (isnan(value) || !(value > -2147483649.0 && value < 2147483648.0))
		return node->right;
	category = (int32) value;
	if (category < 0 || category / 32 >= node->cat_words)
		return node->right;
	return (forest->cat_words[node->cat_first + category / 32] >> (category % 32)) & 1 ?
		node->left : node->right;
}

/* The leaf a row reaches in tree t (Tree::GetLeaf), as an index into the tree's leaves. */
static inline int32
tree_leaf(const LgbmForest *forest, const LgbmTree *tree)
{
	const LgbmNode *nodes = forest->nodes + tree->first_node;
	const int32 *node_slot = forest->node_slot + tree->first_node;
	const double *slots = forest->slots;
	int32		at = 0;

	if (tree->num_leaves <= 1)
		return 0;
	while (at >= 0)
	{
		const LgbmNode *node = &nodes[at];

		if (unlikely(node->decision_type & LGBM_CATEGORICAL))
			at = categorical_child(forest, node, slots[node_slot[at]]);
		else
			at = slots[node_slot[at]] <= node->threshold ? node->left : node->right;
	}
	return ~at;
}

/* A linear leaf (Tree::Predict): its constant plus its terms, or its plain value if a term's input is missing. */
static double
linear_output(const LgbmForest *forest, int32 leaf)
{
	double		output = forest->leaf_const[leaf];
	int32		first = forest->coeff_first[leaf];
	const double *row = forest->slots + SLOT_RAW * forest->num_features;

	for (int32 i = 0; i < forest->coeff_count[leaf]; i++)
	{
		double		value = row[forest->coeff_feature[first + i]];

		if (isnan(value))
			return forest->leaf_value[leaf];
		output += forest->coeff[first + i] * value;
	}
	return output;
}

double
lgbm_forest_raw(const LgbmForest *forest, const double *features)
{
	double		sum = 0.0;

	fill_slots(forest, features);
	for (int t = 0; t < forest->num_trees; t++)
	{
		const LgbmTree *tree = &forest->trees[t];
		int32		leaf = tree->first_leaf + tree_leaf(forest, tree);

		sum += tree->is_linear ? linear_output(forest, leaf) : forest->leaf_value[leaf];
	}
	if (forest->average_output && forest->num_trees > 0)
		sum /= forest->num_trees;
	return sum;
}

/* BinaryLogloss::ConvertOutput and CrossEntropy::ConvertOutput. */
double
lgbm_forest_predict(const LgbmForest *forest, const double *features)
{
	double		raw = lgbm_forest_raw(forest, features);

	if (forest->objective == LGBM_CROSS_ENTROPY)
		return 1.0 / (1.0 + exp(-raw));
	return 1.0 / (1.0 + exp(-forest->sigmoid * raw));
}

void
lgbm_forest_begin_row(const LgbmForest *forest, const double *features)
{
	fill_slots(forest, features);
}

void
lgbm_forest_tree_directions(const LgbmForest *forest, int tree, uint8 *right)
{
	const LgbmTree *t = &forest->trees[tree];
	const LgbmNode *nodes = forest->nodes + t->first_node;
	const int32 *node_slot = forest->node_slot + t->first_node;
	const double *slots = forest->slots;

	for (int i = 0; i < t->num_leaves - 1; i++)
	{
		const LgbmNode *node = &nodes[i];

		if (node->decision_type & LGBM_CATEGORICAL)
			right[i] = categorical_child(forest, node, slots[node_slot[i]]) == node->right;
		else
			right[i] = !(slots[node_slot[i]] <= node->threshold);
	}
}

void
lgbm_forest_leaves(const LgbmForest *forest, const double *features, int32 *leaves)
{
	fill_slots(forest, features);
	for (int t = 0; t < forest->num_trees; t++)
		leaves[t] = tree_leaf(forest, &forest->trees[t]);
}

/* ------------------------------------------------------------ checking */

/* One tree's nodes: indices in range, every node and leaf reached once, children after parents. */
static const char *
check_tree(const LgbmForest *forest, const LgbmTree *tree, bool *reached)
{
	int			n = tree->num_leaves - 1;

	memset(reached, 0, sizeof(bool) * (2 * tree->num_leaves));
	for (int i = 0; i < n; i++)
	{
		const LgbmNode *node = &forest->nodes[tree->first_node + i];
		int32		children[2] = {node->left, node->right};

		if (node->feature < 0 || node->feature >= forest->num_features)
			return "a node splits on a feature the model does not have";
		if (node->decision_type < 0 || node->decision_type > 15 ||
			((node->decision_type >> LGBM_MISSING_SHIFT) & 3) == 3)
			return "a node has a decision type LightGBM does not write";
		if (node->decision_type & LGBM_CATEGORICAL)
		{
			if (node->cat_first < 0 || node->cat_words < 0 ||
				(int64) node->cat_first + node->cat_words > forest->num_cat_words)
				return "a categorical node's bitset lies outside the bitsets";
		}
		else if (isnan(node->threshold))
			return "a node's threshold is not a number";
		for (int side = 0; side < 2; side++)
		{
			int32		c = children[side];
			int32		slot = c >= 0 ? c : n + ~c + 1;

			if (c >= 0 ? (c <= i || c >= n) : (~c >= tree->num_leaves))
				return "a node has a child outside its tree, or before it";
			if (reached[slot])
				return "a node or leaf is reached twice";
			reached[slot] = true;
		}
	}
	for (int i = 1; i < n; i++)
		if (!reached[i])
			return "a node is never reached";
	for (int l = 0; n > 0 && l < tree->num_leaves; l++)
		if (!reached[n + 1 + l])
			return "a leaf is never reached";
	return NULL;
}

static const char *
check_leaves(const LgbmForest *forest, const LgbmTree *tree)
{
	for (int i = tree->first_node; i < tree->first_node + tree->num_leaves - 1; i++)
		if (!isfinite(forest->node_count[i]) || forest->node_count[i] < 0)
			return "a node's count is not a finite number >= 0";
	for (int l = tree->first_leaf; l < tree->first_leaf + tree->num_leaves; l++)
	{
		if (!isfinite(forest->leaf_value[l]))
			return "a leaf value is not finite";
		if (!isfinite(forest->leaf_count[l]) || forest->leaf_count[l] < 0)
			return "a leaf's count is not a finite number >= 0";
		if (!tree->is_linear)
			continue;
		if (!isfinite(forest->leaf_const[l]) || forest->coeff_first[l] < 0 ||
			forest->coeff_count[l] < 0 ||
			(int64) forest->coeff_first[l] + forest->coeff_count[l] > forest->num_coeffs)
			return "a linear leaf's terms lie outside the terms";
		for (int i = forest->coeff_first[l]; i < forest->coeff_first[l] + forest->coeff_count[l]; i++)
			if (!isfinite(forest->coeff[i]) || forest->coeff_feature[i] < 0 ||
				forest->coeff_feature[i] >= forest->num_features)
				return "a linear leaf has a term that is not finite or reads no feature";
	}
	return NULL;
}

/* Everything the walk trusts. */
const char *
lgbm_forest_check(const LgbmForest *forest)
{
	int64		nodes = 0;
	int64		leaves = 0;
	bool	   *reached;
	const char *why = NULL;
	int			most_leaves = 1;

	if (forest->objective != LGBM_BINARY && forest->objective != LGBM_CROSS_ENTROPY)
		return "its objective is unknown";
	if (!isfinite(forest->sigmoid) || forest->sigmoid <= 0)
		return "its sigmoid is not a positive number";
	for (int t = 0; t < forest->num_trees; t++)
	{
		const LgbmTree *tree = &forest->trees[t];

		if (tree->num_leaves < 1 || tree->first_node != nodes || tree->first_leaf != leaves)
			return "its trees' node ranges are out of order";
		nodes += tree->num_leaves - 1;
		leaves += tree->num_leaves;
		most_leaves = Max(most_leaves, tree->num_leaves);
	}
	if (nodes != forest->num_nodes || leaves != forest->num_leaves)
		return "its counts do not match its trees";
	reached = palloc(sizeof(bool) * 2 * most_leaves);
	for (int t = 0; t < forest->num_trees && why == NULL; t++)
	{
		why = check_tree(forest, &forest->trees[t], reached);
		if (why == NULL)
			why = check_leaves(forest, &forest->trees[t]);
	}
	pfree(reached);
	return why;
}

/* ------------------------------------------------------------ stored form */

#define LGBM_MAGIC "FSL1"
#define LGBM_BYTE_ORDER 0x01020304
#define LGBM_FORMAT_VERSION 2	/* 2: node and leaf counts */

typedef struct LgbmHeader
{
	char		magic[4];
	uint32		byte_order;
	uint32		format_version;
	int32		num_trees;
	int32		num_features;
	int32		num_nodes;
	int32		num_leaves;
	int32		num_cat_words;
	int32		num_coeffs;
	int32		objective;
	int32		average_output;
	int32		has_counts;
	double		sigmoid;
	char		sha256[64];
} LgbmHeader;

static uint64
body_size(const LgbmHeader *h)
{
	return (uint64) sizeof(LgbmTree) * h->num_trees +
		(uint64) h->num_nodes * (sizeof(LgbmNode) + sizeof(double)) +
		(uint64) h->num_leaves * (sizeof(double) * 3 + sizeof(int32) * 2) +
		(uint64) sizeof(uint32) * h->num_cat_words +
		(uint64) h->num_coeffs * (sizeof(int32) + sizeof(double));
}

bool
lgbm_forest_bytes_are_lgbm(const char *data, Size len)
{
	return len >= 4 && memcmp(data, LGBM_MAGIC, 4) == 0;
}

/* Copy "n" bytes to or from the stored form, "to" true when writing. */
static void
copy_array(char **p, void *array, Size n, bool to)
{
	if (n == 0)
		return;
	if (to)
		memcpy(*p, array, n);
	else
		memcpy(array, *p, n);
	*p += n;
}

/* The arrays in their stored order; "to" chooses the direction. */
static void
copy_arrays(LgbmForest *forest, char *p, bool to)
{
	Size		leaves = forest->num_leaves;

	copy_array(&p, forest->trees, sizeof(LgbmTree) * forest->num_trees, to);
	copy_array(&p, forest->nodes, sizeof(LgbmNode) * forest->num_nodes, to);
	copy_array(&p, forest->leaf_value, sizeof(double) * leaves, to);
	copy_array(&p, forest->leaf_const, sizeof(double) * leaves, to);
	copy_array(&p, forest->coeff_first, sizeof(int32) * leaves, to);
	copy_array(&p, forest->coeff_count, sizeof(int32) * leaves, to);
	copy_array(&p, forest->cat_words, sizeof(uint32) * forest->num_cat_words, to);
	copy_array(&p, forest->coeff_feature, sizeof(int32) * forest->num_coeffs, to);
	copy_array(&p, forest->coeff, sizeof(double) * forest->num_coeffs, to);
	copy_array(&p, forest->node_count, sizeof(double) * forest->num_nodes, to);
	copy_array(&p, forest->leaf_count, sizeof(double) * leaves, to);
}

bytea *
lgbm_forest_to_bytes(const LgbmForest *forest, const char *sha256)
{
	LgbmHeader	header = {0};
	Size		len;
	bytea	   *result;

	memcpy(header.magic, LGBM_MAGIC, 4);
	header.byte_order = LGBM_BYTE_ORDER;
	header.format_version = LGBM_FORMAT_VERSION;
	header.num_trees = forest->num_trees;
	header.num_features = forest->num_features;
	header.num_nodes = forest->num_nodes;
	header.num_leaves = forest->num_leaves;
	header.num_cat_words = forest->num_cat_words;
	header.num_coeffs = forest->num_coeffs;
	header.objective = forest->objective;
	header.average_output = forest->average_output;
	header.has_counts = forest->has_counts;
	header.sigmoid = forest->sigmoid;
	strncpy(header.sha256, sha256, sizeof(header.sha256));
	len = sizeof(header) + body_size(&header);
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), &header, sizeof(header));
	copy_arrays((LgbmForest *) forest, VARDATA(result) + sizeof(header), true);
	return result;
}

/* A forest's arrays for the counts already in it, in "context". */
void
lgbm_forest_alloc_arrays(LgbmForest *forest, MemoryContext context)
{
	Size		leaves = Max(forest->num_leaves, 1);

	forest->trees = MemoryContextAllocHuge(context, sizeof(LgbmTree) * Max(forest->num_trees, 1));
	forest->nodes = MemoryContextAllocHuge(context, sizeof(LgbmNode) * Max(forest->num_nodes, 1));
	forest->leaf_value = MemoryContextAllocHuge(context, sizeof(double) * leaves);
	forest->leaf_const = MemoryContextAllocHuge(context, sizeof(double) * leaves);
	forest->coeff_first = MemoryContextAllocHuge(context, sizeof(int32) * leaves);
	forest->coeff_count = MemoryContextAllocHuge(context, sizeof(int32) * leaves);
	forest->cat_words = MemoryContextAllocHuge(context, sizeof(uint32) * Max(forest->num_cat_words, 1));
	forest->coeff_feature = MemoryContextAllocHuge(context, sizeof(int32) * Max(forest->num_coeffs, 1));
	forest->coeff = MemoryContextAllocHuge(context, sizeof(double) * Max(forest->num_coeffs, 1));
	forest->node_count = MemoryContextAllocHuge(context, sizeof(double) * Max(forest->num_nodes, 1));
	forest->leaf_count = MemoryContextAllocHuge(context, sizeof(double) * leaves);
	forest->node_slot = MemoryContextAllocHuge(context, sizeof(int32) * Max(forest->num_nodes, 1));
	forest->slots = MemoryContextAlloc(context, sizeof(double) * LGBM_SLOTS * Max(forest->num_features, 1));
}

LgbmForest *
lgbm_forest_from_bytes(const char *data, Size len, const char *sha256, int num_features,
					   MemoryContext context, const char **why)
{
	LgbmHeader	header;
	LgbmForest *forest;

	if (len < sizeof(header))
	{
		*why = "it is shorter than its header";
		return NULL;
	}
	memcpy(&header, data, sizeof(header));
	if (memcmp(header.magic, LGBM_MAGIC, 4) != 0 || header.byte_order != LGBM_BYTE_ORDER ||
		header.format_version != LGBM_FORMAT_VERSION)
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
		header.num_leaves < 0 || header.num_cat_words < 0 || header.num_coeffs < 0)
	{
		*why = "its counts do not fit the model";
		return NULL;
	}
	if (sizeof(header) + body_size(&header) != len)
	{
		*why = "its length does not match its counts";
		return NULL;
	}
	forest = MemoryContextAllocZero(context, sizeof(LgbmForest));
	forest->num_trees = header.num_trees;
	forest->num_features = header.num_features;
	forest->num_nodes = header.num_nodes;
	forest->num_leaves = header.num_leaves;
	forest->num_cat_words = header.num_cat_words;
	forest->num_coeffs = header.num_coeffs;
	forest->objective = header.objective;
	forest->average_output = header.average_output;
	forest->has_counts = header.has_counts != 0;
	forest->sigmoid = header.sigmoid;
	lgbm_forest_alloc_arrays(forest, context);
	copy_arrays(forest, (char *) data + sizeof(header), false);
	*why = lgbm_forest_check(forest);
	if (*why != NULL)
		return NULL;
	lgbm_forest_prepare(forest);
	return forest;
}
