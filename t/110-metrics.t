# notify_metrics: Prometheus' text format (0.0.4) from counters in shared
# memory, counted by every worker and kept across reloads.  Two workers
# behind a master, so that the counts of both are seen in one scrape.
#
# What a block's scrapes must hold is given as lines of the exposition
# (lines()); a scrape listed in "--- promtool" (request indexes) is checked
# after the run by Prometheus' own `promtool check metrics`, lint included.
# "--- reload_after" (request indexes) reloads nginx (SIGHUP to the master)
# after those requests; "--- poll_metrics" ([index, lines]) scrapes after
# that request until the lines are there (the outcome of a background
# delivery), without a bound on when.
#
# A reload starts a new generation of the token cache (t/020-jwt.t): a
# token is verified once more after it, a miss.
use lib 't/lib';
use NotifyTest;
use IO::Socket::INET;
use File::Temp qw(tempfile);
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Json = "Content-Type: application/json\n";
our $App = $Json . NotifyTest::bearer(NotifyTest::app_token());
our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));
our $Type = 'text/plain; version=0.0.4; charset=utf-8';

our $Config = <<'CONF' . $NotifyTest::DialectLocations;
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
    location = /metrics { notify_metrics; }
    location = /last { return 200 "last\n"; }
CONF

our $Note = '{"eventId":"e","title":"t","url":"http://x.example.org","accounts":["u-ada"]}';

# one accepted request of each dialect: [request, headers]
our @Accepted = NotifyTest::accepted_requests($Note, $App);

sub smuggle { return NotifyTest::smuggle(@_) }

# the exposition holds each of these lines: a string exactly, a regex as a
# whole line
sub lines {
    my $re = join '', map { ref $_ ? "(?=.*^(?:$_)\$)" : "(?=.*^\Q$_\E\$)" } @_;
    return qr/\A$re/ms;
}

# one scrape, on a connection of its own
sub scrape {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $Test::Nginx::Util::ServerPortForClient,
                                     Proto => 'tcp', Timeout => 5)
        or return '';
    print $sock "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $res = do { local $/; <$sock> } // '';
    close $sock;
    $res =~ s/\A.*?\r\n\r\n//s;
    return $res;
}

our @Scraped;   # [name, text] for promtool

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $p = $block->promtool;
    if (ref $p eq 'ARRAY' && grep { $_ == $req_idx } @$p) {
        push @Scraped, [$block->name . " request $req_idx", $body];
    }

    my $r = $block->reload_after;
    if (ref $r eq 'ARRAY' && grep { $_ == $req_idx } @$r) {
        Test::More::is(NotifyTest::reload(), 'reloaded',
                       $block->name . " - reload after request $req_idx");
    }

    my $poll = $block->poll_metrics;
    if (ref $poll eq 'ARRAY' && $poll->[0] == $req_idx) {
        my ($text, $ok) = ('', 0);
        # no bound on when: as long as the runner's own timeout allows
        for (1 .. 1200) {
            $text = scrape();
            last if $ok = $text =~ $poll->[1];
            Time::HiRes::sleep(0.05);
        }
        Test::More::ok($ok, $block->name . " - the scrapes come to hold"
                            . " what is polled for") or Test::More::diag($text);
    }
});

master_on();
workers(2);
check_accum_error_log();
no_shuffle();
no_long_string();
run_tests();

# Prometheus' own check of every scrape listed, lint included
my $promtool = '/usr/bin/promtool';
if (!-x $promtool) {
    fail("promtool: $promtool is missing (scripts/setup installs prometheus)");

} else {
    ok(scalar @Scraped, 'promtool: scrapes to check');

    for my $s (@Scraped) {
        my ($fh, $file) = tempfile('notify-metrics-XXXXXX', TMPDIR => 1,
                                   UNLINK => 1);
        print $fh $s->[1];
        close $fh;

        my $out = `$promtool check metrics < $file 2>&1`;
        is($?, 0, "promtool check metrics: $s->[0]");
        is($out, '', "promtool: no lint problem: $s->[0]");
    }
}

__DATA__

=== TEST 1: every dialect's requests by status, the store's commits and map
--- http_config eval: ::conf('metrics-1')
--- config eval: $::Config
--- request eval
[(map { $_->[0] } @::Accepted), "POST /n\n{}", "POST /n\n$::Note",
 "POST /v1.0/users/u-ada/teamwork/sendActivityNotification\n{}", "GET /metrics"]
--- more_headers eval
[(map { $_->[1] } @::Accepted), $::App, $::Json, $::Json, '']
--- error_code eval: [200, 204, 201, 200, 400, 401, 401, 200]
--- response_headers_like eval
[(undef) x 7, {'Content-Type' => qr/^\Q$::Type\E$/}]
--- response_body_like eval
[(qr/^/) x 7,
 ::lines('notify_inbound_requests_total{dialect="syntphony",code="200"} 1',
         'notify_inbound_requests_total{dialect="syntphony",code="400"} 1',
         'notify_inbound_requests_total{dialect="syntphony",code="401"} 1',
         'notify_inbound_requests_total{dialect="graph",code="204"} 1',
         'notify_inbound_requests_total{dialect="graph",code="401"} 1',
         'notify_inbound_requests_total{dialect="gever",code="201"} 1',
         'notify_inbound_requests_total{dialect="push",code="200"} 1',
         '# TYPE notify_store_commit_batch_size histogram',
         '# TYPE notify_store_commit_duration_seconds histogram',
         qr/notify_store_commit_batch_size_count [1-9]\d*/,
         qr/notify_store_commit_duration_seconds_count [1-9]\d*/,
         # LMDB's map; the PostgreSQL store has none
         (NotifyTest::lmdb_only() ? ()
          : (qr/notify_store_map_used_bytes [1-9]\d*/,
             qr/notify_store_map_free_bytes [1-9]\d*/)),
         'notify_outbox_entries{target="push"} 0',
         'notify_outbox_oldest_age_seconds{target="push"} 0',
         'notify_deliveries_total{target="push",result="delivered"} 0')]
--- promtool eval: [7]
--- no_error_log
[error]
[alert]



=== TEST 2: the feed by kind, and the token cache's hits and misses
--- http_config eval: ::conf('metrics-2')
--- config eval: $::Config
--- request eval
["POST /n\n$::Note", "GET /activities", "GET /activities/count",
 "POST /activities/0000000000000001/read", "GET /activities/no/such/thing",
 "GET /metrics"]
--- more_headers eval: [$::App, $::Ada, $::Ada, $::Ada, $::Ada, '']
--- error_code eval: [200, 200, 200, 200, 404, 200]
--- response_body_like eval
[(qr/^/) x 5,
 ::lines('notify_feed_requests_total{kind="page"} 1',
         'notify_feed_requests_total{kind="count"} 1',
         'notify_feed_requests_total{kind="mark"} 1',
         'notify_feed_requests_total{kind="other"} 1',
         'notify_token_cache_hits_total 2',
         'notify_token_cache_misses_total 2',
         'notify_inbound_requests_total{dialect="syntphony",code="200"} 1')]
--- promtool eval: [5]
--- no_error_log
[error]
[alert]



=== TEST 3: the requests of two workers count together, and the counts go on across a reload
--- http_config eval: ::conf('metrics-3')
--- config eval: $::Config
--- request eval
["POST /n\n$::Note", ("POST /n\n$::Note") x 6, "POST /n\n{}", "POST /n\n$::Note",
 "GET /metrics"]
--- more_headers eval: [$::App, ($::Json) x 6, ($::App) x 2, '']
--- reload_after eval: [0]
--- error_code eval: [200, (401) x 6, 400, 200, 200]
--- response_body_like eval
[(qr/^/) x 9,
 ::lines('notify_inbound_requests_total{dialect="syntphony",code="401"} 6',
         'notify_inbound_requests_total{dialect="syntphony",code="200"} 2',
         'notify_inbound_requests_total{dialect="syntphony",code="400"} 1',
         'notify_token_cache_hits_total 1',
         'notify_token_cache_misses_total 2',
         qr/notify_store_commit_batch_size_count [1-9]\d*/)]
--- promtool eval: [9]
--- error_log eval
[qr/\[notice\] .*signal 1 \(SIGHUP\) received.*reconfiguring/]
--- no_error_log
[error]
[emerg]
[alert]



=== TEST 4: a method other than GET and HEAD: 405, and the body is no request
--- http_config eval: ::conf('metrics-5')
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('POST /metrics')
--- error_code eval: [405, 200]
--- response_headers_like eval
[{Allow => qr/^GET, HEAD$/}, undef]
--- response_body_like eval: [qr/405/, qr/^last$/]
--- no_error_log
smuggled
[alert]



=== TEST 5: a GET with a body: the body is discarded, never the next request
--- http_config eval: ::conf('metrics-6')
--- config eval: $::Config
--- pipelined_requests eval: ::smuggle('GET /metrics')
--- error_code eval: [200, 200]
--- response_body_like eval: [qr/^# HELP notify_inbound_requests_total /, qr/^last$/]
--- no_error_log
smuggled
[alert]



=== TEST 6: HEAD: the headers of the text, no body
--- http_config eval: ::conf('metrics-7')
--- config eval: $::Config
--- request
HEAD /metrics
--- error_code: 200
--- response_headers eval
"Content-Type: $::Type\n"
--- response_body chomp
--- no_error_log
[error]



=== TEST 7: without a store: the counters, and no gauge of the store
--- http_config
--- config
    location = /metrics { notify_metrics; }
--- request eval: ["GET /metrics"]
--- error_code eval: [200]
--- response_body_like eval
[qr/\A(?!.*notify_store_map_|.*notify_outbox_)(?=.*^notify_deliveries_total\{target="push",result="retry"\} 0$)/ms]
--- promtool eval: [0]
--- no_error_log
[error]



=== TEST 8: a delivery: counted by target and result once the downstream took it
--- http_config eval: ::conf('metrics-9') . $NotifyTest::PushHttp
--- config eval: $::Config . $NotifyTest::PushServer
--- request eval: ["POST /n\n$::Note"]
--- more_headers eval: [$::App]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query_auto_timeout: 0.1
--- error_code eval: [200]
--- poll_metrics eval
[0, ::lines('notify_deliveries_total{target="push",result="delivered"} 1',
            'notify_outbox_entries{target="push"} 0')]
--- no_error_log
[error]
[alert]



=== TEST 9: a downstream that is not there: the entry waits in the outbox, its attempts are retries
--- http_config eval: ::conf('metrics-10') . "    notify_push_url http://127.0.0.1:1/push;\n    notify_delivery_retry 1s 10s;\n"
--- config eval: $::Config
--- request eval: ["POST /n\n$::Note", "GET /metrics"]
--- more_headers eval: [$::App, '']
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/^/,
 ::lines('notify_outbox_entries{target="push"} 1',
         qr/notify_outbox_oldest_age_seconds\{target="push"\} \d+/)]
--- poll_metrics eval
[1, ::lines(qr/notify_deliveries_total\{target="push",result="retry"\} [1-9]\d*/,
            'notify_outbox_entries{target="push"} 1')]
--- promtool eval: [1]
--- no_error_log
[alert]



=== TEST 10: notify_metrics takes no argument
--- http_config
--- config
    location = /metrics { notify_metrics on; }
--- must_die
--- error_log
invalid number of arguments in "notify_metrics" directive



=== TEST 11: notify_metrics twice in a location
--- http_config
--- config
    location = /metrics { notify_metrics; notify_metrics; }
--- must_die
--- error_log
"notify_metrics" directive is duplicate



=== TEST 12: notify_metrics where another handler of the module is
--- http_config
--- config
    location = /metrics { notify_status; notify_metrics; }
--- must_die
--- error_log
"notify_metrics" directive is duplicate



=== TEST 13: notify_metrics is a location's directive
--- http_config
    notify_metrics;
--- config
--- must_die
--- error_log
"notify_metrics" directive is not allowed here
