# set_notify_claim: a claim of the request's verified token in a variable
# (ngx_devel_kit's set_var, in the rewrite phase), empty without a valid
# token or without the claim.
#
# Every token is minted with Crypt::JWT through t/lib/NotifyTest.pm.
use lib 't/lib';
use NotifyTest;
use Test::Nginx::Socket 'no_plan';

use Cwd qw(abs_path);
use JSON::PP ();

$ENV{TEST_NGINX_DATA_DIR} ||= abs_path('t/data');

# token() signs with rsa1 of t/data/jwt/ and its claims have a sub, a tid
# and no nbf; conf() is only the JWT part (no store, no directory)
NotifyTest::setup(key => 'rsa1',
                  claims => {sub => 'subject-1', tid => 'tenant-1'},
                  store => '', directory => '',
                  keys => '$TEST_NGINX_DATA_DIR/jwt/jwks.json');

# the blocks without an http_config of their own get this one
add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config && !defined $block->http_config) {
        $block->set_value(http_config => conf());
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a string claim, as it is (no JSON quoting or escaping)
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        set_notify_claim $caller_name name;
        return 200 "tid=$caller_tid name=$caller_name\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(name => 'Zoe "Z" O\'Neil \\ x'))
--- response_body
tid=tenant-1 name=Zoe "Z" O'Neil \ x
--- no_error_log
[error]
notify: invalid token



=== TEST 2: numbers and booleans: their JSON text
--- config
    location = /t {
        set_notify_claim $level level;
        set_notify_claim $ratio ratio;
        set_notify_claim $admin admin;
        set_notify_claim $guest guest;
        return 200 "level=$level ratio=$ratio admin=$admin guest=$guest\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(level => 42, ratio => 0.5, admin => JSON::PP::true,
                 guest => JSON::PP::false))
--- response_body
level=42 ratio=0.5 admin=true guest=false
--- no_error_log
[error]



=== TEST 3: arrays and objects: compact JSON
--- config
    location = /t {
        set_notify_claim $roles roles;
        set_notify_claim $realm realm_access;
        return 200 "roles=$roles realm=$realm\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(roles => ['Notify.Send', 'Feed.Read'],
                 realm_access => {roles => ['admin']}))
--- response_body
roles=["Notify.Send","Feed.Read"] realm={"roles":["admin"]}
--- no_error_log
[error]



=== TEST 4: a missing claim, or a null one: empty
--- config
    location = /t {
        set_notify_claim $missing no_such_claim;
        set_notify_claim $nothing nothing;
        return 200 "missing=[$missing] nothing=[$nothing]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(payload => {%{ NotifyTest::claims() }, nothing => undef}))
--- response_body
missing=[] nothing=[]
--- no_error_log
[error]
notify: invalid token



=== TEST 5: bound: a value longer than the token (reals at full precision) is empty
--- config
    location = /t {
        set_notify_claim $reals reals;
        set_notify_claim $real real;
        return 200 "reals=[$reals] real=[$real]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(reals => [(1e300) x 200], real => 1e300))
--- response_body
reals=[] real=[1.0000000000000001e300]
--- no_error_log
[error]



=== TEST 6: no token: empty, nothing logged
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 200 "tid=[$caller_tid]\n";
    }
--- request
GET /t
--- response_body
tid=[]
--- no_error_log
[error]
notify: invalid token



=== TEST 7: an expired token: empty
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 200 "tid=[$caller_tid]\n";
    }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 3600, iat => time - 7200)) }
--- response_body
tid=[]
--- error_log
notify: invalid token: token expired
--- no_error_log
[error]



=== TEST 8: a bad signature (rsa2's token with rsa1's kid): empty
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 200 "tid=[$caller_tid]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa2', kid => 'rsa1', tid => 'forged'))
--- response_body
tid=[]
--- error_log
notify: invalid token: bad signature
--- no_error_log
[error]



=== TEST 9: a token of another issuer: empty
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 200 "tid=[$caller_tid]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(iss => 'https://login.example.net/other/v2.0'))
--- response_body
tid=[]
--- error_log
notify: invalid token: wrong issuer
--- no_error_log
[error]



=== TEST 10: keep-alive, pipelined: each request its own value
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 200 "tid=[$caller_tid]\n";
    }
    location = /unset {
        return 200 "tid=[$caller_tid]\n";
    }
--- pipelined_requests eval
["GET /t", "GET /t", "GET /unset", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(tid => 'tenant-a')),
 "",
 ::bearer(::token(tid => 'tenant-b')),
 ::bearer(::token(tid => 'tenant-c')),
 ::bearer(::token(key => 'rsa2', kid => 'rsa1', tid => 'forged'))]
--- response_body eval
["tid=[tenant-a]\n", "tid=[]\n", "tid=[]\n", "tid=[tenant-c]\n", "tid=[]\n"]
--- no_error_log
[error]



=== TEST 11: in server{}, "if" and map, in order with "set"
--- http_config eval
::conf() . <<'CONF';
    map $caller_tid $tenant_upstream {
        tenant-1   one;
        default    other;
    }
CONF
--- config
    set_notify_claim $caller_tid tid;

    location = /t {
        set $seen "tid:$caller_tid";
        if ($arg_app) {
            set_notify_claim $caller_app azp;
        }
        return 200 "$seen upstream=$tenant_upstream app=[$caller_app]\n";
    }
--- request eval
["GET /t", "GET /t?app=1", "GET /t"]
--- more_headers eval
[::bearer(::token(azp => 'app-1')),
 ::bearer(::token(azp => 'app-1')),
 ::bearer(::token(tid => 'tenant-2', azp => 'app-2'))]
--- response_body eval
["tid:tenant-1 upstream=one app=[]\n",
 "tid:tenant-1 upstream=one app=[app-1]\n",
 "tid:tenant-2 upstream=other app=[]\n"]
--- no_error_log
[error]



=== TEST 12: the token cache: a second verification of the token is a hit
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        auth_request /auth;
        add_header X-Tid $caller_tid;
        add_header X-Caller $notify_caller;
        empty_gif;
    }
    location = /auth {
        internal;
        set_notify_claim $sub_tid tid;
        return 204;
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(tid => 'tenant-9', upn => 'cached@example.org'))
--- response_headers
X-Tid: tenant-9
X-Caller: cached@example.org
--- grep_error_log eval
qr/notify: jwt cache \w+/
--- grep_error_log_out
notify: jwt cache store
notify: jwt cache hit
--- no_error_log
[error]
notify: invalid token



=== TEST 13: config: set_notify_claim without notify_jwt_keys
--- http_config
    notify_jwt_issuer https://login.example.org/tenant/v2.0;
--- config
    location = /t {
        set_notify_claim $caller_tid tid;
        return 204;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"set_notify_claim" needs "notify_jwt_keys" at http level in \S+nginx\.conf:\d+/



=== TEST 14: config: one argument
--- config
    location = /t {
        set_notify_claim $caller_tid;
        return 204;
    }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "set_notify_claim" directive



=== TEST 15: config: a variable without "$"
--- config
    location = /t {
        set_notify_claim caller_tid tid;
        return 204;
    }
--- must_die
--- error_log
[emerg]
invalid variable name "caller_tid"



=== TEST 16: config: an empty claim name
--- config
    location = /t {
        set_notify_claim $caller_tid "";
        return 204;
    }
--- must_die
--- error_log
[emerg]
"set_notify_claim" directive takes an empty claim name



=== TEST 17: config: a variable of the module's own cannot be set
--- config
    location = /t {
        set_notify_claim $notify_caller tid;
        return 204;
    }
--- must_die
--- error_log
[emerg]
the duplicate "notify_caller" variable



=== TEST 18: config: not in http{}
--- http_config eval
::conf() . "    set_notify_claim \$caller_tid tid;\n"
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
"set_notify_claim" directive is not allowed here
