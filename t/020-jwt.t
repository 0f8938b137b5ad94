# JWT authentication: notify_jwt_* directives, $notify_caller and
# $notify_caller_app, the shared-memory token cache.
#
# Every token is minted here with Crypt::JWT (an implementation independent
# of ours) from the key fixtures in t/data/jwt/; the few tokens Crypt::JWT
# refuses to make (broken ones) are made by hand from its output.
use lib 't/lib';
use NotifyTest;
use Test::Nginx::Socket 'no_plan';

use Cwd qw(abs_path);
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64url decode_base64url);

$ENV{TEST_NGINX_DATA_DIR} ||= abs_path('t/data');

our $Aud = $NotifyTest::Audience;

# token() signs with the keys of t/data/jwt/ (rsa1 unless a block names
# another) and its claims have a sub and no nbf or tid; conf() is only the
# JWT part (no store, no directory)
NotifyTest::setup(key => 'rsa1', claims => {sub => 'subject-1'},
                  store => '', directory => '',
                  keys => '$TEST_NGINX_DATA_DIR/jwt/jwks.json');

# a token with its header replaced (the rest kept as signed)
sub with_header {
    my ($header, $token) = @_;
    my (undef, $p, $s) = split /\./, $token, -1;
    return join '.', ::encode_base64url(::encode_json($header)), $p, $s;
}

# rsa1's token with a bit set in the last character of part $i (0: header,
# 1: payload, 2: signature) that base64url leaves unused: the same bytes
# in a non-canonical encoding.  The header and payload are signed again as
# altered, so the signature is good; $i undef alters nothing
sub noncanonical {
    my ($i) = @_;
    my @alphabet = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');
    my %value = map { $alphabet[$_] => $_ } 0 .. 63;

    for my $pad ('', 'x', 'xx') {
        my @part = split /\./, token(pad => $pad);
        next if grep { length($_) % 4 == 0 } @part;

        if (defined $i) {
            my $last = substr $part[$i], -1;
            substr($part[$i], -1) = $alphabet[$value{$last} ^ 1];
        }

        if (!defined $i || $i < 2) {
            $part[2] = encode_base64url(NotifyTest::signing_key('rsa1')->sign_message(
                "$part[0].$part[1]", 'SHA256', 'v1.5'));
        }

        return join '.', @part;
    }

    die "no token with unused bits in every part";
}

# the blocks without an http_config of their own get this one
add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->config && !defined $block->http_config) {
        $block->set_value(http_config => conf());
    }
});

# the short-lived token of TEST 1 and 2, made when the file is read
our $ShortExp = time + 4;
our $Short = token(exp => $ShortExp, upn => 'short@example.org');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a cached token is still checked against the clock: valid now
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_leeway 0s;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::Short"
--- response_body
caller=short@example.org
--- error_log
notify: jwt cache store
--- no_error_log
[error]
notify: invalid token



=== TEST 2: ... and expired a few seconds later, though still in the cache
--- init
sleep 1 while time <= $::ShortExp;
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::Short"
--- response_body
caller=
--- error_log
notify: invalid token: token expired
--- no_error_log
[error]
notify: jwt cache hit



=== TEST 3: RS256 with a kid: the caller is the upn, the app the azp
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(upn => 'alice@example.org', preferred_username => 'alice',
         azp => 'app-1', appid => 'app-2', oid => 'oid-1'))
--- response_body
caller=alice@example.org app=app-1
--- no_error_log
[error]
notify: invalid token



=== TEST 4: ES256 (r || s converted for OpenSSL): preferred_username, appid
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'ec1', preferred_username => 'bob@example.org',
         unique_name => 'bob', appid => 'app-2', oid => 'oid-2'))
--- response_body
caller=bob@example.org app=app-2
--- no_error_log
[error]
notify: invalid token



=== TEST 5: HS256 with an oct key: no user name, so the object id
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'hs1', oid => '00000000-0000-0000-0000-000000000042',
         azp => 'daemon-app'))
--- response_body
caller=00000000-0000-0000-0000-000000000042 app=daemon-app
--- no_error_log
[error]
notify: invalid token



=== TEST 6: unique_name is the last user name; without any, the app id
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(unique_name => 'carol', appid => 'app-3')),
 ::bearer(::token(appid => 'app-4'))]
--- response_body eval
["caller=carol app=app-3\n", "caller=app-4 app=app-4\n"]
--- no_error_log
[error]
notify: invalid token



=== TEST 7: only a sub: the caller is the sub, the app is empty
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(sub => 'only-sub'))
--- response_body
caller=only-sub app=
--- no_error_log
[error]
notify: invalid token



=== TEST 8: the kid picks the key: rsa2's token with kid rsa2
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa2', upn => 'dave@example.org'))
--- response_body
caller=dave@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 9: the kid picks the key: rsa2's token with kid rsa1 is refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa2', kid => 'rsa1', upn => 'dave@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: bad signature
--- no_error_log
[error]



=== TEST 10: without a kid, every key of the algorithm's type is tried
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(key => 'rsa2', kid => undef, upn => 'rsa2@example.org')),
 ::bearer(::token(key => 'ec1', kid => undef, upn => 'ec1@example.org')),
 ::bearer(::token(key => 'hs1', kid => undef, upn => 'hs1@example.org'))]
--- response_body eval
["caller=rsa2\@example.org\n", "caller=ec1\@example.org\n",
 "caller=hs1\@example.org\n"]
--- no_error_log
[error]
notify: invalid token



=== TEST 11: an unknown kid is refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(kid => 'no-such-key', upn => 'eve@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: unknown kid "no-such-key"
--- no_error_log
[error]



=== TEST 12: a kid that cannot forge log lines
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(kid => "x\r\nFORGED LINE" . ("y" x 100)))
--- response_body
caller=
--- error_log eval
qr/notify: invalid token: unknown kid "x\?\?FORGED LINEy{50}"\.\.\./
--- no_error_log
[error]



=== TEST 13: alg none is refused, in any case
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(alg => 'none', kid => undef)),
 "Authorization: Bearer " . ::with_header({alg => 'NoNe', kid => 'rsa1'},
                                          ::token()),
 "Authorization: Bearer " . ::with_header({alg => 'none'}, ::token()) ]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n"]
--- error_log
notify: invalid token: alg none is not allowed
--- no_error_log
[error]



=== TEST 14: alg confusion: HS256 keyed with rsa1's public PEM, kid rsa1
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa1_pem', kid => 'rsa1', upn => 'mallory@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: alg HS256 does not fit the key "rsa1"
--- no_error_log
[error]



=== TEST 15: alg confusion without a kid: only oct keys are tried for HS256
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(key => 'rsa1_pem', kid => undef, upn => 'mallory@example.org')),
 ::bearer(::token(key => 'rsa1_n', kid => undef, upn => 'mallory@example.org'))]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log
notify: invalid token: bad signature
--- no_error_log
[error]



=== TEST 16: alg confusion the other way: RS256 with the kid of the oct key
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::with_header({alg => 'RS256', kid => 'hs1'},
                                         ::token(upn => 'mallory@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: alg RS256 does not fit the key "hs1"
--- no_error_log
[error]



=== TEST 17: HS256 when the keys have no oct key at all
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/rsa1.public.jwk;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa1_pem', kid => undef))
--- response_body
caller=
--- error_log
notify: invalid token: no oct key for alg HS256
--- no_error_log
[error]



=== TEST 18: unsupported algorithms are refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(alg => 'RS512')),
 ::bearer(::token(key => 'hs1', alg => 'HS384'))]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log eval
[qr/notify: invalid token: unsupported alg "(RS512|HS384)"/]
--- no_error_log
[error]



=== TEST 19: a tampered payload or signature: bad signature
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my ($h, $p, $s) = split /\./, ::token(upn => 'alice@example.org');
my ($eh, $ep, $es) = split /\./, ::token(key => 'ec1', upn => 'alice@example.org');
my $forged = ::encode_base64url(::encode_json(NotifyTest::claims(upn => 'admin@example.org')));
my $bad = $s;
substr($bad, 10, 1) = substr($bad, 10, 1) eq 'A' ? 'B' : 'A';
["Authorization: Bearer $h.$forged.$s",
 "Authorization: Bearer $h.$p.$bad",
 "Authorization: Bearer $eh.$ep." . ::encode_base64url('x' x 64)]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n"]
--- error_log
notify: invalid token: bad signature
--- no_error_log
[error]



=== TEST 20: expired
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 3600, iat => time - 7200, upn => 'old@example.org')) }
--- response_body
caller=
--- error_log
notify: invalid token: token expired
--- no_error_log
[error]



=== TEST 21: expired, but within the default leeway of 60s
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 20, iat => time - 3600, upn => 'late@example.org')) }
--- response_body
caller=late@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 22: notify_jwt_leeway 0: no grace
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_leeway 0;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 20, iat => time - 3600, upn => 'late@example.org')) }
--- response_body
caller=
--- error_log
notify: invalid token: token expired
--- no_error_log
[error]



=== TEST 23: notify_jwt_leeway 5m: expired 4 minutes ago is fine
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_leeway 5m;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 240, iat => time - 3600, upn => 'late@example.org')) }
--- response_body
caller=late@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 24: notify_jwt_leeway 5m: expired 7 minutes ago is not
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_leeway 5m;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(exp => time - 420, iat => time - 3600, upn => 'later@example.org')) }
--- response_body
caller=
--- error_log
notify: invalid token: token expired
--- no_error_log
[error]



=== TEST 25: nbf within the leeway is fine
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(nbf => time + 30, upn => 'soon@example.org')) }
--- response_body
caller=soon@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 26: nbf in the future: not yet valid
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(nbf => time + 3600, upn => 'later@example.org')) }
--- response_body
caller=
--- error_log
notify: invalid token: token not yet valid (nbf)
--- no_error_log
[error]



=== TEST 27: iat in the future (beyond the leeway) is refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
sub { ::bearer(::token(iat => time + 3600, upn => 'future@example.org')) }
--- response_body
caller=
--- error_log
notify: invalid token: token issued in the future (iat)
--- no_error_log
[error]



=== TEST 28: a token must expire: no exp, or an exp that is not a number
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(exp => undef, upn => 'forever@example.org')),
 ::bearer(::token(exp => 'tomorrow', upn => 'forever@example.org'))]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log eval
[qr/notify: invalid token: (no exp claim|exp is not a number)/]
--- no_error_log
[error]



=== TEST 29: wrong or missing issuer
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(iss => 'https://evil.example.org/', upn => 'a@example.org')),
 ::bearer(::token(iss => undef, upn => 'a@example.org'))]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log
notify: invalid token: wrong issuer
--- no_error_log
[error]



=== TEST 30: wrong or missing audience
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(aud => 'api://other', upn => 'a@example.org')),
 ::bearer(::token(aud => undef, upn => 'a@example.org')),
 ::bearer(::token(aud => ['api://other', 'api://third'], upn => 'a@example.org'))]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n"]
--- error_log
notify: invalid token: wrong audience
--- no_error_log
[error]



=== TEST 31: aud as an array: one match is enough
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(aud => ['api://other', $::Aud], upn => 'a@example.org'))
--- response_body
caller=a@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 32: several audiences configured: any of them; no issuer configured
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_audience api://one api://two;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(aud => 'api://two', iss => 'anyone', upn => 'a@example.org'))
--- response_body
caller=a@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 33: several audiences configured: none of them
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_audience api://one api://two;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(aud => ['api://three', 'api://four'], upn => 'b@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: wrong audience
--- no_error_log
[error]



=== TEST 34: no issuer or audience configured: neither is checked
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(aud => undef, iss => undef, upn => 'a@example.org'))
--- response_body
caller=a@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 35: malformed: not three parts
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my ($h, $p, $s) = split /\./, ::token();
["Authorization: Bearer $h.$p", "Authorization: Bearer $h.$p.$s.$s",
 "Authorization: Bearer $h"]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n"]
--- error_log
notify: invalid token: not a JWT (three base64url parts expected)
--- no_error_log
[error]



=== TEST 36: malformed: bad base64url
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
my ($h, $p, $s) = split /\./, ::token();
["Authorization: Bearer e!J.$p.$s", "Authorization: Bearer $h.$p=.$s",
 "Authorization: Bearer $h.$p.$s+", "Authorization: Bearer .$p.$s"]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n", "caller=\n"]
--- error_log eval
[qr/notify: invalid token: (header|payload|signature) is not base64url/]
--- no_error_log
[error]



=== TEST 37: malformed: the header is not a JSON object
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my (undef, $p, $s) = split /\./, ::token();
["Authorization: Bearer " . ::encode_base64url('{"alg":"RS256",') . ".$p.$s",
 "Authorization: Bearer " . ::encode_base64url('["RS256"]') . ".$p.$s",
 "Authorization: Bearer " . ::encode_base64url('{"alg":"RS256","alg":"none"}')
     . ".$p.$s"]
--- response_body eval
["caller=\n", "caller=\n", "caller=\n"]
--- error_log
notify: invalid token: header is not a JSON object
--- no_error_log
[error]



=== TEST 38: malformed: no alg, a kid that is not a string
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer " . ::with_header({typ => 'JWT'}, ::token()),
 "Authorization: Bearer " . ::with_header({alg => 'RS256', kid => 1}, ::token())]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log eval
[qr/notify: invalid token: (no alg in the header|kid is not a string)/]
--- no_error_log
[error]



=== TEST 39: malformed: a well signed payload that is not a JSON object
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(key => 'hs1', payload => 'not json')),
 ::bearer(::token(key => 'hs1', payload => [1, 2]))]
--- response_body eval
["caller=\n", "caller=\n"]
--- error_log
notify: invalid token: payload is not a JSON object
--- no_error_log
[error]



=== TEST 40: a crit header is refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'hs1', header => { crit => ['exp'] }))
--- response_body
caller=
--- error_log
notify: invalid token: unsupported crit header
--- no_error_log
[error]



=== TEST 41: a token over 8 KiB is refused before any work
--- config
    large_client_header_buffers 4 32k;
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
my $big = ::token(upn => 'big@example.org', pad => 'x' x 6000);
length($big) > 8192 or die "too small: " . length($big);
"Authorization: Bearer $big"
--- response_body
caller=
--- error_log
notify: invalid token: token longer than 8192 bytes
--- no_error_log
[error]



=== TEST 42: a token just under 8 KiB is fine
--- config
    large_client_header_buffers 4 32k;
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
my $small = ::token(upn => 'fits@example.org', pad => 'x' x 5600);
length($small) <= 8192 && length($small) > 7900
    or die "bad size: " . length($small);
"Authorization: Bearer $small"
--- response_body
caller=fits@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 43: "Authorization: <jwt>" without a scheme, as push senders send it
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: " . ::token(upn => 'push@example.org', azp => 'push-sender')
. "\nUser-Agent: DataNotifier"
--- response_body
caller=push@example.org app=push-sender
--- no_error_log
[error]
notify: invalid token



=== TEST 44: the Bearer scheme in any case, with extra blanks
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: bearer " . ::token(upn => 'lower@example.org'),
 "Authorization: BEARER   " . ::token(upn => 'upper@example.org')]
--- response_body eval
["caller=lower\@example.org\n", "caller=upper\@example.org\n"]
--- no_error_log
[error]
notify: invalid token



=== TEST 45: no Authorization, or an empty one: no caller, nothing logged
--- config
    location = /t { return 200 "caller=$notify_caller app=$notify_caller_app\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["", "Authorization: ", "Authorization: Bearer"]
--- response_body eval
["caller= app=\n", "caller= app=\n", "caller= app=\n"]
--- no_error_log
[error]
notify: invalid token



=== TEST 46: another scheme is refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers
Authorization: Basic dXNlcjpwYXNzd29yZA==
--- response_body
caller=
--- error_log
notify: invalid token: unsupported authorization scheme
--- no_error_log
[error]



=== TEST 47: without notify_jwt_keys every token is refused
--- http_config
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(upn => 'alice@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: no notify_jwt_keys configured
--- no_error_log
[error]



=== TEST 48: keys with "use": "enc" are skipped (1/2): the others work
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-enc.json;
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'hs1', upn => 'hs@example.org'))
--- response_body
caller=hs@example.org
--- no_error_log
[error]
notify: invalid token



=== TEST 49: keys with "use": "enc" are skipped (2/2): not a signing key
--- request
GET /t
--- more_headers eval
::bearer(::token(key => 'rsa1', upn => 'rsa@example.org'))
--- response_body
caller=
--- error_log
notify: invalid token: unknown kid "rsa1"
--- no_error_log
[error]



=== TEST 50: the cache: a second authentication of the token is a hit
--- config
    location = /t {
        set $main $notify_caller;
        auth_request /auth;
        add_header X-Caller $main;
        empty_gif;
    }
    location = /auth {
        internal;
        set $who $notify_caller;
        return 204;
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(upn => 'cached@example.org'))
--- response_headers
X-Caller: cached@example.org
--- grep_error_log eval
qr/notify: jwt cache \w+/
--- grep_error_log_out
notify: jwt cache store
notify: jwt cache hit
--- no_error_log
[error]
notify: invalid token



=== TEST 51: notify_jwt_cache off: verified every time
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_cache off;
--- config
    location = /t {
        set $main $notify_caller;
        auth_request /auth;
        add_header X-Caller $main;
        empty_gif;
    }
    location = /auth {
        internal;
        set $who $notify_caller;
        return 204;
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(upn => 'uncached@example.org'))
--- response_headers
X-Caller: uncached@example.org
--- no_error_log
[error]
notify: jwt cache
notify: invalid token



=== TEST 52: the variables authenticate once per request, however often used
--- config
    location = /t {
        return 200 "$notify_caller $notify_caller $notify_caller_app\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::token(kid => 'nope', upn => 'x@example.org'))
--- response_body eval
"  \n"
--- grep_error_log eval
qr/notify: invalid token: [^,]*/
--- grep_error_log_out
notify: invalid token: unknown kid "nope"
--- no_error_log
[error]



=== TEST 53: the cache across requests (1/2): the first time is a store
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_cache 32k;
--- config
    large_client_header_buffers 4 16k;
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
$::Big[0] = ::bearer(::token(upn => 'big0@example.org', pad => 'a' x 5000));
$::Big[0]
--- response_body
caller=big0@example.org
--- grep_error_log eval
qr/notify: jwt cache \w+/
--- grep_error_log_out
notify: jwt cache store
--- no_error_log
[error]



=== TEST 54: the cache across requests (2/2): another connection hits
--- request
GET /t
--- more_headers eval
$::Big[0]
--- response_body
caller=big0@example.org
--- grep_error_log eval
qr/notify: jwt cache \w+/
--- grep_error_log_out
notify: jwt cache store
notify: jwt cache hit
--- no_error_log
[error]



=== TEST 55: a full cache drops its least recently used entries
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { ::bearer(::token(upn => "big$_\@example.org", pad => 'a' x 5000)) } 1 .. 6]
--- response_body eval
[map { "caller=big$_\@example.org\n" } 1 .. 6]
--- no_error_log
[error]
[crit]
notify: invalid token



=== TEST 56: ... so the first token, the oldest, had to go: a store again
--- request
GET /t
--- more_headers eval
$::Big[0]
--- response_body
caller=big0@example.org
--- grep_error_log eval
qr/notify: jwt cache \w+/
--- grep_error_log_out eval
qr/\Anotify: jwt cache store\nnotify: jwt cache hit\n(?:notify: jwt cache (?:store|evicted)\n)*notify: jwt cache evicted\n(?:notify: jwt cache (?:store|evicted)\n)*notify: jwt cache store\n\z/
--- no_error_log
[error]



=== TEST 57: config: a missing keys file
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/no-such-file.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] .*notify_jwt_keys: cannot open ".*\/jwt\/no-such-file\.json" \(2: No such file or directory\)/



=== TEST 58: config: broken JSON, with the file, line and column
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-broken.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] .*notify_jwt_keys: invalid JSON in ".*\/jwt\/jwks-broken\.json", line 3, column 51: unexpected token near ','/



=== TEST 59: config: an unsupported key type
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-okp.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] .*notify_jwt_keys: key 1 in ".*jwks-okp\.json" has the unsupported key type "OKP" \(supported: RSA, EC, oct\)/



=== TEST 60: config: an unsupported curve
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-p384.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
has the unsupported curve "P-384" (supported: P-256)



=== TEST 61: config: an EC point off the curve
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-offcurve.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
is not a valid P-256 public key



=== TEST 62: config: an RSA key under 2048 bits
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-rsa1024.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
has 1024 bits, RSA keys need at least 2048



=== TEST 63: config: an oct key under 32 bytes
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-short-oct.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
has 9 bytes, oct keys need at least 32



=== TEST 64: config: a key whose alg is not the one we verify its type with
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-rs512.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
has the unsupported alg "RS512" for kty "RSA" (supported: RS256)



=== TEST 65: config: no "keys" array
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks-nokeys.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
has no "keys" array



=== TEST 66: config: a bad leeway
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_leeway soon;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
invalid value "soon" of "notify_jwt_leeway"



=== TEST 67: config: a bad cache size
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_cache lots;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
invalid value "lots" of "notify_jwt_cache"



=== TEST 68: config: a cache too small
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_cache 4k;
--- config
    location = /t { return 204; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"notify_jwt_cache" of 4k is too small, it needs at least \d+k/



=== TEST 69: config: directives given twice
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
--- config
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
"notify_jwt_keys" directive is duplicate



=== TEST 70: config: the notify_jwt_* directives belong in http{}
--- config
    notify_jwt_leeway 10s;
    location = /t { return 204; }
--- must_die
--- error_log
[emerg]
"notify_jwt_leeway" directive is not allowed here



=== TEST 71: non-canonical base64url: the helper's token, signed again as it is, is good
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::noncanonical(undef)
--- response_body
caller=subject-1
--- no_error_log
[error]



=== TEST 72: non-canonical base64url: a bit the last character of the header leaves unused is set: refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::noncanonical(0)
--- response_body
caller=
--- error_log
notify: invalid token: header is not base64url
--- no_error_log
[error]



=== TEST 73: non-canonical base64url: a bit the last character of the payload leaves unused is set: refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::noncanonical(1)
--- response_body
caller=
--- error_log
notify: invalid token: payload is not base64url
--- no_error_log
[error]



=== TEST 74: non-canonical base64url: a bit the last character of the signature leaves unused is set: refused
--- config
    location = /t { return 200 "caller=$notify_caller\n"; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ::noncanonical(2)
--- response_body
caller=
--- error_log
notify: invalid token: signature is not base64url
--- no_error_log
[error]



=== TEST 75: $notify_caller_tenant is the verified token's tid, and nothing without one
--- config
    location = /t { return 200 "tenant=$notify_caller_tenant\n"; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::token(tid => 'tenant-7')) . "Host: tenant-8.example.org",
 ::bearer(::token(tid => undef)),
 "Authorization: Bearer " . ::noncanonical(2),
 "Host: tenant-8.example.org"]
--- response_body eval
["tenant=tenant-7\n", "tenant=\n", "tenant=\n", "tenant=\n"]
--- no_error_log
[error]




=== TEST 76: an empty notify_jwt_issuer is refused, with the rule as it is
--- http_config
    notify_jwt_keys $TEST_NGINX_DATA_DIR/jwt/jwks.json;
    notify_jwt_issuer "";
--- config
    location = /t { return 204; }
--- must_die
--- error_log
"notify_jwt_issuer" directive must not be empty (leave it out to accept any issuer)
