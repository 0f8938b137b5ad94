# notify_directory: loading and checking the directory file at configuration
# time.  The look-ups themselves are tested through the endpoints that use
# them (recipients, groups, teams, channels, chats).
use Test::Nginx::Socket 'no_plan';

# A block with "--- emerg MESSAGE" expects nginx to refuse the configuration
# with exactly this line in the error log:
#
#   [emerg] PID#TID: notify_directory "FILE": MESSAGE in CONF:LINE
#
# FILE is "--- dir_file" (default: the servroot's html/dir.json, which
# "--- user_files" writes); the directive and a location are added when the
# block has no http_config or config of its own.
add_block_preprocessor(sub {
    my $block = shift;
    my $emerg = $block->emerg;

    # nginx also prints its [emerg] on stderr: keep prove's output readable
    $block->set_value(suppress_stderr => 1) if defined $block->must_die;

    return unless defined $emerg;

    chomp $emerg;
    my $file = $block->dir_file;
    if (defined $file) {
        chomp $file;
    } else {
        $file = "$ENV{TEST_NGINX_SERVER_ROOT}/html/dir.json";
    }

    $block->set_value(http_config => "    notify_directory $file;\n")
        unless defined $block->http_config;
    $block->set_value(config => "    location = /t { return 204; }\n")
        unless defined $block->config;
    $block->set_value(error_log => [
        qr/\[emerg\] \d+#\d+: notify_directory "\Q$file\E": \Q$emerg\E in \S+nginx\.conf:\d+$/
    ]);
});

# 100 000 users, a group and a team of 10 000 members each (listed by UPN in
# another case, and by id), a channel of its own and one that inherits the
# team's members, a chat: the size the directory must stay fast at.
sub big_directory {
    my ($users, $members) = (100_000, 10_000);
    my (@u, @by_upn, @by_id);

    for my $i (1 .. $users) {
        push @u, sprintf '{"id":"%08x-5a5a-4c6b-9a55-%012d","upn":"user%d@example.org",'
                         . '"displayName":"User %d","preferredLanguage":"%s","active":%s}',
                         $i, $i, $i, $i, $i % 3 ? 'en' : 'de',
                         $i % 10 ? 'true' : 'false';
    }

    for my $k (1 .. $members) {
        my $i = ($k * 7919) % $users + 1;
        push @by_upn, qq{"User$i\@Example.ORG"};
        push @by_id, sprintf '"%08x-5a5a-4c6b-9a55-%012d"', $i, $i;
    }

    my $by_upn = join ',', @by_upn;
    my $by_id = join ',', @by_id;

    return join '',
        '{"users":[', "\n", join(",\n", @u), "\n],\n",
        '"groups":[{"id":"all","upn":"all@example.org","members":[',
        "$by_upn,$by_id]}],\n",
        '"teams":[{"id":"t1","members":[', $by_id, '],"channels":[',
        '{"id":"general"},{"id":"private","members":[', $by_upn, ']}]}],', "\n",
        '"chats":[{"id":"c1","members":[', $by_id, ']}]}', "\n";
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the directory loads, and its size is logged
--- http_config
    notify_directory $TEST_NGINX_DATA_DIR/directory/valid.json;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- error_log
directory/valid.json": 5 users, 3 groups, 2 teams, 1 chats
--- no_error_log
[error]
[emerg]



=== TEST 2: an empty directory loads
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{}
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[notice\] \d+#\d+: notify: directory "\Q$ENV{TEST_NGINX_SERVER_ROOT}\E\/html\/dir\.json": 0 users, 0 groups, 0 teams, 0 chats$/
--- no_error_log
[error]
[emerg]



=== TEST 3: null sections are empty ones, unknown keys are ignored
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": null, "groups": null, "teams": null, "chats": null,
 "version": 3, "sites": [{"id": "s1"}]}
--- request
GET /t
--- response_body
ok
--- error_log
html/dir.json": 0 users, 0 groups, 0 teams, 0 chats
--- no_error_log
[error]
[emerg]



=== TEST 4: unknown keys in entries are ignored, optional ones may be null
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "mail": "a@example.org",
            "displayName": null, "preferredLanguage": null, "active": null}],
 "groups": [{"id": "g1", "upn": null, "displayName": null, "members": null,
             "mailEnabled": true}],
 "teams": [{"id": "t1", "members": null, "channels": null, "visibility": "private"},
           {"id": "t2", "channels": [{"id": "c1", "members": null, "x": 1}]}],
 "chats": [{"id": "c1", "members": null, "topic": "lunch"}]}
--- request
GET /t
--- response_body
ok
--- error_log
html/dir.json": 1 users, 1 groups, 2 teams, 1 chats
--- no_error_log
[error]
[emerg]



=== TEST 5: a relative name is relative to the configuration's folder
--- http_config
    notify_directory ../html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}]}
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/notify: directory "\Q$ENV{TEST_NGINX_SERVER_ROOT}\E\/conf\/\.\.\/html\/dir\.json": 1 users, 0 groups, 0 teams, 0 chats$/
--- no_error_log
[error]
[emerg]



=== TEST 6: groups and users are separate namespaces, and so are the channels of two teams
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": [{"id": "same", "upn": "same@example.org"}],
 "groups": [{"id": "same", "upn": "SAME@example.org", "members": ["same"]}],
 "teams": [{"id": "same", "channels": [{"id": "general"}]},
           {"id": "t2", "channels": [{"id": "general"}, {"id": "same"}]}],
 "chats": [{"id": "same", "members": ["same@example.org"]}]}
--- request
GET /t
--- response_body
ok
--- error_log
html/dir.json": 1 users, 1 groups, 2 teams, 1 chats
--- no_error_log
[error]
[emerg]



=== TEST 7: a member listed twice, by id and by UPN in another case, is accepted
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "ada@example.org"},
           {"id": "u2", "upn": "bob@example.org", "active": false}],
 "groups": [{"id": "g1", "members": ["u1", "ADA@example.org", "u1", "u2", "bob@EXAMPLE.org"]}]}
--- request
GET /t
--- response_body
ok
--- error_log
html/dir.json": 2 users, 1 groups, 0 teams, 0 chats
--- no_error_log
[error]
[emerg]



=== TEST 8: 100 000 users and groups of 10 000 members load
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/big.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files eval
[["big.json", main::big_directory()]]
--- request
GET /t
--- response_body
ok
--- error_log
html/big.json": 100000 users, 1 groups, 1 teams, 1 chats
--- no_error_log
[error]
[emerg]



=== TEST 9: must die: the file does not exist
--- emerg
open() failed (2: No such file or directory)
--- must_die



=== TEST 10: must die: a relative name that does not exist names the full path
--- dir_file eval
"$ENV{TEST_NGINX_SERVER_ROOT}/conf/nope.json"
--- http_config
    notify_directory nope.json;
--- must_die
--- emerg
open() failed (2: No such file or directory)



=== TEST 11: must die: the file is a folder
--- dir_file eval
"$ENV{TEST_NGINX_SERVER_ROOT}/html"
--- must_die
--- emerg
not a regular file



=== TEST 12: must die: an empty file
--- user_files eval
[["dir.json", ""]]
--- must_die
--- emerg
line 1, column 0: '[' or '{' expected near end of file



=== TEST 13: must die: broken JSON names the line and column
--- user_files
>>> dir.json
{
  "users": [
    {"id": "u1", "upn": "a@example.org"},
  ]
}
--- must_die
--- emerg
line 4, column 3: unexpected token near ']'



=== TEST 14: must die: a truncated file
--- user_files
>>> dir.json
{"users": [
  {"id": "u1", "upn": "a@example.org"}
--- must_die
--- emerg
line 3, column 0: ']' expected near end of file



=== TEST 15: must die: text after the object
--- user_files
>>> dir.json
{"users": []}
{"groups": []}
--- must_die
--- emerg
line 2, column 1: end of file expected near '{'



=== TEST 15a: must die: a user id longer than the store's keys take (256 bytes)
--- user_files eval
[["dir.json", '{"users": [{"id": "' . ('u' x 256) . '", "upn": "a@example.org"}, {"id": "' . ('v' x 257) . '", "upn": "b@example.org"}]}' . "\n"]]
--- must_die
--- emerg
users[1]: "id" is longer than 256 bytes



=== TEST 16: must die: invalid UTF-8
--- user_files eval
[["dir.json", qq{{"users": [{"id": "\xff", "upn": "a\@example.org"}]}\n}]]
--- must_die
--- emerg
line 1, column 19: unable to decode byte 0xff near '"'



=== TEST 17: must die: a NUL character in a string
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a\u0000@example.org"}]}
--- must_die
--- emerg
line 1, column 52: \u0000 is not allowed without JSON_ALLOW_NUL



=== TEST 18: must die: notify_directory twice
--- http_config
    notify_directory $TEST_NGINX_DATA_DIR/directory/valid.json;
    notify_directory $TEST_NGINX_DATA_DIR/directory/valid.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "notify_directory" directive is duplicate in \S+nginx\.conf:\d+$/



=== TEST 19: must die: notify_directory is for http{} only
--- config
    notify_directory $TEST_NGINX_DATA_DIR/directory/valid.json;
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "notify_directory" directive is not allowed here in \S+nginx\.conf:\d+$/



=== TEST 20: must die: an empty file name
--- http_config
    notify_directory "";
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: notify_directory: empty file name in \S+nginx\.conf:\d+$/



=== TEST 21: must die: the top level is an array
--- user_files
>>> dir.json
[{"id": "u1", "upn": "a@example.org"}]
--- must_die
--- emerg
the top level must be an object



=== TEST 22: must die: the top level is a string
--- user_files
>>> dir.json
"users"
--- must_die
--- emerg
line 1, column 7: '[' or '{' expected near '"users"'



=== TEST 23: must die: "users" is not an array
--- user_files
>>> dir.json
{"users": {"id": "u1"}}
--- must_die
--- emerg
"users" must be an array



=== TEST 24: must die: "groups" is not an array
--- user_files
>>> dir.json
{"groups": "devs"}
--- must_die
--- emerg
"groups" must be an array



=== TEST 25: must die: "teams" is not an array
--- user_files
>>> dir.json
{"teams": 1}
--- must_die
--- emerg
"teams" must be an array



=== TEST 26: must die: "chats" is not an array
--- user_files
>>> dir.json
{"chats": true}
--- must_die
--- emerg
"chats" must be an array



=== TEST 27: must die: a user is not an object
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}, "u2"]}
--- must_die
--- emerg
users[1]: must be an object



=== TEST 28: must die: a user without an id
--- user_files
>>> dir.json
{"users": [{"upn": "a@example.org"}]}
--- must_die
--- emerg
users[0]: "id" must be a non-empty string



=== TEST 29: must die: a user with an empty id
--- user_files
>>> dir.json
{"users": [{"id": "", "upn": "a@example.org"}]}
--- must_die
--- emerg
users[0]: "id" must be a non-empty string



=== TEST 30: must die: a user with a numeric id
--- user_files
>>> dir.json
{"users": [{"id": 42, "upn": "a@example.org"}]}
--- must_die
--- emerg
users[0]: "id" must be a non-empty string



=== TEST 31: must die: a user with a null id
--- user_files
>>> dir.json
{"users": [{"id": null, "upn": "a@example.org"}]}
--- must_die
--- emerg
users[0]: "id" must be a non-empty string



=== TEST 32: must die: a user without a upn
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}, {"id": "u2"}]}
--- must_die
--- emerg
users[1]: "upn" must be a non-empty string



=== TEST 33: must die: a user whose upn is not a string
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": ["a@example.org"]}]}
--- must_die
--- emerg
users[0]: "upn" must be a non-empty string



=== TEST 34: must die: a displayName that is not a string
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "displayName": 1}]}
--- must_die
--- emerg
users[0]: "displayName" must be a string



=== TEST 35: must die: a preferredLanguage that is not a string
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "preferredLanguage": {"tag": "en"}}]}
--- must_die
--- emerg
users[0]: "preferredLanguage" must be a string



=== TEST 36: must die: "active" that is not a boolean
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "active": "yes"}]}
--- must_die
--- emerg
users[0]: "active" must be true or false



=== TEST 37: must die: "active" as a number
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "active": 1}]}
--- must_die
--- emerg
users[0]: "active" must be true or false



=== TEST 38: must die: a duplicate user id
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}, {"id": "u2", "upn": "b@example.org"}, {"id": "u1", "upn": "c@example.org"}]}
--- must_die
--- emerg
users[2]: "id" "u1" is already used by users[0]



=== TEST 39: must die: user ids are case-sensitive, UPNs are not: a duplicate UPN in another case
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "ada@example.org"}, {"id": "U1", "upn": "Ada@Example.ORG"}]}
--- must_die
--- emerg
users[1]: "upn" "Ada@Example.ORG" is already used by users[0]



=== TEST 40: must die: a user id that is another user's UPN
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "ada@example.org"}, {"id": "ADA@example.org", "upn": "bob@example.org"}]}
--- must_die
--- emerg
users[1]: "id" "ADA@example.org" is the "upn" of users[0]



=== TEST 41: must die: a user id that is a later user's UPN
--- user_files
>>> dir.json
{"users": [{"id": "bob@example.org", "upn": "ada@example.org"}, {"id": "u2", "upn": "bob@example.org"}]}
--- must_die
--- emerg
users[0]: "id" "bob@example.org" is the "upn" of users[1]



=== TEST 42: must die: a key given twice in one object
--- user_files
>>> dir.json
{"users": [
  {"id": "u1", "upn": "a@example.org", "id": "u2"}
]}
--- must_die
--- emerg
line 2, column 43: duplicate object key near '"id"'



=== TEST 43: must die: a group is not an object
--- user_files
>>> dir.json
{"groups": [null]}
--- must_die
--- emerg
groups[0]: must be an object



=== TEST 44: must die: a group without an id
--- user_files
>>> dir.json
{"groups": [{"upn": "devs@example.org"}]}
--- must_die
--- emerg
groups[0]: "id" must be a non-empty string



=== TEST 45: must die: a group whose upn is not a string
--- user_files
>>> dir.json
{"groups": [{"id": "g1", "upn": 7}]}
--- must_die
--- emerg
groups[0]: "upn" must be a string



=== TEST 46: must die: a duplicate group id
--- user_files
>>> dir.json
{"groups": [{"id": "g1"}, {"id": "g1"}]}
--- must_die
--- emerg
groups[1]: "id" "g1" is already used by groups[0]



=== TEST 47: must die: a duplicate group upn, in another case
--- user_files
>>> dir.json
{"groups": [{"id": "g1", "upn": "devs@example.org"}, {"id": "g2", "upn": "DEVS@example.org"}]}
--- must_die
--- emerg
groups[1]: "upn" "DEVS@example.org" is already used by groups[0]



=== TEST 48: must die: a group id that is another group's upn
--- user_files
>>> dir.json
{"groups": [{"id": "g1", "upn": "devs@example.org"}, {"id": "devs@example.org"}]}
--- must_die
--- emerg
groups[1]: "id" "devs@example.org" is the "upn" of groups[0]



=== TEST 49: must die: "members" is not an array
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": "u1"}]}
--- must_die
--- emerg
groups[0]: "members" must be an array



=== TEST 50: must die: a member that is not a string
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": ["u1", 2]}]}
--- must_die
--- emerg
groups[0].members[1]: must be a non-empty string



=== TEST 51: must die: an empty member
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": [""]}]}
--- must_die
--- emerg
groups[0].members[0]: must be a non-empty string



=== TEST 52: must die: an unknown member id
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": ["u1", "u2"]}]}
--- must_die
--- emerg
groups[0].members[1]: unknown user "u2"



=== TEST 53: must die: an unknown member UPN
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g0"}, {"id": "g1", "members": ["A@example.org", "b@example.org"]}]}
--- must_die
--- emerg
groups[1].members[1]: unknown user "b@example.org"



=== TEST 54: must die: user ids are case-sensitive in members
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": ["U1"]}]}
--- must_die
--- emerg
groups[0].members[0]: unknown user "U1"



=== TEST 55: must die: a group is not a member
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "groups": [{"id": "g1", "members": ["u1"]}, {"id": "g2", "members": ["g1"]}]}
--- must_die
--- emerg
groups[1].members[0]: unknown user "g1"



=== TEST 56: must die: a team is not an object
--- user_files
>>> dir.json
{"teams": [[]]}
--- must_die
--- emerg
teams[0]: must be an object



=== TEST 57: must die: a team without an id
--- user_files
>>> dir.json
{"teams": [{"displayName": "Team"}]}
--- must_die
--- emerg
teams[0]: "id" must be a non-empty string



=== TEST 58: must die: a team whose displayName is not a string
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "displayName": false}]}
--- must_die
--- emerg
teams[0]: "displayName" must be a string



=== TEST 59: must die: a duplicate team id
--- user_files
>>> dir.json
{"teams": [{"id": "t1"}, {"id": "t2"}, {"id": "t2"}]}
--- must_die
--- emerg
teams[2]: "id" "t2" is already used by teams[1]



=== TEST 60: must die: an unknown team member
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "teams": [{"id": "t1", "members": ["u1", "nobody@example.org"]}]}
--- must_die
--- emerg
teams[0].members[1]: unknown user "nobody@example.org"



=== TEST 61: must die: "channels" is not an array
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "channels": {"id": "c1"}}]}
--- must_die
--- emerg
teams[0]: "channels" must be an array



=== TEST 62: must die: a channel is not an object
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "channels": ["c1"]}]}
--- must_die
--- emerg
teams[0].channels[0]: must be an object



=== TEST 63: must die: a channel without an id
--- user_files
>>> dir.json
{"teams": [{"id": "t1"}, {"id": "t2", "channels": [{"id": "c1"}, {"displayName": "General"}]}]}
--- must_die
--- emerg
teams[1].channels[1]: "id" must be a non-empty string



=== TEST 64: must die: a duplicate channel id within a team
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "channels": [{"id": "c1"}, {"id": "c2"}, {"id": "c1"}]}]}
--- must_die
--- emerg
teams[0].channels[2]: "id" "c1" is already used by teams[0].channels[0]



=== TEST 65: must die: an unknown channel member
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "teams": [{"id": "t1", "members": ["u1"], "channels": [{"id": "c1", "members": ["u1", "u9"]}]}]}
--- must_die
--- emerg
teams[0].channels[0].members[1]: unknown user "u9"



=== TEST 66: must die: channel members must be an array
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "channels": [{"id": "c1", "members": 3}]}]}
--- must_die
--- emerg
teams[0].channels[0]: "members" must be an array



=== TEST 67: must die: a chat is not an object
--- user_files
>>> dir.json
{"chats": ["c1"]}
--- must_die
--- emerg
chats[0]: must be an object



=== TEST 68: must die: a chat without an id
--- user_files
>>> dir.json
{"chats": [{"members": []}]}
--- must_die
--- emerg
chats[0]: "id" must be a non-empty string



=== TEST 69: must die: a duplicate chat id
--- user_files
>>> dir.json
{"chats": [{"id": "c1"}, {"id": "c1"}]}
--- must_die
--- emerg
chats[1]: "id" "c1" is already used by chats[0]



=== TEST 70: must die: an unknown chat member
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org"}], "chats": [{"id": "c1", "members": ["u1", "u1", "ghost"]}]}
--- must_die
--- emerg
chats[0].members[2]: unknown user "ghost"



=== TEST 71: the apps installed for users, in teams and in chats; null and empty lists are none
--- http_config
    notify_directory $TEST_NGINX_SERVER_ROOT/html/dir.json;
--- config
    location = /t { return 200 "ok\n"; }
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "installedApps": ["app-1", "app-2", "app-1"]},
           {"id": "u2", "upn": "b@example.org", "installedApps": null},
           {"id": "u3", "upn": "c@example.org", "installedApps": []}],
 "teams": [{"id": "t1", "members": ["u1"], "installedApps": ["app-1"]},
           {"id": "t2", "installedApps": null}],
 "chats": [{"id": "c1", "members": ["u1", "u2"], "installedApps": ["app-2"]},
           {"id": "c2", "installedApps": []}]}
--- request
GET /t
--- response_body
ok
--- error_log
html/dir.json": 3 users, 0 groups, 2 teams, 2 chats
--- no_error_log
[error]
[emerg]



=== TEST 72: must die: a user's "installedApps" is not an array
--- user_files
>>> dir.json
{"users": [{"id": "u1", "upn": "a@example.org", "installedApps": "app-1"}]}
--- must_die
--- emerg
users[0]: "installedApps" must be an array



=== TEST 73: must die: a team's installed app is not a string
--- user_files
>>> dir.json
{"teams": [{"id": "t1"}, {"id": "t2", "installedApps": ["app-1", 7]}]}
--- must_die
--- emerg
teams[1].installedApps[1]: must be a non-empty string



=== TEST 74: must die: a chat's installed app is empty
--- user_files
>>> dir.json
{"chats": [{"id": "c1", "installedApps": [""]}]}
--- must_die
--- emerg
chats[0].installedApps[0]: must be a non-empty string



=== TEST 75: must die: a team's "installedApps" is an object
--- user_files
>>> dir.json
{"teams": [{"id": "t1", "installedApps": {"app-1": true}}]}
--- must_die
--- emerg
teams[0]: "installedApps" must be an array
