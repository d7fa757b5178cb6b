#!/usr/bin/env bash
# Run by bench/bench.sh inside a second pg_virtualenv, with fraud_score in
# shared_preload_libraries: what serving statistics (fraud_score_stats) cost.
# Uses the 200-tree depth-6 model bench-inner.sh trained ($BENCH_WORK/m200d6.json)
# and the same kind of rows.  Writes $BENCH_WORK/serving.md and serving.json.
set -euo pipefail
cd "$REPO"
work=$BENCH_WORK
. bench/lib.sh

echo "== serving statistics: data and model (preloaded server)" >&2
q <<SQL
CREATE EXTENSION fraud_score;
\\set model \`cat '$work/m200d6.json'\`
SELECT fraud_model_import(:'model'::jsonb) \\g /dev/null
SELECT setseed(0.5);
CREATE TABLE rows AS
SELECT $(for i in $(seq 0 9); do printf "CASE WHEN random() < 0.1 THEN NULL ELSE random() * 100 END::float8 AS f$i, "; done) 0 AS pad
FROM generate_series(1, 200000);
VACUUM ANALYZE rows;
CREATE TABLE scored_t AS SELECT $features, 0::float8 AS score, ''::text AS decision FROM rows LIMIT 0;
CREATE TRIGGER s BEFORE INSERT ON scored_t FOR EACH ROW
	EXECUTE FUNCTION fraud_score_trigger('m200d6', 'score', 'decision');
-- The same trees as m200d6s, with a challenger: the same trees again.
SELECT fraud_model_import(:'model'::jsonb, 'm200d6s') \\g /dev/null
SELECT fraud_model_import(:'model'::jsonb, 'm200d6s', activate => false) \\g /dev/null
SELECT fraud_model_shadow('m200d6s', 2);
CREATE TABLE shadow_t (id bigserial PRIMARY KEY, $(for i in $(seq 0 9); do printf "f$i float8, "; done) score float8, decision text);
CREATE TRIGGER s BEFORE INSERT ON shadow_t FOR EACH ROW
	EXECUTE FUNCTION fraud_score_trigger('m200d6s', 'score', 'decision');
CREATE TABLE keyed_t (LIKE shadow_t INCLUDING ALL);
CREATE TRIGGER s BEFORE INSERT ON keyed_t FOR EACH ROW
	EXECUTE FUNCTION fraud_score_trigger('m200d6', 'score', 'decision');
SQL

# Batch paths: 6 rounds alternating tracking on and off (each round starts
# with the other side), best round of each; per row, the whole scored INSERT
# (plain insert included) and fraud_score(jsonb) beyond building the jsonb.
echo "== serving statistics on and off: INSERT ... SELECT and fraud_score(), 200,000 rows, 6 rounds" >&2
read -r ins_on ins_off call_on call_off <<< "$(q <<SQL | tr '|' ' '
SELECT fraud_score('{}', 'm200d6') IS NOT NULL \\g /dev/null
CREATE TEMP TABLE t (side text, what text, seconds float8);
DO \$\$
DECLARE t0 timestamptz; side text;
BEGIN
	FOR run IN 1..6 LOOP
		FOR k IN 0..1 LOOP
			side := CASE WHEN (run + k) % 2 = 0 THEN 'on' ELSE 'off' END;
			PERFORM set_config('fraud_score.track_stats', side, true);
			TRUNCATE scored_t;
			t0 := clock_timestamp();
			INSERT INTO scored_t SELECT $features FROM rows;
			INSERT INTO t VALUES (side, 'insert', extract(epoch FROM clock_timestamp() - t0));
			t0 := clock_timestamp();
			PERFORM count($doc) FROM rows;
			INSERT INTO t VALUES (side, 'doc', extract(epoch FROM clock_timestamp() - t0));
			t0 := clock_timestamp();
			PERFORM count(fraud_score($doc, 'm200d6')) FROM rows;
			INSERT INTO t VALUES (side, 'score', extract(epoch FROM clock_timestamp() - t0));
		END LOOP;
	END LOOP;
END \$\$;
WITH b AS (SELECT side, what, min(seconds) * 1e6 / 200000 AS us FROM t GROUP BY 1, 2)
SELECT round((SELECT us FROM b WHERE side = 'on' AND what = 'insert')::numeric, 3),
       round((SELECT us FROM b WHERE side = 'off' AND what = 'insert')::numeric, 3),
       round(((SELECT us FROM b WHERE side = 'on' AND what = 'score') -
              (SELECT us FROM b WHERE side = 'on' AND what = 'doc'))::numeric, 3),
       round(((SELECT us FROM b WHERE side = 'off' AND what = 'score') -
              (SELECT us FROM b WHERE side = 'off' AND what = 'doc'))::numeric, 3);
SQL
)"

# Single-row INSERTs, one transaction each (one flush each): one pgbench run
# interleaving tracking on and off, 2 clients, prepared, synchronous_commit off.
echo "== serving statistics on and off: single-row INSERTs, one pgbench run" >&2
q -c "SELECT fraud_score_stats_reset()" > /dev/null
for side in on off; do
	cat > "$work/stats_$side.sql" <<SQL
\\set a random(0, 100)
\\set b random(0, 100)
BEGIN;
SET LOCAL fraud_score.track_stats = $side;
INSERT INTO scored_t ($features) VALUES (:a, :b, 30, 40, 50, 60, 70, 80, 90, 10);
COMMIT;
SQL
done
rm -f "$work"/sts.*
(cd "$work" && PGOPTIONS="-c synchronous_commit=off" pgbench -n -M prepared -c 2 -j 2 -T "$BENCH_SECONDS" \
	-l --log-prefix=sts -f stats_on.sql@1 -f stats_off.sql@1 > /dev/null)
read -r single_on single_off single_on_n <<< "$(cat "$work"/sts.* |
	awk '{sum[$4] += $3; n[$4]++} END {printf "%.1f %.1f %d", sum[0] / n[0], sum[1] / n[1], n[0]}')"
counted=$(q -c "SELECT calls FROM fraud_score_stats WHERE model = 'm200d6'")
echo "   $single_on_n transactions with tracking on, fraud_score_stats counted $counted calls" >&2
if [ "$counted" != "$single_on_n" ]; then
	echo "bench: fraud_score_stats counted $counted calls for $single_on_n scored rows" >&2
	exit 1
fi
read -r stats_p50 stats_p99 <<< "$(q -c "SELECT round((p50_ms * 1000)::numeric, 1), round((p99_ms * 1000)::numeric, 1) FROM fraud_score_stats WHERE model = 'm200d6'" | tr '|' ' ')"

# A challenger: the same table shape (with a bigserial primary key, the
# sampling key) scored by a model without and with one challenger scoring
# every row (fraction 1) or a tenth, single-row INSERTs interleaved in one
# pgbench run; and INSERT ... SELECT of 20,000 rows, best of 3 alternating.
echo "== challenger scoring: single-row INSERTs with and without a challenger, one pgbench run" >&2
for side in keyed shadow; do
	cat > "$work/ins_$side.sql" <<SQL
\\set a random(0, 100)
\\set b random(0, 100)
INSERT INTO ${side}_t ($features) VALUES (:a, :b, 30, 40, 50, 60, 70, 80, 90, 10);
SQL
done
rm -f "$work"/shd.*
(cd "$work" && PGOPTIONS="-c synchronous_commit=off" pgbench -n -M prepared -c 2 -j 2 -T "$BENCH_SECONDS" \
	-l --log-prefix=shd -f ins_keyed.sql@1 -f ins_shadow.sql@1 > /dev/null)
read -r shadow_single_off shadow_single_on <<< "$(cat "$work"/shd.* |
	awk '{sum[$4] += $3; n[$4]++} END {printf "%.1f %.1f", sum[0] / n[0], sum[1] / n[1]}')"
logged=$(q -c "SELECT count(*) FROM fraud_score_shadow_log")
shadow_rows=$(q -c "SELECT count(*) FROM shadow_t")
if [ "$logged" != "$shadow_rows" ]; then
	echo "bench: $shadow_rows rows with a challenger at fraction 1, $logged logged" >&2
	exit 1
fi
echo "== challenger scoring: INSERT ... SELECT of 20,000 rows, fraction 1 and 0.1, 3 rounds" >&2
read -r shadow_batch_off shadow_batch_on shadow_batch_tenth <<< "$(q <<SQL | tr '|' ' '
CREATE TEMP TABLE t (side text, seconds float8);
DO \$\$
DECLARE t0 timestamptz;
BEGIN
	FOR run IN 1..3 LOOP
		TRUNCATE keyed_t, shadow_t, fraud_score_shadow_log;
		PERFORM fraud_model_shadow('m200d6s', 2, 1.0);
		t0 := clock_timestamp();
		INSERT INTO keyed_t ($features) SELECT $features FROM rows LIMIT 20000;
		INSERT INTO t VALUES ('none', extract(epoch FROM clock_timestamp() - t0));
		t0 := clock_timestamp();
		INSERT INTO shadow_t ($features) SELECT $features FROM rows LIMIT 20000;
		INSERT INTO t VALUES ('all', extract(epoch FROM clock_timestamp() - t0));
		TRUNCATE shadow_t;
		PERFORM fraud_model_shadow('m200d6s', 2, 0.1);
		t0 := clock_timestamp();
		INSERT INTO shadow_t ($features) SELECT $features FROM rows LIMIT 20000;
		INSERT INTO t VALUES ('tenth', extract(epoch FROM clock_timestamp() - t0));
	END LOOP;
END \$\$;
SELECT round((min(seconds) FILTER (WHERE side = 'none') * 1e6 / 20000)::numeric, 3),
       round((min(seconds) FILTER (WHERE side = 'all') * 1e6 / 20000)::numeric, 3),
       round((min(seconds) FILTER (WHERE side = 'tenth') * 1e6 / 20000)::numeric, 3)
FROM t;
SQL
)"

diff_ns() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a - b) * 1000 }'; }
{
	echo "Serving statistics (fraud_score_stats; fraud_score in shared_preload_libraries), fraud_score.track_stats on"
	echo "against off on the same model (200 trees, depth 6), side by side in one run:"
	echo
	echo "| path | tracking off | tracking on | ratio (on / off) |"
	echo "|---|---|---|---|"
	echo "| scored INSERT ... SELECT per row (plain insert included), 200,000 rows, best of 6 alternating rounds | $ins_off us | $ins_on us | $(ratio "$ins_on" "$ins_off") ($(diff_ns "$ins_on" "$ins_off") ns) |"
	echo "| fraud_score(jsonb) per call beyond building the jsonb, 200,000 rows, best of 6 | $call_off us | $call_on us | $(ratio "$call_on" "$call_off") ($(diff_ns "$call_on" "$call_off") ns) |"
	echo "| single-row INSERT transaction (one flush each), pgbench interleaving both, 2 clients, mean latency | $single_off us | $single_on us | $(ratio "$single_on" "$single_off") |"
	echo
	echo "fraud_score_stats for those $counted single-row INSERTs: trigger p50 $stats_p50 us, p99 $stats_p99 us."
	echo
	echo "A challenger version (fraud_model_shadow; the same 200 trees as the champion, so the figures are the cost"
	echo "of a second score and its log row), a table with a bigserial primary key, side by side in one run:"
	echo
	echo "| path | no challenger | one challenger, every row | ratio |"
	echo "|---|---|---|---|"
	echo "| single-row INSERT, pgbench interleaving both, 2 clients, mean latency | $shadow_single_off us | $shadow_single_on us | $(ratio "$shadow_single_on" "$shadow_single_off") (+$(awk -v a="$shadow_single_on" -v b="$shadow_single_off" 'BEGIN { printf "%.1f", a - b }') us) |"
	echo "| INSERT ... SELECT per row, 20,000 rows, best of 3 | $shadow_batch_off us | $shadow_batch_on us (a tenth sampled: $shadow_batch_tenth us) | $(ratio "$shadow_batch_on" "$shadow_batch_off") |"
} > "$work/serving.md"
printf '{"insert_row_off_us":%s,"insert_row_on_us":%s,"insert_ratio":%s,"call_off_us":%s,"call_on_us":%s,"call_ratio":%s,"single_insert_off_us":%s,"single_insert_on_us":%s,"single_insert_ratio":%s,"trigger_p50_us":%s,"trigger_p99_us":%s,"challenger":{"single_insert_us":%s,"single_insert_challenger_us":%s,"batch_row_us":%s,"batch_row_challenger_us":%s,"batch_row_challenger_tenth_us":%s}}' \
	"$ins_off" "$ins_on" "$(ratio "$ins_on" "$ins_off")" "$call_off" "$call_on" "$(ratio "$call_on" "$call_off")" \
	"$single_off" "$single_on" "$(ratio "$single_on" "$single_off")" "$stats_p50" "$stats_p99" \
	"$shadow_single_off" "$shadow_single_on" "$shadow_batch_off" "$shadow_batch_on" "$shadow_batch_tenth" > "$work/serving.json"
cat "$work/serving.md" >&2
