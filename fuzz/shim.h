/*-------------------------------------------------------------------------
 *
 * shim.h
 *		What the fuzz harnesses need from the test-only backend shim.
 *
 * shim.c stands in for the few pieces of the PostgreSQL backend that
 * src/modeldoc.c, model.c, forest.c and features.c call, so that those
 * files can run, unmodified, inside a libFuzzer process.  The harnesses use
 * the ordinary backend API (PG_TRY, palloc, MemoryContext) plus these
 * helpers to scope an iteration and to look at the error that was raised.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUZZ_SHIM_H
#define FUZZ_SHIM_H

#include "postgres.h"

/* The last ereport(ERROR), as errfinish left it before jumping. */
typedef struct ShimError
{
	int			elevel;
	int			sqlerrcode;
	char		message[2048];
	char		detail[2048];
	const char *filename;
	int			lineno;
} ShimError;

/* Once per process: TopMemoryContext, the stack base for check_stack_depth. */
extern void shim_init(void);

/*
 * Start an iteration: a fresh context under TopMemoryContext becomes
 * CurrentMemoryContext.  shim_iteration_end deletes it (and everything
 * allocated in it or its children) and checks that nothing leaked into
 * TopMemoryContext meanwhile, so that LeakSanitizer sees only real leaks.
 */
extern MemoryContext shim_iteration_begin(void);
extern void shim_iteration_end(void);

extern const ShimError *shim_last_error(void);

/*
 * Whether a known, reported bug of src/ is to be tolerated in this run:
 * FUZZ_KNOWN_BUGS lists their names, comma-separated (see README.md), so that
 * fuzzing can go on finding other things until the bug is fixed.
 */
extern bool shim_known_bug(const char *name);

/* Whether model_validate may refuse bytes with this SQLSTATE. */
extern bool shim_model_refusal(int sqlerrcode);

/* splitmix64: rows made from it depend on the input only, so a crash reproduces. */
extern uint64 shim_random(uint64 *state);

/* Print a failed check and abort(), so that libFuzzer saves the input. */
extern void shim_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

#endif							/* FUZZ_SHIM_H */
