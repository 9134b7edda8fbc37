# Tokens and secrets: client-credentials grant, renewal before expiry and on
# 401; a static token; secrets are not visible to a non-owner role, in
# pg_settings, in errors, in the worker's status or in the server log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KcsTest;

# tokens live 6 s: renewed 0.6 s before expiry
my $sim = KcsTest::Sim->start(args => [ '--token-ttl', '6' ]);
my $node = KcsTest::new_node('auth');
KcsTest::setup_db($node, data => 'small');
KcsTest::wait_for_worker($node);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub ci_names { return sql("SELECT string_agg(name, ',' ORDER BY name) FROM ci.branch WHERE active"); }
sub shop_names
{
	return join(',', sort map { $_->{name} } grep { $_->{isActive} && $_->{name} ne 'Shop location' }
		  @{ $sim->state->{locations} });
}

KcsTest::connect_sim($node, $sim, client_credentials => 1);
ok(KcsTest::wait_for_kind($node, 'location', 30), 'client credentials: the locations were sent');
is(shop_names(), ci_names(), 'Shopify equals CI');
my $c = $sim->counters;
is($c->{oauthTokensIssued}, 1, 'one token was requested');
is($c->{unauthorized}, 0, 'no request was refused');
is(sql("SELECT token_expires_at > now() AND token_expires_at < now() + interval '10 s' FROM kcloud_shopify.status"),
	't', 'status shows the token expiry');
is(sql("SELECT count(*) FROM kcloud_shopify.settings WHERE name = 'oauth_token'"), '1',
	'the token is cached in the settings table');

# --- expiry: the token is renewed before it runs out ---
sleep 7;
sql("UPDATE ci.branch SET phone = '09 111 1111' WHERE branch_code = 'AKL'");
ok(KcsTest::wait_for_kind($node, 'location', 30), 'a change after the token expired was sent');
$c = $sim->counters;
is($c->{oauthTokensIssued}, 2, 'a new token was requested');
is($c->{unauthorized}, 0, 'before Shopify refused the old one');
my ($akl) = grep { $_->{name} eq 'Auckland Queen Street' } @{ $sim->state->{locations} };
is($akl->{address}{phone}, '09 111 1111', 'the change reached Shopify');

# --- a token Shopify no longer accepts: one 401, renewed, resent ---
sql("UPDATE kcloud_shopify.settings SET value = 'shpat_revoked' WHERE name = 'oauth_token';
     UPDATE kcloud_shopify.settings SET value = (now() + interval '1 hour')::text WHERE name IN ('token_renew_at', 'token_expires_at')");
sql("UPDATE ci.branch SET phone = '09 222 2222' WHERE branch_code = 'AKL'");
ok(KcsTest::wait_for_kind($node, 'location', 30), 'sent after a 401');
$c = $sim->counters;
is($c->{unauthorized}, 1, 'Shopify refused the revoked token once');
is($c->{oauthTokensIssued}, 3, 'and the worker obtained a new one');
($akl) = grep { $_->{name} eq 'Auckland Queen Street' } @{ $sim->state->{locations} };
is($akl->{address}{phone}, '09 222 2222', 'the change reached Shopify');
is(sql("SELECT count(*) FROM kcloud_shopify.failures"), '0', 'no failure recorded');

# --- wrong client secret: transient, visible, no secret in the error ---
sql("SELECT kcloud_shopify.connect('$KcsTest::SHOP', client_id => 'test-client-id', client_secret => 'wrong-secret-XYZ', endpoint => '" . $sim->url . "')");
sql("UPDATE ci.branch SET phone = '09 333 3333' WHERE branch_code = 'AKL'");
ok(KcsTest::poll_until($node, "SELECT count(*) > 0 FROM kcloud_shopify.failures WHERE kind = 'location'", 't', 30),
	'a bad client secret shows as a failure');
my $err = sql("SELECT error FROM kcloud_shopify.failures WHERE kind = 'location'");
like($err, qr/access token request failed: HTTP 400 invalid_client/, "the error says why ($err)");
unlike($err . sql("SELECT last_error FROM kcloud_shopify.status"), qr/wrong-secret|XYZ/, 'no secret in the error');
is(sql("SELECT state FROM kcloud_shopify.failures WHERE kind = 'location'"), 'retrying', 'it is retried, not failed for good');

# --- a static token; then the secrets are nowhere a non-owner can see ---
KcsTest::connect_sim($node, $sim);
ok(KcsTest::wait_for_kind($node, 'location', 30), 'static token: sent');
($akl) = grep { $_->{name} eq 'Auckland Queen Street' } @{ $sim->state->{locations} };
is($akl->{address}{phone}, '09 333 3333', 'the change reached Shopify');
is(sql("SELECT count(*) FROM kcloud_shopify.settings WHERE name IN ('client_secret', 'oauth_token')"), '0',
	'connect() replaced the client credentials and their token');

sql("CREATE ROLE support LOGIN; GRANT USAGE ON SCHEMA kcloud_shopify TO support");
my ($ret, $out, $stderr) = $node->psql('postgres', 'SELECT * FROM kcloud_shopify.settings', extra_params => [ '-U', 'support' ]);
like($stderr, qr/permission denied for table settings/, 'a non-owner cannot read the settings table');
unlike(sql('SELECT * FROM kcloud_shopify.status') . sql('SELECT * FROM kcloud_shopify.worker_state()'),
	qr/shpat_test_token|test-client-secret/, 'status and worker_state show no secret');
($ret, $out, $stderr) = $node->psql('postgres', "SELECT name, setting FROM pg_settings WHERE name LIKE 'kcloud_shopify.%'",
	extra_params => [ '-U', 'support' ]);
unlike($out, qr/shpat|secret/, 'pg_settings holds no secret');
($ret, $out, $stderr) = $node->psql('postgres', "SELECT kcloud_shopify.connect('x', access_token => 'shpat_LEAK')");
unlike($stderr, qr/LEAK/, 'a connect() error does not echo the token');

my $log = slurp_file($node->logfile);
$log =~ s/^.*(STATEMENT|statement):.*$//mg;      # the client's own statements
unlike($log, qr/shpat_test_token|test-client-secret|wrong-secret|shpat_revoked/, 'the server log holds no secret');

done_testing();
