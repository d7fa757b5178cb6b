/*-------------------------------------------------------------------------
 *
 * model.c
 *		Model bytes: size cap, format detection and structural validation.
 *
 * XGBoost 1.7.4 segfaults or loops forever on some malformed models (tree
 * counts that disagree with the trees present, child or feature indices out
 * of range, cycles).  In a backend that is a server-wide crash-restart, so
 * every byte string goes through model_validate() before XGBoost sees it:
 * the document is parsed by modeldoc.c and every array length, index and
 * value XGBoost will trust is checked here.  The rules are those of the
 * XGBoost JSON schema for gbtree models; anything else is refused.  Given a
 * memory context, validation also builds the native evaluator's forest,
 * tree by tree, through forest.c's builder.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "fraud_score.h"
#include "forest.h"
#include "modeldoc.h"

/* Limits well beyond any real fraud model, small enough to bound memory. */
#define MAX_FEATURES 10000
/* forest.h's input index counts each feature twice */
StaticAssertDecl(2 * MAX_FEATURES + 1 <= PG_UINT16_MAX, "ForestNode.input too narrow");
#define MAX_TREE_NODES (1 << 24)

#define INVALID_MODEL(...) invalid_model(__VA_ARGS__)

static void invalid_model(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* The detail is a full sentence even when it starts with a "where" phrase. */
static void
invalid_model(const char *fmt,...)
{
	char		detail[512];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	detail[0] = pg_toupper((unsigned char) detail[0]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid XGBoost model"),
			 errdetail_internal("%s", detail)));
}

#define UNSUPPORTED_MODEL(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED), \
			 errmsg("unsupported XGBoost model"), \
			 errdetail(__VA_ARGS__), \
			 errhint("fraud_score scores binary:logistic, reg:logistic and binary:logitraw gbtree and dart models with one output.")))

static void
model_check_size(Size len)
{
	Size		cap = (Size) fraud_score_max_model_size_kb * 1024;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model is empty"),
				 errdetail("The model argument has zero bytes.")));
	if (len > cap)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model is too large"),
				 errdetail("The model has %zu bytes; fraud_score.max_model_size allows %zu.",
						   len, cap),
				 errhint("Raise fraud_score.max_model_size, or train a smaller model.")));
}

static const char *
detect_format(const char *data, Size len)
{
	/*
	 * XGBoost's own rule, which must decide the same way: '{' at the first
	 * byte, then a quote or whitespace for JSON, anything else for UBJSON.
	 * Leading whitespace would send the bytes to its legacy binary loader.
	 */
	if (len >= 2 && data[0] == '{')
	{
		if (data[1] == '"' || data[1] == '}' || isspace((unsigned char) data[1]))
			return "json";
		if (strchr("iUIlL$#", data[1]) != NULL)
			return "ubjson";
	}
	if (len >= 4 && memcmp(data, "binf", 4) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model is in XGBoost's deprecated binary format"),
				 errdetail("Only XGBoost's JSON and UBJSON model formats are accepted."),
				 errhint("Load the model in XGBoost and save it again as JSON or UBJSON, e.g. booster.save_model(\"model.ubj\").")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("model is not in XGBoost JSON or UBJSON format"),
			 errdetail("The bytes start with neither a JSON object nor a UBJSON object."),
			 errhint("Pass the bytes of a model saved by XGBoost as .json or .ubj; a model in the deprecated binary format must be saved again as JSON or UBJSON.")));
	return NULL;				/* keep compiler quiet */
}

static const char *
kind_with_article(DocKind kind)
{
	const char *name = doc_kind_name(kind);

	/* The document keeps arrays of numbers apart from other arrays. */
	if (kind == DOC_NUMARRAY)
		return "an array of numbers";
	if (kind == DOC_ARRAY)
		return "an array of objects or strings";
	return psprintf("%s %s", strchr("aeiou", name[0]) ? "an" : "a", name);
}

static DocValue *
require(const DocValue *object, const char *key, DocKind kind, const char *where)
{
	DocValue   *v = doc_get(object, key);

	if (v == NULL)
		INVALID_MODEL("There is no \"%s\" in %s.", key, where);
	/* An empty array parses as numeric; accept it where any array is due. */
	if (v->kind != kind &&
		!(kind == DOC_ARRAY && v->kind == DOC_NUMARRAY && v->count == 0) &&
		!(kind == DOC_NUMARRAY && v->kind == DOC_ARRAY && v->count == 0))
		INVALID_MODEL("\"%s\" in %s is %s, not %s.", key, where,
					  (v->kind == DOC_ARRAY || v->kind == DOC_NUMARRAY) && v->count == 0 ?
					  "an empty array" : kind_with_article(v->kind),
					  kind_with_article(kind));
	return v;
}

/*
 * A numeric parameter.  XGBoost writes parameters as strings ("20", "5E-1");
 * accept plain numbers too.  "what" names the expected kind in errors.
 */
static double
require_number_param(const DocValue *object, const char *key, const char *where,
					 const char *what)
{
	DocValue   *v = doc_get(object, key);
	double		x;

	if (v == NULL)
		INVALID_MODEL("There is no \"%s\" in %s.", key, where);
	if (v->kind == DOC_STRING)
	{
		char	   *end;

		errno = 0;
		x = strtod(v->u.string, &end);
		if (end == v->u.string || *end != '\0' || errno != 0)
			INVALID_MODEL("\"%s\" in %s is \"%s\", not %s.", key, where, v->u.string, what);
	}
	else if (v->kind == DOC_NUMBER)
		x = v->u.number;
	else
		INVALID_MODEL("\"%s\" in %s is %s, not %s.", key, where, kind_with_article(v->kind), what);
	if (!isfinite(x))
		INVALID_MODEL("\"%s\" in %s is not finite.", key, where);
	return x;
}

static int64
require_int_param(const DocValue *object, const char *key, const char *where,
				  int64 min, int64 max)
{
	double		x = require_number_param(object, key, where, "an integer");

	if (x != floor(x) || x < (double) min || x > (double) max)
		INVALID_MODEL("\"%s\" in %s is %g, outside %lld..%lld.", key, where, x,
					  (long long) min, (long long) max);
	return (int64) x;
}

static const double *
require_node_array(const DocValue *tree, const char *key, int num_nodes, int tree_index)
{
	char		where[64];
	DocValue   *v;

	snprintf(where, sizeof(where), "tree %d", tree_index);
	v = require(tree, key, DOC_NUMARRAY, where);
	if (v->count != num_nodes)
		INVALID_MODEL("\"%s\" of tree %d has %d entries, but the tree has %d nodes.",
					  key, tree_index, v->count, num_nodes);
	return v->u.numbers;
}

/* XGBoost keeps these values as float32: beyond FLT_MAX they become inf. */
static bool
is_float(double x)
{
	return isfinite(x) && fabs(x) <= FLT_MAX;
}

static bool
is_index(double x, int limit)
{
	return x == floor(x) && x >= 0 && x < limit;
}

/* Codes a tree's categorical splits may name, and the set words they take. */
#define MAX_CATEGORY (FOREST_MAX_CATEGORY - 1)
#define MAX_CATEGORY_WORDS (1 << 22)

/* A numeric array of the tree, of any length, every entry an integer in min..max. */
static const DocValue *
require_int_array(const DocValue *tree, const char *key, int tree_index, double min, double max)
{
	char		where[64];
	const DocValue *v;

	snprintf(where, sizeof(where), "tree %d", tree_index);
	v = require(tree, key, DOC_NUMARRAY, where);
	for (int i = 0; i < v->count; i++)
		if (v->u.numbers[i] != floor(v->u.numbers[i]) || v->u.numbers[i] < min ||
			v->u.numbers[i] > max)
			INVALID_MODEL("Entry %d of \"%s\" in tree %d is %.17g, outside %.0f..%.0f.",
						  i, key, tree_index, v->u.numbers[i], min, max);
	return v;
}

/*
 * A tree's categorical splits (XGBoost 1.4 and later), as XGBoost's
 * LoadCategoricalSplit reads them, which trusts every index: split_type
 * (0 numerical, 1 categorical) per node, and for each categorical node in
 * node order (categories_nodes), its codes categories[segment ... segment +
 * size).  Each becomes tree->category_begin/count; *words counts the set
 * words the forest will need, which are bounded.
 */
static void
read_categorical(const DocValue *tree, int tree_index, ForestTree *a, int64 *words)
{
	const DocValue *nodes,
			   *segments,
			   *sizes,
			   *codes;
	int32	   *begin;
	int32	   *count;
	int			n = a->num_nodes;
	int			k = 0;

	if (doc_get(tree, "split_type") == NULL)
		return;
	a->split_type = require_node_array(tree, "split_type", n, tree_index);
	nodes = require_int_array(tree, "categories_nodes", tree_index, 0, n - 1);
	segments = require_int_array(tree, "categories_segments", tree_index, 0, PG_INT32_MAX);
	sizes = require_int_array(tree, "categories_sizes", tree_index, 1, PG_INT32_MAX);
	codes = require_int_array(tree, "categories", tree_index, 0, MAX_CATEGORY);
	if (segments->count != nodes->count || sizes->count != nodes->count)
		INVALID_MODEL("Tree %d has %d categorical nodes, %d category segments and %d category sizes.",
					  tree_index, nodes->count, segments->count, sizes->count);

	begin = palloc0(sizeof(int32) * n);
	count = palloc0(sizeof(int32) * n);
	for (int i = 0; i < n; i++)
	{
		if (a->split_type[i] != 0 && a->split_type[i] != 1)
			INVALID_MODEL("Tree %d node %d has split_type %g, not 0 or 1.", tree_index, i, a->split_type[i]);
		if (k < nodes->count && nodes->u.numbers[k] == i)
		{
			int			max_code = 0;

			if (a->split_type[i] != 1)
				INVALID_MODEL("Tree %d node %d has categories but is not a categorical split.", tree_index, i);
			if (segments->u.numbers[k] + sizes->u.numbers[k] > codes->count)
				INVALID_MODEL("Tree %d node %d has categories %.0f..%.0f, but the tree has %d.",
							  tree_index, i, segments->u.numbers[k],
							  segments->u.numbers[k] + sizes->u.numbers[k] - 1, codes->count);
			begin[i] = (int32) segments->u.numbers[k];
			count[i] = (int32) sizes->u.numbers[k];
			for (int j = begin[i]; j < begin[i] + count[i]; j++)
				max_code = Max(max_code, (int) codes->u.numbers[j]);
			*words += max_code / 32 + 1;
			if (*words > MAX_CATEGORY_WORDS)
				UNSUPPORTED_MODEL("The model's category sets need more than %d bits.", MAX_CATEGORY_WORDS * 32);
			k++;
		}
		else if (a->split_type[i] == 1 && a->left[i] != -1)
			INVALID_MODEL("Tree %d node %d is a categorical split without categories (categories_nodes lists the categorical nodes in order).",
						  tree_index, i);
	}
	if (k != nodes->count)
		INVALID_MODEL("Entry %d of \"categories_nodes\" in tree %d is out of order or not a categorical split.",
					  k, tree_index);
	a->category_begin = begin;
	a->category_count = count;
	a->categories = codes->u.numbers;
}

/* The tree object's header and node arrays, every length checked. */
/*
 * size_leaf_vector: 0, or 1 (XGBoost >= 2.0 for scalar leaves, which 1.7.4
 * refuses to predict with: noted for model_normalize); more is a vector.
 */
static bool
has_vector_leaves(const DocValue *param, const char *where, ModelInfo *info)
{
	DocValue   *v = doc_get(param, "size_leaf_vector");
	int64		size;

	if (v == NULL)
		return false;
	size = require_int_param(param, "size_leaf_vector", where, 0, PG_INT32_MAX);
	if (size == 1 && info != NULL)
	{
		if (info->leaf_vector_ones == NULL)
			info->leaf_vector_ones = palloc(sizeof(Size) * (info->num_trees + 1));
		if (info->num_leaf_vector_ones <= info->num_trees)
			info->leaf_vector_ones[info->num_leaf_vector_ones++] =
				v->kind == DOC_STRING ? v->src_start : 0;
	}
	return size > 1;
}

static void
read_tree_arrays(const DocValue *tree, int tree_index, ForestTree *arrays, ModelInfo *info)
{
	char		where[64];
	const DocValue *param;
	int			n;

	snprintf(where, sizeof(where), "tree %d", tree_index);
	if (tree->kind != DOC_OBJECT)
		INVALID_MODEL("Tree %d is %s, not an object.", tree_index, kind_with_article(tree->kind));
	/* XGBoost places each tree by its id, read as an integer. */
	if (require(tree, "id", DOC_NUMBER, where)->u.number != tree_index)
		INVALID_MODEL("Tree %d has id %g; ids must number the trees in order.",
					  tree_index, doc_get(tree, "id")->u.number);

	param = require(tree, "tree_param", DOC_OBJECT, where);
	n = (int) require_int_param(param, "num_nodes", where, 1, MAX_TREE_NODES);
	if (has_vector_leaves(param, where, info))
		UNSUPPORTED_MODEL("Tree %d has vector leaves (multi-target trees).", tree_index);

	memset(arrays, 0, sizeof(*arrays));
	arrays->num_nodes = n;
	arrays->left = require_node_array(tree, "left_children", n, tree_index);
	arrays->right = require_node_array(tree, "right_children", n, tree_index);
	arrays->parents = require_node_array(tree, "parents", n, tree_index);
	arrays->split_index = require_node_array(tree, "split_indices", n, tree_index);
	arrays->split_cond = require_node_array(tree, "split_conditions", n, tree_index);
	arrays->default_left = require_node_array(tree, "default_left", n, tree_index);
	(void) require_node_array(tree, "base_weights", n, tree_index);
	(void) require_node_array(tree, "loss_changes", n, tree_index);
	arrays->sum_hess = require_node_array(tree, "sum_hessian", n, tree_index);
	read_categorical(tree, tree_index, arrays, &info->num_category_words);
}

/* One split node's own values: children, feature, condition, direction. */
static void
check_split(const ForestTree *a, int i, int tree_index, int num_features)
{
	int			n = a->num_nodes;

	if (!is_index(a->left[i], n) || !is_index(a->right[i], n) || a->left[i] == 0 || a->right[i] == 0)
		INVALID_MODEL("Tree %d node %d has children %g and %g; a tree of %d nodes needs both in 1..%d, or both -1 for a leaf.",
					  tree_index, i, a->left[i], a->right[i], n, n - 1);
	if (!is_index(a->split_index[i], num_features))
		INVALID_MODEL("Tree %d node %d splits on feature %g, but the model has %d features.",
					  tree_index, i, a->split_index[i], num_features);
	/* A categorical split's condition means nothing: NaN before 3.1, a denormal since. */
	if (!is_float(a->split_cond[i]) && !(a->split_type != NULL && a->split_type[i] == 1))
		INVALID_MODEL("Tree %d node %d has a split condition that is not a finite float.", tree_index, i);
	if (a->default_left[i] != 0 && a->default_left[i] != 1)
		INVALID_MODEL("Tree %d node %d has default_left %g, not 0 or 1.",
					  tree_index, i, a->default_left[i]);
}

/*
 * One tree.  Walks from the root with a visited map, so a cycle, a node with
 * two parents or a child index out of range is caught before XGBoost's own
 * walks (which trust every index) ever run.  Returns the node count.
 */
static int
validate_tree(const DocValue *tree, int tree_index, ModelInfo *info, Forest *forest,
			  float weight, bool weighted)
{
	ForestTree	a;
	bool	   *visited;
	int		   *stack;
	int			depth = 0;
	int			n;

	int			num_features = info->num_features;

	read_tree_arrays(tree, tree_index, &a, info);
	n = a.num_nodes;

	/* XGBoost follows every node's parent index when it loads a tree. */
	for (int i = 1; i < n; i++)
		if (!is_index(a.parents[i], n))
			INVALID_MODEL("Tree %d node %d has parent %g, outside 0..%d.",
						  tree_index, i, a.parents[i], n - 1);

	visited = palloc0(sizeof(bool) * n);
	stack = palloc(sizeof(int) * n);
	stack[depth++] = 0;
	visited[0] = true;
	while (depth > 0)
	{
		int			i = stack[--depth];

		if (a.left[i] == -1 && a.right[i] == -1)
		{
			if (!is_float(a.split_cond[i]) || (weighted && !isfinite((float) a.split_cond[i] * weight)))
				INVALID_MODEL("Tree %d leaf %d has a value that is not a finite float.", tree_index, i);
			continue;
		}
		check_split(&a, i, tree_index, num_features);
		for (int side = 0; side < 2; side++)
		{
			int			child = (int) (side == 0 ? a.left[i] : a.right[i]);

			if (visited[child])
				INVALID_MODEL("Tree %d node %d is reached twice (a cycle or a shared child).",
							  tree_index, child);
			if (a.parents[child] != i)
				INVALID_MODEL("Tree %d node %d records parent %g, but is a child of node %d.",
							  tree_index, child, a.parents[child], i);
			visited[child] = true;
			stack[depth++] = child;
		}
	}
	if (a.split_type != NULL)
		for (int i = 0; i < n; i++)
			if (visited[i] && a.left[i] != -1 && a.split_type[i] == 1)
				info->categorical[(int) a.split_index[i]] = true;
	pfree(visited);
	pfree(stack);
	if (forest != NULL)
		forest_add_tree(forest, &a, weighted ? &weight : NULL);
	if (a.category_begin != NULL)
	{
		pfree((int32 *) a.category_begin);
		pfree((int32 *) a.category_count);
	}
	return n;
}

static char **
extract_feature_names(const DocValue *learner, int num_features)
{
	DocValue   *names = doc_get(learner, "feature_names");
	char	  **result;

	if (names == NULL || names->count == 0)
		return NULL;
	if (names->kind != DOC_ARRAY)
		INVALID_MODEL("\"feature_names\" is not an array of strings.");
	if (names->count != num_features)
		INVALID_MODEL("The model names %d features but has %d.", names->count, num_features);
	result = palloc(sizeof(char *) * num_features);
	for (int i = 0; i < num_features; i++)
	{
		DocValue   *name = names->u.items[i];

		if (name->kind != DOC_STRING)
			INVALID_MODEL("Feature name %d is %s, not a string.", i + 1, kind_with_article(name->kind));
		result[i] = pg_any_to_server(name->u.string, strlen(name->u.string), PG_UTF8);
	}
	return result;
}

/*
 * The objectives whose output is one probability (or, for binary:logitraw,
 * the margin of one, which fraud_score turns into the probability with the
 * same sigmoid); every other one refused, saying what kind it is.
 */
static void
check_objective(const char *objective)
{
	const char *kind;

	if (strcmp(objective, "binary:logistic") == 0 || strcmp(objective, "reg:logistic") == 0 ||
		strcmp(objective, "binary:logitraw") == 0)
		return;
	if (strncmp(objective, "multi:", 6) == 0)
		kind = "It is a multi-class objective: a model of it gives one score per class, not one probability.";
	else if (strncmp(objective, "rank:", 5) == 0)
		kind = "It is a ranking objective: its scores order items and are not probabilities.";
	else if (strncmp(objective, "reg:", 4) == 0 || strncmp(objective, "count:", 6) == 0 ||
			 strncmp(objective, "survival:", 9) == 0)
		kind = "It is a regression objective: its predictions are not probabilities.";
	else
		kind = "Its output is not a probability.";
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("model objective \"%s\" is not supported", objective),
			 errdetail("%s fraud_score accepts binary:logistic, reg:logistic and binary:logitraw models.", kind),
			 errhint("Train the model with objective \"binary:logistic\".")));
}

/*
 * base_score, as a number or as the string XGBoost writes: "5E-1", or from
 * 3.1 on "[5E-1]" (one value per target; XGBoost 1.7.4 would silently read
 * that as its default 0.5).
 */
static void
read_base_score(const DocValue *param, ModelInfo *info)
{
	DocValue   *v = doc_get(param, "base_score");
	char	   *s = v != NULL && v->kind == DOC_STRING ? v->u.string : NULL;
	size_t		n = s ? strlen(s) : 0;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
	{
		char	   *end;

		if (strchr(s, ',') != NULL)
			UNSUPPORTED_MODEL("The model has more than one target (its base_score is \"%s\").", s);
		errno = 0;
		info->base_score = strtod(s + 1, &end);
		if (end == s + 1 || end != s + n - 1 || errno != 0 || !isfinite(info->base_score))
			INVALID_MODEL("\"base_score\" in learner_model_param is \"%s\", not a number.", s);
		info->base_score_bracketed = true;
		info->base_score_start = v->src_start;
		info->base_score_end = v->src_end;
	}
	else
		info->base_score = require_number_param(param, "base_score", "learner_model_param", "a number");
}

/* The learner's objective and model parameters, into info. */
static void
validate_learner(const DocValue *learner, ModelInfo *info)
{
	DocValue   *objective;
	DocValue   *param;
	int64		num_class;

	objective = require(learner, "objective", DOC_OBJECT, "the learner");
	info->objective = pstrdup(require(objective, "name", DOC_STRING, "the objective")->u.string);
	check_objective(info->objective);

	param = require(learner, "learner_model_param", DOC_OBJECT, "the learner");
	info->num_features = (int) require_int_param(param, "num_feature", "learner_model_param",
												 1, MAX_FEATURES);
	num_class = require_int_param(param, "num_class", "learner_model_param", 0, PG_INT32_MAX);
	if (num_class > 1)
		UNSUPPORTED_MODEL("The model has %lld classes.", (long long) num_class);
	if (doc_get(param, "num_target") &&
		require_int_param(param, "num_target", "learner_model_param", 0, PG_INT32_MAX) > 1)
		UNSUPPORTED_MODEL("The model has more than one target.");
	read_base_score(param, info);
	/* binary:logitraw's base_score is the starting margin itself (XGBoost >= 1.4) */
	info->base_score_is_margin = strcmp(info->objective, "binary:logitraw") == 0;
	if (info->base_score_is_margin)
	{
		if (!is_float(info->base_score))
			INVALID_MODEL("The base_score is %.10g, beyond XGBoost's float.", info->base_score);
	}
	/* XGBoost keeps it as a float: 0.99999999 is 1 to it, and 1e-50 is 0. */
	else if (!((float) info->base_score > 0 && (float) info->base_score < 1))
		INVALID_MODEL("The base_score is %.10g (%g as XGBoost's float); a %s model needs it strictly between 0 and 1.",
					  info->base_score, (double) (float) info->base_score, info->objective);
}

/*
 * The gradient booster's gbtree model object: a gbtree's own, or the one a
 * dart booster wraps, whose trees' weights (weight_drop) go in *weights.
 */
static DocValue *
gbtree_model(const DocValue *learner, const DocValue **weights)
{
	DocValue   *booster = require(learner, "gradient_booster", DOC_OBJECT, "the learner");
	const char *booster_name = require(booster, "name", DOC_STRING, "gradient_booster")->u.string;

	*weights = NULL;
	if (strcmp(booster_name, "dart") == 0)
	{
		DocValue   *gbtree = require(booster, "gbtree", DOC_OBJECT, "the dart booster");

		*weights = require(booster, "weight_drop", DOC_NUMARRAY, "the dart booster");
		return require(gbtree, "model", DOC_OBJECT, "the dart booster's gbtree");
	}
	if (strcmp(booster_name, "gbtree") != 0)
		UNSUPPORTED_MODEL("The booster is \"%s\"; only \"gbtree\" and \"dart\" are supported.", booster_name);
	return require(booster, "model", DOC_OBJECT, "gradient_booster");
}

/*
 * The gbtree's parameters and every one of its info->num_trees trees; with
 * "forest_context", the trees are also built into a forest there, sized
 * only once the tree count is known to match the trees present.
 */
static Forest *
validate_gbtree(const DocValue *gbtree, const DocValue *param, const DocValue *weights,
				ModelInfo *info, MemoryContext forest_context)
{
	DocValue   *trees,
			   *tree_info;
	Forest	   *forest = NULL;

	/*
	 * Random forests grow num_parallel_tree trees per round; every tree still
	 * adds to the one margin.  JSON from XGBoost 1.0-1.5 has no such key
	 * (XGBoost assumes 1).
	 */
	if (doc_get(param, "num_parallel_tree"))
		(void) require_int_param(param, "num_parallel_tree", "gbtree_model_param", 1, PG_INT32_MAX);
	if (has_vector_leaves(param, "gbtree_model_param", info))
		UNSUPPORTED_MODEL("The model has vector leaves (multi-target trees).");

	trees = require(gbtree, "trees", DOC_ARRAY, "the gbtree model");
	tree_info = require(gbtree, "tree_info", DOC_NUMARRAY, "the gbtree model");
	if (trees->count != info->num_trees)
		INVALID_MODEL("The model declares %d trees (num_trees) but has %d.", info->num_trees, trees->count);
	if (tree_info->count != info->num_trees)
		INVALID_MODEL("The model declares %d trees (num_trees) but tree_info has %d entries.", info->num_trees, tree_info->count);
	if (weights != NULL && weights->count != info->num_trees)
		INVALID_MODEL("The dart booster has %d trees but %d weights (weight_drop).",
					  info->num_trees, weights->count);
	if (forest_context != NULL)
		forest = forest_begin(info->num_trees, info->num_features, (float) info->base_score,
							  info->base_score_is_margin, forest_context);
	for (int t = 0; t < info->num_trees; t++)
	{
		/* Binary models have one output group; tree_info names each tree's. */
		if (tree_info->u.numbers[t] != 0)
			INVALID_MODEL("Entry %d of tree_info is %g; a binary model has only output group 0.",
						  t, tree_info->u.numbers[t]);
		if (weights != NULL && !is_float(weights->u.numbers[t]))
			INVALID_MODEL("Entry %d of weight_drop is not a finite float.", t);
		info->num_nodes += validate_tree(trees->u.items[t], t, info, forest,
										 weights ? (float) weights->u.numbers[t] : 1.0f,
										 weights != NULL);
	}
	return forest;
}

/*
 * "c" in the learner's feature_types marks a categorical feature (a model
 * may have one no split uses yet).  Other types ("float", "int", "i", "q")
 * are numerical.
 */
static void
read_feature_types(const DocValue *learner, ModelInfo *info)
{
	DocValue   *types = doc_get(learner, "feature_types");

	if (types == NULL || types->kind != DOC_ARRAY || types->count != info->num_features)
		return;
	for (int f = 0; f < info->num_features; f++)
		if (types->u.items[f]->kind == DOC_STRING && strcmp(types->u.items[f]->u.string, "c") == 0)
			info->categorical[f] = true;
}

/* A numeric array of "object", every entry an integer in min..max. */
static const DocValue *
require_ints(const DocValue *object, const char *key, const char *where, double min, double max)
{
	const DocValue *v = require(object, key, DOC_NUMARRAY, where);

	for (int i = 0; i < v->count; i++)
		if (v->u.numbers[i] != floor(v->u.numbers[i]) || v->u.numbers[i] < min ||
			v->u.numbers[i] > max)
			INVALID_MODEL("Entry %d of \"%s\" in %s is %.17g, outside %.0f..%.0f.",
						  i, key, where, v->u.numbers[i], min, max);
	return v;
}

/*
 * One feature's category names from "cats": strings as the bytes of
 * "values" cut at "offsets" (one more offset than names), or numbers in
 * "values" (XGBoost keeps their type in "type"), whose names are their
 * decimal forms.  Returns the count; *names gets them.
 */
static int
read_feature_categories(const DocValue *enc, int f, char ***names)
{
	char		where[64];
	const DocValue *values;
	const DocValue *offsets;
	int			count;

	snprintf(where, sizeof(where), "the categories of feature %d", f);
	if (enc->kind != DOC_OBJECT)
		INVALID_MODEL("Entry %d of \"enc\" in \"cats\" is %s, not an object.", f, kind_with_article(enc->kind));
	offsets = doc_get(enc, "offsets");
	values = offsets != NULL ? require_ints(enc, "values", where, -128, 255) :
		require(enc, "values", DOC_NUMARRAY, where);
	if (offsets != NULL)
		offsets = require_ints(enc, "offsets", where, 0, values->count);
	count = offsets != NULL ? Max(offsets->count - 1, 0) : values->count;
	if (count > FOREST_MAX_CATEGORY)
		UNSUPPORTED_MODEL("Feature %d has %d categories; XGBoost tells at most %d apart.",
						  f, count, FOREST_MAX_CATEGORY);
	*names = palloc(sizeof(char *) * Max(count, 1));
	for (int k = 0; k < count; k++)
	{
		if (offsets == NULL)
		{
			(*names)[k] = psprintf("%.17g", values->u.numbers[k]);
			continue;
		}
		{
			int			start = (int) offsets->u.numbers[k];
			int			end = (int) offsets->u.numbers[k + 1];
			char	   *utf8;

			if ((k == 0 && start != 0) || end < start)
				INVALID_MODEL("The offsets of %s are not in order from 0.", where);
			utf8 = palloc(end - start + 1);
			for (int i = start; i < end; i++)
				utf8[i - start] = (char) (uint8) (int) values->u.numbers[i];
			utf8[end - start] = '\0';
			if (pg_encoding_verifymbstr(PG_UTF8, utf8, end - start) != end - start)
				INVALID_MODEL("Category %d of feature %d is not valid UTF-8.", k, f);
			(*names)[k] = pg_any_to_server(utf8, end - start, PG_UTF8);
		}
	}
	return count;
}

/*
 * The category names XGBoost 3.1 and later keeps in the gbtree model's
 * "cats" (the pandas categories it was trained with): "enc" has one entry
 * per feature, empty for a numerical one.
 */
static void
read_category_names(const DocValue *gbtree, ModelInfo *info)
{
	DocValue   *cats = doc_get(gbtree, "cats");
	DocValue   *enc;

	if (cats == NULL)
		return;
	if (cats->kind != DOC_OBJECT)
		INVALID_MODEL("\"cats\" in the gbtree model is %s, not an object.", kind_with_article(cats->kind));
	enc = require(cats, "enc", DOC_ARRAY, "\"cats\"");
	if (enc->count == 0)
		return;
	if (enc->count != info->num_features)
		INVALID_MODEL("\"cats\" has categories for %d features, but the model has %d.",
					  enc->count, info->num_features);
	for (int f = 0; f < info->num_features; f++)
	{
		char	  **names;
		int			count = read_feature_categories(enc->u.items[f], f, &names);

		if (count == 0)
			continue;
		if (info->category_names == NULL)
		{
			info->category_names = palloc0(sizeof(char **) * info->num_features);
			info->num_category_names = palloc0(sizeof(int) * info->num_features);
		}
		info->category_names[f] = names;
		info->num_category_names[f] = count;
		info->categorical[f] = true;
	}
}

/*
 * Every typed array of int8 or int16 in a UBJSON document, into info, in
 * document order: XGBoost 1.7.4 reads typed arrays of float32, uint8, int32
 * and int64 only.
 */
static void
find_narrow_arrays(const DocValue *v, ModelInfo *info, int *capacity)
{
	if (v->kind == DOC_NUMARRAY && (v->ubj_type == 'i' || v->ubj_type == 'I'))
	{
		if (info->num_narrow_arrays == *capacity)
		{
			*capacity = Max(8, *capacity * 2);
			info->narrow_arrays = info->narrow_arrays ?
				repalloc(info->narrow_arrays, sizeof(Size) * 2 * *capacity) :
				palloc(sizeof(Size) * 2 * *capacity);
		}
		info->narrow_arrays[2 * info->num_narrow_arrays] = v->src_start;
		info->narrow_arrays[2 * info->num_narrow_arrays + 1] = v->src_end;
		info->num_narrow_arrays++;
	}
	else if (v->kind == DOC_ARRAY || v->kind == DOC_OBJECT)
		for (int i = 0; i < v->count; i++)
			find_narrow_arrays(v->u.items[i], info, capacity);
}

/* The XGBoost release that saved the model ("version": [3, 4, 1]), or "unknown". */
static const char *
saved_by(const DocValue *root)
{
	DocValue   *version = doc_get(root, "version");

	if (version == NULL || version->kind != DOC_NUMARRAY || version->count != 3)
		return "unknown";
	return psprintf("%.0f.%.0f.%.0f", version->u.numbers[0], version->u.numbers[1],
					version->u.numbers[2]);
}

/*
 * Validate model bytes; with "forest_context", also build the native
 * evaluator's Forest there (info->forest).  Build it only from UBJSON, whose
 * values are XGBoost's own float32s; JSON text would go through double.
 */
void
model_validate(const char *data, Size len, ModelInfo *info, MemoryContext forest_context)
{
	Forest	   *forest = NULL;
	const char *format;
	DocValue   *root;
	DocValue   *learner;
	DocValue   *gbtree;
	DocValue   *param;
	const DocValue *weights;

	model_check_size(len);
	if (lgbm_is_text_model(data, len))
	{
		lgbm_validate(data, len, info, forest_context);
		return;
	}
	format = detect_format(data, len);
	root = strcmp(format, "json") == 0 ? doc_parse_json(data, len) : doc_parse_ubjson(data, len);

	memset(info, 0, sizeof(*info));
	info->library = "xgboost";
	info->format = format;

	if (root == NULL || root->kind != DOC_OBJECT)
		INVALID_MODEL("The top level is not an object.");
	learner = require(root, "learner", DOC_OBJECT, "the model");
	validate_learner(learner, info);
	info->categorical = palloc0(sizeof(bool) * info->num_features);
	read_feature_types(learner, info);
	gbtree = gbtree_model(learner, &weights);
	param = require(gbtree, "gbtree_model_param", DOC_OBJECT, "the gbtree model");
	info->num_trees = (int) require_int_param(param, "num_trees", "gbtree_model_param",
											  0, PG_INT32_MAX);

	forest = validate_gbtree(gbtree, param, weights, info,
							 strcmp(format, "ubjson") == 0 ? forest_context : NULL);
	info->forest = forest != NULL ? forest_finish(forest) : NULL;

	info->feature_names = extract_feature_names(learner, info->num_features);
	info->format_version = saved_by(root);
	read_category_names(gbtree, info);
	if (strcmp(format, "ubjson") == 0)
	{
		int			capacity = 0;

		find_narrow_arrays(root, info, &capacity);
	}
}

/* A UBJSON string of "n" bytes, as XGBoost writes one: 'S', 'L', an int64 length. */
static void
append_ubjson_string(StringInfo out, const char *bytes, Size n)
{
	appendStringInfoChar(out, 'S');
	appendStringInfoChar(out, 'L');
	for (int shift = 56; shift >= 0; shift -= 8)
		appendStringInfoChar(out, (char) (((uint64) n >> shift) & 0xFF));
	appendBinaryStringInfo(out, bytes, n);
}

/*
 * The UBJSON string value whose 'S' marker is at data[start]: its body, of
 * *n bytes, ending at *end; NULL if there is none there.
 */
static const char *
ubjson_string_at(const char *data, Size len, Size start, Size *n, Size *end)
{
	const uint8 *p = (const uint8 *) data + start;
	int			width;
	uint64		length = 0;

	if (start + 2 > len || p[0] != 'S')
		return NULL;
	switch (p[1])
	{
		case 'i':
		case 'U':
			width = 1;
			break;
		case 'I':
			width = 2;
			break;
		case 'l':
			width = 4;
			break;
		case 'L':
			width = 8;
			break;
		default:
			return NULL;
	}
	if (start + 2 + width > len)
		return NULL;
	for (int i = 0; i < width; i++)
		length = (length << 8) | p[2 + i];
	if (length > len - (start + 2 + width))
		return NULL;
	*n = (Size) length;
	*end = start + 2 + width + length;
	return data + start + 2 + width;
}

/*
 * In JSON text, the value of each key "key" (the bytes after its colon and
 * white space), from "from" on, or NULL.  Inside a JSON string a key's bytes
 * cannot occur unescaped, so every match is a key.
 */
static const char *
json_key_value(const char *from, const char *limit, const char *key)
{
	size_t		keylen = strlen(key);

	for (const char *p = from; (p = memchr(p, '"', limit - p)) != NULL; p++)
	{
		const char *q = p + 1 + keylen;

		if ((Size) (limit - p) < keylen + 2 || memcmp(p + 1, key, keylen) != 0 || *q != '"')
			continue;
		for (q++; q < limit && isspace((unsigned char) *q); q++)
			;
		if (q >= limit || *q != ':')
			continue;
		for (q++; q < limit && isspace((unsigned char) *q); q++)
			;
		return q;
	}
	return NULL;
}

/* One change model_normalize makes to UBJSON bytes: [start, end) replaced. */
typedef struct UbjEdit
{
	Size		start;
	Size		end;
	int			kind;			/* 0 size_leaf_vector, 1 base_score, 2 narrow array */
} UbjEdit;

static int
compare_edits(const void *a, const void *b)
{
	Size		x = ((const UbjEdit *) a)->start;
	Size		y = ((const UbjEdit *) b)->start;

	return x < y ? -1 : x > y;
}

/*
 * A typed int8 or int16 array (checked again: marker, type, count and
 * length) rewritten as XGBoost 1.7.4 reads one: int32, with an int64 count.
 */
static void
append_widened_array(StringInfo out, const char *data, Size start, Size end)
{
	const uint8 *p = (const uint8 *) data + start;
	int			width = p[2] == 'i' ? 1 : 2;
	const uint8 *body;
	uint64		count = 0;
	int			count_width;

	if (end - start < 5 || p[0] != '[' || p[1] != '$' || (p[2] != 'i' && p[2] != 'I') || p[3] != '#')
		elog(ERROR, "fraud_score: a narrow typed array of the UBJSON model is not where it was read");
	count_width = p[4] == 'i' || p[4] == 'U' ? 1 : p[4] == 'I' ? 2 : p[4] == 'l' ? 4 : 8;
	for (int i = 0; i < count_width; i++)
		count = (count << 8) | p[5 + i];
	body = p + 5 + count_width;
	if ((Size) (body - p) + count * width != end - start)
		elog(ERROR, "fraud_score: a narrow typed array of the UBJSON model is not where it was read");
	appendStringInfoString(out, "[$l#L");
	for (int shift = 56; shift >= 0; shift -= 8)
		appendStringInfoChar(out, (char) ((count >> shift) & 0xFF));
	for (uint64 i = 0; i < count; i++)
	{
		int32		v = width == 1 ? (int8) body[i] : (int16) ((body[2 * i] << 8) | body[2 * i + 1]);

		for (int shift = 24; shift >= 0; shift -= 8)
			appendStringInfoChar(out, (char) (((uint32) v >> shift) & 0xFF));
	}
}

/* The UBJSON changes model_normalize makes, in byte order. */
static bytea *
normalize_ubjson(const char *data, Size len, const ModelInfo *info)
{
	int			num_edits = info->num_leaf_vector_ones + info->num_narrow_arrays +
		(info->base_score_bracketed ? 1 : 0);
	UbjEdit    *edits = palloc(sizeof(UbjEdit) * Max(num_edits, 1));
	int			k = 0;
	Size		done = 0;
	StringInfoData out;

	for (int i = 0; i < info->num_leaf_vector_ones; i++)
		edits[k++] = (UbjEdit) {info->leaf_vector_ones[i], 0, 0};
	if (info->base_score_bracketed)
		edits[k++] = (UbjEdit) {info->base_score_start, info->base_score_end, 1};
	for (int i = 0; i < info->num_narrow_arrays; i++)
		edits[k++] = (UbjEdit) {info->narrow_arrays[2 * i], info->narrow_arrays[2 * i + 1], 2};
	qsort(edits, num_edits, sizeof(UbjEdit), compare_edits);

	initStringInfo(&out);
	appendStringInfoSpaces(&out, VARHDRSZ);
	for (int i = 0; i < num_edits; i++)
	{
		UbjEdit    *e = &edits[i];
		Size		n = 0;
		Size		end = 0;
		const char *body = NULL;

		if (e->kind != 2)
			body = ubjson_string_at(data, len, e->start, &n, &end);
		if (e->kind == 0 && (body == NULL || n != 1 || *body != '1'))
			elog(ERROR, "fraud_score: size_leaf_vector of the UBJSON model not found where it was read");
		if (e->kind == 1 && (body == NULL || end != e->end || n < 2 || body[0] != '[' || body[n - 1] != ']'))
			elog(ERROR, "fraud_score: base_score of the UBJSON model not found where it was read");
		if (e->kind != 2)
			e->end = end;
		if (e->start < done)
			elog(ERROR, "fraud_score: changes to the UBJSON model overlap");
		appendBinaryStringInfo(&out, data + done, e->start - done);
		if (e->kind == 0)
			append_ubjson_string(&out, "0", 1);
		else if (e->kind == 1)
			append_ubjson_string(&out, body + 1, n - 2);
		else
			append_widened_array(&out, data, e->start, e->end);
		done = e->end;
	}
	appendBinaryStringInfo(&out, data + done, len - done);
	SET_VARSIZE(out.data, out.len);
	pfree(edits);
	return (bytea *) out.data;
}

/* The JSON changes model_normalize makes. */
static bytea *
normalize_json(const char *data, Size len, const ModelInfo *info)
{
	char	   *copy = palloc(len);
	StringInfoData out;
	Size		start = 0,
				end = 0;

	memcpy(copy, data, len);
	/* size_leaf_vector "1" -> "0", in place */
	for (const char *v = copy; (v = json_key_value(v, copy + len, "size_leaf_vector")) != NULL;)
	{
		if (copy + len - v >= 3 && memcmp(v, "\"1\"", 3) == 0)
			((char *) v)[1] = '0';
		v++;
	}

	/* then base_score "[x]" -> "x", which changes the length */
	initStringInfo(&out);
	appendStringInfoSpaces(&out, VARHDRSZ);
	if (info->base_score_bracketed)
	{
		const char *v = json_key_value(copy, copy + len, "base_score");
		const char *close;

		while (v != NULL && !(copy + len - v >= 2 && v[0] == '"' && v[1] == '['))
			v = json_key_value(v, copy + len, "base_score");
		close = v ? memchr(v + 1, '"', copy + len - v - 1) : NULL;
		if (close == NULL || close[-1] != ']')
			elog(ERROR, "fraud_score: base_score of the JSON model not found where it was read");
		start = v - copy;
		end = close + 1 - copy;
		appendBinaryStringInfo(&out, copy, start);
		appendStringInfoChar(&out, '"');
		appendBinaryStringInfo(&out, v + 2, close - 1 - (v + 2));
		appendStringInfoChar(&out, '"');
	}
	appendBinaryStringInfo(&out, copy + end, len - end);
	SET_VARSIZE(out.data, out.len);
	pfree(copy);
	return (bytea *) out.data;
}

/*
 * The model bytes as XGBoost 1.7.4 must get them to read and use the model
 * as the XGBoost that wrote it does, or NULL when they need no change:
 * - base_score written "[x]" (3.1 and later) becomes "x", which 1.7.4 would
 *   otherwise read as its default 0.5;
 * - size_leaf_vector "1" (2.0 and later, scalar leaves) becomes "0": 1.7.4
 *   reads it but refuses to predict with it;
 * - UBJSON typed arrays of int8 or int16 (3.1 and later write the category
 *   names of "cats" so) become int32 arrays, which 1.7.4 can parse; it does
 *   not use "cats".
 * 1.7.4 reads the rest of what other versions write as they mean it (JSON
 * without num_parallel_tree, keys it does not know); fraud_model_check
 * checks what it read against this validation.
 */
bytea *
model_normalize(const char *data, Size len, const ModelInfo *info)
{
	if (!info->base_score_bracketed && info->num_leaf_vector_ones == 0 &&
		info->num_narrow_arrays == 0)
		return NULL;
	if (strcmp(info->format, "ubjson") == 0)
		return normalize_ubjson(data, len, info);
	return normalize_json(data, len, info);
}

/*
 * Feature names as a model document stores them: UTF-8, whatever the
 * database's encoding (extract_feature_names converts them back).  The
 * names themselves are left as they are.
 */
char	  **
model_feature_names_to_utf8(char **names, int count)
{
	char	  **utf8 = palloc(sizeof(char *) * Max(count, 1));

	for (int i = 0; i < count; i++)
		utf8[i] = pg_server_to_any(names[i], strlen(names[i]), PG_UTF8);
	return utf8;
}

/*
 * Feature names as fraud_score uses them to match jsonb keys and columns:
 * present, non-empty, unique, and as many as the model has features.
 */
void
model_check_feature_names(char **names, int count, int num_features)
{
	if (count != num_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model has %d features, but %d feature names were given",
						num_features, count),
				 errhint("Pass exactly one name per model feature, in the model's feature order.")));
	for (int i = 0; i < count; i++)
	{
		if (names[i] == NULL || names[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature name %d is empty", i + 1)));
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature name \"%s\" appears more than once", names[i])));
	}
}
