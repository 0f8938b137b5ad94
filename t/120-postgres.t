# The PostgreSQL store: notify_store postgres://... and its parameters, the
# schema made and versioned by the master, and PostgreSQL going away and
# coming back while nginx runs.  The blocks that need the server run with
# scripts/test --store postgres (its private server); the configuration's
# errors run with either store.
#
# "--- pg_after eval: {INDEX => COMMAND}": after the response to request
# INDEX, scripts/pg COMMAND on the suite's server ("stop", "kill",
# "restart"); after "restart" the test waits until a worker says it is
# connected again (its backoff is at most 5 s), without a bound on when.
# "--- log_after eval: {INDEX => [PATTERN, ...]}": after the response to
# request INDEX, the whole error log so far matches each pattern (an error
# log check of a block with several requests sees each request's part
# alone).
use lib 't/lib';
use NotifyTest;
use Time::HiRes ();
use Sse;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Json = "Content-Type: application/json\n";
our $App = $Json . NotifyTest::bearer(NotifyTest::app_token());
our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));

our $Config = <<'CONF' . $NotifyTest::DialectLocations;
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
CONF

our $Note = '{"eventId":"e","title":"t","url":"http://x.example.org","accounts":["u-ada"]}';

# one request of each dialect: [request, headers]
our @Dialects = NotifyTest::accepted_requests($Note, $App);

# the URL of the suite's server, with no schema
our $Url = NotifyTest::postgres()
    ? (NotifyTest::store('/x') =~ /^(\S+)/)[0] : 'postgres:///notify';

sub pg_only { return !NotifyTest::postgres() }

# psql(SQL): SQL run on the suite's server (on its input); dies when it
# fails
sub psql {
    my ($sql) = @_;
    my $dir = $ENV{TEST_NGINX_PG_DIR};
    open(my $psql, '|-', 'psql', '-qAt', '-v', 'ON_ERROR_STOP=1', '-h',
         "$dir/sock", '-U', 'notify', '-d', 'notify', '-f', '-')
        or die "psql: $!";
    print $psql $sql;
    close($psql) or die "psql: $?";
}

# a schema of a version the module does not know yet, made with psql
sub newer_schema {
    my ($schema) = @_;
    my $sql = "CREATE SCHEMA $schema;"
        . " CREATE TABLE $schema.meta (one boolean PRIMARY KEY DEFAULT true,"
        . " version integer NOT NULL, last_seq bigint NOT NULL);"
        . " INSERT INTO $schema.meta VALUES (true, 99, 0);";
    psql($sql);
}

newer_schema('t_newer') if NotifyTest::postgres();

# a schema of version 1, as the module made it before the feed's states
# (its text taken from the module's source), with three entries of u-ada:
# 1 and 2 under the read watermark (2), 3 unread; 2 also read by itself.
# With N, N entries of u-ada, all unread.
sub v1_schema {
    my ($schema, $n) = @_;
    my $src = NotifyTest::slurp('ngx_module/store/ngx_http_notify_store_pg.c');
    my ($v1) = $src =~ /ngx_http_notify_pg_v1\[\] =\n(.*?)\n\n\n/s
        or die "no version 1 schema in the source";
    $v1 =~ s{/\*.*?\*/}{}gs;
    my $sql = join '', map { s/\\n/\n/g; s/\\"/"/g; $_ }
                       $v1 =~ /"((?:[^"\\]|\\.)*)"/g;
    $sql =~ s/@/$schema/g;

    my $view = '{"id":"%016x","dialect":"syntphony","event":"e","title":"t%d"}';
    $sql = "CREATE SCHEMA $schema;"
        . " CREATE TABLE $schema.meta (one boolean PRIMARY KEY DEFAULT true"
        . " CHECK (one), version integer NOT NULL, last_seq bigint NOT NULL);"
        . " INSERT INTO $schema.meta VALUES (true, 1, " . ($n || 3) . ");"
        . $sql
        . join('', map { sprintf(" INSERT INTO $schema.notes VALUES (%d, %d,"
                                 . " '{}', '$view', '\\x75'::bytea, NULL,"
                                 . " NULL);", $_, time, $_, $_) }
                       1 .. ($n || 3))
        . ($n ? " INSERT INTO $schema.feed SELECT 'u-ada', s, false"
                . " FROM generate_series(1, $n) s;"
                . " INSERT INTO $schema.users VALUES ('u-ada', $n, 0);"
              : " INSERT INTO $schema.feed VALUES ('u-ada', 1, false),"
                . " ('u-ada', 2, true), ('u-ada', 3, false);"
                . " INSERT INTO $schema.users VALUES ('u-ada', 1, 2);");
    psql($sql);
}

if (NotifyTest::postgres()) {
    v1_schema((NotifyTest::store("$ENV{TEST_NGINX_STORE}/$_->[0]")
               =~ /schema=(\S+)/)[0], $_->[1])
        for ['migrated'], ['scanned', 1005], ['outboxed'];

    # and one of them with a delivery pending in the outbox of one target
    # (entry 3, one failed attempt), as before targets
    my ($schema) = NotifyTest::store("$ENV{TEST_NGINX_STORE}/outboxed")
                   =~ /schema=(\S+)/;
    psql("INSERT INTO $schema.outbox VALUES (3, 1000, " . time . ", "
         . (time + 86400) . ", 1, 'HTTP 500');"
         . " UPDATE $schema.notes SET note = '{\"id\":\"0000000000000003\","
         . "\"dialect\":\"syntphony\",\"event\":\"e\",\"title\":\"t3\","
         . "\"url\":null,\"comment\":null,\"notified\":null,"
         . "\"created\":\"2026-11-01T00:00:00Z\",\"sender\":null,"
         . "\"tenant\":\"localhost\"}', rcpt = '\\x752d61646100'::bytea"
         . " WHERE seq = 3;");
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $log = server_root() . '/logs/error.log';

    if (my $spec = $block->log_after) {
        my $want = eval $spec;
        die "log_after: $@" if $@;

        for my $re (@{ $want->{$req_idx} || [] }) {
            Test::More::like(NotifyTest::slurp($log), $re, $block->name
                             . " - the error log so far has $re");
        }
    }

    my $spec = $block->pg_after or return;
    my $cmd = eval $spec;
    die "pg_after: $@" if $@;
    $cmd = $cmd->{$req_idx} or return;
    my $before = () = NotifyTest::slurp($log) =~ /connected again/g;

    NotifyTest::pg($cmd);
    return unless $cmd eq 'restart';

    while (1) {
        my $n = () = NotifyTest::slurp($log) =~ /connected again/g;
        last if $n > $before;
        Time::HiRes::sleep(0.05);
    }
});

# the server stopped and started again within a block: once this worker's
# connection is made again
sub pg_restart {
    my $log = server_root() . '/logs/error.log';
    my $before = () = NotifyTest::slurp($log) =~ /connected again/g;
    NotifyTest::pg('restart');
    until ((() = NotifyTest::slurp($log) =~ /connected again/g) > $before) {
        Time::HiRes::sleep(0.05);
    }
}

*say = \&Sse::say;
Sse::check_stream_like();

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a schema name is a plain identifier
--- http_config eval: "notify_store $::Url schema=Notify;"
--- config
--- must_die
--- error_log
invalid schema "Notify" of notify_store, it must be 1 to 63 of a-z, 0-9 and _, not starting with a digit



=== TEST 2: connections from 1 to 64
--- http_config eval: "notify_store $::Url connections=0;"
--- config
--- must_die
--- error_log
invalid "connections=0" of notify_store, it must be a number from 1 to 64



=== TEST 3: timeout is a time
--- http_config eval: "notify_store $::Url timeout=soon;"
--- config
--- must_die
--- error_log
invalid "timeout=soon" of notify_store, it must be a time



=== TEST 4: max_size and thread_pool are the LMDB store's
--- http_config eval: "notify_store $::Url max_size=1m;"
--- config
--- must_die
--- error_log
invalid parameter "max_size=1m" of notify_store: it is one of the LMDB store



=== TEST 5: a URL libpq does not take
--- http_config
notify_store postgres://localhost/notify?nonsense=1;
--- config
--- must_die
--- error_log
invalid PostgreSQL URL of notify_store: invalid URI query parameter: "nonsense"



=== TEST 6: no server: the start stops, and the log names the store without its password
--- http_config
notify_store postgres://notify:s3cret@/notify?host=/nonexistent/folder schema=gone;
--- config
--- must_die
--- error_log eval
qr{notify: store "postgres:///nonexistent/folder/notify schema=gone": cannot connect: }
--- no_error_log
s3cret



=== TEST 7: a schema newer than the module knows stops the start
--- skip_eval: 2: main::pg_only()
--- http_config eval: "notify_store $::Url schema=t_newer;"
--- config
--- must_die
--- error_log
the schema "t_newer" is of version 99, newer than this module knows (7): upgrade the module, or name another schema



=== TEST 8: the schema is made at the first start, and the store serves
--- skip_eval: 5: main::pg_only()
--- http_config eval: ::conf('made')
--- config eval: $::Config
--- request eval
["POST /n\n$::Note", "GET /activities/count"]
--- more_headers eval
[$::App, $::Ada]
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001","recipients":1,"unresolved":\[\]\}$/,
 qr/^\{"unread":1\}$/]
--- log_after eval
"{1 => [qr/notify: store \"postgres:[^\"]+ schema=t_[0-9a-f]{16}\": schema \"t_[0-9a-f]{16}\" created \\(version 7\\)/]}"



=== TEST 9: PostgreSQL goes away: 503 in each dialect's shape and from the feed, at once; back: accepting again, nothing of the 503s written
--- skip_eval: 23: main::pg_only()
--- http_config eval: ::conf('down')
--- config eval: $::Config
--- pg_after eval: "{0 => 'stop', 5 => 'restart'}"
--- request eval
[(map { $_->[0] } @::Dialects[0, 0, 1, 2, 3]), "GET /activities",
 "GET /activities/count", "POST /n\n$::Note", "GET /activities"]
--- more_headers eval
[(map { $_->[1] } @::Dialects[0, 0, 1, 2, 3]), $::Ada, $::Ada, $::App, $::Ada]
--- error_code eval: [200, 503, 503, 503, 503, 503, 200, 200, 200]
--- response_body_like eval
[qr/"id":"0000000000000001"/,
 qr/^\{"type":"https:\/\/tools.ietf.org\/html\/rfc7231#section-6.6.4","title":"Service Unavailable","status":503,"traceId":"[^"]+"\}$/,
 qr/^\{"error":\{"code":"ServiceNotAvailable","message":"The notification could not be stored\.",/,
 qr/^\{"message":"The notification could not be stored\.","type":"ServiceUnavailable"\}$/,
 qr/^\{"Success":false,"Code":"9","Message":"The notification could not be stored\."\}$/,
 qr/^\{"error":\{"code":"ServiceUnavailable","message":"The feed could not be read\."\}\}$/,
 qr/^\{"unread":1\}$/,
 qr/"id":"0000000000000002"/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^\]]*\},\{"id":"0000000000000001",[^\]]*\}\],"next":null,"unread":2\}$/]
--- log_after eval
"{8 => [qr/notify: store \"postgres:[^\"]+\": connection (lost|failed)/,
        qr/notify: store write failed: PostgreSQL is not reachable/,
        qr/notify: store \"postgres:[^\"]+\": connected again/]}"
--- no_error_log
[alert]
[crit]



=== TEST 10: the feed's states are kept: counts, seen, the filters by state; the stream's tickets are given (t/042 streams on this store)
--- skip_eval: 12: main::pg_only()
--- http_config eval: ::conf('states')
--- config eval: $::Config
--- request eval
["POST /n\n$::Note", "GET /activities/counts", "POST /activities/seen-all",
 "GET /activities?status=unseen", "POST /activities/stream/ticket",
 "GET /activities?unread=true"]
--- more_headers eval
[$::App, $::Ada, $::Ada, $::Ada, $::Ada, $::Ada]
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001"/,
 qr/^\{"unread":1,"unseen":1\}$/,
 qr/^\{"unread":1,"unseen":0\}$/,
 qr/^\{"items":\[\],"next":null,"unread":1,"unseen":0\}$/,
 qr/^\{"ticket":"[0-9a-f]{32}","expires_in":\d+\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001".*"unread":1\}$/]



=== TEST 11: a schema of version 1 is migrated at the start: the read watermark becomes the entries' states, unseen is unread
--- skip_eval: 8: main::pg_only()
--- http_config eval: ::conf('migrated')
--- config eval: $::Config
--- request eval
["GET /activities/counts", "GET /activities?status=all",
 "POST /activities/seen-all", "GET /activities/counts"]
--- more_headers eval
[$::Ada, $::Ada, $::Ada, $::Ada]
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[qr/^\{"unread":1,"unseen":1\}$/,
 qr/^\{"items":\[\{"id":"0000000000000003",[^{}]*"read":false,"seen":false,"archived":false\},\{"id":"0000000000000002",[^{}]*"read":true,"seen":true,"archived":false\},\{"id":"0000000000000001",[^{}]*"read":true,"seen":true,"archived":false\}\],"next":null,"unread":1,"unseen":1\}$/,
 qr/^\{"unread":1,"unseen":0\}$/,
 qr/^\{"unread":1,"unseen":0\}$/]
--- log_after eval
"{0 => [qr/schema \"t_[0-9a-f]{16}\" migrated to version 2 \\(the feed's states\\)/]}"



=== TEST 12: a page filtered by dialect looks at 1000 entries at most: it ends there with the next cursor after the last one looked at, as with LMDB
--- skip_eval: 6: main::pg_only()
--- http_config eval: ::conf('scanned')
--- config eval: $::Config
--- request eval
["GET /activities?dialect=graph",
 "GET /activities?dialect=graph&cursor=0000000000000006",
 "GET /activities?dialect=syntphony&limit=2"]
--- more_headers eval
[$::Ada, $::Ada, $::Ada]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
[qr/^\{"items":\[\],"next":"0000000000000006","unread":1005,"unseen":1005\}$/,
 qr/^\{"items":\[\],"next":null,"unread":1005,"unseen":1005\}$/,
 qr/^\{"items":\[\{"id":"00000000000003ed",.*\},\{"id":"00000000000003ec",.*\}\],"next":"00000000000003ec","unread":1005,"unseen":1005\}$/]



=== TEST 13: the stream while PostgreSQL is away: a stream that opens is sent reset (its counts cannot be read) and closed; back, a stream starts with its counts
--- skip_eval: 4: main::pg_only()
--- http_config eval: ::conf('streamdown')
--- config eval: $::Config
--- init
# (skipped blocks' init runs too under Test::Nginx)
return unless NotifyTest::postgres();
my $ada = $::Ada =~ s/\n/\r\n/r;
NotifyTest::pg('stop');
my ($st, $err) = Sse::stream(::server_port(), '/activities/stream', $ada);
die $err unless $st;
my $events = $st->until(sub { $st->{eof} }, 20);
::say("down $st->{status}: " . Sse::text([grep { $_->{event} } @$events]));
::say("closed") if $st->{eof};
::pg_restart();
($st, $err) = Sse::stream(::server_port(), '/activities/stream', $ada);
die $err unless $st;
::say("back $st->{status}: " . Sse::text($st->events(1)));
$st->close;
--- request
GET /activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":0,"unseen":0\}$
--- stream_like
^down 200: reset \{"reason":"the feed could not be read"\}
closed
back 200: counts \{"unread":0,"unseen":0\}$
--- no_error_log
[alert]



=== TEST 14: a host name is refused: libpq would resolve it in the worker, blocking it
--- http_config
notify_store postgres://notify@db.example.org,10.0.0.5/notify;
--- config
--- must_die
--- error_log
notify_store: the PostgreSQL host "db.example.org" is a name, which libpq would resolve in the worker, blocking it: give an address or a Unix socket folder, or the addresses in "hostaddr"



=== TEST 15: addresses (IPv4, IPv6), a socket folder, and a name with hostaddr= pass the check (no server there: the start stops at connecting)
--- http_config
notify_store "postgres:///notify?host=127.0.0.1,::1,/nonexistent/folder,db.example.org&hostaddr=127.0.0.1,::1,,127.0.0.1&port=1,1,1,1&connect_timeout=2";
--- config
--- must_die
--- error_log eval
qr{notify: store "[^"]*": cannot connect: }
--- no_error_log
is a name



=== TEST 16: a schema of version 2 (here from 1) is migrated to version 3, targets, 4, ordering per chain, 5, dead letters, 6, the chain lock, and 7, expiry of entries no claim reaches: a pending delivery becomes the push target's entry, and is delivered
--- skip_eval: 4: main::pg_only()
--- http_config eval
::conf('outboxed', "    notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;\n")
. q{
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /push { return 200 '{"Success": true, "Code": "0"}'; }
    }
}
--- config eval: $::Config . "    location /outbox { notify_outbox; }\n"
--- request
GET /outbox/targets
--- wait: 1
--- error_code: 200
--- response_body_like: ^\{"targets":\[\{"name":"push","dialect":"push",
--- error_log eval
[qr/schema "t_[0-9a-f]{16}" migrated to version 3 \(targets\)/,
 qr/schema "t_[0-9a-f]{16}" migrated to version 4 \(ordering per chain\)/,
 qr/schema "t_[0-9a-f]{16}" migrated to version 5 \(dead letters\)/,
 qr/schema "t_[0-9a-f]{16}" migrated to version 6 \(the chain lock\)/,
 qr/schema "t_[0-9a-f]{16}" migrated to version 7 \(expiry of entries no claim reaches\)/,
 qr/notify: delivered 0000000000000003 \(attempt 2\); target "push"/]
--- no_error_log
[error]
