# Delivery: the outbox, the first attempt as a subrequest, retries with
# libcurl from the timer, expiry, per-tenant type flags, restarts.
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use IO::Socket::INET;
use Test::Nginx::Socket 'no_plan';

our ($Hang, $Refused);

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    # a downstream that accepts connections (the kernel completes them into
    # its queue) and never answers; and a port where nothing listens
    $Hang = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "cannot listen: $!";
    $ENV{TEST_NGINX_HANG} = $Hang->sockport;

    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "cannot listen: $!";
    $ENV{TEST_NGINX_REFUSED} = $s->sockport;
    close $s;
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub post {
    my ($event, $title) = @_;
    return "POST /n\n" . encode_json({eventId => $event // 'e', title => $title // 't',
                                      url => 'http://x.example.org/', accounts => ['u-ada']});
}

# the delivery directives for conf(): pushes to the downstream's <path>
sub delivery {
    my ($path, $extra) = @_;
    return NotifyTest::delivery($path, "    notify_delivery_retry 300ms 1s;\n"
                                       . ($extra // ''));
}

our $Server = $NotifyTest::DeliveryServer;

no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

# what the downstream got: the same request on both paths, every retry
# with the same idempotency key
my @r = Downstream::requests('/fail/500/2');
is(scalar @r, 3, 'three attempts reached the downstream');
is_deeply([map { $_->{headers}{'idempotency-key'} } @r],
          [('notify-0000000000000001') x 3], 'one idempotency key for all attempts');
for my $r (@r) {
    is($r->{method}, 'POST', 'POST');
    is($r->{headers}{'user-agent'}, 'DataNotifier', 'User-Agent');
    is($r->{headers}{'content-type'}, 'application/json', 'Content-Type');
    is($r->{headers}{'authorization'}, 'push-secret-jwt', 'Authorization, no Bearer');
    my $b = decode_json($r->{body});
    is($b->{id}, '0000000000000001', 'the notification id');
    is($b->{event}, 'e', 'its event');
    is_deeply($b->{recipients}, ['u-ada'], 'its recipients');
    ok(!exists $r->{headers}{'ocp-apim-subscription-key'} && !exists $r->{headers}{'x-caller'},
       "nothing of the caller's headers");
}
is($r[0]{body}, $r[1]{body}, 'the subrequest and curl send the same body');

__DATA__

=== TEST 1: delivered through the subrequest, to another server of the same nginx
--- http_config eval
::conf('t1', ::delivery('')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;}r
. q{
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /push { return 200 '{"Success": true, "Code": "0", "Message": "OK"}'; }
    }
}
--- config eval: $::Server
--- more_headers eval: $::App . "X-Caller: secret\n"
--- request eval: ::post()
--- wait: 0.5
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- access_log
POST /n 200 delivery=delivered
--- no_error_log
[error]
[warn]



=== TEST 2: the exact request the downstream gets
--- http_config eval
::conf('t2', ::delivery('')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;}r
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('build.failed', 'Red')
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\nConnection: close\r\n\r\n{\"Success\":true,\"Code\":\"0\",\"Message\":\"OK\"}"
--- tcp_query eval
qr{^POST /push HTTP/1\.0\r
Host: 127\.0\.0\.1:\d+\r
Connection: close\r
Content-Length: (\d+)\r
User-Agent: DataNotifier\r
Content-Type: application/json\r
Idempotency-Key: notify-0000000000000001\r
Authorization: push-secret-jwt\r
\r
\{"id":"0000000000000001","dialect":"syntphony","event":"build\.failed","title":"Red","url":"http://x\.example\.org/","comment":null,"notified":null,"created":"[^"]+","sender":"app-ci","tenant":"localhost","recipients":\["u-ada"\],"Type":"8","WorkItem":\{"Id":"0000000000000001","Title":"Red"\},"Url":"http://x\.example\.org/"\}$}s
--- tcp_query_auto_timeout: 0.1
--- wait: 0.5
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
[error]



=== TEST 3: a 500 twice, then delivered by the retries, with no request in between
--- http_config eval: ::conf('t3', ::delivery('/fail/500/2'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 4
--- error_code: 200
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500
notify: delivery of 0000000000000001 failed (attempt 2): HTTP 500
notify: delivered 0000000000000001 (attempt 3)
--- access_log
POST /n 200 delivery=failed
--- no_error_log
[error]



=== TEST 4: Success false is not delivered; the downstream's Code and Message are logged
--- http_config eval: ::conf('t4', ::delivery('/fail/false/1'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 3
--- error_code: 200
--- error_log
failed (attempt 1): HTTP 200, Success false, Code "12", Message "work item locked"
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 5: an unreadable answer is not delivered
--- http_config eval: ::conf('t5', ::delivery('/fail/garbage/1'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 3
--- error_code: 200
--- error_log
failed (attempt 1): HTTP 200, unreadable answer
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 6: no answer at all, twice (subrequest, then curl)
--- http_config eval: ::conf('t6', ::delivery('/fail/close/2'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 4
--- error_code: 200
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1)
notify: delivery of 0000000000000001 failed (attempt 2): no answer
notify: delivered 0000000000000001 (attempt 3)



=== TEST 7: 503 with Retry-After waits as long as asked
--- http_config eval: ::conf('t7', ::delivery('/fail/busy/1'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 3
--- error_code: 200
--- error_log
failed (attempt 1): HTTP 503; next in 1000ms
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 8: Code 0 as a number counts as success
--- http_config eval: ::conf('t8', ::delivery('/int'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 0.5
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
[error]
[warn]



=== TEST 9: without a delivery location, the timer sends the first attempt too
--- http_config eval: ::conf('t9', ::delivery('/ok'))
--- config
    location = /n { notify_inbound syntphony; }
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 2
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
[error]



=== TEST 10: what is not delivered in time expires, and leaves the outbox
--- http_config eval: ::conf('t10', ::delivery('/fail/500/1000', '    notify_push_days_before 2s;'))
--- config eval: $::Server
--- more_headers eval: [$::App, '']
--- request eval: [::post(), "GET /outbox"]
--- wait: 4
--- error_code eval: [200, 200]
--- response_body_like eval: [qr/"recipients":1/, qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivery of 0000000000000001 expired
--- no_error_log
[error]



=== TEST 11: per-tenant type flags: the tenant's flag wins over the global one
--- http_config eval: ::conf('t11', ::delivery('/ok', "    notify_push_type e off;\n    notify_push_type e on tenant=acme;\n    notify_push_type f off tenant=acme;"))
--- config eval: "    notify_tenant \$http_x_tenant;\n" . $::Server
--- more_headers eval
[$::App . "X-Tenant: acme\n", $::App . "X-Tenant: other\n", $::App . "X-Tenant: other\n", $::App . "X-Tenant: acme\n"]
--- request eval: [::post('e'), ::post('e'), ::post('f'), ::post('f')]
--- wait: 0.5
--- error_code eval: [200, 200, 200, 200]
--- no_error_log
[error]



=== TEST 12: (the same nginx) what of TEST 11 was pushed
--- request
GET /outbox
--- response_body chomp
{"items":[]}
--- error_log
notify: delivered 0000000000000001 (attempt 1)
notify: delivered 0000000000000003 (attempt 1)
--- no_error_log
delivered 0000000000000002
delivered 0000000000000004
[error]
--- access_log
POST /n 200 delivery=delivered
POST /n 200 delivery=off



=== TEST 13: notify_push_default off turns off the types without a flag
--- http_config eval: ::conf('t12', ::delivery('/ok', "    notify_push_default off;\n    notify_push_type e on;"))
--- config eval: $::Server
--- more_headers eval: [$::App, $::App]
--- request eval: [::post('e'), ::post('other')]
--- wait: 0.5
--- error_code eval: [200, 200]
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
delivered 0000000000000002
[error]



=== TEST 14: pending when nginx stops
--- http_config eval: ::conf('restart', ::delivery('/fail/500/1', '    notify_delivery_retry 4s 4s;')) =~ s/\s*notify_delivery_retry 300ms 1s;//r
--- config eval: $::Server
--- more_headers eval: [$::App, '']
--- request eval: [::post(), "GET /outbox"]
--- wait: 0.5
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/"recipients":1/, qr/^\{"items":\[\{"id":"0000000000000001","attempts":1,"next_attempt":"[^"]+","created":"[^"]+","expires":"[^"]+","last_error":"HTTP 500","notification":"0000000000000001","target":"push","part":0\}\]\}$/]
--- no_error_log
delivered
[error]



=== TEST 15: delivered after the restart, with no inbound notification
--- http_config eval: ::conf('restart', ::delivery('/fail/500/1', '    notify_delivery_retry 4s 4s;')) =~ s/\s*notify_delivery_retry 300ms 1s;//r
--- config eval: $::Server
--- request
GET /outbox
--- wait: 6
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 16: the outbox: list, retry now, drop
--- http_config eval: ::conf('t15', ::delivery('/fail/500/1000', '    notify_delivery_retry 60s 60s;')) =~ s/\s*notify_delivery_retry 300ms 1s;//r
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '', '']
--- request eval
[::post(), "GET /outbox", "POST /outbox/0000000000000001/retry", "DELETE /outbox/0000000000000001",
 "GET /outbox", "DELETE /outbox/0000000000000001", "GET /outbox/0000000000000001"]
--- wait: 0.3
--- error_code eval: [200, 200, 200, 200, 200, 404, 405]
--- response_body_like eval
[qr/"recipients":1/, qr/"id":"0000000000000001","attempts":1,/,
 qr/^\{"id":"0000000000000001","state":"retrying"\}$/, qr/^\{"id":"0000000000000001","state":"dropped"\}$/,
 qr/^\{"items":\[\]\}$/, qr/"code":"NotFound"/, qr/405/]
--- no_error_log
[error]



=== TEST 17: the push directives are http{} level only
--- http_config eval: ::conf('t16')
--- config
    notify_push_url http://127.0.0.1:1/push;
--- must_die
--- error_log
"notify_push_url" directive is not allowed here



=== TEST 18: notify_push_days_before and notify_push_type in a location
--- http_config eval: ::conf('t17')
--- config
    location = /x { notify_push_type e on; }
--- must_die
--- error_log
"notify_push_type" directive is not allowed here



=== TEST 19: bad values
--- http_config eval: ::conf('t18') . "    notify_push_url ftp://x/;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
"notify_push_url" must be an http or https URL, not "ftp://x/"



=== TEST 20: a bad flag value
--- http_config eval: ::conf('t19') . "    notify_push_type e maybe;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid value "maybe" of "notify_push_type", it must be "on" or "off"



=== TEST 21: a bad number of days
--- http_config eval: ::conf('t20') . "    notify_push_days_before soon;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid value "soon" of "notify_push_days_before"



=== TEST 22: notify_outbox is not for regex locations
--- http_config eval: ::conf('t22')
--- config
    location ~ ^/out { notify_outbox; }
--- must_die
--- error_log
"notify_outbox" directive cannot be used in a regex location



=== TEST 23: nor for named ones
--- http_config eval: ::conf('t22')
--- config
    location @out { notify_outbox; }
--- must_die
--- error_log
"notify_outbox" directive cannot be used in a named location



=== TEST 24: notify_outbox twice in one place is an error
--- http_config eval: ::conf('t22')
--- config
    location /outbox { notify_outbox; notify_outbox; }
--- must_die
--- error_log
"notify_outbox" directive is duplicate



=== TEST 25: notify_outbox needs a store, and says so in its own name
--- http_config
--- config
    location /outbox { notify_outbox; }
--- must_die
--- error_log
"notify_outbox" needs "notify_store" at http level



=== TEST 26: the delivery subrequest carries nothing of the caller's request: not its cookies, not its X-Forwarded-For, not its Host
--- http_config eval
::conf('t26', ::delivery('')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;}r
--- config
    notify_delivery_location /_deliver;
    location = /_deliver {
        internal;
        proxy_pass $notify_target_url;
        proxy_set_header X-Cookie "[$http_cookie][$cookie_session]";
        proxy_set_header X-Fwd "[$proxy_add_x_forwarded_for][$http_x_forwarded_for]";
        proxy_set_header X-Host "[$http_host][$http_referer][$http_user_agent]";
        proxy_read_timeout 2s;
    }
    location = /n { notify_inbound syntphony; }
--- more_headers eval
$::App . "Cookie: session=secret-cookie\nX-Forwarded-For: 10.9.8.7\nReferer: http://caller.example/\nHost: caller.example\n"
--- request eval: ::post()
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\nConnection: close\r\n\r\n{\"Success\":true,\"Code\":\"0\",\"Message\":\"OK\"}"
--- tcp_query eval
qr{\APOST /push HTTP/1\.0\r
X-Cookie: \[\]\[\]\r
X-Fwd: \[127\.0\.0\.1\]\[\]\r
X-Host: \[\]\[\]\[DataNotifier\]\r
Host: 127\.0\.0\.1:\d+\r
Connection: close\r
Content-Length: \d+\r
User-Agent: DataNotifier\r
}s
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]



=== TEST 27: a notification that cannot be built (a tenant of invalid UTF-8, from a header) is a 500 in the dialect's shape, and takes no place for a first attempt: with one place, the next notification still gets its subrequest
--- http_config eval
::conf('t27', ::delivery('', '    notify_delivery_concurrency 1;')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;}r
. q{
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /push { return 200 '{"Success": true, "Code": "0", "Message": "OK"}'; }
    }
}
--- config eval
"    notify_tenant \$http_x_tenant;\n"
. $::Server =~ s|location = /n \{ |location = /n { add_header X-Delivery \$notify_delivery_status always; |r
--- more_headers eval
[$::App . "X-Tenant: t-\xff\n", $::App . "X-Tenant: t-1\n"]
--- request eval
[::post('e1'), ::post('e2')]
--- error_code eval
[500, 200]
--- response_headers eval
["X-Delivery:", "X-Delivery: pending"]
--- response_body_like eval
[qr/^\{"type":"[^"]+","title":"An error occurred while processing your request\.","status":500,/, qr/^\{"id":"0000000000000001",/]
--- error_log
the notification could not be built: Invalid UTF-8 string in "tenant"



=== TEST 28: a downstream that accepts and never answers holds no keep-alive caller: every request on one connection is answered, each first attempt ends at notify_delivery_first_timeout (not at the delivery location's proxy_read_timeout), and its entry stays in the outbox
--- http_config eval
::conf('t28', ::delivery('', '    notify_delivery_first_timeout 100ms;')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:$ENV{TEST_NGINX_HANG}/push;}r
--- config eval: $::Server =~ s/proxy_read_timeout 2s/proxy_read_timeout 300s/r
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3'), "GET /outbox"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001",/, qr/^\{"id":"0000000000000002",/, qr/^\{"id":"0000000000000003",/,
 qr/^(?=.*"id":"0000000000000001")(?=.*"id":"0000000000000002")(?=.*"id":"0000000000000003")/s]
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): no answer: none within notify_delivery_first_timeout
notify: delivery of 0000000000000002 failed (attempt 1): no answer: none within notify_delivery_first_timeout
notify: delivery of 0000000000000003 failed (attempt 1): no answer: none within notify_delivery_first_timeout



=== TEST 29: a downstream that refuses connections: every request on one keep-alive connection is answered, the entries stay in the outbox
--- http_config eval
::conf('t29', ::delivery('')) =~ s{\Qnotify_push_url \E\S+}{notify_push_url http://127.0.0.1:$ENV{TEST_NGINX_REFUSED}/push;}r
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), "GET /outbox"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001",/, qr/^\{"id":"0000000000000002",/,
 qr/^(?=.*"id":"0000000000000001")(?=.*"id":"0000000000000002")/s]
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): no answer
notify: delivery of 0000000000000002 failed (attempt 1): no answer



=== TEST 30: notify_delivery_first_timeout is more than 0
--- http_config eval: ::conf('t30') . "    notify_delivery_first_timeout 0;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
"notify_delivery_first_timeout" must be more than 0
