/*-------------------------------------------------------------------------
 *
 * modeldoc.h
 *		A parsed XGBoost model document (JSON or UBJSON), before validation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MODELDOC_H
#define MODELDOC_H

typedef enum DocKind
{
	DOC_NULL,
	DOC_BOOL,
	DOC_NUMBER,
	DOC_STRING,
	DOC_ARRAY,					/* elements of any kind, in items */
	DOC_NUMARRAY,				/* elements all numbers or booleans, in numbers */
	DOC_OBJECT
} DocKind;

typedef struct DocValue
{
	DocKind		kind;
	int			count;			/* elements of an array or object */
	union
	{
		bool		boolean;
		double		number;
		char	   *string;		/* NUL-terminated */
		struct DocValue **items;	/* DOC_ARRAY elements, DOC_OBJECT values */
		double	   *numbers;	/* DOC_NUMARRAY */
	}			u;
	char	  **keys;			/* DOC_OBJECT keys, NUL-terminated */
	/*
	 * A UBJSON string value's or typed array's bytes in the input, marker to
	 * end, and a typed array's element type; else 0, 0, 0.
	 */
	Size		src_start;
	Size		src_end;
	char		ubj_type;
} DocValue;

/* Deepest nesting accepted; XGBoost's own models nest 6 levels. */
#define DOC_MAX_DEPTH 32

extern DocValue *doc_parse_json(const char *data, Size len);
extern DocValue *doc_parse_ubjson(const char *data, Size len);
extern DocValue *doc_get(const DocValue *object, const char *key);
extern const char *doc_kind_name(DocKind kind);

#endif							/* MODELDOC_H */
