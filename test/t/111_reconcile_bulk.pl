# reconcile() over a bulk query: with kcloud_shopify.reconcile_bulk_threshold
# below the number of linked objects, product, inventory and customer state is
# read with bulkOperationRunQuery (the simulator's request counters and the
# activity log show it) and gives exactly the rows the paged reads give for
# the same drift; an unlinked product in the shop is not reported; a bulk
# query that cannot start (five running, its mutation failing), fails, times
# out or is canceled falls back to the paged reads with a NOTICE and the same
# rows; repair through the bulk path fixes it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/t';
use KcsTest;

my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('reconcile_bulk', conf => "kcloud_shopify.idle_interval = '1s'\n");
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);
KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_sync($node, 90), 'first sync drained');

sub sql { return $node->safe_psql('postgres', $_[0]); }
require "$KcsTest::SRC/test/t/drift.pm";

# reconcile(kind, repair) with a bulk threshold (0 = paged): the rows without
# GIDs, sorted; the NOTICEs; how many bulk queries the simulator was asked for
sub reconcile_rows
{
	my ($kind, $threshold, $repair) = @_;
	my $before = $sim->counters->{requests}{bulkOperationRunQuery} // 0;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET kcloud_shopify.reconcile_bulk_threshold = $threshold;\n" . Drift::rows_sql($kind, $repair),
		stdout => \$out, stderr => \$err, on_error_die => 1);
	my $bulk = ($sim->counters->{requests}{bulkOperationRunQuery} // 0) - $before;
	return ($out, $bulk, join("\n", grep { /NOTICE/ } split /\n/, $err));
}

my ($rows, $bulk, $notice);

# --- nothing drifted: the bulk path finds nothing either ---
($rows, $bulk) = reconcile_rows('all', 1);
is($rows, '', 'bulk path after the first sync: no drift');
is($bulk, 3, '... read with three bulk queries (products, inventory, customers)');
ok(sql("SELECT count(*) FROM kcloud_shopify.activity WHERE operation = 'bulkOperationRunQuery'") >= 3,
	'the bulk queries are in the activity log');
($rows, $bulk) = reconcile_rows('all', 0);
is($bulk, 0, 'threshold 0: no bulk query');
($rows, $bulk) = reconcile_rows('product', 1000);
is($bulk, 0, 'fewer linked styles than the threshold: no bulk query');

# an unlinked product of the shop: in the bulk result, not in the rows
my $r = $sim->graphql('mutation { productSet(input: {title: "Not ours", productOptions: [{name: "Size", values: [{name: "S"}]}],'
	  . ' variants: [{optionValues: [{optionName: "Size", name: "S"}], sku: "NOT-OURS-S", price: "5.00"}]}) { userErrors { message } } }');
is_deeply($r->{data}{productSet}{userErrors}, [], 'an unlinked product made in Shopify');

# --- drift made directly in Shopify: both paths, the same rows ---
Drift::make($node, $sim);

my ($paged, $pb) = reconcile_rows('all', 0);
is($pb, 0, 'paged: no bulk query');
like($paged, qr/^product\|\{"style_code": "PUF-JKT"\}\|missing/m, 'paged: the deleted product');
like($paged, qr/^inventory\|.*"TEE-ORG-WHT-S".*\|different\|on_hand\|12\|99$/m, 'paged: the on_hand drift');
like($paged, qr/^customer\|\{"customer_code": "C1001"\}\|different\|firstName\|/m, 'paged: the customer field');
my $n = () = $paged =~ /\n/g;
ok($n >= 15, "paged: every drift (" . ($n + 1) . " rows)");
($rows, $bulk, $notice) = reconcile_rows('all', 1);
is($rows, $paged, 'bulk: exactly the rows of the paged reads');
is($bulk, 3, '... from three bulk queries');
is($notice, '', '... without falling back');
for my $kind (qw(product inventory customer))
{
	($rows, $bulk) = reconcile_rows($kind, 1);
	is($rows, join("\n", grep { /^$kind\|/ } split /\n/, $paged), "bulk: $kind drift alone");
	is($bulk, 1, "... one bulk query");
}
is(sql("SELECT count(*) FROM kcloud_shopify.queue WHERE state = 'pending'"), '0', 'without repair nothing is queued');

# --- a bulk query that fails, times out on Shopify's side or is canceled: paged reads, same rows ---
for my $fault (qw(FAILED TIMEOUT CANCELED))
{
	$sim->config(faults => { bulkQuery => $fault });
	($rows, $bulk, $notice) = reconcile_rows('all', 1);
	is($bulk, 3, "bulk queries $fault: tried");
	like($notice, qr/NOTICE:  reading products page by page: bulk operation gid:\/\/shopify\/BulkOperation\/\d+ ended $fault/,
		'... a NOTICE says so and falls back') if $fault eq 'CANCELED';
	like($notice, qr/NOTICE:  reading products page by page: bulk operation \S+ ended FAILED \Q@{[$fault eq 'TIMEOUT' ? 'TIMEOUT' : 'INTERNAL_SERVER_ERROR']}\E/,
		'... a NOTICE names the error code and falls back') if $fault ne 'CANCELED';
	is($rows, $paged, "... the same rows from the paged reads");
}
$sim->config(faults => {});

# a bulk query Shopify refuses (five already running): paged reads
$sim->config(faults => { bulkQuery => 'STALL' });
for (1 .. 5)
{
	$sim->graphql('mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }") { userErrors { message } } }');
}
$sim->config(faults => {});
($rows, $bulk, $notice) = reconcile_rows('product', 1);
like($notice, qr/reading products page by page: the bulk query could not start: LIMIT_REACHED/,
	'five bulk queries running: the sixth is refused, a NOTICE, paged reads');
is($rows, join("\n", grep { /^product\|/ } split /\n/, $paged), '... the same rows');
for my $op (@{ $sim->state->{bulkOperations} })
{
	next unless $op->{status} eq 'RUNNING';
	$sim->graphql('mutation($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }', { id => $op->{id} });
}

# a bulk query that does not finish: past kcloud_shopify.reconcile_bulk_timeout it is canceled and the
# kind read page by page; a statement_timeout while it runs ends the call (interrupts are served)
$sim->config(faults => { bulkQuery => 'STALL' });
{
	my ($out, $err) = ('', '');
	my $before = $sim->counters->{requests}{bulkOperationCancel} // 0;
	$node->psql('postgres', <<'SQL', stdout => \$out, stderr => \$err);
SET kcloud_shopify.reconcile_bulk_threshold = 1;
SET kcloud_shopify.reconcile_bulk_timeout = '2s';
SELECT count(*) FROM kcloud_shopify.reconcile('customer');
SQL
	like($err, qr/NOTICE:  reading customers page by page: bulk operation \S+ did not finish in time/,
		'a bulk query past its timeout: a NOTICE');
	is($out, scalar(grep { /^customer\|/ } split /\n/, $paged), '... and the rows of the paged reads');
	is(($sim->counters->{requests}{bulkOperationCancel} // 0) - $before, 1, '... after canceling it');
	$node->psql('postgres', <<'SQL', stdout => \$out, stderr => \$err);
SET kcloud_shopify.reconcile_bulk_threshold = 1;
SET statement_timeout = '2s';
SELECT count(*) FROM kcloud_shopify.reconcile('customer');
SQL
	like($err, qr/canceling statement due to statement timeout/,
		'statement_timeout stops a call waiting for its bulk query (else it would wait the 10 minutes)');
}
$sim->config(faults => {});
for my $op (@{ $sim->state->{bulkOperations} })
{
	next unless $op->{status} eq 'RUNNING';
	$sim->graphql('mutation($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }', { id => $op->{id} });
}

# the bulk query's mutation keeps failing (HTTP 500 after every retry): paged reads, not an error
$sim->config(faults => { error500 => 1, operations => ['bulkOperationRunQuery'] });
($rows, $bulk, $notice) = reconcile_rows('customer', 1);
like($notice, qr/reading customers page by page: the bulk query could not start: /,
	'the bulk mutation failing: a NOTICE, paged reads');
is($rows, join("\n", grep { /^customer\|/ } split /\n/, $paged), '... the same rows');
$sim->config(faults => {});

# --- repair through the bulk path ---
sql("SELECT kcloud_shopify.pause('reconcile bulk test')");
($rows, $bulk) = reconcile_rows('all', 1, 1);
is($rows, $paged, 'repair over the bulk path reports the same rows');
is(sql("SELECT string_agg(kind || ' ' || ci_key::text, ', ' ORDER BY kind, ci_key::text) FROM kcloud_shopify.pending"),
	'customer {"customer_code": "C1001"}, customer {"customer_code": "C1004"}, '
	  . 'inventory {"sku_code": "TEE-ORG-WHT-S", "branch_code": "AKL"}, location {"branch_code": "CHC"}, '
	  . 'product {"style_code": "MER-CREW"}, product {"style_code": "PUF-JKT"}, product {"style_code": "TEE-ORG"}',
	'the fixes are queued, one per drifted entity');
sql("SELECT kcloud_shopify.resume()");
ok(KcsTest::wait_for_sync($node, 90), 'the repairs were sent');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failures after repair')
  or diag(sql("SELECT kind, ci_key, error FROM kcloud_shopify.failures"));
($rows, $bulk) = reconcile_rows('all', 1);
is($rows, '', 'after repair: no drift (bulk path)');
is($bulk, 3, '... read in bulk');
is((reconcile_rows('all', 0))[0], '', '... nor by the paged reads');

done_testing();
