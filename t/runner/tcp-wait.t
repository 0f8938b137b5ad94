# Fixture for t/000-runner.t: without tcp_query_auto_timeout the tcp_listen
# server reads length(tcp_query) bytes before it replies; nginx sends fewer
# here, so no reply comes and the client times out.  (Its own file: the
# timeout makes both runners skip the exit status of a failed run.)
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: without tcp_query_auto_timeout the server waits for length(tcp_query)
--- config
    location = /up {
        proxy_set_header Host upstream.test;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
--- tcp_query eval
"GET /backend HTTP/1.0\r\nHost: upstream.test\r\nConnection: close\r\n\r\nmore"
--- request
GET /up
--- timeout: 1
--- response_body
ok
