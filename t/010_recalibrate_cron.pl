# fraud_model_recalibrate as a pg_cron job (Debian's postgresql-15-cron) on a
# throwaway server: the job runs at the next minute, commits new thresholds
# and an audit row, and pg_cron records it as succeeded.  Beside it, a drift
# alert job: fraud_model_drift's major drifts inserted into an alert table.
use strict;
use warnings;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron, fraud_score'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

my $model = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/small.ubj"), '');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_cron;
CREATE EXTENSION fraud_score;
SELECT fraud_model_load('rc', decode('$model', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
SELECT setseed(0.42);
CREATE TABLE rc_labeled AS
SELECT (random() ^ 6) * 0.6 AS score, false AS is_fraud FROM generate_series(1, 20000)
UNION ALL
SELECT 1 - (random() ^ 2) * 0.7, true FROM generate_series(1, 400);
});

# Reference documents: amounts 0..99, hours 0..23; the recent ones have
# amounts ten times higher, hours as before.
$node->safe_psql('postgres', q{
CREATE TABLE rc_reference AS
SELECT jsonb_build_object('amount', i % 100, 'hour', i % 24, 'merchant_risk', 0.1,
                          'card_age_days', 400, 'is_foreign', 0) AS doc
FROM generate_series(1, 2000) i;
CREATE TABLE rc_recent AS
SELECT jsonb_set(doc, '{amount}', to_jsonb((doc->>'amount')::int * 10)) AS doc FROM rc_reference;
SELECT fraud_model_set_reference('rc', 1, 'SELECT doc FROM rc_reference');
CREATE TABLE rc_drift_alerts (at timestamptz, kind text, feature text, psi float8);
});
my $drift_job = $node->safe_psql('postgres', q{
SELECT cron.schedule('drift rc', '* * * * *', $$
    INSERT INTO rc_drift_alerts
    SELECT now(), kind, feature, psi FROM fraud_model_drift('rc', 'SELECT doc FROM rc_recent')
    WHERE drift = 'major'$$)});
ok($drift_job =~ /^\d+$/, "scheduled drift job $drift_job");

my $job = $node->safe_psql('postgres', q{
SELECT cron.schedule('recalibrate rc', '* * * * *',
                     $$SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled')$$)});
ok($job =~ /^\d+$/, "scheduled job $job");

# The jobs run at the next minute boundary.
my $ran = $node->poll_query_until('postgres', qq{
SELECT count(DISTINCT jobid) = 2 FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')}, 't');
ok($ran, 'both jobs ran within the poll timeout');
is($node->safe_psql('postgres', qq{
SELECT status || ': ' || return_message FROM cron.job_run_details WHERE jobid = $job ORDER BY runid LIMIT 1}),
	'succeeded: SELECT 1', 'pg_cron recorded the recalibration as succeeded');
like($node->safe_psql('postgres', qq{
SELECT status || ': ' || return_message FROM cron.job_run_details WHERE jobid = $drift_job ORDER BY runid LIMIT 1}),
	qr/^succeeded: INSERT 0 [1-9]/, 'pg_cron recorded the drift job as succeeded, with alerts');
is($node->safe_psql('postgres', q{
SELECT string_agg(coalesce(feature, kind), ',' ORDER BY kind, feature) FROM rc_drift_alerts
WHERE at = (SELECT min(at) FROM rc_drift_alerts)}),
	'amount,score', 'the drift job alerted on the amounts and the score they move, not on the unchanged features');

my ($outcome, $by, $rows, $frauds) = split /\|/, $node->safe_psql('postgres', q{
SELECT outcome, recalibrated_by, labeled_rows, labeled_frauds FROM fraud_score_recalibrations ORDER BY id LIMIT 1});
is($outcome, 'changed', 'the audit row says the thresholds changed');
is($by, getpwuid($<) // 'postgres', 'as the user who scheduled the job');
is("$rows/$frauds", '20400/400', 'from the labeled rows');
is($node->safe_psql('postgres', q{
SELECT m.review_threshold = r.new_review_threshold AND m.decline_threshold = r.new_decline_threshold
FROM fraud_models m, fraud_score_recalibrations r WHERE m.name = 'rc' AND m.active
ORDER BY r.id LIMIT 1}), 't', 'the active version has the new thresholds');

$node->safe_psql('postgres', q{SELECT cron.unschedule('recalibrate rc'), cron.unschedule('drift rc')});
$node->stop;
done_testing();
