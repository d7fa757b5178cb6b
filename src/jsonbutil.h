/*-------------------------------------------------------------------------
 *
 * jsonbutil.h
 *		jsonbutil.c: an object's member by key, and a key pushed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef JSONBUTIL_H
#define JSONBUTIL_H

#include "utils/jsonb.h"

extern JsonbValue *jsonb_member(JsonbContainer *object, const char *key);
extern void jsonb_push_key(JsonbParseState **state, const char *key);

#endif							/* JSONBUTIL_H */
