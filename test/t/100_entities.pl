# Entity sync end to end against the simulator: products (variants, prices,
# sales with dates, metafields, status), stock levels and customers reach
# Shopify equal to CI, field by field; a dated sale starting and ending;
# internet_active off -> DRAFT; a SKU removed -> its variant removed; a
# deleted style hidden; adoption of a product that already exists.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use lib 'test/t';
use KcsTest;
require "$KcsTest::SRC/test/t/entities.pm";

my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('entities', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);

like(KcsTest::connect_sim($node, $sim), qr/first sync queued/, 'connect() queues the first sync');
ok(KcsTest::wait_for_sync($node, 90), 'first sync drained');
is($E->sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures')
  or diag($E->sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));

$E->check_all('after the first sync');

# --- a dated sale starting and ending, with no CI write ---
my $puf_from = $E->sql("SELECT sale_from - current_date FROM ci.style WHERE style_code = 'PUF-JKT'");
$E->set_today("current_date + $puf_from");
ok($E->poll_price('PUF-JKT', '229.00'), 'PUF-JKT sale started on its sale_from date');
$E->check_all('sale started');
my $puf_end = $E->sql("SELECT sale_to - current_date + 1 FROM ci.style WHERE style_code = 'PUF-JKT'");
$E->set_today("current_date + $puf_end");
ok($E->poll_price('PUF-JKT', '299.00'), 'PUF-JKT sale ended the day after sale_to');
$E->check_all('sale ended');
$E->set_today(undef);
ok(KcsTest::wait_for_sync($node, 30), 'back to today');

# --- edits: price, copy, attributes, tabs, a new SKU, a removed SKU ---
$E->sql("UPDATE ci.style SET retail_price = 44.90, description = 'Organic Cotton Tee (new)' WHERE style_code = 'TEE-ORG'");
$E->sql("INSERT INTO ci.style_attribute VALUES ('TEE-ORG', 'Fabric weight', '180 gsm')");
$E->sql("INSERT INTO ci.style_info_tab VALUES ('TEE-ORG', 1, 'Care', 'Cold wash')");
$E->sql("INSERT INTO ci.sku (sku_code, style_code, colour, size, barcode, sort_order) VALUES ('TEE-ORG-BLK-XXL', 'TEE-ORG', 'Black', 'XXL', '9400000009991', 99)");
$E->sql("INSERT INTO ci.stock VALUES ('TEE-ORG-BLK-XXL', 'AKL', 6), ('TEE-ORG-BLK-XXL', 'DUN', 4)");
ok(KcsTest::wait_for_sync($node, 30), 'edits synced');
$E->check_all('after edits and a new SKU');

my $gone = $E->sql("SELECT sku_code FROM ci.sku WHERE style_code = 'TEE-ORG' ORDER BY sku_code LIMIT 1");
my $gone_item = $E->sql("SELECT inventory_item_gid FROM kcloud_shopify.variant_link WHERE sku_code = '$gone'");
$E->sql("DELETE FROM ci.sku WHERE sku_code = '$gone'");
ok(KcsTest::wait_for_sync($node, 30), 'SKU removal synced');
ok(!grep({ $_->{sku} eq $gone } map { @{ $_->{variants} } } @{ $sim->state->{products} }), 'the removed SKU has no variant');
is($E->sql("SELECT count(*) FROM kcloud_shopify.variant_link WHERE sku_code = '$gone'"), '0', 'its variant link is gone');
ok(!grep({ $_->{inventoryItemId} eq $gone_item } @{ $sim->state->{inventoryLevels} }), 'and its inventory levels');
$E->check_all('after a SKU removal');

# --- internet active off -> DRAFT; deleted style -> DRAFT (never deleted) ---
$E->sql("UPDATE ci.style SET internet_active = false WHERE style_code = 'BEANIE'");
ok(KcsTest::wait_for_sync($node, 30), 'deactivation synced');
is($E->product_of('BEANIE')->{status}, 'DRAFT', 'internet_active off -> DRAFT');
$E->check_all('after internet_active off');
my $nprod = scalar @{ $sim->state->{products} };
$E->sql("DELETE FROM ci.style WHERE style_code = 'BEANIE'");
ok(KcsTest::wait_for_sync($node, 30), 'deletion synced');
is($E->product_of('BEANIE')->{status}, 'DRAFT', 'a deleted style stays, hidden');
is(scalar @{ $sim->state->{products} }, $nprod, 'no product deleted');
$E->sql("UPDATE ci.style SET internet_active = false WHERE style_code = 'PUF-JKT'");
$E->sql("UPDATE ci.style SET internet_active = true WHERE style_code = 'PUF-JKT'");
ok(KcsTest::wait_for_sync($node, 30), 'reactivation synced');
is($E->product_of('PUF-JKT')->{status}, 'ACTIVE', 'internet_active on again -> ACTIVE');

# --- every SKU of a style deleted: hidden (Shopify keeps a product's last variant) ---
$E->sql("CREATE TABLE puf_sku AS SELECT * FROM ci.sku WHERE style_code = 'PUF-JKT';
         CREATE TABLE puf_stock AS SELECT st.* FROM ci.stock st JOIN ci.sku k USING (sku_code) WHERE k.style_code = 'PUF-JKT'");
$E->sql("DELETE FROM ci.sku WHERE style_code = 'PUF-JKT'");
ok(KcsTest::wait_for_sync($node, 30), 'SKU-less style synced');
is($E->product_of('PUF-JKT')->{status}, 'DRAFT', 'a style without SKUs -> DRAFT (nothing to sell)');
$E->sql("INSERT INTO ci.sku SELECT * FROM puf_sku; INSERT INTO ci.stock SELECT * FROM puf_stock; DROP TABLE puf_sku, puf_stock");
ok(KcsTest::wait_for_sync($node, 30), 'SKUs back synced');
is($E->product_of('PUF-JKT')->{status}, 'ACTIVE', 'SKUs back -> ACTIVE');
$E->check_all('after a style lost and regained its SKUs');

# --- adoption: a product made in Shopify with the SKUs of a new style ---
my $made = $sim->graphql('mutation($i: ProductSetInput!) { productSet(input: $i) { product { id variants(first: 5) { nodes { id sku } } } userErrors { message } } }',
	{ i => { title => 'Hand-made listing', status => 'ACTIVE', vendor => 'someone',
		productOptions => [ { name => 'Size', values => [ { name => 'S' }, { name => 'M' } ] } ],
		variants => [ map { { optionValues => [ { optionName => 'Size', name => $_ } ], sku => "ADOPT-$_", price => '10.00' } } qw(S M) ] } });
my $made_id = $made->{data}{productSet}{product}{id};
ok($made_id, "a product exists in Shopify before the style ($made_id)");
$nprod = scalar @{ $sim->state->{products} };
$E->sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active, brand_code) VALUES ('ADOPT', 'Adopted tee', 20.00, false, 'CAFE')");
$E->sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('ADOPT-S', 'ADOPT', 'Natural', 'S'), ('ADOPT-M', 'ADOPT', 'Natural', 'M')");
$E->sql("INSERT INTO ci.stock VALUES ('ADOPT-S', 'AKL', 2), ('ADOPT-M', 'WLG', 3)");
$E->sql("UPDATE ci.style SET internet_active = true WHERE style_code = 'ADOPT'");
ok(KcsTest::wait_for_sync($node, 30), 'the new style synced');
is($E->sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = 'ADOPT'"), $made_id, 'the existing product was adopted');
is(scalar @{ $sim->state->{products} }, $nprod, 'no duplicate product');
is(scalar(grep { $_->{sku} =~ /^ADOPT-/ } map { @{ $_->{variants} } } @{ $sim->state->{products} }), 2, 'no duplicate variants');
$E->check_all('after adoption');

# --- a branch with stock closes and reopens: its levels go to 0 so the
#     location can be deactivated, and come back with it ---
$E->sql("UPDATE ci.branch SET active = false WHERE branch_code = 'WLG'");
ok(KcsTest::wait_for_sync($node, 60), 'branch deactivation synced');
my $wlg = $E->sql("SELECT location_gid FROM kcloud_shopify.location_link WHERE branch_code = 'WLG'");
my ($wl) = grep { $_->{id} eq $wlg } @{ $sim->state->{locations} };
ok($wl && !$wl->{isActive}, 'the location holding stock was deactivated (its levels sent as 0 first)');
is(scalar(grep { $_->{on_hand} != 0 } grep { $_->{locationId} eq $wlg } @{ $sim->state->{inventoryLevels} }), 0,
	'no stock left at the deactivated location');
$E->sql("UPDATE ci.branch SET active = true WHERE branch_code = 'WLG'");
ok(KcsTest::wait_for_sync($node, 60), 'branch reactivation synced');
$E->check_all('after a branch closed and reopened');

# --- the same, with the reactivation's reply lost after Shopify applied it:
#     the retry finds the location active already and must still send its stock ---
$E->sql("UPDATE ci.branch SET active = false WHERE branch_code = 'WLG'");
ok(KcsTest::wait_for_sync($node, 60), 'branch closed again');
$sim->config(faults => { applyThenDrop => 1, operations => ['locationActivate'] });
$E->sql("UPDATE ci.branch SET active = true WHERE branch_code = 'WLG'");
ok(KcsTest::wait_for_sync($node, 60), 'reactivation with its reply lost synced');
ok(($sim->counters->{faults}{applyThenDrop} // 0) > 0, 'the activation was applied and its reply dropped');
$sim->config(faults => { applyThenDrop => 0, operations => [] });
$E->check_all('after a reactivation whose reply was lost');

is($E->sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'still no failures')
  or diag($E->sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
done_testing();
