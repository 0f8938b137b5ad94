# The Activity Center feed: list, pages, unread count, mark read, retention.
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
    dave => NotifyTest::bearer(NotifyTest::user_token('u-dave', 'dave@example.org')),
    admin => NotifyTest::bearer(NotifyTest::user_token('u-dave', 'dave@example.org',
                                                        roles => ['Feed.Admin'])),
    writer => NotifyTest::bearer(NotifyTest::user_token('u-bob', 'bob@example.org',
                                                         roles => ['Feed.Writer'])),
    stranger => NotifyTest::bearer(NotifyTest::user_token('u-stranger', 'x@elsewhere.org')),
    nobody => NotifyTest::bearer(NotifyTest::token(azp => 'app-x')),
);

# [request, headers] pairs
sub post {
    my ($title, @accounts) = @_;
    my %n = (eventId => 'e', title => $title, url => "http://x.example.org/$title",
             accounts => @accounts ? \@accounts : ['u-ada']);
    return ["POST /n\n" . encode_json(\%n), $App];
}

sub idem {
    my ($title, $unique) = @_;
    return ["POST /n\n" . encode_json({eventId => 'e', uniqueId => $unique,
            title => $title, url => 'http://x.example.org', accounts => ['u-ada']}), $App];
}

sub as { my ($who, $req) = @_; return [$req, $User{$who} // ''] }

sub reqs { return [map { $_->[0] } @_] }
sub hdrs { return [map { $_->[1] } @_] }

our @Three = (post('t1'), post('t2'), post('t3'));

sub item {
    my ($id, $title, $read) = @_;
    return qq|\\{"id":"$id","dialect":"syntphony","event":"e","title":"$title",|
         . qq|"url":"http://x\\.example\\.org/$title","comment":null,"notified":null,|
         . qq|"created":"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ","read":$read\\}|;
}

sub id { sprintf "%016x", shift }

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a user's feed, newest first, with the unread count
--- http_config eval: ::conf('t1')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(@::Three, ::as(ada => 'GET /activities'))
--- more_headers eval: ::hdrs(@::Three, ::as(ada => 'GET /activities'))
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[qr/"id":"0000000000000001"/, qr/"id":"0000000000000002"/, qr/"id":"0000000000000003"/,
 qr/^\{"items":\[${\ ::item(::id(3), 't3', 'false')},${\ ::item(::id(2), 't2', 'false')},${\ ::item(::id(1), 't1', 'false')}\],"next":null,"unread":3\}$/]
--- no_error_log
[error]



=== TEST 2: the unread count, and nobody else's feed
--- http_config eval: ::conf('t2')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(@::Three, ::as(ada => 'GET /activities/count'), ::as(bob => 'GET /activities/count'), ::as(bob => 'GET /activities'))
--- more_headers eval: ::hdrs(@::Three, ::as(ada => 'GET /activities/count'), ::as(bob => 'GET /activities/count'), ::as(bob => 'GET /activities'))
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/^\{"unread":3\}$/, qr/^\{"unread":0\}$/,
 qr/^\{"items":\[\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 3: pages with limit and cursor
--- http_config eval: ::conf('t3')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(@::Three, ::as(ada => 'GET /activities?limit=2'), ::as(ada => 'GET /activities?limit=2&cursor=0000000000000002'), ::as(ada => 'GET /activities?limit=3'))
--- more_headers eval: ::hdrs(@::Three, ::as(ada => 'GET /activities?limit=2'), ::as(ada => 'GET /activities?limit=2&cursor=0000000000000002'), ::as(ada => 'GET /activities?limit=3'))
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 qr/^\{"items":\[\{"id":"0000000000000003".*\},\{"id":"0000000000000002".*\}\],"next":"0000000000000002","unread":3\}$/,
 qr/^\{"items":\[\{"id":"0000000000000001"[^\]]*\}\],"next":null,"unread":3\}$/,
 qr/^\{"items":\[\{"id":"0000000000000003".*"id":"0000000000000001".*\],"next":null,"unread":3\}$/]
--- no_error_log
[error]



=== TEST 4: mark one read, twice; the feed shows it
--- http_config eval: ::conf('t4')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(@::Three, ::as(ada => 'POST /activities/0000000000000002/read'), ::as(ada => 'POST /activities/0000000000000002/read'), ::as(ada => 'GET /activities'))
--- more_headers eval: ::hdrs(@::Three, ::as(ada => 'POST /activities/0000000000000002/read'), ::as(ada => 'POST /activities/0000000000000002/read'), ::as(ada => 'GET /activities'))
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/^\{"unread":2\}$/, qr/^\{"unread":2\}$/,
 qr/^\{"items":\[\{"id":"0000000000000003".*"read":false\},\{"id":"0000000000000002".*"read":true\},\{"id":"0000000000000001".*"read":false\}\],"next":null,"unread":2\}$/]
--- no_error_log
[error]



=== TEST 5: mark read up to an id: a watermark, later ones stay unread
--- http_config eval: ::conf('t5')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(@::Three, ::as(ada => "POST /activities/read\n{\"until\": \"0000000000000002\"}"), ::post('t4'), ::as(ada => "POST /activities/read\n{\"until\": \"0000000000000001\"}"), ::as(ada => 'GET /activities?unread=true'), ::as(ada => 'GET /activities/count'))
--- more_headers eval: ::hdrs(@::Three, ::as(ada => ''), ::post('t4'), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/^\{"unread":1\}$/, qr/"id":"0000000000000004"/,
 qr/^\{"unread":2\}$/,
 qr/^\{"items":\[\{"id":"0000000000000004".*"read":false\},\{"id":"0000000000000003".*"read":false\}\],"next":null,"unread":2\}$/,
 qr/^\{"unread":2\}$/]
--- no_error_log
[error]



=== TEST 6: an administrator may read another user's feed, nobody else
--- http_config eval: ::conf('t6')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed_admin_role Feed.Admin; notify_feed; }
--- request eval: ::reqs(@::Three, ::as(admin => 'GET /activities?user=ada%40example.org'), ::as(dave => 'GET /activities?user=u-ada'), ::as(admin => 'GET /activities?user=nobody'))
--- more_headers eval: ::hdrs(@::Three, ::as(admin => ''), ::as(dave => ''), ::as(admin => ''))
--- error_code eval: [200, 200, 200, 200, 403, 404]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/, qr/^\{"items":\[\{"id":"0000000000000003".*"unread":3\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"Only an administrator may read another user's feed."\}\}$/,
 qr/^\{"error":\{"code":"NotFound","message":"There is no such user."\}\}$/]
--- no_error_log
[error]



=== TEST 7: ?user= without notify_feed_admin_role is refused
--- http_config eval: ::conf('t7')
--- config
    location /activities { notify_feed; }
--- request
GET /activities?user=u-ada
--- more_headers eval: $::User{admin}
--- error_code: 403
--- no_error_log
[error]



=== TEST 7a: reading another user's feed does not allow changing it: that is notify_feed_admin_write_role
--- http_config eval: ::conf('t7a')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities {
        notify_feed_admin_role Feed.Admin;
        notify_feed_admin_write_role Feed.Writer;
        notify_feed;
    }
--- request eval
::reqs(@::Three,
       ::as(admin => 'POST /activities/0000000000000001/read?user=u-ada'),
       ::as(admin => "POST /activities/read?user=u-ada\n{\"until\":\"0000000000000003\"}"),
       ::as(writer => 'GET /activities?user=u-ada'),
       ::as(writer => 'GET /activities/count?user=u-ada'),
       ::as(writer => 'POST /activities/0000000000000001/read?user=u-ada'),
       ::as(admin => 'GET /activities/count?user=u-ada'),
       ::as(writer => "POST /activities/read?user=ada%40example.org\n{\"until\":\"0000000000000003\"}"),
       ::as(ada => 'GET /activities/count'))
--- more_headers eval
::hdrs(@::Three, ::as(admin => ''), ::as(admin => ''), ::as(writer => ''), ::as(writer => ''),
       ::as(writer => ''), ::as(admin => ''), ::as(writer => ''), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 403, 403, 403, 403, 200, 200, 200, 200]
--- response_body_like eval
[qr/recipients/, qr/recipients/, qr/recipients/,
 qr/^\{"error":\{"code":"Forbidden","message":"Only an administrator may change another user's feed\."\}\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"Only an administrator may change another user's feed\."\}\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"Only an administrator may read another user's feed\."\}\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"Only an administrator may read another user's feed\."\}\}$/,
 qr/^\{"unread":2\}$/, qr/^\{"unread":2\}$/, qr/^\{"unread":0\}$/, qr/^\{"unread":0\}$/]
--- no_error_log
[error]



=== TEST 8: no token, a bad token, a token that names no user
--- http_config eval: ::conf('t8')
--- config
    location /activities { notify_feed; }
--- request eval: ["GET /activities", "GET /activities", "GET /activities", "GET /activities"]
--- more_headers eval: ["", "Authorization: Bearer abc.def.ghi\n", $::User{nobody}, $::User{stranger}]
--- error_code eval: [401, 401, 403, 200]
--- response_body_like eval
[qr/^\{"error":\{"code":"InvalidAuthenticationToken","message":"Access token is empty."\}\}$/,
 qr/^\{"error":\{"code":"InvalidAuthenticationToken","message":"Access token is not valid."\}\}$/,
 qr/^\{"error":\{"code":"Forbidden","message":"The token names no user."\}\}$/,
 qr/^\{"items":\[\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 9: bad arguments
--- http_config eval: ::conf('t9')
--- config
    location /activities { notify_feed; }
--- request eval: ["GET /activities?limit=0", "GET /activities?limit=101", "GET /activities?limit=x", "GET /activities?cursor=zz", "GET /activities?unread=maybe", "GET /activities?limit=100&unread=false"]
--- more_headers eval: $::User{ada}
--- error_code eval: [400, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr/"limit must be a number from 1 to 100."/, qr/"code":"BadRequest"/, qr/"code":"BadRequest"/,
 qr/"cursor is not a cursor this feed gave."/, qr/"unread must be true or false."/, qr/"items":\[\]/]
--- no_error_log
[error]



=== TEST 10: marking what is not there
--- http_config eval: ::conf('t10')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(::post('t1'), ::as(ada => 'POST /activities/0000000000000009/read'), ::as(ada => 'POST /activities/nonsense/read'), ::as(ada => "POST /activities/read\n{\"until\": \"0000000000000009\"}"), ::as(ada => "POST /activities/read\n{\"since\": 1}"), ::as(bob => 'POST /activities/0000000000000001/read'))
--- more_headers eval: ::hdrs(::post('t1'), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(ada => ''), ::as(bob => ''))
--- error_code eval: [200, 404, 404, 404, 400, 404]
--- response_body_like eval
[qr/recipients/, qr/"NotFound"/, qr/"NotFound"/, qr/"NotFound"/, qr/"BadRequest"/, qr/"NotFound"/]
--- no_error_log
[error]



=== TEST 11: methods and paths
--- http_config eval: ::conf('t11')
--- config
    location /activities { notify_feed; }
--- request eval: ["POST /activities", "GET /activities/read", "DELETE /activities/count", "GET /activities/a/b/c", "GET /activities/"]
--- more_headers eval: $::User{ada}
--- error_code eval: [405, 405, 405, 404, 200]
--- response_headers eval
["Allow: GET, HEAD", "Allow: POST", "Allow: GET, HEAD", "Allow:", "Allow:"]
--- no_error_log
[error]



=== TEST 12: the same uniqueId twice is one entry in the feed
--- http_config eval: ::conf('t12')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(::idem('a', 'u1'), ::idem('b', 'u1'), ::idem('c', 'u2'), ::as(ada => 'GET /activities'))
--- more_headers eval: ::hdrs(::idem('a', 'u1'), ::idem('b', 'u1'), ::idem('c', 'u2'), ::as(ada => ''))
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[qr/"id":"0000000000000001"/, qr/"id":"0000000000000001"/, qr/"id":"0000000000000002"/,
 qr/^\{"items":\[\{"id":"0000000000000002"[^\]]*"title":"c"[^\]]*\},\{"id":"0000000000000001"[^\]]*"title":"a"[^\]]*\}\],"next":null,"unread":2\}$/]
--- no_error_log
[error]



=== TEST 13: before a restart
--- http_config eval: ::conf('restart')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(::post('kept', 'u-dave'))
--- more_headers eval: ::hdrs(::post('kept', 'u-dave'))
--- error_code eval: [200]
--- no_error_log
[error]



=== TEST 14: after the restart, the feed is still there
--- http_config eval: ::conf('restart')
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request
GET /activities
--- more_headers eval: $::User{dave}
--- error_code: 200
--- response_body_like eval
qr/^\{"items":\[${\ ::item(::id(1), 'kept', 'false')}\],"next":null,"unread":1\}$/
--- no_error_log
[error]



=== TEST 15: retention removes old entries and their unread count
--- http_config eval: ::conf('t15', "    notify_feed_retention 1s;")
--- config
    location = /n { notify_inbound syntphony; }
    location /activities { notify_feed; }
--- request eval: ::reqs(::post('old'), ::as(ada => 'GET /activities'))
--- more_headers eval: ::hdrs(::post('old'), ::as(ada => ''))
--- wait: 3
--- error_code eval: [200, 200]
--- response_body_like eval
[qr/recipients/, qr/^\{"items":\[\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 16: notify_feed is not for regex locations
--- http_config eval: ::conf('t16')
--- config
    location ~ ^/act { notify_feed; }
--- must_die
--- error_log
"notify_feed" directive cannot be used in a regex location



=== TEST 16a: nor for named ones
--- http_config eval: ::conf('t16')
--- config
    location @act { notify_feed; }
--- must_die
--- error_log
"notify_feed" directive cannot be used in a named location



=== TEST 17: notify_feed needs a store
--- config
    location /activities { notify_feed; }
--- must_die
--- error_log
"notify_feed" needs "notify_store" at http level
