package NotifyTest;

# Helpers shared by the hub's tests: one for tokens (minted with Crypt::JWT,
# never by the module's own code) and one for the http{} configuration.
# Where files differ (the store, the directory file, the keys, the Graph
# manifest, extra directives, the token's key and default claims) they say
# so through setup() once, or per call.
#
#   use lib 't/lib';
#   use NotifyTest;                     # exports token, bearer and conf
#   use Test::Nginx::Socket 'no_plan';
#   BEGIN { NotifyTest::setup(); }      # or setup(directory => ..., ...)
#
#   --- http_config eval: ::conf('t1')
#   --- more_headers eval: ::bearer(::token(upn => 'ada@example.org'))
#
# A "--- more_headers eval" that gives a sub (or an array holding subs) is
# called when its block runs, not when the file is read: tokens whose
# claims are relative to the clock are minted then.

use strict;
use warnings;

use Crypt::JWT qw(encode_jwt);
use Crypt::PK::ECC;
use Crypt::PK::RSA;
use Digest::MD5 qw(md5_hex);
use Exporter 'import';
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use MIME::Base64 qw(decode_base64url);
use Time::HiRes ();

our @EXPORT = qw(token bearer conf);

our $Issuer = 'https://login.example.org/tenant/v2.0';
our $Audience = 'api://notify-hub';

my $data = File::Spec->rel2abs($ENV{TEST_NGINX_DATA_DIR} || 't/data');

# the file's defaults for conf() and token(); see setup()
my %Conf;
my %Token;
my $preprocessor;

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

# the signing keys: name => [algorithm, kid, loader]; the kid defaults to
# the name, but the hub's key is "hub-rsa" in t/data/hub/jwks.json
my %Keys = (
    hub  => ['RS256', 'hub-rsa',
             sub { Crypt::PK::RSA->new("$data/hub/rsa.private.jwk") }],
    rsa1 => ['RS256', 'rsa1',
             sub { Crypt::PK::RSA->new("$data/jwt/rsa1.private.jwk") }],
    rsa2 => ['RS256', 'rsa2',
             sub { Crypt::PK::RSA->new("$data/jwt/rsa2.private.jwk") }],
    ec1  => ['ES256', 'ec1',
             sub { Crypt::PK::ECC->new("$data/jwt/ec1.private.jwk") }],
    hs1  => ['HS256', 'hs1',
             sub { decode_base64url(decode_json(slurp("$data/jwt/hs1.jwk"))->{k}) }],
    # what an attacker has: the RSA public key, as PEM and as bare n
    rsa1_pem => ['HS256', 'rsa1_pem',
                 sub { slurp("$data/jwt/rsa1.public.pem") }],
    rsa1_n   => ['HS256', 'rsa1_n',
                 sub { decode_base64url(decode_json(slurp("$data/jwt/rsa1.public.jwk"))->{n}) }],
);
my %Loaded;

# claims(name => value, ...): the usual claims, the file's defaults, then
# these; a value undef leaves a claim out, a sub is called with the time
sub claims {
    my (%claims) = @_;
    my $now = time;
    my %c = (iss => $Issuer, aud => $Audience, iat => $now, exp => $now + 3600,
             %{ $Token{claims} || {nbf => sub { $_[0] - 5 }, tid => 'tenant-1'} },
             %claims);

    for my $k (keys %c) {
        $c{$k} = $c{$k}->($now) if ref $c{$k} eq 'CODE';
        delete $c{$k} unless defined $c{$k};
    }
    return \%c;
}

# token(key => NAME, alg => ALG, kid => KID|undef, header => {...},
#       payload => ..., claims...)
# key defaults to the file's (the hub's), alg to the key's, kid to the
# key's; header adds to the JOSE header; payload replaces the claims
sub token {
    my (%a) = @_;
    my $name = delete $a{key} // $Token{key} // 'hub';
    my $k = $Keys{$name} or die "no key named $name";
    my $alg = delete $a{alg} // $k->[0];
    my $kid = exists $a{kid} ? delete $a{kid} : $k->[1];
    my %header = (defined $kid ? (kid => $kid) : (), %{ delete $a{header} || {} });
    my $payload = exists $a{payload} ? delete $a{payload} : claims(%a);

    $Loaded{$name} //= $k->[2]->();

    return encode_jwt(payload => $payload, alg => $alg, key => $Loaded{$name},
                      $alg eq 'none' ? (allow_none => 1) : (),
                      %header ? (extra_headers => \%header) : ());
}

# the private key token() signs with for NAME (to sign altered tokens)
sub signing_key {
    my ($name) = @_;
    return $Loaded{$name} //= $Keys{$name}[2]->();
}

# an application (client credentials) token with the Syntphony role
sub app_token {
    return token(azp => 'app-ci', roles => ['access_as_application'], @_);
}

# a user's token: oid and upn of a directory user
sub user_token {
    my ($oid, $upn, @rest) = @_;
    return token(azp => 'app-portal', oid => $oid, upn => $upn,
                 scp => 'Feed.Read', @rest);
}

sub bearer { return "Authorization: Bearer " . shift() . "\n" }

# tokens of identity providers that issue no azp or appid, by what they
# name the sender with: [claims, the sender the hub stores (undef: null)]
our %Senders = (
    client_id => [[client_id => 'app-rfc9068', sub => 'sub-rfc9068'], 'app-rfc9068'],
    sub       => [[sub => 'sub-only'], 'sub-only'],
    none      => [[], undef],
);

# every accepted notification pushed to the block's tcp_listen server on
# $TEST_NGINX_RAND_PORT_1 through a delivery subrequest: the http{} and the
# server{} part, and the downstream's answer
our $PushHttp = "    notify_push_url http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/push;\n";
our $PushServer = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
CONF
our $PushReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    . "Content-Length: 27\r\nConnection: close\r\n\r\n"
    . '{"Success":true,"Code":"0"}';

# the pushed request, as a tcp_query regex: its body's sender and tenant
# The delivery tests' directives (t/090, t/091): pushes to
# $ENV{TEST_NGINX_DOWNSTREAM}<path> (t/lib/Downstream.pm), then <extra>; and
# their server: the delivery location, a syntphony inbound, the outbox
sub delivery {
    my ($path, $extra) = @_;
    $extra //= '';
    return <<"CONF";
    notify_push_url $ENV{TEST_NGINX_DOWNSTREAM}$path;
    notify_push_jwt push-secret-jwt;
    notify_delivery_timeout 2s;
    log_format delivery '\$request_method \$uri \$status delivery=\$notify_delivery_status';
$extra
CONF
}

our $DeliveryServer = <<'CONF';
    notify_delivery_location /_deliver;
    access_log logs/access.log delivery;
    location = /_deliver {
        internal;
        proxy_pass $notify_target_url;
        proxy_read_timeout 2s;
    }
    location = /n { notify_inbound syntphony; }
    location /outbox { notify_outbox; }
CONF

sub pushed_sender {
    my ($sender, $tenant) = @_;
    my $s = defined $sender ? qq("$sender") : 'null';
    $tenant //= 'localhost';
    return qr/^POST \/push HTTP\/1\.0\r\n.*\r\n\r\n\{"id":"[0-9a-f]{16}",.*,"sender":\Q$s\E,"tenant":"\Q$tenant\E"/s;
}

# conf(STORE, option => value, ...) or conf(STORE, EXTRA): the http{}
# directives of the hub.  STORE is a store of its own under the file's
# store folder (an absolute path, with parameters, is taken as it is; none:
# the file's store).  Options, defaulting to the file's (setup()):
# directory, keys, manifest (false: none) and extra (more directives); a
# directory, keys or store of '' leaves the directive out.
sub conf {
    my ($store, @rest) = @_;
    my %o = (store => $ENV{TEST_NGINX_STORE},
             directory => "$data/hub/directory.json",
             keys => "$data/hub/jwks.json",
             %Conf,
             @rest == 1 ? (extra => $rest[0]) : @rest);

    if (defined $store && length $store) {
        $o{store} = $store =~ m{^/} ? $store : "$ENV{TEST_NGINX_STORE}/$store";
    }

    my $c = '';
    $c .= "    notify_store " . store($o{store}) . ";\n"
        if length($o{store} // '');
    $c .= "    notify_directory $o{directory};\n" if length $o{directory};
    $c .= "    notify_jwt_keys $o{keys};\n" if length $o{keys};
    $c .= "    notify_jwt_issuer $Issuer;\n";
    $c .= "    notify_jwt_audience $Audience;\n";
    $c .= "    notify_graph_manifest $o{manifest};\n" if $o{manifest};
    $c .= "$o{extra}\n" if defined $o{extra} && length $o{extra};
    return $c;
}

# The kind of store the suite runs against (scripts/test --store): "lmdb"
# or "postgres"
our $StoreKind = $ENV{TEST_NGINX_STORE_KIND} || 'lmdb';

sub postgres { return $StoreKind eq 'postgres' }

# "--- skip_eval: N: NotifyTest::lmdb_only()": what only LMDB has (its map,
# max_size, its reader slots) is skipped with the PostgreSQL store
sub lmdb_only { return postgres() }

# store(PATH [PARAMETERS]): notify_store's arguments for a store named by
# its folder.  With the PostgreSQL store, the folder names a schema of its
# own in the suite's private server (so that tests see no other test's
# data, and a block that names the store of a previous one finds its data);
# the parameters are kept as they are.
sub store {
    my ($store) = @_;

    return $store unless postgres();

    my ($path, $params) = $store =~ /^(\S+)(.*)$/s;
    my $dir = $ENV{TEST_NGINX_PG_DIR}
        or die "TEST_NGINX_PG_DIR: no PostgreSQL server (scripts/test "
               . "--store postgres starts one)\n";
    my $schema = 't_' . substr(md5_hex($path), 0, 16);
    return "postgres:///notify?host=$dir/sock&user=notify schema=$schema"
           . $params;
}

# pg(COMMAND): scripts/pg COMMAND on the suite's server ("kill", "stop",
# "restart"); dies when it fails
sub pg {
    my ($cmd) = @_;
    my $script = File::Spec->rel2abs('scripts/pg');
    system($script, $cmd, $ENV{TEST_NGINX_PG_DIR}) == 0
        or die "scripts/pg $cmd failed: $?\n";
}

# "--- body_same eval [undef, 0]": request 1's body equals request 0's;
# "--- body_differs eval [undef, undef, 0]": request 2's differs from 0's
sub body_relations {
    my %bodies;

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return if $dry_run;

        my $key = $block->name . " $repeated_req_idx";
        $bodies{$key}[$req_idx] = $body;

        for my $rel (['body_same', 1], ['body_differs', 0]) {
            my $method = $rel->[0];
            my $spec = $block->$method;
            next unless ref $spec eq 'ARRAY' && defined $spec->[$req_idx];
            my $other = $bodies{$key}[$spec->[$req_idx]];
            my $name = $block->name . " - body of request $req_idx "
                       . ($rel->[1] ? "equals" : "differs from")
                       . " request $spec->[$req_idx]";
            if ($rel->[1]) {
                Test::More::is($body, $other, $name);
            } else {
                Test::More::isnt($body, $other, $name);
            }
        }
    });
}

# the locations of graph, gever and push as the files that speak every
# dialect write them (each file has its own syntphony location)
our $DialectLocations = <<'CONF';
    location ~ /sendActivityNotification$ { notify_inbound graph; }
    location = /@external-activities { notify_inbound gever; }
    location = /push {
        notify_push_recipients devs@example.org;
        notify_inbound push;
    }
CONF

# a request of graph and of gever that is accepted, to u-ada, and the roles
# its caller needs: [request, roles]
our %Accepted = (
    graph => ["POST /v1.0/users/u-ada/teamwork/sendActivityNotification\n"
              . '{"topic":{"source":"text","value":"t","webUrl":"https://teams.microsoft.com/l/x"},'
              . '"activityType":"systemDefault","previewText":{"content":"p"},'
              . '"templateParameters":[{"name":"systemDefaultText","value":"v"}]}',
              ['TeamsActivity.Send']],
    gever => ["POST /\@external-activities\n"
              . '{"description":{"en":"d"},"label":{"en":"l"},"notification_recipients":["u-ada"],'
              . '"resource_url":"https://external.example.org/","summary":{"en":"s"},"title":{"en":"t"}}',
              ['PrivilegedNotificationDispatcher']],
);

# the caller of an application with these roles, its token in a header
sub caller_of {
    my ($app, $roles) = @_;
    return "Content-Type: application/json\n"
           . bearer(token(azp => $app, roles => $roles));
}

# accepted_requests(NOTE, HEADERS): one request of each dialect that is
# accepted, as [request, headers]: syntphony (NOTE, its body, sent with
# HEADERS), graph, gever, push
sub accepted_requests {
    my ($note, $headers) = @_;
    return (["POST /n\n$note", $headers],
            [$Accepted{graph}[0], caller_of('app-teams', $Accepted{graph}[1])],
            [$Accepted{gever}[0], caller_of('app-gever', $Accepted{gever}[1])],
            ["POST /push\n{\"Type\":\"0\",\"WorkItem\":{\"Id\":\"J-1\"}}",
             "Content-Type: application/json\nUser-Agent: DataNotifier\n"
             . "Authorization: " . token(azp => 'app-push') . "\n"]);
}

# the body of the first request is a whole request of its own: were it
# taken as the next request of the keep-alive connection, nginx would
# answer /smuggled (and log that html/smuggled does not exist) before
# /last; smuggle('POST /x') is a "--- pipelined_requests" of the two
our $Smuggled = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n"
                . "Content-Length: 1\r\n\r\nx";

sub smuggle { return ["$_[0]\n$Smuggled", "GET /last"] }

# SIGHUP to the master (master_on()); then wait until the log says how it
# went: the old worker shutting down (the new configuration serves), or an
# [emerg] (the old one keeps serving).  Returns "reloaded", "failed" or
# "timed out".
sub reload {
    my $root = Test::Nginx::Util::server_root();
    my $log = "$root/logs/error.log";
    my $pidfile = "$root/logs/nginx.pid";

    open my $fh, '<', $pidfile or die "$pidfile: $!";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;

    my $from = -s $log;
    kill 'HUP', $pid or die "kill HUP $pid: $!";

    for (1 .. 600) {
        Time::HiRes::sleep(0.05);
        open my $lf, '<', $log or die "$log: $!";
        seek $lf, $from, 0;
        my $new = do { local $/; <$lf> } // '';
        close $lf;

        next unless $new =~ /reconfiguring/;
        return 'failed' if $new =~ /\[emerg\]/;

        if ($new =~ /gracefully shutting down/) {
            # the old worker has closed its listening sockets (or is about
            # to): give it a moment
            Time::HiRes::sleep(0.3);
            return 'reloaded';
        }
    }

    return 'timed out';
}

# block_number(BLOCK): the N of the block's "TEST N"
sub block_number {
    my $block = shift;
    $block->name =~ /TEST (\d+)/ or die "no number in " . $block->name;
    return $1;
}

# write_file(FILE, TEXT): FILE's new content, in place at once (rename)
sub write_file {
    my ($file, $text) = @_;
    open my $fh, '>', "$file.new" or die "$file.new: $!";
    print $fh $text;
    close $fh or die "$file.new: $!";
    rename "$file.new", $file or die "$file: $!";
}

# reload_targets(DIR): blocks whose targets are an included file,
# targets_file(N) for the block "TEST N", in DIR: "--- initial_targets" is
# written before nginx starts, and after request N element N of
# "--- reload_targets", then the master reloads (reload()).  Call it
# before run_tests(), after `use Test::Nginx::Socket`.
my $TargetsDir;

sub targets_file { return "$TargetsDir/targets-" . shift() . ".conf" }

sub reload_targets {
    ($TargetsDir) = @_;

    Test::Nginx::Util::add_block_preprocessor(sub {
        my $block = shift;
        my $initial = $block->initial_targets;
        write_file(targets_file(block_number($block)), $initial)
            if defined $initial;
    });

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return if $dry_run;
        my $texts = $block->reload_targets;
        return unless ref $texts eq 'ARRAY' && defined $texts->[$req_idx];
        write_file(targets_file(block_number($block)), $texts->[$req_idx]);
        Test::More::is(reload(), 'reloaded',
                       $block->name . " - reload after request $req_idx");
    });
}

# setup(option => value, ...): the file's store folder (new for each file;
# it outlives the blocks of one file, for restart tests) and the file's
# defaults: directory, keys, manifest, extra and store (conf()), key and
# claims (token(); claims replaces the hub's nbf and tid).  Call it after
# `use Test::Nginx::Socket`, before run_tests().
# free_port(): a port of 127.0.0.1 that nothing listens on now
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# start_nginx(DIR, HTTP): another nginx of the test (a second node, a
# second hub), with the prefix DIR, the modules of the suite, and HTTP as
# its http{} block's content (its server{} blocks included).  It is
# stopped when the process that started it ends.
my @Nginx;

sub start_nginx {
    my ($dir, $http) = @_;

    mkdir "$dir/$_" for qw(conf logs);

    my $conf = join '', map { "load_module $_;\n" }
                        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    $conf .= "user root;\n" if $> == 0;
    $conf .= "daemon on;\nmaster_process on;\nworker_processes 1;\n"
           . "error_log logs/error.log info;\npid logs/nginx.pid;\n"
           . "events { worker_connections 256; }\n"
           . "http {\n    access_log off;\n$http}\n";

    open my $fh, '>', "$dir/conf/nginx.conf" or die "$dir: $!";
    print $fh $conf;
    close $fh;

    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
        if $ENV{TEST_NGINX_LD_PRELOAD};

    system($ENV{TEST_NGINX_BINARY}, '-p', "$dir/", '-c', 'conf/nginx.conf') == 0
        or die "nginx of $dir did not start: " . `cat $dir/logs/error.log`;

    push @Nginx, [$$, $dir];
}

END {
    for my $n (@Nginx) {
        my ($owner, $dir) = @$n;
        next unless $owner == $$ && open my $fh, '<', "$dir/logs/nginx.pid";
        my $pid = <$fh>;
        close $fh;
        chomp $pid;
        next unless $pid;
        kill 'QUIT', $pid;
        for (1 .. 100) {
            last unless kill 0, $pid;
            Time::HiRes::sleep(0.05);
        }
    }
}

# pause_and_log_after(): a check of each response of the blocks that have
# "--- pause_after" (after request N, element N's seconds pass before the
# next request: what the timer does meanwhile is what the next one sees)
# or "--- log_after" (after request N and its pause, element N's lines are
# in the error log); called by a test file after it loads
# Test::Nginx::Socket
sub pause_and_log_after {
    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        return if $dry_run;

        my $pause = $block->pause_after;
        Time::HiRes::sleep($pause->[$req_idx])
            if ref $pause eq 'ARRAY' && $pause->[$req_idx];

        # what the log has by then (after the pause): "--- log_after"'s
        # element N, lines that only later requests make appear
        my $after = $block->log_after;
        return unless ref $after eq 'ARRAY' && ref $after->[$req_idx] eq 'ARRAY';

        my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
        open my $fh, '<', $log or die "$log: $!";
        my $text = do { local $/; <$fh> };
        close $fh;

        for my $line (@{ $after->[$req_idx] }) {
            Test::More::ok(index($text, $line) >= 0,
                           $block->name . " - after request $req_idx, the log has: $line");
        }
    });
}

sub setup {
    my (%opt) = @_;

    for my $k (qw(key claims)) {
        $Token{$k} = delete $opt{$k} if exists $opt{$k};
    }
    %Conf = (%Conf, %opt);

    $ENV{TEST_NGINX_STORE} ||= tempdir('notify-store-XXXXXX', TMPDIR => 1,
                                       CLEANUP => 1);
    $ENV{TEST_NGINX_HUB} = conf();

    # a more_headers sub is called when its block runs
    return if $preprocessor++;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        my $h = $block->more_headers;
        if (ref $h eq 'CODE') {
            $block->set_value(more_headers => $h->());
        } elsif (ref $h eq 'ARRAY' && grep { ref $_ eq 'CODE' } @$h) {
            $block->set_value(more_headers =>
                              [map { ref $_ eq 'CODE' ? $_->() : $_ } @$h]);
        }
    });
}

1;
