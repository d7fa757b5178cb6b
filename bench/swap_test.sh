#!/usr/bin/env bash
# Model swaps under load, on a throwaway cluster (track_commit_timestamp = on).
#
# 4 pgbench clients (prepared) insert payments through fraud_score_trigger for
# SECONDS (default 30): one script single-row INSERTs with the native engine,
# the other BEGIN; SET LOCAL fraud_score.engine = xgboost; a 3-row INSERT;
# COMMIT.  Meanwhile two admin sessions change model "swap" (PL/pgSQL
# procedures that COMMIT or ROLLBACK after each operation, with 5-50 ms pauses):
#   - "rc" (READ COMMITTED): loads new versions (activated or not), activates
#     other versions (rollbacks), drops inactive ones, drops the version in use
#     right after activating another (in the next transaction or the same one),
#     and rolls some operations back after holding them uncommitted for a while;
#   - "rr" (REPEATABLE READ): loads versions after taking its snapshot, so it
#     fails with serialization_failure (40001) when "rc" commits in between;
#     those transactions are rolled back and retried, and counted.
# Versions are the 20-tree fixture model (same bytes, new thresholds) or a
# one-split model on amount whose leaf is unique to each load (a rolled-back
# load's included), some with a feature function that runs a query; so a score
# tells which bytes scored it.
#
# It proves, and fails otherwise:
#   (a) no insert transaction failed (pgbench's failed transactions, aborted
#       clients, exit status) and every transaction's rows are in the table;
#   (b) every row's recorded version was active at some moment between the
#       start of its statement and its scoring.  A row trigger on
#       fraud_score_models logs each change in the changing transaction, so
#       pg_xact_commit_timestamp() dates it, and the admin session notes
#       clock_timestamp() as soon as its COMMIT has returned.  A version counts
#       as active from its activation's commit timestamp (before that nobody
#       can see it) until its deactivating COMMIT returned (by then the change
#       is visible and its invalidation queued, so any transaction starting
#       later must reload).  Each row records transaction_timestamp() and
#       statement_timestamp() (DEFAULTs) and clock_timestamp() after scoring (a
#       second BEFORE trigger, fired after the scoring one by name order).  The
#       start used is transaction_timestamp(), when PostgreSQL reads
#       invalidations: a native INSERT is its own transaction, sent as Bind +
#       Execute, which starts at the Bind (where the statement's locks are
#       taken), whereas statement_timestamp() is taken again at the Execute;
#       an xgboost INSERT's transaction starts at its BEGIN;
#   (c) each row's score and decision are exactly what that version (its
#       bytes, thresholds and feature function, kept by the log) gives for the
#       row's values with the row's engine, recomputed afterwards.  (A version
#       number can be given to two loads, see the note printed then; a row is
#       matched to the load that was active under its number at the time);
#   (d) the admins did at least 150 operations, among them drops of the
#       version in use.
# A row scored by a rolled-back change fails (b) (its activation never
# committed) or (c) (its load's leaf was never committed).
#
# Usage: bench/swap_test.sh [seconds]   (prints a summary; exit status 1 on failure)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SWAP_TEST_IN_CLUSTER:-}" ]; then
	export SWAP_TEST_IN_CLUSTER=1 SWAP_SECONDS=${1:-30}
	# UTF8 and C.UTF-8 whatever the machine's locale (as scripts/test).
	exec pg_virtualenv -t -v 15 -c '--encoding=UTF8 --locale=C.UTF-8' -o track_commit_timestamp=on \
		-o max_connections=20 bash "$0"
fi

seconds=$SWAP_SECONDS
min_ops=150
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

echo "== setup: model \"swap\", table swap_tx with the scoring trigger, admin procedures"
q <<SQL
CREATE EXTENSION fraud_score;
CREATE TABLE swap_fixture AS SELECT decode('$(base64 -w0 test/fixtures/small.ubj)', 'base64') AS bytes;

-- A one-split model on "amount" (XGBoost 1.7 JSON, as in specs/invalidation.spec):
-- scores sigmoid(-1) below 100 and sigmoid(leaf) from 100 up.
CREATE FUNCTION swap_tiny_model(leaf text) RETURNS bytea LANGUAGE sql IMMUTABLE AS \$\$
SELECT convert_to(format('{"learner":{"attributes":{},"feature_names":["amount"],"feature_types":[],'
	'"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},'
	'"tree_info":[0],"trees":[{"base_weights":[0E0,-1E0,%1\$s],"categories":[],"categories_nodes":[],'
	'"categories_segments":[],"categories_sizes":[],"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],'
	'"loss_changes":[1E0,0E0,0E0],"parents":[2147483647,0,0],"right_children":[2,-1,-1],'
	'"split_conditions":[1E2,-1E0,%1\$s],"split_indices":[0,0,0],"split_type":[0,0,0],'
	'"sum_hessian":[1E0,5E-1,5E-1],"tree_param":{"num_deleted":"0","num_feature":"1","num_nodes":"3",'
	'"size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1",'
	'"boost_from_average":"1","num_class":"0","num_feature":"1","num_target":"1"},'
	'"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}',
	leaf), 'UTF8')
\$\$;
-- Every load gets its own leaf, committed or not.
CREATE SEQUENCE swap_leaf;

-- A feature function that queries a table: its first call in a transaction
-- takes a lock, so PostgreSQL reads invalidations in the middle of scoring.
CREATE TABLE swap_bump (hour int PRIMARY KEY, bump numeric NOT NULL);
INSERT INTO swap_bump SELECT h, (h % 5) * 20 FROM generate_series(0, 23) h;
CREATE FUNCTION swap_features(row_doc jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS \$\$
DECLARE
	b numeric;
BEGIN
	SELECT bump INTO b FROM swap_bump WHERE hour = (row_doc->>'hour')::int;
	RETURN jsonb_build_object('amount', (row_doc->>'amount')::numeric - coalesce(b, 0));
END
\$\$;

-- Every change to model "swap", logged in the transaction that makes it.
CREATE TABLE swap_log (
	seq bigserial PRIMARY KEY,
	xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
	op text NOT NULL,					-- load, update, drop
	version integer NOT NULL,
	active boolean NOT NULL,			-- after the change
	model bytea, review_threshold float8, decline_threshold float8, feature_function text,
	kind text							-- the description swap_load() gives
);
-- (It fires inside fraud_model_load(), whose search_path is pg_catalog.)
CREATE FUNCTION swap_log_change() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS \$\$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.name = 'swap' THEN
			INSERT INTO swap_log (op, version, active) VALUES ('drop', OLD.version, false);
		END IF;
	ELSIF NEW.name <> 'swap' THEN
		NULL;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO swap_log (op, version, active, model, review_threshold, decline_threshold,
							  feature_function, kind)
		VALUES ('load', NEW.version, NEW.active, NEW.model, NEW.review_threshold,
				NEW.decline_threshold, NEW.feature_function, NEW.description);
	ELSIF NEW.active IS DISTINCT FROM OLD.active THEN
		INSERT INTO swap_log (op, version, active) VALUES ('update', NEW.version, NEW.active);
	END IF;
	RETURN NULL;
END
\$\$;
CREATE TRIGGER swap_log AFTER INSERT OR UPDATE OR DELETE ON fraud_score_models
	FOR EACH ROW EXECUTE FUNCTION swap_log_change();
-- When each committed admin transaction's COMMIT had returned.
CREATE TABLE swap_ack (xid xid8 PRIMARY KEY, acked_at timestamptz NOT NULL);
-- What the admins did.
CREATE TABLE swap_ops (who text, op text, n integer);

-- A new version of "swap": the fixture model (new thresholds) or a one-split
-- model with a fresh leaf, a third of those with the feature function.
CREATE FUNCTION swap_load(activate boolean, kind text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE
	review float8 := round((0.05 + random() * 0.5)::numeric, 3);
	decline float8 := round((review + random() * (0.95 - review))::numeric, 3);
	v integer;
BEGIN
	kind := coalesce(kind, CASE WHEN random() < 0.4 THEN 'fixture' WHEN random() < 0.5 THEN 'tiny'
								ELSE 'tiny+ff' END);
	IF kind = 'fixture' THEN
		v := fraud_model_load('swap', (SELECT bytes FROM swap_fixture), review_threshold => review,
							  decline_threshold => decline, activate => activate, description => kind);
	ELSE
		v := fraud_model_load('swap', swap_tiny_model(nextval('swap_leaf') || 'E-3'),
							  review_threshold => review, decline_threshold => decline,
							  activate => activate, description => kind,
							  feature_function => CASE WHEN kind = 'tiny+ff'
													  THEN 'swap_features(jsonb)'::regprocedure END);
	END IF;
	RETURN CASE WHEN activate THEN 'load, activated' ELSE 'load, not activated' END;
END
\$\$;

-- One operation of the READ COMMITTED admin, under the lock the administration
-- functions take anyway, so that what it reads stays true.  Returns what it
-- did; "then drop N" asks for an in-use drop in the next transaction, and
-- "(roll back)" for a ROLLBACK.  Never drops the newest version, so version
-- numbers are never reused.
CREATE FUNCTION swap_rc_op(OUT what text, OUT then_drop integer) LANGUAGE plpgsql AS \$\$
DECLARE
	r float8 := random();
	cur integer;
	newest integer;
	n integer;
	other integer;
	victim integer;
BEGIN
	LOCK TABLE fraud_score_models IN SHARE ROW EXCLUSIVE MODE;
	SELECT max(version) FILTER (WHERE active), max(version), count(*) INTO cur, newest, n
	FROM fraud_score_models WHERE name = 'swap';
	SELECT version INTO other FROM fraud_score_models
	WHERE name = 'swap' AND NOT active ORDER BY random() LIMIT 1;
	SELECT version INTO victim FROM fraud_score_models
	WHERE name = 'swap' AND NOT active AND version < newest ORDER BY random() LIMIT 1;
	IF n > 16 AND r < 0.5 THEN
		r := 0.5;						-- too many versions: drop one
	END IF;
	IF r < 0.22 OR other IS NULL THEN
		what := swap_load(true);
	ELSIF r < 0.37 THEN
		what := swap_load(false);
	ELSIF r < 0.55 THEN
		PERFORM fraud_model_activate('swap', other);
		what := CASE WHEN other < cur THEN 'activate an older version' ELSE 'activate a newer version' END;
	ELSIF r < 0.70 AND victim IS NOT NULL THEN
		PERFORM fraud_model_drop('swap', victim);
		what := 'drop an inactive version';
	ELSIF r < 0.85 AND cur < newest THEN
		-- The version in use: activate another, drop it at once.
		PERFORM fraud_model_activate('swap', other);
		IF random() < 0.5 THEN
			what := 'activate another, then drop the one in use';
			then_drop := cur;
		ELSE
			PERFORM fraud_model_drop('swap', cur);
			what := 'activate another and drop the one in use (one transaction)';
		END IF;
	ELSIF r < 0.85 THEN
		what := swap_load(true);
		then_drop := cur;
		what := 'load, activated, then drop the one in use';
	ELSIF r < 0.90 THEN
		PERFORM swap_load(true, 'tiny');
		what := 'load, activated (roll back)';
	ELSIF r < 0.95 THEN
		PERFORM fraud_model_activate('swap', other);
		what := 'activate another (roll back)';
	ELSIF victim IS NOT NULL THEN
		PERFORM fraud_model_drop('swap', victim);
		what := 'drop an inactive version (roll back)';
	ELSE
		what := swap_load(false);
	END IF;
END
\$\$;

-- One operation of the REPEATABLE READ admin: a load whose transaction
-- snapshot predates the lock that fraud_model_load takes.
CREATE FUNCTION swap_rr_op(OUT what text, OUT then_drop integer) LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM count(*) FROM fraud_score_models;
	PERFORM pg_sleep(random() * 0.03);
	what := swap_load(random() < 0.5);
END
\$\$;

-- An admin session: operations until the deadline, each in its own
-- transaction, a serialization failure rolled back and retried.
CREATE PROCEDURE swap_admin(who text, deadline timestamptz)
LANGUAGE plpgsql AS \$\$
DECLARE
	op record;
	done_ops text[] := '{}';
	pending_drop integer;
	tries integer;
	ok boolean;
	x xid8;
	ack_xids xid8[] := '{}';
	ack_times timestamptz[] := '{}';
BEGIN
	LOOP								-- under load from the start
		EXIT WHEN EXISTS (SELECT FROM swap_tx);
		COMMIT;							-- a new snapshot, also under REPEATABLE READ
		PERFORM pg_sleep(0.01);
	END LOOP;
	COMMIT;
	WHILE clock_timestamp() < deadline OR pending_drop IS NOT NULL LOOP
		tries := 0;
		LOOP
			tries := tries + 1;
			BEGIN
				IF pending_drop IS NOT NULL THEN
					PERFORM fraud_model_drop('swap', pending_drop);
					SELECT 'drop the previously active version' AS what, NULL::integer AS then_drop INTO op;
				ELSIF who = 'rc' THEN
					SELECT * INTO op FROM swap_rc_op();
				ELSE
					SELECT * INTO op FROM swap_rr_op();
				END IF;
				ok := true;
			EXCEPTION WHEN serialization_failure THEN
				ok := false;
			END;
			EXIT WHEN ok;
			ROLLBACK;
			done_ops := done_ops || 'retry after serialization_failure'::text;
			IF tries >= 100 THEN
				RAISE EXCEPTION '% admin: 100 serialization failures in a row', who;
			END IF;
			PERFORM pg_sleep(random() * 0.01);
		END LOOP;
		done_ops := done_ops || op.what;
		IF op.what LIKE '%(roll back)' THEN
			PERFORM pg_sleep(random() * 0.02);		-- uncommitted, while others score
			ROLLBACK;
		ELSE
			x := pg_current_xact_id_if_assigned();
			COMMIT;
			IF x IS NOT NULL THEN
				ack_xids := ack_xids || x;
				ack_times := ack_times || clock_timestamp();
			END IF;
		END IF;
		pending_drop := CASE WHEN pending_drop IS NULL THEN op.then_drop END;
		IF pending_drop IS NULL THEN
			PERFORM pg_sleep(0.005 + random() * (CASE WHEN who = 'rc' THEN 0.045 ELSE 0.15 END));
		END IF;
	END LOOP;
	INSERT INTO swap_ack SELECT * FROM unnest(ack_xids, ack_times);
	INSERT INTO swap_ops SELECT who, o, count(*) FROM unnest(done_ops) o GROUP BY o;
END
\$\$;

CREATE TABLE swap_tx (
	id bigserial PRIMARY KEY,
	client integer NOT NULL,
	amount numeric(12, 2),
	hour integer,
	merchant_risk real,
	card_age_days integer,
	is_foreign boolean,
	score float8,
	decision text,
	model_version integer,
	engine text,
	xact_start timestamptz NOT NULL DEFAULT transaction_timestamp(),
	stmt_start timestamptz NOT NULL DEFAULT statement_timestamp(),
	scored_at timestamptz
);
CREATE FUNCTION swap_stamp() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	NEW.scored_at := clock_timestamp();
	NEW.engine := current_setting('fraud_score.engine');
	RETURN NEW;
END
\$\$;
-- Triggers fire in name order: score first, then stamp.
CREATE TRIGGER a_score BEFORE INSERT ON swap_tx
	FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('swap', 'score', 'decision', 'model_version');
CREATE TRIGGER b_stamp BEFORE INSERT ON swap_tx
	FOR EACH ROW EXECUTE FUNCTION swap_stamp();

SELECT swap_load(true, 'fixture') \g /dev/null
INSERT INTO swap_ack SELECT DISTINCT xid, clock_timestamp() FROM swap_log;
SQL

cat > "$work/native.sql" <<'SQL'
\set amount random(1, 100000)
\set hour random(0, 23)
\set risk random(0, 1000)
\set age random(0, 3000)
\set foreign random(0, 9)
INSERT INTO swap_tx (client, amount, hour, merchant_risk, card_age_days, is_foreign)
VALUES (:client_id, :amount / 100.0, :hour, :risk / 1000.0, :age, :foreign = 0);
SQL
cat > "$work/xgboost.sql" <<'SQL'
\set amount random(1, 100000)
\set hour random(0, 23)
\set risk random(0, 1000)
\set age random(0, 3000)
\set foreign random(0, 9)
BEGIN;
SET LOCAL fraud_score.engine = xgboost;
INSERT INTO swap_tx (client, amount, hour, merchant_risk, card_age_days, is_foreign)
SELECT :client_id, (:amount + 3331 * g) % 100000 / 100.0, (:hour + g) % 24, :risk / 1000.0,
       :age + g, :foreign = g
FROM generate_series(1, 3) g;
COMMIT;
SQL

echo "== ${seconds}s: pgbench (4 clients, prepared; native 1-row and xgboost 3-row INSERTs) and two admin sessions"
deadline=$(q -c "SELECT now() + make_interval(secs => $seconds - 2)")
q -c "CALL swap_admin('rc', '$deadline')" > "$work/admin_rc.out" 2>&1 &
admin_rc=$!
PGOPTIONS="-c default_transaction_isolation=repeatable\\ read" \
	q -c "CALL swap_admin('rr', '$deadline')" > "$work/admin_rr.out" 2>&1 &
admin_rr=$!
pgbench_rc=0
pgbench -n -M prepared -c 4 -j 2 -T "$seconds" -f "$work/native.sql@1" -f "$work/xgboost.sql@1" \
	> "$work/pgbench.out" 2>&1 || pgbench_rc=$?
admin_rc_rc=0
admin_rr_rc=0
wait "$admin_rc" || admin_rc_rc=$?
wait "$admin_rr" || admin_rr_rc=$?

grep -E "^(number of (transactions actually processed|failed transactions)|tps)" "$work/pgbench.out" || true
if [ "$pgbench_rc" -ne 0 ] || grep -qiE "aborted|error" "$work/pgbench.out"; then
	grep -iE "aborted|error" "$work/pgbench.out" | head -20 >&2 || true
	fail "pgbench exited with status $pgbench_rc or reported errors"
fi
for who in rc rr; do
	rc_var=admin_${who}_rc
	if [ "${!rc_var}" -ne 0 ]; then
		cat "$work/admin_$who.out" >&2
		fail "admin session \"$who\" failed"
	fi
done
total=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")
[ -n "$total" ] && [ -n "$failed" ] || { cat "$work/pgbench.out" >&2; fail "could not read pgbench's report"; }

echo "== admin operations"
q -F ' ' <<'SQL'
SELECT format('%-10s %6s  %s', 'session', 'count', 'operation');
SELECT format('%-10s %6s  %s', who, n, op) FROM swap_ops ORDER BY who, op;
SQL

echo "== checking every row"
# Tables, not temporary ones: the failure report at the end reads them.
checks=$(q -F ' ' <<'SQL'
SET client_min_messages = warning;
-- Each logged change with its commit timestamp and acknowledgement, and the
-- load ("life") it concerns: fraud_model_load() can give a new load the
-- number of a dropped version, so a version number alone is not enough.
CREATE TABLE swap_ev AS
SELECT l.seq, l.xid, l.op, l.version, l.active,
	   pg_xact_commit_timestamp(l.xid::xid) AS committed_at, a.acked_at, NULL::bigint AS life
FROM swap_log l LEFT JOIN swap_ack a USING (xid);
UPDATE swap_ev e SET life = (SELECT l.seq FROM swap_ev l WHERE l.op = 'load' AND l.version = e.version
							   AND (l.committed_at, l.seq) <= (e.committed_at, e.seq)
							 ORDER BY l.committed_at DESC, l.seq DESC LIMIT 1);
-- Active intervals: from the activation's commit timestamp to the return of
-- the COMMIT that deactivated or dropped the version (NULL: still active).
-- Activated and deactivated in one transaction: never visible, no interval.
CREATE TABLE swap_intervals AS
SELECT e.life, e.version, e.committed_at AS active_from, off.committed_at AS off_committed_at,
	   off.acked_at AS inactive_by
FROM swap_ev e
LEFT JOIN LATERAL (SELECT f.xid, f.committed_at, f.acked_at FROM swap_ev f
				   WHERE f.life = e.life AND NOT f.active
					 AND (f.committed_at, f.seq) > (e.committed_at, e.seq)
				   ORDER BY f.committed_at, f.seq LIMIT 1) off ON true
WHERE e.active AND off.xid IS DISTINCT FROM e.xid;
CREATE INDEX ON swap_intervals (version);
ANALYZE swap_intervals;
SELECT count(*) AS reused FROM (SELECT version FROM swap_ev WHERE op = 'load' GROUP BY 1 HAVING count(*) > 1) s \gset
SELECT count(*) AS unacked FROM swap_ev WHERE committed_at IS NULL OR acked_at IS NULL OR life IS NULL \gset
SELECT count(*) AS loads, count(*) FILTER (WHERE EXISTS (SELECT FROM swap_ev d WHERE d.op = 'drop' AND d.life = e.life)) AS dropped
FROM swap_ev e WHERE op = 'load' \gset
-- (b) The loads whose version was active at some moment of [transaction
-- start, scoring] under the row's version number: none means a violation.
CREATE TABLE swap_checked AS
SELECT t.*, ARRAY(SELECT i.life FROM swap_intervals i WHERE i.version = t.model_version
					 AND i.active_from <= t.scored_at
					 AND coalesce(i.inactive_by, 'infinity') >= t.xact_start) AS lives
FROM swap_tx t;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE score IS NULL OR decision IS NULL OR model_version IS NULL
						OR scored_at IS NULL) AS unscored,
	   count(*) FILTER (WHERE cardinality(lives) = 0) AS violating,
	   -- Allowed: what a check with statement_timestamp() and the deactivation's
	   -- commit timestamp would have refused.
	   count(*) FILTER (WHERE NOT EXISTS (
			SELECT FROM swap_intervals i WHERE i.version = t.model_version
			   AND i.active_from <= t.scored_at
			   AND coalesce(i.off_committed_at, 'infinity') >= t.stmt_start)) AS in_window,
	   count(DISTINCT model_version) AS versions_seen,
	   count(*) FILTER (WHERE t.lives && (SELECT array_agg(life) FROM swap_ev WHERE op = 'drop')) AS by_dropped
FROM swap_checked t \gset
-- (c) Every load again, as model "ref_<life>", to recompute each row with the
-- row's engine: its score and decision must be those of one of its lives.
SELECT count(fraud_model_load('ref_' || seq, model, review_threshold => review_threshold,
							  decline_threshold => decline_threshold,
							  feature_function => feature_function::regprocedure)) AS refs
FROM swap_log WHERE op = 'load' \gset
CREATE TABLE swap_mismatch (id bigint, engine text);
SET fraud_score.engine = native;
INSERT INTO swap_mismatch SELECT id, engine FROM swap_checked t
WHERE t.engine = 'native' AND cardinality(t.lives) > 0 AND NOT EXISTS (
	SELECT FROM unnest(t.lives) l,
		 fraud_decide(jsonb_build_object('amount', t.amount, 'hour', t.hour,
										 'merchant_risk', t.merchant_risk, 'card_age_days', t.card_age_days,
										 'is_foreign', t.is_foreign), 'ref_' || l) d
	WHERE d.score = t.score AND d.decision = t.decision);
SET fraud_score.engine = xgboost;
INSERT INTO swap_mismatch SELECT id, engine FROM swap_checked t
WHERE t.engine = 'xgboost' AND cardinality(t.lives) > 0 AND NOT EXISTS (
	SELECT FROM unnest(t.lives) l,
		 fraud_decide(jsonb_build_object('amount', t.amount, 'hour', t.hour,
										 'merchant_risk', t.merchant_risk, 'card_age_days', t.card_age_days,
										 'is_foreign', t.is_foreign), 'ref_' || l) d
	WHERE d.score = t.score AND d.decision = t.decision);
SELECT count(*) FILTER (WHERE engine = 'native') AS native_rows,
	   (SELECT count(*) FROM swap_mismatch WHERE engine = 'native') AS native_mismatch,
	   count(*) FILTER (WHERE engine = 'xgboost') AS xgb_rows,
	   (SELECT count(*) FROM swap_mismatch WHERE engine = 'xgboost') AS xgb_mismatch
FROM swap_tx \gset
SELECT string_agg(format('%s %s', n, kind), ', ' ORDER BY kind) AS by_kind
FROM (SELECT l.kind, count(*) AS n FROM swap_checked t JOIN swap_log l ON l.seq = t.lives[1]
	  GROUP BY 1) s \gset
SELECT sum(n) FILTER (WHERE op NOT LIKE 'retry%') AS ops,
	   coalesce(sum(n) FILTER (WHERE op LIKE 'retry%'), 0) AS retries,
	   coalesce(sum(n) FILTER (WHERE op LIKE '%(roll back)'), 0) AS rolled_back,
	   coalesce(sum(n) FILTER (WHERE op IN ('drop the previously active version',
					'activate another and drop the one in use (one transaction)')), 0) AS in_use_drops
FROM swap_ops \gset
\echo :by_kind
\echo :rows :unscored :violating :in_window :versions_seen :by_dropped :native_rows :native_mismatch :xgb_rows :xgb_mismatch :loads :dropped :refs :unacked :reused :ops :retries :rolled_back :in_use_drops
SQL
)
{ read -r by_kind; read -r rows unscored violating in_window versions_seen by_dropped native_rows native_mismatch \
	xgb_rows xgb_mismatch loads dropped refs unacked reused ops retries rolled_back in_use_drops; } <<< "$checks"
# pgbench's per-script counts are not kept exactly with -j 2; the rows tell
# them apart: one native row or three xgboost rows per transaction.
row_transactions=$((native_rows + xgb_rows / 3))

cat <<EOF
insert transactions run:        $total (native 1-row: $native_rows, xgboost 3-row: $((xgb_rows / 3)))
insert transactions failed:     $failed
admin operations done:          $ops ($rolled_back rolled back, $in_use_drops drops of the version in use; $loads versions loaded and committed, $dropped of them dropped)
serialization failures retried: $retries
rows checked:                   $rows (native $native_rows, xgboost $xgb_rows; $versions_seen versions seen, $by_dropped rows by versions dropped since)
rows by kind of version:        $by_kind
rows violating:                 $violating (version not active between statement start and scoring)
rows with wrong score/decision: $((native_mismatch + xgb_mismatch)) (native $native_mismatch, xgboost $xgb_mismatch; recomputed with $refs reference loads)
rows unscored:                  $unscored
(allowed: $in_window rows began after their version's deactivation had its commit timestamp but before
 that COMMIT returned, or had their Bind before it and their Execute after)
EOF
if [ "$reused" != 0 ]; then
	echo "note: $reused version numbers were given to two loads (fraud_model_load reuses the number of a"
	echo "      dropped version when its snapshot misses it); rows were matched to loads by time"
fi

status=0
check() { if ! eval "$1"; then echo "FAILED: $2" >&2; status=1; fi; }
check '[ "$failed" = 0 ]' "$failed insert transactions failed"
check '[ "$row_transactions" = "$total" ] && [ $((xgb_rows % 3)) = 0 ]' \
	"the table holds the rows of $row_transactions transactions ($native_rows + $xgb_rows / 3), pgbench committed $total"
check '[ "$violating" = 0 ]' "$violating rows record a version that was not active between their statement's start and their scoring"
check '[ "$native_mismatch" = 0 ] && [ "$xgb_mismatch" = 0 ]' "rows whose score or decision is not their version's"
check '[ "$unscored" = 0 ]' "$unscored rows without score, decision or version"
check '[ "$ops" -ge "$min_ops" ]' "only $ops admin operations (at least $min_ops wanted)"
check '[ "$in_use_drops" -gt 0 ]' "no drop of the version in use happened"
check '[ "$unacked" = 0 ]' "$unacked logged changes without a commit timestamp, acknowledgement or load"
if [ "$status" -ne 0 ]; then
	echo "-- some failing rows, with their version's active intervals (expected: with the native engine):" >&2
	psql -X -P pager=off -c "
		SELECT t.id, t.client, t.engine, t.amount, t.model_version, t.score, t.decision,
			   (SELECT format('%s %s', d.score, d.decision)
				FROM swap_intervals i, fraud_decide(jsonb_build_object('amount', t.amount, 'hour', t.hour,
						'merchant_risk', t.merchant_risk, 'card_age_days', t.card_age_days,
						'is_foreign', t.is_foreign), 'ref_' || i.life) d
				WHERE i.version = t.model_version ORDER BY i.active_from DESC LIMIT 1) AS expected,
			   t.xact_start, t.stmt_start, t.scored_at,
			   (SELECT string_agg(format('[%s, %s]', active_from, coalesce(inactive_by::text, 'end')), ' '
								  ORDER BY active_from)
				FROM swap_intervals i WHERE i.version = t.model_version) AS active
		FROM swap_checked t
		WHERE cardinality(lives) = 0 OR id IN (SELECT id FROM swap_mismatch)
		ORDER BY id LIMIT 10" >&2
	exit 1
fi
echo "== swap test passed"
