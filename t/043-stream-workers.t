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

*say = \&Sse::say;
Sse::check_stream_like();

master_on();
workers(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__
=== TEST 1: two workers: a change committed by one reaches the streams held by both; the open streams gauge
--- http_config eval
::conf('t1') . <<CONF
    server {
        listen 127.0.0.1:$::Spread reuseport;
        location = /n { notify_inbound syntphony; }
        location /activities { add_header X-Pid \$pid always; notify_feed; }
        location = /metrics { notify_metrics; }
    }
CONF
--- config
    location /activities { notify_feed; }
--- init
my (%by, @streams);
for (1 .. 40) {
    my ($st) = Sse::stream($::Spread, '/activities/stream', ::auth('ada'));
    $st->events(1);
    push @streams, $st;
    push @{ $by{$st->header('X-Pid')} }, $st;
    last if keys %by >= 2 && @streams >= 4;
}
::say("workers " . scalar(keys %by));
my $m = Sse::request($::Spread, 'GET', '/metrics', '');
::say("gauge " . ($m->[1] =~ /^notify_feed_streams (\d+)$/m ? $1 : 'none') . " of " . scalar(@streams));
Sse::request($::Spread, 'POST', '/n', $::App,
             JSON::PP::encode_json({eventId => 'e', title => 'everywhere',
                                    url => 'http://x.example.org', accounts => ['u-ada']}));
my $got = 0;
for my $st (@streams) {
    my $e = $st->events(3);
    $got++ if grep { ($_->{event} // '') eq 'item' && $_->{data} =~ /"title":"everywhere"/ } @$e;
}
::say("reached $got of " . scalar(@streams));
$_->close for @streams;
my $left = 1;
for (1 .. 50) {
    $m = Sse::request($::Spread, 'GET', '/metrics', '');
    $left = $m->[1] =~ /^notify_feed_streams (\d+)$/m ? $1 : -1;
    last if $left == 0;
    select undef, undef, undef, 0.1;
}
::say("gauge after $left");
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
