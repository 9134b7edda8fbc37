# A shop with a small throttle bucket (300 points, 30/s): combined requests
# are sized to the bucket (never above what it can hold), the first sync
# converges equal to CI.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KcsTest;
require "$KcsTest::SRC/test/t/entities.pm";

my $sim = KcsTest::Sim->start(args => [ '--plan', 'custom:300:30' ]);
my $node = KcsTest::new_node('entsmall', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);

like(KcsTest::connect_sim($node, $sim), qr/first sync queued/, 'connect() queues the first sync');
ok(KcsTest::wait_for_sync($node, 120), 'the first sync converged on a 300-point bucket');
$E->check_all('small bucket');
is($E->sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures')
  or diag($E->sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
my $c = $sim->counters;
ok($c->{maxCostExceeded} == 0, 'no request above the single-query limit');
ok($c->{throttled} <= 5, "few THROTTLED replies ($c->{throttled})");
done_testing();
