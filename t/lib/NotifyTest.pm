package NotifyTest;

# Helpers shared by the hub's tests: tokens minted with Crypt::JWT (never by
# the module's own code) and the common http{} configuration.

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use File::Temp qw(tempdir);

our $Issuer = 'https://login.example.org/tenant/v2.0';
our $Audience = 'api://notify-hub';

my $data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';
my $key;

# a token with the usual claims; pass claim => undef to leave one out
sub token {
    my (%claims) = @_;
    my $now = time;

    $key ||= Crypt::PK::RSA->new("$data/hub/rsa.private.jwk");

    my %c = (iss => $Issuer, aud => $Audience, iat => $now,
             nbf => $now - 5, exp => $now + 3600, tid => 'tenant-1', %claims);
    delete $c{$_} for grep { !defined $c{$_} } keys %c;

    return encode_jwt(payload => \%c, alg => 'RS256', key => $key,
                      extra_headers => { kid => 'hub-rsa' });
}

# an application (client credentials) token with the Syntphony role
sub app_token {
    return token(azp => 'app-ci', roles => ['access_as_application'], @_);
}

# a user's token: oid and upn of a directory user
sub user_token {
    my ($oid, $upn, @rest) = @_;
    return token(azp => 'app-portal', oid => $oid, upn => $upn,
                 scp => 'Feed.Read', @rest);
}

sub bearer { return "Authorization: Bearer " . shift() . "\n" }

# tokens of identity providers that issue no azp or appid, by what they
# name the sender with: [claims, the sender the hub stores (undef: null)]
our %Senders = (
    client_id => [[client_id => 'app-rfc9068', sub => 'sub-rfc9068'], 'app-rfc9068'],
    sub       => [[sub => 'sub-only'], 'sub-only'],
    none      => [[], undef],
);

# every accepted notification pushed to the block's tcp_listen server on
# $TEST_NGINX_RAND_PORT_1 through a delivery subrequest: the http{} and the
# server{} part, and the downstream's answer
our $PushHttp = "    notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;\n";
our $PushServer = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
CONF
our $PushReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    . "Content-Length: 27\r\nConnection: close\r\n\r\n"
    . '{"Success":true,"Code":"0"}';

# the pushed request, as a tcp_query regex: its body's sender and tenant
sub pushed_sender {
    my ($sender, $tenant) = @_;
    my $s = defined $sender ? qq("$sender") : 'null';
    $tenant //= 'localhost';
    return qr/^POST \/push HTTP\/1\.0\r\n.*\r\n\r\n\{"id":"[0-9a-f]{16}",.*,"sender":\Q$s\E,"tenant":"\Q$tenant\E"/s;
}

# the http{} directives every hub test needs; the store outlives the blocks
# of one file (restart tests), and is new for each file
sub http_config {
    my (%opt) = @_;
    my $store = $opt{store} || $ENV{TEST_NGINX_STORE};
    my $extra = $opt{extra} || '';

    return <<"CONF";
    notify_store $store;
    notify_directory $data/hub/directory.json;
    notify_jwt_keys $data/hub/jwks.json;
    notify_jwt_issuer $Issuer;
    notify_jwt_audience $Audience;
$extra
CONF
}

# "--- body_same eval [undef, 0]": request 1's body equals request 0's;
# "--- body_differs eval [undef, undef, 0]": request 2's differs from 0's
sub body_relations {
    my %bodies;

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return if $dry_run;

        my $key = $block->name . " $repeated_req_idx";
        $bodies{$key}[$req_idx] = $body;

        for my $rel (['body_same', 1], ['body_differs', 0]) {
            my $method = $rel->[0];
            my $spec = $block->$method;
            next unless ref $spec eq 'ARRAY' && defined $spec->[$req_idx];
            my $other = $bodies{$key}[$spec->[$req_idx]];
            my $name = $block->name . " - body of request $req_idx "
                       . ($rel->[1] ? "equals" : "differs from")
                       . " request $spec->[$req_idx]";
            if ($rel->[1]) {
                Test::More::is($body, $other, $name);
            } else {
                Test::More::isnt($body, $other, $name);
            }
        }
    });
}

sub setup {
    $ENV{TEST_NGINX_STORE} ||= tempdir('notify-store-XXXXXX', TMPDIR => 1,
                                       CLEANUP => 1);
    $ENV{TEST_NGINX_HUB} = http_config();
}

1;
