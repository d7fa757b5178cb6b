/*-------------------------------------------------------------------------
 *
 * fuzz_forest.c
 *		libFuzzer target: stored forest bytes -> forest_from_bytes ->
 *		forest_predict.
 *
 * Owns the stored forest's fuzz target.  catalog.c reads a compiled forest
 * from the catalog row (which the table's owner can write directly) and
 * trusts it once forest_from_bytes has accepted it.  Any byte string must
 * therefore be refused (NULL with a reason, no ERROR) or give a forest on
 * which forest_predict stays within its arrays and returns a finite
 * probability equal, bit for bit, to a plain walk of the same nodes that
 * follows every split down to its leaf (forest.h's encoding, read the slow
 * way), so that a group depth too small to reach a leaf shows too.
 *
 * forest_from_bytes also takes the model's sha256 and feature count, which
 * must match the header; they are read from the input's own header
 * (forest.c's ForestHeader: sha256 at bytes 40-103, num_features at 20), so
 * that the fuzzer gets past them.  Feature counts a model cannot have
 * (model.c allows 1 to 10000) are replaced by 1, as no catalog row has them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "forest.h"
#include "shim.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

#define HEADER_NUM_FEATURES_AT 20
#define HEADER_SHA256_AT 40
#define SHA256_HEX_LEN 64

static bool verbose = false;

static float
ref_sigmoid(float x)
{
	const float eps = 1e-16f;
	float		neg = Min(-x, 88.7f);

	return 1.0f / (expf(neg) + 1.0f + eps);
}

/*
 * A categorical split read the slow way: the value's code, its word and bit
 * found by division, every way a code can be invalid tested one by one.
 */
static bool
ref_category_right(const Forest *forest, const ForestNode *node, float v, bool default_left)
{
	uint32		bits;
	uint32		index;
	const ForestCategorySet *set;
	double		code;

	memcpy(&bits, &node->condition, sizeof(bits));
	index = bits & 0x3FFFFF;
	if (index >= (uint32) forest->num_category_sets)
		shim_fail("accepted forest: a categorical split names set %u of %d",
				  index, forest->num_category_sets);
	set = &forest->category_sets[index];
	if ((uint64) set->first_word + set->num_words > (uint64) forest->num_category_words)
		shim_fail("accepted forest: category set %u lies beyond the words", index);
	if (isnan(v))
		return !default_left;
	if (v < 0 || isinf(v) || v >= 16777216.0f)
		return false;
	code = trunc((double) v);
	if (code >= 32.0 * set->num_words)
		return false;
	return (forest->category_words[set->first_word + (uint32) code / 32] &
			((uint32) 1 << ((uint32) code % 32))) != 0;
}

/* forest.h's encoding, walked node by node until each tree's leaf. */
static double
ref_predict(const Forest *forest, const double *row)
{
	float		margin = forest->base_margin;
	int			n = forest->num_features;

	for (int t = 0; t < forest->num_trees; t++)
	{
		int			i = forest->roots[t];
		int			end = t + 1 < forest->num_trees ? forest->roots[t + 1] : forest->num_nodes;
		int			steps = 0;

		while (forest->nodes[i].child_delta != 0)
		{
			const ForestNode *node = &forest->nodes[i];
			int			input = node->input;
			float		v = (float) row[input % n];

			if (input >= 2 * n || i + node->child_delta + 1 >= end)
				shim_fail("accepted forest: tree %d node %d reads input %d or has children beyond its tree",
						  t, i, input);
			if (isnan(node->condition))
				i += node->child_delta + ref_category_right(forest, node, v, input >= n);
			else
			{
				/* a missing value reads +Infinity, or -Infinity where it goes left */
				if (isnan(v))
					v = input >= n ? -INFINITY : INFINITY;
				i += node->child_delta + (v >= node->condition);
			}
			if (++steps > forest->num_nodes)
				shim_fail("accepted forest: tree %d never reaches a leaf", t);
		}
		margin += forest->nodes[i].condition;
	}
	return (double) ref_sigmoid(margin);
}

static void
check_row(const Forest *forest, const double *row, const char *row_kind)
{
	double		p = forest_predict(forest, row);
	double		expected = ref_predict(forest, row);

	if (!isfinite(p) || p < 0 || p > 1)
		shim_fail("forest_predict gave %g on the %s row, not a probability", p, row_kind);
	if (memcmp(&p, &expected, sizeof(double)) != 0)
		shim_fail("forest_predict gave %.17g on the %s row; walking every tree to its leaf gives %.17g",
				  p, row_kind, expected);
}

static void
check_forest(const Forest *forest, const uint8 *data, size_t size)
{
	int			n = forest->num_features;
	double	   *row = palloc(sizeof(double) * n);
	uint64		rng = 0x84222325CBF29CE4;
	static const float fills[] = {NAN, 0.0f, INFINITY, -INFINITY};

	if (!isfinite(forest->base_margin))
		shim_fail("accepted forest has base margin %g", forest->base_margin);
	for (size_t k = 0; k < lengthof(fills); k++)
	{
		for (int i = 0; i < n; i++)
			row[i] = fills[k];
		check_row(forest, row, k == 0 ? "all-NaN" : k == 1 ? "zeros" : "infinite");
	}
	for (size_t i = 0; i < size; i++)
		rng = (rng ^ data[i]) * UINT64CONST(0x100000001B3);
	for (int k = 0; k < 4; k++)
	{
		for (int i = 0; i < n; i++)
		{
			uint64		r = shim_random(&rng);

			if (r % 4 == 0 && forest->num_nodes > 0)
			{
				/* a split condition of the forest, or one float step below it */
				float		c = forest->nodes[(r >> 8) % forest->num_nodes].condition;

				row[i] = (r >> 40) % 2 ? nextafterf(c, -INFINITY) : c;
			}
			else if (r % 4 == 1)
				row[i] = (r >> 8) % 2 ? NAN : (float) ((r >> 16) % 80) - 8.0f + ((r >> 24) % 2) * 0.5f;
			else
			{
				uint32		bits = (uint32) (r >> 16);
				float		f;

				memcpy(&f, &bits, sizeof(float));
				row[i] = f;
			}
		}
		check_row(forest, row, "random");
	}
}

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
	char		sha256[SHA256_HEX_LEN + 1];
	int32		num_features = 1;
	Forest	   *volatile forest = NULL;
	const char *volatile why = NULL;

	/* the model's identity and feature count, as the header claims them */
	memset(sha256, 'a', SHA256_HEX_LEN);
	sha256[SHA256_HEX_LEN] = '\0';
	if (size >= HEADER_SHA256_AT + SHA256_HEX_LEN)
	{
		memcpy(sha256, data + HEADER_SHA256_AT, SHA256_HEX_LEN);
		for (int i = 0; i < SHA256_HEX_LEN; i++)
			if (sha256[i] == '\0')
				sha256[i] = 'a';
		memcpy(&num_features, data + HEADER_NUM_FEATURES_AT, sizeof(int32));
		if (num_features < 1 || num_features > 10000)
			num_features = 1;
	}

	PG_TRY();
	{
		const char *reason = NULL;

		forest = forest_from_bytes((const char *) data, size, sha256, num_features,
								   forest_context, &reason);
		why = reason;
	}
	PG_CATCH();
	{
		const ShimError *e = shim_last_error();

		MemoryContextSwitchTo(iteration);
		FlushErrorState();
		shim_fail("forest_from_bytes raised SQLSTATE %s at %s:%d: %s; it should return NULL",
				  unpack_sql_state(e->sqlerrcode), e->filename, e->lineno, e->message);
	}
	PG_END_TRY();

	if (forest == NULL)
	{
		if (why == NULL)
			shim_fail("forest_from_bytes refused the bytes without a reason");
		if (verbose)
			fprintf(stderr, "refused: %s\n", why);
	}
	else
	{
		if (verbose)
			fprintf(stderr, "accepted: %d trees, %d nodes, %d features\n",
					forest->num_trees, forest->num_nodes, forest->num_features);
		if (forest->num_features != num_features)
			shim_fail("accepted forest has %d features, not %d", forest->num_features,
					  num_features);
		check_forest(forest, data, size);
	}
	shim_iteration_end();
	return 0;
}
