# The Syntphony dialect: setExternalNotification through the whole flow.
use lib 't/lib';
use NotifyTest;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Key = "Ocp-Apim-Subscription-Key: k-123\n";
our $Json = "Content-Type: application/json\n";
our $App = NotifyTest::bearer(NotifyTest::app_token());
our $Ok = $Key . $Json . $App;

no_shuffle();
no_long_string();
NotifyTest::body_relations();
run_tests();

__DATA__

=== TEST 1: a notification to one user
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /ActivityCenter/app/setExternalNotification {
        notify_subscription_key k-123;
        notify_inbound syntphony;
    }
--- more_headers eval: $::Ok
--- request
POST /ActivityCenter/app/setExternalNotification
{"eventId": "build-failed", "title": "Build 42 failed", "url": "https://ci.example.org/42",
 "notified": "2026-11-22T10:00:00Z", "accounts": ["ada@example.org"], "comment": "red"}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"id":"[0-9a-f]{16}","recipients":1,"unresolved":\[\]\}$
--- error_log
notify: stored notification
--- no_error_log
[error]



=== TEST 2: a group becomes its active members, duplicates once
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/",
 "accounts": ["devs@example.org", "ada@example.org", "DEVS@example.org"]}
--- error_code: 200
--- response_body_like: ^\{"id":"[0-9a-f]{16}","recipients":2,"unresolved":\[\]\}$
--- error_log
for 2 recipients
--- no_error_log
[error]



=== TEST 3: UPNs are case-insensitive; unknown and inactive accounts are listed
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/",
 "accounts": ["BOB@EXAMPLE.ORG", "nobody@example.org", "carol@example.org", "gone@example.org"]}
--- error_code: 200
--- response_body_like: ^\{"id":"[0-9a-f]{16}","recipients":1,"unresolved":\["nobody@example.org","carol@example.org","gone@example.org"\]\}$
--- no_error_log
[error]



=== TEST 4: nobody resolves: 400
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["nobody@example.org", "carol@example.org"]}
--- error_code: 400
--- response_headers
Content-Type: application/problem+json; charset=utf-8
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.","status":400,"traceId":"00-[0-9a-f]{32}-[0-9a-f]{16}-00","errors":\{"accounts":\["None of the accounts resolves to an active user or group: nobody\@example.org, carol\@example.org."\]\}\}$
--- no_error_log
[error]



=== TEST 5: a missing subscription key is the gateway's 401
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_subscription_key k-123 k-456; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{}
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body chomp
{"statusCode":401,"message":"Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}
--- no_error_log
[error]



=== TEST 6: a wrong subscription key, checked before the token
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_subscription_key k-123 k-456; notify_inbound syntphony; }
--- more_headers eval: "Ocp-Apim-Subscription-Key: k-999\n" . $::Json
--- request
POST /n
{}
--- error_code: 401
--- response_body chomp
{"statusCode":401,"message":"Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."}
--- no_error_log
[error]



=== TEST 7: the second key, and the key as a query argument
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_subscription_key k-123 k-456; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
["POST /n?subscription-key=k-456\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"]
--- error_code eval
[200]
--- no_error_log
[error]



=== TEST 8: keys from a file
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_subscription_key_file $TEST_NGINX_SERVER_ROOT/html/keys.txt; notify_inbound syntphony; }
--- user_files
>>> keys.txt
# gateway keys
k-file-1

  k-file-2  
--- more_headers eval: "Ocp-Apim-Subscription-Key: k-file-2\n" . $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}
--- error_code: 200
--- no_error_log
[error]



=== TEST 9: no token: 401 with WWW-Authenticate
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
Content-Type: application/problem+json; charset=utf-8
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7235#section-3.1","title":"Unauthorized","status":401,"traceId":"[^"]+"\}$
--- error_log
notify: unauthenticated
--- no_error_log
[error]



=== TEST 10: an expired token: 401
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::app_token(exp => time - 3600, nbf => time - 7200))
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- no_error_log
[error]



=== TEST 11: a valid token without the app role: 403
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(azp => 'app-x', roles => ['Something.Else']))
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}
--- error_code: 403
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.3","title":"Forbidden","status":403,"traceId":"[^"]+"\}$
--- no_error_log
[error]



=== TEST 12: notify_require_role replaces the default role
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_require_role Notify.Send Notify.All; notify_inbound syntphony; }
--- more_headers eval
[$::Json . NotifyTest::bearer(NotifyTest::token(azp => 'a', roles => ['Notify.All'])),
 $::Json . $::App]
--- request eval
["POST /n\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}",
 "POST /n\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"]
--- error_code eval
[200, 403]
--- no_error_log
[error]



=== TEST 13: only POST, with Allow
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::App
--- request
GET /n
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like: "title":"Method Not Allowed","status":405
--- no_error_log
[error]



=== TEST 14: not JSON content: 415
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval
["Content-Type: text/plain\n" . $::App, $::App,
 "Content-Type: application/vnd.api+json; charset=utf-8\n" . $::App]
--- request eval
["POST /n\n{}", "POST /n\n{}", "POST /n\n{}"]
--- error_code eval
[415, 415, 400]
--- response_body_like eval
[qr/"title":"Unsupported Media Type","status":415/, qr/"status":415/, qr/"status":400/]
--- no_error_log
[error]



=== TEST 15: a body over notify_max_body: 413
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_max_body 1k; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
"POST /n\n{\"eventId\":\"e\",\"title\":\"" . ("x" x 2000) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"
--- error_code: 413
--- response_body_like: "title":"Payload Too Large","status":413
--- no_error_log
[error]



=== TEST 16: a chunked body over notify_max_body: 413 too
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_max_body 1k; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App . "Transfer-Encoding: chunked\n"
--- request eval
my $b = "{\"eventId\":\"e\",\"title\":\"" . ("x" x 2000) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}";
"POST /n\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($b), $b)
--- error_code: 413
--- no_error_log
[error]



=== TEST 16a: notify_max_body, not client_max_body_size, is the limit of a notify_inbound location
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n {
        client_max_body_size 1k;
        notify_max_body 4k;
        notify_inbound syntphony;
    }
--- more_headers eval: $::Json . $::App
--- request eval
"POST /n\n{\"eventId\":\"e\",\"title\":\"" . ("x" x 2000) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"
--- error_code: 200
--- no_error_log
[error]



=== TEST 16b: a body over client_max_body_size gets the dialect's 413, not nginx's page
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { client_max_body_size 1m; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
"POST /n\n{\"eventId\":\"e\",\"title\":\"" . ("x" x (2 * 1024 * 1024)) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"
--- error_code: 413
--- response_headers
Content-Type: application/problem+json; charset=utf-8
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.11","title":"Payload Too Large","status":413,"traceId":"00-[0-9a-f]{32}-[0-9a-f]{16}-00"\}$
--- no_error_log
[error]
client intended to send too large body



=== TEST 16c: so does a chunked one, answered where it passes the limit, the rest neither read nor buffered
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { client_max_body_size 1m; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App . "Transfer-Encoding: chunked\n"
--- request eval
my $b = "{\"eventId\":\"e\",\"title\":\"" . ("x" x (2 * 1024 * 1024)) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}";
"POST /n\n" . CORE::join('', map { sprintf("%x\r\n%s\r\n", length($_), $_) } unpack('(a65536)*', $b)) . "0\r\n\r\n"
--- error_code: 413
--- response_body_like: "title":"Payload Too Large","status":413
--- error_log
larger than notify_max_body (65536), not reading on
--- no_error_log
[error]
client intended to send too large



=== TEST 17: a body in a temporary file is read whole
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    client_body_buffer_size 1k;
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
"POST /n\n{\"eventId\":\"e\",\"title\":\"" . ("y" x 5000) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"
--- error_code: 200
--- response_body_like: "recipients":1
--- no_error_log
[error]



=== TEST 18: not JSON, not an object, empty
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
["POST /n\n{\"eventId\": ", "POST /n\n[1, 2]", "POST /n"]
--- error_code eval
[400, 400, 400]
--- response_body_like eval
[qr/"errors":\{"\$":\[".+Path: \$ \| LineNumber: 0 \| BytePositionInLine: \d+\."\]\}\}$/,
 qr/"errors":\{"\$":\["The JSON value could not be converted to SetExternalNotificationRequest. Path: \$."\]\}\}$/,
 qr/"errors":\{"":\["A non-empty request body is required."\]\}\}$/]
--- no_error_log
[error]



=== TEST 19: every missing field at once
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"uniqueId": "u1", "eventId": "", "title": null}
--- error_code: 400
--- response_body_like: "errors":\{"eventId":\["The eventId field is required."\],"title":\["The title field is required."\],"url":\["The url field is required."\],"accounts":\["The accounts field is required."\]\}\}$
--- no_error_log
[error]



=== TEST 20: every wrong type and format at once
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": 5, "uniqueId": [], "title": "t", "url": "ftp://x.example.org/", "notified": "yesterday",
 "accounts": "ada@example.org", "comment": 3}
--- error_code: 400
--- response_body_like: "errors":\{"eventId":\["The JSON value could not be converted to System.String. Path: \$.eventId."\],"uniqueId":\["The JSON value could not be converted to System.String. Path: \$.uniqueId."\],"url":\["The url field is not a valid fully-qualified http or https URL."\],"notified":\["The JSON value could not be converted to System.DateTime. Path: \$.notified."\],"accounts":\["The JSON value could not be converted to System.String\[\]. Path: \$.accounts."\],"comment":\["The JSON value could not be converted to System.String. Path: \$.comment."\]\}\}$
--- no_error_log
[error]



=== TEST 21: accounts must be non-empty strings
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
["POST /n\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[]}",
 "POST /n\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\", \"\", 3]}"]
--- error_code eval
[400, 400]
--- response_body_like eval
[qr/"errors":\{"accounts":\["The accounts field must contain at least one account."\]\}\}$/,
 qr/"errors":\{"accounts\[1\]":\["The accounts\[1\] field must be a non-empty string."\],"accounts\[2\]":\["The accounts\[2\] field must be a non-empty string."\]\}\}$/]
--- no_error_log
[error]



=== TEST 22: URLs and date-times, good and bad
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
my @r;
for my $c (['https://a.example.org', '2026-11-22T10:00:00Z'],
           ['HTTP://a.example.org:8080/x?y#z', '2026-11-22T10:00:00.123+01:00'],
           ['https://a.example.org/p', '2024-02-29'],
           ['https://a.example.org/p', '2026-11-22 10:00'],
           ['https://', '2026-11-22T10:00:00Z'],
           ['https://a b.example.org', '2026-11-22T10:00:00Z'],
           ['/relative', '2026-11-22T10:00:00Z'],
           ['https://a.example.org', '2023-02-29T10:00:00Z'],
           ['https://a.example.org', '2026-13-01T10:00:00Z'],
           ['https://a.example.org', '2026-11-22T25:00:00Z'],
           ['https://a.example.org', '2026-11-22T10:00:00+1'])
{
    push @r, "POST /n\n{\"eventId\":\"e\",\"title\":\"t\",\"url\":\"$c->[0]\",\"notified\":\"$c->[1]\",\"accounts\":[\"u-ada\"]}";
}
\@r
--- error_code eval
[200, 200, 200, 200, 400, 400, 400, 400, 400, 400, 400]
--- no_error_log
[error]



=== TEST 23: unknown fields are ignored; null optional fields are fine
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org", "accounts": ["u-ada"],
 "extra": {"deep": [1, 2, 3]}, "comment": null, "notified": null, "uniqueId": null}
--- error_code: 200
--- no_error_log
[error]



=== TEST 24: the same eventId and uniqueId again: the same answer, stored once
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound syntphony; }
    location = /echo { return 200 "$request_body"; }
--- more_headers eval: $::Json . $::App
--- request eval
["POST /n\n{\"eventId\":\"idem\",\"uniqueId\":\"once\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\", \"nobody\"]}",
 "POST /n\n{\"eventId\":\"idem\",\"uniqueId\":\"once\",\"title\":\"t2\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\", \"nobody\"]}",
 "POST /n\n{\"eventId\":\"idem\",\"uniqueId\":\"twice\",\"title\":\"t\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\", \"nobody\"]}"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"([0-9a-f]{16})","recipients":1,"unresolved":\["nobody"\]\}$/,
 qr/^\{"id":"([0-9a-f]{16})","recipients":1,"unresolved":\["nobody"\]\}$/,
 qr/^\{"id":"([0-9a-f]{16})","recipients":1,"unresolved":\["nobody"\]\}$/]
--- body_same eval
[undef, 0, undef]
--- body_differs eval
[undef, undef, 0]
--- no_error_log
[error]



=== TEST 25: a full store: 503 in the dialect's shape, and the log says why
--- skip_eval: 4: NotifyTest::lmdb_only()
--- http_config eval: ::conf("$ENV{TEST_NGINX_STORE}-small max_size=64k")
--- config
    location = /n { notify_max_body 256k; notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request eval
"POST /n\n{\"eventId\":\"e\",\"title\":\"" . ("z" x 100000) . "\",\"url\":\"http://x.example.org\",\"accounts\":[\"u-ada\"]}"
--- error_code: 503
--- response_headers
Content-Type: application/problem+json; charset=utf-8
--- response_body_like: ^\{"type":"https://tools.ietf.org/html/rfc7231#section-6.6.4","title":"Service Unavailable","status":503,"traceId":"[^"]+"\}$
--- error_log
notify: store write failed: MDB_MAP_FULL



=== TEST 26: an unknown dialect
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_inbound carrier-pigeon; }
--- must_die
--- error_log
unknown dialect "carrier-pigeon" in "notify_inbound"



=== TEST 27: notify_inbound needs a store
--- http_config
    notify_directory $TEST_NGINX_DATA_DIR/hub/directory.json;
--- config
    location = /n { notify_inbound syntphony; }
--- must_die
--- error_log
"notify_inbound" needs "notify_store" at http level



=== TEST 28: notify_inbound needs a directory
--- http_config
    notify_store $TEST_NGINX_STORE;
--- config
    location = /n { notify_inbound syntphony; }
--- must_die
--- error_log
"notify_inbound" needs "notify_directory" at http level



=== TEST 29: a bad max_size and a bad parameter of notify_store
--- http_config
    notify_store $TEST_NGINX_STORE max_size=1k;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
invalid max_size "1k" of notify_store, it must be a size of at least 16k



=== TEST 30: a missing key file
--- http_config eval: $ENV{TEST_NGINX_HUB}
--- config
    location = /n { notify_subscription_key_file /nonexistent/keys.txt; notify_inbound syntphony; }
--- must_die
--- error_log
open() "/nonexistent/keys.txt" failed



=== TEST 31: max_size takes k, m and g
--- skip_eval: 2: NotifyTest::lmdb_only()
--- http_config eval: ::conf("$ENV{TEST_NGINX_STORE}-g max_size=2g")
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::Json . $::App
--- request
POST /n
{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}
--- error_code: 200
--- no_error_log
[error]



=== TEST 35: a token without azp or appid, only client_id (RFC 9068): the sender is the client_id
--- http_config eval: $ENV{TEST_NGINX_HUB} . $NotifyTest::PushHttp
--- config eval: "    location = /n { notify_inbound syntphony; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{client_id}[0]}, roles => ['access_as_application']))
--- request eval: "POST /n\n" . '{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{client_id}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory



=== TEST 36: a token without azp or appid, only sub: the sender is the sub
--- http_config eval: $ENV{TEST_NGINX_HUB} . $NotifyTest::PushHttp
--- config eval: "    location = /n { notify_inbound syntphony; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{sub}[0]}, roles => ['access_as_application']))
--- request eval: "POST /n\n" . '{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{sub}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory



=== TEST 37: a token without azp or appid, neither azp, appid, client_id nor sub: the sender is null
--- http_config eval: $ENV{TEST_NGINX_HUB} . $NotifyTest::PushHttp
--- config eval: "    location = /n { notify_inbound syntphony; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{none}[0]}, roles => ['access_as_application']))
--- request eval: "POST /n\n" . '{"eventId": "e", "title": "t", "url": "http://x.example.org/", "accounts": ["u-ada"]}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{none}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory
