# reconcile(kind, repair): after a first sync CI and Shopify agree (no
# rows); drift injected directly in the simulator (a price, a title, on_hand,
# a SKU, a deleted variant, a deleted product, a customer field, a deleted customer,
# a deactivated location) is found row by row with the right fields and
# values; repair queues the fixes and, once the worker has sent them,
# reconcile finds nothing again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use IPC::Run;
use lib 'test/t';
use KcsTest;

my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('reconcile', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);

sub sql { return $node->safe_psql('postgres', $_[0]); }

require "$KcsTest::SRC/test/t/drift.pm";

# the rows of reconcile() without the GIDs, sorted: kind|ci_key|drift|field|ci|shopify
sub drift_rows { return sql(Drift::rows_sql(@_)); }

# --- the function itself: owner only, documented, checks its argument ---
is(sql(<<'SQL'), 'false|true', 'reconcile() is not executable by PUBLIC and has a comment');
CREATE ROLE regress_kcs_nobody;
SELECT has_function_privilege('regress_kcs_nobody', 'kcloud_shopify.reconcile(text, boolean)', 'EXECUTE')
       || '|' || (obj_description('kcloud_shopify.reconcile(text, boolean)'::regprocedure, 'pg_proc') IS NOT NULL);
SQL
my ($rc, $out, $err) = $node->psql('postgres', "SELECT * FROM kcloud_shopify.reconcile('orders')");
like($err, qr/unknown kind "orders"/, 'an unknown kind is refused');
($rc, $out, $err) = $node->psql('postgres', "SELECT * FROM kcloud_shopify.reconcile('all')");
like($err, qr/no Shopify shop is connected/, 'reconcile before connect() says so');

# --- first sync: nothing drifted ---
KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_sync($node, 90), 'first sync drained');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures')
  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
my $before = $sim->counters;
is(drift_rows('all'), '', 'after the first sync: no drift');
my $after = $sim->counters;
ok($after->{requestsTotal} > $before->{requestsTotal}, 'reconcile read Shopify');
is($after->{throttled} - $before->{throttled}, 0, 'without a THROTTLED reply');
diag(sprintf("reconcile('all') of the small set: %d requests, %d cost points (%s)",
	$after->{requestsTotal} - $before->{requestsTotal}, $after->{costSpent} - $before->{costSpent},
	join(', ', map { "$_ " . (($after->{requests}{$_} // 0) - ($before->{requests}{$_} // 0)) }
		grep { ($after->{requests}{$_} // 0) != ($before->{requests}{$_} // 0) } sort keys %{ $after->{requests} })));
is(drift_rows($_), '', "no $_ drift") for qw(product inventory location customer);
is(drift_rows('all', 1), '', 'repair with nothing to repair: no rows');
is(sql(<<'SQL'), '0', 'a support role granted EXECUTE can run it (it runs with the owner\'s rights)');
CREATE ROLE regress_kcs_support;
GRANT USAGE ON SCHEMA kcloud_shopify TO regress_kcs_support;
GRANT EXECUTE ON FUNCTION kcloud_shopify.reconcile(text, boolean) TO regress_kcs_support;
SET ROLE regress_kcs_support;
SELECT count(*) FROM kcloud_shopify.reconcile('location');
SQL
is(sql("SELECT count(*) FROM kcloud_shopify.queue WHERE state = 'pending'"), '0', '... and nothing queued');
ok(sql("SELECT count(*) FROM kcloud_shopify.activity WHERE operation IN ('product', 'inventoryItem', 'nodes')") > 0,
	'its requests are in the activity log');

# --- drift made directly in Shopify ---
my $chr_l = sql("SELECT variant_gid FROM kcloud_shopify.variant_link WHERE sku_code = 'MER-CREW-CHR-L'");
my $links = Drift::make($node, $sim);
my %loc = %{ $links->{loc} };
my %prod = %{ $links->{prod} };

my @inv_gone = map { my $sku = $_; map { qq(inventory|{"sku_code": "$sku", "branch_code": "$_"}|missing|inventoryItem|) .
		sql("SELECT GREATEST(on_hand, 0) FROM ci.stock WHERE sku_code = '$sku' AND branch_code = '$_'") . '|' } qw(AKL WLG) }
  qw(MER-CREW-CHR-L PUF-JKT-BLK-S PUF-JKT-BLK-M PUF-JKT-BLK-L PUF-JKT-BLK-XL);
my @expected = (
	'customer|{"customer_code": "C1001"}|different|firstName|Aroha|Tampered',
	'customer|{"customer_code": "C1004"}|missing||jose.muller@example.net|',
	'inventory|{"sku_code": "TEE-ORG-WHT-S", "branch_code": "AKL"}|different|on_hand|12|99',
	@inv_gone,
	'location|{"branch_code": "CHC"}|different|isActive|true|false',
	'product|{"sku_code": "MER-CREW-CHR-L", "style_code": "MER-CREW"}|missing|variant|MER-CREW-CHR-L|',
	'product|{"sku_code": "TEE-ORG-WHT-L", "style_code": "TEE-ORG"}|different|sku|TEE-ORG-WHT-L|ROGUE-1',
	'product|{"sku_code": "TEE-ORG-WHT-M", "style_code": "TEE-ORG"}|different|price|39.90|1.00',
	'product|{"style_code": "PUF-JKT"}|missing||Rangitoto Puffer Jacket|',
	'product|{"style_code": "TEE-ORG"}|different|title|Organic Cotton Tee|Tampered tee',
);
my $expected = join("\n", sort @expected);
is(drift_rows('all'), $expected, 'every drift found, with its field and both values');
is(drift_rows('product'), join("\n", sort grep { /^product/ } @expected), 'product drift alone');
is(drift_rows('inventory'), join("\n", sort grep { /^inventory/ } @expected),
	'inventory drift alone (levels at the deactivated location are left to its location row)');
is(drift_rows('location'), join("\n", sort grep { /^location/ } @expected), 'location drift alone');
is(drift_rows('customer'), join("\n", sort grep { /^customer/ } @expected), 'customer drift alone');
is(sql("SELECT shopify_gid FROM kcloud_shopify.reconcile('product') WHERE field = 'variant'"), $chr_l,
	'a missing variant names the GID it was linked to');
is(sql("SELECT shopify_gid FROM kcloud_shopify.reconcile('location')"), $loc{CHC}, 'the location row names its GID');
is(sql("SELECT count(*) FROM kcloud_shopify.queue WHERE state = 'pending'"), '0', 'without repair nothing is queued');

# --- repair: the fixes are queued (worker paused to look at them), then sent ---
sql("SELECT kcloud_shopify.pause('reconcile test')");

# a web sale shipped from AKL that CI has not ingested yet (the worker is paused)
my ($o_out, $o_err) = ('', '');
IPC::Run::run([ 'node', "$KcsTest::SRC/test/orders/shop.js", $sim->url, 'order',
	KcsTest::json_encode({ lines => [ { sku => 'MER-CREW-NAV-M', qty => 2 } ], location => $loc{AKL}, gst => 0.15 }) ],
	'>', \$o_out, '2>', \$o_err) or die "shop.js order: $o_err";
my $sold = 'inventory|{"sku_code": "MER-CREW-NAV-M", "branch_code": "AKL"}|different|on_hand|6|4';
is(drift_rows('inventory'), join("\n", sort(grep({ /^inventory/ } @expected), $sold)),
	'a web sale not yet ingested into CI shows as on_hand drift');
usleep(2_500_000);    # the poller counts an order as read 2 s after its updatedAt
my $polls = $sim->counters->{requests}{orders} // 0;
is(drift_rows('all', 1), $expected, 'repair reports the same rows');
ok(($sim->counters->{requests}{orders} // 0) > $polls,
	'repair polled fulfilled orders before comparing stock (worker paused: it was reconcile)');
is(sql("SELECT on_hand FROM ci.stock WHERE sku_code = 'MER-CREW-NAV-M' AND branch_code = 'AKL'"), '4',
	'the sale reached CI first, so its level was not set back to the old count');
is(sql("SELECT string_agg(kind || ' ' || ci_key::text, ', ' ORDER BY kind, ci_key::text) FROM kcloud_shopify.pending"),
	'customer {"customer_code": "C1001"}, customer {"customer_code": "C1004"}, '
	  . 'inventory {"sku_code": "MER-CREW-NAV-M", "branch_code": "AKL"}, '
	  . 'inventory {"sku_code": "TEE-ORG-WHT-S", "branch_code": "AKL"}, location {"branch_code": "CHC"}, '
	  . 'product {"style_code": "MER-CREW"}, product {"style_code": "PUF-JKT"}, product {"style_code": "TEE-ORG"}',
	'the fixes are queued: one entry per drifted entity (and the sold level, by capture, as CI stock moved)');
is(sql("SELECT shopify_on_hand IS NULL FROM kcloud_shopify.inventory_level WHERE sku_code = 'TEE-ORG-WHT-S' AND branch_code = 'AKL'"),
	't', "the drifted level's last known Shopify on_hand is forgotten (the worker reads it again)");
sql("SELECT kcloud_shopify.resume()");
ok(KcsTest::wait_for_sync($node, 90), 'the repairs were sent');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures after repair')
  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
is(drift_rows('all'), '', 'after repair: no drift');

my $state = $sim->state;
my ($chc) = grep { $_->{id} eq $loc{CHC} } @{ $state->{locations} };
ok($chc->{isActive}, 'the location is active again');
my ($puf) = grep { (($_->{customId} // {})->{value} // '') eq 'PUF-JKT' } @{ $state->{products} };
ok($puf && $puf->{id} ne $prod{'PUF-JKT'}, 'the deleted product was made again (a new GID)');
is(sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = 'PUF-JKT'"), $puf ? $puf->{id} : '',
	'and linked');
ok(!grep({ $_->{sku} eq 'ROGUE-1' } map { @{ $_->{variants} } } @{ $state->{products} }),
	'the SKU edited in Shopify is back');
ok(grep({ $_->{sku} eq 'MER-CREW-CHR-L' } map { @{ $_->{variants} } } @{ $state->{products} }),
	'the deleted variant was made again');
my ($aroha) = grep { ($_->{email} // '') eq 'aroha.ngata@example.co.nz' } @{ $state->{customers} };
is($aroha->{firstName}, 'Aroha', 'the customer field is back');
ok(grep({ ($_->{email} // '') eq 'jose.muller@example.net' } @{ $state->{customers} }), 'the deleted customer was made again');

done_testing();
