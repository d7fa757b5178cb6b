#!/usr/bin/env bash
# The scoring trigger's per-row cost by fraud_score.on_error and feature
# function, measured side by side in one run on a throwaway cluster.
#
# A 200-tree depth-6 model (trained here on 50,000 rows of 10 features) scores
# 200,000 rows per INSERT ... SELECT into five tables: no trigger, the trigger
# under on_error = error and = review, and the same two with a model that names
# a feature function (an SQL function adding one feature from NEW).  Each round
# inserts into all five in turn, so drift on a noisy machine hits every side
# alike; the per-row cost is (best time - best plain time) / rows.
#
#   bench/trigger_cost.sh [rows] [rounds]      (defaults 200000 and 5)
# Prints one Markdown table and, last, one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FRAUD_BENCH_INNER:-}" ]; then
	export FRAUD_BENCH_INNER=1 BENCH_ROWS=${1:-200000} BENCH_ROUNDS=${2:-5}
	exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' -o synchronous_commit=off -o shared_buffers=512MB \
		-o max_wal_size=4GB bash "$0"
fi

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
features="f0, f1, f2, f3, f4, f5, f6, f7, f8, f9"
q <<SQL
CREATE EXTENSION fraud_score;
SELECT setseed(0.5);
CREATE TABLE rows AS
SELECT $(for i in $(seq 0 9); do printf "CASE WHEN random() < 0.1 THEN NULL ELSE random() * 100 END::float8 AS f$i, "; done) false AS label
FROM generate_series(1, $BENCH_ROWS);
UPDATE rows SET label = (coalesce(f0, 50) + coalesce(f1, 50) > 120 AND coalesce(f2, 0) < 60)
                        OR (f3 IS NULL AND coalesce(f4, 0) > 70) OR random() < 0.02;
VACUUM ANALYZE rows;
SET client_min_messages = warning;
SELECT fraud_model_train('plain', 'SELECT $features, label FROM rows LIMIT 50000', 'label',
                         '{"num_boost_round": 200, "max_depth": 6, "eta": 0.1, "tree_method": "hist",
                           "notice_every": 0}', activate => true);
-- The same trees; f9 comes from the feature function (twice NEW.f9: the
-- function runs, but the score differs from the plain model's).
CREATE FUNCTION bench_features(jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS \$\$ SELECT jsonb_build_object('f9', (\$1->>'f9')::float8 * 2) \$\$;
SELECT fraud_model_load('with_ff', model, feature_function => 'bench_features(jsonb)', activate => true)
FROM fraud_score_models WHERE name = 'plain' AND active;
CREATE TABLE t_plain AS SELECT $features, 0::float8 AS score FROM rows LIMIT 0;
CREATE TABLE t_error (LIKE t_plain);
CREATE TABLE t_review (LIKE t_plain);
CREATE TABLE t_ff_error (LIKE t_plain);
CREATE TABLE t_ff_review (LIKE t_plain);
CREATE TRIGGER s BEFORE INSERT ON t_error FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('plain', 'score');
CREATE TRIGGER s BEFORE INSERT ON t_review FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('plain', 'score');
CREATE TRIGGER s BEFORE INSERT ON t_ff_error FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('with_ff', 'score');
CREATE TRIGGER s BEFORE INSERT ON t_ff_review FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('with_ff', 'score');
SQL

result=$(q <<SQL
CREATE TEMP TABLE timing (side text, run int, seconds float8);
DO \$\$
DECLARE
	t0 timestamptz;
	side text;
	sides text[] := ARRAY['plain', 'error', 'review', 'ff_error', 'ff_review'];
BEGIN
	FOR run IN 1..$BENCH_ROUNDS LOOP
		FOREACH side IN ARRAY sides LOOP
			EXECUTE format('TRUNCATE t_%s', side);
			PERFORM set_config('fraud_score.on_error', CASE WHEN side LIKE '%review' THEN 'review' ELSE 'error' END, false);
			t0 := clock_timestamp();
			EXECUTE format('INSERT INTO t_%s SELECT $features, NULL FROM rows', side);
			INSERT INTO timing VALUES (side, run, extract(epoch FROM clock_timestamp() - t0));
		END LOOP;
	END LOOP;
END \$\$;
-- Every scored table got a score on every row.
DO \$\$
BEGIN
	IF (SELECT count(*) FROM t_error WHERE score IS NULL) + (SELECT count(*) FROM t_review WHERE score IS NULL)
	   + (SELECT count(*) FROM t_ff_error WHERE score IS NULL) + (SELECT count(*) FROM t_ff_review WHERE score IS NULL) > 0 THEN
		RAISE EXCEPTION 'rows left unscored';
	END IF;
END \$\$;
WITH best AS (SELECT side, min(seconds) AS s FROM timing GROUP BY side),
plain AS (SELECT s FROM best WHERE side = 'plain')
SELECT string_agg(format('%s=%s', side, round(((best.s - plain.s) * 1e6 / $BENCH_ROWS)::numeric, 3)), ' ')
FROM best, plain WHERE side <> 'plain';
SQL
)
declare -A us
for kv in $result; do us[${kv%%=*}]=${kv#*=}; done
echo "| trigger per row, $BENCH_ROWS rows, 200 trees depth 6, best of $BENCH_ROUNDS | on_error = error | on_error = review |"
echo "|---|---|---|"
echo "| columns only | ${us[error]} us | ${us[review]} us |"
echo "| with a feature function (SQL) | ${us[ff_error]} us | ${us[ff_review]} us |"
printf '{"trigger_error_us":%s,"trigger_review_us":%s,"trigger_ff_error_us":%s,"trigger_ff_review_us":%s}\n' \
	"${us[error]}" "${us[review]}" "${us[ff_error]}" "${us[ff_review]}"
