# Many primaries, one model: fraud_model_push copies a version from node A
# to nodes B and C all or nothing (dblink, two-phase commit), so that every
# node ends with the same version number, bytes, thresholds, feature
# function and active version; fraud_model_compare lists what differs.  A
# node that is down, or refuses the version, leaves every node unchanged,
# and the error names it.
use strict;
use warnings;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %node;
foreach my $name (qw(a b c))
{
	$node{$name} = PostgreSQL::Test::Cluster->new("node_$name");
	$node{$name}->init;
	$node{$name}->append_conf('postgresql.conf', 'max_prepared_transactions = 10');
	$node{$name}->start;
	$node{$name}->safe_psql('postgres', q{
CREATE EXTENSION fraud_score;
CREATE FUNCTION push_features(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('hour', (doc->>'hour')::int % 12)
$$;
CREATE TABLE push_docs AS
SELECT i, jsonb_build_object('amount', i * 7.5, 'hour', i % 24, 'merchant_risk', (i % 10) / 10.0,
                             'card_age_days', i * 3, 'is_foreign', i % 2) AS doc
FROM generate_series(1, 200) i;
});
}
my ($a, $b, $c) = @node{qw(a b c)};
$a->safe_psql('postgres', 'CREATE EXTENSION dblink');
sub literal { my ($text) = @_; $text =~ s/'/''/g; return "'$text'"; }
my $nodes = sprintf('ARRAY[%s, %s]', literal($b->connstr('postgres')), literal($c->connstr('postgres')));

my $small = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/small.ubj"), '');
my $dart = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/dart.ubj"), '');
$a->safe_psql('postgres', qq{
SELECT fraud_model_load('pm', decode('$small', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
SELECT fraud_model_load('pm', decode('$dart', 'base64'), review_threshold => 0.2, decline_threshold => 0.6,
                        feature_function => 'push_features(jsonb)', activate => false);
});

my $catalog = q{SELECT string_agg(concat_ws(':', name, version, sha256, review_threshold, decline_threshold,
                                            feature_function, active), ',' ORDER BY name, version)
FROM fraud_models};
my $scores = q{SELECT string_agg(fraud_score(doc, 'pm')::text, ',' ORDER BY i) FROM push_docs};

is($a->safe_psql('postgres', "SELECT string_agg(version || ' ' || difference, ',' ORDER BY node, version) FROM fraud_model_compare($nodes)"),
	'1 missing there,2 missing there,1 missing there,2 missing there', 'before: both versions missing on both nodes');

# Version 1 pushed as it is (inactive), then version 2 pushed and activated:
# every node has both, with the same numbers, and version 2 active.
is($a->safe_psql('postgres', "SELECT string_agg(outcome, ',') FROM fraud_model_push('pm', 1, $nodes, activate => false)"),
	'copied,copied', 'version 1 copied to both nodes');
is($a->safe_psql('postgres', "SELECT string_agg(version || ' ' || difference, ',' ORDER BY node, version) FROM fraud_model_compare($nodes)"),
	'1 active here, not there,2 missing there,1 active here, not there,2 missing there',
	'compare: version 2 missing, version 1 active here only');
is($a->safe_psql('postgres', "SELECT string_agg(outcome, ',') FROM fraud_model_push('pm', 2, $nodes)"),
	'copied,copied', 'version 2 copied to both nodes and activated there');
$a->safe_psql('postgres', q{SELECT fraud_model_activate('pm', 2)});
is($b->safe_psql('postgres', $catalog), $c->safe_psql('postgres', $catalog), 'B and C have the same catalog');
is($b->safe_psql('postgres', $catalog), $a->safe_psql('postgres', $catalog), 'as A');
like($b->safe_psql('postgres', $catalog), qr/^pm:1:[0-9a-f]{64}:0.1:0.5:f,pm:2:[0-9a-f]{64}:0.2:0.6:public.push_features\(jsonb\):t$/,
	'version 2 there: same number, thresholds, feature function, active');
is($b->safe_psql('postgres', $scores), $a->safe_psql('postgres', $scores), 'B scores as A does');
is($c->safe_psql('postgres', $scores), $a->safe_psql('postgres', $scores), 'C scores as A does');
is($a->safe_psql('postgres', "SELECT count(*) FROM fraud_model_compare($nodes)"), '0',
	'compare returns nothing when all agree');

# Pushing again is a no-op.
is($a->safe_psql('postgres', "SELECT string_agg(outcome, ',') FROM fraud_model_push('pm', 2, $nodes)"),
	'present,present', 'pushing again changes nothing');

# A node that is down: nothing changes anywhere; the error names it.
$a->safe_psql('postgres', q{SELECT fraud_model_activate('pm', 1)});
my $before_b = $b->safe_psql('postgres', $catalog);
$c->stop;
my ($ret, $out, $err) = $a->psql('postgres', "SELECT fraud_model_push('pm', 1, $nodes)");
my $c_label = $c->connstr('postgres');
like($err, qr/fraud_model_push: node \Q$c_label\E failed: could not establish connection/,
	'a node that is down: the error names it');
like($err, qr/DETAIL:  No node was changed/, 'and says nothing changed');
is($b->safe_psql('postgres', $catalog), $before_b, 'B, prepared before C failed, is unchanged');
is($b->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'and holds no prepared transaction');
$c->start;

# A node that refuses mid-way (another version 3 there): nothing changes.
$c->safe_psql('postgres', qq{SELECT fraud_model_load('pm', decode('$small', 'base64'), review_threshold => 0.3)});
$a->safe_psql('postgres', qq{SELECT fraud_model_load('pm', decode('$dart', 'base64'), activate => false)});
$before_b = $b->safe_psql('postgres', $catalog);
my $before_c = $c->safe_psql('postgres', $catalog);
($ret, $out, $err) = $a->psql('postgres', "SELECT fraud_model_push('pm', 3, $nodes)");
like($err, qr/fraud_model_push: node \Q$c_label\E failed: fraud model "pm" version 3 differs on this node/,
	'a node with another version 3: the error names it and says why');
is($b->safe_psql('postgres', $catalog), $before_b, 'B is unchanged');
is($c->safe_psql('postgres', $catalog), $before_c, 'C is unchanged');
is($a->safe_psql('postgres', "SELECT string_agg(node || ' ' || version || ' ' || difference, ',' ORDER BY node, version) FROM fraud_model_compare($nodes)"),
	join(',', map { $b->connstr('postgres') . " $_" } ('1 active here, not there', '2 active there, not here', '3 missing there'))
	  . ',' . join(',', map { $c->connstr('postgres') . " $_" } ('1 active here, not there', '3 bytes, thresholds, active there, not here')),
	'compare shows every difference: versions, bytes, thresholds, which is active');

# A version number this node has used before (then dropped) is not reused.
$b->safe_psql('postgres', qq{SELECT fraud_model_load('pm', decode('$small', 'base64'), activate => false)});
$b->safe_psql('postgres', q{SELECT fraud_model_drop('pm', 3)});
($ret, $out, $err) = $a->psql('postgres',
	sprintf("SELECT fraud_model_push('pm', 3, ARRAY[%s])", literal($b->connstr('postgres'))));
like($err, qr/version 3 was used on this node before/, 'a version number used before there is refused');

# A node listed twice would wait for itself: refused.
($ret, $out, $err) = $a->psql('postgres',
	sprintf("SELECT fraud_model_push('pm', 2, ARRAY[%s, %s])", literal($b->connstr('postgres')), literal($b->connstr('postgres'))));
like($err, qr/nodes lists a node twice/, 'a node listed twice: an error');
($ret, $out, $err) = $b->psql('postgres', q{SELECT fraud_model_receive(fraud_model_export('pm', 1), 0, false)});
like($err, qr/version must be a positive integer/, 'receiving version 0: an error');

# A node without fraud_score (another database of B): named in the error.
(my $template = $b->connstr('template1')) =~ s/'/''/g;
($ret, $out, $err) = $a->psql('postgres', "SELECT fraud_model_push('pm', 2, ARRAY['$template'])");
like($err, qr/fraud_score is not installed on node/, 'a node without fraud_score: an error naming it');

# Without nodes (and without Citus): an error with a hint.
($ret, $out, $err) = $a->psql('postgres', "SELECT fraud_model_push('pm', 2, NULL)");
like($err, qr/nodes must name at least one node/, 'no nodes: an error');

# Passwords in connection strings are masked in what it reports.
is($a->safe_psql('postgres', q{SELECT fraud_node_label('host=x password=secret dbname=y'),
                                      fraud_node_label('postgresql://u:secret@x/y')}),
	'host=x password=*** dbname=y|postgresql://u:***@x/y', 'passwords are masked');

# Without dblink, push says what it needs.
$b->safe_psql('postgres', 'SELECT 1');
($ret, $out, $err) = $b->psql('postgres', "SELECT fraud_model_push('pm', 2, ARRAY['host=nowhere'])");
like($err, qr/fraud_model_push\(\) needs the dblink extension/, 'without dblink: an error saying so');

$_->stop foreach ($a, $b, $c);
done_testing();
