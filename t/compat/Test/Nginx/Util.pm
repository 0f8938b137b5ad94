package Test::Nginx::Util;

# Server-management half of the project's own Test::Nginx::Socket-compatible
# test runner (see Socket.pm beside this file for the request side).
#
# Written from the project's behavioural description of Test::Nginx
# (test-nginx-spec.md); no code is taken from openresty's test-nginx.
#
# This file holds: settings read from TEST_NGINX_* at load time, the exported
# setter/getter functions, nginx.conf generation, servroot setup, starting and
# stopping nginx, $TEST_NGINX_* expansion, the error-log checks, the embedded
# tcp_listen server and the per-block run loop.  The run loop calls back into
# Socket.pm ($RequestHandler) for the request/response part of each repeat.

use strict;
use warnings;

use Cwd ();
use File::Path ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use List::Util ();
use POSIX ();
use Socket ();
use Test::Builder ();
use Test::More ();
use Time::HiRes ();

use Exporter 'import';

our @EXPORT = qw(
    run_tests repeat_each no_shuffle no_long_string log_level
    workers master_on master_off master_process_enabled worker_connections
    no_root_location check_accum_error_log env_to_nginx
    server_name server_addr server_port server_port_for_client
    html_dir server_root timeout config_preamble
    add_block_preprocessor add_cleanup_handler add_test_cleanup_handler
    bail_out is_str use_hup no_nginx_manager
);

our @EXPORT_OK = qw(
    expand_env_in_text parse_time check_error_log check_access_log
    t_ok t_is t_isnt t_like t_unlike t_is_str t_pass t_fail
    $ServerPort $ServerPortForClient $ServerName $ServerAddr
    $RequestHandler $Timeout $TestNginxSleep $NoLongString
);

my $TB = Test::Builder->new;
my $MainPid = $$;

#----------------------------------------------------------------------------
# Modes this runner deliberately does not implement.  They are refused when
# the module loads, so that a run never silently goes ahead without them.
#----------------------------------------------------------------------------
for my $var (qw(TEST_NGINX_USE_HUP TEST_NGINX_USE_STAP TEST_NGINX_CHECK_LEAK
                TEST_NGINX_BENCHMARK TEST_NGINX_USE_RR TEST_NGINX_USE_HTTP2
                TEST_NGINX_USE_HTTP3 TEST_NGINX_NO_NGINX_MANAGER))
{
    die "Test::Nginx (project compat runner): $var is set, but this mode is "
        . "not supported by this runner; install openresty's Test::Nginx "
        . "to use it\n"
        if $ENV{$var};
}

#----------------------------------------------------------------------------
# Settings.  Most TEST_NGINX_* variables are read once, here, at load time.
#----------------------------------------------------------------------------
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Randomize         = $ENV{TEST_NGINX_RANDOMIZE};
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerName        = 'localhost';
our $ServerAddr        = '127.0.0.1';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled =
    (($ENV{TEST_NGINX_MASTER_PROCESS} // '') =~ /^(?:1|on|yes|true)$/i) ? 'on' : 'off';
our $Workers           = 1;
our $WorkerConnections = 64;
our $ForceRestartOnTest = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our @LoadModules       = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $ValgrindExitOnFirstErr = $ENV{TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort         = $ENV{TEST_NGINX_REUSE_PORT};
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Verbose           = $ENV{TEST_NGINX_VERBOSE};

our $RepeatEach     = 1;
our $NoLongString   = 0;
our $NoRootLocation = 0;
our $ConfigPreamble = '';
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;
our $RequestHandler;        # set by Socket.pm: sub ($block, $repeat_no)

if ($Randomize) {
    # A free port and a servroot of its own, for `prove -jN`.
    $ServerPort = pick_free_port();
}
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

if ($UseValgrind) {
    system("valgrind --version > /dev/null 2>&1") == 0
        or die "Test::Nginx: TEST_NGINX_USE_VALGRIND is set but valgrind "
             . "cannot be run\n";
}

our $ServRoot;
if ($Randomize) {
    $ServRoot = Cwd::cwd() . "/t/servroot_$ServerPort";
} elsif ($ENV{TEST_NGINX_SERVROOT}) {
    $ServRoot = Cwd::abs_path($ENV{TEST_NGINX_SERVROOT}) // $ENV{TEST_NGINX_SERVROOT};
} else {
    $ServRoot = Cwd::cwd() . "/t/servroot";
}
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $HtmlDir    = "$ServRoot/html";
our $LogDir     = "$ServRoot/logs";
our $ConfDir    = "$ServRoot/conf";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $ConfFile   = "$ConfDir/nginx.conf";

# Run state.
my %NginxInfo;              # from `nginx -V`
my $PrevConfig;             # config text of the last block that started nginx
my $PrevBlock;              # the block run just before the current one
my $ChildPid;               # nginx pid when we fork it ourselves (valgrind)
my $ErrLogPos = 0;          # error-log slice offset (reset once per block)
my %RandPorts;              # TEST_NGINX_RAND_PORT_N -> port, per block
my %TcpChildren;            # pid -> 1 for running tcp_listen servers
our $DryRun;                # skip reason when IGNORE_MISSING_DIRECTIVES hit
my $CleanedUp = 0;

my $HaveLongString = eval { require Test::LongString; 1 } ? 1 : 0;

#----------------------------------------------------------------------------
# Setters and getters exported to the .t file.
#----------------------------------------------------------------------------
sub repeat_each {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}
sub no_shuffle             { $NoShuffle = 1 }
sub no_long_string         { $NoLongString = 1 }
sub no_root_location       { $NoRootLocation = 1 }
sub check_accum_error_log  { $CheckAccumErrLog = 1 }
sub log_level              { $LogLevel = shift if @_; $LogLevel }
sub workers                { $Workers = shift if @_; $Workers }
sub worker_connections     { $WorkerConnections = shift if @_; $WorkerConnections }
sub master_on              { $MasterProcessEnabled = 'on' }
sub master_off             { $MasterProcessEnabled = 'off' }
sub master_process_enabled {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled eq 'on' ? 1 : 0;
}
sub server_name            { $ServerName = shift if @_; $ServerName }
sub server_addr            { $ServerAddr = shift if @_; $ServerAddr }
sub server_port            { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub html_dir               { $HtmlDir }
sub server_root            { $ServRoot }
sub timeout                { $Timeout = shift if @_; $Timeout }
sub config_preamble        { $ConfigPreamble = shift if @_; $ConfigPreamble }
sub env_to_nginx           { push @EnvToNginx, @_ }
sub add_block_preprocessor { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler    { push @CleanupHandlers, shift }
sub add_test_cleanup_handler { push @TestCleanupHandlers, shift }

sub use_hup {
    die "Test::Nginx (project compat runner): use_hup() / HUP reload mode "
        . "is not supported by this runner\n";
}
sub no_nginx_manager {
    die "Test::Nginx (project compat runner): no_nginx_manager() is not "
        . "supported by this runner\n";
}

# Kill nginx and the helper servers, then stop the whole prove run.
sub bail_out {
    my $msg = shift;
    cleanup_processes();
    Test::More::BAIL_OUT($msg);
}

# is_str: like() for a qr//, else is_string() (Test::LongString) or is().
sub is_str {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $name);
    }
    if ($NoLongString || !$HaveLongString) {
        return Test::More::is($got, $expected, $name);
    }
    return Test::LongString::is_string($got, $expected, $name);
}

#----------------------------------------------------------------------------
# Assertion wrappers used by the runner itself.  In "dry-run" mode (nginx
# could not start because of a missing directive and
# TEST_NGINX_IGNORE_MISSING_DIRECTIVES is set) every assertion is a skip.
#----------------------------------------------------------------------------
sub t_ok {
    my ($ok, $name, @diag) = @_;
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = $TB->ok($ok, $name);
    $TB->diag(@diag) if !$r && @diag;
    return $r;
}
sub t_pass { t_ok(1, @_) }
sub t_fail { t_ok(0, @_) }
sub t_is {
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is($_[0], $_[1], $_[2]);
}
sub t_isnt {
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::isnt($_[0], $_[1], $_[2]);
}
sub t_like {
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($_[0], $_[1], $_[2]);
}
sub t_unlike {
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::unlike($_[0], $_[1], $_[2]);
}
sub t_is_str {
    if (defined $DryRun) { $TB->skip($DryRun); return 1 }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_str(@_);
}

sub verbose { $TB->diag(@_) if $Verbose }

#----------------------------------------------------------------------------
# Small helpers.
#----------------------------------------------------------------------------

# "1.5", "2s", "500ms" -> seconds.
sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^(\d+(?:\.\d*)?)ms$/;
    return $1        if $t =~ /^(\d+(?:\.\d*)?)s?$/;
    bail_out("Bad time value: \"$t\"");
}

sub shell_quote {
    my $s = shift;
    return $s if $s =~ m{^[\w./:=,+@%-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or return undef;
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or bail_out("Cannot write $path: $!");
    binmode $fh;
    print $fh $content;
    close $fh;
}

# A port nobody listens on: random in 1988..65534, not the server port and
# not one already handed out in this block.
sub pick_free_port {
    my %taken = map { ($_ => 1) } grep { defined } values %RandPorts;
    $taken{$ServerPort} = 1 if defined $ServerPort;
    for (1 .. 1000) {
        my $port = 1988 + int(rand(65534 - 1988 + 1));
        next if $taken{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1,
        ) or next;
        close $sock;
        return $port;
    }
    die "Test::Nginx: cannot find a free TCP port\n";
}

# Replace $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; TEST_NGINX_RAND_PORT_N by a
# free port (the same one for the same name within one block).  An undefined
# variable bails out, as documented.
sub expand_env_in_text {
    my ($text) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $RandPorts{$var} //= pick_free_port();
        } elsif (defined $ENV{$var}) {
            $ENV{$var};
        } else {
            bail_out("No environment $var defined.");
        }
    }ge;
    return $text;
}

# "1.22.1" -> 1.022001; "3.0.2k" -> 3.000002 plus a letter fraction.
sub canon_version {
    my $v = shift;
    my ($a, $b, $c, $letter) = $v =~ /^(\d+)\.(\d+)\.(\d+)([a-z]?)/
        or return undef;
    my $n = sprintf("%d.%03d%03d", $a, $b, $c);
    $n += (ord($letter) - ord('a') + 1) / 1e9 if $letter;
    return $n;
}

sub compare_version {
    my ($have, $op, $want) = @_;
    return $op eq '<'  ? $have <  $want
         : $op eq '<=' ? $have <= $want
         : $op eq '>'  ? $have >  $want
         : $op eq '>=' ? $have >= $want
         : $op eq '==' || $op eq '=' ? $have == $want
         : undef;
}

#----------------------------------------------------------------------------
# nginx -V
#----------------------------------------------------------------------------
sub nginx_info {
    return \%NginxInfo if %NginxInfo;
    my $out = `$NginxBinary -V 2>&1`;
    if ($? != 0 || !defined $out) {
        bail_out("Cannot run \"$NginxBinary -V\" (set TEST_NGINX_BINARY?): "
                 . ($out // $!));
    }
    my ($ver) = $out =~ m{(?:nginx|openresty|tengine)/(\d+\.\d+\.\d+)}i;
    ($ver) = $out =~ m{version: \S+?/(\d+\.\d+\.\d+)} unless defined $ver;
    bail_out("Cannot parse the nginx version from \"$NginxBinary -V\"")
        unless defined $ver;
    $NginxInfo{version} = $ver;
    $NginxInfo{canon}   = canon_version($ver);
    if ($out =~ /built with OpenSSL (\d+\.\d+\.\d+[a-z]?)/) {
        $NginxInfo{openssl} = $1;
        $NginxInfo{openssl_canon} = canon_version($1);
    }
    $NginxInfo{without}{$1} = 1 while $out =~ /--without-http_(\w+?)_module/g;
    return \%NginxInfo;
}

#----------------------------------------------------------------------------
# Process helpers.
#----------------------------------------------------------------------------
sub read_pid {
    my $data = slurp($PidFile);
    return undef unless defined $data && $data =~ /(\d+)/;
    return $1;
}

# True while $pid exists and is not a zombie.
sub process_alive {
    my $pid = shift;
    return 0 unless $pid;
    if (defined $ChildPid && $pid == $ChildPid) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid || $r == -1) { undef $ChildPid; return 0 }
    }
    return 0 unless kill(0, $pid);
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

sub process_group_of {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return undef;
    my $stat = <$fh> // '';
    return $stat =~ /^\d+ \(.*\) \S+ \d+ (\d+) /s ? $1 : undef;
}

sub nginx_running {
    my $pid = read_pid() // $ChildPid;
    return process_alive($pid) ? $pid : undef;
}

# Stop nginx: QUIT (TERM if TEST_NGINX_FAST_SHUTDOWN), wait up to timeout(),
# then TERM with growing pauses, then KILL (to the group if it leads one).
# Returns the error-log offset at which the shutdown began, or undef if
# nothing was running.
sub stop_nginx {
    my $pid = read_pid() // $ChildPid;
    unless ($pid && process_alive($pid)) {
        unlink $PidFile if -e $PidFile;
        undef $ChildPid;
        return undef;
    }
    my $log_pos = -s $ErrLogFile // 0;
    verbose("stopping nginx $pid");
    kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? 'TERM' : 'QUIT', $pid);
    my $waited = 0;
    while (process_alive($pid) && $waited < $Timeout) {
        Time::HiRes::sleep(0.05);
        $waited += 0.05;
    }
    if (process_alive($pid)) {
        warn "WARNING: nginx $pid did not exit on QUIT within $Timeout s; "
           . "sending TERM\n";
        my $sleep = 0.1;
        for (1 .. 5) {
            kill('TERM', $pid);
            Time::HiRes::sleep($sleep);
            last unless process_alive($pid);
            $sleep *= 2;
        }
    }
    if (process_alive($pid)) {
        warn "WARNING: nginx $pid still alive; sending KILL\n";
        my $pgrp = process_group_of($pid);
        if (defined $pgrp && $pgrp == $pid) { kill('KILL', -$pid) }
        else                                { kill('KILL', $pid) }
        Time::HiRes::sleep(0.05) for 1 .. 20;
    }
    if (defined $ChildPid) { waitpid($ChildPid, 0); undef $ChildPid }
    unlink $PidFile;
    return $log_pos;
}

# Stop nginx and check the previous block's (no_)shutdown_error_log against
# what was logged during the shutdown.
sub stop_nginx_and_check_shutdown {
    my $pos = stop_nginx();
    return unless defined $pos && $PrevBlock;
    return if $ENV{TEST_NGINX_NO_CLEAN};
    my $block = $PrevBlock;
    my $sel = $block->shutdown_error_log;
    my $nsel = $block->no_shutdown_error_log;
    return unless defined $sel || defined $nsel;
    my $lines = read_log_lines($ErrLogFile, $pos);
    check_log_patterns($block, $lines, 'error.log', '(shutdown)', $sel, $nsel);
}

sub cleanup_processes {
    kill_tcp_servers();
    stop_nginx() unless $ENV{TEST_NGINX_NO_CLEAN};
}

# End of run: cleanup handlers, stop nginx, last shutdown log check.
sub cleanup {
    return if $CleanedUp++;
    $_->() for @CleanupHandlers;
    kill_tcp_servers();
    stop_nginx_and_check_shutdown() unless $ENV{TEST_NGINX_NO_CLEAN};
}

END {
    # (Skipped when the module died while loading, before any setting.)
    if ($$ == $MainPid && defined $PidFile) {
        my $status = $?;
        kill_tcp_servers();
        # Safety net (e.g. the .t died mid-run): never leave nginx behind,
        # unless asked to (TEST_NGINX_NO_CLEAN, ignored under valgrind).
        if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
            stop_nginx() if -e $PidFile || defined $ChildPid;
        }
        if ($Randomize && -d $ServRoot && !$ENV{TEST_NGINX_NO_CLEAN}) {
            File::Path::rmtree($ServRoot);
        }
        $? = $status;
    }
}

#----------------------------------------------------------------------------
# Server root.
#----------------------------------------------------------------------------
sub setup_server_root {
    if (-d $ServRoot) {
        File::Path::rmtree($_) for grep { -e $_ }
            "$ServRoot/conf", glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp");
        File::Path::rmtree($_) for grep { -e $_ }
            "$ServRoot/cache", "$ServRoot/html", "$ServRoot/logs";
        rmdir $ServRoot
            or bail_out("Cannot remove the server root $ServRoot: $! "
                        . "(files other than conf/ html/ logs/ cache/ *_temp "
                        . "*_cache were left in it?)");
    }
    File::Path::mkpath([$ServRoot, $LogDir, $HtmlDir, $ConfDir]);
    write_file("$HtmlDir/index.html",
        "<html><head><title>It works!</title></head>"
        . "<body>It works!</body></html>\n");
}

# --- user_files: ">>> NAME [DATE]" lines, or eval [[name, body, date], ...]
sub write_user_files {
    my $block = shift;
    my $spec = $block->user_files;
    return unless defined $spec;
    my @files;
    if (ref $spec eq 'ARRAY') {
        @files = map { [@$_] } @$spec;
    } elsif (!ref $spec) {
        my $cur;
        for my $line (split /^/m, $spec) {
            if ($line =~ /^>>> (\S+)(?:[ \t]+(\S+))?[ \t]*\r?$/) {
                push @files, ($cur = [$1, '', $2]);
                next;
            }
            next if !$cur && $line !~ /\S/;
            bail_out($block->name . " - user_files must start with '>>> NAME'")
                unless $cur;
            $cur->[1] .= $line;
        }
    } else {
        bail_out($block->name . " - bad user_files value");
    }
    for my $f (@files) {
        my ($name, $body, $date) = @$f;
        my $path = $name =~ m{^/} ? $name : "$HtmlDir/$name";
        (my $dir = $path) =~ s{/[^/]*$}{};
        File::Path::mkpath($dir) if length $dir && !-d $dir;
        write_file($path, expand_env_in_text($body // ''));
        if (defined $date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out($block->name . " - touch -t $date $path failed");
        }
    }
}

#----------------------------------------------------------------------------
# nginx.conf, in the documented shape (spec section 5).
#----------------------------------------------------------------------------
sub write_config_file {
    my $block = shift;
    my $info = nginx_info();

    my $config      = expand_env_in_text($block->config // '');
    my $http_config = expand_env_in_text($block->http_config // '');
    my $main_config = $block->main_config // '';
    if (@LoadModules) {
        $main_config = join(' ', map { "load_module $_;" } @LoadModules)
                       . "\n" . $main_config;
    }
    $main_config = expand_env_in_text($main_config);
    my $post_main_config = expand_env_in_text($block->post_main_config // '');
    my $err_log = defined $block->error_log_file
                ? expand_env_in_text($block->error_log_file) : $ErrLogFile;
    my $level   = $block->log_level // $LogLevel;
    my $daemon  = $UseValgrind ? 'off' : 'on';
    my $srv_name = $block->server_name // $ServerName;

    my $conf = <<"_EOC_";
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $err_log $level;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
_EOC_
    for my $e (@EnvToNginx) {
        $conf .= $e =~ /\s/ ? "env '$e';\n" : "env $e;\n";
    }
    $conf .= "$main_config\n";

    $conf .= "\nhttp {\n    access_log $AccLogFile;\n";
    $conf .= "    client_body_temp_path $ServRoot/client_body_temp;\n"
        unless $http_config =~ /\bclient_body_temp_path\b/;
    $conf .= "    proxy_temp_path $ServRoot/proxy_temp;\n"
        unless $info->{without}{proxy} || $http_config =~ /\bproxy_temp_path\b/;
    $conf .= "    fastcgi_temp_path $ServRoot/fastcgi_temp;\n"
        unless $info->{without}{fastcgi};
    $conf .= "    scgi_temp_path $ServRoot/scgi_temp;\n"
        unless $info->{without}{scgi};
    $conf .= "    uwsgi_temp_path $ServRoot/uwsgi_temp;\n"
        unless $info->{without}{uwsgi};
    $conf .= <<"_EOC_";
    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerPort@{[ $ReusePort ? ' reuseport' : '' ]};
        server_name     '$srv_name';

        client_max_body_size 30M;
        # preamble
$ConfigPreamble
        # config
$config
        # end config
_EOC_
    unless ($NoRootLocation) {
        $conf .= <<"_EOC_";

        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }
    $conf .= "    }\n}\n\n$post_main_config\n\n";
    $conf .= "events {\n    accept_mutex off;\n"
           . "    worker_connections  $WorkerConnections;\n";
    $conf .= "    use $EventType;\n" if $EventType;
    $conf .= "}\n\n";
    $conf .= "env ASAN_OPTIONS;\nenv MOCKNOEAGAIN_VERBOSE;\nenv MOCKNOEAGAIN;\n";
    if ($WorkerUser) {
        $conf .= "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";
    }
    write_file($ConfFile, $conf);
}

#----------------------------------------------------------------------------
# Starting nginx.
#----------------------------------------------------------------------------
sub valgrind_prefix {
    return '' unless $UseValgrind;
    my $opts = $UseValgrind eq '1'
        ? '--tool=memcheck --leak-check=full --keep-debuginfo=yes '
          . '--show-possibly-lost=no -q --num-callers=100 --gen-suppressions=all'
        : $UseValgrind;
    $opts .= ' --suppressions=valgrind.suppress'
        if $UseValgrind eq '1' && -f 'valgrind.suppress';
    $opts .= ' --exit-on-first-error=yes --error-exitcode=1'
        if $ValgrindExitOnFirstErr;
    return "valgrind $opts ";
}

# The shell command that starts nginx (TEST_NGINX_LD_PRELOAD applies to
# nginx only).
sub nginx_command {
    my ($block, %opt) = @_;
    my $cmd = '';
    if (my $preload = $ENV{TEST_NGINX_LD_PRELOAD}) {
        $cmd .= 'LD_PRELOAD=' . shell_quote($preload) . ' ';
    }
    $cmd .= valgrind_prefix() unless $opt{no_valgrind};
    $cmd .= shell_quote($NginxBinary);
    $cmd .= " -e $ErrLogFile" if nginx_info()->{canon} >= 1.019005;
    $cmd .= " -p $ServRoot/ -c $ConfFile > /dev/null";
    $cmd .= ' 2> /dev/null' if defined $block->suppress_stderr;
    return $cmd;
}

# The daemonizing parent exits before the daemon writes logs/nginx.pid;
# wait for the file so that stopping nginx later cannot miss it.
sub wait_for_pid_file {
    my $max = shift;
    my $waited = 0;
    while (!-s $PidFile && $waited < $max) {
        Time::HiRes::sleep(0.01);
        $waited += 0.01;
    }
}

sub unknown_directive_in_log {
    my $log = slurp($ErrLogFile) // '';
    return $log =~ /\[emerg\][^\n]*unknown directive "([^"]+)"/ ? $1 : undef;
}

sub emerg_lines {
    my $log = slurp($ErrLogFile) // '';
    my @l = grep { /\[(?:emerg|alert|crit)\]/ } split /\n/, $log;
    @l = @l[-5 .. -1] if @l > 5;
    return join("\n", @l);
}

# Start nginx, retrying for up to 30 s on failure.  Returns 1 when it runs;
# sets $DryRun (and returns 0) for a missing directive when
# TEST_NGINX_IGNORE_MISSING_DIRECTIVES is set; bails out otherwise.
sub start_nginx {
    my $block = shift;
    my $cmd = nginx_command($block);
    verbose("starting nginx: $cmd");

    if ($UseValgrind) {
        # Valgrind runs nginx in the foreground (daemon off): fork + exec.
        my $pid = fork;
        bail_out("fork failed: $!") unless defined $pid;
        if ($pid == 0) {
            { no warnings 'exec'; exec '/bin/sh', '-c', "exec $cmd"; }
            POSIX::_exit(127);
        }
        $ChildPid = $pid;
        Time::HiRes::sleep($TestNginxSleep);
        return 1;
    }

    my ($slept, $delay) = (0, 0.1);
    while (1) {
        my $rc = system($cmd);
        if ($rc == 0) {
            wait_for_pid_file($Timeout);
            Time::HiRes::sleep($TestNginxSleep);
            return 1;
        }
        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            and my $dir = unknown_directive_in_log())
        {
            $DryRun = "due to the lack of directive $dir";
            return 0;
        }
        if ($slept >= 30) {
            my $why = emerg_lines();
            bail_out("Cannot start nginx using command \"$cmd\" (status $?)."
                     . (length $why ? "\n$why" : ''));
        }
        Time::HiRes::sleep($delay);
        $slept += $delay;
        $delay += 0.1;
        $delay = 1 if $delay > 1;
    }
}

#----------------------------------------------------------------------------
# Error-log checks (spec section 10).
#----------------------------------------------------------------------------
sub read_log_lines {
    my ($file, $pos) = @_;
    open my $fh, '<', $file or return ([], $pos);
    seek($fh, $pos, 0) if $pos;
    my @lines = <$fh>;
    my $end = tell $fh;
    close $fh;
    return wantarray ? (\@lines, $end) : \@lines;
}

# The slice of error.log written since the previous check of this block.
sub error_log_data {
    Time::HiRes::sleep($TestNginxSleep * 3);
    my ($lines, $end) = read_log_lines($ErrLogFile, $CheckAccumErrLog ? 0 : $ErrLogPos);
    $ErrLogPos = $end if defined $end;
    return $lines;
}

# A section value -> list of [display, regex].  A scalar is split into
# lines, each a literal substring; eval values may be qr// or an array of
# strings and qr//s.
sub log_patterns {
    my $val = shift;
    return () unless defined $val;
    my @items;
    if (ref $val eq 'ARRAY') {
        @items = @$val;
    } elsif (ref $val eq 'Regexp') {
        @items = ($val);
    } else {
        my $v = $val;
        chomp $v;
        @items = grep { length } split /\n+/, $v;
    }
    return map {;
        ref $_ eq 'Regexp' ? ["$_", $_] : [$_, qr/\Q$_\E/]
    } @items;
}

# error_log / no_error_log style checks of $lines (also used for the
# shutdown and access logs).
sub check_log_patterns {
    my ($block, $lines, $what, $tag, $want, $dont) = @_;
    my $name = $block->name;
    for my $p (log_patterns($want)) {
        my ($disp, $re) = @$p;
        if (grep { $_ =~ $re } @$lines) {
            t_pass("$name - pattern \"$disp\" matches a line in $what $tag");
        } else {
            t_fail("$name - pattern \"$disp\" should match a line in $what $tag");
        }
    }
    for my $p (log_patterns($dont)) {
        my ($disp, $re) = @$p;
        my $hits = 0;
        for my $i (0 .. $#$lines) {
            next unless $lines->[$i] =~ $re;
            my $last = $i + 9 > $#$lines ? $#$lines : $i + 9;
            my $ctx = join '', @{$lines}[$i .. $last];
            t_fail("$name - pattern \"$disp\" should not match any line in "
                   . "$what but matches line $i $tag",
                   "matching line and the ones after it:\n$ctx");
            $TB->no_ending(1) if ++$hits >= 2;
        }
        t_pass("$name - pattern \"$disp\" does not match a line in $what $tag")
            unless $hits;
    }
}

sub indexed_by_repeat {
    my ($v, $repeat) = @_;
    return ref $v eq 'ARRAY' ? $v->[$repeat - 1] : $v;
}

# One error-log check: after each non-final request and at the end of each
# repeat.  $req is the request index, $repeat the repeat number (1-based).
sub check_error_log {
    my ($block, $req, $repeat) = @_;
    my $name  = $block->name;
    my $lines = error_log_data();
    my $tag   = "(req $req)";
    my $want  = $block->error_log;
    my $dont  = $block->no_error_log;

    # Implicit checks.
    my $mentioned = join "\n", map { $_->[0] } log_patterns($want), log_patterns($dont);
    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            t_fail("$name - assertion failure in error.log $tag", $line);
        }
        for my $level (qw(alert crit emerg)) {
            last if defined $DryRun;
            next unless index($line, "[$level]") >= 0;
            next if index($mentioned, $level) >= 0;
            warn "WARNING: $name - $line";
        }
    }

    check_log_patterns($block, $lines, 'error.log', $tag, $want, $dont);

    my $grep = $block->grep_error_log;
    my $grep_out = $block->grep_error_log_out;
    if (defined $grep || defined $grep_out) {
        bail_out("$name - grep_error_log and grep_error_log_out must be used together")
            unless defined $grep && defined $grep_out;
        my $pat = indexed_by_repeat($grep, $repeat);
        my $exp = indexed_by_repeat($grep_out, $repeat);
        my $re = ref $pat eq 'Regexp' ? $pat : qr/\Q$pat\E/;
        my $out = '';
        for my $line (@$lines) {
            next unless $line =~ $re;
            my $m = substr($line, $-[0], $+[0] - $-[0]);
            $m .= "\n" unless $m =~ /\n/;
            $out .= $m;
        }
        $exp = expand_env_in_text($exp) unless ref $exp;
        t_is_str($out, $exp, "$name - grep_error_log_out $tag");
    }
}

# access_log / no_access_log: same matching, on the whole access.log.
sub check_access_log {
    my ($block, $req) = @_;
    my $want = $block->access_log;
    my $dont = $block->no_access_log;
    return unless defined $want || defined $dont;
    my $lines = read_log_lines($AccLogFile, 0);
    check_log_patterns($block, $lines, 'access.log', "(req $req)", $want, $dont);
}

#----------------------------------------------------------------------------
# Embedded TCP server: --- tcp_listen / tcp_reply / tcp_query ...
#----------------------------------------------------------------------------
sub start_tcp_server {
    my $block = shift;
    my $name = $block->name;
    my $target = expand_env_in_text($block->tcp_listen);
    $target =~ s/^\s+|\s+$//g;
    bail_out("$name - tcp_listen needs tcp_reply or tcp_shutdown")
        unless defined $block->tcp_reply || defined $block->tcp_shutdown;

    my ($srv, $unix_path);
    if ($target =~ /^\d+$/) {
        $srv = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $target, Proto => 'tcp',
            Listen => 5, ReuseAddr => 1,
        );
    } else {
        $unix_path = $target;
        unlink $unix_path;
        $srv = IO::Socket::UNIX->new(
            Local => $unix_path, Type => Socket::SOCK_STREAM(), Listen => 5,
        );
    }
    bail_out("$name - cannot listen on $target for tcp_listen: $!") unless $srv;
    my $want = tcp_query_want($block);

    my $qfile = File::Temp->new(TEMPLATE => 'tn-tcp-query-XXXXXX', TMPDIR => 1);
    pipe(my $rd, my $wr) or bail_out("pipe: $!");
    my $pid = fork;
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        # An ordinary exit once the reply is sent: the .t file's END blocks
        # run in this process too, as they do under the real runner (its
        # own END block does nothing outside the main process).
        close $rd;
        tcp_server_child($block, $srv, $wr, $qfile->filename, $want);
        exit 0;
    }
    close $wr;
    close $srv;
    $TcpChildren{$pid} = 1;
    return { pid => $pid, rd => $rd, qfile => $qfile, unix => $unix_path };
}

# How many bytes the server reads before it replies: without
# tcp_query_auto_timeout, tcp_query_len or else the length of tcp_query
# (undef: one read); a qr// tcp_query has no length of its own.
sub tcp_query_want {
    my $block = shift;
    my $query = $block->tcp_query;
    return undef if defined $block->tcp_query_auto_timeout;
    return $block->tcp_query_len if defined $block->tcp_query_len;
    return undef unless defined $query;
    bail_out($block->name . " - a qr// tcp_query needs tcp_query_len or "
             . "tcp_query_auto_timeout (the server would wait for as many "
             . "bytes as the pattern has characters)")
        if ref $query;
    return length $query;
}

# Child: accept one connection, read the query (each read also goes to the
# temp file, so the parent sees what came even if the server is still
# waiting for more), tell the parent on the pipe, then reply.
sub tcp_server_child {
    my ($block, $srv, $wr, $qfile, $want) = @_;
    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';
    my $c = $srv->accept or POSIX::_exit(1);
    close $srv;
    my ($no_read, $no_write);
    if (defined(my $how = $block->tcp_shutdown)) {
        $how = $how =~ /(\d)/ ? $1 : 1;
        shutdown($c, $how);
        $no_read = $how != 1;
        $no_write = $how != 0;
    }
    my $auto = $block->tcp_query_auto_timeout;
    my $idle = defined $auto && length $auto ? parse_time($auto) : 0.1;
    my $sel = IO::Select->new($c);
    my $buf = '';
    until ($no_read) {
        # tcp_query_auto_timeout: until $idle seconds pass without data;
        # otherwise until $want bytes came (one read if $want is undef).
        last if defined $auto && !$sel->can_read($idle);
        my $n = sysread($c, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        write_file("$qfile.tmp", $buf);
        rename "$qfile.tmp", $qfile;
        last if !defined $auto && (!$want || length $buf >= $want);
    }
    syswrite($wr, "1");
    close $wr;

    if (my $delay = parse_time($block->tcp_reply_delay)) {
        Time::HiRes::sleep($delay);
    }
    my $reply = $block->tcp_reply;
    $reply = $reply->($buf) if ref $reply eq 'CODE';
    if (defined $reply && !$no_write) {
        for my $pkt (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            my $off = 0;
            while ($off < length $pkt) {
                my $n = syswrite($c, $pkt, length($pkt) - $off, $off);
                last unless $n;
                $off += $n;
            }
        }
    }
    if (defined $block->tcp_no_close) {
        Time::HiRes::sleep(0.5) while 1;     # until the parent kills us
    }
    close $c;
}

sub check_tcp_query {
    my ($block, $srv) = @_;
    my $query = $block->tcp_query;
    my $len = $block->tcp_query_len;
    return unless defined $query || defined $len;
    my $name = $block->name;
    # What came so far, as the real runner checks it: the request is over,
    # and the server is not waited for.
    my $got = slurp($srv->{qfile}->filename) // '';
    if (!IO::Select->new($srv->{rd})->can_read(0)) {
        $TB->diag("$name - the tcp_listen server is still reading (it got "
                  . length($got) . " bytes)");
    }
    t_is_str($got, $query, "$name - tcp_query ok") if defined $query;
    t_is(length($got), $len, "$name - TCP query length ok") if defined $len;
}

sub stop_tcp_server {
    my $srv = shift;
    return unless $srv;
    kill 'TERM', $srv->{pid};
    waitpid($srv->{pid}, 0);
    delete $TcpChildren{$srv->{pid}};
    close $srv->{rd};
    unlink $srv->{unix} if defined $srv->{unix};
}

sub kill_tcp_servers {
    for my $pid (keys %TcpChildren) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    %TcpChildren = ();
}

#----------------------------------------------------------------------------
# Skip / todo sections.
#----------------------------------------------------------------------------

# Returns (count, reason) when the block must be skipped.
sub block_skip {
    my $block = shift;
    my $name = $block->name;
    my $info = nginx_info();
    my $vre = qr/(\d+\.\d+\.\d+)/;

    if (defined(my $s = $block->skip_eval)) {
        $s =~ /^\s*(\d+)\s*:\s*(.*?)\s*$/s
            or bail_out("$name - bad skip_eval spec: $s");
        my ($n, $code) = ($1, $2);
        my $r = eval "package main; $code";
        bail_out("$name - skip_eval failed: $@") if $@;
        return ($n, "skip_eval: $code") if $r;
    }
    if (defined(my $s = $block->skip_nginx)) {
        $s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*$vre\s*(?::\s*(.*?))?\s*$/s
            or bail_out("$name - bad skip_nginx spec: $s");
        my ($n, $op, $v, $why) = ($1, $2, $3, $4);
        return ($n, $why // "nginx $info->{version} $op $v")
            if compare_version($info->{canon}, $op, canon_version($v));
    }
    if (defined(my $s = $block->skip_nginx2)) {
        $s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*$vre\s+(and|or)\s+([<>]=?)\s*$vre\s*(?::\s*(.*?))?\s*$/s
            or bail_out("$name - bad skip_nginx2 spec: $s");
        my ($n, $op1, $v1, $conj, $op2, $v2, $why) = ($1, $2, $3, $4, $5, $6, $7);
        my $c1 = compare_version($info->{canon}, $op1, canon_version($v1));
        my $c2 = compare_version($info->{canon}, $op2, canon_version($v2));
        my $hit = $conj eq 'and' ? ($c1 && $c2) : ($c1 || $c2);
        return ($n, $why // "nginx $info->{version} $op1 $v1 $conj $op2 $v2") if $hit;
    }
    if (defined(my $s = $block->skip_openssl)) {
        $s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+\.\d+\.\d+[a-z]?)\s*(?::\s*(.*?))?\s*$/s
            or bail_out("$name - bad skip_openssl spec: $s");
        my ($n, $op, $v, $why) = ($1, $2, $3, $4);
        if (defined $info->{openssl_canon}
            && compare_version($info->{openssl_canon}, $op, canon_version($v)))
        {
            return ($n, $why // "OpenSSL $info->{openssl} $op $v");
        }
    }
    return;
}

sub block_todo {
    my $block = shift;
    if (defined(my $t = $block->todo)) {
        my ($why) = $t =~ /^\s*(?:\d+\s*:\s*)?(.*?)\s*$/s;
        return length $why ? $why : 'todo';
    }
    if (defined(my $t = $block->todo_nginx)) {
        $t =~ /^\s*([<>]=?)\s*(\d+\.\d+\.\d+)\s*(?::\s*(.*?))?\s*$/s
            or bail_out($block->name . " - bad todo_nginx spec: $t");
        my ($op, $v, $why) = ($1, $2, $3);
        my $info = nginx_info();
        return $why // "nginx $info->{version} $op $v"
            if compare_version($info->{canon}, $op, canon_version($v));
    }
    return;
}

#----------------------------------------------------------------------------
# The run loop.
#----------------------------------------------------------------------------
sub run_tests {
    die "Test::Nginx: no plan declared; use `use Test::Nginx::Socket "
        . "'no_plan';` or call `plan tests => ...` before run_tests()\n"
        unless defined $TB->has_plan;

    nginx_info();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . ($block->name // ''));
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
        $PrevBlock = $block;
    }
    cleanup();
}

# Sections that would need a client or mode this runner does not have.
my @UnsupportedSections = qw(http2 http3 udp_listen udp_reply udp_query);

sub run_test {
    my $block = shift;
    return if defined $block->{SKIP};
    my $name = $block->name;
    %RandPorts = ();
    undef $DryRun;

    for my $sec (@UnsupportedSections) {
        next unless defined $block->$sec;
        t_fail("$name - --- $sec is not supported by this runner "
               . "(use openresty's Test::Nginx)");
        $TB->no_ending(1);
        return;
    }

    my $config = $block->config;
    if (!defined $config && !defined $PrevConfig) {
        bail_out("$name - no --- config section, and no previous block had one");
    }

    # Skip sections are evaluated before (re)starting nginx.
    if (my ($n, $why) = block_skip($block)) {
        $TB->skip($why) for 1 .. $n * $RepeatEach;
        return;
    }

    my $todo = block_todo($block);
    $TB->todo_start($todo) if defined $todo;

    if (defined $block->must_die) {
        run_must_die($block);
        $PrevConfig = undef;
        $TB->todo_end if defined $todo;
        return;
    }

    if (defined $config) {
        if ($ForceRestartOnTest || !defined $PrevConfig
            || $config ne $PrevConfig || !nginx_running())
        {
            stop_nginx_and_check_shutdown();
            setup_server_root();
            if (defined(my $code = $block->post_setup_server_root)) {
                eval "package main; $code; 1"
                    or bail_out("$name - post_setup_server_root failed: $@");
            }
            write_user_files($block);
            write_config_file($block);
            start_nginx($block);
            $PrevConfig = $config;
        }
    } elsif (!nginx_running()) {
        # No config: keep the previous block's server; restart it from the
        # existing conf/nginx.conf only if it is gone (e.g. valgrind mode).
        start_nginx($block);
    }

    if (defined(my $code = $block->init)) {
        eval "package main; $code; 1" or bail_out("$name - init failed: $@");
    }

    $ErrLogPos = 0;
    for my $repeat (1 .. $RepeatEach) {
        my $tcp = defined $block->tcp_listen ? start_tcp_server($block) : undef;
        write_user_files($block) if $repeat > 1 && defined $config;
        $RequestHandler->($block, $repeat);
        check_tcp_query($block, $tcp) if $tcp;
        stop_tcp_server($tcp);
    }
    undef $DryRun;
    $TB->todo_end if defined $todo;

    if (my $acc = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (open my $fh, '>>', $acc) {
            print $fh "\n=== $name\n", slurp($ErrLogFile) // '';
            close $fh;
        }
    }
    # Under valgrind nginx is quit after every block so leaks get reported.
    stop_nginx_and_check_shutdown() if $UseValgrind;
}

# --- must_die[: EXITCODE]: nginx must fail to start.
sub run_must_die {
    my $block = shift;
    my $name = $block->name;
    my $want = $block->must_die;
    my $code = defined $want && $want =~ /^\s*(\d+)\s*$/ ? $1 : undef;

    stop_nginx_and_check_shutdown();
    setup_server_root();
    if (defined(my $c = $block->post_setup_server_root)) {
        eval "package main; $c; 1"
            or bail_out("$name - post_setup_server_root failed: $@");
    }
    write_user_files($block);
    write_config_file($block);
    if (defined(my $c = $block->init)) {
        eval "package main; $c; 1" or bail_out("$name - init failed: $@");
    }
    $ErrLogPos = 0;
    my $cmd = nginx_command($block, no_valgrind => 1);
    for my $repeat (1 .. $RepeatEach) {
        verbose("must_die: $cmd");
        my $rc = system($cmd);
        if ($rc == -1) {
            t_fail("$name - nginx failed to execute: $!");
        } elsif ($rc & 128) {
            t_fail("$name - nginx core dumped");
        } elsif (defined $code) {
            t_is($rc >> 8, $code, "$name - nginx died with exit code $code");
        } else {
            t_ok($rc != 0, "$name - nginx died as expected");
        }
        wait_for_pid_file(1) if $rc == 0;
        check_error_log($block, 0, $repeat);
        if (nginx_running()) {
            warn "WARNING: $name - nginx started although must_die was given; "
               . "stopping it\n";
            stop_nginx();
        }
    }
}

1;
