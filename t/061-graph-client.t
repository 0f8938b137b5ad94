# Microsoft's own Graph JavaScript client (@microsoft/microsoft-graph-client
# from npm, installed in t/graph-client by `npm ci --prefix t/graph-client`)
# pointed at the hub's base URL: a notification gets 204 and lands in the
# feed, and an error comes back as a GraphError the client understands.
#
# The client sends the token only to https URLs of Graph or of its
# "customHosts", so the Graph endpoint is served over TLS here, with a
# certificate made for this run and trusted through NODE_EXTRA_CA_CERTS.
use lib 't/lib';
use NotifyTest;
use FindBin;
use File::Temp qw(tempdir);
use IO::Socket::INET;

our ($Skip, $Client);

BEGIN {
    $Client = "$FindBin::Bin/graph-client";

    if (system('node --version >/dev/null 2>&1') != 0) {
        $Skip = 'node is not installed';
    } elsif (!-d "$Client/node_modules/\@microsoft/microsoft-graph-client") {
        $Skip = "\@microsoft/microsoft-graph-client is not installed"
              . " (npm ci --prefix t/graph-client)";
    } elsif (system('openssl version >/dev/null 2>&1') != 0) {
        $Skip = 'openssl is not installed';
    }
}

use Test::Nginx::Socket $Skip ? (skip_all => $Skip) : ('no_plan');

BEGIN { NotifyTest::setup(); }

our $Data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';
our $Team = '7155e3c8-175e-4311-97ef-572edc3aa3db';
our $John = '569363e2-4e49-4661-87f2-16f245c5d66a';

# a certificate for 127.0.0.1, and a free port for the TLS server
our $Tls = tempdir('notify-graph-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
       '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
       '-keyout', "$Tls/key.pem", '-out', "$Tls/cert.pem") == 0
    or die "openssl could not make a certificate\n";

our $Port = do {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    $p;
};

# conf(): a store of its own per block, the Graph directory and manifest,
# and the TLS server
NotifyTest::setup(directory => "$Data/graph/directory.json",
                  manifest => "$Data/graph/manifest.json", extra => <<"CONF");
    server {
        listen 127.0.0.1:$Port ssl;
        server_name localhost;
        ssl_certificate $Tls/cert.pem;
        ssl_certificate_key $Tls/key.pem;

        location ~* sendactivitynotification { notify_inbound graph; }
    }
CONF

our ($NodeStatus, $NodeOut);

# runs the client once (from --- init, when nginx is up)
sub node {
    my ($token) = @_;
    local $ENV{NODE_EXTRA_CA_CERTS} = "$Tls/cert.pem";
    my $cmd = "node $Client/send.js https://127.0.0.1:$Port/ $token $Team $John 2>&1";
    $NodeOut = `$cmd`;
    $NodeStatus = $? >> 8;
    chomp $NodeOut;
}

# what the client said, checked with the block's response
Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;
    my $want = $block->node_says;
    return unless defined $want;
    chomp $want;
    my ($status, $re) = split /\s+/, $want, 2;
    Test::More::is($NodeStatus, $status, $block->name . " - the client exits $status")
        or Test::More::diag($NodeOut);
    Test::More::like($NodeOut, qr/$re/, $block->name . " - what the client says");
});

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: the Graph JavaScript client sends a notification: 204, and it is in the feed
--- http_config eval: ::conf('t1')
--- config
    location /activities { notify_feed; }
--- init
::node(NotifyTest::token(azp => 'app-graph', roles => ['TeamsActivity.Send']));
--- request
GET /activities
--- more_headers eval: "Authorization: Bearer " . NotifyTest::user_token($::John, 'john.doe@microsoft.com') . "\n"
--- error_code: 200
--- response_body_like: ^\{"items":\[\{"id":"[0-9a-f]{16}","dialect":"graph","event":"taskCreated","title":"Contoso Tasks created task JS-1 for you","url":"https://graph.microsoft.com/v1.0/teams/7155e3c8-175e-4311-97ef-572edc3aa3db","comment":"Sent by @microsoft/microsoft-graph-client",.*"read":false\}\],"next":null,"unread":1\}$
--- node_says
0 ^status 204 request-id [0-9a-f-]{36} client-request-id [0-9a-f-]{36}$
--- no_error_log
[error]



=== TEST 2: an error reaches the client as a GraphError with Graph's code and message
--- http_config eval: ::conf('t2')
--- config
    location /activities { notify_feed; }
--- init
::node(NotifyTest::token(azp => 'app-graph', roles => ['Something.Else']));
--- request
GET /activities
--- more_headers eval: "Authorization: Bearer " . NotifyTest::user_token($::John, 'john.doe@microsoft.com') . "\n"
--- error_code: 200
--- response_body_like: ^\{"items":\[\],"next":null,"unread":0\}$
--- node_says
1 ^error 403 Forbidden: Missing role permissions on the request\. API requires one of 'TeamsActivity\.Send, TeamsActivity\.Send\.Group'\. Roles on the request 'Something\.Else'\. Resource specific consent grants on the request ''\. \(request-id [0-9a-f-]{36}, date \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\)$
--- no_error_log
[error]
