/*
 * bench/xgb_batch.c: XGBoost's own batch prediction, the reference for
 * fraud_score's per-row cost.  Loads a model (UBJSON), reads rows of floats
 * (one per line, comma-separated, empty = missing) and prints the best of
 * three timings of one XGBoosterPredict over all rows, per row, in
 * microseconds, with one thread (as fraud_score uses).
 *
 * Usage: xgb_batch MODEL.ubj ROWS.csv NUM_FEATURES
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xgboost/c_api.h>

#define CHECK(call) \
	do { \
		if ((call) != 0) { \
			fprintf(stderr, "xgb_batch: %s: %s\n", #call, XGBGetLastError()); \
			exit(1); \
		} \
	} while (0)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	FILE	   *f;
	long		size;
	char	   *model;
	int			ncol;
	size_t		nrow = 0,
				cap = 1 << 20;
	float	   *x;
	char		line[4096];
	BoosterHandle booster;
	DMatrixHandle dm;
	bst_ulong	len;
	const float *out;
	double		best = 1e30;

	if (argc != 4)
	{
		fprintf(stderr, "usage: xgb_batch MODEL.ubj ROWS.csv NUM_FEATURES\n");
		return 2;
	}
	ncol = atoi(argv[3]);
	f = fopen(argv[1], "rb");
	if (!f)
	{
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	model = malloc(size);
	if (fread(model, 1, size, f) != (size_t) size)
	{
		perror(argv[1]);
		return 1;
	}
	fclose(f);

	x = malloc(sizeof(float) * cap * ncol);
	f = fopen(argv[2], "r");
	if (!f)
	{
		perror(argv[2]);
		return 1;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *p = line;

		if (nrow == cap)
		{
			cap *= 2;
			x = realloc(x, sizeof(float) * cap * ncol);
		}
		for (int c = 0; c < ncol; c++)
		{
			char	   *end;
			float		v = strtof(p, &end);

			x[nrow * ncol + c] = end == p ? NAN : v;
			p = strchr(end, ',');
			p = p ? p + 1 : end;
		}
		nrow++;
	}
	fclose(f);

	CHECK(XGBoosterCreate(NULL, 0, &booster));
	CHECK(XGBoosterLoadModelFromBuffer(booster, model, size));
	CHECK(XGBoosterSetParam(booster, "nthread", "1"));
	for (int run = 0; run < 3; run++)
	{
		double		t0;

		/* A fresh matrix each time: XGBoost caches predictions per DMatrix. */
		CHECK(XGDMatrixCreateFromMat(x, nrow, ncol, NAN, &dm));
		t0 = now();
		CHECK(XGBoosterPredict(booster, dm, 0, 0, 0, &len, &out));
		if (now() - t0 < best)
			best = now() - t0;
		CHECK(XGDMatrixFree(dm));
	}
	printf("%.4f\n", best * 1e6 / nrow);
	XGBoosterFree(booster);
	return 0;
}
