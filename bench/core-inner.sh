#!/usr/bin/env bash
# Run by bench/core.sh inside pg_virtualenv (PGHOST, PGPORT, ... are set).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION fraud_score;
SELECT fraud_model_load('bench', decode('$(base64 -w0 test/fixtures/small.ubj)', 'base64')) \gset
CREATE TABLE plain_tx (id bigserial PRIMARY KEY, amount numeric(12,2), hour int, merchant_risk real,
                       card_age_days int, is_foreign boolean,
                       score float8, decision text, model_version int);
CREATE TABLE scored_tx (LIKE plain_tx INCLUDING ALL);
CREATE TRIGGER score BEFORE INSERT ON scored_tx
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('bench', 'score', 'decision', 'model_version');
CREATE TABLE docs AS
SELECT jsonb_build_object('amount', (i * 7919) % 100000 / 100.0, 'hour', i % 24,
                          'merchant_risk', (i % 97) / 97.0, 'card_age_days', i % 3000,
                          'is_foreign', i % 11 = 0) AS doc
FROM generate_series(1, 100000) AS i;
VACUUM ANALYZE docs;
SQL

echo "== fraud_score(jsonb): 100,000 calls, best of 3"
psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
SELECT fraud_score('{}', 'bench') IS NOT NULL;  -- load the model in this backend
CREATE TEMP TABLE timings (run int, baseline_ms float8, scored_ms float8);
DO $$
DECLARE
	t0 timestamptz; t1 timestamptz; t2 timestamptz;
BEGIN
	FOR run IN 1..3 LOOP
		t0 := clock_timestamp();
		PERFORM count(doc) FROM docs;
		t1 := clock_timestamp();
		PERFORM count(fraud_score(doc, 'bench')) FROM docs;
		t2 := clock_timestamp();
		INSERT INTO timings VALUES (run, 1000 * extract(epoch FROM t1 - t0),
									1000 * extract(epoch FROM t2 - t1));
	END LOOP;
END $$;
SELECT format('scan only: %s ms; scan + fraud_score: %s ms; per call: %s us',
              round(min(baseline_ms)::numeric, 1), round(min(scored_ms)::numeric, 1),
              round(((min(scored_ms) - min(baseline_ms)) * 1000 / 100000)::numeric, 2))
FROM timings;
SQL

cat > "$work/plain.sql" <<'SQL'
\set amount random(1, 200000)
\set hour random(0, 23)
\set age random(0, 3000)
INSERT INTO plain_tx (amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES (:amount / 100.0, :hour, random(), :age, random() < 0.1);
SQL
sed 's/plain_tx/scored_tx/' "$work/plain.sql" > "$work/scored.sql"

echo "== pgbench: one run, 2 clients, prepared, ${BENCH_SECONDS}s, plain and scored INSERTs interleaved 50/50"
pgbench -n -M prepared -c 2 -j 2 -T "$BENCH_SECONDS" \
	-f "$work/plain.sql@1" -f "$work/scored.sql@1" > "$work/pgbench.out"
grep -E "^(SQL script|number of transactions actually processed|tps| - )" "$work/pgbench.out" | grep -v "latency stddev" || true
# Both scripts run interleaved in the same clients, so each one's transaction
# count follows its weight; the cost shows in each script's mean latency, and
# the insert rate each would sustain alone is clients / latency.
awk '/^SQL script 1/ {s=1} /^SQL script 2/ {s=2} /latency average/ {l[s]=$(NF-1)} END {printf "mean latency: plain %.3f ms, scored %.3f ms (+%.1f us per scored INSERT)\nscored/plain INSERT rate ratio: %.3f (2 clients: plain %.0f/s, scored %.0f/s)\n", l[1], l[2], (l[2]-l[1])*1000, l[1]/l[2], 2000/l[1], 2000/l[2]}' "$work/pgbench.out"
psql -X -At -c "SELECT 'rows scored: ' || sum(n) || ', decisions: ' || string_agg(d || '=' || n, ', ') FROM (SELECT decision d, count(*) n FROM scored_tx GROUP BY 1 ORDER BY 1) s"
