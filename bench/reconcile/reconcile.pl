# bench/reconcile/reconcile.pl: run by bench/reconcile/run (see there), as a
# TAP script under test/run-all.  Prints figures (diag) and writes them to
# bench/reconcile/runs/last.txt.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use KcsTest;

my ($styles, $colours, $sizes, $customers, $plan) = split ' ', ($ENV{KCS_BENCH_RECONCILE} // '3000 1 3 500 standard');
my @out;
sub say_ { my $l = join('', @_); diag($l); push @out, $l; }

my $sim = KcsTest::Sim->start(args => ['--plan', 'plus']);
my $node = KcsTest::new_node('bench_reconcile', conf => <<CONF);
kcloud_shopify.request_timeout = '30s'
kcloud_shopify.max_backoff = '30s'
fsync = off
log_min_messages = warning
CONF
KcsTest::setup_db($node);
sub sql { return $node->safe_psql('postgres', $_[0]); }
$node->safe_psql('postgres', slurp_file("$ENV{KCS_SRC}/test/gen/ci_gen.sql"));
sql("SELECT ci_gen.populate($styles, $colours, $sizes, 1, $customers, 1)");
sql("TRUNCATE kcloud_shopify.queue");
sql("SELECT kcloud_shopify.set_bulk_threshold(10)");
KcsTest::wait_for_worker($node);
my $t0 = time;
KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_sync($node, 3600), 'first sync drained');
my $sync_s = time - $t0;
my %n = map { $_ => sql("SELECT count(*) FROM kcloud_shopify.${_}_link") } qw(product variant customer);
$sim->config(plan => $plan);
my $cfg = $sim->get('/_sim/config');
say_(sprintf("kcloud_shopify reconcile benchmark, rev %s, %s UTC, %d cores; reconcile on simulator plan %s (bucket %s, restore %s/s)",
	$ENV{KCS_BENCH_REV} // '?', scalar(gmtime()), `nproc` + 0, $plan, $cfg->{plan}{max}, $cfg->{plan}{rate}));
say_(sprintf("catalogue: %d linked styles, %d variants (1 web branch: %d levels), %d customers; first sync %.0f s",
	$n{product}, $n{variant}, $n{variant}, $n{customer}, $sync_s));

# drift: a few prices, on_hand and customer names made in Shopify
my $state = $sim->state;
my $loc = sql("SELECT location_gid FROM kcloud_shopify.location_link ORDER BY 1 LIMIT 1");
my @variants = map { @{ $_->{variants} } } @{ $state->{products} };
$sim->tamper(op => 'setVariantPrice', variantId => $variants[$_ * 97 % @variants]{id}, price => '1.00') for 0 .. 9;
$sim->tamper(op => 'setOnHand', inventoryItemId => $variants[$_ * 89 % @variants]{inventoryItemId},
	locationId => $loc, quantity => 999) for 0 .. 9;
$sim->tamper(op => 'setCustomerField', id => $state->{customers}[$_ * 7 % @{ $state->{customers} }]{id},
	field => 'lastName', value => 'Drifted') for 0 .. 4;

for my $kind (qw(product inventory customer))
{
	my %r;
	for my $path (qw(paged bulk))
	{
		my $th = $path eq 'bulk' ? 1 : 0;
		$sim->config(plan => $plan);    # a full bucket for each measure
		my $c0 = $sim->counters;
		my $t = time;
		my $rows = sql("SET kcloud_shopify.reconcile_bulk_threshold = $th;
			SELECT string_agg(concat_ws('|', kind, ci_key::text, drift, field, ci_value, shopify_value), E'\\n'
			                  ORDER BY concat_ws('|', kind, ci_key::text, drift, field, ci_value, shopify_value) COLLATE \"C\")
			  FROM kcloud_shopify.reconcile('$kind')");
		my $wall = time - $t;
		my $c1 = $sim->counters;
		my $nrows = $rows eq '' ? 0 : scalar(split /\n/, $rows);
		$r{$path} = $rows;
		say_(sprintf("  %-9s %-5s %7.1f s  %5d requests  %7d cost points  %d THROTTLED  %d drift rows",
			$kind, $path, $wall, $c1->{requestsTotal} - $c0->{requestsTotal}, $c1->{costSpent} - $c0->{costSpent},
			$c1->{throttled} - $c0->{throttled}, $nrows));
	}
	is($r{bulk}, $r{paged}, "$kind: bulk and paged give the same rows");
}
say_("cost points are Shopify's actual cost (the simulator's model); the paced reader asks the bucket for the requested cost");
open(my $fh, '>', "$ENV{KCS_SRC}/bench/reconcile/runs/last.txt") or die;
print $fh map { "$_\n" } @out;
close $fh;
done_testing();
