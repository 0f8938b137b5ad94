# A target whose dialect limits the recipients of one request (Graph's
# bulk call: 100): the plan splits a notification's recipients into parts,
# an outbox entry each, with an idempotency key of its own; every part is
# delivered, each recipient exactly once.
use lib 't/lib';
use NotifyTest;
use Downstream;
use JSON::PP;
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

our $Dir;

BEGIN {
    NotifyTest::setup();
    $ENV{TEST_NGINX_DOWNSTREAM} = 'http://127.0.0.1:' . Downstream::start();

    # a directory of 250 users and one group of them all
    $Dir = tempdir(CLEANUP => 1);
    my @users = map { sprintf 'u-%04d', $_ } 1 .. 250;
    open my $fh, '>', "$Dir/directory.json" or die "$Dir: $!";
    print $fh encode_json({
        users => [map { {id => $_, upn => "$_\@example.org"} } @users],
        groups => [{id => 'g-many', upn => 'many@example.org', members => \@users}],
    });
    close $fh;
}

our $App = "Content-Type: application/json\n" . NotifyTest::bearer(NotifyTest::app_token());

sub post {
    my (@accounts) = @_;
    return "POST /n\n" . encode_json({eventId => 'build.failed', title => 'Red',
                                      url => 'http://x.example.org/', accounts => \@accounts});
}

# a graph target at the downstream's <path>, in the hub of this file's directory
sub hub {
    my ($store, $path) = @_;
    return ::conf($store, directory => "$Dir/directory.json", extra => <<"CONF");
    notify_target teams {
        dialect graph;
        url $ENV{TEST_NGINX_DOWNSTREAM}$path;
        authorization "Bearer graph-token";
        retry 200ms 1s;
    }
    notify_delivery_timeout 2s;
CONF
}

our $Server = <<'CONF';
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; proxy_read_timeout 2s; }
    location = /n { notify_inbound syntphony; }
    location /outbox { notify_outbox; }
CONF

no_shuffle();
no_long_string();
run_tests();

# what the downstream got: three bulk calls for the 250, then one for 100
my @r = Downstream::requests('/p1/answer/202/teamwork/sendActivityNotificationToRecipients');
is(scalar @r, 3, 'three requests for 250 recipients');
my %seen;
for my $r (@r) {
    my $b = decode_json($r->{body});
    $seen{$_->{userId}}++ for @{ $b->{recipients} };
    ok(@{ $b->{recipients} } <= 100, 'at most 100 recipients in one request');
    is($r->{headers}{authorization}, 'Bearer graph-token', 'its Authorization');
}
is(scalar keys %seen, 250, 'every recipient reached');
is((grep { $_ != 1 } values %seen), 0, 'each exactly once');
is_deeply([sort map { scalar @{ decode_json($_->{body})->{recipients} } } @r], [100, 100, 50],
          'parts of 100, 100 and 50');

@r = Downstream::requests('/p2/answer/202/teamwork/sendActivityNotificationToRecipients');
is(scalar @r, 1, 'exactly 100 recipients: one request');
if (@r) {
    is(scalar @{ decode_json($r[0]{body})->{recipients} }, 100, 'with all 100');
}

__DATA__

=== TEST 1: 250 recipients to a Graph target: three entries, parts 1 to 3, each delivered at its first attempt
--- http_config eval: ::hub('t1', '/p1/answer/202')
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post('many@example.org')
--- wait: 1
--- error_code: 200
--- response_body_like: "recipients":250\b
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "teams"
--- no_error_log
[error]



=== TEST 2: nothing of it is left in the outbox
--- http_config eval: ::hub('t1', '/p1/answer/202')
--- config eval: $::Server
--- request
GET /outbox
--- error_code: 200
--- response_body_like: ^\{"items":\[\]\}$
--- no_error_log
[error]



=== TEST 3: exactly 100 recipients: one entry
--- http_config eval: ::hub('t3', '/p2/answer/202')
--- config eval: $::Server
--- more_headers eval: $::App
--- request eval: ::post(map { sprintf 'u-%04d', $_ } 1 .. 100)
--- wait: 1
--- error_code: 200
--- error_log
notify: delivered 0000000000000001 (attempt 1); target "teams"
--- no_error_log
[error]
