# Helpers for the kcloud_shopify TAP tests (test/t/*.pl).
#
#   my $sim  = KcsTest::Sim->start(args => ['--token-ttl', 30]);
#   my $node = KcsTest::new_node('name', conf => "kcloud_shopify.idle_interval = '10min'\n");
#   KcsTest::setup_db($node, data => 'small');   # CI schema (+ test/gen/small.sql), extension
#   KcsTest::wait_for_worker($node);
#   KcsTest::connect_sim($node, $sim);            # static token; client_credentials => 1 for the grant
#   ok(KcsTest::wait_for_sync($node, 30));
#   my $state = $sim->state;                      # GET /_sim/state, decoded
#
# The simulator runs from test/shopify-sim (./setup must have run; test/run-all does).
package KcsTest;

use strict;
use warnings;

use Carp;
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep time);

our $SRC = $ENV{KCS_SRC} // $ENV{TESTDIR} // dirname(__FILE__) . '/../..';
our $SHOP = 'test-shop.myshopify.com';
my $json = JSON::PP->new->canonical->allow_nonref;

sub json_encode { return $json->encode($_[0]); }
sub json_decode { return $json->decode($_[0]); }

# A node with the extension preloaded; the worker runs in database postgres.
sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = 'kcloud_shopify'
kcloud_shopify.database = 'postgres'
kcloud_shopify.request_timeout = '3s'
kcloud_shopify.connect_timeout = '2s'
kcloud_shopify.max_backoff = '2s'
max_worker_processes = 16
log_min_messages = info
restart_after_crash = on
CONF
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start unless $opts{no_start};
	return $node;
}

# CI schema, optionally a data set (small = test/gen/small.sql), the extension.
sub setup_db
{
	my ($node, %opts) = @_;
	my $db = $opts{db} // 'postgres';
	$node->safe_psql($db, slurp_file("$SRC/test/ci_schema.sql"));
	$node->safe_psql($db, slurp_file("$SRC/test/gen/small.sql"))
	  if ($opts{data} // '') eq 'small';
	$node->safe_psql($db, 'CREATE EXTENSION kcloud_shopify');
	return;
}

# Is the real entity code linked (not the weak placeholders of sync_stub.c)?
sub has_entity_code
{
	my $lib = `pg_config --pkglibdir`;
	chomp $lib;
	my $so = "$lib/kcloud_shopify.so";
	# in the staged install, the library sits under tmp_install
	for my $cand (glob("$SRC/../tmp_install$lib/kcloud_shopify.so"), $so)
	{
		next unless -f $cand;
		my $syms = `nm -D --defined-only '$cand' 2>/dev/null`;
		return ($syms =~ /^\S+ T kcs_sync_products$/m) ? 1 : 0;
	}
	return 0;
}

sub worker_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'kcloud_shopify sync worker'");
}

sub wait_for_worker
{
	my ($node, $old_pid) = @_;
	my $cond = "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kcloud_shopify sync worker'";
	$cond .= " AND pid <> $old_pid" if $old_pid;
	$node->poll_query_until('postgres', $cond) or croak 'the sync worker did not start';
	return worker_pid($node);
}

# connect() to the simulator: a static token, or client credentials
sub connect_sim
{
	my ($node, $sim, %opts) = @_;
	my $url = $sim->url;
	my $auth = $opts{client_credentials}
	  ? "client_id => 'test-client-id', client_secret => 'test-client-secret'"
	  : "access_token => 'shpat_test_token'";
	return $node->safe_psql('postgres',
		"SELECT kcloud_shopify.connect('$SHOP', $auth, endpoint => '$url')");
}

sub wait_for_sync
{
	my ($node, $secs) = @_;
	$secs //= 60;
	return $node->safe_psql('postgres', "SELECT kcloud_shopify.wait_for_sync('$secs s')") eq 't';
}

# wait until no row of one kind is pending or in flight
sub wait_for_kind
{
	my ($node, $kind, $secs) = @_;
	my $deadline = time + ($secs // 60);
	while (time < $deadline)
	{
		return 1 if $node->safe_psql('postgres',
			"SELECT count(*) FROM kcloud_shopify.queue WHERE kind = '$kind' AND state IN ('pending', 'in_flight')") eq '0';
		usleep(100_000);
	}
	return 0;
}

# poll a query until it returns the expected value
sub poll_until
{
	my ($node, $sql, $expected, $secs) = @_;
	my $deadline = time + ($secs // 60);
	my $got;
	while (time < $deadline)
	{
		$got = $node->safe_psql('postgres', $sql);
		return 1 if $got eq $expected;
		usleep(100_000);
	}
	diag("poll_until: got '$got', expected '$expected' for: $sql");
	return 0;
}

sub diag { Test::More::diag(@_); }

package KcsTest::Sim;

use strict;
use warnings;

use Carp;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep time);

my @running;

sub start
{
	my ($class, %opts) = @_;
	my $run = "$KcsTest::SRC/test/shopify-sim/run";
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start([ 'node', "$KcsTest::SRC/test/shopify-sim/cli.js", '--port', '0', @{ $opts{args} // [] } ],
		'<', \$in, '>', \$out, '2>', \$err);
	my $deadline = time + 30;
	while ($out !~ m{listening on (http://\S+)} && time < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	$out =~ m{listening on (http://\S+)} or croak "simulator did not start: $out $err";
	my $self = bless { h => $h, url => $1, out => \$out, err => \$err,
		http => HTTP::Tiny->new(timeout => 30) }, $class;
	push @running, $self;
	return $self;
}

sub url { return $_[0]{url}; }

# the node process (for CPU figures in bench/)
sub pid { return $_[0]{h}{KIDS}[0]{PID}; }

sub get
{
	my ($self, $path) = @_;
	my $r = $self->{http}->get($self->{url} . $path);
	croak "GET $path: $r->{status} $r->{content}" unless $r->{success};
	return KcsTest::json_decode($r->{content});
}

sub post
{
	my ($self, $path, $body) = @_;
	my $r = $self->{http}->post($self->{url} . $path,
		{ headers => { 'Content-Type' => 'application/json' },
		  content => KcsTest::json_encode($body // {}) });
	croak "POST $path: $r->{status} $r->{content}" unless $r->{success};
	return $r->{content} eq '' ? undef : KcsTest::json_decode($r->{content});
}

sub state    { return $_[0]->get('/_sim/state'); }
sub counters { return $_[0]->get('/_sim/counters'); }
sub config   { my ($self, %c) = @_; return $self->post('/_sim/config', \%c); }
sub reset    { my ($self, %c) = @_; return $self->post('/_sim/reset', \%c); }
sub tamper   { my ($self, %c) = @_; return $self->post('/_sim/tamper', \%c); }

# a GraphQL request with the static token
sub graphql
{
	my ($self, $query, $vars) = @_;
	my $r = $self->{http}->post($self->{url} . '/admin/api/2026-10/graphql.json',
		{ headers => { 'Content-Type' => 'application/json',
			'X-Shopify-Access-Token' => 'shpat_test_token' },
		  content => KcsTest::json_encode({ query => $query, variables => $vars // {} }) });
	return KcsTest::json_decode($r->{content});
}

sub stop
{
	my ($self) = @_;
	return unless $self->{h};
	$self->{h}->signal('TERM');
	eval { $self->{h}->finish; };
	$self->{h} = undef;
	return;
}

END
{
	$_->stop for @running;
}

1;
