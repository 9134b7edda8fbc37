# Security: secrets stay with the owner; nothing of the extension is usable by
# PUBLIC; webhooks need a valid signature and are not replayed; only https
# (or http to loopback); redirects are never followed; an endless or huge
# reply cannot exhaust the worker; hostile strings in payloads are stored
# literally.
use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_base64);
use Encode qw(encode_utf8 decode_utf8);
use utf8;
use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use KcsTest;

my $SRC = $KcsTest::SRC;
my $CLIENT_SECRET = 'test-client-secret';    # what the simulator accepts
my $WEBHOOK_SECRET = 'whsec_9d2b7e41c0ffee_secret';

my $sim = KcsTest::Sim->start();
# the server log at its default levels (new_node raises log_min_messages to info)
# (PostgreSQL::Test::Cluster logs every statement: back to the defaults)
my $node = KcsTest::new_node('security',
	conf => "log_min_messages = warning\nlog_statement = none\nlog_min_error_statement = error\n");
KcsTest::setup_db($node, data => 'small');
my $wpid = KcsTest::wait_for_worker($node);

# text in (characters), UTF-8 to psql, characters back
sub bytes { return utf8::is_utf8($_[0]) ? encode_utf8($_[0]) : $_[0]; }
sub sql { return decode_utf8($node->safe_psql($_[1] // 'postgres', bytes($_[0]))); }

# run as another role; returns (stdout, stderr)
sub as_role
{
	my ($role, $query, $db) = @_;
	my ($rc, $out, $err) = $node->psql($db // 'postgres', $query,
		extra_params => [ '-U', $role, '-v', 'VERBOSITY=verbose' ], on_error_stop => 0);
	return ($out, $err);
}

# --- a client-credentials connection and a sync with its token -------------
like(KcsTest::connect_sim($node, $sim, client_credentials => 1), qr/^connected to/, 'connected with client credentials');
ok(KcsTest::wait_for_kind($node, 'location', 30), 'the first sync ran with a granted token');
is($sim->counters->{oauthTokensIssued}, 1, 'the simulator issued one token');
my $token = sql("SELECT value FROM kcloud_shopify.settings WHERE name = 'oauth_token'");
ok(length($token) >= 8, 'the granted token is in the settings table');
sql("INSERT INTO kcloud_shopify.settings (name, value) VALUES ('webhook_secret', '$WEBHOOK_SECRET')");
my @secrets = ($CLIENT_SECRET, $token, $WEBHOOK_SECRET);
my $secret_re = join('|', map { quotemeta } @secrets);

# the server log after connect() and a sync: no secret (nothing stripped)
my $log = slurp_file($node->logfile);
unlike($log, qr/$secret_re/, 'the server log at default levels holds no secret after connect() and a sync');

# secrets live in the settings table only
my $elsewhere = sql(<<'SQL');
SELECT string_agg(c.oid::regclass::text, ' ')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'kcloud_shopify' AND c.relkind IN ('r', 'v', 'm', 'p')
   AND c.relname <> 'settings'
SQL
my @other = split ' ', $elsewhere;
my $dump = join("\n", map { sql("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM $_ t") } @other);
$dump .= sql('SELECT * FROM kcloud_shopify.worker_state()');
unlike($dump, qr/$secret_re/, 'no other table or view of the extension (' . scalar(@other) . ') holds a secret');

# --- a role that is not the owner -------------------------------------------
sql("CREATE ROLE intruder LOGIN; GRANT USAGE ON SCHEMA kcloud_shopify TO intruder; GRANT USAGE ON SCHEMA ci TO intruder");
sql("ANALYZE kcloud_shopify.settings");

my ($out, $err) = as_role('intruder', <<'SQL');
CREATE FUNCTION pg_temp.probe_relations() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.oid::regclass::text AS n
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'kcloud_shopify' AND c.relkind IN ('r', 'v', 'm', 'S', 'p', 'f')
              ORDER BY 1 LOOP
        BEGIN
            EXECUTE 'SELECT 1 FROM ' || r.n || ' LIMIT 1';
            RETURN NEXT r.n || ' READABLE';
        EXCEPTION WHEN insufficient_privilege THEN
            RETURN NEXT r.n || ' denied';
        WHEN OTHERS THEN
            RETURN NEXT r.n || ' ' || SQLSTATE;
        END;
    END LOOP;
END $$;
SELECT * FROM pg_temp.probe_relations();
SQL
my @rel = split /\n/, $out;
ok(@rel >= 10, 'the extension has relations to probe (' . scalar(@rel) . ')');
is(join("\n", grep { !/ denied$/ } @rel), '', 'a non-owner is denied every table, view and sequence')
  or diag($err);
ok((grep { /^kcloud_shopify\.settings denied$/ } @rel), 'including the settings table');

# every function: no EXECUTE for PUBLIC (none is documented as public), and a call is refused
# (arguments as sub-selects: a strict function with constant NULLs is folded away unchecked)
my $funcs = sql(<<'SQL');
SELECT p.oid::text || '|' || p.prokind::text || '|' || quote_ident(p.proname) || '|'
       || coalesce((SELECT string_agg('(SELECT NULL::' || format_type(t, NULL) || ')', ', ' ORDER BY o)
                      FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, o)), '') || '|'
       || (SELECT count(*) FROM unnest(p.proargtypes) a(t) JOIN pg_type y ON y.oid = a.t WHERE y.typtype = 'p')
       || '|' || (p.prorettype = 'trigger'::regtype)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'kcloud_shopify'
 ORDER BY p.proname, p.oid
SQL
my @funcs = map { [ split /\|/, $_, -1 ] } split /\n/, $funcs;
ok(@funcs >= 30, 'the extension has functions to probe (' . scalar(@funcs) . ')');
my $executable = sql(<<'SQL');
SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), '')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'kcloud_shopify' AND has_function_privilege('intruder', p.oid, 'EXECUTE')
SQL
is($executable, '', 'the non-owner may execute no function of the extension');
my (@called, @not_denied);
for my $f (@funcs)
{
	my ($oid, $kind, $name, $args, $pseudo, $trigger) = @$f;
	next if $pseudo > 0;    # cannot be called from SQL at all
	my $call = $kind eq 'p' ? "CALL kcloud_shopify.$name($args)" : "SELECT kcloud_shopify.$name($args)";
	push @called, $call;
}
($out, $err) = as_role('intruder', join('', map { "$_;\n" } @called));
my @denied = $err =~ /ERROR:\s+42501: permission denied for (?:function|procedure) (\S+)/g;
my %denied = map { $_ => 1 } @denied;
is(scalar(@denied), scalar(@called), 'every callable function (' . scalar(@called) . ') refused the non-owner with 42501')
  or diag("not refused with 42501: " . join(', ', grep { my ($n) = /kcloud_shopify\.(\w+)\(/; !$denied{$n} } @called)
	  . "\n" . join("\n", grep { /ERROR/ && !/42501/ } split /\n/, $err));
unlike($out . $err, qr/$secret_re/, 'and no refusal showed a secret');

# pg_settings, SHOW ALL, statistics, the worker's activity
($out, $err) = as_role('intruder', "SELECT name || '=' || setting FROM pg_settings; SHOW ALL; "
	  . "SELECT * FROM pg_stats WHERE schemaname = 'kcloud_shopify'; "
	  . "SELECT query FROM pg_stat_activity;");
unlike($out, qr/$secret_re/, 'pg_settings, SHOW ALL, pg_stats and pg_stat_activity show the non-owner no secret');
like($out, qr/kcloud_shopify\.request_timeout=/, '(pg_settings was read)');
($out, $err) = as_role('intruder', "SELECT * FROM kcloud_shopify.settings");
like($err, qr/permission denied for table settings/, 'the settings table: permission denied');
unlike($err, qr/$secret_re/, 'with no secret in the message');

# a support role with SELECT on every view sees no secret either
sql("CREATE ROLE support LOGIN; GRANT USAGE ON SCHEMA kcloud_shopify TO support");
my $views = sql("SELECT string_agg(c.oid::regclass::text, ' ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'kcloud_shopify' AND c.relkind IN ('v', 'm')");
my @views = split ' ', $views;
sql("GRANT SELECT ON $_ TO support") for @views;
# as docs/operations.md says: SELECT plus EXECUTE on the functions the views call
my $vfuncs = sql(<<'SQL');
SELECT coalesce(string_agg(DISTINCT d.refobjid::regprocedure::text, ', '), '')
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
  JOIN pg_proc p ON p.oid = d.refobjid JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_proc'::regclass
   AND n.nspname = 'kcloud_shopify'
SQL
sql("GRANT EXECUTE ON FUNCTION $vfuncs TO support") if $vfuncs ne '';
note("the views call: $vfuncs");
($out, $err) = as_role('support', join('', map { "SELECT t::text FROM $_ t;\n" } @views));
is($err =~ /ERROR/ ? $err : '', '', 'a support role granted every view (' . scalar(@views) . ') can read them');
unlike($out, qr/$secret_re/, 'and sees no secret in any');

# --- connect(): bad input is refused without echoing a secret -----------------
my @bad = (
	[ "'shop.myshopify.com', access_token => 'shpat_LEAK1 x'",                     'white space in a token' ],
	[ "'shop.myshopify.com', access_token => E'shpat_LEAK2\\n'",                   'a line break in a token' ],
	[ "'shop.myshopify.com', access_token => 'shpat_LEAK3', client_id => 'c', client_secret => 'LEAK4'", 'token and client credentials' ],
	[ "'shop.myshopify.com', client_id => 'c', client_secret => E'LEAK5\\t'",     'a tab in a client secret' ],
	[ "'shop.myshopify.com', client_secret => 'LEAK6'",                            'a secret without a client id' ],
	[ "'https://shop.myshopify.com/', access_token => 'shpat_LEAK7'",              'a URL as shop domain' ],
	[ "'shop.myshopify.com', access_token => 'shpat_LEAK8', endpoint => 'http://example.com/'", 'plain http' ],
	[ "'shop.myshopify.com', access_token => 'shpat_LEAK9', endpoint => 'https://u:LEAK10\@shop.myshopify.com/'", 'user information in the endpoint' ],
);
for my $b (@bad)
{
	($out, $err) = as_role($node->safe_psql('postgres', 'SELECT current_user'), "SELECT kcloud_shopify.connect($b->[0])");
	like($err, qr/ERROR:\s+22023:/, "connect() refuses $b->[1]");
	unlike($err =~ s/^(?:LINE|STATEMENT|QUERY).*$//mgr, qr/LEAK/, "... without echoing the secret");
}
is(sql("SELECT value FROM kcloud_shopify.settings WHERE name = 'client_secret'"), $CLIENT_SECRET,
	'the refused calls left the connection alone');

# --- https only, except to loopback ---------------------------------------------
my %endpoints = (
	'http://example.com'                 => 0, 'http://example.com/'               => 0,
	'HTTP://EXAMPLE.COM/'                => 0, 'http://127.0.0.1.example.com/'     => 0,
	'http://localhost.example.com/'      => 0, 'http://localhost@example.com/'     => 0,
	'http://example.com#@127.0.0.1/'     => 0, 'http://2130706433/'                => 0,
	'http://[::ffff:10.0.0.1]/'          => 0, 'ftp://127.0.0.1/'                  => 0,
	'file:///etc/passwd'                 => 0, 'gopher://127.0.0.1:70/'            => 0,
	'https://u:p@shop.myshopify.com/'    => 0, 'javascript:alert(1)'               => 0,
	'http://127.0.0.1:1/'                => 1, 'http://localhost:8080/'            => 1,
	'http://[::1]:8080/'                 => 1, 'https://shop.myshopify.com/'       => 1,
);
for my $ep (sort keys %endpoints)
{
	my ($rc, $o, $e) = $node->psql('postgres',
		"BEGIN; SELECT kcloud_shopify.connect('shop.myshopify.com', access_token => 'shpat_x', endpoint => '$ep'); ROLLBACK;");
	if ($endpoints{$ep}) { like($o, qr/connected to/, "connect() accepts endpoint $ep"); }
	else { like($e, qr/ERROR/, "connect() refuses endpoint $ep"); }
}

# the worker's own check (libcurl's parser), for a URL written into settings by hand
sub reset_failures
{
	sql("SELECT kcloud_shopify.discard_failed()");
	sql("DELETE FROM kcloud_shopify.queue WHERE kind = 'location'");
}

sub location_failure
{
	my ($re, $secs) = @_;
	my $deadline = time + ($secs // 30);
	my $e = '';
	while (time < $deadline)
	{
		$e = sql("SELECT coalesce(string_agg(DISTINCT error, ' | '), '') FROM kcloud_shopify.failures WHERE kind = 'location'");
		return $e if $e =~ $re;
		usleep(200_000);
	}
	diag("failures: $e");
	return undef;
}

KcsTest::connect_sim($node, $sim);    # static token from here on
sql("SELECT kcloud_shopify.resync_locations()");
ok(KcsTest::wait_for_kind($node, 'location', 30), 'reconnected with a static token');
sql("UPDATE kcloud_shopify.settings SET value = 'http://example.com/' WHERE name = 'endpoint'");
sql("SELECT kcloud_shopify.resync_locations()");
ok(defined location_failure(qr/refusing URL: plain http is allowed only to a loopback address/),
	'the worker itself refuses plain http to a non-loopback endpoint');
reset_failures();

# --- a tiny HTTP server: redirects, endless and huge replies --------------------
my $dir = tempdir(CLEANUP => 1);
my ($modef, $hitf) = ("$dir/mode", "$dir/hits");
my $server = <<'PERL';
use strict; use warnings; use IO::Socket::INET;
$SIG{PIPE} = 'IGNORE';
my ($modef, $hitf) = @ARGV;
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "listen: $!";
my $port = $s->sockport;
$| = 1; print "port $port\n";
sub note { open my $h, '>>', $hitf or return; print $h "@_\n"; close $h; }
while (my $c = $s->accept)
{
	my $req = '';
	while (defined(my $l = <$c>)) { $req .= $l; last if $l =~ /^\r?\n$/; }
	my ($len) = $req =~ /^Content-Length:\s*(\d+)/mi;
	my $body = ''; read($c, $body, $len) if $len;
	my ($path) = $req =~ /^\S+ (\S+)/;
	$path //= '?';
	open my $mh, '<', $modef; my $mode = <$mh> // 'redirect'; close $mh; chomp $mode;
	my $tok = $req =~ /^X-Shopify-Access-Token:/mi ? 'token' : 'no-token';
	if ($path =~ m{^/hit})
	{
		note("HIT $path $tok");
		print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
	}
	elsif ($mode eq 'redirect')
	{
		note("REQ $path $tok");
		print $c "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:$port/hit$path\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	}
	elsif ($mode eq 'redirect307')
	{
		note("REQ $path $tok");
		print $c "HTTP/1.1 307 Temporary Redirect\r\nLocation: /hit$path\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	}
	elsif ($mode eq 'endless' || $mode eq 'huge')
	{
		my $hdr = $mode eq 'huge' ? "Content-Length: 100000000000\r\n" : '';
		print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${hdr}Connection: close\r\n\r\n{\"data\":{\"s\":\"";
		my $chunk = 'x' x 65536;
		my $sent = 0;
		while (print $c $chunk) { $sent += length $chunk; }
		note("SENT $mode $sent");
	}
	elsif ($mode eq 'drip')
	{
		print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{";
		my $t0 = time;
		while (print $c ' ') { select(undef, undef, undef, 0.2); last if time - $t0 > 60; }
		note("DRIP " . (time - $t0));
	}
	close $c;
}
PERL
open my $mh, '>', $modef or die; print $mh "redirect\n"; close $mh;
my ($sin, $sout, $serr) = ('', '', '');
my $srv = IPC::Run::start([ $^X, '-e', $server, $modef, $hitf ], '<', \$sin, '>', \$sout, '2>', \$serr);
my $t0 = time;
$srv->pump_nb, usleep(50_000) while $sout !~ /port (\d+)/ && time - $t0 < 10;
my ($port) = $sout =~ /port (\d+)/ or die "test server did not start: $serr";
my $base = "http://127.0.0.1:$port/";

sub set_mode { open my $h, '>', $modef or die; print $h "$_[0]\n"; close $h; }
sub hits { return -f $hitf ? slurp_file($hitf) : ''; }

# redirect of a GraphQL request (static token)
set_mode('redirect');
sql("SELECT kcloud_shopify.connect('$KcsTest::SHOP', access_token => 'shpat_redirect_token', endpoint => '$base')");
sql("SELECT kcloud_shopify.resync_locations()");
ok(defined location_failure(qr/HTTP 302: redirect not followed/), 'a 302 reply fails the request: redirect not followed');
like(hits(), qr/^REQ \/admin\/api\/[^ ]+\/graphql\.json token$/m, 'the request reached the server');
unlike(hits(), qr/^HIT/m, 'the redirect target was never contacted');
is(sql("SELECT count(*) FROM kcloud_shopify.failures WHERE kind = 'location' AND state = 'failed'") > 0 ? 1 : 0, 1,
	'the failure is recorded as permanent');
reset_failures();

set_mode('redirect307');
sql("SELECT kcloud_shopify.resync_locations()");
ok(defined location_failure(qr/HTTP 307: redirect not followed/), 'a 307 (method-preserving) redirect is not followed either');
unlike(hits(), qr/^HIT/m, 'the redirect target was never contacted');
reset_failures();

# redirect of the token request (client credentials)
set_mode('redirect');
unlink $hitf;
sql("SELECT kcloud_shopify.connect('$KcsTest::SHOP', client_id => 'cid', client_secret => 'redirect-secret', endpoint => '$base')");
sql("SELECT kcloud_shopify.resync_locations()");
ok(defined location_failure(qr/access token request failed: HTTP 302/), 'a redirected token request fails');
like(hits(), qr/^REQ \/admin\/oauth\/access_token/m, 'the token request reached the server');
unlike(hits(), qr/^HIT/m, 'the client secret was not sent on to the redirect target');
reset_failures();

# endless and huge replies: the worker gives up at max_response_size, its memory stays bounded
sub vmrss_kb
{
	my ($pid) = @_;
	open my $h, '<', "/proc/$pid/status" or return 0;
	while (<$h>) { return $1 if /^VmRSS:\s+(\d+)/; }
	return 0;
}
my $cap_kb = sql("SELECT setting FROM pg_settings WHERE name = 'kcloud_shopify.max_response_size'");
sql("SELECT kcloud_shopify.connect('$KcsTest::SHOP', access_token => 'shpat_stream_token', endpoint => '$base')");
for my $mode (qw(endless huge))
{
	set_mode($mode);
	unlink $hitf;
	$wpid = KcsTest::worker_pid($node);
	my $base_rss = vmrss_kb($wpid);
	my $peak = $base_rss;
	sql("SELECT kcloud_shopify.resync_locations()");
	my $deadline = time + 40;
	my $e = '';
	while (time < $deadline)
	{
		my $r = vmrss_kb($wpid);
		$peak = $r if $r > $peak;
		$e = sql("SELECT coalesce(string_agg(DISTINCT error, ' | '), '') FROM kcloud_shopify.failures WHERE kind = 'location'");
		last if $e ne '';
		usleep(20_000);
	}
	like($e, qr/larger than kcloud_shopify\.max_response_size|timed out|Timeout/i, "$mode reply: the request fails ($e)");
	my ($sent) = hits() =~ /SENT $mode (\d+)/;
	ok(defined $sent && $sent >= $cap_kb * 1024, "$mode reply: the server sent " . int(($sent // 0) / 1048576) . ' MB before the worker hung up');
	ok($peak - $base_rss < 2 * $cap_kb + 32 * 1024,
		"$mode reply: the worker's memory stayed bounded (VmRSS $base_rss kB -> peak $peak kB, cap $cap_kb kB)");
	is(KcsTest::worker_pid($node), $wpid, "$mode reply: the worker survived");
	reset_failures();
}

# a reply that drips forever: request_timeout ends it
set_mode('drip');
sql("SELECT kcloud_shopify.resync_locations()");
ok(defined location_failure(qr/timed out|Timeout/i, 40), 'a reply that never ends is cut off by request_timeout');
reset_failures();
set_mode('redirect');
$srv->kill_kill;

# --- hostile strings in a payload are stored literally ---------------------------
sql("CREATE DATABASE lit");
sql(slurp_file("$SRC/test/ci_schema.sql"), 'lit');
sql("CREATE EXTENSION kcloud_shopify", 'lit');
my $setup = slurp_file("$SRC/test/fixtures/orders/setup.sql");
my ($inserts) = $setup =~ /(INSERT INTO ci\.branch.*?)\n-- fixtures/s or die 'no INSERTs in setup.sql';
sql($inserts, 'lit');
sql("INSERT INTO kcloud_shopify.settings (name, value) VALUES ('webhook_secret', '$WEBHOOK_SECRET')", 'lit');

my %nasty = (
	first_name => q{Robert'); DROP TABLE ci.invoice; --},
	last_name  => q{O'Brien "the \\ backslash" $$ $x$ %s %n},
	address1   => q{1 Quote's Rd'; DELETE FROM ci.stock WHERE '1'='1},
	address2   => qq{\\x00 \\\\ E'\\n' ; SELECT pg_sleep(10); --},
	city       => q{Ōtautahi "Christchurch" \\N NULL},
	zip        => q{'||(SELECT current_user)||'},
);
my $o = KcsTest::json_decode(decode_utf8(slurp_file("$SRC/test/fixtures/orders/new_customer.json")));
$o->{customer}{first_name} = $nasty{first_name};
$o->{customer}{last_name} = $nasty{last_name};
$o->{customer}{email} = q{o'brien+test@example.com};
$o->{customer}{default_address}{$_} = $nasty{$_} for qw(first_name last_name address1 address2 city zip);
$o->{billing_address}{$_} = $nasty{$_} for qw(first_name last_name address1 address2 city zip);
if (ref $o->{shipping_address})
{
	$o->{shipping_address}{$_} = $nasty{$_} for qw(first_name last_name address1 address2 city zip);
}
$o->{name} = q{#1002'; DROP TABLE x; --};
$o->{line_items}[0]{name} = q{Tee "Deluxe" \\ 'n' $$ ); --};
# the raw body as it comes off the wire: UTF-8 bytes
# the raw body as it comes off the wire: UTF-8 bytes, signed as such
my $body = encode_utf8(KcsTest::json_encode($o));

sub sign { my $s = hmac_sha256_base64($_[0], $_[1] // $WEBHOOK_SECRET); $s .= '=' while length($s) % 4; return $s; }
sub pq { my $t = 'b'; $t .= 'x' while index($_[0], "\$$t\$") >= 0; return "\$$t\$$_[0]\$$t\$"; }
sub webhook
{
	my ($headers, $b) = @_;
	# bytes in, bytes to psql (client_encoding UTF8)
	my ($rc, $o2, $e2) = $node->psql('lit', "\\set VERBOSITY verbose\nSELECT kcloud_shopify.receive_webhook('orders/fulfilled', "
		  . pq(encode_utf8(KcsTest::json_encode($headers))) . ', ' . pq($b) . ')', on_error_stop => 0);
	return ($rc, $o2, $e2);
}
sub books { return sql("SELECT (SELECT count(*) FROM ci.invoice) || '/' || (SELECT count(*) FROM ci.customer) || '/' || (SELECT sum(on_hand) FROM ci.stock) || '/' || (SELECT count(*) FROM kcloud_shopify.webhook_delivery)", 'lit'); }

# --- webhooks: wrong, missing, replayed signatures --------------------------------
my $before = books();
my %h = ('X-Shopify-Topic' => 'orders/fulfilled', 'X-Shopify-Webhook-Id' => 'wh-1', 'X-Shopify-Shop-Domain' => $KcsTest::SHOP);
my @cases = (
	[ 'no signature header',            {%h} ],
	[ 'an empty signature',             { %h, 'X-Shopify-Hmac-Sha256' => '' } ],
	[ 'a signature made with another secret', { %h, 'X-Shopify-Hmac-Sha256' => sign($body, 'not-the-secret') } ],
	[ 'a signature of a different body', { %h, 'X-Shopify-Hmac-Sha256' => sign($body . ' ') } ],
	[ 'a truncated signature',          { %h, 'X-Shopify-Hmac-Sha256' => substr(sign($body), 0, 20) } ],
	[ 'a hex signature',                { %h, 'X-Shopify-Hmac-Sha256' => unpack('H*', Digest::SHA::hmac_sha256($body, $WEBHOOK_SECRET)) } ],
	[ 'garbage',                        { %h, 'X-Shopify-Hmac-Sha256' => q{' OR '1'='1} } ],
);
for my $c (@cases)
{
	my ($rc, $o2, $e2) = webhook($c->[1], $body);
	like($e2, qr/ERROR:\s+28000: webhook rejected/, "webhook with $c->[0] is rejected (28000)");
}
is(books(), $before, 'the rejected webhooks wrote nothing');
my ($rc, $o2, $e2) = webhook({ %h, 'X-Shopify-Hmac-Sha256' => sign($body) }, $body . "\n");
like($e2, qr/28000/, 'a body changed after signing (one trailing newline) is rejected');
is(books(), $before, 'still nothing written');

($rc, $o2, $e2) = webhook({ %h, 'x-shopify-hmac-sha256' => sign($body) }, $body);
like($o2, qr/"duplicate": false/, 'the correctly signed webhook is ingested') or diag($e2);
my $after1 = books();
isnt($after1, $before, 'it wrote the invoice');
($rc, $o2, $e2) = webhook({ %h, 'X-Shopify-Hmac-Sha256' => sign($body) }, $body);
like($o2, qr/"duplicate": true/, 'replaying the same delivery is recognised as a duplicate');
($rc, $o2, $e2) = webhook({ %h, 'X-Shopify-Webhook-Id' => 'wh-replay-2', 'X-Shopify-Hmac-Sha256' => sign($body) }, $body);
like($o2, qr/"created": 0/, 'replaying the signed body under a new delivery id creates nothing');
is(sql("SELECT count(*) FROM ci.invoice WHERE reference = " . pq($o->{name}), 'lit'), '1',
	'the replays added no invoice');

# the stored strings are exactly what the payload said
my $cust = KcsTest::json_decode(sql(q{SELECT row_to_json(c) FROM ci.customer c WHERE email = 'o''brien+test@example.com'}, 'lit'));
is($cust->{first_name}, $nasty{first_name}, 'first name stored literally');
is($cust->{last_name}, $nasty{last_name}, 'last name stored literally');
is($cust->{$_ eq 'zip' ? 'postcode' : $_}, $nasty{$_}, "$_ stored literally") for qw(address1 address2 city zip);
is(sql("SELECT reference FROM ci.invoice WHERE reference = " . pq($o->{name}), 'lit'), $o->{name}, 'the order name stored literally');
is(sql("SELECT description FROM ci.invoice_line WHERE description = " . pq($o->{line_items}[0]{name}), 'lit'),
	$o->{line_items}[0]{name}, 'the line description stored literally');
is(sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'ci' AND tablename IN ('invoice', 'stock')", 'lit'), '2',
	'no SQL fragment ran');

# the non-owner cannot deliver webhooks either
sql("CREATE ROLE hooker LOGIN", 'lit');
($out, $err) = as_role('hooker', "SELECT kcloud_shopify.receive_webhook('orders/fulfilled', '{}', '{}')", 'lit');
like($err, qr/permission denied for (function receive_webhook|schema kcloud_shopify)/, 'a non-owner cannot call receive_webhook()');

# the server log at the end: still no secret outside the clients' own failed statements
$log = slurp_file($node->logfile);
$log =~ s/^.*STATEMENT:.*$//mg;
unlike($log, qr/$secret_re|redirect-secret|shpat_redirect_token|shpat_stream_token/, 'the server log holds no secret');

done_testing();
