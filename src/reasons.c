/*-------------------------------------------------------------------------
 *
 * reasons.c
 *		A row's explanation as reasons: contributions ranked, named by the
 *		model version's reason texts, and as the trigger writes them.
 *
 * Owns the ranking both fraud_explain (score.c) and the trigger's reasons
 * column (trigger.c) use: features whose contribution is not zero, by
 * |contribution| descending, ties in the model's feature order; the
 * reason text (the version's text for the feature, when its direction, if
 * any, is the contribution's sign; else the feature's name); and the
 * trigger's output forms, text[] of reason texts and a jsonb array of
 * {feature, value, contribution, reason}.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "fraud_score.h"
#include "jsonbutil.h"

/* qsort_arg's comparator: |contribution| descending, then feature order. */
static int
compare_reasons(const void *a, const void *b, void *arg)
{
	const double *phi = arg;
	int			fa = *(const int *) a;
	int			fb = *(const int *) b;
	double		ma = fabs(phi[fa]);
	double		mb = fabs(phi[fb]);

	if (ma != mb)
		return ma > mb ? -1 : 1;
	return fa < fb ? -1 : fa > fb;
}

/*
 * The explanation of "inputs" by "method" (an ExplainMethod), ranked:
 * *reasons gets up to top_k (all if top_k < 0) entries, only those that
 * raise the score if "raising_only"; *bias the bias.  Returns the count.
 */
int
reasons_rank(FraudModel *model, const double *inputs, int method, int top_k, bool raising_only,
			 Reason **reasons, double *bias)
{
	double	   *phi = palloc(sizeof(double) * Max(model->num_features, 1));
	int		   *order = palloc(sizeof(int) * Max(model->num_features, 1));
	int			count = 0;
	Reason	   *out;

	*bias = scoring_explain(model, inputs, method, phi);
	for (int f = 0; f < model->num_features; f++)
		if (raising_only ? phi[f] > 0.0 : phi[f] != 0.0)
			order[count++] = f;
	qsort_arg(order, count, sizeof(int), compare_reasons, phi);
	if (top_k >= 0)
		count = Min(count, top_k);
	out = palloc(sizeof(Reason) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		int			f = order[i];

		out[i].feature = f;
		out[i].value = inputs[f];
		out[i].contribution = phi[f];
		out[i].text = reasons_text(model, f, phi[f]);
	}
	pfree(order);
	pfree(phi);
	*reasons = out;
	return count;
}

/* The reason text of feature f contributing "contribution". */
const char *
reasons_text(FraudModel *model, int f, double contribution)
{
	if (model->reason_text != NULL && model->reason_text[f] != NULL &&
		(model->reason_direction[f] == 0 ||
		 (model->reason_direction[f] > 0) == (contribution > 0.0)))
		return model->reason_text[f];
	return model->feature_names[f];
}

/* The reasons as text[] of their texts. */
Datum
reasons_text_array(const Reason *reasons, int count)
{
	Datum	   *values = palloc(sizeof(Datum) * Max(count, 1));

	for (int i = 0; i < count; i++)
		values[i] = CStringGetTextDatum(reasons[i].text);
	return PointerGetDatum(construct_array(values, count, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
push_string(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	v;

	jsonb_push_key(state, key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* A number as jsonb has it (null for a missing value). */
static void
push_number(JsonbParseState **state, const char *key, double value)
{
	JsonbValue	v;

	jsonb_push_key(state, key);
	if (isnan(value))
		v.type = jbvNull;
	else if (isinf(value))
	{
		/* as to_jsonb(float8) writes it */
		v.type = jbvString;
		v.val.string.val = value > 0 ? "Infinity" : "-Infinity";
		v.val.string.len = strlen(v.val.string.val);
	}
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
															Float8GetDatum(value)));
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* The reasons as a jsonb array of {feature, value, contribution, reason}. */
Datum
reasons_jsonb(FraudModel *model, const Reason *reasons, int count)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < count; i++)
	{
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "feature", model->feature_names[reasons[i].feature]);
		push_number(&state, "value", reasons[i].value);
		push_number(&state, "contribution", reasons[i].contribution);
		push_string(&state, "reason", reasons[i].text);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	result = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}
