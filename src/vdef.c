/*-------------------------------------------------------------------------
 *
 * vdef.c
 *		Declared feature sets' definitions: the jsonb document a user writes
 *		(docs/velocity-design.md), checked against the source table and
 *		built into a VelocitySet, and the normalized document stored in the
 *		catalog.
 *
 * Owns every refusal of a definition, so that fraud_feature_set_create
 * refuses before it creates anything.  No catalog access beyond the source
 * relation's descriptor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "velocity.h"
#include "buckets.h"
#include "jsonbutil.h"

typedef struct KindName
{
	const char *name;
	VelocityKind kind;
	bool		per_entity;
	bool		needs_window;
	bool		needs_column;
	bool		needs_labels;
} KindName;

static const KindName kind_names[] = {
	{"value", VK_VALUE, false, false, true, false},
	{"hour", VK_HOUR, false, false, false, false},
	{"day_of_week", VK_DAY_OF_WEEK, false, false, false, false},
	{"is_weekend", VK_IS_WEEKEND, false, false, false, false},
	{"count", VK_COUNT, true, true, false, false},
	{"sum", VK_SUM, true, true, true, false},
	{"mean", VK_MEAN, true, true, true, false},
	{"min", VK_MIN, true, true, true, false},
	{"max", VK_MAX, true, true, true, false},
	{"ratio", VK_RATIO, true, true, true, false},
	{"exceeds", VK_EXCEEDS, true, true, true, false},
	{"known_count", VK_KNOWN_COUNT, true, true, false, true},
	{"known_rate", VK_KNOWN_RATE, true, true, false, true},
	{"days_since_known", VK_DAYS_SINCE_KNOWN, true, false, false, true},
	{"episode_days", VK_EPISODE_DAYS, true, true, false, true},
};

static void
definition_error(const char *set, const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid definition of feature set \"%s\": %s", set, what),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("See docs/velocity.md for the definition's members.")));
}

static char *
string_member(const char *set, JsonbContainer *object, const char *key, bool required)
{
	JsonbValue *v = jsonb_member(object, key);

	if (v == NULL)
	{
		if (required)
			definition_error(set, psprintf("\"%s\" is missing", key), NULL);
		return NULL;
	}
	if (v->type != jbvString)
		definition_error(set, psprintf("\"%s\" must be a string", key), NULL);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A duration as microseconds: no months, positive, whole microseconds. */
static int64
duration(const char *set, const char *what, const char *text)
{
	Interval   *iv;

	iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	if (iv->month != 0)
		definition_error(set, psprintf("%s \"%s\" has months", what, text),
						 "Windows and tiers are exact durations: write months as days.");
	if (iv->time + (int64) iv->day * USECS_PER_DAY <= 0)
		definition_error(set, psprintf("%s \"%s\" is not positive", what, text), NULL);
	return iv->time + (int64) iv->day * USECS_PER_DAY;
}

static AttrNumber
column_attnum(const char *set, Relation source, const char *column, Oid *type, int32 *typmod)
{
	TupleDesc	desc = RelationGetDescr(source);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			*type = getBaseType(att->atttypid);
			*typmod = att->atttypmod;
			return att->attnum;
		}
	}
	definition_error(set, psprintf("table %s has no column \"%s\"",
								   RelationGetRelationName(source), column), NULL);
	return InvalidAttrNumber;
}

static AttrNumber
timestamp_column(const char *set, Relation source, const char *role, const char *column,
				 Oid *type)
{
	int32		typmod;
	AttrNumber	attnum = column_attnum(set, source, column, type, &typmod);

	if (*type != TIMESTAMPOID && *type != TIMESTAMPTZOID)
		definition_error(set, psprintf("the %s column \"%s\" is of type %s", role, column,
									   format_type_be(*type)),
						 "It must be timestamp or timestamp with time zone.");
	return attnum;
}

/* The index of a value column in the set, added the first time it is named. */
static int
value_column(VelocitySet *vs, Relation source, const char *column)
{
	Oid			type;
	int32		typmod;
	AttrNumber	attnum;
	VelocityColumn *c;

	for (int i = 0; i < vs->num_columns; i++)
		if (strcmp(vs->columns[i].name, column) == 0)
			return i;
	attnum = column_attnum(vs->name, source, column, &type, &typmod);
	c = &vs->columns[vs->num_columns];
	c->name = pstrdup(column);
	c->scale_factor = 1;
	c->attnum = attnum;
	c->type = type;
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			c->fixed = true;
			c->scale = 0;
			break;
		case NUMERICOID:
			/* numeric(p, s) sums exactly as int64 in units of 10^-s */
			c->fixed = typmod >= (int32) VARHDRSZ &&
				((typmod - VARHDRSZ) & 0xffff) <= 9 &&
				((typmod - VARHDRSZ) >> 16) <= 18;
			c->scale = c->fixed ? ((typmod - VARHDRSZ) & 0xffff) : 0;
			for (int i = 0; i < c->scale; i++)
				c->scale_factor *= 10;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			c->fixed = false;
			c->scale = 0;
			break;
		default:
			definition_error(vs->name, psprintf("the value column \"%s\" is of type %s", column,
												format_type_be(type)),
							 "Aggregated columns must be integer, numeric or floating-point.");
	}
	return vs->num_columns++;
}

static const KindName *
kind_of(const char *set, const char *feature, const char *kind)
{
	for (int i = 0; i < (int) lengthof(kind_names); i++)
		if (strcmp(kind_names[i].name, kind) == 0)
			return &kind_names[i];
	definition_error(set, psprintf("feature \"%s\" has an unknown kind \"%s\"", feature, kind),
					 "Kinds: value, hour, day_of_week, is_weekend, count, sum, mean, min, max, "
					 "ratio, exceeds, known_count, known_rate, days_since_known, episode_days.");
	return NULL;
}

static VelocityRows
rows_of(const char *set, const char *feature, const char *rows)
{
	if (rows == NULL || strcmp(rows, "all") == 0)
		return ROWS_ALL;
	if (strcmp(rows, "unlabeled") == 0)
		return ROWS_UNLABELED;
	if (strcmp(rows, "known") == 0)
		return ROWS_KNOWN;
	definition_error(set, psprintf("feature \"%s\" has rows \"%s\"", feature, rows),
					 "Rows: all, unlabeled or known.");
	return ROWS_ALL;
}

/* "factor" as an exact fraction p/q, so that comparisons stay exact. */
static void
exact_factor(const char *set, const char *feature, JsonbValue *v, VelocityFeature *f)
{
	char	   *text;
	int64		numerator = 0;
	int64		denominator = 1;
	bool		point = false;

	if (v == NULL || v->type != jbvNumeric)
		definition_error(set, psprintf("feature \"%s\" needs a number \"factor\"", feature), NULL);
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	for (const char *p = text; *p; p++)
	{
		if (*p == '.' && !point)
			point = true;
		else if (*p >= '0' && *p <= '9' && numerator < INT64CONST(100000000000) &&
				 denominator < INT64CONST(1000000000))
		{
			numerator = numerator * 10 + (*p - '0');
			if (point)
				denominator *= 10;
		}
		else
			definition_error(set, psprintf("feature \"%s\" has factor %s", feature, text),
							 "A factor is a positive decimal number of at most 11 digits, 9 after the point.");
	}
	if (numerator <= 0)
		definition_error(set, psprintf("feature \"%s\" has factor %s", feature, text),
						 "A factor is a positive decimal number of at most 11 digits, 9 after the point.");
	f->factor = (double) numerator / (double) denominator;
	f->factor_numerator = numerator;
	f->factor_denominator = denominator;
}

/* Tiers: each width a multiple of the next, the resolution dividing the last. */
static void
parse_tiers(const char *set, VelocityEntity *e, JsonbContainer *object)
{
	JsonbValue *tiers = jsonb_member(object, "tiers");
	char	   *resolution = string_member(set, object, "resolution", false);

	e->resolution = duration(set, "the resolution", resolution ? resolution : "1 hour");
	e->num_tiers = 0;
	if (tiers == NULL)
	{
		e->tier_width[e->num_tiers++] = 7 * USECS_PER_DAY;
		e->tier_width[e->num_tiers++] = USECS_PER_DAY;
	}
	else
	{
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken token;

		if (tiers->type != jbvBinary || !JsonContainerIsArray(tiers->val.binary.data))
			definition_error(set, psprintf("the \"tiers\" of entity \"%s\" must be an array of intervals",
										   e->name), NULL);
		it = JsonbIteratorInit(tiers->val.binary.data);
		while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (token != WJB_ELEM)
				continue;
			if (v.type != jbvString)
				definition_error(set, psprintf("the \"tiers\" of entity \"%s\" must be an array of intervals",
											   e->name), NULL);
			if (e->num_tiers == VELOCITY_MAX_TIERS)
				definition_error(set, psprintf("entity \"%s\" has more than %d tiers", e->name,
											   VELOCITY_MAX_TIERS), NULL);
			e->tier_width[e->num_tiers++] =
				duration(set, "a tier", pnstrdup(v.val.string.val, v.val.string.len));
		}
		if (e->num_tiers == 0)
			definition_error(set, psprintf("entity \"%s\" has no tiers", e->name), NULL);
	}
	for (int i = 0; i < e->num_tiers; i++)
	{
		int64		slot = i + 1 < e->num_tiers ? e->tier_width[i + 1] : e->resolution;

		if (slot >= e->tier_width[i] || e->tier_width[i] % slot != 0)
			definition_error(set, psprintf("the tiers of entity \"%s\" do not nest", e->name),
							 "Each tier must be a whole multiple of the next, and the last of the resolution.");
		if (e->tier_width[i] / slot > VELOCITY_MAX_SLOTS)
			definition_error(set, psprintf("a tier of entity \"%s\" has more than %d slots", e->name,
										   VELOCITY_MAX_SLOTS),
							 "Add a tier between them, or make the resolution coarser.");
		e->tier_slots[i] = (int) (e->tier_width[i] / slot);
	}
}

/* Calls "each" with every key of an object member and its value. */
static int
object_members(const char *set, JsonbContainer *object, const char *what,
			   char ***keys, JsonbValue **values)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			count = 0;
	int			allocated = JsonContainerSize(object);

	if (!JsonContainerIsObject(object))
		definition_error(set, psprintf("\"%s\" must be an object", what), NULL);
	*keys = palloc0(sizeof(char *) * Max(allocated, 1));
	*values = palloc0(sizeof(JsonbValue) * Max(allocated, 1));
	it = JsonbIteratorInit(object);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			(*keys)[count] = pnstrdup(v.val.string.val, v.val.string.len);
		else if (token == WJB_VALUE)
		{
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				definition_error(set, psprintf("\"%s\" in \"%s\" must be an object", (*keys)[count],
											   what), NULL);
			(*values)[count++] = v;
		}
	}
	return count;
}

static void
parse_entity(VelocitySet *vs, Relation source, VelocityEntity *e, JsonbContainer *object)
{
	JsonbValue *keys = jsonb_member(object, "keys");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			allocated;

	if (keys == NULL || keys->type != jbvBinary || !JsonContainerIsArray(keys->val.binary.data) ||
		JsonContainerSize(keys->val.binary.data) == 0)
		definition_error(vs->name, psprintf("entity \"%s\" needs \"keys\", an array of column names",
											e->name), NULL);
	allocated = JsonContainerSize(keys->val.binary.data);
	e->key_names = palloc0(sizeof(char *) * allocated);
	e->key_attnums = palloc0(sizeof(AttrNumber) * allocated);
	e->key_types = palloc0(sizeof(Oid) * allocated);
	it = JsonbIteratorInit(keys->val.binary.data);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int32		typmod;

		if (token != WJB_ELEM)
			continue;
		if (v.type != jbvString)
			definition_error(vs->name, psprintf("entity \"%s\" needs \"keys\", an array of column names",
												e->name), NULL);
		e->key_names[e->num_keys] = pnstrdup(v.val.string.val, v.val.string.len);
		e->key_attnums[e->num_keys] = column_attnum(vs->name, source, e->key_names[e->num_keys],
													&e->key_types[e->num_keys], &typmod);
		e->num_keys++;
	}
	parse_tiers(vs->name, e, object);
	e->column_used = palloc0(sizeof(bool) * VELOCITY_MAX_COLUMNS);
	e->column_extremes = palloc0(sizeof(bool) * VELOCITY_MAX_COLUMNS);
	e->longest_window = 0;
}

static int
entity_index(VelocitySet *vs, const char *feature, const char *entity)
{
	if (entity == NULL)
		definition_error(vs->name, psprintf("feature \"%s\" needs an \"entity\"", feature), NULL);
	for (int i = 0; i < vs->num_entities; i++)
		if (strcmp(vs->entities[i].name, entity) == 0)
			return i;
	definition_error(vs->name, psprintf("feature \"%s\" names an undeclared entity \"%s\"", feature,
										entity), NULL);
	return -1;
}

/* The window of a feature, recorded as its entity's longest one. */
static int64
feature_window(VelocitySet *vs, VelocityFeature *f, JsonbContainer *object, const char *key,
			   bool required)
{
	char	   *text = string_member(vs->name, object, key, false);
	int64		window;
	VelocityEntity *e = &vs->entities[f->entity];

	if (text == NULL && required)
		definition_error(vs->name, psprintf("feature \"%s\" needs a \"%s\"", f->name, key), NULL);
	window = text ? duration(vs->name, "a window", text) : VELOCITY_UNBOUNDED;
	if (window == VELOCITY_UNBOUNDED || e->longest_window == VELOCITY_UNBOUNDED)
		e->longest_window = VELOCITY_UNBOUNDED;
	else
		e->longest_window = Max(e->longest_window, window);
	return window;
}

static void
parse_feature(VelocitySet *vs, Relation source, VelocityFeature *f, JsonbContainer *object)
{
	const KindName *kind = kind_of(vs->name, f->name,
								   string_member(vs->name, object, "kind", true));
	char	   *column = string_member(vs->name, object, "column", false);

	f->kind = kind->kind;
	f->entity = -1;
	f->column = -1;
	f->window = 0;
	if (kind->needs_labels && vs->known_attnum == InvalidAttrNumber)
		definition_error(vs->name, psprintf("feature \"%s\" of kind %s needs \"known_at\"", f->name,
											kind->name), NULL);
	if (kind->needs_column)
	{
		if (column == NULL)
			definition_error(vs->name, psprintf("feature \"%s\" needs a \"column\"", f->name), NULL);
		if (vs->num_columns == VELOCITY_MAX_COLUMNS)
			definition_error(vs->name, psprintf("more than %d value columns", VELOCITY_MAX_COLUMNS),
							 NULL);
		f->column = value_column(vs, source, column);
	}
	else if (column != NULL)
		definition_error(vs->name, psprintf("feature \"%s\" of kind %s takes no \"column\"", f->name,
											kind->name), NULL);
	if (!kind->per_entity)
		return;
	f->entity = entity_index(vs, f->name, string_member(vs->name, object, "entity", false));
	f->window = feature_window(vs, f, object, "window", kind->needs_window);
	f->rows = rows_of(vs->name, f->name, string_member(vs->name, object, "rows", false));
	if (f->rows != ROWS_ALL && vs->known_attnum == InvalidAttrNumber)
		definition_error(vs->name, psprintf("feature \"%s\" counts %s rows but the set has no \"known_at\"",
											f->name, f->rows == ROWS_KNOWN ? "known" : "unlabeled"), NULL);
	if (f->column >= 0)
	{
		VelocityColumn *c = &vs->columns[f->column];

		if (!c->fixed)
			definition_error(vs->name, psprintf("feature \"%s\" aggregates \"%s\", of type %s", f->name,
												c->name, format_type_be(c->type)),
							 "Aggregated columns must be integers or numeric(p, s) with p at most 18, "
							 "so that sums are exact; a floating-point column can only be a value feature.");
		c->aggregated = true;
		vs->entities[f->entity].column_used[f->column] = true;
	}
	if (f->rows != ROWS_ALL || f->kind == VK_KNOWN_COUNT || f->kind == VK_KNOWN_RATE)
		vs->entities[f->entity].needs_labels = true;
	if (f->kind == VK_DAYS_SINCE_KNOWN || f->kind == VK_EPISODE_DAYS)
		vs->entities[f->entity].needs_labels = vs->entities[f->entity].needs_extremes = true;
	if (f->kind == VK_MIN || f->kind == VK_MAX)
	{
		if (f->rows != ROWS_ALL)
			definition_error(vs->name, psprintf("feature \"%s\": min and max count all rows", f->name),
							 NULL);
		vs->entities[f->entity].column_extremes[f->column] = true;
		vs->entities[f->entity].needs_extremes = true;
	}
	if (f->kind == VK_EXCEEDS)
	{
		exact_factor(vs->name, f->name, jsonb_member(object, "factor"), f);
		f->mean_window = feature_window(vs, f, object, "mean_window", true);
		f->mean_rows = rows_of(vs->name, f->name, string_member(vs->name, object, "mean_rows", false));
		if (f->mean_rows != ROWS_ALL)
			vs->entities[f->entity].needs_labels = true;
	}
}

static void
parse_columns(VelocitySet *vs, Relation source, JsonbContainer *root)
{
	char	   *known = string_member(vs->name, root, "known_at", false);
	char	   *arrival = string_member(vs->name, root, "arrival", true);
	JsonbValue *digits = jsonb_member(root, "digits");
	int32		typmod;
	Oid			known_type;

	vs->time_name = string_member(vs->name, root, "time", true);
	vs->arrival_name = arrival;
	vs->time_attnum = timestamp_column(vs->name, source, "time", vs->time_name, &vs->time_type);
	if (!TupleDescAttr(RelationGetDescr(source), vs->time_attnum - 1)->attnotnull)
		definition_error(vs->name, psprintf("the time column \"%s\" is nullable", vs->time_name),
						 "A row without a time is in no window: declare the column NOT NULL.");
	vs->arrival_attnum = column_attnum(vs->name, source, arrival, &vs->arrival_type, &typmod);
	if (vs->arrival_type != INT2OID && vs->arrival_type != INT4OID && vs->arrival_type != INT8OID)
		definition_error(vs->name, psprintf("the arrival column \"%s\" is of type %s", arrival,
											format_type_be(vs->arrival_type)),
						 "It must be an integer type, e.g. bigint GENERATED ALWAYS AS IDENTITY.");
	if (!TupleDescAttr(RelationGetDescr(source), vs->arrival_attnum - 1)->attnotnull)
		definition_error(vs->name, psprintf("the arrival column \"%s\" is nullable", arrival),
						 "It must be NOT NULL, e.g. bigint GENERATED ALWAYS AS IDENTITY.");
	vs->known_attnum = known ? timestamp_column(vs->name, source, "known_at", known, &known_type)
		: InvalidAttrNumber;
	vs->digits = 6;
	if (digits != NULL)
	{
		if (digits->type != jbvNumeric)
			definition_error(vs->name, "\"digits\" must be an integer from 0 to 12", NULL);
		vs->digits = DatumGetInt32(DirectFunctionCall1(numeric_int4,
													   NumericGetDatum(digits->val.numeric)));
		if (vs->digits < 0 || vs->digits > 12)
			definition_error(vs->name, "\"digits\" must be an integer from 0 to 12", NULL);
	}
}

/* Every bucket row must fit a heap page with its slots stored inline, at
 * the worst buckets.c's encoding allows. */
static void
check_payload_sizes(VelocitySet *vs)
{
	for (int i = 0; i < vs->num_entities; i++)
	{
		VelocityEntity *e = &vs->entities[i];

		e->num_columns = vs->num_columns;
		e->words = buckets_payload_words(vs, e);
		for (int t = 0; t < e->num_tiers; t++)
		{
			Size		worst = 2 + buckets_summary_bytes_bound(e) +
				(Size) e->tier_slots[t] * buckets_slot_bytes_bound(e, t);
			Size		spare;

			if (worst > 7600)
				definition_error(vs->name,
								 psprintf("a full bucket row of entity \"%s\" could take %zu bytes",
										  e->name, worst),
								 "Bucket rows must fit in 7600 bytes: add a tier, make the resolution "
								 "coarser, or aggregate fewer columns for this entity.");
			/* what is left keeps the rows of slots that have few */
			spare = (7600 - worst) / e->tier_slots[t];
			e->list_budget[t] = spare >= 8 ? (int) Min(spare, 1024) : 0;
		}
	}
}

VelocitySet *
vdef_build(const char *name, Relation source, Jsonb *definition)
{
	VelocitySet *vs = palloc0(sizeof(VelocitySet));
	JsonbContainer *root = &definition->root;
	JsonbValue *entities;
	JsonbValue *features;
	char	  **keys;
	JsonbValue *values;

	vs->name = pstrdup(name);
	vs->source = RelationGetRelid(source);
	if (!JsonContainerIsObject(root))
		definition_error(name, "the definition must be a jsonb object", NULL);
	parse_columns(vs, source, root);

	entities = jsonb_member(root, "entities");
	if (entities == NULL || entities->type != jbvBinary)
		definition_error(name, "\"entities\" must be an object", NULL);
	vs->num_entities = object_members(name, entities->val.binary.data, "entities", &keys, &values);
	if (vs->num_entities == 0)
		definition_error(name, "no entity is declared", NULL);
	vs->entities = palloc0(sizeof(VelocityEntity) * vs->num_entities);
	for (int i = 0; i < vs->num_entities; i++)
	{
		vs->entities[i].name = keys[i];
		parse_entity(vs, source, &vs->entities[i], values[i].val.binary.data);
	}

	features = jsonb_member(root, "features");
	if (features == NULL || features->type != jbvBinary)
		definition_error(name, "\"features\" must be an object", NULL);
	vs->num_features = object_members(name, features->val.binary.data, "features", &keys, &values);
	if (vs->num_features == 0)
		definition_error(name, "no feature is declared", NULL);
	vs->columns = palloc0(sizeof(VelocityColumn) * VELOCITY_MAX_COLUMNS);
	vs->features = palloc0(sizeof(VelocityFeature) * vs->num_features);
	for (int i = 0; i < vs->num_features; i++)
	{
		vs->features[i].name = keys[i];
		parse_feature(vs, source, &vs->features[i], values[i].val.binary.data);
	}
	check_payload_sizes(vs);
	return vs;
}
