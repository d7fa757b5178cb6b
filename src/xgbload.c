/*-------------------------------------------------------------------------
 *
 * xgbload.c
 *		Loading the XGBoost library, fraud_score_xgboost, the first time a
 *		backend needs it (xgb.h): the postmaster never does, so it never
 *		starts XGBoost or OpenMP threads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "xgb.h"

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
