# The 4 x 4 matrix: hub A (the test's nginx) takes a notification in each
# of the four inbound dialects and delivers it through a notify_target of
# each outbound dialect (graph, syntphony, gever, push) to hub B, a second
# nginx started here with its own prefix, port, store and configuration,
# which takes it in that dialect, authenticating hub A by the static token
# of the target's "authorization".  Each block is one outbound dialect;
# after its four requests the test reads hub B's feeds of both recipients
# and checks what each shows: title, text, URL, event (activity) type.
#
# "--- hub_b: NAME": after the block's last response, hub B's feeds of
# u-ada and u-dave are read until they hold the block's four notifications
# (marked with NAME), and each is checked against $Expect{NAME}.
use lib 't/lib';
use NotifyTest;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

use File::Spec;

BEGIN {
    NotifyTest::setup(manifest =>
                      File::Spec->rel2abs('t/data/graph/manifest.json'));
}

# what every caller of A, and A as a caller of B, may do
our @Roles = (roles => ['access_as_application', 'TeamsActivity.Send',
                        'PrivilegedNotificationDispatcher']);
our $Caller = NotifyTest::bearer(NotifyTest::token(azp => 'app-ci', @Roles));
our $HubA = NotifyTest::token(azp => 'hub-a', sub => 'hub-a', @Roles,
                              exp => time + 86400);

our $BDir = tempdir('notify-hub-b-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $BPort = NotifyTest::free_port();

# B's Teams app: each activity type's text is the title A sends
{
    mkdir "$BDir/data";
    open my $fh, '>', "$BDir/data/manifest.json" or die $!;
    print $fh encode_json({
        manifestVersion => '1.16', id => 'b-app',
        name => {short => 'Hub B'},
        webApplicationInfo => {id => 'hub-a'},
        activities => {activityTypes => [
            map { {type => $_, description => $_, templateText => '{title}'} }
                qw(buildFailed taskCreated)]}});
    close $fh;

    open $fh, '>', "$BDir/data/subscription.key" or die $!;
    print $fh "# the gateway's key of hub A\nk-hub-a\n";
    close $fh;
}

my $BStarted;

sub hub_b {
    return if $BStarted++;

    NotifyTest::start_nginx($BDir,
        NotifyTest::conf('hub-b', manifest => "$BDir/data/manifest.json")
        . <<"CONF");
    server {
        listen 127.0.0.1:$BPort;
        server_name b;
        location = /s/ActivityCenter/app/setExternalNotification {
            notify_subscription_key k-hub-a;
            notify_inbound syntphony;
        }
        location ~ ^/g/.*/sendActivityNotification(ToRecipients)?\$ {
            notify_inbound graph;
        }
        location = /v/\@external-activities { notify_inbound gever; }
        location = /p {
            notify_push_recipients u-ada u-dave;
            notify_inbound push;
        }
        location /activities { notify_feed; }
    }
CONF
}

# hub A's target of each outbound dialect: B's base URL (or URL) for it,
# and its activity types
our %Target = (
    graph => "url http://127.0.0.1:$BPort/g/v1.0;\n"
             . "activity_type build.failed buildFailed;\n"
             . "activity_type taskCreated taskCreated;\n"
             . "activity_type default systemDefault;",
    syntphony => "url http://127.0.0.1:$BPort/s;\n"
                 . "subscription_key_file $BDir/data/subscription.key;\n"
                 . "activity_type workitem.created wi-created;",
    gever => "url http://127.0.0.1:$BPort/v;",
    push => "url http://127.0.0.1:$BPort/p;\n"
            . "activity_type build.failed 5;",
);

sub http_a {
    my ($out) = @_;
    return NotifyTest::conf("a-$out", extra => <<"CONF");
    notify_delivery_retry 200ms 1s;
    notify_target b {
        dialect $out;
        authorization "Bearer $HubA";
        $Target{$out}
    }
CONF
}

our $ServerA = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
    location = /s { notify_inbound syntphony; }
    location ~ /sendActivityNotification(ToRecipients)?$ {
        notify_inbound graph;
    }
    location = /@external-activities { notify_inbound gever; }
    location = /p {
        notify_push_recipients u-ada u-dave;
        notify_inbound push;
    }
CONF

# the four notifications to A, each marked with the outbound dialect
sub requests {
    my ($m) = @_;
    return [
        "POST /s\n" . encode_json({eventId => 'build.failed',
            title => "S-$m", url => "https://s.example.org/$m",
            comment => "s comment $m", notified => '2026-11-22T10:00:00Z',
            accounts => ['u-ada', 'dave@example.org']}),
        "POST /v1.0/teamwork/sendActivityNotificationToRecipients\n"
            . encode_json({
                topic => {source => 'text', value => "G topic $m",
                          webUrl => "https://g.example.org/$m"},
                activityType => 'taskCreated',
                previewText => {content => "g preview $m"},
                templateParameters => [{name => 'taskId', value => "G-$m"}],
                recipients => [map { {'@odata.type' =>
                    'microsoft.graph.aadUserNotificationRecipient',
                    userId => $_} } qw(u-ada u-dave)]}),
        "POST /\@external-activities\n" . encode_json({
            notification_recipients => ['u-ada', 'u-dave'],
            resource_url => "https://v.example.org/$m",
            title => {de => "V-$m de", en => "V-$m"},
            label => {de => 'Ereignis', en => 'Event'},
            summary => {en => "v summary $m"},
            description => {en => "v description $m"}}),
        "POST /p\n" . encode_json({Type => '0', WorkItemType => '1',
            Url => "https://p.example.org/$m", Comment => "p comment $m",
            WorkItem => {Id => "P-$m", WorkStatus => 'Open'}}),
    ];
}

# what B's feeds show of each of the four, by outbound dialect: the
# canonical notification of A, rendered for the target, taken in by B
our %Expect = (
    graph => [
        {dialect => 'graph', event => 'buildFailed', title => 'S-graph',
         url => 'https://s.example.org/graph', comment => 's comment graph',
         topic => 'S-graph'},
        {dialect => 'graph', event => 'taskCreated',
         title => 'Contoso Tasks created task G-graph for you',
         url => 'https://g.example.org/graph', comment => 'g preview graph',
         topic => 'G topic graph'},
        {dialect => 'graph', event => 'systemDefault', title => 'V-graph',
         url => 'https://v.example.org/graph', comment => 'v summary graph'},
        {dialect => 'graph', event => 'systemDefault',
         title => 'Created: work item P-graph (Open)',
         url => 'https://p.example.org/graph', comment => 'p comment graph'},
    ],
    syntphony => [
        {dialect => 'syntphony', event => 'build.failed',
         title => 'S-syntphony', url => 'https://s.example.org/syntphony',
         comment => 's comment syntphony',
         notified => '2026-11-22T10:00:00Z'},
        {dialect => 'syntphony', event => 'taskCreated',
         title => 'Contoso Tasks created task G-syntphony for you',
         url => 'https://g.example.org/syntphony',
         comment => 'g preview syntphony', notified => undef},
        {dialect => 'syntphony', event => 'external-activity',
         title => 'V-syntphony', url => 'https://v.example.org/syntphony',
         comment => 'v summary syntphony'},
        {dialect => 'syntphony', event => 'wi-created',
         title => 'Created: work item P-syntphony (Open)',
         url => 'https://p.example.org/syntphony',
         comment => 'p comment syntphony'},
    ],
    gever => [
        {dialect => 'gever', event => 'external-activity',
         title => {de => 'S-gever', fr => 'S-gever', en => 'S-gever'},
         label => {de => 'build.failed', fr => 'build.failed',
                   en => 'build.failed'},
         summary => {de => 's comment gever', fr => 's comment gever',
                     en => 's comment gever'},
         description => {},
         url => 'https://s.example.org/gever'},
        {dialect => 'gever', event => 'external-activity',
         title => {map { $_ => 'Contoso Tasks created task G-gever for you' }
                   qw(de fr en)},
         label => {map { $_ => 'taskCreated' } qw(de fr en)},
         summary => {map { $_ => 'g preview gever' } qw(de fr en)},
         url => 'https://g.example.org/gever'},
        {dialect => 'gever', event => 'external-activity',
         title => {de => 'V-gever de', en => 'V-gever'},
         label => {de => 'Ereignis', en => 'Event'},
         summary => {en => 'v summary gever'},
         description => {en => 'v description gever'},
         url => 'https://v.example.org/gever'},
        {dialect => 'gever', event => 'external-activity',
         title => {map { $_ => 'Created: work item P-gever (Open)' }
                   qw(de fr en)},
         label => {map { $_ => 'workitem.created' } qw(de fr en)},
         summary => {map { $_ => 'p comment gever' } qw(de fr en)},
         url => 'https://p.example.org/gever'},
    ],
    push => [
        {dialect => 'push', event => 'workitem.status_changed',
         title => 'Status changed: work item 0000000000000001',
         url => 'https://s.example.org/push', comment => 's comment push',
         type => '5', workItem => {Title => 'S-push'}},
        {dialect => 'push', event => 'workitem.changed',
         title => 'Changed: work item 0000000000000002',
         url => 'https://g.example.org/push', comment => 'g preview push',
         type => '8',
         workItem => {Title => 'Contoso Tasks created task G-push for you'}},
        {dialect => 'push', event => 'workitem.changed',
         title => 'Changed: work item 0000000000000003',
         url => 'https://v.example.org/push', comment => 'v summary push',
         type => '8', workItem => {Title => 'V-push'}},
        {dialect => 'push', event => 'workitem.created',
         title => 'Created: work item P-push (Open)',
         url => 'https://p.example.org/push', comment => 'p comment push',
         type => '0', workItemType => '1',
         workItem => {Id => 'P-push', WorkStatus => 'Open'}},
    ],
);

our %Users = ('u-ada' => 'ada@example.org', 'u-dave' => 'dave@example.org');

sub get_b {
    my ($path, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $BPort)
        or return '';
    print $s "GET $path HTTP/1.0\r\nHost: b\r\n"
             . "Authorization: Bearer $token\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    return $r;
}

# the items of a user's feed on B that the block's notifications made
sub marked {
    my ($user, $m) = @_;
    my $token = NotifyTest::user_token($user, $Users{$user});
    my ($body) = get_b('/activities?limit=100', $token) =~ /\r\n\r\n(.*)$/s;
    my $feed = eval { decode_json($body // '') } or return ();
    my $mark = qr/(^|[-\/ ])\Q$m\E( |$)/;
    return grep {
        my $i = $_;
        grep { defined && !ref && /$mark/ } $i->{url}, $i->{title},
            ref $i->{title} ? values %{ $i->{title} } : ()
    } @{ $feed->{items} };
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $m = $block->hub_b;
    return if $dry_run || !defined $m || $req_idx != 3;

    for my $user (sort keys %Users) {
        my @items;
        for (1 .. 600) {            # what B has not taken in 60s: a failure
            @items = marked($user, $m);
            last if @items >= 4;
            Time::HiRes::sleep(0.1);
        }

        Test::More::is(scalar @items, 4, $block->name
                       . " - $user has the four in B's feed")
            or Test::More::diag(`cat $BDir/logs/error.log | tail -20`);

        # newest first: the order A delivered them in is the order sent
        @items = sort { $a->{url} cmp $b->{url} } @items;
        my @want = sort { $a->{url} cmp $b->{url} } @{ $Expect{$m} };

        for my $i (0 .. $#want) {
            my $got = $items[$i] or last;
            my $want = $want[$i];
            my $from = (split /\./, $want->{url})[0] =~ s{https://}{}r;
            for my $k (sort keys %$want) {
                my $g = $got->{$k};
                if (ref $want->{$k} eq 'HASH' && ref $g eq 'HASH'
                    && $k eq 'workItem')
                {
                    $g = {map { $_ => $g->{$_} } grep { exists $g->{$_} }
                          keys %{ $want->{$k} }};
                }
                Test::More::is_deeply($g, $want->{$k}, $block->name
                    . " - $user, from $from: $k");
            }
        }
    }
});

# "--- hub_b_chain: NAME": after the block's second response, u-ada's feed
# on B holds both notifications marked NAME (the two of one Graph chain):
# the syntphony target sends each with its own uniqueId, which B's
# Syntphony inbound takes as an idempotency key
Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $m = $block->hub_b_chain;
    return if $dry_run || !defined $m || $req_idx != 1;

    my @items;
    for (1 .. 600) {
        @items = marked('u-ada', $m);
        last if @items >= 2;
        Time::HiRes::sleep(0.1);
    }

    Test::More::is(join(' ', sort map { $_->{url} } @items),
                   "https://g.example.org/n1/$m https://g.example.org/n2/$m",
                   $block->name . " - both of the chain in B's feed")
        or Test::More::diag(`cat $BDir/logs/error.log | tail -20`);
});

sub chained {
    my ($m) = @_;
    return [ map {
        "POST /v1.0/teamwork/sendActivityNotificationToRecipients\n"
            . encode_json({
                topic => {source => 'text', value => "G topic $m",
                          webUrl => "https://g.example.org/$_/$m"},
                activityType => 'taskCreated', chainId => 7,
                previewText => {content => "g preview $_"},
                templateParameters => [{name => 'taskId', value => "$_"}],
                recipients => [{'@odata.type' =>
                    'microsoft.graph.aadUserNotificationRecipient',
                    userId => 'u-ada'}]})
    } qw(n1 n2) ];
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: each inbound dialect to A, through a graph target to B
--- http_config eval: ::http_a('graph')
--- config eval: $::ServerA
--- init: main::hub_b()
--- request eval: ::requests('graph')
--- more_headers eval: [($::Caller . "Content-Type: application/json\n") x 4]
--- error_code eval: [200, 202, 201, 200]
--- hub_b: graph
--- no_error_log
[error]



=== TEST 2: each inbound dialect to A, through a syntphony target to B
--- http_config eval: ::http_a('syntphony')
--- config eval: $::ServerA
--- init: main::hub_b()
--- request eval: ::requests('syntphony')
--- more_headers eval: [($::Caller . "Content-Type: application/json\n") x 4]
--- error_code eval: [200, 202, 201, 200]
--- hub_b: syntphony
--- no_error_log
[error]



=== TEST 3: each inbound dialect to A, through a gever target to B
--- http_config eval: ::http_a('gever')
--- config eval: $::ServerA
--- init: main::hub_b()
--- request eval: ::requests('gever')
--- more_headers eval: [($::Caller . "Content-Type: application/json\n") x 4]
--- error_code eval: [200, 202, 201, 200]
--- hub_b: gever
--- no_error_log
[error]



=== TEST 4: each inbound dialect to A, through a push target to B
--- http_config eval: ::http_a('push')
--- config eval: $::ServerA
--- init: main::hub_b()
--- request eval: ::requests('push')
--- more_headers eval: [($::Caller . "Content-Type: application/json\n") x 4]
--- error_code eval: [200, 202, 201, 200]
--- hub_b: push
--- no_error_log
[error]



=== TEST 5: two Graph notifications of one chainId to A, both to B through a syntphony target
--- http_config eval: ::http_a('syntphony')
--- config eval: $::ServerA
--- init: main::hub_b()
--- request eval: ::chained('chain')
--- more_headers eval: [($::Caller . "Content-Type: application/json\n") x 2]
--- error_code eval: [202, 202]
--- hub_b_chain: chain
--- no_error_log
[error]
