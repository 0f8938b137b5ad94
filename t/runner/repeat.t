# Fixture for t/000-runner.t: repeat_each(2) and a computed plan.
# Runs only under t/000-runner.t (which sets TEST_NGINX_RUNNER_WORD).
use Test::Nginx::Socket $ENV{TEST_NGINX_RUNNER_WORD}
    ? () : (skip_all => 'fixture for t/000-runner.t');

repeat_each(2);

plan tests => repeat_each() * (blocks() * 3);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: first
--- config
    location = /t { return 200 "one\n"; }
--- request
GET /t
--- response_body
one
--- no_error_log
[error]



=== TEST 2: second
--- config
    location = /t { return 200 "two\n"; }
--- request
GET /t
--- response_body
two
--- no_error_log
[error]
