/*-------------------------------------------------------------------------
 *
 * shim.c
 *		Test-only stand-ins for the backend symbols that src/modeldoc.c,
 *		model.c, forest.c and features.c use, so that they run unmodified
 *		in a libFuzzer process.
 *
 * Owns: memory contexts (palloc on malloc, every chunk tracked so that a
 * context's deletion frees it, headers poisoned for AddressSanitizer), error
 * reporting (errstart/errfinish that longjmp to PG_TRY like the backend's),
 * check_stack_depth, interrupts, encoding validation, DirectFunctionCall1,
 * the two jsonb_util.c lookups features.c makes, and numeric.c's exact
 * numeric -> float8 conversion.  What libpgcommon.a provides (the JSON
 * parser, StringInfo, psprintf, encoding tables) is linked from it; its
 * palloc calls land here, because this file defines palloc and the
 * frontend fe_memutils.o is never pulled from the archive.
 *
 * The server encoding is taken to be UTF8.  Functions the fuzzed paths
 * never reach (tuple access, catalog lookups) abort if called, so a
 * harness that strays onto them is noticed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sanitizer/asan_interface.h>

#include "access/htup_details.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "fraud_score.h"

#include "shim.h"

/* ------------------------------------------------------ backend globals */

MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;
volatile sig_atomic_t InterruptPending = false;

/* fraud_score.c's GUC, at its default (64MB). */
int			fraud_score_max_model_size_kb = 64 * 1024;

/* ----------------------------------------------------------- failures */

void
shim_fail(const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "\n==fuzz== CHECK FAILED: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

bool
shim_known_bug(const char *name)
{
	const char *list = getenv("FUZZ_KNOWN_BUGS");
	size_t		len = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0'; p += strcspn(p, ","), p += (*p == ','))
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
{
	shim_fail("%s(\"%s\") at %s:%d", errorType ? errorType : "TRAP",
			  conditionName ? conditionName : "?", fileName ? fileName : "?", lineNumber);
}

/* ------------------------------------------------------ memory contexts */

/*
 * Each palloc is its own malloc, exactly the size asked for, so that
 * AddressSanitizer catches an overrun of one byte (the backend rounds chunks
 * up to a power of two, which would hide it).  The header in front is
 * poisoned while not in use, which catches underruns too.  The context
 * pointer is the header's last field, where the backend's
 * GetMemoryChunkContext() looks for it.
 */
#define CHUNK_MAGIC 0x5A1AD0C5u

typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	Size		size;
	uint32		magic;
	uint32		unused;
	MemoryContext context;
} ShimChunk;

StaticAssertDecl(sizeof(ShimChunk) % MAXIMUM_ALIGNOF == 0, "chunk header must keep MAXALIGN");

typedef struct ShimContext
{
	MemoryContextData header;	/* first, so a MemoryContext points here */
	ShimChunk	chunks;			/* sentinel of a circular list */
	Size		nchunks;
} ShimContext;

#define CHUNK_DATA(c) ((void *) ((char *) (c) + sizeof(ShimChunk)))
#define DATA_CHUNK(p) ((ShimChunk *) ((char *) (p) - sizeof(ShimChunk)))

static void
chunk_open(ShimChunk *c)
{
	ASAN_UNPOISON_MEMORY_REGION(c, sizeof(ShimChunk));
}

static void
chunk_close(ShimChunk *c)
{
	ASAN_POISON_MEMORY_REGION(c, sizeof(ShimChunk));
}

/* Unlink "c" (open) from its context's list. */
static void
chunk_unlink(ShimContext *cx, ShimChunk *c)
{
	ShimChunk  *prev = c->prev;
	ShimChunk  *next = c->next;

	if (prev != &cx->chunks)
		chunk_open(prev);
	prev->next = next;
	if (prev != &cx->chunks)
		chunk_close(prev);
	if (next != &cx->chunks)
		chunk_open(next);
	next->prev = prev;
	if (next != &cx->chunks)
		chunk_close(next);
	cx->nchunks--;
	cx->header.mem_allocated -= c->size + sizeof(ShimChunk);
}

static void
chunk_link(ShimContext *cx, ShimChunk *c)
{
	ShimChunk  *first = cx->chunks.next;

	c->prev = &cx->chunks;
	c->next = first;
	if (first != &cx->chunks)
		chunk_open(first);
	first->prev = c;
	if (first != &cx->chunks)
		chunk_close(first);
	cx->chunks.next = c;
	cx->nchunks++;
	cx->header.mem_allocated += c->size + sizeof(ShimChunk);
}

static ShimContext *
context_check(MemoryContext context)
{
	if (context == NULL || context->type != T_AllocSetContext)
		shim_fail("not a memory context: %p", (void *) context);
	return (ShimContext *) context;
}

static void *
context_alloc(MemoryContext context, Size size, int flags)
{
	ShimContext *cx = context_check(context);
	ShimChunk  *c;

	if ((flags & MCXT_ALLOC_HUGE) ? !AllocHugeSizeIsValid(size) : !AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = malloc(sizeof(ShimChunk) + size);
	if (c == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu in memory context \"%s\".",
						   size, context->name)));
	}
	c->size = size;
	c->magic = CHUNK_MAGIC;
	c->unused = 0;
	c->context = context;
	chunk_link(cx, c);
	context->isReset = false;
	/* Like the backend's RANDOMIZE_ALLOCATED_MEMORY: no free zeroes. */
	memset(CHUNK_DATA(c), (flags & MCXT_ALLOC_ZERO) ? 0 : 0x7F, size);
	chunk_close(c);
	return CHUNK_DATA(c);
}

/* The open header of a live chunk, or a failure for anything else. */
static ShimChunk *
chunk_of(void *pointer, const char *caller)
{
	ShimChunk  *c;

	if (pointer == NULL)
		shim_fail("%s(NULL)", caller);
	c = DATA_CHUNK(pointer);
	chunk_open(c);
	if (c->magic != CHUNK_MAGIC)
		shim_fail("%s(%p): not a palloc'd chunk", caller, pointer);
	return c;
}

static void
chunk_free(ShimChunk *c)
{
	chunk_unlink(context_check(c->context), c);
	c->magic = 0;
	free(c);
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize, Size maxBlockSize)
{
	ShimContext *cx = calloc(1, sizeof(ShimContext));

	if (cx == NULL)
		shim_fail("out of memory creating context \"%s\"", name);
	cx->header.type = T_AllocSetContext;
	cx->header.isReset = true;
	cx->header.name = name;
	cx->header.parent = parent;
	cx->chunks.prev = cx->chunks.next = &cx->chunks;
	if (parent != NULL)
	{
		context_check(parent);
		cx->header.nextchild = parent->firstchild;
		if (parent->firstchild != NULL)
			parent->firstchild->prevchild = &cx->header;
		parent->firstchild = &cx->header;
	}
	return &cx->header;
}

static void
context_free_chunks(ShimContext *cx)
{
	while (cx->chunks.next != &cx->chunks)
	{
		ShimChunk  *c = cx->chunks.next;

		chunk_open(c);
		chunk_free(c);
	}
	Assert(cx->nchunks == 0 && cx->header.mem_allocated == 0);
}

static void
context_call_reset_callbacks(MemoryContext context)
{
	MemoryContextCallback *cb;

	while ((cb = context->reset_cbs) != NULL)
	{
		context->reset_cbs = cb->next;
		cb->func(cb->arg);
	}
}

void
MemoryContextDeleteChildren(MemoryContext context)
{
	context_check(context);
	while (context->firstchild != NULL)
		MemoryContextDelete(context->firstchild);
}

void
MemoryContextReset(MemoryContext context)
{
	MemoryContextDeleteChildren(context);
	context_call_reset_callbacks(context);
	context_free_chunks(context_check(context));
	context->isReset = true;
}

void
MemoryContextDelete(MemoryContext context)
{
	ShimContext *cx = context_check(context);
	MemoryContext parent = context->parent;

	if (context == CurrentMemoryContext)
		shim_fail("deleting the current memory context \"%s\"", context->name);
	MemoryContextDeleteChildren(context);
	context_call_reset_callbacks(context);
	context_free_chunks(cx);
	if (parent != NULL)
	{
		if (context->prevchild != NULL)
			context->prevchild->nextchild = context->nextchild;
		else
			parent->firstchild = context->nextchild;
		if (context->nextchild != NULL)
			context->nextchild->prevchild = context->prevchild;
	}
	context->type = T_Invalid;
	free(cx);
}

Size
MemoryContextMemAllocated(MemoryContext context, bool recurse)
{
	Size		total = context_check(context)->header.mem_allocated;

	if (recurse)
		for (MemoryContext child = context->firstchild; child != NULL; child = child->nextchild)
			total += MemoryContextMemAllocated(child, true);
	return total;
}

void
MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb)
{
	context_check(context);
	cb->next = context->reset_cbs;
	context->reset_cbs = cb;
	context->isReset = false;
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return context_alloc(context, size, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return context_alloc(context, size, MCXT_ALLOC_ZERO);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return context_alloc(context, size, flags);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return context_alloc(context, size, MCXT_ALLOC_HUGE);
}

void *
palloc(Size size)
{
	return context_alloc(CurrentMemoryContext, size, 0);
}

void *
palloc0(Size size)
{
	return context_alloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO);
}

void *
palloc_extended(Size size, int flags)
{
	return context_alloc(CurrentMemoryContext, size, flags);
}

void
pfree(void *pointer)
{
	chunk_free(chunk_of(pointer, "pfree"));
}

/* A new chunk every time, so that a stale pointer is a use after free. */
static void *
chunk_realloc(void *pointer, Size size, int flags, const char *caller)
{
	ShimChunk  *c = chunk_of(pointer, caller);
	MemoryContext context = c->context;
	Size		old_size = c->size;
	void	   *result;

	chunk_close(c);
	result = context_alloc(context, size, flags);
	memcpy(result, pointer, Min(old_size, size));
	pfree(pointer);
	return result;
}

void *
repalloc(void *pointer, Size size)
{
	return chunk_realloc(pointer, size, 0, "repalloc");
}

void *
repalloc_huge(void *pointer, Size size)
{
	return chunk_realloc(pointer, size, MCXT_ALLOC_HUGE, "repalloc_huge");
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Size		len = strlen(string) + 1;
	char	   *copy = MemoryContextAlloc(context, len);

	memcpy(copy, string, len);
	return copy;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

/* --------------------------------------------------------------- errors */

/*
 * Only ERROR and above are reported (and make errfinish jump); lower levels
 * are skipped, as in a backend whose log_min_messages hides them.
 */
static ShimError error_data;
static ShimError last_error;
static bool error_in_progress = false;

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;
	if (error_in_progress)
		shim_fail("ereport inside ereport (while reporting \"%s\")", error_data.message);
	error_in_progress = true;
	memset(&error_data, 0, sizeof(error_data));
	error_data.elevel = elevel;
	error_data.sqlerrcode = ERRCODE_INTERNAL_ERROR;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	error_data.sqlerrcode = sqlerrcode;
	return 0;
}

/* Format as the backend would (its own vsnprintf, via port.h). */
#define FORMAT_INTO(buffer, fmt) \
	do { \
		va_list		args_; \
		va_start(args_, fmt); \
		vsnprintf(buffer, sizeof(buffer), fmt, args_); \
		va_end(args_); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(error_data.message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(error_data.message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(error_data.detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(error_data.detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	char		hint[2048];

	/* formatted so that its arguments are checked, then dropped */
	FORMAT_INTO(hint, fmt);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	error_data.filename = filename;
	error_data.lineno = lineno;
	error_in_progress = false;
	last_error = error_data;
	if (error_data.elevel >= FATAL)
		shim_fail("%s at %s:%d: %s", error_data.elevel == FATAL ? "FATAL" : "PANIC",
				  filename, lineno, error_data.message);
	if (PG_exception_stack == NULL)
		shim_fail("ereport(ERROR) outside PG_TRY at %s:%d: %s", filename, lineno,
				  error_data.message);
	siglongjmp(*PG_exception_stack, 1);
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
		shim_fail("PG_RE_THROW outside PG_TRY: %s", last_error.message);
	siglongjmp(*PG_exception_stack, 1);
}

void
FlushErrorState(void)
{
	error_in_progress = false;
}

const ShimError *
shim_last_error(void)
{
	return &last_error;
}

/* elog.c: a SQLSTATE as its five characters. */
char *
unpack_sql_state(int sql_state)
{
	static char buf[12];

	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

/* ------------------------------------------------- stack and interrupts */

/* max_stack_depth's default; the harness's own frames are below the base */
#define SHIM_MAX_STACK_DEPTH (2 * 1024 * 1024)

static char *stack_base = NULL;

void
check_stack_depth(void)
{
	char	   *here = __builtin_frame_address(0);
	ssize_t		depth = stack_base - here;

	if (stack_base != NULL && (depth > SHIM_MAX_STACK_DEPTH || depth < -SHIM_MAX_STACK_DEPTH))
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded")));
}

/* Nothing ever sets InterruptPending here. */
void
ProcessInterrupts(void)
{
	InterruptPending = false;
}

/* ------------------------------------------------------------ iterations */

static MemoryContext iteration_context = NULL;
static Size top_chunks_at_begin;

void
shim_init(void)
{
	if (TopMemoryContext != NULL)
		return;
	TopMemoryContext = AllocSetContextCreate(NULL, "TopMemoryContext", ALLOCSET_DEFAULT_SIZES);
	CurrentMemoryContext = TopMemoryContext;
}

MemoryContext
shim_iteration_begin(void)
{
	shim_init();
	if (iteration_context != NULL)
		shim_fail("iteration already begun");
	stack_base = __builtin_frame_address(0);
	top_chunks_at_begin = context_check(TopMemoryContext)->nchunks;
	iteration_context = AllocSetContextCreate(TopMemoryContext, "fuzz iteration",
											  ALLOCSET_DEFAULT_SIZES);
	CurrentMemoryContext = iteration_context;
	return iteration_context;
}

void
shim_iteration_end(void)
{
	if (PG_exception_stack != NULL || error_in_progress)
		shim_fail("iteration ended inside PG_TRY or an error report");
	CurrentMemoryContext = TopMemoryContext;
	MemoryContextDelete(iteration_context);
	iteration_context = NULL;
	if (TopMemoryContext->firstchild != NULL)
		shim_fail("memory context \"%s\" was left under TopMemoryContext",
				  TopMemoryContext->firstchild->name);
	if (context_check(TopMemoryContext)->nchunks != top_chunks_at_begin)
		shim_fail("%zu chunks were allocated in TopMemoryContext and never freed",
				  context_check(TopMemoryContext)->nchunks - top_chunks_at_begin);
}

/* ------------------------------------------------------ harness helpers */

bool
shim_model_refusal(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_INVALID_BINARY_REPRESENTATION ||
		sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE ||
		sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED ||
		sqlerrcode == ERRCODE_CHARACTER_NOT_IN_REPERTOIRE ||
		sqlerrcode == ERRCODE_STATEMENT_TOO_COMPLEX;
}

uint64
shim_random(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------- encoding */

/* mbutils.c with a UTF8 database: no conversion, but validation. */
char *
pg_any_to_server(const char *s, int len, int encoding)
{
	int			valid;

	if (len <= 0)
		return unconstify(char *, s);
	if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII)
		shim_fail("pg_any_to_server from encoding %d is not shimmed", encoding);
	valid = pg_encoding_verifymbstr(PG_UTF8, s, len);
	if (valid != len)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid byte sequence for encoding \"UTF8\": 0x%02x",
						(unsigned char) s[valid])));
	return unconstify(char *, s);
}

/* mbutils.c with a UTF8 database: model documents are UTF-8 already. */
char *
pg_server_to_any(const char *s, int len, int encoding)
{
	if (encoding != PG_UTF8)
		shim_fail("pg_server_to_any to encoding %d is not shimmed", encoding);
	return unconstify(char *, s);
}

/* ----------------------------------------------------------------- json */

/*
 * jsonapi.c's json_errdetail, which libpgcommon.a (a frontend build) does
 * not export: the same messages, from the same lexer state.
 */
static char *
json_token_text(JsonLexContext *lex)
{
	int			len = lex->token_terminator - lex->token_start;
	char	   *token = palloc(len + 1);

	memcpy(token, lex->token_start, len);
	token[len] = '\0';
	return token;
}

char *
json_errdetail(JsonParseErrorType error, JsonLexContext *lex)
{
	switch (error)
	{
		case JSON_SUCCESS:
			break;
		case JSON_ESCAPING_INVALID:
			return psprintf("Escape sequence \"\\%s\" is invalid.", json_token_text(lex));
		case JSON_ESCAPING_REQUIRED:
			return psprintf("Character with value 0x%02x must be escaped.",
							(unsigned char) *(lex->token_terminator));
		case JSON_EXPECTED_END:
			return psprintf("Expected end of input, but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_ARRAY_FIRST:
			return psprintf("Expected array element or \"]\", but found \"%s\".",
							json_token_text(lex));
		case JSON_EXPECTED_ARRAY_NEXT:
			return psprintf("Expected \",\" or \"]\", but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_COLON:
			return psprintf("Expected \":\", but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_JSON:
			return psprintf("Expected JSON value, but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_MORE:
			return "The input string ended unexpectedly.";
		case JSON_EXPECTED_OBJECT_FIRST:
			return psprintf("Expected string or \"}\", but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_OBJECT_NEXT:
			return psprintf("Expected \",\" or \"}\", but found \"%s\".", json_token_text(lex));
		case JSON_EXPECTED_STRING:
			return psprintf("Expected string, but found \"%s\".", json_token_text(lex));
		case JSON_INVALID_TOKEN:
			return psprintf("Token \"%s\" is invalid.", json_token_text(lex));
		case JSON_UNICODE_CODE_POINT_ZERO:
			return "\\u0000 cannot be converted to text.";
		case JSON_UNICODE_ESCAPE_FORMAT:
			return "\"\\u\" must be followed by four hexadecimal digits.";
		case JSON_UNICODE_HIGH_ESCAPE:
			return "Unicode escape values cannot be used for code point values above 007F when the encoding is not UTF8.";
		case JSON_UNICODE_HIGH_SURROGATE:
			return "Unicode high surrogate must not follow a high surrogate.";
		case JSON_UNICODE_LOW_SURROGATE:
			return "Unicode low surrogate must follow a high surrogate.";
	}
	elog(ERROR, "unexpected json parse error type: %d", (int) error);
	return NULL;
}

/* ----------------------------------------------------------------- fmgr */

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

/* Jsonb never holds toasted or short-header numerics. */
struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTENDED(datum))
		shim_fail("pg_detoast_datum: a toasted or short-header datum reached the shim");
	return datum;
}

/*
 * The trigger's category columns (features_from_values) and category
 * lookups: fuzz_features builds its keys without category names and scores
 * jsonb only, so none of these is reached.
 */
struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	shim_fail("pg_detoast_datum_packed: a text column reached the shim");
	return datum;
}

bool
type_is_enum(Oid typid)
{
	shim_fail("type_is_enum: a relation's columns reached the shim");
	return false;
}

HeapTuple
SearchSysCache1(int cacheId, Datum key1)
{
	shim_fail("SearchSysCache1: an enum column reached the shim");
	return NULL;
}

void
ReleaseSysCache(HeapTuple tuple)
{
	shim_fail("ReleaseSysCache: an enum column reached the shim");
}

float
categories_code(const CategoryNames *lookup, const char *name, int len)
{
	shim_fail("categories_code: keys with category names reached the shim");
	return -1.0f;
}

/* -------------------------------------------------------------- numeric */

/*
 * numeric.c's on-disk format (its struct NumericData is private to it):
 * after the varlena header, a uint16 header; the short format packs sign,
 * display scale and weight into it, the long one has sign and scale there
 * and an int16 weight after it; then base-10000 digits.
 */
#define NBASE_DIGITS 4
#define NUM_SIGN_MASK 0xC000
#define NUM_NEG 0x4000
#define NUM_SHORT 0x8000
#define NUM_SPECIAL 0xC000
#define NUM_NAN 0xC000
#define NUM_PINF 0xD000
#define NUM_NINF 0xF000
#define NUM_SHORT_SIGN_MASK 0x2000
#define NUM_SHORT_DSCALE_MASK 0x1F80
#define NUM_SHORT_DSCALE_SHIFT 7
#define NUM_SHORT_WEIGHT_SIGN_MASK 0x0040
#define NUM_SHORT_WEIGHT_MASK 0x003F
#define NUM_DSCALE_MASK 0x3FFF

static uint16
numeric_header(Numeric num)
{
	uint16		header;

	if (VARATT_IS_EXTENDED(num) || VARSIZE(num) < VARHDRSZ + sizeof(uint16))
		shim_fail("malformed numeric reached the shim");
	memcpy(&header, VARDATA(num), sizeof(header));
	return header;
}

bool
numeric_is_inf(Numeric num)
{
	uint16		header = numeric_header(num);

	return header == NUM_PINF || header == NUM_NINF;
}

/*
 * numeric.c's get_str_from_var: the integer part, then exactly dscale
 * digits after the point (digits beyond dscale are not printed).
 */
static char *
numeric_decimal_text(Numeric num)
{
	uint16		header = numeric_header(num);
	const char *p = VARDATA(num) + sizeof(uint16);
	Size		size = VARSIZE(num) - VARHDRSZ - sizeof(uint16);
	bool		negative;
	int			weight;
	int			dscale;
	int			ndigits;
	int16		digits[1024];
	char	   *text;
	char	   *cp;

	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = header & NUM_SHORT_WEIGHT_MASK;
		if (header & NUM_SHORT_WEIGHT_SIGN_MASK)
			weight -= NUM_SHORT_WEIGHT_MASK + 1;
	}
	else
	{
		int16		long_weight;

		if (size < sizeof(int16))
			shim_fail("long-format numeric without a weight");
		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		dscale = header & NUM_DSCALE_MASK;
		memcpy(&long_weight, p, sizeof(int16));
		weight = long_weight;
		p += sizeof(int16);
		size -= sizeof(int16);
	}
	ndigits = size / sizeof(int16);
	if (ndigits > (int) lengthof(digits))
		shim_fail("numeric with %d digits", ndigits);
	memcpy(digits, p, ndigits * sizeof(int16));

	text = palloc(2 + (Max(weight, 0) + 1) * NBASE_DIGITS + 1 + dscale + NBASE_DIGITS + 1);
	cp = text;
	if (negative)
		*cp++ = '-';
	if (weight < 0)
		*cp++ = '0';
	for (int d = 0; d <= weight; d++)
		cp += sprintf(cp, "%04d", d < ndigits ? digits[d] : 0);
	if (dscale > 0)
	{
		char	   *end;

		*cp++ = '.';
		end = cp + dscale;
		for (int d = weight + 1; cp < end; d++)
			cp += sprintf(cp, "%04d", d >= 0 && d < ndigits ? digits[d] : 0);
		cp = end;
	}
	*cp = '\0';
	return text;
}

/* numeric.c: specials as such, anything else through text and strtod. */
Datum
numeric_float8_no_overflow(PG_FUNCTION_ARGS)
{
	Numeric		num = (Numeric) DatumGetPointer(PG_GETARG_DATUM(0));
	uint16		header = numeric_header(num);
	double		val;

	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
	{
		if (header == NUM_PINF)
			val = get_float8_infinity();
		else if (header == NUM_NINF)
			val = -get_float8_infinity();
		else if (header == NUM_NAN)
			val = get_float8_nan();
		else
			shim_fail("numeric with special header 0x%04x", header);
	}
	else
	{
		char	   *text = numeric_decimal_text(num);
		char	   *end;

		/* unlike float8in, ERANGE from strtod is ignored */
		val = strtod(text, &end);
		if (*end != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"double precision", text)));
		pfree(text);
	}
	PG_RETURN_FLOAT8(val);
}

/* ---------------------------------------------------------------- jsonb */

/* jsonb_util.c: the start of child "index", from the nearest stored offset. */
uint32
getJsonbOffset(const JsonbContainer *jc, int index)
{
	uint32		offset = 0;

	for (int i = index - 1; i >= 0; i--)
	{
		offset += JBE_OFFLENFLD(jc->children[i]);
		if (JBE_HAS_OFF(jc->children[i]))
			break;
	}
	return offset;
}

static uint32
jsonb_length(const JsonbContainer *jc, int index)
{
	if (JBE_HAS_OFF(jc->children[index]))
		return JBE_OFFLENFLD(jc->children[index]) - getJsonbOffset(jc, index);
	return JBE_OFFLENFLD(jc->children[index]);
}

/* jsonb_util.c: binary search of an object's keys, in jsonb's key order. */
JsonbValue *
getKeyJsonValueFromContainer(JsonbContainer *container, const char *keyVal, int keyLen,
							 JsonbValue *res)
{
	int			count = JsonContainerSize(container);
	char	   *base = (char *) &container->children[count * 2];
	uint32		low = 0;
	uint32		high = count;

	if (!JsonContainerIsObject(container))
		shim_fail("getKeyJsonValueFromContainer on a non-object");
	while (low < high)
	{
		uint32		middle = low + (high - low) / 2;
		const char *candidate = base + getJsonbOffset(container, middle);
		int			candidate_len = jsonb_length(container, middle);
		int			cmp;

		if (candidate_len != keyLen)
			cmp = candidate_len > keyLen ? 1 : -1;
		else
			cmp = memcmp(candidate, keyVal, keyLen);
		if (cmp == 0)
		{
			int			index = middle + count;
			JEntry		entry = container->children[index];
			uint32		offset = getJsonbOffset(container, index);

			if (res == NULL)
				res = palloc(sizeof(JsonbValue));
			if (JBE_ISNULL(entry))
				res->type = jbvNull;
			else if (JBE_ISSTRING(entry))
			{
				res->type = jbvString;
				res->val.string.val = base + offset;
				res->val.string.len = jsonb_length(container, index);
			}
			else if (JBE_ISNUMERIC(entry))
			{
				res->type = jbvNumeric;
				res->val.numeric = (Numeric) (base + INTALIGN(offset));
			}
			else if (JBE_ISBOOL_TRUE(entry) || JBE_ISBOOL_FALSE(entry))
			{
				res->type = jbvBool;
				res->val.boolean = JBE_ISBOOL_TRUE(entry);
			}
			else
			{
				res->type = jbvBinary;
				res->val.binary.data = (JsonbContainer *) (base + INTALIGN(offset));
				res->val.binary.len = jsonb_length(container, index) -
					(INTALIGN(offset) - offset);
			}
			return res;
		}
		if (cmp < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return NULL;
}

/* ------------------------------------------- never reached when fuzzing */

Oid
getBaseType(Oid typid)
{
	shim_fail("getBaseType is not shimmed");
}

char *
format_type_be(Oid type_oid)
{
	shim_fail("format_type_be is not shimmed");
}

Datum
nocachegetattr(HeapTuple tup, int attnum, TupleDesc att)
{
	shim_fail("nocachegetattr is not shimmed");
}

Datum
heap_getsysattr(HeapTuple tup, int attnum, TupleDesc tupleDesc, bool *isnull)
{
	shim_fail("heap_getsysattr is not shimmed");
}

Datum
getmissingattr(TupleDesc tupleDesc, int attnum, bool *isnull)
{
	shim_fail("getmissingattr is not shimmed");
}

void
heap_datum_check(HeapTupleHeader tup, TupleDesc tupleDesc)
{
	shim_fail("heap_datum_check is not shimmed");
}

