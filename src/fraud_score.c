/*-------------------------------------------------------------------------
 *
 * fraud_score.c
 *		Module entry: PG_MODULE_MAGIC and _PG_init, which defines the GUCs
 *		(gucs.c) and registers each file's callbacks and hooks.
 *
 * Works whether loaded through shared_preload_libraries (then _PG_init runs
 * in the postmaster) or on first use in a backend.  Nothing here loads
 * XGBoost (xgbload.c does, in a backend that needs it).  No other file
 * calls into this one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "fraud_score.h"
#include "velocity.h"
#include "vcache.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void
_PG_init(void)
{
	gucs_define();
	featurefn_init();
	catalog_init();
	trigger_init();
	shadow_init();
	stats_init();
	vset_init();
	vcache_init();
}
