# The Activity Center page (conf-examples/activity-center/) in a real
# browser: Debian's Chromium, headless, driven over the DevTools protocol on
# its pipe (t/lib/Cdp.pm: Perl and JSON::PP, nothing from npm).  The page is
# opened as a demo user, a notification is posted through the Graph
# endpoint, the item appears without a reload and the badge counts it, a
# click marks it read and the badge goes down; a screenshot is saved in
# t/servroot/logs/ (docs/activity-center.png is a copy of it).  The waits are
# bounds for failing, not measurements.  Skips only where Chromium is missing
# or cannot start.
use lib 't/lib';
use NotifyTest;

use FindBin;
use File::Temp qw(tempdir);
use JSON::PP;

use Cdp;
use HTTP::Tiny;

our ($Skip, $Page);

BEGIN {
    $Page = "$FindBin::Bin/../conf-examples/activity-center";

    # Chromium is started once here only to know that it can be
    my $b = Cdp->start;
    if ($b) {
        $b->quit;
    } else {
        $Skip = $Cdp::Error;
    }
}

use Test::Nginx::Socket $Skip ? (skip_all => $Skip) : ('no_plan');

BEGIN {
    my $data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';
    NotifyTest::setup(directory => "$data/graph/directory.json",
                      manifest => "$data/graph/manifest.json");
}

our $John = '569363e2-4e49-4661-87f2-16f245c5d66a';

# the demo users the page offers, with their tokens, as scripts/run writes
# them for the quickstart
our $Users = tempdir('notify-ac-XXXXXX', TMPDIR => 1, CLEANUP => 1);
{
    open my $fh, '>', "$Users/demo-users.json" or die "$Users: $!";
    print $fh encode_json([
        {name => 'john', displayName => 'John Doe',
         token => NotifyTest::user_token($John, 'john.doe@microsoft.com')},
        {name => 'megan', displayName => 'Megan',
         token => NotifyTest::user_token('ab88234e-0874-477c-9638-d144296ed04f',
                                         'megan@example.org')},
    ]);
    close $fh;
}

our ($Status, $Out);

sub browse {
    my $base = 'http://127.0.0.1:' . Test::Nginx::Socket::server_port_for_client();
    my $graph = NotifyTest::token(azp => 'app-graph', roles => ['TeamsActivity.Send']);
    my $logs = Test::Nginx::Socket::server_root() . '/logs';
    my $shot = "$logs/activity-center.png";
    my ($b, $s);

    $Out = '';
    $Status = 0;
    unlink $shot;

    eval {
        $b = Cdp->start(log => "$logs/chromium.log") or die "$Cdp::Error\n";
        $s = $b->page(900, 600);

        $b->navigate($s, "$base/activity-center/?user=john");
        $b->wait_for($s, 'document.querySelector(\'body[data-state="live"]\')',
                     30);
        $Out .= 'live, badge '
                . $b->evaluate($s, "document.getElementById('unread')"
                                   . '.textContent') . "\n";

        my $r = HTTP::Tiny->new(timeout => 30)->post(
            "$base/v1.0/users/$::John/teamwork/sendActivityNotification",
            {headers => {'Content-Type' => 'application/json',
                         Authorization => "Bearer $graph"},
             content => encode_json({
                 topic => {source => 'text', value => 'Tasks',
                           webUrl => 'https://teams.microsoft.com/l/tasks'},
                 activityType => 'taskCreated',
                 previewText => {content => 'New Task'},
                 templateParameters => [{name => 'taskId',
                                         value => 'Browser-1'}]})});
        $Out .= "graph $r->{status}\n";

        $Out .= 'appeared: '
                . $b->wait_for($s, "(document.querySelector('.item.new .title')"
                                   . ' || {}).textContent', 15) . "\n";
        $b->wait_for($s, "document.getElementById('unread').textContent"
                         . " === '1'", 15);
        $Out .= "badge 1\n";

        $b->click($s, '.item.new', 5, 5);
        $b->wait_for($s, "document.getElementById('unread').textContent"
                         . " === '0' && document.querySelector('.item.read')"
                         . ' !== null', 15);
        $Out .= "clicked: read, badge 0\n";

        $b->screenshot($s, $shot);
        $Out .= "screenshot\n";
    };
    if ($@) {
        $Out .= "failed: $@";
        $Status = 1;
    }
    $Out .= "page error: $_\n" for $b ? $b->page_errors : ();
    $b->quit if $b;

    $Out .= -s $shot ? "saved\n" : "no screenshot\n";
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;
    my $want = $block->browser_says;
    return unless defined $want;
    Test::More::is($Status, 0, $block->name . ' - the browser did all its steps')
        or Test::More::diag($Out);
    for my $re (grep { length } split /\n/, $want) {
        Test::More::like($Out, qr/$re/m, $block->name . " - the browser: /$re/")
            or Test::More::diag($Out);
    }
});

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: the page shows a notification as it arrives, counts it, and a click reads it
--- http_config eval: ::conf('t1')
--- config eval
<<CONF
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
    location = /activity-center/demo-users.json { alias $::Users/demo-users.json; }
    location /activity-center/ {
        types { text/html html; text/css css; application/javascript js; }
        alias $::Page/;
    }
CONF
--- init
::browse();
--- request
GET /activities/counts
--- more_headers eval: "Authorization: Bearer " . NotifyTest::user_token($::John, 'john.doe@microsoft.com') . "\n"
--- response_body_like: ^\{"unread":0,"unseen":0\}$
--- browser_says
^live, badge 0$
^graph 204$
^appeared: Contoso Tasks created task Browser-1 for you$
^badge 1$
^clicked: read, badge 0$
^screenshot$
^saved$
--- no_error_log
[error]
