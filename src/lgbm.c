/*-------------------------------------------------------------------------
 *
 * lgbm.c
 *		LightGBM text models: detection, parsing, validation, compiling.
 *
 * A model saved by booster.save_model("model.txt") (format versions v2, v3
 * and v4): header lines "key=value" up to the first "Tree=", then one block
 * of "key=value" lines per tree, "end of trees", parameters, and a last
 * "pandas_categorical:" line with the category names of a pandas frame's
 * category columns.  Only what scoring reads is trusted, and all of it is
 * checked here the way model.c checks XGBoost documents: every count against
 * the arrays present, every child index (children come after their parents,
 * so no walk loops), every feature index, every bitset bound, every value
 * finite; then the trees are built into a LgbmForest (lgbmforest.c).  Only
 * binary objectives ("binary", with its sigmoid, and "cross_entropy") with
 * one tree per iteration are accepted; the others are refused by name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "fraud_score.h"
#include "lgbmforest.h"
#include "modeldoc.h"

#define MAX_FEATURES 10000
#define MAX_LEAVES (1 << 20)
#define MAX_CAT_WORDS (1 << 22)

static void invalid_lgbm(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

static void
invalid_lgbm(const char *fmt,...)
{
	char		detail[512];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid LightGBM model"),
			 errdetail_internal("%s", detail)));
}

#define UNSUPPORTED_LGBM(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED), \
			 errmsg("unsupported LightGBM model"), \
			 errdetail(__VA_ARGS__), \
			 errhint("fraud_score scores LightGBM models of the objectives \"binary\" and \"cross_entropy\".")))

/* LightGBM's text model starts with the line "tree". */
bool
lgbm_is_text_model(const char *data, Size len)
{
	return (len >= 5 && memcmp(data, "tree\n", 5) == 0) ||
		(len >= 6 && memcmp(data, "tree\r\n", 6) == 0);
}

/* "key=value" lines of the header or of one tree. */
typedef struct KeyValues
{
	int			count;
	int			capacity;
	char	  **keys;
	char	  **values;
} KeyValues;

static void
kv_add(KeyValues *kv, char *key, char *value)
{
	if (kv->count == kv->capacity)
	{
		kv->capacity = Max(16, kv->capacity * 2);
		kv->keys = kv->keys ? repalloc(kv->keys, sizeof(char *) * kv->capacity) :
			palloc(sizeof(char *) * kv->capacity);
		kv->values = kv->values ? repalloc(kv->values, sizeof(char *) * kv->capacity) :
			palloc(sizeof(char *) * kv->capacity);
	}
	kv->keys[kv->count] = key;
	kv->values[kv->count++] = value;
}

static const char *
kv_get(const KeyValues *kv, const char *key)
{
	for (int i = 0; i < kv->count; i++)
		if (strcmp(kv->keys[i], key) == 0)
			return kv->values[i];
	return NULL;
}

static const char *
kv_require(const KeyValues *kv, const char *key, const char *where)
{
	const char *v = kv_get(kv, key);

	if (v == NULL)
		invalid_lgbm("There is no \"%s\" in %s.", key, where);
	return v;
}

/* The text's lines, each NUL-terminated without its \r\n. */
static char **
split_lines(char *text, Size len, int *count)
{
	int			capacity = 1024;
	char	  **lines = palloc(sizeof(char *) * capacity);
	char	   *p = text;
	char	   *end = text + len;

	*count = 0;
	while (p < end)
	{
		char	   *newline = memchr(p, '\n', end - p);

		if (newline == NULL)
			newline = end;
		*newline = '\0';
		if (newline > p && newline[-1] == '\r')
			newline[-1] = '\0';
		if (*count == capacity)
		{
			capacity *= 2;
			lines = repalloc_huge(lines, sizeof(char *) * capacity);
		}
		lines[(*count)++] = p;
		p = newline + 1;
	}
	return lines;
}

static int64
parse_int(const char *s, const char *key, const char *where, int64 min, int64 max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		invalid_lgbm("\"%s\" in %s is \"%s\", not an integer in %lld..%lld.", key, where, s,
					 (long long) min, (long long) max);
	return v;
}

/*
 * A space-separated list of exactly "count" numbers (LightGBM separates a
 * linear tree's leaves with one more space).  strtod rounds correctly, as
 * LightGBM's own parser does.
 */
static double *
parse_numbers_in(const char *s, int64 count, const char *key, const char *where,
				 bool allow_infinite)
{
	double	   *out = palloc(sizeof(double) * Max(count, 1));
	int64		n = 0;
	const char *p = s;

	while (*p)
	{
		char	   *end;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n == count)
			invalid_lgbm("\"%s\" of %s has more than %lld entries.", key, where, (long long) count);
		errno = 0;
		out[n] = strtod(p, &end);
		if (end == p || (*end != ' ' && *end != '\0') || isnan(out[n]) ||
			(!allow_infinite && isinf(out[n])))
			invalid_lgbm("Entry %lld of \"%s\" of %s is not a %snumber.", (long long) n, key, where,
						 allow_infinite ? "" : "finite ");
		n++;
		p = end;
	}
	if (n != count)
		invalid_lgbm("\"%s\" of %s has %lld entries, not %lld.", key, where, (long long) n,
					 (long long) count);
	return out;
}

/* Finite numbers. */
static double *
parse_numbers(const char *s, int64 count, const char *key, const char *where)
{
	return parse_numbers_in(s, count, key, where, false);
}

/* The same, every entry an integer in min..max. */
static double *
parse_ints(const char *s, int64 count, const char *key, const char *where, double min, double max)
{
	double	   *out = parse_numbers(s, count, key, where);

	for (int64 i = 0; i < count; i++)
		if (out[i] != floor(out[i]) || out[i] < min || out[i] > max)
			invalid_lgbm("Entry %lld of \"%s\" of %s is %.17g, not an integer in %.0f..%.0f.",
						 (long long) i, key, where, out[i], min, max);
	return out;
}

/* One tree block's arrays, checked against its counts and the model. */
typedef struct LgbmTreeText
{
	int			num_leaves;
	int			num_cat;
	bool		is_linear;
	double	   *split_feature;
	double	   *threshold;
	double	   *decision_type;
	double	   *left_child;
	double	   *right_child;
	double	   *leaf_value;
	bool		has_counts;
	double	   *internal_count;	/* NULL when not written */
	double	   *leaf_count;
	double	   *cat_boundaries;
	double	   *cat_threshold;
	double	   *leaf_const;
	double	   *num_terms;
	double	   *leaf_features;
	double	   *leaf_coeff;
	int64		total_terms;
} LgbmTreeText;

static void
read_tree_linear(const KeyValues *kv, LgbmTreeText *t, int num_features, const char *where)
{
	const char *linear = kv_get(kv, "is_linear");

	t->is_linear = linear != NULL && parse_int(linear, "is_linear", where, 0, 1) == 1;
	if (!t->is_linear)
		return;
	t->leaf_const = parse_numbers(kv_require(kv, "leaf_const", where), t->num_leaves,
								  "leaf_const", where);
	t->num_terms = parse_ints(kv_require(kv, "num_features", where), t->num_leaves,
							  "num_features", where, 0, num_features);
	t->total_terms = 0;
	for (int l = 0; l < t->num_leaves; l++)
		t->total_terms += (int64) t->num_terms[l];
	t->leaf_features = parse_ints(kv_require(kv, "leaf_features", where), t->total_terms,
								  "leaf_features", where, 0, num_features - 1);
	t->leaf_coeff = parse_numbers(kv_require(kv, "leaf_coeff", where), t->total_terms,
								  "leaf_coeff", where);
}

/* Counts that can weigh branches: finite and not negative (LightGBM writes row counts). */
static bool
counts_usable(const double *counts, int n)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(counts[i]) || counts[i] < 0)
			return false;
	return true;
}

static void
read_tree(const KeyValues *kv, int index, int num_features, LgbmTreeText *t)
{
	char		where[32];
	int			n;

	snprintf(where, sizeof(where), "tree %d", index);
	memset(t, 0, sizeof(*t));
	t->num_leaves = (int) parse_int(kv_require(kv, "num_leaves", where), "num_leaves", where,
									1, MAX_LEAVES);
	t->num_cat = (int) parse_int(kv_require(kv, "num_cat", where), "num_cat", where, 0, MAX_LEAVES);
	n = t->num_leaves - 1;
	t->leaf_value = parse_numbers(kv_require(kv, "leaf_value", where), t->num_leaves,
								  "leaf_value", where);
	if (n > 0)
	{
		t->split_feature = parse_ints(kv_require(kv, "split_feature", where), n, "split_feature",
									  where, 0, num_features - 1);
		/* LightGBM writes "inf" for a split that sends every number left */
		t->threshold = parse_numbers_in(kv_require(kv, "threshold", where), n, "threshold", where,
										true);
		t->decision_type = parse_ints(kv_require(kv, "decision_type", where), n, "decision_type",
									  where, 0, 15);
		t->left_child = parse_ints(kv_require(kv, "left_child", where), n, "left_child", where,
								   -t->num_leaves, n - 1);
		t->right_child = parse_ints(kv_require(kv, "right_child", where), n, "right_child",
									where, -t->num_leaves, n - 1);
	}
	if (t->num_cat > 0)
	{
		t->cat_boundaries = parse_ints(kv_require(kv, "cat_boundaries", where), t->num_cat + 1,
									   "cat_boundaries", where, 0, MAX_CAT_WORDS);
		for (int c = 0; c < t->num_cat; c++)
			if (t->cat_boundaries[c] > t->cat_boundaries[c + 1] || t->cat_boundaries[0] != 0)
				invalid_lgbm("The cat_boundaries of %s are not in order from 0.", where);
		t->cat_threshold = parse_ints(kv_require(kv, "cat_threshold", where),
									  (int64) t->cat_boundaries[t->num_cat], "cat_threshold",
									  where, 0, 4294967295.0);
	}
	read_tree_linear(kv, t, num_features, where);
	/*
	 * Counts only explanations use (a model without them still scores); a
	 * single leaf needs none, and LightGBM writes its lists empty.
	 */
	t->has_counts = n == 0;
	if (n > 0 && kv_get(kv, "leaf_count") != NULL && kv_get(kv, "internal_count") != NULL)
	{
		t->leaf_count = parse_numbers(kv_get(kv, "leaf_count"), t->num_leaves, "leaf_count", where);
		t->internal_count = parse_numbers(kv_get(kv, "internal_count"), n, "internal_count", where);
		t->has_counts = counts_usable(t->leaf_count, t->num_leaves) &&
			counts_usable(t->internal_count, n);
		if (!t->has_counts)
			t->leaf_count = t->internal_count = NULL;
	}
}

/* A split's own values: decision type, categorical bitset, children. */
static void
check_tree_nodes(const LgbmTreeText *t, int index)
{
	int			n = t->num_leaves - 1;
	bool	   *reached = palloc0(sizeof(bool) * (2 * t->num_leaves));

	for (int i = 0; i < n; i++)
	{
		int			type = (int) t->decision_type[i];
		double		children[2] = {t->left_child[i], t->right_child[i]};

		if (((type >> LGBM_MISSING_SHIFT) & 3) == 3)
			invalid_lgbm("Tree %d node %d has decision_type %d, whose missing type is not None, Zero or NaN.",
						 index, i, type);
		if ((type & LGBM_CATEGORICAL) &&
			!(t->threshold[i] == floor(t->threshold[i]) && t->threshold[i] >= 0 &&
			  t->threshold[i] < t->num_cat))
			invalid_lgbm("Tree %d node %d is categorical with bitset %g, but the tree has %d.",
						 index, i, t->threshold[i], t->num_cat);
		for (int side = 0; side < 2; side++)
		{
			int			c = (int) children[side];
			int			slot = c >= 0 ? c : n + ~c + 1;

			if (c >= 0 && c <= i)
				invalid_lgbm("Tree %d node %d has child %d; a child node comes after its parent.",
							 index, i, c);
			if (reached[slot])
				invalid_lgbm("Tree %d %s %d is reached twice.", index, c >= 0 ? "node" : "leaf",
							 c >= 0 ? c : ~c);
			reached[slot] = true;
		}
	}
	for (int i = 1; i < n; i++)
		if (!reached[i])
			invalid_lgbm("Tree %d node %d is never reached.", index, i);
	for (int l = 0; n > 0 && l < t->num_leaves; l++)
		if (!reached[n + 1 + l])
			invalid_lgbm("Tree %d leaf %d is never reached.", index, l);
	pfree(reached);
}

/*
 * The objective: "binary sigmoid:x" or "cross_entropy" (alias
 * "xentropy"); anything else is refused by kind.
 */
static void
read_objective(const char *objective, LgbmForest *forest, ModelInfo *info)
{
	char	   *copy = pstrdup(objective);
	char	   *name = strtok(copy, " ");
	const char *kind;

	forest->sigmoid = 1.0;
	if (name != NULL && strcmp(name, "binary") == 0)
	{
		char	   *token;

		forest->objective = LGBM_BINARY;
		while ((token = strtok(NULL, " ")) != NULL)
			if (strncmp(token, "sigmoid:", 8) == 0)
			{
				char	   *end;

				forest->sigmoid = strtod(token + 8, &end);
				if (end == token + 8 || *end != '\0' || !isfinite(forest->sigmoid) ||
					forest->sigmoid <= 0)
					invalid_lgbm("The objective's sigmoid is \"%s\", not a positive number.", token + 8);
			}
		info->objective = "binary";
		return;
	}
	if (name != NULL && (strcmp(name, "cross_entropy") == 0 || strcmp(name, "xentropy") == 0))
	{
		forest->objective = LGBM_CROSS_ENTROPY;
		info->objective = "cross_entropy";
		return;
	}
	if (name != NULL && (strncmp(name, "multiclass", 10) == 0 || strcmp(name, "multiclassova") == 0))
		kind = "It is a multi-class objective: a model of it gives one score per class, not one probability.";
	else if (name != NULL && (strcmp(name, "lambdarank") == 0 || strncmp(name, "rank_", 5) == 0))
		kind = "It is a ranking objective: its scores order items and are not probabilities.";
	else
		kind = "It is a regression objective: its predictions are not probabilities.";
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("model objective \"%s\" is not supported", name ? name : ""),
			 errdetail("%s fraud_score accepts the LightGBM objectives binary and cross_entropy.", kind),
			 errhint("Train the model with objective \"binary\".")));
}

/* The header's feature names and which features are categorical (feature_infos). */
static void
read_features(const KeyValues *header, ModelInfo *info)
{
	const char *names = kv_require(header, "feature_names", "the header");
	const char *infos = kv_get(header, "feature_infos");
	char	   *copy = pstrdup(names);
	int			n = 0;

	info->feature_names = palloc(sizeof(char *) * info->num_features);
	for (char *name = strtok(copy, " "); name != NULL; name = strtok(NULL, " "))
	{
		if (n == info->num_features)
			invalid_lgbm("The model names more features than its %d.", info->num_features);
		if (pg_encoding_verifymbstr(PG_UTF8, name, strlen(name)) != (int) strlen(name))
			invalid_lgbm("Feature name %d is not valid UTF-8.", n + 1);
		info->feature_names[n++] = pg_any_to_server(name, strlen(name), PG_UTF8);
	}
	if (n != info->num_features)
		invalid_lgbm("The model names %d features but has %d.", n, info->num_features);
	if (infos == NULL)
		return;
	copy = pstrdup(infos);
	n = 0;
	for (char *item = strtok(copy, " "); item != NULL && n < info->num_features;
		 item = strtok(NULL, " "), n++)
		info->categorical[n] = item[0] != '[' && strcmp(item, "none") != 0;
}

/* A pandas category as text: a string as it is, a number or a boolean as JSON writes it. */
static char *
category_name(const DocValue *v, int feature, int k)
{
	if (v->kind == DOC_STRING)
		return pg_any_to_server(v->u.string, strlen(v->u.string), PG_UTF8);
	if (v->kind == DOC_NUMBER)
		return psprintf("%.17g", v->u.number);
	if (v->kind == DOC_BOOL)
		return pstrdup(v->u.boolean ? "true" : "false");
	invalid_lgbm("Category %d of categorical feature %d in pandas_categorical is a JSON %s.", k, feature,
				 doc_kind_name(v->kind));
	return NULL;				/* keep compiler quiet */
}

/*
 * "pandas_categorical:" (LightGBM's Python package): one list of category
 * names per category column of the frame, in column order, which are the
 * model's categorical features in feature order; a name's code is its
 * position.  "null" or "[]" when the frame had none.
 */
static void
read_pandas_categorical(const char *json, ModelInfo *info)
{
	char	   *wrapped = psprintf("{\"p\":%s}", json);
	DocValue   *root = doc_parse_json(wrapped, strlen(wrapped));
	DocValue   *lists = doc_get(root, "p");
	int			k = 0;

	if (lists == NULL || lists->kind == DOC_NULL || lists->count == 0)
		return;
	if (lists->kind != DOC_ARRAY)
		invalid_lgbm("pandas_categorical is not a list of lists.");
	info->category_names = palloc0(sizeof(char **) * info->num_features);
	info->num_category_names = palloc0(sizeof(int) * info->num_features);
	for (int f = 0; f < info->num_features; f++)
	{
		DocValue   *list;

		if (!info->categorical[f])
			continue;
		if (k == lists->count)
			break;
		list = lists->u.items[k++];
		if (list->kind == DOC_NUMARRAY)
		{
			info->category_names[f] = palloc(sizeof(char *) * Max(list->count, 1));
			for (int i = 0; i < list->count; i++)
				info->category_names[f][i] = psprintf("%.17g", list->u.numbers[i]);
		}
		else if (list->kind == DOC_ARRAY)
		{
			info->category_names[f] = palloc(sizeof(char *) * Max(list->count, 1));
			for (int i = 0; i < list->count; i++)
				info->category_names[f][i] = category_name(list->u.items[i], f, i);
		}
		else
			invalid_lgbm("Entry %d of pandas_categorical is not a list.", k - 1);
		info->num_category_names[f] = list->count;
	}
	if (k != lists->count)
		invalid_lgbm("pandas_categorical has %d lists, but the model has %d categorical features.",
					 lists->count, k);
}

/* One tree into the forest, at the counts so far. */
static void
add_tree(LgbmForest *forest, int t, const LgbmTreeText *text, int *nodes, int *leaves,
		 int *words, int *terms)
{
	LgbmTree   *tree = &forest->trees[t];
	int			n = text->num_leaves - 1;

	tree->first_node = *nodes;
	tree->first_leaf = *leaves;
	tree->num_leaves = text->num_leaves;
	tree->is_linear = text->is_linear;
	for (int i = 0; i < n; i++)
	{
		LgbmNode   *node = &forest->nodes[*nodes + i];

		memset(node, 0, sizeof(*node));
		node->threshold = text->threshold[i];
		node->left = (int32) text->left_child[i];
		node->right = (int32) text->right_child[i];
		node->feature = (int32) text->split_feature[i];
		node->decision_type = (int32) text->decision_type[i];
		forest->node_count[*nodes + i] = text->internal_count ? text->internal_count[i] : 0.0;
		if (node->decision_type & LGBM_CATEGORICAL)
		{
			int			c = (int) text->threshold[i];

			node->cat_first = *words + (int32) text->cat_boundaries[c];
			node->cat_words = (int32) (text->cat_boundaries[c + 1] - text->cat_boundaries[c]);
		}
	}
	for (int w = 0; text->num_cat > 0 && w < text->cat_boundaries[text->num_cat]; w++)
		forest->cat_words[*words + w] = (uint32) text->cat_threshold[w];
	for (int l = 0, term = 0; l < text->num_leaves; l++)
	{
		int			leaf = *leaves + l;

		forest->leaf_value[leaf] = text->leaf_value[l];
		forest->leaf_count[leaf] = text->leaf_count ? text->leaf_count[l] : 0.0;
		forest->leaf_const[leaf] = text->is_linear ? text->leaf_const[l] : 0.0;
		forest->coeff_first[leaf] = *terms + term;
		forest->coeff_count[leaf] = text->is_linear ? (int32) text->num_terms[l] : 0;
		for (int i = 0; i < forest->coeff_count[leaf]; i++, term++)
		{
			forest->coeff_feature[*terms + term] = (int32) text->leaf_features[term];
			forest->coeff[*terms + term] = text->leaf_coeff[term];
		}
	}
	*nodes += n;
	*leaves += text->num_leaves;
	*words += text->num_cat > 0 ? (int) text->cat_boundaries[text->num_cat] : 0;
	*terms += (int) text->total_terms;
}

/* The validated trees as a LgbmForest in "context". */
static LgbmForest *
build_forest(const LgbmForest *shape, LgbmTreeText *trees, int num_trees, MemoryContext context)
{
	LgbmForest *forest = MemoryContextAllocZero(context, sizeof(LgbmForest));
	int			nodes = 0,
				leaves = 0,
				words = 0,
				terms = 0;
	const char *why;

	*forest = *shape;
	forest->num_trees = num_trees;
	forest->has_counts = true;
	for (int t = 0; t < num_trees; t++)
	{
		forest->num_nodes += trees[t].num_leaves - 1;
		forest->num_leaves += trees[t].num_leaves;
		forest->num_cat_words += trees[t].num_cat > 0 ?
			(int) trees[t].cat_boundaries[trees[t].num_cat] : 0;
		forest->num_coeffs += (int) trees[t].total_terms;
		if (!trees[t].has_counts)
			forest->has_counts = false;
		if (forest->num_cat_words > MAX_CAT_WORDS)
			UNSUPPORTED_LGBM("The model's categorical bitsets have more than %d words.", MAX_CAT_WORDS);
	}
	lgbm_forest_alloc_arrays(forest, context);
	for (int t = 0; t < num_trees; t++)
		add_tree(forest, t, &trees[t], &nodes, &leaves, &words, &terms);
	why = lgbm_forest_check(forest);
	if (why != NULL)
		elog(ERROR, "fraud_score: the LightGBM forest built from a validated model fails its check: %s", why);
	lgbm_forest_prepare(forest);
	return forest;
}

/* The header's "key=value" lines and bare flags, up to the first tree. */
static int
read_header(char **lines, int num_lines, KeyValues *header, bool *average_output)
{
	int			i;

	*average_output = false;
	for (i = 1; i < num_lines && strncmp(lines[i], "Tree=", 5) != 0; i++)
	{
		char	   *eq = strchr(lines[i], '=');

		if (strcmp(lines[i], "average_output") == 0)
			*average_output = true;
		else if (eq != NULL)
		{
			*eq = '\0';
			kv_add(header, lines[i], eq + 1);
		}
	}
	return i;
}

/*
 * The tree blocks from line *at on: "Tree=<n>" numbered in order, then its
 * "key=value" lines up to a blank line; the trees end at "end of trees" or
 * at the first line that is neither (files before v3 write "feature
 * importances:" next).
 */
static LgbmTreeText *
read_trees(char **lines, int num_lines, int *at, int num_features, int *num_trees)
{
	int			capacity = 64;
	LgbmTreeText *trees = palloc(sizeof(LgbmTreeText) * capacity);
	int			i = *at;

	*num_trees = 0;
	while (i < num_lines && strncmp(lines[i], "Tree=", 5) == 0)
	{
		KeyValues	kv = {0};
		char		expected[32];

		snprintf(expected, sizeof(expected), "Tree=%d", *num_trees);
		if (strcmp(lines[i], expected) != 0)
			invalid_lgbm("Tree %d is headed \"%s\"; trees must be numbered in order.",
						 *num_trees, lines[i]);
		for (i++; i < num_lines && lines[i][0] != '\0'; i++)
		{
			char	   *eq = strchr(lines[i], '=');

			if (eq == NULL)
				invalid_lgbm("Line %d in tree %d is not \"key=value\".", i + 1, *num_trees);
			*eq = '\0';
			kv_add(&kv, lines[i], eq + 1);
		}
		while (i < num_lines && lines[i][0] == '\0')
			i++;
		if (*num_trees == capacity)
		{
			capacity *= 2;
			trees = repalloc_huge(trees, sizeof(LgbmTreeText) * capacity);
		}
		read_tree(&kv, *num_trees, num_features, &trees[*num_trees]);
		check_tree_nodes(&trees[*num_trees], *num_trees);
		(*num_trees)++;
	}
	*at = i;
	return trees;
}

/* The format version, "v2" to "v4". */
static const char *
read_version(const KeyValues *header)
{
	const char *version = kv_require(header, "version", "the header");

	if (strcmp(version, "v2") != 0 && strcmp(version, "v3") != 0 && strcmp(version, "v4") != 0)
		UNSUPPORTED_LGBM("The model's format is \"%s\"; fraud_score reads LightGBM's v2, v3 and v4.",
						 version);
	return version;
}

/*
 * Validate a LightGBM text model into "info"; with "forest_context", also
 * build its LgbmForest there (info->lgbm).
 */
void
lgbm_validate(const char *data, Size len, ModelInfo *info, MemoryContext forest_context)
{
	char	   *text = palloc(len + 1);
	char	  **lines;
	int			num_lines;
	KeyValues	header = {0};
	LgbmForest	shape = {0};
	bool		average_output;
	int			at;
	int			num_trees;
	LgbmTreeText *trees;

	memcpy(text, data, len);
	text[len] = '\0';
	if (strlen(text) != len)
		invalid_lgbm("The text has a zero byte.");
	lines = split_lines(text, len, &num_lines);
	at = read_header(lines, num_lines, &header, &average_output);

	memset(info, 0, sizeof(*info));
	info->format = "text";
	info->library = "lightgbm";
	info->format_version = read_version(&header);
	if (parse_int(kv_require(&header, "num_class", "the header"), "num_class", "the header", 1, PG_INT32_MAX) != 1 ||
		parse_int(kv_require(&header, "num_tree_per_iteration", "the header"),
				  "num_tree_per_iteration", "the header", 1, PG_INT32_MAX) != 1)
		UNSUPPORTED_LGBM("The model has more than one tree per iteration (multi-class).");
	read_objective(kv_require(&header, "objective", "the header"), &shape, info);
	info->num_features = (int) parse_int(kv_require(&header, "max_feature_idx", "the header"),
										 "max_feature_idx", "the header", 0, MAX_FEATURES - 1) + 1;
	info->categorical = palloc0(sizeof(bool) * info->num_features);
	read_features(&header, info);

	trees = read_trees(lines, num_lines, &at, info->num_features, &num_trees);
	info->num_trees = num_trees;
	for (int t = 0; t < num_trees; t++)
		info->num_nodes += 2 * trees[t].num_leaves - 1;
	for (; at < num_lines; at++)
		if (strncmp(lines[at], "pandas_categorical:", 19) == 0)
			read_pandas_categorical(lines[at] + 19, info);
	shape.num_features = info->num_features;
	shape.average_output = average_output;
	if (forest_context != NULL)
		info->lgbm = build_forest(&shape, trees, num_trees, forest_context);
}
