/*-------------------------------------------------------------------------
 *
 * featurefn.c
 *		Feature functions: a model's (jsonb) RETURNS jsonb function that adds
 *		features computed from the row being scored.
 *
 * Owns everything about them: resolving the stored signature, the checks a
 * backend makes whenever it loads a model naming one (shape, superuser
 * owner), calling one (EXECUTE privilege, parallel safety, the FmgrInfo
 * cache), the one pg_proc invalidation callback, and the row as the
 * function receives it (featurefn_row_jsonb: what to_jsonb(NEW) gives).
 *
 * An FmgrInfo lives as long as the function is unchanged, so SQL and
 * PL/pgSQL functions keep their cached plans across rows.  After a pg_proc
 * invalidation the next call gets a fresh one (CREATE OR REPLACE may change
 * the language), and the superseded one is freed once no call through it is
 * running: a feature function may itself score, and so reach this code
 * while an outer call is in progress.  The EXECUTE check and the parallel
 * safety flag are cached in the same entry, for the current user, until a
 * pg_proc or role invalidation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "fraud_score.h"

/* One FmgrInfo and what was checked for it; lives in its own context. */
typedef struct CallSlot
{
	FmgrInfo	flinfo;
	MemoryContext context;		/* holds this slot and the function's state */
	int			running;		/* calls through it not yet returned */
	bool		retired;		/* superseded: free once running is 0 */
	uint64		proc_changes;	/* proc_changes it was made under */
	uint64		checked_changes;	/* checks_changes its checks are for */
	Oid			checked_user;
	char		proparallel;
	struct CallSlot *next_retired;
} CallSlot;

typedef struct FunctionEntry
{
	Oid			fn;				/* hash key */
	CallSlot   *slot;
} FunctionEntry;

static HTAB *functions = NULL;
static CallSlot *retired_slots = NULL;

/* Bumped by pg_proc invalidations; a slot made before one is superseded. */
static uint64 proc_changes = 1;

/* Bumped by pg_proc and role invalidations: checks must be made again. */
static uint64 checks_changes = 1;

static void
featurefn_proc_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	proc_changes++;
	checks_changes++;
}

static void
featurefn_role_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	checks_changes++;
}

void
featurefn_init(void)
{
	CacheRegisterSyscacheCallback(PROCOID, featurefn_proc_callback, (Datum) 0);
	/* superuser status and role membership decide ownership and EXECUTE */
	CacheRegisterSyscacheCallback(AUTHOID, featurefn_role_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, featurefn_role_callback, (Datum) 0);
	/* membership in pg_database_owner follows the database's owner */
	CacheRegisterSyscacheCallback(DATABASEOID, featurefn_role_callback, (Datum) 0);
}

uint64
featurefn_generation(void)
{
	return checks_changes;
}

/*
 * The function a catalog row names, by its regprocedure text.  A dropped
 * function is an error here, naming it, rather than a failure later.
 */
Oid
featurefn_resolve(const char *signature)
{
	return DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(signature)));
}

/*
 * What a feature function must be, checked whenever a backend loads a model
 * (the catalog column can be written directly, and functions can be
 * replaced): (jsonb) RETURNS jsonb, a plain function, and owned by a
 * superuser.  It runs with the rights of whoever scores, possibly a
 * superuser, so only a role trusted with every right may have written it.
 */
void
featurefn_check(Oid fn)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	if (proc->prokind != PROKIND_FUNCTION || proc->proretset || proc->pronargs != 1 ||
		proc->proargtypes.values[0] != JSONBOID || proc->prorettype != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("feature function %s must take one jsonb argument and return jsonb",
						format_procedure(fn))));
	if (!superuser_arg(proc->proowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("feature function %s must be owned by a superuser", format_procedure(fn)),
				 errdetail("It runs with the privileges of every role that scores with the model."),
				 errhint("Create it as a superuser, or ALTER FUNCTION ... OWNER TO a superuser.")));
	ReleaseSysCache(tuple);
}

/* Free the superseded slots no call is running through. */
static void
free_idle_retired_slots(void)
{
	CallSlot  **link = &retired_slots;

	while (*link != NULL)
	{
		CallSlot   *slot = *link;

		if (slot->running > 0)
		{
			link = &slot->next_retired;
			continue;
		}
		*link = slot->next_retired;
		MemoryContextDelete(slot->context);
	}
}

static CallSlot *
new_slot(Oid fn)
{
	MemoryContext context = AllocSetContextCreate(TopMemoryContext,
												  "fraud_score feature function",
												  ALLOCSET_SMALL_SIZES);
	CallSlot   *slot;

	/*
	 * Read before the lookups, which may process invalidations: a change
	 * seen during them must make this slot stale, not look already seen.
	 */
	uint64		made_under = proc_changes;

	PG_TRY();
	{
		slot = MemoryContextAllocZero(context, sizeof(CallSlot));
		fmgr_info_cxt(fn, &slot->flinfo, context);
	}
	PG_CATCH();
	{
		MemoryContextDelete(context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	slot->context = context;
	slot->proc_changes = made_under;
	return slot;
}

/* The current slot for "fn", made afresh after a pg_proc change. */
static CallSlot *
function_slot(Oid fn)
{
	FunctionEntry *entry;
	bool		found;

	if (functions == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(FunctionEntry);
		ctl.hcxt = TopMemoryContext;
		functions = hash_create("fraud_score feature functions", 8, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(functions, &fn, HASH_ENTER, &found);
	if (!found)
		entry->slot = NULL;
	if (entry->slot != NULL && entry->slot->proc_changes != proc_changes)
	{
		entry->slot->retired = true;
		entry->slot->next_retired = retired_slots;
		retired_slots = entry->slot;
		entry->slot = NULL;
	}
	if (retired_slots != NULL)
		free_idle_retired_slots();
	if (entry->slot == NULL)
		entry->slot = new_slot(fn);
	return entry->slot;
}

/* EXECUTE for the current user and parallel safety, cached per slot. */
static void
check_call(CallSlot *slot, Oid fn)
{
	Oid			user = GetUserId();
	AclResult	aclresult;

	if (slot->checked_changes != checks_changes || slot->checked_user != user)
	{
		uint64		checking_under = checks_changes;	/* before the lookups */

#if PG_VERSION_NUM >= 160000
		aclresult = object_aclcheck(ProcedureRelationId, fn, user, ACL_EXECUTE);
#else
		aclresult = pg_proc_aclcheck(fn, user, ACL_EXECUTE);
#endif
		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
		slot->proparallel = func_parallel(fn);
		slot->checked_user = user;
		slot->checked_changes = checking_under;
	}
	/* fraud_score is PARALLEL SAFE; its feature function must be too there. */
	if (slot->proparallel != PROPARALLEL_SAFE && IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("feature function %s is not parallel safe", format_procedure(fn)),
				 errhint("Mark it PARALLEL SAFE if it only reads, or score outside parallel queries.")));
}

static Datum
invoke(FmgrInfo *flinfo, Datum row_jsonb, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = row_jsonb;
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * A call made while another through the same slot is running (the function
 * scores, and a model it scores with names it again) gets an FmgrInfo of its
 * own for that call: an SQL function's cached state in fn_extra belongs to
 * the call in progress, and re-entering it would run and free that call's
 * unfinished query.
 */
static Datum
invoke_nested(Oid fn, Datum row_jsonb, bool *isnull)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext,
												  "fraud_score nested feature function",
												  ALLOCSET_SMALL_SIZES);
	volatile Datum result = (Datum) 0;

	PG_TRY();
	{
		FmgrInfo   *flinfo = MemoryContextAllocZero(context, sizeof(FmgrInfo));
		Datum		value;

		fmgr_info_cxt(fn, flinfo, context);
		value = invoke(flinfo, row_jsonb, isnull);
		/* the result may live in the function's memory: copy it out */
		result = *isnull ? (Datum) 0 : PointerGetDatum(DatumGetJsonbPCopy(value));
	}
	PG_FINALLY();
	{
		MemoryContextDelete(context);
	}
	PG_END_TRY();
	return result;
}

/*
 * Call feature function "fn" on the row as jsonb: its output object, or
 * NULL if it returned NULL (no extra features).
 */
Jsonb *
featurefn_call(Oid fn, Datum row_jsonb)
{
	CallSlot   *slot = function_slot(fn);
	Datum		result;
	bool		isnull;
	Jsonb	   *extra;

	check_call(slot, fn);
	if (slot->running > 0)
		result = invoke_nested(fn, row_jsonb, &isnull);
	else
	{
		slot->running++;
		PG_TRY();
		{
			result = invoke(&slot->flinfo, row_jsonb, &isnull);
		}
		PG_FINALLY();
		{
			slot->running--;
		}
		PG_END_TRY();
	}
	if (isnull)
		return NULL;
	extra = DatumGetJsonbP(result);
	if (!JB_ROOT_IS_OBJECT(extra) || JB_ROOT_IS_SCALAR(extra))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature function %s must return a JSON object",
						format_procedure(fn)),
				 errdetail("It returned a JSON %s.", JB_ROOT_IS_SCALAR(extra) ? "scalar" : "array")));
	return extra;
}

/* ------------------------------------------------------- the row as jsonb */

/*
 * How each column of a relation becomes a jsonb value, exactly as to_jsonb
 * of the row would make it (utils/adt/jsonb.c: datum_to_jsonb).  The common
 * scalar types are converted here from the deformed values; anything else
 * (arrays, composites, json, types with a cast to json, ...) goes through
 * to_jsonb itself, one column at a time.
 */
typedef enum ColumnKind
{
	COLUMN_DROPPED,
	COLUMN_BOOL,
	COLUMN_INT2,
	COLUMN_INT4,
	COLUMN_INT8,
	COLUMN_NUMERIC,
	COLUMN_FLOAT,				/* output function, then numeric_in */
	COLUMN_TEXT,				/* text, varchar, bpchar: the bytes as they are */
	COLUMN_DATETIME,			/* date, timestamp, timestamptz */
	COLUMN_JSONB,
	COLUMN_TO_JSONB				/* to_jsonb(value) */
} ColumnKind;

typedef struct RowColumn
{
	ColumnKind	kind;
	Oid			base_type;
	FmgrInfo	function;		/* output function, or to_jsonb */
} RowColumn;

struct RowJsonLayout
{
	int			natts;
	RowColumn  *columns;
};

static ColumnKind
column_kind(Oid base_type)
{
	switch (base_type)
	{
		case BOOLOID:
			return COLUMN_BOOL;
		case INT2OID:
			return COLUMN_INT2;
		case INT4OID:
			return COLUMN_INT4;
		case INT8OID:
			return COLUMN_INT8;
		case NUMERICOID:
			return COLUMN_NUMERIC;
		case FLOAT4OID:
		case FLOAT8OID:
			return COLUMN_FLOAT;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return COLUMN_TEXT;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return COLUMN_DATETIME;
		case JSONBOID:
			return COLUMN_JSONB;
		default:
			return COLUMN_TO_JSONB;
	}
}

RowJsonLayout *
featurefn_row_layout(TupleDesc tupdesc, MemoryContext context)
{
	RowJsonLayout *layout = MemoryContextAllocZero(context, sizeof(RowJsonLayout));

	layout->natts = tupdesc->natts;
	layout->columns = MemoryContextAllocZero(context, sizeof(RowColumn) * Max(tupdesc->natts, 1));
	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, a);
		RowColumn  *column = &layout->columns[a];

		if (attr->attisdropped)
		{
			column->kind = COLUMN_DROPPED;
			continue;
		}
		column->base_type = getBaseType(attr->atttypid);
		column->kind = column_kind(column->base_type);
		if (column->kind == COLUMN_FLOAT)
		{
			Oid			output;
			bool		varlena;

			getTypeOutputInfo(column->base_type, &output, &varlena);
			fmgr_info_cxt(output, &column->function, context);
		}
		else if (column->kind == COLUMN_TO_JSONB)
		{
			/* to_jsonb reads its argument's type from the call expression */
			MemoryContext old = MemoryContextSwitchTo(context);

			fmgr_info_cxt(F_TO_JSONB, &column->function, context);
			column->function.fn_expr = (Node *)
				makeFuncExpr(F_TO_JSONB, JSONBOID,
							 list_make1(makeNullConst(attr->atttypid, attr->atttypmod,
													  attr->attcollation)),
							 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
			MemoryContextSwitchTo(old);
		}
	}
	return layout;
}

/* A numeric's text as to_jsonb stores NaN and infinities: a JSON string. */
static void
special_numeric_value(Numeric num, JsonbValue *v)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));

	v->type = jbvString;
	v->val.string.val = text;
	v->val.string.len = strlen(text);
}

static void
numeric_value(Numeric num, JsonbValue *v)
{
	if (numeric_is_nan(num) || numeric_is_inf(num))
		special_numeric_value(num, v);
	else
	{
		v->type = jbvNumeric;
		v->val.numeric = num;
	}
}

static void
text_value(char *text, int len, JsonbValue *v)
{
	v->type = jbvString;
	v->val.string.val = text;
	v->val.string.len = len;
}

/*
 * One column's value, pushed onto "state" after its key.  Returns the
 * state's new top (pushJsonbValue's contract).
 */
static JsonbValue *
push_column(JsonbParseState **state, const RowColumn *column, Datum value)
{
	JsonbValue	v;

	switch (column->kind)
	{
		case COLUMN_BOOL:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(value);
			break;
		case COLUMN_INT2:
			numeric_value(int64_to_numeric(DatumGetInt16(value)), &v);
			break;
		case COLUMN_INT4:
			numeric_value(int64_to_numeric(DatumGetInt32(value)), &v);
			break;
		case COLUMN_INT8:
			numeric_value(int64_to_numeric(DatumGetInt64(value)), &v);
			break;
		case COLUMN_NUMERIC:
			numeric_value(DatumGetNumeric(value), &v);
			break;
		case COLUMN_FLOAT:
			{
				char	   *text = OutputFunctionCall((FmgrInfo *) &column->function, value);
				Numeric		num = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	  CStringGetDatum(text),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1)));

				if (numeric_is_nan(num) || numeric_is_inf(num))
					text_value(text, strlen(text), &v);
				else
					numeric_value(num, &v);
				break;
			}
		case COLUMN_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				text_value(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &v);
				break;
			}
		case COLUMN_DATETIME:
			{
				char	   *text = JsonEncodeDateTime(NULL, value, column->base_type, NULL);

				text_value(text, strlen(text), &v);
				break;
			}
		case COLUMN_JSONB:
		case COLUMN_TO_JSONB:
			{
				Jsonb	   *jb = column->kind == COLUMN_JSONB ? DatumGetJsonbP(value) :
					DatumGetJsonbP(FunctionCall1((FmgrInfo *) &column->function, value));

				if (JB_ROOT_IS_SCALAR(jb))
				{
					if (!JsonbExtractScalar(&jb->root, &v))
						elog(ERROR, "could not extract a scalar from jsonb");
				}
				else
				{
					v.type = jbvBinary;
					v.val.binary.data = &jb->root;
					v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
				}
				break;
			}
		case COLUMN_DROPPED:
			elog(ERROR, "dropped column has no value");
	}
	return pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * The row as to_jsonb(NEW) would give it, built from the trigger's deformed
 * values: no text round trip for the common column types.
 */
Datum
featurefn_row_jsonb(const RowJsonLayout *layout, TupleDesc tupdesc, const Datum *values,
					const bool *nulls)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	Assert(layout->natts == tupdesc->natts);
	result = pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int a = 0; a < layout->natts; a++)
	{
		const RowColumn *column = &layout->columns[a];
		char	   *name;
		JsonbValue	key;

		if (column->kind == COLUMN_DROPPED)
			continue;
		name = NameStr(TupleDescAttr(tupdesc, a)->attname);
		text_value(name, strlen(name), &key);
		pushJsonbValue(&state, WJB_KEY, &key);
		if (nulls[a])
		{
			JsonbValue	null_value;

			null_value.type = jbvNull;
			pushJsonbValue(&state, WJB_VALUE, &null_value);
		}
		else
			push_column(&state, column, values[a]);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}
