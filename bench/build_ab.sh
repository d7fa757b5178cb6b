#!/usr/bin/env bash
# Compare two builds of fraud_score on the native per-row cost of one
# numerical model (200 trees, depth 6, trained in the database), alternating
# them: each round installs build A, then build B, and measures each on a
# fresh throwaway cluster (best of 5 scans of 200,000 stored documents, minus
# a scan that only reads them).  Machines here are noisy: compare the pairs,
# not single figures.
#
#   bench/build_ab.sh REV_A [REV_B] [ROUNDS]   (REV_B defaults to the working tree)
#
# Needs root (make install) and a clean build of each side; REV_A is checked
# out in a temporary worktree.  Leaves the working tree's build installed.
set -euo pipefail
cd "$(dirname "$0")/.."
rev_a=${1:?usage: bench/build_ab.sh REV_A [REV_B] [ROUNDS]}
rev_b=${2:-}
rounds=${3:-3}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/a" 2>/dev/null || true; [ -n "$rev_b" ] && git worktree remove --force "$work/b" 2>/dev/null; rm -rf "$work"' EXIT

git worktree add -q "$work/a" "$rev_a"
make -s -C "$work/a" >/dev/null
if [ -n "$rev_b" ]; then
	git worktree add -q "$work/b" "$rev_b"
	dir_b=$work/b
else
	dir_b=$PWD
fi
make -s -C "$dir_b" >/dev/null

cat > "$work/run.sql" <<'SQL'
\set QUIET on
CREATE EXTENSION fraud_score;
SELECT setseed(0.5);
CREATE TABLE tr AS SELECT random() * 100 AS a, random() * 10 AS b, random() AS c, (random() < 0.3) AS d,
       CASE WHEN random() < 0.2 THEN 1 ELSE 0 END AS label FROM generate_series(1, 20000);
SET client_min_messages = warning;
SELECT fraud_model_train('m200', 'SELECT a, b, c, d, label FROM tr', 'label',
                         '{"max_depth": 6, "num_boost_round": 200, "notice_every": 0}', activate => true) > 0;
CREATE TABLE docs AS
SELECT jsonb_strip_nulls(jsonb_build_object('a', round((random() * 100)::numeric, 2),
           'b', CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 10)::numeric, 1) END,
           'c', random(), 'd', random() < 0.3)) AS doc
FROM generate_series(1, 200000);
VACUUM ANALYZE docs;
CREATE FUNCTION best_of_5(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    best float8 := 1e9;
    x bigint;
BEGIN
    FOR i IN 1..5 LOOP
        started := clock_timestamp();
        EXECUTE q INTO x;
        best := least(best, extract(epoch FROM clock_timestamp() - started));
    END LOOP;
    RETURN best;
END $$;
SELECT count(*) FILTER (WHERE fraud_score(doc, 'm200') > 2) FROM docs;
\set QUIET off
SELECT round(((best_of_5('SELECT count(*) FILTER (WHERE fraud_score(doc, ''m200'') > 2) FROM docs')
               - best_of_5('SELECT count(*) FILTER (WHERE doc IS NULL) FROM docs')) / 200000 * 1e6)::numeric, 3);
SQL

echo "round  A: $rev_a  B: ${rev_b:-working tree}   (us per row, native, 200 trees depth 6)"
results=""
for round in $(seq 1 "$rounds"); do
	make -s -C "$work/a" install >/dev/null
	a=$(pg_virtualenv -t -v 15 psql -X -q -At -f "$work/run.sql" 2>/dev/null | grep -v "^Dropping" | tail -1)
	make -s -C "$dir_b" install >/dev/null
	b=$(pg_virtualenv -t -v 15 psql -X -q -At -f "$work/run.sql" 2>/dev/null | grep -v "^Dropping" | tail -1)
	echo "$round      $a  $b"
	results="$results$a $b"$'\n'
done
printf '%s' "$results" | awk '{ a += $1; b += $2; n++ }
	END { printf "mean   %.3f  %.3f  (B/A %.3f)\n", a / n, b / n, b / a }'
