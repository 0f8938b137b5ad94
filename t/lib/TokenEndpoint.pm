package TokenEndpoint;

# An OAuth2 identity provider and a target that trusts it, for the tests of
# OAuth2 client credentials: a real HTTP server on loopback (HTTP::Daemon)
# in a child process.
#
#   POST /token/<tag>/<life>/<fail>[/<kind>,<kind>...]
#       the client credentials grant (RFC 6749, 4.4) of client "hub-a"
#       with the secret given to start(), form-encoded; answers a JWT
#       signed with t/data/jwt/rsa1 (jti "<tag>-<n>"), token_type Bearer,
#       expires_in <life>; the first <fail> requests of the tag get the
#       kinds of bad answer in turn: 503 (the default: {"error":
#       "temporarily_unavailable"}), notoken (200 without access_token),
#       mac (token_type "mac"), long (a token of 9000 bytes), space (a
#       token with a space), html (200 text/html), noexpiry (expires_in
#       "soon"); a wrong client gets 401 {"error": "invalid_client"}
#   POST /api/<tag>/<mode>/<n>
#       the target: the push contract, for a Bearer JWT that verifies with
#       rsa1's public key (else 401); modes: ok; revoke (the tag's first
#       token is taken once, then refused with 401: revoked); 500 (the
#       tag's first <n> requests get 500); always401
#
# Every request is a JSON line in <dir>/requests.log: {"tag", "kind"
# (token or api), "status", ...}: a token request has "form" (the decoded
# fields), "raw" (the body as sent) and "content_type"; an api request
# "jti" and "id" (the notification's).

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt decode_jwt);
use Crypt::PK::RSA;
use File::Spec;
use HTTP::Response;
use JSON::PP;
use LoopbackServer;
use URI::Escape qw(uri_unescape);

my ($dir, $port);

sub start {
    my (%a) = @_;
    my $data = File::Spec->rel2abs($ENV{TEST_NGINX_DATA_DIR} || 't/data');
    my $private = Crypt::PK::RSA->new("$data/jwt/rsa1.private.jwk");
    my $public = Crypt::PK::RSA->new("$data/jwt/rsa1.public.jwk");

    ($port, $dir) = LoopbackServer::start('oauth2', sub {
        my $d;
        ($d, $dir) = @_;
        serve($d, $a{secret}, $private, $public);
    });
    return "http://127.0.0.1:$port";
}

sub form {
    my ($body) = @_;
    my %f;
    for my $pair (split /&/, $body // '') {
        my ($k, $v) = split /=/, $pair, 2;
        $v //= '';
        $v =~ tr/+/ /;
        $f{uri_unescape($k)} = uri_unescape($v);
    }
    return \%f;
}

sub serve {
    my ($d, $secret, $private, $public) = @_;
    my (%count, %issued);
    my $json = JSON::PP->new->canonical;
    my $deadline = time + 600;     # never outlive a test run

    while (time < $deadline && getppid() != 1) {
        my $c = $d->accept or next;
        $c->timeout(5);

        while (my $req = $c->get_request) {
            my ($kind, $tag, @arg) = grep { length } split m{/}, $req->uri->path;
            my ($res, %rec);
            my $n = ++$count{"$kind/" . ($tag // '')};

            if ($kind eq 'token') {
                my ($life, $fail, $kinds) = @arg;
                my @kinds = split /,/, $kinds // '503';
                my $f = form($req->content);

                %rec = (form => $f, raw => $req->content,
                        content_type => scalar $req->header('Content-Type'));

                if ($req->method ne 'POST'
                    || ($f->{grant_type} // '') ne 'client_credentials'
                    || ($f->{client_id} // '') ne 'hub-a'
                    || ($f->{client_secret} // '') ne $secret)
                {
                    $res = HTTP::Response->new(401, 'Unauthorized',
                        ['Content-Type' => 'application/json'],
                        '{"error":"invalid_client"}');

                } elsif ($n <= $fail) {
                    my $k = $kinds[($n - 1) % @kinds];
                    my %bad = (notoken => {token_type => 'Bearer', expires_in => 60},
                               mac => {access_token => 'mac-token', token_type => 'mac'},
                               long => {access_token => 'x' x 9000, token_type => 'Bearer'},
                               space => {access_token => 'two words', token_type => 'Bearer'},
                               noexpiry => {access_token => 'soon-token', expires_in => 'soon'});
                    $res = $k eq '503'
                        ? HTTP::Response->new(503, 'Unavailable',
                              ['Content-Type' => 'application/json'],
                              '{"error":"temporarily_unavailable",'
                              . '"error_description":"try later"}')
                        : $k eq 'html'
                        ? HTTP::Response->new(200, 'OK', ['Content-Type' => 'text/html'],
                                              '<html>sign in</html>')
                        : HTTP::Response->new(200, 'OK',
                              ['Content-Type' => 'application/json'],
                              $json->encode($bad{$k}));

                } else {
                    my $i = ++$issued{$tag};
                    my $jwt = encode_jwt(alg => 'RS256', key => $private,
                        extra_headers => {kid => 'rsa1', typ => 'at+jwt'},
                        payload => {iss => 'https://idp.example.org',
                                    sub => 'hub-a', aud => $f->{scope},
                                    jti => "$tag-$i", iat => time,
                                    exp => time + $life});
                    $rec{token} = $jwt;
                    $res = HTTP::Response->new(200, 'OK',
                        ['Content-Type' => 'application/json'],
                        $json->encode({access_token => $jwt,
                                       token_type => 'Bearer',
                                       expires_in => $life + 0}));
                }

            } else {
                my ($mode, $fail) = @arg;
                my ($auth) = ($req->header('Authorization') // '') =~ /^Bearer (\S+)$/;
                my $claims = eval { decode_jwt(token => $auth, key => $public) };
                my $body = eval { decode_json($req->content) } || {};

                %rec = (jti => $claims ? $claims->{jti} : undef,
                        id => $body->{id});

                my $ok = HTTP::Response->new(200, 'OK',
                    ['Content-Type' => 'application/json'],
                    '{"Success":true,"Code":"0","Message":"OK"}');
                my $no = HTTP::Response->new(401, 'Unauthorized',
                    ['WWW-Authenticate' => 'Bearer error="invalid_token"'], '');

                $res = !$claims ? $no
                     : $mode eq 'revoke' && $claims->{jti} eq "$tag-1" && $n > 1
                       ? $no
                     : $mode eq 'always401' ? $no
                     : $mode eq '500' && $n <= $fail
                       ? HTTP::Response->new(500, 'Oops', [], 'oops')
                     : $ok;
            }

            $rec{tag} = $tag;
            $rec{kind} = $kind;
            $rec{status} = $res->code;

            open my $log, '>>', "$dir/requests.log" or die;
            print $log $json->encode(\%rec), "\n";
            close $log;

            $c->send_response($res);
            last;
        }

        $c->close;
    }
}

# the requests of a tag (and kind)
sub requests {
    my ($tag, $kind) = @_;
    my @r;
    open my $log, '<', "$dir/requests.log" or return ();
    while (<$log>) {
        my $r = decode_json($_);
        push @r, $r if $r->{tag} eq $tag && (!defined $kind || $r->{kind} eq $kind);
    }
    return @r;
}

1;
