# notify_status, notify_tenant and $notify_tenant: the module skeleton.
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: notify_status answers JSON with the versions it runs with
--- config
    location = /status { notify_status; }
--- request
GET /status
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"module":"ngx_http_notify","version":"\d+\.\d+\.\d+","nginx":"1\.\d+\.\d+","jansson":"2\.\d+(\.\d+)?","libcurl":"\d+\.\d+\.\d+","lmdb":"0\.9\.\d+","loaded":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","tenant":"localhost"\}$
--- no_error_log
[error]



=== TEST 2: the versions are the ones of the libraries really loaded
--- config
    location = /status { notify_status; }
--- request
GET /status
--- response_body_like eval
my ($jansson) = `dpkg-query -W -f='\${Version}' libjansson4` =~ /^([\d.]+)/;
my ($curl) = `dpkg-query -W -f='\${Version}' libcurl4` =~ /^([\d.]+)/;
my ($lmdb) = `dpkg-query -W -f='\${Version}' liblmdb0` =~ /^([\d.]+)/;
my ($nginx) = `$ENV{TEST_NGINX_BINARY} -v 2>&1` =~ m{nginx/([\d.]+)};
qr/"nginx":"\Q$nginx\E","jansson":"\Q$jansson\E","libcurl":"\Q$curl\E","lmdb":"\Q$lmdb\E"/
--- no_error_log
[error]



=== TEST 3: pretty prints
--- config
    location = /status { notify_status pretty; }
--- request
GET /status
--- response_body_like: ^\{\n  "module": "ngx_http_notify",\n  "version": "[\d.]+",\n.*\n  "tenant": "localhost"\n\}\n$
--- no_error_log
[error]



=== TEST 4: HEAD gets the headers only
--- config
    location = /status { notify_status; }
--- request
HEAD /status
--- response_headers
Content-Type: application/json
--- response_body
--- no_error_log
[error]



=== TEST 5: other methods are not allowed
--- config
    location = /status { notify_status; }
--- request
POST /status
{"a": 1}
--- error_code: 405
--- no_error_log
[error]



=== TEST 6: notify_tenant from http{} is inherited, a server{} one wins
--- http_config
    notify_tenant "acme-$server_port";
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name other;
        notify_tenant "beta";
        location = /status { notify_status; }
    }
--- config
    location = /status { notify_status; }
    location = /other {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/status;
    }
--- request eval
["GET /status", "GET /other"]
--- response_body_like eval
[qr/"tenant":"acme-\d+"\}$/, qr/"tenant":"beta"\}$/]
--- no_error_log
[error]



=== TEST 7: $notify_tenant defaults to the server name
--- config
    location = /t { return 200 "tenant=$notify_tenant\n"; }
--- request
GET /t
--- response_body
tenant=localhost
--- no_error_log
[error]



=== TEST 8: $notify_tenant evaluates its variables per request
--- config
    notify_tenant $http_x_tenant;
    location = /t { return 200 "tenant=$notify_tenant\n"; }
--- request
GET /t
--- more_headers
X-Tenant: north
--- response_body
tenant=north
--- no_error_log
[error]



=== TEST 9: an unknown argument is a configuration error
--- config
    location = /status { notify_status verbose; }
--- must_die
--- error_log
invalid parameter "verbose" of "notify_status", it takes no parameter or "pretty"



=== TEST 10: notify_status twice in one location
--- config
    location = /status { notify_status; notify_status pretty; }
--- must_die
--- error_log
"notify_status" directive is duplicate



=== TEST 11: notify_status is a location directive
--- config
    notify_status;
--- must_die
--- error_log
"notify_status" directive is not allowed here



=== TEST 12: notify_tenant is not a location directive
--- config
    location = /t { notify_tenant x; }
--- must_die
--- error_log
"notify_tenant" directive is not allowed here
