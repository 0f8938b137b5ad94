# The benches' tokens: minted with Crypt::JWT (never by the hub's own
# code), signed with the quickstart's demo key, for the quickstart's issuer
# and audience, valid for six hours.
package BenchToken;

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;

# token(KEYFILE, CLAIMS...): a token of those claims
my %keys;

sub token {
    my ($keyfile, %c) = @_;
    my $key = $keys{$keyfile} //= Crypt::PK::RSA->new($keyfile);
    return encode_jwt(alg => 'RS256', key => $key,
                      extra_headers => {kid => 'quickstart'},
                      payload => {iss => 'https://login.example.org/quickstart/v2.0',
                                  aud => 'api://notify-hub', iat => time,
                                  nbf => time - 60, exp => time + 6 * 3600, %c});
}

1;
