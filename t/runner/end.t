# Fixture for t/000-runner.t: the tcp_listen server, a child of this
# process, ends with an ordinary exit, so END blocks run there too (as they
# do under the real runner): whatever an END block stops must be stopped
# only by the process that started it.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

our $Main = $$;

# one line per process that ran this END block: "main" or "child"
END {
    if (open my $fh, '>>', "$ENV{TEST_NGINX_SERVROOT}.end") {
        print $fh $$ == $Main ? "main\n" : "child\n";
        close $fh;
    }
}

run_tests();

__DATA__

=== TEST 1: one exchange with the tcp_listen server
--- config
    location = /up { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
--- request
GET /up
--- response_body
ok
