#!/usr/bin/perl
# scripts/bench: writes the bench's directory (10 000-member group and team),
# its tokens (minted with Crypt::JWT, never by the hub's own code) and one
# wrk Lua script per measurement into the folder given.
#
#   mint.pl <conf dir> <lua dir> <signing key .jwk> <members>

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use BenchToken;
use JSON::PP;

my ($conf, $lua, $keyfile, $members) = @ARGV;
$members ||= 10000;

my $json = JSON::PP->new->canonical;

sub token { return BenchToken::token($keyfile, @_) }

# the directory: ada (one recipient), reader (the feed), m00000.. (members)
my $ada = '0b000000-0000-4000-8000-00000000ada0';
my $reader = '0b000000-0000-4000-8000-0000000feed0';
my $team = '7e000000-0000-4000-8000-000000000001';
my @users = (
    {id => $ada, upn => 'ada@bench.example', displayName => 'Ada', active => JSON::PP::true},
    {id => $reader, upn => 'reader@bench.example', displayName => 'Reader',
     active => JSON::PP::true},
);
my @m;
for my $i (0 .. $members - 1) {
    my $upn = sprintf 'm%05d@bench.example', $i;
    push @users, {id => sprintf('0b000000-0000-4000-9000-%012d', $i), upn => $upn,
                  displayName => "Member $i", active => JSON::PP::true};
    push @m, $upn;
}

open my $fh, '>', "$conf/directory.json" or die "$conf/directory.json: $!";
print $fh $json->encode({
    users => \@users,
    groups => [{id => '9a000000-0000-4000-8000-000000000001', upn => 'all@bench.example',
                displayName => 'Everyone', members => \@m}],
    teams => [{id => $team, displayName => 'Everyone', members => \@m,
               channels => [{id => '19:general@thread.tacv2', displayName => 'General'}]}],
    chats => [],
});
close $fh;

my $app = token(azp => 'bench-app', roles => ['access_as_application']);
my $graph = token(azp => 'bench-graph', roles => ['TeamsActivity.Send']);
my $ada_t = token(azp => 'bench-portal', oid => $ada, upn => 'ada@bench.example');
my $reader_t = token(azp => 'bench-portal', oid => $reader, upn => 'reader@bench.example');
my $push_t = token(azp => 'bench-sender');

sub syntphony_body {
    my ($event, @to) = @_;
    return $json->encode({eventId => $event, title => 'Build 42 failed',
                          url => 'https://ci.example.org/builds/42',
                          notified => '2026-11-22T10:00:00Z', accounts => \@to,
                          comment => 'on main'});
}

my $graph_user = $json->encode({
    topic => {source => 'text', value => 'Build 42',
              webUrl => 'https://ci.example.org/builds/42'},
    activityType => 'buildFailed', previewText => {content => 'Build 42 failed on main'},
    templateParameters => [{name => 'buildId', value => '42'},
                           {name => 'branch', value => 'main'}]});
my $graph_team = $json->encode({
    topic => {source => 'text', value => 'Build 42',
              webUrl => 'https://ci.example.org/builds/42'},
    activityType => 'buildFailed', previewText => {content => 'Build 42 failed on main'},
    recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient',
                  teamId => $team},
    templateParameters => [{name => 'buildId', value => '42'},
                           {name => 'branch', value => 'main'}]});
my $gever = $json->encode({
    notification_recipients => ['ada@bench.example'],
    resource_url => 'https://dms.example.org/doc/7',
    title => {en => 'Approve the contract'}, label => {en => 'Approval'},
    summary => {en => 'Contract 7 waits for you'}, description => {}});

my $one = syntphony_body('build-failed', 'ada@bench.example');
my $json_h = {'Content-Type' => 'application/json'};

# name => [method, path, headers, body, dynamic body (Lua expression)]
my %runs = (
    ceiling => ['POST', '/ceiling', $json_h, $one],
    nchan => ['POST', '/nchan/pub', $json_h, $one],
    proxy => ['POST', '/proxy', $json_h, $one],
    syntphony => ['POST', '/ActivityCenter/app/setExternalNotification',
                  {%$json_h, Authorization => "Bearer $app"}, $one],
    'syntphony-group' => ['POST', '/ActivityCenter/app/setExternalNotification',
                          {%$json_h, Authorization => "Bearer $app"},
                          syntphony_body('build-failed', 'all@bench.example')],
    # the same, one request at a time (one connection)
    fanout => ['POST', '/ActivityCenter/app/setExternalNotification',
               {%$json_h, Authorization => "Bearer $app"},
               syntphony_body('build-failed', 'all@bench.example')],
    # the soak: one recipient, BENCH_LIMIT answers a thread
    soak => ['POST', '/ActivityCenter/app/setExternalNotification',
             {%$json_h, Authorization => "Bearer $app"}, $one],
    prefill => ['POST', '/ActivityCenter/app/setExternalNotification',
                {%$json_h, Authorization => "Bearer $app"},
                syntphony_body('build-failed', 'reader@bench.example')],
    delivery => ['POST', '/ActivityCenter/app/setExternalNotification',
                 {%$json_h, Authorization => "Bearer $app"},
                 syntphony_body('bench.deliver', 'ada@bench.example')],
    graph => ['POST', "/v1.0/users/$ada/teamwork/sendActivityNotification",
              {%$json_h, Authorization => "Bearer $graph"}, $graph_user],
    'graph-team' => ['POST', "/v1.0/teams/$team/sendActivityNotification",
                     {%$json_h, Authorization => "Bearer $graph"}, $graph_team],
    gever => ['POST', '/@external-activities',
              {%$json_h, Authorization => "Bearer $ada_t", 'Accept-Language' => 'en'},
              $gever],
    # an identical push is acknowledged again and stored once: number them
    push => ['POST', '/push', {%$json_h, Authorization => $push_t,
                               'User-Agent' => 'DataNotifier'}, undef,
             q{'{"Type": "0", "WorkItemType": "1", "WorkItem": {"Id": "J-'
               .. id .. '-' .. n .. '", "WorkStatus": "Open"}}'}],
    'feed-page' => ['GET', '/activities?limit=20', {Authorization => "Bearer $reader_t"}],
    'feed-count' => ['GET', '/activities/count', {Authorization => "Bearer $reader_t"}],
);

sub lua_str { my $s = shift; $s =~ s/([\\'])/\\$1/g; $s =~ s/\n/\\n/g; return "'$s'" }

for my $name (sort keys %runs) {
    my ($method, $path, $h, $body, $dyn) = @{$runs{$name}};
    open my $l, '>', "$lua/$name.lua" or die "$lua/$name.lua: $!";
    print $l "-- generated by scripts/bench: $name\n";
    print $l "wrk.method = '$method'\nwrk.path = " . lua_str($path) . "\n";
    print $l "wrk.headers[" . lua_str($_) . "] = " . lua_str($h->{$_}) . "\n"
        for sort keys %$h;
    print $l "wrk.body = " . lua_str($body) . "\n" if defined $body;
    if ($dyn) {
        print $l <<"LUA";
local id, n = 0, 0
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function request()
    n = n + 1
    return wrk.format(nil, nil, nil, $dyn)
end
LUA
    }
    if ($name eq 'prefill' || $name eq 'soak') {
        # stop after LIMIT answers (a thread)
        print $l <<'LUA';
local got = 0
local limit = tonumber(os.getenv("BENCH_LIMIT") or "10000")
function response(status, headers, body)
    got = got + 1
    if got >= limit then wrk.thread:stop() end
end
LUA
    }
    print $l <<'LUA';
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
        '"p50_us": %d, "p99_us": %d, "max_us": %d, "connect": %d, "read": %d, ' ..
        '"write": %d, "status": %d, "timeout": %d}\n',
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
LUA
    close $l;
}
