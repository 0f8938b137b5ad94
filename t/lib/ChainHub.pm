package ChainHub;

# What the tests of ordering per chain share (t/099-chain-order.t,
# t/099-chain-workers.t): a downstream that holds and records
# (t/lib/HoldDownstream.pm), a directory with a team of 150 users, Graph
# notifications of a chain sent on connections the test keeps open, and
# the hub's outbox read between them.

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 ();
use HoldDownstream;
use NotifyTest;

our @EXPORT = qw(note connect_hub send_note answer get call outbox_empty
                 seen index_of wait_seen);

our ($Many, $Caller);

# a server's first attempts: the delivery location
our $Deliver = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver {
        internal;
        proxy_pass $notify_target_url;
        proxy_read_timeout 70s;
    }
CONF

# in the test's BEGIN, after NotifyTest::setup(): starts the downstream
# ($TEST_NGINX_HOLD its URL); makes, in a folder of its own, the
# directory with the team "team-many" of 150 users m-001 to m-150
# (directory.json) and a webhook secret (webhook.secret); returns the folder
sub setup {
    $ENV{TEST_NGINX_HOLD} = 'http://127.0.0.1:' . HoldDownstream::start();

    $Many = tempdir('notify-chain-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @users = map { {id => sprintf('m-%03d', $_),
                       upn => sprintf('m-%03d@example.org', $_)} } 1 .. 150;
    open my $fh, '>', "$Many/directory.json" or die "$Many: $!";
    print $fh encode_json({users => \@users,
                           teams => [{id => 'team-many',
                                      members => [map { $_->{id} } @users]}]});
    close $fh;

    open $fh, '>', "$Many/webhook.secret" or die "$Many: $!";
    print $fh "whsec_" . MIME::Base64::encode_base64('chain-order-secret-24b!!', '')
              . "\n";
    close $fh;

    return $Many;
}

# a Graph notification marked <mark> (its URL's last segment) to <users>
# (or, for the user "team-many", to that team's members), of the chain
# <chain> (undef: none)
sub note {
    my ($mark, $chain, @users) = @_;
    my $team = $users[0] eq 'team-many';
    my $body = encode_json({
        topic => {source => 'text', value => "topic $mark",
                  webUrl => "https://x.example.org/$mark"},
        activityType => 'taskCreated',
        (defined $chain ? (chainId => $chain) : ()),
        previewText => {content => "preview $mark"},
        templateParameters => [{name => 'taskId', value => $mark}],
        $team
        ? (recipient => {'@odata.type' =>
                'microsoft.graph.teamMembersNotificationRecipient',
                teamId => 'team-many'})
        : (recipients => [map { {'@odata.type' =>
                'microsoft.graph.aadUserNotificationRecipient', userId => $_} }
                @users])});

    $Caller //= NotifyTest::bearer(NotifyTest::token(azp => 'app-ci',
        roles => ['TeamsActivity.Send', 'PrivilegedNotificationDispatcher']));
    (my $auth = $Caller) =~ s/\n$//;
    return "POST /v1.0/"
           . ($team ? "teams/team-many/sendActivityNotification"
                    : "teamwork/sendActivityNotificationToRecipients")
           . " HTTP/1.1\r\nHost: localhost\r\n$auth\r\n"
           . "Content-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

# a connection to the hub's port (or to <port>)
sub connect_hub {
    my ($port) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port // Test::Nginx::Socket::server_port_for_client(),
        Timeout => 70) || die "cannot connect: $!";
}

# sends a request on a (keep-alive) connection; with "read", returns the
# answer's status
sub send_note {
    my ($s, $req, $read) = @_;
    print $s $req;
    return $read ? answer($s) : undef;
}

# the status of the next answer on a connection; in list context with its
# head too
sub answer {
    my ($s) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($s, $head, 1, length $head);
        return 0 unless $n;
    }
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my ($len) = $head =~ /\r\nContent-Length: (\d+)/i;
    my $body = '';
    while (length $body < ($len // 0)) {
        sysread($s, $body, $len - length $body, length $body) or last;
    }
    return wantarray ? ($status, $head) : $status;
}

sub get {
    my ($path) = @_;
    my $s = connect_hub();
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    return $r =~ /\r\n\r\n(.*)$/s ? $1 : '';
}

# a request to the hub: its status and body
sub call {
    my ($method, $path) = @_;
    my $s = connect_hub();
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n"
             . "Content-Length: 0\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    my ($status) = $r =~ m{^HTTP/1\.\d (\d+)};
    return ($status // 0, $r =~ /\r\n\r\n(.*)$/s ? $1 : '');
}

# waits until the outbox is empty; returns its last listing
sub outbox_empty {
    my $list;
    HoldDownstream::wait_for(sub {
        $list = get('/outbox');
        return $list =~ /^\{"items":\[\]\}/;
    });
    return $list;
}

sub seen {
    my ($path, $event) = @_;
    return grep { $_ eq $event } HoldDownstream::at($path);
}

sub index_of {
    my ($path, $event) = @_;
    my @e = HoldDownstream::at($path);
    for my $i (0 .. $#e) { return $i if $e[$i] eq $event }
    return -1;
}

sub wait_seen {
    my ($path, $event) = @_;
    return HoldDownstream::wait_for(sub { seen($path, $event) });
}

1;
