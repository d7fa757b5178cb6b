/*-------------------------------------------------------------------------
 *
 * vfeatures.c
 *		A declared feature set's features for one row document: the row's
 *		time, arrival and keys read from the document, each entity's
 *		windows read by vread.c, and every feature computed exactly (counts
 *		as integers; means, ratios, rates and days as exact rationals
 *		rounded half away from zero to the set's digits).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "velocity.h"
#include "vread.h"
#include "jsonbutil.h"

typedef struct RowDocument
{
	JsonbContainer *root;
	int64		t;
	int64		arrival;
	Datum	  **keys;			/* per entity, or NULL when a key is missing */
} RowDocument;

/* A scalar member as text, or NULL when missing or JSON null. */
static char *
member_text(JsonbContainer *root, const char *key)
{
	JsonbValue *v = jsonb_member(root, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("member \"%s\" of the row document is not a scalar", key)));
	return NULL;
}

static void
read_document(VelocityRuntime *rt, Jsonb *document, RowDocument *doc)
{
	const VelocitySet *vs = rt->set;
	char	   *text;

	if (!JB_ROOT_IS_OBJECT(document))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the row document of feature set \"%s\" must be a JSON object", vs->name)));
	doc->root = &document->root;
	text = member_text(doc->root, vs->time_name);
	if (text == NULL)
		doc->t = vs->time_type == TIMESTAMPOID ?
			DatumGetInt64(DirectFunctionCall1(timestamptz_timestamp,
											  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()))) :
			GetCurrentTransactionStartTimestamp();
	else
		doc->t = DatumGetInt64(DirectFunctionCall3(vs->time_type == TIMESTAMPOID ?
												   timestamp_in : timestamptz_in,
												   CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(doc->t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the time of a row document of feature set \"%s\" is infinite", vs->name)));
	text = member_text(doc->root, vs->arrival_name);
	doc->arrival = text == NULL ? PG_INT64_MAX :
		DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(text)));
	doc->keys = palloc0(sizeof(Datum *) * vs->num_entities);
	for (int i = 0; i < vs->num_entities; i++)
	{
		const VelocityEntity *e = &vs->entities[i];
		Datum	   *keys = palloc(sizeof(Datum) * e->num_keys);
		bool		complete = true;

		for (int k = 0; k < e->num_keys && complete; k++)
		{
			text = member_text(doc->root, e->key_names[k]);
			complete = text != NULL;
			if (complete)
				keys[k] = OidInputFunctionCall(rt->key_input[i][k], text,
											   rt->key_ioparam[i][k], -1);
		}
		doc->keys[i] = complete ? keys : NULL;
	}
}

/* The document's value of a column, scaled as the buckets keep it. */
static bool
document_scaled_value(RowDocument *doc, const VelocityColumn *c, int64 *value)
{
	JsonbValue *v = jsonb_member(doc->root, c->name);
	char	   *text;

	if (v != NULL && v->type == jbvNumeric)
	{
		*value = vset_scaled_numeric(c, NumericGetDatum(v->val.numeric));
		return true;
	}
	text = member_text(doc->root, c->name);
	if (text == NULL)
		return false;
	*value = vset_scaled_numeric(c, DirectFunctionCall3(numeric_in, CStringGetDatum(text),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	return true;
}

/* A 128-bit integer with "scale" digits after the point, as a numeric. */
static Numeric
decimal_numeric(int128 value, int scale)
{
	char		digits[64];
	int			n = 0;
	bool		negative = value < 0;
	uint128		v = negative ? -(uint128) value : (uint128) value;
	StringInfoData out;

	if (value >= PG_INT64_MIN && value <= PG_INT64_MAX)
		return int64_div_fast_to_numeric((int64) value, scale);
	do
	{
		digits[n++] = '0' + (int) (v % 10);
		v /= 10;
	} while (v > 0 || n <= scale);
	initStringInfo(&out);
	if (negative)
		appendStringInfoChar(&out, '-');
	for (int i = n - 1; i >= 0; i--)
	{
		appendStringInfoChar(&out, digits[i]);
		if (i == scale && scale > 0)
			appendStringInfoChar(&out, '.');
	}
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(out.data),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* numerator / denominator rounded half away from zero to "digits" digits. */
static Numeric
rational_numeric(int128 numerator, int128 denominator, int digits)
{
	bool		negative = (numerator < 0) != (denominator < 0);
	uint128		a = numerator < 0 ? -(uint128) numerator : (uint128) numerator;
	uint128		b = denominator < 0 ? -(uint128) denominator : (uint128) denominator;
	uint128		scale = 1;
	uint128		q;

	for (int i = 0; i < digits; i++)
		scale *= 10;
	q = (2 * a * scale + b) / (2 * b);
	return decimal_numeric(negative ? -(int128) q : (int128) q, digits);
}

static void
push_number(JsonbParseState **state, Numeric value)
{
	JsonbValue	v;

	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = value;
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

static void
push_document_value(JsonbParseState **state, RowDocument *doc, const char *column)
{
	JsonbValue *v = jsonb_member(doc->root, column);
	JsonbValue	null;

	if (v == NULL)
	{
		null.type = jbvNull;
		v = &null;
	}
	if (v->type == jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member \"%s\" of the row document is not a scalar", column)));
	pushJsonbValue(state, WJB_VALUE, v);
}

/* The index of a window among an entity's, added when first named. */
static int
window_index(int64 *windows, int *num_windows, int64 window)
{
	for (int w = 0; w < *num_windows; w++)
		if (windows[w] == window)
			return w;
	windows[*num_windows] = window;
	return (*num_windows)++;
}

typedef struct EntityWindows
{
	EntityQuery q;
	int64	   *windows;
	int		   *feature_window; /* per feature: its window's index */
	int		   *mean_window;	/* per feature: exceeds' mean window */
} EntityWindows;

static void
read_entities(VelocityRuntime *rt, RowDocument *doc, EntityWindows *ew)
{
	const VelocitySet *vs = rt->set;

	for (int i = 0; i < vs->num_entities; i++)
	{
		EntityQuery *q = &ew[i].q;
		int			n = 0;

		q->raw_window = 0;
		ew[i].windows = palloc(sizeof(int64) * vs->num_features * 2);
		ew[i].feature_window = palloc(sizeof(int) * vs->num_features);
		ew[i].mean_window = palloc(sizeof(int) * vs->num_features);
		for (int f = 0; f < vs->num_features; f++)
		{
			if (vs->features[f].entity != i)
				continue;
			ew[i].feature_window[f] = window_index(ew[i].windows, &n, vs->features[f].window);
			if (vs->features[f].kind == VK_EXCEEDS)
			{
				ew[i].mean_window[f] = window_index(ew[i].windows, &n, vs->features[f].mean_window);
				q->raw_window = Max(q->raw_window, vs->features[f].window);
			}
		}
		q->entity = i;
		q->keys = doc->keys[i];
		q->t = doc->t;
		q->arrival = doc->arrival;
		q->num_windows = n;
		q->windows = ew[i].windows;
		q->aggs = palloc(sizeof(VelocityWindow) * Max(n, 1));
		q->latest_found = palloc0(sizeof(bool) * Max(n, 1));
		q->latest = palloc0(sizeof(int64) * Max(n, 1));
		q->raw_count = 0;
		q->raw_rows = NULL;
		if (q->keys != NULL && n > 0)
			vread_entity(rt, q);
		else
			for (int w = 0; w < n; w++)
				vread_empty(&vs->entities[i], &q->aggs[w]);	/* a NULL key matches no row */
	}
}

static int64
rows_count(VelocityRows rows, int64 all, int64 known)
{
	return rows == ROWS_ALL ? all : rows == ROWS_KNOWN ? known : all - known;
}

static int128
rows_sum(VelocityRows rows, int128 all, int128 known)
{
	return rows == ROWS_ALL ? all : rows == ROWS_KNOWN ? known : all - known;
}

/* exceeds: rows of the window over factor times the mean window's mean. */
static int64
exceeds(EntityWindows *ew, const VelocityFeature *f, int fi)
{
	const VelocityWindow *mean = &ew->q.aggs[ew->mean_window[fi]];
	int			c = f->column;
	int64		count = rows_count(f->mean_rows, mean->count[c], mean->count_known[c]);
	int128		sum = rows_sum(f->mean_rows, mean->sum[c], mean->sum_known[c]);
	const VelocityRowValues *rows = ew->q.raw_rows;
	int64		over = 0;

	if (count == 0)
		return 0;				/* no mean: no row is over it */
	for (int i = 0; i < ew->q.raw_count; i++)
	{
		bool		known = rows[i].known_valid && rows[i].known <= ew->q.t;

		if (rows[i].time <= ew->q.t - f->window)
			continue;			/* in the longest exceeds window, not in this one */
		if (!rows[i].value_valid[c] || (f->rows == ROWS_KNOWN && !known) ||
			(f->rows == ROWS_UNLABELED && known))
			continue;
		/* value > (p / q) * sum / count, in integers */
		if ((int128) rows[i].value[c] * count * f->factor_denominator > sum * f->factor_numerator)
			over++;
	}
	return over;
}

static Numeric
scaled_numeric(const VelocityColumn *c, int128 value)
{
	return decimal_numeric(value, c->scale);
}

/* A per-entity feature's value, or NULL for JSON null. */
static Numeric
entity_feature(VelocityRuntime *rt, RowDocument *doc, EntityWindows *ew,
			   const VelocityFeature *f, int fi)
{
	const VelocitySet *vs = rt->set;
	const VelocityWindow *a = &ew->q.aggs[ew->feature_window[fi]];
	int			c = f->column;
	const VelocityColumn *col = c >= 0 ? &vs->columns[c] : NULL;
	int64		n = rows_count(f->rows, a->n, a->nk);
	int64		count = c >= 0 ? rows_count(f->rows, a->count[c], a->count_known[c]) : 0;
	int128		sum = c >= 0 ? rows_sum(f->rows, a->sum[c], a->sum_known[c]) : 0;
	int64		value;

	switch (f->kind)
	{
		case VK_COUNT:
			return int64_to_numeric(n);
		case VK_SUM:
			return count == 0 ? NULL : scaled_numeric(col, sum);
		case VK_MEAN:
			return count == 0 ? NULL :
				rational_numeric(sum, (int128) count * col->scale_factor, vs->digits);
		case VK_MIN:
			return count == 0 ? NULL : scaled_numeric(col, a->min[c]);
		case VK_MAX:
			return count == 0 ? NULL : scaled_numeric(col, a->max[c]);
		case VK_RATIO:
			if (count == 0 || sum == 0 || !document_scaled_value(doc, col, &value))
				return NULL;
			return rational_numeric((int128) value * count, sum, vs->digits);
		case VK_EXCEEDS:
			return int64_to_numeric(exceeds(ew, f, fi));
		case VK_KNOWN_COUNT:
			return int64_to_numeric(a->nk);
		case VK_KNOWN_RATE:
			return a->n == 0 ? NULL : rational_numeric(a->nk, a->n, vs->digits);
		case VK_DAYS_SINCE_KNOWN:
			if (f->window == VELOCITY_UNBOUNDED)
				return !ew->q.latest_found[ew->feature_window[fi]] ? NULL :
					rational_numeric(doc->t - ew->q.latest[ew->feature_window[fi]], USECS_PER_DAY,
								  vs->digits);
			return a->nk == 0 ? NULL :
				rational_numeric(doc->t - a->max_known_time, USECS_PER_DAY, vs->digits);
		case VK_EPISODE_DAYS:
			return a->nk == 0 ? NULL :
				rational_numeric(doc->t - a->min_known_time, USECS_PER_DAY, vs->digits);
		default:
			elog(ERROR, "feature \"%s\" is not per entity", f->name);
	}
	return NULL;
}

/* hour, day_of_week, is_weekend of the row's time (in the session's time
 * zone for timestamptz, as extract() gives it). */
static void
push_time_feature(JsonbParseState **state, const VelocitySet *vs, const VelocityFeature *f,
				  int64 t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	int			isodow;
	JsonbValue	v;

	if (timestamp2tm(t, vs->time_type == TIMESTAMPTZOID ? &tz : NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	isodow = j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday));
	if (isodow == 0)
		isodow = 7;
	if (f->kind == VK_IS_WEEKEND)
	{
		v.type = jbvBool;
		v.val.boolean = isodow >= 6;
		pushJsonbValue(state, WJB_VALUE, &v);
	}
	else
		push_number(state, int64_to_numeric(f->kind == VK_HOUR ? tm.tm_hour : isodow));
}

/* The features of a row document, as a jsonb object. */
Jsonb *
vfeatures_compute(VelocityRuntime *rt, Jsonb *document)
{
	const VelocitySet *vs = rt->set;
	RowDocument doc;
	EntityWindows *ew = palloc0(sizeof(EntityWindows) * vs->num_entities);
	JsonbParseState *state = NULL;
	JsonbValue *result;

	read_document(rt, document, &doc);
	read_entities(rt, &doc, ew);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < vs->num_features; i++)
	{
		const VelocityFeature *f = &vs->features[i];

		jsonb_push_key(&state, f->name);
		if (f->kind == VK_VALUE)
			push_document_value(&state, &doc, vs->columns[f->column].name);
		else if (f->kind == VK_HOUR || f->kind == VK_DAY_OF_WEEK || f->kind == VK_IS_WEEKEND)
			push_time_feature(&state, vs, f, doc.t);
		else
			push_number(&state, entity_feature(rt, &doc, &ew[f->entity], f, i));
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}
