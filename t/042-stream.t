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
