/*-------------------------------------------------------------------------
 *
 * guard.c
 *		Failures as outcomes: which errors always propagate, and running a
 *		step in a subtransaction so that its failure can become a result.
 *
 * fraud_score turns some failures into outcomes instead of errors: the
 * trigger under fraud_score.on_error = review|approve writes the row with
 * that decision, and the catalog's compile trigger stores bytes it cannot
 * compile with a WARNING.  Steps that run SQL or read catalogs can only fail
 * by longjmp, so they run in a subtransaction (guard_run); steps in plain C
 * report through a FraudFailure instead (fraud_score.h), and need none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "fraud_score.h"

/*
 * Whether an error belongs to the transaction or the server rather than to
 * the row (or model) being handled: a cancel or shutdown (class 57), a
 * deadlock or serialization failure (class 40, which the client must
 * retry), exhausted resources (53) or a system error (58).  Such errors are
 * raised as they are wherever fraud_score otherwise turns a failure into an
 * outcome.  A lock timeout in a feature function is the row's failure: its
 * data was not available in time.
 */
bool
guard_error_is_not_the_rows(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
			return true;
		default:
			return false;
	}
}

/*
 * Run step(arg) in a subtransaction, as a PL/pgSQL exception block would.
 * Returns true if it succeeded.  If it failed with an error that is the
 * row's, the subtransaction is rolled back, the error is recorded in
 * *failure (allocated in the caller's memory context) and false returned;
 * any other error is raised again.  Memory the step allocates in the
 * caller's context survives either way.
 */
bool
guard_run(void (*step) (void *arg), void *arg, FraudFailure *failure)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		step(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_context);
	CurrentResourceOwner = caller_owner;

	if (edata == NULL)
		return true;
	if (guard_error_is_not_the_rows(edata->sqlerrcode))
		ReThrowError(edata);
	failure_set(failure, edata->sqlerrcode, edata->message, edata->detail);
	return false;
}
