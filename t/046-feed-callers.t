# The feed's counts, its stream and its tickets for callers whose tokens
# come from identity providers other than the tests' usual one: no azp,
# the user named only by upn or only by oid, or by nothing but sub; and
# keep-alive callers whose requests carry bodies the feed does not use.
use lib 't/lib';
use NotifyTest;
use Sse;
use JSON::PP;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\r\n"
           . "Authorization: Bearer " . NotifyTest::app_token() . "\r\n";

# no azp and no oid: the user by upn (as Okta or Keycloak would name it)
our $Upn = NotifyTest::token(sub => 'okta|00u1', upn => 'ada@example.org');
# RFC 9068: client_id and sub, the user by oid
our $Oid = NotifyTest::token(client_id => 'app-rfc9068', sub => 'sub-9068', oid => 'u-bob');
# nothing that names a user
our $Sub = NotifyTest::token(sub => 'sub-only');

sub port { return Test::Nginx::Socket::server_port_for_client() }

sub post {
    my (@accounts) = @_;
    return Sse::request(port(), 'POST', '/n', $App,
                        encode_json({eventId => 'e', title => 't', url => 'http://x.example.org/',
                                     accounts => \@accounts}));
}

*say = \&Sse::say;
say() if 0;
Sse::check_stream_like();

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: counts for a token with only sub and upn, and for one with only client_id, sub and oid
--- http_config eval: ::conf('t1')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
::post('u-ada', 'u-bob');
::post('u-ada');
--- pipelined_requests eval
["GET /activities/counts", "GET /activities/counts", "GET /activities/counts"]
--- more_headers eval
["Authorization: Bearer $::Upn\n", "Authorization: Bearer $::Oid\n", "Authorization: Bearer $::Sub\n"]
--- error_code eval
[200, 200, 403]
--- response_body_like eval
[qr/^\{"unread":2,"unseen":2\}$/, qr/^\{"unread":1,"unseen":1\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"The token names no user\."/]
--- no_error_log
[error]



=== TEST 2: a stream ticket for a token without azp, used by a client without the token; none for a token that names no user
--- http_config eval: ::conf('t2')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
::post('u-ada');
my $r = Sse::request(::port(), 'POST', '/activities/stream/ticket', "Authorization: Bearer $::Upn\r\n");
::say("ticket $r->[0]");
my ($ticket) = $r->[1] =~ /"ticket":"([0-9a-f]+)"/;
my ($st) = Sse::stream(::port(), "/activities/stream?ticket=$ticket", '');
::say("stream $st->{status}: " . Sse::text($st->events(1)));
::post('u-ada');
my @live = @{ $st->events(3) }[1, 2];
::say("live: " . join(' / ', map { Sse::text([$_]) } @live));
$st->close;
$r = Sse::request(::port(), 'POST', '/activities/stream/ticket', "Authorization: Bearer $::Sub\r\n");
::say("sub only: ticket $r->[0]");
($st) = Sse::stream(::port(), '/activities/stream', "Authorization: Bearer $::Sub\r\n");
::say("sub only: stream $st->{status}");
$st->close;
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer $::Upn\n"
--- response_body_like: ^\{"unread":2,"unseen":2\}$
--- stream_like
^ticket 200
stream 200: counts \{"unread":1,"unseen":1\}
live: item \{"id":"0000000000000002",[^\n]*"read":false[^\n]* / counts \{"unread":2,"unseen":2\}
sub only: ticket 403
sub only: stream 403
--- no_error_log
[error]



=== TEST 3: a keep-alive caller: a ticket request and marks with bodies they do not use, then more requests on the same connection
--- http_config eval: ::conf('t3')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
::post('u-ada');
::post('u-ada');
--- pipelined_requests eval
["POST /activities/stream/ticket\n" . ('{"ignored":"' . ('x' x 5000) . '"}'),
 "POST /activities/seen-all\n" . ('{"ignored":' . ('[' x 20) . (']' x 20) . '}'),
 "GET /activities/counts",
 "POST /activities/0000000000000001/archive\nnot json at all",
 "GET /activities/counts"]
--- more_headers eval
[("Authorization: Bearer $::Upn\n") x 5]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"ticket":"[0-9a-f]{32}","expires_in":\d+\}$/, qr/^\{"unread":2,"unseen":0\}$/,
 qr/^\{"unread":2,"unseen":0\}$/, qr/^\{"unread":1,"unseen":0\}$/, qr/^\{"unread":1,"unseen":0\}$/]
--- no_error_log
[error]
