# Dead letters: an outbox entry that expires (after a failed attempt, or
# found past its expiry by a claim) or that its target's answer gives up
# is kept, with its last error, in the transaction that takes it out of
# the outbox; notify_outbox lists it (<prefix>/dead), replays it (an entry
# due now, its attempts from 0, a fresh expiry) and purges it.  At most
# notify_delivery_dead_letters are kept, the oldest to die removed first;
# one whose target a reload removed is listed as such, refused a replay,
# and still purgeable.
#
# "--- pause_after": after request N, element N's seconds pass before the
# next request (what the timer does meanwhile is what the next one sees);
# "--- log_after": after request N (and its pause), element N's lines are
# in the error log ("--- error_log" is checked after every request);
# both by NotifyTest::pause_and_log_after().
# The reload blocks write their targets into an included file
# (NotifyTest::reload_targets(), as t/092).
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

our ($Files);

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    $Files = tempdir('notify-dead-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    open my $fh, '>', "$Files/webhook.secret" or die $!;
    print $fh "whsec_" . encode_base64('dead-letters-secret-24b!', '') . "\n";
    close $fh;

    # 150 users: two parts of a Graph bulk call (100 and 50)
    my @users = map { sprintf 'u-%04d', $_ } 1 .. 150;
    open $fh, '>', "$Files/directory.json" or die $!;
    print $fh encode_json({
        users => [map { {id => $_, upn => "$_\@example.org"} } @users],
        groups => [{id => 'g-many', upn => 'many@example.org', members => \@users}],
    });
    close $fh;
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

# a notification of <event> to <accounts> (u-ada when none)
sub post {
    my ($event, @accounts) = @_;
    return "POST /n\n" . encode_json({eventId => $event // 'e', title => 't',
                                      url => 'http://x.example.org/',
                                      accounts => @accounts ? \@accounts
                                                            : ['u-ada']});
}

# a target of <dialect> (push unless given) at the downstream's <path>
sub target {
    my ($name, $path, $extra, $dialect) = @_;
    return "    notify_target $name {\n        dialect " . ($dialect // 'push')
           . ";\n        url $ENV{TEST_NGINX_DOWNSTREAM}$path;\n"
           . ($extra // '') . "    }\n";
}

# an entry that fails once expires at once: its next attempt would be
# after its expiry
our $Dies = "        expire 1s;\n        retry 3s 3s;\n";

# the hub's http{} part: the store <store>, then <extra>; <options> as
# conf()'s
sub hub {
    my ($store, $extra, @options) = @_;
    return ::conf($store, @options,
                  extra => "    notify_delivery_timeout 2s;\n"
                           . "    log_format delivery '\$request_method \$uri"
                           . " \$status delivery=\$notify_delivery_status';\n"
                           . ($extra // ''));
}

our $Server = $NotifyTest::DeliveryServer
              . "    location = /metrics { notify_metrics; }\n";

sub targets_file { return NotifyTest::targets_file(@_) }

NotifyTest::reload_targets($Files);

NotifyTest::pause_and_log_after();

master_on();
workers(1);
no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

# TEST 1: the expired entry was attempted once, then once more, replayed
is(scalar Downstream::requests('/fail/500/1/t1'), 2,
   'TEST 1: one attempt before the expiry, one after the replay');

# TEST 2: the given-up entry, replayed once its target was enabled
is(scalar Downstream::requests('/fail/gone/1/t2'), 2,
   'TEST 2: the refused attempt and the replayed one');

# TEST 10: each part was attempted once, died, and was replayed with its
# own recipients: 100 and 50, every recipient once
my @parts = Downstream::requests('/fail/500/2/t10/answer/202/teamwork/sendActivityNotificationToRecipients');
is(scalar @parts, 4, 'TEST 10: two parts, each attempted before and after its replay');
my %seen;
for my $r (@parts[2, 3]) {
    $seen{$_->{userId}}++ for @{ decode_json($r->{body})->{recipients} };
}
is(scalar keys %seen, 150, 'TEST 10: the replayed parts reached every recipient');
is((grep { $_ != 1 } values %seen), 0, 'TEST 10: each once');

# TEST 3: the entry found expired by a claim was never attempted
is(scalar Downstream::requests('/fail/500/100/t3'), 1,
   'TEST 3: only the first notification was attempted');

__DATA__

=== TEST 1: an entry that expires becomes a dead letter with its last error; listed, replayed, then delivered
--- http_config eval: ::hub('t1', ::target('x', '/fail/500/1/t1', $::Dies))
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '', '']
--- request eval
[::post(), "GET /outbox", "GET /outbox/dead", "POST /outbox/dead/0000000000000001/replay",
 "GET /outbox/dead", "GET /outbox", "GET /metrics"]
--- pause_after eval: [1.5, 0, 0, 2]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001","notification":"0000000000000001","target":"x","part":0,"attempts":1,"reason":"expired","last_error":"HTTP 500","created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","died":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}\]\}$/,
 qr/^\{"id":"0000000000000001","state":"retrying"\}$/,
 qr/^\{"items":\[\]\}$/,
 qr/^\{"items":\[\]\}$/,
 qr/^# TYPE notify_dead_letters gauge\nnotify_dead_letters 0$/m]
--- log_after eval
[undef, undef, undef, ['notify: 1 dead letters replayed',
                       'notify: delivered 0000000000000001 (attempt 1); target "x"']]
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500; next in
notify: delivery of 0000000000000001 expired after 1 attempts, dropped; target "x"
--- no_error_log
[error]



=== TEST 2: an entry given up (a webhook's 410) becomes a dead letter; filtered by target; replayed (all of a target) once the target is enabled
--- http_config eval
::hub('t2', ::target('g', '/fail/gone/1/t2',
                     "        webhook_secret_file $::Files/webhook.secret;\n", 'webhook')
            . ::target('ok', '/t2/ok'))
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '', '']
--- request eval
[::post(), "GET /outbox/dead?target=g", "GET /outbox/dead?target=ok", "GET /metrics",
 "POST /outbox/targets/g/enable", "POST /outbox/dead/replay?target=g", "GET /outbox/dead"]
--- pause_after eval: [1, 0, 0, 0, 0, 2]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001","notification":"0000000000000001","target":"g","part":0,"attempts":1,"reason":"given_up","last_error":"HTTP 410[^"]*",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\]\}$/,
 qr/^notify_dead_letters 1$/m,
 qr/^\{"name":"g","breaker":"closed"\}$/,
 qr/^\{"replayed":1,"skipped":0\}$/,
 qr/^\{"items":\[\]\}$/]
--- log_after eval
[undef, undef, undef, undef, undef, ['notify: delivered 0000000000000001 (attempt 1); target "g"']]
--- error_log
given up, dropped; target "g"
--- no_error_log
[error]
whsec_



=== TEST 3: an entry that a claim finds expired (its target's breaker was open past its expiry) is a dead letter too, never attempted; purged one by one and all at once
--- http_config eval
::hub('t3', ::target('b', '/fail/500/100/t3', $::Dies . "        breaker 1 2500ms;\n"))
--- config eval: $::Server
--- more_headers eval: [$::App, $::App, '', '', '', '', '', '']
--- request eval
[::post('one'), ::post('two'), "GET /outbox/dead", "DELETE /outbox/dead/0000000000000002",
 "DELETE /outbox/dead/0000000000000002", "GET /outbox/dead", "DELETE /outbox/dead", "GET /outbox/dead"]
--- pause_after eval: [0, 4]
--- error_code eval: [200, 200, 200, 200, 404, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/, qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"attempts":1,"reason":"expired","last_error":"HTTP 500",[^{}]*\},\{"id":"0000000000000002",[^{}]*"attempts":0,"reason":"expired","last_error":"",[^{}]*\}\]\}$/,
 qr/^\{"id":"0000000000000002","state":"purged"\}$/,
 qr/^\{"error":\{"code":"NotFound","message":"There is no such dead letter\."\}\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*\}\]\}$/,
 qr/^\{"purged":1\}$/,
 qr/^\{"items":\[\]\}$/]
--- log_after eval: [undef, ['notify: delivery of 0000000000000002 expired, dropped; target "b"']]
--- error_log
breaker open
--- no_error_log
[error]



=== TEST 4: at most notify_delivery_dead_letters are kept: the oldest to die is removed, logged, never a live entry
--- http_config eval
::hub('t4', "    notify_delivery_dead_letters 2;\n"
            . ::target('x', '/fail/500/100/t4', $::Dies)
            . ::target('slow', '/fail/500/100/t4s', "        retry 60s 60s;\n"))
--- config eval: $::Server
--- more_headers eval: [$::App, '', $::App, '', $::App, '', '', '']
--- request eval
[::post('a'), "GET /outbox/dead", ::post('b'), "GET /outbox/dead", ::post('c'), "GET /outbox/dead",
 "GET /outbox", "GET /outbox/dead?limit=1"]
--- pause_after eval: [1, 0, 1, 0, 1]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*\}\]\}$/,
 qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*\},\{"id":"0000000000000002",[^{}]*\}\]\}$/,
 qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^{}]*\},\{"id":"0000000000000003",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001-1",[^{}]*"target":"slow"[^{}]*\},\{"id":"0000000000000002-1",[^{}]*"target":"slow"[^{}]*\},\{"id":"0000000000000003-1",[^{}]*"target":"slow"[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^{}]*\}\],"next":"0000000000000002"\}$/]
--- log_after eval
[undef, undef, undef, undef,
 ['notify: 1 oldest dead letters removed: at most 2 are kept (notify_delivery_dead_letters)']]
--- no_error_log
[error]



=== TEST 5: a dead letter whose target a reload removed: listed as such, its replay refused (one or all), still purgeable
--- initial_targets eval
::target('gone', '/fail/500/100/t5', $::Dies) . ::target('stays', '/t5/ok')
--- reload_targets eval: [undef, undef, ::target('stays', '/t5/ok')]
--- http_config eval: ::hub('t5', "    include " . ::targets_file(5) . ";\n")
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '', '', '']
--- request eval
[::post(), "GET /outbox/dead", "GET /outbox/targets", "GET /outbox/dead",
 "POST /outbox/dead/0000000000000001/replay", "POST /outbox/dead/replay",
 "DELETE /outbox/dead/0000000000000001", "GET /outbox/dead"]
--- pause_after eval: [1.5]
--- error_code eval: [200, 200, 200, 200, 409, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"gone",[^{}]*"reason":"expired"[^{}]*\}\]\}$/,
 qr/"name":"gone"/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"gone",[^{}]*,"target_gone":true\}\]\}$/,
 qr/^\{"error":\{"code":"TargetGone","message":"[^"]+"\}\}$/,
 qr/^\{"replayed":0,"skipped":1\}$/,
 qr/^\{"id":"0000000000000001","state":"purged"\}$/,
 qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "stays"
--- no_error_log
[error]



=== TEST 6: hostile input: bad, huge and unknown ids, wrong methods, bad arguments, bodies on a keep-alive connection: each a JSON error
--- http_config eval: ::hub('t6', ::target('x', '/t6/ok'))
--- config eval: $::Server
--- pipelined_requests eval
["GET /outbox/dead/0000000000000001", "PUT /outbox/dead", "GET /outbox/dead/replay",
 "DELETE /outbox/dead/zzz", "DELETE /outbox/dead/ffffffffffffffffffffffff",
 "DELETE /outbox/dead/0000000000000001-99999999999", "DELETE /outbox/dead/0000000000000001-0",
 "POST /outbox/dead/0000000000000001/replay/again", "POST /outbox/dead/0000000000000009/replay",
 "DELETE /outbox/dead/0000000000000009", "GET /outbox/dead?limit=0", "GET /outbox/dead?limit=100000",
 "GET /outbox/dead?after=nope", "GET /outbox/dead?target=", "GET /outbox/dead?target=" . ('t' x 65),
 "POST /outbox/dead/replay?target=" . ('%41' x 70),
 "POST /outbox/dead/replay\n" . ('{"x":1}' x 2000),
 "DELETE /outbox/dead?target=nobody", "GET /outbox/dead?target=x&limit=5&after=0000000000000001-3"]
--- error_code eval
[405, 405, 405, 404, 404, 404, 404, 404, 404, 404, 400, 400, 400, 400, 400, 400, 200, 200, 200]
--- response_body_like eval
[qr/^\{"error":\{"code":"MethodNotAllowed",/, qr/"MethodNotAllowed"/, qr/"MethodNotAllowed"/,
 qr/^\{"error":\{"code":"NotFound","message":"There is no such dead letter\."\}\}$/,
 qr/"NotFound"/, qr/"NotFound"/, qr/"NotFound"/,
 qr/^\{"error":\{"code":"NotFound","message":"There is no such resource\."\}\}$/,
 qr/"NotFound"/, qr/"NotFound"/,
 qr/^\{"error":\{"code":"BadRequest","message":"The limit is a number from 1 to 1000\."\}\}$/,
 qr/"BadRequest"/, qr/^\{"error":\{"code":"BadRequest","message":"The cursor is/,
 qr/"BadRequest"/, qr/"BadRequest"/, qr/"BadRequest"/,
 qr/^\{"replayed":0,"skipped":0\}$/, qr/^\{"purged":0\}$/, qr/^\{"items":\[\]\}$/]
--- no_error_log
[error]
[alert]



=== TEST 7: notify_delivery_dead_letters off: what expires is only removed, as before
--- http_config eval
::hub('t7', "    notify_delivery_dead_letters off;\n" . ::target('x', '/fail/500/100/t7', $::Dies))
--- config eval: $::Server
--- more_headers eval: [$::App, '', '']
--- request eval: [::post(), "GET /outbox/dead", "GET /outbox"]
--- pause_after eval: [1.5]
--- error_code eval: [200, 200, 200]
--- response_body_like eval: [qr/"recipients":1/, qr/^\{"items":\[\]\}$/, qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivery of 0000000000000001 expired after 1 attempts, dropped; target "x"
--- no_error_log
[error]



=== TEST 8: notify_delivery_dead_letters takes a number from 1 or off
--- http_config eval: ::hub('t8', "    notify_delivery_dead_letters 0;\n")
--- config
    location = /x { return 204; }
--- must_die
--- error_log
"notify_delivery_dead_letters" must be "off" or a number from 1 to 1000000, not "0"



=== TEST 9: notify_delivery_dead_letters is not repeated
--- http_config eval: ::hub('t9', "    notify_delivery_dead_letters 5;\n    notify_delivery_dead_letters lots;\n")
--- config
    location = /x { return 204; }
--- must_die
--- error_log
"notify_delivery_dead_letters" directive is duplicate



=== TEST 10: the parts of a target's recipients: each part's dead letter keeps its own recipients, and a replay sends them
--- http_config eval
::hub('t10', ::target('teams', '/fail/500/2/t10/answer/202', $::Dies
                      . "        authorization \"Bearer graph-token\";\n", 'graph'),
      directory => "$::Files/directory.json")
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '']
--- request eval
[::post('build.failed', 'many@example.org'), "GET /outbox", "GET /outbox/dead", "POST /outbox/dead/replay", "GET /outbox/dead"]
--- pause_after eval: [1.5, 0, 0, 2]
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":150/,
 qr/^\{"items":\[\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001","notification":"0000000000000001","target":"teams","part":1,"attempts":1,"reason":"expired","last_error":"HTTP 500[^"]*",[^{}]*\},\{"id":"0000000000000001-1","notification":"0000000000000001","target":"teams","part":2,"attempts":1,"reason":"expired",[^{}]*\}\]\}$/,
 qr/^\{"replayed":2,"skipped":0\}$/,
 qr/^\{"items":\[\]\}$/]
--- log_after eval
[undef, undef, undef, ['notify: delivered 0000000000000001 (attempt 1); target "teams"',
                       'notify: 2 dead letters replayed']]
--- no_error_log
[error]
graph-token
