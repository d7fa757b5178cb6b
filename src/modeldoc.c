/*-------------------------------------------------------------------------
 *
 * modeldoc.c
 *		Parse XGBoost model bytes (JSON or UBJSON) into a DocValue tree.
 *
 * This file owns turning untrusted bytes into a document and nothing else:
 * every length and count is checked against the bytes actually present, so a
 * header that claims a huge size costs nothing, and nesting is bounded.
 * Deciding whether the document is a model XGBoost can safely load is
 * model.c's job.
 *
 * Arrays whose elements are all numbers (the bulk of a model: child indices,
 * split conditions, leaf values) are kept as plain double arrays.  Duplicate
 * object keys are rejected, because XGBoost and a validator reading different
 * copies of a key would defeat validation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "port/pg_bswap.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "modeldoc.h"

/* One container being filled, for either parser. */
typedef struct DocBuilder
{
	bool		is_object;
	bool		all_numeric;	/* arrays only: still a DOC_NUMARRAY? */
	int			count;
	int			capacity;
	double	   *numbers;
	DocValue  **items;
	char	  **keys;
	char	   *pending_key;	/* objects: key of the value to come */
} DocBuilder;

/*
 * Parsed documents may take at most this many bytes per input byte (plus a
 * floor): a byte string of one-byte nulls must not cost gigabytes.  Real
 * models, whose bulk is numeric arrays, stay far below it.
 */
#define DOC_BYTES_PER_INPUT_BYTE 8
#define DOC_BUDGET_FLOOR (16 * 1024 * 1024)

static MemoryContext doc_context = NULL;
static Size doc_budget = 0;
static uint32 doc_allocations = 0;

static void
doc_check_budget(void)
{
	if (doc_context != NULL && ++doc_allocations % 4096 == 0 &&
		MemoryContextMemAllocated(doc_context, true) > doc_budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid XGBoost model"),
				 errdetail("The model's structure needs more than %zu bytes of memory to check.",
						   doc_budget)));
}

static void
builder_init(DocBuilder *b, bool is_object)
{
	memset(b, 0, sizeof(*b));
	b->is_object = is_object;
	b->all_numeric = !is_object;
}

static void
builder_grow(DocBuilder *b)
{
	if (b->count < b->capacity)
		return;
	doc_check_budget();
	b->capacity = b->capacity == 0 ? 8 : b->capacity * 2;
	if (b->all_numeric)
		b->numbers = b->numbers ? repalloc_huge(b->numbers, sizeof(double) * b->capacity)
			: palloc_extended(sizeof(double) * b->capacity, MCXT_ALLOC_HUGE);
	else
	{
		b->items = b->items ? repalloc_huge(b->items, sizeof(DocValue *) * b->capacity)
			: palloc_extended(sizeof(DocValue *) * b->capacity, MCXT_ALLOC_HUGE);
		if (b->is_object)
			b->keys = b->keys ? repalloc_huge(b->keys, sizeof(char *) * b->capacity)
				: palloc_extended(sizeof(char *) * b->capacity, MCXT_ALLOC_HUGE);
	}
}

static DocValue *
doc_new(DocKind kind)
{
	DocValue   *v = palloc0(sizeof(DocValue));

	doc_check_budget();
	v->kind = kind;
	return v;
}

/* Parse into a context of its own, under the caller's, within a budget. */
static MemoryContext
doc_begin(Size len)
{
	MemoryContext old = CurrentMemoryContext;

	doc_context = AllocSetContextCreate(old, "fraud_score model document", ALLOCSET_DEFAULT_SIZES);
	doc_budget = Max(len * DOC_BYTES_PER_INPUT_BYTE, DOC_BUDGET_FLOOR);
	doc_allocations = 0;
	MemoryContextSwitchTo(doc_context);
	return old;
}

static void
doc_end(MemoryContext old)
{
	MemoryContextSwitchTo(old);
	doc_context = NULL;
}

static void
builder_add_value(DocBuilder *b, DocValue *v)
{
	if (b->all_numeric && v->kind != DOC_NUMBER && v->kind != DOC_BOOL)
	{
		/* The array turns out to be mixed: box the numbers seen so far. */
		DocValue  **items = palloc_extended(sizeof(DocValue *) * Max(b->capacity, 1),
											MCXT_ALLOC_HUGE);

		for (int i = 0; i < b->count; i++)
		{
			items[i] = doc_new(DOC_NUMBER);
			items[i]->u.number = b->numbers[i];
		}
		if (b->numbers)
			pfree(b->numbers);
		b->numbers = NULL;
		b->items = items;
		b->all_numeric = false;
	}
	if (b->all_numeric)
	{
		builder_grow(b);
		b->numbers[b->count++] = v->kind == DOC_BOOL ? (double) v->u.boolean : v->u.number;
		pfree(v);
		return;
	}
	builder_grow(b);
	if (b->is_object)
	{
		b->keys[b->count] = b->pending_key;
		b->pending_key = NULL;
	}
	b->items[b->count++] = v;
}

static void
builder_add_number(DocBuilder *b, double x)
{
	if (b->all_numeric)
	{
		builder_grow(b);
		b->numbers[b->count++] = x;
	}
	else
	{
		DocValue   *v = doc_new(DOC_NUMBER);

		v->u.number = x;
		builder_add_value(b, v);
	}
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static DocValue *
builder_finish(DocBuilder *b)
{
	DocValue   *v;

	if (b->is_object)
	{
		v = doc_new(DOC_OBJECT);
		v->u.items = b->items;
		v->keys = b->keys;
		if (b->count > 1)
		{
			char	  **sorted = palloc_extended(sizeof(char *) * b->count, MCXT_ALLOC_HUGE);

			memcpy(sorted, b->keys, sizeof(char *) * b->count);
			qsort(sorted, b->count, sizeof(char *), key_cmp);
			for (int i = 1; i < b->count; i++)
				if (strcmp(sorted[i - 1], sorted[i]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
							 errmsg("invalid XGBoost model"),
							 errdetail("Key \"%s\" appears twice in one object.", sorted[i])));
			pfree(sorted);
		}
	}
	else if (b->all_numeric)
	{
		v = doc_new(DOC_NUMARRAY);
		v->u.numbers = b->numbers;
	}
	else
	{
		v = doc_new(DOC_ARRAY);
		v->u.items = b->items;
	}
	v->count = b->count;
	return v;
}

DocValue *
doc_get(const DocValue *object, const char *key)
{
	if (object == NULL || object->kind != DOC_OBJECT)
		return NULL;
	for (int i = 0; i < object->count; i++)
		if (strcmp(object->keys[i], key) == 0)
			return object->u.items[i];
	return NULL;
}

const char *
doc_kind_name(DocKind kind)
{
	switch (kind)
	{
		case DOC_NULL:
			return "null";
		case DOC_BOOL:
			return "boolean";
		case DOC_NUMBER:
			return "number";
		case DOC_STRING:
			return "string";
		case DOC_ARRAY:
		case DOC_NUMARRAY:
			return "array";
		case DOC_OBJECT:
			return "object";
	}
	return "unknown";
}

/* ---------------------------------------------------------------- JSON */

/*
 * PostgreSQL 16 made the JSON parser's semantic actions return an error
 * code, and 17 gave makeJsonLexContextCstringLen a context to fill (NULL
 * allocates one).
 */
#if PG_VERSION_NUM >= 160000
#define JSON_ACTION_RESULT JsonParseErrorType
#define JSON_ACTION_DONE return JSON_SUCCESS
#else
#define JSON_ACTION_RESULT void
#define JSON_ACTION_DONE return
#endif

typedef struct JsonDocState
{
	DocBuilder	stack[DOC_MAX_DEPTH];
	char	   *own_key[DOC_MAX_DEPTH]; /* key naming each open container */
	int			depth;
	DocValue   *root;
	char	   *pending_key;	/* set by object_field_start */
} JsonDocState;

static void
json_attach(JsonDocState *st, DocValue *v)
{
	if (st->depth == 0)
		st->root = v;
	else
	{
		DocBuilder *parent = &st->stack[st->depth - 1];

		if (parent->is_object)
			parent->pending_key = st->pending_key;
		builder_add_value(parent, v);
	}
}

static void
json_container_start(JsonDocState *st, bool is_object)
{
	if (st->depth >= DOC_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid XGBoost model"),
				 errdetail("The model nests deeper than %d levels.", DOC_MAX_DEPTH)));
	/* The key that names this container must survive its contents' keys. */
	builder_init(&st->stack[st->depth], is_object);
	st->own_key[st->depth] = st->pending_key;
	st->depth++;
}

static void
json_container_end(JsonDocState *st)
{
	DocValue   *v;

	st->depth--;
	v = builder_finish(&st->stack[st->depth]);
	st->pending_key = st->own_key[st->depth];
	json_attach(st, v);
}

static JSON_ACTION_RESULT
json_object_start(void *state)
{
	json_container_start(state, true);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
json_array_start(void *state)
{
	json_container_start(state, false);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
json_end(void *state)
{
	json_container_end(state);
	JSON_ACTION_DONE;
}

static JSON_ACTION_RESULT
json_field_start(void *state, char *fname, bool isnull)
{
	((JsonDocState *) state)->pending_key = fname;
	JSON_ACTION_DONE;
}

/*
 * XGBoost's JSON writer puts a bare NaN token where a float is NaN (1.4's
 * categorical split conditions) and its reader takes it; PostgreSQL's JSON
 * lexer does not.  Outside strings, each such token becomes NAN_STAND_IN,
 * a number no XGBoost writes (it overflows), which json_number reads as NaN.
 * Returns NULL when there is none.
 */
#define NAN_STAND_IN "1E99999"

static char *
json_without_nan_tokens(const char *data, Size len, Size *out_len)
{
	StringInfoData out;
	bool		in_string = false;
	bool		any = false;

	initStringInfo(&out);
	for (Size i = 0; i < len; i++)
	{
		char		c = data[i];

		if (in_string)
		{
			if (c == '\\' && i + 1 < len)
			{
				appendStringInfoChar(&out, c);
				c = data[++i];
			}
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == 'N' && i + 3 <= len && memcmp(data + i, "NaN", 3) == 0 &&
				 (i == 0 || strchr(" \t\r\n[,:", data[i - 1]) != NULL) &&
				 (i + 3 == len || strchr(" \t\r\n],}", data[i + 3]) != NULL))
		{
			appendStringInfoString(&out, NAN_STAND_IN);
			i += 2;
			any = true;
			continue;
		}
		appendStringInfoChar(&out, c);
	}
	if (!any)
	{
		pfree(out.data);
		return NULL;
	}
	*out_len = out.len;
	return out.data;
}

static double
json_number(const char *token)
{
	return strcmp(token, NAN_STAND_IN) == 0 ? NAN : strtod(token, NULL);
}

static JSON_ACTION_RESULT
json_scalar(void *state, char *token, JsonTokenType tokentype)
{
	JsonDocState *st = state;
	DocValue   *v;

	if (tokentype == JSON_TOKEN_NUMBER && st->depth > 0 &&
		!st->stack[st->depth - 1].is_object)
	{
		builder_add_number(&st->stack[st->depth - 1], json_number(token));
		JSON_ACTION_DONE;
	}

	switch (tokentype)
	{
		case JSON_TOKEN_NUMBER:
			v = doc_new(DOC_NUMBER);
			v->u.number = json_number(token);
			break;
		case JSON_TOKEN_STRING:
			v = doc_new(DOC_STRING);
			v->u.string = token;
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v = doc_new(DOC_BOOL);
			v->u.boolean = tokentype == JSON_TOKEN_TRUE;
			break;
		default:
			v = doc_new(DOC_NULL);
			break;
	}
	json_attach(st, v);
	JSON_ACTION_DONE;
}

DocValue *
doc_parse_json(const char *data, Size len)
{
	JsonDocState *st = palloc0(sizeof(JsonDocState));
	JsonSemAction sem = {0};
	JsonLexContext *lex;
	JsonParseErrorType rc;
	DocValue   *root;
	MemoryContext old = doc_begin(len);
	Size		without_nan_len;
	char	   *without_nan = json_without_nan_tokens(data, len, &without_nan_len);

	if (without_nan != NULL)
	{
		data = without_nan;
		len = without_nan_len;
	}
	/* The JSON lexer takes an int length; the size cap keeps us far below. */
	Assert(len < PG_INT32_MAX);
#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, data, len, PG_UTF8, true);
#else
	lex = makeJsonLexContextCstringLen(unconstify(char *, data), (int) len, PG_UTF8, true);
#endif
	sem.semstate = st;
	sem.object_start = json_object_start;
	sem.object_end = json_end;
	sem.array_start = json_array_start;
	sem.array_end = json_end;
	sem.object_field_start = json_field_start;
	sem.scalar = json_scalar;

	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not parse model as XGBoost JSON"),
				 errdetail("%s", json_errdetail(rc, lex)),
				 errhint("The model may be truncated or not a model at all.")));
	root = st->root;
	pfree(st);
	doc_end(old);
	return root;
}

/* -------------------------------------------------------------- UBJSON */

typedef struct UbjReader
{
	const uint8 *data;
	Size		len;
	Size		pos;
} UbjReader;

static void ubj_fail(UbjReader *r, const char *what) pg_attribute_noreturn();

static void
ubj_fail(UbjReader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("could not parse model as XGBoost UBJSON"),
			 errdetail("%s at byte %zu of %zu.", what, r->pos, r->len),
			 errhint("The model may be truncated or not a model at all.")));
}

static const uint8 *
ubj_take(UbjReader *r, Size n)
{
	const uint8 *p;

	if (n > r->len - r->pos)
		ubj_fail(r, "Unexpected end of data");
	p = r->data + r->pos;
	r->pos += n;
	return p;
}

static uint64
ubj_read_be(UbjReader *r, int nbytes)
{
	const uint8 *p = ubj_take(r, nbytes);
	uint64		v = 0;

	for (int i = 0; i < nbytes; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Size in bytes of a fixed-size scalar type marker, 0 if not fixed-size. */
static int
ubj_scalar_size(uint8 marker)
{
	switch (marker)
	{
		case 'i':
		case 'U':
			return 1;
		case 'I':
			return 2;
		case 'l':
		case 'd':
			return 4;
		case 'L':
		case 'D':
			return 8;
		default:
			return 0;
	}
}

static bool
ubj_is_integer_marker(uint8 marker)
{
	return marker == 'i' || marker == 'U' || marker == 'I' || marker == 'l' || marker == 'L';
}

/* A fixed-size number of the given type. */
static double
ubj_read_number(UbjReader *r, uint8 marker)
{
	switch (marker)
	{
		case 'i':
			return (double) (int8) ubj_read_be(r, 1);
		case 'U':
			return (double) (uint8) ubj_read_be(r, 1);
		case 'I':
			return (double) (int16) ubj_read_be(r, 2);
		case 'l':
			return (double) (int32) ubj_read_be(r, 4);
		case 'L':
			return (double) (int64) ubj_read_be(r, 8);
		case 'd':
			{
				uint32		bits = (uint32) ubj_read_be(r, 4);
				float		f;

				memcpy(&f, &bits, sizeof(f));
				return (double) f;
			}
		case 'D':
			{
				uint64		bits = ubj_read_be(r, 8);
				double		d;

				memcpy(&d, &bits, sizeof(d));
				return d;
			}
	}
	ubj_fail(r, "Expected a number");
}

/* A length or count: an integer value with its own type marker. */
static Size
ubj_read_length(UbjReader *r)
{
	uint8		marker = *ubj_take(r, 1);
	double		n;

	if (!ubj_is_integer_marker(marker))
		ubj_fail(r, "Expected an integer length");
	n = ubj_read_number(r, marker);
	if (n < 0)
		ubj_fail(r, "Negative length");
	/* Every length counts something that occupies at least a byte. */
	if (n > (double) (r->len - r->pos))
		ubj_fail(r, "Length exceeds the data");
	return (Size) n;
}

static char *
ubj_read_string_body(UbjReader *r)
{
	Size		n = ubj_read_length(r);
	const uint8 *p = ubj_take(r, n);
	char	   *s;

	if (memchr(p, '\0', n) != NULL)
		ubj_fail(r, "String contains a NUL byte");
	s = palloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * The payload of a typed numeric array, big-endian, into doubles.  One loop
 * per element type: a model is mostly such arrays, and reading them number
 * by number was most of a model's load time.
 */
static void
ubj_read_typed_numbers(const uint8 *p, uint8 type, Size count, double *out)
{
	switch (type)
	{
		case 'i':
			for (Size i = 0; i < count; i++)
				out[i] = (int8) p[i];
			break;
		case 'U':
			for (Size i = 0; i < count; i++)
				out[i] = p[i];
			break;
		case 'I':
			for (Size i = 0; i < count; i++)
			{
				uint16		bits;

				memcpy(&bits, p + 2 * i, sizeof(bits));
				out[i] = (int16) pg_ntoh16(bits);
			}
			break;
		case 'l':
			for (Size i = 0; i < count; i++)
			{
				uint32		bits;

				memcpy(&bits, p + 4 * i, sizeof(bits));
				out[i] = (int32) pg_ntoh32(bits);
			}
			break;
		case 'L':
			for (Size i = 0; i < count; i++)
			{
				uint64		bits;

				memcpy(&bits, p + 8 * i, sizeof(bits));
				out[i] = (int64) pg_ntoh64(bits);
			}
			break;
		case 'd':
			for (Size i = 0; i < count; i++)
			{
				uint32		bits;
				float		f;

				memcpy(&bits, p + 4 * i, sizeof(bits));
				bits = pg_ntoh32(bits);
				memcpy(&f, &bits, sizeof(f));
				out[i] = f;
			}
			break;
		case 'D':
			for (Size i = 0; i < count; i++)
			{
				uint64		bits;
				double		d;

				memcpy(&bits, p + 8 * i, sizeof(bits));
				bits = pg_ntoh64(bits);
				memcpy(&d, &bits, sizeof(d));
				out[i] = d;
			}
			break;
		default:
			Assert(false);
	}
}

static DocValue *ubj_read_value(UbjReader *r, uint8 marker, int depth);

static DocValue *
ubj_read_container(UbjReader *r, bool is_object, int depth)
{
	DocBuilder	b;
	uint8		elem_type = 0;
	bool		counted = false;
	Size		count = 0;
	Size		start = r->pos - 1; /* the marker, already taken */
	DocValue   *typed;

	if (depth >= DOC_MAX_DEPTH)
		ubj_fail(r, "Nesting too deep");
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	builder_init(&b, is_object);

	if (r->pos < r->len && r->data[r->pos] == '$')
	{
		r->pos++;
		elem_type = *ubj_take(r, 1);
		if (r->pos >= r->len || r->data[r->pos] != '#')
			ubj_fail(r, "Typed container without a count");
		/* Markers without a payload would let a tiny header claim any count. */
		if (elem_type == 'Z' || elem_type == 'T' || elem_type == 'F')
			ubj_fail(r, "Unsupported container element type");
	}
	if (r->pos < r->len && r->data[r->pos] == '#')
	{
		r->pos++;
		count = ubj_read_length(r);
		counted = true;
		if (elem_type && ubj_scalar_size(elem_type) > 0 &&
			count > (r->len - r->pos) / ubj_scalar_size(elem_type))
			ubj_fail(r, "Element count exceeds the data");
	}

	if (counted && !is_object && elem_type && ubj_scalar_size(elem_type) > 0)
	{
		/* The bulk of a model: a typed numeric array. */
		b.capacity = Max(count, 1);
		b.numbers = palloc_extended(sizeof(double) * b.capacity, MCXT_ALLOC_HUGE);
		ubj_read_typed_numbers(ubj_take(r, count * ubj_scalar_size(elem_type)),
							   elem_type, count, b.numbers);
		b.count = count;
		typed = builder_finish(&b);
		typed->ubj_type = (char) elem_type;
		typed->src_start = start;
		typed->src_end = r->pos;
		return typed;
	}

	for (Size i = 0; !counted || i < count; i++)
	{
		uint8		marker;

		if (!counted)
		{
			uint8		next = *ubj_take(r, 1);

			if (next == (is_object ? '}' : ']'))
				break;
			r->pos--;
		}
		if (is_object)
			b.pending_key = ubj_read_string_body(r);
		marker = elem_type ? elem_type : *ubj_take(r, 1);
		if (b.all_numeric && ubj_scalar_size(marker) > 0)
			builder_add_number(&b, ubj_read_number(r, marker));
		else
			builder_add_value(&b, ubj_read_value(r, marker, depth + 1));
	}
	return builder_finish(&b);
}

static DocValue *
ubj_read_value(UbjReader *r, uint8 marker, int depth)
{
	DocValue   *v;

	switch (marker)
	{
		case 'Z':
			return doc_new(DOC_NULL);
		case 'T':
		case 'F':
			v = doc_new(DOC_BOOL);
			v->u.boolean = marker == 'T';
			return v;
		case 'i':
		case 'U':
		case 'I':
		case 'l':
		case 'L':
		case 'd':
		case 'D':
			v = doc_new(DOC_NUMBER);
			v->u.number = ubj_read_number(r, marker);
			return v;
		case 'S':
			v = doc_new(DOC_STRING);
			v->src_start = r->pos - 1;	/* the marker, already taken */
			v->u.string = ubj_read_string_body(r);
			v->src_end = r->pos;
			return v;
		case '[':
			return ubj_read_container(r, false, depth);
		case '{':
			return ubj_read_container(r, true, depth);
	}
	/*
	 * Everything else, including UBJSON's char (C), high-precision (H) and
	 * no-op (N) markers, which XGBoost never writes and reads differently
	 * (it takes C as an integer): refusing them keeps one reading of every
	 * byte.
	 */
	r->pos--;
	ubj_fail(r, "Unsupported type marker");
}

DocValue *
doc_parse_ubjson(const char *data, Size len)
{
	UbjReader	r = {(const uint8 *) data, len, 0};
	DocValue   *root;
	MemoryContext old = doc_begin(len);

	root = ubj_read_value(&r, *ubj_take(&r, 1), 0);
	if (r.pos != r.len)
		ubj_fail(&r, "Trailing bytes after the model");
	doc_end(old);
	return root;
}
