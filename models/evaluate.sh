#!/usr/bin/env bash
# make evaluate: replay August 2018 (the test month the reference models never
# saw) through the scoring trigger with each committed model, then compute the
# handbook's test-week figures, a detectability ceiling, and draw the
# precision-recall curves.
#
# Writes models/eval/: replay_d{D}.log (the replay's table and JSON line),
# replay_d{D}.csv (transaction_id,score,decision), pr_d{D}.dat, summary.txt,
# and models/pr_curve.png.  Needs ../shared/data (or FRAUD_DATA) and gnuplot.
#
# Usage: models/evaluate.sh [DELAY ...]     (default: 1 3 7)
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(readlink -f "${FRAUD_DATA:-../shared/data/fraud_handbook_simulated_raw.csv.gz}")
[ -r "$data" ] || { echo "models/evaluate.sh: cannot read $data (set FRAUD_DATA)" >&2; exit 1; }
command -v gnuplot > /dev/null || { echo "models/evaluate.sh: gnuplot is needed (apt-get install gnuplot-nox)" >&2; exit 1; }
delays=("$@")
[ ${#delays[@]} -gt 0 ] || delays=(1 3 7)
mkdir -p models/eval

if [ -z "${SKIP_REPLAY:-}" ]; then
	for d in "${delays[@]}"; do
		echo "== replaying 2018-08-01..2018-08-31 with models/card_d$d.json, labels $d days late"
		bench/replay --history "$data" --replay "$data" --from 2018-08-01 --to 2018-08-31 \
			--delay-days "$d" --model "models/card_d$d.json" --out "models/eval/replay_d$d.csv" \
			| tee "models/eval/replay_d$d.log"
	done
fi

echo "== handbook test week, ceiling and precision-recall curves"
{
	cat <<SQL
\pset footer off
CREATE TABLE raw (transaction_id bigint, tx_datetime timestamp, customer_id int, terminal_id int,
                  tx_amount numeric, tx_time_seconds bigint, tx_time_days int, tx_fraud int,
                  tx_fraud_scenario int);
\copy raw FROM PROGRAM 'gzip -dc "$data"' WITH (FORMAT csv, HEADER true)
DELETE FROM raw WHERE tx_datetime < '2018-06-01';
CREATE INDEX ON raw (transaction_id);
CREATE INDEX ON raw (terminal_id, tx_datetime) WHERE tx_fraud = 1;
CREATE TABLE scores (delay int, transaction_id bigint, score float8, decision text);
CREATE TEMP TABLE one (transaction_id bigint, score float8, decision text);

-- Step-wise average precision (as scikit-learn) and ROC AUC (ties half).
CREATE FUNCTION ranking(query text, OUT rows bigint, OUT frauds bigint, OUT auc numeric,
                        OUT average_precision numeric)
LANGUAGE plpgsql AS \$f\$
BEGIN
	EXECUTE format(\$q\$
		WITH r AS (%s),
		g AS (SELECT score, count(*) FILTER (WHERE label) AS tp, count(*) FILTER (WHERE NOT label) AS fp
		      FROM r GROUP BY score),
		c AS (SELECT tp, fp, sum(tp) OVER w AS ctp, sum(fp) OVER w AS cfp
		      FROM g WINDOW w AS (ORDER BY score DESC)),
		t AS (SELECT sum(tp) AS p, sum(fp) AS n FROM g)
		SELECT (t.p + t.n)::bigint, t.p::bigint,
		       round((sum(c.fp * (c.ctp - c.tp) + 0.5 * c.fp * c.tp) / (t.p * t.n))::numeric, 4),
		       round(sum((c.tp / t.p) * (c.ctp / (c.ctp + c.cfp)))::numeric, 4)
		FROM c, t GROUP BY t.p, t.n\$q\$, query)
	INTO rows, frauds, auc, average_precision;
END
\$f\$;
SQL
	for d in "${delays[@]}"; do
		cat <<SQL
TRUNCATE one;
\copy one FROM 'models/eval/replay_d$d.csv' WITH (FORMAT csv)
INSERT INTO scores SELECT $d, * FROM one;
SQL
	done
	cat <<'SQL'
\echo
\echo Handbook protocol: test week 2018-08-08..14, cards with fraud known by each day
\echo (frauds from 2018-07-25 to 8 days before it) removed, every other transaction counted.
SELECT s.delay AS delay_days, h.*
FROM (SELECT DISTINCT delay FROM scores) s,
     LATERAL ranking(format($q$
        SELECT sc.score, r.tx_fraud = 1 AS label
        FROM raw r JOIN scores sc ON sc.transaction_id = r.transaction_id AND sc.delay = %s
        WHERE r.tx_datetime >= '2018-08-08' AND r.tx_datetime < '2018-08-15'
          AND NOT EXISTS (SELECT FROM raw k
                          WHERE k.customer_id = r.customer_id AND k.tx_fraud = 1
                            AND k.tx_datetime >= '2018-07-25'
                            AND k.tx_datetime::date <= r.tx_datetime::date - 8)$q$, s.delay)) AS h
ORDER BY 1;

\echo
\echo Whole of August 2018, every transaction counted (the replay logs have the decision-level figures):
SELECT s.delay AS delay_days, a.*
FROM (SELECT DISTINCT delay FROM scores) s,
     LATERAL ranking(format($q$
        SELECT sc.score, r.tx_fraud = 1 AS label
        FROM raw r JOIN scores sc ON sc.transaction_id = r.transaction_id AND sc.delay = %s$q$,
        s.delay)) AS a
ORDER BY 1;

\echo
\echo Ceiling: a scenario-2 fraud (compromised terminal, amount at most 220) before any fraud of
\echo the same compromise at its terminal is known cannot be told from a normal transaction; the
\echo share of August frauds that are not such is the highest recall any model can reach here.
SELECT s.delay AS delay_days, count(*) AS frauds,
       count(*) FILTER (WHERE f.tx_fraud_scenario = 2 AND f.tx_amount <= 220
                        AND NOT EXISTS (SELECT FROM raw g
                                        WHERE g.terminal_id = f.terminal_id AND g.tx_fraud = 1
                                          AND g.tx_fraud_scenario = 2
                                          AND g.tx_datetime >= f.tx_datetime - interval '28 days'
                                          AND g.tx_datetime + s.delay * interval '1 day' <= f.tx_datetime))
           AS unseeable,
       round(1 - count(*) FILTER (WHERE f.tx_fraud_scenario = 2 AND f.tx_amount <= 220
                        AND NOT EXISTS (SELECT FROM raw g
                                        WHERE g.terminal_id = f.terminal_id AND g.tx_fraud = 1
                                          AND g.tx_fraud_scenario = 2
                                          AND g.tx_datetime >= f.tx_datetime - interval '28 days'
                                          AND g.tx_datetime + s.delay * interval '1 day' <= f.tx_datetime))
                 ::numeric / count(*), 3) AS recall_ceiling
FROM (SELECT DISTINCT delay FROM scores) s, raw f
WHERE f.tx_fraud = 1 AND f.tx_datetime >= '2018-08-01'
GROUP BY 1 ORDER BY 1;
SQL
	for d in "${delays[@]}"; do
		cat <<SQL
\copy (WITH r AS (SELECT sc.score, r.tx_fraud = 1 AS label FROM raw r JOIN scores sc ON sc.transaction_id = r.transaction_id AND sc.delay = $d), g AS (SELECT round(score::numeric, 3) AS t, count(*) FILTER (WHERE label) AS tp, count(*) FILTER (WHERE NOT label) AS fp FROM r GROUP BY 1), c AS (SELECT t, sum(tp) OVER w AS ctp, sum(fp) OVER w AS cfp FROM g WINDOW w AS (ORDER BY t DESC)) SELECT round(ctp / (SELECT sum(tp) FROM g), 5) AS recall, round(ctp / (ctp + cfp), 5) AS precision FROM c ORDER BY t DESC) TO 'models/eval/pr_d$d.dat' WITH (FORMAT text, DELIMITER ' ')
SQL
	done
} > models/eval/evaluate.sql
export REPO=$PWD
# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' \
	bash -c 'cd "$REPO" && psql -X -q -v ON_ERROR_STOP=1 -f models/eval/evaluate.sql' \
	| grep -v "^Creating new\|^Dropping cluster" | tee models/eval/summary.txt

{
	echo "set terminal pngcairo size 900,650 font 'sans,11'"
	echo "set output 'models/pr_curve.png'"
	echo "set title 'Reference models: precision-recall on August 2018 (replayed, every transaction)'"
	echo "set xlabel 'recall'; set ylabel 'precision'; set grid"
	echo "set xrange [0:1]; set yrange [0:1.02]; set key bottom left"
	printf "plot "
	sep=""
	for d in "${delays[@]}"; do
		printf "%s'models/eval/pr_d%s.dat' using 1:2 with lines lw 2 title 'labels %s day(s) late'" "$sep" "$d" "$d"
		sep=", "
	done
	printf ", 0.5 with lines dt 2 lc 'gray' title 'precision 0.5'\n"
} > models/eval/pr_curve.gp
gnuplot models/eval/pr_curve.gp
echo "== wrote models/pr_curve.png"
