/*-------------------------------------------------------------------------
 *
 * jsonbutil.c
 *		The two jsonb steps that catalogs, definitions, row documents and
 *		explanations all take: finding an object's member by key, and
 *		pushing a key while building an object.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/jsonb.h"

#include "jsonbutil.h"

/* The member "key" of an object container, or NULL when it has none. */
JsonbValue *
jsonb_member(JsonbContainer *object, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(object, JB_FOBJECT, &k);
}

void
jsonb_push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}
