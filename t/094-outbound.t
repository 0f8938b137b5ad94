# The outbound halves' verdicts and the webhook dialect.
#
# Each dialect judges by its contract: its success status delivers, 408,
# 425, 429 and 5xx are tried again, any other answer gives up with a
# reason that says the status and what the dialect's error body says.  The
# refusals come from real receivers: this nginx's own inbound locations
# (a target of the hub itself, sent what it refuses, so that nothing is
# accepted and delivered again), the others from t/lib/Downstream.pm.
#
# A webhook target's requests are Standard Webhooks: the signature is
# checked here with Digest::SHA, not with the module's code.
use lib 't/lib';
use NotifyTest;
use Downstream;
use Digest::SHA qw(hmac_sha256_base64);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Test::Nginx::Socket 'no_plan';

our ($Dir, $Secret);

# this nginx: a target of the hub itself
sub port { return server_port() }

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    $Dir = tempdir('notify-outbound-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $Secret = join '', map { chr(($_ * 37 + 11) % 256) } 1 .. 24;

    open my $fh, '>', "$Dir/webhook.secret" or die $!;
    print $fh "# the receiver's signing secret\nwhsec_"
              . encode_base64($Secret, '') . "\n";
    close $fh;

    open $fh, '>', "$Dir/subscription.key" or die $!;
    print $fh "k-1\n";
    close $fh;

}

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::token(azp => 'app-ci',
                 roles => ['access_as_application', 'TeamsActivity.Send',
                           'PrivilegedNotificationDispatcher']));

sub post {
    my ($title, %more) = @_;
    return "POST /n\n" . encode_json({eventId => 'build.failed',
        title => $title, url => 'http://x.example.org/',
        accounts => ['u-ada'], %more});
}

# the http{} of a block: the store, and one target of the dialect
sub target {
    my ($store, $dialect, $url, $more) = @_;
    $more //= '';
    return NotifyTest::conf($store, extra => <<"CONF");
    notify_delivery_retry 200ms 400ms;
    notify_delivery_timeout 2s;
    notify_target t {
        dialect $dialect;
        url $url;
        $more
    }
CONF
}

our $Server = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
    location = /n { notify_inbound syntphony; }
    location = /s/ActivityCenter/app/setExternalNotification {
        notify_subscription_key k-1;
        notify_inbound syntphony;
    }
    location ~ /sendActivityNotification(ToRecipients)?$ {
        notify_inbound graph;
    }
    location = /v/@external-activities { notify_inbound gever; }
    location = /p { notify_push_recipients u-ada; notify_inbound push; }
    location /outbox { notify_outbox; }
CONF

no_shuffle();
no_long_string();
run_tests();

# the webhook's requests, checked as a receiver would (Standard Webhooks)
sub verify {
    my ($r) = @_;
    my $h = $r->{headers};
    my ($sig) = ($h->{'webhook-signature'} // '') =~ /^v1,(.+)$/;
    my $mac = hmac_sha256_base64("$h->{'webhook-id'}.$h->{'webhook-timestamp'}"
                                 . ".$r->{body}", $Secret);
    $mac .= '=' x ((4 - length($mac) % 4) % 4);
    return defined $sig && $sig eq $mac;
}

my @r = Downstream::requests('/hook');
is(scalar @r, 1, 'TEST 7: one request reached the webhook');

if (my $r = $r[0]) {
    my $h = $r->{headers};
    is($r->{method}, 'POST', 'TEST 7: POST');
    is($h->{'content-type'}, 'application/json', 'TEST 7: Content-Type');
    is($h->{'webhook-id'}, 'notify-0000000000000001', 'TEST 7: webhook-id');
    like($h->{'webhook-timestamp'}, qr/^\d+$/, 'TEST 7: webhook-timestamp');
    ok(abs($h->{'webhook-timestamp'} - time) < 3600,
       'TEST 7: the timestamp is now, in seconds');
    ok(verify($r), 'TEST 7: the signature verifies with the secret');
    ok(!verify({%$r, body => $r->{body} =~ s/Red/Blue/r}),
       'TEST 7: a tampered body does not verify');
    ok(!verify({%$r, headers => {%$h, 'webhook-timestamp' => $h->{'webhook-timestamp'} + 1}}),
       'TEST 7: another timestamp does not verify');

    my $b = decode_json($r->{body});
    is($b->{type}, 'build-failed', 'TEST 7: type: the activity type');
    like($b->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
         'TEST 7: timestamp, ISO 8601');
    is($b->{data}{id}, '0000000000000001', 'TEST 7: data: the notification');
    is($b->{data}{title}, 'Red', 'TEST 7: data: its title');
    is($b->{data}{event}, 'build.failed', 'TEST 7: data: its event');
    is_deeply($b->{data}{recipients}, ['u-ada'], 'TEST 7: data: its recipients');
    is($h->{authorization}, undef, 'TEST 7: no Authorization without one');
}

@r = Downstream::requests('/fail/500/1/hook');
is(scalar @r, 2, 'TEST 8: two attempts');
is_deeply([map { $_->{headers}{'webhook-id'} } @r],
          [('notify-0000000000000001') x 2], 'TEST 8: one webhook-id for both');
ok(verify($_), 'TEST 8: each attempt is signed') for @r;
is($r[1]{headers}{authorization}, 'Bearer hook-token',
   'TEST 8: the target\'s Authorization');

__DATA__

=== TEST 1: graph: 202 of the bulk action is delivered, a 500 is tried again
--- http_config eval
::target('t1', 'graph', "$ENV{TEST_NGINX_DOWNSTREAM}/fail/500/1/answer/202/v1.0")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 1.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500; next in
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 2: graph: Graph's own 401 gives up, with its code and message
--- http_config eval
::target('t2', 'graph', "http://127.0.0.1:" . ::port() . "/v1.0")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 401, InvalidAuthenticationToken: Access token is empty.; given up, dropped
--- no_error_log
[error]



=== TEST 3: syntphony: the gateway's 401 for a target without its subscription key gives up
--- http_config eval
::target('t3', 'syntphony', "http://127.0.0.1:" . ::port() . "/s")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 401, Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.; given up, dropped
--- no_error_log
[error]



=== TEST 4: syntphony: a notification without a URL (a push's) is refused with problem details: given up with their title and errors
--- http_config eval
::target('t3b', 'syntphony', "http://127.0.0.1:" . ::port() . "/s",
          "subscription_key_file $::Dir/subscription.key;\n"
          . "authorization \"Bearer " . NotifyTest::app_token() . "\";")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval
"POST /p\n" . JSON::PP::encode_json({Type => 0, WorkItem => {Id => 'J-1'}})
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 400, One or more validation errors occurred. url: The url field is required.; given up, dropped
--- no_error_log
[error]



=== TEST 5: gever: GEVER's 400 gives up with its type and message (a line break of a title is a space: only the URL is refused); the reason is cut at the outbox's bound
--- http_config eval
::target('t4', 'gever', "http://127.0.0.1:" . ::port() . "/v",
          "authorization \"Bearer " . NotifyTest::token(azp => 'a', roles => ['PrivilegedNotificationDispatcher']) . "\";")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval
::post("Red\nline two", url => 'http://x.example.org/' . ('x' x 300))
--- error_code: 200
--- wait: 0.5
--- error_log eval
qr/notify: delivery of 0000000000000001 failed \(attempt 1\): HTTP 400, BadRequest: \[\('resource_url', TooLong\('http:\/\/x\.example\.org\/x+; given up, dropped/
--- no_error_log
[error]



=== TEST 6: gever: a 200 is not GEVER's 201: the target is not what it says, given up
--- http_config eval
::target('t4b', 'gever', "$ENV{TEST_NGINX_DOWNSTREAM}/ok")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 200, not the contract's 201; given up, dropped
--- no_error_log
[error]



=== TEST 7: webhook: signed, delivered on a 2xx (a target with its own timeout, first_timeout and concurrency: nginx's slots in a notify_target block)
--- http_config eval
::target('t5', 'webhook', "$ENV{TEST_NGINX_DOWNSTREAM}/hook",
          "webhook_secret_file $::Dir/webhook.secret;\n"
          . "activity_type build.failed build-failed;\n"
          . "timeout 2s; first_timeout 400ms; concurrency 4;")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivered 0000000000000001 (attempt 1)
--- no_error_log
[error]



=== TEST 8: webhook: a 500 is tried again, with the same webhook-id, signed again
--- http_config eval
::target('t6', 'webhook', "$ENV{TEST_NGINX_DOWNSTREAM}/fail/500/1/hook",
          "webhook_secret_file $::Dir/webhook.secret;\n"
          . "authorization \"Bearer hook-token\";")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 1.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 500; next in
notify: delivered 0000000000000001 (attempt 2)
--- no_error_log
[error]



=== TEST 9: webhook: 410 Gone gives up, and disables the target
--- http_config eval
::target('t7', 'webhook', "$ENV{TEST_NGINX_DOWNSTREAM}/fail/gone/1/hook7",
          "webhook_secret_file $::Dir/webhook.secret;")
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('Red')
--- error_code: 200
--- wait: 0.5
--- error_log
notify: delivery of 0000000000000001 failed (attempt 1): HTTP 410, the endpoint is gone; given up, dropped
answered 410 Gone: disabled
--- no_error_log
[error]



=== TEST 10: a webhook target needs its secret
--- http_config eval
::target('t8', 'webhook', "$ENV{TEST_NGINX_DOWNSTREAM}/hook")
--- config
    location = /x { return 204; }
--- must_die
--- error_log
notify_target "t": a webhook target needs "webhook_secret_file"



=== TEST 11: webhook is outbound only
--- http_config eval: ::conf('t9')
--- config
    location = /x { notify_inbound webhook; }
--- must_die
--- error_log
dialect "webhook" is outbound only: it cannot be "notify_inbound"
