#!/usr/bin/perl
# Tests the Test::Nginx::Socket runner itself.
#
# This is a plain Test::More test, not a data-driven Test::Nginx file.  It
# runs the fixture files in t/runner/ as child processes (same perl, same
# @INC), each with a port and a servroot of its own, parses their TAP
# output and checks that the blocks that must pass pass and the blocks that
# must fail do fail.  Only behaviour that the real Test::Nginx::Socket also
# has is asserted (test counts per block, "status code ok" test names,
# "TEST N:" in every test name, SKIP/ONLY, bail-outs), so this test passes
# with either runner.

use strict;
use warnings;

use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;

my $top = abs_path(dirname(abs_path(__FILE__)) . '/..');

# The children get our @INC (absolute) as PERL5LIB, so that they load the
# same Test::Nginx::Socket as a `prove` run of the suite would.
my @inc = map { abs_path($_) // $_ } grep { !ref && -d } @INC;

chdir $top or die "chdir $top: $!";

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
if (system("$nginx -V > /dev/null 2>&1") != 0) {
    plan skip_all => "cannot run $nginx -V";
}

my $tmp = tempdir('/tmp/tn-runner-test-XXXXXX', CLEANUP => 1);

# A port that nothing listens on, for one child at a time.
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "cannot bind: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# Run t/runner/NAME.t; returns a hash with rc, plan, bail, tests, output.
sub run_fixture {
    my ($name) = @_;
    my $servroot = "$tmp/servroot-$name";
    my $out = "$tmp/$name.out";
    my $err = "$tmp/$name.err";

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        # A clean TEST_NGINX_* environment: none of the parent run's port,
        # servroot, modules or modes, only the binary and timing knobs.
        my %keep = map { $_ => 1 } qw(TEST_NGINX_BINARY TEST_NGINX_LD_PRELOAD
                                      TEST_NGINX_SLEEP TEST_NGINX_TIMEOUT);
        delete $ENV{$_} for grep { /^TEST_NGINX_/ && !$keep{$_} } keys %ENV;
        $ENV{TEST_NGINX_PORT}        = free_port();
        $ENV{TEST_NGINX_SERVROOT}    = $servroot;
        $ENV{TEST_NGINX_RUNNER_WORD} = "xyzzy$$";
        $ENV{PERL5LIB} = join ':', @inc;
        delete $ENV{HARNESS_ACTIVE};
        open STDOUT, '>', $out or die $!;
        open STDERR, '>', $err or die $!;
        exec $^X, "t/runner/$name.t";
        exit 127;
    }
    waitpid $pid, 0;
    my %r = (rc => $? >> 8, tests => [], output => slurp($out),
             stderr => slurp($err), servroot => $servroot);
    for my $line (split /\n/, $r{output}) {
        if ($line =~ /^1\.\.(\d+)/) {
            $r{plan} = $1;
        } elsif ($line =~ /^Bail out!\s*(.*)/) {
            $r{bail} = $1;
        } elsif ($line =~ /^(not )?ok \d+(.*)$/) {
            my ($ok, $rest) = (!$1, $2);
            my $skip = $rest =~ /^\s*#\s*skip/i ? 1 : 0;
            (my $desc = $rest) =~ s/^\s*-\s*//;
            my ($block) = $desc =~ /\b(TEST \d+):/;
            push @{ $r{tests} }, { ok => $ok, skip => $skip,
                                   desc => $desc, block => $block // '' };
        }
    }
    return \%r;
}

sub slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return scalar <$fh>;
}

sub of_block { my ($r, $b) = @_; grep { $_->{block} eq $b } @{ $r->{tests} } }

# The child must not leave nginx running behind it.
sub nginx_gone {
    my ($r, $name) = @_;
    my $pidfile = "$r->{servroot}/logs/nginx.pid";
    my $pid = -e $pidfile ? (slurp($pidfile) =~ /(\d+)/)[0] : undef;
    my $alive = $pid && kill(0, $pid)
        && (slurp("/proc/$pid/stat") !~ /^\d+ \(.*\) Z /s);
    ok(!$alive, "$name: nginx is stopped at the end");
    kill 'KILL', $pid if $alive;
}

sub show_output_on_failure {
    my ($r, $ok) = @_;
    diag("child output:\n$r->{output}\nchild stderr:\n$r->{stderr}") unless $ok;
}

#--------------------------------------------------------------------------
# pass.t: every block passes, with the test counts of the spec (§14).
#--------------------------------------------------------------------------
{
    my $r = run_fixture('pass');
    my $all = 1;
    $all &= is($r->{rc}, 0, 'pass.t: exit status 0');
    my @bad = grep { !$_->{ok} } @{ $r->{tests} };
    $all &= is(scalar(@bad), 0, 'pass.t: no failing test')
        or diag(join "\n", map { $_->{desc} } @bad);
    my %count = (
        'TEST 1'  => 3,   # error_code, response_body, no_error_log
        'TEST 2'  => 2,   # status, response_body_like
        'TEST 3'  => 7,   # status, raw like, raw unlike, 3 headers, body
        'TEST 4'  => 3,   # status, response_headers_like, body_unlike
        'TEST 5'  => 2,   # more_headers
        'TEST 6'  => 6,   # 2 requests x (status, body, no_error_log)
        'TEST 7'  => 4,   # 2 pipelined requests x (status, body)
        'TEST 8'  => 2,   # raw_request
        'TEST 9'  => 2,   # request body + Content-Length
        'TEST 10' => 2,   # packets
        'TEST 11' => 2,   # user_files
        'TEST 12' => 3,   # status, error_log, grep_error_log
        'TEST 13' => 2,   # must_die + error_log
        'TEST 14' => 4,   # status, body, tcp_query, tcp_query_len
        'TEST 15' => 2,   # $TEST_NGINX_* expansion
        'TEST 18' => 3,   # status, body, no_error_log
        'TEST 19' => 1,   # abort + ignore_response: only no_error_log
        'TEST 20' => 3,   # status, body, shutdown_error_log
        'TEST 21' => 3,   # status, body, tcp_query (qr//, auto timeout)
    );
    for my $b (sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } keys %count) {
        my @t = of_block($r, $b);
        $all &= is(scalar(@t), $count{$b}, "pass.t: $b emitted $count{$b} tests");
        $all &= ok(!(grep { !$_->{ok} } @t), "pass.t: $b passed");
    }
    $all &= is(scalar(grep { $_->{desc} =~ /status code ok/ } of_block($r, 'TEST 6')),
               2, 'pass.t: request eval with 2 requests checks 2 status codes');
    $all &= is(scalar(of_block($r, 'TEST 16')), 0, 'pass.t: --- SKIP block not run');
    $all &= is(scalar(grep { $_->{skip} } @{ $r->{tests} }), 2,
               'pass.t: skip_eval: 2 reported 2 skips');
    $all &= is($r->{plan}, 58, 'pass.t: 58 tests in total');
    nginx_gone($r, 'pass.t');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# fail.t: every block fails.
#--------------------------------------------------------------------------
{
    my $r = run_fixture('fail');
    my $all = 1;
    $all &= isnt($r->{rc}, 0, 'fail.t: exit status is not 0');
    my %what = (
        'TEST 1' => 'wrong status code',
        'TEST 2' => 'wrong body',
        'TEST 3' => 'wrong header',
        'TEST 4' => '[error] line with no_error_log [error]',
        'TEST 5' => 'missing error_log pattern',
        'TEST 6' => 'must_die with a config that starts',
        'TEST 7' => 'tcp_query mismatch',
        'TEST 8' => 'response_body_like mismatch',
        'TEST 9' => 'a header line without a colon, the header present',
    );
    for my $b (sort keys %what) {
        my @t = of_block($r, $b);
        $all &= ok(scalar(grep { !$_->{ok} } @t), "fail.t: $b ($what{$b}) fails");
    }
    # The failure is the intended one, not a side effect.
    $all &= ok(scalar(grep { !$_->{ok} && $_->{desc} =~ /status code ok/ }
                      of_block($r, 'TEST 1')),
               'fail.t: TEST 1 fails on the status code');
    $all &= ok(scalar(grep { !$_->{ok} && $_->{desc} =~ /header X-Foo/ }
                      of_block($r, 'TEST 9')),
               'fail.t: TEST 9 fails on the header line');
    for my $b ('TEST 2', 'TEST 3', 'TEST 4', 'TEST 5', 'TEST 7', 'TEST 8',
               'TEST 9') {
        $all &= ok(scalar(grep { $_->{ok} && $_->{desc} =~ /status code ok/ }
                          of_block($r, $b)),
                   "fail.t: $b still gets the status code right");
    }
    nginx_gone($r, 'fail.t');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# tcp-wait.t: the tcp_listen server waits for length(tcp_query) bytes.
#--------------------------------------------------------------------------
{
    my $r = run_fixture('tcp-wait');
    my $all = 1;
    $all &= ok(scalar(grep { !$_->{ok} && $_->{desc} =~ /status code ok/ }
                      of_block($r, 'TEST 1')),
               'tcp-wait.t: no reply while the server waits for the rest');
    nginx_gone($r, 'tcp-wait.t');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# end.t: the tcp_listen server ends with an ordinary exit (END blocks run).
#--------------------------------------------------------------------------
{
    my $r = run_fixture('end');
    my $all = 1;
    $all &= is($r->{rc}, 0, 'end.t: exit status 0');
    $all &= is(join(',', sort split /\n/, slurp("$r->{servroot}.end")),
               'child,main', 'end.t: END ran in the tcp_listen child and in main');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# repeat.t: repeat_each(2) with plan tests => repeat_each() * blocks() * 3.
#--------------------------------------------------------------------------
{
    my $r = run_fixture('repeat');
    my $all = 1;
    $all &= is($r->{rc}, 0, 'repeat.t: exit status 0');
    $all &= is($r->{plan}, 12, 'repeat.t: plan is 2 * 2 blocks * 3');
    $all &= is(scalar(grep { $_->{ok} } @{ $r->{tests} }), 12, 'repeat.t: 12 tests pass');
    $all &= is(scalar(of_block($r, 'TEST 1')), 6, 'repeat.t: TEST 1 ran twice');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# only.t: --- ONLY
#--------------------------------------------------------------------------
{
    my $r = run_fixture('only');
    my $all = 1;
    $all &= is($r->{rc}, 0, 'only.t: exit status 0');
    $all &= is(scalar(@{ $r->{tests} }), 2, 'only.t: only the ONLY block ran');
    $all &= is(scalar(of_block($r, 'TEST 2')), 2, 'only.t: it is TEST 2');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# bail.t: an undefined $TEST_NGINX_* variable bails out.
#--------------------------------------------------------------------------
{
    my $r = run_fixture('bail');
    my $all = 1;
    $all &= isnt($r->{rc}, 0, 'bail.t: exit status is not 0');
    $all &= like($r->{bail} // '', qr/TEST_NGINX_SURELY_NOT_DEFINED_ANYWHERE/,
                 'bail.t: bails out naming the undefined variable');
    nginx_gone($r, 'bail.t');
    show_output_on_failure($r, $all);
}

#--------------------------------------------------------------------------
# Files that cannot run as written: the real runner bails out or fails a
# test (never passes them); ours bails out, naming what is missing.
#--------------------------------------------------------------------------
for my $case (['bail-headers', qr/more_headers/,
               'a more_headers array without an entry for a request'],
              ['bail-body', qr/response_body/,
               'a response_body array without an entry for a request'],
              ['bail-tcp-regex', qr/tcp_query/,
               'a qr\/\/ tcp_query with neither length nor auto timeout'])
{
    my ($name, $what, $desc) = @$case;
    my $r = run_fixture($name);
    my $bad = defined $r->{bail} || grep { !$_->{ok} } @{ $r->{tests} };
    my $all = ok($bad, "$name.t: $desc does not pass");
    if (defined $r->{bail}) {
        $all &= like($r->{bail}, $what, "$name.t: the bail-out names it");
    }
    nginx_gone($r, "$name.t");
    show_output_on_failure($r, $all);
}

done_testing();
