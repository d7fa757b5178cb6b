# A hot standby: a model loaded and activated on the primary is used by a
# session already open on the streaming standby as soon as the standby has
# replayed it; the standby's scores are the primary's; model changes there
# fail with PostgreSQL's read-only error (25006) naming the operation; the
# serving statistics work there; a declared feature set computes the
# primary's features there from the replayed buckets.  Prints the replay lag
# of an activation.
use strict;
use warnings;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', q{shared_preload_libraries = 'fraud_score'});
$primary->start;

my $small = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/small.ubj"), '');
my $dart = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/dart.ubj"), '');
$primary->safe_psql('postgres', qq{
CREATE EXTENSION fraud_score;
SELECT fraud_model_load('sb', decode('$small', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
CREATE TABLE sb_docs AS
SELECT i, jsonb_build_object('amount', i * 7.5, 'hour', i % 24, 'merchant_risk', (i % 10) / 10.0,
                             'card_age_days', i * 3, 'is_foreign', i % 2) AS doc
FROM generate_series(1, 500) i;
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $scores_sql = q{SELECT string_agg(fraud_score(doc, 'sb')::text, ',' ORDER BY i) FROM sb_docs};

# A session opened on the standby before the change, kept open.
my $session = $standby->background_psql('postgres');
is($session->query_safe(q{SELECT (fraud_decide(doc, 'sb')).version FROM sb_docs WHERE i = 1}), '1',
	'the open standby session scores with version 1');
is($session->query_safe($scores_sql), $primary->safe_psql('postgres', $scores_sql),
	'the standby scores 500 documents as the primary does');

# Version 2 loaded and activated on the primary; the open session polls for it.
my $started = time;
$primary->safe_psql('postgres', qq{
SELECT fraud_model_load('sb', decode('$dart', 'base64'), review_threshold => 0.2, decline_threshold => 0.6)});
my $committed = time;
my $seen;
for (1 .. 10000)
{
	$seen = $session->query_safe(q{SELECT (fraud_decide(doc, 'sb')).version FROM sb_docs WHERE i = 1});
	last if $seen eq '2';
}
my $used = time;
is($seen, '2', 'the open standby session uses version 2 once replayed, without reconnecting');
diag(sprintf('activation on the primary: %.1f ms to commit; the open standby session used it %.1f ms after the commit',
	1000 * ($committed - $started), 1000 * ($used - $committed)));
is($session->query_safe($scores_sql), $primary->safe_psql('postgres', $scores_sql),
	'version 2 scores the same on both');
is($session->query_safe(q{SELECT review_threshold || '/' || decline_threshold FROM fraud_models WHERE name = 'sb' AND active}),
	'0.2/0.6', 'with the thresholds of the primary');

# Rolling back on the primary (activating version 1 again) reaches it too.
$primary->safe_psql('postgres', q{SELECT fraud_model_activate('sb', 1)});
$primary->wait_for_catchup($standby);
is($session->query_safe(q{SELECT (fraud_decide(doc, 'sb')).version FROM sb_docs WHERE i = 1}), '1',
	'an activation of version 1 on the primary is used at the next call');

# Model changes on the standby: the read-only error, naming the operation.
my %operations = (
	'fraud_model_load()' => qq{SELECT fraud_model_load('sb', decode('$small', 'base64'))},
	'fraud_model_activate()' => q{SELECT fraud_model_activate('sb', 2)},
	'fraud_model_drop()' => q{SELECT fraud_model_drop('sb', 2)},
	'fraud_model_recalibrate()' =>
	  q{SELECT fraud_model_recalibrate('sb', 'SELECT 0.5::float8 AS score, true AS is_fraud')},
	'fraud_model_shadow()' => q{SELECT fraud_model_shadow('sb', 2)},
	'fraud_model_shadow_stop()' => q{SELECT fraud_model_shadow_stop('sb', 2)},
	'fraud_model_set_reasons()' => q{SELECT fraud_model_set_reasons('sb', 1, NULL)},
	'fraud_model_set_reference()' => q{SELECT fraud_model_set_reference('sb', 1, 'SELECT doc FROM sb_docs')},
	'fraud_model_import()' => q{SELECT fraud_model_import(fraud_model_export('sb'), 'sb_copy')},
	'fraud_model_train()' =>
	  q{SELECT fraud_model_train('sb_trained', 'SELECT 1 AS x, 1 AS y', 'y')});
foreach my $operation (sort keys %operations)
{
	my ($ret, $stdout, $stderr) =
	  $standby->psql('postgres', "\\set VERBOSITY verbose\n$operations{$operation}");
	like($stderr, qr/ERROR:  25006: cannot execute \Q$operation\E during recovery/,
		"$operation on the standby: read-only error naming it");
}
is($standby->safe_psql('postgres', q{SELECT count(*) FROM fraud_models WHERE name = 'sb'}), '2',
	'and the standby catalog is unchanged');

# Serving statistics on the standby count its own calls.
$standby->safe_psql('postgres', q{SELECT fraud_score_stats_reset()});
$standby->safe_psql('postgres', q{SELECT count(fraud_score(doc, 'sb')) FROM sb_docs});
is($standby->safe_psql('postgres', q{SELECT version || ':' || calls FROM fraud_score_stats WHERE model = 'sb'}),
	'1:500', 'fraud_score_stats counts the standby\'s own calls');

# A declared feature set: ad hoc scoring on the standby reads the replayed
# buckets (ordinary tables) and agrees with the primary; a row inserted on the
# primary counts in an open standby session once replayed; rebuilding the
# buckets is refused there.
$primary->safe_psql('postgres', q{
CREATE TABLE sb_tx (id bigint PRIMARY KEY, t timestamp NOT NULL, card int NOT NULL,
					amount numeric(10, 2), seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE);
SET client_min_messages = warning;
SELECT fraud_feature_set_create('sb_velocity', 'sb_tx', '{"time": "t", "arrival": "seq",
  "entities": {"card": {"keys": ["card"], "tiers": ["7 days", "1 day"], "resolution": "1 hour"}},
  "features": {"n_1d": {"kind": "count", "entity": "card", "window": "1 day"},
			   "sum_7d": {"kind": "sum", "entity": "card", "window": "7 days", "column": "amount"}}}');
INSERT INTO sb_tx (id, t, card, amount)
SELECT i, '2024-01-01'::timestamp + i * interval '37 minutes', i % 5, i % 90 + 0.5
FROM generate_series(1, 400) i;
});
$primary->wait_for_catchup($standby);
my $features_sql = q{SELECT string_agg(sb_velocity(to_jsonb(x))::text, ',' ORDER BY id) FROM sb_tx x};
my $primary_features = $primary->safe_psql('postgres', $features_sql);
like($primary_features, qr/"n_1d": [1-9]/, 'the declared set counts rows on the primary');
is($standby->safe_psql('postgres', $features_sql), $primary_features,
	'the standby computes the features of 400 rows as the primary does');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM fraud_feature_set_verify('sb_velocity')}), '0',
	'verify runs on the standby and finds the buckets right');
my $doc_sql = q{SELECT sb_velocity('{"t": "2024-01-11 08:00", "card": 1}')->>'n_1d'};
my $before = $session->query_safe($doc_sql);
$primary->safe_psql('postgres',
	q{INSERT INTO sb_tx (id, t, card, amount) VALUES (401, '2024-01-11 07:00', 1, 5)});
$primary->wait_for_catchup($standby);
is($session->query_safe($doc_sql), $before + 1, 'a row inserted on the primary counts in the open standby session');
my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT fraud_feature_set_backfill('sb_velocity')");
like($stderr, qr/ERROR:  25006: /, 'a backfill on the standby is refused as a write');

$session->quit;
$standby->stop;
$primary->stop;
done_testing();
