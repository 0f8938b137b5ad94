package Test::Nginx::Socket;

# The project's own Test::Nginx::Socket-compatible test runner.
#
# It runs the data-driven .t format of openresty's Test::Nginx::Socket (the
# commonly used subset) and is written from the project's behavioural
# description (test-nginx-spec.md); no code is taken from openresty's
# test-nginx.  It is only put on @INC (PERL5LIB=t/compat) when the real
# module is not installed.
#
# Like the real one it is a Test::Base subclass, so block parsing, filters,
# ONLY/SKIP/LAST, plan import and blocks() come from Test::Base.
#
# NOTE: `use Test::Base -Base` source-filters this file with Spiffy, which
# inserts `my $self = shift;` into every `sub NAME {`.  All named subs below
# are therefore written `sub NAME () {`, which Spiffy turns into a plain
# function (the empty prototype is removed by the filter).
#
# This file holds the request side: building requests from a block, the
# HTTP client, response parsing and the response assertions.  Server
# management, nginx.conf generation and the error-log checks live in
# Test::Nginx::Util (Util.pm, beside this file).

use Test::Base -Base;

use IO::Select ();
use IO::Socket::INET ();
use HTTP::Response ();
use Time::HiRes ();
use Digest::MD5 ();
use Digest::SHA ();

use Test::Nginx::Util qw(:DEFAULT
    expand_env_in_text parse_time check_error_log check_access_log
    t_ok t_is t_like t_unlike t_is_str t_pass t_fail);

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests repeat_each no_shuffle no_long_string log_level
    workers master_on master_off master_process_enabled worker_connections
    no_root_location check_accum_error_log env_to_nginx
    server_name server_addr server_port server_port_for_client
    html_dir server_root timeout config_preamble
    add_block_preprocessor add_cleanup_handler add_test_cleanup_handler
    add_response_body_check bail_out is_str use_hup no_nginx_manager
);

my @ResponseBodyChecks;
my $ConnectFailures = 0;
my $LastConnectFailed = 0;
my $TB = Test::Builder->new;

sub add_response_body_check () {
    push @ResponseBodyChecks, shift;
}

# Hook the request side into Util's run loop.
$Test::Nginx::Util::RequestHandler = \&run_requests;

#----------------------------------------------------------------------------
# Building requests (spec section 8.1).
#----------------------------------------------------------------------------

# "Key: value" lines -> list of [key, value]; '#' lines are skipped.
sub parse_more_headers () {
    my $text = shift;
    my @h;
    return @h unless defined $text;
    for my $line (split /\n/, $text) {
        next if $line =~ /^\s*#/ || $line !~ /\S/;
        $line =~ s/^\s+//;
        $line =~ s/\r$//;
        my ($k, $v) = split /:\s*/, $line, 2;
        push @h, [$k, $v // ''];
    }
    return @h;
}

# Request text ("METHOD [URI [VERSION]]\nbody") -> (head, body).
sub build_http_request () {
    my ($name, $text, $more_headers, $keepalive) = @_;
    $text //= '';
    # Leading whitespace and leading '#' comment lines of the whole value.
    1 while $text =~ s/^\s+// || $text =~ s/^#[^\n]*(?:\n|\z)//;
    my ($first, $body) = split /\n/, $text, 2;
    $first //= '';
    $body  //= '';
    $first =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*\r?$/
        or bail_out("$name - Request line is not valid: \"$first\"");
    my ($method, $uri, $version) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my @headers = parse_more_headers($more_headers);
    my $has_host = grep { lc $_->[0] eq 'host' } @headers;
    my $has_conn = grep { lc $_->[0] eq 'connection' } @headers;
    my $chunked  = grep { lc $_->[0] eq 'transfer-encoding'
                          && $_->[1] eq 'chunked' } @headers;

    my $head = "$method $uri $version\r\n";
    $head .= "Host: $Test::Nginx::Util::ServerName\r\n" unless $has_host;
    $head .= 'Connection: ' . ($keepalive ? 'keep-alive' : 'close') . "\r\n"
        unless $has_conn;
    $head .= "$_->[0]: $_->[1]\r\n" for @headers;
    if (length $body && !$chunked
        && ($more_headers // '') !~ /(?:^|\n)Content-Length:/)
    {
        $body =~ s/^\s+//;
        $body =~ s/\s+$//;
        $head .= 'Content-Length: ' . length($body) . "\r\n";
    }
    $head .= "\r\n";
    return ($head, $body, $method);
}

# A packet is a string or { value => ..., delay_before => secs }.
sub as_packet () {
    my $p = shift;
    return ref $p eq 'HASH' ? {%$p} : { value => $p };
}

# A request given as packets: the full request is built from the joined
# text, then its body is cut again at the original packet boundaries.
sub build_packets_request () {
    my ($name, $parts, $more_headers) = @_;
    my @pkts = map { as_packet($_) } @$parts;
    my $joined = join '', map { $_->{value} // '' } @pkts;
    my ($head, $body, $method) = build_http_request($name, $joined, $more_headers, 0);

    # Where the body starts in the joined text, and how much of its length
    # was trimmed away at the front.
    my $nl = index($joined, "\n");
    my $bstart = $nl < 0 ? length $joined : $nl + 1;
    my $raw_body = substr($joined, $bstart);
    my $lead = 0;
    if (length $body && length $raw_body) {
        my $p = index($raw_body, $body);
        $lead = $p if $p > 0;
    }
    $bstart += $lead;

    my ($pos, @out) = (0);
    for my $i (0 .. $#pkts) {
        my $len = length($pkts[$i]{value} // '');
        my ($s, $e) = ($pos, $pos + $len);
        $pos = $e;
        my $from = $s > $bstart ? $s - $bstart : 0;
        my $to   = $e - $bstart;
        $to = length $body if $to > length $body;
        $to = $from if $to < $from;
        $to = length $body if $i == $#pkts;
        my $chunk = substr($body, $from, $to - $from);
        my $value = ($i == 0 ? $head : '') . $chunk;
        push @out, { value => $value, delay_before => $pkts[$i]{delay_before} };
    }
    return (\@out, $method);
}

# Returns a list of exchanges.  Each exchange is one connection:
#   { packets => [{value, delay_before}], count => N responses, head => bool }
sub build_requests () {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @p = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        @p = map { as_packet($_) } @p;
        my $first = $p[0]{value} // '';
        return ({ packets => \@p, count => 1,
                  head => ($first =~ /^\s*HEAD\b/ ? 1 : 0) });
    }

    my $more = $block->more_headers;

    # An array gives each request its headers: every request must have an
    # entry, as the real runner demands (an empty string for none).
    my $headers_of = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        defined $more->[$i]
            or bail_out("$name - --- more_headers lacks data for request $i");
        return $more->[$i];
    };

    if (defined(my $pipe = $block->pipelined_requests)) {
        my @reqs = ref $pipe eq 'ARRAY' ? @$pipe : ($pipe);
        my ($data, @heads) = ('');
        for my $i (0 .. $#reqs) {
            my $mh = $headers_of->($i);
            my ($h, $b, $m) = build_http_request($name,
                expand_env_in_text($reqs[$i]), $mh, $i < $#reqs);
            $data .= $h . $b;
            push @heads, $m eq 'HEAD';
        }
        return ({ packets => [{ value => $data }], count => scalar(@reqs),
                  heads => \@heads, pipelined => 1 });
    }

    my $req = $block->request;
    if (!defined $req && defined(my $code = $block->request_eval)) {
        $req = eval "package main; $code";
        bail_out("$name - request_eval failed: $@") if $@;
    }
    bail_out("$name - no --- request section") unless defined $req;

    my @list = ref $req eq 'ARRAY' ? @$req : ($req);
    my @ex;
    for my $i (0 .. $#list) {
        my $mh = $headers_of->($i);
        if (ref $list[$i] eq 'ARRAY') {
            my ($pkts, $m) = build_packets_request($name, $list[$i], $mh);
            push @ex, { packets => $pkts, count => 1, head => $m eq 'HEAD' };
        } else {
            my ($h, $b, $m) = build_http_request($name, $list[$i], $mh, 0);
            push @ex, { packets => [{ value => $h . $b }], count => 1,
                        head => $m eq 'HEAD' };
        }
    }
    return @ex;
}

#----------------------------------------------------------------------------
# The client (spec section 8.2).
#----------------------------------------------------------------------------
sub connect_server () {
    my ($block, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // '127.0.0.1';
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my $s = $Test::Nginx::Util::TestNginxSleep;
    my $tries = $LastConnectFailed ? 20 : 50;
    my $err = '';
    for my $t (1 .. $tries) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
            Timeout => $timeout,
        );
        if ($sock) { $LastConnectFailed = 0; return $sock }
        $err = $@ || $!;
        my $d = ($s + $s * $t) * $t / 2;
        Time::HiRes::sleep($d > 1 ? 1 : $d);
    }
    $LastConnectFailed = 1;
    if (++$ConnectFailures >= 3) {
        bail_out("$name - failed to connect to $addr:$port three times: $err");
    }
    t_fail("$name - failed to connect to $addr:$port: $err");
    return undef;
}

# Send the packets of one exchange and read until the server closes.
# Returns (raw response, timed_out).
sub send_exchange () {
    my ($block, $ex, $timeout) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $sock = connect_server($block, $timeout) or return (undef, 0);
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $middle = parse_time($block->raw_request_middle_delay);
    my $timed_out = 0;

    my @pkts = @{ $ex->{packets} };
    WRITE:
    for my $i (0 .. $#pkts) {
        my $delay = $pkts[$i]{delay_before} // ($i > 0 ? $middle : undef);
        Time::HiRes::sleep($delay) if $delay;
        my $data = $pkts[$i]{value} // '';
        my $off = 0;
        while ($off < length $data) {
            unless ($sel->can_write($timeout)) { $timed_out = 1; last WRITE }
            my $n = syswrite($sock, $data, length($data) - $off, $off);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                last WRITE;          # peer closed: still read its answer
            }
            $off += $n;
        }
    }
    if (defined(my $how = $block->shutdown)) {
        shutdown($sock, $how =~ /(\d)/ ? $1 : 1);
    }

    my $resp = '';
    until ($timed_out) {
        unless ($sel->can_read($timeout)) { $timed_out = 1; last }
        my $n = sysread($sock, my $buf, 65536);
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            last;
        }
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return ($resp, $timed_out);
}

#----------------------------------------------------------------------------
# Response parsing (spec section 8.3).
#----------------------------------------------------------------------------

# Strict chunked decoding: (body, rest, error, trailers).
sub decode_chunked () {
    my $data = shift;
    my ($body, @trailers) = ('');
    while (1) {
        $data =~ s/^([0-9a-fA-F]+)[ \t]*(?:;[^\r\n]*)?\r\n//
            or return ($body, $data, 'bad chunk-size line');
        my $len = hex $1;
        if ($len == 0) {
            while ($data =~ s/^([^\r\n]+)\r\n//) { push @trailers, $1 }
            $data =~ s/^\r\n// or return ($body, $data, 'missing final CRLF');
            return ($body, $data, undef, \@trailers);
        }
        return ($body . $data, '', 'truncated chunk') if length $data < $len;
        $body .= substr($data, 0, $len, '');
        $data =~ s/^\r\n// or return ($body, $data, 'chunk data not followed by CRLF');
    }
}

# Parse one response off the front of $raw.  Returns (resp, rest).
# resp = { code, raw_head, res (HTTP::Response), body, error }
sub parse_response () {
    my ($raw, $is_head, $block) = @_;
    return (undef, '') unless defined $raw && length $raw;

    if (defined $block->http09) {
        return ({ code => 200, raw_head => '', res => HTTP::Response->new(200),
                  body => $raw }, '');
    }

    my $sep = index($raw, "\r\n\r\n");
    my ($head, $rest);
    if ($sep >= 0) {
        $head = substr($raw, 0, $sep);
        $rest = substr($raw, $sep + 4);
    } else {
        $head = $raw;
        $rest = '';
    }
    my $res = HTTP::Response->parse($head);
    my $code = $res->code;
    my %r = (code => $code, raw_head => $head, res => $res, body => '');
    return (\%r, $rest) if !defined $code;

    if ($is_head || $code =~ /^(?:1\d\d|204|304)$/) {
        return (\%r, $rest);
    }
    my $te = $res->header('Transfer-Encoding') // '';
    my $cl = $res->header('Content-Length');
    if ($te =~ /\bchunked\b/i) {
        my ($body, $left, $err, $trailers) = decode_chunked($rest);
        $r{body} = $body;
        $r{error} = "bad chunked body: $err" if $err;
        for my $t (@{ $trailers || [] }) {
            my ($k, $v) = split /:\s*/, $t, 2;
            $res->push_header($k, $v // '');
        }
        return (\%r, $left);
    }
    if (defined $cl && $cl =~ /^\s*(\d+)/) {
        my $len = $1;
        if (length $rest < $len) {
            warn "WARNING: " . $block->name . " - response body truncated: "
               . "got " . length($rest) . " of $len bytes\n";
            $r{body} = $rest;
            return (\%r, '');
        }
        $r{body} = substr($rest, 0, $len);
        return (\%r, substr($rest, $len));
    }
    $r{body} = $rest;
    return (\%r, '');
}

#----------------------------------------------------------------------------
# Response assertions (spec section 9).
#----------------------------------------------------------------------------

# The expected value for request $i: in a multi-request block every value
# must be an array indexed by request.
sub indexed_value () {
    my ($block, $section, $i, $multi) = @_;
    my $v = $block->$section;
    return undef unless defined $v;
    if ($multi) {
        ref $v eq 'ARRAY'
            or bail_out($block->name . " - You asked for many requests, the "
                        . "expected results should be arrays as well.");
        return $v->[$i];
    }
    return ref $v eq 'ARRAY' ? $v->[0] : $v;
}

sub subst_server_port () {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
    return $s;
}

my %BodyFilters = (
    md5_hex  => \&Digest::MD5::md5_hex,
    sha1_hex => \&Digest::SHA::sha1_hex,
    length   => sub { length $_[0] },
    uc => sub { uc $_[0] }, lc => sub { lc $_[0] },
    ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
);

sub apply_body_filters () {
    my ($block, $body, $i, $multi) = @_;
    my $f = $block->response_body_filters;
    return $body unless defined $f;
    # A 2-D array gives one filter list per request.
    $f = $f->[$i] if ref $f eq 'ARRAY' && ref $f->[0] eq 'ARRAY';
    my @filters = ref $f eq 'ARRAY' ? @$f : ref $f eq 'CODE' ? ($f) : split ' ', $f;
    for my $flt (@filters) {
        my $code = ref $flt eq 'CODE' ? $flt : $BodyFilters{$flt}
            or bail_out($block->name . " - unknown response_body_filters entry \"$flt\"");
        $body = $code->($body);
    }
    return $body;
}

sub json_canon () {
    my $s = shift;
    require JSON::PP;
    my $json = JSON::PP->new->canonical(1)->allow_nonref(1);
    my $data = eval { $json->decode($s) };
    return $s if $@;
    return $json->encode($data);
}

sub check_response () {
    my ($block, $resp, $i, $multi, $repeat) = @_;
    my $name = $block->name;
    my $tag = $multi ? " (req $i)" : '';
    $resp //= { code => undef, raw_head => '', body => '',
                res => HTTP::Response->new };
    my $res = $resp->{res};
    my $code = $resp->{code};

    # Status.
    if (defined(my $re = indexed_value($block, 'error_code_like', $i, $multi))) {
        t_like($code, ref $re ? $re : qr/$re/sm, "$name - status code ok$tag");
    } else {
        my $want = indexed_value($block, 'error_code', $i, $multi) // 200;
        t_is($code, $want, "$name - status code ok$tag");
    }

    # Raw header block.
    if (defined(my $re = indexed_value($block, 'raw_response_headers_like', $i, $multi))) {
        t_like($resp->{raw_head}, ref $re ? $re : qr/$re/s,
               "$name - raw resp headers like$tag");
    }
    if (defined(my $re = indexed_value($block, 'raw_response_headers_unlike', $i, $multi))) {
        t_unlike($resp->{raw_head}, ref $re ? $re : qr/$re/s,
                 "$name - raw resp headers unlike$tag");
    }

    # Headers.
    if (defined(my $hs = indexed_value($block, 'response_headers', $i, $multi))) {
        for my $h (header_lines($hs)) {
            my ($neg, $k, $v) = @$h;
            if ($neg) {
                t_unlike($resp->{raw_head}, qr/^\s*\Q$k\E\s*:/ms,
                         "$name - header $k not present$tag");
            } else {
                my $got = scalar $res->header($k);
                t_is($got // '', subst_server_port($v), "$name - header $k ok$tag");
            }
        }
    } elsif (defined(my $hl = indexed_value($block, 'response_headers_like', $i, $multi))) {
        for my $h (header_lines($hl)) {
            my ($neg, $k, $re) = @$h;
            next if $neg;
            my $got = scalar $res->header($k);
            $re = subst_server_port($re);
            t_like($got // '', qr/^$re$/, "$name - header $k like ok$tag");
        }
    }

    # Body.
    my $body = $resp->{body} // '';
    $body = apply_body_filters($block, $body, $i, $multi);
    if (defined(my $out = $block->write_resp_body_file)) {
        if (open my $fh, '>', $out) { binmode $fh; print $fh $body; close $fh }
    }
    my $exp = indexed_value($block, 'response_body', $i, $multi);
    if (ref $block->response_body eq 'ARRAY' && !defined $exp) {
        bail_out("$name - --- response_body lacks data for request $i");
    }
    if (!defined $exp && defined(my $code_str = $block->response_body_eval)) {
        $exp = eval "package main; $code_str";
        bail_out("$name - response_body_eval failed: $@") if $@;
        $exp = $exp->[$multi ? $i : 0] if ref $exp eq 'ARRAY';
    }
    if (defined $exp) {
        if (ref $exp eq 'Regexp') {
            t_like($body, $exp, "$name - response_body - like$tag");
        } else {
            $exp = subst_server_port(expand_env_in_text($exp));
            my $got = $body;
            if (defined $block->response_body_json_sort) {
                $got = json_canon($got);
                $exp = json_canon($exp);
            }
            t_is_str($got, $exp, "$name - response_body - response is expected$tag");
        }
    } elsif (defined(my $re = indexed_value($block, 'response_body_like', $i, $multi))) {
        $re = subst_server_port($re);
        t_like($body, ref $re ? $re : qr/$re/s, "$name - response_body_like - response is expected$tag");
    } elsif (defined(my $ure = indexed_value($block, 'response_body_unlike', $i, $multi))) {
        $ure = subst_server_port($ure);
        t_unlike($body, ref $ure ? $ure : qr/$ure/s, "$name - response_body_unlike - response is expected$tag");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $body, $i, $repeat - 1, defined $Test::Nginx::Util::DryRun);
    }
}

# response_headers text -> list of [negated, name, value]
sub header_lines () {
    my $v = shift;
    if (ref $v eq 'HASH') {
        return map { [0, $_, $v->{$_}] } sort keys %$v;
    }
    my @out;
    for my $line (split /\n/, $v) {
        $line =~ s/^\s+|\s+$//g;
        next unless length $line;
        if ($line =~ /^!\s*(.+?)\s*$/) {
            push @out, [1, $1, undef];
        } elsif ($line =~ /^([^:]+?)\s*:\s*(.*)$/) {
            push @out, [0, $1, $2];
        } else {
            # a name alone, like "! Name": the header must be absent
            push @out, [1, $line, undef];
        }
    }
    return @out;
}

#----------------------------------------------------------------------------
# One repeat of a block: send every request, check every response, and run
# the error-log checks after each non-final request and at the end.
#----------------------------------------------------------------------------
sub run_requests () {
    my ($block, $repeat) = @_;
    my $name = $block->name;
    my $dry = defined $Test::Nginx::Util::DryRun;
    my $timeout = parse_time($block->timeout) // $Test::Nginx::Util::Timeout;
    my $wait = parse_time($block->wait);
    my $ignore = defined $block->ignore_response;

    if (defined $block->curl) {
        my $req = $block->request // '';
        my ($uri) = (ref $req ? '' : $req) =~ /^\s*\S+\s+(\S+)/;
        warn "# curl -i 'http://127.0.0.1:$Test::Nginx::Util::ServerPortForClient"
           . ($uri // '/') . "'\n";
    }

    my @exchanges = build_requests($block);
    my $total = 0;
    $total += $_->{count} for @exchanges;
    my $multi = $total > 1;

    my $idx = 0;
    for my $ex (@exchanges) {
        my ($raw, $timed_out) = $dry ? (undef, 0) : send_exchange($block, $ex, $timeout);
        if ($timed_out && !defined $block->abort) {
            t_fail("ERROR: client socket timed out - $name");
            $TB->no_ending(1);
        }
        my $rest = $raw;
        for my $k (1 .. $ex->{count}) {
            my $is_head = $ex->{pipelined} ? $ex->{heads}[$k - 1] : $ex->{head};
            my ($resp, $left) = parse_response($rest, $is_head, $block);
            $rest = $left;
            unless ($ignore) {
                if ($resp && $resp->{error}) {
                    t_fail("$name - $resp->{error}");
                    $TB->no_ending(1);
                }
                check_response($block, $resp, $idx, $multi, $repeat);
            }
            Time::HiRes::sleep($wait) if $wait;
            if ($idx < $total - 1) {
                check_error_log($block, $idx, $repeat);
                check_access_log($block, $idx);
            }
            $idx++;
        }
        if (!$ignore && defined $rest && length $rest) {
            warn "WARNING: $name - " . length($rest)
               . " unexpected bytes after the last response\n";
        }
    }
    check_error_log($block, $total - 1, $repeat);
    check_access_log($block, $total - 1);
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - the project's own Test::Nginx::Socket-compatible runner

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';
    run_tests();
    __DATA__
    === TEST 1: sanity
    --- config
        location = /t { return 200 "ok\n"; }
    --- request
    GET /t
    --- response_body
    ok

=head1 DESCRIPTION

Put F<t/compat> on PERL5LIB only when the real Test::Nginx is missing:

    perl -MTest::Nginx::Socket -e1 2>/dev/null \
        || export PERL5LIB=$PWD/t/compat${PERL5LIB:+:$PERL5LIB}

Port and server root: TEST_NGINX_PORT (default 1984) and
TEST_NGINX_SERVROOT (default t/servroot); TEST_NGINX_RANDOMIZE=1 picks a
free port and t/servroot_PORT per file, for C<prove -jN>.

Unsupported modes are refused loudly: TEST_NGINX_USE_HUP, _USE_STAP,
_USE_RR, _CHECK_LEAK, _BENCHMARK, _USE_HTTP2, _USE_HTTP3 and
_NO_NGINX_MANAGER make the module die when it loads; use_hup() and
no_nginx_manager() die; a block with --- http2, --- http3 or --- udp_*
sections emits a failing test.  TEST_NGINX_USE_VALGRIND is supported.

=cut
