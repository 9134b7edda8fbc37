# Faults and crashes converge without duplicates: 5xx, hangs, resets and
# apply-then-drop on every location request; the worker SIGKILLed and
# PostgreSQL stopped (immediate) in the middle of a batch.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use KcsTest;

my @LOC_OPS = qw(locationAdd locationEdit locationByIdentifier locationActivate locationDeactivate);
my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('faults', conf => "kcloud_shopify.batch_size_location = 4\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub ci_names { return sql("SELECT string_agg(name, ',' ORDER BY name) FROM ci.branch WHERE active"); }
sub shop_names
{
	return join(',', sort map { $_->{name} } grep { $_->{isActive} && $_->{name} ne 'Shop location' }
		  @{ $sim->state->{locations} });
}
sub duplicates
{
	my %n;
	$n{ $_->{name} }++ for @{ $sim->state->{locations} };
	return join(',', grep { $n{$_} > 1 } sort keys %n);
}
sub add_branches
{
	my ($prefix, $n) = @_;
	sql(join('', map { "INSERT INTO ci.branch (branch_code, name, city, country_code) VALUES ('$prefix$_', 'Branch $prefix$_', 'Town $_', 'NZ');\n" } 1 .. $n));
}

# --- faults on every location request ---
$sim->config(faults => { error500 => 0.1, error503 => 0.1, hang => 0.05, reset => 0.1,
	applyThenDrop => 0.2, seed => 7, operations => \@LOC_OPS });
KcsTest::connect_sim($node, $sim);
add_branches('F', 12);
ok(KcsTest::wait_for_kind($node, 'location', 240), 'with faults, the locations were all sent');
my $c = $sim->counters;
ok($c->{faults}{applyThenDrop} > 0 && $c->{faults}{reset} > 0 && $c->{faults}{error500} + $c->{faults}{error503} > 0,
	"faults were injected: " . KcsTest::json_encode($c->{faults}));
is(shop_names(), ci_names(), 'Shopify equals CI');
is(duplicates(), '', 'no duplicate location');
is(sql("SELECT count(*) FROM kcloud_shopify.failures WHERE state = 'failed'"), '0', 'no permanent failure')
  or diag(sql("SELECT ci_key::text || ' ' || error FROM kcloud_shopify.failures"));
ok(sql("SELECT count(*) FROM kcloud_shopify.activity WHERE outcome = 'transient'") > 0,
	'the activity log shows the transient failures');
$sim->config(faults => {});

# --- SIGKILL of the worker in the middle of a batch ---
$sim->config(faults => { latencyMs => 300, operations => \@LOC_OPS });
my $before = $sim->counters->{requests}{locationAdd} // 0;
add_branches('K', 10);
my $deadline = time + 30;
usleep(50_000) while ($sim->counters->{requests}{locationAdd} // 0) < $before + 2 && time < $deadline;
my $pid = KcsTest::worker_pid($node);
ok($pid, "the worker is busy (pid $pid)");
kill 'KILL', $pid;
note "killed $pid";
$node->poll_query_until('postgres', 'SELECT true', 't');   # crash recovery done
KcsTest::wait_for_worker($node, $pid);
ok(KcsTest::wait_for_kind($node, 'location', 120), 'after SIGKILL, the locations were all sent');
is(shop_names(), ci_names(), 'Shopify equals CI');
is(duplicates(), '', 'no duplicate location');

# --- immediate stop of PostgreSQL in the middle of a batch ---
$before = $sim->counters->{requests}{locationAdd} // 0;
add_branches('S', 10);
$deadline = time + 30;
usleep(50_000) while ($sim->counters->{requests}{locationAdd} // 0) < $before + 2 && time < $deadline;
$node->stop('immediate');
$node->start;
KcsTest::wait_for_worker($node);
ok(KcsTest::wait_for_kind($node, 'location', 120), 'after an immediate stop, the locations were all sent');
is(shop_names(), ci_names(), 'Shopify equals CI');
is(duplicates(), '', 'no duplicate location');
is(sql("SELECT count(*) FROM kcloud_shopify.location_link"), sql("SELECT count(*) FROM ci.branch"),
	'every branch is linked once');

# --- a hung request does not delay SIGHUP or SIGTERM ---
sql("ALTER SYSTEM SET kcloud_shopify.request_timeout = '5min'; SELECT pg_reload_conf()");
sleep 1;
$sim->config(faults => { hang => 1, operations => \@LOC_OPS });
my $hangs = $sim->counters->{faults}{hang};
sql("UPDATE ci.branch SET phone = '1' WHERE branch_code = 'AKL'");
$deadline = time + 30;
usleep(50_000) while $sim->counters->{faults}{hang} == $hangs && time < $deadline;
ok($sim->counters->{faults}{hang} > $hangs, 'a request hangs');
my $t0 = time;
sql("SELECT pg_reload_conf()");
ok(KcsTest::poll_until($node, "SELECT count(*) > 0 FROM kcloud_shopify.activity WHERE detail = 'request interrupted by a signal'", 't', 10),
	'SIGHUP abandons the hung request');
my $dt = time - $t0;
ok($dt < 3, sprintf('promptly (%.1f s)', $dt));
$deadline = time + 30;
usleep(50_000) while $sim->counters->{faults}{hang} < $hangs + 2 && time < $deadline;
$pid = KcsTest::worker_pid($node);
$t0 = time;
sql("SELECT pg_terminate_backend($pid)");
KcsTest::poll_until($node, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', 10);
$dt = time - $t0;
ok($dt < 3, sprintf('SIGTERM ends the worker during a hung request promptly (%.1f s)', $dt));
$sim->config(faults => {});
sql("ALTER SYSTEM RESET kcloud_shopify.request_timeout; SELECT pg_reload_conf()");
KcsTest::wait_for_worker($node, $pid);
ok(KcsTest::wait_for_kind($node, 'location', 60), 'and the change is sent after all');

done_testing();
