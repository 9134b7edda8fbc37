# The worker does not run on a standby and starts after promotion.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KcsTest;

my $sim = KcsTest::Sim->start();
my $primary = KcsTest::new_node('primary', init => { allows_streaming => 1 });
KcsTest::setup_db($primary);
$primary->safe_psql('postgres', "INSERT INTO ci.branch (branch_code, name, city, country_code) VALUES ('B1', 'One', 'Town', 'NZ')");
KcsTest::wait_for_worker($primary);
KcsTest::connect_sim($primary, $sim);
ok(KcsTest::wait_for_sync($primary, 30), 'the primary syncs');

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', "INSERT INTO ci.branch (branch_code, name, city, country_code) VALUES ('B2', 'Two', 'Town', 'NZ')");
$primary->wait_for_catchup($standby);
sleep 2;
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kcloud_shopify sync worker'"),
	'0', 'no worker on the standby');

$primary->stop;
my $before = $sim->counters->{requestsTotal};
$standby->promote;
KcsTest::wait_for_worker($standby);
ok(KcsTest::wait_for_sync($standby, 30), 'after promotion the new primary syncs');
my @names = sort map { $_->{name} } grep { $_->{name} ne 'Shop location' } @{ $sim->state->{locations} };
is(join(',', @names), 'One,Two', 'both branches are in Shopify, once');
ok($sim->counters->{requestsTotal} > $before, 'the promoted worker sent requests');

done_testing();
