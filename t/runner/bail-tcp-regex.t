# Fixture for t/000-runner.t: a qr// tcp_query with neither tcp_query_len
# nor tcp_query_auto_timeout cannot say how much the server must read (the
# real runner waits for as many bytes as the pattern has characters, more
# than nginx sends here, and the client times out).
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: a pattern as the query
--- config
    location = /up { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
--- tcp_query eval
qr{^GET / HTTP/1\.0\r\nHost: 127\.0\.0\.1:\d+\r\nConnection: close\r\n\r\n$}
--- request
GET /up
--- timeout: 1
--- response_body
ok
