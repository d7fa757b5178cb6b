/*-------------------------------------------------------------------------
 *
 * features.c
 *		Turn a jsonb document or a heap tuple into a model's input vector.
 *
 * Owns: matching keys or columns to the model's feature names, the value
 * rules (number as is, boolean 0/1, null or absent = missing = NaN, anything
 * else an error naming the feature), and mapping a relation's columns to a
 * model's features (trigger.c caches the map per trigger).
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
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "fraud_score.h"

static float
to_model_input(double value, const char *feature)
{
	if (isfinite(value) && fabs(value) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value of feature \"%s\" is out of range for a model input", feature),
				 errdetail("Model inputs are single-precision floats, at most %g in magnitude; the value is %g.",
						   (double) FLT_MAX, value)));
	return (float) value;
}

/* A numeric as a double; beyond double range it is +-inf, which the caller
 * must tell from a numeric that really is infinite. */
static double
numeric_to_double(Numeric num, const char *feature)
{
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(num)));

	if (isinf(d) && !numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value of feature \"%s\" is out of range for a model input", feature),
				 errdetail("Model inputs are single-precision floats, at most %g in magnitude.",
						   (double) FLT_MAX)));
	return d;
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

/* The value of a feature in jsonb, or NaN if absent or null. */
static float
jsonb_feature(const char *name, JsonbValue *v)
{
	if (v == NULL || v->type == jbvNull)
		return NAN;
	if (v->type == jbvBool)
		return v->val.boolean ? 1.0f : 0.0f;
	if (v->type == jbvNumeric)
		return to_model_input(numeric_to_double(v->val.numeric, name), name);
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("feature \"%s\" must be a number, a boolean or null", name),
			 errdetail("The value of \"%s\" is a JSON %s.", name, jsonb_type_name(v))));
	return NAN;					/* keep compiler quiet */
}

/* Look the feature up in the feature function's output first, if any. */
static JsonbValue *
extra_value(Jsonb *extra, const char *name, JsonbValue *buf)
{
	if (extra == NULL)
		return NULL;
	return getKeyJsonValueFromContainer(&extra->root, name, strlen(name), buf);
}

void
features_from_jsonb(FraudModel *model, Jsonb *doc, Jsonb *extra, float *out)
{
	features_by_name(model->feature_names, model->num_features, doc, extra, out);
}

void
features_by_name(char **names, int num_features, Jsonb *doc, Jsonb *extra, float *out)
{
	JsonbValue	buf;

	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fraud_score features must be a JSON object"),
				 errdetail("The features argument is a JSON %s.",
						   JB_ROOT_IS_SCALAR(doc) ? "scalar" : "array"),
				 errhint("Pass an object whose keys are the model's feature names.")));

	for (int i = 0; i < num_features; i++)
	{
		const char *name = names[i];
		JsonbValue *v = extra_value(extra, name, &buf);

		if (v == NULL)
			v = getKeyJsonValueFromContainer(&doc->root, name, strlen(name), &buf);
		out[i] = jsonb_feature(name, v);
	}
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

/*
 * Map a relation's columns to a model's features, in "context".  A feature
 * without a column of its name is always missing; a column of its name that
 * is not numeric or boolean is an error.
 */
FeatureMap *
feature_map_build(FraudModel *model, TupleDesc tupdesc, const char *relname,
				  MemoryContext context)
{
	FeatureMap *map = MemoryContextAllocZero(context, sizeof(FeatureMap));

	map->num_features = model->num_features;
	map->attnums = MemoryContextAllocZero(context, sizeof(AttrNumber) * model->num_features);
	map->types = MemoryContextAllocZero(context, sizeof(Oid) * model->num_features);

	for (int i = 0; i < model->num_features; i++)
	{
		for (int a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute attr = TupleDescAttr(tupdesc, a);

			if (attr->attisdropped || strcmp(NameStr(attr->attname), model->feature_names[i]) != 0)
				continue;
			map->types[i] = getBaseType(attr->atttypid);
			if (!is_feature_type(map->types[i]))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of relation \"%s\" has type %s, which cannot be a model feature",
								NameStr(attr->attname), relname, format_type_be(attr->atttypid)),
						 errhint("Feature columns must be smallint, integer, bigint, real, double precision, numeric or boolean.")));
			map->attnums[i] = attr->attnum;
			break;
		}
	}
	return map;
}

float
datum_to_input(Datum value, Oid type, const char *feature)
{
	switch (type)
	{
		case INT2OID:
			return (float) DatumGetInt16(value);
		case INT4OID:
			return (float) DatumGetInt32(value);
		case INT8OID:
			return (float) DatumGetInt64(value);
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return to_model_input(DatumGetFloat8(value), feature);
		case NUMERICOID:
			return to_model_input(numeric_to_double(DatumGetNumeric(value), feature), feature);
		case BOOLOID:
			return DatumGetBool(value) ? 1.0f : 0.0f;
	}
	elog(ERROR, "unexpected feature column type %u", type);
	return NAN;					/* keep compiler quiet */
}

void
features_from_tuple(FraudModel *model, const FeatureMap *map, TupleDesc tupdesc,
					HeapTuple tuple, Jsonb *extra, float *out)
{
	Assert(map->num_features == model->num_features);
	for (int i = 0; i < map->num_features; i++)
	{
		bool		isnull;
		Datum		value;
		JsonbValue	buf;
		JsonbValue *v = extra_value(extra, model->feature_names[i], &buf);

		if (v != NULL)
		{
			out[i] = jsonb_feature(model->feature_names[i], v);
			continue;
		}
		if (map->attnums[i] == 0)
		{
			out[i] = NAN;
			continue;
		}
		value = heap_getattr(tuple, map->attnums[i], tupdesc, &isnull);
		out[i] = isnull ? NAN : datum_to_input(value, map->types[i], model->feature_names[i]);
	}
}
