# bench/sync/sync.pl: run by bench/sync/run (see there).  Prints figures; the
# drain samples go to bench/sync/runs/last-drain.csv, the summary to
# bench/sync/runs/last.txt.
use strict;
use warnings;
use Getopt::Long;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use POSIX qw(floor);
use KcsTest;

my ($styles, $plan, $changes, $burst, $customers, $quick, $bulk) = (5000, 'plus', 50, 10000, 1000, 0, 0);
GetOptions('styles=i' => \$styles, 'plan=s' => \$plan, 'changes=i' => \$changes,
	'burst=i' => \$burst, 'customers=i' => \$customers, 'quick' => \$quick, 'bulk' => \$bulk)
  or die "bad arguments\n";
($styles, $changes, $burst, $customers) = (300, 20, 2000, 100) if $quick;

my @out;
sub say_ { my $l = join('', @_); print "$l\n"; push @out, $l; }

my $sim = KcsTest::Sim->start(args => ['--plan', $plan]);
my $node = KcsTest::new_node('bench', conf => <<CONF);
kcloud_shopify.request_timeout = '30s'
kcloud_shopify.max_backoff = '30s'
fsync = off
shared_buffers = 256MB
log_min_messages = warning
CONF
# KCS_BENCH_CONF: extra server settings for a profiling run (e.g. auto_explain)
$node->append_conf('postgresql.conf', $ENV{KCS_BENCH_CONF}) if $ENV{KCS_BENCH_CONF};
$node->restart if $ENV{KCS_BENCH_CONF};
KcsTest::setup_db($node);
sub sql { return $node->safe_psql('postgres', $_[0]); }
$node->safe_psql('postgres', slurp_file("$ENV{KCS_SRC}/test/gen/ci_gen.sql"));
my $t = time;
sql("SELECT ci_gen.populate($styles, 4, 5, 3, $customers, 3)");
sql("TRUNCATE kcloud_shopify.queue");    # the generator's own changes: connect() queues the catalogue
sql("ANALYZE");    # a live CI database has statistics; a freshly generated one has none
# --bulk: the first load goes through one bulk mutation (src/bulk.c); else
# ordinary calls only, whatever the catalogue's size
sql("SELECT kcloud_shopify.set_bulk_threshold(" . ($bulk ? 10 : 0) . ")");
my $skus = sql("SELECT count(*) FROM ci.sku k JOIN ci.style s USING (style_code) WHERE s.internet_active");
my $web_styles = sql("SELECT count(*) FROM ci.style WHERE internet_active");
my $levels = sql("SELECT count(*) FROM ci.stock st JOIN ci.sku k USING (sku_code) JOIN ci.style s USING (style_code)
                  JOIN ci.branch b USING (branch_code) WHERE s.internet_active AND b.web_stock AND b.active");
my $ncust = sql("SELECT count(*) FROM ci.customer WHERE email IS NOT NULL OR phone IS NOT NULL");
my $cfg = $sim->get('/_sim/config');
my $rate = $cfg->{plan}{rate} // $cfg->{plan}{restoreRate} // 0;
my $bmax = $cfg->{plan}{max} // $cfg->{plan}{maximumAvailable} // 0;
say_(sprintf("kcloud_shopify sync benchmark, rev %s, %s, %d cores; plan %s (bucket %s, restore %s/s); products %s",
	$ENV{KCS_BENCH_REV} // '?', scalar(gmtime()) . ' UTC', `nproc` + 0, $plan, $bmax, $rate,
	$bulk ? 'by bulk mutation (--bulk)' : 'by ordinary calls'));
say_(sprintf("catalogue: %d internet-active styles, %d SKUs, %d web stock levels, %d customers (generated in %.1f s)",
	$web_styles, $skus, $levels, $ncust, time - $t));

# ---- initial sync -------------------------------------------------------
my $wpid = KcsTest::wait_for_worker($node);
# CPU seconds (user + system) of a process, and of the whole machine, from /proc
sub cpu_s { my ($pid) = @_; open(my $f, '<', "/proc/$pid/stat") or return 0; my @f = split ' ', (split /\) /, <$f>)[1]; return ($f[11] + $f[12]) / 100; }
sub busy_s { open(my $f, '<', '/proc/stat') or return 0; my @f = split ' ', <$f>; return ($f[1] + $f[2] + $f[3] + $f[6] + $f[7]) / 100; }
my ($wcpu0, $scpu0, $busy0) = (cpu_s($wpid), cpu_s($sim->pid), busy_s());
my $c0 = $sim->counters;
my $t0 = time;
KcsTest::connect_sim($node, $sim);
open(my $csv, '>', 'bench/sync/runs/last-drain.csv') or die;
print $csv "t,pending,bucket_available,bucket_max,restore_rate,requests,cost_points,throttled\n";
my $done = 0;
my ($last_req, $last_req_t, $last_cost) = (-1, 0, 0);
while (1)
{
	my $row = sql("SELECT (SELECT count(*) FROM kcloud_shopify.queue WHERE state IN ('pending','in_flight')),
	                      coalesce(bucket_available, 0), coalesce(bucket_max, 0), coalesce(bucket_restore_rate, 0),
	                      coalesce(requests_sent, 0), coalesce(cost_points, 0), coalesce(throttled_replies, 0)
	                 FROM kcloud_shopify.worker_state()");
	my @f = split /\|/, $row;
	printf $csv "%.1f,%s\n", time - $t0, join(',', @f);
	if ($f[4] != $last_req) { ($last_req, $last_req_t, $last_cost) = ($f[4], time - $t0, $f[5]); }
	if ($f[0] == 0) { $done = 1; last; }
	last if time - $t0 > 7200;
	usleep(1_000_000);
}
close $csv;
my $wall = time - $t0;
# the API phase ends with the last sync request; the order poller's polls
# (operation 'orders', every few seconds) go on while stock levels are checked
{
	my ($end, $c) = split /\|/, sql("SELECT EXTRACT(epoch FROM max(at)), sum(cost)
	                                  FROM kcloud_shopify.activity_log WHERE operation <> 'orders'");
	($last_req_t, $last_cost) = ($end - $t0, $c) if $end;
}
my ($wcpu, $scpu, $busy) = (cpu_s($wpid) - $wcpu0, cpu_s($sim->pid) - $scpu0, busy_s() - $busy0);
my $c1 = $sim->counters;
my $failed = sql("SELECT count(*) FROM kcloud_shopify.queue WHERE state = 'failed'");
my %req;
$req{$_} = ($c1->{requests}{$_} // 0) - ($c0->{requests}{$_} // 0) for keys %{ $c1->{requests} };
my $calls = $c1->{requestsTotal} - $c0->{requestsTotal};
my $cost = $c1->{costSpent} - $c0->{costSpent};
my $thr = $c1->{throttled} - $c0->{throttled};
say_(sprintf("initial sync: %s in %.1f s; %d failed queue rows", $done ? 'drained' : 'NOT drained', $wall, $failed));
say_(sprintf("  HTTP requests %d (root fields: %s), cost points %.0f, THROTTLED replies %d",
	$calls, join(', ', map { "$_ $req{$_}" } sort grep { $req{$_} } keys %req), $cost, $thr));
my $act = sql("SELECT operation, sum(entities), sum(cost), count(*) FROM kcloud_shopify.activity_log
                GROUP BY 1 ORDER BY 1");
my (%opcost, %opent, %opn);
for (split /\n/, $act) { my ($o, $e, $c, $n) = split /\|/; $opcost{$o} = $c || 0; $opent{$o} = $e || 0; $opn{$o} = $n; }
my $pcost = 0; $pcost += $opcost{$_} for grep { /^product/ } keys %opcost;
my $icost = 0; $icost += $opcost{$_} for grep { /^inventory/ } keys %opcost;
my $pcalls = 0; $pcalls += $opn{$_} for grep { /^product/ } keys %opn;
my $icalls = 0; $icalls += $opn{$_} for grep { /^inventory/ } keys %opn;
say_(sprintf("  per style: %.2f calls, %.1f cost points; per inventory level: %.4f calls, %.3f cost points",
	$pcalls / ($web_styles || 1), $pcost / ($web_styles || 1), $icalls / ($levels || 1), $icost / ($levels || 1)));
say_(sprintf("  achieved %.0f points/s = %.0f%% of the restore rate (%s/s); %.1f styles/s",
	$cost / $wall, $rate ? 100 * $cost / $wall / $rate : 0, $rate, $web_styles / $wall));
if ($last_cost > $bmax)
{
	say_(sprintf("  API phase (connect -> last request, %.1f s): %.0f points/s beyond the initial bucket = %.0f%% of the restore rate;"
		  . " then %.1f s of local work only (queued stock levels the productSet calls already set: checked, no request)",
		$last_req_t, ($last_cost - $bmax) / ($last_req_t || 1), $rate ? 100 * ($last_cost - $bmax) / ($last_req_t || 1) / $rate : 0,
		$wall - $last_req_t));
}
else
{
	say_(sprintf("  API phase (connect -> last request, %.1f s): within the initial bucket (%.0f of %d points): the restore rate was never the limit",
		$last_req_t, $last_cost, $bmax));
}
# where the time went: a request cycle is local work (claim, read CI, build,
# record) plus the HTTP round trip (the simulator's work); pacing sleeps are
# what is left.  The bucket is the limit only when the rest leaves time over.
my $http_s = sql("SELECT coalesce(sum(duration_ms), 0) / 1000 FROM kcloud_shopify.activity_log");
say_(sprintf("  time: %.1f s in HTTP round trips (%.0f%% of the API phase); CPU: worker %.1f s, simulator %.1f s, whole machine %.1f s of %.1f s available (%d cores)",
	$http_s, 100 * $http_s / ($last_req_t || 1), $wcpu, $scpu, $busy, $wall * (`nproc` + 0), `nproc` + 0));
say_("  activity log by operation (requests, entities, cost): "
	  . join('; ', map { "$_ $opn{$_}/$opent{$_}/" . sprintf('%.0f', $opcost{$_}) } sort keys %opn));
if ($bulk)
{
	my $b = sql("SELECT count(*), sum(total), sum(linked), sum(fell_back),
	                    round(EXTRACT(epoch FROM max(finished_at) - min(started_at))::numeric, 1),
	                    round(EXTRACT(epoch FROM max(finished_at) - min(running_at))::numeric, 1)
	               FROM kcloud_shopify.bulk_run");
	my ($bn, $bt, $bl, $bf, $bw, $br) = split /\|/, $b;
	say_(sprintf("  bulk: %s run(s), %s lines, %s styles linked, %s left to ordinary calls; run %s s (of which Shopify's operation %s s)",
		$bn, $bt // 0, $bl // 0, $bf // 0, $bw // '?', $br // '?'));
}

# ---- single stock change latency ---------------------------------------
my @pick = split /\n/, sql("SELECT st.sku_code || '|' || st.branch_code || '|' || vl.inventory_item_gid || '|' || ll.location_gid
	FROM ci.stock st JOIN kcloud_shopify.variant_link vl USING (sku_code)
	JOIN kcloud_shopify.location_link ll USING (branch_code)
	ORDER BY hashtext(st.sku_code || st.branch_code) LIMIT $changes");
my @lat;
for my $p (@pick)
{
	my ($sku, $br, $item, $loc) = split /\|/, $p;
	my $want = sql("UPDATE ci.stock SET on_hand = greatest(on_hand, 0) + 1 WHERE sku_code = '$sku' AND branch_code = '$br' RETURNING on_hand");
	my $ts = time;
	my $seen;
	while (time - $ts < 30)
	{
		my $r = $sim->graphql(qq{{ inventoryItem(id: "$item") { inventoryLevel(locationId: "$loc") { quantities(names: ["on_hand"]) { quantity } } } }});
		$seen = $r->{data}{inventoryItem}{inventoryLevel}{quantities}[0]{quantity};
		last if defined $seen && $seen == $want;
		usleep(5_000);
	}
	push @lat, time - $ts if defined $seen && $seen == $want;
	usleep(200_000);
}
@lat = sort { $a <=> $b } @lat;
sub pct { my ($p) = @_; return @lat ? $lat[ floor($p * (@lat - 1) + 0.5) ] * 1000 : 0; }
say_(sprintf("single stock change -> visible in Shopify: %d/%d seen, p50 %.0f ms, p99 %.0f ms, max %.0f ms",
	scalar(@lat), scalar(@pick), pct(0.5), pct(0.99), @lat ? $lat[-1] * 1000 : 0));

# ---- burst --------------------------------------------------------------
KcsTest::wait_for_sync($node, 60);
$c0 = $sim->counters;
$t0 = time;
my $n = sql("WITH s AS (SELECT st.sku_code, st.branch_code FROM ci.stock st JOIN ci.branch b USING (branch_code)
                         JOIN ci.sku k USING (sku_code) JOIN ci.style y USING (style_code)
                        WHERE b.web_stock AND y.internet_active ORDER BY hashtext(st.sku_code || st.branch_code) LIMIT $burst)
             UPDATE ci.stock t SET on_hand = t.on_hand + 1 FROM s
              WHERE t.sku_code = s.sku_code AND t.branch_code = s.branch_code");
$n = sql("SELECT count(*) FROM kcloud_shopify.queue WHERE kind = 'inventory' AND state IN ('pending','in_flight')");
my $ok = KcsTest::wait_for_sync($node, 1800);
$wall = time - $t0;
$c1 = $sim->counters;
$calls = $c1->{requestsTotal} - $c0->{requestsTotal};
$cost = $c1->{costSpent} - $c0->{costSpent};
say_(sprintf("burst of %d stock changes (%d levels queued): %s in %.1f s; %d API calls = %.4f calls per change, %.0f cost points, %d THROTTLED",
	$burst, $n, $ok ? 'synced' : 'NOT synced', $wall, $calls, $calls / $burst, $cost, $c1->{throttled} - $c0->{throttled}));

open(my $fh, '>', 'bench/sync/runs/last.txt') or die;
print $fh "$_\n" for @out;
close $fh;
ok($done && $ok, 'benchmark completed');
done_testing();
