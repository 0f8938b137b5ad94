# Ordering per chain with two worker processes: many notifications of two
# chains, sent side by side on keep-alive connections spread over both
# workers (a listener with reuseport), reach the target one at a time per
# chain, in the order the hub accepted them (their ids, which grow with
# commit order), each once; with first attempts (each worker's
# subrequests, the first worker's timer) and with the timer only.  The
# downstream (t/lib/HoldDownstream.pm) holds the first notification of one
# chain while the others arrive, so that they queue behind it, and records
# the order in which requests started and were answered, and each one's
# Idempotency-Key (notify-<id>); the test asserts on that order only.
use lib 't/lib';
use NotifyTest;
use HoldDownstream;
use ChainHub;
use File::Spec;
use Test::Nginx::Socket 'no_plan';

our $Many;

BEGIN {
    NotifyTest::setup(manifest =>
                      File::Spec->rel2abs('t/data/graph/manifest.json'));
    $Many = ChainHub::setup();
}

# the port of the listener with reuseport, next to the test's own
our $Spread = Test::Nginx::Socket::server_port() + 37;

# the hub: a push target "a" at the downstream, the inbound on the
# listener with reuseport (with first attempts, or the timer only)
sub hub {
    my ($store, $first) = @_;
    return ::conf($store, directory => "$Many/directory.json",
                  extra => "    notify_delivery_retry 200ms 1s;\n"
                           . "    notify_delivery_timeout 70s;\n"
                           . "    notify_delivery_first_timeout 70s;\n"
                           . "    notify_target a {\n        dialect push;\n"
                           . "        url $ENV{TEST_NGINX_HOLD}/a;\n    }\n")
           . "    server {\n        listen 127.0.0.1:$Spread reuseport;\n"
           . "        location ~ /sendActivityNotification(ToRecipients)?\$ {\n"
           . "            add_header X-Pid \$pid always;\n"
           . "            notify_inbound graph;\n        }\n"
           . "        location = /pid {\n"
           . "            add_header X-Pid \$pid always;\n"
           . "            return 204;\n        }\n"
           . ($first ? $ChainHub::Deliver : '') . "    }\n";
}

our $Rounds = 8;

# the test's own server: the outbox
our $Outbox = "    location /outbox { notify_outbox; }\n"
              . "    location = /go { return 204; }\n";

# keep-alive connections to the listener with reuseport, three for each
# worker (each found by the pid it answers with)
sub spread {
    my (%by, @conns);
    for (1 .. 60) {
        my $s = connect_hub($Spread);
        print $s "GET /pid HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my ($st, $head) = answer($s);
        my ($pid) = $head =~ /\r\nX-Pid: (\d+)/i;
        next unless $st == 204 && $pid && @{ $by{$pid} // [] } < 3;
        push @{ $by{$pid} }, $s;
        push @conns, $s;
        last if keys %by >= 2 && 2 == grep { @$_ == 3 } values %by;
    }
    return @conns;
}

# the events at /a of a chain's marks ("k7-..."): [start or end, mark]
sub chain_events {
    my ($chain) = @_;
    return map { /^(start|end) (k$chain-\S+)/ ? [$1, $2] : () }
           HoldDownstream::at('/a');
}

$Scenario::spread = sub {
    my ($name) = @_;
    my %accepted = (7 => ['k7-h0'], 8 => []);

    # the first of chain 7 in flight, held: the others of chain 7 queue
    HoldDownstream::hold('a', 'k7-h0');
    my $h = connect_hub($Spread);
    send_note($h, note('k7-h0', 7, 'm-150'));
    ok(wait_seen('/a', 'start k7-h0'), "$name - k7-h0 in flight");

    my @conns = spread();
    is(scalar(@conns), 6, "$name - six connections, three to each worker");

    # each round: one notification on every connection at once (the
    # chains alternating, each to a user of its own: none replaces
    # another), then their answers
    my (%pids, @status);
    for my $r (1 .. $Rounds) {
        my @marks;
        for my $c (0 .. $#conns) {
            my $chain = ($c + $r) % 2 ? 7 : 8;
            my $mark = "k$chain-c$c-r$r";
            push @marks, [$chain, $mark];
            send_note($conns[$c], note($mark, $chain,
                                       sprintf('m-%03d', $r * 10 + $c)));
        }
        for my $c (0 .. $#conns) {
            my ($st, $head) = answer($conns[$c]);
            push @status, $st;
            $pids{$1} = 1 if $head =~ /\r\nX-Pid: (\d+)/i;
            push @{ $accepted{$marks[$c][0]} }, $marks[$c][1];
        }
    }

    is(scalar(grep { $_ == 202 } @status), 6 * $Rounds,
       "$name - every notification accepted");
    is(scalar(keys %pids), 2, "$name - by both workers");

    HoldDownstream::release('a', 'k7-h0');
    is(answer($h), 202, "$name - k7-h0's caller answered");

    my $all = @{ $accepted{7} } + @{ $accepted{8} };
    ok(HoldDownstream::wait_for(sub {
           $all == grep { /^end k\d-\S+ 200$/ } HoldDownstream::at('/a') }),
       "$name - all $all delivered");
    like(outbox_empty(), qr/^\{"items":\[\]\}/, "$name - the outbox is empty");

    my $keys = HoldDownstream::keys_of();

    for my $chain (7, 8) {
        my @marks = @{ $accepted{$chain} };

        is(scalar(grep { @{ $keys->{$_} // [] } == 1 } @marks),
           scalar(@marks), "$name - chain $chain: each sent once");

        my %id = map { $_ => (($keys->{$_} // [])->[0] // '') =~ /^notify-([0-9a-f]{16})$/ ? hex($1) : 0 } @marks;
        my @by_id = sort { $id{$a} <=> $id{$b} } @marks;
        my @started = map { $_->[1] } grep { $_->[0] eq 'start' }
                      chain_events($chain);
        is_deeply(\@started, \@by_id,
                  "$name - chain $chain: sent in the order accepted")
            or diag(join ' ', map { "$_=$id{$_}" } @started);

        my ($flight, $most) = (0, 0);
        for my $e (chain_events($chain)) {
            $flight += $e->[0] eq 'start' ? 1 : -1;
            $most = $flight if $flight > $most;
        }
        is($most, 1, "$name - chain $chain: never two in flight at once");
    }

};

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $scenario = $block->scenario;
    return if $dry_run || !defined $scenario;

    HoldDownstream::clear();
    $Scenario::spread->($block->name);
    HoldDownstream::clear();
});

master_on();
workers(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: two workers, with first attempts: two chains' notifications from six keep-alive connections spread over both reach the target in the order accepted, one at a time per chain
--- http_config eval: ::hub('w1', 1)
--- config eval: $::Outbox
--- request
GET /go
--- error_code: 204
--- scenario: spread
--- no_error_log
[error]
[alert]



=== TEST 2: two workers, the timer only: the same
--- http_config eval: ::hub('w2', 0)
--- config eval: $::Outbox
--- request
GET /go
--- error_code: 204
--- scenario: spread
--- no_error_log
[error]
[alert]
