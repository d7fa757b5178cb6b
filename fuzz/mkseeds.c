/*-------------------------------------------------------------------------
 *
 * mkseeds.c
 *		Write the seed corpora for the fuzz targets.
 *
 *	mkseeds model OUTDIR MODEL...	the models as given; the XGBoost UBJSON
 *									inside a fraud_score model document; each
 *									model in the other format; trimmed and
 *									broken variants; a few malformed byte strings
 *	mkseeds forest OUTDIR MODEL...	the stored forests of the models (as
 *									forest_to_bytes writes them), and a few
 *									damaged ones
 *	mkseeds features OUTDIR			random byte strings (fuzz_features decodes
 *									any bytes into documents)
 *	mkseeds convert IN OUT			a model in the other format (JSON <-> UBJSON)
 *
 * Owns only seed making.  Models are read with modeldoc.c's parsers (through
 * the same shim as the fuzz targets) and written back by the small JSON and
 * UBJSON writers below, which write UBJSON the way XGBoost does: int64
 * lengths, typed arrays for numbers.  The variants break one rule each of
 * those model_validate enforces, so that the fuzzer starts next to every
 * refusal as well as next to valid models.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "port/pg_bswap.h"

#include "fraud_score.h"
#include "forest.h"
#include "modeldoc.h"
#include "shim.h"

static const char *outdir;

static void
write_file(const char *name, const char *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		shim_fail("could not write \"%s\": %m", path);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	long		size;
	char	   *data;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
		shim_fail("could not read \"%s\": %m", path);
	data = palloc(size + 1);
	if (fread(data, 1, size, f) != (size_t) size)
		shim_fail("could not read \"%s\": %m", path);
	fclose(f);
	data[size] = '\0';
	*len = size;
	return data;
}

/* -------------------------------------------------------------- writers */

static bool
is_integral(double x, double limit)
{
	return isfinite(x) && x == floor(x) && fabs(x) <= limit;
}

static bool
is_float32(double x)
{
	return !isfinite(x) || (fabs(x) <= FLT_MAX && (double) (float) x == x);
}

static void
ubj_length(StringInfo buf, int64 n)
{
	uint64		be = pg_hton64((uint64) n);

	appendStringInfoChar(buf, 'L');
	appendBinaryStringInfo(buf, (char *) &be, sizeof(be));
}

static void
ubj_key(StringInfo buf, const char *s)
{
	ubj_length(buf, strlen(s));
	appendBinaryStringInfo(buf, s, strlen(s));
}

/* One number, without its marker, as "type" says. */
static void
ubj_payload(StringInfo buf, char type, double x)
{
	switch (type)
	{
		case 'U':
			appendStringInfoChar(buf, (char) (uint8) x);
			break;
		case 'i':
			appendStringInfoChar(buf, (char) (int8) x);
			break;
		case 'l':
			{
				uint32		be = pg_hton32((uint32) (int32) x);

				appendBinaryStringInfo(buf, (char *) &be, sizeof(be));
				break;
			}
		case 'L':
			{
				uint64		be = pg_hton64((uint64) (int64) x);

				appendBinaryStringInfo(buf, (char *) &be, sizeof(be));
				break;
			}
		case 'd':
			{
				float		f = (float) x;
				uint32		bits;

				memcpy(&bits, &f, sizeof(bits));
				bits = pg_hton32(bits);
				appendBinaryStringInfo(buf, (char *) &bits, sizeof(bits));
				break;
			}
		default:
			{
				uint64		bits;

				memcpy(&bits, &x, sizeof(bits));
				bits = pg_hton64(bits);
				appendBinaryStringInfo(buf, (char *) &bits, sizeof(bits));
				break;
			}
	}
}

static char
number_type(double x)
{
	if (is_integral(x, 127))
		return 'i';
	if (is_integral(x, PG_INT32_MAX))
		return 'l';
	if (is_integral(x, 9e18))
		return 'L';
	return is_float32(x) ? 'd' : 'D';
}

/* The narrowest element type XGBoost would use for these numbers. */
static char
array_type(const double *x, int n)
{
	bool		u8 = true,
				i32 = true,
				f32 = true;

	for (int i = 0; i < n; i++)
	{
		u8 &= is_integral(x[i], 255) && x[i] >= 0;
		i32 &= is_integral(x[i], PG_INT32_MAX);
		f32 &= is_float32(x[i]);
	}
	return u8 ? 'U' : i32 ? 'l' : f32 ? 'd' : 'D';
}

static void
write_ubjson(StringInfo buf, const DocValue *v)
{
	switch (v->kind)
	{
		case DOC_NULL:
			appendStringInfoChar(buf, 'Z');
			break;
		case DOC_BOOL:
			appendStringInfoChar(buf, v->u.boolean ? 'T' : 'F');
			break;
		case DOC_NUMBER:
			appendStringInfoChar(buf, number_type(v->u.number));
			ubj_payload(buf, number_type(v->u.number), v->u.number);
			break;
		case DOC_STRING:
			appendStringInfoChar(buf, 'S');
			ubj_key(buf, v->u.string);
			break;
		case DOC_ARRAY:
			appendStringInfoString(buf, "[#");
			ubj_length(buf, v->count);
			for (int i = 0; i < v->count; i++)
				write_ubjson(buf, v->u.items[i]);
			break;
		case DOC_NUMARRAY:
			{
				char		type = array_type(v->u.numbers, v->count);

				appendStringInfoString(buf, "[$");
				appendStringInfoChar(buf, type);
				appendStringInfoChar(buf, '#');
				ubj_length(buf, v->count);
				for (int i = 0; i < v->count; i++)
					ubj_payload(buf, type, v->u.numbers[i]);
				break;
			}
		case DOC_OBJECT:
			appendStringInfoChar(buf, '{');
			for (int i = 0; i < v->count; i++)
			{
				ubj_key(buf, v->keys[i]);
				write_ubjson(buf, v->u.items[i]);
			}
			appendStringInfoChar(buf, '}');
			break;
	}
}

static void
json_string(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfo(buf, "\\%c", *s);
		else if ((unsigned char) *s < 0x20)
			appendStringInfo(buf, "\\u%04x", (unsigned char) *s);
		else
			appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

static void
json_number(StringInfo buf, double x)
{
	if (is_integral(x, 1e15))
		appendStringInfo(buf, "%lld", (long long) x);
	else if (is_float32(x))
		appendStringInfo(buf, "%.9g", x);
	else
		appendStringInfo(buf, "%.17g", x);
}

static void
write_json(StringInfo buf, const DocValue *v)
{
	switch (v->kind)
	{
		case DOC_NULL:
			appendStringInfoString(buf, "null");
			break;
		case DOC_BOOL:
			appendStringInfoString(buf, v->u.boolean ? "true" : "false");
			break;
		case DOC_NUMBER:
			json_number(buf, v->u.number);
			break;
		case DOC_STRING:
			json_string(buf, v->u.string);
			break;
		case DOC_ARRAY:
		case DOC_NUMARRAY:
			appendStringInfoChar(buf, '[');
			for (int i = 0; i < v->count; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				if (v->kind == DOC_ARRAY)
					write_json(buf, v->u.items[i]);
				else
					json_number(buf, v->u.numbers[i]);
			}
			appendStringInfoChar(buf, ']');
			break;
		case DOC_OBJECT:
			appendStringInfoChar(buf, '{');
			for (int i = 0; i < v->count; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				json_string(buf, v->keys[i]);
				appendStringInfoChar(buf, ':');
				write_json(buf, v->u.items[i]);
			}
			appendStringInfoChar(buf, '}');
			break;
	}
}

static void
save_doc(const char *name, const DocValue *root, bool ubjson)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (ubjson)
		write_ubjson(&buf, root);
	else
		write_json(&buf, root);
	write_file(name, buf.data, buf.len);
	pfree(buf.data);
}

/* ------------------------------------------------------------ variants */

/* A value by path, "a/b/0/c": keys of objects, indexes of arrays. */
static DocValue *
at(DocValue *v, const char *path)
{
	char	   *copy = pstrdup(path);

	for (char *part = strtok(copy, "/"); part != NULL; part = strtok(NULL, "/"))
	{
		if (v != NULL && v->kind == DOC_OBJECT)
			v = doc_get(v, part);
		else if (v != NULL && v->kind == DOC_ARRAY && atoi(part) < v->count)
			v = v->u.items[atoi(part)];
		else
			v = NULL;
	}
	if (v == NULL)
		shim_fail("seed model has no \"%s\"", path);
	return v;
}

#define TREES "learner/gradient_booster/model/trees"
#define TREE0 TREES "/0"
#define GBTREE_PARAM "learner/gradient_booster/model/gbtree_model_param"
#define LEARNER_PARAM "learner/learner_model_param"

static double *
numbers(DocValue *root, const char *path)
{
	DocValue   *v = at(root, path);

	if (v->kind != DOC_NUMARRAY)
		shim_fail("\"%s\" is not a numeric array", path);
	return v->u.numbers;
}

static void
set_string(DocValue *root, const char *path, const char *value)
{
	DocValue   *v = at(root, path);

	v->kind = DOC_STRING;
	v->u.string = pstrdup(value);
}

static void
trim_trees(DocValue *root, int count)
{
	at(root, TREES)->count = count;
	at(root, "learner/gradient_booster/model/tree_info")->count = count;
	set_string(root, GBTREE_PARAM "/num_trees", psprintf("%d", count));
}

static int
first_leaf(DocValue *root)
{
	DocValue   *left = at(root, TREE0 "/left_children");

	for (int i = 0; i < left->count; i++)
		if (left->u.numbers[i] == -1)
			return i;
	shim_fail("tree 0 has no leaf");
}

/* One broken (or, last, still valid) variant of a model; false past the last. */
static bool
mutate(DocValue *root, int which, const char **name)
{
	double	   *left = numbers(root, TREE0 "/left_children");
	double	   *right = numbers(root, TREE0 "/right_children");
	int			num_nodes = at(root, TREE0 "/left_children")->count;

	switch (which)
	{
		case 0:
			*name = "child-out-of-range";
			left[0] = num_nodes;
			break;
		case 1:
			*name = "child-is-root";
			left[0] = 0;
			break;
		case 2:
			*name = "wrong-parent";
			numbers(root, TREE0 "/parents")[(int) left[0]] = right[0];
			break;
		case 3:
			*name = "shared-child";
			left[0] = right[0];
			break;
		case 4:
			*name = "negative-child";
			left[0] = -2;
			break;
		case 5:
			*name = "split-feature-out-of-range";
			numbers(root, TREE0 "/split_indices")[0] = 5;
			break;
		case 6:
			*name = "nan-condition";
			numbers(root, TREE0 "/split_conditions")[0] = NAN;
			break;
		case 7:
			*name = "leaf-beyond-float";
			numbers(root, TREE0 "/split_conditions")[first_leaf(root)] = 1e39;
			break;
		case 8:
			*name = "default-left-2";
			numbers(root, TREE0 "/default_left")[0] = 2;
			break;
		case 9:
			*name = "categorical-split";
			numbers(root, TREE0 "/split_type")[0] = 1;
			break;
		case 10:
			*name = "num-nodes-mismatch";
			set_string(root, TREE0 "/tree_param/num_nodes", "1000");
			break;
		case 11:
			*name = "leaf-vector";
			set_string(root, TREE0 "/tree_param/size_leaf_vector", "2");
			break;
		case 12:
			*name = "num-trees-mismatch";
			set_string(root, GBTREE_PARAM "/num_trees", "21");
			break;
		case 13:
			*name = "tree-info-group-1";
			numbers(root, "learner/gradient_booster/model/tree_info")[1] = 1;
			break;
		case 14:
			*name = "tree-id";
			at(root, TREES "/1/id")->u.number = 5;
			break;
		case 15:
			*name = "base-score-1";
			set_string(root, LEARNER_PARAM "/base_score", "1");
			break;
		case 16:
			*name = "base-score-text";
			set_string(root, LEARNER_PARAM "/base_score", "0.5x");
			break;
		case 17:
			*name = "num-class-3";
			set_string(root, LEARNER_PARAM "/num_class", "3");
			break;
		case 18:
			*name = "num-feature-0";
			set_string(root, LEARNER_PARAM "/num_feature", "0");
			break;
		case 19:
			*name = "objective";
			set_string(root, "learner/objective/name", "reg:squarederror");
			break;
		case 20:
			*name = "gblinear";
			set_string(root, "learner/gradient_booster/name", "gblinear");
			break;
		case 21:
			*name = "fewer-feature-names";
			at(root, "learner/feature_names")->count = 4;
			break;
		case 22:
			*name = "invalid-utf8-feature-name";
			set_string(root, "learner/feature_names/0", "\xff\xfe");
			break;
		case 23:
			*name = "valid-no-feature-names";
			at(root, "learner/feature_names")->count = 0;
			break;
		case 24:
			*name = "valid-no-trees";
			trim_trees(root, 0);
			break;
		case 25:
			*name = "valid-one-tree";
			trim_trees(root, 1);
			break;
		case 26:
			{
				/* tree 0 reduced to its root, as a leaf */
				static const char *const arrays[] = {
					"left_children", "right_children", "parents", "split_indices",
					"split_conditions", "default_left", "base_weights", "loss_changes",
					"sum_hessian", "split_type"
				};

				*name = "valid-leaf-only-tree";
				for (size_t i = 0; i < lengthof(arrays); i++)
					at(root, psprintf(TREE0 "/%s", arrays[i]))->count = 1;
				left[0] = right[0] = -1;
				set_string(root, TREE0 "/tree_param/num_nodes", "1");
				break;
			}
		default:
			return false;
	}
	return true;
}

/*
 * The smallest valid model (one feature, no trees) with one value replaced
 * by one of another kind or count, so that every "is a ..., not a ..." and
 * count check has a seed next to it: whole-value substitutions in a large
 * JSON document are hard for a byte mutator to make.
 */
static void
kind_seeds(void)
{
	static const char *const skeleton =
	"{\"learner\":{\"feature_names\":@0,\"objective\":@1,"
	"\"learner_model_param\":{\"num_feature\":@2,\"num_class\":\"0\",\"base_score\":@3},"
	"\"gradient_booster\":{\"name\":@4,\"model\":{\"gbtree_model_param\":"
	"{\"num_trees\":@5,\"num_parallel_tree\":\"1\"},\"trees\":@6,\"tree_info\":@7}}}}";
	static const char *const valid[] = {
		"[\"a\"]", "{\"name\":\"binary:logistic\"}", "\"1\"", "\"5E-1\"", "\"gbtree\"",
		"\"0\"", "[]", "[]"
	};
	static const struct
	{
		int			slot;
		const char *value;
	}			variants[] = {
		{0, "\"a\""}, {0, "{\"a\":1}"}, {0, "[1]"}, {0, "[\"a\",\"b\"]"}, {0, "[null]"},
		{1, "\"binary:logistic\""}, {1, "{\"name\":true}"}, {1, "[]"},
		{2, "1"}, {2, "true"}, {2, "1.5"}, {2, "\"1e400\""}, {2, "null"},
		{3, "0.5"}, {3, "[0.5]"}, {3, "\"nan\""}, {3, "1e400"}, {3, "false"},
		{4, "1"}, {4, "{}"},
		{5, "\"1\""}, {5, "0"}, {5, "\"-1\""},
		{6, "{}"}, {6, "[1]"}, {6, "[[]]"}, {6, "null"},
		{7, "[0]"}, {7, "{}"}, {7, "[\"0\"]"},
	};

	for (size_t v = 0; v <= lengthof(variants); v++)
	{
		StringInfoData buf;
		bool		one_tree;

		/* a tree in place: the counts say one tree, so the tree itself is looked at */
		one_tree = v < lengthof(variants) && variants[v].slot == 6 && variants[v].value[0] == '[';
		initStringInfo(&buf);
		for (const char *p = skeleton; *p; p++)
		{
			if (*p == '@')
			{
				int			slot = *++p - '0';

				if (v < lengthof(variants) && variants[v].slot == slot)
					appendStringInfoString(&buf, variants[v].value);
				else if (one_tree && (slot == 5 || slot == 7))
					appendStringInfoString(&buf, slot == 5 ? "\"1\"" : "[0]");
				else
					appendStringInfoString(&buf, valid[slot]);
			}
			else
				appendStringInfoChar(&buf, *p);
		}
		write_file(v < lengthof(variants) ? psprintf("kind-%02zu.json", v) : "kind-valid.json",
				   buf.data, buf.len);
		pfree(buf.data);
	}
	{
		const char *scalars = "{\"a\":[true,false,null,\"s\",{}],\"b\":true,\"c\":null}";

		write_file("kind-scalars.json", scalars, strlen(scalars));
	}
}

/* Byte strings near the format checks. */
static void
malformed_seeds(const char *json, size_t json_len, const char *ubj, size_t ubj_len)
{
	StringInfoData buf;

	write_file("raw-binf", "binf\0\0\0\0\0\0\0\0", 12);
	write_file("raw-leading-space", " {\"learner\":{}}", 15);
	write_file("raw-empty-object", "{}", 2);
	write_file("raw-no-learner", "{\"learner\":{}}", 14);
	write_file("raw-duplicate-key", "{\"learner\":{},\"learner\":{}}", 27);
	write_file("raw-json-escapes", "{\"learner\":{\"feature_names\":[\"\\u00e9\",\"\\ud83d\\ude00\",\"\\ud800\"]}}", 63);
	write_file("raw-ubj-char-marker", "{L\0\0\0\0\0\0\0\1aCA}", 14);
	write_file("raw-ubj-noop-marker", "{L\0\0\0\0\0\0\0\1aN}", 13);
	write_file("raw-ubj-huge-count", "{L\0\0\0\0\0\0\0\1a[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff}", 25);
	write_file("raw-ubj-typed-null", "{L\0\0\0\0\0\0\0\1a[$Z#L\0\0\0\0\0\0\0\xff}", 25);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"a\":");
	for (int i = 0; i < 40; i++)
		appendStringInfoChar(&buf, '[');
	for (int i = 0; i < 40; i++)
		appendStringInfoChar(&buf, ']');
	appendStringInfoChar(&buf, '}');
	write_file("raw-json-deep", buf.data, buf.len);

	resetStringInfo(&buf);
	appendBinaryStringInfo(&buf, "{L\0\0\0\0\0\0\0\1a", 11);
	for (int i = 0; i < 40; i++)
		appendStringInfoChar(&buf, '[');
	for (int i = 0; i < 40; i++)
		appendStringInfoChar(&buf, ']');
	appendStringInfoChar(&buf, '}');
	write_file("raw-ubj-deep", buf.data, buf.len);

	write_file("raw-json-truncated", json, json_len / 2);
	write_file("raw-ubj-truncated-100", ubj, Min(ubj_len, 100));
	write_file("raw-ubj-truncated-half", ubj, ubj_len / 2);
	write_file("raw-ubj-truncated-1", ubj, ubj_len - 1);
}

/* ---------------------------------------------------------------- model */

static bool
is_ubjson(const char *data, size_t len)
{
	return len >= 2 && data[0] == '{' && strchr("iUIlL$#", data[1]) != NULL;
}

static DocValue *
parse(const char *data, size_t len)
{
	return is_ubjson(data, len) ? doc_parse_ubjson(data, len) : doc_parse_json(data, len);
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	char	   *name = pstrdup(slash ? slash + 1 : path);
	char	   *dot = strrchr(name, '.');

	if (dot != NULL)
		*dot = '\0';
	return name;
}

static void
model_seeds(int nfiles, char **files)
{
	const char *small_json = NULL,
			   *small_ubj = NULL;
	size_t		small_json_len = 0,
				small_ubj_len = 0;

	for (int i = 0; i < nfiles; i++)
	{
		size_t		len;
		char	   *data = read_file(files[i], &len);
		const char *name = base_name(files[i]);
		DocValue   *root = parse(data, len);
		DocValue   *embedded = doc_get(root, "model_ubj_base64");
		bool		ubjson = is_ubjson(data, len);

		if (embedded != NULL && embedded->kind == DOC_STRING)
		{
			/* a fraud_score model document: the model is inside */
			const char *b64 = embedded->u.string;
			int			max = pg_b64_dec_len(strlen(b64));

			data = palloc(max);
			len = pg_b64_decode(b64, strlen(b64), data, max);
			if ((int) len < 0)
				shim_fail("bad base64 in \"%s\"", files[i]);
			root = doc_parse_ubjson(data, len);
			ubjson = true;
			write_file(psprintf("%s.ubj", name), data, len);

			/* smaller versions: one group of trees, a group and a bit, two */
			for (int k = 0; k < 3; k++)
			{
				int			count = k == 0 ? 8 : k == 1 ? 9 : 17;

				root = doc_parse_ubjson(data, len);
				trim_trees(root, count);
				save_doc(psprintf("%s-%dtrees.ubj", name, count), root, true);
				if (k == 1)
					save_doc(psprintf("%s-%dtrees.json", name, count), root, false);
			}
			continue;
		}
		write_file(psprintf("%s.%s", name, ubjson ? "ubj" : "json"), data, len);
		save_doc(psprintf("%s-converted.%s", name, ubjson ? "json" : "ubj"), root, !ubjson);
		if (doc_get(root, "learner") == NULL || strcmp(name, "small") != 0)
			continue;
		if (ubjson)
		{
			small_ubj = data;
			small_ubj_len = len;
			/* every variant of the one model with a forest, as UBJSON */
			for (int m = 0;; m++)
			{
				const char *variant;

				root = doc_parse_ubjson(data, len);
				if (!mutate(root, m, &variant))
					break;
				save_doc(psprintf("%s-%s.ubj", name, variant), root, true);
				if (m % 4 == 0)
					save_doc(psprintf("%s-%s.json", name, variant), root, false);
			}
		}
		else
		{
			small_json = data;
			small_json_len = len;
		}
	}
	if (small_json == NULL || small_ubj == NULL)
		shim_fail("mkseeds model needs small.json and small.ubj");
	malformed_seeds(small_json, small_json_len, small_ubj, small_ubj_len);
	kind_seeds();
}

/* --------------------------------------------------------------- forest */

#define SHA256_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void
forest_seeds(int nfiles, char **files)
{
	for (int i = 0; i < nfiles; i++)
	{
		size_t		len;
		char	   *data = read_file(files[i], &len);
		const char *name = base_name(files[i]);
		ModelInfo	info;
		bytea	   *stored;
		char	   *bytes;
		size_t		n;

		model_validate(data, len, &info, CurrentMemoryContext);
		if (info.forest == NULL)
			continue;
		stored = forest_to_bytes(info.forest, SHA256_HEX);
		bytes = VARDATA(stored);
		n = VARSIZE(stored) - VARHDRSZ;
		write_file(psprintf("%s.forest", name), bytes, n);
		if (i > 0)
			continue;

		/* damaged copies of the first: each refused for one reason */
		write_file(psprintf("%s-truncated.forest", name), bytes, n - 1);
		bytes[0] ^= 1;			/* magic */
		write_file(psprintf("%s-magic.forest", name), bytes, n);
		bytes[0] ^= 1;
		bytes[n - 1] ^= 0x40;	/* a leaf value's exponent */
		write_file(psprintf("%s-leaf.forest", name), bytes, n);
		bytes[n - 1] ^= 0x40;
		bytes[28 + 3] ^= 0x7f;	/* the base margin */
		write_file(psprintf("%s-margin.forest", name), bytes, n);
	}
}

/* ------------------------------------------------------------- features */

static void
features_seeds(void)
{
	uint64		state = 20240601;

	for (int i = 0; i < 48; i++)
	{
		size_t		len = 8 + (i * 97) % 2048;
		char	   *data = palloc(len);

		for (size_t j = 0; j < len; j++)
		{
			state = state * UINT64CONST(6364136223846793005) + UINT64CONST(1442695040888963407);
			data[j] = (char) (state >> 56);
		}
		write_file(psprintf("random-%02d", i), data, len);
	}
}

/* A model in the other format, for writing a reproducer by hand in JSON. */
static void
convert(const char *in, const char *out)
{
	size_t		len;
	char	   *data = read_file(in, &len);
	bool		ubjson = is_ubjson(data, len);
	StringInfoData buf;
	FILE	   *f;

	initStringInfo(&buf);
	if (ubjson)
		write_json(&buf, doc_parse_ubjson(data, len));
	else
		write_ubjson(&buf, doc_parse_json(data, len));
	f = fopen(out, "wb");
	if (f == NULL || fwrite(buf.data, 1, buf.len, f) != (size_t) buf.len || fclose(f) != 0)
		shim_fail("could not write \"%s\": %m", out);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (argc < 3 || (strcmp(mode, "model") != 0 && strcmp(mode, "forest") != 0 &&
					 strcmp(mode, "features") != 0 &&
					 (strcmp(mode, "convert") != 0 || argc != 4)))
	{
		fprintf(stderr, "usage: %s model OUTDIR MODEL... | forest OUTDIR MODEL... | features OUTDIR | convert IN OUT\n",
				argv[0]);
		return 2;
	}
	outdir = argv[2];
	(void) shim_iteration_begin();
	if (strcmp(mode, "model") == 0)
		model_seeds(argc - 3, argv + 3);
	else if (strcmp(mode, "forest") == 0)
		forest_seeds(argc - 3, argv + 3);
	else if (strcmp(mode, "features") == 0)
		features_seeds();
	else
		convert(argv[2], argv[3]);
	shim_iteration_end();
	return 0;
}
