# Fixture for t/000-runner.t: an undefined $TEST_NGINX_* variable bails out.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: undefined variable
--- config
    location = /t { return 200 "$TEST_NGINX_SURELY_NOT_DEFINED_ANYWHERE\n"; }
--- request
GET /t
--- response_body
x
