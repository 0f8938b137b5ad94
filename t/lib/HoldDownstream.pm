package HoldDownstream;

# A downstream for ordering tests: a real HTTP server on loopback
# (HTTP::Daemon) that serves each connection in a process of its own, so
# that a request it holds does not keep it from taking the next one.  It
# answers the push contract (200 {"Success": true, "Code": "0"}), and
# records when each request started and when its answer was sent, in the
# order it happened: "start <path> <mark>", "end <path> <mark> <status>"
# (one line each, appended to <dir>/events.log).  A request's mark is the
# last path segment of the first "https://x.example.org/..." URL in its
# body (the notification's URL).  With each start it records the request's
# Idempotency-Key (the push contract's "notify-<id>[-<part>]"), as
# "<mark> <key>" in <dir>/keys.log.
#
# The test controls it with files: while <dir>/hold-<name>-<mark> exists a
# request of <mark> to /<name>/... is held (not answered); it is answered
# 500 when <dir>/fail-<name>-<mark> exists, else 410 when
# <dir>/gone-<name>-<mark> does (a webhook's endpoint gone: given up), else
# <code> for a path with "/answer/<code>/" (what Graph's bulk call answers:
# 202), else 200.  A held request is answered after 60 s at the latest.

use strict;
use warnings;

use HTTP::Response;
use Fcntl qw(:flock);
use LoopbackServer;
use POSIX qw(_exit WNOHANG);
use Time::HiRes ();

my $dir;

sub start {
    (my $port, $dir) = LoopbackServer::start('hold', \&serve);
    return $port;
}

sub serve {
    my $d;
    ($d, $dir) = @_;
    my $deadline = time + 900;      # never outlive a test run
    my $parent = getppid();

    while (time < $deadline && getppid() == $parent) {
        1 while waitpid(-1, WNOHANG) > 0;

        my $c = $d->accept or next;
        my $child = fork;

        if (!defined $child || $child == 0) {
            connection($c);
            _exit(0) if defined $child;
        }

        $c->close;
    }
}

sub connection {
    my ($c) = @_;
    $c->timeout(10);

    while (my $req = $c->get_request) {
        my $path = $req->uri->path;
        my ($name) = $path =~ m{^/([^/]*)};
        my ($mark) = $req->content =~ m{https://x\.example\.org/(?:[^"/]*/)*([\w.-]+)};
        $mark //= '-';

        event("start $path $mark");
        event($mark . ' ' . ($req->header('Idempotency-Key') // '-'),
              'keys.log');

        my $until = time + 60;
        while (-e "$dir/hold-$name-$mark" && time < $until) {
            Time::HiRes::sleep(0.02);
        }

        my $res = -e "$dir/fail-$name-$mark"
            ? HTTP::Response->new(500, 'Oops', [], 'oops')
            : -e "$dir/gone-$name-$mark"
            ? HTTP::Response->new(410, 'Gone', [], '')
            : $path =~ m{/answer/(\d{3})/}
            ? HTTP::Response->new($1, 'Answer', [], '')
            : HTTP::Response->new(200, 'OK',
                  ['Content-Type' => 'application/json'],
                  '{"Success":true,"Code":"0","Message":"OK"}');

        event("end $path $mark " . $res->code);
        $c->send_response($res);
    }

    $c->close;
}

sub event {
    my ($line, $file) = @_;
    $file //= 'events.log';
    open my $log, '>>', "$dir/$file" or die "$dir/$file: $!";
    flock $log, LOCK_EX;
    print $log "$line\n";
    close $log;
}

sub touch {
    my ($what, $name, $mark) = @_;
    open my $fh, '>', "$dir/$what-$name-$mark" or die $!;
    close $fh;
}

# hold(NAME, MARK), release(NAME, MARK): requests of MARK to /NAME
sub hold { touch('hold', @_) }
sub release { unlink "$dir/hold-$_[0]-$_[1]" }

# fail(NAME, MARK), heal(NAME, MARK): answered 500, or 200 again
sub fail { touch('fail', @_) }
sub heal { unlink "$dir/fail-$_[0]-$_[1]" }

# gone(NAME, MARK): answered 410
sub gone { touch('gone', @_) }

# the events so far, each "start PATH MARK" or "end PATH MARK STATUS"
sub events {
    open my $log, '<', "$dir/events.log" or return ();
    chomp(my @e = <$log>);
    return @e;
}

# the events of one path, without it: "start MARK", "end MARK STATUS"
sub at {
    my ($path) = @_;
    return map { /^(\w+) \Q$path\E (.*)$/ ? "$1 $2" : () } events();
}

# the Idempotency-Key of each mark's requests: mark => [key, ...]
sub keys_of {
    my %k;
    open my $log, '<', "$dir/keys.log" or return \%k;
    while (my $l = <$log>) {
        push @{ $k{$1} }, $2 if $l =~ /^(\S+) (\S+)$/;
    }
    return \%k;
}

# waits until CODE is true (60 s at the most); returns what it returned
sub wait_for {
    my ($code) = @_;
    for (1 .. 3000) {
        my $r = $code->();
        return $r if $r;
        Time::HiRes::sleep(0.02);
    }
    return $code->();
}

sub clear {
    unlink glob("$dir/*");
}

1;
