# A reload (SIGHUP to the master) with a changed directory file: the new
# directory is used after it, the store and the feeds survive it, and a
# broken file makes the reload fail while the running configuration keeps
# serving with its old directory.
#
# Each block's directory file lives in a temporary folder: the block's
# "--- initial_directory" is written there before nginx starts, and after
# request N of the block, a defined element N of "--- reload_directory"
# replaces the file, the master gets SIGHUP, and the test waits until the
# reload has been done (or has failed); "--- reload_result" (default
# "reloaded") says which of the two is expected.
use lib 't/lib';
use NotifyTest;
use JSON::PP;
use File::Spec;
use File::Temp qw(tempdir);
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Data = File::Spec->rel2abs($ENV{TEST_NGINX_DATA_DIR} || 't/data');
our $Dirs = tempdir('notify-reload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_RELOAD_DIRS} = $Dirs;

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());
our %User = (
    ada => NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org')),
    newbie => NotifyTest::bearer(NotifyTest::user_token('u-newbie', 'newbie@example.org')),
);

# a directory file: users given as [id, upn, active]
sub directory {
    my @users = map { {id => $_->[0], upn => $_->[1],
                       active => ($_->[2] // 1) ? JSON::PP::true : JSON::PP::false} } @_;
    return JSON::PP->new->canonical->pretty->encode({users => \@users});
}

our $Ada = ['u-ada', 'ada@example.org'];
our $Newbie = ['u-newbie', 'newbie@example.org'];

# the block's number (NotifyTest::block_number()): its directory file and
# its store are named after it
sub dir_file { return "$Dirs/directory-" . shift() . ".json" }

add_block_preprocessor(sub {
    my $block = shift;
    my $initial = $block->initial_directory;
    NotifyTest::write_file(dir_file(NotifyTest::block_number($block)), $initial) if defined $initial;
});

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $texts = $block->reload_directory;
    return unless ref $texts eq 'ARRAY' && defined $texts->[$req_idx];

    my $results = $block->reload_result;
    my $want = ref $results eq 'ARRAY' && defined $results->[$req_idx]
               ? $results->[$req_idx] : 'reloaded';

    NotifyTest::write_file(dir_file(NotifyTest::block_number($block)), $texts->[$req_idx]);
    Test::More::is(NotifyTest::reload(), $want,
                   $block->name . " - reload after request $req_idx");
});

# [request, headers] pairs
sub post {
    my ($title, @accounts) = @_;
    return ["POST /n\n" . encode_json({eventId => 'e', title => $title,
            url => "http://x.example.org/$title", accounts => \@accounts}), $App];
}

sub as { my ($who, $req) = @_; return [$req, $User{$who}] }

sub reqs { return [map { $_->[0] } @_] }
sub hdrs { return [map { $_->[1] } @_] }

sub answer {
    my ($n, $id) = @_;
    $id //= '[0-9a-f]{16}';
    return qr/^\{"id":"$id","recipients":$n,"unresolved":\[\]\}$/;
}

our $Nobody = qr/"errors":\{"accounts":\["None of the accounts resolves to an active user or group: newbie\@example\.org\."\]\}\}$/;

sub item {
    my ($id, $title) = @_;
    return qq|\\{"id":"$id","dialect":"syntphony","event":"e","title":"$title",[^\\]]*"read":false\\}|;
}

# every error-log check sees the block's whole log, so that the lines of a
# reload done after the first request are found by every later check too
check_accum_error_log();
master_on();
workers(1);
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a user added to the directory resolves after a reload
--- initial_directory eval: ::directory($::Ada)
--- reload_directory eval: [::directory($::Ada, $::Newbie)]
--- http_config eval: ::conf('reload-1', directory => ::dir_file(1))
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('before', 'newbie@example.org'), ::post('after', 'newbie@example.org'),
       ::as(newbie => 'GET /activities'))
--- more_headers eval
::hdrs(::post('before'), ::post('after'), ::as(newbie => ''))
--- error_code eval: [400, 200, 200]
--- response_body_like eval
[$::Nobody, ::answer(1),
 qr/^\{"items":\[${\ ::item('[0-9a-f]{16}', 'after')}\],"next":null,"unread":1\}$/]
--- error_log eval
[qr/\[notice\] .*signal 1 \(SIGHUP\) received.*reconfiguring/,
 qr/notify: directory "[^"]+directory-1\.json": 2 users, 0 groups/]
--- no_error_log
[error]
[emerg]
[alert]



=== TEST 2: the feed and the store survive the reload
--- initial_directory eval: ::directory($::Ada)
--- reload_directory eval: [::directory($::Ada, $::Newbie)]
--- http_config eval: ::conf('reload-2', directory => ::dir_file(2))
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('kept', 'u-ada'), ::as(ada => 'GET /activities'),
       ::post('next', 'ada@example.org', 'u-newbie'), ::as(ada => 'GET /activities'),
       ::as(ada => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post('kept'), ::as(ada => ''), ::post('next'), ::as(ada => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body_like eval
[::answer(1, '0000000000000001'),
 qr/^\{"items":\[${\ ::item('0000000000000001', 'kept')}\],"next":null,"unread":1\}$/,
 ::answer(2, '0000000000000002'),
 qr/^\{"items":\[${\ ::item('0000000000000002', 'next')},${\ ::item('0000000000000001', 'kept')}\],"next":null,"unread":2\}$/,
 qr/^\{"unread":2\}$/]
--- error_log eval
[qr/reconfiguring/]
--- no_error_log
[error]
[emerg]
[alert]



=== TEST 3: a broken directory file: the reload fails, the old directory keeps serving
--- initial_directory eval: ::directory($::Ada)
--- reload_directory eval
[::directory($::Ada) =~ s/\]\s*\}\s*$/,\n  {"id": "u-newbie", "upn": "newbie\@example.org",]\n}\n/r,
 ::directory($::Ada, $::Newbie)]
--- reload_result eval: ['failed', 'reloaded']
--- http_config eval: ::conf('reload-3', directory => ::dir_file(3))
--- config
    location = /n { notify_inbound syntphony; }
--- request eval
::reqs(::post('a', 'u-ada'), ::post('b', 'newbie@example.org'), ::post('c', 'u-ada'),
       ::post('d', 'newbie@example.org'))
--- more_headers eval
::hdrs(::post('a'), ::post('b'), ::post('c'), ::post('d'))
--- error_code eval: [200, 400, 200, 200]
--- response_body_like eval
[::answer(1), $::Nobody, ::answer(1), ::answer(1)]
--- error_log eval
[qr/\[emerg\] \d+#\d+: notify_directory "[^"]+directory-3\.json": line \d+, column \d+: .+ in \S+nginx\.conf:\d+$/]
--- no_error_log
[error]
[alert]



=== TEST 4: a user made inactive by a reload is no longer notified
--- initial_directory eval: ::directory($::Ada, $::Newbie)
--- reload_directory eval: [::directory($::Ada, ['u-newbie', 'newbie@example.org', 0])]
--- http_config eval: ::conf('reload-4', directory => ::dir_file(4))
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('on', 'newbie@example.org'), ::post('off', 'newbie@example.org'),
       ::as(newbie => 'GET /activities'))
--- more_headers eval
::hdrs(::post('on'), ::post('off'), ::as(newbie => ''))
--- error_code eval: [200, 400, 200]
--- response_body_like eval
[::answer(1), $::Nobody,
 qr/^\{"items":\[${\ ::item('[0-9a-f]{16}', 'on')}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]
[emerg]
[alert]
