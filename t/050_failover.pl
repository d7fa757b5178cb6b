# Failover, measured, with Debian's pg_auto_failover (postgresql-15-auto-failover):
# a monitor and two data nodes on loopback, synchronous replication.  A client
# inserts through the scoring trigger in a loop, each INSERT on a new
# connection with the multi-host connection string and
# target_session_attrs=read-write, while the primary is stopped hard, and
# again during a switchover: every committed row is present and scored on the
# new primary, with the same active version and thresholds, and the
# interruption (from the last commit before to the first commit after) is
# printed.
use strict;
use warnings;
use File::Path qw(make_path);
use IPC::Run;
use MIME::Base64;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg_autoctl = '/usr/bin/pg_autoctl';
plan skip_all => 'pg_auto_failover is not installed (Debian: postgresql-15-auto-failover)'
  unless -x $pg_autoctl;

my $bindir = '/usr/lib/postgresql/15/bin';
my $pgctl = "$bindir/pg_ctl";
my $psql = "$bindir/psql";
my $base = PostgreSQL::Test::Utils::tempdir;
# pg_autoctl keeps its state under XDG directories: keep them in the test's.
$ENV{XDG_CONFIG_HOME} = "$base/config";
$ENV{XDG_DATA_HOME} = "$base/data";
$ENV{XDG_RUNTIME_DIR} = "$base/run";
make_path($ENV{XDG_CONFIG_HOME}, $ENV{XDG_DATA_HOME}, $ENV{XDG_RUNTIME_DIR});
delete $ENV{$_} foreach qw(PGDATA PGPORT PGHOST PGUSER PGDATABASE);

my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(monitor node1 node2);
my %service;

sub autoctl
{
	my @args = @_;
	my ($out, $err);
	IPC::Run::run([ $pg_autoctl, @args ], '>', \$out, '2>', \$err)
	  or die "pg_autoctl @args failed:\n$out$err";
	return $out;
}

sub start_service
{
	my ($name) = @_;
	$service{$name} = IPC::Run::start([ $pg_autoctl, 'run', '--pgdata', "$base/$name" ],
		'>', "$base/$name.log", '2>&1');
}

sub sql
{
	my ($port, $db, $query) = @_;
	my ($out, $err);
	IPC::Run::run([ $psql, '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', 'localhost', '-p', $port,
			'-d', $db, '-c', $query ], '>', \$out, '2>', \$err);
	chomp $out if defined $out;
	note("psql -p $port: $err") if $? != 0 && $err;
	return $? == 0 ? $out : undef;
}

sub wait_for
{
	my ($what, $check, $seconds) = @_;
	my $deadline = time + ($seconds // 180);
	while (time < $deadline)
	{
		my $result = $check->();
		return $result if $result;
		sleep 0.2;
	}
	die "timed out waiting for $what";
}

# Node states as the monitor records them.
sub states
{
	return sql($port{monitor}, 'pg_auto_failover',
		q{SELECT string_agg(nodename || '=' || reportedstate || '/' || goalstate, ' ' ORDER BY nodename)
		  FROM pgautofailover.node}) // '';
}

# --- the monitor, tuned to notice a dead primary in seconds (with the
# defaults, a hard stop measured 33.2 s without commits here: 20 s to call
# the node unhealthy, 30 s of primary_demote_timeout from the first failed
# check) --------------------------------------------------------------------
autoctl('create', 'monitor', '--pgdata', "$base/monitor", '--pgport', $port{monitor},
	'--hostname', 'localhost', '--auth', 'trust', '--no-ssl', '--pgctl', $pgctl);
start_service('monitor');
wait_for('the monitor', sub { defined sql($port{monitor}, 'pg_auto_failover', 'SELECT 1') });
sql($port{monitor}, 'pg_auto_failover', $_) foreach (
	q{ALTER SYSTEM SET pgautofailover.health_check_period = 1000},
	q{ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000},
	q{ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1},
	q{ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500},
	q{ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000},
	# the secondary is promoted this long after the primary was lost; the
	# keepers' network_partition_timeout (below) is shorter, so that a primary
	# cut off from the monitor and its standby has demoted itself by then
	q{ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 4000},
	q{SELECT pg_reload_conf()});
my $monitor_uri = "postgres://autoctl_node\@localhost:$port{monitor}/pg_auto_failover?sslmode=disable";

sub create_node
{
	my ($name) = @_;
	autoctl('create', 'postgres', '--pgdata', "$base/$name", '--pgport', $port{$name},
		'--hostname', 'localhost', '--name', $name, '--auth', 'trust', '--no-ssl',
		'--monitor', $monitor_uri, '--pgctl', $pgctl);
	autoctl('config', 'set', '--pgdata', "$base/$name", 'timeout.network_partition_timeout', '2');
	start_service($name);
}

# --- node1, the first primary, with the model and a scored table --------------
create_node('node1');
wait_for('node1 to be single', sub { states() =~ /node1=single\/single/ });
wait_for('node1 to accept connections', sub { defined sql($port{node1}, 'postgres', 'SELECT 1') });
my $small = encode_base64(slurp_file("$ENV{REPO}/test/fixtures/small.ubj"), '');
defined sql($port{node1}, 'postgres', qq{
CREATE EXTENSION fraud_score;
SELECT fraud_model_load('fo', decode('$small', 'base64'), review_threshold => 0.1, decline_threshold => 0.5);
CREATE TABLE fo_tx (id bigint PRIMARY KEY, amount float8, hour float8, score float8, decision text, version int);
CREATE TRIGGER score BEFORE INSERT ON fo_tx
	FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('fo', 'score', 'decision', 'version');
}) or die 'could not set up node1';
create_node('node2');
wait_for('node1 primary and node2 secondary',
	sub { states() eq 'node1=primary/primary node2=secondary/secondary' });
like(sql($port{node1}, 'postgres', 'SHOW synchronous_standby_names'), qr/^ANY 1 \(/,
	'the primary replicates synchronously');

my $catalog_sql = q{SELECT string_agg(version || ':' || review_threshold || ':' || decline_threshold || ':' || active, ',' ORDER BY version)
FROM fraud_models WHERE name = 'fo'};
my $catalog_before = sql($port{node1}, 'postgres', $catalog_sql);

# --- the client: one INSERT per connection, logging each commit -------------
my $conninfo = "host=localhost,localhost port=$port{node1},$port{node2} dbname=postgres "
  . 'target_session_attrs=read-write connect_timeout=2';
my $client_script = "$base/client.sh";
open(my $fh, '>', $client_script) or die;
print $fh <<"EOF";
#!/bin/bash
i=\$1
while [ ! -e "$base/stop_client" ]; do
	if out=\$("$psql" -X -At -v ON_ERROR_STOP=1 -d "$conninfo" -c "INSERT INTO fo_tx (id, amount, hour) VALUES (\$i, \$i % 500, \$i % 24) RETURNING id" 2>/dev/null); then
		echo "\$(date +%s.%N) ok \$out"
	else
		echo "\$(date +%s.%N) fail \$i"
	fi
	i=\$((i + 1))
done
EOF
close $fh;
chmod 0755, $client_script;

# Runs the client from id "first" while "action" happens; returns the
# interruption in seconds (the longest time between two commits), the ids
# it saw committed and its failed attempts.
sub measure
{
	my ($label, $first, $action) = @_;
	unlink "$base/stop_client";
	my $log = "$base/client_$label.log";
	my $client = IPC::Run::start([ $client_script, $first ], '>', $log, '2>&1');
	sleep 3;
	my $acted = time;
	$action->();
	# until the client has committed for three seconds after the action
	wait_for("commits after the $label", sub {
		my @after = grep { /ok/ && (split)[0] > $acted + 3 } split /\n/, slurp_file($log);
		scalar @after;
	}, 300);
	open(my $touch, '>', "$base/stop_client") or die;
	close $touch;
	$client->finish;
	# the interruption: the longest time between two consecutive commits
	my (@ok, $previous, $gap, $failures);
	$gap = 0;
	foreach (split /\n/, slurp_file($log))
	{
		my ($t, $status, $id) = split;
		if ($status eq 'ok')
		{
			push @ok, $id;
			$gap = $t - $previous if defined $previous && $t - $previous > $gap;
			$previous = $t;
		}
		else { $failures++ }
	}
	return ($gap, \@ok, $failures // 0);
}

sub check_rows
{
	my ($label, $port, $ok) = @_;
	my $ids = join(',', @$ok);
	is(sql($port, 'postgres', "SELECT count(*) FROM fo_tx WHERE id IN ($ids)"), scalar @$ok,
		"$label: every committed row (" . scalar(@$ok) . ") is on the new primary");
	is(sql($port, 'postgres', "SELECT count(*) FROM fo_tx WHERE id IN ($ids) AND score IS NOT NULL AND version = 1"),
		scalar @$ok, "$label: and scored by version 1");
	is(sql($port, 'postgres', $catalog_sql), $catalog_before,
		"$label: the new primary has the same active version and thresholds");
}

# --- a hard stop of the primary ------------------------------------------------
my ($gap, $ok, $failures) = measure('hard stop', 1, sub {
	autoctl('stop', '--pgdata', "$base/node1", '--immediate');
	$service{node1}->finish;
});
wait_for('node2 to be primary', sub { states() =~ /node2=(wait_primary|primary)\/(wait_primary|primary)/ });
diag(sprintf('hard stop of the primary: %.2f s without commits (%d commits, %d failed attempts)',
	$gap, scalar @$ok, $failures));
check_rows('hard stop', $port{node2}, $ok);
cmp_ok($gap, '<', 120, 'the hard stop interrupted commits for less than two minutes');

# node1 comes back as the secondary
start_service('node1');
wait_for('node1 back as secondary', sub { states() eq 'node1=secondary/secondary node2=primary/primary' }, 300);

# --- a switchover ----------------------------------------------------------------
($gap, $ok, $failures) = measure('switchover', 100000, sub {
	autoctl('perform', 'switchover', '--pgdata', "$base/monitor");
});
wait_for('node1 primary again', sub { states() eq 'node1=primary/primary node2=secondary/secondary' }, 300);
diag(sprintf('switchover: %.2f s without commits (%d commits, %d failed attempts)', $gap, scalar @$ok, $failures));
check_rows('switchover', $port{node1}, $ok);

foreach my $name (qw(node1 node2 monitor))
{
	eval { autoctl('stop', '--pgdata', "$base/$name", '--immediate') };
	$service{$name}->finish if $service{$name};
}
done_testing();
