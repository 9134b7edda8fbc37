# Entity sync under faults and races: the first sync and a burst of changes
# with 5xx, hangs, resets and apply-then-drop replies converge to CI with
# no duplicate product, variant or customer; a web order fulfilled in
# Shopify while the POS sells the same SKU never leaves Shopify showing
# more stock than exists (compare-and-set, then the orders are brought in);
# a TAKEN customer is one visible failure with Shopify's message, not a
# retry loop.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use KcsTest;
require "$KcsTest::SRC/test/t/entities.pm";

my $sim = KcsTest::Sim->start(args => [ '--seed', '42' ]);
# no periodic order polling: only a failed compare-and-set brings orders in
my $node = KcsTest::new_node('entfaults', conf => "kcloud_shopify.idle_interval = '1s'\nkcloud_shopify.poll_interval = 0\nrestart_after_crash = on\n"
	  # small batches: many requests, so many chances for a fault
	  . "kcloud_shopify.batch_size_product = 1\nkcloud_shopify.batch_size_customer = 1\nkcloud_shopify.batch_size_inventory = 3\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);
sub sql { return $E->sql($_[0]); }

# --- the first sync under faults ---
my %faults = (error500 => 0.05, error503 => 0.05, hang => 0.02, reset => 0.04, applyThenDrop => 0.12,
	operations => [qw(productSet productVariants productByIdentifier inventorySetQuantities inventoryItem
		inventoryActivate customerSet metafieldsSet)]);
$sim->config(faults => \%faults);
like(KcsTest::connect_sim($node, $sim), qr/first sync queued/, 'connect() queues the first sync');
ok(KcsTest::wait_for_sync($node, 180), 'the first sync converged under faults');
my $c = $sim->counters;
my $nf = 0;
$nf += $_ for values %{ $c->{faults} };
ok($nf > 0, "faults were injected ($nf: " . join(', ', map { "$_=$c->{faults}{$_}" } sort keys %{ $c->{faults} }) . ')');
ok($c->{faults}{applyThenDrop} > 0, 'some replies were lost after Shopify applied the request');
$sim->config(faults => {});
$E->check_all('first sync under faults');

# --- a burst of changes under faults ---
$sim->config(faults => \%faults);
sql("UPDATE ci.style SET retail_price = retail_price + 1");
sql("UPDATE ci.stock SET on_hand = on_hand + 3 WHERE branch_code IN ('AKL', 'WLG')");
sql("INSERT INTO ci.customer (customer_code, first_name, last_name, email) VALUES ('C2001', 'Mere', 'Tāwhiri', 'mere\@example.co.nz')");
sql("UPDATE ci.customer SET last_name = last_name || '-Smith' WHERE customer_code = 'C1001'");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size, sort_order) VALUES ('TEE-ORG-GRN-M', 'TEE-ORG', 'Green', 'M', 50)");
sql("INSERT INTO ci.stock VALUES ('TEE-ORG-GRN-M', 'AKL', 4)");
ok(KcsTest::wait_for_sync($node, 180), 'the burst converged under faults');
$sim->config(faults => {});
$E->check_all('burst under faults');
is(sql("SELECT count(*) FROM kcloud_shopify.failures WHERE state = 'failed'"), '0', 'no permanent failure')
  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
is(sql("SELECT count(*) FROM kcloud_shopify.inventory_level WHERE idempotency_key IS NOT NULL"), '0',
	'no stock send left unconfirmed');

# --- a web order fulfilled in Shopify while the POS sells the same SKU ---
my $sku = 'MER-CREW-NAV-M';
sql("UPDATE ci.stock SET on_hand = 5 WHERE sku_code = '$sku' AND branch_code = 'AKL'");
ok(KcsTest::wait_for_sync($node, 30), 'stock set to 5');
my $item = sql("SELECT inventory_item_gid FROM kcloud_shopify.variant_link WHERE sku_code = '$sku'");
my $variant = sql("SELECT variant_gid FROM kcloud_shopify.variant_link WHERE sku_code = '$sku'");
my $loc = sql("SELECT location_gid FROM kcloud_shopify.location_link WHERE branch_code = 'AKL'");
sub shop_on_hand
{
	my ($l) = grep { $_->{inventoryItemId} eq $item && $_->{locationId} eq $loc } @{ $sim->state->{inventoryLevels} };
	return $l ? $l->{on_hand} : undef;
}
is(shop_on_hand(), 5, 'Shopify holds 5');

sql("SELECT kcloud_shopify.pause()");
my $o = $sim->graphql('mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { order { id name } userErrors { field message } } }',
	{ o => { currency => 'NZD', email => 'webshopper@example.com', financialStatus => 'PAID',
		lineItems => [ { variantId => $variant, quantity => 1 } ],
		fulfillmentStatus => 'FULFILLED', fulfillment => { locationId => $loc } } });
ok($o->{data}{orderCreate}{order}{id}, 'a web order was fulfilled from AKL in Shopify')
  or diag(explain $o);
is(shop_on_hand(), 4, 'Shopify on_hand went to 4 when it shipped');
sql("UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = '$sku' AND branch_code = 'AKL'");   # the POS sells one
sql("SELECT kcloud_shopify.resume()");
my $max = 0;
my $deadline = time + 60;
while (time < $deadline)
{
	my $q = shop_on_hand();
	$max = $q if $q > $max;
	last if sql("SELECT count(*) FROM kcloud_shopify.queue WHERE state IN ('pending', 'in_flight')") eq '0'
	  && sql("SELECT on_hand FROM ci.stock WHERE sku_code = '$sku' AND branch_code = 'AKL'") eq '3';
	usleep(50_000);
}
ok(KcsTest::wait_for_sync($node, 30), 'synced after the race');
is(sql("SELECT on_hand FROM ci.stock WHERE sku_code = '$sku' AND branch_code = 'AKL'"), '3',
	'CI brought the web order in: 5 - POS 1 - web 1 = 3');
is(shop_on_hand(), 3, 'Shopify shows 3, what exists');
ok($max <= 4, "Shopify never showed more than 4 after the web sale (max seen $max; the POS count 4 never overwrote it)");
$E->check_all('after the race');

# --- the worker SIGKILLed, then PostgreSQL stopped (immediate), mid-batch ---
$sim->config(faults => { latencyMs => 300, operations => [qw(productSet customerSet metafieldsSet inventorySetQuantities inventoryItem)] });
sql("UPDATE ci.style SET retail_price = retail_price + 2");
sql("INSERT INTO ci.style (style_code, description, retail_price, internet_active, brand_code) VALUES ('KILL', 'Crash-proof cap', 25.00, true, 'CAFE')");
sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('KILL-S', 'KILL', 'Blue', 'S'), ('KILL-M', 'KILL', 'Blue', 'M')");
sql("INSERT INTO ci.stock VALUES ('KILL-S', 'AKL', 2), ('KILL-M', 'WLG', 3)");
sql("INSERT INTO ci.customer (customer_code, first_name, email) VALUES ('C2003', 'Kiri', 'kiri\@example.com')");
usleep(700_000);
my $wpid = KcsTest::worker_pid($node);
kill 'KILL', $wpid;
my $wpid2 = KcsTest::wait_for_worker($node, $wpid);
ok($wpid2, 'the worker is back after SIGKILL (crash restart)');
sql("UPDATE ci.stock SET on_hand = on_hand + 1 WHERE branch_code = 'CHC'");
sql("UPDATE ci.style SET description = description || ' ' WHERE style_code = 'KILL'");
usleep(700_000);
$node->stop('immediate');
$node->start;
KcsTest::wait_for_worker($node);
$sim->config(faults => {});
ok(KcsTest::wait_for_sync($node, 120), 'converged after the kill and the immediate restart');
$E->check_all('after SIGKILL and immediate restart');
is(scalar(grep { ($_->{email} // '') eq 'kiri@example.com' } @{ $sim->state->{customers} }), 1, 'one customer, not two');

# --- a TAKEN customer: one visible failure, no retry storm ---
my $taken = $sim->graphql('mutation { customerSet(input: {email: "someone@example.com", phone: "+64275550999", firstName: "Other"}) { customer { id } userErrors { message } } }');
ok($taken->{data}{customerSet}{customer}{id}, 'Shopify has a customer with phone +64275550999');
sql("INSERT INTO ci.customer (customer_code, first_name, email, phone) VALUES ('C2002', 'Dup', 'dup\@example.com', '027 555 0999')");
ok(KcsTest::poll_until($node, "SELECT count(*) FROM kcloud_shopify.failures WHERE kind = 'customer' AND state = 'failed'", '1', 30),
	'the conflict is a permanent failure');
like(sql("SELECT error FROM kcloud_shopify.failures WHERE kind = 'customer'"), qr/TAKEN/, "with Shopify's code and message");
my $n1 = $sim->counters->{requests}{customerSet};
sleep 4;
is($sim->counters->{requests}{customerSet}, $n1, 'and no further customerSet (no retry loop)');

# --- two CI customers matching one Shopify customer (same phone) ---
sql("INSERT INTO ci.customer (customer_code, first_name, phone) VALUES ('C2004', 'Twin', '027 555 0102')");
ok(KcsTest::poll_until($node, "SELECT count(*) FROM kcloud_shopify.failures WHERE kind = 'customer' AND state = 'failed' AND ci_key ->> 'customer_code' = 'C2004'", '1', 30),
	'a second CI customer with the phone of a linked one is a failure');
like(sql("SELECT error FROM kcloud_shopify.failures WHERE ci_key ->> 'customer_code' = 'C2004'"), qr/already linked to CI customer C1002/,
	'naming the customer it collides with');
is(sql("SELECT count(*) FROM kcloud_shopify.customer_link WHERE customer_code = 'C1002'"), '1', 'the first keeps its link');

done_testing();
