# SQL-level fuzz of kcloud_shopify.ingest_order() and ingest_refund():
# mutated real-shaped payloads (test/fixtures/orders/*.json) with types
# swapped, fields dropped, huge and odd numbers, deep nesting, enormous
# strings, quotes, backslashes, SQL fragments, invalid UTF-8 and bad JSON
# escapes.  Every call must either
#   - fail cleanly: a SQLSTATE that is not an internal error (XX...), the
#     server still up, and nothing written (CI and the order tables exactly
#     as before), or
#   - succeed with consistent books: every invoice's total = the sum of its
#     line totals = what was paid; every credit note's total = the sum of its
#     lines; one invoice per fulfilment; stock moved by exactly the units
#     invoiced and restocked.
# Seeded by KCS_SEED (printed); bounded by KCS_FUZZ_SECONDS (default 60).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use KcsTest;

my $seed = $ENV{KCS_SEED} // int(rand(1_000_000));
my $budget = $ENV{KCS_FUZZ_SECONDS} // 60;
srand($seed);
diag("060_ingest_fuzz: KCS_SEED=$seed, ${budget}s");

my $SRC = $KcsTest::SRC;
my $node = KcsTest::new_node('ingest_fuzz',
	conf => "kcloud_shopify.idle_interval = '10min'\nlog_min_messages = warning\n");
KcsTest::setup_db($node);

# the data the order fixtures refer to (as in test/fixtures/orders/setup.sql)
my $setup = slurp_file("$SRC/test/fixtures/orders/setup.sql");
my ($inserts) = $setup =~ /(INSERT INTO ci\.branch.*?)\n-- fixtures/s
  or die "cannot find the INSERTs in setup.sql";
$node->safe_psql('postgres', $inserts);

# what the checks look at
$node->safe_psql('postgres', <<'SQL');
CREATE SCHEMA fuzz;
CREATE FUNCTION fuzz.snapshot() RETURNS text LANGUAGE sql AS $$
SELECT concat_ws(' ',
  'inv=' || (SELECT count(*) FROM ci.invoice),
  'lines=' || (SELECT count(*) FROM ci.invoice_line),
  'pay=' || (SELECT count(*) FROM ci.invoice_payment),
  'cn=' || (SELECT count(*) FROM ci.credit_note),
  'cnl=' || (SELECT count(*) FROM ci.credit_note_line),
  'cust=' || (SELECT count(*) FROM ci.customer),
  'custsum=' || (SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY customer_code), '')) FROM ci.customer c),
  'stock=' || (SELECT count(*) || '/' || coalesce(sum(on_hand), 0) FROM ci.stock),
  'stocksum=' || (SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY sku_code, branch_code), '')) FROM ci.stock s),
  'olink=' || (SELECT count(*) FROM kcloud_shopify.order_link),
  'ofx=' || (SELECT count(*) FROM kcloud_shopify.order_fulfillment),
  'oref=' || (SELECT count(*) FROM kcloud_shopify.order_refund),
  'oexc=' || (SELECT count(*) FROM kcloud_shopify.order_exception),
  'queue=' || (SELECT count(*) FROM kcloud_shopify.queue))
$$;
-- books that do not add up (empty = consistent)
CREATE FUNCTION fuzz.inconsistencies(initial_stock bigint) RETURNS text LANGUAGE sql AS $$
SELECT string_agg(p, '; ') FROM (
  SELECT 'invoice ' || i.invoice_no || ' total ' || i.total || ' <> lines ' || coalesce(sum(l.line_total), 0) AS p
    FROM ci.invoice i LEFT JOIN ci.invoice_line l USING (invoice_no)
   GROUP BY i.invoice_no HAVING i.total IS DISTINCT FROM coalesce(sum(l.line_total), 0)
  UNION ALL
  SELECT 'invoice ' || i.invoice_no || ' discount/tax ' || i.discount_total || '/' || i.tax_total
         || ' <> lines ' || sum(l.discount) || '/' || sum(l.tax)
    FROM ci.invoice i JOIN ci.invoice_line l USING (invoice_no)
   GROUP BY i.invoice_no HAVING i.discount_total <> sum(l.discount) OR i.tax_total <> sum(l.tax)
  UNION ALL
  SELECT 'invoice ' || i.invoice_no || ' has no lines'
    FROM ci.invoice i WHERE NOT EXISTS (SELECT 1 FROM ci.invoice_line l WHERE l.invoice_no = i.invoice_no)
  UNION ALL
  SELECT 'invoice ' || i.invoice_no || ' paid ' || i.paid || ' payments ' || coalesce(sum(p.amount), 0) || ' total ' || i.total
    FROM ci.invoice i LEFT JOIN ci.invoice_payment p USING (invoice_no)
   GROUP BY i.invoice_no HAVING i.paid <> i.total OR coalesce(sum(p.amount), 0) <> i.total
  UNION ALL
  SELECT 'invoice line ' || l.invoice_no || '/' || l.line_no || ' qty ' || l.qty
    FROM ci.invoice_line l WHERE l.qty <= 0
  UNION ALL
  SELECT 'credit note ' || c.credit_no || ' total ' || c.total || ' <> lines ' || coalesce(sum(l.line_total), 0)
    FROM ci.credit_note c LEFT JOIN ci.credit_note_line l USING (credit_no)
   GROUP BY c.credit_no HAVING c.total <> coalesce(sum(l.line_total), 0) OR c.tax_total <> coalesce(sum(l.tax), 0)
  UNION ALL
  SELECT 'fulfilments ' || (SELECT count(*) FROM kcloud_shopify.order_fulfillment)
         || ' <> web invoices ' || (SELECT count(*) FROM ci.invoice WHERE source = 'WEB')
   WHERE (SELECT count(*) FROM kcloud_shopify.order_fulfillment)
         <> (SELECT count(*) FROM ci.invoice WHERE source = 'WEB')
  UNION ALL
  SELECT 'refunds with a credit note ' || (SELECT count(*) FROM kcloud_shopify.order_refund WHERE credit_no IS NOT NULL)
         || ' <> credit notes ' || (SELECT count(*) FROM ci.credit_note)
   WHERE (SELECT count(*) FROM kcloud_shopify.order_refund WHERE credit_no IS NOT NULL)
         <> (SELECT count(*) FROM ci.credit_note)
  UNION ALL
  SELECT 'stock ' || s || ' <> initial ' || initial_stock || ' - invoiced ' || inv || ' + restocked ' || rst
    FROM (SELECT (SELECT coalesce(sum(on_hand), 0) FROM ci.stock) AS s,
                 (SELECT coalesce(sum(qty), 0) FROM ci.invoice_line WHERE sku_code IS NOT NULL) AS inv,
                 (SELECT coalesce(sum(qty), 0) FROM ci.credit_note_line WHERE restock) AS rst) x
   WHERE s <> initial_stock - inv + rst) q
$$;
SQL
my $initial_stock = $node->safe_psql('postgres', 'SELECT sum(on_hand) FROM ci.stock');

# One call, as a webhook's transaction would make it (a subtransaction here,
# so that many calls share one session): OK + the books' inconsistencies, or
# ERR + SQLSTATE (+ WROTE when the failed call left anything behind).
# how: 'json' = payload is JSON text; 'hex' = payload is the hex of bytes
# that convert_from() must accept as UTF-8 first.
$node->safe_psql('postgres', <<SQL);
CREATE FUNCTION fuzz.try(kind text, payload text, how text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    before text := fuzz.snapshot();
    after text;
    st text;
    msg text;
    j jsonb;
BEGIN
    BEGIN
        IF how = 'hex' THEN
            j := convert_from(decode(payload, 'hex'), 'UTF8')::jsonb;
        ELSE
            j := payload::jsonb;
        END IF;
        IF kind = 'refund' THEN
            PERFORM kcloud_shopify.ingest_refund(j);
        ELSE
            PERFORM kcloud_shopify.ingest_order(j);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        after := fuzz.snapshot();
        RETURN 'ERR ' || st || CASE WHEN after <> before
                                    THEN ' WROTE before ' || before || ' after ' || after ELSE '' END
               || ' ' || left(msg, 300);
    END;
    RETURN 'OK ' || coalesce(fuzz.inconsistencies($initial_stock), '');
END
\$\$;
SQL

# --- the fixtures -----------------------------------------------------------
my %fx;
for my $f (glob("$SRC/test/fixtures/orders/*.json"))
{
	(my $n = $f) =~ s{.*/(.*)\.json$}{$1};
	$fx{$n} = KcsTest::json_decode(slurp_file($f));
}
my @orders = grep { !/^refund_/ } sort keys %fx;
my @refunds = grep { /^refund_/ } sort keys %fx;

# the good orders first, so that refunds have something to refer to
for my $n (qw(guest new_customer existing_email discounts two_locations_first two_locations unicode nosku_giftcard many_lines))
{
	next unless $fx{$n};
	my ($rc, $out, $err) = $node->psql('postgres',
		'SELECT kcloud_shopify.ingest_order(' . quote_json($fx{$n}) . '::jsonb)');
	diag("base order $n: $err") if $rc;
}
is($node->safe_psql('postgres', "SELECT coalesce(fuzz.inconsistencies($initial_stock), '')"), '',
	'the books add up after the fixture orders');

# --- mutations --------------------------------------------------------------

my @nasty_strings = (
	q{O'Brien}, q{Robert'); DROP TABLE ci.invoice; --}, q{"; DELETE FROM ci.stock; --},
	q{\\}, q{\\\\'\\"}, q{%s%n%x%d}, q{$fz$}, q{$$}, q{E'\\x00'}, q{' OR '1'='1},
	q{<script>alert(1)</script>}, q{Ōtautahi ☃ 𝄞 مرحبا}, "tab\tnew\nline\r", q{NULL}, q{null},
	q{}, q{ }, q{TEE-RED-M}, q{TEE-RED-M' OR sku_code LIKE '%}, q{B1}, q{-1}, q{1e400},
	q{2026-02-30T25:61:61Z}, q{infinity}, q{NaN}, q{gid://shopify/Order/1001},
	"\x{202e}reversed", "\x{feff}bom", "a" x 300, "\x{1F600}" x 50,
);
my @nasty_numbers = (
	0, -1, 1, 2, -2147483649, 2147483647, 2147483648, 9223372036854775807,
	'RAW:9223372036854775808', 'RAW:-9223372036854775809', 'RAW:1e400', 'RAW:-1e400',
	'RAW:1e-400', 'RAW:123456789012345678901234567890.5', 0.005, 1.005, -0.01, 1e15, 0.1,
	'RAW:1E2', 'RAW:-0', 3.14159,
);

sub quote_json
{
	my ($v) = @_;
	my $s = ref($v) ? KcsTest::json_encode($v) : $v;
	# raw number tokens that Perl cannot hold
	$s =~ s/"RAW:([^"]*)"/$1/g;
	my $tag = 'fz';
	$tag .= 'x' while index($s, "\$$tag\$") >= 0;
	return "\$$tag\$$s\$$tag\$";
}

sub rand_elem { return $_[ int(rand(@_)) ]; }

sub random_scalar
{
	my $r = rand();
	return rand_elem(@nasty_strings) if $r < 0.35;
	return rand_elem(@nasty_numbers) if $r < 0.65;
	return undef if $r < 0.72;
	return JSON::PP::true() if $r < 0.76;
	return JSON::PP::false() if $r < 0.80;
	return {} if $r < 0.85;
	return [] if $r < 0.90;
	return 'X' x (100_000 + int(rand(900_000))) if $r < 0.95;
	return "RAW:" . ('[' x 5000) . (']' x 5000);
}

# every (container, key) of a structure
sub slots
{
	my ($v, $out) = @_;
	if (ref $v eq 'HASH')
	{
		for my $k (sort keys %$v) { push @$out, [ $v, $k ]; slots($v->{$k}, $out); }
	}
	elsif (ref $v eq 'ARRAY')
	{
		for my $i (0 .. $#$v) { push @$out, [ $v, $i ]; slots($v->[$i], $out); }
	}
	return $out;
}

sub deep_copy { return KcsTest::json_decode(KcsTest::json_encode($_[0])); }

my $fresh = 100_000;

# new ids for an order (so it is ingested again, not found), keeping its line references
sub renumber_order
{
	my ($o) = @_;
	my $base = ($fresh += 1000);
	$o->{id} = $base if ref $o eq 'HASH' && defined $o->{id} && !ref $o->{id};
	$o->{name} = "#F$base" if ref $o eq 'HASH' && rand() < 0.9;
	for my $f (ref $o eq 'HASH' && ref $o->{fulfillments} eq 'ARRAY' ? @{ $o->{fulfillments} } : ())
	{
		$f->{id} = ++$base if ref $f eq 'HASH';
	}
	# a customer CI has not seen yet (so matching and creating customers is fuzzed too)
	if (ref $o eq 'HASH' && ref $o->{customer} eq 'HASH' && rand() < 0.5)
	{
		$o->{customer}{id} = $base + 500;
		$o->{customer}{email} = $o->{email} = "fz$base\@example.com";
	}
	return;
}

sub mutate
{
	my ($v) = @_;
	my $slots = slots($v, []);
	return $v unless @$slots;
	my $n = 1 + int(rand(4));
	for (1 .. $n)
	{
		my ($c, $k) = @{ rand_elem(@$slots) };
		my $r = rand();
		if (ref $c eq 'HASH' && $r < 0.25)
		{
			delete $c->{$k};
		}
		elsif ($r < 0.75)
		{
			my $x = random_scalar();
			if (ref $c eq 'HASH') { $c->{$k} = $x; } else { $c->[$k] = $x; }
		}
		elsif ($r < 0.85 && ref $c eq 'ARRAY')
		{
			push @$c, deep_copy($c->[$k]) for 1 .. (1 + int(rand(3)));    # duplicates
		}
		elsif ($r < 0.92)
		{
			my $x = ref $c eq 'HASH' ? $c->{$k} : $c->[$k];
			my $w = rand() < 0.5 ? [$x] : { value => $x };                   # wrap
			if (ref $c eq 'HASH') { $c->{$k} = $w; } else { $c->[$k] = $w; }
		}
		else
		{
			my $x = ref $c eq 'HASH' ? $c->{$k} : $c->[$k];
			my $s = defined $x && !ref $x ? "$x" : 'x';                     # number <-> string
			if (ref $c eq 'HASH') { $c->{$k} = $s; } else { $c->[$k] = $s; }
		}
		$slots = slots($v, []);
		last unless @$slots;
	}
	return $v;
}

# --- the loop -----------------------------------------------------------------

my %tally = (calls => 0, ok => 0, clean_error => 0, bad => 0, sessions => 0);
my %states;
my @problems;
my $deadline = time + $budget;
my $BATCH = 20;

# one payload: (kind, name, payload text, how)
sub make_call
{
	my $refund = rand() < 0.3;
	my $name = $refund ? rand_elem(@refunds) : rand_elem(@orders);
	my $p = deep_copy($fx{$name});
	if ($refund) { $p->{id} = ++$fresh if rand() < 0.8; }
	else { renumber_order($p) if rand() < 0.8; }
	my $how = rand();
	my ($text, $mode) = (undef, 'json');
	if ($how < 0.85)
	{
		$text = KcsTest::json_encode(mutate($p));
		$text =~ s/"RAW:([^"]*)"/$1/g;    # number tokens Perl cannot hold
	}
	elsif ($how < 0.90)
	{
		# invalid UTF-8 inside a string value, through bytea
		my $hex = unpack('H*', KcsTest::json_encode($p));
		my $bad = rand_elem('ff', 'c328', 'e282', 'eda080', 'f4908080', 'c0af', '00', 'fe');
		my $pos = index($hex, unpack('H*', '"name":"'));
		$pos = $pos < 0 ? 2 : $pos + 16;
		substr($hex, $pos, 0) = $bad;
		($text, $mode) = ($hex, 'hex');
	}
	elsif ($how < 0.95)
	{
		# JSON escapes jsonb must refuse or keep literally
		$text = KcsTest::json_encode($p);
		my $esc = rand_elem('\\u0000', '\\ud800', '\\udc00x', '\\u12', '\\x41', '\\\\u0000',
			'\\"; DROP TABLE x; --');
		$text =~ s/"name":"/"name":"$esc/;
	}
	else
	{
		# not JSON at all, or not an object
		$text = rand_elem('', '{', 'null', '[]', '"order"', '123', '{"id":}', '{"id": 1e999}',
			'{"id": 1, "id": 2}', '{"id": 1, "name": "x", "line_items": [], "fulfillments": []}');
	}
	return ($refund ? 'refund' : 'order', $name, $text, $mode);
}

BATCH: while (time < $deadline)
{
	my @calls = map { [ make_call() ] } 1 .. $BATCH;
	my $sql = join('', map {
		my ($kind, $name, $text, $mode) = @{ $calls[$_] };
		"SELECT '$_:' || fuzz.try('$kind', " . quote_json($text) . ", '$mode');\n"
	} 0 .. $#calls);
	my ($rc, $out, $err) = $node->psql('postgres', $sql, on_error_stop => 0);
	$tally{sessions}++;
	my %res = map { /^(\d+):(.*)$/s ? ($1 => $2) : () } split /\n(?=\d+:)/, $out;
	for my $i (0 .. $#calls)
	{
		my ($kind, $name, $text) = @{ $calls[$i] };
		my $desc = "ingest_$kind($name mutated, " . length($text) . " bytes)";
		$tally{calls}++;
		my $r = $res{$i};
		if (!defined $r)
		{
			push @problems, "$desc: no result (the server went away?): " . substr($err, 0, 500)
			  . "\n  payload: " . substr($text, 0, 2000);
			$tally{bad}++;
			last BATCH;
		}
		if ($r =~ /^OK (.*)/s)
		{
			$tally{ok}++;
			next if $1 eq '';
			push @problems, "$desc succeeded with inconsistent books: $1\n  payload: " . substr($text, 0, 3000);
			$tally{bad}++;
			last BATCH;
		}
		my ($state, $rest) = $r =~ /^ERR (\S+)(.*)/s;
		$states{$state}++;
		if ($state =~ /^XX/ || $state =~ /^58/)
		{
			push @problems, "$desc: internal error $state:$rest\n  payload: " . substr($text, 0, 3000);
			$tally{bad}++;
		}
		elsif ($rest =~ /^ WROTE/)
		{
			push @problems, "$desc: failed ($state) but wrote something:$rest";
			$tally{bad}++;
		}
		else
		{
			$tally{clean_error}++;
		}
	}
	if ($err =~ /server closed the connection|terminated abnormally|connection to server .* failed/)
	{
		push @problems, "the server went away: $err";
		$tally{bad}++;
		last;
	}
}

# a failed call at the top level leaves nothing either (no subtransaction)
for my $name (qw(guest discounts))
{
	my $p = deep_copy($fx{$name});
	renumber_order($p);
	$p->{line_items}[0]{sku} = 'NO-SUCH-SKU';
	my $before = $node->safe_psql('postgres', 'SELECT fuzz.snapshot()');
	my ($rc, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT kcloud_shopify.ingest_order(" . quote_json($p) . '::jsonb)');
	like($err, qr/ERROR:\s+P0002:.*NO-SUCH-SKU/, "top-level call with an unknown SKU fails ($name)");
	is($node->safe_psql('postgres', 'SELECT fuzz.snapshot()'), $before, "... and writes nothing ($name)");
}

my $st = join(', ', map { "$_ x$states{$_}" } sort { $states{$b} <=> $states{$a} } keys %states);
diag("060_ingest_fuzz: $tally{calls} calls in $tally{sessions} sessions: $tally{ok} succeeded, $tally{clean_error} clean errors, $tally{bad} bad; SQLSTATEs: $st");
diag("books: " . $node->safe_psql('postgres', 'SELECT fuzz.snapshot()'));
ok($tally{calls} >= 50, "enough calls ($tally{calls})");
ok($tally{ok} > 0, 'some mutated payloads were ingested');
is(scalar(@problems), 0, 'every call either failed cleanly without writing or left consistent books')
  or diag(join("\n", @problems[ 0 .. ($#problems < 4 ? $#problems : 4) ]));
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');
is($node->safe_psql('postgres', "SELECT coalesce(fuzz.inconsistencies($initial_stock), '')"), '',
	'the books add up at the end');
my $log = slurp_file($node->logfile);
my @crash = $log =~ /(server process .* was terminated by signal \d+|PANIC:.*)/g;
is(scalar(@crash), 0, 'no backend crashed') or diag(join("\n", @crash));

done_testing();
