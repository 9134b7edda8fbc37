# The webhook path end to end: the simulator delivers orders/fulfilled and
# refunds/create, signed with the app's client secret, to a receiver in
# front of the database, which hands the raw body and headers to
# kcloud_shopify.receive_webhook().  Good signatures ingest; a redelivery is
# dropped; a bad or missing signature, or a body altered in transit, is
# refused and writes nothing.  (The poller is paused, so the webhooks alone
# bring the orders in.)
use strict;
use warnings;
use utf8;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use Encode;
use IPC::Run;
use MIME::Base64;
use KcsTest;

my $SRC = $ENV{KCS_SRC} // '.';
my $sim = KcsTest::Sim->start();
my $node = KcsTest::new_node('webhook', conf => "kcloud_shopify.idle_interval = '500ms'\n");
KcsTest::setup_db($node);
KcsTest::wait_for_worker($node);

sub sql { return Encode::decode('UTF-8', $node->safe_psql('postgres', $_[0])); }

sub shop
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'node', "$SRC/test/orders/shop.js", $sim->url, @args ], '>', \$out, '2>', \$err)
	  or die "shop.js @args: $err";
	return KcsTest::json_decode($out);
}

# the receiver: one JSON line per delivery, body base64 (byte for byte)
my $file = PostgreSQL::Test::Utils::tempdir() . '/deliveries.jsonl';
my ($rin, $rout, $rerr) = ('', '', '');
my $rh = IPC::Run::start([ 'node', "$SRC/test/orders/receiver.js", $file ], '<', \$rin, '>', \$rout, '2>', \$rerr);
my $deadline = time + 20;
while ($rout !~ m{listening on (http://\S+)} && time < $deadline) { $rh->pump_nb; usleep(50_000); }
$rout =~ m{listening on (http://\S+)} or die "receiver did not start: $rerr";
my $hook = $1;

sub deliveries
{
	return () unless -e $file;
	return map { KcsTest::json_decode($_) } grep { /\S/ } split /\n/, PostgreSQL::Test::Utils::slurp_file($file);
}

sub wait_delivery
{
	my ($topic, $n) = @_;
	my $deadline = time + 30;
	while (time < $deadline)
	{
		my @d = grep { $_->{headers}{'x-shopify-topic'} eq $topic } deliveries();
		return $d[ $n - 1 ] if @d >= $n;
		usleep(100_000);
	}
	die "no delivery $n of $topic";
}

# receive_webhook() as the receiver calls it; returns [ok, result or error]
sub receive
{
	my ($d, %tamper) = @_;
	my %h = %{ $d->{headers} };
	$h{$_} = $tamper{headers}{$_} for keys %{ $tamper{headers} // {} };
	delete $h{$_} for @{ $tamper{drop} // [] };
	my $hj = KcsTest::json_encode(\%h);
	$hj =~ s/'/''/g;
	my $b64 = $tamper{body_b64} // $d->{body_b64};
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT kcloud_shopify.receive_webhook('$h{'x-shopify-topic'}', '$hj'::jsonb,
		        convert_from(decode('$b64', 'base64'), 'UTF8'))");
	return $ret == 0 ? [ 1, KcsTest::json_decode($out) ] : [ 0, $err ];
}

# --- shop and CI as in 050, the webhook target signed with the client secret ---
my $setup = shop('setup');
my $loc1 = $setup->{locations}{'Shop location'};
my $loc2 = $setup->{locations}{'Lambton Quay'};
sql(q{
INSERT INTO ci.branch (branch_code, name) VALUES ('QS', 'Shop location'), ('LQ', 'Lambton Quay');
INSERT INTO ci.style (style_code, description, retail_price) VALUES ('TEE', 'Tee', 39.90), ('JEANS', 'Jeans', 99.00);
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES
    ('TEE-RED-M', 'TEE', 'Red', 'M'), ('TEE-RED-L', 'TEE', 'Red', 'L'), ('JEANS-32', 'JEANS', 'Indigo', '32');
INSERT INTO ci.stock (sku_code, branch_code, on_hand) VALUES ('TEE-RED-M', 'QS', 20), ('TEE-RED-M', 'LQ', 20);
});
sql("SELECT kcloud_shopify.link_location('QS', '$loc1')");
sql("SELECT kcloud_shopify.link_location('LQ', '$loc2')");
like(KcsTest::connect_sim($node, $sim, client_credentials => 1), qr/^connected/, 'connected with client credentials');
ok(KcsTest::wait_for_kind($node, 'location', 30), 'locations in line');
sql("SELECT kcloud_shopify.pause('webhook test: no polling')");
$sim->post('/_sim/webhooks', { url => $hook, secret => 'test-client-secret', topics => [ 'orders/fulfilled', 'refunds/create' ] });

# --- a good delivery ---
my $o1 = shop('order', KcsTest::json_encode({ lines => [ { sku => 'TEE-RED-M', qty => 2 } ], location => $loc2,
	customer => { email => 'hēmi@example.com', firstName => 'Hēmi', lastName => 'Walker' }, shipping => '8.00', gst => 0.15 }));
my $d1 = wait_delivery('orders/fulfilled', 1);
my $r = receive($d1);
ok($r->[0], 'a correctly signed orders/fulfilled is accepted') or diag($r->[1]);
is($r->[1]{result}{created}, 1, 'and makes one invoice');
is(sql("SELECT branch_code || ' ' || total || ' ' || customer_code FROM ci.invoice WHERE reference = '$o1->{name}'"),
	"LQ $o1->{total} " . sql("SELECT customer_code FROM ci.customer WHERE email = 'hēmi\@example.com'"),
	'at the shipping branch, for the order total, for the new customer');
is(sql("SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'LQ'"), '18', 'stock taken off');

# --- a redelivery (same X-Shopify-Webhook-Id) ---
$r = receive($d1);
ok($r->[0] && $r->[1]{duplicate}, 'the same delivery again is recognised as a duplicate');
is(sql("SELECT count(*) FROM ci.invoice"), '1', 'no second invoice');
is(sql("SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'LQ'"), '18', 'stock unchanged');
# a second delivery of the same event (another webhook id) is idempotent too
$r = receive($d1, headers => { 'x-shopify-webhook-id' => 'another-delivery' });
ok($r->[0] && !$r->[1]{duplicate} && $r->[1]{result}{created} == 0, 'a new delivery of an ingested order creates nothing');

# --- bad signatures: refused, nothing written ---
my $o2 = shop('order', KcsTest::json_encode({ lines => [ { sku => 'TEE-RED-M', qty => 1 } ], location => $loc1 }));
my $d2 = wait_delivery('orders/fulfilled', 2);
my $before = sql("SELECT (SELECT count(*) FROM ci.invoice) || '/' || (SELECT count(*) FROM kcloud_shopify.webhook_delivery)");
$r = receive($d2, headers => { 'x-shopify-hmac-sha256' => encode_base64('x' x 32, '') });
ok(!$r->[0] && $r->[1] =~ /X-Shopify-Hmac-Sha256 does not match/, 'a wrong signature is refused') or diag($r->[1]);
$r = receive($d2, drop => [ 'x-shopify-hmac-sha256' ]);
ok(!$r->[0] && $r->[1] =~ /header is missing/, 'a missing signature is refused');
my $body = decode_base64($d2->{body_b64});
$body =~ s/"quantity":1/"quantity":5/;
$r = receive($d2, body_b64 => encode_base64($body, ''));
ok(!$r->[0] && $r->[1] =~ /does not match/, 'a body altered after signing is refused');
is(sql("SELECT (SELECT count(*) FROM ci.invoice) || '/' || (SELECT count(*) FROM kcloud_shopify.webhook_delivery)"), $before,
	'nothing written by the refused deliveries');
$r = receive($d2);
ok($r->[0] && $r->[1]{result}{created} == 1, 'the genuine delivery still goes through');

# a delivery signed with another secret
$sim->post('/_sim/webhooks', { url => $hook, secret => 'not-our-secret', topics => [ 'orders/fulfilled' ] });
shop('order', KcsTest::json_encode({ lines => [ { sku => 'TEE-RED-M', qty => 1 } ], location => $loc1 }));
$r = receive(wait_delivery('orders/fulfilled', 3));
ok(!$r->[0] && $r->[1] =~ /does not match/, 'a delivery signed with another secret is refused');
$sim->post('/_sim/webhooks', { url => $hook, secret => 'test-client-secret', topics => [ 'orders/fulfilled', 'refunds/create' ] });

# --- refunds/create ---
shop('refund', KcsTest::json_encode({ order => $o1->{id},
	lines => [ { lineItem => $o1->{lineItems}{'TEE-RED-M'}, qty => 1, restock => 'RETURN', location => $loc2 } ], amount => '39.90' }));
$r = receive(wait_delivery('refunds/create', 1));
ok($r->[0] && $r->[1]{result}{created}, 'refunds/create makes a credit note') or diag($r->[1]);
is(sql("SELECT c.total || ' ' || i.reference FROM ci.credit_note c JOIN ci.invoice i USING (invoice_no)"), "39.90 $o1->{name}",
	'for the money refunded, linked to the order\'s invoice');
is(sql("SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'LQ'"), '19', 'the returned unit is back on hand');
$r = receive(wait_delivery('refunds/create', 1));
ok($r->[0] && $r->[1]{duplicate}, 'its redelivery is dropped');
is(sql("SELECT count(*) FROM ci.credit_note"), '1', 'one credit note');

$rh->signal('TERM');
eval { $rh->finish; };
done_testing();
