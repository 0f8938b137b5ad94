# The feed's stream across workers: a change committed by one worker
# reaches the streams every worker holds (the ring in shared memory, the
# eventfd wake-up); the open streams gauge.  As t/042-stream.t: the
# scenario in "--- init", its findings checked by "--- stream_like".
use lib 't/lib';
use NotifyTest;

use Sse;
use JSON::PP;
use IO::Socket::INET;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\r\n"
           . "Authorization: Bearer " . NotifyTest::app_token() . "\r\n";
our %Token = (ada => NotifyTest::user_token('u-ada', 'ada@example.org'));
sub auth { return "Authorization: Bearer $Token{$_[0]}\r\n" }

# a port of our own for a server with reuseport, as t/061 does
our $Spread = Sse::free_port();

# the blocks' http{} part: the store, and a server of the port above with
# reuseport, that spreads its connections over the workers
sub spread_conf {
    my ($store, $extra) = @_;
    return conf($store) . ($extra // '') . <<CONF;
    server {
        listen 127.0.0.1:$Spread reuseport;
        location = /n { notify_inbound syntphony; }
        location /activities { add_header X-Pid \$pid always; notify_feed; }
        location = /metrics { notify_metrics; }
    }
CONF
}

# the scenario: streams on both workers, a change committed by one, and
# what each stream got
sub spread {
    my (%by, @streams);
    for (1 .. 40) {
        my ($st) = Sse::stream($Spread, '/activities/stream', auth('ada'));
        $st->events(1);
        push @streams, $st;
        push @{ $by{$st->header('X-Pid')} }, $st;
        last if keys %by >= 2 && @streams >= 4;
    }
    Sse::say("workers " . scalar(keys %by));
    my $m = Sse::request($Spread, 'GET', '/metrics', '');
    Sse::say("gauge " . ($m->[1] =~ /^notify_feed_streams (\d+)$/m ? $1 : 'none') . " of " . scalar(@streams));
    Sse::request($Spread, 'POST', '/n', $App,
                 JSON::PP::encode_json({eventId => 'e', title => 'everywhere',
                                        url => 'http://x.example.org', accounts => ['u-ada']}));
    my $got = 0;
    for my $st (@streams) {
        my $e = $st->events(3);
        $got++ if grep { ($_->{event} // '') eq 'item' && $_->{data} =~ /"title":"everywhere"/ } @$e;
    }
    Sse::say("reached $got of " . scalar(@streams));
    $_->close for @streams;
    my $left = 1;
    for (1 .. 50) {
        $m = Sse::request($Spread, 'GET', '/metrics', '');
        $left = $m->[1] =~ /^notify_feed_streams (\d+)$/m ? $1 : -1;
        last if $left == 0;
        select undef, undef, undef, 0.1;
    }
    Sse::say("gauge after $left");
}

Sse::check_stream_like();

master_on();
workers(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__
=== TEST 1: two workers: a change committed by one reaches the streams held by both; the open streams gauge
--- http_config eval: ::spread_conf('t1')
--- config
    location /activities { notify_feed; }
--- init
::spread();
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^workers 2
gauge (\d+) of \1\n
reached (\d+) of \1\n
gauge after 0
--- no_error_log
[error]



=== TEST 2: after a reload, a change committed by one worker still reaches the streams held by the other
--- http_config eval: ::spread_conf('t2')
--- config
    location /activities { notify_feed; }
--- init
Sse::say("reload " . NotifyTest::reload());
::spread();
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^reload reloaded
workers 2
gauge (\d+) of \1\n
reached (\d+) of \1\n
gauge after 0
--- no_error_log
[error]



=== TEST 3: the cache manager and loader are no workers: they open no store and watch no worker's wake-up
--- http_config eval
::spread_conf('t3', "    proxy_cache_path $ENV{TEST_NGINX_SERVROOT}/cache keys_zone=c:1m;\n")
--- config
    location /activities { notify_feed; }
--- init
my $root = Test::Nginx::Util::server_root();
open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
chomp(my $master = <$fh>);
close $fh;
# the master's children that are cache processes (the deadline is a failure
# bound only)
my %helper;
for (1 .. 100) {
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $sf, '<', $stat or next;
        my $line = <$sf> // '';
        close $sf;
        next unless $line =~ /^(\d+) \(.*?\) \S (\d+)/ && $2 == $master;
        my $pid = $1;
        open my $cf, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$cf> // '';
        close $cf;
        $helper{$pid} = 1 if $cmd =~ /cache (manager|loader)/;
    }
    last if %helper;
    select undef, undef, undef, 0.1;
}
Sse::say("helpers " . (%helper ? "running" : "none"));
::spread();
open my $lf, '<', "$root/logs/error.log" or die "error.log: $!";
my %opened;
while (<$lf>) {
    $opened{$1} = 1 if /(\d+)#\d+: notify: store "[^"]*" open/;
}
close $lf;
my @wrong = grep { $helper{$_} } keys %opened;
Sse::say("stores opened by helpers " . scalar(@wrong)
         . ", by others " . (keys(%opened) - @wrong));
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^helpers running
workers 2
reached (\d+) of \1\n
gauge after 0
stores opened by helpers 0, by others 2
--- no_error_log
[error]
