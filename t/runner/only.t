# Fixture for t/000-runner.t: --- ONLY runs just that block.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? 'no_plan' : (skip_all => 'fixture for t/000-runner.t');

run_tests();

__DATA__

=== TEST 1: would fail
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_code: 599



=== TEST 2: the only one
--- ONLY
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok



=== TEST 3: would fail too
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
nope
