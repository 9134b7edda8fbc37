# Internet-active styles go on the Online Store (productSet publishes on no
# sales channel): after productSet, publishablePublish on the shop's Online
# Store publication, once per product (product_link.published_at).  A
# product the merchant unpublishes stays unpublished through resyncs; a
# style made internet active later is published then; an adopted product is
# published too; a failed publish request is retried until it succeeds;
# nothing is published while a style is not internet active (DRAFT).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/t';
use KcsTest;
require "$KcsTest::SRC/test/t/entities.pm";

my $ONLINE = 'gid://shopify/Publication/1';
my $POS = 'gid://shopify/Publication/2';

my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('publish', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);
sub sql { return $E->sql($_[0]); }

# publishedOnPublication of a style's product, asked through GraphQL: 'true' / 'false' / '' (no product)
sub published
{
	my ($style, $pub) = @_;
	my $gid = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = '$style'");
	return '' unless $gid;
	my $r = $sim->graphql('query($id: ID!, $p: ID!) { product(id: $id) { publishedOnPublication(publicationId: $p) } }',
		{ id => $gid, p => $pub // $ONLINE });
	my $v = $r->{data}{product}{publishedOnPublication};
	return defined $v ? ($v ? 'true' : 'false') : '';
}

# styles whose product is (not) on the Online Store, from the shop
sub shop_published_styles
{
	my ($want) = @_;
	my @codes = split /\n/, sql("SELECT style_code FROM kcloud_shopify.product_link ORDER BY 1");
	return join(',', grep { published($_) eq $want } @codes);
}

sub failures_none
{
	my ($what) = @_;
	is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', "$what: no failures")
	  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
}

# a CI change to a style, and its resync
sub touch_style
{
	my ($style, $what) = @_;
	sql("UPDATE ci.style SET description = description || '.' WHERE style_code = '$style'");
	ok(KcsTest::wait_for_sync($node, 60), "$what: synced");
}

# --- the first sync: every internet-active style on the Online Store ---
KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_sync($node, 90), 'first sync drained');
failures_none('first sync');
my $active = sql("SELECT string_agg(style_code, ',' ORDER BY style_code) FROM ci.style WHERE internet_active");
my $inactive = sql("SELECT string_agg(l.style_code, ',' ORDER BY l.style_code) FROM kcloud_shopify.product_link l
                     JOIN ci.style s USING (style_code) WHERE NOT s.internet_active");
ok($active ne '', "the data has internet-active styles ($active)");
is(shop_published_styles('true'), $active, 'every internet-active style is published on the Online Store');
is(shop_published_styles('false'), $inactive // '', 'the linked styles not internet active (DRAFT) are not published');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link l JOIN ci.style s USING (style_code)
         WHERE s.internet_active AND l.published_at IS NULL"), '0', 'published_at is recorded for each');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link l JOIN ci.style s USING (style_code)
         WHERE NOT s.internet_active AND l.published_at IS NOT NULL"), '0', 'and for no other');
is(published((split /,/, $active)[0], $POS), 'false', 'nothing is published on Point of Sale');
like(sql("SELECT value FROM kcloud_shopify.settings WHERE name = 'online_store_publication'"),
	qr/ \Q$ONLINE\E$/, 'the Online Store publication is recorded with its shop');
my $lookups = sql("SELECT count(*) FROM kcloud_shopify.settings WHERE name = 'online_store_publication'");
is($lookups, '1', 'one settings row');

# --- the merchant unpublishes a product: it stays unpublished ---
my ($style) = split /,/, $active;
my $gid = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = '$style'");
my $r = $sim->graphql('mutation($id: ID!, $p: ID!) { publishableUnpublish(id: $id, input: [{publicationId: $p}]) { userErrors { message } } }',
	{ id => $gid, p => $ONLINE });
is_deeply($r->{data}{publishableUnpublish}{userErrors}, [], "the merchant unpublished $style");
is(published($style), 'false', "$style is off the Online Store");
my $pa = sql("SELECT published_at FROM kcloud_shopify.product_link WHERE style_code = '$style'");
touch_style($style, 'a CI change to the unpublished style');
like($E->product_of($style)->{title} // '', qr/\.$/, 'the change reached Shopify');
is(published($style), 'false', 'the product stays unpublished (published once only)');
is(sql("SELECT published_at FROM kcloud_shopify.product_link WHERE style_code = '$style'"), $pa, 'published_at unchanged');

# --- internet active off (DRAFT) and on again: published once, stays on ---
my $other = (split /,/, $active)[1];
sql("UPDATE ci.style SET internet_active = false WHERE style_code = '$other'");
ok(KcsTest::wait_for_sync($node, 60), 'internet_active off synced');
is($E->product_of($other)->{status}, 'DRAFT', "$other is DRAFT");
is(published($other), 'true', 'DRAFT hides it; it is not unpublished');
sql("UPDATE ci.style SET internet_active = true WHERE style_code = '$other'");
ok(KcsTest::wait_for_sync($node, 60), 'internet_active on again synced');
is($E->product_of($other)->{status}, 'ACTIVE', "$other is ACTIVE again");
is(published($other), 'true', 'and still on the Online Store');

# --- a style made internet active later is published then ---
sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active, brand_code) VALUES ('LATER', 'Later tee', 25.00, false, 'CAFE')");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('LATER-S', 'LATER', 'Natural', 'S')");
ok(KcsTest::wait_for_sync($node, 30), 'a new style, not internet active, synced');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link WHERE style_code = 'LATER'"), '0', 'it is not in Shopify');
sql("UPDATE ci.style SET internet_active = true WHERE style_code = 'LATER'");
ok(KcsTest::wait_for_sync($node, 30), 'made internet active: synced');
is(published('LATER'), 'true', 'the style made internet active later is published');

# --- an adopted product is published too ---
my $made = $sim->graphql('mutation($i: ProductSetInput!) { productSet(input: $i) { product { id } userErrors { message } } }',
	{ i => { title => 'Hand-made listing', status => 'ACTIVE', vendor => 'someone',
		productOptions => [ { name => 'Size', values => [ { name => 'S' } ] } ],
		variants => [ { optionValues => [ { optionName => 'Size', name => 'S' } ], sku => 'ADOPT-S', price => '10.00' } ] } });
my $made_id = $made->{data}{productSet}{product}{id};
ok($made_id, "a product exists in Shopify before the style ($made_id)");
sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active, brand_code) VALUES ('ADOPT', 'Adopted tee', 20.00, false, 'CAFE')");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('ADOPT-S', 'ADOPT', 'Natural', 'S')");
sql("UPDATE ci.style SET internet_active = true WHERE style_code = 'ADOPT'");
ok(KcsTest::wait_for_sync($node, 30), 'the adopting style synced');
is(sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = 'ADOPT'"), $made_id, 'the product was adopted');
is(published('ADOPT'), 'true', 'the adopted product is published');

# --- a product deleted in Shopify is made again, and published again ---
my $lgid = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = 'LATER'");
my $del = $sim->graphql('mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { message } } }', { id => $lgid });
is($del->{data}{productDelete}{deletedProductId}, $lgid, "LATER's product deleted in Shopify");
touch_style('LATER', 'a CI change to the style whose product was deleted');
ok(KcsTest::poll_until($node, "SELECT product_gid <> '$lgid' FROM kcloud_shopify.product_link WHERE style_code = 'LATER'", 't', 60),
	'the style is linked to a new product');
is(published('LATER'), 'true', 'the new product is published');

# --- publish requests fail: retried, and the product ends published ---
$sim->config(faults => { error503 => 1, operations => ['publishablePublish'] });
sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active, brand_code) VALUES ('RETRY', 'Retried tee', 30.00, true, 'CAFE')");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('RETRY-S', 'RETRY', 'Natural', 'S')");
ok(KcsTest::poll_until($node, "SELECT count(*) > 0 FROM kcloud_shopify.product_link WHERE style_code = 'RETRY'", 't', 30),
	'the style is linked while publishing fails');
ok(KcsTest::poll_until($node, "SELECT coalesce(max(attempts), 0) >= 2 FROM kcloud_shopify.queue WHERE kind = 'product' AND key1 = 'RETRY'", 't', 60),
	'the failed publish keeps the style queued, and it is retried');
like(sql("SELECT last_error FROM kcloud_shopify.queue WHERE kind = 'product' AND key1 = 'RETRY'"),
	qr/publishing on the Online Store failed/, 'the queue row says why');
is(published('RETRY'), 'false', 'not published yet');
is(sql("SELECT published_at IS NULL FROM kcloud_shopify.product_link WHERE style_code = 'RETRY'"), 't', 'published_at is NULL');
my $c = $sim->counters;
ok(($c->{faults}{error503} // 0) > 0, "publish requests failed ($c->{faults}{error503})");
$sim->config(faults => {});
ok(KcsTest::wait_for_sync($node, 120), 'the retry synced');
is(published('RETRY'), 'true', 'the retried style ends published');
is(sql("SELECT published_at IS NOT NULL FROM kcloud_shopify.product_link WHERE style_code = 'RETRY'"), 't', 'published_at recorded');

failures_none('the end');
$E->check_all('the end');
done_testing();
