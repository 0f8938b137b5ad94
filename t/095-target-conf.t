# notify_target's block: what it takes and every way it can be wrong.
# The secrets' files are written here; no message ever shows a secret.
use lib 't/lib';
use NotifyTest;
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

our $Dir;

BEGIN {
    NotifyTest::setup();
    $Dir = tempdir(CLEANUP => 1);
    my %files = (
        'whsec'     => "# the webhook's secret\n\nwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        'whsec-bad' => "whsec_not*base64*at*all-SECRETVALUE\n",
        'whsec-short' => "whsec_c2hvcnQ=\n",
        'key'       => "  0123456789abcdef  \n",
        'empty'     => "# nothing but a comment\n\n",
        'client'    => "client&secret=+x\n",
    );
    for my $f (keys %files) {
        open my $fh, '>', "$Dir/$f" or die "$Dir/$f: $!";
        print $fh $files{$f};
        close $fh;
    }
    $ENV{TEST_NGINX_SECRETS} = $Dir;
}

# a target block in the http{} of a hub with a store
sub target {
    my ($name, $body) = @_;
    return ::conf(@_ > 2 ? $_[2] : 't') . "    notify_target $name {\n$body\n    }\n";
}

our $Loc = "    location = /x { return 204; }\n";

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a target of every dialect that can be one, with its settings, loads
--- http_config eval
::target('a-push', "dialect push; url http://127.0.0.1:1/push; authorization tok;\n"
         . "expire 2d; retry 1s 1m; timeout 3s; first_timeout 200ms; concurrency 4;\n"
         . "breaker 3 10s; rate 5r/s burst=2;\n"
         . "activity_type build.failed taskFailed; activity_type default systemDefault;")
--- config eval: $::Loc
--- request
GET /x
--- error_code: 204
--- no_error_log
[emerg]



=== TEST 2: no dialect
--- http_config eval: ::target('t', "url http://127.0.0.1:1/;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t" has no "dialect"



=== TEST 3: no url, or one that is not http(s)
--- http_config eval: ::target('t', "dialect push; url ftp://127.0.0.1/;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t" needs a "url", http or https



=== TEST 4: a dialect that is no target (or none of that name)
--- http_config eval: ::target('t', "dialect nonsense; url http://127.0.0.1:1/;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t": dialect "nonsense" cannot be a target



=== TEST 5: an unknown directive in the block
--- http_config eval: ::target('t', "dialect push; url http://127.0.0.1:1/; proxy_pass http://x;")
--- config eval: $::Loc
--- must_die
--- error_log
unknown directive "proxy_pass" in notify_target "t"



=== TEST 6: a directive with the wrong number of values
--- http_config eval: ::target('t', "dialect push graph; url http://127.0.0.1:1/;")
--- config eval: $::Loc
--- must_die
--- error_log
invalid number of arguments in "dialect" of notify_target "t"



=== TEST 7: a directive twice
--- http_config eval: ::target('t', "dialect push; url http://127.0.0.1:1/; retry 1s 2s; retry 1s 3s;")
--- config eval: $::Loc
--- must_die
--- error_log
"retry" of notify_target "t" is duplicate



=== TEST 8: two targets of one name
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/;")
. "    notify_target t { dialect push; url http://127.0.0.1:2/; }\n"
--- config eval: $::Loc
--- must_die
--- error_log
duplicate notify_target "t"



=== TEST 9: a name of other characters, or too long
--- http_config eval: ::target('a/b', "dialect push; url http://127.0.0.1:1/;")
--- config eval: $::Loc
--- must_die
--- error_log
needs a name of letters, digits, "-", "_" and "."



=== TEST 10: a bad value of the delivery settings, in the target's words
--- http_config eval: ::target('t', "dialect push; url http://127.0.0.1:1/; retry 2s 1s;")
--- config eval: $::Loc
--- must_die
--- error_log
"retry" of notify_target "t" takes two times



=== TEST 11: first_timeout or concurrency of 0
--- http_config eval: ::target('t', "dialect push; url http://127.0.0.1:1/; concurrency 0;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t": "first_timeout" and "concurrency" must be more than 0



=== TEST 12: OAuth2 needs its client id and secret, and excludes a static authorization
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; oauth2_token_url http://127.0.0.1:1/token;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t": "oauth2_token_url" must be an http or https URL, with "oauth2_client_id" and "oauth2_secret_file"



=== TEST 13: OAuth2 and authorization together
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; authorization x; oauth2_token_url http://127.0.0.1:1/token;"
         . " oauth2_client_id c; oauth2_secret_file $ENV{TEST_NGINX_SECRETS}/client;")
--- config eval: $::Loc
--- must_die
--- error_log
notify_target "t": "authorization" and "oauth2_token_url" exclude each other
--- no_error_log
client&secret



=== TEST 14: a webhook secret that is not base64: the message names the rule, never the secret
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; webhook_secret_file $ENV{TEST_NGINX_SECRETS}/whsec-bad;")
--- config eval: $::Loc
--- must_die
--- error_log
"webhook_secret_file" of notify_target "t" needs a file whose first line is "whsec_" and 16 to 64 bytes in base64
--- no_error_log
SECRETVALUE



=== TEST 15: a webhook secret too short
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; webhook_secret_file $ENV{TEST_NGINX_SECRETS}/whsec-short;")
--- config eval: $::Loc
--- must_die
--- error_log
needs a file whose first line is "whsec_" and 16 to 64 bytes in base64



=== TEST 16: a secret's file with nothing in it, or none at all
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; subscription_key_file $ENV{TEST_NGINX_SECRETS}/empty;")
--- config eval: $::Loc
--- must_die
--- error_log
has no subscription key



=== TEST 17: a secret's file that does not exist
--- http_config eval
::target('t', "dialect push; url http://127.0.0.1:1/; oauth2_secret_file $ENV{TEST_NGINX_SECRETS}/nowhere;")
--- config eval: $::Loc
--- must_die
--- error_log
nowhere" failed



=== TEST 18: notify_target is http{} level only, and needs notify_store
--- http_config eval: ::conf('t')
--- config
    notify_target t { dialect push; url http://127.0.0.1:1/; }
--- must_die
--- error_log
"notify_target" directive is not allowed here



=== TEST 19: without a store
--- http_config
    notify_target t { dialect push; url http://127.0.0.1:1/; }
--- config eval: $::Loc
--- must_die
--- error_log
"notify_push_url" or "notify_target" needs "notify_store" at http level



=== TEST 20: at most 15 targets
--- http_config eval
::conf("t") . CORE::join('', map { "    notify_target t$_ { dialect push; url http://127.0.0.1:1/; }\n" } 1 .. 16)
--- config eval: $::Loc
--- must_die
--- error_log
at most 15 "notify_target" blocks



=== TEST 21: activity_type default twice
--- http_config eval: ::target('t', "dialect push; url http://127.0.0.1:1/; activity_type default a; activity_type default b;")
--- config eval: $::Loc
--- must_die
--- error_log
"activity_type" of notify_target "t" is duplicate for "default"
