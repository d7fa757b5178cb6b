/*-------------------------------------------------------------------------
 *
 * fuzz_model.c
 *		libFuzzer target: model bytes -> model_validate -> forest_predict.
 *
 * Owns the model loader's fuzz target.  Any byte string must either be
 * accepted or raise an ERROR with one of the SQLSTATEs a model can be
 * refused with (README.md's error table); a crash, hang, leak, sanitizer
 * report or any other error is a failure.  An accepted model is checked for
 * what callers rely on, and when model_validate built a Forest (UBJSON
 * input), forest_predict is run on a few rows and compared, bit for bit,
 * with a plain XGBoost-style walk of the same document: every node a
 * branch, "value < condition" goes left, a missing value goes the default
 * way, a categorical split sends a code right when its list of categories
 * has it (after truncation toward zero; negative codes and codes of 2^24
 * and more never), leaves added in tree order in float, XGBoost's float
 * sigmoid.
 * The forest also goes through forest_to_bytes and forest_from_bytes, as
 * catalog.c stores and reloads it, and must come back scoring the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "utils/memutils.h"

#include "fraud_score.h"
#include "forest.h"
#include "modeldoc.h"
#include "shim.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

typedef struct RefTree
{
	int			num_nodes;
	const double *left;
	const double *right;
	const double *split_index;
	const double *split_cond;
	const double *default_left;
	const double *split_type;	/* NULL: no categorical split */
	const DocValue *categories_nodes;
	const DocValue *categories_segments;
	const DocValue *categories_sizes;
	const DocValue *categories;
} RefTree;

static const double *
ref_array(const DocValue *tree, const char *key)
{
	DocValue   *v = doc_get(tree, key);

	if (v == NULL || v->kind != DOC_NUMARRAY)
		shim_fail("accepted model: \"%s\" is not a numeric array on a second reading", key);
	return v->u.numbers;
}

/* The trees of a model that model_validate accepted, read again. */
static RefTree *
ref_trees(const char *data, size_t size, int num_trees)
{
	DocValue   *root = doc_parse_ubjson(data, size);
	DocValue   *gbtree = doc_get(doc_get(doc_get(root, "learner"), "gradient_booster"), "model");
	DocValue   *trees = doc_get(gbtree, "trees");
	RefTree    *result = palloc0(sizeof(RefTree) * Max(num_trees, 1));

	if (trees == NULL || trees->count != num_trees)
		shim_fail("accepted model: trees differ on a second reading");
	for (int t = 0; t < num_trees; t++)
	{
		DocValue   *tree = trees->u.items[t];
		DocValue   *num_nodes = doc_get(doc_get(tree, "tree_param"), "num_nodes");

		result[t].num_nodes = num_nodes->kind == DOC_STRING ?
			atoi(num_nodes->u.string) : (int) num_nodes->u.number;
		result[t].left = ref_array(tree, "left_children");
		result[t].right = ref_array(tree, "right_children");
		result[t].split_index = ref_array(tree, "split_indices");
		result[t].split_cond = ref_array(tree, "split_conditions");
		result[t].default_left = ref_array(tree, "default_left");
		if (doc_get(tree, "split_type") != NULL)
		{
			result[t].split_type = ref_array(tree, "split_type");
			result[t].categories_nodes = doc_get(tree, "categories_nodes");
			result[t].categories_segments = doc_get(tree, "categories_segments");
			result[t].categories_sizes = doc_get(tree, "categories_sizes");
			result[t].categories = doc_get(tree, "categories");
		}
	}
	return result;
}

static float
ref_sigmoid(float x)
{
	const float eps = 1e-16f;
	float		neg = Min(-x, 88.7f);

	return 1.0f / (expf(neg) + 1.0f + eps);
}

/* Whether node i's list of categories has the code of v (not missing). */
static bool
ref_category_chosen(const RefTree *tree, int i, float v)
{
	double		code;

	if (v < 0 || v >= 16777216.0f)
		return false;
	code = trunc((double) v);
	for (int k = 0; k < tree->categories_nodes->count; k++)
	{
		int			begin;
		int			size;

		if (tree->categories_nodes->u.numbers[k] != i)
			continue;
		begin = (int) tree->categories_segments->u.numbers[k];
		size = (int) tree->categories_sizes->u.numbers[k];
		for (int j = begin; j < begin + size; j++)
			if (tree->categories->u.numbers[j] == code)
				return true;
	}
	return false;
}

/* XGBoost 1.7's CPU predictor for one row, written the obvious way. */
static double
ref_predict(const RefTree *trees, int num_trees, double base_score, const double *x)
{
	float		margin = -logf(1.0f / (float) base_score - 1.0f);

	for (int t = 0; t < num_trees; t++)
	{
		const RefTree *tree = &trees[t];
		int			i = 0;
		int			steps = 0;

		while (tree->left[i] != -1)
		{
			float		v = (float) x[(int) tree->split_index[i]];
			bool		go_left;

			if (isnan(v))
				go_left = tree->default_left[i] != 0;
			else if (tree->split_type != NULL && tree->split_type[i] == 1)
				go_left = !ref_category_chosen(tree, i, v);
			else
				go_left = v < (float) tree->split_cond[i];
			i = (int) (go_left ? tree->left[i] : tree->right[i]);
			if (++steps > tree->num_nodes)
				shim_fail("accepted model: tree %d has a cycle", t);
		}
		margin += (float) tree->split_cond[i];
	}
	return (double) ref_sigmoid(margin);
}

static void
check_prediction(const Forest *forest, const RefTree *trees, int num_trees,
				 double base_score, const double *row, const char *row_kind)
{
	double		p = forest_predict(forest, row);
	double		expected = ref_predict(trees, num_trees, base_score, row);

	if (!isfinite(p) || p < 0 || p > 1)
		shim_fail("forest_predict gave %g on the %s row, not a probability", p, row_kind);
	if (memcmp(&p, &expected, sizeof(double)) != 0)
		shim_fail("forest_predict gave %.17g on the %s row; a plain walk of the trees gives %.17g",
				  p, row_kind, expected);
}

/* A value near the model's own decisions: a split condition, just below or above it. */
static float
random_input(uint64 *rng, const RefTree *trees, int num_trees)
{
	uint64		r = shim_random(rng);

	switch (r % 8)
	{
		case 0:
			return NAN;
		case 1:
			return (r >> 8) % 2 ? INFINITY : -INFINITY;
		case 2:
			/* small integers and halves: category codes too */
			return (float) ((int) ((r >> 8) % 41) - 10) + ((r >> 20) % 4 == 0 ? 0.5f : 0.0f);
		case 3:
			{
				uint32		bits = (uint32) (r >> 16);
				float		f;

				memcpy(&f, &bits, sizeof(f));
				return f;
			}
		default:
			if (num_trees > 0)
			{
				const RefTree *tree = &trees[(r >> 8) % num_trees];
				float		c = (float) tree->split_cond[(r >> 24) % tree->num_nodes];

				if (r % 8 == 5)
					return nextafterf(c, -INFINITY);
				if (r % 8 == 6)
					return nextafterf(c, INFINITY);
				return c;
			}
			return 0.5f;
	}
}

/* Any 64 characters: forest_from_bytes only compares them with the header's. */
#define SHA256_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/*
 * The forest as catalog.c stores it and reads it back: forest_from_bytes must
 * take every forest model_validate builds, and score it the same.
 */
static Forest *
round_trip(const Forest *forest)
{
	bytea	   *stored = forest_to_bytes(forest, SHA256_HEX);
	const char *why = NULL;
	Forest	   *again = forest_from_bytes(VARDATA(stored), VARSIZE(stored) - VARHDRSZ,
										  SHA256_HEX, forest->num_features,
										  CurrentMemoryContext, &why);

	if (again == NULL)
	{
		if (isinf(forest->base_margin) && shim_known_bug("base_score"))
			return NULL;
		shim_fail("forest_from_bytes refuses the forest model_validate built: %s",
				  why ? why : "(no reason)");
	}
	if (again->num_trees != forest->num_trees || again->num_nodes != forest->num_nodes)
		shim_fail("the stored forest has %d trees and %d nodes, not %d and %d",
				  again->num_trees, again->num_nodes, forest->num_trees, forest->num_nodes);
	return again;
}

static void
check_row(const Forest *forest, const Forest *stored, const RefTree *trees, int num_trees,
		  double base_score, const double *row, const char *row_kind)
{
	check_prediction(forest, trees, num_trees, base_score, row, row_kind);
	if (stored != NULL)
	{
		double		p = forest_predict(forest, row);
		double		q = forest_predict(stored, row);

		if (memcmp(&p, &q, sizeof(double)) != 0)
			shim_fail("the stored forest gives %.17g on the %s row, the built one %.17g",
					  q, row_kind, p);
	}
}

static void
check_forest(const char *data, size_t size, const ModelInfo *info)
{
	const Forest *forest = info->forest;
	int			n = info->num_features;
	RefTree    *trees = ref_trees(data, size, info->num_trees);
	double	   *row = palloc(sizeof(double) * n);
	uint64		rng = 0xCBF29CE484222325;
	Forest	   *stored;

	if (forest->num_trees != info->num_trees || forest->num_features != n)
		shim_fail("forest has %d trees and %d features; the model has %d and %d",
				  forest->num_trees, forest->num_features, info->num_trees, n);
	stored = round_trip(forest);

	for (int i = 0; i < n; i++)
		row[i] = NAN;
	check_row(forest, stored, trees, info->num_trees, info->base_score, row, "all-NaN");
	for (int i = 0; i < n; i++)
		row[i] = 0.0f;
	check_row(forest, stored, trees, info->num_trees, info->base_score, row, "zeros");
	for (int i = 0; i < n; i++)
		row[i] = INFINITY;
	check_row(forest, stored, trees, info->num_trees, info->base_score, row, "+Infinity");
	for (int i = 0; i < n; i++)
		row[i] = -INFINITY;
	check_row(forest, stored, trees, info->num_trees, info->base_score, row, "-Infinity");

	for (size_t i = 0; i < size; i++)
		rng = (rng ^ (uint8) data[i]) * UINT64CONST(0x100000001B3);
	for (int k = 0; k < 4; k++)
	{
		for (int i = 0; i < n; i++)
			row[i] = random_input(&rng, trees, info->num_trees);
		check_row(forest, stored, trees, info->num_trees, info->base_score, row, "random");
	}
}

/* Whether any tree is too big for the native evaluator (forest.h). */
static bool
has_unrepresentable_tree(const char *data, size_t size, int num_trees)
{
	RefTree    *trees = ref_trees(data, size, num_trees);

	for (int t = 0; t < num_trees; t++)
		if (trees[t].num_nodes > FOREST_MAX_TREE_NODES)
			return true;
	return false;
}

/* What callers of model_validate rely on for an accepted model. */
static void
check_accepted(const char *data, size_t size, const ModelInfo *info)
{
	bool		ubjson = strcmp(info->format, "ubjson") == 0;

	/* LightGBM text (a mutation could make one) is fuzz_lgbm's */
	if (strcmp(info->library, "lightgbm") == 0)
		return;
	if (!ubjson && strcmp(info->format, "json") != 0)
		shim_fail("accepted model has format \"%s\"", info->format);
	if (strcmp(info->objective, "binary:logistic") != 0)
		shim_fail("accepted model has objective \"%s\"", info->objective);
	if (info->num_features < 1 || info->num_features > 10000 || info->num_trees < 0 ||
		info->num_nodes < info->num_trees)
		shim_fail("accepted model has %d features, %d trees, %d nodes",
				  info->num_features, info->num_trees, info->num_nodes);
	if (!(info->base_score > 0 && info->base_score < 1))
		shim_fail("accepted model has base_score %g", info->base_score);

	/*
	 * XGBoost keeps base_score as a float, and refuses to predict unless that
	 * float is strictly between 0 and 1 ("base_score must be in (0,1) for
	 * logistic loss"); the native evaluator's base margin would be infinite.
	 */
	if (!((float) info->base_score > 0.0f && (float) info->base_score < 1.0f) &&
		!shim_known_bug("base_score"))
		shim_fail("accepted base_score %.17g, which is %g as XGBoost's float: XGBoost refuses to predict with it",
				  info->base_score, (double) (float) info->base_score);
	if (info->feature_names != NULL)
	{
		for (int i = 0; i < info->num_features; i++)
		{
			if (info->feature_names[i] == NULL)
				shim_fail("accepted model has a NULL feature name %d", i);
			/* read every byte, so that a bad pointer shows here */
			(void) strlen(info->feature_names[i]);
		}
	}

	if (!ubjson)
	{
		if (info->forest != NULL)
			shim_fail("a forest was built from JSON");
		return;
	}
	if (info->forest == NULL)
	{
		if (!has_unrepresentable_tree(data, size, info->num_trees))
			shim_fail("no forest was built for a UBJSON model whose trees all fit");
		return;
	}
	check_forest(data, size, info);
}

/* FUZZ_VERBOSE=1: say what became of each input (for reproducing by hand). */
static bool verbose = false;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shim_init();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext iteration = shim_iteration_begin();
	MemoryContext forest_context = AllocSetContextCreate(iteration, "forest",
														 ALLOCSET_SMALL_SIZES);
	ModelInfo	info;
	volatile bool accepted = false;

	PG_TRY();
	{
		model_validate((const char *) data, size, &info, forest_context);
		accepted = true;
	}
	PG_CATCH();
	{
		const ShimError *e = shim_last_error();

		MemoryContextSwitchTo(iteration);
		FlushErrorState();
		if (verbose)
			fprintf(stderr, "refused: SQLSTATE %s: %s (%s)\n",
					unpack_sql_state(e->sqlerrcode), e->message, e->detail);
		if (!shim_model_refusal(e->sqlerrcode))
			shim_fail("model_validate raised SQLSTATE %s at %s:%d: %s (%s)",
					  unpack_sql_state(e->sqlerrcode), e->filename, e->lineno,
					  e->message, e->detail);
	}
	PG_END_TRY();

	if (accepted)
	{
		if (CurrentMemoryContext != iteration)
			shim_fail("model_validate returned in another memory context");
		if (verbose)
			fprintf(stderr, "accepted: %s, %d features, %d trees, %d nodes, %s\n",
					info.format, info.num_features, info.num_trees, info.num_nodes,
					info.forest ? "forest built" : "no forest");
		check_accepted((const char *) data, size, &info);
	}
	shim_iteration_end();
	return 0;
}
