# Bulk first load (src/bulk.c) against the simulator: a catalogue above a
# low threshold goes through one bulk mutation; Shopify equals CI (products,
# variants, prices, metafields, stock); links recorded; no duplicates; a
# line that fails falls back to an ordinary call (and shows in failures);
# a re-run (resync_products) is idempotent; a worker that died before
# reading a run's results reads them in its next life.
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
my $node = KcsTest::new_node('bulk', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node);
$node->safe_psql('postgres', slurp_file("$KcsTest::SRC/test/gen/ci_gen.sql"));
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);
sub sql { return $E->sql($_[0]); }

sql("SELECT ci_gen.populate(40, 2, 3, 3, 0, 2)");
# a style Shopify refuses: a blank title
sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active) VALUES ('DUPE', ' ', 15.00, true)");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('DUPE-1', 'DUPE', 'Red', 'M'), ('DUPE-2', 'DUPE', 'Red', 'L')");
sql("TRUNCATE kcloud_shopify.queue");
is(sql("SELECT kcloud_shopify.bulk_threshold()"), '500', 'default threshold 500');
is(sql("SELECT kcloud_shopify.set_bulk_threshold(10)"), '10', 'threshold set to 10');
my $web = sql("SELECT count(*) FROM ci.style WHERE internet_active");
cmp_ok($web, '>', 10, "catalogue above the threshold ($web internet-active styles)");

like(KcsTest::connect_sim($node, $sim), qr/first sync queued/, 'connect() queues the first sync');
ok(KcsTest::wait_for_sync($node, 120), 'first sync drained');

my $ops = $sim->state->{bulkOperations};
is(scalar(grep { $_->{type} eq 'MUTATION' } @$ops), 1, 'the first sync went through one bulk mutation');
is($ops->[0]{status}, 'COMPLETED', 'which completed');
my $p = sql("SELECT state, total, done, linked, fell_back, eta, rate_per_s > 0 FROM kcloud_shopify.bulk_progress()");
is($p, join('|', 'done', $web, $web, $web - 1, 1, '00:00:00', 't'),
	'bulk_progress(): done, every line run, all but one linked, one left to ordinary calls');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link"), $web - 1, 'product links recorded');
is(sql("SELECT count(*) FROM kcloud_shopify.variant_link v JOIN ci.sku k USING (sku_code)"),
	sql("SELECT count(*) FROM ci.sku k JOIN ci.style s USING (style_code) WHERE s.internet_active AND s.style_code <> 'DUPE'"),
	'variant links recorded for every SKU');
is(sql("SELECT count(*) FROM kcloud_shopify.variant_link WHERE inventory_item_gid IS NULL"), '0', 'with inventory items');
# internet active = on the web store: the bulk-loaded products are published after the run
my $pubs = $sim->graphql('{ products(first: 250) { nodes { id status publishedOnPublication(publicationId: "gid://shopify/Publication/1") } } }');
my @pnodes = @{ $pubs->{data}{products}{nodes} // [] };
is(scalar(grep { $_->{status} eq 'ACTIVE' } @pnodes), $web - 1, 'the bulk-loaded products are ACTIVE');
is(scalar(grep { $_->{status} eq 'ACTIVE' && !$_->{publishedOnPublication} } @pnodes), 0,
	'and published on the Online Store');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link WHERE published_at IS NULL"), '0', 'published_at recorded for each');

# the failed line fell back to an ordinary productSet and failed there, with Shopify's message
like(sql("SELECT error FROM kcloud_shopify.failures WHERE ci_key = '{\"style_code\": \"DUPE\"}'"),
	qr/can't be blank/, 'the refused line fell back to an ordinary call and shows in failures');
cmp_ok(sql("SELECT count(*) FROM kcloud_shopify.activity_log WHERE operation ~* 'productSet'"), '>', 0,
	'an ordinary productSet was sent after the bulk run');
is(sql("SELECT count(*) FROM kcloud_shopify.failures WHERE ci_key <> '{\"style_code\": \"DUPE\"}'"), '0',
	'no other failures') or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));

# fix it in CI: the style is sent by an ordinary call (below the threshold)
sql("UPDATE ci.style SET description = 'Twin tee' WHERE style_code = 'DUPE'");
ok(KcsTest::wait_for_sync($node, 60), 'the fix synced');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures left');
$E->check_all('after the bulk first load');
is(scalar(@{ $sim->state->{bulkOperations} }), 1, 'still one bulk operation');

# a re-run over the whole catalogue: one more bulk run, nothing duplicated
my $nprod = scalar @{ $sim->state->{products} };
my $links = sql("SELECT string_agg(style_code || product_gid, ',' ORDER BY style_code) FROM kcloud_shopify.product_link");
my $vlinks = sql("SELECT md5(string_agg(sku_code || variant_gid || inventory_item_gid, ',' ORDER BY sku_code)) FROM kcloud_shopify.variant_link");
sql("UPDATE ci.style SET retail_price = retail_price + 1 WHERE style_code IN (SELECT style_code FROM ci.style WHERE internet_active ORDER BY style_code LIMIT 3)");
ok(KcsTest::wait_for_sync($node, 60), 'three price changes synced (ordinary calls)');
is(scalar(@{ $sim->state->{bulkOperations} }), 1, 'three changes: no bulk run');
# before it: a merchant metafield on a linked product, an attribute removed in CI (linked
# styles go by id without the metafield list; their metafields follow the run per call)
my ($mstyle, $mgid) = split /\|/, sql("SELECT l.style_code || '|' || l.product_gid FROM kcloud_shopify.product_link l"
	. " WHERE EXISTS (SELECT 1 FROM ci.style_attribute a WHERE a.style_code = l.style_code) ORDER BY 1 LIMIT 1");
my $mattr = sql("SELECT min(name) FROM ci.style_attribute WHERE style_code = '$mstyle'");
my $mset = $sim->graphql('mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }',
	{ m => [ { ownerId => $mgid, namespace => 'custom', key => 'care_guide', type => 'single_line_text_field', value => 'merchant copy' } ] });
is_deeply($mset->{data}{metafieldsSet}{userErrors}, [], "a merchant metafield on $mstyle");
sql("DELETE FROM ci.style_attribute WHERE style_code = '$mstyle' AND name = '$mattr'");
ok(KcsTest::wait_for_sync($node, 60), "attribute $mattr of $mstyle removed (ordinary call)");
{
	my ($mp) = grep { $_->{id} eq $mgid } @{ $sim->state->{products} };
	is(join(',', sort map { "$_->{namespace}.$_->{key}" } grep { $_->{namespace} ne 'kcloud' } @{ $mp->{metafields} }),
		join(',', sort('custom.care_guide', map { "kcloud_attr.$_" } split /\n/,
			sql("SELECT name FROM ci.style_attribute WHERE style_code = '$mstyle'"))),
		'its metafield deleted (metafieldsDelete), the merchant\'s kept');
}
# the attribute comes back while the worker is paused: the resync's bulk run carries it
sql("SELECT kcloud_shopify.pause('bulk re-run test')");
sql("INSERT INTO ci.style_attribute VALUES ('$mstyle', '$mattr', 'back again')");
cmp_ok(sql("SELECT kcloud_shopify.resync_products()"), '>', 10, 'resync_products() over the catalogue');
sql("SELECT kcloud_shopify.resume()");
ok(KcsTest::wait_for_sync($node, 120), 'resync drained');
{
	my ($mp) = grep { $_->{id} eq $mgid } @{ $sim->state->{products} };
	is(join(',', map { $_->{value} } grep { $_->{namespace} eq 'custom' } @{ $mp->{metafields} }), 'merchant copy',
		'the merchant metafield survived the bulk re-run');
	is(join(',', map { $_->{value} } grep { $_->{namespace} eq 'kcloud_attr' && $_->{key} eq $mattr } @{ $mp->{metafields} }),
		'back again', 'the re-added attribute arrived after the bulk run (metafieldsSet)');
	is(sql("SELECT 'kcloud_attr.$mattr' = ANY (metafield_keys) FROM kcloud_shopify.product_link WHERE style_code = '$mstyle'"), 't',
		'and its key is recorded');
}
is(scalar(@{ $sim->state->{bulkOperations} }), 2, 'the resync went through a second bulk mutation');
is(sql("SELECT state, linked, fell_back FROM kcloud_shopify.bulk_progress()"), "done|$web|0", 'every style linked');
is(scalar(@{ $sim->state->{products} }), $nprod, 'no product duplicated by the re-run');
is(sql("SELECT string_agg(style_code || product_gid, ',' ORDER BY style_code) FROM kcloud_shopify.product_link"), $links,
	'product links unchanged');
is(sql("SELECT md5(string_agg(sku_code || variant_gid || inventory_item_gid, ',' ORDER BY sku_code)) FROM kcloud_shopify.variant_link"),
	$vlinks, 'variant links unchanged');
$E->check_all('after a bulk re-run');

# crash: a worker that started run 2's operation and died before reading it.
# Its links are lost; the next life reads the finished operation instead of
# sending again.
my $op2 = $sim->state->{bulkOperations}[1]{id};
sql("SELECT kcloud_shopify.pause('crash test')");
my $gone = sql("SELECT string_agg(style_code, ',' ORDER BY style_code) FROM (SELECT style_code FROM kcloud_shopify.product_link ORDER BY style_code LIMIT 5) x");
sql("DELETE FROM kcloud_shopify.variant_link WHERE style_code = ANY (string_to_array('$gone', ','))");
sql("DELETE FROM kcloud_shopify.product_link WHERE style_code = ANY (string_to_array('$gone', ','))");
sql("UPDATE kcloud_shopify.bulk_run SET state = 'running', linked = 0, finished_at = NULL WHERE operation_gid = '$op2'");
my $pid = KcsTest::worker_pid($node);
sql("SELECT pg_terminate_backend($pid)");
KcsTest::wait_for_worker($node, $pid);
sql("SELECT kcloud_shopify.resume()");
ok(KcsTest::poll_until($node, "SELECT state || '/' || resumed FROM kcloud_shopify.bulk_run WHERE operation_gid = '$op2'", 'done/true', 60),
	'the next worker life read the unfinished run\'s results');
ok(KcsTest::wait_for_sync($node, 60), 'in sync after the restart');
is(sql("SELECT string_agg(style_code || product_gid, ',' ORDER BY style_code) FROM kcloud_shopify.product_link"), $links,
	'the lost product links are back');
is(sql("SELECT md5(string_agg(sku_code || variant_gid || inventory_item_gid, ',' ORDER BY sku_code)) FROM kcloud_shopify.variant_link"),
	$vlinks, 'the lost variant links are back');
is(scalar(@{ $sim->state->{bulkOperations} }), 2, 'no bulk operation re-run');
is(scalar(@{ $sim->state->{products} }), $nprod, 'no product duplicated');
$E->check_all('after a crash during a bulk run');

# a run that died before its operation started: abandoned, nothing re-read
sql("INSERT INTO kcloud_shopify.bulk_run (state, styles, total) VALUES ('preparing', '{X1,X2}', 2)");
sql("SELECT kcloud_shopify.wake()");
ok(KcsTest::poll_until($node, "SELECT state FROM kcloud_shopify.bulk_run ORDER BY run_id DESC LIMIT 1", 'abandoned', 30),
	'a run without a bulk operation is marked abandoned');
is(sql("SELECT count(*) FROM kcloud_shopify.bulk_run WHERE state NOT IN ('done', 'abandoned')"), '0', 'no unfinished run left');

# publishing after a bulk run fails: those styles go back to ordinary calls, which publish them.
# Three products off the Online Store and never published by us (published_at NULL).
my @unpub = split /,/, sql("SELECT string_agg(style_code, ',' ORDER BY style_code) FROM"
	. " (SELECT style_code FROM kcloud_shopify.product_link ORDER BY style_code DESC LIMIT 3) x");
my $ONLINE = 'gid://shopify/Publication/1';
sub published_on
{
	my ($style) = @_;
	my $g = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = '$style'");
	my $r = $sim->graphql('query($id: ID!, $p: ID!) { product(id: $id) { publishedOnPublication(publicationId: $p) } }',
		{ id => $g, p => $ONLINE });
	return $r->{data}{product}{publishedOnPublication} ? 1 : 0;
}
sql("SELECT kcloud_shopify.pause('bulk publish test')");
for my $s (@unpub)
{
	my $g = sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = '$s'");
	$sim->graphql('mutation($id: ID!, $p: ID!) { publishableUnpublish(id: $id, input: [{publicationId: $p}]) { userErrors { message } } }',
		{ id => $g, p => $ONLINE });
}
sql("UPDATE kcloud_shopify.product_link SET published_at = NULL WHERE style_code = ANY (string_to_array('" . join(',', @unpub) . "', ','))");
is(join('', map { published_on($_) } @unpub), '000', 'three products off the Online Store, never published by us');
$sim->config(faults => { error503 => 1, operations => ['publishablePublish'] });
cmp_ok(sql("SELECT kcloud_shopify.resync_products()"), '>', 10, 'resync_products() while publishing fails');
sql("SELECT kcloud_shopify.resume()");
ok(KcsTest::poll_until($node, "SELECT count(*) FROM kcloud_shopify.bulk_run WHERE state = 'done'", '3', 120),
	'a third bulk run finished');
is(sql("SELECT linked || '/' || fell_back FROM kcloud_shopify.bulk_run WHERE state = 'done' ORDER BY run_id DESC LIMIT 1"),
	"$web/3", 'every line linked; the three styles whose publish failed went back to ordinary calls');
$sim->config(faults => {});
ok(KcsTest::wait_for_sync($node, 120), 'the ordinary calls drained once publishing works');
is(join('', map { published_on($_) } @unpub), '111', 'the three products end published on the Online Store');
is(sql("SELECT count(*) FROM kcloud_shopify.product_link WHERE published_at IS NULL"), '0', 'published_at recorded');

# threshold 0: off
sql("SELECT kcloud_shopify.set_bulk_threshold(0)");
sql("SELECT kcloud_shopify.resync_products()");
ok(KcsTest::wait_for_sync($node, 120), 'resync with the bulk path off drained');
is(scalar(@{ $sim->state->{bulkOperations} }), 3, 'threshold 0: ordinary calls only');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures at the end')
  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
done_testing();
