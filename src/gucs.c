/*-------------------------------------------------------------------------
 *
 * gucs.c
 *		fraud_score's configuration parameters (fraud_score.*).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "miscadmin.h"
#include "utils/guc.h"

#include "fraud_score.h"

char	   *fraud_score_default_model = NULL;
int			fraud_score_max_model_size_kb = 64 * 1024;
int			fraud_score_engine = ENGINE_NATIVE;
int			fraud_score_on_error = ON_ERROR_ERROR;
int			fraud_score_reasons_for = REASONS_FOR_FLAGGED;
int			fraud_score_reasons_count = 3;
int			fraud_score_stats_max = 1000;
bool		fraud_score_track_stats = true;
int			fraud_score_stats_timing_interval = 8;
int			fraud_score_malloc_trim_threshold_kb = 8 * 1024;
int			fraud_score_bucket_cache_kb = 8 * 1024;

static const struct config_enum_entry reasons_for_options[] = {
	{"flagged", REASONS_FOR_FLAGGED, false},
	{"all", REASONS_FOR_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry engine_options[] = {
	{"native", ENGINE_NATIVE, false},
	{"xgboost", ENGINE_XGBOOST, false},
	{NULL, 0, false}
};

static const struct config_enum_entry on_error_options[] = {
	{"error", ON_ERROR_ERROR, false},
	{"review", ON_ERROR_REVIEW, false},
	{"approve", ON_ERROR_APPROVE, false},
	{NULL, 0, false}
};

/* fraud_score_stats' settings (stats.c). */
static void
define_stats_gucs(void)
{
	/* A server-start setting can only be defined at server start. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("fraud_score.stats_max",
								"How many model versions fraud_score_stats keeps counters for, over all databases.",
								"When it is full, the version that served least recently is forgotten.",
								&fraud_score_stats_max,
								1000,
								100,
								100000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	/* Superuser-only: turning it off hides a role's calls from the DBA. */
	DefineCustomBoolVariable("fraud_score.track_stats",
							 "Whether scoring counts calls, decisions, errors and latency in fraud_score_stats.",
							 NULL,
							 &fraud_score_track_stats,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("fraud_score.stats_timing_interval",
							"Time one scoring call in this many for fraud_score_stats, beyond the first of each transaction.",
							"Reading the clock costs a few percent of a batch-inserted row; 1 times every call.",
							&fraud_score_stats_timing_interval,
							8,
							1,
							1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

/*
 * glibc returns the top of the heap to the system whenever more than
 * M_TRIM_THRESHOLD of it is free (128 kB, or adjusted by its own
 * heuristics).  palloc hands chunks over 8 kB straight to malloc, and every
 * B-tree scan takes about 30-45 kB, so a scoring call's scans, freed as
 * they end, shrank and regrew the heap with brk() several times per row:
 * over 100 us per inserted row of a declared feature set on a virtual
 * machine (bench/velocity_hot.sh).  Keeping a few megabytes mapped avoids it.
 */
static void
assign_malloc_trim_threshold(int newval, void *extra)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
	mallopt(M_TRIM_THRESHOLD, newval * 1024);
#endif
}

/* Declared feature sets' bucket copies (vcache.c). */
static void
define_cache_gucs(void)
{
	/*
	 * Superuser-only, as fraud_score.malloc_trim_threshold: memory each
	 * backend keeps.  The copies need fraud_score in
	 * shared_preload_libraries (vcache.c).
	 */
	DefineCustomIntVariable("fraud_score.bucket_cache_size",
							"Memory each backend keeps for copies of declared feature sets' finer bucket rows.",
							"The copies need fraud_score in shared_preload_libraries; 0 keeps none.",
							&fraud_score_bucket_cache_kb,
							8 * 1024,
							0,
							1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
}

void
gucs_define(void)
{
	DefineCustomStringVariable("fraud_score.default_model",
							   "Model used when fraud_score() or fraud_decide() is given no model name.",
							   NULL,
							   &fraud_score_default_model,
							   "default",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("fraud_score.max_model_size",
							"Largest model, in bytes as loaded or stored, that fraud_score accepts.",
							"Guards backend memory: a model is parsed and validated in full before use.",
							&fraud_score_max_model_size_kb,
							64 * 1024,
							1,
							1024 * 1024,	/* 1GB, the bytea limit */
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("fraud_score.engine",
							 "Evaluator that scores rows: native (fraud_score's own) or xgboost (the C API).",
							 "Both give XGBoost's predictions; native skips XGBoost's per-call overhead.",
							 &fraud_score_engine,
							 ENGINE_NATIVE,
							 engine_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Superuser-only: a role that could set it could also make its own rows
	 * unscorable on purpose and have them approved.
	 */
	DefineCustomEnumVariable("fraud_score.on_error",
							 "What fraud_score_trigger() does with a row it cannot score: error, review or approve.",
							 "With review or approve, the row is written with that decision and a NULL score, "
							 "a WARNING is raised and fraud_score_stats counts the failure.",
							 &fraud_score_on_error,
							 ON_ERROR_ERROR,
							 on_error_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("fraud_score.reasons_for",
							 "Which rows fraud_score_trigger() writes reasons for: flagged (review or decline) or all.",
							 "Explaining costs more than scoring; with flagged, approved rows get a NULL reasons column and cost nothing more.",
							 &fraud_score_reasons_for,
							 REASONS_FOR_FLAGGED,
							 reasons_for_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("fraud_score.reasons_count",
							"How many reasons fraud_score_trigger() writes: the features that raised the score most.",
							NULL,
							&fraud_score_reasons_count,
							3,
							1,
							100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	/*
	 * Superuser-only: it sets how much freed memory each backend keeps,
	 * which is the DBA's to budget.
	 */
	DefineCustomIntVariable("fraud_score.malloc_trim_threshold",
							"Free memory at the top of a backend's heap that malloc keeps rather than returns to the system.",
							"Set in backends that load fraud_score, with glibc's malloc; glibc's own default is 128 kB.",
							&fraud_score_malloc_trim_threshold_kb,
							8 * 1024,
							0,
							1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, assign_malloc_trim_threshold, NULL);

	define_cache_gucs();
	define_stats_gucs();

	MarkGUCPrefixReserved("fraud_score");
}
