/*-------------------------------------------------------------------------
 *
 * features.c
 *		Turn a jsonb document or a heap tuple into a model's input vector.
 *
 * Owns: matching keys or columns to the model's feature names, the value
 * rules (number as is, boolean 0/1, null or absent = missing = NaN, a
 * string or text column the code of a category's name where the feature has
 * names (categories.c), anything else an error naming the feature), and
 * mapping a relation's columns to a
 * model's features (trigger.c caches the map per trigger).  The trigger's
 * path (features_from_values) reports a value it cannot use through a
 * FraudFailure instead of raising, so that fraud_score.on_error needs no
 * subtransaction for it.
 *
 * Model inputs are single-precision floats, as in XGBoost; a finite value
 * beyond float range is an error rather than a silent infinity.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "fraud_score.h"

static char *
out_of_range_message(const char *feature)
{
	return psprintf("value of feature \"%s\" is out of range for a model input", feature);
}

static float
to_model_input(double value, const char *feature, FraudFailure *failure)
{
	if (isfinite(value) && fabs(value) > FLT_MAX)
	{
		failure_set(failure, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, out_of_range_message(feature),
					psprintf("Model inputs are single-precision floats, at most %g in magnitude; the value is %g.",
							 (double) FLT_MAX, value));
		return NAN;
	}
	return (float) value;
}

/* A numeric as a double; beyond double range it is +-inf, which is told
 * here from a numeric that really is infinite (NaN on failure). */
static double
numeric_to_double(Numeric num, const char *feature, FraudFailure *failure)
{
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(num)));

	if (isinf(d) && !numeric_is_inf(num))
	{
		failure_set(failure, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, out_of_range_message(feature),
					psprintf("Model inputs are single-precision floats, at most %g in magnitude.",
							 (double) FLT_MAX));
		return NAN;
	}
	return d;
}

/*
 * The float that (float) numeric_float8(num) gives, without its trip through
 * text and strtod (most of a jsonb score's cost).  Reads the numeric's
 * on-disk format, which pg_upgrade keeps stable: a header, then base-10000
 * digits.  Handles up to 7 digits with a decimal exponent within +-20:
 * - up to 2^53 with an exact power of ten, one double operation gives the
 *   correctly rounded double, as strtod does (Clinger's fast path);
 * - otherwise a few double operations land within 3 units in the last place
 *   of it.  Rounding that to float gives the same float unless the value is
 *   within 16 units of halfway between two floats, which the low 29 bits of
 *   the double tell; those rare values take the exact path.
 * Every other shape (NaN, infinities, tiny or huge exponents, long digit
 * strings) takes the exact path too.  Tested against it in
 * sql/features.sql.
 */
#define NUMERIC_FAST_MAX_DIGITS 7
#define NUMERIC_FAST_MAX_EXP10 20

static const double powers_of_ten[NUMERIC_FAST_MAX_EXP10 + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20
};

/* A numeric's digits, read as numeric_to_float_fast and numeric_to_double_fast need them. */
typedef struct NumericDigits
{
	bool		negative;
	int			ndigits;		/* base-10000 digits */
	int			exp10;			/* the last digit's power of ten */
	uint64		high;			/* the digits before the last four */
	uint64		low;			/* the last four (< 10^16) */
} NumericDigits;

/*
 * False for NaN and infinities, and for more than NUMERIC_FAST_MAX_DIGITS
 * digits.  Inlined: it is most of an XGBoost input's conversion.
 */
static pg_attribute_always_inline bool
numeric_digits(Numeric num, NumericDigits *nd)
{
	const char *data = VARDATA_ANY(num);
	Size		size = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int			weight;

	if (size < sizeof(uint16))
		return false;
	memcpy(&header, data, sizeof(uint16));
	switch (header & 0xC000)
	{
		case 0x8000:			/* short format */
			nd->negative = (header & 0x2000) != 0;
			weight = (header & 0x0040) ? (int) (~0x003F | (header & 0x003F)) : (header & 0x003F);
			data += sizeof(uint16);
			size -= sizeof(uint16);
			break;
		case 0x0000:			/* long format, positive */
		case 0x4000:			/* long format, negative */
			{
				int16		long_weight;

				if (size < 2 * sizeof(uint16))
					return false;
				nd->negative = (header & 0xC000) == 0x4000;
				memcpy(&long_weight, data + sizeof(uint16), sizeof(int16));
				weight = long_weight;
				data += 2 * sizeof(uint16);
				size -= 2 * sizeof(uint16);
				break;
			}
		default:				/* NaN and infinities */
			return false;
	}
	nd->ndigits = size / sizeof(int16);
	nd->exp10 = 4 * (weight - nd->ndigits + 1);
	nd->high = 0;
	nd->low = 0;
	if (nd->ndigits > NUMERIC_FAST_MAX_DIGITS)
		return false;
	for (int i = 0; i < nd->ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, data + i * sizeof(int16), sizeof(int16));
		if (i < nd->ndigits - 4)
			nd->high = nd->high * 10000 + (uint16) digit;
		else
			nd->low = nd->low * 10000 + (uint16) digit;
	}
	return true;
}

static bool
numeric_to_float_fast(Numeric num, float *result)
{
	NumericDigits nd;
	double		d;
	bool		exact;

	if (!numeric_digits(num, &nd))
		return false;
	if (nd.ndigits == 0)
	{
		*result = 0.0f;
		return true;
	}
	if (nd.exp10 > NUMERIC_FAST_MAX_EXP10 || nd.exp10 < -NUMERIC_FAST_MAX_EXP10)
		return false;
	exact = nd.high == 0 && nd.low <= (UINT64CONST(1) << 53);
	d = (double) nd.low;
	if (nd.high != 0)
		d += (double) nd.high * 1e16;
	if (nd.exp10 > 0)
		d *= powers_of_ten[nd.exp10];
	else if (nd.exp10 < 0)
		d /= powers_of_ten[-nd.exp10];
	if (d > 1e38)				/* the exact path reports what is out of range */
		return false;
	if (!exact)
	{
		uint64		bits;
		uint64		below_float = 0;

		memcpy(&bits, &d, sizeof(bits));
		below_float = bits & ((UINT64CONST(1) << 29) - 1);
		if (below_float >= (UINT64CONST(1) << 28) - 16 &&
			below_float <= (UINT64CONST(1) << 28) + 16)
			return false;
	}
	*result = nd.negative ? -(float) d : (float) d;
	return true;
}

/*
 * The double numeric_float8 gives, for the numerics Clinger's fast path
 * covers: at most 2^53 in at most 16 decimal digits, times or divided by an
 * exact power of ten (one correctly rounded operation, as strtod's result).
 */
static bool
numeric_to_double_fast(Numeric num, double *result)
{
	NumericDigits nd;
	double		d;

	if (!numeric_digits(num, &nd) || nd.high != 0 || nd.low > (UINT64CONST(1) << 53) ||
		nd.exp10 > NUMERIC_FAST_MAX_EXP10 || nd.exp10 < -NUMERIC_FAST_MAX_EXP10)
		return false;
	d = (double) nd.low;
	if (nd.exp10 > 0)
		d *= powers_of_ten[nd.exp10];
	else if (nd.exp10 < 0)
		d /= powers_of_ten[-nd.exp10];
	*result = nd.negative ? -d : d;
	return true;
}

/*
 * The same for up to 19 digits (a float8's shortest form has 17), where the
 * platform's long double has a 64-bit significand (x86-64's): the digits are
 * exact in it, one multiplication or division by an exact power of ten
 * rounds once to 64 bits, and rounding that to double gives strtod's double
 * unless the 64-bit result lies next to a halfway point between doubles (its
 * low 11 bits near 0x400), which takes the exact path, as do subnormal
 * and huge results.
 */
static bool
numeric_to_double_extended(Numeric num, double *result)
{
#if LDBL_MANT_DIG >= 64
	NumericDigits nd;
	long double x;
	long double fraction;
	int			exponent;
	uint64		bits;
	uint64		low11;

	if (!numeric_digits(num, &nd) || nd.ndigits > 5 || nd.high >= 1844 ||
		nd.exp10 > NUMERIC_FAST_MAX_EXP10 || nd.exp10 < -NUMERIC_FAST_MAX_EXP10)
		return false;
	x = (long double) nd.high * 1e16L + (long double) nd.low;
	if (nd.exp10 > 0)
		x *= (long double) powers_of_ten[nd.exp10];
	else if (nd.exp10 < 0)
		x /= (long double) powers_of_ten[-nd.exp10];
	if (x == 0)
	{
		*result = 0.0;
		return true;
	}
	if (!(x > 1e-300L && x < 1e300L))
		return false;
	fraction = frexpl(x, &exponent);
	bits = (uint64) ldexpl(fraction, 64);
	low11 = bits & 0x7FF;
	if (low11 >= 0x3FF && low11 <= 0x401)
		return false;
	*result = nd.negative ? -(double) x : (double) x;
	return true;
#else
	return false;
#endif
}

static double
numeric_to_double_input(Numeric num, const char *feature, FraudFailure *failure)
{
	double		d;

	if (numeric_to_double_fast(num, &d) || numeric_to_double_extended(num, &d))
		return d;
	return numeric_to_double(num, feature, failure);
}

static float
numeric_to_input(Numeric num, const char *feature, FraudFailure *failure)
{
	float		f;

	if (numeric_to_float_fast(num, &f))
		return f;
	return to_model_input(numeric_to_double(num, feature, failure), feature, failure);
}

static const char *
jsonb_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return "string";
		case jbvArray:
			return "array";
		case jbvObject:
			return "object";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "value";
	}
}

/* A category's code, or the model's input for a name it does not know (code -1). */
static inline double
known_or(float code, const FeatureKeys *keys)
{
	return code >= 0 ? code : keys->unknown_category;
}

/*
 * The value of feature f in jsonb, or NaN if absent or null.  A string is a
 * category's name where the feature has names (categories.c), else an error.
 */
static double
jsonb_feature(const FeatureKeys *keys, int f, JsonbValue *v, FraudFailure *failure)
{
	const char *name = keys->names[f];

	if (v == NULL || v->type == jbvNull)
		return NAN;
	if (v->type == jbvBool)
		return v->val.boolean ? 1.0 : 0.0;
	if (v->type == jbvNumeric)
		return keys->double_precision ? numeric_to_double_input(v->val.numeric, name, failure) :
			(double) numeric_to_input(v->val.numeric, name, failure);
	if (v->type == jbvString && keys->categories != NULL && keys->categories[f] != NULL)
		return known_or(categories_code(keys->categories[f], v->val.string.val,
										v->val.string.len), keys);
	failure_set(failure, ERRCODE_DATATYPE_MISMATCH,
				psprintf("feature \"%s\" must be a number, a boolean or null", name),
				psprintf("The value of \"%s\" is a JSON %s.", name, jsonb_type_name(v)));
	return NAN;
}

/* ------------------------------------------------------- feature keys */

/* jsonb's own key order: shorter first, then bytewise. */
static int
key_compare(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static const FeatureKeys *sort_keys;

static int
sorted_position_compare(const void *a, const void *b)
{
	int			fa = *(const int *) a;
	int			fb = *(const int *) b;

	return key_compare(sort_keys->names[fa], sort_keys->lengths[fa],
					   sort_keys->names[fb], sort_keys->lengths[fb]);
}

/*
 * Feature names prepared for matching jsonb keys: their lengths, and their
 * order in jsonb's key order, so that one pass over an object's keys finds
 * them all.
 */
FeatureKeys *
feature_keys_build(char **names, int count, MemoryContext context)
{
	FeatureKeys *keys = MemoryContextAllocZero(context, sizeof(FeatureKeys));

	keys->count = count;
	keys->names = names;
	keys->unknown_category = -1.0;
	keys->lengths = MemoryContextAlloc(context, sizeof(int) * Max(count, 1));
	keys->sorted = MemoryContextAlloc(context, sizeof(int) * Max(count, 1));
	keys->filled = MemoryContextAlloc(context, sizeof(bool) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		keys->lengths[i] = strlen(names[i]);
		keys->sorted[i] = i;
	}
	sort_keys = keys;
	qsort(keys->sorted, count, sizeof(int), sorted_position_compare);
	sort_keys = NULL;
	return keys;
}

/* The JsonbValue of a child of "container" that starts at "offset". */
static void
child_value(JsonbContainer *container, JEntry entry, const char *base, uint32 offset,
			uint32 length, JsonbValue *v)
{
	if (JBE_ISNULL(entry))
		v->type = jbvNull;
	else if (JBE_ISBOOL_TRUE(entry) || JBE_ISBOOL_FALSE(entry))
	{
		v->type = jbvBool;
		v->val.boolean = JBE_ISBOOL_TRUE(entry);
	}
	else if (JBE_ISNUMERIC(entry))
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) (base + INTALIGN(offset));
	}
	else if (JBE_ISSTRING(entry))
	{
		v->type = jbvString;
		v->val.string.val = (char *) base + offset;
		v->val.string.len = length;
	}
	else
	{
		v->type = jbvBinary;
		v->val.binary.data = (JsonbContainer *) (base + INTALIGN(offset));
		v->val.binary.len = length - (INTALIGN(offset) - offset);
	}
}

/*
 * Set out[f] for every feature f named by a key of the object "container"
 * and not yet filled (keys->filled), and mark it filled.  One merge pass
 * over the keys, which jsonb keeps sorted and unique, with each key's and
 * value's offset carried along; a huge object with few of the model's keys
 * is searched key by key instead.
 */
static void
collect_features(const FeatureKeys *keys, JsonbContainer *container, double *out,
				 FraudFailure *failure)
{
	int			n = JsonContainerSize(container);
	const char *base = (const char *) &container->children[n * 2];
	uint32		key_offset = 0;
	uint32		value_offset;
	int			s = 0;
	JsonbValue	v;

	if (n > 8 * keys->count + 64)
	{
		for (int f = 0; f < keys->count; f++)
		{
			JsonbValue *found;

			if (keys->filled[f])
				continue;
			found = getKeyJsonValueFromContainer(container, keys->names[f], keys->lengths[f], &v);
			if (found != NULL)
			{
				out[f] = jsonb_feature(keys, f, found, failure);
				keys->filled[f] = true;
			}
		}
		return;
	}

	value_offset = n > 0 ? getJsonbOffset(container, n) : 0;
	for (int k = 0; k < n && s < keys->count; k++)
	{
		JEntry		key_entry = container->children[k];
		JEntry		value_entry = container->children[n + k];
		uint32		key_length = JBE_HAS_OFF(key_entry) ?
			JBE_OFFLENFLD(key_entry) - key_offset : JBE_OFFLENFLD(key_entry);
		const char *key = base + key_offset;
		int			cmp = -1;

		while (s < keys->count &&
			   (cmp = key_compare(keys->names[keys->sorted[s]], keys->lengths[keys->sorted[s]],
								  key, key_length)) < 0)
			s++;
		if (s < keys->count && cmp == 0)
		{
			int			f = keys->sorted[s++];

			if (!keys->filled[f])
			{
				uint32		value_length = JBE_HAS_OFF(value_entry) ?
					JBE_OFFLENFLD(value_entry) - value_offset : JBE_OFFLENFLD(value_entry);

				child_value(container, value_entry, base, value_offset, value_length, &v);
				out[f] = jsonb_feature(keys, f, &v, failure);
				keys->filled[f] = true;
			}
		}
		JBE_ADVANCE_OFFSET(key_offset, key_entry);
		JBE_ADVANCE_OFFSET(value_offset, value_entry);
	}
}

/* Features from "extra" (a feature function's output, may be NULL): the
 * filled flags say which ones it gave. */
static void
collect_extra(const FeatureKeys *keys, Jsonb *extra, double *out, FraudFailure *failure)
{
	memset(keys->filled, 0, sizeof(bool) * keys->count);
	if (extra != NULL && JB_ROOT_IS_OBJECT(extra) && !JB_ROOT_IS_SCALAR(extra))
		collect_features(keys, &extra->root, out, failure);
}

void
features_from_jsonb(const FeatureKeys *keys, Jsonb *doc, Jsonb *extra, double *out)
{
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fraud_score features must be a JSON object"),
				 errdetail("The features argument is a JSON %s.",
						   JB_ROOT_IS_SCALAR(doc) ? "scalar" : "array"),
				 errhint("Pass an object whose keys are the model's feature names.")));

	collect_extra(keys, extra, out, NULL);
	collect_features(keys, &doc->root, out, NULL);
	for (int f = 0; f < keys->count; f++)
		if (!keys->filled[f])
			out[f] = NAN;
}

/* ----------------------------------------------------------- tuples */

bool
is_feature_type(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case BOOLOID:
			return true;
		default:
			return false;
	}
}

/* How features_from_values reads a column that names a category. */
static char
category_column_kind(Oid type)
{
	if (type == TEXTOID || type == VARCHAROID || type == NAMEOID)
		return FEATURE_COLUMN_TEXT;
	if (type == BPCHAROID)
		return FEATURE_COLUMN_BPCHAR;
	if (type_is_enum(type))
		return FEATURE_COLUMN_ENUM;
	return 0;
}

/*
 * Map a relation's columns to a model's features, in "context".  A feature
 * without a column of its name is always missing; a column of its name that
 * is not numeric or boolean is an error, unless the feature has category
 * names and the column is text (text, varchar, char, name) or an enum.
 */
FeatureMap *
feature_map_build(const FeatureKeys *keys, TupleDesc tupdesc, const char *relname,
				  MemoryContext context)
{
	FeatureMap *map = MemoryContextAllocZero(context, sizeof(FeatureMap));

	map->num_features = keys->count;
	map->attnums = MemoryContextAllocZero(context, sizeof(AttrNumber) * Max(keys->count, 1));
	map->types = MemoryContextAllocZero(context, sizeof(Oid) * Max(keys->count, 1));
	map->kinds = MemoryContextAllocZero(context, sizeof(char) * Max(keys->count, 1));

	for (int i = 0; i < keys->count; i++)
	{
		for (int a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute attr = TupleDescAttr(tupdesc, a);
			bool		has_names = keys->categories != NULL && keys->categories[i] != NULL;

			if (attr->attisdropped || strcmp(NameStr(attr->attname), keys->names[i]) != 0)
				continue;
			map->types[i] = getBaseType(attr->atttypid);
			map->kinds[i] = is_feature_type(map->types[i]) ? FEATURE_COLUMN_NUMBER :
				has_names ? category_column_kind(map->types[i]) : 0;
			if (map->kinds[i] == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of relation \"%s\" has type %s, which cannot be a model feature",
								NameStr(attr->attname), relname, format_type_be(attr->atttypid)),
						 has_names ?
						 errhint("The feature has category names: its column may be text, varchar, char, name or an enum, or a number (the category code).") :
						 errhint("Feature columns must be smallint, integer, bigint, real, double precision, numeric or boolean; a categorical feature whose category names the model has may also be text or an enum.")));
			map->attnums[i] = attr->attnum;
			break;
		}
	}
	return map;
}

/*
 * The code of a category column's value.  An enum's label comes from the
 * syscache, whose errors (no memory, a damaged catalog) are not the row's.
 */
static double
category_column_code(const CategoryNames *lookup, Datum value, char kind)
{
	if (kind == FEATURE_COLUMN_ENUM)
	{
		HeapTuple	tuple = SearchSysCache1(ENUMOID, value);
		double		code = -1.0;

		if (HeapTupleIsValid(tuple))
		{
			Form_pg_enum e = (Form_pg_enum) GETSTRUCT(tuple);

			code = categories_code(lookup, NameStr(e->enumlabel), strlen(NameStr(e->enumlabel)));
			ReleaseSysCache(tuple);
		}
		return code;
	}
	else
	{
		text	   *t = DatumGetTextPP(value);
		const char *s = VARDATA_ANY(t);
		int			len = VARSIZE_ANY_EXHDR(t);

		/* char(n)'s padding is not part of its value */
		if (kind == FEATURE_COLUMN_BPCHAR)
			while (len > 0 && s[len - 1] == ' ')
				len--;
		return categories_code(lookup, s, len);
	}
}

/*
 * A column's value as a model input: single precision as XGBoost takes it
 * (an integer rounded to float, a double beyond float range an error), or
 * the double itself.
 */
static double
datum_input(Datum value, Oid type, const char *feature, bool double_precision,
			FraudFailure *failure)
{
	switch (type)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return double_precision ? (double) DatumGetInt32(value) :
				(double) (float) DatumGetInt32(value);
		case INT8OID:
			return double_precision ? (double) DatumGetInt64(value) :
				(double) (float) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return double_precision ? DatumGetFloat8(value) :
				(double) to_model_input(DatumGetFloat8(value), feature, failure);
		case NUMERICOID:
			return double_precision ?
				numeric_to_double_input(DatumGetNumeric(value), feature, failure) :
				(double) numeric_to_input(DatumGetNumeric(value), feature, failure);
		case BOOLOID:
			return DatumGetBool(value) ? 1.0 : 0.0;
	}
	elog(ERROR, "unexpected feature column type %u", type);
	return NAN;					/* keep compiler quiet */
}

/*
 * Whether some numeric or text feature value of NEW is still compressed or stored
 * out of line (an unchanged column on UPDATE): reading it reads the toast
 * table, which can raise, so the trigger then reads the inputs in a
 * subtransaction.  Short-header values only need a copy.
 */
bool
features_values_are_toasted(const FeatureMap *map, const Datum *values, const bool *isnull)
{
	for (int i = 0; i < map->num_features; i++)
	{
		AttrNumber	att = map->attnums[i];

		if (att != 0 && !isnull[att - 1] &&
			(map->types[i] == NUMERICOID || map->kinds[i] == FEATURE_COLUMN_TEXT ||
			 map->kinds[i] == FEATURE_COLUMN_BPCHAR) &&
			(VARATT_IS_EXTERNAL(DatumGetPointer(values[att - 1])) ||
			 VARATT_IS_COMPRESSED(DatumGetPointer(values[att - 1]))))
			return true;
	}
	return false;
}

/* A column's value as a model input (train.c's rows, single precision). */
float
datum_to_input(Datum value, Oid type, const char *feature)
{
	return (float) datum_input(value, type, feature, false, NULL);
}

/*
 * From a row deformed by heap_deform_tuple (the trigger's NEW).  Plain C:
 * with a "failure" a value that cannot be an input is reported there (and
 * false returned) rather than raised.
 */
bool
features_from_values(const FeatureKeys *keys, const FeatureMap *map, const Datum *values,
					 const bool *isnull, Jsonb *extra, double *out, FraudFailure *failure)
{
	Assert(map->num_features == keys->count);
	collect_extra(keys, extra, out, failure);
	for (int i = 0; i < map->num_features; i++)
	{
		AttrNumber	att = map->attnums[i];

		if (keys->filled[i])
			continue;
		if (att == 0 || isnull[att - 1])
			out[i] = NAN;
		else if (map->kinds[i] != FEATURE_COLUMN_NUMBER)
			out[i] = known_or(category_column_code(keys->categories[i], values[att - 1],
												   map->kinds[i]), keys);
		else
			out[i] = datum_input(values[att - 1], map->types[i], keys->names[i],
								 keys->double_precision, failure);
	}
	return failure == NULL || !failure->failed;
}
