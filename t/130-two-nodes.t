# Two nginx nodes on one PostgreSQL store: node A is the test's nginx, node
# B a second nginx started here with its own prefix, port and
# configuration, on the same database and schema.  A's /b/ location is a
# proxy to B, so that a block's requests reach either node.
#
# What one node accepts is in the other's feed; what is marked read on one
# is read on the other; an idempotent retry sent to the other is known;
# an outbox entry is delivered once while both nodes run their timers; a
# stream held by B gets what A commits (LISTEN/NOTIFY).
#
# "--- outbox_drained: INDEX": after the response to request INDEX, A's
# outbox is listed until it is empty (without a bound on when); then each
# notification must have been answered 200 by the downstream exactly once,
# whichever node sent it.
use lib 't/lib';
use NotifyTest;

BEGIN {
    unless (NotifyTest::postgres()) {
        require Test::More;
        Test::More->import(skip_all => 'two nodes need the PostgreSQL store'
                                       . ' (scripts/test --store postgres)');
    }
}

use Downstream;
use Sse;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());
our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));

sub note {
    my ($title, $unique) = @_;
    return "POST /n\n" . encode_json({eventId => 'e', title => $title,
        url => 'http://x.example.org/', accounts => ['u-ada'],
        defined $unique ? (uniqueId => $unique) : ()});
}

# both nodes push to the downstream, whose first three answers are 500
our $Delivery = <<"CONF";
    notify_push_url $ENV{TEST_NGINX_DOWNSTREAM}/fail/500/3;
    notify_push_jwt push-secret-jwt;
    notify_delivery_retry 300ms 1s;
    notify_delivery_timeout 2s;
CONF

our $Locations = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
    location /outbox { notify_outbox; }
CONF

# node B
our $BDir = tempdir('notify-node-b-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $BPort = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no port: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};
my $BStarted;

sub node_b {
    return if $BStarted;

    mkdir "$BDir/$_" for qw(conf logs);

    my $conf = join '', map { "load_module $_;\n" }
                        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    $conf .= "user root;\n" if $> == 0;
    $conf .= "daemon on;\nmaster_process on;\nworker_processes 1;\n"
           . "error_log logs/error.log info;\npid logs/nginx.pid;\n"
           . "events { worker_connections 256; }\n"
           . "http {\n    access_log off;\n"
           . NotifyTest::conf('shared', $Delivery)
           . "    server {\n        listen 127.0.0.1:$BPort;\n"
           . "        server_name b;\n$Locations    }\n}\n";

    open my $fh, '>', "$BDir/conf/nginx.conf" or die "$BDir: $!";
    print $fh $conf;
    close $fh;

    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
        if $ENV{TEST_NGINX_LD_PRELOAD};

    system($ENV{TEST_NGINX_BINARY}, '-p', "$BDir/", '-c', 'conf/nginx.conf') == 0
        or die "node B did not start: " . `cat $BDir/logs/error.log`;

    $BStarted = $$;
}

END {
    if ($BStarted && $BStarted == $$
        && open my $fh, '<', "$BDir/logs/nginx.pid")
    {
        my $pid = <$fh>;
        close $fh;
        chomp $pid;
        kill 'QUIT', $pid if $pid;
        for (1 .. 100) {
            last unless kill 0, $pid;
            Time::HiRes::sleep(0.05);
        }
    }
}

# psql(SQL): SQL run on the suite's server; dies when it fails
sub psql {
    my ($sql) = @_;
    my $dir = $ENV{TEST_NGINX_PG_DIR};
    open(my $psql, '|-', 'psql', '-qAt', '-v', 'ON_ERROR_STOP=1', '-h',
         "$dir/sock", '-U', 'notify', '-d', 'notify', '-o', '/dev/null',
         '-f', '-')
        or die "psql: $!";
    print $psql $sql;
    close($psql) or die "psql: $?";
}

# a stream of Ada's on B, once its first event (the counts) is there
sub b_stream {
    my ($st, $err) = Sse::stream($BPort, '/activities/stream', $Ada =~ s/\n/\r\n/r);
    die $err unless $st;
    Sse::say("B " . Sse::text($st->events(1)));
    return $st;
}

# a notification to Ada posted to the node on "port": [status, body]
sub post_to {
    my ($port, $title) = @_;
    return Sse::request($port, 'POST', '/n', $App =~ s/\n/\r\n/gr,
                        note($title) =~ s{^POST /n\n}{}r);
}

# the events of "st" until one of the notification "title" is there
sub until_title {
    my ($st, $title) = @_;
    return $st->until(sub { grep { ($_->{data} // '') =~ /"title":"\Q$title\E"/ } @{ $_[0] } });
}

sub get_a {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port()) or return '';
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    return $r;
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->outbox_drained;

    return unless $req_idx == $block->outbox_drained;

    until (get_a('/outbox') =~ /\r\n\r\n\{"items":\[\]\}$/) {
        Time::HiRes::sleep(0.1);
    }

    # the downstream answers its first three requests 500, the rest 200
    my @r = Downstream::requests('/fail/500/3');
    my %ok;
    $ok{ $_->{headers}{'idempotency-key'} }++ for @r[3 .. $#r];

    Test::More::is(scalar keys %ok, 3, $block->name
                   . ' - three notifications delivered');
    Test::More::is_deeply([values %ok], [1, 1, 1], $block->name
                          . ' - each once, by one of the nodes');
});

*say = \&Sse::say;
Sse::check_stream_like();

no_shuffle();
run_tests();

__DATA__

=== TEST 1: accepted by A, in the feed read from B
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init: main::node_b()
--- request eval
[::note('one'), "GET /b/activities"]
--- more_headers eval
[$::App, $::Ada]
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001","recipients":1,"unresolved":\[\]\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^\]]*"title":"one"[^\]]*\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 2: marked read on B, read on A
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init: main::node_b()
--- request eval
["POST /b/activities/0000000000000001/read", "GET /activities/count",
 "GET /activities"]
--- more_headers eval
[$::Ada, $::Ada, $::Ada]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
[qr/^\{"unread":0\}$/, qr/^\{"unread":0\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001",[^\]]*"read":true\}\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 3: accepted by A, the same key again on B: the first answer, stored once
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init: main::node_b()
--- request eval
[::note('two', 'k2'), ::note('two again', 'k2') =~ s{^POST /n}{POST /b/n}r,
 "GET /activities"]
--- more_headers eval
[$::App, $::App, $::Ada]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000002",/, qr/^\{"id":"0000000000000002",/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^\]]*"title":"two"[^\]]*\},\{"id":"0000000000000001",[^\]]*\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 4: three deliveries whose first attempts fail: each delivered once while both nodes retry from the shared outbox
--- http_config eval: ::conf('shared', $::Delivery)
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init: main::node_b()
--- request eval
[::note('three'), ::note('four'), ::note('five')]
--- more_headers eval
[$::App, $::App, $::App]
--- error_code eval: [200, 200, 200]
--- outbox_drained: 2
--- no_error_log
[alert]



=== TEST 5: a stream held by B gets what A commits: the item and the counts, then A's mark; what B commits it has once, not again from A's announcement
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init
main::node_b();
my $st = ::b_stream();
my $r = ::post_to(::server_port(), 'six');
::say("A accepted $r->[0] $r->[1]");
::say("B " . Sse::text([@{ $st->events(3) }[1, 2]]));
$r = Sse::request(::server_port(), 'POST', '/activities/0000000000000006/read', $::Ada =~ s/\n/\r\n/r);
::say("A read $r->[0]");
::say("B " . Sse::text([@{ $st->events(5) }[3, 4]]));
# B's own commit, then A's: B hears A's after what it may have heard of
# its own, so once eight is there, seven was there once
::post_to($::BPort, 'seven');
::post_to(::server_port(), 'eight');
my $events = ::until_title($st, 'eight');
my @items = grep { ($_->{event} // '') eq 'item' } @$events;
::say("B items " . join(',', map { /"id":"0*(\d+)"/ ? $1 : '?' } map { $_->{data} } @items));
$st->close;
--- request
GET /b/activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":6,"unseen":6\}$
--- stream_like
^B counts \{"unread":4,"unseen":4\}
A accepted 200 \{"id":"0000000000000006"
B item \{"id":"0000000000000006",[^\n]*"title":"six"[^\n]*"read":false,"seen":false,"archived":false\}\ncounts \{"unread":5,"unseen":5\}
A read 200
B read \{"id":"0000000000000006"\}\ncounts \{"unread":4,"unseen":4\}
B items 6,7,8$
--- no_error_log
[error]



=== TEST 6: B's LISTEN connection is lost: it is made again, and B's streams are reset (what was announced meanwhile is not known); then events come again
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init
main::node_b();
my $st = ::b_stream();
# every node's LISTEN connection (A's too) is ended by the server
::psql("SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity"
       . " WHERE query LIKE 'LISTEN %'");
::say("B " . Sse::text([$st->events(2)->[1]]));
::post_to(::server_port(), 'nine');
my $events = ::until_title($st, 'nine');
::say("B then " . join(',', map { $_->{event} } grep { $_->{event} } @$events[2 .. $#$events]));
$st->close;
open my $log, '<', "$::BDir/logs/error.log" or die "$::BDir: $!";
my @lost = grep { /LISTEN connection lost|listening again/ } <$log>;
::say("B logged: " . join(',', map { /(LISTEN connection lost|listening again)/ } @lost));
--- request
GET /b/activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":7,"unseen":7\}$
--- stream_like
^B counts \{"unread":6,"unseen":6\}
B reset \{"reason":"events were lost"\}
B then item(,counts)?\n
B logged: LISTEN connection lost,listening again$
--- no_error_log
[alert]



=== TEST 7: B is reloaded: its stream ends, and a client that resumes there with its Last-Event-ID is reset (while no worker of B listened, A's announcements were not heard)
--- http_config eval: ::conf('shared')
--- config eval: $::Locations . "    location /b/ { proxy_pass http://127.0.0.1:$::BPort/; }"
--- init
main::node_b();
my $st = ::b_stream();
::post_to(::server_port(), 'ten');
my $last = ::until_title($st, 'ten')->[-1]{id};
open my $fh, '<', "$::BDir/logs/nginx.pid" or die "$::BDir: $!";
chomp(my $pid = <$fh>);
kill 'HUP', $pid or die "HUP $pid: $!";
$st->until(sub { 0 }, 10) until $st->{eof};
::say("B's stream ended by the reload");
my $err;
($st, $err) = Sse::stream($::BPort, '/activities/stream', ($::Ada =~ s/\n/\r\n/r) . "Last-Event-ID: $last\r\n");
die $err unless $st;
my $events = $st->until(sub { grep { ($_->{event} // '') eq 'reset' } @{ $_[0] } });
::say("B then " . Sse::text([grep { ($_->{event} // '') eq 'reset' } @$events]));
$st->close;
--- request
GET /b/activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":8,"unseen":8\}$
--- stream_like
^B counts \{"unread":7,"unseen":7\}
B's stream ended by the reload
B then reset \{"reason":"events were lost"\}$
--- no_error_log
[error]
