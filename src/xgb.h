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

/*
 * Training: a booster over a training matrix and an optional validation
 * matrix (rows of floats, NaN = missing; labels 0/1).  Everything is freed
 * when "owner" is reset or deleted.
 */
typedef struct XgbTraining XgbTraining;

extern XgbTraining *xgb_train_begin(const float *x, const float *y, int nrow,
									const float *valid_x, const float *valid_y,
									int valid_nrow, int ncol, MemoryContext owner);
extern void xgb_train_set_param(XgbTraining *training, const char *key, const char *value);
extern void xgb_train_round(XgbTraining *training, int iteration);
extern char *xgb_train_eval(XgbTraining *training, int iteration);
extern void xgb_train_predict_validation(XgbTraining *training, double *out);
extern bytea *xgb_train_save(XgbTraining *training, char **feature_names, int num_features);
