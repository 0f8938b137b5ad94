# Ordering per chain: two notifications of one chain (Graph's chainId)
# reach a target in the order they were accepted, whatever path each takes
# (the first attempt's subrequest, the timer's retries), and a replaced one
# that is still pending is never sent.  A real downstream on loopback
# (t/lib/HoldDownstream.pm) holds its answer to a request while the test
# says so, and records the order in which requests started and were
# answered; the tests assert on that order only.
#
# Each block starts the hub with its targets and answers one GET; then its
# "--- scenario" runs: a function of this file that sends the
# notifications itself (some on connections it keeps open), drives the
# downstream and checks what it recorded.
use lib 't/lib';
use NotifyTest;
use HoldDownstream;
use ChainHub;
use File::Spec;
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

our $Many;

BEGIN {
    NotifyTest::setup(manifest =>
                      File::Spec->rel2abs('t/data/graph/manifest.json'));
    $Many = ChainHub::setup();
}

# a push target <name> at the downstream's /<name>
sub target {
    my ($name, $extra) = @_;
    return "    notify_target $name {\n        dialect push;\n"
           . "        url $ENV{TEST_NGINX_HOLD}/$name;\n"
           . ($extra // '') . "    }\n";
}

# a webhook target <name> at the downstream's /<name>
sub webhook {
    my ($name) = @_;
    return "    notify_target $name {\n        dialect webhook;\n"
           . "        url $ENV{TEST_NGINX_HOLD}/$name;\n"
           . "        webhook_secret_file $Many/webhook.secret;\n    }\n";
}

sub hub {
    my ($store, $targets, $extra, @opt) = @_;
    return ::conf($store, @opt, extra => "    notify_delivery_retry 200ms 1s;\n"
                          . "    notify_delivery_timeout 70s;\n"
                          . "    notify_delivery_first_timeout 70s;\n"
                          . ($extra // '') . $targets);
}

our $Inbound = <<'CONF';
    location ~ /sendActivityNotification(ToRecipients)?$ {
        notify_inbound graph;
    }
    location /outbox { notify_outbox; }
    location = /go { return 204; }
CONF

# with a first attempt (the subrequest path), or the timer's only
our $Server = $ChainHub::Deliver . $Inbound;
our $TimerServer = $Inbound;

our %Scenario;

# n1 of a chain is in flight (its first attempt held by the downstream)
# when n2 of the chain replaces it: n2's caller is answered at once; a
# notification without a chain goes by; n2 starts only after n1 answered
# (500: n1, replaced, is removed, never retried)
$Scenario{replaced_in_flight} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');
    HoldDownstream::fail('a', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/a', 'start n1'), "$name - n1's first attempt started");

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'u-ada'), 1), 202,
       "$name - n2's caller answered");
    ok(!seen('/a', 'end n1 500'),
       "$name - ... while n1 is still held by the downstream");

    is(send_note($s2, note('n3', undef, 'u-ada'), 1), 202,
       "$name - n3 (no chain) on the same keep-alive connection answered");
    ok(wait_seen('/a', 'end n3 200'), "$name - n3 delivered");
    ok(!seen('/a', 'end n1 500') && !seen('/a', 'start n2'),
       "$name - ... while n1 is held and n2 waits");

    HoldDownstream::release('a', 'n1');
    is(answer($s1), 202, "$name - n1's caller answered once n1 reported");

    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    ok(index_of('/a', 'start n2') > index_of('/a', 'end n1 500'),
       "$name - n2 started after n1 was answered");

    like(outbox_empty(), qr/^\{"items":\[\]\}/,
         "$name - n1, replaced in flight, left the outbox on its failure");
    is(scalar(grep { /^start n1$/ } HoldDownstream::at('/a')), 1,
       "$name - n1 was never retried");
    is(scalar(grep { /^start n2$/ } HoldDownstream::at('/a')), 1,
       "$name - n2 was sent once");
};

# the timer's path (no first attempts): n1 and n2 of a chain to different
# users (no replacement) are both due; the timer sends n1 and holds n2
# until n1 is delivered
$Scenario{timer_fifo} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');

    my $s = connect_hub();
    is(send_note($s, note('n1', 7, 'u-ada'), 1), 202, "$name - n1 accepted");
    is(send_note($s, note('n2', 7, 'u-dave'), 1), 202, "$name - n2 accepted");
    ok(wait_seen('/a', 'start n1'), "$name - the timer sent n1");

    # a few of the timer's looks: n2 is due too, but must stay
    Time::HiRes::sleep(2.5);
    ok(!seen('/a', 'start n2'), "$name - n2 not sent while n1 is in flight");

    HoldDownstream::release('a', 'n1');
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    is_deeply([HoldDownstream::at('/a')],
              ['start n1', 'end n1 200', 'start n2', 'end n2 200'],
              "$name - n1, then n2");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
};

# n1's first attempts to two targets fail (due again much later); n2 of the
# chain to the same user replaces n1: n1 is never sent again to either
# target, n2 reaches both at once
$Scenario{replaced_pending} = sub {
    my ($name) = @_;
    HoldDownstream::fail($_, 'n1') for qw(a b);

    my $s = connect_hub();
    is(send_note($s, note('n1', 7, 'u-ada', 'u-dave'), 1), 202,
       "$name - n1 accepted");
    ok(wait_seen('/a', 'end n1 500') && wait_seen('/b', 'end n1 500'),
       "$name - n1 failed at both targets");
    like(get('/outbox'), qr/"target":"a".*"target":"b"/,
         "$name - n1 is pending for both");

    is(send_note($s, note('n2', 7, 'u-ada', 'u-dave'), 1), 202,
       "$name - n2 accepted");
    ok(wait_seen('/a', 'end n2 200') && wait_seen('/b', 'end n2 200'),
       "$name - n2 delivered to both");
    like(outbox_empty(), qr/^\{"items":\[\]\}/,
         "$name - n1's pending entries are gone");
    for my $t (qw(a b)) {
        is_deeply([HoldDownstream::at("/$t")],
                  ['start n1', 'end n1 500', 'start n2', 'end n2 200'],
                  "$name - $t: n1 once, then n2");
    }
};

# two targets: n1 held at a only; n2 of the chain (another user: no
# replacement) reaches b at once, and a only after a answered n1
$Scenario{per_target} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/a', 'start n1') && wait_seen('/b', 'end n1 200'),
       "$name - n1 held at a, delivered to b");

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'u-dave'), 1), 202,
       "$name - n2's caller answered");
    ok(wait_seen('/b', 'end n2 200'), "$name - n2 delivered to b");
    ok(!seen('/a', 'start n2') && !seen('/a', 'end n1 200'),
       "$name - ... while n1 is held at a, and n2 waits there");

    HoldDownstream::release('a', 'n1');
    is(answer($s1), 202, "$name - n1's caller answered");
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered to a");
    is_deeply([HoldDownstream::at('/a')],
              ['start n1', 'end n1 200', 'start n2', 'end n2 200'],
              "$name - a: n1, then n2");
    is_deeply([HoldDownstream::at('/b')],
              ['start n1', 'end n1 200', 'start n2', 'end n2 200'],
              "$name - b: n1, then n2");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
};

# three of one chain (to different users: none replaces another) while the
# first is in flight: each waits for the one before it; and two chains do
# not wait for each other
$Scenario{three_and_another} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/a', 'start n1'), "$name - n1 in flight");

    my $s2 = connect_hub();
    HoldDownstream::hold('a', 'n2');
    is(send_note($s2, note('n2', 7, 'u-dave'), 1), 202, "$name - n2 accepted");
    is(send_note($s2, note('n3', 7, 'u-bob'), 1), 202,
       "$name - n3 accepted");
    is(send_note($s2, note('m1', 8, 'u-ada'), 1), 202,
       "$name - m1 of another chain accepted");
    ok(wait_seen('/a', 'end m1 200'), "$name - m1 delivered at once");

    HoldDownstream::release('a', 'n1');
    ok(wait_seen('/a', 'start n2'), "$name - n2 sent after n1");
    ok(!seen('/a', 'start n3'), "$name - n3 waits for n2");
    HoldDownstream::release('a', 'n2');
    ok(wait_seen('/a', 'end n3 200'), "$name - n3 delivered");

    my @a = grep { !/m1/ } HoldDownstream::at('/a');
    is_deeply(\@a, ['start n1', 'end n1 200', 'start n2', 'end n2 200',
                    'start n3', 'end n3 200'], "$name - n1, n2, n3 in order");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
};

# a Graph target's two parts (150 recipients: 100 and 50), a chain's
# notification to all of them: with <hold>, n1's parts are in flight when
# n2 replaces n1 (n2's parts wait for both of n1's answers), else they
# failed and wait for a retry (n2 removes them: never sent again)
our $Bulk = '/g/answer/202/teamwork/sendActivityNotificationToRecipients';

sub parts {
    my ($name, $hold) = @_;

    if ($hold) {
        HoldDownstream::hold('g', 'n1');
    } else {
        HoldDownstream::fail('g', 'n1');
    }

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'team-many'));
    ok(HoldDownstream::wait_for(sub {
           2 == grep { $_ eq ($hold ? 'start n1' : 'end n1 500') }
                     HoldDownstream::at($Bulk) }),
       "$name - n1's two parts " . ($hold ? 'in flight' : 'failed'));

    if (!$hold) {
        is(answer($s1), 204, "$name - n1's caller answered");
    }

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'team-many'), 1), 204,
       "$name - n2's caller answered");

    if ($hold) {
        ok(!seen($Bulk, 'start n2'), "$name - n2 waits for n1's parts");
        HoldDownstream::release('g', 'n1');
        is(answer($s1), 204, "$name - n1's caller answered");
    }

    ok(HoldDownstream::wait_for(sub {
           2 == grep { $_ eq 'end n2 202' } HoldDownstream::at($Bulk) }),
       "$name - n2's two parts delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");

    my @e = HoldDownstream::at($Bulk);
    my ($last) = grep { $e[$_] =~ / n1\b/ } reverse 0 .. $#e;
    my ($first) = grep { $e[$_] =~ / n2\b/ } 0 .. $#e;
    ok($last < $first, "$name - all of n1 before any of n2")
        or diag(join ', ', @e);
    is(scalar(grep { $_ eq 'start n1' } @e), 2,
       "$name - n1's parts sent once each");
    is(scalar(grep { $_ eq 'start n2' } @e), 2,
       "$name - n2's parts sent once each");
}

# a target whose entry that fails once expires at once (its next attempt
# would be after its expiry)
our $Dies = "        expire 20s;\n        retry 30s 30s;\n";

# n1 of a chain in flight, n2 of the chain (another user: no replacement)
# held behind it; n1 fails and expires, so it dies: a dead letter, out of
# its chain's queue, and n2 is sent at once (not held behind a dead
# entry); n1 replayed goes back and is delivered
$Scenario{dies_in_flight} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');
    HoldDownstream::fail('a', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/a', 'start n1'), "$name - n1 in flight");

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'u-dave'), 1), 202, "$name - n2 accepted");
    ok(!seen('/a', 'start n2'), "$name - n2 waits for n1");

    HoldDownstream::release('a', 'n1');
    is(answer($s1), 202, "$name - n1's caller answered");
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    ok(index_of('/a', 'start n2') > index_of('/a', 'end n1 500'),
       "$name - n2 started after n1 failed");

    my ($st, $body) = call('GET', '/outbox/dead');
    like($body, qr/^\{"items":\[\{"id":"0000000000000001",[^{}]*"target":"a",[^{}]*"reason":"expired"/,
         "$name - n1 is a dead letter");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");

    HoldDownstream::heal('a', 'n1');
    ($st, $body) = call('POST', '/outbox/dead/0000000000000001/replay');
    is($st, 200, "$name - n1 replayed (nothing newer replaced it)");
    ok(wait_seen('/a', 'end n1 200'), "$name - n1 delivered");
    is_deeply([HoldDownstream::at('/a')],
              ['start n1', 'end n1 500', 'start n2', 'end n2 200',
               'start n1', 'end n1 200'], "$name - n1, n2, n1 again");
};

# the same, given up: a webhook's 410 (the target disabled too); enabled
# again, n2 is sent, not held behind the dead n1
$Scenario{given_up_in_flight} = sub {
    my ($name) = @_;
    HoldDownstream::hold('w', 'n1');
    HoldDownstream::gone('w', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/w', 'start n1'), "$name - n1 in flight");

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'u-dave'), 1), 202, "$name - n2 accepted");

    HoldDownstream::release('w', 'n1');
    is(answer($s1), 202, "$name - n1's caller answered");
    ok(wait_seen('/w', 'end n1 410'), "$name - n1 given up");

    # the answer is recorded as it is sent: its outcome may not be yet
    ok(HoldDownstream::wait_for(sub {
           (call('GET', '/outbox/dead'))[1]
           =~ /^\{"items":\[\{"id":"0000000000000001",[^{}]*"reason":"given_up"/ }),
       "$name - n1 is a dead letter");
    is((call('POST', '/outbox/targets/w/enable'))[0], 200,
       "$name - the target enabled again");
    ok(wait_seen('/w', 'end n2 200'), "$name - n2 delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
};

# n1 in flight when n2 replaces it; n1 fails and expires: it is not kept
# (replaced), and n2 is sent
$Scenario{replaced_dies} = sub {
    my ($name) = @_;
    HoldDownstream::hold('a', 'n1');
    HoldDownstream::fail('a', 'n1');

    my $s1 = connect_hub();
    send_note($s1, note('n1', 7, 'u-ada'));
    ok(wait_seen('/a', 'start n1'), "$name - n1 in flight");

    my $s2 = connect_hub();
    is(send_note($s2, note('n2', 7, 'u-ada'), 1), 202,
       "$name - n2, replacing n1, accepted");

    HoldDownstream::release('a', 'n1');
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
    is((call('GET', '/outbox/dead'))[1], '{"items":[]}',
       "$name - n1, replaced, is no dead letter");
};

# sends <mark> of chain 7 to <user> on <s>, whose first attempt fails past
# its expiry: it becomes the dead letter <id>
sub dies {
    my ($name, $s, $mark, $user, $id) = @_;
    HoldDownstream::fail('a', $mark);
    is(send_note($s, note($mark, 7, $user), 1), 202,
       "$name - $mark accepted");
    ok(HoldDownstream::wait_for(sub {
           (call('GET', '/outbox/dead'))[1] =~ /"id":"$id"/ }),
       "$name - $mark is a dead letter");
    HoldDownstream::heal('a', $mark);
}

# n1 dies (its first attempt fails, past its expiry then); n2 of the chain
# to the same user replaces it: n1's replay is refused, one or all, and it
# can still be purged
$Scenario{superseded_replay} = sub {
    my ($name) = @_;

    my $s = connect_hub();
    dies($name, $s, 'n1', 'u-ada', '0000000000000001');

    is(send_note($s, note('n2', 7, 'u-ada'), 1), 202,
       "$name - n2 replacing n1 accepted");
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");

    my ($st, $body) = call('POST', '/outbox/dead/0000000000000001/replay');
    is($st, 409, "$name - n1's replay refused");
    like($body, qr/"Superseded"/, "$name - ... with a JSON error that says why");
    is_deeply([call('POST', '/outbox/dead/replay')],
              [200, '{"replayed":0,"skipped":1}'],
              "$name - replay of all skips it");
    is((call('DELETE', '/outbox/dead/0000000000000001'))[0], 200,
       "$name - n1 purged");
    is(scalar(grep { /^start n1$/ } HoldDownstream::at('/a')), 1,
       "$name - n1 was sent once");
};

# n1 and n2 of a chain (to different users: no replacement) both die at
# their first attempts; n1 replayed is in flight (held by the downstream)
# when n2 is replayed: n2 goes back into the chain's queue behind n1, and
# is sent only once n1 was answered
$Scenario{replay_behind_older} = sub {
    my ($name) = @_;

    my $s = connect_hub();
    dies($name, $s, 'n1', 'u-ada', '0000000000000001');
    dies($name, $s, 'n2', 'u-dave', '0000000000000002');

    HoldDownstream::hold('a', 'n1');
    is((call('POST', '/outbox/dead/0000000000000001/replay'))[0], 200,
       "$name - n1 replayed");
    ok(HoldDownstream::wait_for(sub {
           2 == grep { $_ eq 'start n1' } HoldDownstream::at('/a') }),
       "$name - n1 in flight again");

    is_deeply([call('POST', '/outbox/dead/0000000000000002/replay')],
              [200, '{"id":"0000000000000002","state":"retrying"}'],
              "$name - n2 replayed while n1 is in flight");
    like(get('/outbox'),
         qr/"id":"0000000000000001".*"id":"0000000000000002"/,
         "$name - both are in the outbox");

    # a few of the timer's looks: n2 is due to the store's rule only once
    # n1 has left
    Time::HiRes::sleep(2.5);
    is(scalar(grep { $_ eq 'start n2' } HoldDownstream::at('/a')), 1,
       "$name - n2 not sent again while n1 is in flight");

    HoldDownstream::release('a', 'n1');
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");
    is_deeply([HoldDownstream::at('/a')],
              ['start n1', 'end n1 500', 'start n2', 'end n2 500',
               'start n1', 'end n1 200', 'start n2', 'end n2 200'],
              "$name - n1 and n2 died; replayed: n1, then n2");
};

# n1 of a chain dies; n2 of the chain (another user: no replacement) is in
# flight when n1 is replayed: refused (409 ChainBusy: n1, older, would go
# first while n2 is in flight), one or all; once n2 has left, n1's replay
# is taken and it is delivered
$Scenario{replay_before_newer} = sub {
    my ($name) = @_;

    my $s = connect_hub();
    dies($name, $s, 'n1', 'u-ada', '0000000000000001');

    HoldDownstream::hold('a', 'n2');
    my $s2 = connect_hub();
    send_note($s2, note('n2', 7, 'u-dave'));
    ok(wait_seen('/a', 'start n2'), "$name - n2 in flight");

    my ($st, $body) = call('POST', '/outbox/dead/0000000000000001/replay');
    is($st, 409, "$name - n1's replay refused");
    like($body, qr/^\{"error":\{"code":"ChainBusy","message":"[^"]+"\}\}$/,
         "$name - ... with a JSON error that says why");
    is_deeply([call('POST', '/outbox/dead/replay')],
              [200, '{"replayed":0,"skipped":1}'],
              "$name - replay of all skips it");
    like((call('GET', '/outbox/dead'))[1], qr/"id":"0000000000000001"/,
         "$name - n1 is still a dead letter");

    HoldDownstream::release('a', 'n2');
    is(answer($s2), 202, "$name - n2's caller answered");
    ok(wait_seen('/a', 'end n2 200'), "$name - n2 delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");

    is((call('POST', '/outbox/dead/0000000000000001/replay'))[0], 200,
       "$name - n1 replayed once n2 has left");
    ok(wait_seen('/a', 'end n1 200'), "$name - n1 delivered");
    is_deeply([HoldDownstream::at('/a')],
              ['start n1', 'end n1 500', 'start n2', 'end n2 200',
               'start n1', 'end n1 200'], "$name - n1, n2, n1 again");
    is((call('GET', '/outbox/dead'))[1], '{"items":[]}',
       "$name - no dead letter is left");
};

$Scenario{parts_pending} = sub { parts(shift, 0) };
$Scenario{parts_in_flight} = sub { parts(shift, 1) };

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $scenario = $block->scenario;
    return if $dry_run || !defined $scenario;

    HoldDownstream::clear();
    $Scenario{$scenario}->($block->name);
    HoldDownstream::clear();
});

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: n1 of a chain in flight on its first attempt when n2 replaces it: n2's keep-alive caller is answered at once, a notification without a chain is not held back, n2 starts only after n1 answered, and n1 (replaced) is not retried after its failure
--- http_config eval: ::hub('t1', ::target('a'))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: replaced_in_flight
--- no_error_log
[error]
[alert]



=== TEST 2: the timer's path: two due entries of one chain for one target, the older one in flight: the newer waits for its answer
--- http_config eval: ::hub('t2', ::target('a'))
--- config eval: $::TimerServer
--- request
GET /go
--- error_code: 204
--- scenario: timer_fifo
--- no_error_log
[error]
[alert]



=== TEST 3: a replaced notification still pending (failed, due later) at two targets is never sent again; its successor reaches both
--- http_config eval: ::hub('t3', ::target('a', "        retry 60s 60s;\n") . ::target('b', "        retry 60s 60s;\n"))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: replaced_pending
--- no_error_log
[alert]



=== TEST 4: ordering is per target: n1 held at one target holds n2 there only
--- http_config eval: ::hub('t4', ::target('a') . ::target('b'))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: per_target
--- no_error_log
[error]
[alert]



=== TEST 5: three of one chain go one after the other; another chain is not held back by them
--- http_config eval: ::hub('t5', ::target('a'))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: three_and_another
--- no_error_log
[error]
[alert]



=== TEST 6: a Graph target's parts: n1's two parts failed and wait for a retry when n2 of the chain replaces n1: they are never sent again, n2's two parts are
--- http_config eval
::hub('t6', "    notify_target g {\n        dialect graph;\n        url $ENV{TEST_NGINX_HOLD}/g/answer/202;\n        authorization \"Bearer g\";\n        retry 60s 60s;\n    }\n", '', directory => "$::Many/directory.json")
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: parts_pending
--- no_error_log
[alert]



=== TEST 7: a Graph target's parts: n1's two parts in flight when n2 of the chain replaces n1: n2's parts start only after both of n1's answered
--- http_config eval
::hub('t7', "    notify_target g {\n        dialect graph;\n        url $ENV{TEST_NGINX_HOLD}/g/answer/202;\n        authorization \"Bearer g\";\n    }\n", '', directory => "$::Many/directory.json")
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: parts_in_flight
--- no_error_log
[error]
[alert]



=== TEST 8: n1 of a chain in flight, n2 held behind it; n1 fails past its expiry: a dead letter, out of its chain's queue: n2 is sent at once; n1 replayed is delivered
--- http_config eval: ::hub('t8', ::target('a', $::Dies))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: dies_in_flight
--- no_error_log
[alert]



=== TEST 9: n1 of a chain in flight is given up (a webhook's 410): a dead letter, out of its chain's queue: n2 is sent once the target is enabled again
--- http_config eval: ::hub('t9', ::webhook('w'))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: given_up_in_flight
--- no_error_log
[alert]



=== TEST 10: n1 of a chain in flight when n2 replaces it; n1 fails past its expiry: not kept as a dead letter; n2 is sent
--- http_config eval: ::hub('t10', ::target('a', $::Dies))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: replaced_dies
--- no_error_log
[alert]



=== TEST 11: a dead letter whose notification a newer one of its chain replaced: its replay is refused (409 Superseded), replay of all skips it, it can be purged
--- http_config eval: ::hub('t11', ::target('a', $::Dies))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: superseded_replay
--- no_error_log
[alert]



=== TEST 12: a dead letter of a chain replayed while an older entry of its chain for its target is in flight waits behind it
--- http_config eval: ::hub('t12', ::target('a', $::Dies))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: replay_behind_older
--- no_error_log
[alert]



=== TEST 13: a dead letter of a chain is not replayed while a newer notification of its chain is in flight at its target (409 ChainBusy), and is once that one has left
--- http_config eval: ::hub('t13', ::target('a', $::Dies))
--- config eval: $::Server
--- request
GET /go
--- error_code: 204
--- scenario: replay_before_newer
--- no_error_log
[alert]
