#!/usr/bin/perl
# scripts/faults: the fault scenarios of the hub, each printing PASS or FAIL
# with the counts it checked.  Run through scripts/faults, which builds the
# module and passes the paths:
#
#   faults.pl <root> <module .so> <ndk .so> <nginx> <work dir> <N> <port> <scenarios>
#
# Everything is on loopback, every loop is bounded, and only the processes
# started here are ever signalled (by their pid).

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use File::Path qw(make_path remove_tree);
use IO::Handle;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my ($root, $so, $ndk, $nginx, $work, $N, $port, $only) = @ARGV;
my $ds_port = $port + 1;
my $ds_back = $port + 2;
my $json = JSON::PP->new->canonical;
my $fails = 0;
my %want = map { $_ => 1 } split /,/, ($only || '');

# ------------------------------------------------------------ tokens, files

my $key = Crypt::PK::RSA->new("$root/conf-examples/notify/demo-signing-key.jwk");
sub token {
    my (%c) = @_;
    return encode_jwt(alg => 'RS256', key => $key, extra_headers => {kid => 'quickstart'},
                      payload => {iss => 'https://login.example.org/quickstart/v2.0',
                                  aud => 'api://notify-hub', iat => time - 1,
                                  nbf => time - 60, exp => time + 3 * 3600, %c});
}

my $ada = '0f000000-0000-4000-8000-00000000ada0';
my $team = '7e000000-0000-4000-8000-0000000000f1';
my $chat = '19:ada-bob@unq.gbl.spaces';
my %tok = (
    app => token(azp => 'faults-app', roles => ['access_as_application']),
    graph => token(azp => 'faults-graph', roles => ['TeamsActivity.Send']),
    ada => token(azp => 'faults-portal', oid => $ada, upn => 'ada@faults.example'),
    push => token(azp => 'faults-sender'),
);

my ($hub, $ds);    # the prefixes of the scenario that runs

sub write_file { my ($f, $t) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $t; close $fh }
sub read_file { my $f = shift; open my $fh, '<', $f or return ''; local $/; return <$fh> }

# a big group: $big members (bad), "big@f.io", short so that 5 400 of it
# fit in one 64 KB body
my $big_group = 'big@f.io';

sub prepare {
    my ($name, $big) = @_;
    $hub = "$work/$name/hub";
    $ds = "$work/$name/downstream";
    remove_tree($hub, $ds);
    make_path("$hub/conf", "$hub/logs", "$hub/modules", "$ds/conf", "$ds/logs");
    symlink $ndk, "$hub/modules/ndk_http_module.so";
    symlink $so, "$hub/modules/ngx_http_notify_module.so";
    for my $f (qw(jwks.json graph-manifest.json)) {
        write_file("$hub/conf/$f", read_file("$root/conf-examples/notify/$f"));
    }
    my @many = map { {id => sprintf('0e000000-0000-4000-8000-%012d', $_),
                      upn => "m$_\@faults.example", displayName => "M$_",
                      active => JSON::PP::true} } 1 .. ($big || 0);
    write_file("$hub/conf/directory.json", $json->encode({
        users => [{id => $ada, upn => 'ada@faults.example', displayName => 'Ada',
                   active => JSON::PP::true},
                  {id => '0f000000-0000-4000-8000-000000000b0b', upn => 'bob@faults.example',
                   displayName => 'Bob', active => JSON::PP::true}, @many],
        groups => [{id => '9a000000-0000-4000-8000-0000000000f1', upn => 'devs@faults.example',
                    displayName => 'Devs', members => ['ada@faults.example', 'bob@faults.example']},
                   @many ? {id => '9b000000-0000-4000-8000-0000000000f2', upn => $big_group,
                            displayName => 'Big', members => [map { $_->{id} } @many]} : ()],
        teams => [{id => $team, displayName => 'CI',
                   members => ['ada@faults.example', 'bob@faults.example'],
                   channels => [{id => '19:general@thread.tacv2', displayName => 'General'}]}],
        chats => [{id => $chat, members => ['ada@faults.example', 'bob@faults.example']}],
    }));
    my $d = read_file("$root/scripts/faults.d/downstream.conf");
    $d =~ s/\@DS_PORT\@/$ds_port/g;
    $d =~ s/\@DS_BACK_PORT\@/$ds_back/g;
    write_file("$ds/conf/nginx.conf", $d);
}

sub hub_conf {
    my ($store, $max, $retention) = @_;
    my $c = read_file("$root/scripts/faults.d/hub.conf");
    # the PostgreSQL store takes no max_size
    $c =~ s/\@STORE\@ max_size=\@MAX_SIZE\@/$store/ if $store =~ m{^postgres};
    $c =~ s/\@PORT\@/$port/g;
    $c =~ s/\@DS_PORT\@/$ds_port/g;
    $c =~ s/\@STORE\@/$store/g;
    $c =~ s/\@MAX_SIZE\@/$max || '1024m'/ge;
    $c =~ s/\@RETENTION\@/$retention || '30d'/ge;
    write_file("$hub/conf/nginx.conf", $c);
}

# ------------------------------------------------------------ processes

my $user = getpwuid($<);

sub ngx {
    my ($prefix, @a) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>>', "$prefix/logs/stderr.log";
        { exec { $nginx } $nginx, '-p', "$prefix/", '-c', "$prefix/conf/nginx.conf",
                             '-g', "user $user;", @a }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $? == 0;
}

sub pid_of { my $p = read_file("$_[0]/logs/nginx.pid"); chomp $p; return $p }

sub wait_port {
    my ($p, $up) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p, Timeout => 1);
        return 1 if $up && $s;
        return 1 if !$up && !$s;
        sleep 0.1;
    }
    return 0;
}

sub start { my $prefix = shift; ngx($prefix) or die "cannot start nginx in $prefix\n";
            wait_port($prefix eq $hub ? $port : $ds_port, 1) }

sub stop {
    my $prefix = shift;
    my $pid = pid_of($prefix) or return;
    kill 'QUIT', $pid;
    for (1 .. 100) { last unless kill 0, $pid; sleep 0.1 }
    kill 'KILL', $pid if kill 0, $pid;     # ours, by its id
    unlink "$prefix/logs/nginx.pid";
}

sub children {
    my $ppid = shift;
    my @c;
    for my $st (glob '/proc/[0-9]*/stat') {
        my $s = read_file($st) or next;
        push @c, $1 if $s =~ /^(\d+) \(.*\) \S (\d+)/ && $2 == $ppid;
    }
    return @c;
}

# SIGKILL to the hub's master and every one of its workers
sub kill9 {
    my $pid = pid_of($hub) or return 0;
    my @all = ($pid, children($pid));
    kill 'KILL', @all;
    for (1 .. 50) { last unless grep { kill 0, $_ } @all; sleep 0.1 }
    unlink "$hub/logs/nginx.pid";
    return scalar @all;
}

# crashes and alerts in an error log since offset
sub log_trouble {
    my ($prefix, $from) = @_;
    my $log = read_file("$prefix/logs/error.log");
    $log = substr($log, $from) if $from && $from <= length $log;
    my @bad = grep { /exited on signal|\[alert\]|\[emerg\]/ } split /\n/, $log;
    return @bad;
}

# ------------------------------------------------------------ HTTP

# one keep-alive connection; request() retries once on a fresh connection
# when a reused one was closed before any byte of the answer came
sub conn { return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                        Timeout => 10) }

sub request {
    my ($c, $method, $path, $headers, $body) = @_;
    for my $attempt (0, 1) {
        my $fresh = 0;
        if (!$$c) { $$c = conn() or return (0, ''); $fresh = 1 }
        my ($st, $b, $got) = once($$c, $method, $path, $headers, $body);
        return ($st, $b) if $st;
        $$c = undef;
        return (0, '') if $fresh || $got;
    }
    return (0, '');
}

sub once {
    my ($s, $method, $path, $headers, $body) = @_;
    $body //= '';
    my $req = "$method $path HTTP/1.1\r\nHost: faults\r\n";
    $req .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
    $req .= "Content-Length: " . length($body) . "\r\n" if length $body || $method eq 'POST';
    $req .= "\r\n$body";
    local $SIG{PIPE} = 'IGNORE';
    return (0, '', 0) unless defined syswrite($s, $req);
    my $buf = '';
    my $got = 0;
    while (1) {
        if ($buf =~ /^HTTP\/1\.1 (\d+)[^\r\n]*\r\n(.*?)\r\n\r\n/s) {
            my ($st, $h) = ($1, $2);
            my $hl = length($&);
            my $len = $h =~ /^content-length:\s*(\d+)/mi ? $1 : 0;
            if (length($buf) >= $hl + $len) {
                my $b = substr($buf, $hl, $len);
                return ($st, $b, 1) unless $h =~ /^connection:\s*close/mi;
                return ($st, $b, 1);    # caller reconnects next time
            }
        }
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        return (0, '', $got) unless select(my $r = $rin, undef, undef, 15);
        my $n = sysread($s, $buf, 65536, length $buf);
        return (0, '', $got) unless $n;
        $got = 1;
    }
}

sub one {    # a request on a connection of its own
    my $c;
    my @r = request(\$c, @_);
    close $c if $c;
    return @r;
}

sub syntphony_body {
    my ($n, %o) = @_;
    return $json->encode({eventId => 'fault-test', uniqueId => "u-$n",
                          title => "fault n=$n.", url => 'https://ci.example.org/b/1',
                          accounts => ['ada@faults.example'], %o});
}

my %syn_h = ('Content-Type' => 'application/json', Authorization => "Bearer $tok{app}");

# sends the numbers given from P processes; returns {n => status}
sub load {
    my ($numbers, $procs, $tag) = @_;
    my @kids;
    for my $k (0 .. $procs - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$work/load-$tag-$k" or die;
            $out->autoflush(1);    # lines_done() counts the answers so far
            my $c;
            for (my $i = $k; $i < @$numbers; $i += $procs) {
                my $n = $numbers->[$i];
                my ($st) = request(\$c, 'POST', '/ActivityCenter/app/setExternalNotification',
                                   \%syn_h, syntphony_body($n));
                print $out "$n $st\n";
                # the hub is gone: pause before the next try, bounded
                sleep 0.05 unless $st;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    return \@kids;
}

sub collect {
    my ($kids, $procs, $tag) = @_;
    waitpid $_, 0 for @$kids;
    my %st;
    for my $k (0 .. $procs - 1) {
        open my $in, '<', "$work/load-$tag-$k" or next;
        while (<$in>) { my ($n, $s) = split; $st{$n} = $s }
        unlink "$work/load-$tag-$k";
    }
    return \%st;
}

sub lines_done {
    my ($tag, $procs) = @_;
    my $n = 0;
    for my $k (0 .. $procs - 1) { $n += () = read_file("$work/load-$tag-$k") =~ /\n/g }
    return $n;
}

# every "n=<i>." of ada's feed
sub feed_numbers {
    my %seen;
    my $cursor;
    my $c;
    for (1 .. 100000) {
        my $path = '/activities?limit=100' . ($cursor ? "&cursor=$cursor" : '');
        my ($st, $b) = request(\$c, 'GET', $path, {Authorization => "Bearer $tok{ada}"});
        die "feed: HTTP $st\n" unless $st == 200;
        my $f = decode_json($b);
        for my $it (@{$f->{items}}) {
            $seen{$1}++ if ($it->{title} // '') =~ /^fault n=(\d+)\.$/;
        }
        $cursor = $f->{next} or last;
    }
    return \%seen;
}

sub pushed_numbers {
    my %seen;
    for (split /\n/, read_file("$ds/logs/pushes.log")) {
        $seen{$1}++ if /fault n=(\d+)\./;
    }
    return \%seen;
}

sub outbox_pending {
    my ($st, $b) = one('GET', '/notify/outbox', {});
    return -1 unless $st == 200;
    my $j = eval { decode_json($b) } or return -1;
    my $items = ref $j eq 'ARRAY' ? $j : ($j->{items} || $j->{entries} || $j->{outbox} || []);
    return scalar @$items;
}

# once the load is over: the outbox drained (bounded), then what is in the
# feed and what arrived downstream, against the numbers answered 2xx
sub settle {
    my ($ok) = @_;
    my $pending;
    for (1 .. 120) { $pending = outbox_pending(); last if $pending == 0; sleep 0.5 }
    sleep 1.5;    # the downstream's log
    my $feed = feed_numbers();
    my $pushed = pushed_numbers();
    my @lost = grep { !$feed->{$_} } @$ok;
    my @undelivered = grep { !$pushed->{$_} } keys %$feed;
    return ($pending, $feed, $pushed, \@lost, \@undelivered);
}

sub verdict {
    my ($name, $ok, $counts) = @_;
    printf "%-4s %-20s %s\n", $ok ? 'PASS' : 'FAIL', $name, $counts;
    $fails++ unless $ok;
}

# ------------------------------------------------------------ PostgreSQL

# a private PostgreSQL server (scripts/pg) in $work/pg: COMMAND is start,
# stop, kill (immediate), restart or remove
sub pg { my $cmd = shift; return system("'$root/scripts/pg' $cmd '$work/pg' >/dev/null") == 0 }

sub pg_store { return "postgres:///notify?host=$work/pg/sock&user=notify schema=faults" }

# ------------------------------------------------------------ scenarios

sub fresh_store { my $d = "$work/store"; remove_tree($d); make_path($d); return $d }

# a tmpfs of that size mounted on $mnt (root needed); the caller unmounts it
sub tmpfs {
    my ($mnt, $size) = @_;
    make_path($mnt);
    system("umount '$mnt' 2>/dev/null");
    return system('mount', '-t', 'tmpfs', '-o', "size=$size", 'faults-tmpfs', $mnt) == 0;
}

sub scenario_kill {
    prepare('kill');
    hub_conf(fresh_store());
    start($ds);
    start($hub);
    my $procs = 16;
    my @numbers = (1 .. $N);
    my $kids = load(\@numbers, $procs, 'kill');
    # part-way: a third of the notifications answered
    my $t0 = time;
    sleep 0.05 while lines_done('kill', $procs) < $N / 3 && time - $t0 < 120;
    my $killed = kill9();
    sleep 0.5;
    start($hub);    # the load goes on against the new hub
    my $st = collect($kids, $procs, 'kill');
    my @ok = grep { $st->{$_} =~ /^2/ } keys %$st;
    # let delivery (subrequests and the timer) finish, bounded
    my ($pending, $feed, $pushed, $lost, $undelivered) = settle(\@ok);
    my @lost = @$lost;
    my @undelivered = @$undelivered;
    my @trouble = grep { !/exited on signal 9/ } log_trouble($hub);
    verdict('kill -9 under load', !@lost && !@undelivered && $pending == 0 && @ok > 0
            && !@trouble,
            sprintf('sent %d, killed %d processes, %d answered 2xx, %d in the feed, lost %d,'
                    . ' %d pushed (%d duplicates), undelivered %d, outbox %d, log alerts %d',
                    $N, $killed, scalar @ok, scalar keys %$feed, scalar @lost,
                    scalar keys %$pushed,
                    (eval { my $d = 0; $d += $_ - 1 for values %$pushed; $d }),
                    scalar @undelivered, $pending, scalar @trouble));
    stop($hub);
    stop($ds);
}

# PostgreSQL killed (an immediate stop, as a crash) under load, then
# started again: every 2xx is in the feed, the callers got 503s (not hangs,
# not other errors) while it was down, accepting resumed by itself, and
# everything in the feed was delivered
sub scenario_pgkill {
    prepare('pgkill');
    pg('remove');
    pg('start') or die "no PostgreSQL server\n";
    hub_conf(pg_store());
    start($ds);
    start($hub);
    my $procs = 16;
    my @numbers = (1 .. $N);
    my $kids = load(\@numbers, $procs, 'pgkill');
    my $t0 = time;
    sleep 0.05 while lines_done('pgkill', $procs) < $N / 3 && time - $t0 < 120;
    pg('kill');
    sleep 1;
    pg('restart') or die "PostgreSQL did not start again\n";
    my $st = collect($kids, $procs, 'pgkill');
    my @busy = grep { $st->{$_} eq '503' } keys %$st;
    my @other = grep { $st->{$_} !~ /^2/ && $st->{$_} ne '503' } keys %$st;
    # accepting again by itself (the connections' backoff is at most 5 s),
    # then a tenth more, all of them accepted
    my $t1 = time;
    my $probe = $N + 1;
    my ($pst) = (0);
    for (1 .. 300) {
        ($pst) = one('POST', '/ActivityCenter/app/setExternalNotification',
                     \%syn_h, syntphony_body($probe));
        last if $pst =~ /^2/;
        sleep 0.1;
    }
    my $resumed = time - $t1;
    $st->{$probe} = $pst;
    my @more = ($N + 2 .. $N + 1 + int($N / 10));
    my $st2 = collect(load(\@more, 8, 'pgkill2'), 8, 'pgkill2');
    my @refused = grep { $st2->{$_} !~ /^2/ } @more;
    $st->{$_} = $st2->{$_} for @more;
    my @ok = grep { $st->{$_} =~ /^2/ } keys %$st;
    my ($pending, $feed, $pushed, $lost, $undelivered) = settle(\@ok);
    my @lost = @$lost;
    my @undelivered = @$undelivered;
    my @trouble = log_trouble($hub);
    verdict('postgres killed', !@lost && !@undelivered && !@other && @busy > 0
            && $pst =~ /^2/ && !@refused && $pending == 0 && !@trouble,
            sprintf('sent %d, %d answered 503 while it was down, %d otherwise'
                    . ' (no answer: %d); accepting again %.1f s after the'
                    . ' restart, then %d more sent, %d refused; %d answered'
                    . ' 2xx in all, %d in the feed, lost %d,'
                    . ' %d pushed, undelivered %d, outbox %d, log alerts %d',
                    $N, scalar @busy, scalar @other,
                    scalar(grep { !$st->{$_} } keys %$st), $resumed,
                    scalar @more, scalar @refused, scalar @ok,
                    scalar keys %$feed,
                    scalar @lost, scalar keys %$pushed, scalar @undelivered,
                    $pending, scalar @trouble));
    stop($hub);
    stop($ds);
    pg('remove');
}

# two hubs on one PostgreSQL store; the first, which takes the load and
# makes the first attempts, is SIGKILLed while it delivers: its leased
# entries are delivered by the second once their leases run out
sub scenario_nodekill {
    prepare('nodekill');
    pg('remove');
    pg('start') or die "no PostgreSQL server\n";
    hub_conf(pg_store());
    my $portb = $port + 3;
    my $hubb = "$work/nodekill/hub-b";
    remove_tree($hubb);
    make_path("$hubb/conf", "$hubb/logs", "$hubb/modules");
    symlink $ndk, "$hubb/modules/ndk_http_module.so";
    symlink $so, "$hubb/modules/ngx_http_notify_module.so";
    for my $f (qw(jwks.json graph-manifest.json directory.json)) {
        write_file("$hubb/conf/$f", read_file("$hub/conf/$f"));
    }
    write_file("$hubb/conf/nginx.conf", read_file("$hub/conf/nginx.conf")
               =~ s/listen 127\.0\.0\.1:$port;/listen 127.0.0.1:$portb;/r);
    start($ds);
    start($hub);
    ngx($hubb) or die "cannot start the second hub\n";
    wait_port($portb, 1);
    my $procs = 16;
    my @numbers = (1 .. $N);
    my $kids = load(\@numbers, $procs, 'nodekill');
    my $t0 = time;
    sleep 0.05 while lines_done('nodekill', $procs) < $N / 2 && time - $t0 < 120;
    my $pushed_before = scalar keys %{ pushed_numbers() };
    my $killed = kill9();
    my $st = collect($kids, $procs, 'nodekill');
    my @ok = grep { $st->{$_} =~ /^2/ } keys %$st;
    my $porta = $port;
    $port = $portb;    # from now on everything asks the second hub
    my ($pending, $feed, $pushed, $lost, $undelivered) = settle(\@ok);
    $port = $porta;
    my @lost = @$lost;
    my @undelivered = @$undelivered;
    my @trouble = log_trouble($hubb);
    verdict('node killed', !@lost && !@undelivered && $pending == 0 && @ok > 0
            && !@trouble,
            sprintf('sent %d to the first hub, killed %d of its processes with %d'
                    . ' pushed, %d answered 2xx, %d in the feed of the second,'
                    . ' lost %d, %d pushed (%d duplicates), undelivered %d,'
                    . ' outbox %d, alerts of the second %d', $N, $killed,
                    $pushed_before, scalar @ok, scalar keys %$feed,
                    scalar @lost, scalar keys %$pushed,
                    (eval { my $d = 0; $d += $_ - 1 for values %$pushed; $d }),
                    scalar @undelivered, $pending, scalar @trouble));
    stop($hubb);
    stop($ds);
    pg('remove');
}

# P processes, each calling $do->(\$connection, $k, $i) for $i = 0, 1, ...
# until the file $stop exists; each writes how many answers it got by status
sub until_stopped {
    my ($procs, $stop, $tag, $do) = @_;
    my @kids;
    for my $k (0 .. $procs - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my ($c, %n);
            for (my $i = 0; !-e $stop && $i < 10_000_000; $i++) {
                my $st = $do->(\$c, $k, $i);
                $n{$st}++;
                sleep 0.05 unless $st;    # the worker is gone: pause, bounded
            }
            write_file("$work/$tag-$k", join '', map { "$_ $n{$_}\n" } keys %n);
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    return \@kids;
}

sub counted {    # {status => count} of the processes of until_stopped
    my ($kids, $procs, $tag) = @_;
    waitpid $_, 0 for @$kids;
    my %n;
    for my $k (0 .. $procs - 1) {
        for (split /\n/, read_file("$work/$tag-$k")) { my ($s, $c) = split; $n{$s} += $c }
        unlink "$work/$tag-$k";
    }
    return \%n;
}

# a worker dies (SIGKILL), the master starts a new one, again and again,
# under writes and feed reads.  A worker killed inside a read transaction
# leaves its LMDB reader slot behind, pinning that snapshot: the pages freed
# after it are never reused and the file grows without bound.  The store
# keeps 2 s of notifications (retention), so that its size has a ceiling.
# On a tmpfs (when root) a commit holds LMDB's writer lock for a moment
# only: a worker killed while holding it makes LMDB itself clear the dead
# readers, which would hide their slots.
sub scenario_crash {
    prepare('crash');
    my $mnt = "$work/crash-tmpfs";
    my $store = fresh_store();
    if (tmpfs($mnt, '512m')) {
        $store = "$mnt/store";
        make_path($store);
    } else {
        undef $mnt;
    }
    my $ok = eval { crash($store); 1 };
    my $err = $@;
    stop($hub);
    stop($ds);
    system('umount', $mnt) if $mnt;
    verdict('kill -9 workers', 0, "died: $err") unless $ok;
}

sub crash {
    my $store = shift;
    hub_conf($store, '256m', '2s');
    start($ds);
    start($hub);
    my $master = pid_of($hub);
    my $stop = "$work/crash-stop";
    unlink $stop;
    my ($wp, $rp, $cycles) = (2, 6, 16);
    my $writers = until_stopped($wp, $stop, 'crash-w', sub {
        my ($c, $k, $i) = @_;
        my ($st) = request($c, 'POST', '/ActivityCenter/app/setExternalNotification', \%syn_h,
                           syntphony_body("$k-$i", comment => 'c' x 500));
        return $st;
    });
    my $readers = until_stopped($rp, $stop, 'crash-r', sub {
        my ($c) = @_;
        my ($st) = request($c, 'GET', '/activities?limit=100',
                           {Authorization => "Bearer $tok{ada}"});
        return $st;
    });
    my $data = "$store/data.mdb";
    sleep 4;    # past the retention: the store near its steady size
    my @sizes = (-s $data);
    my $killed = 0;
    for my $i (1 .. $cycles) {
        # one worker at a time, as a crash does: the others keep the
        # store open, so that LMDB does not start its lock file afresh
        my @old = sort { $a <=> $b } children($master);
        $killed += kill 'KILL', $old[$i % @old];
        for (1 .. 100) {    # the master starts a new one
            my %was = map { $_ => 1 } @old;
            last if grep { !$was{$_} } children($master);
            sleep 0.1;
        }
        sleep 1.5;
        push @sizes, -s $data;
    }
    write_file($stop, '');
    my $w = counted($writers, $wp, 'crash-w');
    my $r = counted($readers, $rp, 'crash-r');
    unlink $stop;
    my $log = read_file("$hub/logs/error.log");
    my $cleared = 0;
    $cleared += $1 for $log =~ /cleared (\d+) stale reader/g;
    my @trouble = grep { !/exited on signal 9/ } log_trouble($hub);
    my $ok = sub { my $n = shift; my $t = 0; $t += $n->{$_} for grep { /^2/ } keys %$n; $t };
    my $five = sub { my $n = shift; my $t = 0; $t += $n->{$_} for grep { /^5/ } keys %$n; $t };
    # bounded: the cycles at most double the size that the store had
    # before them (its steady size, with the retention)
    my $grew = $sizes[-1] - $sizes[0];
    verdict('kill -9 workers x' . $cycles, $sizes[-1] <= 2 * $sizes[0] && $cleared > 0
            && !$five->($w) && !$five->($r) && $ok->($w) > 0 && $ok->($r) > 0 && !@trouble,
            sprintf('killed %d workers, stale reader slots cleared %d, store MB by cycle %s'
                    . ' (+%.1f), writes 2xx %d 5xx %d, feed reads 200 %d 5xx %d,'
                    . ' log alerts %d%s', $killed, $cleared,
                    join(' ', map { sprintf '%.1f', $_ / 1048576 } @sizes), $grew / 1048576,
                    $ok->($w), $five->($w), $ok->($r), $five->($r), scalar @trouble,
                    @trouble ? " ($trouble[0])" : ''));
}

sub scenario_reload {
    prepare('reload');
    hub_conf(fresh_store());
    start($ds);
    start($hub);
    my $procs = 16;
    my $M = $N < 10000 ? $N : 10000;
    my @numbers = (1 .. $M);
    my $kids = load(\@numbers, $procs, 'reload');
    my $reloads = 0;
    for my $i (1 .. 5) {
        my $t0 = time;
        sleep 0.05 while lines_done('reload', $procs) < $M * $i / 6 && time - $t0 < 60;
        $reloads++ if ngx($hub, '-s', 'reload');
    }
    my $st = collect($kids, $procs, 'reload');
    my @failed = grep { $st->{$_} !~ /^2/ } keys %$st;
    my $feed = feed_numbers();
    my @lost = grep { !$feed->{$_} } @numbers;
    my @trouble = log_trouble($hub);
    print "     $_\n" for @trouble[0 .. ($#trouble < 2 ? $#trouble : 2)];
    verdict('reload x5 under load', !@failed && !@lost && $reloads == 5 && !@trouble,
            sprintf('sent %d, %d reloads, failed %d, in the feed %d, lost %d, log alerts %d',
                    $M, $reloads, scalar @failed, scalar keys %$feed, scalar @lost,
                    scalar @trouble));
    stop($hub);
    stop($ds);
}

sub scenario_outage {
    prepare('outage');
    hub_conf(fresh_store());
    start($hub);                      # the downstream is down
    my $K = 300;
    my $kids = load([1 .. $K], 8, 'outage');
    my $st = collect($kids, 8, 'outage');
    my @ok = grep { $st->{$_} =~ /^2/ } keys %$st;
    sleep 3;                          # attempts fail, retries back off
    my $pending_down = outbox_pending();
    start($ds);                       # back; no inbound traffic from here on
    my $pending;
    for (1 .. 60) { $pending = outbox_pending(); last if $pending == 0; sleep 0.5 }
    sleep 1.5;
    my $pushed = pushed_numbers();
    my @missing = grep { !$pushed->{$_} } @ok;
    verdict('downstream outage', @ok == $K && !@missing && $pending == 0
            && $pending_down > 0 && !log_trouble($hub),
            sprintf('accepted %d of %d while down, pending then %d, delivered after %d,'
                    . ' missing %d, outbox %d', scalar @ok, $K, $pending_down,
                    scalar keys %$pushed, scalar @missing, $pending));
    stop($hub);
    stop($ds);
}

sub scenario_disk {
    prepare('disk');
    my $mnt = "$work/tmpfs";
    unless (tmpfs($mnt, '8m')) {
        verdict('full disk', 0, "cannot mount a tmpfs on $mnt (root needed)");
        return;
    }
    my $ok = eval {
        make_path("$mnt/store");
        hub_conf("$mnt/store", '64m');
        start($ds);
        start($hub);
        # a few accepted before the disk fills
        my ($st0) = one('POST', '/ActivityCenter/app/setExternalNotification', \%syn_h,
                        syntphony_body(0));
        # fill what is left of the disk but a few pages: LMDB's next
        # writes are short ones (it answers EIO), then none fits (ENOSPC)
        system("dd if=/dev/zero of='$mnt/filler' bs=64k 2>/dev/null");
        truncate("$mnt/filler", (-s "$mnt/filler") - 3 * 4096);
        my ($n, $c, %shape, $last) = (1);
        my $big = 'x' x 4000;
        for (1 .. 2000) {
            my ($st, $b) = request(\$c, 'POST', '/ActivityCenter/app/setExternalNotification',
                                   \%syn_h, syntphony_body($n++, comment => $big));
            $last = $st;
            last if $st == 503;
        }
        # each dialect's 503
        my %r;
        ($r{syntphony}, $shape{syntphony}) = one('POST', '/ActivityCenter/app/setExternalNotification',
                                      \%syn_h, syntphony_body($n++, comment => $big));
        ($r{graph}, $shape{graph}) = one('POST', "/v1.0/users/$ada/teamwork/sendActivityNotification",
            {'Content-Type' => 'application/json', Authorization => "Bearer $tok{graph}"},
            $json->encode({topic => {source => 'text', value => 'x' x 900,
                                     webUrl => 'https://ci.example.org/'},
                           activityType => 'buildFailed', previewText => {content => 'x' x 150},
                           templateParameters => [{name => 'buildId', value => '1'},
                                                  {name => 'branch', value => 'b' x 3000}]}));
        ($r{gever}, $shape{gever}) = one('POST', '/@external-activities',
            {'Content-Type' => 'application/json', Authorization => "Bearer $tok{ada}"},
            $json->encode({notification_recipients => ['ada@faults.example'],
                           resource_url => 'https://dms.example.org/1',
                           title => {en => 'x' x 4000}, label => {en => 'l'},
                           summary => {en => 's'}, description => {}}));
        ($r{push}, $shape{push}) = one('POST', '/push',
            {'Content-Type' => 'application/json', Authorization => $tok{push}},
            $json->encode({Type => '0', WorkItem => {Id => 'J-' . time, Note => 'x' x 4000}}));
        my %want_shape = (
            syntphony => sub { $_[0]{status} && $_[0]{status} == 503 || $_[0]{title} },
            graph => sub { ($_[0]{error}{code} // '') eq 'ServiceNotAvailable' },
            gever => sub { ($_[0]{type} // '') eq 'ServiceUnavailable' },
            push => sub { ($_[0]{Code} // '') eq '9' && !$_[0]{Success} },
        );
        my @bad = grep { $r{$_} != 503 || !$want_shape{$_}->(eval { decode_json($shape{$_}) } || {}) }
                  sort keys %r;
        my ($feed_st) = one('GET', '/activities?limit=5', {Authorization => "Bearer $tok{ada}"});
        unlink "$mnt/filler";
        my ($after) = one('POST', '/ActivityCenter/app/setExternalNotification', \%syn_h,
                          syntphony_body($n++));
        my @trouble = log_trouble($hub);
        # every failed write is logged with its cause: the disk is full
        my %why;
        $why{$1}++ for read_file("$hub/logs/error.log") =~ /store write failed: ([^,]*)/g;
        my $enospc = delete $why{'No space left on device'} // 0;
        verdict('full disk', $st0 =~ /^2/ && $last == 503 && !@bad && $feed_st == 200
                && $after =~ /^2/ && !@trouble && $enospc > 0 && !%why,
                sprintf('first %s, filled after %d writes, 503 from %s%s, feed %s,'
                        . ' after freeing %s, log alerts %d, logged "No space left on'
                        . ' device" %d%s', $st0, $n - 1,
                        join('/', map { "$_ $r{$_}" } sort keys %r),
                        @bad ? " (wrong shape: @bad: " . join(' | ', map { $shape{$_} } @bad) . ")" : '',
                        $feed_st, $after, scalar @trouble, $enospc,
                        join('', map { ", \"$_\" $why{$_}" } sort keys %why)));
        1;
    };
    my $err = $@;
    stop($hub);
    stop($ds);
    system('umount', $mnt);
    verdict('full disk', 0, "died: $err") unless $ok;
}

# the answers on one connection, in order: [status, headers, body] each
sub responses {
    my $buf = shift;
    my @r;
    while ($buf =~ /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n/s) {
        my ($st, $h) = ($1, $2);
        $buf = substr($buf, length $&);
        my $body = '';
        if ($h =~ /^transfer-encoding:\s*chunked/mi) {
            while ($buf =~ /^([0-9a-fA-F]+)[^\r\n]*\r\n/) {
                my $len = hex $1;
                $buf = substr($buf, length $&);
                $body .= substr($buf, 0, $len);
                $buf = substr($buf, $len + 2);
                last unless $len;
            }
        } elsif ($h =~ /^content-length:\s*(\d+)/mi) {
            $body = substr($buf, 0, $1);
            $buf = substr($buf, $1);
        }
        push @r, [$st, $h, $body];
    }
    return @r;
}

# everything the hub sends on a connection until it closes it, or until
# nothing has come for 15 s
sub read_all {
    my $s = shift;
    my $buf = '';
    while (1) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select(my $r = $rin, undef, undef, 15);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    return $buf;
}

# A keep-alive POST whose body is a whole second request (GET
# /notify/status), then on the same connection a last request (GET
# /notify/outbox, Connection: close).  What must hold: the POST gets one
# answer, then the outbox its own (or nothing, if the hub closed the
# connection after the first answer); never is the request in the body
# answered (the status document, "module"): the hub must not take a body
# it did not read for the next request.
sub smuggle {
    my ($path, $headers) = @_;
    my $inner = "GET /notify/status HTTP/1.1\r\nHost: faults\r\n\r\n";
    my $s = conn() or return 'no connection';
    my $h = join '', map { "$_: $headers->{$_}\r\n" } sort keys %$headers;
    local $SIG{PIPE} = 'IGNORE';
    syswrite $s, "POST $path HTTP/1.1\r\nHost: faults\r\n${h}Content-Length: "
                 . length($inner) . "\r\n\r\n$inner"
                 . "GET /notify/outbox HTTP/1.1\r\nHost: faults\r\nConnection: close\r\n\r\n";
    my @r = responses(read_all($s));
    close $s;
    return 'no answer' unless @r;
    my @smuggled = grep { $_->[2] =~ /"module"/ } @r;
    return sprintf('%d answers, %d to the request in the body (%s)', scalar @r,
                   scalar @smuggled, join(' ', map { $_->[0] } @r))
        if @smuggled || @r > 2;
    return '';
}

# A chunked body of $total bytes, 64 KB chunks, sent as fast as the hub
# takes it while what it answers is read.  Returns the status of the
# answer, the bytes sent when it came, and the bytes sent when the hub
# closed the connection (undef: not before the whole body was sent).
sub stream_chunked {
    my ($path, $headers, $total) = @_;
    my $s = conn() or return (0, undef, undef);
    my $h = join '', map { "$_: $headers->{$_}\r\n" } sort keys %$headers;
    my $chunk = sprintf("%x\r\n", 65536) . ('x' x 65536) . "\r\n";
    my $out = "POST $path HTTP/1.1\r\nHost: faults\r\n${h}Transfer-Encoding: chunked\r\n\r\n";
    my ($sent, $buf, $status, $answered, $closed, $ended) = (0, '', 0);
    local $SIG{PIPE} = 'IGNORE';
    $s->blocking(0);
    while (1) {
        last if $ended && $out eq '' && $status;    # all sent, answered, open
        if ($out eq '' && !$ended) {
            if ($sent < $total) { $out = $chunk; $sent += 65536 }
            else { $out = "0\r\n\r\n"; $ended = 1 }
        }
        my ($rin, $win) = ('', '');
        vec($rin, fileno($s), 1) = 1;
        vec($win, fileno($s), 1) = 1 if $out ne '';
        last unless select(my $r = $rin, my $w = $win, undef, 15);
        if (vec($r, fileno($s), 1)) {
            my $n = sysread($s, $buf, 65536, length $buf);
            if (!$n) {
                next if !defined $n && $!{EAGAIN};
                $closed = $sent;
                last;
            }
            if (!$status && $buf =~ /^HTTP\/1\.[01] (\d{3})/) { $status = $1; $answered = $sent }
        }
        if ($out ne '' && vec($w, fileno($s), 1)) {
            my $n = syswrite($s, $out);
            if (!defined $n) {
                next if $!{EAGAIN};
                $closed = $sent;
                last;
            }
            substr($out, 0, $n) = '';
        }
    }
    # an answer that came with the close
    if (!$status) {
        $s->blocking(1);
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        sysread($s, $buf, 65536, length $buf) if select(my $r = $rin, undef, undef, 1);
        if ($buf =~ /^HTTP\/1\.[01] (\d{3})/) { $status = $1; $answered = $sent }
    }
    close $s;
    return ($status, $answered, $closed);
}

# JSON text nested $d levels deep: objects ({"a": ...}) or arrays
sub nest {
    my ($d, $arrays) = @_;
    return $arrays ? '[' x $d . '1' . ']' x $d : '{"a":' x $d . '1' . '}' x $d;
}

sub scenario_bad {
    prepare('bad', 10000);
    hub_conf(fresh_store());
    start($ds);
    start($hub);
    my $from = length read_file("$hub/logs/error.log");
    my $graph_h = {'Content-Type' => 'application/json', Authorization => "Bearer $tok{graph}"};
    my @endpoints = (
        ['syntphony', '/ActivityCenter/app/setExternalNotification', \%syn_h],
        ['graph team', "/v1.0/teams/$team/sendActivityNotification", $graph_h],
        ['graph user', "/v1.0/users/$ada/teamwork/sendActivityNotification", $graph_h],
        ['graph chat', "/v1.0/chats/$chat/sendActivityNotification", $graph_h],
        ['graph many', '/v1.0/teamwork/sendActivityNotificationToRecipients', $graph_h],
        ['gever', '/@external-activities',
         {'Content-Type' => 'application/json', Authorization => "Bearer $tok{ada}"}],
        ['push', '/push', {'Content-Type' => 'application/json', Authorization => $tok{push}}],
        ['feed read', '/activities/read',
         {'Content-Type' => 'application/json', Authorization => "Bearer $tok{ada}"}],
        ['feed item read', '/activities/0000000000000001/read',
         {'Content-Type' => 'application/json', Authorization => "Bearer $tok{ada}"}],
    );
    my $valid = syntphony_body(1);
    my @bodies = (
        ['malformed', '{"eventId": "x", "title": }'],
        ['truncated', substr($valid, 0, length($valid) / 2)],
        ['nested arrays', '[' x 100000 . ']' x 100000],
        ['nested objects', '{"a":' x 20000 . '1' . '}' x 20000],
        ['nested in a field', '{"accounts": ' . '[' x 5000 . ']' x 5000 . ', "WorkItem": '
                              . '{"a":' x 3000 . '1' . '}' x 3000 . '}'],
        ['huge', '{"title": "' . 'x' x 3_000_000 . '"}'],
        ['just under the limit', '{"title": "' . 'x' x 65000 . '"}'],
        ['non-UTF-8', "{\"title\": \"\xff\xfe\xc3\x28\", \"accounts\": [\"\xe2\x82\"]}"],
        ['lone surrogate', '{"title": "\ud800", "accounts": ["\udfff"], "Type": "\ud83d"}'],
        ['NUL', "{\"title\": \"a\\u0000b\", \"accounts\": [\"a\\u0000\"], \"eventId\": \"\\u0000\"}"],
        ['raw NUL', "{\"title\": \"a\0b\"}"],
        ['wrong types', '{"eventId": [], "title": {}, "url": 1e999, "accounts": [{}, null, 1],'
                        . ' "notified": -1, "Type": [1], "WorkItem": "x", "topic": 1,'
                        . ' "recipient": [], "notification_recipients": {"a": 1},'
                        . ' "until": {}, "templateParameters": "x", "previewText": []}'],
        ['big numbers', '{"Type": 99999999999999999999999999, "WorkItem": {"Id": -1e308},'
                        . ' "chainId": 1e400, "until": 18446744073709551617}'],
        ['empty', ''],
        ['not an object', '"just a string"'],
        ['binary', join('', map { chr(($_ * 7919) % 256) } 1 .. 5000)],
    );
    my ($sent, @five, @none) = (0);
    for my $e (@endpoints) {
        for my $b (@bodies) {
            my ($st, $body) = one('POST', $e->[1], $e->[2], $b->[1]);
            $sent++;
            push @five, "$e->[0]/$b->[0]: $st" if $st >= 500 && $st != 503;
            push @none, "$e->[0]/$b->[0]" unless $st;
        }
    }
    # the tokens: the JWT parser, through every endpoint
    my @tokens = ('x', 'a.b', 'a.b.c.d', '...', "\xff\xfe.\x00.x", 'Bearer', 'Bearer  ',
                  'bearer ' . 'A' x 9000, 'Bearer ' . substr($tok{app}, 0, 50),
                  'Bearer ' . join('.', 'eyJ' . 'A' x 100, 'e30', ''),
                  'Bearer e30.e30.e30', 'Bearer W10.W10.W10',
                  'Bearer eyJhbGciOiJub25lIn0.e30.', 'Bearer ' . $tok{app} . 'x',
                  'Bearer ' . join('.', map { my $s = $_; $s =~ tr/+\//-_/; $s =~ s/=+$//; $s }
                               map { require MIME::Base64; MIME::Base64::encode_base64($_, '') }
                               '{"alg":"RS256","kid":' . '[' x 3000 . ']' x 3000 . '}',
                               '{}', 'sig'));
    for my $e (@endpoints, ['feed', '/activities', {}], ['feed count', '/activities/count', {}]) {
        for my $t (@tokens) {
            my %h = (%{$e->[2]}, Authorization => $t);
            my ($st) = one($e->[1] =~ /^\/activities(\/count)?$/ ? 'GET' : 'POST',
                           $e->[1], \%h, $valid);
            $sent++;
            push @five, "$e->[0]/token: $st" if $st >= 500 && $st != 503;
            push @none, "$e->[0]/token" unless $st;
        }
    }
    # a body shorter than its Content-Length, then the connection closes
    for my $e (@endpoints) {
        my $s = conn() or next;
        my $h = join '', map { "$_: $e->[2]{$_}\r\n" } sort keys %{$e->[2]};
        syswrite $s, "POST $e->[1] HTTP/1.1\r\nHost: faults\r\n${h}Content-Length: 5000\r\n\r\n"
                     . substr($valid, 0, 40);
        close $s;
        $sent++;
    }
    # feed query strings
    for my $q ('?limit=-1', '?limit=99999999999999999999', '?cursor=%00%ff', '?cursor=' . 'f' x 5000,
               '?unread=maybe', '?user=%ff%fe', '?limit=&cursor=&unread=') {
        my ($st) = one('GET', "/activities$q", {Authorization => "Bearer $tok{ada}"});
        $sent++;
        push @five, "feed$q: $st" if $st >= 500 && $st != 503;
        push @none, "feed$q" unless $st;
    }
    sleep 0.5;
    my ($alive) = one('GET', '/notify/status', {});
    my @trouble = log_trouble($hub, $from);
    verdict('bad input', !@five && !@none && !@trouble && $alive == 200,
            sprintf('%d requests to %d endpoints, 5xx %d%s, no answer %d%s, crashes/alerts %d%s,'
                    . ' status afterwards %s', $sent, scalar @endpoints + 2, scalar @five,
                    @five ? " (@five[0 .. ($#five < 4 ? $#five : 4)])" : '',
                    scalar @none, @none ? " (@none[0 .. ($#none < 4 ? $#none : 4)])" : '',
                    scalar @trouble, @trouble ? " ($trouble[0])" : '', $alive));

    # the inputs of the hardening issue, each its own verdict
    my @all = (@endpoints, ['feed', '/activities', {Authorization => "Bearer $tok{ada}"}]);
    my @inbound = grep { $_->[0] !~ /^feed/ } @endpoints;
    bad_check('bad: body is a request', sub {
        my @f;
        for my $e (@all) {
            my %plain = %{$e->[2]};
            delete $plain{Authorization};
            for my $v (['', $e->[2]], [' without a token', \%plain],
                       [' as text/plain', {%{$e->[2]}, 'Content-Type' => 'text/plain'}]) {
                my $why = smuggle($e->[1], $v->[1]);
                push @f, "$e->[0]$v->[0]: $why" if $why;
            }
        }
        return (scalar @all * 3, @f);
    });
    bad_check('bad: tokens without azp', sub {
        my @roles = (roles => ['access_as_application', 'TeamsActivity.Send']);
        my %t = (client_id => token(client_id => 'faults-cid-1', @roles),
                 sub => token(sub => 'faults-sub-1', @roles));
        my ($n, @f) = (0);
        for my $e (@all) {
            for my $k (sort keys %t) {
                my $auth = $e->[0] eq 'push' ? $t{$k} : "Bearer $t{$k}";
                my ($st, $b) = one($e->[1] eq '/activities' ? 'GET' : 'POST', $e->[1],
                                   {%{$e->[2]}, Authorization => $auth}, $valid);
                $n++;
                push @f, "$e->[0]/only $k: " . ($st || 'no answer') if !$st || $st >= 500;
            }
        }
        # two callers told apart by client_id (or sub) alone, the same
        # eventId and uniqueId: never the other caller's answer
        for my $k (qw(client_id sub)) {
            my %id;
            for my $who (1, 2) {
                my $tk = token($k => "faults-$k-$who", @roles);
                my ($st, $b) = one('POST', '/ActivityCenter/app/setExternalNotification',
                                   {%syn_h, Authorization => "Bearer $tk"},
                                   syntphony_body("azp-$k", uniqueId => "same-$k"));
                $n++;
                push @f, "syntphony/only $k, caller $who: " . ($st || 'no answer')
                    if !$st || $st >= 500;
                $id{$who} = $1 if $st =~ /^2/ && $b =~ /"id":\s*"([0-9a-f]+)"/;
            }
            push @f, "syntphony/only $k: two callers, one answer (id $id{1})"
                if $id{1} && $id{2} && $id{1} eq $id{2};
        }
        return ($n, @f);
    });
    bad_check('bad: nested 2000 deep', sub {
        my $syn = '{"eventId":"nest","title":"t","url":"https://ci.example.org/b/1",';
        my %in = (
            syntphony => [$syn . '"accounts":["ada@faults.example"],"comment":' . nest(1998) . '}',
                          $syn . '"accounts":' . nest(1999, 1) . '}'],
            graph => ['{"topic":{"source":"text","value":"t","webUrl":"https://ci.example.org/"},'
                      . '"activityType":"buildFailed","previewText":{"content":"p"},'
                      . '"templateParameters":[{"name":"buildId","value":' . nest(1996) . '}]}'],
            gever => ['{"notification_recipients":["ada@faults.example"],'
                      . '"resource_url":"https://dms.example.org/1","title":' . nest(1998)
                      . ',"label":{"en":"l"},"summary":{"en":"s"},"description":{}}'],
            push => ['{"Type":"0","WorkItem":' . nest(1999) . '}',
                     '{"Type":"0","WorkItem":{"Id":"J-nest","Note":' . nest(1998) . '}}'],
        );
        my ($n, @f) = (0);
        for my $e (@inbound) {
            my ($d) = $e->[0] =~ /^(\w+)/;
            for my $b (nest(2000), nest(2000, 1), @{$in{$d} || []}) {
                my ($st, $body) = one('POST', $e->[1], $e->[2], $b);
                $n++;
                my $ok = $st =~ /^[24]/ && eval { JSON::PP->new->decode($body); 1 };
                push @f, "$e->[0]: " . ($st || 'no answer') . ($st && !$ok ? ' ' . substr($body, 0, 60) : '')
                    unless $ok;
            }
        }
        return ($n, @f);
    });
    bad_check('bad: chunked 64 MB', sub {
        my @f;
        for my $e (@inbound) {
            my ($st, $at, $closed) = stream_chunked($e->[1], $e->[2], 64 << 20);
            push @f, sprintf('%s: %s after %d MB, %s', $e->[0], $st || 'no answer',
                             ($at // 0) >> 20, defined $closed
                             ? sprintf('closed after %d MB', $closed >> 20) : 'not closed')
                unless $st == 413 && defined $closed && $closed < 16 << 20;
        }
        return (scalar @inbound, @f);
    });
    bad_check('bad: accounts big x5400', sub {
        my $b = $json->encode({eventId => 'big', title => 'big', url => 'https://ci.example.org/b/1',
                               accounts => [($big_group) x 5400]});
        die "the body is over 64 KB\n" if length $b > 65536;
        my ($st, $body) = one('POST', '/ActivityCenter/app/setExternalNotification', \%syn_h, $b);
        return (1) if $st == 200 && $body =~ /"recipients":\s*10000\b/;
        return (1) if $st == 400 && $body =~ /"accounts/;
        return (1, ($st || 'no answer') . ' ' . substr($body, 0, 80));
    });
    stop($hub);
    stop($ds);
}

# runs one group of the bad checks: $run returns (requests, failures...);
# each group also fails on a crash or alert while it ran, and on a hub that
# does not answer /notify/status afterwards
sub bad_check {
    my ($name, $run) = @_;
    my $from = length read_file("$hub/logs/error.log");
    my ($n, @f) = eval { $run->() };
    @f = ("died: $@") if $@;
    my @trouble = log_trouble($hub, $from);
    my ($alive) = one('GET', '/notify/status', {});
    verdict($name, !@f && !@trouble && $alive == 200,
            sprintf('%d requests, failed %d%s, crashes/alerts %d%s, status afterwards %s',
                    $n // 0, scalar @f, @f ? ' (' . join('; ', @f[0 .. ($#f < 3 ? $#f : 3)]) . ')' : '',
                    scalar @trouble, @trouble ? " ($trouble[0])" : '', $alive));
}

$SIG{INT} = $SIG{TERM} = sub { stop($hub); stop($ds); exit 2 };

for my $s (['kill', \&scenario_kill], ['crash', \&scenario_crash],
           ['reload', \&scenario_reload],
           ['outage', \&scenario_outage], ['disk', \&scenario_disk], ['bad', \&scenario_bad],
           ['pgkill', \&scenario_pgkill], ['nodekill', \&scenario_nodekill]) {
    next if %want && !$want{$s->[0]};
    eval { $s->[1]->(); 1 } or do {
        verdict($s->[0], 0, "died: $@");
        stop($hub);
        stop($ds);
    };
}

exit($fails ? 1 : 0);
