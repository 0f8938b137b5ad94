#!/usr/bin/perl
# scripts/bench-stream: the directory of <users> users, a token for each
# (minted with Crypt::JWT, never by the hub's own code), the app's token,
# and a wrk script that posts a notification to a random user each time.
#
#   stream-mint.pl <conf dir> <signing key .jwk> <users>

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use BenchToken;
use JSON::PP;

my ($conf, $keyfile, $n) = @ARGV;

my $json = JSON::PP->new->canonical;

sub token { return BenchToken::token($keyfile, @_) }

my (@users, @tokens);
for my $i (0 .. $n) {     # the last one is the probe's
    my $id = sprintf '0c000000-0000-4000-9000-%012d', $i;
    my $upn = sprintf 's%05d@bench.example', $i;
    push @users, {id => $id, upn => $upn, active => JSON::PP::true};
    push @tokens, {upn => $upn, token => token(azp => 'bench-portal', oid => $id,
                                               upn => $upn)};
}

open my $fh, '>', "$conf/directory.json" or die "$conf/directory.json: $!";
print $fh $json->encode({users => \@users, groups => [], teams => [], chats => []});
close $fh;

my $app = token(azp => 'bench-app', roles => ['access_as_application']);

open $fh, '>', "$conf/tokens.json" or die "$conf/tokens.json: $!";
print $fh $json->encode({app => $app, users => \@tokens});
close $fh;

# wrk: each request to one of the users that hold a stream (not the probe)
open $fh, '>', "$conf/inbound.lua" or die "$conf/inbound.lua: $!";
print $fh <<LUA;
local n = 0
request = function()
    n = n + 1
    local to = string.format("s%05d\@bench.example", math.random(0, $n - 1))
    local body = '{"eventId":"load","title":"load ' .. n .. '",'
        .. '"url":"https://ci.example.org/builds/42","accounts":["' .. to .. '"]}'
    return wrk.format("POST", "/ActivityCenter/app/setExternalNotification",
        {["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer $app"}, body)
end
LUA
close $fh;
