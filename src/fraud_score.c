/*-------------------------------------------------------------------------
 *
 * fraud_score.c
 *		Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * Works whether loaded through shared_preload_libraries (then _PG_init runs
 * in the postmaster) or on first use in a backend.  Also loads the XGBoost
 * library, fraud_score_xgboost, when a backend first needs it (xgb.h): the
 * postmaster never does, so it never starts XGBoost or OpenMP threads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "fraud_score.h"
#include "xgb.h"

PG_MODULE_MAGIC;

char	   *fraud_score_default_model = NULL;
int			fraud_score_max_model_size_kb = 64 * 1024;
int			fraud_score_engine = ENGINE_NATIVE;
int			fraud_score_on_error = ON_ERROR_ERROR;

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

void		_PG_init(void);

void
_PG_init(void)
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
							 "a WARNING is raised and fraud_score_stats() counts the failure.",
							 &fraud_score_on_error,
							 ON_ERROR_ERROR,
							 on_error_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("fraud_score");

	featurefn_init();
	catalog_init();
	trigger_init();
	stats_init();
}

const XgbApi *
xgb_api(void)
{
	static const XgbApi *api = NULL;

	if (api == NULL)
	{
		XgbApiFunction get_api = (XgbApiFunction)
			load_external_function(XGB_LIBRARY, XGB_API_FUNCTION, true, NULL);

		api = get_api();
	}
	return api;
}
