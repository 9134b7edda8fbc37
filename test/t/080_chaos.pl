# Chaos convergence: a random CI workload (styles, SKUs, prices and dated
# sales, stock movements, branches, customers, internet active on and off,
# deletions) while the simulator injects faults, the worker is SIGKILLed and
# PostgreSQL is stopped (immediate) at random moments, and web orders are
# placed, fulfilled (at once, or later after moving the fulfilment order to a
# linked location) and refunded in Shopify.  Then quiesce and check: every
# field we own in Shopify equals CI; each fulfilment is exactly one invoice,
# each refund one credit note, each invoice at the branch fulfilled from;
# CI stock equals Shopify on_hand at every linked level; no duplicate Shopify
# object; no failure row.
#
#   KCS_SEED=n             the seed (printed; the same seed makes the same choices, as far as
#                          the timing of the worker and the restarts lets it)
#   KCS_CHAOS_SECONDS=n    the chaos phase (default 100; KCS_CHAOS_LONG=1: 900)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use KcsTest;

# needs the entity sync (products, stock, customers) and its test helpers
unless (-f "$KcsTest::SRC/test/t/entities.pm" && -f "$KcsTest::SRC/src/sync_inventory.c")
{
	plan tests => 1;
	SKIP: { skip 'the entity sync is not in this tree (test/t/entities.pm)', 1; }
	exit 0;
}
require "$KcsTest::SRC/test/t/entities.pm";

my $seed = $ENV{KCS_SEED} // int(rand(1_000_000));
my $secs = $ENV{KCS_CHAOS_SECONDS} // ($ENV{KCS_CHAOS_LONG} ? 900 : 100);
srand($seed);
diag("080_chaos: KCS_SEED=$seed, chaos for ${secs}s");

my $sim = KcsTest::Sim->start(args => [ '--seed', $seed ]);
my $node = KcsTest::new_node('chaos', conf => "kcloud_shopify.idle_interval = '1s'\n"
	  . "kcloud_shopify.poll_interval = 5\n"
	  . "kcloud_shopify.batch_size_product = 4\nkcloud_shopify.batch_size_customer = 4\n"
	  . "kcloud_shopify.batch_size_inventory = 10\nlog_min_messages = warning\n"
	  # a SIGKILLed worker is a crash: the postmaster restarts the backends
	  . "restart_after_crash = on\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
my $E = Entities->new($node, $sim);
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub col { return split /\n/, sql($_[0]); }
sub pick { return $_[ int(rand(@_)) ]; }
sub chance { return rand() < $_[0]; }

# the extension's own root fields: faults hit those, never the test's orders
my @ext_ops = qw(productSet productByIdentifier product productVariants inventoryItem inventorySetQuantities
  inventoryActivate metafieldsSet customerSet customers customerByIdentifier locationAdd locationEdit
  locationActivate locationDeactivate locationByIdentifier orders order);

my $cc = chance(0.5);
like(KcsTest::connect_sim($node, $sim, client_credentials => $cc), qr/^connected/,
	'connected (' . ($cc ? 'client credentials' : 'static token') . ')');

my %did;    # what happened, for the report
my $n = 0;  # fresh names
my %ordered_sku;    # SKUs in a web order: never deleted
my @pending_fo;     # orders created unfulfilled: [order gid, fulfillment order gid, linked location gid, assigned location gid]
my @initial_branches = col("SELECT branch_code FROM ci.branch WHERE active ORDER BY 1");
my @brands = col("SELECT brand_code FROM ci.brand ORDER BY 1");

# --- the CI workload -------------------------------------------------------
my %ops = (
	price => sub {
		my $s = pick(col("SELECT style_code FROM ci.style ORDER BY 1")) // return;
		sql("UPDATE ci.style SET retail_price = " . (5 + int(rand(300))) . '.' . pick('00', '50', '99') . " WHERE style_code = '$s'");
	},
	sale => sub {
		my $s = pick(col("SELECT style_code FROM ci.style ORDER BY 1")) // return;
		if (chance(0.3)) { sql("UPDATE ci.style SET sale_price = NULL, sale_from = NULL, sale_to = NULL WHERE style_code = '$s'"); return; }
		my $from = int(rand(12)) - 8;
		my $to = $from + int(rand(10));
		sql("UPDATE ci.style SET sale_price = round(retail_price * " . pick('0.5', '0.8', '0.9', '1.1') . ", 2),
		     sale_from = " . (chance(0.2) ? 'NULL' : "current_date + $from") . ",
		     sale_to = " . (chance(0.2) ? 'NULL' : "current_date + $to") . " WHERE style_code = '$s'");
	},
	new_style => sub {
		my $s = 'CH' . ++$n;
		my $brand = chance(0.7) && @brands ? "'" . pick(@brands) . "'" : 'NULL';
		sql("INSERT INTO ci.style (style_code, description, long_description, retail_price, internet_active, brand_code)
		     VALUES ('$s', 'Chaos item $n " . pick("O''Brien''s", 'Ōtautahi', 'plain', '"quoted"', '50% off') . "', "
			  . pick('NULL', "'A plain description.'", "'<p>HTML <b>bold</b></p>'", "'Two\n\nparagraphs & more'")
			  . ", " . (10 + int(rand(200))) . ".00, " . (chance(0.8) ? 'true' : 'false') . ", $brand)");
		my @sizes = ('S', 'M', 'L', 'XL');
		for my $i (0 .. int(rand(3)))
		{
			sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('$s-$sizes[$i]', '$s', '" . pick('Red', 'Blue', 'Black') . "', '$sizes[$i]')");
			for my $b (@initial_branches)
			{
				sql("INSERT INTO ci.stock VALUES ('$s-$sizes[$i]', '$b', " . int(rand(10)) . ")") if chance(0.6);
			}
		}
	},
	new_sku => sub {
		my $s = pick(col("SELECT style_code FROM ci.style ORDER BY 1")) // return;
		my $k = "$s-N" . ++$n;
		sql("INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('$k', '$s', 'Green', 'N$n')");
		sql("INSERT INTO ci.stock VALUES ('$k', '" . pick(@initial_branches) . "', " . int(rand(8)) . ")");
	},
	stock => sub {
		my $k = pick(col("SELECT sku_code FROM ci.sku ORDER BY 1")) // return;
		my $b = pick(col("SELECT branch_code FROM ci.branch ORDER BY 1"));
		my $d = int(rand(9)) - 3;
		sql("INSERT INTO ci.stock VALUES ('$k', '$b', $d) ON CONFLICT (sku_code, branch_code) DO UPDATE SET on_hand = ci.stock.on_hand + $d");
	},
	stock_many => sub {
		sql("UPDATE ci.stock SET on_hand = on_hand + 1 WHERE random() < 0.2");
	},
	branch => sub {
		my @mine = col("SELECT branch_code FROM ci.branch WHERE branch_code LIKE 'X%' ORDER BY 1");
		if (@mine && chance(0.6))
		{
			my $b = pick(@mine);
			sql("UPDATE ci.branch SET " . pick('active = NOT active', 'web_stock = NOT web_stock', "phone = '09 555 " . int(rand(9999)) . "'")
				  . " WHERE branch_code = '$b'");
		}
		else
		{
			my $b = 'X' . ++$n;
			sql("INSERT INTO ci.branch (branch_code, name, city, country_code, web_stock) VALUES ('$b', 'Pop-up $n', 'Nelson', 'NZ', "
				  . (chance(0.7) ? 'true' : 'false') . ")");
		}
	},
	customer => sub {
		my @mine = col("SELECT customer_code FROM ci.customer WHERE customer_code LIKE 'K%' ORDER BY 1");
		if (@mine && chance(0.5))
		{
			my $c = pick(@mine);
			sql("UPDATE ci.customer SET " . pick("last_name = 'Changed$n'", "phone = '021 555 " . sprintf('%04d', ++$n) . "'",
				"city = 'Hamilton', address1 = '$n Victoria St'", "first_name = 'Zoë'") . " WHERE customer_code = '$c'");
		}
		else
		{
			my $c = 'K' . ++$n;
			sql("INSERT INTO ci.customer (customer_code, first_name, last_name, email, phone) VALUES ('$c', 'Chaos', 'Customer $n', "
				  . "'chaos$n\@example.com', " . (chance(0.5) ? "'027 55" . sprintf('%05d', $n) . "'" : 'NULL') . ")");
		}
	},
	internet => sub {
		my $s = pick(col("SELECT style_code FROM ci.style ORDER BY 1")) // return;
		sql("UPDATE ci.style SET internet_active = NOT internet_active WHERE style_code = '$s'");
	},
	delete => sub {
		my @skus = grep { !$ordered_sku{$_} } col(
			"SELECT k.sku_code FROM ci.sku k WHERE NOT EXISTS (SELECT 1 FROM ci.invoice_line l WHERE l.sku_code = k.sku_code)
			    AND NOT EXISTS (SELECT 1 FROM ci.credit_note_line l WHERE l.sku_code = k.sku_code) ORDER BY 1");
		if (chance(0.5) && @skus)
		{
			sql("DELETE FROM ci.sku WHERE sku_code = '" . pick(@skus) . "'");
		}
		else
		{
			my %ok = map { $_ => 1 } @skus;
			my @styles = grep {
				my $s = $_;
				!grep { !$ok{$_} } col("SELECT sku_code FROM ci.sku WHERE style_code = '$s'")
			} col("SELECT style_code FROM ci.style WHERE style_code LIKE 'CH%' ORDER BY 1");
			sql("DELETE FROM ci.style WHERE style_code = '" . pick(@styles) . "'") if @styles;
		}
	},
);
my @op_weights = (price => 8, sale => 4, new_style => 3, new_sku => 2, stock => 12, stock_many => 2, branch => 2,
	customer => 5, internet => 3, delete => 2);

# --- web orders in Shopify ---------------------------------------------------
my $ORDER = 'mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { order { id fulfillmentOrders(first: 1) { nodes { id assignedLocation { location { id } } } } } userErrors { field message } } }';
my $FULFIL = 'mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }';
my $MOVE = 'mutation($id: ID!, $l: ID!) { fulfillmentOrderMove(id: $id, newLocationId: $l) { movedFulfillmentOrder { id assignedLocation { location { id } } } userErrors { field message } } }';
my $REFUND = 'mutation($input: RefundInput!, $k: String!) { refundCreate(input: $input) @idempotent(key: $k) { refund { id } userErrors { field message } } }';

# a variant Shopify sells with a level at a location of an original branch
sub orderable
{
	my $st = $sim->state;
	my %active = map { $_->{id} => 1 } grep { $_->{status} eq 'ACTIVE' } @{ $st->{products} };
	my %item_variant;
	for my $p (@{ $st->{products} })
	{
		next unless $active{ $p->{id} };
		$item_variant{ $_->{inventoryItemId} } = [ $_->{id}, $_->{sku} ] for @{ $p->{variants} };
	}
	my %locs = map { split /\|/ } col("SELECT location_gid || '|' || branch_code FROM kcloud_shopify.location_link ll
	                                    JOIN ci.branch b USING (branch_code) WHERE ll.active AND b.active AND b.branch_code NOT LIKE 'X%'");
	my %web_sku = map { $_ => 1 } col("SELECT k.sku_code FROM ci.sku k JOIN ci.style s USING (style_code) WHERE s.internet_active");
	my @c;
	for my $l (@{ $st->{inventoryLevels} })
	{
		next unless $locs{ $l->{locationId} } && $item_variant{ $l->{inventoryItemId} };
		my ($vid, $sku) = @{ $item_variant{ $l->{inventoryItemId} } };
		push @c, [ $vid, $sku, $l->{locationId} ] if $web_sku{$sku};
	}
	return @c;
}

my %web = (orders => 0, fulfilled_later => 0, moved => 0, refunds => 0, order_errors => 0);
my %web_ops = (
	order => sub {
		my @c = orderable() or return;
		my ($vid, $sku, $loc) = @{ pick(@c) };
		# fulfilled later: Shopify may assign the order to a location no CI
		# branch is linked to (the simulator's default 'Shop location'; an
		# exception by design, docs/orders.md), so the fulfilment order is moved
		# to the linked location first, as a merchant would, then fulfilled
		my $later = chance(0.3);
		my $o = { currency => 'NZD', email => 'web' . ++$n . '@example.com', financialStatus => 'PAID', taxesIncluded => JSON::PP::true(),
			lineItems => [ { variantId => $vid, quantity => 1 + int(rand(2)) } ] };
		if (!$later) { $o->{fulfillmentStatus} = 'FULFILLED'; $o->{fulfillment} = { locationId => $loc }; }
		$ordered_sku{$sku} = 1;    # from now on CI must keep the SKU
		my $r = $sim->graphql($ORDER, { o => $o });
		my $id = $r->{data}{orderCreate}{order}{id};
		if (!$id) { $web{order_errors}++; diag('orderCreate: ' . KcsTest::json_encode($r)); return; }
		$web{orders}++;
		my $fo = $r->{data}{orderCreate}{order}{fulfillmentOrders}{nodes}[0];
		push @pending_fo, [ $id, $fo->{id}, $loc, $fo->{assignedLocation}{location}{id} // '' ] if $later;
	},
	fulfil => sub {
		my $p = shift @pending_fo or return;
		if ($p->[3] ne $p->[2])
		{
			my $m = $sim->graphql($MOVE, { id => $p->[1], l => $p->[2] });
			my $at = $m->{data}{fulfillmentOrderMove}{movedFulfillmentOrder}{assignedLocation}{location}{id} // '';
			if ($at ne $p->[2]) { $web{order_errors}++; diag('fulfillmentOrderMove: ' . KcsTest::json_encode($m)); return; }
			# Shopify moves an untouched fulfilment order itself; the moved one is the one to fulfil
			$p->[1] = $m->{data}{fulfillmentOrderMove}{movedFulfillmentOrder}{id};
			$web{moved}++;
		}
		my $r = $sim->graphql($FULFIL, { f => { lineItemsByFulfillmentOrder => [ { fulfillmentOrderId => $p->[1] } ] } });
		if ($r->{data}{fulfillmentCreate}{fulfillment}{id}) { $web{fulfilled_later}++; }
		else { $web{order_errors}++; diag('fulfillmentCreate: ' . KcsTest::json_encode($r)); }
	},
	refund => sub {
		my @cands;
		for my $o (@{ $sim->state->{orders} })
		{
			next unless @{ $o->{fulfillments} };
			for my $li (@{ $o->{lineItems} })
			{
				push @cands, [ $o, $li ] if $li->{fulfilledQuantity} > $li->{refundedQuantity};
			}
		}
		@cands or return;
		my ($o, $li) = @{ pick(@cands) };
		my $restock = chance(0.6);
		my $rli = { lineItemId => $li->{id}, quantity => 1, restockType => $restock ? 'RETURN' : 'NO_RESTOCK' };
		$rli->{locationId} = $o->{fulfillments}[0]{locationId} if $restock;
		my $r = $sim->graphql($REFUND, { k => 'chaos-refund-' . ++$n, input => { orderId => $o->{id}, note => 'chaos',
			refundLineItems => [$rli], transactions => [ { orderId => $o->{id}, kind => 'REFUND', gateway => 'manual', amount => $li->{price} } ] } });
		if ($r->{data}{refundCreate}{refund}{id}) { $web{refunds}++; }
		else { $web{order_errors}++; diag('refundCreate: ' . KcsTest::json_encode($r)); }
	},
);

# --- faults, kills, restarts ----------------------------------------------------
my %chaos = (fault_configs => 0, worker_kills => 0, restarts => 0);
sub faults_on
{
	my %f = (operations => \@ext_ops);
	$f{$_} = pick(0, 0, 0.02, 0.05, 0.1) for qw(error500 error503 error429 reset applyThenDrop);
	$f{hang} = pick(0, 0, 0.01, 0.02);
	$f{latencyMs} = pick(0, 0, 50, 200);
	$sim->config(faults => \%f);
	$chaos{fault_configs}++;
}
sub kill_worker
{
	my $pid = KcsTest::worker_pid($node) or return;
	kill 'KILL', $pid;
	$chaos{worker_kills}++;
	# a SIGKILLed backend makes the postmaster restart everything: wait for it
	$node->poll_query_until('postgres', 'SELECT 1', '1');
	KcsTest::wait_for_worker($node, $pid);
}
sub restart
{
	$node->stop('immediate');
	$node->start;
	$chaos{restarts}++;
	KcsTest::wait_for_worker($node);
}

# --- the chaos phase --------------------------------------------------------------
faults_on();
my %wsum;
my $total = 0;
for (my $i = 0; $i < @op_weights; $i += 2) { $total += $op_weights[ $i + 1 ]; }
my $deadline = time + $secs;
my ($ci_changes, $steps) = (0, 0);
while (time < $deadline)
{
	$steps++;
	my $r = rand();
	if ($r < 0.70)
	{
		my $x = rand($total);
		for (my $i = 0; $i < @op_weights; $i += 2)
		{
			$x -= $op_weights[ $i + 1 ];
			next if $x >= 0;
			my $name = $op_weights[$i];
			eval { $ops{$name}->(); $did{$name}++; $ci_changes++; 1 } or diag("CI change $name: $@");
			last;
		}
	}
	elsif ($r < 0.86) { my $w = pick('order', 'order', 'fulfil', 'refund'); eval { $web_ops{$w}->(); 1 } or diag("web $w: $@"); }
	elsif ($r < 0.93) { faults_on(); }
	elsif ($r < 0.97) { kill_worker(); }
	elsif ($r < 0.985) { restart(); }
	else { $sim->config(faults => {}); }
	usleep(int(rand(300_000)));
}
# orders still waiting for their fulfilment
$web_ops{fulfil}->() while @pending_fo;

# --- quiesce -----------------------------------------------------------------------
$sim->config(faults => {});
sql("SELECT kcloud_shopify.resume()");
my $ok = 0;
for my $round (1 .. 6)
{
	sql("SELECT kcloud_shopify.poll_orders()");
	$ok = KcsTest::wait_for_sync($node, 120);
	sql("SELECT kcloud_shopify.enqueue_due_sales()");
	last if $ok && KcsTest::wait_for_sync($node, 30)
	  && sql("SELECT count(*) FROM kcloud_shopify.order_exceptions") eq '0';
}
ok($ok, 'the queue drained after the chaos');
sql("SELECT kcloud_shopify.poll_orders()");
ok(KcsTest::wait_for_sync($node, 120), 'and again after the last poll');

my $st = $sim->state;
my $c = $sim->counters;
my $nf = 0;
$nf += $_ for values %{ $c->{faults} };
diag(sprintf('080_chaos: %d steps, %d CI changes (%s); faults injected %d (%s) in %d configurations; '
		. '%d worker SIGKILLs, %d immediate restarts; web: %d orders (%d fulfilled later, %d of them after a fulfilment order move), %d refunds, %d errors; '
		. '%d requests to Shopify',
	$steps, $ci_changes, join(' ', map { "$_=$did{$_}" } sort keys %did), $nf,
	join(' ', map { "$_=$c->{faults}{$_}" } sort keys %{ $c->{faults} }), $chaos{fault_configs},
	$chaos{worker_kills}, $chaos{restarts}, $web{orders}, $web{fulfilled_later}, $web{moved}, $web{refunds}, $web{order_errors},
	$c->{requestsTotal}));

# --- the checks ------------------------------------------------------------------
is($web{order_errors}, 0, 'Shopify accepted every web order, fulfilment order move, fulfilment and refund of the test');
my $state = $st;
# A style whose SKUs were all deleted in CI: Shopify never deletes a product's last
# variant (CANNOT_DELETE_LAST_VARIANT) and the product sync sends no variants for
# it, so the last one stays; the product is DRAFT (its line is compared with CI's
# expected status below), so nobody can buy it.  Such a leftover is set apart: at
# most one per SKU-less style, and every other line is compared.
my %skuless = map { $_ => 1 } col("SELECT style_code FROM ci.style s WHERE NOT EXISTS (SELECT 1 FROM ci.sku k WHERE k.style_code = s.style_code)");
my (@shop_lines, %left_variants);
for (split /\n/, $E->shop_products($state))
{
	my @f = split /\|/, $_, -1;
	if ($skuless{ $f[0] } && @f == 6 && $f[4] !~ /^(ACTIVE|DRAFT|ARCHIVED)$/) { $left_variants{ $f[0] }++; }
	else { push @shop_lines, $_; }
}
is(join("\n", @shop_lines), $E->expected_products, 'products and variants equal CI (a SKU-less style: DRAFT)');
is(join(', ', grep { $left_variants{$_} > 1 } sort keys %left_variants), '',
	'a style without SKUs keeps at most its last variant in Shopify (' . scalar(keys %left_variants) . ' such styles)');
is($E->shop_metafields($state), $E->expected_metafields, 'metafields equal CI');
is($E->shop_customers($state), $E->expected_customers, 'customers equal CI');
my %skus;
$skus{ $_->{sku} }++ for map { @{ $_->{variants} } } @{ $state->{products} };
is(join(',', grep { $skus{$_} > 1 } sort keys %skus), '', 'no SKU twice in Shopify');
my %cids;
$cids{ join('|', map { $_->{value} } grep { $_->{key} eq 'style_code' } @{ $_->{metafields} }) }++ for @{ $state->{products} };
is(join(',', grep { $_ ne '' && $cids{$_} > 1 } sort keys %cids), '', 'no style twice in Shopify');

# stock: CI on_hand (negatives as 0) = Shopify on_hand at every linked level
my %shop_lvl = map { /^(.*)\|(-?\d+)$/ ? ($1 => $2) : () } split /\n/, $E->shop_stock($state);
my %ci_lvl = map { /^(.*)\|(-?\d+)$/ ? ($1 => $2) : () } split /\n/, $E->expected_stock;
# a web order that oversells (Shopify -1, CI -1 sent as 0) must not leave
# Shopify below 0 (order ingestion makes the inventory sync re-read the level)
my @oversold = sort grep { defined $ci_lvl{$_} && $ci_lvl{$_} == 0 && ($shop_lvl{$_} // 0) < 0 } keys %shop_lvl;
my @diff = sort grep { !(defined $ci_lvl{$_} && defined $shop_lvl{$_} && $ci_lvl{$_} == $shop_lvl{$_}) }
  grep { my $k = $_; !grep { $_ eq $k } @oversold } keys %{ { %ci_lvl, %shop_lvl } };
is(join(', ', map { "$_ CI " . ($ci_lvl{$_} // '-') . ' Shopify ' . ($shop_lvl{$_} // '-') } @diff), '',
	'stock: Shopify on_hand equals CI at every linked level (' . scalar(keys %ci_lvl) . ' levels)');
is(join(', ', map { "$_ Shopify $shop_lvl{$_}" } @oversold), '', 'no oversold level left below 0 in Shopify');

my @shop_fx = map { my $o = $_; map { [ $o->{id}, $_->{id} ] } @{ $o->{fulfillments} } } @{ $st->{orders} };
my %ci_fx = map { split /\|/ } col("SELECT fulfillment_id || '|' || invoice_no FROM kcloud_shopify.order_fulfillment");
my @missing = grep { my ($num) = $_->[1] =~ /(\d+)$/; !$ci_fx{$num} } @shop_fx;
is(scalar(@missing), 0, 'every fulfilment in Shopify (' . scalar(@shop_fx) . ') has its invoice in CI')
  or diag('missing: ' . join(', ', map { $_->[1] } @missing));
is(scalar(keys %ci_fx), scalar(@shop_fx), 'and no invoice for a fulfilment Shopify does not have');
is(sql("SELECT count(*) FROM ci.invoice WHERE source = 'WEB'"), scalar(@shop_fx), 'one web invoice per fulfilment');
is(sql("SELECT count(DISTINCT invoice_no) FROM kcloud_shopify.order_fulfillment"), scalar(@shop_fx), 'no invoice shared');
# each invoice at the branch linked to the location Shopify fulfilled from
# (for an order fulfilled later: the location its fulfilment order was moved to)
my %fx_loc = map { my $o = $_; map { my ($num) = $_->{id} =~ /(\d+)$/; ($num => $_->{locationId}) } @{ $o->{fulfillments} } } @{ $st->{orders} };
my %inv_loc = map { split /\|/ } col("SELECT f.fulfillment_id || '|' || coalesce(ll.location_gid, 'branch ' || coalesce(i.branch_code, '-'))
                                      FROM kcloud_shopify.order_fulfillment f JOIN ci.invoice i USING (invoice_no)
                                      LEFT JOIN kcloud_shopify.location_link ll ON ll.branch_code = i.branch_code");
my @wrong_branch = sort grep { defined $inv_loc{$_} && $inv_loc{$_} ne $fx_loc{$_} } keys %fx_loc;
is(join(', ', map { "fulfilment $_ at $fx_loc{$_}, invoice at $inv_loc{$_}" } @wrong_branch), '',
	'every invoice is at the branch of the location Shopify fulfilled from');

my @shop_rf = map { @{ $_->{refunds} } } @{ $st->{orders} };
my %ci_rf = map { split /\|/ } col("SELECT refund_id || '|' || coalesce(credit_no::text, 'none') FROM kcloud_shopify.order_refund");
my @rmissing = grep { my ($num) = $_->{id} =~ /(\d+)$/; !$ci_rf{$num} } @shop_rf;
is(scalar(@rmissing), 0, 'every refund in Shopify (' . scalar(@shop_rf) . ') was ingested');
is(sql("SELECT count(*) FROM ci.credit_note"), sql("SELECT count(*) FROM kcloud_shopify.order_refund WHERE credit_no IS NOT NULL"),
	'one credit note per ingested refund');
# the test refunds fulfilled (invoiced) units only, returned or not: each is credited
is(sql("SELECT string_agg(refund_id::text, ', ') FROM kcloud_shopify.order_refund WHERE credit_no IS NULL"), '',
	'no refund ingested without its credit note');
is(sql("SELECT count(*) FROM kcloud_shopify.order_refund"), scalar(@shop_rf), 'no refund ingested that Shopify does not have');

my %locnames;
$locnames{ $_->{name} }++ for grep { $_->{isActive} } @{ $st->{locations} };
is(join(',', grep { $locnames{$_} > 1 } sort keys %locnames), '', 'no location twice in Shopify');
my %emails;
$emails{ lc($_->{email} // '') }++ for @{ $st->{customers} };
is(join(',', grep { $_ ne '' && $emails{$_} > 1 } sort keys %emails), '', 'no customer twice in Shopify');

is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failure row')
  or diag(sql("SELECT kind, ci_key, state, error FROM kcloud_shopify.failures"));
is(sql("SELECT count(*) FROM kcloud_shopify.order_exceptions"), '0', 'no order exception')
  or diag(sql("SELECT * FROM kcloud_shopify.order_exceptions"));
my $log = slurp_file($node->logfile);
my @crash = $log =~ /^.*(?:PANIC|was terminated by signal (?!9)).*$/mg;
is(scalar(@crash), 0, 'no crash other than the SIGKILLs') or diag(join("\n", @crash[0 .. ($#crash < 5 ? $#crash : 5)]));
diag(sprintf('080_chaos: stock levels differing: %d (+ %d oversold); Shopify: %d products, %d variants, %d customers, %d locations, %d orders, %d fulfilments, %d refunds',
	scalar(@diff), scalar(@oversold),
	scalar(@{ $st->{products} }), scalar(map { @{ $_->{variants} } } @{ $st->{products} }), scalar(@{ $st->{customers} }),
	scalar(@{ $st->{locations} }), scalar(@{ $st->{orders} }), scalar(@shop_fx), scalar(@shop_rf)));

done_testing();
