# Recipient expansion through the Syntphony endpoint: users by object id or
# UPN, groups by id or UPN, a user winning over a group with the same id,
# duplicates and overlaps counted once, inactive users never notified, the
# unresolved names in request order, and a group of 10 000 members.  The
# directory is this file's own (t/data/expansion/directory.json), plus one
# generated here for the big group.
use lib 't/lib';
use NotifyTest;
use JSON::PP;
use File::Spec;
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Data = File::Spec->rel2abs($ENV{TEST_NGINX_DATA_DIR} || 't/data');
our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());

sub user { NotifyTest::bearer(NotifyTest::user_token(@_)) }

our %User = (
    ann => user('u-ann', 'ann@example.org'),
    ben => user('u-ben', 'Ben.Smith@Example.ORG'),
    cat => user('u-cat', 'cat@example.org'),
    dan => user('u-dan', 'dan@example.org'),
    eve => user('u-eve', 'eve@example.org'),
    sam => user('shared-1', 'sam@example.org'),
    big => user('big-04242', 'big04242@example.org'),
    last => user('big-10000', 'big10000@example.org'),
    off => user('off-00007', 'off00007@example.org'),
);

# The big directory: 10 000 active users and 100 inactive ones, all in the
# group "big" (upn Big@Example.org), listed by id; the first 500 active ones
# a second time by their UPN in upper case.
our $Big = tempdir('notify-expansion-XXXXXX', TMPDIR => 1, CLEANUP => 1)
           . '/big.json';
{
    my (@users, @members);
    for my $i (1 .. 10_000) {
        my $id = sprintf 'big-%05d', $i;
        push @users, sprintf '{"id":"%s","upn":"big%05d@example.org"}', $id, $i;
        push @members, qq{"$id"};
    }
    for my $i (1 .. 100) {
        my $id = sprintf 'off-%05d', $i;
        push @users, sprintf '{"id":"%s","upn":"off%05d@example.org","active":false}',
                             $id, $i;
        push @members, qq{"$id"};
    }
    push @members, map { sprintf '"BIG%05d@EXAMPLE.ORG"', $_ } 1 .. 500;

    open my $fh, '>', $Big or die "$Big: $!";
    print $fh '{"users":[', join(",\n", @users), "],\n",
              '"groups":[{"id":"g-big","upn":"Big@Example.org","members":[',
              join(',', @members), "]}]}\n";
    close $fh or die "$Big: $!";
}
$ENV{TEST_NGINX_EXPANSION_BIG_DIRECTORY} = $Big;

# conf(): this file's directory (or the one given), a store for each block
NotifyTest::setup(directory => "$Data/expansion/directory.json");

# [request, headers] pairs
sub post {
    my ($title, @accounts) = @_;
    return ["POST /n\n" . encode_json({eventId => 'e', title => $title,
            url => "http://x.example.org/$title", accounts => \@accounts}), $App];
}

sub as { my ($who, $req) = @_; return [$req, $User{$who}] }

sub reqs { return [map { $_->[0] } @_] }
sub hdrs { return [map { $_->[1] } @_] }

# the success answer: N recipients, these names unresolved (as JSON writes them)
sub answer {
    my ($n, @unresolved) = @_;
    my $u = quotemeta substr(JSON::PP->new->utf8->encode(\@unresolved), 1, -1);
    return qr/^\{"id":"[0-9a-f]{16}","recipients":$n,"unresolved":\[$u\]\}$/;
}

# the 400 when nobody resolves
sub none {
    my $list = join ', ', @_;
    return qr/"errors":\{"accounts":\["None of the accounts resolves to an active user or group: \Q$list\E\."\]\}\}$/;
}

sub unread { my $n = shift; return qr/^\{"unread":$n\}$/ }

# every error-log check sees the block's whole log (not only the lines since
# the previous request's check), so an --- error_log line logged while
# answering the first request is found by every later check too
check_accum_error_log();
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a user by object id, and by UPN in any letter case
--- http_config eval: ::conf('t1')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('a1', 'u-ann'), ::post('a2', 'ann@example.org'), ::post('a3', 'ANN@Example.ORG'),
       ::post('b1', 'ben.smith@example.org'), ::post('b2', 'BEN.SMITH@EXAMPLE.ORG'),
       ::post('b3', 'Ben.Smith@Example.ORG'),
       ::as(ann => 'GET /activities/count'), ::as(ben => 'GET /activities/count'),
       ::as(cat => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('a1'), ::post('a2'), ::post('a3'), ::post('b1'), ::post('b2'), ::post('b3'),
       ::as(ann => ''), ::as(ben => ''), ::as(cat => ''))
--- error_code eval: [(200) x 9]
--- response_body_like eval
[::answer(1), ::answer(1), ::answer(1), ::answer(1), ::answer(1), ::answer(1), ::unread(3), ::unread(3), ::unread(0)]
--- no_error_log
[error]



=== TEST 2: object ids are compared exactly, not as UPNs
--- http_config eval: ::conf('t2')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('x', 'U-ANN', 'u-ann'), ::post('y', 'U-ANN', 'G-TEAM'),
       ::as(ann => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('x'), ::post('y'), ::as(ann => ''))
--- error_code eval: [200, 400, 200]
--- response_body_like eval
[::answer(1, 'U-ANN'), ::none('U-ANN, G-TEAM'), ::unread(1)]
--- no_error_log
[error]



=== TEST 3: a group by its id, and by its upn in any letter case
--- http_config eval: ::conf('t3')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('g1', 'g-team'), ::post('g2', 'team@example.org'), ::post('g3', 'TEAM@EXAMPLE.ORG'),
       ::post('g4', 'g-noupn'),
       ::as(ann => 'GET /activities/count'), ::as(ben => 'GET /activities/count'),
       ::as(cat => 'GET /activities/count'), ::as(dan => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('g1'), ::post('g2'), ::post('g3'), ::post('g4'),
       ::as(ann => ''), ::as(ben => ''), ::as(cat => ''), ::as(dan => ''))
--- error_code eval: [(200) x 8]
--- response_body_like eval
[::answer(2), ::answer(2), ::answer(2), ::answer(1), ::unread(3), ::unread(3), ::unread(1), ::unread(0)]
--- error_log
for 2 recipients
--- no_error_log
[error]



=== TEST 4: a user and a group with the same id: the user wins
--- http_config eval: ::conf('t4')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('s1', 'shared-1'), ::post('s2', 'SHARED-GROUP@example.org'),
       ::as(sam => 'GET /activities'), ::as(ann => 'GET /activities'))
--- more_headers eval
::hdrs(::post('s1'), ::post('s2'), ::as(sam => ''), ::as(ann => ''))
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[::answer(1), ::answer(3),
 qr/^\{"items":\[\{"id":"0000000000000001",[^\]]*"title":"s1",[^\]]*\}\],"next":null,"unread":1\}$/,
 qr/^\{"items":\[\{"id":"0000000000000002",[^\]]*"title":"s2",[^\]]*\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 5: duplicate members and overlapping groups count once
--- http_config eval: ::conf('t5')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('o', 'g-team', 'overlap@example.org', 'TEAM@example.org', 'u-ben', 'Ann@Example.org',
              'g-overlap', 'cat@example.org'),
       ::as(ann => 'GET /activities/count'), ::as(ben => 'GET /activities'),
       ::as(cat => 'GET /activities/count'), ::as(dan => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('o'), ::as(ann => ''), ::as(ben => ''), ::as(cat => ''), ::as(dan => ''))
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body_like eval
[::answer(3), ::unread(1),
 qr/^\{"items":\[\{"id":"0000000000000001",[^\]]*"title":"o",[^\]]*\}\],"next":null,"unread":1\}$/,
 ::unread(1), ::unread(0)]
--- error_log
for 3 recipients
--- no_error_log
[error]



=== TEST 6: a group whose members are all inactive is unresolved
--- http_config eval: ::conf('t6')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('h1', 'ghosts@example.org', 'u-cat'), ::post('h2', 'g-ghosts'),
       ::as(dan => 'GET /activities/count'), ::as(eve => 'GET /activities/count'),
       ::as(cat => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('h1'), ::post('h2'), ::as(dan => ''), ::as(eve => ''), ::as(cat => ''))
--- error_code eval: [200, 400, 200, 200, 200]
--- response_body_like eval
[::answer(1, 'ghosts@example.org'), ::none('g-ghosts'), ::unread(0), ::unread(0), ::unread(1)]
--- no_error_log
[error]



=== TEST 7: an inactive user named directly is unresolved
--- http_config eval: ::conf('t7')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('d1', 'dan@example.org', 'u-ann'), ::post('d2', 'u-eve', 'DAN@EXAMPLE.ORG'),
       ::as(dan => 'GET /activities'), ::as(ann => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('d1'), ::post('d2'), ::as(dan => ''), ::as(ann => ''))
--- error_code eval: [200, 400, 200, 200]
--- response_body_like eval
[::answer(1, 'dan@example.org'), ::none('u-eve, DAN@EXAMPLE.ORG'),
 qr/^\{"items":\[\],"next":null,"unread":0\}$/, ::unread(1)]
--- no_error_log
[error]



=== TEST 8: unknown names are listed in request order, as written
--- http_config eval: ::conf('t8')
--- config
    location = /n { notify_inbound syntphony; }
--- request eval
::reqs(::post('u', 'zed@example.org', 'u-ann', 'nobody', 'ghosts@example.org', 'Y@EXAMPLE.ORG',
              'u-dan', 'g-overlap', "quote\"and\\back\@example.org", "zo\x{eb}\@example.org"),
       ::post('v', 'nobody', "zo\x{eb}\@example.org", 'eve@example.org'))
--- more_headers eval
::hdrs(::post('u'), ::post('v'))
--- error_code eval: [200, 400]
--- response_body_like eval
[::answer(3, 'zed@example.org', 'nobody', 'ghosts@example.org', 'Y@EXAMPLE.ORG', 'u-dan',
         "quote\"and\\back\@example.org", "zo\x{eb}\@example.org"),
 ::none("nobody, zo\xc3\xab\@example.org, eve\@example.org")]
--- no_error_log
[error]



=== TEST 9: a group of 10 000 members, and one member's feed
--- http_config eval: ::conf('t9', directory => '$TEST_NGINX_EXPANSION_BIG_DIRECTORY')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('big', 'big@example.org'),
       ::as(big => 'GET /activities'), ::as(big => 'GET /activities/count'),
       ::post('again', 'BIG@EXAMPLE.ORG', 'big04242@example.org', 'big-00001', 'g-big'),
       ::as(big => 'GET /activities/count'), ::as(last => 'GET /activities/count'),
       ::as(off => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('big'), ::as(big => ''), ::as(big => ''), ::post('again'),
       ::as(big => ''), ::as(last => ''), ::as(off => ''))
--- error_code eval: [(200) x 7]
--- response_body_like eval
[::answer(10000),
 qr/^\{"items":\[\{"id":"0000000000000001","dialect":"syntphony","event":"e","title":"big","url":"http:\/\/x\.example\.org\/big",[^\]]*"read":false\}\],"next":null,"unread":1\}$/,
 ::unread(1), ::answer(10000), ::unread(2), ::unread(2), ::unread(0)]
--- error_log
for 10000 recipients
--- no_error_log
[error]



=== TEST 10: the group's name 5 400 times (and its id, and a member): expanded once
--- http_config eval: ::conf('t10', directory => '$TEST_NGINX_EXPANSION_BIG_DIRECTORY')
--- config
    location = /n { notify_max_body 256k; notify_inbound syntphony; }
--- request eval
::post('many', ('Big@Example.org') x 5400, 'g-big', 'big-00001', ('BIG@EXAMPLE.ORG') x 10)->[0]
--- more_headers eval: $::App
--- error_code: 200
--- response_body_like eval: ::answer(10000)
--- error_log
for 10000 recipients, 1 groups expanded
--- no_error_log
[error]
