/*-------------------------------------------------------------------------
 *
 * xgb.h
 *		The XGBoost C API as the rest of fraud_score sees it.
 *
 * xgb.c is built as its own library, fraud_score_xgboost, the only one
 * linked with libxgboost: the native evaluator never needs XGBoost, and
 * loading it (libxgboost, libstdc++, OpenMP) cost every new backend several
 * milliseconds.  The core loads it on first use through xgb_api(), and the
 * functions below call through the table it exports.
 *
 * Bytes handed to these functions must already have passed
 * model_validate(): XGBoost 1.7 crashes or loops on some malformed models.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRAUD_SCORE_XGB_H
#define FRAUD_SCORE_XGB_H

#include "utils/memutils.h"

typedef struct XgbModel XgbModel;

/*
 * Training: a booster over a training matrix and an optional validation
 * matrix (rows of floats, NaN = missing; labels 0/1).  Everything is freed
 * when "owner" is reset or deleted.
 */
typedef struct XgbTraining XgbTraining;

typedef struct XgbApi
{
	/*
	 * Load a validated model.  The booster is freed when "owner" is reset
	 * or deleted, including by error cleanup.
	 */
	XgbModel   *(*load) (const char *data, Size len, int num_features, MemoryContext owner);

	/* Probability for one row of num_features floats (NaN = missing). */
	double		(*predict_one) (XgbModel *model, const float *features);

	/* XGBoost's pred_contribs (or approx_contribs) for one row, bias last. */
	void		(*contributions) (XgbModel *model, const float *features, bool approximate,
								  double *out);

	/*
	 * Load a validated model, stamp the given feature names into it and
	 * return it re-saved in XGBoost's UBJSON format (palloc'd bytea).
	 */
	bytea	   *(*to_ubjson) (const char *data, Size len, char **feature_names, int num_features);

	XgbTraining *(*train_begin) (const float *x, const float *y, int nrow,
								 const float *valid_x, const float *valid_y,
								 int valid_nrow, int ncol, MemoryContext owner);
	void		(*train_set_param) (XgbTraining *training, const char *key, const char *value);
	void		(*train_round) (XgbTraining *training, int iteration);
	char	   *(*train_eval) (XgbTraining *training, int iteration);
	void		(*train_predict_validation) (XgbTraining *training, double *out);
	bytea	   *(*train_save) (XgbTraining *training, char **feature_names, int num_features);
} XgbApi;

/* The library's single export. */
typedef const XgbApi *(*XgbApiFunction) (void);
#define XGB_LIBRARY "$libdir/fraud_score_xgboost"
#define XGB_API_FUNCTION "fraud_score_xgb_api"

#ifndef FRAUD_SCORE_XGB_LIBRARY

/* xgbload.c: loads the library on first use. */
extern const XgbApi *xgb_api(void);

static inline XgbModel *
xgb_load(const char *data, Size len, int num_features, MemoryContext owner)
{
	return xgb_api()->load(data, len, num_features, owner);
}

static inline double
xgb_predict_one(XgbModel *model, const float *features)
{
	return xgb_api()->predict_one(model, features);
}

static inline void
xgb_contributions(XgbModel *model, const float *features, bool approximate, double *out)
{
	xgb_api()->contributions(model, features, approximate, out);
}

static inline bytea *
xgb_to_ubjson(const char *data, Size len, char **feature_names, int num_features)
{
	return xgb_api()->to_ubjson(data, len, feature_names, num_features);
}

static inline XgbTraining *
xgb_train_begin(const float *x, const float *y, int nrow, const float *valid_x,
				const float *valid_y, int valid_nrow, int ncol, MemoryContext owner)
{
	return xgb_api()->train_begin(x, y, nrow, valid_x, valid_y, valid_nrow, ncol, owner);
}

static inline void
xgb_train_set_param(XgbTraining *training, const char *key, const char *value)
{
	xgb_api()->train_set_param(training, key, value);
}

static inline void
xgb_train_round(XgbTraining *training, int iteration)
{
	xgb_api()->train_round(training, iteration);
}

static inline char *
xgb_train_eval(XgbTraining *training, int iteration)
{
	return xgb_api()->train_eval(training, iteration);
}

static inline void
xgb_train_predict_validation(XgbTraining *training, double *out)
{
	xgb_api()->train_predict_validation(training, out);
}

static inline bytea *
xgb_train_save(XgbTraining *training, char **feature_names, int num_features)
{
	return xgb_api()->train_save(training, feature_names, num_features);
}

#endif							/* FRAUD_SCORE_XGB_LIBRARY */

#endif							/* FRAUD_SCORE_XGB_H */
