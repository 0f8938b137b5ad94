# The feed's stream: GET <prefix>/stream as Server-Sent Events.  Each
# block's scenario runs in "--- init" (nginx is up) with a client of its
# own (t/lib/Sse.pm); "--- stream_like" checks what the streams got, and
# the block's request checks the feed after it.
use lib 't/lib';
use NotifyTest;

use Sse;
use JSON::PP;
use IO::Socket::INET;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\r\n"
           . "Authorization: Bearer " . NotifyTest::app_token() . "\r\n";
our %Token = (
    ada => NotifyTest::user_token('u-ada', 'ada@example.org'),
    bob => NotifyTest::user_token('u-bob', 'bob@example.org'),
);
sub auth { return "Authorization: Bearer $Token{$_[0]}\r\n" }

sub port { return Test::Nginx::Socket::server_port_for_client() }

# a port of our own for a server with reuseport, as t/061 does
our $Spread = Sse::free_port();

sub post {
    my ($title, @accounts) = @_;
    return Sse::request(port(), 'POST', '/n', $App,
                        encode_json({eventId => 'e', title => $title,
                                     url => "http://x.example.org/$title",
                                     accounts => @accounts ? \@accounts : ['u-ada']}));
}

# the id of the item event of a notification "first" to Ada, seen by a
# stream opened before it and closed after
sub first_id {
    my ($st, $err) = Sse::stream(port(), '/activities/stream', auth('ada'));
    die $err unless $st;
    $st->events(1);
    post('first');
    my $id = $st->events(2)->[1]{id};
    $st->close;
    return $id;
}

sub as { my ($who, $method, $path, $body) = @_; return Sse::request(port(), $method, $path, auth($who), $body) }

# the state of the server's side of a connection on the loopback, from
# /proc/net/tcp: "established", "closing" (any other state) or "gone"
sub server_side {
    my ($server_port, $client_port) = @_;
    my $want = sprintf ':%04X 0100007F:%04X', $server_port, $client_port;
    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
    while (<$fh>) {
        next unless /^\s*\d+: 0100007F(:[0-9A-F]{4} 0100007F:[0-9A-F]{4}) ([0-9A-F]{2})/;
        next unless $1 eq $want;
        return $2 eq '01' ? 'established' : 'closing';
    }
    return 'gone';
}

*say = \&Sse::say;
Sse::check_stream_like();

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: the stream: its header, the counts, then each change in order, each with a growing id
--- http_config eval: ::conf('t1')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my ($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
die $err unless $st;
::say("status $st->{status}", "type " . $st->header('Content-Type'),
      "buffering " . $st->header('X-Accel-Buffering'),
      "cache " . $st->header('Cache-Control'));
$st->events(1);
::post('t1'); ::post('t2'); ::post('t3', 'u-bob');
# an item is shown as it is when its event is sent (with PostgreSQL, once
# its read answers): the marks wait until both were sent
$st->events(5);
::as(ada => 'POST', '/activities/0000000000000001/read');
::as(ada => 'POST', '/activities/seen-all');
::as(ada => 'POST', '/activities/0000000000000002/archive');
::as(ada => 'DELETE', '/activities/0000000000000001');
::as(ada => 'POST', '/activities/read-all');
my $events = $st->events(15);
::say(Sse::text($events));
my @ids = map { $_->{id} =~ /^\d+-(\d+)$/ ? $1 : -1 } @$events;
::say("ids " . join(',', @ids));
::say("ids grow") if join(',', @ids) eq join(',', sort { $a <=> $b } @ids) && $ids[-1] > $ids[1];
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":0,"unseen":0\}$
--- stream_like
^status 200\ntype text/event-stream\nbuffering no\ncache no-cache\n
\ncounts \{"unread":0,"unseen":0\}\nitem \{"id":"0000000000000001",[^\n]*"title":"t1",[^\n]*"read":false,"seen":false,"archived":false\}\ncounts \{"unread":1,"unseen":1\}\nitem \{"id":"0000000000000002",[^\n]*"title":"t2"[^\n]*\}\ncounts \{"unread":2,"unseen":2\}\nread \{"id":"0000000000000001"\}\ncounts \{"unread":1,"unseen":1\}\nseen \{"all":true\}\ncounts \{"unread":1,"unseen":0\}\narchived \{"id":"0000000000000002"\}\ncounts \{"unread":0,"unseen":0\}\ndeleted \{"id":"0000000000000001"\}\ncounts \{"unread":0,"unseen":0\}\nread \{"all":true\}\ncounts \{"unread":0,"unseen":0\}\nids
ids grow
--- no_error_log
[error]



=== TEST 2: resume with Last-Event-ID and with ?last_event_id=: what was missed, from the ring, then live
--- http_config eval: ::conf('t2')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my ($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
die $err unless $st;
$st->events(1);
::post('t1');
my $events = $st->events(3);
my $after1 = $events->[-1]{id};
$st->close;
::post('t2'); ::say("to bob " . ::post('nobody-else', 'u-bob')->[0]); ::post('t3');
($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada') . "Last-Event-ID: $after1\r\n");
die $err unless $st;
::say("header form:\n" . Sse::text($st->events(4)));
::post('t4');
::say("then live:\n" . Sse::text([@{ $st->events(6) }[4, 5]]));
$st->close;
($st, $err) = Sse::stream(::port(), "/activities/stream?last_event_id=$after1", ::auth('ada'));
::say("query form:\n" . Sse::text($st->events(6)));
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":4,"unseen":4\}$
--- stream_like
^to bob 200
header form:\nitem \{"id":"0000000000000002"[^\n]*\ncounts \{"unread":3,"unseen":3\}\nitem \{"id":"0000000000000004"[^\n]*\ncounts \{"unread":3,"unseen":3\}\nthen live:\nitem \{"id":"0000000000000005"[^\n]*\ncounts \{"unread":4,"unseen":4\}
query form:\nitem \{"id":"0000000000000002"[^\n]*\ncounts[^\n]*\nitem \{"id":"0000000000000004"[^\n]*\ncounts[^\n]*\nitem \{"id":"0000000000000005"[^\n]*\ncounts \{"unread":4,"unseen":4\}$
--- no_error_log
[error]



=== TEST 3: an id the ring no longer holds, or of another ring, or none at all: reset, then live
--- http_config eval: ::conf('t3', "    notify_feed_stream_events 64;")
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $first = ::first_id();
::post("p$_", 'u-bob') for 1 .. 70;
my ($st, $err);
for my $id ($first, '1-1', 'nonsense', '') {
    ($st, $err) = Sse::stream(::port(), "/activities/stream", ::auth('ada') . "Last-Event-ID: $id\r\n");
    ::say("from '" . ($id eq $first ? 'overwritten' : $id) . "':\n" . Sse::text($st->events(1)));
    $st->close;
}
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
from 'overwritten':\nreset \{"reason":"the stream cannot resume from that id"\}
from '1-1':\nreset \{"reason":"the stream cannot resume from that id"\}
from 'nonsense':\nreset
from '':\ncounts \{"unread":1,"unseen":1\}
--- no_error_log
[error]



=== TEST 4: a heartbeat comment keeps an idle stream alive
--- http_config eval: ::conf('t4')
--- config
    location /activities { notify_feed_stream_heartbeat 100ms; notify_feed; }
--- init
my ($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
die $err unless $st;
my $events = $st->until(sub { (grep { defined $_->{comment} } @{ $_[0] }) >= 2 });
::say(Sse::text($events));
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":0,"unseen":0\}$
--- stream_like
^counts \{"unread":0,"unseen":0\}\n:heartbeat \n:heartbeat
--- no_error_log
[error]



=== TEST 5: a reader too slow for notify_feed_stream_buffer gets reset and is closed; others go on
--- http_config eval
::conf('t5') . <<CONF
    server {
        listen 127.0.0.1:$::Spread sndbuf=4k;
        location /activities { notify_feed_stream_buffer 2k; notify_feed; }
    }
CONF
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my ($slow, $err) = Sse::stream($::Spread, '/activities/stream', ::auth('ada'), 2048);
die $err unless $slow;
my ($fast) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
$fast->events(1);
my $long = 'x' x 900;
for my $i (1 .. 60) {
    ::post("$long$i");
    $fast->events(1 + 2 * $i);
}
::say("fast got " . scalar(grep { ($_->{event} // '') eq 'item' } @{ $fast->{events} }) . " items");
my $events = $slow->until(sub { $slow->{eof} }, 20);
my @items = grep { ($_->{event} // '') eq 'item' } @$events;
::say("slow: " . (@items < 60 ? "fewer items" : "all items") . ", then "
      . Sse::text([grep { $_->{event} } @$events]->[-1] ? [[grep { $_->{event} } @$events]->[-1]] : []));
::say("slow closed") if $slow->{eof};
$fast->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":60,"unseen":60\}$
--- stream_like
fast got 60 items
slow: fewer items, then reset \{"reason":"the client reads too slowly"\}
slow closed
--- no_error_log
[error]



=== TEST 6: tickets: one use, for the user who asked, and they expire; the long token stays out of URLs
--- http_config eval: ::conf('t6')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed_stream_ticket 1s; notify_feed; }
--- init
my $r = ::as(bob => 'POST', '/activities/stream/ticket');
::say("ticket $r->[0] $r->[1]");
my ($ticket) = $r->[1] =~ /"ticket":"([0-9a-f]+)"/;
::post('for-bob', 'u-bob');
my ($st) = Sse::stream(::port(), "/activities/stream?ticket=$ticket", '');
::say("first use $st->{status}: " . Sse::text($st->events(1)));
$st->close;
($st) = Sse::stream(::port(), "/activities/stream?ticket=$ticket", '');
::say("second use $st->{status}");
$st->close;
$r = ::as(bob => 'POST', '/activities/stream/ticket');
($ticket) = $r->[1] =~ /"ticket":"([0-9a-f]+)"/;
my $until = time + 3;
sleep 1 while time < $until;
($st) = Sse::stream(::port(), "/activities/stream?ticket=$ticket", '');
::say("expired $st->{status}");
$st->close;
($st) = Sse::stream(::port(), "/activities/stream?ticket=0123", '');
::say("nonsense $st->{status}");
$st->close;
$r = Sse::request(::port(), 'POST', '/activities/stream/ticket', '');
::say("no token $r->[0]");
$r = ::as(bob => 'GET', '/activities/stream/ticket');
::say("GET $r->[0]");
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{bob}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^ticket 200 \{"ticket":"[0-9a-f]{32}","expires_in":1\}
first use 200: counts \{"unread":1,"unseen":1\}
second use 401
expired 401
nonsense 401
no token 401
GET 405
--- no_error_log
[error]



=== TEST 7: the token from notify_feed_stream_cookie, for the stream only; none and a bad one are 401
--- http_config eval: ::conf('t7')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed_stream_cookie notify_token; notify_feed; }
--- init
::post('for-ada');
my ($st) = Sse::stream(::port(), '/activities/stream', "Cookie: other=1; notify_token=$::Token{ada}\r\n");
::say("cookie $st->{status}: " . Sse::text($st->events(1)));
$st->close;
($st) = Sse::stream(::port(), '/activities/stream', "Cookie: notify_token=abc.def.ghi\r\n");
::say("bad cookie $st->{status}");
$st->close;
($st) = Sse::stream(::port(), '/activities/stream', '');
::say("none $st->{status}");
$st->close;
my $r = Sse::request(::port(), 'POST', '/activities/read-all', "Cookie: notify_token=$::Token{ada}\r\n");
::say("a mark by cookie $r->[0]");
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^cookie 200: counts \{"unread":1,"unseen":1\}
bad cookie 401
none 401
a mark by cookie 401
--- no_error_log
[error]



=== TEST 8: a stream that resumes further behind than notify_feed_stream_buffer holds is reset and closed (with PostgreSQL its events wait for their reads, and those count)
--- http_config eval: ::conf('t8')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed_stream_buffer 2k; notify_feed; }
--- init
my $first = ::first_id();
my ($st, $err);
::post("p$_") for 1 .. 20;
($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada') . "Last-Event-ID: $first\r\n");
die $err unless $st;
my $events = $st->until(sub { $st->{eof} }, 20);
my @items = grep { ($_->{event} // '') eq 'item' } @$events;
my ($reset) = grep { ($_->{event} // '') eq 'reset' } @$events;
# LMDB reads at once, so its unsent bytes pass the bound; PostgreSQL's
# events wait for their reads in the stream's queue, and the queue does
my $why = NotifyTest::postgres() ? 'the stream fell behind'
                                 : 'the client reads too slowly';
::say("fewer items") if @items < 20;
::say("reset: " . ($reset && $reset->{data} eq "{\"reason\":\"$why\"}" ? 'as its store says' : $reset ? $reset->{data} : 'none'));
::say("closed") if $st->{eof};
$st->close;
($st) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
::say("again: " . Sse::text($st->events(1)));
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":21,"unseen":21\}$
--- stream_like
^fewer items
reset: as its store says
closed
again: counts \{"unread":21,"unseen":21\}
--- no_error_log
[error]



=== TEST 9: streams that go while their events are being read (with PostgreSQL: their reads pending) leave nothing behind; a new stream starts as ever
--- http_config eval: ::conf('t9')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $first = ::first_id();
my ($st, $err);
::post("p$_") for 1 .. 5;
for (1 .. 10) {
    ($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada') . "Last-Event-ID: $first\r\n");
    die $err unless $st;
    $st->close;
}
($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
die $err unless $st;
::say("new: " . Sse::text($st->events(1)));
::post('last');
::say("then: " . Sse::text([@{ $st->events(3) }[1, 2]]));
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":7,"unseen":7\}$
--- stream_like
^new: counts \{"unread":6,"unseen":6\}
then: item \{"id":"0000000000000007",[^\n]*"title":"last"[^\n]*\}\ncounts \{"unread":7,"unseen":7\}$
--- no_error_log
[error]



=== TEST 10: a reader that reads nothing at all after its reset is closed by the server within the documented 5 seconds
--- http_config eval
::conf('t10') . <<CONF
    server {
        listen 127.0.0.1:$::Spread sndbuf=4k;
        location /activities {
            notify_feed_stream_buffer 4k;
            notify_feed_stream_heartbeat 1h;
            notify_feed;
        }
    }
CONF
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my ($slow, $err) = Sse::stream($::Spread, '/activities/stream', ::auth('ada'), 2048);
die $err unless $slow;
my $client = $slow->{sock}->sockport;
::say("before: " . ::server_side($::Spread, $client));
my $long = 'x' x 900;
::post("$long$_") for 1 .. 80;
# it reads nothing until the server has closed its side (the deadline is a
# failure bound only, well past the 5 seconds)
my $state;
for (1 .. 200) {
    $state = ::server_side($::Spread, $client);
    last if $state ne 'established';
    select undef, undef, undef, 0.1;
}
::say("unread: $state");
my $events = $slow->until(sub { $slow->{eof} }, 20);
# what it had not taken in time is not sent: the reset among it
my @items = grep { ($_->{event} // '') eq 'item' } @$events;
::say("read " . (@items < 80 ? "fewer items" : "all items"));
::say("slow closed") if $slow->{eof};
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":80,"unseen":80\}$
--- stream_like
^before: established
unread: (closing|gone)
read fewer items
slow closed
--- no_error_log
[error]



=== TEST 11: a GET of the stream with a body: the body is read and discarded while the stream runs; the stream goes when its client does
--- http_config eval
::conf('t11') . <<CONF
    server {
        listen 127.0.0.1:$::Spread rcvbuf=8k;
        client_max_body_size 10m;
        location /activities { notify_feed; }
        location = /metrics { notify_metrics; }
    }
CONF
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $size = 2_000_000;
my ($st, $err) = Sse::stream($::Spread, '/activities/stream',
                             ::auth('ada') . "Content-Length: $size\r\n");
die $err unless $st;
::say("stream $st->{status}");
my $sock = $st->{sock};
setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_SNDBUF(), 8192);
$sock->blocking(0);
# far more than the sockets' buffers hold: it all goes only if the server
# reads it (the deadline is a failure bound only)
my ($sent, $chunk) = (0, 'b' x 65536);
my $sel = IO::Select->new($sock);
my $deadline = time + 20;
while ($sent < $size && time < $deadline) {
    next unless $sel->can_write(0.5);
    my $n = syswrite($sock, $chunk, $size - $sent < 65536 ? $size - $sent : 65536);
    $sent += $n if $n;
}
$sock->blocking(1);
::say("body " . ($sent == $size ? "all sent" : "stuck at $sent"));
::post('after-the-body');
my $e = $st->events(3);
::say("then " . Sse::text([grep { ($_->{event} // '') eq 'item' } @$e]));
$st->close;
my $left = -1;
for (1 .. 100) {
    my $m = Sse::request($::Spread, 'GET', '/metrics', '');
    $left = $m->[1] =~ /^notify_feed_streams (\d+)$/m ? $1 : -1;
    last if $left == 0;
    select undef, undef, undef, 0.1;
}
::say("streams after $left");
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":1,"unseen":1\}$
--- stream_like
^stream 200
body all sent
then item \{.*"title":"after-the-body"
streams after 0
--- no_error_log
[error]



=== TEST 12: a user holds at most 8 valid tickets: a ninth takes the place of the user's own oldest (the first given of those given in the same second), and however many one user asks for, another's ticket stays good
--- http_config eval: ::conf('t12')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
sub ticket { my $r = ::as($_[0] => 'POST', '/activities/stream/ticket'); return ($r->[1] =~ /"ticket":"([0-9a-f]+)"/)[0] }
sub use_ticket {
    my ($st) = Sse::stream(::port(), "/activities/stream?ticket=$_[0]", '');
    my $status = $st ? $st->{status} : 'none';
    $st->close if $st;
    return $status;
}
my $bob = ticket('bob');
my @ada = map { ticket('ada') } 1 .. 9;
::say("ada's first of 9 " . use_ticket($ada[0]));
::say("ada's second " . use_ticket($ada[1]) . ", ninth " . use_ticket($ada[8]));
# more than all the tickets there are, by one user
my @more = map { ticket('ada') } 1 .. 1030;
::say("ada's last " . use_ticket($more[-1]) . ", an earlier one " . use_ticket($more[-20]));
# the user's last 8 are the good ones, however many were given in one
# second (expiry is in seconds): the ninth from last is not
::say("ada's seventh to second from last: " . join(' ', map { use_ticket($more[$_]) } -7 .. -2)
      . ", a new one " . use_ticket(ticket('ada')) . ", the ninth from last " . use_ticket($more[-9]));
::say("bob's " . use_ticket($bob));
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{bob}\n"
--- response_body_like: ^\{"unread":0,"unseen":0\}$
--- stream_like
^ada's first of 9 401
ada's second 200, ninth 200
ada's last 200, an earlier one 401
ada's seventh to second from last: 200 200 200 200 200 200, a new one 200, the ninth from last 401
bob's 200
--- no_error_log
[error]



=== TEST 13: resuming across many other users' events (more than one hold of the ring's lock looks at): the user's own, all, in order
--- http_config eval: ::conf('t13')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my ($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada'));
die $err unless $st;
$st->events(1);
::post('a1');
my $after1 = $st->events(3)->[-1]{id};
$st->close;
::post("b$_", 'u-bob') for 1 .. 300;
::post('a2');
::post("b$_", 'u-bob') for 301 .. 600;
::post('a3');
($st, $err) = Sse::stream(::port(), '/activities/stream', ::auth('ada') . "Last-Event-ID: $after1\r\n");
die $err unless $st;
my @items = map { $_->{data} =~ /"title":"(\w+)"/ ? $1 : '?' }
            grep { ($_->{event} // '') eq 'item' } @{ $st->events(4) };
::say("resumed: @items");
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Token{ada}\n"
--- response_body_like: ^\{"unread":3,"unseen":3\}$
--- stream_like
^resumed: a2 a3$
--- no_error_log
[error]
