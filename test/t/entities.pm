# Helpers of the entity TAP tests (10x): CI's expected Shopify state, read
# with SQL, against the simulator's state (GET /_sim/state), field by field.
package Entities;

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(usleep time);
use JSON::PP;

sub new
{
	my ($class, $node, $sim) = @_;
	return bless { node => $node, sim => $sim }, $class;
}

sub sql { my ($self, $q) = @_; return $self->{node}->safe_psql('postgres', $q); }

# the business date: an SQL date expression, or undef for current_date
sub set_today
{
	my ($self, $expr) = @_;
	if (defined $expr)
	{
		$self->sql("INSERT INTO kcloud_shopify.settings (name, value) VALUES ('today_override', to_char($expr, 'YYYY-MM-DD'))
		            ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value");
	}
	else
	{
		# back to today: queue what changed now rather than at the worker's next check
		$self->sql("DELETE FROM kcloud_shopify.settings WHERE name = 'today_override'");
		$self->sql("SELECT kcloud_shopify.enqueue_due_sales()");
	}
	$self->sql("SELECT kcloud_shopify.wake()");
	return;
}

sub product_of
{
	my ($self, $style) = @_;
	my $gid = $self->sql("SELECT product_gid FROM kcloud_shopify.product_link WHERE style_code = '$style'");
	my ($p) = grep { $_->{id} eq $gid } @{ $self->{sim}->state->{products} };
	return $p // {};
}

# wait (waking the worker now and then: dated sales need a round) for a price
sub poll_price
{
	my ($self, $style, $price, $secs) = @_;
	my $deadline = time + ($secs // 40);
	while (time < $deadline)
	{
		my $p = $self->product_of($style);
		return 1 if grep { $_->{price} eq $price } @{ $p->{variants} // [] };
		$self->sql("SELECT kcloud_shopify.wake()");
		usleep(500_000);
	}
	return 0;
}

sub phone_e164
{
	my ($p) = @_;
	return '' unless defined $p && $p ne '';
	my $plus = $p =~ /^\s*\+/;
	(my $d = $p) =~ s/\D//g;
	return "+$d" if $plus;
	return '+' . substr($d, 2) if $d =~ /^00/;
	return '+64' . substr($d, 1) if $d =~ /^0/;
	return $d;
}

# descriptionHtml from CI's long_description, as docs/entities.md says:
# simple HTML as it is; plain text escaped, blank lines paragraphs, <br>
sub esc { my ($s) = @_; $s =~ s/\\/\\\\/g; $s =~ s/\n/\\n/g; return $s; }

sub html_of
{
	my ($t) = @_;
	return '' if $t eq '';
	return $t if $t =~ m{<(/?)(p|br|b|i|u|em|strong|ul|ol|li|a|span|div|h[1-6]|table|tr|td|th|hr|small|sup|sub|blockquote|img)[ >/]}i;
	$t =~ s/\r//g;
	$t =~ s/&/&amp;/g; $t =~ s/</&lt;/g; $t =~ s/>/&gt;/g; $t =~ s/"/&quot;/g; $t =~ s/'/&#39;/g;
	$t =~ s/\n\n+/<\/p><p>/g;
	$t =~ s/\n/<br>/g;
	return "<p>$t</p>";
}

# products: one line per product, one per variant, by style code
sub expected_products
{
	my ($self) = @_;
	return join("\n", sort map {
		my @f = split /\|/, $_, -1;
		if (@f == 6 && $f[4] =~ /^(ACTIVE|DRAFT)$/) { (my $d = $f[5]) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge; $f[5] = esc(html_of($d)); }
		join('|', @f) } split /\n/, $self->sql(<<'SQL'));
WITH t AS (SELECT kcloud_shopify.today() AS d),
st AS (
  SELECT s.*, b.name AS brand, g.description AS grp
    FROM ci.style s LEFT JOIN ci.brand b USING (brand_code) LEFT JOIN ci.stock_group g USING (stock_group_code)
   WHERE s.internet_active OR EXISTS (SELECT 1 FROM kcloud_shopify.product_link l WHERE l.style_code = s.style_code)),
v AS (
  SELECT k.style_code, k.sku_code, k.colour, k.size, coalesce(k.barcode, '') AS barcode,
         COALESCE(k.retail_price, s.retail_price) AS retail,
         CASE WHEN (s.sale_from IS NULL OR s.sale_from <= t.d) AND (s.sale_to IS NULL OR s.sale_to >= t.d)
              THEN COALESCE(k.sale_price, s.sale_price) END AS sale
    FROM ci.sku k JOIN st s USING (style_code) CROSS JOIN t)
SELECT line FROM (
  SELECT s.style_code || '|' || s.description || '|' || coalesce(s.brand, '') || '|' || coalesce(s.grp, '') || '|' ||
         CASE WHEN s.internet_active THEN 'ACTIVE' ELSE 'DRAFT' END || '|' ||
         replace(replace(coalesce(s.long_description, ''), '\', '\\'), E'\n', '\n') AS line
    FROM st s
  UNION ALL
  SELECT v.style_code || '|' || v.sku_code || '|' || v.colour || '/' || v.size || '|' || v.barcode || '|' ||
         CASE WHEN v.sale < v.retail THEN v.sale ELSE v.retail END || '|' ||
         coalesce(CASE WHEN v.sale < v.retail THEN v.retail END::text, '')
    FROM v) x
 ORDER BY line COLLATE "C";
SQL
}

sub shop_products
{
	my ($self, $state) = @_;
	my %style_of = map { split /\|/ } split /\n/,
	  $self->sql("SELECT product_gid || '|' || style_code FROM kcloud_shopify.product_link");
	my @lines;
	for my $p (@{ $state->{products} })
	{
		my $style = $style_of{ $p->{id} } // next;
		my ($cid) = grep { $_->{namespace} eq 'kcloud' && $_->{key} eq 'style_code' } @{ $p->{metafields} };
		next unless $self->sql("SELECT count(*) FROM ci.style WHERE style_code = '$style'");
		push @lines, join('|', $style, $p->{title}, $p->{vendor} // '', $p->{productType} // '', $p->{status},
			esc($p->{descriptionHtml} // ''));
		for my $v (@{ $p->{variants} })
		{
			my %o = map { $_->{name} => $_->{value} } @{ $v->{selectedOptions} };
			push @lines, join('|', $style, $v->{sku}, "$o{Colour}/$o{Size}", $v->{barcode} // '', $v->{price},
				$v->{compareAtPrice} // '');
		}
	}
	return join("\n", sort @lines);
}

# metafields: the customId, tabs and attributes (namespaces kcloud and kcloud_attr)
sub expected_metafields
{
	my ($self) = @_;
	my $json = JSON::PP->new->canonical;
	return join("\n", sort map {
		my ($s, $k, $v) = split /\|/, $_, 3;
		$v = $json->encode($json->decode($v)) if $k eq 'kcloud.info_tabs';
		"$s|$k|$v" } split /\n/, $self->sql(<<'SQL'));
SELECT line FROM (
  SELECT s.style_code || '|kcloud.style_code|' || s.style_code AS line
    FROM ci.style s WHERE s.internet_active
  UNION ALL
  SELECT t.style_code || '|kcloud.info_tabs|' ||
         (SELECT json_agg(json_build_object('tab_no', tab_no, 'heading', heading, 'body', body) ORDER BY tab_no)::jsonb::text
            FROM ci.style_info_tab x WHERE x.style_code = t.style_code)
    FROM (SELECT DISTINCT style_code FROM ci.style_info_tab) t JOIN ci.style s USING (style_code) WHERE s.internet_active
  UNION ALL
  SELECT a.style_code || '|kcloud_attr.' || trim(both '_' from regexp_replace(lower(a.name), '[^a-z0-9_-]+', '_', 'g')) || '|' || a.value
    FROM ci.style_attribute a JOIN ci.style s USING (style_code) WHERE s.internet_active) x
 ORDER BY line COLLATE "C";
SQL
}

sub shop_metafields
{
	my ($self, $state) = @_;
	my %style_of = map { split /\|/ } split /\n/,
	  $self->sql("SELECT l.product_gid || '|' || l.style_code FROM kcloud_shopify.product_link l JOIN ci.style s USING (style_code) WHERE s.internet_active");
	my @lines;
	my $json = JSON::PP->new->canonical;
	for my $p (@{ $state->{products} })
	{
		my $style = $style_of{ $p->{id} } // next;
		for my $m (@{ $p->{metafields} })
		{
			# ours only: other namespaces are the merchant's (103_merchant_metafields.pl)
			next unless $m->{namespace} eq 'kcloud' || $m->{namespace} eq 'kcloud_attr';
			my $v = $m->{value};
			$v = $json->encode($json->decode($v)) if $m->{type} eq 'json';
			push @lines, "$style|$m->{namespace}.$m->{key}|$v";
		}
	}
	return join("\n", sort @lines);
}

# stock: Shopify on_hand per (SKU, web-stock branch) = CI stock, negatives as 0
sub expected_stock
{
	my ($self) = @_;
	return join("\n", sort split /\n/, $self->sql(<<'SQL'));
SELECT vl.sku_code || '|' || b.branch_code || '|' || GREATEST(coalesce(st.on_hand, 0), 0)
  FROM kcloud_shopify.variant_link vl
  JOIN ci.sku k ON k.sku_code = vl.sku_code
  JOIN ci.style s ON s.style_code = k.style_code AND s.internet_active
  CROSS JOIN ci.branch b
  JOIN kcloud_shopify.location_link ll ON ll.branch_code = b.branch_code AND ll.active
  LEFT JOIN ci.stock st ON st.sku_code = vl.sku_code AND st.branch_code = b.branch_code
 WHERE b.active AND b.web_stock
 ORDER BY 1;
SQL
}

sub shop_stock
{
	my ($self, $state) = @_;
	my @links = map { [ split /\|/ ] } split /\n/, $self->sql(<<'SQL');
SELECT vl.sku_code || '|' || b.branch_code || '|' || vl.inventory_item_gid || '|' || ll.location_gid
  FROM kcloud_shopify.variant_link vl
  JOIN ci.sku k ON k.sku_code = vl.sku_code
  JOIN ci.style s ON s.style_code = k.style_code AND s.internet_active
  CROSS JOIN ci.branch b
  JOIN kcloud_shopify.location_link ll ON ll.branch_code = b.branch_code AND ll.active
 WHERE b.active AND b.web_stock
SQL
	my %lvl = map { ("$_->{inventoryItemId}|$_->{locationId}" => $_->{on_hand}) } @{ $state->{inventoryLevels} };
	return join("\n", sort map { "$_->[0]|$_->[1]|" . ($lvl{"$_->[2]|$_->[3]"} // 0) } @links);
}

sub expected_customers
{
	my ($self) = @_;
	my @rows = map { [ split /\|/, $_, -1 ] } split /\n/, $self->sql(<<'SQL');
SELECT customer_code || '|' || lower(coalesce(btrim(email), '')) || '|' || coalesce(phone, '') || '|' ||
       coalesce(first_name, '') || '|' || coalesce(last_name, '') || '|' ||
       CASE WHEN address1 IS NOT NULL OR city IS NOT NULL OR postcode IS NOT NULL
            THEN concat_ws(',', coalesce(address1, ''), coalesce(address2, ''), coalesce(city, ''), coalesce(postcode, ''), coalesce(country_code, ''))
            ELSE '' END
  FROM ci.customer WHERE coalesce(btrim(email), '') <> '' OR coalesce(btrim(phone), '') <> ''
SQL
	return join("\n", sort map { join('|', $_->[0], $_->[1], phone_e164($_->[2]), $_->[3], $_->[4], $_->[5], $_->[0]) } @rows);
}

sub shop_customers
{
	my ($self, $state) = @_;
	my %code_of = map { split /\|/ } split /\n/,
	  $self->sql("SELECT customer_gid || '|' || customer_code FROM kcloud_shopify.customer_link");
	my @lines;
	for my $c (@{ $state->{customers} })
	{
		my $code = $code_of{ $c->{id} } // next;
		my ($mf) = grep { $_->{namespace} eq 'kcloud' && $_->{key} eq 'customer_code' } @{ $c->{metafields} };
		my $addr = join(';', map { join(',', map { $_ // '' } @$_{qw(address1 address2 city zip countryCode)}) }
			@{ $c->{addresses} // [] });
		push @lines, join('|', $code, lc($c->{email} // ''), $c->{phone} // '', $c->{firstName} // '',
			$c->{lastName} // '', $addr, $mf ? $mf->{value} : '');
	}
	return join("\n", sort @lines);
}

sub check_all
{
	my ($self, $when) = @_;
	my $state = $self->{sim}->state;
	is($self->shop_products($state), $self->expected_products, "$when: products and variants equal CI");
	is($self->shop_metafields($state), $self->expected_metafields, "$when: metafields equal CI");
	is($self->shop_stock($state), $self->expected_stock, "$when: stock on hand equals CI");
	is($self->shop_customers($state), $self->expected_customers, "$when: customers equal CI");
	my %skus;
	$skus{ $_->{sku} }++ for map { @{ $_->{variants} } } @{ $state->{products} };
	is(join(',', grep { $skus{$_} > 1 } sort keys %skus), '', "$when: no SKU twice in Shopify");
	my %cids;
	$cids{ join('|', map { $_->{value} } grep { $_->{key} eq 'style_code' } @{ $_->{metafields} }) }++ for @{ $state->{products} };
	is(join(',', grep { $_ ne '' && $cids{$_} > 1 } sort keys %cids), '', "$when: no style twice in Shopify");
	return;
}

1;
