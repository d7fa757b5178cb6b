# fraud_model_recalibrate as a pg_cron job (Debian's postgresql-15-cron) on a
# throwaway server: the job runs at the next minute, commits new thresholds
# and an audit row, and pg_cron records it as succeeded.
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

my $job = $node->safe_psql('postgres', q{
SELECT cron.schedule('recalibrate rc', '* * * * *',
                     $$SELECT fraud_model_recalibrate('rc', 'SELECT score, is_fraud FROM rc_labeled')$$)});
ok($job =~ /^\d+$/, "scheduled job $job");

# The job runs at the next minute boundary.
my $ran = $node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')}, 't');
ok($ran, 'the job ran within the poll timeout');
is($node->safe_psql('postgres', q{
SELECT status || ': ' || return_message FROM cron.job_run_details ORDER BY runid LIMIT 1}),
	'succeeded: SELECT 1', 'pg_cron recorded the run as succeeded');

my ($outcome, $by, $rows, $frauds) = split /\|/, $node->safe_psql('postgres', q{
SELECT outcome, recalibrated_by, labeled_rows, labeled_frauds FROM fraud_score_recalibrations ORDER BY id LIMIT 1});
is($outcome, 'changed', 'the audit row says the thresholds changed');
is($by, getpwuid($<) // 'postgres', 'as the user who scheduled the job');
is("$rows/$frauds", '20400/400', 'from the labeled rows');
is($node->safe_psql('postgres', q{
SELECT m.review_threshold = r.new_review_threshold AND m.decline_threshold = r.new_decline_threshold
FROM fraud_models m, fraud_score_recalibrations r WHERE m.name = 'rc' AND m.active
ORDER BY r.id LIMIT 1}), 't', 'the active version has the new thresholds');

$node->safe_psql('postgres', q{SELECT cron.unschedule('recalibrate rc')});
$node->stop;
done_testing();
