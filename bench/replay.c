/*
 * bench/replay.c: play a period of card transactions back against
 * fraud_score like a live system, and report detection quality and latency.
 *
 * Usually run through the wrapper bench/replay (see bench/README.md).
 *
 * Steps: set up the example schema and import the model; bulk-load the
 * history (rows before the replay start) with COPY, with the fraud labels
 * already known at the replay start; then insert the replay rows one by one
 * through the scoring trigger, applying each fraud report (a fraud becomes
 * known delay_days after its transaction) just before the first row at or
 * after its report time, and the same row into a plain twin of card_tx for
 * comparison, just before or just after it by turns; then print metrics,
 * with one JSON object as the last line.
 *
 * The truth (TX_FRAUD, TX_FRAUD_SCENARIO) stays in this client: the database
 * sees a fraud only through card_tx.fraud_reported_at and card_tx_labels,
 * written when the report arrives.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define SECONDS_PER_DAY 86400
#define CppAsString(x) #x
#define CppAsString2(x) CppAsString(x)
#define DEFAULT_PLAIN_ROWS 20000
#define RECALIBRATE_WINDOW_DAYS 14	/* card_tx_recalibrate's labeled_window */

/* ------------------------------------------------------------------ */
/* errors and small helpers                                           */
/* ------------------------------------------------------------------ */

static void
die(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fputs("replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growing text buffer. */
typedef struct
{
	char	   *p;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (b->len + extra + 1 > cap)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static void
buf_printf(Buf *b, const char *fmt,...)
{
	for (;;)
	{
		va_list		ap;
		size_t		room;
		int			n;

		buf_reserve(b, 64);
		room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if ((size_t) n < room)
		{
			b->len += n;
			return;
		}
		buf_reserve(b, n);
	}
}

static void
buf_reset(Buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* timestamps: seconds since 1970-01-01 00:00:00, no time zone        */
/* ------------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = (int) (yoe + era * 400 + (*m <= 2));
}

static int
digits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/*
 * "YYYY-MM-DD HH:MM:SS" (or with 'T'), or with date_only allowed,
 * "YYYY-MM-DD".  Returns 1 on success, 2 for a date only, 0 when malformed.
 */
static int
parse_timestamp(const char *s, size_t len, int date_only_ok, int64_t *out)
{
	int			y,
				mo,
				d,
				h = 0,
				mi = 0,
				se = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len != 10 && len != 19)
		return 0;
	if (len == 10 && !date_only_ok)
		return 0;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
		!digits(s + 8, 2, &d))
		return 0;
	if (len == 19)
	{
		if ((s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2, &h) || s[13] != ':' ||
			!digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
			return 0;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
		return 0;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	*out = days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60 + se;
	return len == 10 ? 2 : 1;
}

/* Writes "YYYY-MM-DD HH:MM:SS" into out (at least 20 bytes). */
static char *
format_timestamp(int64_t t, char *out)
{
	int64_t		days = t >= 0 ? t / SECONDS_PER_DAY : -((-t + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
	int64_t		secs = t - days * SECONDS_PER_DAY;
	int			y,
				m,
				d;

	unsigned	f[6];
	static const int width[6] = {4, 2, 2, 2, 2, 2};
	static const char sep[6] = {'-', '-', ' ', ':', ':', '\0'};
	char	   *p = out;

	civil_from_days(days, &y, &m, &d);
	f[0] = (unsigned) y % 10000;	/* parse_timestamp accepts 4-digit years only */
	f[1] = (unsigned) m;
	f[2] = (unsigned) d;
	f[3] = (unsigned) (secs / 3600);
	f[4] = (unsigned) (secs / 60 % 60);
	f[5] = (unsigned) (secs % 60);
	for (int i = 0; i < 6; i++)
	{
		for (int k = width[i] - 1; k >= 0; k--)
		{
			p[k] = (char) ('0' + f[i] % 10);
			f[i] /= 10;
		}
		p += width[i];
		*p++ = sep[i];
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* CSV input (plain or gzip, decompressed by a gzip child process)    */
/* ------------------------------------------------------------------ */

typedef struct
{
	int64_t		id;
	int64_t		t;				/* TX_DATETIME */
	int32_t		customer;
	int32_t		terminal;
	uint8_t		fraud;			/* truth: client side only */
	uint8_t		scenario;		/* truth: client side only */
	char		amount[16];		/* TX_AMOUNT as written in the file */
} Row;

enum
{
	COL_ID, COL_DATETIME, COL_CUSTOMER, COL_TERMINAL, COL_AMOUNT, COL_FRAUD, COL_SCENARIO, NCOLS
};
static const char *const col_names[NCOLS] = {
	"TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD",
	"TX_FRAUD_SCENARIO"
};

typedef struct
{
	const char *path;
	FILE	   *f;
	pid_t		child;			/* gzip -dc, or 0 */
	long		line;
	char	   *buf;
	size_t		cap;
	int			col[NCOLS];		/* field index of each needed column */
	int			nfields;
	int64_t		last_t;
} Csv;

static void
csv_error(Csv *c, const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "replay: %s, line %ld: ", c->path, c->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Splits line in place at commas; returns the number of fields. */
static int
split_fields(char *line, char **fields, int max)
{
	int			n = 0;
	char	   *p = line;

	for (;;)
	{
		char	   *comma = strchr(p, ',');

		if (n < max)
			fields[n] = p;
		n++;
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return n;
}

/* Reads one line without its line end; 0 at end of file. */
static int
csv_read_line(Csv *c)
{
	size_t		len;

	if (getline(&c->buf, &c->cap, c->f) < 0)
	{
		if (ferror(c->f))
			csv_error(c, "read error: %s", strerror(errno));
		return 0;
	}
	c->line++;
	len = strlen(c->buf);
	while (len > 0 && (c->buf[len - 1] == '\n' || c->buf[len - 1] == '\r'))
		c->buf[--len] = '\0';
	return 1;
}

static void
csv_open(Csv *c, const char *path)
{
	unsigned char magic[2] = {0, 0};
	struct stat st;
	int			fd;
	char	   *fields[64];
	int			n;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->last_t = INT64_MIN;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		die("%s is a directory, not a CSV file", path);
	if (read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
	{
		int			pipefd[2];

		if (pipe(pipefd) < 0)
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		c->child = fork();
		if (c->child < 0)
			die("fork: %s", strerror(errno));
		if (c->child == 0)
		{
			lseek(fd, 0, SEEK_SET);
			dup2(fd, 0);
			dup2(pipefd[1], 1);
			close(pipefd[0]);
			close(pipefd[1]);
			close(fd);
			execlp("gzip", "gzip", "-dc", (char *) NULL);
			fprintf(stderr, "replay: cannot run gzip to read %s: %s\n", path, strerror(errno));
			_exit(127);
		}
		close(pipefd[1]);
		close(fd);
		c->f = fdopen(pipefd[0], "r");
	}
	else
	{
		lseek(fd, 0, SEEK_SET);
		c->f = fdopen(fd, "r");
	}
	if (c->f == NULL)
		die("cannot read %s: %s", path, strerror(errno));

	if (!csv_read_line(c))
		die("%s is empty (expected a CSV header line)", path);
	n = split_fields(c->buf, fields, 64);
	if (n > 64)
		csv_error(c, "header has %d fields, more than 64", n);
	c->nfields = n;
	for (int k = 0; k < NCOLS; k++)
	{
		c->col[k] = -1;
		for (int i = 0; i < n; i++)
			if (strcmp(fields[i], col_names[k]) == 0)
				c->col[k] = i;
		if (c->col[k] < 0)
			csv_error(c, "header has no column %s (expected TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,"
					  "TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO)",
					  col_names[k]);
	}
}

static int64_t
parse_int_field(Csv *c, const char *s, const char *what, int64_t min, int64_t max)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		csv_error(c, "bad %s \"%s\" (an integer in [%lld, %lld])", what, s, (long long) min,
				  (long long) max);
	return v;
}

/* Reads the next row; 0 at end of file.  Checks that rows are in time order. */
static int
csv_next(Csv *c, Row *r)
{
	char	   *f[64];
	int			n;
	const char *a;
	size_t		alen;
	int			dot = 0;

	do
	{
		if (!csv_read_line(c))
			return 0;
	} while (c->buf[0] == '\0');	/* blank lines, e.g. at the end */

	n = split_fields(c->buf, f, 64);
	if (n != c->nfields)
		csv_error(c, "%d fields, but the header has %d (quoted fields are not supported)", n,
				  c->nfields);
	r->id = parse_int_field(c, f[c->col[COL_ID]], "TRANSACTION_ID", 0, INT64_MAX);
	if (!parse_timestamp(f[c->col[COL_DATETIME]], strlen(f[c->col[COL_DATETIME]]), 0, &r->t))
		csv_error(c, "bad TX_DATETIME \"%s\" (expected YYYY-MM-DD HH:MM:SS)", f[c->col[COL_DATETIME]]);
	r->customer = (int32_t) parse_int_field(c, f[c->col[COL_CUSTOMER]], "CUSTOMER_ID", INT32_MIN, INT32_MAX);
	r->terminal = (int32_t) parse_int_field(c, f[c->col[COL_TERMINAL]], "TERMINAL_ID", INT32_MIN, INT32_MAX);
	r->fraud = (uint8_t) parse_int_field(c, f[c->col[COL_FRAUD]], "TX_FRAUD", 0, 1);
	r->scenario = (uint8_t) parse_int_field(c, f[c->col[COL_SCENARIO]], "TX_FRAUD_SCENARIO", 0, 255);

	a = f[c->col[COL_AMOUNT]];
	alen = strlen(a);
	if (alen == 0 || alen >= sizeof(r->amount))
		csv_error(c, "bad TX_AMOUNT \"%s\"", a);
	for (size_t i = 0; i < alen; i++)
	{
		if (a[i] == '.' && !dot)
			dot = 1;
		else if (!isdigit((unsigned char) a[i]) && !(i == 0 && a[i] == '-' && alen > 1))
			csv_error(c, "bad TX_AMOUNT \"%s\"", a);
	}
	memcpy(r->amount, a, alen + 1);

	if (r->t < c->last_t)
		csv_error(c, "rows are not sorted by TX_DATETIME (%s comes after a later row)",
				  f[c->col[COL_DATETIME]]);
	c->last_t = r->t;
	return 1;
}

/* Closes the file; reading stopped early is fine, a failed gzip is not. */
static void
csv_close(Csv *c, int read_to_end)
{
	int			status;

	fclose(c->f);
	if (c->child > 0)
	{
		if (waitpid(c->child, &status, 0) < 0)
			die("waitpid: %s", strerror(errno));
		/* A gzip we stopped reading early dies of SIGPIPE: not an error. */
		if (read_to_end && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			die("gzip failed to decompress %s (truncated or corrupt?)", c->path);
	}
	free(c->buf);
}

/* ------------------------------------------------------------------ */
/* database                                                            */
/* ------------------------------------------------------------------ */

static PGconn *conn;

static void
pg_fail(const char *what, const char *statement, PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);

	fflush(stdout);
	fprintf(stderr, "replay: %s failed:\n%s", what, (msg && *msg) ? msg : "(no error message)\n");
	if (res && !(msg && *msg))
		fprintf(stderr, "(result status %s)\n", PQresStatus(PQresultStatus(res)));
	if (statement)
		fprintf(stderr, "statement: %s\n", statement);
	exit(1);
}

/* Runs sql (no parameters); dies unless the result has status expect. */
static PGresult *
run(const char *what, const char *sql, ExecStatusType expect)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != expect)
		pg_fail(what, sql, res);
	return res;
}

static void
run_command(const char *what, const char *sql)
{
	PQclear(run(what, sql, PGRES_COMMAND_OK));
}

static char *
read_file(const char *path, size_t *len_out)
{
	FILE	   *f = fopen(path, "rb");
	Buf			b = {0};
	size_t		n;

	if (f == NULL)
		return NULL;
	for (;;)
	{
		buf_reserve(&b, 65536);
		n = fread(b.p + b.len, 1, 65536, f);
		b.len += n;
		if (n < 65536)
			break;
	}
	if (ferror(f))
		die("read error on %s: %s", path, strerror(errno));
	fclose(f);
	buf_reserve(&b, 0);
	b.p[b.len] = '\0';
	if (len_out)
		*len_out = b.len;
	return b.p;
}

/* ------------------------------------------------------------------ */
/* options                                                             */
/* ------------------------------------------------------------------ */

typedef struct
{
	const char *history;
	const char *replay;
	const char *model;			/* as given, or the default path */
	const char *features;		/* --features: the model's feature function replaced */
	int			delay_days;
	int			have_delay;
	int64_t		from;			/* inclusive */
	int64_t		to_excl;		/* exclusive */
	int			have_from;
	int			have_to;
	char		from_text[20];
	char		to_text[20];
	const char *conninfo;
	const char *out;
	const char *root;
	int			reset;
	long		plain_rows;
	int			check_only;
	double		recalibrate;	/* target precision, or 0: no nightly recalibration */
	int			backtest;		/* after the replay, backtest over the replayed rows */
} Options;

static void
usage(FILE *f)
{
	fputs("Usage: bench/replay --history FILE --replay FILE --delay-days D [options]\n"
		  "\n"
		  "Plays card transactions back against fraud_score like a live system: loads the\n"
		  "history, then inserts the replay rows one by one through the scoring trigger, a\n"
		  "fraud becoming known D days after its transaction.  See bench/README.md.\n"
		  "\n"
		  "  --history FILE     CSV (or .csv.gz) loaded before the replay; rows at or after the\n"
		  "                     replay start are ignored\n"
		  "  --replay FILE      CSV (or .csv.gz) with the rows to replay (may be the same file)\n"
		  "  --delay-days D     days from a fraud to its report (integer, 0..365)\n"
		  "  --model PATH       model document (fraud_model_export); default models/card_d<D>.json\n"
		  "                     in the repository\n"
		  "  --features FN      score with feature function FN instead of the model's, e.g.\n"
		  "                     'public.card_tx_velocity(jsonb)', the example's declared feature set\n"
		  "  --from DATE        replay start: YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (default: the\n"
		  "                     replay file's first row)\n"
		  "  --to DATE          replay end, inclusive (a date means the whole day; default: the end)\n"
		  "  --conninfo STR     use this database instead of a throwaway cluster\n"
		  "  --reset            drop and recreate card_tx, card_tx_labels, card_tx_plain and the\n"
		  "                     example functions first (else they must be absent or empty)\n"
		  "  --plain-rows N     rows for the plain-INSERT comparison (default 20000; 0 = all)\n"
		  "  --out FILE         write transaction_id,score,decision for every replayed row\n"
		  "  --recalibrate P    at every simulated midnight, once the labels due by then are\n"
		  "                     reported, run the example's nightly recalibration\n"
		  "                     (card_tx_recalibrate) with target precision P (0 < P < 1)\n"
		  "  --backtest         afterwards, backtest the model (a second, inactive copy of it)\n"
		  "                     beside the active version over the replayed rows\n"
		  "                     (card_tx_backtest): its rate beside the scored INSERTs', and\n"
		  "                     whether the active side flags what the trigger flagged\n"
		  "  --help             this text\n"
		  "(--root DIR, the repository, and --check-only are for the wrapper bench/replay.)\n", f);
}

static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
	const char *arg = argv[*i];
	size_t		len = strlen(name);

	if (strncmp(arg, name, len) == 0 && arg[len] == '=')
		return arg + len + 1;
	if (*i + 1 >= argc)
	{
		fprintf(stderr, "replay: %s needs a value\n", name);
		usage(stderr);
		exit(2);
	}
	return argv[++*i];
}

static int
is_option(const char *arg, const char *name)
{
	size_t		len = strlen(name);

	return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static void
bad_arg(const char *fmt,...)
{
	va_list		ap;

	fputs("replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(bench/replay --help for usage)\n", stderr);
	exit(2);
}

static void
check_readable(const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		bad_arg("%s %s: %s", what, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		bad_arg("%s %s is a directory", what, path);
	if (access(path, R_OK) < 0)
		bad_arg("%s %s: %s", what, path, strerror(errno));
}

static void
parse_options(int argc, char **argv, Options *o)
{
	static char default_model[PATH_MAX];

	memset(o, 0, sizeof(*o));
	o->plain_rows = DEFAULT_PLAIN_ROWS;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			usage(stdout);
			exit(0);
		}
		else if (is_option(a, "--history"))
			o->history = option_value(argc, argv, &i, "--history");
		else if (is_option(a, "--replay"))
			o->replay = option_value(argc, argv, &i, "--replay");
		else if (is_option(a, "--model"))
			o->model = option_value(argc, argv, &i, "--model");
		else if (is_option(a, "--features"))
			o->features = option_value(argc, argv, &i, "--features");
		else if (is_option(a, "--conninfo"))
			o->conninfo = option_value(argc, argv, &i, "--conninfo");
		else if (is_option(a, "--out"))
			o->out = option_value(argc, argv, &i, "--out");
		else if (is_option(a, "--root"))
			o->root = option_value(argc, argv, &i, "--root");
		else if (strcmp(a, "--reset") == 0)
			o->reset = 1;
		else if (strcmp(a, "--check-only") == 0)
			o->check_only = 1;
		else if (is_option(a, "--delay-days"))
		{
			const char *v = option_value(argc, argv, &i, "--delay-days");
			char	   *end;
			long		d;

			errno = 0;
			d = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno || d < 0 || d > 365)
				bad_arg("--delay-days must be a whole number of days from 0 to 365, not \"%s\"", v);
			o->delay_days = (int) d;
			o->have_delay = 1;
		}
		else if (strcmp(a, "--backtest") == 0)
			o->backtest = 1;
		else if (is_option(a, "--recalibrate"))
		{
			const char *v = option_value(argc, argv, &i, "--recalibrate");
			char	   *end;

			errno = 0;
			o->recalibrate = strtod(v, &end);
			if (*v == '\0' || *end != '\0' || errno || !(o->recalibrate > 0 && o->recalibrate < 1))
				bad_arg("--recalibrate must be a target precision between 0 and 1, not \"%s\"", v);
		}
		else if (is_option(a, "--plain-rows"))
		{
			const char *v = option_value(argc, argv, &i, "--plain-rows");
			char	   *end;

			errno = 0;
			o->plain_rows = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno || o->plain_rows < 0)
				bad_arg("--plain-rows must be a non-negative integer, not \"%s\"", v);
		}
		else if (is_option(a, "--from") || is_option(a, "--to"))
		{
			int			is_from = is_option(a, "--from");
			const char *v = option_value(argc, argv, &i, is_from ? "--from" : "--to");
			int64_t		t;
			int			kind = parse_timestamp(v, strlen(v), 1, &t);

			if (!kind)
				bad_arg("%s must be YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS', not \"%s\"",
						is_from ? "--from" : "--to", v);
			if (is_from)
			{
				o->from = t;
				o->have_from = 1;
				snprintf(o->from_text, sizeof(o->from_text), "%s", v);
			}
			else
			{
				/* a date covers the whole day; a timestamp is inclusive */
				o->to_excl = kind == 2 ? t + SECONDS_PER_DAY : t + 1;
				o->have_to = 1;
				snprintf(o->to_text, sizeof(o->to_text), "%s", v);
			}
			if ((is_from ? o->from_text : o->to_text)[10] == 'T')
				(is_from ? o->from_text : o->to_text)[10] = ' ';
		}
		else
			bad_arg("unknown argument \"%s\"", a);
	}

	if (o->history == NULL)
		bad_arg("--history FILE is required");
	if (o->replay == NULL)
		bad_arg("--replay FILE is required");
	if (!o->have_delay)
		bad_arg("--delay-days D is required");
	if (o->have_from && o->have_to && o->to_excl <= o->from)
		bad_arg("--to (%s) is before --from (%s)", o->to_text, o->from_text);
	if (o->root == NULL)
		o->root = ".";
	check_readable("--history", o->history);
	check_readable("--replay", o->replay);
	if (o->model == NULL)
	{
		snprintf(default_model, sizeof(default_model), "%s/models/card_d%d.json", o->root,
				 o->delay_days);
		if (access(default_model, F_OK) < 0)
			bad_arg("no model file %s (the default for --delay-days %d); build it, or pass --model PATH",
					default_model, o->delay_days);
		o->model = default_model;
	}
	check_readable("--model", o->model);
	if (o->out)
	{
		FILE	   *f = fopen(o->out, "a");

		if (f == NULL)
			bad_arg("cannot write --out %s: %s", o->out, strerror(errno));
		fclose(f);
	}
}

/* ------------------------------------------------------------------ */
/* metrics                                                             */
/* ------------------------------------------------------------------ */

typedef struct
{
	double		score;
	uint8_t		fraud;
} Scored;

static int
cmp_scored_asc(const void *a, const void *b)
{
	double		x = ((const Scored *) a)->score,
				y = ((const Scored *) b)->score;

	return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* ROC AUC: Mann-Whitney U with average ranks for ties; NAN without both classes. */
static double
roc_auc(Scored *s, size_t n)
{
	double		pos = 0,
				rank_sum = 0;

	qsort(s, n, sizeof(Scored), cmp_scored_asc);
	for (size_t i = 0; i < n;)
	{
		size_t		j = i;
		double		avg_rank;

		while (j < n && s[j].score == s[i].score)
			j++;
		avg_rank = (i + 1 + j) / 2.0;	/* ranks i+1 .. j */
		for (size_t k = i; k < j; k++)
			if (s[k].fraud)
			{
				pos++;
				rank_sum += avg_rank;
			}
		i = j;
	}
	if (pos == 0 || pos == (double) n)
		return NAN;
	return (rank_sum - pos * (pos + 1) / 2) / (pos * ((double) n - pos));
}

/*
 * Average precision as scikit-learn defines it: sum over distinct score
 * thresholds, highest first, of (recall gain) x (precision at that threshold).
 * Expects s sorted ascending (roc_auc sorts it).
 */
static double
average_precision(const Scored *s, size_t n)
{
	double		pos = 0,
				tp = 0,
				fp = 0,
				ap = 0,
				prev_recall = 0;

	for (size_t i = 0; i < n; i++)
		pos += s[i].fraud;
	if (pos == 0)
		return NAN;
	for (size_t i = n; i > 0;)
	{
		size_t		j = i;

		while (j > 0 && s[j - 1].score == s[i - 1].score)
		{
			j--;
			if (s[j].fraud)
				tp++;
			else
				fp++;
		}
		ap += (tp / pos - prev_recall) * (tp / (tp + fp));
		prev_recall = tp / pos;
		i = j;
	}
	return ap;
}

/* Nearest-rank percentile of sorted values. */
static double
percentile(const double *sorted, size_t n, double p)
{
	size_t		k;

	if (n == 0)
		return NAN;
	k = (size_t) ceil(p * n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

static void
json_num(Buf *b, const char *key, double v, const char *fmt)
{
	buf_printf(b, "\"%s\":", key);
	if (isnan(v) || isinf(v))
		buf_printf(b, "null");
	else
		buf_printf(b, fmt, v);
}

static void
json_str(Buf *b, const char *key, const char *v)
{
	buf_printf(b, "\"%s\":\"", key);
	for (const char *p = v; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if ((unsigned char) *p < 0x20)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_printf(b, "%c", *p);
	}
	buf_printf(b, "\"");
}

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static const char *
fmt_num(char *out, size_t size, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(out, size, "-");
	else
		snprintf(out, size, fmt, v);
	return out;
}

/* ------------------------------------------------------------------ */
/* the replay                                                          */
/* ------------------------------------------------------------------ */

typedef struct
{
	int64_t		id;
	int64_t		at;				/* report time */
	uint8_t		scenario;
} Report;

enum
{
	DEC_APPROVE, DEC_REVIEW, DEC_DECLINE
};

static const char *const report_sql =
"WITH r AS (SELECT * FROM unnest($1::bigint[], $2::timestamp[], $3::integer[]) AS r(id, at, scenario)),\n"
"     l AS (INSERT INTO card_tx_labels (transaction_id, is_fraud, scenario)\n"
"           SELECT id, true, scenario FROM r\n"
"           ON CONFLICT (transaction_id) DO UPDATE SET is_fraud = true, scenario = excluded.scenario)\n"
"UPDATE card_tx t SET fraud_reported_at = r.at FROM r WHERE t.transaction_id = r.id";

static const char *const insert_sql =
"INSERT INTO card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)\n"
"VALUES ($1, $2, $3, $4, $5) RETURNING score, decision";

static const char *const plain_sql =
"INSERT INTO card_tx_plain (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)\n"
"VALUES ($1, $2, $3, $4, $5) RETURNING score, decision";

/* Applies reports[*head ..] due at or before t, in one statement. */
static void
apply_reports(const Report *reports, size_t n, size_t *head, int64_t t, Buf *ids, Buf *ats,
			  Buf *scen, long *batches, double *seconds)
{
	size_t		start = *head,
				count;
	char		ts[20];
	const char *params[3];
	PGresult   *res;
	double		t0;

	if (start >= n || reports[start].at > t)
		return;
	buf_reset(ids);
	buf_reset(ats);
	buf_reset(scen);
	buf_printf(ids, "{");
	buf_printf(ats, "{");
	buf_printf(scen, "{");
	while (*head < n && reports[*head].at <= t)
	{
		const Report *r = &reports[*head];
		const char *sep = *head == start ? "" : ",";

		buf_printf(ids, "%s%lld", sep, (long long) r->id);
		buf_printf(ats, "%s\"%s\"", sep, format_timestamp(r->at, ts));
		buf_printf(scen, "%s%d", sep, r->scenario);
		(*head)++;
	}
	buf_printf(ids, "}");
	buf_printf(ats, "}");
	buf_printf(scen, "}");
	count = *head - start;
	params[0] = ids->p;
	params[1] = ats->p;
	params[2] = scen->p;
	t0 = now_seconds();
	res = PQexecPrepared(conn, "report", 3, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "replay: parameters: $1 = %s\n", ids->p);
		pg_fail("applying fraud reports", report_sql, res);
	}
	if (strtoull(PQcmdTuples(res), NULL, 10) != count)
		die("applying %zu fraud reports updated %s rows of card_tx (statement: %s; ids %s)",
			count, PQcmdTuples(res), report_sql, ids->p);
	PQclear(res);
	*seconds += now_seconds() - t0;
	(*batches)++;
}

/* Nightly recalibration outcomes, for the summary. */
typedef struct
{
	long		changed;
	long		unchanged;
	long		kept;
	long		failed;
} Recalibrations;

/* Detection per calendar month of the replayed rows. */
typedef struct
{
	char		month[8];		/* YYYY-MM */
	long		rows;
	long		frauds;
	long		flagged;
	long		tp;
} Month;

/* The replayed rows' months, in order (rows are in time order); the count. */
static size_t
monthly(const Row *rows, const uint8_t *decision, size_t nrows, Month **out)
{
	Month	   *months = NULL;
	size_t		n = 0;

	for (size_t i = 0; i < nrows; i++)
	{
		char		ts[20];
		int			flag = decision[i] != DEC_APPROVE;

		format_timestamp(rows[i].t, ts);
		if (n == 0 || strncmp(months[n - 1].month, ts, 7) != 0)
		{
			months = xrealloc(months, (n + 1) * sizeof(Month));
			memset(&months[n], 0, sizeof(Month));
			memcpy(months[n].month, ts, 7);
			n++;
		}
		months[n - 1].rows++;
		months[n - 1].frauds += rows[i].fraud;
		months[n - 1].flagged += flag;
		months[n - 1].tp += flag && rows[i].fraud;
	}
	*out = months;
	return n;
}

/*
 * The example's nightly recalibration as of "midnight"; a failure (too few
 * matured labels in the first days) is reported and the replay goes on.
 */
static void
recalibrate_at(const char *model_name, int64_t midnight, double target, int delay_days,
			   Recalibrations *count)
{
	char		ts[20],
				target_text[32],
				delay_text[32];
	const char *params[4];
	PGresult   *res;

	format_timestamp(midnight, ts);
	snprintf(target_text, sizeof(target_text), "%.17g", target);
	snprintf(delay_text, sizeof(delay_text), "%d days", delay_days);
	params[0] = model_name;
	params[1] = ts;
	params[2] = target_text;
	params[3] = delay_text;
	res = PQexecParams(conn,
					   "SELECT outcome, old_review_threshold, new_review_threshold, new_decline_threshold, "
					   "estimated_fraud_rate, labeled_frauds "
					   "FROM card_tx_recalibrate($1, $2::timestamp, $3::float8, delay => $4::interval, "
					   "labeled_window => '" CppAsString2(RECALIBRATE_WINDOW_DAYS) " days')",
					   4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		fprintf(stderr, "replay: %s recalibration not done: %s\n", ts, msg ? msg : PQerrorMessage(conn));
		count->failed++;
		PQclear(res);
		return;
	}
	fprintf(stderr, "replay: %s recalibration %s: review %s -> %s, decline %s (fraud rate ahead %s, %s matured frauds)\n",
			ts, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
	if (strcmp(PQgetvalue(res, 0, 0), "changed") == 0)
		count->changed++;
	else if (strcmp(PQgetvalue(res, 0, 0), "unchanged") == 0)
		count->unchanged++;
	else
		count->kept++;
	PQclear(res);
}

static void
row_params(const Row *r, char bufs[4][24], const char *params[5])
{
	snprintf(bufs[0], 24, "%lld", (long long) r->id);
	format_timestamp(r->t, bufs[1]);
	snprintf(bufs[2], 24, "%d", r->customer);
	snprintf(bufs[3], 24, "%d", r->terminal);
	params[0] = bufs[0];
	params[1] = bufs[1];
	params[2] = bufs[2];
	params[3] = bufs[3];
	params[4] = r->amount;
}

static void
copy_data(const char *what, const char *statement, const char *data, size_t len)
{
	if (PQputCopyData(conn, data, (int) len) != 1)
		pg_fail(what, statement, NULL);
}

/* Finishes a COPY FROM STDIN and checks its result. */
static void
copy_end(const char *what, const char *statement)
{
	PGresult   *res;

	if (PQputCopyEnd(conn, NULL) != 1)
		pg_fail(what, statement, NULL);
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		pg_fail(what, statement, res);
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/* What card_tx_backtest reported about the replayed rows. */
typedef struct Backtest
{
	int			candidate;
	long		rows;
	long		candidate_flagged;
	long		active_flagged;
	double		active_precision;
	double		active_recall;
	double		seconds;
} Backtest;

/*
 * The model scored again over the replayed rows by fraud_model_backtest
 * (through the example's card_tx_backtest), as a second, inactive copy
 * beside the active version: each row's features as of its arrival, the
 * labels known at the last replayed row.
 */
/*
 * One plain INSERT into card_tx_plain: its latency in ms into *lat_ms, its
 * seconds added to *total.
 */
static void
plain_insert(const char *const *params, double *lat_ms, double *total)
{
	double		t0 = now_seconds(),
				t1;
	PGresult   *res = PQexecPrepared(conn, "plain", 5, params, NULL, NULL, 0);

	t1 = now_seconds();
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pg_fail("plain INSERT", plain_sql, res);
	PQclear(res);
	*lat_ms = (t1 - t0) * 1000.0;
	*total += t1 - t0;
}

static void
backtest_replayed(const char *model_name, int64_t first, int64_t last, int delay_days, Backtest *bt)
{
	char		since[20],
				until[20],
				delay_text[32];
	const char *params[1];
	PGresult   *res;
	double		t0;

	params[0] = model_name;
	res = PQexecParams(conn, "SELECT fraud_model_import(fraud_model_export($1), activate => false)",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pg_fail("importing the backtest's candidate", "fraud_model_import(fraud_model_export(...))", res);
	bt->candidate = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);

	format_timestamp(first, since);
	format_timestamp(last, until);
	snprintf(delay_text, sizeof(delay_text), "%d days", delay_days);
	{
		char		candidate[16];
		const char *p[6] = {model_name, candidate, since, until, until, delay_text};
		const char *sql = "SELECT role, rows, flagged, \"precision\", recall "
			"FROM card_tx_backtest($1, $2::int, $3::timestamp, $4::timestamp + interval '1 second', "
			"as_of => $5::timestamp, delay => $6::interval)";

		snprintf(candidate, sizeof(candidate), "%d", bt->candidate);
		t0 = now_seconds();
		res = PQexecParams(conn, sql, 6, NULL, p, NULL, NULL, 0);
		bt->seconds = now_seconds() - t0;
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 2)
			pg_fail("the backtest", sql, res);
	}
	bt->rows = atol(PQgetvalue(res, 0, 1));
	bt->candidate_flagged = atol(PQgetvalue(res, 0, 2));
	bt->active_flagged = atol(PQgetvalue(res, 1, 2));
	bt->active_precision = PQgetisnull(res, 1, 3) ? NAN : strtod(PQgetvalue(res, 1, 3), NULL);
	bt->active_recall = PQgetisnull(res, 1, 4) ? NAN : strtod(PQgetvalue(res, 1, 4), NULL);
	PQclear(res);
	fprintf(stderr, "replay: backtest of %ld rows in %.1f s\n", bt->rows, bt->seconds);
}

int
main(int argc, char **argv)
{
	Options		o;
	Csv			csv;
	Row			r;
	Row		   *rows = NULL;
	size_t		nrows = 0,
				rows_cap = 0;
	int64_t		start;
	char		ts[20],
				ts2[20];
	PGresult   *res;
	char	   *sql;
	size_t		model_len;
	char	   *model_doc;
	char		model_name[128];
	int			model_version;
	Report	   *reports;
	size_t		nreports = 0,
				report_head = 0,
				pending_at_start;
	long		history_rows = 0,
				history_frauds = 0,
				history_known = 0,
				labels_known = 0;
	double		t_copy,
				t_labels,
				t_analyze,
				t0;
	double	   *lat;
	double	   *plain_lat;
	double		replay_wall,
				insert_total = 0,
				report_seconds = 0,
				plain_wall = 0;
	long		report_batches = 0;
	Recalibrations recalibrations = {0, 0, 0, 0};
	Month	   *months;
	size_t		nmonths;
	size_t		plain_n;
	Scored	   *scored;
	uint8_t    *decision;
	FILE	   *out = NULL;
	Buf			b = {0},
				ids = {0},
				ats = {0},
				scen = {0};
	char		sync_commit[32];
	double		score_auc,
				score_ap;
	long		frauds = 0,
				flagged = 0,
				tp = 0,
				fp = 0,
				ndec[3] = {0, 0, 0};
	long		sc_frauds[4] = {0, 0, 0, 0},
				sc_caught[4] = {0, 0, 0, 0};
	Backtest	backtest = {0};
	double		rate,
				plain_rate;
	double		p50,
				p99,
				p999,
				pmax,
				mean,
				pl50,
				pl99;
	char		n1[32],
				n2[32],
				n3[32];
	int			replay_stopped_early = 0;
	int			have_card_tx;

	parse_options(argc, argv, &o);
	if (o.check_only)
	{
		/* the headers too, before the wrapper makes a cluster */
		csv_open(&csv, o.history);
		csv_close(&csv, 0);
		csv_open(&csv, o.replay);
		csv_close(&csv, 0);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* --- the replay rows, first: they define the replay start ------------- */
	csv_open(&csv, o.replay);
	for (;;)
	{
		if (!csv_next(&csv, &r))
			break;
		if (o.have_from && r.t < o.from)
			continue;
		if (o.have_to && r.t >= o.to_excl)
		{
			replay_stopped_early = 1;
			break;
		}
		if (nrows == rows_cap)
		{
			rows_cap = rows_cap ? rows_cap * 2 : 65536;
			rows = xrealloc(rows, rows_cap * sizeof(Row));
		}
		rows[nrows++] = r;
	}
	csv_close(&csv, !replay_stopped_early);
	if (nrows == 0)
		die("no rows of %s fall in the replay window [%s, %s]", o.replay,
			o.have_from ? o.from_text : "start", o.have_to ? o.to_text : "end");
	start = o.have_from ? o.from : rows[0].t;
	if (!o.have_from)
		format_timestamp(start, o.from_text);
	if (!o.have_to)
		format_timestamp(rows[nrows - 1].t, o.to_text);
	fprintf(stderr, "replay: %zu replay rows from %s to %s; history before %s\n", nrows,
			format_timestamp(rows[0].t, ts), format_timestamp(rows[nrows - 1].t, ts2), o.from_text);

	/* --- connect and set up --------------------------------------------- */
	conn = PQconnectdb(o.conninfo ? o.conninfo : "");
	if (PQstatus(conn) != CONNECTION_OK)
		die("cannot connect to the database%s%s: %s", o.conninfo ? " " : "",
			o.conninfo ? o.conninfo : "", PQerrorMessage(conn));
	run_command("setting up the session",
				"SET application_name = 'bench/replay'; SET client_min_messages = warning");

	res = PQexec(conn, "CREATE EXTENSION IF NOT EXISTS fraud_score");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "replay: CREATE EXTENSION fraud_score failed: %s"
				"Is fraud_score installed into this PostgreSQL 15 server? Run scripts/setup "
				"(or make install as root) in the repository first.\n",
				PQresultErrorMessage(res));
		exit(1);
	}
	PQclear(res);
	res = run("checking the extension version",
			  "SELECT extversion, to_regprocedure('fraud_model_import(jsonb, text, boolean)') IS NOT NULL "
			  "FROM pg_extension WHERE extname = 'fraud_score'", PGRES_TUPLES_OK);
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		die("fraud_score %s is installed in this database, but replay needs 0.2 or later "
			"(ALTER EXTENSION fraud_score UPDATE)", PQgetvalue(res, 0, 0));
	PQclear(res);

	/* The functions are those examples/card_transactions.sql creates. */
	if (o.reset)
		run_command("--reset",
					"DROP TABLE IF EXISTS card_tx_plain, card_tx, card_tx_labels CASCADE;\n"
					"DO $$ DECLARE f regprocedure; BEGIN\n"
					"  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p\n"
					"           WHERE p.pronamespace = current_schema()::regnamespace\n"
					"             AND p.proname IN ('card_tx_features', 'card_tx_report_frauds',\n"
					"                               'card_tx_live_performance', 'card_tx_recalibrate',\n"
					"                               'card_tx_drift', 'card_tx_backtest') LOOP\n"
					"    EXECUTE 'DROP FUNCTION ' || f;\n"
					"  END LOOP;\n"
					"END $$");

	res = run("looking for card_tx", "SELECT to_regclass('card_tx') IS NOT NULL", PGRES_TUPLES_OK);
	have_card_tx = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (have_card_tx)
	{
		res = run("checking that card_tx is empty",
				  "SELECT EXISTS (SELECT FROM card_tx) OR EXISTS (SELECT FROM card_tx_labels)",
				  PGRES_TUPLES_OK);
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			die("card_tx or card_tx_labels already has rows; replay needs them empty "
				"(--reset drops and recreates the example schema)");
		PQclear(res);
		run_command("dropping an old scoring trigger", "DROP TRIGGER IF EXISTS score ON card_tx");
	}
	else
	{
		char		path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/examples/card_transactions.sql", o.root);
		sql = read_file(path, NULL);
		if (sql == NULL)
			die("cannot read %s: %s", path, strerror(errno));
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pg_fail("running examples/card_transactions.sql", path, res);
		PQclear(res);
		free(sql);
	}
	res = run("looking for card_tx_plain", "SELECT to_regclass('card_tx_plain') IS NOT NULL",
			  PGRES_TUPLES_OK);
	have_card_tx = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (have_card_tx)
	{
		res = run("checking that card_tx_plain is empty", "SELECT EXISTS (SELECT FROM card_tx_plain)",
				  PGRES_TUPLES_OK);
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			die("card_tx_plain already has rows (--reset drops it)");
		PQclear(res);
		run_command("dropping card_tx_plain", "DROP TABLE card_tx_plain");
	}

	model_doc = read_file(o.model, &model_len);
	if (model_doc == NULL)
		die("cannot read model %s: %s", o.model, strerror(errno));
	{
		const char *params[2] = {model_doc, o.features};
		const char *import_sql =
			"SELECT d->>'name', fraud_model_import(CASE WHEN $2::text IS NULL THEN d "
			"ELSE jsonb_set(d, '{feature_function}', to_jsonb($2::text)) END) "
			"FROM (SELECT $1::jsonb AS d) s";

		res = PQexecParams(conn, import_sql, 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "replay: model file: %s\n", o.model);
			pg_fail("importing the model", import_sql, res);
		}
		snprintf(model_name, sizeof(model_name), "%s", PQgetvalue(res, 0, 0));
		model_version = atoi(PQgetvalue(res, 0, 1));
		PQclear(res);
		free(model_doc);
	}
	fprintf(stderr, "replay: imported model %s as \"%s\" version %d\n", o.model, model_name, model_version);

	/* --- history ---------------------------------------------------------- */
	reports = xmalloc((nrows + 1024) * sizeof(Report));
	{
		size_t		reports_cap = nrows + 1024;
		size_t		nlabels = 0,
					labels_cap = 0;
		struct label
		{
			int64_t		id;
			uint8_t		fraud;
			uint8_t		scenario;
		}		   *labels = NULL;
		const char *copy_sql =
			"COPY card_tx (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, "
			"fraud_reported_at) FROM STDIN";
		const char *labels_sql = "COPY card_tx_labels (transaction_id, is_fraud, scenario) FROM STDIN";
		int64_t		delay = (int64_t) o.delay_days * SECONDS_PER_DAY;
		int			stopped_early = 0;

		/*
		 * Synchronous commit for the load: VACUUM sets a page all-visible only
		 * once its rows' hint bits are set, and a backend may not set them
		 * while the inserting transaction's commit record is not yet flushed
		 * (asynchronous commit).  Without this, VACUUM right after the COPY
		 * leaves the visibility map empty and the feature function's
		 * index-only scans read the heap.
		 */
		run_command("setting synchronous_commit for the history load", "SET synchronous_commit = on");
		/* declared feature sets' buckets: built once after the load, not row by row */
		run_command("pausing the feature sets' bucket triggers",
					"DO $$ DECLARE s record; BEGIN FOR s IN SELECT name FROM fraud_feature_sets "
					"WHERE source = 'card_tx'::regclass LOOP EXECUTE format('ALTER TABLE card_tx "
					"DISABLE TRIGGER %I', left(s.name, 40) || '_buckets'); END LOOP; END $$");
		t0 = now_seconds();
		res = run("starting the history COPY", copy_sql, PGRES_COPY_IN);
		PQclear(res);
		csv_open(&csv, o.history);
		buf_reset(&b);
		while (csv_next(&csv, &r))
		{
			int			known = r.fraud && r.t + delay <= start;

			if (r.t >= start)
			{
				stopped_early = 1;
				break;
			}
			history_rows++;
			history_frauds += r.fraud;
			history_known += known;
			buf_printf(&b, "%lld\t%s\t%d\t%d\t%s\t%s\n", (long long) r.id, format_timestamp(r.t, ts),
					   r.customer, r.terminal, r.amount,
					   known ? format_timestamp(r.t + delay, ts2) : "\\N");
			if (b.len > 65536)
			{
				copy_data("history COPY", copy_sql, b.p, b.len);
				buf_reset(&b);
			}
			/* A label is known once its delay has passed, fraud or not. */
			if (r.t + delay <= start)
			{
				if (nlabels == labels_cap)
				{
					labels_cap = labels_cap ? labels_cap * 2 : 65536;
					labels = xrealloc(labels, labels_cap * sizeof(*labels));
				}
				labels[nlabels].id = r.id;
				labels[nlabels].fraud = r.fraud;
				labels[nlabels].scenario = r.scenario;
				nlabels++;
			}
			else if (r.fraud)
			{
				if (nreports == reports_cap)
				{
					reports_cap *= 2;
					reports = xrealloc(reports, reports_cap * sizeof(Report));
				}
				reports[nreports].id = r.id;
				reports[nreports].at = r.t + delay;
				reports[nreports].scenario = r.scenario;
				nreports++;
			}
			if (history_rows % 200000 == 0)
				fprintf(stderr, "replay: history: %ld rows\n", history_rows);
		}
		csv_close(&csv, !stopped_early);
		if (b.len)
			copy_data("history COPY", copy_sql, b.p, b.len);
		copy_end("history COPY", copy_sql);
		run_command("building the feature sets' buckets",
					"DO $$ DECLARE s record; BEGIN FOR s IN SELECT name FROM fraud_feature_sets "
					"WHERE source = 'card_tx'::regclass LOOP EXECUTE format('ALTER TABLE card_tx "
					"ENABLE TRIGGER %I', left(s.name, 40) || '_buckets'); "
					"PERFORM fraud_feature_set_backfill(s.name); END LOOP; END $$");
		t_copy = now_seconds() - t0;

		t0 = now_seconds();
		PQclear(run("starting the labels COPY", labels_sql, PGRES_COPY_IN));
		buf_reset(&b);
		for (size_t i = 0; i < nlabels; i++)
		{
			buf_printf(&b, "%lld\t%s\t%d\n", (long long) labels[i].id, labels[i].fraud ? "t" : "f",
					   labels[i].scenario);
			if (b.len > 65536)
			{
				copy_data("labels COPY", labels_sql, b.p, b.len);
				buf_reset(&b);
			}
		}
		if (b.len)
			copy_data("labels COPY", labels_sql, b.p, b.len);
		copy_end("labels COPY", labels_sql);
		labels_known = (long) nlabels;
		free(labels);
		t_labels = now_seconds() - t0;

		/*
		 * VACUUM as well as ANALYZE: it sets the visibility map, which the
		 * feature function's index-only scans need to skip the heap (a live
		 * table's old rows are all-visible too).
		 */
		t0 = now_seconds();
		run_command("VACUUM ANALYZE after the history load", "VACUUM (ANALYZE) card_tx");
		run_command("VACUUM ANALYZE after the history load", "VACUUM (ANALYZE) card_tx_labels");
		t_analyze = now_seconds() - t0;
		run_command("resetting synchronous_commit", "RESET synchronous_commit");
		reports = xrealloc(reports, (nreports + nrows + 1) * sizeof(Report));
	}
	res = run("checking the visibility map",
			  "SELECT relallvisible, relpages FROM pg_class WHERE oid = 'card_tx'::regclass",
			  PGRES_TUPLES_OK);
	if (atol(PQgetvalue(res, 0, 0)) < atol(PQgetvalue(res, 0, 1)) * 9 / 10)
		fprintf(stderr, "replay: warning: only %s of %s pages of card_tx are all-visible after VACUUM "
				"(a concurrent transaction, or an asynchronous commit of the load?): index-only scans will read the heap\n",
				PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	pending_at_start = nreports;
	fprintf(stderr, "replay: history: %ld rows (%ld frauds, %ld known at the start, %zu pending) "
			"loaded in %.1f s (COPY %.1f s, labels %.1f s, VACUUM ANALYZE %.1f s)\n",
			history_rows, history_frauds, history_known, pending_at_start,
			t_copy + t_labels + t_analyze, t_copy, t_labels, t_analyze);

	/*
	 * --- with --recalibrate, the history's last weeks scored ------------
	 * As a live system would have scored them: the nightly job needs the
	 * active version's scores on rows whose labels have matured from the
	 * first night on.  Each row through fraud_decide, its features point in
	 * time (the feature function sees only rows that arrived before it).
	 */
	if (o.recalibrate > 0)
	{
		char		since[20];
		const char *params[2];
		int64_t		window = (int64_t) (o.delay_days + RECALIBRATE_WINDOW_DAYS) * SECONDS_PER_DAY;

		t0 = now_seconds();
		format_timestamp(o.from - window, since);
		params[0] = since;
		params[1] = model_name;
		res = PQexecParams(conn,
						   "UPDATE card_tx c SET score = d.score, decision = d.decision, model_version = d.version "
						   "FROM (SELECT transaction_id, (fraud_decide(to_jsonb(h), $2)).* FROM card_tx h "
						   "      WHERE tx_datetime >= $1::timestamp) d "
						   "WHERE c.transaction_id = d.transaction_id",
						   2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pg_fail("scoring the history's last weeks", "UPDATE card_tx ... fraud_decide", res);
		fprintf(stderr, "replay: scored the %s history rows since %s for the nightly recalibration in %.1f s\n",
				PQcmdTuples(res), since, now_seconds() - t0);
		PQclear(res);
		run_command("VACUUM ANALYZE after scoring the history", "VACUUM (ANALYZE) card_tx");
	}

	/*
	 * --- the plain twin ---------------------------------------------------
	 * "Plain inserts into the same table": card_tx's twin, with its indexes
	 * and its history, without the scoring and bucket triggers.  Its rows go
	 * in between the scored ones (below), so that both sides see the same
	 * machine at the same moment.
	 */
	plain_n = o.plain_rows == 0 || (size_t) o.plain_rows > nrows ? nrows : (size_t) o.plain_rows;
	plain_lat = xmalloc(plain_n * sizeof(double));
	run_command("creating card_tx_plain", "CREATE TABLE card_tx_plain (LIKE card_tx INCLUDING ALL)");
	run_command("copying the history into card_tx_plain",
				"INSERT INTO card_tx_plain OVERRIDING SYSTEM VALUE SELECT * FROM card_tx");
	PQclear(run("continuing card_tx_plain's arrival order",
				"SELECT setval(pg_get_serial_sequence('card_tx_plain', 'seq'), "
				"(SELECT coalesce(max(seq), 0) + 1 FROM card_tx_plain), false)",
				PGRES_TUPLES_OK));
	run_command("vacuuming card_tx_plain", "VACUUM ANALYZE card_tx_plain");
	res = PQprepare(conn, "plain", plain_sql, 5, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		pg_fail("preparing the plain INSERT", plain_sql, res);
	PQclear(res);

	/* --- the scoring trigger, after the bulk load ----------------------- */
	{
		char	   *quoted = PQescapeLiteral(conn, model_name, strlen(model_name));

		buf_reset(&b);
		buf_printf(&b, "CREATE TRIGGER score BEFORE INSERT ON card_tx FOR EACH ROW EXECUTE FUNCTION "
				   "fraud_score_trigger(%s, 'score', 'decision', 'model_version')", quoted);
		PQfreemem(quoted);
		run_command("creating the scoring trigger", b.p);
	}
	res = run("reading synchronous_commit", "SHOW synchronous_commit", PGRES_TUPLES_OK);
	snprintf(sync_commit, sizeof(sync_commit), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	res = PQprepare(conn, "ins", insert_sql, 5, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		pg_fail("preparing the INSERT", insert_sql, res);
	PQclear(res);
	res = PQprepare(conn, "report", report_sql, 3, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		pg_fail("preparing the fraud-report UPDATE", report_sql, res);
	PQclear(res);

	if (o.out)
	{
		out = fopen(o.out, "w");
		if (out == NULL)
			die("cannot write %s: %s", o.out, strerror(errno));
	}

	/* --- replay ---------------------------------------------------------- */
	lat = xmalloc(nrows * sizeof(double));
	scored = xmalloc(nrows * sizeof(Scored));
	decision = xmalloc(nrows);
	{
		int64_t		delay = (int64_t) o.delay_days * SECONDS_PER_DAY;
		double		wall0 = now_seconds(),
					last_progress = wall0;
		int64_t		day = rows[0].t / SECONDS_PER_DAY;

		for (size_t i = 0; i < nrows; i++)
		{
			const Row  *row = &rows[i];
			char		bufs[4][24];
			const char *params[5];
			const char *dec;
			double		t1;

			/* midnight: the labels due by then, then the nightly job */
			if (o.recalibrate > 0 && row->t / SECONDS_PER_DAY != day)
			{
				day = row->t / SECONDS_PER_DAY;
				apply_reports(reports, nreports, &report_head, day * SECONDS_PER_DAY, &ids, &ats,
							  &scen, &report_batches, &report_seconds);
				recalibrate_at(model_name, day * SECONDS_PER_DAY, o.recalibrate, o.delay_days,
							   &recalibrations);
			}
			apply_reports(reports, nreports, &report_head, row->t, &ids, &ats, &scen,
						  &report_batches, &report_seconds);

			row_params(row, bufs, params);
			if (i < plain_n && i % 2 == 0)
				plain_insert(params, &plain_lat[i], &plain_wall);
			t0 = now_seconds();
			res = PQexecPrepared(conn, "ins", 5, params, NULL, NULL, 0);
			t1 = now_seconds();
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				fprintf(stderr, "replay: replay row %zu: transaction_id %s, tx_datetime %s, "
						"customer_id %s, terminal_id %s, tx_amount %s\n",
						i + 1, params[0], params[1], params[2], params[3], params[4]);
				pg_fail("scored INSERT", insert_sql, res);
			}
			lat[i] = (t1 - t0) * 1000.0;
			insert_total += t1 - t0;
			if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
				die("INSERT of transaction %s returned no score or decision: is the scoring "
					"trigger on card_tx?", params[0]);
			scored[i].score = strtod(PQgetvalue(res, 0, 0), NULL);
			scored[i].fraud = row->fraud;
			dec = PQgetvalue(res, 0, 1);
			if (strcmp(dec, "approve") == 0)
				decision[i] = DEC_APPROVE;
			else if (strcmp(dec, "review") == 0)
				decision[i] = DEC_REVIEW;
			else if (strcmp(dec, "decline") == 0)
				decision[i] = DEC_DECLINE;
			else
				die("unexpected decision \"%s\" for transaction %s", dec, params[0]);
			if (out)
				fprintf(out, "%s,%s,%s\n", params[0], PQgetvalue(res, 0, 0), dec);
			PQclear(res);
			if (i < plain_n && i % 2 == 1)
				plain_insert(params, &plain_lat[i], &plain_wall);

			/* the truth stays here until the report is due */
			if (row->fraud)
			{
				reports[nreports].id = row->id;
				reports[nreports].at = row->t + delay;
				reports[nreports].scenario = row->scenario;
				nreports++;
			}
			if (t1 - last_progress >= 10.0)
			{
				fprintf(stderr, "replay: %zu/%zu rows, %.0f rows/s\n", i + 1, nrows,
						(i + 1) / (t1 - wall0));
				last_progress = t1;
			}
		}
		replay_wall = now_seconds() - wall0 - plain_wall;
	}
	if (out && fclose(out) != 0)
		die("writing %s: %s", o.out, strerror(errno));

	if (o.backtest)
		backtest_replayed(model_name, rows[0].t, rows[nrows - 1].t, o.delay_days, &backtest);
	PQfinish(conn);

	/* --- metrics ------------------------------------------------------------ */
	for (size_t i = 0; i < nrows; i++)
	{
		int			flag = decision[i] != DEC_APPROVE;
		int			sc = rows[i].scenario < 4 ? rows[i].scenario : 0;

		ndec[decision[i]]++;
		frauds += rows[i].fraud;
		flagged += flag;
		tp += flag && rows[i].fraud;
		fp += flag && !rows[i].fraud;
		if (rows[i].fraud)
		{
			sc_frauds[sc]++;
			sc_caught[sc] += flag;
		}
	}
	score_auc = roc_auc(scored, nrows);
	score_ap = average_precision(scored, nrows);
	qsort(lat, nrows, sizeof(double), cmp_double);
	p50 = percentile(lat, nrows, 0.50);
	p99 = percentile(lat, nrows, 0.99);
	p999 = percentile(lat, nrows, 0.999);
	pmax = lat[nrows - 1];
	mean = insert_total * 1000.0 / nrows;
	qsort(plain_lat, plain_n, sizeof(double), cmp_double);
	pl50 = percentile(plain_lat, plain_n, 0.50);
	pl99 = percentile(plain_lat, plain_n, 0.99);
	rate = nrows / replay_wall;
	plain_rate = plain_n > 0 ? plain_n / plain_wall : NAN;

	printf("\n== replay: %s .. %s, label delay %d days, model %s (\"%s\" v%d)\n",
		   o.from_text, o.to_text, o.delay_days, o.model, model_name, model_version);
	printf("history        %10ld rows, %ld frauds (%ld labelled at the start, %zu reported during the replay)\n",
		   history_rows, history_frauds, history_known, pending_at_start);
	printf("history load   %10.1f s   (COPY %.1f s, labels %.1f s, VACUUM ANALYZE %.1f s)\n",
		   t_copy + t_labels + t_analyze, t_copy, t_labels, t_analyze);
	printf("replayed       %10zu rows  (%s .. %s)\n", nrows, format_timestamp(rows[0].t, ts),
		   format_timestamp(rows[nrows - 1].t, ts2));
	printf("frauds         %10ld\n", frauds);
	printf("flagged        %10ld   (review %ld, decline %ld, approve %ld)\n", flagged,
		   ndec[DEC_REVIEW], ndec[DEC_DECLINE], ndec[DEC_APPROVE]);
	printf("TP / FP        %10ld / %ld\n", tp, fp);
	printf("precision      %10s\n", fmt_num(n1, sizeof(n1), ratio(tp, flagged), "%.4f"));
	printf("recall         %10s\n", fmt_num(n1, sizeof(n1), ratio(tp, frauds), "%.4f"));
	printf("AUC            %10s\n", fmt_num(n1, sizeof(n1), score_auc, "%.4f"));
	printf("avg precision  %10s\n", fmt_num(n1, sizeof(n1), score_ap, "%.4f"));
	for (int sc = 1; sc <= 3; sc++)
		printf("recall, scen. %d %9s   (%ld of %ld)\n", sc,
			   fmt_num(n1, sizeof(n1), ratio(sc_caught[sc], sc_frauds[sc]), "%.4f"),
			   sc_caught[sc], sc_frauds[sc]);
	printf("reports        %10zu applied in %ld batched UPDATEs, %.2f s in all\n",
		   report_head, report_batches, report_seconds);
	printf("scored INSERT  %10.0f rows/s (wall clock incl. report UPDATEs, less the plain INSERTs; %.1f s)\n", rate, replay_wall);
	printf("  latency ms   p50 %.3f  p99 %.3f  p99.9 %.3f  mean %.3f  max %.1f\n", p50, p99, p999, mean, pmax);
	printf("plain INSERT   %10s rows/s (%s%zu rows into card_tx_plain, card_tx's twin without triggers, between the scored ones)\n",
		   fmt_num(n1, sizeof(n1), plain_rate, "%.0f"), plain_n < nrows ? "first " : "", plain_n);
	printf("  latency ms   p50 %s  p99 %s\n", fmt_num(n2, sizeof(n2), pl50, "%.3f"),
		   fmt_num(n3, sizeof(n3), pl99, "%.3f"));
	printf("synchronous_commit = %s\n", sync_commit);
	nmonths = monthly(rows, decision, nrows, &months);
	printf("by month       %7s %8s %7s %8s %9s %7s\n", "month", "rows", "frauds", "flagged", "precision", "recall");
	for (size_t k = 0; k < nmonths; k++)
		printf("               %7s %8ld %7ld %8ld %9s %7s\n", months[k].month, months[k].rows,
			   months[k].frauds, months[k].flagged,
			   fmt_num(n1, sizeof(n1), ratio(months[k].tp, months[k].flagged), "%.4f"),
			   fmt_num(n2, sizeof(n2), ratio(months[k].tp, months[k].frauds), "%.4f"));
	if (o.backtest)
		printf("backtest       %10.0f rows/s (%.2fx the scored INSERT rate; %ld replayed rows in %.1f s):\n"
			   "               candidate v%d flagged %ld, active v%d flagged %ld (the trigger flagged %ld)\n",
			   backtest.rows / backtest.seconds, backtest.rows / backtest.seconds / rate, backtest.rows,
			   backtest.seconds, backtest.candidate, backtest.candidate_flagged, model_version,
			   backtest.active_flagged, flagged);
	if (o.recalibrate > 0)
		printf("recalibrations %10ld changed, %ld unchanged, %ld kept, %ld not done (target precision %g)\n",
			   recalibrations.changed, recalibrations.unchanged, recalibrations.kept,
			   recalibrations.failed, o.recalibrate);

	buf_reset(&b);
	buf_printf(&b, "{\"rows\":%zu,\"frauds\":%ld,\"flagged\":%ld,\"tp\":%ld,\"fp\":%ld,", nrows, frauds,
			   flagged, tp, fp);
	buf_printf(&b, "\"review\":%ld,\"decline\":%ld,", ndec[DEC_REVIEW], ndec[DEC_DECLINE]);
	json_num(&b, "precision", ratio(tp, flagged), "%.6f");
	buf_printf(&b, ",");
	json_num(&b, "recall", ratio(tp, frauds), "%.6f");
	buf_printf(&b, ",");
	json_num(&b, "auc", score_auc, "%.6f");
	buf_printf(&b, ",");
	json_num(&b, "average_precision", score_ap, "%.6f");
	buf_printf(&b, ",\"recall_by_scenario\":{");
	for (int sc = 1; sc <= 3; sc++)
	{
		char		key[2] = {(char) ('0' + sc), 0};

		json_num(&b, key, ratio(sc_caught[sc], sc_frauds[sc]), "%.6f");
		buf_printf(&b, sc < 3 ? "," : "}");
	}
	buf_printf(&b, ",\"frauds_by_scenario\":{\"1\":%ld,\"2\":%ld,\"3\":%ld},", sc_frauds[1],
			   sc_frauds[2], sc_frauds[3]);
	json_num(&b, "inserts_per_second", rate, "%.1f");
	buf_printf(&b, ",");
	json_num(&b, "p50_ms", p50, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "p99_ms", p99, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "p999_ms", p999, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "mean_ms", mean, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "max_ms", pmax, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "plain_inserts_per_second", plain_rate, "%.1f");
	buf_printf(&b, ",\"plain_rows\":%zu,", plain_n);
	json_num(&b, "plain_p50_ms", pl50, "%.3f");
	buf_printf(&b, ",");
	json_num(&b, "plain_p99_ms", pl99, "%.3f");
	buf_printf(&b, ",\"reports_applied\":%zu,\"report_batches\":%ld,", report_head, report_batches);
	json_num(&b, "report_seconds", report_seconds, "%.3f");
	buf_printf(&b, ",\"history_rows\":%ld,\"history_frauds\":%ld,\"history_labels\":%ld,"
			   "\"pending_reports_at_start\":%zu,",
			   history_rows, history_frauds, labels_known, pending_at_start);
	json_num(&b, "history_load_seconds", t_copy + t_labels + t_analyze, "%.2f");
	buf_printf(&b, ",\"delay_days\":%d,", o.delay_days);
	json_str(&b, "from", o.from_text);
	buf_printf(&b, ",");
	json_str(&b, "to", o.to_text);
	buf_printf(&b, ",");
	json_str(&b, "model", o.model);
	buf_printf(&b, ",");
	json_str(&b, "model_name", model_name);
	buf_printf(&b, ",\"model_version\":%d,", model_version);
	json_str(&b, "synchronous_commit", sync_commit);
	buf_printf(&b, ",\"monthly\":[");
	for (size_t k = 0; k < nmonths; k++)
	{
		buf_printf(&b, "%s{", k > 0 ? "," : "");
		json_str(&b, "month", months[k].month);
		buf_printf(&b, ",\"rows\":%ld,\"frauds\":%ld,\"flagged\":%ld,", months[k].rows,
				   months[k].frauds, months[k].flagged);
		json_num(&b, "precision", ratio(months[k].tp, months[k].flagged), "%.6f");
		buf_printf(&b, ",");
		json_num(&b, "recall", ratio(months[k].tp, months[k].frauds), "%.6f");
		buf_printf(&b, "}");
	}
	buf_printf(&b, "]");
	if (o.recalibrate > 0)
	{
		buf_printf(&b, ",");
		json_num(&b, "recalibrate_target", o.recalibrate, "%g");
		buf_printf(&b, ",\"recalibrations\":{\"changed\":%ld,\"unchanged\":%ld,\"kept\":%ld,\"not_done\":%ld}",
				   recalibrations.changed, recalibrations.unchanged, recalibrations.kept,
				   recalibrations.failed);
	}
	if (o.backtest)
	{
		buf_printf(&b, ",");
		json_num(&b, "backtest_rows_per_second", backtest.rows / backtest.seconds, "%.1f");
		buf_printf(&b, ",\"backtest_rows\":%ld,\"backtest_candidate_flagged\":%ld,"
				   "\"backtest_active_flagged\":%ld", backtest.rows, backtest.candidate_flagged,
				   backtest.active_flagged);
	}
	buf_printf(&b, "}");
	printf("%s\n", b.p);
	return 0;
}
