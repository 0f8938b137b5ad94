# An LMDB store written before targets existed (one outbox entry a
# notification, for notify_push_url, in the tables "outbox" and "due") is
# opened by this module: its entries become the "push" target's entry 0 of
# each notification, keep their attempts, last error and expiry, are listed
# and retried now like any other, and are delivered with the idempotency
# key they always had; the notifications' ids go on after the old ones.
#
# t/data/upgrade/outbox-one-target.mdb.gz is such a store, written by the
# module as it was before targets (commit 60eb004): three Syntphony
# notifications (ids 1 to 3, titles "old 1" to "old 3", to u-ada and u-bob)
# accepted while notify_push_url's downstream refused connections, each
# failed once, due again an hour later, expiring in 36500 days.
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use File::Path qw(make_path);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Test::Nginx::Socket 'no_plan';

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();
}

our $Store = 'upgrade';
our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

# the old store in place before TEST 1's nginx starts (TESTs 2 and 3
# reopen it)
add_block_preprocessor(sub {
    my $block = shift;
    return unless $block->name =~ /TEST 1:/ && !NotifyTest::postgres();
    my $dir = "$ENV{TEST_NGINX_STORE}/$Store";
    make_path($dir);
    unlink "$dir/lock.mdb";
    gunzip('t/data/upgrade/outbox-one-target.mdb.gz' => "$dir/data.mdb")
        or die "gunzip: $GunzipError";
    chmod 0777, $dir;
    chmod 0666, "$dir/data.mdb";
});

# the hub on the old store, its push target at <url> (the downstream's by
# default), retried after <retry>
sub hub {
    my ($url, $retry) = @_;
    return ::conf($Store,
                  "    notify_push_url "
                  . ($url // "$ENV{TEST_NGINX_DOWNSTREAM}/up/push") . ";\n"
                  . "    notify_push_jwt new-token;\n"
                  . "    notify_delivery_retry " . ($retry // '300ms 1s') . ";\n"
                  . "    log_format delivery '\$request_method \$uri"
                  . " \$status delivery=\$notify_delivery_status';\n");
}

master_on();
workers(1);
no_shuffle();
no_long_string();
run_tests();

# TEST 2: each old notification (and TESTs 1 and 3's new ones) reached the push target once, in the push
# contract, with its old idempotency key and the new token
unless (NotifyTest::postgres()) {
    my %got = map { my $b = decode_json($_->{body}); ($b->{id} => [$_, $b]) }
              Downstream::requests('/up/push');
    is_deeply([sort keys %got],
              ['0000000000000001', '0000000000000002', '0000000000000003',
               '0000000000000004', '0000000000000005'],
              'TESTs 2-3: the three old notifications and the new ones delivered');
    for my $n (1 .. 3) {
        my $id = sprintf '%016x', $n;
        my ($req, $body) = @{ $got{$id} || [{}, {}] };
        is($req->{headers}{'idempotency-key'}, "notify-$id",
           "TEST 2: $id keeps its idempotency key");
        is($req->{headers}{authorization}, 'new-token',
           "TEST 2: $id goes with the new configuration's token");
        is($body->{title}, "old $n", "TEST 2: $id is the old notification");
        is_deeply([sort @{ $body->{recipients} || [] }], ['u-ada', 'u-bob'],
                  "TEST 2: $id keeps its recipients");
    }
    is(scalar(Downstream::requests('/up/push')), 5,
       'TESTs 2-3: one request each');
}

__DATA__

=== TEST 1: the old outbox is the push target's, listed with what it had; its downstream still refuses, so nothing leaves; a new notification's id follows the old ones
--- skip_eval: 1: NotifyTest::lmdb_only()
--- http_config eval: ::hub("http://127.0.0.1:1/refused", '1h 1h')
--- config eval: $NotifyTest::DeliveryServer
--- more_headers eval: ['', $::App]
--- request eval
["GET /outbox",
 "POST /n\n" . JSON::PP::encode_json({eventId => 'e', title => 'new', url => 'http://x.example.org/', accounts => ['u-ada']})]
--- response_body_like eval
[qr/^\{"items":\[\{"id":"0000000000000001","attempts":[12],[^{}]*"expires":"2126-[^{}]*"last_error":"no answer: Failed to connect to 127\.0\.0\.1 port \d+[^"]*","notification":"0000000000000001","target":"push","part":0\},\{"id":"0000000000000002",[^{}]*"target":"push","part":0\},\{"id":"0000000000000003",[^{}]*"target":"push","part":0\}\]\}$/,
 qr/^\{"id":"0000000000000004","recipients":1,"unresolved":\[\]\}$/]
--- no_error_log
[alert]
[crit]



=== TEST 2: (the same store) the downstream answers: each old entry, retried now, is delivered, and so is the new one
--- skip_eval: 1: NotifyTest::lmdb_only()
--- http_config eval: ::hub()
--- config eval: $NotifyTest::DeliveryServer
--- request eval
["POST /outbox/0000000000000001/retry",
 "POST /outbox/0000000000000002/retry",
 "POST /outbox/0000000000000003/retry",
 "POST /outbox/0000000000000004/retry"]
--- wait: 1
--- response_body_like eval
[qr/^\{"id":"0000000000000001","state":"retrying"\}$/,
 qr/^\{"id":"0000000000000002","state":"retrying"\}$/,
 qr/^\{"id":"0000000000000003","state":"retrying"\}$/,
 qr/^\{"id":"0000000000000004","state":"retrying"\}$/]
--- no_error_log
[alert]
[crit]



=== TEST 3: reopened, the upgraded store has nothing left of the old tables and takes new notifications
--- skip_eval: 1: NotifyTest::lmdb_only()
--- http_config eval: ::hub()
--- config eval: $NotifyTest::DeliveryServer
--- more_headers eval: ['', $::App, '']
--- request eval
["GET /outbox",
 "POST /n\n" . JSON::PP::encode_json({eventId => 'e', title => 'newer', url => 'http://x.example.org/', accounts => ['u-bob']}),
 "GET /outbox"]
--- wait: 0.5
--- response_body_like eval
[qr/^\{"items":\[\]\}$/,
 qr/^\{"id":"0000000000000005","recipients":1,"unresolved":\[\]\}$/,
 qr/^\{"items":\[\]\}$/]
--- no_error_log
[alert]
[crit]



=== TEST 4: the upgraded store has the dead letters' tables too (created when it is opened): none yet
--- skip_eval: 1: NotifyTest::lmdb_only()
--- http_config eval: ::hub()
--- config eval: $NotifyTest::DeliveryServer
--- request
GET /outbox/dead
--- response_body_like: ^\{"items":\[\]\}$
--- no_error_log
[alert]
[crit]
