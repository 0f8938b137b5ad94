# Fixture for t/000-runner.t: a response_body array with no entry for one
# of the requests must not pass that request unchecked.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: two requests, a body for the first only
--- config
    location = /t { return 200 "ok\n"; }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["ok\n"]
