# Hardening: what a hostile caller or a real client does that the other
# files' fixtures do not.  Every handler of the module and every early
# answer (before the route reads the body): the body is never taken for
# the next request of a keep-alive connection.
use lib 't/lib';
use NotifyTest;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());
our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));

our $Hub = conf('hub');

our $Config = <<'CONF' . $NotifyTest::DialectLocations . <<'MORE';
    location = /n {
        notify_subscription_key k1;
        notify_inbound syntphony;
    }
CONF
    location /activities { notify_feed; }
    location /notify/outbox { notify_outbox; }
    location = /notify/status { notify_status; }
    location = /last { return 200 "last\n"; }
MORE

# a body that is a request of its own (NotifyTest.pm)
our $Smuggled = $NotifyTest::Smuggled;

sub smuggle { return NotifyTest::smuggle(@_) }

# the same as one raw request on a keep-alive connection
sub raw {
    my ($line, $headers) = @_;
    $headers //= '';
    $headers =~ s/\n/\r\n/g;
    return "$line HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n"
           . $headers . "Content-Length: " . length($Smuggled) . "\r\n\r\n"
           . $Smuggled;
}

# every dialect, with a small notify_max_body
our $Small = <<'CONF' . $NotifyTest::DialectLocations;
    notify_max_body 1k;
    location = /n { notify_inbound syntphony; }
CONF

# a chunked body that goes on past the limit and never ends: only the
# answer can end the exchange
sub chunked {
    my ($uri, $headers) = @_;
    $headers =~ s/\n/\r\n/g;
    my $chunk = sprintf("%x\r\n", 4096) . ('x' x 4096) . "\r\n";
    return "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n"
           . $headers . "Transfer-Encoding: chunked\r\n\r\n" . $chunk x 2;
}

# a body whose "x" nests $n levels deep in all (the body itself is one)
sub deep {
    my ($n, %f) = @_;
    my $json = join(',', map { "\"$_\":\"$f{$_}\"" } sort keys %f);
    $json .= ',' if $json ne '';
    return '{' . $json . '"x":' . ('[' x ($n - 1)) . (']' x ($n - 1)) . '}';
}

our $Note = '"eventId":"e","title":"t","url":"http://x.example.org","accounts":["u-ada"]';

# tokens of identity providers that issue neither azp nor appid: each
# dialect's request and the roles it needs, and each token kind
our @Kinds = sort keys %NotifyTest::Senders;

sub without_azp {
    my (@reqs, @hdrs);
    my %call = (
        syntphony => ["POST /plain\n{$::Note}", ['access_as_application']],
        graph => $NotifyTest::Accepted{graph},
        gever => $NotifyTest::Accepted{gever},
        push => ["POST /push\n{\"Type\":\"0\",\"WorkItem\":{\"Id\":\"J-%s\"}}", []],
    );
    for my $d (qw(syntphony graph gever push)) {
        for my $k (@Kinds) {
            my ($req, $roles) = @{ $call{$d} };
            my $tok = NotifyTest::token(@{ $NotifyTest::Senders{$k}[0] },
                                        @$roles ? (roles => $roles) : ());
            push @reqs, $d eq 'push' ? sprintf($req, $k) : $req;
            push @hdrs, "Content-Type: application/json\n"
                        . ($d eq 'push' ? "User-Agent: DataNotifier\nAuthorization: $tok\n"
                                        : NotifyTest::bearer($tok));
        }
    }
    return (\@reqs, \@hdrs);
}

our ($NoAzpReqs, $NoAzpHdrs) = without_azp();

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: feed, no token: 401, and the body is no request
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /activities/read')
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/"InvalidAuthenticationToken"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 2: feed, another user's feed without the admin role: 403
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /activities/read?user=u-bob')
--- more_headers eval: $::Ada
--- error_code eval: [403, 200]
--- response_body_like eval: [qr/"Forbidden"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 3: feed, no such route: 404
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /activities/nothing/here')
--- more_headers eval: $::Ada
--- error_code eval: [404, 200]
--- response_body_like eval: [qr/"NotFound"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 4: feed, a method the route does not take: 405
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('PUT /activities/read')
--- more_headers eval: $::Ada
--- error_code eval: [405, 200]
--- response_body_like eval: [qr/"MethodNotAllowed"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 5: feed, marking one item read that does not exist: 404
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /activities/00000000000000ff/read')
--- more_headers eval: $::Ada
--- error_code eval: [404, 200]
--- response_body_like eval: [qr/"NotFound"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 6: outbox, a method it does not take: 405
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('PUT /notify/outbox')
--- error_code eval: [405, 200]
--- response_body_like eval: [qr/^(?!.*smuggled)/s, qr/^last$/]
--- no_error_log
smuggled



=== TEST 7: status, a method it does not take: 405
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /notify/status')
--- error_code eval: [405, 200]
--- response_body_like eval: [qr/405/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 8: syntphony, no subscription key: 401
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /n')
--- more_headers eval: $::App
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/"statusCode":401/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 9: syntphony, no token: 401
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /n')
--- more_headers
Content-Type: application/json
ocp-apim-subscription-key: k1
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/^\{"type":/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 10: syntphony, a token without the role: 403
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /n')
--- more_headers eval: "ocp-apim-subscription-key: k1\nContent-Type: application/json\n$::Ada"
--- error_code eval: [403, 200]
--- response_body_like eval: [qr/"status":403/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 11: graph, no token: 401
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /v1.0/teams/t1/sendActivityNotification')
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/"InvalidAuthenticationToken"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 12: graph, a method it does not take: 405
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('PUT /v1.0/teams/t1/sendActivityNotification')
--- more_headers eval: $::App
--- error_code eval: [405, 200]
--- response_body_like eval: [qr/"error"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 13: gever, no token: 401
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /@external-activities')
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/"message"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 14: push, no token: 401 in the push contract
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /push')
--- more_headers
User-Agent: DataNotifier
Content-Type: application/json
--- error_code eval: [401, 200]
--- response_body_like eval: [qr/"Success":false/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 15: push, not the sender's User-Agent
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /push')
--- more_headers eval: "User-Agent: curl\nContent-Type: application/json\n$::App"
--- error_code eval: [400, 200]
--- response_body_like eval: [qr/"Success":false/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 16: a body longer than notify_max_body by its Content-Length: 413, and the connection is closed
--- http_config eval: $::Hub
--- config
    location = /n {
        notify_max_body 16;
        notify_inbound syntphony;
    }
--- raw_request eval: ::raw('POST /n', $::App)
--- error_code: 413
--- response_headers
Connection: close
--- no_error_log
smuggled



=== TEST 17: outbox, no such entry: 404
--- http_config eval: $::Hub
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('DELETE /notify/outbox/00000000000000ff')
--- error_code eval: [404, 200]
--- response_body_like eval: [qr/"NotFound"/, qr/^last$/]
--- no_error_log
smuggled



=== TEST 18: syntphony, a chunked body past notify_max_body: 413 in its shape, the rest is not read, the connection is closed
--- http_config eval: $::Hub
--- config eval: $::Small
--- raw_request eval: ::chunked('/n', $::App)
--- error_code: 413
--- response_headers
Connection: close
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.11","title":"Payload Too Large","status":413,"traceId":"[^"]+"\}$
--- error_log
not reading on



=== TEST 19: graph, the same: 413 in Graph's shape
--- http_config eval: $::Hub
--- config eval: $::Small
--- raw_request eval: ::chunked('/v1.0/users/u-ada/teamwork/sendActivityNotification', "Content-Type: application/json\n" . NotifyTest::bearer(NotifyTest::token(azp => 'a', roles => ['TeamsActivity.Send'])))
--- error_code: 413
--- response_headers
Connection: close
--- response_body_like: ^\{"error":\{"code":"RequestEntityTooLarge","message":"The request body is larger than 1024 bytes\.",
--- error_log
not reading on



=== TEST 20: gever, the same: 413 in GEVER's shape
--- http_config eval: $::Hub
--- config eval: $::Small
--- raw_request eval: ::chunked('/@external-activities', "Content-Type: application/json\n$::Ada")
--- error_code: 413
--- response_headers
Connection: close
--- response_body: {"message":"The request body is larger than 1024 bytes.","type":"PayloadTooLarge"}
--- error_log
not reading on



=== TEST 21: push, the same: 413, code 4
--- http_config eval: $::Hub
--- config eval: $::Small
--- raw_request eval: ::chunked('/push', "User-Agent: DataNotifier\nContent-Type: application/json\nAuthorization: " . NotifyTest::app_token() . "\n")
--- error_code: 413
--- response_headers
Connection: close
--- response_body: {"Success":false,"Code":"4","Message":"The request body is larger than 1024 bytes."}
--- error_log
not reading on



=== TEST 22: syntphony: 32 levels are taken, 33 are not, and 2 000 get the same 400
--- http_config eval: $::Hub
--- config eval: $::Config
--- request eval
["POST /n\n{$::Note,\"x\":" . ('[' x 30) . (']' x 30) . '}',
 "POST /n\n{$::Note,\"x\":" . ('[' x 32) . (']' x 32) . '}',
 "POST /n\n{$::Note,\"x\":" . ('[' x 2000) . (']' x 2000) . '}']
--- more_headers eval: "ocp-apim-subscription-key: k1\n$::App"
--- error_code eval: [200, 400, 400]
--- response_body_like eval
[qr/^\{"id":"[0-9a-f]{16}","recipients":1,/,
 qr/"errors":\{"\$":\["nesting deeper than 32 levels\. Path: \$ \| LineNumber: 0 \| BytePositionInLine: \d+\."\]\}/,
 qr/"errors":\{"\$":\["nesting deeper than 32 levels\. Path: \$ \| LineNumber: 0 \| BytePositionInLine: \d+\."\]\}/]
--- no_error_log
[error]



=== TEST 23: push: a WorkItem 2 000 levels deep is refused in the push contract, and nothing is stored
--- http_config eval: ::conf('deep')
--- config eval: $::Config
--- request eval
["POST /push\n{\"Type\":\"0\",\"WorkItem\":{\"Id\":\"J-1\",\"Notes\":" . ('[' x 2000) . (']' x 2000) . '}}',
 "GET /activities"]
--- more_headers eval
["User-Agent: DataNotifier\nContent-Type: application/json\nAuthorization: " . NotifyTest::token(azp => 'so-sender') . "\n",
 $::Ada]
--- error_code eval: [400, 200]
--- response_body_like eval
[qr/^\{"Success":false,"Code":"\d+","Message":"The request body is not JSON: nesting deeper than 32 levels \(line 1, column \d+\)\."\}$/,
 qr/^\{"items":\[\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 24: graph: 2 000 levels deep is a 400 in Graph's shape
--- http_config eval: $::Hub
--- config eval: $::Config
--- request eval
"POST /v1.0/users/u-ada/teamwork/sendActivityNotification\n{\"topic\":" . ('[' x 2000) . (']' x 2000) . '}'
--- more_headers eval: "Content-Type: application/json\n" . NotifyTest::bearer(NotifyTest::token(azp => 'a', roles => ['TeamsActivity.Send']))
--- error_code: 400
--- response_body_like: ^\{"error":\{"code":"BadRequest","message":"Unable to read JSON request payload\.
--- no_error_log
[error]



=== TEST 25: gever: 2 000 levels deep is a 400 in GEVER's shape
--- http_config eval: $::Hub
--- config eval: $::Config
--- request eval
"POST /\@external-activities\n{\"title\":" . ('{"a":' x 2000) . '1' . ('}' x 2000) . '}'
--- more_headers eval: "Content-Type: application/json\n$::Ada"
--- error_code: 400
--- response_body_like: ^\{"message":"The request body is not valid JSON: nesting deeper than 32 levels \(line 1, column \d+\)\.","type":"BadRequest"\}$
--- no_error_log
[error]



=== TEST 26: tokens without azp or appid (only client_id, only sub, neither) are callers like any other in every dialect
--- http_config eval: ::conf('no-azp')
--- config
    location = /plain { notify_inbound syntphony; }
    location ~ /sendActivityNotification$ { notify_inbound graph; }
    location = /@external-activities { notify_inbound gever; }
    location = /push {
        notify_push_recipients devs@example.org;
        notify_inbound push;
    }
--- request eval: $::NoAzpReqs
--- more_headers eval: $::NoAzpHdrs
--- error_code eval: [(200) x 3, (204) x 3, (201) x 3, (200) x 3]
--- no_error_log
[error]
out of memory



=== TEST 27: the feed of a token that names no user (only client_id, only sub, neither): 403 in the feed's shape
--- http_config eval: ::conf('no-azp-feed')
--- config
    location /activities { notify_feed; }
--- request eval: [("GET /activities") x 3]
--- more_headers eval: [map { NotifyTest::bearer(NotifyTest::token(@{ $NotifyTest::Senders{$_}[0] })) } @::Kinds]
--- error_code eval: [403, 403, 403]
--- response_body eval: [('{"error":{"code":"Forbidden","message":"The token names no user."}}') x 3]
--- no_error_log
[error]



=== TEST 28: bytes that are no UTF-8 in what an error quotes (a path's id, a body) never make the error itself fail
--- http_config eval: $::Hub
--- config eval: $::Config
--- request eval
["POST /v1.0/teams/%FF%FEteam/sendActivityNotification\n{}",
 "POST /v1.0/users/%C3%28/teamwork/sendActivityNotification\n{}",
 "POST /n\n{\"eventId\":\"\xff\xfe\"}",
 "POST /\@external-activities\n{\"title\":\"\xc3\x28\"}"]
--- more_headers eval
["Content-Type: application/json\n" . NotifyTest::bearer(NotifyTest::token(azp => 'a', roles => ['TeamsActivity.Send'])),
 "Content-Type: application/json\n" . NotifyTest::bearer(NotifyTest::token(azp => 'a', roles => ['TeamsActivity.Send'])),
 "ocp-apim-subscription-key: k1\n$::App",
 "Content-Type: application/json\n$::Ada"]
--- error_code eval: [404, 404, 400, 400]
--- response_body_like eval
[qr/^\{"error":\{"code":"NotFound","message":"No team found with id '\?\?team'\.",/,
 qr/^\{"error":\{"code":"NotFound","message":"No user found with id or user principal name '\?\('\.",/,
 qr/^\{"type":"https:\/\/tools\.ietf\.org\/html\/rfc7231#section-6\.5\.1",.*"errors":\{"\$":\["/,
 qr/^\{"message":"The request body is not valid JSON: /]
--- no_error_log
[error]



=== TEST 29: an "if" or "limit_except" block in the module's locations (a CORS answer, say) runs the location's handler with its configuration: nothing crashes, each answers as without the block
--- http_config eval: $::Hub
--- config
    location = /n {
        notify_subscription_key k1;
        notify_inbound syntphony;
        if ($arg_trace) { set $traced 1; }
        limit_except POST { deny all; }
    }
    location /activities {
        notify_feed;
        if ($arg_trace) { set $traced 1; }
    }
    location /notify/outbox {
        notify_outbox;
        if ($arg_trace) { set $traced 1; }
    }
--- request eval
["POST /n?trace=1\n" . '{"eventId":"e","title":"t","url":"http://x.example.org/","accounts":["ada@example.org"]}',
 "GET /n?trace=1",
 "GET /activities/count?trace=1",
 "GET /activities?trace=1",
 "GET /notify/outbox?trace=1"]
--- more_headers eval
["ocp-apim-subscription-key: k1\n$::App", "ocp-apim-subscription-key: k1\n$::App", $::Ada, $::Ada, ""]
--- error_code eval: [200, 403, 200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"\d{16}","recipients":1,"unresolved":\[\]\}$/, qr/403 Forbidden/, qr/^\{"unread":\d+\}$/, qr/^\{"items":\[\{"id":"\d{16}","dialect":"syntphony",/, qr/^\{"items":\[\]\}$/]
--- no_error_log
[alert]
[crit]
