# A small driver of Chromium for the tests, with nothing from npm: the
# browser is started headless with --remote-debugging-pipe, and speaks the
# Chrome DevTools Protocol over its file descriptors 3 (our commands in)
# and 4 (its answers and events out), each message a JSON text ended by a
# NUL byte.  Every wait is bounded (a bound for failing, never a
# measurement): wait_for polls an expression in the page until it holds.
#
#   my $b = Cdp->start(log => $file) or die $Cdp::Error;
#   my $s = $b->page(900, 600);            # a tab, attached (flat session)
#   $b->navigate($s, $url);
#   $b->wait_for($s, 'document.title !== ""', 30);
#   my $v = $b->evaluate($s, 'document.title');
#   $b->click($s, '.item', 5, 5);
#   $b->screenshot($s, $file);
#   $b->quit;
package Cdp;

use strict;
use warnings;
use Fcntl qw(F_DUPFD);
use File::Temp qw(tempdir);
use IO::Select;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

our $Error;

my $json = JSON::PP->new->utf8->canonical;

# start(chromium => path, log => file, timeout => seconds): the browser, or
# undef with $Cdp::Error saying why it cannot start
sub start {
    my ($class, %o) = @_;
    my $bin = $o{chromium} || $ENV{CHROMIUM} || '/usr/bin/chromium';
    my $log = $o{log} || '/dev/null';

    unless (-x $bin) {
        $Error = "Chromium is not installed ($bin; Debian's package chromium)";
        return undef;
    }

    my $profile = tempdir('notify-chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my ($cmd_r, $cmd_w, $out_r, $out_w);

    pipe($cmd_r, $cmd_w) or die "pipe: $!";
    pipe($out_r, $out_w) or die "pipe: $!";

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        # out of the way of 3 and 4 first, then onto them (dup2 leaves
        # them open across exec)
        my $in = fcntl($cmd_r, F_DUPFD, 10);
        my $out = fcntl($out_w, F_DUPFD, 10);
        POSIX::dup2($in, 3) == 3 or POSIX::_exit(126);
        POSIX::dup2($out, 4) == 4 or POSIX::_exit(126);
        POSIX::close($in);
        POSIX::close($out);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec $bin, '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-dev-shm-usage', '--no-first-run',
             '--no-default-browser-check', "--user-data-dir=$profile",
             '--remote-debugging-pipe', 'about:blank';
        POSIX::_exit(127);
    }

    close $cmd_r;
    close $out_w;

    my $b = bless {pid => $pid, in => $cmd_w, out => $out_r, buf => '',
                   id => 0, answers => {}, events => [],
                   profile => $profile}, $class;

    my $v = eval { $b->call('Browser.getVersion', {}, undef,
                            $o{timeout} || 30) };
    unless ($v) {
        $Error = "Chromium cannot start here ($bin --headless"
                 . " --remote-debugging-pipe): " . ($@ =~ s/\s+$//r);
        $b->quit;
        return undef;
    }

    $b->{version} = $v->{product};
    return $b;
}

sub version { $_[0]{version} }

# sends a command (to a page's session when given); its id
sub command {
    my ($b, $method, $params, $session) = @_;
    my $msg = {id => ++$b->{id}, method => $method, params => $params || {}};
    $msg->{sessionId} = $session if defined $session;
    my $data = $json->encode($msg) . "\0";

    local $SIG{PIPE} = 'IGNORE';
    while (length $data) {
        my $n = syswrite($b->{in}, $data);
        die "Chromium's pipe: $!\n" unless defined $n;
        substr($data, 0, $n, '');
    }
    return $b->{id};
}

# reads the messages there are, waiting up to "wait" seconds for one
sub pump {
    my ($b, $wait) = @_;
    my $sel = IO::Select->new($b->{out});
    return 0 unless $sel->can_read($wait);

    my $n = sysread($b->{out}, $b->{buf}, 65536, length $b->{buf});
    die "Chromium's pipe: $!\n" unless defined $n;
    die "Chromium has closed its pipe\n" if $n == 0;

    while ((my $end = index($b->{buf}, "\0")) >= 0) {
        my $m = $json->decode(substr($b->{buf}, 0, $end));
        substr($b->{buf}, 0, $end + 1, '');
        if (defined $m->{id}) {
            $b->{answers}{$m->{id}} = $m;
        } else {
            push @{$b->{events}}, $m;
        }
    }
    return 1;
}

# a command and its answer's result (dies with the protocol's error)
sub call {
    my ($b, $method, $params, $session, $timeout) = @_;
    my $id = $b->command($method, $params, $session);
    my $deadline = time + ($timeout || 30);

    until ($b->{answers}{$id}) {
        my $left = $deadline - time;
        die "$method: no answer in time\n" if $left <= 0;
        $b->pump($left);
    }

    my $m = delete $b->{answers}{$id};
    die "$method: $m->{error}{message}\n" if $m->{error};
    return $m->{result};
}

# the events seen so far (taken)
sub events {
    my ($b) = @_;
    my @e = @{$b->{events}};
    $b->{events} = [];
    return @e;
}

# the exceptions the page threw, as text, taken from the events
sub page_errors {
    my ($b) = @_;
    my @errors;
    for my $e (@{$b->{events}}) {
        next unless ($e->{method} // '') eq 'Runtime.exceptionThrown';
        my $d = $e->{params}{exceptionDetails};
        push @errors, ($d->{exception}{description} // $d->{text})
                      =~ s/\n.*//sr;
    }
    $b->{events} = [grep { ($_->{method} // '') ne 'Runtime.exceptionThrown' }
                         @{$b->{events}}];
    return @errors;
}

# a new tab of width x height, attached with a flat session: its session id
sub page {
    my ($b, $width, $height) = @_;
    my $t = $b->call('Target.createTarget', {url => 'about:blank'});
    my $a = $b->call('Target.attachToTarget',
                     {targetId => $t->{targetId}, flatten => JSON::PP::true});
    my $s = $a->{sessionId};

    $b->call('Page.enable', {}, $s);
    $b->call('Runtime.enable', {}, $s);
    $b->call('Emulation.setDeviceMetricsOverride',
             {width => $width || 800, height => $height || 600,
              deviceScaleFactor => 1, mobile => JSON::PP::false}, $s)
        if $width;
    return $s;
}

sub navigate {
    my ($b, $s, $url) = @_;
    my $r = $b->call('Page.navigate', {url => $url}, $s);
    die "Page.navigate $url: $r->{errorText}\n" if $r->{errorText};
    return $r;
}

# an expression's value in the page (promises awaited); dies when it throws
sub evaluate {
    my ($b, $s, $expr) = @_;
    my $r = $b->call('Runtime.evaluate',
                     {expression => $expr, awaitPromise => JSON::PP::true,
                      returnByValue => JSON::PP::true}, $s);
    if (my $d = $r->{exceptionDetails}) {
        die "" . (($d->{exception}{description} // $d->{text}) =~ s/\n.*//sr)
            . "\n";
    }
    return $r->{result}{value};
}

# polls an expression until its value is true (then returns it), or dies
# after "timeout" seconds; a page still loading counts as not yet
sub wait_for {
    my ($b, $s, $expr, $timeout) = @_;
    my $deadline = time + ($timeout || 30);
    my $last = 'false';

    for (;;) {
        my $v = eval { $b->evaluate($s, $expr) };
        $last = $@ ? $@ =~ s/\s+$//r : 'false';
        return $v if !$@ && $v;
        die "waited for $expr: $last\n" if time >= $deadline;
        $b->pump(0.1);
    }
}

# a left click at (dx, dy) in the first element that matches a selector,
# as the mouse does it (move, press, release)
sub click {
    my ($b, $s, $selector, $dx, $dy) = @_;
    my $sel = $json->encode($selector);
    my $p = $b->evaluate($s, "(() => { const e = document.querySelector($sel);"
                         . " if (!e) return null; e.scrollIntoView();"
                         . " const r = e.getBoundingClientRect();"
                         . " return {x: r.left, y: r.top}; })()")
        or die "click: no $selector\n";
    my %at = (x => $p->{x} + ($dx // 1), y => $p->{y} + ($dy // 1));

    $b->call('Input.dispatchMouseEvent', {type => 'mouseMoved', %at}, $s);
    for my $type ('mousePressed', 'mouseReleased') {
        $b->call('Input.dispatchMouseEvent',
                 {type => $type, %at, button => 'left', clickCount => 1}, $s);
    }
}

# the page as a PNG in a file
sub screenshot {
    my ($b, $s, $file) = @_;
    my $r = $b->call('Page.captureScreenshot', {format => 'png'}, $s);
    open my $fh, '>:raw', $file or die "$file: $!\n";
    print $fh decode_base64($r->{data});
    close $fh or die "$file: $!\n";
}

# asks the browser to end, waits for it a while, then ends it
sub quit {
    my ($b) = @_;
    return unless $b->{pid};

    eval { $b->call('Browser.close', {}, undef, 5) };
    close $b->{in};

    my $deadline = time + 10;
    while (waitpid($b->{pid}, WNOHANG) == 0) {
        if (time >= $deadline) {
            kill 'KILL', $b->{pid};
            waitpid($b->{pid}, 0);
            last;
        }
        sleep 0.1;
    }
    close $b->{out};
    delete $b->{pid};
}

sub DESTROY { $_[0]->quit }

1;
