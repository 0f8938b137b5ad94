# The Activity Center's states: seen, read, archived; the filters of a
# page (status, dialect, event); the kept unread and unseen counts; the
# bulk operations and deleting one's own entry.  Each operation done twice
# changes nothing the second time.
use lib 't/lib';
use NotifyTest;

use JSON::PP;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $App = "Content-Type: application/json\n"
           . NotifyTest::bearer(NotifyTest::app_token());
our %User = (
    ada  => NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org')),
    bob  => NotifyTest::bearer(NotifyTest::user_token('u-bob', 'bob@example.org')),
    admin => NotifyTest::bearer(NotifyTest::user_token('u-dave', 'dave@example.org',
                                                        roles => ['Feed.Admin'])),
    writer => NotifyTest::bearer(NotifyTest::user_token('u-bob', 'bob@example.org',
                                                         roles => ['Feed.Writer'])),
);

# a notification to ada (or others), of an event
sub post {
    my ($title, $event, @accounts) = @_;
    my %n = (eventId => $event // 'e', title => $title,
             url => "http://x.example.org/$title",
             accounts => @accounts ? \@accounts : ['u-ada']);
    return ["POST /n\n" . encode_json(\%n), $App];
}

sub as { my ($who, $req) = @_; return [$req, $User{$who} // ''] }

sub reqs { return [map { $_->[0] } @_] }
sub hdrs { return [map { $_->[1] } @_] }

our @Three = (post('t1'), post('t2'), post('t3'));

# an item of a page of the states' version: its id, read, seen, archived
sub st {
    my ($n, $read, $seen, $archived) = @_;
    my $id = sprintf '%016x', $n;
    return qq|\\{"id":"$id",[^{}]*"read":$read,"seen":$seen,"archived":$archived\\}|;
}

sub page {
    my ($unread, $unseen, @items) = @_;
    my $items = join ',', @items;
    return qr/^\{"items":\[$items\],"next":null,"unread":$unread,"unseen":$unseen\}$/;
}

sub counts { return qr/^\{"unread":$_[0],"unseen":$_[1]\}$/ }

# Graph's chainId: a newer one of the chain replaces the entry
our $Data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';
our $John = '569363e2-4e49-4661-87f2-16f245c5d66a';
our $JohnFeed = NotifyTest::bearer(NotifyTest::user_token($John, 'john.doe@microsoft.com'));
our $Graph = "Content-Type: application/json\n"
             . NotifyTest::bearer(NotifyTest::token(azp => 'app-graph',
                                                    roles => ['TeamsActivity.Send']));

sub chained {
    my ($task) = @_;
    return "POST /v1.0/users/$John/teamwork/sendActivityNotification\n"
           . encode_json({topic => {source => 'text', value => 'Tasks',
                                    webUrl => 'https://teams.microsoft.com/l/x'},
                          activityType => 'taskCreated', chainId => 7,
                          previewText => {content => 'New Task'},
                          templateParameters => [{name => 'taskId', value => $task}]});
}

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: seen is not read: the badge is looked at, the items stay unread; counts of both are kept
--- http_config eval: ::conf('t1')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three,
       ::as(ada => 'GET /activities/counts'),
       ::as(ada => 'POST /activities/seen-all'),
       ::as(ada => 'POST /activities/seen-all'),
       ::post('t4'),
       ::as(ada => 'GET /activities/counts'),
       ::as(ada => 'POST /activities/0000000000000002/read'),
       ::as(ada => 'GET /activities?status=all'),
       ::as(ada => 'GET /activities/count'),
       ::as(bob => 'GET /activities/counts'))
--- more_headers eval
::hdrs(@::Three, ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::post('t4'),
       ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(bob => ''))
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 ::counts(3, 3), ::counts(3, 0), ::counts(3, 0), qr/recipients/, ::counts(4, 1),
 qr/^\{"unread":3\}$/,
 ::page(3, 1, ::st(4, 'false', 'false', 'false'), ::st(3, 'false', 'true', 'false'),
        ::st(2, 'true', 'true', 'false'), ::st(1, 'false', 'true', 'false')),
 qr/^\{"unread":3\}$/, ::counts(0, 0)]
--- no_error_log
[error]



=== TEST 2: reading one that was never seen takes it off both counts; reading up to an id too
--- http_config eval: ::conf('t2')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three,
       ::as(ada => 'POST /activities/0000000000000003/read'),
       ::as(ada => 'GET /activities/counts'),
       ::as(ada => "POST /activities/read\n{\"until\":\"0000000000000002\"}"),
       ::as(ada => 'GET /activities/counts'),
       ::as(ada => 'GET /activities?status=unseen'))
--- more_headers eval
::hdrs(@::Three, ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 qr/^\{"unread":2\}$/, ::counts(2, 2), qr/^\{"unread":0\}$/, ::counts(0, 0), ::page(0, 0)]
--- no_error_log
[error]



=== TEST 3: the filters by state; the default is the inbox (nothing archived), as before
--- http_config eval: ::conf('t3')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three, ::post('t4'),
       ::as(ada => 'POST /activities/0000000000000001/archive'),
       ::as(ada => 'POST /activities/0000000000000002/read'),
       ::as(ada => 'POST /activities/seen-all'),
       ::post('t5'),
       ::as(ada => 'GET /activities?status=unread'),
       ::as(ada => 'GET /activities?status=unseen'),
       ::as(ada => 'GET /activities?status=read'),
       ::as(ada => 'GET /activities?status=archived'),
       ::as(ada => 'GET /activities?status=all&limit=2'),
       ::as(ada => 'GET /activities?status=inbox'),
       ::as(ada => 'GET /activities'),
       ::as(ada => 'GET /activities?unread=true'))
--- more_headers eval
::hdrs(@::Three, ::post('t4'), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::post('t5'),
       (::as(ada => '')) x 8)
--- error_code eval: [(200) x 16]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/recipients/,
 ::counts(3, 3), qr/^\{"unread":2\}$/, ::counts(2, 0), qr/recipients/,
 ::page(3, 1, ::st(5, 'false', 'false', 'false'), ::st(4, 'false', 'true', 'false'),
        ::st(3, 'false', 'true', 'false')),
 ::page(3, 1, ::st(5, 'false', 'false', 'false')),
 ::page(3, 1, ::st(2, 'true', 'true', 'false')),
 ::page(3, 1, ::st(1, 'true', 'true', 'true')),
 qr/^\{"items":\[${\ ::st(5, 'false', 'false', 'false')},${\ ::st(4, 'false', 'true', 'false')}\],"next":"0000000000000004","unread":3,"unseen":1\}$/,
 ::page(3, 1, ::st(5, 'false', 'false', 'false'), ::st(4, 'false', 'true', 'false'),
        ::st(3, 'false', 'true', 'false'), ::st(2, 'true', 'true', 'false')),
 qr/^\{"items":\[\{"id":"0000000000000005"[^{}]*"read":false\},\{"id":"0000000000000004"[^{}]*\},\{"id":"0000000000000003"[^{}]*\},\{"id":"0000000000000002"[^{}]*"read":true\}\],"next":null,"unread":3\}$/,
 qr/^\{"items":\[\{"id":"0000000000000005"[^{}]*\},\{"id":"0000000000000004"[^{}]*\},\{"id":"0000000000000003"[^{}]*"read":false\}\],"next":null,"unread":3\}$/]
--- no_error_log
[error]



=== TEST 4: archive one: twice is once; an unread one leaves both counts; what is not there is 404
--- http_config eval: ::conf('t4')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three,
       ::as(ada => 'POST /activities/0000000000000003/archive'),
       ::as(ada => 'POST /activities/0000000000000003/archive'),
       ::as(ada => 'POST /activities/0000000000000009/archive'),
       ::as(ada => 'POST /activities/nonsense/archive'),
       ::as(bob => 'POST /activities/0000000000000001/archive'),
       ::as(ada => 'GET /activities?status=archived'))
--- more_headers eval
::hdrs(@::Three, (::as(ada => '')) x 4, ::as(bob => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200, 200, 404, 404, 404, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 ::counts(2, 2), ::counts(2, 2), qr/"NotFound"/, qr/"NotFound"/, qr/"NotFound"/,
 ::page(2, 2, ::st(3, 'true', 'true', 'true'))]
--- no_error_log
[error]



=== TEST 5: mark all read, twice; a later one is unread; all seen is kept apart
--- http_config eval: ::conf('t5')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three,
       ::as(ada => 'POST /activities/read-all'),
       ::as(ada => 'POST /activities/read-all'),
       ::post('t4'),
       ::as(ada => 'GET /activities?status=unread'),
       ::as(ada => 'POST /activities/seen-all'),
       ::as(ada => 'POST /activities/read-all'),
       ::as(ada => 'GET /activities?status=unread'))
--- more_headers eval
::hdrs(@::Three, ::as(ada => ''), ::as(ada => ''), ::post('t4'), (::as(ada => '')) x 4)
--- error_code eval: [(200) x 10]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 ::counts(0, 0), ::counts(0, 0), qr/recipients/,
 ::page(1, 1, ::st(4, 'false', 'false', 'false')),
 ::counts(1, 0), ::counts(0, 0), ::page(0, 0)]
--- no_error_log
[error]



=== TEST 6: archive all read: only the read ones go, twice is once
--- http_config eval: ::conf('t6')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(@::Three,
       ::as(ada => "POST /activities/read\n{\"until\":\"0000000000000001\"}"),
       ::as(ada => 'POST /activities/0000000000000003/read'),
       ::as(ada => 'POST /activities/archive-read'),
       ::as(ada => 'POST /activities/archive-read'),
       ::as(ada => 'GET /activities?status=all'))
--- more_headers eval
::hdrs(@::Three, (::as(ada => '')) x 5)
--- error_code eval: [(200) x 8]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 qr/^\{"unread":2\}$/, qr/^\{"unread":1\}$/,
 qr/^\{"archived":2,"unread":1,"unseen":1\}$/,
 qr/^\{"archived":0,"unread":1,"unseen":1\}$/,
 ::page(1, 1, ::st(3, 'true', 'true', 'true'), ::st(2, 'false', 'false', 'false'),
        ::st(1, 'true', 'true', 'true'))]
--- no_error_log
[error]



=== TEST 7: delete one from one's own feed: twice is once, others' feeds keep it
--- http_config eval: ::conf('t7')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('both', 'e', 'u-ada', 'u-bob'), ::post('t2'),
       ::as(ada => 'DELETE /activities/0000000000000001'),
       ::as(ada => "DELETE /activities/0000000000000001\n{\"a body\": \"is discarded\"}"),
       ::as(ada => 'DELETE /activities/nonsense'),
       ::as(ada => 'GET /activities?status=all'),
       ::as(bob => 'GET /activities?status=all'),
       ::as(ada => 'GET /activities/0000000000000002'))
--- more_headers eval
::hdrs(::post('both', 'e', 'u-ada', 'u-bob'), ::post('t2'), (::as(ada => '')) x 4, ::as(bob => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200, 404, 200, 200, 404]
--- response_body_like eval
[qr/recipients/, qr/recipients/,
 qr/^\{"deleted":true,"unread":1,"unseen":1\}$/,
 qr/^\{"deleted":false,"unread":1,"unseen":1\}$/,
 qr/"NotFound"/,
 ::page(1, 1, ::st(2, 'false', 'false', 'false')),
 ::page(1, 1, ::st(1, 'false', 'false', 'false')),
 qr/"NotFound"/]
--- no_error_log
[error]



=== TEST 8: filters by dialect and by event type, with the states
--- http_config eval: ::conf('t8')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('a', 'build'), ::post('b', 'deploy'), ::post('c', 'build'), ::post('d', "d\x{e9}ploy/\"x\""),
       ::as(ada => 'POST /activities/0000000000000003/read'),
       ::as(ada => 'GET /activities?event=build'),
       ::as(ada => 'GET /activities?event=build&status=unread'),
       ::as(ada => 'GET /activities?dialect=syntphony&event=deploy'),
       ::as(ada => 'GET /activities?event=d%C3%A9ploy%2F%22x%22'),
       ::as(ada => 'GET /activities?dialect=graph'),
       ::as(ada => 'GET /activities?dialect=synt'),
       ::as(ada => 'GET /activities?event=buil'))
--- more_headers eval
::hdrs(::post('a', 'build'), ::post('b', 'deploy'), ::post('c', 'build'), ::post('d', 'x'), (::as(ada => '')) x 8)
--- error_code eval: [(200) x 12]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/recipients/, qr/^\{"unread":3\}$/,
 ::page(3, 3, ::st(3, 'true', 'true', 'false'), ::st(1, 'false', 'false', 'false')),
 ::page(3, 3, ::st(1, 'false', 'false', 'false')),
 ::page(3, 3, ::st(2, 'false', 'false', 'false')),
 ::page(3, 3, ::st(4, 'false', 'false', 'false')),
 ::page(3, 3), ::page(3, 3), ::page(3, 3)]
--- no_error_log
[error]



=== TEST 9: bad filters, bounded
--- http_config eval: ::conf('t9')
--- config
    location /activities { notify_feed; }
--- request eval
["GET /activities?status=new", "GET /activities?status=", "GET /activities?dialect=",
 "GET /activities?dialect=" . ('x' x 65), "GET /activities?dialect=" . ('x' x 64),
 "GET /activities?event=" . ('x' x 257), "GET /activities?event=%ff", "GET /activities?event=" . ('x' x 256)]
--- more_headers eval: $::User{ada}
--- error_code eval: [400, 400, 400, 400, 200, 400, 400, 200]
--- response_body_like eval
[qr/"status must be inbox, unread, unseen, read, archived or all\."/, qr/"BadRequest"/,
 qr/"dialect and event must be texts in UTF-8, of 1 to 64 and 1 to 256 bytes\."/,
 qr/"BadRequest"/, ::page(0, 0), qr/"BadRequest"/, qr/"BadRequest"/, ::page(0, 0)]
--- no_error_log
[error]



=== TEST 10: methods of the new paths
--- http_config eval: ::conf('t10')
--- config
    location /activities { notify_feed; }
--- request eval
["GET /activities/read-all", "GET /activities/seen-all", "PUT /activities/archive-read",
 "GET /activities/0000000000000001/archive", "POST /activities/counts",
 "POST /activities/0000000000000001", "GET /activities/0000000000000001"]
--- more_headers eval: $::User{ada}
--- error_code eval: [405, 405, 405, 405, 405, 404, 404]
--- response_headers eval
["Allow: POST", "Allow: POST", "Allow: POST", "Allow: POST", "Allow: GET, HEAD", "Allow:", "Allow:"]
--- no_error_log
[error]



=== TEST 11: another user's feed: the bulk operations need notify_feed_admin_write_role
--- http_config eval: ::conf('t11')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities {
        notify_feed_admin_role Feed.Admin;
        notify_feed_admin_write_role Feed.Writer;
        notify_feed;
    }
--- request eval
::reqs(@::Three,
       ::as(admin => 'POST /activities/seen-all?user=u-ada'),
       ::as(admin => 'DELETE /activities/0000000000000001?user=u-ada'),
       ::as(admin => 'GET /activities/counts?user=u-ada'),
       ::as(writer => 'POST /activities/seen-all?user=u-ada'),
       ::as(writer => 'POST /activities/0000000000000001/archive?user=u-ada'),
       ::as(writer => 'DELETE /activities/0000000000000002?user=ada%40example.org'),
       ::as(ada => 'GET /activities/counts'))
--- more_headers eval
::hdrs(@::Three, (::as(admin => '')) x 3, (::as(writer => '')) x 3, ::as(ada => ''))
--- error_code eval: [200, 200, 200, 403, 403, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 qr/"Only an administrator may change another user's feed\."/,
 qr/"Only an administrator may change another user's feed\."/,
 ::counts(3, 3), ::counts(3, 0), ::counts(2, 0),
 qr/^\{"deleted":true,"unread":1,"unseen":0\}$/, ::counts(1, 0)]
--- no_error_log
[error]



=== TEST 12: retention takes the entries off both counts
--- http_config eval: ::conf('t12', "    notify_feed_retention 1s;")
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(::post('old'), ::as(ada => 'GET /activities/counts'))
--- more_headers eval: ::hdrs(::post('old'), ::as(ada => ''))
--- wait: 3
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/recipients/, ::counts(0, 0)]
--- no_error_log
[error]



=== TEST 13: a chain's newer entry replaces the older: the counts stay right, seen or read
--- http_config eval
::conf('t13', directory => "$::Data/graph/directory.json",
       manifest => "$::Data/graph/manifest.json")
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
--- request eval
[::chained('one'), ::chained('two'), 'GET /activities/counts',
 'POST /activities/seen-all', ::chained('three'), 'GET /activities/counts',
 'POST /activities/read-all', ::chained('four'), 'GET /activities/counts',
 'GET /activities?dialect=graph&event=taskCreated', 'GET /activities?dialect=syntphony']
--- more_headers eval
[$::Graph, $::Graph, $::JohnFeed, $::JohnFeed, $::Graph, $::JohnFeed, $::JohnFeed, $::Graph,
 $::JohnFeed, $::JohnFeed, $::JohnFeed]
--- error_code eval: [204, 204, 200, 200, 204, 200, 200, 204, 200, 200, 200]
--- response_body_like eval
[qr/^$/, qr/^$/, ::counts(1, 1), ::counts(1, 0), qr/^$/, ::counts(1, 1),
 ::counts(0, 0), qr/^$/, ::counts(1, 1),
 ::page(1, 1, ::st(4, 'false', 'false', 'false')), ::page(1, 1)]
--- no_error_log
[error]
