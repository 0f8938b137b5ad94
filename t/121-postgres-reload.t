# The PostgreSQL store across a reload (SIGHUP to the master): the master
# checks the schema at each reload, and a server it cannot reach then does
# not take nginx down: the reload goes on, logged, and the new workers
# store again once the server is back.  Runs with scripts/test --store
# postgres (its private server).
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
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\r\n"
           . "Authorization: Bearer " . NotifyTest::app_token() . "\r\n";
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
