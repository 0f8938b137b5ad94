# The store after a worker's crash: a worker killed with SIGKILL leaves its
# LMDB reader slot behind, and the worker that the master starts in its
# place clears it (a slot left inside a read transaction would pin that
# snapshot: the pages freed after it never reused, the file growing).
#
# Two workers: the other one keeps the store open meanwhile, as on a hub
# where one worker crashes (were the store open nowhere, LMDB would start
# its lock file afresh and there would be nothing to clear).
#
# "--- sigkill_logged: FILE": after the response, the worker whose pid the
# access log FILE (in logs/, format "$pid") names last gets SIGKILL, and
# the test waits until a new worker has opened the store.
use lib 't/lib';
use NotifyTest;

BEGIN {
    if (NotifyTest::postgres()) {
        require Test::More;
        Test::More->import(skip_all => 'LMDB reader slots: the PostgreSQL'
                                       . ' store has none');
    }
}
use JSON::PP;
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));
our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or return '';
    my $text = do { local $/; <$fh> } // '';
    close $fh;
    return $text;
}

# how many times a worker has opened the store, by the error log
sub opened {
    my $n = () = slurp(server_root() . '/logs/error.log') =~ /notify: store "[^"]+" open/g;
    return $n;
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $file = $block->sigkill_logged or return;
    $file =~ s/\s+$//;

    my ($pid) = slurp(server_root() . "/logs/$file") =~ /(\d+)\n?$/;
    unless ($pid) {
        Test::More::fail($block->name . " - a pid in logs/$file");
        return;
    }

    my $before = opened();
    kill 'KILL', $pid or die "kill KILL $pid: $!";

    for (1 .. 200) {
        last if opened() > $before;
        Time::HiRes::sleep(0.05);
    }
});

our $Config = <<'CONF';
    location = /n { notify_inbound syntphony; }
    location /activities {
        access_log logs/feed.log pid;
        notify_feed;
    }
CONF

our $Hub = NotifyTest::conf('crash', "    log_format pid '\$pid';");

master_on();
workers(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a worker killed with SIGKILL: the worker started in its place clears the reader slot it left
--- http_config eval: $::Hub
--- config eval: $::Config
--- request
GET /activities
--- more_headers eval: $::Ada
--- sigkill_logged: feed.log
--- response_body chomp
{"items":[],"next":null,"unread":0}
--- error_log eval
[qr/\[alert\] .*worker process \d+ exited on signal 9/,
 qr/\[warn\] .*notify: store: cleared 1 stale reader slots of processes that died/]
--- no_error_log
[emerg]
[crit]



=== TEST 2: the store serves on after the crash: accepted, then in the feed
--- http_config eval: $::Hub
--- config eval: $::Config
--- request eval
["POST /n\n" . JSON::PP::encode_json({eventId => 'e', title => 'after', url => 'http://x.example.org/a',
                            accounts => ['u-ada']}),
 "GET /activities"]
--- more_headers eval: [$::App, $::Ada]
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/^\{"id":"[0-9a-f]{16}","recipients":1,"unresolved":\[\]\}$/,
 qr/^\{"items":\[\{"id":"[0-9a-f]{16}","dialect":"syntphony","event":"e","title":"after",[^\]]*"read":false\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]
[emerg]
[alert]
