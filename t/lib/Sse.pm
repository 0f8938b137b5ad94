# A client of Server-Sent Events for the tests: a stream opened on its own
# connection, its events read as they come (each bounded by a deadline, a
# failure bound only: no test asserts a time), and plain requests beside.
package Sse;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);

# stream(port, path, headers text, rcvbuf): the stream, its status line and
# header, or undef and what went wrong
sub stream {
    my ($port, $path, $headers, $rcvbuf) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return (undef, "connect: $!");
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, $rcvbuf) if $rcvbuf;
    $s->autoflush(1);
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n" . ($headers // '') . "\r\n";
    my $st = bless {sock => $s, buf => '', events => [], eof => 0}, 'Sse';
    my $deadline = time + 10;
    while ($st->{buf} !~ /\r\n\r\n/ && time < $deadline) {
        $st->fill(1) or last;
    }
    return (undef, "no header: $st->{buf}") unless $st->{buf} =~ s/^(.*?)\r\n\r\n//s;
    $st->{header} = $1;
    ($st->{status}) = $st->{header} =~ m{^HTTP/1\.\d (\d+)};
    $st->{chunked} = $st->{header} =~ /^Transfer-Encoding: chunked/mi;
    $st->{raw} = '';
    return ($st, $st->{header});
}

sub header { my ($st, $name) = @_; return $st->{header} =~ /^\Q$name\E: *(.*?)\r?$/mi ? $1 : undef }

# reads what is there (up to "wait" seconds); false at EOF
sub fill {
    my ($st, $wait) = @_;
    return 0 if $st->{eof};
    my $sel = IO::Select->new($st->{sock});
    return 1 unless $sel->can_read($wait);
    my $n = sysread($st->{sock}, my $data, 65536);
    if (!$n) { $st->{eof} = 1; return 0 }
    $st->{buf} .= $data;
    return 1;
}

# the body so far, without chunked framing
sub body {
    my ($st) = @_;
    if (!$st->{chunked}) { $st->{raw} .= $st->{buf}; $st->{buf} = ''; return }
    while ($st->{buf} =~ /^([0-9a-fA-F]+)\r\n/) {
        my $len = hex $1;
        my $hl = length($1) + 2;
        last if length($st->{buf}) < $hl + $len + 2;
        $st->{raw} .= substr($st->{buf}, $hl, $len);
        substr($st->{buf}, 0, $hl + $len + 2) = '';
        if ($len == 0) { $st->{eof} = 1; last }
    }
}

# the events and comments parsed so far, each {event, id, data} or
# {comment}
sub parse {
    my ($st) = @_;
    $st->body;
    while ($st->{raw} =~ s/^(.*?)\n\n//s) {
        my %e;
        for my $line (split /\n/, $1) {
            if ($line =~ /^:\s?(.*)/) { $e{comment} = $1 }
            elsif ($line =~ /^(\w+): ?(.*)/) { $e{$1} = $2 }
        }
        push @{ $st->{events} }, \%e;
    }
}

# waits (at most "wait" seconds) until "want" returns true of the events
# read so far; returns the events
sub until {
    my ($st, $want, $wait) = @_;
    my $deadline = time + ($wait // 10);
    while (1) {
        $st->parse;
        return $st->{events} if $want->($st->{events});
        return $st->{events} if $st->{eof} || time >= $deadline;
        $st->fill(0.2);
    }
}

# waits for "n" events (comments not counted)
sub events {
    my ($st, $n, $wait) = @_;
    return [grep { $_->{event} } @{ $st->until(sub { (grep { $_->{event} } @{ $_[0] }) >= $n }, $wait) }];
}

sub close { my ($st) = @_; CORE::close($st->{sock}) }

# one request on its own connection: [status, body]
sub request {
    my ($port, $method, $path, $headers, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or return [0, "connect: $!"];
    $body //= '';
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n" . ($headers // '')
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    my $r = <$s>;
    CORE::close($s);
    my ($status) = $r =~ m{^HTTP/1\.\d (\d+)};
    $r =~ s/^.*?\r\n\r\n//s;
    return [$status // 0, $r];
}

# what a scenario saw, checked against the block's "--- stream_like"
# (a regex a line) with its response
our @Said;
sub say { push @Said, @_ }

sub check_stream_like {
    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return if $dry_run;
        my $want = $block->stream_like;
        return unless defined $want;
        my $said = join "\n", @Said;
        for my $re (grep { length } split /\n/, $want) {
            Test::More::like($said, qr/$re/s, $block->name . " - the stream says /$re/")
                or Test::More::diag($said);
        }
        @Said = ();
    });
}

# a free port of the kernel's choosing, for a server of the block's own
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die "no free port: $!";
    my $p = $s->sockport;
    CORE::close($s);
    return $p;
}

# the events as one line of text: "name data" each, for a regex
sub text {
    my ($events) = @_;
    return join "\n", map { ($_->{event} // ":$_->{comment}") . ' ' . ($_->{data} // '') } @$events;
}

1;
