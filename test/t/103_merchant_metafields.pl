# Merchants enhance synced products in Shopify (issue #4): a metafield in
# their own namespace and tags survive a resync, while our changes arrive:
# a linked product goes by id without a metafield list (productSet would
# delete every metafield not in it), our metafields (namespaces kcloud and
# kcloud_attr) by metafieldsSet, and ours that CI dropped by
# metafieldsDelete.  Our kcloud.style_code metafield deleted in Shopify
# comes back on the next sync, on the same product.  reconcile() does not
# report the merchant's metafields.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/t';
use KcsTest;
require "$KcsTest::SRC/test/t/entities.pm";

my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('merchant_mf', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);
sub sql { return $E->sql($_[0]); }

sub failures_none
{
	my ($what) = @_;
	is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', "$what: no failures")
	  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
}

# "ns.key=value" of a product's metafields, sorted
sub mf_lines
{
	my ($p) = @_;
	return join("\n", sort map { "$_->{namespace}.$_->{key}=$_->{value}" } @{ $p->{metafields} // [] });
}

# our namespaces (entities.pm compares only those)
sub ours_match
{
	my ($what) = @_;
	is($E->shop_metafields($sim->state), $E->expected_metafields, "$what: our metafields (kcloud, kcloud_attr) equal CI");
}

KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_sync($node, 90), 'first sync drained');
failures_none('first sync');
my $gid = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = 'MER-CREW'");
ok($gid, "MER-CREW is linked ($gid)");
is(sql("SELECT array_to_string(metafield_keys, ',') FROM kcloud_shopify.product_link WHERE style_code = 'MER-CREW'"),
	'kcloud.style_code,kcloud.info_tabs,kcloud_attr.fabric,kcloud_attr.origin',
	'the keys of the metafields we sent are recorded with the link');
my $nprod = scalar @{ $sim->state->{products} };

# --- the merchant enhances the product in Shopify ---
my $r = $sim->graphql('mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { field message } } }',
	{ m => [ { ownerId => $gid, namespace => 'custom', key => 'care_guide', type => 'multi_line_text_field',
			   value => "Turn inside out\nDry flat in shade" } ] });
is_deeply($r->{data}{metafieldsSet}{userErrors}, [], 'merchant metafield custom.care_guide added in Shopify');
$sim->tamper(op => 'setProductField', id => $gid, field => 'tags', value => [ 'staff-pick', 'winter' ]);
is_deeply($E->product_of('MER-CREW')->{tags}, [ 'staff-pick', 'winter' ], 'merchant tags set in Shopify');
is(sql("SELECT count(*) FROM kcloud_shopify.reconcile('all')"), '0',
	'reconcile() does not count the merchant\'s metafield or tags as drift');

# --- CI changes: the title, an attribute removed, an attribute added ---
sql("UPDATE ci.style SET description = 'Merino Crew Jumper (2027)' WHERE style_code = 'MER-CREW'");
sql("DELETE FROM ci.style_attribute WHERE style_code = 'MER-CREW' AND name = 'origin'");
sql("INSERT INTO ci.style_attribute VALUES ('MER-CREW', 'Knit gauge', '12 gauge')");
ok(KcsTest::wait_for_sync($node, 30), 'the changes synced');
failures_none('resync');
my $p = $E->product_of('MER-CREW');
is($p->{id}, $gid, 'same product');
is($p->{title}, 'Merino Crew Jumper (2027)', 'the new title arrived');
is(mf_lines($p), join("\n",
		"custom.care_guide=Turn inside out\nDry flat in shade",
		'kcloud.info_tabs=' . (map { $_->{value} } grep { $_->{key} eq 'info_tabs' } @{ $p->{metafields} })[0],
		'kcloud.style_code=MER-CREW',
		'kcloud_attr.fabric=100% merino wool',
		'kcloud_attr.knit_gauge=12 gauge'),
	'merchant metafield kept, the new attribute added, the removed one (kcloud_attr.origin) deleted');
is_deeply($p->{tags}, [ 'staff-pick', 'winter' ], 'merchant tags kept');
is(scalar @{ $sim->state->{products} }, $nprod, 'no duplicate product');
is(sql("SELECT string_agg(k, ',' ORDER BY k COLLATE \"C\") FROM kcloud_shopify.product_link, unnest(metafield_keys) k WHERE style_code = 'MER-CREW'"),
	'kcloud.info_tabs,kcloud.style_code,kcloud_attr.fabric,kcloud_attr.knit_gauge',
	'the recorded keys follow');
ours_match('after the resync');

# --- info tabs all removed: kcloud.info_tabs deleted, nothing else ---
sql("DELETE FROM ci.style_info_tab WHERE style_code = 'MER-CREW'");
ok(KcsTest::wait_for_sync($node, 30), 'tab removal synced');
failures_none('tab removal');
is(join(',', sort map { "$_->{namespace}.$_->{key}" } @{ $E->product_of('MER-CREW')->{metafields} }),
	'custom.care_guide,kcloud.style_code,kcloud_attr.fabric,kcloud_attr.knit_gauge',
	'kcloud.info_tabs deleted with the last tab; the merchant metafield still there');
ours_match('after the tab removal');

# --- our style_code metafield deleted in Shopify: it comes back, same product ---
$r = $sim->graphql('mutation($m: [MetafieldIdentifierInput!]!) { metafieldsDelete(metafields: $m) { deletedMetafields { key } userErrors { message } } }',
	{ m => [ { ownerId => $gid, namespace => 'kcloud', key => 'style_code' } ] });
is_deeply($r->{data}{metafieldsDelete}{deletedMetafields}, [ { key => 'style_code' } ], 'kcloud.style_code deleted in Shopify');
ok(!grep({ $_->{key} eq 'style_code' } @{ $E->product_of('MER-CREW')->{metafields} }), 'the product has no style code now');
sql("UPDATE ci.style SET description = 'Merino Crew Jumper' WHERE style_code = 'MER-CREW'");
ok(KcsTest::wait_for_sync($node, 30), 'the next change synced');
failures_none('after the style code was deleted');
$p = $E->product_of('MER-CREW');
is($p->{id}, $gid, 'still the same product (by id, not by the missing customId)');
is($p->{title}, 'Merino Crew Jumper', 'and it took the change');
is((map { $_->{value} } grep { $_->{namespace} eq 'kcloud' && $_->{key} eq 'style_code' } @{ $p->{metafields} })[0],
	'MER-CREW', 'kcloud.style_code is back');
is(scalar @{ $sim->state->{products} }, $nprod, 'no duplicate product');
ok(grep({ $_->{key} eq 'care_guide' } @{ $p->{metafields} }), 'the merchant metafield survived that too');

# --- a whole resync keeps every merchant addition ---
cmp_ok(sql("SELECT kcloud_shopify.resync_products()"), '>', 0, 'resync_products()');
ok(KcsTest::wait_for_sync($node, 60), 'resync drained');
failures_none('resync_products');
$p = $E->product_of('MER-CREW');
ok(grep({ $_->{key} eq 'care_guide' } @{ $p->{metafields} }), 'merchant metafield kept by resync_products()');
is_deeply($p->{tags}, [ 'staff-pick', 'winter' ], 'merchant tags kept by resync_products()');
is(scalar @{ $sim->state->{products} }, $nprod, 'no duplicate product');
ours_match('after resync_products()');
is(sql("SELECT count(*) FROM kcloud_shopify.reconcile('all')"), '0', 'reconcile() finds no drift');

done_testing();
