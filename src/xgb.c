/*-------------------------------------------------------------------------
 *
 * xgb.c
 *		The only file that talks to the XGBoost C API; built alone as the
 *		library fraud_score_xgboost (see xgb.h), loaded on first use.
 *
 * Owns: turning XGBoost's 0/-1 return codes into ereport(ERROR), the
 * lifetime of booster handles (tied to a memory context, so error cleanup
 * frees them), and the single-row prediction path.
 *
 * Single-row prediction uses XGBoosterPredictFromDense with one proxy
 * DMatrix per backend and, per model, a fixed input buffer whose
 * array-interface string is built once at load: the per-call work is the
 * call itself.
 *
 * XGBoost never runs in the postmaster: this library is loaded only by a
 * backend that needs it (libgomp hangs after fork() once a thread pool
 * exists).
 *
 * Threads.  Scoring is single-threaded: OpenMP is pinned to one thread in
 * _PG_init, before any XGBoost call, and every booster loaded for scoring or
 * checking gets nthread=1.  Per-row work must not spread over cores or start
 * an OpenMP pool in every connection, and XGBoost's per-call thread overhead
 * would dominate a single row.  Training (fraud_model_train, one long
 * administrative statement) uses its "nthread" parameter, 1 by default and
 * at most 64 (train.c checks it): OpenMP's threads run only XGBoost's own
 * code and never call into PostgreSQL.  What keeps it so:
 *   - every training call that can run them (building the matrices, the
 *     rounds, evaluation, prediction, saving) is made with the asynchronous
 *     signals blocked, so the threads libgomp starts inherit a mask that
 *     keeps PostgreSQL's signal handlers (cancel, terminate, timeouts, latch
 *     wake-ups) on the backend's own thread; the pool stays, idle, until the
 *     backend exits;
 *   - XGBoost's log callback touches no PostgreSQL state (no palloc, no
 *     elog): it copies the message under a mutex, and the backend reports it
 *     at DEBUG1 after the call.  (In 1.7 the callback runs only on the thread
 *     that registered it, since the registry is thread-local, and OpenMP
 *     threads log to stderr; the mutex does not rely on that.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <xgboost/c_api.h>

#include "fmgr.h"
#include "utils/memutils.h"

#define FRAUD_SCORE_XGB_LIBRARY
#include "xgb.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
PGDLLEXPORT const XgbApi *fraud_score_xgb_api(void);

static double xgb_predict_one(XgbModel *model, const float *features);
static void xgb_train_set_param(XgbTraining *training, const char *key, const char *value);
static void xgb_contributions(XgbModel *model, const float *features, bool approximate,
							  double *out);

void
_PG_init(void)
{
	omp_set_num_threads(1);
}

struct XgbModel
{
	BoosterHandle booster;
	int			num_features;
	float	   *row;			/* input buffer that array_interface points at */
	char	   *array_interface;
};

static const char predict_config[] =
"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
"\"iteration_end\": 0, \"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

static DMatrixHandle proxy_dmatrix = NULL;
static bool log_callback_registered = false;

/*
 * Last message XGBoost logged.  The callback may run while XGBoost's threads
 * run: it only copies, under xgb_log_lock, and never palloc's or ereport's.
 */
static pthread_mutex_t xgb_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char xgb_log_message[256];

static void
xgb_log_callback(const char *msg)
{
	pthread_mutex_lock(&xgb_log_lock);
	strlcpy(xgb_log_message, msg, sizeof(xgb_log_message));
	pthread_mutex_unlock(&xgb_log_lock);
}

/*
 * XGBoost's last error, without its "[hh:mm:ss] file.cc:123: " prefix and
 * its stack trace, copied into palloc'd memory at once.
 */
static char *
xgb_last_error(void)
{
	const char *raw = XGBGetLastError();
	char	   *msg;
	char	   *cut;

	if (raw == NULL || raw[0] == '\0')
		return pstrdup("no error message");
	if (raw[0] == '[')
	{
		const char *close = strchr(raw, ']');

		if (close != NULL)
			raw = close + 1;
	}
	while (*raw == ' ')
		raw++;
	/* "path/to/file.cc:123: message" */
	{
		const char *colon = strstr(raw, ": ");
		const char *src = strstr(raw, ".cc:");

		if (src == NULL)
			src = strstr(raw, ".h:");
		if (src != NULL && colon != NULL && src < colon)
			raw = colon + 2;
	}
	msg = pstrdup(raw);
	cut = strstr(msg, "Stack trace:");
	if (cut != NULL)
		*cut = '\0';
	/* trim trailing whitespace left by the cut */
	for (cut = msg + strlen(msg); cut > msg && isspace((unsigned char) cut[-1]); cut--)
		cut[-1] = '\0';
	return msg;
}

static void xgb_raise(const char *what, char *message) pg_attribute_noreturn();

static void
xgb_raise(const char *what, char *message)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("XGBoost could not %s", what),
			 errdetail("XGBoost: %s", message)));
}

static void
xgb_call_setup(void)
{
	if (!log_callback_registered)
	{
		if (XGBRegisterLogCallback(xgb_log_callback) != 0)
			xgb_raise("register its log callback", xgb_last_error());
		log_callback_registered = true;
	}
	pthread_mutex_lock(&xgb_log_lock);
	xgb_log_message[0] = '\0';
	pthread_mutex_unlock(&xgb_log_lock);
}

static void
xgb_report_log(void)
{
	char		message[sizeof(xgb_log_message)];

	pthread_mutex_lock(&xgb_log_lock);
	memcpy(message, xgb_log_message, sizeof(message));
	pthread_mutex_unlock(&xgb_log_lock);
	if (message[0] != '\0')
		elog(DEBUG1, "XGBoost: %s", message);
}

/*
 * Around an XGBoost call that may start or run OpenMP threads (training):
 * block the asynchronous signals, so that threads libgomp starts inherit
 * the mask and PostgreSQL's handlers only ever run on the backend's thread.
 * Faults stay deliverable to the thread that causes them.  The mask must be
 * restored before any ereport.
 */
static void
threads_block_signals(sigset_t *saved)
{
	sigset_t	block;

	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGTRAP);
	sigdelset(&block, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &block, saved);
}

static void
threads_restore_signals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static void
booster_free_callback(void *arg)
{
	XgbModel   *model = arg;

	if (model->booster != NULL)
		XGBoosterFree(model->booster);
	model->booster = NULL;
}

/*
 * A booster holding the given model bytes, freed when "owner" goes away.
 * On error the booster has already been handed to owner, so nothing leaks.
 */
static XgbModel *
xgb_booster_from_bytes(const char *data, Size len, int num_features,
					   MemoryContext owner)
{
	XgbModel   *model = MemoryContextAllocZero(owner, sizeof(XgbModel));
	MemoryContextCallback *cb = MemoryContextAllocZero(owner, sizeof(MemoryContextCallback));

	xgb_call_setup();
	cb->func = booster_free_callback;
	cb->arg = model;
	MemoryContextRegisterResetCallback(owner, cb);

	model->num_features = num_features;
	if (XGBoosterCreate(NULL, 0, &model->booster) != 0)
	{
		model->booster = NULL;
		xgb_raise("create a booster", xgb_last_error());
	}
	if (XGBoosterLoadModelFromBuffer(model->booster, data, (bst_ulong) len) != 0)
		xgb_raise("load the model", xgb_last_error());
	if (XGBoosterSetParam(model->booster, "nthread", "1") != 0)
		xgb_raise("set nthread", xgb_last_error());
	xgb_report_log();
	return model;
}

static XgbModel *
xgb_load(const char *data, Size len, int num_features, MemoryContext owner)
{
	XgbModel   *model = xgb_booster_from_bytes(data, len, num_features, owner);

	model->row = MemoryContextAlloc(owner, sizeof(float) * num_features);
	model->array_interface =
		MemoryContextStrdup(owner,
							psprintf("{\"data\": [%zu, true], \"shape\": [1, %d], "
									 "\"typestr\": \"<f4\", \"version\": 3}",
									 (size_t) model->row, num_features));
	for (int i = 0; i < num_features; i++)
		model->row[i] = NAN;

	/* Pay XGBoost's lazy configuration now, not on the first scored row. */
	(void) xgb_predict_one(model, model->row);
	return model;
}

/*
 * XGBoost's own pred_contribs (approx_contribs if "approximate") for one
 * row, into out[num_features + 1], the bias last.  In-place prediction
 * gives only values and margins, so the row goes through a DMatrix.
 */
static void
xgb_contributions(XgbModel *model, const float *features, bool approximate, double *out)
{
	DMatrixHandle matrix;
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *result;
	char		config[160];

	xgb_call_setup();
	if (XGDMatrixCreateFromMat(features, 1, model->num_features, NAN, &matrix) != 0)
		xgb_raise("create a matrix", xgb_last_error());
	snprintf(config, sizeof(config),
			 "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
			 "\"iteration_end\": 0, \"strict_shape\": false}", approximate ? 3 : 2);
	if (XGBoosterPredictFromDMatrix(model->booster, matrix, config, &shape, &dim, &result) != 0)
	{
		char	   *message = xgb_last_error();

		XGDMatrixFree(matrix);
		xgb_raise("compute contributions", message);
	}
	for (int i = 0; i <= model->num_features; i++)
		out[i] = (double) result[i];
	XGDMatrixFree(matrix);
	xgb_report_log();
}

static double
xgb_predict_one(XgbModel *model, const float *features)
{
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *result;

	if (proxy_dmatrix == NULL)
	{
		xgb_call_setup();
		if (XGProxyDMatrixCreate(&proxy_dmatrix) != 0)
		{
			proxy_dmatrix = NULL;
			xgb_raise("create its proxy matrix", xgb_last_error());
		}
	}
	if (features != model->row)
		memcpy(model->row, features, sizeof(float) * model->num_features);

	if (XGBoosterPredictFromDense(model->booster, model->array_interface,
								  predict_config, proxy_dmatrix,
								  &shape, &dim, &result) != 0)
		xgb_raise("predict", xgb_last_error());
	return (double) result[0];
}

/* The booster, with these feature names stamped in, as XGBoost UBJSON. */
static bytea *
save_ubjson(BoosterHandle booster, char **feature_names, int num_features)
{
	bst_ulong	out_len;
	const char *out;
	bytea	   *result;
	sigset_t	saved;
	int			rc;

	if (XGBoosterSetStrFeatureInfo(booster, "feature_name", (const char **) feature_names,
								   (bst_ulong) num_features) != 0)
		xgb_raise("set the feature names", xgb_last_error());
	threads_block_signals(&saved);
	rc = XGBoosterSaveModelToBuffer(booster, "{\"format\": \"ubj\"}", &out_len, &out);
	threads_restore_signals(&saved);
	if (rc != 0)
		xgb_raise("save the model as UBJSON", xgb_last_error());
	result = palloc(VARHDRSZ + out_len);
	SET_VARSIZE(result, VARHDRSZ + out_len);
	memcpy(VARDATA(result), out, out_len);
	return result;
}

static bytea *
xgb_to_ubjson(const char *data, Size len, char **feature_names, int num_features)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext,
											  "fraud_score model conversion",
											  ALLOCSET_SMALL_SIZES);
	XgbModel   *model = xgb_booster_from_bytes(data, len, num_features, tmp);
	bytea	   *result = save_ubjson(model->booster, feature_names, num_features);

	MemoryContextDelete(tmp);
	return result;
}

/* ------------------------------------------------------------ training */

struct XgbTraining
{
	BoosterHandle booster;
	DMatrixHandle train;
	DMatrixHandle valid;		/* NULL without validation rows */
	int			valid_nrow;
};

static void
training_free_callback(void *arg)
{
	XgbTraining *training = arg;

	if (training->booster != NULL)
		XGBoosterFree(training->booster);
	if (training->train != NULL)
		XGDMatrixFree(training->train);
	if (training->valid != NULL)
		XGDMatrixFree(training->valid);
	training->booster = NULL;
	training->train = NULL;
	training->valid = NULL;
}

static DMatrixHandle
matrix_from_rows(const float *x, const float *y, int nrow, int ncol)
{
	DMatrixHandle m;
	sigset_t	saved;
	int			rc;

	threads_block_signals(&saved);
	rc = XGDMatrixCreateFromMat(x, (bst_ulong) nrow, (bst_ulong) ncol, NAN, &m);
	threads_restore_signals(&saved);
	if (rc != 0)
		xgb_raise("build a training matrix", xgb_last_error());
	if (XGDMatrixSetFloatInfo(m, "label", y, (bst_ulong) nrow) != 0)
	{
		char	   *msg = xgb_last_error();

		XGDMatrixFree(m);
		xgb_raise("set the training labels", msg);
	}
	return m;
}

static XgbTraining *
xgb_train_begin(const float *x, const float *y, int nrow,
				const float *valid_x, const float *valid_y, int valid_nrow,
				int ncol, MemoryContext owner)
{
	XgbTraining *training = MemoryContextAllocZero(owner, sizeof(XgbTraining));
	MemoryContextCallback *cb = MemoryContextAllocZero(owner, sizeof(MemoryContextCallback));
	DMatrixHandle cache[2];

	xgb_call_setup();
	cb->func = training_free_callback;
	cb->arg = training;
	MemoryContextRegisterResetCallback(owner, cb);

	training->train = matrix_from_rows(x, y, nrow, ncol);
	if (valid_nrow > 0)
		training->valid = matrix_from_rows(valid_x, valid_y, valid_nrow, ncol);
	training->valid_nrow = valid_nrow;

	cache[0] = training->train;
	cache[1] = training->valid;
	if (XGBoosterCreate(cache, valid_nrow > 0 ? 2 : 1, &training->booster) != 0)
	{
		training->booster = NULL;
		xgb_raise("create a booster", xgb_last_error());
	}
	xgb_train_set_param(training, "objective", "binary:logistic");
	xgb_train_set_param(training, "nthread", "1");
	return training;
}

static void
xgb_train_set_param(XgbTraining *training, const char *key, const char *value)
{
	if (XGBoosterSetParam(training->booster, key, value) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost rejected training parameter \"%s\"", key),
				 errdetail("XGBoost: %s", xgb_last_error())));
}

static void
xgb_train_round(XgbTraining *training, int iteration)
{
	sigset_t	saved;
	int			rc;

	threads_block_signals(&saved);
	rc = XGBoosterUpdateOneIter(training->booster, iteration, training->train);
	threads_restore_signals(&saved);
	if (rc != 0)
		xgb_raise("train", xgb_last_error());
}

static char *
xgb_train_eval(XgbTraining *training, int iteration)
{
	DMatrixHandle sets[2] = {training->train, training->valid};
	const char *names[2] = {"train", "valid"};
	const char *result;
	sigset_t	saved;
	int			rc;

	threads_block_signals(&saved);
	rc = XGBoosterEvalOneIter(training->booster, iteration, sets, names,
							  training->valid != NULL ? 2 : 1, &result);
	threads_restore_signals(&saved);
	if (rc != 0)
		xgb_raise("evaluate", xgb_last_error());
	return pstrdup(result);
}

static void
xgb_train_predict_validation(XgbTraining *training, double *out)
{
	bst_ulong	len;
	const float *result;
	sigset_t	saved;
	int			rc;

	threads_block_signals(&saved);
	rc = XGBoosterPredict(training->booster, training->valid, 0, 0, 0, &len, &result);
	threads_restore_signals(&saved);
	if (rc != 0)
		xgb_raise("predict the validation rows", xgb_last_error());
	if (len != (bst_ulong) training->valid_nrow)
		elog(ERROR, "XGBoost returned %lu predictions for %d validation rows",
			 (unsigned long) len, training->valid_nrow);
	for (int i = 0; i < training->valid_nrow; i++)
		out[i] = result[i];
}

static bytea *
xgb_train_save(XgbTraining *training, char **feature_names, int num_features)
{
	return save_ubjson(training->booster, feature_names, num_features);
}

static const XgbApi xgb_api_table = {
	.load = xgb_load,
	.predict_one = xgb_predict_one,
	.contributions = xgb_contributions,
	.to_ubjson = xgb_to_ubjson,
	.train_begin = xgb_train_begin,
	.train_set_param = xgb_train_set_param,
	.train_round = xgb_train_round,
	.train_eval = xgb_train_eval,
	.train_predict_validation = xgb_train_predict_validation,
	.train_save = xgb_train_save,
};

const XgbApi *
fraud_score_xgb_api(void)
{
	return &xgb_api_table;
}
