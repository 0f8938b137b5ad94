# Every configuration in conf-examples/ passes "nginx -t" with the module
# as built (TLS certificates aside, which an example cannot ship; nor does
# nginx -t reach the PostgreSQL store's server).
use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Cwd qw(abs_path);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
my ($ndk) = grep { m{/ndk_http_module\.so$} } @modules;
my ($notify) = grep { m{/ngx_http_notify_module\.so$} } @modules;

plan skip_all => 'TEST_NGINX_LOAD_MODULES names no ngx_http_notify_module.so'
    unless $ndk && $notify;

# and those of a setup of several files (conf-examples/two-nodes/)
my @confs = sort glob('conf-examples/*.conf conf-examples/*/*.conf');
ok(@confs >= 4, 'there are example configurations') or diag "@confs";

for my $conf (@confs) {
    my $prefix = tempdir('notify-example-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$prefix/$_" for qw(conf conf/notify logs modules data);
    symlink abs_path($ndk), "$prefix/modules/ndk_http_module.so" or die $!;
    symlink abs_path($notify), "$prefix/modules/ngx_http_notify_module.so" or die $!;
    copy($_, "$prefix/conf/notify/") or die $! for grep { -f } glob('conf-examples/notify/*');

    open my $in, '<', $conf or die $!;
    local $/;
    my $text = <$in>;
    close $in;

    # no certificates here: a plain listener instead of TLS
    $text =~ s/listen\s+443\s+ssl;/listen 127.0.0.1:1;/g;
    $text =~ s/^\s*ssl_certificate(_key)?\s+[^;]+;\n//mg;

    open my $out, '>', "$prefix/conf/nginx.conf" or die $!;
    print $out $text;
    close $out;

    # under scripts/test --asan the module needs the ASan runtime first
    my $preload = $ENV{TEST_NGINX_LD_PRELOAD} ? "LD_PRELOAD=$ENV{TEST_NGINX_LD_PRELOAD} " : '';
    my $output = `$preload$nginx -t -p $prefix/ -c $prefix/conf/nginx.conf -g 'user root;' 2>&1`;
    is($?, 0, "$conf passes nginx -t") or diag $output;
    like($output, qr/syntax is ok/, "$conf: the syntax is ok");
}

done_testing();
