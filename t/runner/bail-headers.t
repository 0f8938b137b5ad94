# Fixture for t/000-runner.t: a more_headers array with no entry for one of
# the requests bails out (the real runner does the same).
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: two requests, headers for one
--- config
    location = /t { return 200 "x=$http_x\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X: 1"]
--- response_body eval
["x=1\n", "x=\n"]
