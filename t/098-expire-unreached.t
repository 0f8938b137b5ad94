# Expiry of the entries that no claim reaches: a target disabled by a 410
# Gone, or whose breaker is open for longer than its entries live, is not
# claimed, yet what of it is past its expiry expires (a dead letter,
# reason "expired", its last error kept) at the timer's next look, without
# an attempt; a target enabled again does not send it.  An expired entry
# of a chain leaves its chain's queue: the next of the chain is due at
# once.  An LMDB store written before the index by expiry has it built
# when it is opened: its entries past their expiry expire too.
#
# "--- pause_after": after request N, element N's seconds pass before the
# next request; "--- log_after": after request N (and its pause), element
# N's lines are in the error log; "--- freed": [N, M, entry]: the entry
# listed by request M (GET /outbox) is due when the dead letter listed by
# request N (GET /outbox/dead) died (within a second), not when its hold
# ends.
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use File::Spec;
use Time::Local ();
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::Nginx::Socket 'no_plan';

our ($Files);

BEGIN {
    NotifyTest::setup(manifest =>
                      File::Spec->rel2abs('t/data/graph/manifest.json'));
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    $Files = tempdir('notify-expire-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$Files/oauth2.secret" or die $!;
    print $fh "s3cret-for-the-fixture\n";
    close $fh;
}

# t/data/upgrade/outbox-before-expiry.mdb.gz: an LMDB store written by the
# module before the index by expiry (commit 47bc6f5): one Syntphony
# notification (id 1, to u-ada) for the target "o" (push, its OAuth2 token
# endpoint refusing connections, "expire 1s"), never attempted; in place
# before TEST 4's nginx starts
add_block_preprocessor(sub {
    my $block = shift;
    return unless $block->name =~ /TEST 4:/ && !NotifyTest::postgres();
    my $dir = "$ENV{TEST_NGINX_STORE}/before-expiry";
    make_path($dir);
    unlink "$dir/lock.mdb";
    gunzip('t/data/upgrade/outbox-before-expiry.mdb.gz' => "$dir/data.mdb")
        or die "gunzip: $GunzipError";
    chmod 0777, $dir;
    chmod 0666, "$dir/data.mdb";
});

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

our $Graph = "Content-Type: application/json\n"
             . NotifyTest::bearer(NotifyTest::token(azp => 'app-ci',
                   roles => ['TeamsActivity.Send',
                             'PrivilegedNotificationDispatcher']));

# a Syntphony notification of <event> to u-ada
sub post {
    my ($event) = @_;
    return "POST /n\n" . encode_json({eventId => $event, title => 't',
                                      url => 'http://x.example.org/',
                                      accounts => ['u-ada']});
}

# a Graph notification marked <mark> to <user>, of the chain <chain> (to
# another recipient than the chain's older one: not a replacement in a
# feed, only an order)
sub note {
    my ($mark, $chain, $user) = @_;
    return "POST /v1.0/teamwork/sendActivityNotificationToRecipients\n"
           . encode_json({
               topic => {source => 'text', value => "topic $mark",
                         webUrl => "https://x.example.org/$mark"},
               activityType => 'taskCreated',
               chainId => $chain,
               previewText => {content => "preview $mark"},
               templateParameters => [{name => 'taskId', value => $mark}],
               recipients => [{'@odata.type' =>
                   'microsoft.graph.aadUserNotificationRecipient',
                   userId => $user}]});
}

# a push target <name> at the downstream's <path>, its entries expiring
# after <expire>
sub target {
    my ($name, $path, $expire, $extra) = @_;
    return "    notify_target $name {\n        dialect push;\n"
           . "        url $ENV{TEST_NGINX_DOWNSTREAM}$path;\n"
           . "        expire $expire;\n        retry 1s 1s;\n"
           . ($extra // '') . "    }\n";
}

sub hub {
    my ($store, $extra) = @_;
    return ::conf($store, extra => "    notify_delivery_timeout 2s;\n"
                                   . "    log_format delivery '\$request_method"
                                   . " \$uri \$status';\n"
                                   . ($extra // ''));
}

our $Server = $NotifyTest::DeliveryServer
              . "    location = /metrics { notify_metrics; }\n"
              . "    location /v1.0/ { notify_inbound graph; }\n";

# msec since the epoch of "2026-12-01T10:00:00.123Z"
sub msec {
    my ($t) = @_;
    my ($y, $mo, $d, $h, $mi, $s, $ms) =
        $t =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$/ or return;
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y) * 1000
           + ($ms // 0);
}

my %bodies;

NotifyTest::pause_and_log_after();

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    $bodies{$req_idx} = $body;

    my $freed = $block->freed;
    return unless ref $freed eq 'ARRAY' && $req_idx == $freed->[1];

    my ($dead) = @{ decode_json($bodies{$freed->[0]})->{items} };
    my ($entry) = grep { $_->{id} eq $freed->[2] }
                       @{ decode_json($body)->{items} };

    Test::More::ok($dead && $entry
                   && abs(msec($entry->{next_attempt}) - msec($dead->{died}))
                      <= 1000,
                   $block->name . " - $freed->[2] is due when "
                   . ($dead ? $dead->{id} : 'none') . " died")
        or Test::More::diag("dead: $bodies{$freed->[0]}\noutbox: $body");
});

master_on();
workers(1);
no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

# TEST 1: the expired entry was attempted once (its 410), never after the
# target was enabled again; the notification accepted after it was
is(scalar Downstream::requests('/fail/gone/1/x1'), 2,
   'TEST 1: the 410, then only the later notification');
like((Downstream::requests('/fail/gone/1/x1'))[1]{body}, qr/"later"/,
     'TEST 1: the one sent after the enable is the later notification');

# TEST 2: the breaker kept the entry from a second attempt
is(scalar Downstream::requests('/fail/500/100/x2'), 1,
   'TEST 2: one attempt, none after the breaker opened');

# TEST 3: only the chain's first notification was attempted
is(scalar Downstream::requests('/fail/gone/100/x3'), 1,
   'TEST 3: the first of the chain, once');

__DATA__

=== TEST 1: a target disabled by a 410: its entry expires all the same, a dead letter with the 410 as its last error; enabled again, the target is not sent the expired entry
--- http_config eval
::hub('x1', ::target('g', '/fail/gone/1/x1', '3s'))
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '', '', $::App, '']
--- request eval
[::post('first'), "GET /outbox", "GET /outbox/dead", "GET /metrics", "GET /outbox",
 "POST /outbox/targets/g/enable", ::post('later'), "GET /outbox"]
--- pause_after eval: [1, 4, 0, 0, 0, 0, 2]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"attempts":1,[^{}]*"last_error":"HTTP 410[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001","notification":"0000000000000001","target":"g","part":0,"attempts":1,"reason":"expired","last_error":"HTTP 410[^"]*",[^{}]*\}\]\}$/,
 qr/^notify_dead_letters 1$/m,
 qr/^\{"items":\[\]\}$/,
 qr/^\{"name":"g","breaker":"closed"\}$/,
 qr/"recipients":1/,
 qr/^\{"items":\[\]\}$/]
--- log_after eval
[undef, ['notify: delivery of 0000000000000001 expired, dropped; target "g"'], undef, undef, undef, undef,
 ['notify: delivered 0000000000000002 (attempt 1); target "g"']]
--- error_log
answered 410 Gone: disabled
--- no_error_log
[error]
delivered 0000000000000001



=== TEST 2: a target whose breaker stays open longer than its entries live: the entry expires without the probe, never attempted again
--- http_config eval
::hub('x2', ::target('b', '/fail/500/100/x2', '3s', "        breaker 1 60s;\n"))
--- config eval: $::Server
--- more_headers eval: [$::App, '', '', '', '']
--- request eval
[::post('one'), "GET /outbox/targets", "GET /outbox/dead", "GET /outbox", "GET /metrics"]
--- pause_after eval: [1, 4]
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"recipients":1/,
 qr/"name":"b","dialect":"push",[^{}]*"breaker":"open"/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"b",[^{}]*"attempts":1,"reason":"expired","last_error":"HTTP 500",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\]\}$/,
 qr/^notify_deliveries_total\{target="b",result="expired"\} 1$/m]
--- log_after eval
[undef, ['notify: delivery of 0000000000000001 expired, dropped; target "b"']]
--- error_log
breaker open
--- no_error_log
[error]
half-open



=== TEST 3: an entry of a chain that expires this way frees the next of its chain: due at once, not when its hold would end
--- http_config eval
::hub('x3', ::target('c', '/fail/gone/100/x3', '6s'))
--- config eval: $::Server
--- more_headers eval: [$::Graph, $::Graph, '', '', '']
--- request eval
[::note('a', 7, 'u-ada'), ::note('b', 7, 'u-bob'), "GET /outbox", "GET /outbox/dead", "GET /outbox"]
--- pause_after eval: [4, 0, 4.5]
--- error_code eval: [202, 202, 200, 200, 200]
--- response_body_like eval
[qr//, qr//,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*\},\{"id":"0000000000000002",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"c",[^{}]*"reason":"expired","last_error":"HTTP 410[^"]*",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^{}]*"target":"c"[^{}]*\}\]\}$/]
--- freed eval: [3, 4, '0000000000000002']
--- log_after eval
[undef, undef, ['notify: delivery of 0000000000000001 expired, dropped; target "c"']]
--- no_error_log
[error]



=== TEST 4: an LMDB store written before the index by expiry: the index is built when it is opened, and the entry of a target without a token (its token endpoint refuses) expires, never attempted
--- skip_eval: 7: NotifyTest::lmdb_only()
--- http_config eval
::hub('before-expiry', ::target('o', '/x4', '1s',
    "        oauth2_token_url http://127.0.0.1:1/token;\n"
    . "        oauth2_client_id fixture;\n"
    . "        oauth2_secret_file $::Files/oauth2.secret;\n"))
--- config eval: $::Server
--- request eval
["GET /outbox", "GET /outbox/dead", "GET /outbox"]
--- pause_after eval: [2.5]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
[qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"expires":"2026-12-02T00:14:51Z",[^{}]*"target":"o",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001","notification":"0000000000000001","target":"o","part":0,"attempts":0,"reason":"expired","last_error":"",[^{}]*\}\]\}$/,
 qr/^\{"items":\[\]\}$/]
--- error_log
notify: delivery of 0000000000000001 expired, dropped; target "o"
OAuth2 token request failed
