package LoopbackServer;

# What the tests' own servers (Downstream, HoldDownstream, TokenEndpoint)
# share: an HTTP::Daemon on a free loopback port, served by a child
# process, with a temporary folder for what it records, and stopped when
# the process that started it ends.
#
#   my ($port, $dir) = LoopbackServer::start('downstream', sub {
#       my ($daemon, $dir) = @_;      # in the child: serve until done
#   });

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Daemon;
use POSIX qw(_exit);

# [pid, the process that started it]
my @servers;

sub start {
    my ($name, $serve) = @_;
    my $dir = tempdir("notify-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);

    my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              ReuseAddr => 1, Timeout => 1)
        or die "cannot listen: $!";
    my $port = $d->sockport;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $serve->($d, $dir);
        _exit(0);
    }

    close $d;
    push @servers, [$pid, $$];
    return ($port, $dir);
}

# Only the process that started a server stops it (the test runner's
# children run this file's END block too).
sub stop {
    local $?;

    for my $s (@servers) {
        next unless $s->[0] && $s->[1] == $$;
        kill 'TERM', $s->[0];
        waitpid $s->[0], 0;
        $s->[0] = undef;
    }
}

END { stop() }

1;
