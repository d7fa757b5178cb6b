/*-------------------------------------------------------------------------
 *
 * simulate.c
 *		Deterministic card-transaction simulator.
 *
 * Writes a CSV of synthetic card transactions, with fraud labels, shaped
 * like the data of the Fraud Detection Handbook (Le Borgne et al., chapter
 * 3, "Transaction data simulator"):
 *
 *	- customers and terminals are uniform random points on a 100 x 100
 *	  grid; each customer has a mean amount U(5, 100), an amount standard
 *	  deviation of half that, and a mean number of transactions per day
 *	  U(0, 4); it uses only the terminals at distance < radius;
 *	- every day each customer makes Poisson(mean per day) transactions, at
 *	  a time of day N(43200, 20000) seconds (draws outside [0, 86400) are
 *	  dropped), of amount N(mean, sd) (a negative draw is replaced by
 *	  U(0, 2 * mean)) rounded to cents, at a terminal chosen uniformly from
 *	  the customer's list;
 *	- fraud scenarios, applied in this order (a later one overwrites the
 *	  scenario number of an earlier one):
 *	  1. amount > 220;
 *	  2. every day 2 distinct terminals are compromised; all their
 *		 transactions on that day and the 27 following days are fraud;
 *	  3. every day 3 distinct customers are compromised; on that day and
 *		 the 13 following days each of their transactions is, with
 *		 probability 1/3 (independently, per compromise), multiplied by 5
 *		 and marked fraud.
 *
 * The simulation runs one day at a time: a day's transactions are
 * generated, sorted, labelled and written before the next day starts, so
 * memory does not grow with --days.  See tools/README.md.
 *
 * Determinism: all randomness comes from our own xoshiro256** generator,
 * seeded through splitmix64 from (--seed, purpose, index), and the
 * samplers use only IEEE-exact arithmetic (+ - * /, sqrt) plus our own
 * logarithm, so the output does not depend on the libm version.  Build
 * with -ffp-contract=off (the Makefile does) so that no fused multiply-add
 * changes a rounding.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>				/* sqrt only: correctly rounded by IEEE 754 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID_SIZE			100.0
#define SECONDS_PER_DAY		86400
#define TIME_MEAN			43200.0
#define TIME_SD				20000.0

#define S1_MIN_CENTS		22000	/* scenario 1: amount > 220.00 */
#define S2_PER_DAY			2		/* scenario 2: terminals drawn per day */
#define S2_DAYS				28		/* ... compromised for days d..d+27 */
#define S3_PER_DAY			3		/* scenario 3: customers drawn per day */
#define S3_DAYS				14		/* ... compromised for days d..d+13 */
#define S3_MULTIPLIER		5

#define MAX_ENTITIES		50000000
#define MAX_DAYS			1000000
#define MAX_GRID_CELLS		1024	/* per side of the spatial index */

/* Stream tags: each kind of randomness has its own independent stream */
enum
{
	TAG_CUSTOMERS = 1,
	TAG_TERMINALS,
	TAG_TRANSACTIONS,
	TAG_SCENARIO2,
	TAG_SCENARIO3_DRAW,
	TAG_SCENARIO3_PICK,
	TAG_SEASON
};

typedef struct Rng
{
	uint64_t	s[4];			/* xoshiro256** state */
	double		spare;			/* second normal of the last polar pair */
	int			have_spare;
} Rng;

typedef struct Customer
{
	double		x;
	double		y;
	double		mean_amount;
	double		sd_amount;
	double		tx_per_day;
	int			first_terminal;	/* into terminal_list[] */
	int			n_terminals;
} Customer;

typedef struct Tx
{
	int64_t		cents;
	int32_t		second;			/* time of day, 0 .. 86399 */
	int32_t		customer;
	int32_t		seq;			/* draw number within (customer, day) */
	int32_t		terminal;
	int8_t		fraud;
	int8_t		scenario;
	int8_t		seasonal;		/* extra genuine traffic of --season */
} Tx;

typedef struct Options
{
	long		customers;
	long		terminals;
	long		days;
	int			start_year;
	int			start_month;
	int			start_day;
	uint64_t	seed;
	double		radius;
	const char *out;
	long		season_first;	/* --season: first day (offset), -1 if none */
	long		season_days;
	double		season_factor;
} Options;

static const char *progname = "simulate";


/* ---------------------------------------------------------------------
 * Random numbers
 * ---------------------------------------------------------------------
 */

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z;

	*state += UINT64_C(0x9E3779B97F4A7C15);
	z = *state;
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * Seed a stream from (seed, tag, a, b): the key is folded through
 * splitmix64 one word at a time, then splitmix64 fills the state.
 */
static void
rng_init(Rng *rng, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
	uint64_t	st = seed;
	int			i;

	st = splitmix64(&st) ^ tag;
	st = splitmix64(&st) ^ a;
	st = splitmix64(&st) ^ b;
	for (i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&st);
	rng->have_spare = 0;
	rng->spare = 0.0;
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna) */
static uint64_t
rng_next(Rng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform double in [0, 1), 53 random bits */
static double
rng_uniform(Rng *rng)
{
	return (double) (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform double in [lo, hi) */
static double
rng_uniform_range(Rng *rng, double lo, double hi)
{
	return lo + (hi - lo) * rng_uniform(rng);
}

/* unbiased uniform integer in [0, n), n >= 1 */
static uint64_t
rng_below(Rng *rng, uint64_t n)
{
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;	/* a multiple of n */
	uint64_t	x;

	do
		x = rng_next(rng);
	while (x >= limit);
	return x % n;
}

/*
 * Natural logarithm of a positive finite x using only exactly rounded
 * operations, so its result is the same everywhere (unlike libm's log,
 * whose last bit may change between versions).  Accurate to a few ulps.
 */
static double
ln(double x)
{
	static const double ln2_hi = 6.93147180369123816490e-01;	/* low bits zero */
	static const double ln2_lo = 1.90821492927058770002e-10;
	static const double sqrt2 = 1.41421356237309504880;
	/* 1/(2k+1), k = 11 .. 0: atanh series, |s| <= 0.1716 */
	static const double coef[] = {
		1.0 / 23, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
		1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0
	};
	uint64_t	bits;
	int			e;
	double		m;
	double		s;
	double		z;
	double		p;
	size_t		i;

	memcpy(&bits, &x, sizeof bits);
	e = (int) ((bits >> 52) & 0x7ff);
	if (e == 0)
	{
		/* subnormal: scale by 2^54 first */
		x *= 18014398509481984.0;
		memcpy(&bits, &x, sizeof bits);
		e = (int) ((bits >> 52) & 0x7ff) - 54;
	}
	e -= 1023;
	bits = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
	memcpy(&m, &bits, sizeof m);	/* x = m * 2^e, 1 <= m < 2 */
	if (m > sqrt2)
	{
		m *= 0.5;
		e++;
	}
	/* ln(m) = 2 atanh(s), s = (m - 1) / (m + 1) */
	s = (m - 1.0) / (m + 1.0);
	z = s * s;
	p = coef[0];
	for (i = 1; i < sizeof(coef) / sizeof(coef[0]); i++)
		p = p * z + coef[i];
	return e * ln2_hi + (e * ln2_lo + 2.0 * s * p);
}

/* standard normal, Marsaglia's polar method (pairs, second one cached) */
static double
rng_std_normal(Rng *rng)
{
	double		u;
	double		v;
	double		s;
	double		f;

	if (rng->have_spare)
	{
		rng->have_spare = 0;
		return rng->spare;
	}
	do
	{
		u = 2.0 * rng_uniform(rng) - 1.0;
		v = 2.0 * rng_uniform(rng) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	f = sqrt(-2.0 * ln(s) / s);
	rng->spare = v * f;
	rng->have_spare = 1;
	return u * f;
}

static double
rng_normal(Rng *rng, double mean, double sd)
{
	return mean + sd * rng_std_normal(rng);
}

/*
 * Poisson(lambda): count unit-rate exponential arrivals before time lambda
 * (equivalent to Knuth's product method; lambda here is below 4).
 */
static int
rng_poisson(Rng *rng, double lambda)
{
	int			k = 0;
	double		t = -ln(1.0 - rng_uniform(rng));	/* argument in (0, 1] */

	while (t < lambda)
	{
		k++;
		t -= ln(1.0 - rng_uniform(rng));
	}
	return k;
}

/* k distinct values from [0, n) into out[], k <= n, k small */
static void
rng_distinct(Rng *rng, long n, int k, int *out)
{
	int			i;
	int			j;

	for (i = 0; i < k; i++)
	{
again:
		out[i] = (int) rng_below(rng, (uint64_t) n);
		for (j = 0; j < i; j++)
			if (out[j] == out[i])
				goto again;
	}
}


/* ---------------------------------------------------------------------
 * Utilities
 * ---------------------------------------------------------------------
 */

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	return p;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* inverse of days_from_civil */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}


/* ---------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------
 */

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: %s [OPTION]...\n"
			"Write simulated card transactions with fraud labels as CSV "
			"(Fraud Detection\n"
			"Handbook design).  Same options give byte-identical output.\n"
			"\n"
			"  --customers N      number of customers (default 5000)\n"
			"  --terminals N      number of terminals (default 10000)\n"
			"  --days N           number of days to simulate (default 30)\n"
			"  --start YYYY-MM-DD first day (default 2018-04-01)\n"
			"  --seed S           random seed, 0 .. 2^64-1 (default 1)\n"
			"  --radius R         customers use terminals closer than R "
			"(default 5)\n"
			"  --season D:N:F     from day D (0 = the first) for N days, F times the genuine\n"
			"                     traffic (F >= 1; frauds as without it), e.g. 30:30:2\n"
			"  --out FILE         write to FILE instead of standard output\n"
			"  --help             show this help and exit\n",
			progname);
}

static void
bad_value(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "%s: invalid value \"%s\" for %s: %s\n",
			progname, val, opt, why);
	exit(2);
}

static long
parse_long(const char *opt, const char *val, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (end == val || *end != '\0' || errno != 0 || v < min || v > max)
	{
		char		why[96];

		snprintf(why, sizeof why, "expected an integer from %ld to %ld",
				 min, max);
		bad_value(opt, val, why);
	}
	return v;
}

static uint64_t
parse_seed(const char *opt, const char *val)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	if (val[0] < '0' || val[0] > '9')
		bad_value(opt, val, "expected an integer from 0 to 2^64-1");
	v = strtoull(val, &end, 10);
	if (*end != '\0' || errno != 0)
		bad_value(opt, val, "expected an integer from 0 to 2^64-1");
	return (uint64_t) v;
}

static double
parse_radius(const char *opt, const char *val)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(val, &end);
	/* !(v > 0) also rejects NaN */
	if (end == val || *end != '\0' || errno != 0 || !(v > 0) || v > 1e6)
		bad_value(opt, val, "expected a number > 0");
	return v;
}

static void
parse_date(const char *opt, const char *val, Options *o)
{
	int			i;
	int			y;
	int			m;
	int			d;

	for (i = 0; i < 10; i++)
	{
		int			want_dash = (i == 4 || i == 7);

		if (val[i] == '\0' ||
			(want_dash ? val[i] != '-' : (val[i] < '0' || val[i] > '9')))
			bad_value(opt, val, "expected YYYY-MM-DD");
	}
	if (val[10] != '\0')
		bad_value(opt, val, "expected YYYY-MM-DD");
	y = atoi(val);
	m = atoi(val + 5);
	d = atoi(val + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		bad_value(opt, val, "no such date");
	o->start_year = y;
	o->start_month = m;
	o->start_day = d;
}

/* --season D:N:F */
static void
parse_season(const char *opt, const char *val, Options *o)
{
	char	   *end;
	long		first,
				days;
	double		factor;

	errno = 0;
	first = strtol(val, &end, 10);
	if (end == val || *end != ':' || first < 0 || first > MAX_DAYS)
		bad_value(opt, val, "expected D:N:F, e.g. 30:30:2");
	days = strtol(end + 1, &end, 10);
	if (*end != ':' || days < 1 || days > MAX_DAYS)
		bad_value(opt, val, "expected D:N:F with N at least 1");
	factor = strtod(end + 1, &end);
	if (*end != '\0' || errno != 0 || !(factor >= 1.0 && factor <= 100.0))
		bad_value(opt, val, "expected D:N:F with F from 1 to 100");
	o->season_first = first;
	o->season_days = days;
	o->season_factor = factor;
}

static void
parse_options(int argc, char **argv, Options *o)
{
	int			i;

	o->customers = 5000;
	o->terminals = 10000;
	o->days = 30;
	o->start_year = 2018;
	o->start_month = 4;
	o->start_day = 1;
	o->seed = 1;
	o->radius = 5.0;
	o->out = NULL;
	o->season_first = -1;
	o->season_days = 0;
	o->season_factor = 1.0;

	for (i = 1; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *val;
		char		name[32];
		const char *eq;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
		{
			usage(stdout);
			exit(0);
		}
		if (strncmp(arg, "--", 2) != 0)
		{
			fprintf(stderr, "%s: unexpected argument \"%s\"; try --help\n",
					progname, arg);
			exit(2);
		}
		/* --name=value or --name value */
		eq = strchr(arg, '=');
		if (eq != NULL)
		{
			size_t		len = (size_t) (eq - arg);

			if (len >= sizeof name)
				len = sizeof name - 1;
			memcpy(name, arg, len);
			name[len] = '\0';
			val = eq + 1;
		}
		else
		{
			snprintf(name, sizeof name, "%s", arg);
			val = NULL;
		}

		if (strcmp(name, "--customers") != 0 &&
			strcmp(name, "--terminals") != 0 &&
			strcmp(name, "--days") != 0 &&
			strcmp(name, "--start") != 0 &&
			strcmp(name, "--seed") != 0 &&
			strcmp(name, "--radius") != 0 &&
			strcmp(name, "--season") != 0 &&
			strcmp(name, "--out") != 0)
		{
			fprintf(stderr, "%s: unknown option \"%s\"; try --help\n",
					progname, arg);
			exit(2);
		}
		if (val == NULL)
		{
			if (i + 1 >= argc)
			{
				fprintf(stderr, "%s: option %s needs a value\n",
						progname, name);
				exit(2);
			}
			val = argv[++i];
		}

		if (strcmp(name, "--customers") == 0)
			o->customers = parse_long(name, val, 0, MAX_ENTITIES);
		else if (strcmp(name, "--terminals") == 0)
			o->terminals = parse_long(name, val, 0, MAX_ENTITIES);
		else if (strcmp(name, "--days") == 0)
			o->days = parse_long(name, val, 0, MAX_DAYS);
		else if (strcmp(name, "--start") == 0)
			parse_date(name, val, o);
		else if (strcmp(name, "--seed") == 0)
			o->seed = parse_seed(name, val);
		else if (strcmp(name, "--radius") == 0)
			o->radius = parse_radius(name, val);
		else if (strcmp(name, "--season") == 0)
			parse_season(name, val, o);
		else
			o->out = val;
	}
}


/* ---------------------------------------------------------------------
 * Profiles
 * ---------------------------------------------------------------------
 */

static int
cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

static int
grid_cell(double v, int g)
{
	int			c;

	if (v <= 0.0)
		return 0;
	c = (int) (v * g / GRID_SIZE);
	return c < g ? c : g - 1;
}

/*
 * Place terminals and customers, and give each customer the ascending list
 * of terminals at distance < radius (stored in *terminal_list, indexed by
 * Customer.first_terminal/n_terminals).  Terminals are bucketed in a grid
 * so that only nearby cells are examined.
 */
static Customer *
make_profiles(const Options *o, int **terminal_list)
{
	long		nc = o->customers;
	long		nt = o->terminals;
	double		r = o->radius;
	double		r2 = r * r;
	Customer   *cust = xmalloc(sizeof(Customer) * (size_t) nc);
	double	   *tx = xmalloc(sizeof(double) * (size_t) nt);
	double	   *ty = xmalloc(sizeof(double) * (size_t) nt);
	int			g;
	int		   *cell_start;
	int		   *cell_terms;
	int		   *list = NULL;
	size_t		list_len = 0;
	size_t		list_cap = 0;
	Rng			rng;
	long		i;

	rng_init(&rng, o->seed, TAG_TERMINALS, 0, 0);
	for (i = 0; i < nt; i++)
	{
		tx[i] = rng_uniform_range(&rng, 0.0, GRID_SIZE);
		ty[i] = rng_uniform_range(&rng, 0.0, GRID_SIZE);
	}

	rng_init(&rng, o->seed, TAG_CUSTOMERS, 0, 0);
	for (i = 0; i < nc; i++)
	{
		Customer   *c = &cust[i];

		c->x = rng_uniform_range(&rng, 0.0, GRID_SIZE);
		c->y = rng_uniform_range(&rng, 0.0, GRID_SIZE);
		c->mean_amount = rng_uniform_range(&rng, 5.0, 100.0);
		c->sd_amount = c->mean_amount / 2.0;
		c->tx_per_day = rng_uniform_range(&rng, 0.0, 4.0);
	}

	/* grid of cells at least r wide (capped), terminals by cell, by id */
	g = r >= GRID_SIZE ? 1 : (int) (GRID_SIZE / r);
	if (g < 1)
		g = 1;
	if (g > MAX_GRID_CELLS)
		g = MAX_GRID_CELLS;
	cell_start = xmalloc(sizeof(int) * ((size_t) g * g + 1));
	cell_terms = xmalloc(sizeof(int) * (size_t) nt);
	memset(cell_start, 0, sizeof(int) * ((size_t) g * g + 1));
	for (i = 0; i < nt; i++)
		cell_start[grid_cell(ty[i], g) * g + grid_cell(tx[i], g) + 1]++;
	for (i = 0; i < (long) g * g; i++)
		cell_start[i + 1] += cell_start[i];
	{
		int		   *fill = xmalloc(sizeof(int) * ((size_t) g * g));

		memcpy(fill, cell_start, sizeof(int) * ((size_t) g * g));
		for (i = 0; i < nt; i++)
			cell_terms[fill[grid_cell(ty[i], g) * g + grid_cell(tx[i], g)]++] =
				(int) i;
		free(fill);
	}

	for (i = 0; i < nc; i++)
	{
		Customer   *c = &cust[i];
		/* one extra cell each side guards against rounding at edges */
		int			x0 = grid_cell(c->x - r, g) - 1;
		int			x1 = grid_cell(c->x + r, g) + 1;
		int			y0 = grid_cell(c->y - r, g) - 1;
		int			y1 = grid_cell(c->y + r, g) + 1;
		int			cx;
		int			cy;

		if (x0 < 0)
			x0 = 0;
		if (y0 < 0)
			y0 = 0;
		if (x1 > g - 1)
			x1 = g - 1;
		if (y1 > g - 1)
			y1 = g - 1;

		c->first_terminal = (int) list_len;
		for (cy = y0; cy <= y1; cy++)
			for (cx = x0; cx <= x1; cx++)
			{
				int			cell = cy * g + cx;
				int			k;

				for (k = cell_start[cell]; k < cell_start[cell + 1]; k++)
				{
					int			t = cell_terms[k];
					double		dx = tx[t] - c->x;
					double		dy = ty[t] - c->y;

					if (dx * dx + dy * dy < r2)
					{
						if (list_len == list_cap)
						{
							list_cap = list_cap ? list_cap * 2 : 65536;
							list = xrealloc(list, sizeof(int) * list_cap);
						}
						list[list_len++] = t;
					}
				}
			}
		if (list_len > (size_t) INT32_MAX)
		{
			fprintf(stderr, "%s: too many customer/terminal pairs; "
					"use a smaller --radius\n", progname);
			exit(1);
		}
		c->n_terminals = (int) (list_len - (size_t) c->first_terminal);
		qsort(list + c->first_terminal, (size_t) c->n_terminals,
			  sizeof(int), cmp_int);
	}

	free(cell_start);
	free(cell_terms);
	free(tx);
	free(ty);
	*terminal_list = list;
	return cust;
}


/* ---------------------------------------------------------------------
 * Simulation
 * ---------------------------------------------------------------------
 */

/* order within a day: time, then customer, then draw number (all unique) */
static int
cmp_tx(const void *a, const void *b)
{
	const Tx   *x = a;
	const Tx   *y = b;

	if (x->second != y->second)
		return x->second < y->second ? -1 : 1;
	if (x->customer != y->customer)
		return x->customer < y->customer ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void
write_error(const char *name)
{
	fprintf(stderr, "%s: error writing %s: %s\n",
			progname, name, strerror(errno));
	exit(1);
}

/*
 * Draw "count" transactions of customer i (draw numbers first ..) into
 * day_tx, growing it as needed; "seasonal" marks --season's extra traffic.
 */
static Tx *
draw_transactions(Rng *rng, const Customer *c, int i, int first, int count,
				  const int *terminal_list, int seasonal, Tx *day_tx, size_t *n,
				  size_t *day_cap)
{
	for (int j = first; j < first + count; j++)
	{
		double		t = rng_normal(rng, TIME_MEAN, TIME_SD);
		double		amount;
		Tx		   *x;

		if (t < 0.0 || t >= SECONDS_PER_DAY)
			continue;
		amount = rng_normal(rng, c->mean_amount, c->sd_amount);
		if (amount < 0.0)
			amount = rng_uniform_range(rng, 0.0, 2.0 * c->mean_amount);
		if (*n == *day_cap)
		{
			*day_cap = *day_cap ? *day_cap * 2 : 16384;
			day_tx = xrealloc(day_tx, sizeof(Tx) * *day_cap);
		}
		x = &day_tx[(*n)++];
		x->second = (int32_t) t;
		x->customer = (int32_t) i;
		x->seq = j;
		/* round half up to cents (amount >= 0) */
		x->cents = (int64_t) (amount * 100.0 + 0.5);
		x->terminal = terminal_list[c->first_terminal +
									(int) rng_below(rng, (uint64_t) c->n_terminals)];
		x->fraud = 0;
		x->scenario = 0;
		x->seasonal = (int8_t) seasonal;
	}
	return day_tx;
}

int
main(int argc, char **argv)
{
	Options		o;
	Customer   *cust;
	int		   *terminal_list;
	int		   *s2_until;		/* per terminal: last compromised day */
	int		   *s3_active;		/* per customer: live compromises */
	int			s3_drawn[S3_DAYS][S3_PER_DAY];	/* ring, by day % S3_DAYS */
	int			s3_ndrawn[S3_DAYS];
	int			n_s2 = S2_PER_DAY;
	int			n_s3 = S3_PER_DAY;
	Tx		   *day_tx = NULL;
	size_t		day_cap = 0;
	int64_t		start_days;
	int64_t		next_id = 0;
	FILE	   *out = stdout;
	const char *out_name = "standard output";
	long		d;
	long		i;

	if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0')
	{
		const char *slash = strrchr(argv[0], '/');

		progname = slash ? slash + 1 : argv[0];
	}
	parse_options(argc, argv, &o);

	start_days = days_from_civil(o.start_year, o.start_month, o.start_day);
	{
		int64_t		y;
		int			m;
		int			dd;

		civil_from_days(start_days + (o.days > 0 ? o.days - 1 : 0),
						&y, &m, &dd);
		if (y > 9999)
		{
			fprintf(stderr, "%s: the simulation would run past year 9999\n",
					progname);
			exit(2);
		}
	}

	if (o.out != NULL)
	{
		out = fopen(o.out, "w");
		if (out == NULL)
		{
			fprintf(stderr, "%s: could not open \"%s\": %s\n",
					progname, o.out, strerror(errno));
			exit(1);
		}
		out_name = o.out;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16);

	cust = make_profiles(&o, &terminal_list);

	s2_until = xmalloc(sizeof(int) * (size_t) o.terminals);
	for (i = 0; i < o.terminals; i++)
		s2_until[i] = -1;
	s3_active = xmalloc(sizeof(int) * (size_t) o.customers);
	memset(s3_active, 0, sizeof(int) * (size_t) o.customers);
	memset(s3_ndrawn, 0, sizeof s3_ndrawn);
	if (n_s2 > o.terminals)
		n_s2 = (int) o.terminals;
	if (n_s3 > o.customers)
		n_s3 = (int) o.customers;

	if (fputs("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,"
			  "TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n",
			  out) == EOF)
		write_error(out_name);

	for (d = 0; d < o.days; d++)
	{
		size_t		n = 0;
		size_t		k;
		Rng			rng;
		int			drawn[S2_PER_DAY > S3_PER_DAY ? S2_PER_DAY : S3_PER_DAY];
		int			slot = (int) (d % S3_DAYS);
		char		date[32];
		int64_t		y;
		int			m;
		int			dd;

		/* generate: one stream per (customer, day) */
		for (i = 0; i < o.customers; i++)
		{
			const Customer *c = &cust[i];
			int			ntx;
			int			extra = 0;

			if (c->n_terminals == 0)
				continue;
			rng_init(&rng, o.seed, TAG_TRANSACTIONS, (uint64_t) i,
					 (uint64_t) d);
			ntx = rng_poisson(&rng, c->tx_per_day);
			day_tx = draw_transactions(&rng, c, (int) i, 0, ntx, terminal_list, 0,
									   day_tx, &n, &day_cap);
			if (o.season_first >= 0 && d >= o.season_first &&
				d < o.season_first + o.season_days)
			{
				/* a stream of its own: the other draws stay as they were */
				rng_init(&rng, o.seed, TAG_SEASON, (uint64_t) i, (uint64_t) d);
				extra = rng_poisson(&rng, c->tx_per_day * (o.season_factor - 1.0));
				day_tx = draw_transactions(&rng, c, (int) i, ntx, extra, terminal_list, 1,
										   day_tx, &n, &day_cap);
			}
		}
		qsort(day_tx, n, sizeof(Tx), cmp_tx);

		/* scenario 1: large amounts */
		for (k = 0; k < n; k++)
			if (day_tx[k].cents > S1_MIN_CENTS)
			{
				day_tx[k].fraud = 1;
				day_tx[k].scenario = 1;
			}

		/* scenario 2: today's compromised terminals, then all live ones */
		rng_init(&rng, o.seed, TAG_SCENARIO2, (uint64_t) d, 0);
		rng_distinct(&rng, o.terminals, n_s2, drawn);
		for (k = 0; k < (size_t) n_s2; k++)
			s2_until[drawn[k]] = (int) d + S2_DAYS - 1;
		for (k = 0; k < n; k++)
			if (s2_until[day_tx[k].terminal] >= d)
			{
				day_tx[k].fraud = 1;
				day_tx[k].scenario = 2;
			}

		/* scenario 3: expire the draws of day d - 14, add today's */
		for (k = 0; k < (size_t) s3_ndrawn[slot]; k++)
			s3_active[s3_drawn[slot][k]]--;
		rng_init(&rng, o.seed, TAG_SCENARIO3_DRAW, (uint64_t) d, 0);
		rng_distinct(&rng, o.customers, n_s3, s3_drawn[slot]);
		s3_ndrawn[slot] = n_s3;
		for (k = 0; k < (size_t) n_s3; k++)
			s3_active[s3_drawn[slot][k]]++;
		/* each live compromise picks each transaction with probability 1/3 */
		rng_init(&rng, o.seed, TAG_SCENARIO3_PICK, (uint64_t) d, 0);
		for (k = 0; k < n; k++)
		{
			int			a;

			for (a = 0; a < s3_active[day_tx[k].customer]; a++)
				if (rng_below(&rng, 3) == 0)
				{
					day_tx[k].cents *= S3_MULTIPLIER;
					day_tx[k].fraud = 1;
					day_tx[k].scenario = 3;
				}
		}

		/* write */
		civil_from_days(start_days + d, &y, &m, &dd);
		snprintf(date, sizeof date, "%04d-%02d-%02d", (int) y, m, dd);
		for (k = 0; k < n; k++)
		{
			const Tx   *x = &day_tx[k];
			int64_t		secs = (int64_t) d * SECONDS_PER_DAY + x->second;

			/* --season adds genuine traffic only: what a scenario made a
			 * fraud of it is left out */
			if (x->seasonal && x->fraud)
				continue;

			if (fprintf(out, "%lld,%s %02d:%02d:%02d,%d,%d,%lld.%02d,%lld,%ld,%d,%d\n",
						(long long) next_id++, date,
						x->second / 3600, x->second / 60 % 60, x->second % 60,
						x->customer, x->terminal,
						(long long) (x->cents / 100), (int) (x->cents % 100),
						(long long) secs, d, x->fraud, x->scenario) < 0)
				write_error(out_name);
		}
	}

	if (fflush(out) != 0 || ferror(out))
		write_error(out_name);
	if (out != stdout && fclose(out) != 0)
		write_error(out_name);

	free(day_tx);
	free(s2_until);
	free(s3_active);
	free(terminal_list);
	free(cust);
	return 0;
}
