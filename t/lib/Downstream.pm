package Downstream;

# A downstream system for delivery tests: a real HTTP server on loopback
# (HTTP::Daemon) in a child process, answering the push contract, failing
# on command, and recording every request it gets.
#
#   /ok                   200 {"Success": true, "Code": "0", "Message": "OK"}
#   /int                  200 {"Success": true, "Code": 0}
#   .../answer/<code>...  <code> with no body (what other contracts call
#                         success: 201, 202, 204), also after /fail/...
#   /slow/<ms>...         the push contract's OK, after <ms> milliseconds
#   /fail/<kind>/<n>      the first <n> requests to this path fail, then OK;
#                         kinds: 500, false (Success false, Code "12"),
#                         garbage (200 with HTML), close (no answer at all),
#                         busy (503 with Retry-After: 1), gone (410),
#                         limited (429 with Retry-After: 2)
#
# Every request is appended to <dir>/requests.log as one JSON line:
# {"path", "method", "headers": {lower-case name: value}, "body"}.

use strict;
use warnings;

use HTTP::Response;
use JSON::PP;
use LoopbackServer;

my ($dir, $port);

sub start {
    ($port, $dir) = LoopbackServer::start('downstream', \&serve);
    return $port;
}

sub serve {
    my $d;
    ($d, $dir) = @_;
    my %count;
    my $ok = encode_json({Success => JSON::PP::true, Code => "0", Message => "OK"});
    my $deadline = time + 600;     # never outlive a test run

    while (time < $deadline && getppid() != 1) {
        my $c = $d->accept or next;
        $c->timeout(5);

        while (my $req = $c->get_request) {
            my %h;
            $req->headers->scan(sub { $h{lc $_[0]} = $_[1] });

            open my $log, '>>', "$dir/requests.log" or die;
            print $log encode_json({path => $req->uri->path, method => $req->method,
                                    headers => \%h, body => $req->content}), "\n";
            close $log;

            my $path = $req->uri->path;
            my $n = ++$count{$path};
            my $res;

            if ($path =~ m{^/fail/(\w+)/(\d+)} && $n <= $2) {
                my $kind = $1;
                if ($kind eq 'close') {
                    last;
                }
                $res = $kind eq '500' ? HTTP::Response->new(500, 'Oops', [], 'oops')
                     : $kind eq 'false' ? HTTP::Response->new(200, 'OK',
                           ['Content-Type' => 'application/json'],
                           encode_json({Success => JSON::PP::false, Code => "12",
                                        Message => "work item locked"}))
                     : $kind eq 'garbage' ? HTTP::Response->new(200, 'OK',
                           ['Content-Type' => 'text/html'], '<html>maintenance</html>')
                     : $kind eq 'gone' ? HTTP::Response->new(410, 'Gone', [], 'gone')
                     : $kind eq 'limited' ? HTTP::Response->new(429, 'Too Many Requests',
                           ['Retry-After' => '2'], 'slow down')
                     : HTTP::Response->new(503, 'Busy', ['Retry-After' => '1'], 'busy');
            } elsif ($path =~ m{/answer/(\d{3})(/|$)}) {
                $res = HTTP::Response->new($1, 'Answer', [], '');
            } elsif ($path =~ m{^/slow/(\d+)}) {
                select(undef, undef, undef, $1 / 1000);
                $res = HTTP::Response->new(200, 'OK', ['Content-Type' => 'application/json'], $ok);
            } elsif ($path eq '/int') {
                $res = HTTP::Response->new(200, 'OK', ['Content-Type' => 'application/json'],
                                           '{"Success":true,"Code":0}');
            } else {
                $res = HTTP::Response->new(200, 'OK', ['Content-Type' => 'application/json'], $ok);
            }

            $c->send_response($res);
            last;
        }

        $c->close;
    }
}

sub requests {
    my ($path) = @_;
    my @r;
    open my $log, '<', "$dir/requests.log" or return ();
    while (<$log>) {
        my $r = decode_json($_);
        push @r, $r if !defined $path || $r->{path} eq $path;
    }
    return @r;
}

1;
