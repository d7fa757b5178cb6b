#!/usr/bin/env bash
# Run by bench/velocity_hot.sh inside pg_virtualenv.
set -euo pipefail
cd "$REPO"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== merchants 1 and 2 with $ROWS rows each in 30 days, 2,000 cold merchants"
psql <<SQL
CREATE EXTENSION fraud_score;
CREATE TABLE pay (t timestamp NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
				  merchant integer NOT NULL, amount numeric(10, 2) NOT NULL, features jsonb);
SET client_min_messages = warning;
SELECT fraud_feature_set_create('pay_features', 'pay', '{"time": "t", "arrival": "seq",
  "entities": {"merchant": {"keys": ["merchant"], "tiers": ["7 days", "1 day", "1 hour"], "resolution": "1 minute"}},
  "features": {
	"n_1h": {"kind": "count", "entity": "merchant", "window": "1 hour"},
	"n_1d": {"kind": "count", "entity": "merchant", "window": "1 day"},
	"n_30d": {"kind": "count", "entity": "merchant", "window": "30 days"},
	"sum_1d": {"kind": "sum", "entity": "merchant", "window": "1 day", "column": "amount"},
	"mean_30d": {"kind": "mean", "entity": "merchant", "window": "30 days", "column": "amount"},
	"max_1d": {"kind": "max", "entity": "merchant", "window": "1 day", "column": "amount"}}}');
ALTER TABLE pay DISABLE TRIGGER pay_features_buckets;
-- the hot merchant: evenly over the 30 days before now; cold ones: 5 rows each
INSERT INTO pay (t, merchant, amount)
SELECT localtimestamp - interval '30 days' + (i * (2592000.0 / $ROWS)) * interval '1 second', m, (i % 500) + 0.5
FROM generate_series(1, $ROWS) i, (VALUES (1), (2)) h(m);
INSERT INTO pay (t, merchant, amount)
SELECT localtimestamp - (i % 5) * interval '5 days', 1000 + i / 5, 20 FROM generate_series(0, 9999) i;
ALTER TABLE pay ENABLE TRIGGER pay_features_buckets;
SELECT fraud_feature_set_backfill('pay_features');
CREATE FUNCTION pay_score() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	NEW.features := pay_features(to_jsonb(NEW));
	RETURN NEW;
END \$\$;
CREATE TRIGGER score BEFORE INSERT ON pay FOR EACH ROW EXECUTE FUNCTION pay_score();
VACUUM ANALYZE;
SELECT pay_features(jsonb_build_object('t', localtimestamp, 'merchant', 1)) AS hot,
	   pay_features(jsonb_build_object('t', localtimestamp, 'merchant', 1001)) AS cold;
SQL

cat > "$work/hot.sql" <<'SQL'
INSERT INTO pay (t, merchant, amount) VALUES (localtimestamp, 1, 12.5);
SQL
cat > "$work/cold.sql" <<'SQL'
\set m random(1000, 2999)
INSERT INTO pay (t, merchant, amount) VALUES (localtimestamp, :m, 12.5);
SQL
cat > "$work/hot2.sql" <<'SQL'
INSERT INTO pay (t, merchant, amount) VALUES (localtimestamp, 1, 12.5);
SQL
cat > "$work/apart.sql" <<'SQL'
INSERT INTO pay (t, merchant, amount) VALUES (localtimestamp, 1 + :client_id, 12.5);
SQL
# First, while merchants 1 and 2 have the same rows: the other runs add rows to merchant 1.
echo "== two clients on hot merchant 1 against one client on each of hot merchants 1 and 2 (alternating runs)"
# The median of the rounds: these machines have bursts of steal time that
# can fall on either side of one round.
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for r in $(seq "$ROUNDS"); do
	same=$(pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_EACH" -f "$work/hot2.sql" 2>&1 | awk '/^tps/ {print $3; exit}')
	apart=$(pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_EACH" -f "$work/apart.sql" 2>&1 | awk '/^tps/ {print $3; exit}')
	awk -v r="$r" -v s="$same" -v a="$apart" \
		'BEGIN {printf "round %d: both on one hot merchant %.0f inserts/s, on two hot merchants %.0f/s: %.2fx\n", r, s, a, s / a}' |
		tee -a "$work/same_rounds"
done
echo "median of $ROUNDS rounds: $(awk '{print $NF}' "$work/same_rounds" | tr -d x | median)x"

echo "== hot against cold, one client, both scripts in one run ($ROUNDS x ${SECONDS_EACH}s)"
for r in $(seq "$ROUNDS"); do
	pgbench -n -M prepared -c 1 -T "$SECONDS_EACH" -f "$work/hot.sql@1" -f "$work/cold.sql@1" 2>&1 |
		awk -v r="$r" '/^SQL script 1/ {s = "hot"} /^SQL script 2/ {s = "cold"}
			/latency average/ && s != "" {for (i = 1; i < NF; i++) if ($i == "=") lat[s] = $(i + 1)}
			END {printf "round %d: hot %.1f us, cold %.1f us per INSERT: the hot merchant adds %.1f us\n",
				 r, lat["hot"] * 1000, lat["cold"] * 1000, (lat["hot"] - lat["cold"]) * 1000}' |
		tee -a "$work/hot_rounds"
done
echo "median of $ROUNDS rounds: the hot merchant adds $(awk '{print $(NF - 1)}' "$work/hot_rounds" | median) us"

# Two clients at once, one per value of a setting, each on its own hot
# merchant (1 and 2) and the cold ones.  Merchant 1 took the rows of the
# first runs, so the sides swap merchants each round.  Prints per round the
# round, then cold and hot us per INSERT of the first value, then of the
# second.
sed 's/merchant, amount) VALUES (localtimestamp, 1,/merchant, amount) VALUES (localtimestamp, 2,/' \
	"$work/hot.sql" > "$work/hot_2.sql"
setting_side() {
	PGOPTIONS="-c $1=$2" \
		pgbench -n -M prepared -c 1 -T "$SECONDS_EACH" -f "$work/cold.sql@1" -f "$work/$3@1" 2>&1 |
		awk '/^SQL script 1/ {s = 1} /^SQL script 2/ {s = 2}
			/latency average/ && s > 0 {for (i = 1; i < NF; i++) if ($i == "=") lat[s] = $(i + 1) * 1000}
			END {printf "%.1f %.1f\n", lat[1], lat[2]}'
}
side_by_side() {
	for r in $(seq "$ROUNDS"); do
		if [ $((r % 2)) -eq 1 ]; then a=hot.sql b=hot_2.sql; else a=hot_2.sql b=hot.sql; fi
		setting_side "$1" "$2" "$a" > "$work/side_1" &
		setting_side "$1" "$3" "$b" > "$work/side_2"
		wait
		echo "$r $(cat "$work/side_1") $(cat "$work/side_2")"
	done
}

# glibc's own trim threshold (128 kB) against fraud_score's
# (fraud_score.malloc_trim_threshold, 8MB)
echo "== trim threshold: glibc's 128kB against fraud_score's 8MB, a client each at once, cold and hot rows ($ROUNDS x ${SECONDS_EACH}s)"
side_by_side fraud_score.malloc_trim_threshold 128kB 8MB |
	awk '{printf "round %d: 128kB cold %.1f hot %.1f us, 8MB cold %.1f hot %.1f us per INSERT: 8MB is %.2fx (cold), %.2fx (hot) faster\n",
		  $1, $2, $3, $4, $5, $2 / $4, $3 / $5}'

# copies of the finer bucket rows (fraud_score.bucket_cache_size) against none
echo "== bucket copies: none against 8MB, a client each at once, cold and hot rows ($ROUNDS x ${SECONDS_EACH}s)"
side_by_side fraud_score.bucket_cache_size 0 8MB |
	awk '{printf "round %d: none cold %.1f hot %.1f us (hot adds %.1f), 8MB cold %.1f hot %.1f us (hot adds %.1f)\n",
		  $1, $2, $3, $3 - $2, $4, $5, $5 - $4}'

psql -c "SELECT count(*) AS differences FROM fraud_feature_set_verify('pay_features', '{\"merchant\": 1}')"
psql -c "SELECT tier, count(*) AS bucket_rows, max(length(slots)) AS widest FROM pay_features_merchant_buckets WHERE merchant = 1 GROUP BY tier ORDER BY tier"
