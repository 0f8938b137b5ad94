# Many targets: every notify_target (and notify_push_url's "push") is a
# target; notify_route decides which of them get a notification; each
# (notification, target) is an outbox entry of its own, attempted, retried,
# expired, listed, retried now and dropped on its own; a hanging target
# keeps its own places and breaker and never holds up another; a reload
# that removes a target keeps its entries, one that reorders the targets
# keeps their breakers (found by name).
#
# The reload blocks write their targets into an included file: the block's
# "--- initial_targets" before nginx starts, and after request N an element
# N of "--- reload_targets", then SIGHUP to the master (as t/050).
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use IO::Socket::INET;
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

our ($Hang, $Files);

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    # a downstream that accepts connections and never answers
    $Hang = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "cannot listen: $!";
    $ENV{TEST_NGINX_HANG} = $Hang->sockport;

    $Files = tempdir('notify-targets-XXXXXX', TMPDIR => 1, CLEANUP => 1);
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub post {
    my ($event, $tenant) = @_;
    return "POST /n" . (defined $tenant ? "?tenant=$tenant" : '') . "\n" . encode_json({eventId => $event // 'e', title => 't',
                                      url => 'http://x.example.org/', accounts => ['u-ada']});
}

# a push-dialect target at the downstream's <path>, with <auth>, then <extra>
sub target {
    my ($name, $path, $auth, $extra) = @_;
    my $url = $path =~ m{^http} ? $path : "$ENV{TEST_NGINX_DOWNSTREAM}$path";
    return "    notify_target $name {\n        dialect push;\n        url $url;\n"
           . (defined $auth ? "        authorization $auth;\n" : '')
           . ($extra // '') . "    }\n";
}

# the hub's http{} part: the store <store>, then <extra>
sub hub {
    my ($store, $extra) = @_;
    return ::conf($store, "    notify_delivery_retry 300ms 1s;\n"
                          . "    notify_delivery_timeout 2s;\n"
                          . "    log_format delivery '\$request_method \$uri"
                          . " \$status delivery=\$notify_delivery_status';\n"
                          . ($extra // ''));
}

our $Server = $NotifyTest::DeliveryServer
              . "    notify_tenant \$arg_tenant;\n"
              . "    location = /metrics { notify_metrics; }\n";

# the reload blocks' included file
sub targets_file { return NotifyTest::targets_file(@_) }

NotifyTest::reload_targets($Files);

master_on();
workers(1);
no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

# TEST 1: each target got the notification with its own Authorization, and
# the idempotency key of a single-part entry
for my $t (['a', 'token-a'], ['b', 'token-b']) {
    my @r = Downstream::requests("/t1/$t->[0]");
    is(scalar @r, 1, "TEST 1: target $t->[0] got one request");
    is($r[0]{headers}{authorization}, $t->[1], "TEST 1: target $t->[0]'s Authorization");
    is($r[0]{headers}{'idempotency-key'}, 'notify-0000000000000001',
       "TEST 1: target $t->[0]'s idempotency key");
    is(decode_json($r[0]{body})->{id}, '0000000000000001', "TEST 1: target $t->[0]'s body");
}

# TEST 2: what each route let through
for my $t (['a', ['e1']], ['b', []], ['c', ['e2']], ['d', ['e1']]) {
    is_deeply([map { decode_json($_->{body})->{event} } Downstream::requests("/t2/$t->[0]")],
              $t->[1], "TEST 2: what target $t->[0] got");
}

# TEST 6: the healthy target got all three while the other hung
is(scalar(Downstream::requests('/t6/ok')), 3, 'TEST 6: the healthy target got all three');

__DATA__

=== TEST 1: two targets of the push dialect both receive, each with its own Authorization; no notify_push_url
--- http_config eval
::hub('t1', ::target('a', '/t1/a', 'token-a') . ::target('b', '/t1/b', 'token-b'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post()
--- wait: 0.5
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "a"
notify: delivered 0000000000000001 (attempt 1); target "b"
--- access_log
POST /n 200 delivery=delivered
--- no_error_log
[error]
[warn]



=== TEST 2: routes by event, dialect and tenant, and off; a target no route names gets everything
--- http_config eval
::hub('t2', ::target('a', '/t2/a') . ::target('b', '/t2/b') . ::target('c', '/t2/c')
            . ::target('d', '/t2/d') . <<'CONF')
    notify_route a event=e1;
    notify_route b dialect=gever;
    notify_route c event=e1 off;
    notify_route c;
    notify_route d tenant=acme dialect=syntphony;
CONF
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval: [::post('e1', 'acme'), ::post('e2', 'other')]
--- wait: 0.5
--- error_code eval: [200, 200]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "a"
notify: delivered 0000000000000002 (attempt 1); target "c"
notify: delivered 0000000000000001 (attempt 1); target "d"
--- no_error_log
target "b"
0000000000000002 (attempt 1); target "a"
0000000000000001 (attempt 1); target "c"
0000000000000002 (attempt 1); target "d"
[error]



=== TEST 3: notify_push_url is the target "push": routes name it, and notify_push_type still applies to it; a notification no target gets is not in the outbox
--- http_config eval
::hub('t3', "    notify_push_url $ENV{TEST_NGINX_DOWNSTREAM}/t3/push;\n"
            . "    notify_push_type e3 off;\n"
            . "    notify_route push event=e1 off;\n"
            . "    notify_route push;\n")
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval: [::post('e1'), ::post('e2'), ::post('e3'), 'GET /outbox']
--- wait: 0.5
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval: [qr/"recipients":1/, qr/"recipients":1/, qr/"recipients":1/, qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivered 0000000000000002 (attempt 1); target "push"
--- no_error_log
delivered 0000000000000001
delivered 0000000000000003
[error]
--- access_log
POST /n 200 delivery=off
POST /n 200 delivery=delivered
POST /n 200 delivery=off
GET /outbox 200 delivery=



=== TEST 4: a route naming an unknown target is an error of the configuration
--- http_config eval
::hub('t4', ::target('a', '/t4/a') . "    notify_route nope event=e1;\n")
--- config eval: $::Server
--- must_die
--- error_log
"notify_route" names the unknown target "nope"



=== TEST 5: a route's parameters are checked
--- http_config eval
::hub('t5bad', ::target('a', '/t5/a') . "    notify_route a colour=red;\n")
--- config eval: $::Server
--- must_die
--- error_log
invalid parameter "colour=red" of "notify_route"



=== TEST 6: a target that accepts and never answers holds its own place only: the healthy one gets every notification at the first attempt, on one keep-alive connection; the hanging one's entries wait in the outbox
--- http_config eval
::hub('t6', ::target('hang', "http://127.0.0.1:$ENV{TEST_NGINX_HANG}/x", undef,
                     "        concurrency 1;\n        first_timeout 300ms;\n"
                     . "        retry 60s 60s;\n        timeout 60s;\n")
            . ::target('ok', '/t6/ok'))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post(), ::post(), ::post(), "GET /outbox"]
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001"/, qr/^\{"id":"0000000000000002"/, qr/^\{"id":"0000000000000003"/,
 qr/^\{"items":\[(?:\{[^{}]*"target":"hang"[^{}]*\},?){3}\]\}$/]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "ok"
notify: delivered 0000000000000002 (attempt 1); target "ok"
notify: delivered 0000000000000003 (attempt 1); target "ok"
--- no_error_log
[alert]



=== TEST 7: each target's own retry and expiry: one target's entry expires while the other's was delivered
--- http_config eval
::hub('t7', ::target('f', '/fail/500/1000/t7', undef, "        expire 2s;\n        retry 300ms 500ms;\n")
            . ::target('ok', '/t7/ok'))
--- config eval: $::Server
--- more_headers eval: [$::App, '']
--- request eval: [::post(), "GET /outbox"]
--- wait: 4
--- error_code eval: [200, 200]
--- response_body_like eval: [qr/"recipients":1/, qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "ok"
notify: delivery of 0000000000000001 failed (attempt 2): HTTP 500; next in
target "f"
notify: delivery of 0000000000000001 expired
--- no_error_log
[error]



=== TEST 8: the outbox lists an entry per target; retry now and drop work per entry; /targets lists every target, its URL without credentials
--- http_config eval
::hub('t8', ::target('a', '/fail/500/1000/t8a', 'secret-a', "        retry 60s 60s;\n")
            . ::target('b', "http://user:pass\@127.0.0.1:1/t8b", 'secret-b',
                       "        retry 60s 60s;\n        first_timeout 1s;\n"))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post(), "GET /outbox", "DELETE /outbox/0000000000000001-1", "DELETE /outbox/0000000000000001-1",
 "DELETE /outbox/0000000000000001-9", "POST /outbox/0000000000000001/retry", "GET /outbox",
 "GET /outbox/targets"]
--- error_code eval: [200, 200, 200, 404, 404, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001","attempts":\d,[^{}]*"notification":"0000000000000001","target":"a","part":0\},\{"id":"0000000000000001-1","attempts":\d,[^{}]*"notification":"0000000000000001","target":"b","part":0\}\]\}$/,
 qr/^\{"id":"0000000000000001-1","state":"dropped"\}$/,
 qr/"NotFound"/, qr/"NotFound"/,
 qr/^\{"id":"0000000000000001","state":"retrying"\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"a"[^{}]*\}\]\}$/,
 qr{^\{"targets":\[\{"name":"a","dialect":"push","url":"http://127\.0\.0\.1:\d+/fail/500/1000/t8a","breaker":"closed",[^{}]*\},\{"name":"b","dialect":"push","url":"http://127\.0\.0\.1:1/t8b","breaker":"closed",[^{}]*\}\]\}$}]
--- no_error_log
[alert]



=== TEST 9: a reload that removes a target keeps its entries: listed as such, and not attempted even when asked to retry now
--- initial_targets eval
::target('gone', '/fail/500/1000/t9', undef, "        retry 60s 60s;\n") . ::target('stays', '/t9/ok')
--- reload_targets eval: [undef, undef, ::target('stays', '/t9/ok')]
--- http_config eval: ::hub('t9', "    include " . ::targets_file(9) . ";\n")
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '']
--- request eval
[::post(), "GET /outbox/targets", "GET /outbox", "GET /outbox", "POST /outbox/0000000000000001/retry", "GET /outbox"]
--- wait: 1.5
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/, qr/"name":"gone"/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"gone","part":0\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"gone","part":0,"target_gone":true\}\]\}$/,
 qr/^\{"id":"0000000000000001","state":"retrying"\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"gone","part":0,"target_gone":true\}\]\}$/]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "stays"
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500
--- no_error_log
failed (attempt 2)
[error]



=== TEST 10: a reload that reorders the targets keeps their breakers and their delivery counters, found by name
--- initial_targets eval
::target('x', '/fail/500/1000/t10', undef, "        breaker 1 60s;\n        retry 60s 60s;\n") . ::target('y', '/t10/ok')
--- reload_targets eval
[undef, undef, ::target('y', '/t10/ok') . ::target('x', '/fail/500/1000/t10', undef, "        breaker 1 60s;\n        retry 60s 60s;\n")]
--- http_config eval: ::hub('t10', "    include " . ::targets_file(10) . ";\n")
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '']
--- request eval: [::post(), "GET /outbox/targets", "GET /outbox/targets", "GET /outbox/targets", "GET /metrics"]
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"targets":\[\{"name":"x",[^{}]*\},\{"name":"y",[^{}]*"breaker":"closed"/,
 qr/^\{"targets":\[\{"name":"x",[^{}]*"breaker":"open"/,
 qr/^\{"targets":\[\{"name":"y",[^{}]*"breaker":"closed"[^{}]*\},\{"name":"x",[^{}]*"breaker":"open","failures":1,"opened":1,/,
 qr/\A(?=.*^notify_breaker_state\{target="y"\} 0\nnotify_breaker_state\{target="x"\} 1$)(?=.*^notify_deliveries_total\{target="y",result="delivered"\} 1$)(?=.*^notify_deliveries_total\{target="x",result="retry"\} 1$)(?=.*^notify_deliveries_total\{target="x",result="delivered"\} 0$)/ms]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "y"
breaker open
--- no_error_log
[error]
