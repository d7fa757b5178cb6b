# Logical replication of the model catalog: a subscriber of
# fraud_score_models gets the published versions; its open sessions use a
# new or re-activated version, or changed thresholds, at their next call;
# its stored forests are compiled from the replicated bytes.
use strict;
use warnings;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $publisher = PostgreSQL::Test::Cluster->new('publisher');
$publisher->init(allows_streaming => 'logical');
$publisher->start;
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;

my $small = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/small.ubj"), '');
my $dart = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/dart.ubj"), '');
my $docs = q{
CREATE TABLE lr_docs AS
SELECT i, jsonb_build_object('amount', i * 7.5, 'hour', i % 24, 'merchant_risk', (i % 10) / 10.0,
                             'card_age_days', i * 3, 'is_foreign', i % 2) AS doc
FROM generate_series(1, 300) i;
};
$publisher->safe_psql('postgres', qq{
CREATE EXTENSION fraud_score;
$docs
SELECT fraud_model_load('lr', decode('$small', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
CREATE PUBLICATION fraud_models FOR TABLE fraud_score_models;
});
$subscriber->safe_psql('postgres', qq{CREATE EXTENSION fraud_score; $docs});
(my $publisher_connstr = $publisher->connstr('postgres')) =~ s/'/''/g;
$subscriber->safe_psql('postgres', qq{
CREATE SUBSCRIPTION fraud_models CONNECTION '$publisher_connstr' PUBLICATION fraud_models});
$subscriber->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
  or die 'the initial copy of the catalog did not finish';
$publisher->wait_for_catchup('fraud_models');

my $scores_sql = q{SELECT string_agg(fraud_score(doc, 'lr')::text, ',' ORDER BY i) FROM lr_docs};
my $decide_sql = q{SELECT (fraud_decide(doc, 'lr')).version || ':' || (fraud_decide(doc, 'lr')).decision
FROM lr_docs WHERE i = 40};
my $forests_sql = q{SELECT string_agg(version || ':' || (forest IS NOT NULL) || ':'
                                      || (sha256 = encode(sha256(model), 'hex')) || ':' || md5(forest), ','
                                      ORDER BY version)
FROM fraud_score_models WHERE name = 'lr'};

my $session = $subscriber->background_psql('postgres');
is($session->query_safe($scores_sql), $publisher->safe_psql('postgres', $scores_sql),
	'the subscriber scores with the copied version as the publisher does');

# A new version, published while the subscriber's session is open.
$publisher->safe_psql('postgres', qq{
SELECT fraud_model_load('lr', decode('$dart', 'base64'), review_threshold => 0.2, decline_threshold => 0.6)});
$publisher->wait_for_catchup('fraud_models');
is($session->query_safe($decide_sql), $publisher->safe_psql('postgres', $decide_sql),
	'its open session uses the published version 2 at its next call');
is($session->query_safe($scores_sql), $publisher->safe_psql('postgres', $scores_sql),
	'and scores as the publisher does');
is($subscriber->safe_psql('postgres', $forests_sql), $publisher->safe_psql('postgres', $forests_sql),
	'the subscriber compiled the replicated bytes into the same forests, sha256 matching the bytes');

# Thresholds changed and version 1 re-activated on the publisher.
$publisher->safe_psql('postgres', q{
UPDATE fraud_score_models SET review_threshold = 0.9, decline_threshold = 0.95 WHERE name = 'lr' AND version = 2});
$publisher->wait_for_catchup('fraud_models');
is($session->query_safe($decide_sql), $publisher->safe_psql('postgres', $decide_sql),
	'new thresholds are used at the next call');
$publisher->safe_psql('postgres', q{SELECT fraud_model_activate('lr', 1)});
$publisher->wait_for_catchup('fraud_models');
is($session->query_safe(q{SELECT (fraud_decide(doc, 'lr')).version FROM lr_docs WHERE i = 1}), '1',
	'a re-activation is used at the next call');

# A dropped version disappears there too.
$publisher->safe_psql('postgres', q{SELECT fraud_model_drop('lr', 2)});
$publisher->wait_for_catchup('fraud_models');
is($session->query_safe(q{SELECT string_agg(version::text, ',') FROM fraud_models WHERE name = 'lr'}), '1',
	'a dropped version is gone on the subscriber');

$session->quit;
$subscriber->stop;
$publisher->stop;
done_testing();
