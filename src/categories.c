/*-------------------------------------------------------------------------
 *
 * categories.c
 *		Category names of a model's categorical features, and their codes.
 *
 * A categorical split tests a category code: the position of the category
 * in the list the model was trained with (pandas' category codes).  XGBoost
 * 3.1 and later keeps those lists in the model ("cats", read by model.c);
 * for older models the user gives them at load.  Owns: checking the lists
 * fraud_model_check is given against the model and turning them into the
 * catalog's "categories" document (feature name -> names in code order),
 * and, for scoring, that document as one sorted lookup per feature, so that
 * a JSON string or a text or enum column becomes its code.  A name the list
 * does not have gets code -1, which XGBoost sends left at every categorical
 * split like any category the split did not choose: a new merchant type
 * scores, it does not fail the INSERT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fraud_score.h"
#include "forest.h"

/* jsonb key order is irrelevant here: names sort bytewise, then by length. */
static int
name_compare(const char *a, int alen, const char *b, int blen)
{
	int			cmp = memcmp(a, b, Min(alen, blen));

	return cmp != 0 ? cmp : (alen > blen) - (alen < blen);
}

static const CategoryNames *sort_names;

static int
sorted_index_compare(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return name_compare(sort_names->names[x], sort_names->lengths[x],
						sort_names->names[y], sort_names->lengths[y]);
}

/*
 * One feature's lookup from its names in code order, in "context"; a name
 * given twice is an error (its code would be ambiguous).
 */
static CategoryNames *
build_lookup(char **names, int *lengths, int count, const char *feature,
			 MemoryContext context)
{
	CategoryNames *lookup = MemoryContextAlloc(context, sizeof(CategoryNames));

	lookup->count = count;
	lookup->names = names;
	lookup->lengths = lengths;
	lookup->sorted = MemoryContextAlloc(context, sizeof(int) * Max(count, 1));
	for (int i = 0; i < count; i++)
		lookup->sorted[i] = i;
	sort_names = lookup;
	qsort(lookup->sorted, count, sizeof(int), sorted_index_compare);
	sort_names = NULL;
	for (int i = 1; i < count; i++)
	{
		int			a = lookup->sorted[i - 1];
		int			b = lookup->sorted[i];

		if (name_compare(names[a], lengths[a], names[b], lengths[b]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("category \"%s\" appears more than once in feature \"%s\"",
							names[b], feature),
					 errdetail("Categories %d and %d have the same name.", Min(a, b), Max(a, b)),
					 errhint("A feature's categories are its category codes' names, one per code, all different.")));
	}
	return lookup;
}

/* The code of a name, or -1 (an unseen category) if the feature has no such name. */
float
categories_code(const CategoryNames *lookup, const char *name, int len)
{
	int			low = 0;
	int			high = lookup->count - 1;

	while (low <= high)
	{
		int			mid = low + (high - low) / 2;
		int			code = lookup->sorted[mid];
		int			cmp = name_compare(lookup->names[code], lookup->lengths[code], name, len);

		if (cmp == 0)
			return (float) code;
		if (cmp < 0)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return -1.0f;
}

static int
feature_index(char **feature_names, int num_features, const char *name)
{
	for (int f = 0; f < num_features; f++)
		if (strcmp(feature_names[f], name) == 0)
			return f;
	return -1;
}

/*
 * One feature's names from a jsonb array of strings, into names/lengths
 * (palloc'd in "context"); the count.
 */
static int
names_from_array(JsonbValue *array, const char *feature, char ***names, int **lengths,
				 MemoryContext context)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			count = 0;
	int			capacity;

	if (array->type != jbvBinary || !JsonContainerIsArray(array->val.binary.data) ||
		JsonContainerSize(array->val.binary.data) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("categories of feature \"%s\" must be a non-empty array of strings", feature),
				 errhint("Give the names of the feature's categories in code order: the name of code 0 first.")));
	capacity = JsonContainerSize(array->val.binary.data);
	if (capacity > FOREST_MAX_CATEGORY)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature \"%s\" has %d categories, more than XGBoost tells apart", feature, capacity),
				 errdetail("Category codes are floats, exact only below %d.", FOREST_MAX_CATEGORY)));
	*names = MemoryContextAlloc(context, sizeof(char *) * capacity);
	*lengths = MemoryContextAlloc(context, sizeof(int) * capacity);
	it = JsonbIteratorInit(array->val.binary.data);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token != WJB_ELEM)
			continue;
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("categories of feature \"%s\" must be a non-empty array of strings", feature),
					 errdetail("Element %d is not a string.", count + 1)));
		(*names)[count] = MemoryContextAlloc(context, v.val.string.len + 1);
		memcpy((*names)[count], v.val.string.val, v.val.string.len);
		(*names)[count][v.val.string.len] = '\0';
		(*lengths)[count] = v.val.string.len;
		count++;
	}
	return count;
}

/*
 * The catalog's categories document as one lookup per feature (NULL where a
 * feature has none), in "context"; NULL for a NULL document.  The document
 * was checked when the model was loaded; it is checked again here, as a
 * table owner may have written it.
 */
CategoryNames **
categories_build(Jsonb *doc, char **feature_names, int num_features, MemoryContext context)
{
	CategoryNames **lookups;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	char	   *key = NULL;

	if (doc == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("categories must be a JSON object"),
				 errdetail("The categories argument is a JSON %s.", JB_ROOT_IS_SCALAR(doc) ? "scalar" : "array"),
				 errhint("Pass an object whose keys are feature names and whose values are arrays of category names in code order.")));
	lookups = MemoryContextAllocZero(context, sizeof(CategoryNames *) * Max(num_features, 1));
	it = JsonbIteratorInit(&doc->root);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			f;
		char	  **names;
		int		   *lengths;
		int			count;

		if (token == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (token != WJB_VALUE)
			continue;
		f = feature_index(feature_names, num_features, key);
		if (f < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("categories name feature \"%s\", which the model does not have", key),
					 errhint("The keys of categories are the model's feature names.")));
		count = names_from_array(&v, key, &names, &lengths, context);
		lookups[f] = build_lookup(names, lengths, count, feature_names[f], context);
	}
	return lookups;
}

/* Whether two lists of names are the same, in the same order. */
static bool
same_names(char **a, int na, char **b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static void
push_feature(JsonbParseState **state, const char *feature, char **names, int count)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) feature;
	v.val.string.len = strlen(feature);
	pushJsonbValue(state, WJB_KEY, &v);
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < count; i++)
	{
		v.val.string.val = names[i];
		v.val.string.len = strlen(names[i]);
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * The categories document to store with a model: the names the model keeps
 * ("cats"), and those "given" (may be NULL) for the features it has none
 * for, keyed by "feature_names" (the names the model is stored with).
 * Given names must be for a categorical feature and must agree with any
 * the model keeps.  NULL when no feature has names.
 */
Jsonb *
categories_effective(const ModelInfo *info, char **feature_names, Jsonb *given)
{
	int			n = info->num_features;
	CategoryNames **lookups = categories_build(given, feature_names, n, CurrentMemoryContext);
	JsonbParseState *state = NULL;
	bool		any = false;
	Jsonb	   *result;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int f = 0; f < n; f++)
	{
		char	  **model_names = info->category_names ? info->category_names[f] : NULL;
		int			model_count = model_names ? info->num_category_names[f] : 0;

		if (lookups != NULL && lookups[f] != NULL)
		{
			if (!info->categorical[f])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is not categorical in the model", feature_names[f]),
						 errdetail("The model's feature_types do not mark it \"c\", and no categorical split tests it."),
						 errhint("Give categories only for features the model was trained on as categorical.")));
			if (model_names != NULL &&
				!same_names(model_names, model_count, lookups[f]->names, lookups[f]->count))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("categories of feature \"%s\" differ from those stored in the model",
								feature_names[f]),
						 errdetail("The model names %d categories for it, the first \"%s\"; %d were given, the first \"%s\".",
								   model_count, model_names[0], lookups[f]->count,
								   lookups[f]->names[0]),
						 errhint("Leave the feature out of categories: the model's own names are used.")));
			push_feature(&state, feature_names[f], lookups[f]->names, lookups[f]->count);
			any = true;
		}
		else if (model_names != NULL)
		{
			push_feature(&state, feature_names[f], model_names, model_count);
			any = true;
		}
	}
	if (!any)
		return NULL;
	result = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	/* the model's own names, checked as scoring will read them */
	(void) categories_build(result, feature_names, n, CurrentMemoryContext);
	return result;
}
