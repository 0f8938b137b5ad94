# Fixture for t/000-runner.t: every block here must pass.
# Not run directly by `prove t` (it lives in a subdirectory).
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

# Keep file order: TEST 20's shutdown_error_log is checked when nginx is
# stopped at the end, and a skipped block right after it would otherwise
# take its place as "the previous block".
no_shuffle();

run_tests();

__DATA__

=== TEST 1: error_code and response_body
--- config
    location = /t { return 201 "created\n"; }
--- request
GET /t
--- error_code: 201
--- response_body
created
--- no_error_log
[error]



=== TEST 2: response_body_like and response_body_unlike
--- config
    location = /t { return 200 "hello world\n"; }
--- request
GET /t
--- response_body_like: ^hello w\w+$



=== TEST 3: response headers
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
! X-Missing
Content-Type: text/plain
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- raw_response_headers_unlike: X-Missing
--- response_body
ok



=== TEST 4: response_headers_like and response_body_unlike
--- config
    location = /t {
        add_header X-Num 12345;
        return 200 "abc\n";
    }
--- request
GET /t
--- response_headers_like
X-Num: \d+
--- response_body_unlike: xyz



=== TEST 5: more_headers (and the default Host header)
--- config
    location = /t { return 200 "token=$http_x_token host=$host\n"; }
--- request
GET /t
--- more_headers
# a comment line
X-Token: abc123
--- response_body
token=abc123 host=localhost



=== TEST 6: request eval with several requests
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 202 "b\n"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 202]
--- response_body eval
["a\n", "b\n"]
--- no_error_log
[error]



=== TEST 7: pipelined_requests
--- config
    location = /a { return 200 "first\n"; }
    location = /b { return 200 "second\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["first\n", "second\n"]



=== TEST 8: raw_request
--- config
    location = /raw { return 200 "proto=$server_protocol host=$host\n"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: rawhost\r\n\r\n"
--- response_body
proto=HTTP/1.0 host=rawhost



=== TEST 9: request body gets a Content-Length (body trimmed)
--- config
    location = /len { return 200 "len=$http_content_length\n"; }
--- request
POST /len
hello world
--- response_body
len=11



=== TEST 10: request packets
--- config
    location = /len { return 200 "len=$http_content_length\n"; }
--- request eval
[["POST /len\nhel", "lo"]]
--- response_body
len=5



=== TEST 11: user_files
--- config
    location /files/ { alias $TEST_NGINX_SERVER_ROOT/html/; }
--- user_files
>>> foo.txt
hello from a user file
>>> sub/dir/bar.txt
bar
--- request
GET /files/foo.txt
--- response_body
hello from a user file



=== TEST 12: error_log, grep_error_log and wait
--- config
    location = /x { return 200; }
--- request
GET /missing.txt
--- error_code: 404
--- wait: 0.1
--- error_log
No such file or directory
--- grep_error_log eval: qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/missing.txt" failed



=== TEST 13: must_die with a broken config
--- config
    location = /t { no_such_directive_here; }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown directive "no_such_directive_here"/



=== TEST 14: tcp_listen / tcp_reply / tcp_query through proxy_pass
--- config
    location = /up {
        proxy_set_header Host upstream.test;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfrom tcp\n"
--- tcp_query eval
"GET /backend HTTP/1.0\r\nHost: upstream.test\r\nConnection: close\r\n\r\n"
--- tcp_query_len: 65
--- request
GET /up
--- response_body
from tcp



=== TEST 15: $TEST_NGINX_* expansion and $ServerPort
--- http_config
    map $uri $word { default "$TEST_NGINX_RUNNER_WORD"; }
--- config
    location = /t { return 200 "$word port=$TEST_NGINX_SERVER_PORT\n"; }
--- request
GET /t
--- response_body
$TEST_NGINX_RUNNER_WORD port=$ServerPort



=== TEST 16: SKIP drops a block that would fail
--- SKIP
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_code: 599



=== TEST 17: skip_eval reports skips instead of running
--- skip_eval: 2: 1
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_code: 599
--- response_body
nope



=== TEST 18: log_level, main_config, post_main_config, init
--- main_config
    worker_rlimit_nofile 1024;
--- post_main_config
    worker_rlimit_core 1m;
--- log_level: warn
--- init
open my $fh, '>', "$ENV{TEST_NGINX_SERVER_ROOT}/html/init.txt" or die $!;
print $fh "written by init\n";
close $fh;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /init.txt
--- response_body
written by init
--- no_error_log
[debug]



=== TEST 19: client timeout with abort, tcp_reply_delay
--- config
    location = /slow {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_reply_delay: 2
--- tcp_reply: late
--- request
GET /slow
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[emerg]



=== TEST 20: shutdown_error_log
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
SIGQUIT



=== TEST 21: a qr// tcp_query read until the connection is idle
--- config
    location = /up { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/idle; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nidle\n"
--- tcp_query eval
qr{^GET /idle HTTP/1\.0\r\nHost: 127\.0\.0\.1:\d+\r\nConnection: close\r\n\r\n$}
--- tcp_query_auto_timeout: 0.1
--- request
GET /up
--- response_body
idle
