/*-------------------------------------------------------------------------
 *
 * fuzz_features.c
 *		libFuzzer target: jsonb documents -> features_from_jsonb, checked
 *		against a slow reference.
 *
 * Owns the feature mapping's fuzz target.  The fuzz bytes (then, once they
 * run out, a generator seeded from them) are decoded into feature names and
 * one or two objects: keys that are feature names, near misses of them and
 * others, of many lengths; values that are numerics of every on-disk shape
 * (short and long headers, weights and display scales of any size, 0 to 10
 * base-10000 digits, NaN and the infinities), booleans, nulls, strings and
 * nested containers; from no keys to thousands.  The harness writes them in
 * jsonb's on-disk format itself (utils/jsonb.h: keys sorted by length then
 * bytes and unique, the last duplicate winning; an offset instead of a
 * length in every JB_OFFSET_STRIDE'th JEntry; numerics and containers
 * int-aligned) and calls feature_keys_build and features_from_jsonb.
 *
 * The reference knows each value from the generated list, not from the
 * bytes: a feature's value is found by a plain backward search of the keys
 * as generated, and a numeric's float is (float) strtod() of the decimal
 * text the harness built its digits from, so the fast numeric path in
 * features.c is checked, bit for bit, against an exact conversion it shares
 * no code with.  An ERROR is expected exactly when a feature's value is a
 * string, array or object, or a numeric out of float range (or the document
 * is not an object), and it must name such a feature.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fraud_score.h"
#include "shim.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

/* ---------------------------------------------------------- byte source */

typedef struct Source
{
	const uint8 *data;
	size_t		len;
	size_t		pos;
	uint64		rng;			/* used once the input is exhausted */
} Source;

static uint32
take8(Source *s)
{
	if (s->pos < s->len)
		return s->data[s->pos++];
	return (uint32) (shim_random(&s->rng) & 0xFF);
}

static uint32
take16(Source *s)
{
	uint32		lo = take8(s);

	return lo | (take8(s) << 8);
}

/* ---------------------------------------------------------------- arena */

/*
 * The generated documents' own pieces (values, keys, digits) are many and
 * small, and only the harness reads them, so they are carved from large
 * blocks instead of one palloc each, which was most of an iteration's time.
 * What features.c reads (the jsonb, the feature names) is palloc'd to size.
 * The blocks go with the iteration's context.
 */
#define ARENA_BLOCK (64 * 1024)

static char *arena_next;
static Size arena_left;

static void *
gen_alloc(Size size)
{
	void	   *p;

	size = MAXALIGN(size);
	if (size > arena_left)
	{
		arena_left = Max(size, ARENA_BLOCK);
		arena_next = palloc(arena_left);
	}
	p = arena_next;
	arena_next += size;
	arena_left -= size;
	return p;
}

static void *
gen_alloc0(Size size)
{
	return memset(gen_alloc(size), 0, size);
}

/* ------------------------------------------------------- value model */

typedef enum ValKind
{
	V_NULL,
	V_TRUE,
	V_FALSE,
	V_STRING,
	V_NUMERIC,
	V_ARRAY,
	V_OBJECT
} ValKind;

typedef enum Special
{
	SPECIAL_NONE,
	SPECIAL_NAN,
	SPECIAL_PINF,
	SPECIAL_NINF
} Special;

typedef struct Val Val;

typedef struct Pair
{
	const char *key;			/* no NUL inside; len bytes */
	int			len;
	Val		   *value;
} Pair;

struct Val
{
	ValKind		kind;
	/* V_STRING */
	const char *str;
	int			len;
	/* V_NUMERIC: on-disk bytes, and what they mean */
	char	   *numeric;		/* varlena, 4-byte header */
	Special		special;
	char	   *decimal;		/* digits "e" exponent, for strtod */
	/* V_ARRAY, V_OBJECT: as generated (objects may repeat keys) */
	int			count;
	Val		  **items;
	Pair	   *pairs;
};

/* ------------------------------------------------------ feature names */

static const char alphabet[] = "abcxyz_019AZ";

static char *
random_name(Source *s, int *len)
{
	uint32		mode = take8(s) % 16;
	int			n;
	char	   *name;

	if (mode < 12)
		n = 1 + take8(s) % 12;
	else if (mode < 15)
		n = 1 + take8(s) % 64;
	else
		n = 1 + take16(s) % 400;
	name = gen_alloc(n + 1);
	for (int i = 0; i < n; i++)
	{
		uint32		c = take8(s);

		/* now and then a two-byte UTF-8 character, or a high byte alone */
		if (c % 32 == 0 && i + 1 < n)
		{
			name[i++] = (char) 0xC3;
			name[i] = (char) 0xA9;
		}
		else if (c % 32 == 1)
			name[i] = (char) (0x80 + c % 64);
		else
			name[i] = alphabet[c % (sizeof(alphabet) - 1)];
	}
	name[n] = '\0';
	*len = n;
	return name;
}

/* A key one byte away from "name": shorter, longer, or one byte changed. */
static char *
near_miss(Source *s, const char *name, int name_len, int *len)
{
	uint32		mode = take8(s) % 5;
	char	   *out = gen_alloc(name_len + 2);

	memcpy(out, name, name_len);
	*len = name_len;
	switch (mode)
	{
		case 0:
			if (name_len > 1)
				(*len)--;
			else
				out[(*len)++] = 'a';
			break;
		case 1:
			out[(*len)++] = alphabet[take8(s) % (sizeof(alphabet) - 1)];
			break;
		case 2:
			{
				int			i = take8(s) % name_len;
				char		c = alphabet[take8(s) % (sizeof(alphabet) - 1)];

				out[i] = c != out[i] ? c : (char) (c ^ 0x20);
				if (out[i] == '\0')
					out[i] = 'q';
				break;
			}
		case 3:
			/* last byte up or down by one: the neighbour in jsonb order */
			out[name_len - 1] = (char) (out[name_len - 1] + ((take8(s) & 1) ? 1 : -1));
			if (out[name_len - 1] == '\0')
				out[name_len - 1] = '\x01';
			break;
		default:
			memmove(out + 1, out, name_len);
			out[0] = 'x';
			(*len)++;
			break;
	}
	out[*len] = '\0';
	return out;
}

typedef struct Features
{
	int			count;
	char	  **names;
	int		   *lengths;
} Features;

/*
 * Bytewise comparison written out: libFuzzer hooks every memcmp() to learn
 * from its arguments, which for the harness's own sorting and searching is
 * only cost.
 */
static int
bytes_cmp(const char *a, const char *b, int len)
{
	for (int i = 0; i < len; i++)
		if (a[i] != b[i])
			return (unsigned char) a[i] < (unsigned char) b[i] ? -1 : 1;
	return 0;
}

static bool
same_key(const char *a, int alen, const char *b, int blen)
{
	return alen == blen && bytes_cmp(a, b, alen) == 0;
}

static void
make_features(Source *s, Features *f)
{
	uint32		mode = take8(s);

	f->count = mode % 16 == 0 ? 1 + take16(s) % 400 : 1 + mode % 24;
	f->names = palloc(sizeof(char *) * f->count);
	f->lengths = palloc(sizeof(int) * f->count);
	for (int i = 0; i < f->count; i++)
	{
		char	   *name;
		int			len;
		bool		unique;

		if (i > 0 && take8(s) % 4 == 0)
		{
			int			j = take8(s) % i;

			name = near_miss(s, f->names[j], f->lengths[j], &len);
		}
		else
			name = random_name(s, &len);
		/* model_check_feature_names refuses duplicates: make it unique */
		do
		{
			unique = true;
			for (int j = 0; j < i; j++)
				if (same_key(name, len, f->names[j], f->lengths[j]))
					unique = false;
			if (!unique)
			{
				char	   *longer = gen_alloc(len + 2);

				memcpy(longer, name, len);
				longer[len++] = alphabet[take8(s) % (sizeof(alphabet) - 1)];
				longer[len] = '\0';
				name = longer;
			}
		} while (!unique);
		/* of exactly their own size, so that features.c reading past one is caught */
		f->names[i] = pnstrdup(name, len);
		f->lengths[i] = len;
	}
}

/* ------------------------------------------------------------ numerics */

/* numeric.c's on-disk header bits (its structs are private to it) */
#define NUM_NEG 0x4000
#define NUM_SHORT 0x8000
#define NUM_NAN 0xC000
#define NUM_PINF 0xD000
#define NUM_NINF 0xF000
#define NUM_SHORT_SIGN_MASK 0x2000
#define NUM_SHORT_DSCALE_SHIFT 7
#define NUM_SHORT_DSCALE_MAX 63
#define NUM_SHORT_WEIGHT_SIGN_MASK 0x0040
#define NUM_SHORT_WEIGHT_MASK 0x003F
#define NUM_SHORT_WEIGHT_MIN (-64)
#define NUM_SHORT_WEIGHT_MAX 63
#define NUM_DSCALE_MAX 0x3FFF
#define MAX_DIGITS 10

/* Decimal places a numeric needs to show every nonzero digit. */
static int
min_dscale(const int16 *digits, int ndigits, int weight)
{
	int			exp10 = 4 * (weight - ndigits + 1);

	for (int i = ndigits - 1; i >= 0; i--)
	{
		int			d = digits[i];

		if (d == 0)
		{
			exp10 += 4;
			continue;
		}
		while (d % 10 == 0)
		{
			d /= 10;
			exp10++;
		}
		return Max(0, -exp10);
	}
	return 0;
}

static void
make_numeric(Source *s, Val *v)
{
	uint32		mode = take8(s);
	int16		digits[MAX_DIGITS];
	int			ndigits;
	int			weight;
	int			dscale;
	bool		negative;
	bool		canonical;
	bool		use_short;
	Size		size;
	char	   *p;

	v->kind = V_NUMERIC;
	if (mode % 48 == 0)
	{
		uint16		header;

		v->special = (Special) (SPECIAL_NAN + take8(s) % 3);
		header = v->special == SPECIAL_NAN ? NUM_NAN :
			v->special == SPECIAL_PINF ? NUM_PINF : NUM_NINF;
		v->numeric = gen_alloc(VARHDRSZ + sizeof(uint16));
		SET_VARSIZE(v->numeric, VARHDRSZ + sizeof(uint16));
		memcpy(VARDATA(v->numeric), &header, sizeof(header));
		return;
	}

	ndigits = take8(s) % (MAX_DIGITS + 1);
	for (int i = 0; i < ndigits; i++)
	{
		uint32		sel = take8(s) % 8;

		digits[i] = sel == 0 ? 0 : sel == 1 ? 9999 : sel == 2 ? 1 :
			sel == 3 ? (int16) (take8(s) % 10) : (int16) (take16(s) % 10000);
	}
	switch (take8(s) % 8)
	{
		case 5:
			weight = (int8) take8(s);
			break;
		case 6:
			weight = (int16) take16(s);
			break;
		case 7:
			{
				/* the edges of the short header and of the fast path's exponents */
				static const int edges[] = {-64, -63, 63, 64, -65, 65};
				uint32		e = take8(s) % 10;

				weight = e < lengthof(edges) ? edges[e] :
					(ndigits - 1) + (e == 6 ? 5 : e == 7 ? 6 : e == 8 ? -5 : -6);
				break;
			}
		default:
			weight = (int) (take8(s) % 16) - 8;
			break;
	}

	/* numeric_in strips zero digits at both ends; now and then don't */
	canonical = take8(s) % 16 != 0;
	if (canonical)
	{
		int			lead = 0;

		while (lead < ndigits && digits[lead] == 0)
			lead++;
		memmove(digits, digits + lead, sizeof(int16) * (ndigits - lead));
		ndigits -= lead;
		weight -= lead;
		while (ndigits > 0 && digits[ndigits - 1] == 0)
			ndigits--;
		if (ndigits == 0)
			weight = 0;
	}
	weight = Max(Min(weight, PG_INT16_MAX), PG_INT16_MIN);
	/* a display scale must cover every digit: move very small values up */
	dscale = min_dscale(digits, ndigits, weight);
	if (dscale > NUM_DSCALE_MAX)
		weight += (dscale - NUM_DSCALE_MAX + 3) / 4;

	dscale = min_dscale(digits, ndigits, weight);
	switch (take8(s) % 8)
	{
		case 5:
			dscale += take8(s) % 8;
			break;
		case 6:
			dscale += take8(s);
			break;
		case 7:
			dscale += take16(s) % 2000;
			break;
		default:
			break;
	}
	dscale = Min(dscale, NUM_DSCALE_MAX);

	/* numeric zero has no sign */
	negative = false;
	if (take8(s) & 1)
		for (int i = 0; i < ndigits; i++)
			if (digits[i] != 0)
				negative = true;

	/* the short header whenever it fits, as numeric.c writes; the long one now and then */
	use_short = dscale <= NUM_SHORT_DSCALE_MAX &&
		weight >= NUM_SHORT_WEIGHT_MIN && weight <= NUM_SHORT_WEIGHT_MAX &&
		take8(s) % 4 != 0;
	size = VARHDRSZ + sizeof(uint16) + (use_short ? 0 : sizeof(int16)) + sizeof(int16) * ndigits;
	v->numeric = gen_alloc(size);
	SET_VARSIZE(v->numeric, size);
	p = VARDATA(v->numeric);
	if (use_short)
	{
		uint16		header = NUM_SHORT | (negative ? NUM_SHORT_SIGN_MASK : 0) |
			(dscale << NUM_SHORT_DSCALE_SHIFT) |
			(weight < 0 ? NUM_SHORT_WEIGHT_SIGN_MASK : 0) | (weight & NUM_SHORT_WEIGHT_MASK);

		memcpy(p, &header, sizeof(header));
		p += sizeof(header);
	}
	else
	{
		uint16		sign_dscale = (negative ? NUM_NEG : 0) | dscale;
		int16		w = (int16) weight;

		memcpy(p, &sign_dscale, sizeof(sign_dscale));
		memcpy(p + sizeof(uint16), &w, sizeof(w));
		p += sizeof(uint16) + sizeof(int16);
	}
	memcpy(p, digits, sizeof(int16) * ndigits);

	/* the value, written independently: all digits, then a power of ten */
	v->decimal = gen_alloc(2 + 4 * ndigits + 16);
	p = v->decimal;
	if (negative)
		*p++ = '-';
	*p++ = '0';
	for (int i = 0; i < ndigits; i++)
	{
		p[0] = '0' + digits[i] / 1000;
		p[1] = '0' + digits[i] / 100 % 10;
		p[2] = '0' + digits[i] / 10 % 10;
		p[3] = '0' + digits[i] % 10;
		p += 4;
	}
	sprintf(p, "e%d", 4 * (weight - ndigits + 1));
}

/* -------------------------------------------------------------- values */

static Val *make_value(Source *s, int depth);

static Val *
make_container(Source *s, ValKind kind, int depth)
{
	Val		   *v = gen_alloc0(sizeof(Val));
	uint32		mode = take8(s);

	v->kind = kind;
	v->count = depth >= 3 ? 0 : mode % 32 == 0 ? take8(s) % 80 : mode % 6;
	if (kind == V_ARRAY)
	{
		v->items = gen_alloc(sizeof(Val *) * Max(v->count, 1));
		for (int i = 0; i < v->count; i++)
			v->items[i] = make_value(s, depth + 1);
	}
	else
	{
		v->pairs = gen_alloc(sizeof(Pair) * Max(v->count, 1));
		for (int i = 0; i < v->count; i++)
		{
			v->pairs[i].key = random_name(s, &v->pairs[i].len);
			v->pairs[i].value = make_value(s, depth + 1);
		}
	}
	return v;
}

/* Mostly a number, since that is what features.c has most to do with. */
static Val *
make_value(Source *s, int depth)
{
	uint32		t = take8(s) % 32;
	Val		   *v;

	if (t >= 27)
		return make_container(s, t >= 30 ? V_OBJECT : V_ARRAY, depth);
	v = gen_alloc0(sizeof(Val));
	if (t < 18)
		make_numeric(s, v);
	else if (t < 21)
		v->kind = V_NULL;
	else if (t < 22)
		v->kind = V_TRUE;
	else if (t < 23)
		v->kind = V_FALSE;
	else
	{
		int			len;

		v->kind = V_STRING;
		v->str = random_name(s, &len);
		v->len = take8(s) % 8 == 0 ? 0 : len;
	}
	return v;
}

typedef enum Outcome
{
	OUT_VALUE,					/* the float is known */
	OUT_TYPE_ERROR,				/* string, array or object */
	OUT_RANGE_ERROR				/* beyond float range */
} Outcome;

static Outcome reference_value(const Val *v, float *out);

static bool
is_feature(const Features *f, const char *key, int len)
{
	for (int i = 0; i < f->count; i++)
		if (same_key(f->names[i], f->lengths[i], key, len))
			return true;
	return false;
}

/*
 * An object whose keys are often the features' names or near misses of them.
 * One bad feature value makes the whole call an error, so in a "clean"
 * object every feature gets a value it can take, and the values themselves
 * are compared.
 */
static Val *
make_object(Source *s, const Features *f, bool clean)
{
	Val		   *v = gen_alloc0(sizeof(Val));
	uint32		mode = take8(s) % 64;

	v->kind = V_OBJECT;
	if (mode == 0)
		v->count = 0;
	else if (mode < 40)
		v->count = take8(s) % 40;
	else if (mode < 56)
		v->count = 20 + take8(s) % 60;	/* around JB_OFFSET_STRIDE, twice */
	else if (mode < 63)
		v->count = 60 + take8(s) % 400;
	else
		v->count = 400 + take16(s) % 6000;	/* thousands */
	v->pairs = gen_alloc(sizeof(Pair) * Max(v->count, 1));
	for (int i = 0; i < v->count; i++)
	{
		uint32		k = take8(s) % 10;
		Pair	   *pair = &v->pairs[i];

		if (k < 4)
		{
			int			j = (f->count > 256 ? take16(s) : take8(s)) % f->count;

			pair->key = f->names[j];
			pair->len = f->lengths[j];
		}
		else if (k < 6)
		{
			int			j = take8(s) % f->count;

			pair->key = near_miss(s, f->names[j], f->lengths[j], &pair->len);
		}
		else
		{
			char	   *key = random_name(s, &pair->len);

			/* the empty key, now and then */
			if (k == 9 && take8(s) % 8 == 0)
				pair->len = 0;
			pair->key = key;
		}
		pair->value = make_value(s, 0);
		if (clean && is_feature(f, pair->key, pair->len))
		{
			float		ignored;

			for (int tries = 0; reference_value(pair->value, &ignored) != OUT_VALUE; tries++)
			{
				pair->value = make_value(s, 0);
				if (tries == 8)
				{
					pair->value = gen_alloc0(sizeof(Val));
					pair->value->kind = V_NULL;
				}
			}
		}
	}
	return v;
}

/* ----------------------------------------------------- jsonb encoding */

static int
jsonb_key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return bytes_cmp(a, b, alen);
}

static const Pair *sort_pairs;

/* jsonb key order; for equal keys, later ones first, so the last one is kept */
static int
pair_index_cmp(const void *a, const void *b)
{
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	int			cmp = jsonb_key_cmp(sort_pairs[ia].key, sort_pairs[ia].len,
									sort_pairs[ib].key, sort_pairs[ib].len);

	if (cmp != 0)
		return cmp;
	return ia > ib ? -1 : ia < ib ? 1 : 0;
}

static void
pad_to_int(StringInfo buf)
{
	while (buf->len % sizeof(int32) != 0)
		appendStringInfoChar(buf, '\0');
}

static JEntry encode_container(StringInfo buf, const Val *v, bool raw_scalar);

/* Append v's data to buf (offsets relative to the varlena's start) and return its JEntry. */
static JEntry
encode_value(StringInfo buf, const Val *v)
{
	int			start = buf->len;

	switch (v->kind)
	{
		case V_NULL:
			return JENTRY_ISNULL;
		case V_TRUE:
			return JENTRY_ISBOOL_TRUE;
		case V_FALSE:
			return JENTRY_ISBOOL_FALSE;
		case V_STRING:
			appendBinaryStringInfo(buf, v->str, v->len);
			return JENTRY_ISSTRING | v->len;
		case V_NUMERIC:
			pad_to_int(buf);
			appendBinaryStringInfo(buf, v->numeric, VARSIZE(v->numeric));
			return JENTRY_ISNUMERIC | (buf->len - start);
		case V_ARRAY:
		case V_OBJECT:
			return encode_container(buf, v, false);
	}
	shim_fail("unknown value kind %d", v->kind);
}

static JEntry
encode_container(StringInfo buf, const Val *v, bool raw_scalar)
{
	int			start = buf->len;
	bool		object = v->kind == V_OBJECT;
	int			n = v->count;
	int		   *order = NULL;
	int			entries;
	int			jentries_at;
	uint32		header;
	uint32		total = 0;

	if (object)
	{
		int			unique = 0;

		/* sorted, unique keys */
		order = palloc(sizeof(int) * Max(n, 1));
		for (int i = 0; i < n; i++)
			order[i] = i;
		sort_pairs = v->pairs;
		qsort(order, n, sizeof(int), pair_index_cmp);
		sort_pairs = NULL;
		for (int i = 0; i < n; i++)
			if (unique == 0 ||
				!same_key(v->pairs[order[i]].key, v->pairs[order[i]].len,
						  v->pairs[order[unique - 1]].key, v->pairs[order[unique - 1]].len))
				order[unique++] = order[i];
		n = unique;
	}
	entries = object ? 2 * n : n;

	pad_to_int(buf);
	header = n | (object ? JB_FOBJECT : JB_FARRAY) | (raw_scalar ? JB_FSCALAR : 0);
	appendBinaryStringInfo(buf, (char *) &header, sizeof(header));
	jentries_at = buf->len;
	for (int j = 0; j < entries; j++)
	{
		JEntry		zero = 0;

		appendBinaryStringInfo(buf, (char *) &zero, sizeof(JEntry));
	}
	for (int j = 0; j < entries; j++)
	{
		JEntry		meta;

		if (!object)
			meta = encode_value(buf, v->items[j]);
		else if (j < n)
		{
			const Pair *pair = &v->pairs[order[j]];

			appendBinaryStringInfo(buf, pair->key, pair->len);
			meta = JENTRY_ISSTRING | pair->len;
		}
		else
			meta = encode_value(buf, v->pairs[order[j - n]].value);
		total += JBE_OFFLENFLD(meta);
		if (j % JB_OFFSET_STRIDE == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(buf->data + jentries_at + j * sizeof(JEntry), &meta, sizeof(JEntry));
	}
	return JENTRY_ISCONTAINER | (buf->len - start);
}

/* A Jsonb datum of exactly its own size, so that reading past it is caught. */
static Jsonb *
encode_jsonb(const Val *root)
{
	StringInfoData buf;
	Jsonb	   *jb;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	if (root->kind == V_OBJECT || root->kind == V_ARRAY)
		(void) encode_container(&buf, root, false);
	else
	{
		/* a scalar document is a one-element array flagged as scalar */
		Val			wrapper = {.kind = V_ARRAY,.count = 1};
		Val		   *items[1] = {unconstify(Val *, root)};

		wrapper.items = items;
		(void) encode_container(&buf, &wrapper, true);
	}
	jb = palloc(buf.len);
	memcpy(jb, buf.data, buf.len);
	SET_VARSIZE(jb, buf.len);
	pfree(buf.data);
	return jb;
}

/* ------------------------------------------------------------ reference */

/* The value of the last pair with this key, by plain search; NULL if none. */
static const Val *
lookup(const Val *object, const char *key, int len)
{
	if (object == NULL || object->kind != V_OBJECT)
		return NULL;
	for (int i = object->count - 1; i >= 0; i--)
		if (same_key(object->pairs[i].key, object->pairs[i].len, key, len))
			return object->pairs[i].value;
	return NULL;
}

static Outcome
reference_value(const Val *v, float *out)
{
	double		d;

	*out = NAN;
	if (v == NULL || v->kind == V_NULL)
		return OUT_VALUE;
	switch (v->kind)
	{
		case V_TRUE:
			*out = 1.0f;
			return OUT_VALUE;
		case V_FALSE:
			*out = 0.0f;
			return OUT_VALUE;
		case V_STRING:
		case V_ARRAY:
		case V_OBJECT:
			return OUT_TYPE_ERROR;
		default:
			break;
	}
	switch (v->special)
	{
		case SPECIAL_NAN:
			return OUT_VALUE;
		case SPECIAL_PINF:
			*out = INFINITY;
			return OUT_VALUE;
		case SPECIAL_NINF:
			*out = -INFINITY;
			return OUT_VALUE;
		case SPECIAL_NONE:
			break;
	}
	d = strtod(v->decimal, NULL);
	if (isinf(d) || fabs(d) > FLT_MAX)
		return OUT_RANGE_ERROR;
	*out = (float) d;
	return OUT_VALUE;
}

/* The outcome features_from_jsonb must have, feature by feature. */
static bool
reference(const Features *f, const Val *doc, const Val *extra, Outcome *outcomes,
		  float *values)
{
	bool		any_error = false;

	for (int i = 0; i < f->count; i++)
	{
		/* a key of the feature function's output wins, even with null */
		const Val  *v = lookup(extra, f->names[i], f->lengths[i]);

		if (v == NULL)
			v = lookup(doc, f->names[i], f->lengths[i]);
		outcomes[i] = reference_value(v, &values[i]);
		if (outcomes[i] != OUT_VALUE)
			any_error = true;
	}
	return any_error;
}

/* ------------------------------------------------------------- checking */

/* FUZZ_VERBOSE=1: describe each call (for reproducing by hand). */
static bool verbose = false;

static const char *
kind_name(ValKind kind)
{
	static const char *const names[] = {"null", "true", "false", "string", "numeric", "array", "object"};

	return names[kind];
}

static uint32
float_bits(float x)
{
	uint32		bits;

	memcpy(&bits, &x, sizeof(bits));
	return bits;
}

static void
describe(const Features *f, const Val *doc, const Val *extra)
{
	fprintf(stderr, "%d features; document %s of %d pairs; extra %s of %d pairs\n",
			f->count, kind_name(doc->kind), doc->count,
			extra ? kind_name(extra->kind) : "none", extra ? extra->count : 0);
}

static void
check_call(const Features *f, FeatureKeys *keys, const Val *doc, Jsonb *doc_jb,
		   const Val *extra, Jsonb *extra_jb, MemoryContext iteration)
{
	double	   *wide = palloc(sizeof(double) * f->count);
	float	   *out = palloc(sizeof(float) * f->count);
	Outcome    *outcomes = palloc(sizeof(Outcome) * f->count);
	float	   *expected = palloc(sizeof(float) * f->count);
	bool		expect_error = reference(f, doc, extra, outcomes, expected);
	const uint64 unset = UINT64CONST(0x7FF4A5A5A5A5A5A5);	/* a NaN features.c never writes */
	volatile bool raised = false;

	if (doc->kind != V_OBJECT)
		expect_error = true;
	for (int i = 0; i < f->count; i++)
		memcpy(&wide[i], &unset, sizeof(double));
	if (verbose)
		describe(f, doc, extra);

	PG_TRY();
	{
		features_from_jsonb(keys, doc_jb, extra_jb, wide);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(iteration);
		FlushErrorState();
		raised = true;
	}
	PG_END_TRY();

	if (raised)
	{
		const ShimError *e = shim_last_error();
		bool		explained = false;

		if (!expect_error)
		{
			describe(f, doc, extra);
			shim_fail("features_from_jsonb raised an unexpected error: SQLSTATE %s: %s (%s)",
					  unpack_sql_state(e->sqlerrcode), e->message, e->detail);
		}
		if (doc->kind != V_OBJECT)
			explained = e->sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE &&
				strcmp(e->message, "fraud_score features must be a JSON object") == 0;
		for (int i = 0; i < f->count && !explained; i++)
		{
			char	   *message = NULL;

			if (outcomes[i] == OUT_TYPE_ERROR && e->sqlerrcode == ERRCODE_DATATYPE_MISMATCH)
				message = psprintf("feature \"%s\" must be a number, a boolean or null",
								   f->names[i]);
			else if (outcomes[i] == OUT_RANGE_ERROR &&
					 e->sqlerrcode == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE)
				message = psprintf("value of feature \"%s\" is out of range for a model input",
								   f->names[i]);
			explained = message != NULL && strcmp(message, e->message) == 0;
		}
		if (!explained)
		{
			describe(f, doc, extra);
			shim_fail("features_from_jsonb raised SQLSTATE %s: %s (%s); no feature explains it",
					  unpack_sql_state(e->sqlerrcode), e->message, e->detail);
		}
		if (verbose)
			fprintf(stderr, "  error, as expected: %s\n", e->message);
		return;
	}
	if (expect_error)
	{
		describe(f, doc, extra);
		for (int i = 0; i < f->count; i++)
			if (outcomes[i] != OUT_VALUE)
				shim_fail("features_from_jsonb raised no error, but feature \"%s\" has %s",
						  f->names[i], outcomes[i] == OUT_TYPE_ERROR ?
						  "a string, array or object" : "a value beyond float range");
		shim_fail("features_from_jsonb accepted a document that is not an object");
	}
	for (int i = 0; i < f->count; i++)
	{
		if (memcmp(&wide[i], &unset, sizeof(double)) == 0)
		{
			describe(f, doc, extra);
			shim_fail("features_from_jsonb did not set feature %d \"%s\"", i, f->names[i]);
		}
		/* single precision: each input a float, held as a double */
		out[i] = (float) wide[i];
		if (!isnan(wide[i]) && (double) out[i] != wide[i])
			shim_fail("features_from_jsonb gave feature \"%s\" %.17g, which is not a float",
					  f->names[i], wide[i]);
		if (isnan(out[i]) && isnan(expected[i]))
			continue;
		if (memcmp(&out[i], &expected[i], sizeof(float)) != 0)
		{
			const Val  *v = lookup(extra, f->names[i], f->lengths[i]);

			if (v == NULL)
				v = lookup(doc, f->names[i], f->lengths[i]);
			describe(f, doc, extra);
			shim_fail("feature \"%s\" is %.9g (0x%08x), expected %.9g (0x%08x); value %s %s",
					  f->names[i], out[i], float_bits(out[i]), expected[i],
					  float_bits(expected[i]), v ? kind_name(v->kind) : "absent",
					  v && v->kind == V_NUMERIC ?
					  (v->decimal ? v->decimal : "(special)") : "");
		}
		if (verbose)
		{
			const Val  *v = lookup(extra, f->names[i], f->lengths[i]);

			if (v == NULL)
				v = lookup(doc, f->names[i], f->lengths[i]);
			fprintf(stderr, "  \"%s\" = %.9g from %s %s\n", f->names[i], out[i],
					v ? kind_name(v->kind) : "nothing",
					v && v->kind == V_NUMERIC && v->decimal ? v->decimal : "");
		}
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shim_init();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext iteration = shim_iteration_begin();
	Source		s = {data, size, 0, 0x243F6A8885A308D3};

	arena_left = 0;
	Features	f;
	FeatureKeys *keys;
	Val		   *doc;
	Val		   *extra = NULL;
	Jsonb	   *doc_jb;
	uint32		mode;
	bool		clean;

	for (size_t i = 0; i < size; i++)
		s.rng = (s.rng ^ data[i]) * UINT64CONST(0x100000001B3);

	make_features(&s, &f);
	keys = feature_keys_build(f.names, f.count, iteration);

	mode = take8(&s);
	clean = (mode & 0xC0) != 0;
	if (mode % 32 == 0)
		doc = make_value(&s, 0);	/* seldom an object */
	else
		doc = make_object(&s, &f, clean);
	if (mode % 4 == 1)
		extra = make_object(&s, &f, clean);
	else if (mode % 16 == 2)
		extra = make_value(&s, 0);

	doc_jb = encode_jsonb(doc);
	check_call(&f, keys, doc, doc_jb, extra, extra ? encode_jsonb(extra) : NULL, iteration);
	/* again without the extra object: the scratch flags must start afresh */
	check_call(&f, keys, doc, doc_jb, NULL, NULL, iteration);

	shim_iteration_end();
	return 0;
}
