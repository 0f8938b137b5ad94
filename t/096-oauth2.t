# OAuth2 client credentials for a target (oauth2_token_url, oauth2_client_id,
# oauth2_secret_file, oauth2_scope of notify_target): a token endpoint on
# loopback (t/lib/TokenEndpoint.pm) issues JWTs that the target verifies;
# it counts the fetches.  One fetch for many deliveries, with two workers;
# one more after a 401, and no third when the new token is refused too;
# none after a 500 of the target; another when the token expires; a token
# endpoint that fails is asked again after a backoff and nothing is lost.
# The form escapes the secret; the secret and the tokens are nowhere in the
# error log (at debug level), the outbox admin or the metrics.
use lib 't/lib';
use NotifyTest;
use TokenEndpoint;
use JSON::PP;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

our ($Idp, $SecretFile, $Spread, $Secret);

BEGIN {
    # &, =, +, % and a space: what a form must escape
    $Secret = 'S3cr&t=a+b%41 z~';

    NotifyTest::setup();
    $Idp = TokenEndpoint::start(secret => $Secret);

    my $dir = tempdir('notify-oauth2-secret-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $SecretFile = "$dir/client.secret";
    open my $f, '>', $SecretFile or die "$SecretFile: $!";
    print $f "# the client secret of hub-a\n$Secret\n";
    close $f;

    # a server of the hub with reuseport: connections spread over workers
    $Spread = ($ENV{TEST_NGINX_PORT} || 1984) + 11;
}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub note {
    my ($event) = @_;
    return encode_json({eventId => $event // 'e', title => 't',
                        url => 'http://x.example.org/', accounts => ['u-ada']});
}

sub post { return "POST /n\n" . note(@_) }

# the target "api", pushed to, with its token from the endpoint of "tag"
sub target {
    my ($tag, $mode, %o) = @_;
    my $life = $o{life} // 3600;
    my $fail = ($o{fail} // 0) . (defined $o{kinds} ? "/$o{kinds}" : '');
    my $extra = $o{extra} // '';
    return <<"CONF";
    notify_delivery_timeout 2s;
    notify_delivery_retry 300ms 1s;
    log_format delivery '\$request_method \$uri \$status delivery=\$notify_delivery_status';
    notify_target api {
        dialect push;
        url $Idp/api/$tag/$mode;
        oauth2_token_url @{[ $o{token_url} // "$Idp/token/$tag/$life/$fail" ]};
        oauth2_client_id hub-a;
        oauth2_secret_file $SecretFile;
        oauth2_scope api://hub-b/.default;
$extra    }
CONF
}

our $Server = $NotifyTest::DeliveryServer
              . "    location = /metrics { notify_metrics; }\n";

# one request on a connection of its own: the answer
sub http_alone {
    my ($port, $request) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $s $request;
    local $/;
    my $r = <$s>;
    close $s;
    return $r;
}

# a notification posted on a connection of its own: the worker's pid
sub post_alone {
    my ($port, $event) = @_;
    my $body = note($event);
    my $token = NotifyTest::app_token();
    my $r = http_alone($port, "POST /n HTTP/1.0\r\nHost: localhost\r\n"
                              . "Content-Type: application/json\r\n"
                              . "Authorization: Bearer $token\r\n"
                              . "Content-Length: " . length($body)
                              . "\r\n\r\n$body");
    $r =~ m{^HTTP/1\.\d 200} or die "not accepted: $r";
    return $r =~ /^X-Pid: (\d+)/mi ? $1 : 0;
}

# Prometheus' own check of a scrape, lint included
sub promtool {
    my ($text) = @_;
    my $promtool = '/usr/bin/promtool';
    return Test::More::fail("promtool: $promtool is missing") unless -x $promtool;
    my $dir = tempdir('notify-oauth2-metrics-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $f, '>', "$dir/metrics" or die;
    print $f $text;
    close $f;
    my $out = `$promtool check metrics < $dir/metrics 2>&1`;
    Test::More::is($?, 0, 'promtool check metrics');
    Test::More::is($out, '', 'promtool: no lint problem');
}

# until the target has taken "n" notifications of the tag (30 s at most)
sub wait_delivered {
    my ($tag, $n) = @_;
    for (1 .. 300) {
        my %ids = map { $_->{id} => 1 }
                  grep { $_->{status} == 200 } TokenEndpoint::requests($tag, 'api');
        return if keys %ids >= $n;
        Time::HiRes::sleep(0.1);
    }
}

# what no log, page or metric may hold: the secret, as it is and escaped
our $SecretEscaped = 'S3cr%26t%3Da%2Bb%2541%20z~';
our $NoSecret = [$Secret, $SecretEscaped, 'client_secret'];

master_on();
workers(2);
no_shuffle();
no_long_string();
check_accum_error_log();
run_tests();

# TEST 1: one fetch for all, the form as sent
my @t = TokenEndpoint::requests('t1', 'token');
is(scalar @t, 1, 'TEST 1: one token fetch for 20 deliveries over two workers');
is($t[0]{content_type}, 'application/x-www-form-urlencoded', 'TEST 1: a form');
is_deeply($t[0]{form}, {grant_type => 'client_credentials', client_id => 'hub-a',
                        client_secret => $Secret, scope => 'api://hub-b/.default'},
          'TEST 1: the fields, the secret intact');
is($t[0]{raw}, "grant_type=client_credentials&client_id=hub-a&client_secret=$SecretEscaped"
               . '&scope=api%3A%2F%2Fhub-b%2F.default', 'TEST 1: every value escaped');
my @a = grep { $_->{status} == 200 } TokenEndpoint::requests('t1', 'api');
my %ids = map { $_->{id} => 1 } @a;
is(scalar keys %ids, 20, 'TEST 1: 20 notifications delivered');
is_deeply([sort keys %{{ map { $_->{jti} => 1 } @a }}], ['t1-1'], 'TEST 1: all with the one token');

# TEST 2: a 401 for the first token, one more fetch
is(scalar(TokenEndpoint::requests('t2', 'token')), 2, 'TEST 2: a refetch after the 401');
my @r2 = grep { $_->{status} == 200 } TokenEndpoint::requests('t2', 'api');
is_deeply([map { $_->{jti} } @r2], ['t2-1', 't2-2', 't2-2'],
          'TEST 2: one delivered with the first token, two with the second');
is(scalar(grep { $_->{status} == 401 } TokenEndpoint::requests('t2', 'api')), 1,
   'TEST 2: one attempt refused: the next notification waited for the new token');

# TEST 3: the second token refused too: no third fetch
is(scalar(TokenEndpoint::requests('t3', 'token')), 2, 'TEST 3: two fetches, no more');
cmp_ok(scalar(TokenEndpoint::requests('t3', 'api')), '>=', 3, 'TEST 3: attempts go on');

# TEST 4: a 500 of the target does not touch the token
is(scalar(TokenEndpoint::requests('t4', 'token')), 1, 'TEST 4: no refetch after 500s');
is(scalar(TokenEndpoint::requests('t4', 'api')), 3, 'TEST 4: two 500s, then delivered');

# TEST 5: expiry
my @t5 = TokenEndpoint::requests('t5', 'api');
is(scalar(TokenEndpoint::requests('t5', 'token')), 2, 'TEST 5: a new token once the first expired');
is_deeply([map { $_->{jti} } @t5], ['t5-1', 't5-2'], 'TEST 5: each notification with its token');

# TEST 6: a failing token endpoint
is(scalar(TokenEndpoint::requests('t6', 'token')), 4, 'TEST 6: three failed fetches, then one');
is(scalar(grep { $_->{status} == 200 } TokenEndpoint::requests('t6', 'api')), 2,
   'TEST 6: both delivered once there is a token');

# TEST 7: six bad answers, then the token
is(scalar(TokenEndpoint::requests('t7', 'token')), 7, 'TEST 7: seven fetches');
is(scalar(TokenEndpoint::requests('t7', 'api')), 1, 'TEST 7: one attempt, with the token');

# TEST 9: the one token's fetch, none while the breaker is open
is(scalar(TokenEndpoint::requests('t9', 'token')), 1,
   'TEST 9: no fetch for a target whose breaker is open');
is(scalar(TokenEndpoint::requests('t9', 'api')), 1,
   'TEST 9: one attempt, no other while the breaker is open');

# TEST 10 (the last block, whose error log is still there): at debug level,
# no token and no secret
my @tokens = map { $_->{token} } grep { $_->{token} } TokenEndpoint::requests('t10', 'token');
is(scalar @tokens, 2, 'TEST 10: two tokens issued');
my $log = NotifyTest::slurp("$ENV{TEST_NGINX_SERVROOT}/logs/error.log");
like($log, qr/\[debug\]/, 'TEST 10: the log is at debug level');
like($log, qr/http proxy status 401/, 'TEST 10: it has the first attempts');
for my $t (@tokens) {
    ok(index($log, substr($t, -40)) < 0, 'TEST 10: a token is not in the error log');
}
ok(index($log, $Secret) < 0 && index($log, $SecretEscaped) < 0,
   'TEST 10: the secret is not in the error log');

__DATA__

=== TEST 1: two workers, 20 notifications on connections of their own: one token fetch, then every attempt carries the token (first attempts in both workers, the rest by the timer); the metrics count the fetch
--- http_config eval
::conf('t1', ::target('t1', 'ok')) . <<CONF
    server {
        listen 127.0.0.1:$::Spread reuseport;
        notify_delivery_location /_deliver;
        location = /_deliver { internal; proxy_pass \$notify_target_url; }
        location = /n { add_header X-Pid \$pid always; notify_inbound syntphony; }
        location = /metrics { notify_metrics; }
    }
CONF
--- config eval: $::Server
--- init
my %pids;
$pids{::post_alone($::Spread, "e$_")}++ for 1 .. 20;
::wait_delivered('t1', 20);
Test::More::is(scalar keys %pids, 2, 'TEST 1: both workers took notifications');
my ($metrics) = ::http_alone($::Spread, "GET /metrics HTTP/1.0\r\n\r\n") =~ /\r\n\r\n(.*)/s;
Test::More::like($metrics, qr/^notify_oauth2_fetches_total\{/m, 'TEST 1: the fetches counted');
::promtool($metrics);
--- request
GET /metrics
--- error_code: 200
--- response_body_like eval
qr/(?=[\s\S]*^notify_oauth2_fetches_total\{target="api",result="ok"\} 1$)(?=[\s\S]*^notify_oauth2_fetches_total\{target="api",result="failed"\} 0$)(?=[\s\S]*^notify_deliveries_total\{target="api",result="delivered"\} 20$)/m
--- response_body_unlike eval: qr/S3cr|Bearer/
--- error_log
notify: target "api": OAuth2 token fetched, valid for 3600 s
--- no_error_log eval
['[error]', @$::NoSecret]



=== TEST 2: the target takes the first token once, then answers 401 to it (revoked): the first attempts of the next two are refused; the token is dropped, one more is fetched, and the attempts are made again at once with it, outside of the breaker (1 failure would open it)
--- http_config eval: ::conf('t2', ::target('t2', 'revoke', extra => "        breaker 1 60s;\n"))
--- config eval: $::Server
--- more_headers eval: $::App
--- init
::post_alone($ENV{TEST_NGINX_SERVER_PORT}, 'e0');
::wait_delivered('t2', 1);
--- pipelined_requests eval
[::post('e1'), ::post('e2')]
--- error_code eval
[200, 200]
--- wait: 3
--- error_log
notify: target "api" refused its OAuth2 token (401), another one is fetched
notify: delivered 0000000000000002
notify: delivered 0000000000000003
--- no_error_log eval
['breaker open', '[error]', @$::NoSecret]



=== TEST 3: a 401 to a token that was fetched after a 401 is the target's refusal: an ordinary failed attempt, retried after the backoff, and no third fetch
--- http_config eval: ::conf('t3', ::target('t3', 'always401'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('e1')
--- error_code: 200
--- wait: 3
--- error_log
refused its OAuth2 token (401), another one is fetched
notify: delivery of 0000000000000001 failed (attempt 2): HTTP 401; next in
notify: delivery of 0000000000000001 failed (attempt 3): HTTP 401; next in
--- no_error_log eval
['[error]', @$::NoSecret]



=== TEST 4: a 500 of the target: retried with the same token, no fetch
--- http_config eval: ::conf('t4', ::target('t4', '500/2'))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('e1')
--- error_code: 200
--- wait: 3
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500
notify: delivery of 0000000000000001 failed (attempt 2): HTTP 500
notify: delivered 0000000000000001 (attempt 3)
--- no_error_log eval
['refused its OAuth2 token', '[error]', @$::NoSecret]



=== TEST 5: a token of 2 s: the next notification, 3 s later, gets a new one
--- http_config eval: ::conf('t5', ::target('t5', 'ok', life => 2))
--- config eval: $::Server
--- more_headers eval: $::App
--- init
::post_alone($ENV{TEST_NGINX_SERVER_PORT}, 'e1');
::wait_delivered('t5', 1);
Time::HiRes::sleep(3);
--- request eval: ::post('e2')
--- error_code: 200
--- wait: 2
--- error_log
notify: target "api": OAuth2 token fetched, valid for 2 s
notify: delivered 0000000000000001 (attempt 1)
notify: delivered 0000000000000002 (attempt 1)
--- no_error_log eval
['[error]', @$::NoSecret]



=== TEST 6: the token endpoint answers 503 three times: asked again after a backoff each time, the entries wait in the outbox meanwhile (no attempt is counted), then both are delivered; the error says why, never the secret; the outbox admin shows no credential
--- http_config eval: ::conf('t6', ::target('t6', 'ok', fail => 3))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), ::post('e2'), "GET /outbox/targets"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001"/, qr/^\{"id":"0000000000000002"/, qr/^\{"targets":/]
--- wait: 4
--- error_log
notify: target "api": OAuth2 token request failed: HTTP 503, error "temporarily_unavailable"; next in 300ms
notify: target "api": OAuth2 token request failed: HTTP 503, error "temporarily_unavailable"; next in 600ms
notify: target "api": OAuth2 token request failed: HTTP 503, error "temporarily_unavailable"; next in 1000ms
notify: delivered 0000000000000001 (attempt 1)
notify: delivered 0000000000000002 (attempt 1)
--- no_error_log eval
['try later', @$::NoSecret]



=== TEST 7: answers of the token endpoint that give no usable token (no access_token, another token_type, a token too long for the cache, one a header cannot carry, HTML, an expires_in that is no time): each a failed fetch, said without the answer; then a good one and the delivery
--- http_config eval
::conf('t7', ::target('t7', 'ok', fail => 6, kinds => 'notoken,mac,long,space,html,noexpiry',
                      extra => "        retry 100ms 200ms;\n"))
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('e1')
--- error_code: 200
--- wait: 3
--- error_log
OAuth2 token request failed: HTTP 200 without an access_token; next in 100ms
OAuth2 token request failed: a token_type other than Bearer; next in 200ms
OAuth2 token request failed: an access_token of more than 8192 bytes; next in 200ms
OAuth2 token request failed: an access_token with characters a header cannot carry; next in 200ms
OAuth2 token request failed: HTTP 200 without an access_token; next in 200ms
OAuth2 token request failed: an expires_in that is no time to come; next in 200ms
notify: target "api": OAuth2 token fetched, valid for 3600 s
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log eval
['mac-token', 'two words', 'soon-token', 'sign in', @$::NoSecret]



=== TEST 8: no token endpoint at all: no answer, said with the target's name; the notification waits in the outbox with no attempt counted
--- http_config eval
::conf('t8', ::target('t8', 'ok', token_url => 'http://127.0.0.1:' . ($::Spread + 1) . '/token'))
--- config eval: $::Server
--- more_headers eval: $::App
--- pipelined_requests eval
[::post('e1'), "GET /outbox"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"id":"0000000000000001"/, qr/^\{"items":\[\{"id":"0000000000000001","attempts":0,/]
--- wait: 1.5
--- error_log eval
qr/notify: target "api": OAuth2 token request failed: no answer: [^;]+; next in 300ms/
--- no_error_log eval
['delivered', @$::NoSecret]



=== TEST 9: an open breaker: no token is fetched for the target while it cools down, even when its token has expired
--- http_config eval
::conf('t9', ::target('t9', '500/100', life => 2, extra => "        breaker 1 60s;\n"))
--- config eval: $::Server
--- more_headers eval: $::App
--- init
::post_alone($ENV{TEST_NGINX_SERVER_PORT}, 'e1');
for (1 .. 300) {
    last if TokenEndpoint::requests('t9', 'api');
    Time::HiRes::sleep(0.1);
}
Time::HiRes::sleep(3);
--- request eval: ::post('e2')
--- error_code: 200
--- wait: 2
--- error_log
notify: target "api": breaker open after 1 failed
--- no_error_log eval
['delivered', @$::NoSecret]



=== TEST 10: at debug level, a 401 on the first attempt's path and retries by the timer: neither the secret nor a token is in the error log (checked after the blocks)
--- http_config eval: ::conf('t10', ::target('t10', 'revoke'))
--- config eval: $::Server
--- more_headers eval: $::App
--- init
::post_alone($ENV{TEST_NGINX_SERVER_PORT}, 'e0');
::wait_delivered('t10', 1);
--- pipelined_requests eval
[::post('e1'), ::post('e2'), "GET /outbox", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200]
--- response_body_unlike eval
[qr/S3cr|Bearer/, qr/S3cr|Bearer/, qr/S3cr|Bearer|eyJ/, qr/S3cr|Bearer|eyJ/]
--- wait: 3
--- error_log
refused its OAuth2 token (401), another one is fetched
notify: delivered 0000000000000003
--- no_error_log eval
['[error]', @$::NoSecret]
