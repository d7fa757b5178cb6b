/*-------------------------------------------------------------------------
 *
 * fuzz_lgbm.c
 *		libFuzzer target: LightGBM text -> model_validate -> the LightGBM
 *		forest.
 *
 * Owns the LightGBM parser's fuzz target.  Any byte string must either be
 * accepted or refused with one of the SQLSTATEs a model can be refused
 * with; a crash, hang, leak or sanitizer report is a failure.  An accepted
 * LightGBM model must come with a forest that passes lgbm_forest_check,
 * survives lgbm_forest_to_bytes and lgbm_forest_from_bytes (as the catalog
 * stores and reloads it) and then scores every row bit for bit the same,
 * reaching leaves inside each tree.  (XGBoost documents the mutations may
 * turn into are fuzz_model's.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "fraud_score.h"
#include "lgbmforest.h"
#include "shim.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

#define SHA256_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* A value near the forest's decisions: a threshold, a category, a special. */
static double
random_input(uint64 *rng, const LgbmForest *forest)
{
	uint64		r = shim_random(rng);

	switch (r % 6)
	{
		case 0:
			return NAN;
		case 1:
			return (r >> 8) % 2 ? 0.0 : 1e-36;
		case 2:
			return (double) ((int) ((r >> 8) % 80) - 10) + ((r >> 20) % 4 == 0 ? 0.5 : 0.0);
		case 3:
			return (r >> 8) % 2 ? INFINITY : -1e300;
		default:
			if (forest->num_nodes > 0)
			{
				double		t = forest->nodes[(r >> 8) % forest->num_nodes].threshold;

				return r % 6 == 5 ? nextafter(t, INFINITY) : t;
			}
			return 0.5;
	}
}

static void
check_row(const LgbmForest *forest, const LgbmForest *stored, const double *row)
{
	double		p = lgbm_forest_predict(forest, row);
	double		q = lgbm_forest_predict(stored, row);
	int32	   *leaves = palloc(sizeof(int32) * Max(forest->num_trees, 1));

	if (memcmp(&p, &q, sizeof(double)) != 0 && !(isnan(p) && isnan(q)))
		shim_fail("the stored forest scores %.17g, the forest built from the text %.17g", q, p);
	if (!isnan(p) && (p < 0 || p > 1))
		shim_fail("a LightGBM forest gave %g, not a probability", p);
	lgbm_forest_leaves(forest, row, leaves);
	for (int t = 0; t < forest->num_trees; t++)
		if (leaves[t] < 0 || leaves[t] >= forest->trees[t].num_leaves)
			shim_fail("tree %d reached leaf %d of %d", t, leaves[t], forest->trees[t].num_leaves);
	pfree(leaves);
}

static void
check_accepted(const uint8 *data, size_t size, const ModelInfo *info)
{
	const LgbmForest *forest = info->lgbm;
	bytea	   *bytes;
	const char *why = NULL;
	LgbmForest *stored;
	double	   *row;
	uint64		rng = 0x84222325CBF29CE4;

	if (strcmp(info->library, "lightgbm") != 0)
		return;
	if (forest == NULL)
		shim_fail("an accepted LightGBM model has no forest");
	if ((why = lgbm_forest_check(forest)) != NULL)
		shim_fail("an accepted LightGBM model's forest fails its check: %s", why);
	if (info->num_features != forest->num_features || info->num_trees != forest->num_trees)
		shim_fail("an accepted LightGBM model reports %d features and %d trees, its forest %d and %d",
				  info->num_features, info->num_trees, forest->num_features, forest->num_trees);
	bytes = lgbm_forest_to_bytes(forest, SHA256_HEX);
	stored = lgbm_forest_from_bytes(VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ, SHA256_HEX,
									forest->num_features, CurrentMemoryContext, &why);
	if (stored == NULL)
		shim_fail("lgbm_forest_from_bytes refuses the forest the text built: %s", why);
	row = palloc(sizeof(double) * Max(forest->num_features, 1));
	for (size_t i = 0; i < size; i++)
		rng = (rng ^ data[i]) * UINT64CONST(0x100000001B3);
	for (int k = 0; k < 6; k++)
	{
		for (int f = 0; f < forest->num_features; f++)
			row[f] = k == 0 ? NAN : k == 1 ? 0.0 : random_input(&rng, forest);
		check_row(forest, stored, row);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shim_init();
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
		if (!shim_model_refusal(e->sqlerrcode))
			shim_fail("model_validate raised SQLSTATE %s at %s:%d: %s (%s)",
					  unpack_sql_state(e->sqlerrcode), e->filename, e->lineno, e->message,
					  e->detail);
	}
	PG_END_TRY();
	if (accepted)
		check_accepted(data, size, &info);
	shim_iteration_end();
	return 0;
}
