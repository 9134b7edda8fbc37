# Helpers of the reconcile TAP tests (110, 111): the same drift made directly
# in the simulator after a first sync of the small data set; the rows query.
package Drift;

use strict;
use warnings;

# a price, a title, a SKU, on_hand, a deleted variant, a deleted product, a
# customer field, a deleted customer, a deactivated location.  Returns the
# links it used: { loc => {branch => gid}, prod => {style => gid}, c1004 => gid }
sub make
{
	my ($node, $sim) = @_;
	my $sql = sub { return $node->safe_psql('postgres', $_[0]); };
	my %loc = map { split /\|/ } split /\n/, $sql->("SELECT branch_code || '|' || location_gid FROM kcloud_shopify.location_link");
	my %prod = map { split /\|/ } split /\n/, $sql->("SELECT style_code || '|' || product_gid FROM kcloud_shopify.product_link");
	my $c1004 = $sql->("SELECT customer_gid FROM kcloud_shopify.customer_link WHERE customer_code = 'C1004'");

	$sim->tamper(op => 'setVariantPrice', sku => 'TEE-ORG-WHT-M', price => '1.00');
	$sim->tamper(op => 'setProductField', id => $prod{'TEE-ORG'}, field => 'title', value => 'Tampered tee');
	$sim->tamper(op => 'setVariantSku', sku => 'TEE-ORG-WHT-L', newSku => 'ROGUE-1');
	$sim->tamper(op => 'setOnHand', sku => 'TEE-ORG-WHT-S', locationId => $loc{AKL}, quantity => 99);
	$sim->tamper(op => 'deleteVariant', sku => 'MER-CREW-CHR-L');
	$sim->tamper(op => 'deleteProduct', id => $prod{'PUF-JKT'});
	$sim->tamper(op => 'setCustomerField', email => 'aroha.ngata@example.co.nz', field => 'firstName', value => 'Tampered');
	$sim->tamper(op => 'deleteCustomer', id => $c1004);
	$sim->tamper(op => 'deactivateLocation', id => $loc{CHC});
	return { loc => \%loc, prod => \%prod, c1004 => $c1004 };
}

# the query of reconcile(kind, repair)'s rows without the GIDs, sorted:
# kind|ci_key|drift|field|ci|shopify
sub rows_sql
{
	my ($kind, $repair) = @_;
	$repair = $repair ? 'true' : 'false';
	return <<"SQL";
SELECT line FROM (
  SELECT concat_ws('|', kind, ci_key::text, drift, coalesce(field, ''), coalesce(ci_value, ''),
                   coalesce(shopify_value, '')) AS line
    FROM kcloud_shopify.reconcile('$kind', $repair)) r
 ORDER BY line COLLATE "C";
SQL
}

1;
