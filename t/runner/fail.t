# Fixture for t/000-runner.t: every block here must FAIL (at least one
# "not ok" test per block).  Not run directly by `prove t`.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: wrong status code
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_code: 404
--- response_body
ok



=== TEST 2: wrong body
--- config
    location = /t { return 200 "actual\n"; }
--- request
GET /t
--- response_body
expected



=== TEST 3: wrong header
--- config
    location = /t {
        add_header X-Foo actual;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: expected



=== TEST 4: an [error] line with no_error_log [error]
--- config
    location = /x { return 200; }
--- request
GET /missing.txt
--- error_code: 404
--- no_error_log
[error]



=== TEST 5: a missing error_log pattern
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_log
this line is never logged



=== TEST 6: must_die with a config that starts fine
--- config
    location = /t { return 200 "ok\n"; }
--- must_die



=== TEST 7: tcp_query mismatch
--- config
    location = /up {
        proxy_set_header Host upstream.test;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
--- tcp_query eval
"GET /something-else HTTP/1.0\r\nHost: upstream.test\r\nConnection: close\r\n\r\n"
--- tcp_query_len: 65
--- request
GET /up
--- response_body
ok



=== TEST 8: response_body_like mismatch
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body_like: ^goodbye



=== TEST 9: a response_headers line without a colon says "absent"
--- config
    location = /up { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nX-Foo:\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
--- request
GET /up
--- response_headers
X-Foo
--- response_body
ok
