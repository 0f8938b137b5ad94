#!/usr/bin/perl
# Seeds fuzz/corpus/<target>/ from the tests: every JSON object in t/*.t
# that looks like a request body of a dialect (by its fields), and for the
# JWT target, header and claims pairs (first byte odd: the target signs
# them) and raw Authorization values (first byte even).
#
#   perl fuzz/extract-corpus.pl            (from the repository's root)
#
# File names are the SHA-1 of the content, as libFuzzer names its own.

use strict;
use warnings;

use Digest::SHA qw(sha1_hex);
use JSON::PP;

my $json = JSON::PP->new->allow_nonref;
my $canon = JSON::PP->new->canonical;
my %n;

sub save {
    my ($t, $data) = @_;
    my $dir = "fuzz/corpus/$t";
    mkdir "fuzz/corpus";
    mkdir $dir;
    my $f = "$dir/" . sha1_hex($data);
    return if -e $f;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $data;
    close $fh;
    $n{$t}++;
}

my %fields = (
    syntphony => [qw(eventId accounts uniqueId)],
    graph => [qw(topic activityType previewText recipient recipients templateParameters)],
    gever => [qw(notification_recipients resource_url summary label)],
    push => [qw(WorkItem WorkItemType Type)],
);

for my $file (glob('t/*.t'), 'README.md', glob('conf-examples/*.conf')) {
    open my $fh, '<', $file or die;
    local $/;
    my $text = <$fh>;
    # the bodies are in Perl strings: undo the usual escapes
    (my $plain = $text) =~ s/\\"/"/g;
    $plain =~ s/\$::\w+/x-1/g;
    while ($plain =~ /\{/g) {
        my $pos = pos($plain) - 1;
        my ($v) = eval { $json->decode_prefix(substr($plain, $pos, 20000)) };
        next unless ref $v eq 'HASH' && %$v;
        my $body = JSON::PP->new->canonical->encode($v);
        for my $t (keys %fields) {
            save($t, $body) if grep { exists $v->{$_} } @{$fields{$t}};
        }
    }
}

# the JWT target: signed header and claims (odd first byte), raw values
my $now = 1795000000;
my @claims = (
    {iss => 'https://issuer.example.org', aud => 'api://notify-hub', exp => $now + 3600,
     nbf => $now - 5, iat => $now, azp => 'app', roles => ['r1', 'r2'], scp => 'a b',
     oid => 'u-1', upn => 'u1@example.org', tid => 't', sub => 's'},
    {iss => 'https://issuer.example.org', aud => ['x', 'api://notify-hub'], exp => $now + 1.5,
     preferred_username => 'p', appid => 'a'},
    {exp => 'soon', nbf => [], iat => {}},
    {iss => 'wrong', aud => 'api://notify-hub', exp => $now - 100},
);
my @headers = ({alg => 'HS256', kid => 'k1'}, {alg => 'HS256'}, {alg => 'RS256', kid => 'k1'},
               {alg => 'none'}, {alg => 'HS256', crit => ['x']}, {alg => 'HS256', kid => 5});
for my $h (@headers) {
    for my $c (@claims) {
        save('jwt', "\x01" . $canon->encode($h) . "\n" . $canon->encode($c));
    }
}
save('jwt', "\x00$_") for ('Bearer a.b.c', 'bearer  eyJhbGciOiJIUzI1NiJ9.e30.sig',
                          'x y', 'eyJhbGciOiJub25lIn0.eyJleHAiOjF9.', 'Bearer', '...');

printf "%s: %d new\n", $_, $n{$_} for sort keys %n;
