# The PostgreSQL store's connections: across a reload (SIGHUP to the
# master), which checks the schema each time: a server it cannot reach then
# does not take nginx down, the reload goes on, logged, and the new workers
# store again once the server is back; and a connection that libpq moves to
# another socket while it connects.  Runs with scripts/test --store postgres
# (its private server).
use lib 't/lib';
use NotifyTest;

BEGIN {
    if (!NotifyTest::postgres()) {
        require Test::More;
        Test::More->import(skip_all => 'the PostgreSQL store only'
                                       . ' (scripts/test --store postgres)');
    }
}
use Sse;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use POSIX ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\r\n"
           . "Authorization: Bearer " . NotifyTest::app_token() . "\r\n";
our $AppHeaders = "Content-Type: application/json\n"
                  . NotifyTest::bearer(NotifyTest::app_token());
our $Ada = NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org'));

sub note {
    my ($event) = @_;
    return Sse::request(Test::Nginx::Socket::server_port_for_client(),
                        'POST', '/n', $App,
                        qq({"eventId":"$event","title":"t","url":"http://x.example.org","accounts":["u-ada"]}));
}

# the error log from where it was "from" bytes long
sub log_since {
    my ($from) = @_;
    my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
    open my $fh, '<', $log or die "$log: $!";
    seek $fh, $from, 0;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

# the suite's server's socket
our $Sock = "$ENV{TEST_NGINX_PG_DIR}/sock";

# a proxy on the loopback to the suite's server (its processes leave with
# _exit: an exit would run the test's END blocks, which stop nginx) that
# says the session is
# read-only (its default_transaction_read_only reported "on"): libpq, asked
# for a read-write one, drops that socket after the startup and opens one to
# the next host, the suite's server itself, in the same call
our $Proxy = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                   LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
our $ProxyPid = fork() // die "fork: $!";
if ($ProxyPid == 0) {
    $SIG{CHLD} = 'IGNORE';
    while (1) {
        my $c = $Proxy->accept or next;
        my $pid = fork() // die "fork: $!";
        if ($pid) { close $c; next }
        my $u = IO::Socket::UNIX->new(Peer => "$Sock/.s.PGSQL.5432") or POSIX::_exit(0);
        my $sel = IO::Select->new($c, $u);
        my $in = '';
        while (my @ready = $sel->can_read) {
            for my $from (@ready) {
                my $n = sysread($from, my $buf, 65536);
                POSIX::_exit(0) unless $n;
                if ($from == $c) { syswrite($u, $buf); next }
                # the server's messages: type, length, body
                $in .= $buf;
                while (length $in >= 5) {
                    my ($type, $len) = unpack 'aN', $in;
                    last if length $in < $len + 1;
                    my $msg = substr($in, 0, $len + 1, '');
                    if ($type eq 'S' && $msg =~ /^S....default_transaction_read_only\0/s) {
                        my $body = "default_transaction_read_only\0on\0";
                        $msg = 'S' . pack('N', length($body) + 4) . $body;
                    }
                    syswrite($c, $msg);
                }
            }
        }
        POSIX::_exit(0);
    }
}
END { kill 'TERM', $ProxyPid if $ProxyPid }

our $ReadOnlyFirst = "postgres:///notify?host=127.0.0.1,$Sock&port="
                     . $Proxy->sockport . ",5432&user=notify"
                     . "&target_session_attrs=read-write&sslmode=disable"
                     . "&gssencmode=disable schema=t_read_only_first";

Sse::check_stream_like();

master_on();
workers(1);
no_shuffle();
run_tests();

__DATA__
=== TEST 1: a reload while PostgreSQL is down: the master lives, the reload goes on (logged), and the new worker stores once the server is back
--- http_config eval: ::conf('reload-down')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
Sse::say("before " . ::note('e1')->[0]);
NotifyTest::pg('stop');
my $from = -s $log;
Sse::say("reload " . NotifyTest::reload());
my $text = ::log_since($from);
Sse::say("logged") if $text =~ /\[error\].*notify: store "postgres:[^"]+": cannot connect/
                      && $text =~ /the reload goes on/;
Sse::say("while down " . ::note('e2')->[0]);
NotifyTest::pg('restart');
# the new worker connects on its own (its backoff is at most 5 s); no bound
# on when
until (::log_since($from) =~ /connected again/) {
    Time::HiRes::sleep(0.05);
}
Sse::say("back " . ::note('e3')->[0]);
--- request
GET /activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":2,"unseen":2\}$
--- stream_like
^before 200
reload reloaded
logged
while down 503
back 200
--- no_error_log
[emerg]
[crit]



=== TEST 2: the first host is read-only: libpq drops the socket and opens another in the same call, often under the same number, and the worker connects on it, at the start and after the server went away
--- http_config eval
::conf('', store => '', extra => "    notify_store $::ReadOnlyFirst connections=1;")
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
Sse::say("first " . ::note('e1')->[0]);
my $from = -s $log;
NotifyTest::pg('stop');
NotifyTest::pg('restart');
# the worker's backoff is at most 5 s: the deadline is a failure bound only
my $deadline = time + 30;
Time::HiRes::sleep(0.05)
    until ::log_since($from) =~ /connected again/ || time > $deadline;
Sse::say("connected again") if ::log_since($from) =~ /connected again/;
Sse::say("then " . ::note('e2')->[0]);
--- request
GET /activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":2,"unseen":2\}$
--- stream_like
^first 200
connected again
then 200
--- no_error_log
[emerg]
[alert]
[crit]



=== TEST 3: a statement the server cannot finish in time (a put waiting for the writers' lock another session holds) is ended by the server before the store's timeout: 503, the connection kept, and the next put stored
--- http_config eval: ::conf('stmt timeout=2s')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- init
my $schema = (NotifyTest::store("$ENV{TEST_NGINX_STORE}/stmt") =~ /schema=(\S+)/)[0];
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
Sse::say("first " . ::note('e1')->[0]);
my $from = -s $log;
# another session holds the lock of "meta" for longer than the timeout
my $dir = $ENV{TEST_NGINX_PG_DIR};
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    exec 'psql', '-qAt', '-h', "$dir/sock", '-U', 'notify', '-d', 'notify', '-c',
         "BEGIN; SELECT 1 FROM $schema.meta FOR UPDATE; SELECT pg_sleep(4); COMMIT;";
    POSIX::_exit(1);
}
Time::HiRes::sleep(0.5);
Sse::say("held " . ::note('e2')->[0]);
waitpid $pid, 0;
my $text = ::log_since($from);
Sse::say(($text =~ /store write failed: .*statement timeout/
          ? "ended by the server" : "not ended by the server")
         . ($text =~ /connection lost/ ? ", connection dropped" : ", connection kept"));
Sse::say("then " . ::note('e3')->[0]);
--- request
GET /activities/counts
--- more_headers eval: $::Ada
--- response_body_like: ^\{"unread":2,"unseen":2\}$
--- stream_like
^first 200
held 503
ended by the server, connection kept
then 200
--- no_error_log
[emerg]
[alert]
[crit]
