# The circuit breaker of a target (notify_delivery_breaker): failed
# attempts in a row open it; open, no first attempt is made (the caller's
# connection is not held either) and the timer attempts nothing until the
# cool-down ends; then one attempt probes it: delivered closes it, failed
# opens it again.  A 410 Gone disables the target until it is enabled from
# notify_outbox.  Its state in the outbox admin, the metrics and the log.
# The target's rate (notify_delivery_rate), a token bucket in the same
# shared zone: what has no token waits in the outbox.
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use Test::Nginx::Socket 'no_plan';

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub post {
    my ($event) = @_;
    return "POST /n\n" . encode_json({eventId => $event, title => 't',
                                      url => 'http://x.example.org/', accounts => ['u-ada']});
}

sub delivery { NotifyTest::delivery(@_) }

our $Server = $NotifyTest::DeliveryServer
              . "    location = /metrics { notify_metrics; }\n";

no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

my @r = Downstream::requests('/fail/500/1000/t1');
is(scalar @r, 2, 'TEST 1: two attempts reached the downstream, none while open');
is(scalar(Downstream::requests('/t9-rate')), 1, 'TEST 9: one attempt in the minute');
is(scalar(Downstream::requests('/t10-rate')), 3, 'TEST 10: the burst, and no more');
is(scalar(Downstream::requests("/slow/300/t14")), 3, "TEST 14: each notification reached the slow downstream once");

__DATA__

=== TEST 1: two failed attempts in a row open it: the third notification gets no first attempt (on one keep-alive connection, so that each outcome is in before the next request); the outbox admin and the metrics show it open
--- http_config eval
::conf('t1', ::delivery('/fail/500/1000/t1', "    notify_delivery_breaker 2 60s;\n    notify_delivery_retry 60s 60s;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3'), "GET /outbox/targets", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001",/, qr/^\{"id":"0000000000000002",/, qr/^\{"id":"0000000000000003",/,
 qr/^\{"targets":\[\{(?=.*"name":"push")(?=.*"breaker":"open")(?=.*"failures":2)(?=.*"opened":1)(?=.*"next_probe":"\d{4}-\d\d-\d\dT[\d:.]+Z")/,
 qr/^notify_breaker_state\{target="push"\} 1$/m]
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500
notify: delivery of 0000000000000002 failed (attempt 1): HTTP 500
notify: target "push": breaker open after 2 failed attempts in a row; nothing is attempted for 60000ms
--- access_log
POST /n 200 delivery=failed
POST /n 200 delivery=failed
POST /n 200 delivery=queued



=== TEST 2: the cool-down ends: one attempt probes; it fails, the breaker opens again; the next probe is delivered, the breaker closes and the rest is delivered
--- http_config eval
::conf('t2', ::delivery('/fail/500/3', "    notify_delivery_breaker 2 200ms;\n    notify_delivery_retry 100ms 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2')]
--- error_code eval
[200, 200]
--- wait: 4
--- error_log
notify: target "push": breaker open after 2 failed attempts in a row
notify: target "push": breaker half-open, one attempt probes it
notify: target "push": the probe failed, breaker open again; nothing is attempted for 200ms
notify: target "push": breaker closed, the target answers again
notify: delivered 0000000000000001
notify: delivered 0000000000000002



=== TEST 3: (the same store) closed: the outbox admin and the metrics say so, and a notification gets its first attempt
--- http_config eval
::conf('t2', ::delivery('/ok', "    notify_delivery_breaker 2 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e3'), "GET /outbox/targets", "GET /metrics"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000003",/,
 qr/^\{"targets":\[\{(?=.*"name":"push")(?=.*"breaker":"closed")(?=.*"failures":0)(?!.*next_probe)/,
 qr/^notify_breaker_state\{target="push"\} 0$/m]
--- access_log
POST /n 200 delivery=delivered



=== TEST 4: notify_delivery_breaker off: failures never stop the first attempts
--- http_config eval
::conf('t4', ::delivery('/fail/500/1000/t4', "    notify_delivery_breaker off;\n    notify_delivery_retry 60s 60s;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3'), ::post('e4'), ::post('e5'), ::post('e6'), "GET /outbox/targets"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"id"/, qr/"id"/, qr/"id"/, qr/"id"/, qr/"id"/, qr/"id"/, qr/"breaker":"off"/]
--- access_log
POST /n 200 delivery=failed
POST /n 200 delivery=failed
POST /n 200 delivery=failed
POST /n 200 delivery=failed
POST /n 200 delivery=failed
POST /n 200 delivery=failed
--- error_log
notify: delivery of 0000000000000006 failed (attempt 1): HTTP 500
--- no_error_log
breaker open



=== TEST 5: bad values
--- http_config eval: ::conf('t5') . "    notify_delivery_breaker 0 1s;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid number of failures "0" in "notify_delivery_breaker", it must be 1 or more



=== TEST 6: a cool-down that is no time
--- http_config eval: ::conf('t6') . "    notify_delivery_breaker 3 soon;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid cool-down "soon" in "notify_delivery_breaker", it must be a time more than 0



=== TEST 7: one argument is "off" or nothing
--- http_config eval: ::conf('t7') . "    notify_delivery_breaker 3;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
"notify_delivery_breaker" directive takes a number of failures and a time, or "off"



=== TEST 8: 410 Gone disables the target: no first attempt, no retry; the outbox admin and the metrics say so; enabled again from notify_outbox, what waited is delivered
--- http_config eval
::conf('t8', ::delivery('/fail/gone/1', "    notify_delivery_retry 100ms 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), "GET /outbox/targets", "GET /metrics", "POST /outbox/targets/push/enable",
 ::post('e3'), "GET /outbox/targets", "POST /outbox/targets/nope/enable", "GET /outbox/targets/push/enable"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404, 405]
--- response_body_like eval
[qr/^\{"id":"0000000000000001",/, qr/^\{"id":"0000000000000002",/,
 qr/^\{"targets":\[\{(?=.*"name":"push")(?=.*"breaker":"disabled")/,
 qr/^notify_breaker_state\{target="push"\} 3$/m,
 qr/^\{"name":"push","breaker":"closed"\}$/,
 qr/^\{"id":"0000000000000003",/,
 qr/"breaker":"closed"/, qr/"NotFound"/, qr/405/]
--- wait: 3
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 410
notify: target "push" answered 410 Gone: disabled, nothing is attempted until it is enabled again (notify_outbox)
notify: target "push" enabled again
notify: delivered 0000000000000001
notify: delivered 0000000000000002
notify: delivered 0000000000000003
--- access_log
POST /n 200 delivery=failed
POST /n 200 delivery=queued
POST /n 200 delivery=delivered



=== TEST 9: notify_delivery_rate 1r/m: the first notification is delivered at once, the next two have no token and wait in the outbox (on either path)
--- http_config eval
::conf('t9', ::delivery('/t9-rate', "    notify_delivery_rate 1r/m;\n    notify_delivery_retry 100ms 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3'), "GET /outbox"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[qr/"id"/, qr/"id"/, qr/"id"/,
 qr/^\{"items":\[(?=.*"id":"0000000000000002")(?=.*"id":"0000000000000003")(?!.*"id":"0000000000000001")/]
--- wait: 1.5
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
delivered 0000000000000002
delivered 0000000000000003
--- access_log
POST /n 200 delivery=delivered
POST /n 200 delivery=queued
POST /n 200 delivery=queued



=== TEST 10: burst=2: three at once, the fourth waits
--- http_config eval
::conf('t10', ::delivery('/t10-rate', "    notify_delivery_rate 1r/m burst=2;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3'), ::post('e4')]
--- error_code eval
[200, 200, 200, 200]
--- wait: 1
--- error_log
notify: delivered 0000000000000003 (attempt 1)
--- no_error_log
delivered 0000000000000004
--- access_log
POST /n 200 delivery=delivered
POST /n 200 delivery=delivered
POST /n 200 delivery=delivered
POST /n 200 delivery=queued



=== TEST 11: a rate is requests per second or per minute
--- http_config eval: ::conf('t11') . "    notify_delivery_rate 5;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid rate "5" in "notify_delivery_rate", it must be like "5r/s" or "10r/m"



=== TEST 12: burst is a number
--- http_config eval: ::conf('t12') . "    notify_delivery_rate 5r/s burst=many;\n"
--- config
    location = /x { return 204; }
--- must_die
--- error_log
invalid parameter "burst=many" in "notify_delivery_rate", it must be "burst=<number>"



=== TEST 13: 429 with Retry-After waits as long as asked (2s, where the backoff would say 100ms), on the first attempt's path too; one 429 does not open the breaker
--- http_config eval
::conf('t13', ::delivery('/fail/limited/1', "    notify_delivery_breaker 1 60s;\n    notify_delivery_retry 100ms 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('e1')
--- wait: 4
--- error_code: 200
--- error_log
failed (attempt 1): HTTP 429; next in 2000ms
notify: delivered 0000000000000001 (attempt 2)



=== TEST 14: a downstream that answers, but later than a fifth of first_timeout (300ms of 500ms): the next notifications get no first attempt (a keep-alive caller is not held for each), the timer delivers them
--- http_config eval
::conf('t14', ::delivery('/slow/300/t14', "    notify_delivery_retry 100ms 200ms;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), ::post('e3')]
--- error_code eval
[200, 200, 200]
--- wait: 3
--- error_log
notify: target "push": a first attempt held its caller
more than a fifth of its first_timeout; its first attempts are left to the timer for 30000ms
notify: delivered 0000000000000001 (attempt 1)
notify: delivered 0000000000000002 (attempt 1)
notify: delivered 0000000000000003 (attempt 1)
--- access_log
POST /n 200 delivery=delivered
POST /n 200 delivery=queued
POST /n 200 delivery=queued



=== TEST 15: with notify_delivery_breaker off, a slow downstream keeps its first attempts
--- http_config eval
::conf('t15', ::delivery('/slow/300/t15', "    notify_delivery_breaker off;"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2')]
--- error_code eval
[200, 200]
--- access_log
POST /n 200 delivery=delivered
POST /n 200 delivery=delivered
--- no_error_log
a first attempt held its caller
