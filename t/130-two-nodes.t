# Two nginx nodes on one PostgreSQL store: node A is the test's nginx, node
# B a second nginx started here with its own prefix, port and
# configuration, on the same database and schema.  A's /b/ location is a
# proxy to B, so that a block's requests reach either node.
#
# What one node accepts is in the other's feed; what is marked read on one
# is read on the other; an idempotent retry sent to the other is known;
# an outbox entry is delivered once while both nodes run their timers.
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
our $BPort = NotifyTest::free_port();
my $BStarted;

sub node_b {
    return if $BStarted++;

    NotifyTest::start_nginx($BDir, NotifyTest::conf('shared', $Delivery)
        . "    server {\n        listen 127.0.0.1:$BPort;\n"
        . "        server_name b;\n$Locations    }\n");
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
