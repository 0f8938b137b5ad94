# The push dialect, receiving side: notify_inbound push and its contract
# {"Success": ..., "Code": "<n>", "Message": "..."} for every answer.
use lib 't/lib';
use NotifyTest;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Token = NotifyTest::token(azp => 'so-sender');
our $Raw = "Authorization: $Token\n";
our $Hdr = "User-Agent: DataNotifier\nContent-Type: application/json\n" . $Raw;
our $Ok = '{"Success":true,"Code":"0","Message":"OK"}';

our %User = (
    ada => NotifyTest::bearer(NotifyTest::user_token('u-ada', 'ada@example.org')),
    bob => NotifyTest::bearer(NotifyTest::user_token('u-bob', 'bob@example.org')),
    dave => NotifyTest::bearer(NotifyTest::user_token('u-dave', 'dave@example.org')),
);

# the contract's error body, exactly
sub err {
    my ($code, $message) = @_;
    return qr/^\Q{"Success":false,"Code":"$code","Message":"$message"}\E$/;
}

# a feed item of a push, as a regex; $work is the work item's JSON
sub item {
    my ($id, $event, $title, $type, $wtype, $work, %o) = @_;
    my $url = defined $o{url} ? qq("$o{url}") : 'null';
    my $comment = defined $o{comment} ? qq("$o{comment}") : 'null';
    my $wt = defined $wtype ? qq("$wtype") : 'null';
    my $read = $o{read} // 'false';
    my $re = quotemeta(qq({"id":"$id","dialect":"push","event":"$event",)
                       . qq("title":"$title","url":$url,"comment":$comment,)
                       . qq("notified":null,"created":"CREATED","type":"$type",)
                       . qq("workItemType":$wt,"workItem":$work,"read":$read}));
    $re =~ s/CREATED/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ/;
    return $re;
}

sub id { sprintf "%016x", shift }

# the Type values: [Type as sent, event, label]
our @Types = (['0', 'workitem.created', 'Created'],
              ['-1', 'workitem.cancelled', 'Cancelled'],
              ['5', 'workitem.status_changed', 'Status changed'],
              ['6', 'workitem.reminder', 'Reminder'],
              ['7', 'workitem.confirmed', 'Confirmed'],
              ['8', 'workitem.changed', 'Changed'],
              ['9', 'workitem.rebooked', 'Rebooked'],
              ['2', 'workitem.rebooked', 'Rebooked'],
              ['3', 'workitem.type.3', 'Updated']);

sub typed { my $t = shift; qq(POST /push\n{"Type": "$t->[0]", "WorkItemType": "1", "WorkItem": {"Id": "J-$t->[0]"}}) }

no_shuffle();
no_long_string();
NotifyTest::body_relations();
run_tests();

__DATA__

=== TEST 1: a push with a raw Authorization header
--- http_config eval: ::conf('t1')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
POST /push
{"Type": "0", "WorkItemType": "1", "WorkItem": {"Id": "J-1", "WorkStatus": "Open"}}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body eval: $::Ok
--- error_log
notify: stored notification 0000000000000001 for 1 recipients
--- no_error_log
[error]



=== TEST 2: a push with "Bearer", and without User-Agent or Content-Type
--- http_config eval: ::conf('t2')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval
["Content-Type: application/json; charset=utf-8\n" . NotifyTest::bearer($::Token),
 $::Raw]
--- request eval
["POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-2\"}}"]
--- error_code eval: [200, 200]
--- response_body eval: [$::Ok, $::Ok]
--- no_error_log
[error]



=== TEST 3: what the feed shows: unquoted numbers are normalized, sender and tenant hidden
--- http_config eval: ::conf('t3')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval: [$::Hdr, $::Hdr, $::User{ada}]
--- request eval
["POST /push\n{\"Type\": 0, \"WorkItemType\": 1, \"WorkItem\": {\"Id\": 17, \"WorkStatus\": \"Open\"}}",
 "POST /push\n{\"Type\": -1, \"WorkItem\": {\"Id\": \"J-2\", \"Extra\": [1, {\"a\": null}]}, \"Unknown\": true}",
 "GET /activities"]
--- error_code eval: [200, 200, 200]
--- response_body_like eval
[qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/,
 qr/^\{"items":\[${\ ::item(::id(2), 'workitem.cancelled', 'Cancelled: work item J-2', '-1', undef, '{"Id":"J-2","Extra":[1,{"a":null}]}')},${\ ::item(::id(1), 'workitem.created', 'Created: work item 17 (Open)', '0', '1', '{"Id":17,"WorkStatus":"Open"}')}\],"next":null,"unread":2\}$/]
--- no_error_log
[error]



=== TEST 4: every Type value, and its event in the feed
--- http_config eval: ::conf('t4')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval: [(map { $::Hdr } @::Types), $::User{ada}]
--- request eval: [(map { ::typed($_) } @::Types), 'GET /activities?limit=100']
--- error_code eval: [(map { 200 } @::Types), 200]
--- response_body_like eval
my $n = @::Types;
my @items = map { ::item(::id($n - $_), $::Types[$n - 1 - $_][1], "$::Types[$n - 1 - $_][2]: work item J-$::Types[$n - 1 - $_][0]", $::Types[$n - 1 - $_][0], '1', qq({"Id":"J-$::Types[$n - 1 - $_][0]"})) } 0 .. $n - 1;
my $all = CORE::join(',', @items);
[(map { qr/^\Q$::Ok\E$/ } @::Types), qr/^\{"items":\[$all\],"next":null,"unread":$n\}$/]
--- no_error_log
[error]



=== TEST 5: Url and Comment, when the push has them
--- http_config eval: ::conf('t5')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval: [$::Hdr, $::Hdr, $::Hdr, $::User{ada}]
--- request eval
["POST /push\n{\"Type\": \"5\", \"WorkItem\": {\"Id\": \"J-1\"}, \"Url\": \"https://so.example.org/jobs/J-1\", \"Comment\": \"on site\"}",
 "POST /push\n{\"Type\": \"5\", \"WorkItem\": {\"Id\": \"J-2\", \"Url\": \"http://so.example.org/jobs/J-2\"}}",
 "POST /push\n{\"Type\": \"5\", \"WorkItem\": {\"Id\": \"J-3\"}, \"Url\": \"ftp://so.example.org/\", \"Comment\": 5}",
 "GET /activities"]
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
my @i = (::item(::id(3), 'workitem.status_changed', 'Status changed: work item J-3', '5', undef, '{"Id":"J-3"}'),
         ::item(::id(2), 'workitem.status_changed', 'Status changed: work item J-2', '5', undef,
                '{"Id":"J-2","Url":"http://so.example.org/jobs/J-2"}', url => 'http://so.example.org/jobs/J-2'),
         ::item(::id(1), 'workitem.status_changed', 'Status changed: work item J-1', '5', undef, '{"Id":"J-1"}',
                url => 'https://so.example.org/jobs/J-1', comment => 'on site'));
[qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/,
 qr/^\{"items":\[$i[0],$i[1],$i[2]\],"next":null,"unread":3\}$/]
--- no_error_log
[error]



=== TEST 6: no token, a bad token, an expired token: 401, code 1
--- http_config eval: ::conf('t6')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval
["User-Agent: DataNotifier\nContent-Type: application/json\n",
 "Content-Type: application/json\nAuthorization: abc.def.ghi\n",
 "Content-Type: application/json\nAuthorization: " . NotifyTest::token(azp => 'so-sender', exp => time - 3600, nbf => time - 7200) . "\n",
 "Content-Type: application/json\nAuthorization: Basic dXNlcjpwYXNz\n"]
--- request eval
[("POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}") x 4]
--- error_code eval: [401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json\nWWW-Authenticate: Bearer error=\"invalid_token\"") x 4]
--- response_body_like eval
[::err(1, 'No token: send \"Authorization: <JWT>\".'), ::err(1, 'The token is not valid.'),
 ::err(1, 'The token has expired or is not valid yet.'), ::err(1, 'The token is not valid.')]
--- no_error_log
[error]



=== TEST 7: notify_require_role: a token without the role gets 403, code 2
--- http_config eval: ::conf('t7')
--- config
    location = /push { notify_require_role Push.Send; notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval
[$::Hdr, "Content-Type: application/json\nAuthorization: " . NotifyTest::token(azp => 'so', roles => ['Push.Send']) . "\n"]
--- request eval
[("POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}") x 2]
--- error_code eval: [403, 200]
--- response_body_like eval
[::err(2, 'The caller does not hold a required role.'), qr/^\Q$::Ok\E$/]
--- no_error_log
[error]



=== TEST 8: only POST: 405 with Allow, code 3
--- http_config eval: ::conf('t8')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
GET /push
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body_like eval
::err(3, 'The method GET is not allowed.')
--- no_error_log
[error]



=== TEST 9: a PUT with a body: 405 too
--- http_config eval: ::conf('t8')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
PUT /push
{"Type": "0", "WorkItem": {"Id": "J-1"}}
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like eval
::err(3, 'The method PUT is not allowed.')
--- no_error_log
[error]



=== TEST 10: a body over notify_max_body: 413, code 4, also chunked
--- http_config eval: ::conf('t9')
--- config
    location = /push { notify_max_body 1k; notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: [$::Hdr, $::Hdr . "Transfer-Encoding: chunked\n"]
--- request eval
my $b = "{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\", \"Notes\": \"" . ("x" x 2000) . "\"}}";
["POST /push\n$b", "POST /push\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($b), $b)]
--- error_code eval: [413, 413]
--- response_body_like eval
[::err(4, 'The request body is larger than 1024 bytes.'), ::err(4, 'The request body is larger than 1024 bytes.')]
--- no_error_log
[error]



=== TEST 11: not JSON, not an object, empty, a Content-Type that is not JSON: 400, code 5
--- http_config eval: ::conf('t10')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval
[$::Hdr, $::Hdr, $::Hdr, $::Hdr, "Content-Type: text/plain\n" . $::Raw,
 "Content-Type: application/x-www-form-urlencoded\n" . $::Raw,
 "Content-Type: application/vnd.so+json\n" . $::Raw]
--- request eval
["POST /push\n{\"Type\": ", "POST /push\n[{\"Type\": \"0\"}]", "POST /push\n\"0\"", "POST /push",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\nType=0",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}"]
--- error_code eval: [400, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr/^\{"Success":false,"Code":"5","Message":"The request body is not JSON: .+ \(line 1, column \d+\)\."\}$/,
 ::err(5, 'The request body must be a JSON object.'),
 ::err(5, 'The request body must be a JSON object.'),
 ::err(5, 'The request body is empty; send a JSON object.'),
 ::err(5, 'The Content-Type \"text/plain\" is not JSON; send application/json.'),
 ::err(5, 'The Content-Type \"application/x-www-form-urlencoded\" is not JSON; send application/json.'),
 qr/^\Q$::Ok\E$/]
--- no_error_log
[error]



=== TEST 12: a missing field: 400, code 6
--- http_config eval: ::conf('t11')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: [($::Hdr) x 6]
--- request eval
["POST /push\n{\"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": null, \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"0\"}",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"WorkStatus\": \"Open\"}}",
 "POST /push\n{}"]
--- error_code eval: [400, 400, 400, 400, 400, 400]
--- response_body_like eval
[::err(6, 'The Type field is required.'), ::err(6, 'The Type field is required.'),
 ::err(6, 'The Type field is required.'), ::err(6, 'The WorkItem field is required.'),
 ::err(6, 'The WorkItem.Id field is required.'),
 ::err(6, 'The Type field is required. The WorkItem field is required.')]
--- no_error_log
[error]



=== TEST 13: a field of the wrong type: 400, code 7; every problem in the message
--- http_config eval: ::conf('t12')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: [($::Hdr) x 9]
--- request eval
["POST /push\n{\"Type\": \"create\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": 1.5, \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": true, \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"1234567890\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"0\", \"WorkItemType\": \"job\", \"WorkItem\": {\"Id\": \"J-1\"}}",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": \"J-1\"}",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": [1]}}",
 "POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": 1.5}}",
 "POST /push\n{\"Type\": \"x\", \"WorkItemType\": {}}"]
--- error_code eval: [400, 400, 400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[::err(7, 'The Type field must be a whole number, quoted or not.'),
 ::err(7, 'The Type field must be a whole number, quoted or not.'),
 ::err(7, 'The Type field must be a whole number, quoted or not.'),
 ::err(7, 'The Type field must be a whole number, quoted or not.'),
 ::err(7, 'The WorkItemType field must be a whole number, quoted or not.'),
 ::err(7, 'The WorkItem field must be an object.'),
 ::err(7, 'The WorkItem.Id field must be a string or a whole number.'),
 ::err(7, 'The WorkItem.Id field must be a string or a whole number.'),
 ::err(7, 'The Type field must be a whole number, quoted or not. The WorkItemType field must be a whole number, quoted or not. The WorkItem field is required.')]
--- no_error_log
[error]



=== TEST 14: the identical push again: acknowledged again, stored once
--- http_config eval: ::conf('t13')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval: [$::Hdr, $::Hdr, $::Hdr, $::Hdr, $::Hdr, $::User{ada}]
--- request eval
["POST /push\n{\"Type\": \"0\", \"WorkItemType\": \"1\", \"WorkItem\": {\"Id\": \"J-1\", \"WorkStatus\": \"Open\"}}",
 "POST /push\n{\"WorkItem\": {\"WorkStatus\": \"Open\", \"Id\": \"J-1\"}, \"Type\": 0, \"WorkItemType\": \"1\"}",
 "POST /push\n{\"Type\": \"0\", \"WorkItemType\": \"1\", \"WorkItem\": {\"Id\": \"J-1\", \"WorkStatus\": \"Dispatched\"}}",
 "POST /push\n{\"Type\": \"8\", \"WorkItemType\": \"1\", \"WorkItem\": {\"Id\": \"J-1\", \"WorkStatus\": \"Open\"}}",
 "POST /push\n{\"Type\": \"0\", \"WorkItemType\": \"1\", \"WorkItem\": {\"Id\": \"J-1\", \"WorkStatus\": \"Open\"}}",
 "GET /activities"]
--- error_code eval: [200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/, qr/^\Q$::Ok\E$/,
 qr/^\{"items":\[\{"id":"0000000000000003","dialect":"push","event":"workitem.changed",[^\]]*\},\{"id":"0000000000000002","dialect":"push","event":"workitem.created","title":"Created: work item J-1 \(Dispatched\)"[^\]]*\},\{"id":"0000000000000001","dialect":"push","event":"workitem.created","title":"Created: work item J-1 \(Open\)"[^\]]*\}\],"next":null,"unread":3\}$/]
--- body_same eval
[undef, 0, undef, undef, 0]
--- no_error_log
[error]



=== TEST 15: a replay is logged as such (the same store as TEST 14)
--- http_config eval: ::conf('t13')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
POST /push
{"Type": "0", "WorkItemType": "1", "WorkItem": {"Id": "J-1", "WorkStatus": "Open"}}
--- error_code: 200
--- response_body eval: $::Ok
--- error_log
notify: idempotent replay, nothing stored
--- no_error_log
[error]
notify: stored notification



=== TEST 16: recipients from groups: active members, each once; server-level directive
--- http_config eval: ::conf('t15')
--- config
    notify_push_recipients devs@example.org u-ada gone@example.org;
    location = /push { notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval: [$::Hdr, $::User{ada}, $::User{bob}, $::User{dave}]
--- request eval
["POST /push\n{\"Type\": \"7\", \"WorkItem\": {\"Id\": \"J-7\"}}",
 "GET /activities/count", "GET /activities", "GET /activities/count"]
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval
[qr/^\Q$::Ok\E$/, qr/^\{"unread":1\}$/,
 qr/^\{"items":\[${\ ::item(::id(1), 'workitem.confirmed', 'Confirmed: work item J-7', '7', undef, '{"Id":"J-7"}')}\],"next":null,"unread":1\}$/,
 qr/^\{"unread":0\}$/]
--- no_error_log
[error]



=== TEST 17: the group count in the log
--- http_config eval: ::conf('t16')
--- config
    location = /push { notify_push_recipients g-devs bob@EXAMPLE.org; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
POST /push
{"Type": "6", "WorkItem": {"Id": "J-6"}}
--- error_code: 200
--- error_log
for 2 recipients
--- no_error_log
[error]



=== TEST 18: nobody active among the recipients: 503, code 8, and the log says so
--- http_config eval: ::conf('t17')
--- config
    location = /push { notify_push_recipients u-carol gone@example.org; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request
POST /push
{"Type": "0", "WorkItem": {"Id": "J-1"}}
--- error_code: 503
--- response_body_like eval
::err(8, 'None of the recipients configured for this endpoint is an active user.')
--- error_log
notify: None of the recipients configured for this endpoint is an active user.



=== TEST 19: a full store: 503, code 9, and the log says why
--- skip_eval: 4: NotifyTest::lmdb_only()
--- http_config eval: ::conf('small max_size=64k')
--- config
    location = /push { notify_max_body 256k; notify_push_recipients u-ada; notify_inbound push; }
--- more_headers eval: $::Hdr
--- request eval
"POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\", \"Notes\": \"" . ("z" x 100000) . "\"}}"
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like eval
::err(9, 'The notification could not be stored.')
--- error_log
notify: store write failed: MDB_MAP_FULL



=== TEST 20: notify_inbound push needs notify_push_recipients
--- http_config eval: ::conf('t19')
--- config
    location = /push { notify_inbound push; }
--- must_die
--- error_log
"notify_inbound push" needs "notify_push_recipients"



=== TEST 21: every recipient must be in the directory
--- http_config eval: ::conf('t20')
--- config
    location = /push { notify_push_recipients u-ada nobody@example.org; notify_inbound push; }
--- must_die
--- error_log
"notify_push_recipients": "nobody@example.org" is no user or group of the directory



=== TEST 22: notify_push_recipients twice in one place is an error
--- http_config eval: ::conf('t21')
--- config
    location = /push { notify_push_recipients u-ada; notify_push_recipients u-bob; notify_inbound push; }
--- must_die
--- error_log
"notify_push_recipients" directive is duplicate



=== TEST 23: a push token without azp or appid, only client_id (RFC 9068): the sender is the client_id
--- http_config eval: ::conf('sender-client_id', $NotifyTest::PushHttp)
--- config eval: "    location = /push { notify_push_recipients u-ada; notify_inbound push; }\n" . $NotifyTest::PushServer
--- more_headers eval: "Content-Type: application/json\nAuthorization: " . NotifyTest::token(@{$NotifyTest::Senders{client_id}[0]}) . "\n"
--- request eval: "POST /push\n" . '{"Type": "0", "WorkItem": {"Id": "J-1"}}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{client_id}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory



=== TEST 24: a push token without azp or appid, only sub: the sender is the sub
--- http_config eval: ::conf('sender-sub', $NotifyTest::PushHttp)
--- config eval: "    location = /push { notify_push_recipients u-ada; notify_inbound push; }\n" . $NotifyTest::PushServer
--- more_headers eval: "Content-Type: application/json\nAuthorization: " . NotifyTest::token(@{$NotifyTest::Senders{sub}[0]}) . "\n"
--- request eval: "POST /push\n" . '{"Type": "0", "WorkItem": {"Id": "J-1"}}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{sub}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory



=== TEST 25: a push token without azp or appid, neither azp, appid, client_id nor sub: the sender is null
--- http_config eval: ::conf('sender-none', $NotifyTest::PushHttp)
--- config eval: "    location = /push { notify_push_recipients u-ada; notify_inbound push; }\n" . $NotifyTest::PushServer
--- more_headers eval: "Content-Type: application/json\nAuthorization: " . NotifyTest::token(@{$NotifyTest::Senders{none}[0]}) . "\n"
--- request eval: "POST /push\n" . '{"Type": "0", "WorkItem": {"Id": "J-1"}}'
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{none}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- no_error_log
[error]
out of memory



=== TEST 26: idempotency is per caller: senders known only by their sub, or by their tenant, are not each other
--- http_config eval: ::conf('idem-identity')
--- config
    location = /push { notify_push_recipients u-ada; notify_inbound push; }
    location /activities { notify_feed; }
--- more_headers eval
[map({ "Content-Type: application/json\nAuthorization: " . NotifyTest::token(@$_) . "\n" }
     [sub => 'sender-a'], [sub => 'sender-b'], [sub => 'sender-a'],
     [sub => 'sender-a', tid => 'tenant-2']),
 $::User{ada}]
--- request eval
[("POST /push\n{\"Type\": \"0\", \"WorkItem\": {\"Id\": \"J-1\"}}") x 4, "GET /activities/count"]
--- error_code eval: [200, 200, 200, 200, 200]
--- response_body eval: [($::Ok) x 4, '{"unread":3}']
--- no_error_log
[error]



=== TEST 27: notify_tenant $notify_caller_tenant: the token's tid, whatever the Host header says, picks the tenant and its flags
--- http_config eval
::conf('tenant-tid', $NotifyTest::PushHttp
                     . "    notify_push_type workitem.created off tenant=evil.example.org;\n")
--- config eval
"    notify_tenant \$notify_caller_tenant;\n"
. "    location = /push { notify_push_recipients u-ada; notify_inbound push; }\n"
. $NotifyTest::PushServer
--- more_headers eval: $::Hdr . "Host: evil.example.org\n"
--- request
POST /push
{"Type": "0", "WorkItem": {"Id": "J-1"}}
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender('so-sender', 'tenant-1')
--- tcp_query_auto_timeout: 0.1
--- error_code: 200
--- response_body eval: $::Ok
--- no_error_log
[error]

