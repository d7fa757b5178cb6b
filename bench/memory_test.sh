#!/usr/bin/env bash
# Memory: scoring 1,000,000 rows in one backend must not grow it.
#
# On a throwaway cluster, each configuration below runs in a fresh backend: a
# warm-up chunk of 100,000 scores, a measurement, 1,000,000 more scores in
# chunks of 100,000 (one statement each, new values in every chunk), and a
# second measurement.  Measured: the backend's memory contexts (sum of
# total_bytes in pg_backend_memory_contexts) and the process's RssAnon in
# /proc/<pid>/status (read by this script, so it sees what XGBoost allocates
# outside palloc too).  It fails if either grows by 1 MB or more in any
# configuration:
#   function path: SELECT count(fraud_score(jsonb_build_object(...), model))
#     FROM generate_series(...), native and xgboost engines, and models with a
#     SQL and a PL/pgSQL feature function (jsonb) RETURNS jsonb;
#   trigger path: INSERT ... SELECT into a table with fraud_score_trigger
#     (score, decision and version columns), native and xgboost engines, a
#     model with the PL/pgSQL feature function, and one whose feature
#     function fails on every third row under fraud_score.on_error = review.
# The model is the fixture test/fixtures/small.ubj (20 trees, 5 features).
# Nothing is timed.  Prints a table; exit status 1 on failure.
#
# Usage: bench/memory_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MEMORY_TEST_IN_CLUSTER:-}" ]; then
	export MEMORY_TEST_IN_CLUSTER=1
	# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
	exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' bash "$0" "$@"
fi

chunk=100000
chunks=10
limit=$((1024 * 1024))
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

echo "== setup"
q > /dev/null <<SQL
CREATE EXTENSION fraud_score;
CREATE FUNCTION mem_features_sql(doc jsonb) RETURNS jsonb LANGUAGE sql AS \$\$
	SELECT jsonb_build_object('merchant_risk', ((doc->>'hour')::int % 7) / 7.0,
							  'card_age_days', (doc->>'card_age_days')::int / 2)
\$\$;
CREATE FUNCTION mem_features_plpgsql(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN jsonb_build_object('merchant_risk', ((doc->>'hour')::int % 7) / 7.0,
							  'card_age_days', (doc->>'card_age_days')::int / 2);
END
\$\$;
-- Fails for every third row: with fraud_score.on_error = review, each
-- failure is a rolled-back subtransaction and a WARNING.
CREATE FUNCTION mem_features_failing(doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	IF (doc->>'hour')::int % 3 = 0 THEN
		RAISE EXCEPTION 'no history for this row';
	END IF;
	RETURN jsonb_build_object('merchant_risk', ((doc->>'hour')::int % 7) / 7.0);
END
\$\$;
CREATE TABLE mem_fixture AS SELECT decode('$(base64 -w0 test/fixtures/small.ubj)', 'base64') AS bytes;
SELECT fraud_model_load('mem', bytes, review_threshold => 0.3, decline_threshold => 0.7) FROM mem_fixture;
SELECT fraud_model_load('mem_sql_ff', bytes, feature_function => 'mem_features_sql(jsonb)') FROM mem_fixture;
SELECT fraud_model_load('mem_plpgsql_ff', bytes, feature_function => 'mem_features_plpgsql(jsonb)')
FROM mem_fixture;
SELECT fraud_model_load('mem_on_error', bytes, feature_function => 'mem_features_failing(jsonb)')
FROM mem_fixture;
SQL

# Row i's feature values, varied over i.
values="(i * 7919::bigint) % 100000 / 100.0, i % 24, ((i % 97) / 97.0)::real, i % 3000, i % 11 = 0"
doc="jsonb_build_object('amount', (i * 7919::bigint) % 100000 / 100.0, 'hour', i % 24,
	'merchant_risk', (i % 97) / 97.0, 'card_age_days', i % 3000, 'is_foreign', i % 11 = 0)"

# One statement scoring rows lo..hi.  generate_series() runs in the select
# list, streaming: in FROM it would fill a 100,000-row tuplestore, whose large
# blocks, once freed, make glibc raise its mmap threshold, so that the second
# such statement grows RssAnon by about 1 MB once, with or without scoring.
chunk_sql() {
	local path=$1 model=$2 table=$3 lo=$4 hi=$5
	local rows="(SELECT generate_series($lo, $hi) AS i) s"
	if [ "$path" = function ]; then
		echo "SELECT count(fraud_score($doc, '$model')) FROM $rows \\g /dev/null"
	else
		echo "INSERT INTO $table (amount, hour, merchant_risk, card_age_days, is_foreign)
SELECT $values FROM $rows;"
	fi
}

measure() {
	cat <<SQL
SELECT sum(total_bytes) AS ctx_$1 FROM pg_backend_memory_contexts \\gset
\\set rss_$1 \`awk '/^RssAnon:/ {print \$2}' /proc/:pid/status\`
SQL
}

# run LABEL PATH ENGINE MODEL: one fresh backend; prints "ctx0 ctx1 rss0 rss1".
run() {
	local label=$1 path=$2 engine=$3 model=$4 table=""
	if [ "$path" = trigger ]; then
		table="mem_tx_${engine}_$model"
		q <<SQL
CREATE TABLE $table (id bigserial PRIMARY KEY, amount numeric(12, 2), hour integer, merchant_risk real,
					 card_age_days integer, is_foreign boolean,
					 score float8, decision text, model_version integer);
CREATE TRIGGER score BEFORE INSERT ON $table
	FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('$model', 'score', 'decision', 'model_version');
SQL
	fi
	{
		echo "SELECT pg_backend_pid() AS pid \\gset"
		echo "SET fraud_score.engine = $engine;"
		if [ "$model" = mem_on_error ]; then
			echo "SET fraud_score.on_error = review;"
			echo "SET client_min_messages = error;"
		fi
		chunk_sql "$path" "$model" "$table" 1 "$chunk"
		measure warm
		measure 0
		for c in $(seq 1 "$chunks"); do
			chunk_sql "$path" "$model" "$table" $((c * chunk + 1)) $(((c + 1) * chunk))
		done
		measure 1
		echo "\\echo :ctx_0 :ctx_1 :rss_0 :rss_1"
		if [ "$path" = trigger ]; then
			# Every row scored by the trigger.
			echo "SELECT count(*) FILTER (WHERE score IS NOT NULL AND model_version IS NOT NULL
				OR score IS NULL AND decision = 'review' AND hour % 3 = 0) AS scored FROM $table \\gset"
			echo "\\echo :scored"
		fi
	} > "$work/$label.sql"
	q -f "$work/$label.sql" > "$work/$label.out"
}

configs=(
	"function native mem"
	"function xgboost mem"
	"function native mem_sql_ff"
	"function native mem_plpgsql_ff"
	"trigger native mem"
	"trigger xgboost mem"
	"trigger native mem_plpgsql_ff"
	"trigger native mem_on_error"
)
total=$((chunks * chunk))
echo "== $total scores per configuration after a warm-up of $chunk, each in a fresh backend"
status=0
table="| path | engine | model | contexts after warm-up | after $total | growth | RssAnon after warm-up | after $total | growth |"
table+=$'\n'"|---|---|---|---:|---:|---:|---:|---:|---:|"
for config in "${configs[@]}"; do
	read -r path engine model <<< "$config"
	label="${path}_${engine}_$model"
	echo "-- $path path, $engine engine, model $model"
	run "$label" "$path" "$engine" "$model"
	read -r ctx0 ctx1 rss0 rss1 < "$work/$label.out"
	if [ "$path" = trigger ]; then
		scored=$(sed -n 2p "$work/$label.out")
		if [ "$scored" != $((total + chunk)) ]; then
			echo "FAILED: $label: $scored rows scored, not $((total + chunk))" >&2
			status=1
		fi
	fi
	ctx_growth=$((ctx1 - ctx0))
	rss_growth=$(((rss1 - rss0) * 1024))
	table+=$'\n'"| $path | $engine | $model | $ctx0 B | $ctx1 B | $ctx_growth B | $rss0 kB | $rss1 kB | $((rss1 - rss0)) kB |"
	if [ "$ctx_growth" -ge "$limit" ] || [ "$rss_growth" -ge "$limit" ]; then
		echo "FAILED: $label: memory grew by $ctx_growth bytes of contexts, $((rss1 - rss0)) kB of RssAnon (limit: 1 MB)" >&2
		status=1
	fi
done
echo
echo "$table"
echo
[ "$status" -eq 0 ] || exit 1
echo "== memory test passed: no configuration grew by 1 MB or more"
