/*-------------------------------------------------------------------------
 *
 * make_fixtures.c
 *		Generate the XGBoost model fixtures and expected scores used by the
 *		fraud_score regression tests.
 *
 * Everything written to test/fixtures/ comes from here: a synthetic,
 * deterministic card-transaction data set, models trained on it by
 * XGBoost itself (C API, tested with 1.7.4), and the scores XGBoost
 * predicts for a fixed set of test rows.  The extension must reproduce
 * those scores.
 *
 * A second, independent data set (own seeds, own features) trains the
 * categorical model: two of its features are declared categorical, so that
 * XGBoost learns partition splits (a node sends a set of codes right and
 * every other code left), and its test rows probe the codes XGBoost treats
 * specially: unseen, negative, huge and non-integer ones.
 *
 * Two more models are trained on the same data as small.json and scored on
 * the same test rows: a DART model, whose trees carry different weights
 * (XGBoost drops trees while training and rescales them), and a random
 * forest as XGBRFClassifier builds it, several trees per boosting round.
 *
 * Build and run (from test/tools):
 *
 *		cc -O2 -Wall -Wextra -o make_fixtures make_fixtures.c -lxgboost
 *		./make_fixtures ../fixtures
 *
 * or simply "make -C test/tools" from the top of the repository.
 *
 * Determinism: the data come from a private splitmix64 generator with fixed
 * seeds and only use exactly rounded IEEE arithmetic (no libm calls), and
 * XGBoost is run with nthread=1, seed=0 and tree_method=exact (hist for the
 * categorical model: exact has no categorical splits; hist without row or
 * column sampling draws no random numbers either), so a rerun with the same
 * XGBoost version reproduces the files byte for byte.  The DART and forest
 * models do draw random numbers (dropped trees; sampled rows and columns),
 * from XGBoost's own generator, which it seeds from seed=0 when a new
 * booster is first configured: they come out the same on every run, and
 * whatever was trained before them (they are trained last all the same).
 *
 * Test row values are built as text first (exactly what goes into the CSV)
 * and then parsed with strtod() and cast to float, i.e. the same way a
 * float8 value cast to float4 would reach the model.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>				/* NAN only; no libm needed */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#define NFEATURES		5
#define NTRAIN			4000
#define MAX_TEST_ROWS	96
#define FIELD_LEN		32

#define TRAIN_SEED		UINT64_C(20240501)
#define TEST_SEED		UINT64_C(777)

/* The categorical model: its own features, data set and seeds */
#define CAT_NFEATURES	4
#define CAT_NTRAIN		4000
#define CAT_NMERCHANT	20		/* merchant_category codes 0..19 */
#define CAT_NCHANNEL	4		/* channel codes 0..3 */

#define CAT_TRAIN_SEED	UINT64_C(20240917)
#define CAT_TEST_SEED	UINT64_C(4242)

/* Room for the per-node arrays of one tree read out of a saved model */
#define MAX_TREE_NODES	64

/* Room for the per-tree arrays (weight_drop) of a saved model */
#define MAX_TREES		64

/* The DART model and the random forest, on the data of small.json */
#define DART_ROUNDS		20
#define FOREST_ROUNDS	3
#define FOREST_TREES	4		/* num_parallel_tree */

#define lengthof(array) (sizeof(array) / sizeof((array)[0]))

#define PREDICT_CONFIG \
	"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, " \
	"\"iteration_end\": 0, \"strict_shape\": false}"

#define XGB_CHECK(call) \
	do \
	{ \
		if ((call) != 0) \
		{ \
			fprintf(stderr, "%s:%d: %s failed: %s\n", \
					__FILE__, __LINE__, #call, XGBGetLastError()); \
			exit(1); \
		} \
	} while (0)

static const char *feature_names[NFEATURES] = {
	"amount", "hour", "merchant_risk", "card_age_days", "is_foreign"
};

/* Column indexes, in feature order */
enum
{
	F_AMOUNT = 0,
	F_HOUR,
	F_MERCHANT_RISK,
	F_CARD_AGE_DAYS,
	F_IS_FOREIGN
};

static const char *cat_feature_names[CAT_NFEATURES] = {
	"amount", "merchant_category", "channel", "hour"
};

/*
 * The types the Python package records for a pandas frame with float64,
 * category, category and int64 columns.  Only "c" changes how XGBoost
 * trains; the others are kept in the model as they are.
 */
static const char *cat_feature_types[CAT_NFEATURES] = {
	"float", "c", "c", "int"
};

/* Column indexes of the categorical model, in feature order */
enum
{
	C_AMOUNT = 0,
	C_MERCHANT,
	C_CHANNEL,
	C_HOUR
};

typedef struct Rng
{
	uint64_t	state;
} Rng;

typedef struct Transaction
{
	double		amount;
	double		hour;
	double		merchant_risk;
	double		card_age_days;
	double		is_foreign;
} Transaction;

typedef struct CatTransaction
{
	double		amount;
	double		merchant_category;
	double		channel;
	double		hour;
} CatTransaction;

/* NFEATURES is the wider of the two models */
typedef struct TestRow
{
	char		field[NFEATURES][FIELD_LEN];	/* "" means missing */
} TestRow;

typedef struct TestSet
{
	int			ncol;			/* fields used in each row */
	int			nrows;
	TestRow		rows[MAX_TEST_ROWS];
} TestSet;

static const char *out_dir = "../fixtures";


/* ---------------------------------------------------------------------
 * Small utilities
 * ---------------------------------------------------------------------
 */

/* splitmix64 */
static uint64_t
rng_next(Rng *rng)
{
	uint64_t	z;

	rng->state += UINT64_C(0x9E3779B97F4A7C15);
	z = rng->state;
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform double in [0, 1), 53 random bits */
static double
rng_uniform(Rng *rng)
{
	return (double) (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* floor() for 0 <= x < 2^63, without needing libm */
static double
floor_pos(double x)
{
	return (double) (int64_t) x;
}

/* round x to a multiple of 1/scale (x >= 0) */
static double
round_to(double x, double scale)
{
	return floor_pos(x * scale + 0.5) / scale;
}

/* largest float below x, for finite x > 0 (avoids libm's nextafterf) */
static float
float_below(float x)
{
	uint32_t	bits;

	memcpy(&bits, &x, sizeof(bits));
	bits--;
	memcpy(&x, &bits, sizeof(bits));
	return x;
}

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static const char *
out_path(const char *name)
{
	static char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s/%s", out_dir, name) >= (int) sizeof(buf))
	{
		fprintf(stderr, "output path too long\n");
		exit(1);
	}
	return buf;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;

	if (f == NULL)
	{
		fprintf(stderr, "could not open \"%s\": %s\n", path, strerror(errno));
		exit(1);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "could not seek \"%s\"\n", path);
		exit(1);
	}
	buf = xmalloc((size_t) size + 1);
	if (fread(buf, 1, (size_t) size, f) != (size_t) size)
	{
		fprintf(stderr, "could not read \"%s\"\n", path);
		exit(1);
	}
	buf[size] = '\0';
	fclose(f);
	if (len)
		*len = (size_t) size;
	return buf;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE	   *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "could not write \"%s\"\n", path);
		exit(1);
	}
}


/* ---------------------------------------------------------------------
 * Synthetic data
 * ---------------------------------------------------------------------
 */

/*
 * Draw one transaction.  Always consumes the same number of random draws.
 */
static void
draw_transaction(Rng *rng, Transaction *t)
{
	double		u_amount = rng_uniform(rng);
	double		u_hour = rng_uniform(rng);
	double		u_risk1 = rng_uniform(rng);
	double		u_risk2 = rng_uniform(rng);
	double		u_age = rng_uniform(rng);
	double		u_foreign = rng_uniform(rng);

	/* heavy tailed, 0.50 .. ~5000, median ~11 */
	t->amount = round_to(10.0 * (1.0 / (1.0 - 0.998 * u_amount) - 1.0) + 0.5,
						 100.0);
	t->hour = floor_pos(u_hour * 24.0);
	/* skewed towards low risk, 3 decimals */
	t->merchant_risk = round_to(u_risk1 * u_risk2, 1000.0);
	/* ~9% of cards younger than 30 days */
	t->card_age_days = floor_pos(3650.0 * u_age * u_age);
	t->is_foreign = (u_foreign < 0.12) ? 1.0 : 0.0;
}

/*
 * Fraud probability: a product of nonlinear risk factors (so the log-odds
 * are not linear in the features), including a non-monotone amount effect
 * (tiny "card testing" charges) and a foreign x night interaction.
 */
static double
fraud_probability(const Transaction *t)
{
	double		p = 0.016;
	int			night = (t->hour <= 5.0);

	if (t->amount >= 500.0)
		p *= 4.0;
	else if (t->amount >= 150.0)
		p *= 2.0;
	else if (t->amount < 2.0)
		p *= 2.5;

	if (night)
		p *= 3.0;

	p *= 1.0 + 6.0 * t->merchant_risk * t->merchant_risk;

	if (t->card_age_days < 30.0)
		p *= 4.0;
	else if (t->card_age_days < 90.0)
		p *= 2.0;

	if (t->is_foreign != 0.0)
		p *= night ? 4.0 : 2.0;

	return (p > 0.9) ? 0.9 : p;
}

/*
 * Fill data (row major, NTRAIN x NFEATURES) and labels.  merchant_risk is
 * missing more often for risky merchants (~10% overall), card_age_days is
 * missing 10% of the time at random.
 */
static void
make_training_data(float *data, float *labels)
{
	Rng			rng = {TRAIN_SEED};
	int			nfraud = 0;
	int			nmiss_risk = 0;
	int			nmiss_age = 0;

	for (int i = 0; i < NTRAIN; i++)
	{
		Transaction t;
		float	   *row = data + (size_t) i * NFEATURES;
		double		u_label;
		double		u_miss_risk;
		double		u_miss_age;

		draw_transaction(&rng, &t);
		u_label = rng_uniform(&rng);
		u_miss_risk = rng_uniform(&rng);
		u_miss_age = rng_uniform(&rng);

		labels[i] = (u_label < fraud_probability(&t)) ? 1.0f : 0.0f;
		nfraud += (labels[i] != 0.0f);

		row[F_AMOUNT] = (float) t.amount;
		row[F_HOUR] = (float) t.hour;
		row[F_MERCHANT_RISK] = (float) t.merchant_risk;
		row[F_CARD_AGE_DAYS] = (float) t.card_age_days;
		row[F_IS_FOREIGN] = (float) t.is_foreign;

		if (u_miss_risk < 0.06 + 0.16 * t.merchant_risk)
		{
			row[F_MERCHANT_RISK] = NAN;
			nmiss_risk++;
		}
		if (u_miss_age < 0.10)
		{
			row[F_CARD_AGE_DAYS] = NAN;
			nmiss_age++;
		}
	}

	fprintf(stderr,
			"training data: %d rows, %d fraud (%.2f%%), "
			"merchant_risk missing %.2f%%, card_age_days missing %.2f%%\n",
			NTRAIN, nfraud, 100.0 * nfraud / NTRAIN,
			100.0 * nmiss_risk / NTRAIN, 100.0 * nmiss_age / NTRAIN);
}

/* Copy the first ncol columns of a row-major NTRAIN x NFEATURES matrix */
static float *
first_columns(const float *data, int ncol)
{
	float	   *out = xmalloc(sizeof(float) * NTRAIN * ncol);

	for (int i = 0; i < NTRAIN; i++)
		for (int j = 0; j < ncol; j++)
			out[(size_t) i * ncol + j] = data[(size_t) i * NFEATURES + j];
	return out;
}

/*
 * Draw one transaction for the categorical model.  Always consumes the same
 * number of random draws.
 */
static void
draw_cat_transaction(Rng *rng, CatTransaction *t)
{
	double		u_amount = rng_uniform(rng);
	double		u_merchant = rng_uniform(rng);
	double		u_channel = rng_uniform(rng);
	double		u_hour = rng_uniform(rng);

	/* same heavy tailed amounts as draw_transaction() */
	t->amount = round_to(10.0 * (1.0 / (1.0 - 0.998 * u_amount) - 1.0) + 0.5,
						 100.0);
	t->merchant_category = floor_pos(u_merchant * CAT_NMERCHANT);
	/* channels 0..3 get 45%, 30%, 15%, 10% of the transactions */
	if (u_channel < 0.45)
		t->channel = 0.0;
	else if (u_channel < 0.75)
		t->channel = 1.0;
	else if (u_channel < 0.90)
		t->channel = 2.0;
	else
		t->channel = 3.0;
	t->hour = floor_pos(u_hour * 24.0);
}

/*
 * Risk level of a merchant category: 2 for 3, 7, 11, 15, 1 for 0, 9, 18,
 * else 0.  The risky codes are scattered on purpose: no threshold on the
 * code separates them, and one category on its own explains little, so the
 * trees need partition splits that send several categories the same way.
 */
static int
merchant_risk_level(double code)
{
	int			c = (int) code;

	if (c == 3 || c == 7 || c == 11 || c == 15)
		return 2;
	if (c == 0 || c == 9 || c == 18)
		return 1;
	return 0;
}

/*
 * Fraud probability for the categorical model: a product of risk factors,
 * non-monotone in both categorical codes (channel 2 is risky, 3 mildly, 0
 * and 1 not) so that they cannot stand in for numbers.
 */
static double
cat_fraud_probability(const CatTransaction *t)
{
	double		p = 0.016;
	int			level = merchant_risk_level(t->merchant_category);

	if (level == 2)
		p *= 6.0;
	else if (level == 1)
		p *= 2.5;

	if (t->channel == 2.0)
		p *= 4.0;
	else if (t->channel == 3.0)
		p *= 1.75;

	if (t->amount >= 400.0)
		p *= 2.5;
	else if (t->amount < 2.0)
		p *= 2.0;

	if (t->hour <= 5.0)
		p *= 2.0;

	return (p > 0.9) ? 0.9 : p;
}

/*
 * Fill data (row major, CAT_NTRAIN x CAT_NFEATURES) and labels.
 * merchant_category is missing ~10% of the time, much more often for the
 * riskiest categories: so a missing code carries information and the
 * learned default direction of a categorical split is not just the side
 * with more rows.  channel is missing ~5% of the time, more often for the
 * risky channel 2: without any missing channel in training, every channel
 * split defaults left, and the test rows could not tell "unseen code goes
 * left" from "unseen code goes the default way" on that feature.
 */
static void
make_cat_training_data(float *data, float *labels)
{
	Rng			rng = {CAT_TRAIN_SEED};
	int			nfraud = 0;
	int			nmiss = 0;
	int			nmiss_channel = 0;

	for (int i = 0; i < CAT_NTRAIN; i++)
	{
		CatTransaction t;
		float	   *row = data + (size_t) i * CAT_NFEATURES;
		double		u_label;
		double		u_miss;
		double		u_miss_channel;

		draw_cat_transaction(&rng, &t);
		u_label = rng_uniform(&rng);
		u_miss = rng_uniform(&rng);
		u_miss_channel = rng_uniform(&rng);

		labels[i] = (u_label < cat_fraud_probability(&t)) ? 1.0f : 0.0f;
		nfraud += (labels[i] != 0.0f);

		row[C_AMOUNT] = (float) t.amount;
		row[C_MERCHANT] = (float) t.merchant_category;
		row[C_CHANNEL] = (float) t.channel;
		row[C_HOUR] = (float) t.hour;

		if (u_miss < ((merchant_risk_level(t.merchant_category) == 2) ?
					  0.25 : 0.06))
		{
			row[C_MERCHANT] = NAN;
			nmiss++;
		}
		if (u_miss_channel < ((t.channel == 2.0) ? 0.15 : 0.03))
		{
			row[C_CHANNEL] = NAN;
			nmiss_channel++;
		}
	}

	fprintf(stderr,
			"categorical training data: %d rows, %d fraud (%.2f%%), "
			"merchant_category missing %.2f%%, channel missing %.2f%%\n",
			CAT_NTRAIN, nfraud, 100.0 * nfraud / CAT_NTRAIN,
			100.0 * nmiss / CAT_NTRAIN, 100.0 * nmiss_channel / CAT_NTRAIN);
}


/* ---------------------------------------------------------------------
 * XGBoost helpers
 * ---------------------------------------------------------------------
 */

static DMatrixHandle
make_dmatrix(const float *data, int nrow, int ncol, const float *labels,
			 int with_names)
{
	DMatrixHandle dmat;

	XGB_CHECK(XGDMatrixCreateFromMat(data, (bst_ulong) nrow, (bst_ulong) ncol,
									 NAN, &dmat));
	if (labels != NULL)
		XGB_CHECK(XGDMatrixSetFloatInfo(dmat, "label", labels,
										(bst_ulong) nrow));
	if (with_names)
		XGB_CHECK(XGDMatrixSetStrFeatureInfo(dmat, "feature_name",
											 feature_names,
											 (bst_ulong) ncol));
	return dmat;
}

/*
 * Train a gbtree model.  If nnames > 0, the first nnames feature names are
 * also set on the booster: in the C API (1.7) names set on the training
 * DMatrix are NOT copied into the model, the Python package does that
 * explicitly with XGBoosterSetStrFeatureInfo.
 */
static BoosterHandle
train(DMatrixHandle dtrain, int nnames, const char *objective, int rounds,
	  int depth)
{
	BoosterHandle booster;
	char		depth_str[16];

	snprintf(depth_str, sizeof(depth_str), "%d", depth);

	XGB_CHECK(XGBoosterCreate(&dtrain, 1, &booster));
	XGB_CHECK(XGBoosterSetParam(booster, "booster", "gbtree"));
	XGB_CHECK(XGBoosterSetParam(booster, "objective", objective));
	XGB_CHECK(XGBoosterSetParam(booster, "tree_method", "exact"));
	XGB_CHECK(XGBoosterSetParam(booster, "max_depth", depth_str));
	XGB_CHECK(XGBoosterSetParam(booster, "eta", "0.3"));
	XGB_CHECK(XGBoosterSetParam(booster, "nthread", "1"));
	XGB_CHECK(XGBoosterSetParam(booster, "seed", "0"));
	XGB_CHECK(XGBoosterSetParam(booster, "validate_parameters", "1"));

	if (nnames > 0)
		XGB_CHECK(XGBoosterSetStrFeatureInfo(booster, "feature_name",
											 feature_names,
											 (bst_ulong) nnames));

	for (int iter = 0; iter < rounds; iter++)
		XGB_CHECK(XGBoosterUpdateOneIter(booster, iter, dtrain));

	return booster;
}

/*
 * DMatrix for the categorical model.  with_info sets feature names and
 * types: XGBoost only learns categorical splits for features whose type on
 * the training DMatrix is "c" (prediction goes by the splits in the trees).
 */
static DMatrixHandle
make_cat_dmatrix(const float *data, int nrow, const float *labels,
				 int with_info)
{
	DMatrixHandle dmat;

	XGB_CHECK(XGDMatrixCreateFromMat(data, (bst_ulong) nrow, CAT_NFEATURES,
									 NAN, &dmat));
	if (labels != NULL)
		XGB_CHECK(XGDMatrixSetFloatInfo(dmat, "label", labels,
										(bst_ulong) nrow));
	if (with_info)
	{
		XGB_CHECK(XGDMatrixSetStrFeatureInfo(dmat, "feature_name",
											 cat_feature_names,
											 CAT_NFEATURES));
		XGB_CHECK(XGDMatrixSetStrFeatureInfo(dmat, "feature_type",
											 cat_feature_types,
											 CAT_NFEATURES));
	}
	return dmat;
}

/*
 * A booster trained for "rounds" rounds on "dtrain" with "params" (name,
 * value pairs ending in NULL, set in that order), then nthread=1, seed=0 and
 * validate_parameters=1, and the feature names (and types, if given) set on
 * the booster: only those are recorded in the saved model (see train()).
 */
static BoosterHandle
train_booster(DMatrixHandle dtrain, const char *const *params, const char **names,
			  const char **types, int nnames, int rounds)
{
	BoosterHandle booster;

	XGB_CHECK(XGBoosterCreate(&dtrain, 1, &booster));
	for (const char *const *p = params; p[0] != NULL; p += 2)
		XGB_CHECK(XGBoosterSetParam(booster, p[0], p[1]));
	XGB_CHECK(XGBoosterSetParam(booster, "nthread", "1"));
	XGB_CHECK(XGBoosterSetParam(booster, "seed", "0"));
	XGB_CHECK(XGBoosterSetParam(booster, "validate_parameters", "1"));

	XGB_CHECK(XGBoosterSetStrFeatureInfo(booster, "feature_name", names, (bst_ulong) nnames));
	if (types != NULL)
		XGB_CHECK(XGBoosterSetStrFeatureInfo(booster, "feature_type", types, (bst_ulong) nnames));

	for (int iter = 0; iter < rounds; iter++)
		XGB_CHECK(XGBoosterUpdateOneIter(booster, iter, dtrain));
	return booster;
}

/*
 * Train the categorical model.  tree_method=hist because exact cannot split
 * on categories.  max_cat_to_onehot=1 because a feature with fewer
 * categories than that gets one-hot splits (one code against the rest):
 * with 1 every categorical split is a partition, whatever the default (4 in
 * 1.7, just enough for channel's 4 codes).
 */
static BoosterHandle
train_categorical(DMatrixHandle dtrain, int rounds, int depth)
{
	char		depth_str[16];
	const char *const params[] = {
		"booster", "gbtree", "objective", "binary:logistic", "tree_method", "hist",
		"max_cat_to_onehot", "1", "max_depth", depth_str, "eta", "0.3", NULL
	};

	snprintf(depth_str, sizeof(depth_str), "%d", depth);
	return train_booster(dtrain, params, cat_feature_names, cat_feature_types, CAT_NFEATURES,
						 rounds);
}

/*
 * Train the DART model: as train() (5 named features, exact, eta 0.3) but
 * booster=dart.  With skip_drop=0 every round drops each earlier tree with
 * probability rate_drop, and normalize_type=tree then scales the dropped
 * trees by k / (k + eta) and gives the new one 1 / (k + eta) for k dropped
 * trees, so the saved weight_drop values are not all 1.  one_drop stays 0:
 * a round may drop nothing, and its tree keeps weight 1.
 */
static BoosterHandle
train_dart(DMatrixHandle dtrain, int rounds, int depth)
{
	char		depth_str[16];
	const char *const params[] = {
		"booster", "dart", "objective", "binary:logistic", "tree_method", "exact",
		"max_depth", depth_str, "eta", "0.3", "rate_drop", "0.3", "skip_drop", "0",
		"sample_type", "uniform", "normalize_type", "tree", NULL
	};

	snprintf(depth_str, sizeof(depth_str), "%d", depth);
	return train_booster(dtrain, params, feature_names, NULL, NFEATURES, rounds);
}

/*
 * Train the random forest with the parameters XGBRFClassifier passes:
 * gbtree, ntrees trees per round (num_parallel_tree), each on 80% of the
 * rows and choosing among 80% of the features at every node, eta 1.  Unlike
 * XGBRFClassifier (one round), several rounds, so that the model has more
 * than one group of parallel trees; reg_lambda keeps its default of 1.
 */
static BoosterHandle
train_forest(DMatrixHandle dtrain, int rounds, int ntrees, int depth)
{
	char		depth_str[16];
	char		ntrees_str[16];
	const char *const params[] = {
		"booster", "gbtree", "objective", "binary:logistic", "tree_method", "exact",
		"num_parallel_tree", ntrees_str, "subsample", "0.8", "colsample_bynode", "0.8",
		"max_depth", depth_str, "eta", "1", NULL
	};

	snprintf(depth_str, sizeof(depth_str), "%d", depth);
	snprintf(ntrees_str, sizeof(ntrees_str), "%d", ntrees);
	return train_booster(dtrain, params, feature_names, NULL, NFEATURES, rounds);
}

static BoosterHandle
load_model(const char *path)
{
	BoosterHandle booster;

	XGB_CHECK(XGBoosterCreate(NULL, 0, &booster));
	XGB_CHECK(XGBoosterLoadModel(booster, path));
	XGB_CHECK(XGBoosterSetParam(booster, "nthread", "1"));
	return booster;
}

/* Predict probabilities for the nrow rows of dmat; out gets nrow floats. */
static void
predict_dmatrix(BoosterHandle booster, DMatrixHandle dmat, int nrow,
				float *out)
{
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *result;

	XGB_CHECK(XGBoosterPredictFromDMatrix(booster, dmat, PREDICT_CONFIG,
										  &shape, &dim, &result));
	if (dim != 1 || shape[0] != (bst_ulong) nrow)
	{
		fprintf(stderr, "unexpected prediction shape\n");
		exit(1);
	}
	memcpy(out, result, sizeof(float) * nrow);
}

/* Predict probabilities for nrow x NFEATURES rows; out gets nrow floats. */
static void
predict(BoosterHandle booster, const float *data, int nrow, int with_names,
		float *out)
{
	DMatrixHandle dmat = make_dmatrix(data, nrow, NFEATURES, NULL, with_names);

	predict_dmatrix(booster, dmat, nrow, out);
	XGB_CHECK(XGDMatrixFree(dmat));
}

/*
 * Save the legacy (deprecated) binary format.  XGBoost 1.7 writes it for
 * any file name not ending in .json/.ubj; make sure it really did (both
 * JSON and UBJSON start with '{') and fall back to the buffer API if not.
 */
static void
save_legacy_binary(BoosterHandle booster, const char *path)
{
	size_t		len;
	char	   *buf;

	XGB_CHECK(XGBoosterSaveModel(booster, path));
	buf = read_file(path, &len);
	if (len == 0 || buf[0] == '{')
	{
		bst_ulong	blen;
		const char *bdata;

		fprintf(stderr, "%s: not legacy binary, using SaveModelToBuffer\n",
				path);
		XGB_CHECK(XGBoosterSaveModelToBuffer(booster,
											 "{\"format\": \"deprecated\"}",
											 &blen, &bdata));
		if (blen == 0 || bdata[0] == '{')
		{
			fprintf(stderr, "could not produce legacy binary model\n");
			exit(1);
		}
		write_file(path, bdata, (size_t) blen);
	}
	free(buf);
}


/* ---------------------------------------------------------------------
 * Minimal reading of trees out of a saved JSON model
 * ---------------------------------------------------------------------
 */

/*
 * Parse the numeric array following the next occurrence of "key" at or
 * after *pos, and move *pos past that array.  XGBoost writes object keys in
 * sorted order and trees in order, so successive calls for a per-tree key
 * see tree 0, tree 1, ...  Returns the number of elements stored in out
 * (more than max is an error), or -1 if key does not occur again.
 */
static int
json_next_array(const char **pos, const char *key, double *out, int max)
{
	char		pattern[64];
	const char *p;
	int			n = 0;

	snprintf(pattern, sizeof(pattern), "\"%s\"", key);
	p = strstr(*pos, pattern);
	if (p == NULL || (p = strchr(p, '[')) == NULL)
		return -1;
	p++;
	for (;;)
	{
		char	   *end;
		double		v;

		while (*p == ' ' || *p == ',' || *p == '\n')
			p++;
		if (*p == ']')
			break;
		v = strtod(p, &end);
		if (end == p)
		{
			fprintf(stderr, "bad number in \"%s\" array\n", key);
			exit(1);
		}
		if (n >= max)
		{
			fprintf(stderr, "\"%s\" array too long\n", key);
			exit(1);
		}
		out[n++] = v;
		p = end;
	}
	*pos = p + 1;
	return n;
}

/* The array of "key" in tree 0 (see json_next_array) */
static int
json_first_array(const char *json, const char *key, double *out, int max)
{
	const char *pos = json;
	int			n = json_next_array(&pos, key, out, max);

	if (n < 0)
	{
		fprintf(stderr, "key \"%s\" not found in model JSON\n", key);
		exit(1);
	}
	return n;
}

/*
 * Count the trees, nodes and categorical splits of a saved model, and give
 * up unless some splits send several categories right: with one code per
 * set the fixture would test nothing one-hot splits do not.  Also count
 * categorical splits whose default direction is right, which the test rows
 * with a missing code need to tell "missing" from "not in the set".
 */
static void
check_categorical_model(const char *json, const char *name)
{
	static double split_type[MAX_TREE_NODES];
	static double default_left[MAX_TREE_NODES];
	static double sizes[MAX_TREE_NODES];
	const char *pos_type = json;
	const char *pos_left = json;
	const char *pos_sizes = json;
	int			ntrees = 0;
	int			nnodes = 0;
	int			ncat = 0;
	int			nmulti = 0;
	int			nright = 0;
	int			maxsize = 0;

	for (;;)
	{
		int			n = json_next_array(&pos_type, "split_type", split_type,
										MAX_TREE_NODES);
		int			nsizes;

		if (n < 0)
			break;
		if (json_next_array(&pos_left, "default_left", default_left,
							MAX_TREE_NODES) != n ||
			(nsizes = json_next_array(&pos_sizes, "categories_sizes", sizes,
									  MAX_TREE_NODES)) < 0)
		{
			fprintf(stderr, "%s: inconsistent arrays in tree %d\n",
					name, ntrees);
			exit(1);
		}
		ntrees++;
		nnodes += n;
		for (int i = 0; i < n; i++)
		{
			if (split_type[i] == 1.0)
			{
				ncat++;
				nright += (default_left[i] == 0.0);
			}
		}
		for (int i = 0; i < nsizes; i++)
		{
			nmulti += (sizes[i] >= 2.0);
			if (sizes[i] > maxsize)
				maxsize = (int) sizes[i];
		}
	}

	fprintf(stderr,
			"%s: %d trees, %d nodes, %d categorical splits "
			"(%d with several categories, up to %d; %d default right)\n",
			name, ntrees, nnodes, ncat, nmulti, maxsize, nright);
	if (nmulti == 0)
	{
		fprintf(stderr, "%s: no partition splits, giving up\n", name);
		exit(1);
	}
}


/*
 * Per-node arrays of every tree of a saved model, in tree order: its
 * split_indices, split_conditions and left_children (so that two trees can
 * be compared), and the node count.  Returns the number of trees.
 */
typedef struct TreeArrays
{
	int			nnodes;
	double		index[MAX_TREE_NODES];
	double		cond[MAX_TREE_NODES];
	double		left[MAX_TREE_NODES];
} TreeArrays;

static int
read_trees(const char *json, const char *name, TreeArrays *trees, int max)
{
	const char *pos_index = json;
	const char *pos_cond = json;
	const char *pos_left = json;
	int			ntrees = 0;

	for (;;)
	{
		double		left[MAX_TREE_NODES];
		int			n = json_next_array(&pos_left, "left_children", left,
										MAX_TREE_NODES);
		TreeArrays *t;

		if (n < 0)
			break;
		if (ntrees >= max)
		{
			fprintf(stderr, "%s: too many trees\n", name);
			exit(1);
		}
		t = &trees[ntrees];
		t->nnodes = n;
		memcpy(t->left, left, sizeof(double) * n);
		if (json_next_array(&pos_index, "split_indices", t->index,
							MAX_TREE_NODES) != n ||
			json_next_array(&pos_cond, "split_conditions", t->cond,
							MAX_TREE_NODES) != n)
		{
			fprintf(stderr, "%s: inconsistent arrays in tree %d\n",
					name, ntrees);
			exit(1);
		}
		ntrees++;
	}
	return ntrees;
}

static int
same_tree(const TreeArrays *a, const TreeArrays *b)
{
	size_t		size = sizeof(double) * a->nnodes;

	return a->nnodes == b->nnodes &&
		memcmp(a->index, b->index, size) == 0 &&
		memcmp(a->cond, b->cond, size) == 0 &&
		memcmp(a->left, b->left, size) == 0;
}

/* Give up unless the saved JSON model contains the text expect */
static void
require_text(const char *json, const char *name, const char *expect)
{
	if (strstr(json, expect) == NULL)
	{
		fprintf(stderr, "%s: no %s in the saved model, giving up\n",
				name, expect);
		exit(1);
	}
}

/*
 * Count the trees and nodes of the saved DART model and read its tree
 * weights (weight_drop, one per tree), and give up unless some weights
 * differ from 1: with all trees at weight 1 the fixture would not tell a
 * weighted sum from a plain one.
 */
static void
check_dart_model(const char *json, const char *name, int rounds)
{
	static TreeArrays trees[MAX_TREES];
	double		weight[MAX_TREES];
	int			ntrees;
	int			nnodes = 0;
	int			nweights;
	int			ndiff = 0;
	double		wmin = 0.0;
	double		wmax = 0.0;

	require_text(json, name, "\"name\":\"dart\"");
	ntrees = read_trees(json, name, trees, MAX_TREES);
	for (int i = 0; i < ntrees; i++)
		nnodes += trees[i].nnodes;
	nweights = json_first_array(json, "weight_drop", weight, MAX_TREES);
	if (ntrees != rounds || nweights != ntrees)
	{
		fprintf(stderr, "%s: %d trees and %d weights, expected %d\n",
				name, ntrees, nweights, rounds);
		exit(1);
	}
	for (int i = 0; i < nweights; i++)
	{
		if (i == 0 || weight[i] < wmin)
			wmin = weight[i];
		if (i == 0 || weight[i] > wmax)
			wmax = weight[i];
		ndiff += (weight[i] != 1.0);
	}

	fprintf(stderr,
			"%s: %d trees, %d nodes, weight_drop %.9g to %.9g, "
			"%d of %d not 1\n",
			name, ntrees, nnodes, wmin, wmax, ndiff, nweights);
	if (ndiff == 0)
	{
		fprintf(stderr, "%s: all tree weights are 1, giving up\n", name);
		exit(1);
	}
}

/*
 * Check that the saved forest has ntrees trees per round (as
 * num_parallel_tree) in rounds rounds, and count its nodes.  Give up if
 * the trees of some round are all the same: row and column sampling should
 * make them differ, or the fixture would not test that every tree of a
 * round is summed.
 */
static void
check_forest_model(const char *json, const char *name, int rounds,
				   int ntrees)
{
	static TreeArrays trees[MAX_TREES];
	char		expect[64];
	int			total;
	int			nnodes = 0;
	int			ndistinct = 0;

	snprintf(expect, sizeof(expect), "\"num_parallel_tree\":\"%d\"",
			 ntrees);
	require_text(json, name, expect);
	snprintf(expect, sizeof(expect), "\"num_trees\":\"%d\"",
			 rounds * ntrees);
	require_text(json, name, expect);

	total = read_trees(json, name, trees, MAX_TREES);
	if (total != rounds * ntrees)
	{
		fprintf(stderr, "%s: %d trees, expected %d\n",
				name, total, rounds * ntrees);
		exit(1);
	}
	for (int i = 0; i < total; i++)
		nnodes += trees[i].nnodes;

	/* trees unlike every other tree of their round */
	for (int r = 0; r < rounds; r++)
	{
		int			round_distinct = 0;

		for (int i = r * ntrees; i < (r + 1) * ntrees; i++)
		{
			int			dup = 0;

			for (int j = r * ntrees; j < (r + 1) * ntrees; j++)
				if (j != i && same_tree(&trees[i], &trees[j]))
					dup = 1;
			round_distinct += !dup;
		}
		if (round_distinct == 0)
		{
			fprintf(stderr, "%s: the trees of round %d are all the same, "
					"giving up\n", name, r);
			exit(1);
		}
		ndistinct += round_distinct;
	}

	fprintf(stderr,
			"%s: %d trees (%d rounds of %d), %d nodes, "
			"%d unlike the others of their round\n",
			name, total, rounds, ntrees, nnodes, ndistinct);
}


/* ---------------------------------------------------------------------
 * Test rows
 * ---------------------------------------------------------------------
 */

/* Append a row made of set->ncol fields */
static TestRow *
add_fields(TestSet *set, const char *const *src)
{
	TestRow    *row;

	if (set->nrows >= MAX_TEST_ROWS)
	{
		fprintf(stderr, "too many test rows\n");
		exit(1);
	}
	row = &set->rows[set->nrows++];
	memset(row, 0, sizeof(TestRow));
	for (int j = 0; j < set->ncol; j++)
		snprintf(row->field[j], FIELD_LEN, "%s", src[j]);
	return row;
}

static TestRow *
add_row(TestSet *set, const char *amount, const char *hour,
		const char *merchant_risk, const char *card_age_days,
		const char *is_foreign)
{
	const char *src[NFEATURES] = {
		amount, hour, merchant_risk, card_age_days, is_foreign
	};

	return add_fields(set, src);
}

static TestRow *
add_cat_row(TestSet *set, const char *amount, const char *merchant_category,
			const char *channel, const char *hour)
{
	const char *src[CAT_NFEATURES] = {
		amount, merchant_category, channel, hour
	};

	return add_fields(set, src);
}

static void
add_random_rows(TestSet *set, int count)
{
	Rng			rng = {TEST_SEED};

	for (int i = 1; i <= count; i++)
	{
		Transaction t;
		char		f[NFEATURES][FIELD_LEN];

		draw_transaction(&rng, &t);
		snprintf(f[F_AMOUNT], FIELD_LEN, "%.2f", t.amount);
		snprintf(f[F_HOUR], FIELD_LEN, "%.0f", t.hour);
		snprintf(f[F_MERCHANT_RISK], FIELD_LEN, "%.3f", t.merchant_risk);
		snprintf(f[F_CARD_AGE_DAYS], FIELD_LEN, "%.0f", t.card_age_days);
		snprintf(f[F_IS_FOREIGN], FIELD_LEN, "%.0f", t.is_foreign);

		/* sprinkle some missing values */
		if (i == 4 || i == 9 || i == 12)
			f[F_MERCHANT_RISK][0] = '\0';
		if (i == 7 || i == 12 || i == 15)
			f[F_CARD_AGE_DAYS][0] = '\0';
		if (i == 18)
			f[F_IS_FOREIGN][0] = '\0';
		if (i == 19)
			f[F_HOUR][0] = '\0';

		add_row(set, f[0], f[1], f[2], f[3], f[4]);
	}
}

static void
add_edge_rows(TestSet *set)
{
	/* all missing */
	add_row(set, "", "", "", "", "");
	/* single present feature */
	add_row(set, "250.00", "", "", "", "");
	add_row(set, "", "", "", "", "1");
	/* amount extremes */
	add_row(set, "0", "12", "0.1", "500", "0");
	add_row(set, "-42.50", "12", "0.1", "500", "0");
	add_row(set, "1000000000", "12", "0.1", "500", "0");
	add_row(set, "0.01", "3", "0.95", "0", "1");
	/* hour extremes, including out-of-domain values */
	add_row(set, "80.00", "0", "0.3", "1200", "0");
	add_row(set, "80.00", "23", "0.3", "1200", "1");
	add_row(set, "80.00", "-1", "0.3", "1200", "0");
	/* merchant_risk and card_age_days extremes */
	add_row(set, "35.99", "15", "0", "100000", "0");
	add_row(set, "35.99", "2", "1", "0", "1");
	add_row(set, "4999.99", "4", "", "", "1");
}

/*
 * Rows that sit exactly on the split thresholds of tree 0 of the trained
 * model, one float ulp below a few of them, and a few "float4 traps": a
 * value whose double is below the threshold but that rounds to the
 * threshold as a float.  XGBoost casts inputs to float and sends a value
 * left iff value < threshold, so these catch "<" vs "<=" mistakes and
 * comparisons done in double precision.  Each row is base with one field
 * replaced.  Categorical splits have no threshold and are skipped.
 */
static void
add_threshold_rows(TestSet *set, const char *model_json,
				   const char *const *base, int max_at, int max_below,
				   int max_trap)
{
	double		left[MAX_TREE_NODES];
	double		index[MAX_TREE_NODES];
	double		cond[MAX_TREE_NODES];
	double		type[MAX_TREE_NODES];
	int			nnodes;
	int			seen_feat[MAX_TREE_NODES];
	float		seen_val[MAX_TREE_NODES];
	int			nseen = 0;
	int			nbelow = 0;
	int			ntrap = 0;

	nnodes = json_first_array(model_json, "left_children", left,
							  MAX_TREE_NODES);
	if (json_first_array(model_json, "split_indices", index,
						 MAX_TREE_NODES) != nnodes ||
		json_first_array(model_json, "split_conditions", cond,
						 MAX_TREE_NODES) != nnodes ||
		json_first_array(model_json, "split_type", type,
						 MAX_TREE_NODES) != nnodes)
	{
		fprintf(stderr, "inconsistent tree 0 arrays\n");
		exit(1);
	}

	for (int n = 0; n < nnodes && nseen < max_at; n++)
	{
		int			feat = (int) index[n];
		float		thr = (float) cond[n];
		int			dup = 0;
		TestRow    *row;

		if (left[n] < 0)
			continue;			/* leaf */
		if (type[n] != 0.0)
			continue;			/* categorical */
		if (feat < 0 || feat >= set->ncol)
		{
			fprintf(stderr, "bad split index %d in tree 0\n", feat);
			exit(1);
		}
		for (int k = 0; k < nseen; k++)
			if (seen_feat[k] == feat && seen_val[k] == thr)
				dup = 1;
		if (dup)
			continue;
		seen_feat[nseen] = feat;
		seen_val[nseen] = thr;
		nseen++;

		row = add_fields(set, base);
		snprintf(row->field[feat], FIELD_LEN, "%.9g", (double) thr);

		if (nbelow < max_below && thr > 0.0f)
		{
			row = add_fields(set, base);
			snprintf(row->field[feat], FIELD_LEN, "%.9g",
					 (double) float_below(thr));
			nbelow++;
		}

		if (ntrap < max_trap && thr > 0.0f)
		{
			double		below = (double) float_below(thr);
			double		v = (double) thr - ((double) thr - below) / 4.0;
			char		text[FIELD_LEN];

			snprintf(text, FIELD_LEN, "%.17g", v);
			if (strtod(text, NULL) < (double) thr &&
				(float) strtod(text, NULL) == thr)
			{
				row = add_fields(set, base);
				snprintf(row->field[feat], FIELD_LEN, "%s", text);
				ntrap++;
			}
		}
	}
}

/*
 * Random rows for the categorical model, in range, with a few missing
 * values (a missing code takes the split's default direction).
 */
static void
add_cat_random_rows(TestSet *set, int count)
{
	Rng			rng = {CAT_TEST_SEED};

	for (int i = 1; i <= count; i++)
	{
		CatTransaction t;
		char		f[CAT_NFEATURES][FIELD_LEN];

		draw_cat_transaction(&rng, &t);
		snprintf(f[C_AMOUNT], FIELD_LEN, "%.2f", t.amount);
		snprintf(f[C_MERCHANT], FIELD_LEN, "%.0f", t.merchant_category);
		snprintf(f[C_CHANNEL], FIELD_LEN, "%.0f", t.channel);
		snprintf(f[C_HOUR], FIELD_LEN, "%.0f", t.hour);

		if (i == 3 || i == 8)
			f[C_MERCHANT][0] = '\0';
		if (i == 5 || i == 8)
			f[C_CHANNEL][0] = '\0';
		if (i == 10)
			f[C_AMOUNT][0] = '\0';
		if (i == 11)
			f[C_HOUR][0] = '\0';

		add_cat_row(set, f[0], f[1], f[2], f[3]);
	}
}

/*
 * Rows aimed at the categorical splits, all from the same base row with one
 * code replaced.  First every trained code of each feature: whatever set a
 * split on that feature holds, some rows carry codes it names (right) and
 * some codes it leaves out (left).  Then codes that training never saw,
 * which XGBoost sends left whatever the default direction: 20, 21 and 31
 * still fall in the first 32-bit word of a set's bit field, 32, 33, 63 and
 * 64 beyond it (and across word boundaries); 2^24 - 1 is the largest code
 * XGBoost accepts, 2^24 and up are invalid, and so are negative codes,
 * -0.5 included, although it truncates to 0; -0 is code 0.  Then
 * non-integer codes, which XGBoost truncates toward zero: 3.9 and 7.2 are
 * the risky 3 and 7, and 3.99999999 is below 4 as a double but 4 once cast
 * to float.  A missing code is in add_cat_edge_rows().
 */
static void
add_cat_code_rows(TestSet *set)
{
	static const char *const odd_merchant[] = {
		"20", "21", "31", "32", "33", "63", "64", "1000", "65535",
		"16777215", "16777216", "1e9",
		"-1", "-0.5", "-0",
		"0.5", "3.9", "7.2", "3.99999999"
	};
	static const char *const odd_channel[] = {
		"4", "32", "-1", "2.5"
	};
	char		code[FIELD_LEN];

	for (int c = 0; c < CAT_NMERCHANT; c++)
	{
		snprintf(code, FIELD_LEN, "%d", c);
		add_cat_row(set, "120.00", code, "1", "13");
	}
	for (int c = 0; c < CAT_NCHANNEL; c++)
	{
		snprintf(code, FIELD_LEN, "%d", c);
		add_cat_row(set, "120.00", "5", code, "13");
	}
	for (int i = 0; i < (int) lengthof(odd_merchant); i++)
		add_cat_row(set, "120.00", odd_merchant[i], "1", "13");
	for (int i = 0; i < (int) lengthof(odd_channel); i++)
		add_cat_row(set, "120.00", "5", odd_channel[i], "13");
}

/* Missing values alone and together, for the categorical model */
static void
add_cat_edge_rows(TestSet *set)
{
	add_cat_row(set, "", "", "", "");
	add_cat_row(set, "120.00", "", "1", "13");
	add_cat_row(set, "120.00", "5", "", "13");
	add_cat_row(set, "120.00", "", "", "13");
}

/* Parse the text fields into a row-major float matrix (NaN = missing) */
static float *
test_matrix(const TestSet *set)
{
	int			ncol = set->ncol;
	float	   *data = xmalloc(sizeof(float) * set->nrows * ncol);

	for (int i = 0; i < set->nrows; i++)
	{
		for (int j = 0; j < ncol; j++)
		{
			const char *s = set->rows[i].field[j];
			char	   *end;
			double		v;

			if (s[0] == '\0')
			{
				data[i * ncol + j] = NAN;
				continue;
			}
			errno = 0;
			v = strtod(s, &end);
			if (errno != 0 || *end != '\0')
			{
				fprintf(stderr, "bad test value \"%s\"\n", s);
				exit(1);
			}
			data[i * ncol + j] = (float) v;
		}
	}
	return data;
}

static int
same_floats(const float *a, const float *b, int n)
{
	return memcmp(a, b, sizeof(float) * n) == 0;
}

static void
report_same(const char *what, const float *a, const float *b, int n)
{
	fprintf(stderr, "%s predictions: %s\n", what,
			same_floats(a, b, n) ? "identical" : "DIFFERENT");
}

/*
 * Write the test rows and nscores columns of scores as name, with a header
 * line: score[k][i] is the score of row i in the column score_names[k].
 */
static void
write_scores_csv(const char *name, const char *const *names,
				 const TestSet *set, int nscores,
				 const char *const *score_names, const float *const *score)
{
	FILE	   *csv = fopen(out_path(name), "w");

	if (csv == NULL)
	{
		fprintf(stderr, "could not open %s: %s\n", name, strerror(errno));
		exit(1);
	}
	fprintf(csv, "id");
	for (int j = 0; j < set->ncol; j++)
		fprintf(csv, ",%s", names[j]);
	for (int k = 0; k < nscores; k++)
		fprintf(csv, ",%s", score_names[k]);
	fprintf(csv, "\n");
	for (int i = 0; i < set->nrows; i++)
	{
		fprintf(csv, "%d", i + 1);
		for (int j = 0; j < set->ncol; j++)
			fprintf(csv, ",%s", set->rows[i].field[j]);
		for (int k = 0; k < nscores; k++)
			fprintf(csv, ",%.9g", (double) score[k][i]);
		fprintf(csv, "\n");
	}
	if (fclose(csv) != 0)
	{
		fprintf(stderr, "could not write %s\n", name);
		exit(1);
	}
	fprintf(stderr, "%s: wrote %d test rows\n", name, set->nrows);
}

/* Write the test rows and one column of scores, "score" */
static void
write_expected_csv(const char *name, const char *const *names,
				   const TestSet *set, const float *score)
{
	static const char *const score_names[] = {"score"};
	const float *const scores[] = {score};

	write_scores_csv(name, names, set, 1, score_names, scores);
}


/* ---------------------------------------------------------------------
 * The categorical model
 * ---------------------------------------------------------------------
 */

/*
 * categorical.{json,ubj} and categorical_expected.csv.  The scores must
 * come out the same from the in-memory model, both saved formats, and a
 * test DMatrix without feature names and types (XGBoost predicts from the
 * split types stored in the trees; the extension has nothing else either).
 */
static void
make_categorical_fixtures(void)
{
	/*
	 * A risky merchant: in tree 0 its path meets amount and hour splits,
	 * where a safe one goes straight to a leaf.
	 */
	static const char *const threshold_base[CAT_NFEATURES] = {
		"120.00", "3", "1", "13"
	};
	float	   *train_data;
	float	   *labels;
	DMatrixHandle dtrain;
	DMatrixHandle dtest;
	DMatrixHandle dtest_plain;
	BoosterHandle booster;
	BoosterHandle from_json;
	BoosterHandle from_ubj;
	TestSet    *tests;
	float	   *test_data;
	float	   *score_mem;
	float	   *score_json;
	float	   *score_ubj;
	float	   *score_plain;
	char	   *model_json;

	train_data = xmalloc(sizeof(float) * CAT_NTRAIN * CAT_NFEATURES);
	labels = xmalloc(sizeof(float) * CAT_NTRAIN);
	make_cat_training_data(train_data, labels);

	/* 20 rounds, depth 4, as small.json */
	dtrain = make_cat_dmatrix(train_data, CAT_NTRAIN, labels, 1);
	booster = train_categorical(dtrain, 20, 4);
	XGB_CHECK(XGBoosterSaveModel(booster, out_path("categorical.json")));
	XGB_CHECK(XGBoosterSaveModel(booster, out_path("categorical.ubj")));

	model_json = read_file(out_path("categorical.json"), NULL);
	check_categorical_model(model_json, "categorical.json");

	/* test rows */
	tests = xmalloc(sizeof(TestSet));
	tests->ncol = CAT_NFEATURES;
	tests->nrows = 0;
	add_cat_random_rows(tests, 12);
	add_cat_edge_rows(tests);
	add_cat_code_rows(tests);
	add_threshold_rows(tests, model_json, threshold_base, 6, 3, 2);
	test_data = test_matrix(tests);

	/* predictions */
	score_mem = xmalloc(sizeof(float) * tests->nrows);
	score_json = xmalloc(sizeof(float) * tests->nrows);
	score_ubj = xmalloc(sizeof(float) * tests->nrows);
	score_plain = xmalloc(sizeof(float) * tests->nrows);

	from_json = load_model(out_path("categorical.json"));
	from_ubj = load_model(out_path("categorical.ubj"));
	dtest = make_cat_dmatrix(test_data, tests->nrows, NULL, 1);
	dtest_plain = make_cat_dmatrix(test_data, tests->nrows, NULL, 0);

	predict_dmatrix(booster, dtest, tests->nrows, score_mem);
	predict_dmatrix(from_json, dtest, tests->nrows, score_json);
	predict_dmatrix(from_ubj, dtest, tests->nrows, score_ubj);
	predict_dmatrix(from_json, dtest_plain, tests->nrows, score_plain);

	report_same("categorical.json vs categorical.ubj", score_json, score_ubj,
				tests->nrows);
	report_same("categorical.json vs in-memory model", score_json, score_mem,
				tests->nrows);
	report_same("typed vs untyped test DMatrix", score_json, score_plain,
				tests->nrows);
	if (!same_floats(score_json, score_ubj, tests->nrows) ||
		!same_floats(score_json, score_mem, tests->nrows) ||
		!same_floats(score_json, score_plain, tests->nrows))
	{
		fprintf(stderr, "categorical predictions disagree, giving up\n");
		exit(1);
	}

	write_expected_csv("categorical_expected.csv", cat_feature_names, tests,
					   score_json);

	XGB_CHECK(XGBoosterFree(from_json));
	XGB_CHECK(XGBoosterFree(from_ubj));
	XGB_CHECK(XGBoosterFree(booster));
	XGB_CHECK(XGDMatrixFree(dtest));
	XGB_CHECK(XGDMatrixFree(dtest_plain));
	XGB_CHECK(XGDMatrixFree(dtrain));
	free(model_json);
	free(tests);
	free(test_data);
	free(score_mem);
	free(score_json);
	free(score_ubj);
	free(score_plain);
	free(train_data);
	free(labels);
}


/* ---------------------------------------------------------------------
 * The DART model and the random forest
 * ---------------------------------------------------------------------
 */

/*
 * Save booster as name.json and name.ubj and predict the test rows with
 * the in-memory booster and both reloaded files; give up unless all three
 * agree bit for bit.  The predictions use PREDICT_CONFIG, training false:
 * for DART that is XGBoost's inference prediction, every tree scaled by its
 * weight (training true would drop trees at random).  out gets the scores.
 */
static void
save_and_predict(BoosterHandle booster, const char *name,
				 const float *test_data, int nrow, float *out)
{
	char		json_name[64];
	char		ubj_name[64];
	char		what[160];
	BoosterHandle from_json;
	BoosterHandle from_ubj;
	float	   *score_mem = xmalloc(sizeof(float) * nrow);
	float	   *score_ubj = xmalloc(sizeof(float) * nrow);

	snprintf(json_name, sizeof(json_name), "%s.json", name);
	snprintf(ubj_name, sizeof(ubj_name), "%s.ubj", name);
	XGB_CHECK(XGBoosterSaveModel(booster, out_path(json_name)));
	XGB_CHECK(XGBoosterSaveModel(booster, out_path(ubj_name)));

	from_json = load_model(out_path(json_name));
	from_ubj = load_model(out_path(ubj_name));

	predict(booster, test_data, nrow, 1, score_mem);
	predict(from_json, test_data, nrow, 1, out);
	predict(from_ubj, test_data, nrow, 1, score_ubj);

	snprintf(what, sizeof(what), "%s vs %s", json_name, ubj_name);
	report_same(what, out, score_ubj, nrow);
	snprintf(what, sizeof(what), "%s vs in-memory model", json_name);
	report_same(what, out, score_mem, nrow);
	if (!same_floats(out, score_ubj, nrow) ||
		!same_floats(out, score_mem, nrow))
	{
		fprintf(stderr, "%s predictions disagree, giving up\n", name);
		exit(1);
	}

	XGB_CHECK(XGBoosterFree(from_json));
	XGB_CHECK(XGBoosterFree(from_ubj));
	free(score_mem);
	free(score_ubj);
}

/*
 * dart.{json,ubj}, forest.{json,ubj} and dart_forest_expected.csv, scores
 * of both models for the test rows of small_expected.csv.  dtrain is the
 * training DMatrix of small.json.
 */
static void
make_dart_forest_fixtures(DMatrixHandle dtrain, const TestSet *tests,
						  const float *test_data)
{
	static const char *const score_names[] = {"dart_score", "forest_score"};
	BoosterHandle dart;
	BoosterHandle forest;
	float	   *score_dart = xmalloc(sizeof(float) * tests->nrows);
	float	   *score_forest = xmalloc(sizeof(float) * tests->nrows);
	const float *scores[2];
	char	   *model_json;

	/* dart: 20 rounds, depth 4, as small.json */
	dart = train_dart(dtrain, DART_ROUNDS, 4);
	save_and_predict(dart, "dart", test_data, tests->nrows, score_dart);
	model_json = read_file(out_path("dart.json"), NULL);
	check_dart_model(model_json, "dart.json", DART_ROUNDS);
	free(model_json);

	/* forest: 3 rounds of 4 trees, depth 4 */
	forest = train_forest(dtrain, FOREST_ROUNDS, FOREST_TREES, 4);
	save_and_predict(forest, "forest", test_data, tests->nrows, score_forest);
	model_json = read_file(out_path("forest.json"), NULL);
	check_forest_model(model_json, "forest.json", FOREST_ROUNDS,
					   FOREST_TREES);
	free(model_json);

	scores[0] = score_dart;
	scores[1] = score_forest;
	write_scores_csv("dart_forest_expected.csv", feature_names, tests, 2,
					 score_names, scores);

	XGB_CHECK(XGBoosterFree(dart));
	XGB_CHECK(XGBoosterFree(forest));
	free(score_dart);
	free(score_forest);
}


/* ---------------------------------------------------------------------
 * main
 * ---------------------------------------------------------------------
 */

int
main(int argc, char **argv)
{
	static const char *const threshold_base[NFEATURES] = {
		"120.00", "13", "0.2", "400", "0"
	};
	float	   *train_data;
	float	   *labels;
	float	   *data3;
	DMatrixHandle dtrain;
	DMatrixHandle dtrain3;
	BoosterHandle booster;
	BoosterHandle from_json;
	BoosterHandle from_ubj;
	BoosterHandle from_bin;
	TestSet    *tests;
	float	   *test_data;
	float	   *score_mem;
	float	   *score_json;
	float	   *score_ubj;
	float	   *score_bin;
	float	   *score_nonames_dmat;
	char	   *model_json;
	int			major,
				minor,
				patch;

	if (argc > 2)
	{
		fprintf(stderr, "usage: %s [output_dir]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		out_dir = argv[1];

	XGBoostVersion(&major, &minor, &patch);
	fprintf(stderr, "XGBoost %d.%d.%d\n", major, minor, patch);
	XGB_CHECK(XGBSetGlobalConfig("{\"verbosity\": 1}"));

	/* data */
	train_data = xmalloc(sizeof(float) * NTRAIN * NFEATURES);
	labels = xmalloc(sizeof(float) * NTRAIN);
	make_training_data(train_data, labels);

	/* small.{json,ubj,bin}: 5 named features, 20 rounds, depth 4 */
	dtrain = make_dmatrix(train_data, NTRAIN, NFEATURES, labels, 1);
	booster = train(dtrain, NFEATURES, "binary:logistic", 20, 4);
	XGB_CHECK(XGBoosterSaveModel(booster, out_path("small.json")));
	XGB_CHECK(XGBoosterSaveModel(booster, out_path("small.ubj")));
	save_legacy_binary(booster, out_path("small.bin"));

	/* regression.json: squared error, 3 rounds, depth 2 */
	{
		BoosterHandle reg = train(dtrain, NFEATURES, "reg:squarederror", 3, 2);

		XGB_CHECK(XGBoosterSaveModel(reg, out_path("regression.json")));
		XGB_CHECK(XGBoosterFree(reg));
	}

	/* nonames.json: first 3 columns, no feature names, 5 rounds, depth 3 */
	data3 = first_columns(train_data, 3);
	dtrain3 = make_dmatrix(data3, NTRAIN, 3, labels, 0);
	{
		BoosterHandle nonames = train(dtrain3, 0, "binary:logistic", 5, 3);

		XGB_CHECK(XGBoosterSaveModel(nonames, out_path("nonames.json")));
		XGB_CHECK(XGBoosterFree(nonames));
	}

	/* test rows */
	model_json = read_file(out_path("small.json"), NULL);
	tests = xmalloc(sizeof(TestSet));
	tests->ncol = NFEATURES;
	tests->nrows = 0;
	add_random_rows(tests, 20);
	add_edge_rows(tests);
	add_threshold_rows(tests, model_json, threshold_base, 6, 4, 2);
	test_data = test_matrix(tests);

	/* predictions: in-memory model and the three saved formats */
	score_mem = xmalloc(sizeof(float) * tests->nrows);
	score_json = xmalloc(sizeof(float) * tests->nrows);
	score_ubj = xmalloc(sizeof(float) * tests->nrows);
	score_bin = xmalloc(sizeof(float) * tests->nrows);
	score_nonames_dmat = xmalloc(sizeof(float) * tests->nrows);

	from_json = load_model(out_path("small.json"));
	from_ubj = load_model(out_path("small.ubj"));
	from_bin = load_model(out_path("small.bin"));

	predict(booster, test_data, tests->nrows, 1, score_mem);
	predict(from_json, test_data, tests->nrows, 1, score_json);
	predict(from_ubj, test_data, tests->nrows, 1, score_ubj);
	predict(from_bin, test_data, tests->nrows, 0, score_bin);
	predict(from_json, test_data, tests->nrows, 0, score_nonames_dmat);

	report_same("small.json vs small.ubj", score_json, score_ubj,
				tests->nrows);
	report_same("small.json vs small.bin", score_json, score_bin,
				tests->nrows);
	report_same("small.json vs in-memory model", score_json, score_mem,
				tests->nrows);
	report_same("named vs unnamed test DMatrix", score_json,
				score_nonames_dmat, tests->nrows);
	if (!same_floats(score_json, score_ubj, tests->nrows) ||
		!same_floats(score_json, score_bin, tests->nrows) ||
		!same_floats(score_json, score_mem, tests->nrows))
	{
		fprintf(stderr, "saved models disagree, giving up\n");
		return 1;
	}

	write_expected_csv("small_expected.csv", feature_names, tests,
					   score_json);

	XGB_CHECK(XGBoosterFree(from_json));
	XGB_CHECK(XGBoosterFree(from_ubj));
	XGB_CHECK(XGBoosterFree(from_bin));
	XGB_CHECK(XGBoosterFree(booster));
	XGB_CHECK(XGDMatrixFree(dtrain3));
	free(model_json);
	free(score_mem);
	free(score_json);
	free(score_ubj);
	free(score_bin);
	free(score_nonames_dmat);
	free(data3);

	/* last, so that nothing above depends on it */
	make_categorical_fixtures();

	/* after it, for the same reason: these draw random numbers */
	make_dart_forest_fixtures(dtrain, tests, test_data);

	XGB_CHECK(XGDMatrixFree(dtrain));
	free(tests);
	free(test_data);
	free(train_data);
	free(labels);
	return 0;
}
