/*-------------------------------------------------------------------------
 *
 * xgb.h
 *		The XGBoost C API as the rest of fraud_score sees it.
 *
 * Only xgb.c includes xgboost/c_api.h.  Bytes handed to these functions must
 * already have passed model_validate(): XGBoost 1.7 crashes or loops on some
 * malformed models.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_XGB_H
#define FRAUD_SCORE_XGB_H

#include "utils/memutils.h"

typedef struct XgbModel XgbModel;

/*
 * Load a validated model.  The booster is freed when "owner" is reset or
 * deleted, including by error cleanup.
 */
extern XgbModel *xgb_load(const char *data, Size len, int num_features,
						  MemoryContext owner);

/* Probability for one row of num_features floats (NaN = missing). */
extern double xgb_predict_one(XgbModel *model, const float *features);

/*
 * Load a validated model, stamp the given feature names into it and return
 * it re-saved in XGBoost's UBJSON format (palloc'd bytea).
 */
extern bytea *xgb_to_ubjson(const char *data, Size len,
							char **feature_names, int num_features);

#endif							/* FRAUD_SCORE_XGB_H */
