# The GEVER dialect: POST /@external-activities, answering as GEVER does.
use lib 't/lib';
use NotifyTest;
use JSON::PP;
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';
our $Json = "Content-Type: application/json\nAccept: application/json\n";

# the callers: a user (GEVER id john.doe in preferred_username), the
# privileged service account, and a service account without the role
our $John = NotifyTest::bearer(NotifyTest::token(azp => 'app-portal', oid => 'oid-john',
                                                 preferred_username => 'john.doe'));
our $Svc = NotifyTest::bearer(NotifyTest::token(azp => 'svc-gever',
                                                preferred_username => 'svc.dispatcher',
                                                roles => ['PrivilegedNotificationDispatcher']));
our $Plain = NotifyTest::bearer(NotifyTest::token(azp => 'svc-other', preferred_username => 'svc.other',
                                                  roles => ['Something.Else']));

# feed readers (found by their UPN)
our %Feed = map {
    $_->[0] => NotifyTest::bearer(NotifyTest::user_token("oid-$_->[0]", $_->[1]))
} (['john', 'john.doe@example.org'], ['jane', 'jane.roe@example.org'],
   ['max', 'max.muster@example.org'], ['old', 'old.timer@example.org'],
   ['shared', 'shared.mailbox@example.org']);

# conf(): the GEVER directory, a store (fresh when named)
NotifyTest::setup(directory => "$Data/gever/directory.json");

# a valid body; field => undef leaves a field out
sub body {
    my (%o) = @_;
    my %b = (notification_recipients => ['john.doe'],
             resource_url => 'https://external.example.org/',
             title => {de => 'Titel', en => 'Title'},
             label => {de => 'Etikett', fr => 'Etiquette'},
             summary => {en => 'Summary'},
             description => {de => 'Beschreibung', fr => 'Description', en => 'Description'},
             %o);
    delete $b{$_} for grep { !defined $b{$_} } keys %b;
    return JSON::PP->new->ascii->canonical->encode(\%b);
}

# [request, headers] pairs
sub post { my ($hdrs, @o) = @_; return ["POST /\@external-activities\n" . body(@o), $Json . $hdrs] }
sub raw { my ($hdrs, $body) = @_; return ["POST /\@external-activities\n$body", $Json . $hdrs] }
sub as { my ($who, $req) = @_; return [$req, $Feed{$who}] }
sub reqs { return [map { $_->[0] } @_] }
sub hdrs { return [map { $_->[1] } @_] }

# the answer's activity, with label, summary and title given as JSON texts
our $Created = '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00';

sub act {
    my ($label, $summary, $title) = map { quotemeta } @_;
    return '"activity":\{"actor_id":"__system__","actor_label":"System","created":"'
           . $Created . '",' . qq|"label":$label,"summary":$summary,"title":$title\\}|;
}

sub errs {
    return '"errors":\[' . join(',', map {
        quotemeta(qq|{"actor_id":"$_","msg":"Could not resolve Actor ID '$_' to a group|
                  . qq| or user","type":"unresolvable_actor_id"}|)
    } @_) . '\]';
}

sub answer { my $re = '^\{' . join(',', @_) . '\}$'; return qr/$re/ }

# the default body's activity in German
our $De = ::act('"Etikett"', 'null', '"Titel"');

# a 400 with exactly this message
sub bad { my $m = quotemeta(JSON::PP->new->encode([shift])); $m =~ s/^\\\[|\\\]$//g;
          return qr/^\{"message":$m,"type":"BadRequest"\}$/ }

our $Insufficient = '{"message":"Insufficient privileges to create external activities'
    . ' with notification recipients other than yourself.","type":"Unauthorized"}';

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: the example of GEVER's documentation, sent as written by john.doe himself
--- http_config eval: ::conf('t1')
--- config
    location = /@external-activities { notify_inbound gever; }
--- more_headers eval: $::John . "Accept: application/json\nContent-Type: application/json\n"
--- request
POST /@external-activities
{
    "notification_recipients": ["john.doe"],
    "resource_url": "https://external.example.org/",
    "title": {
        "de": "Ein Ereignis ist eingetreten",
        "en": "An event happened"
    },
    "label": {
        "de": "...",
        "en": "..."
    },
    "summary": {
        "de": "...",
        "en": "..."
    },
    "description": {
        "de": "...",
        "en": "..."
    }
}
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"activity":\{"actor_id":"__system__","actor_label":"System","created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00","label":"\.\.\.","summary":"\.\.\.","title":"Ein Ereignis ist eingetreten"\}\}$
--- error_log
notify: stored notification 0000000000000001 for 1 recipients
--- no_error_log
[error]



=== TEST 2: the feed shows it, with every text and the description, without sender and tenant
--- http_config eval: ::conf('t1')
--- config
    location /activities { notify_feed; }
--- more_headers eval: $::Feed{john}
--- request
GET /activities
--- error_code: 200
--- response_body_like: ^\{"items":\[\{"id":"0000000000000001","dialect":"gever","event":"external-activity","title":\{"de":"Ein Ereignis ist eingetreten","en":"An event happened"\},"label":\{"de":"\.\.\.","en":"\.\.\."\},"summary":\{"de":"\.\.\.","en":"\.\.\."\},"description":\{"de":"\.\.\.","en":"\.\.\."\},"url":"https://external\.example\.org/","created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","read":false\}\],"next":null,"unread":1\}$
--- no_error_log
[error]



=== TEST 3: the texts in the request's language; one not supplied is null
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: [("POST /\@external-activities\n" . ::body()) x 10]
--- more_headers eval
[map { $::Json . $::Svc . ($_ ? "Accept-Language: $_\n" : '') }
 ('', 'en', 'fr-CH, fr;q=0.9, en;q=0.8', 'en;q=0.5, de;q=0.9', 'it, en-US', '*',
  'EN-gb', 'de;q=0, fr;q=0.1', 'english, french', 'de-CH;q=0.7,en;q=0.7')]
--- error_code eval: [(201) x 10]
--- response_body_like eval
[::answer($::De), ::answer(::act('null', '"Summary"', '"Title"')),
 ::answer(::act('"Etiquette"', 'null', 'null')), ::answer($::De),
 ::answer(::act('null', '"Summary"', '"Title"')), ::answer($::De),
 ::answer(::act('null', '"Summary"', '"Title"')), ::answer(::act('"Etiquette"', 'null', 'null')),
 ::answer($::De), ::answer($::De)]
--- no_error_log
[error]



=== TEST 4: a group becomes its active members; users named twice are notified once
--- http_config eval: ::conf('t4')
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: ::post($::Svc, notification_recipients => ['fa_users', 'jane.roe', 'jane.roe', 'team_a'])->[0]
--- more_headers eval: $::Json . $::Svc
--- error_code: 201
--- response_body_like eval: ::answer($::De)
--- error_log
for 3 recipients
--- no_error_log
[error]



=== TEST 5: john, jane and max have it in their feeds, the inactive member has not
--- http_config eval: ::conf('t4')
--- config
    location /activities { notify_feed; }
--- request eval: ::reqs(::as(john => 'GET /activities/count'), ::as(jane => 'GET /activities/count'), ::as(max => 'GET /activities/count'), ::as(old => 'GET /activities'))
--- more_headers eval: ::hdrs(::as(john => ''), ::as(jane => ''), ::as(max => ''), ::as(old => ''))
--- error_code eval: [200, 200, 200, 200]
--- response_body eval: ['{"unread":1}', '{"unread":1}', '{"unread":1}', '{"items":[],"next":null,"unread":0}']
--- no_error_log
[error]



=== TEST 6: ids that resolve to nobody are reported, each once
--- http_config eval: ::conf('t6')
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: ::post($::Svc, notification_recipients => ['nobody', 'john.doe', 'nobody', 'ghost'])->[0]
--- more_headers eval: $::Json . $::Svc
--- error_code: 201
--- response_body_like eval: ::answer($::De, ::errs('nobody', 'ghost'))
--- error_log
for 1 recipients
--- no_error_log
[error]



=== TEST 7: a user's id wins over a group's; UPNs of users and groups, in any case
--- http_config eval: ::conf('t7')
--- config
    location = /@external-activities { notify_inbound gever; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post($::Svc, notification_recipients => ['shared']), ::as(shared => 'GET /activities/count'),
       ::as(john => 'GET /activities/count'),
       ::post($::Svc, notification_recipients => ['FA-USERS@example.org']),
       ::as(john => 'GET /activities/count'), ::as(max => 'GET /activities/count'),
       ::post($::Svc, notification_recipients => ['Max.Muster@EXAMPLE.org']),
       ::as(max => 'GET /activities/count'), ::as(jane => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post($::Svc), ::as(shared => ''), ::as(john => ''), ::post($::Svc), ::as(john => ''),
       ::as(max => ''), ::post($::Svc), ::as(max => ''), ::as(jane => ''))
--- error_code eval: [201, 200, 200, 201, 200, 200, 201, 200, 200]
--- response_body_like eval
[::answer($::De), qr/^\{"unread":1\}$/, qr/^\{"unread":0\}$/, ::answer($::De), qr/^\{"unread":1\}$/,
 qr/^\{"unread":0\}$/, ::answer($::De), qr/^\{"unread":1\}$/, qr/^\{"unread":1\}$/]
--- no_error_log
[error]



=== TEST 8: no name resolves: no activity, nothing stored; only inactive users: an activity that notifies nobody
--- http_config eval: ::conf('t8')
--- config
    location = /@external-activities { notify_inbound gever; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post($::Svc, notification_recipients => ['nobody']),
       ::post($::Svc, notification_recipients => ['old.timer']),
       ::post($::Svc, notification_recipients => ['retired']),
       ::post($::Svc, notification_recipients => ['nobody', 'retired', 'old.timer@example.org']),
       ::post($::Svc), ::as(john => 'GET /activities'))
--- more_headers eval: ::hdrs(::post($::Svc), ::post($::Svc), ::post($::Svc), ::post($::Svc), ::post($::Svc), ::as(john => ''))
--- error_code eval: [201, 201, 201, 201, 201, 200]
--- response_body_like eval
[::answer(::errs('nobody')), ::answer($::De), ::answer($::De), ::answer($::De, ::errs('nobody')),
 ::answer($::De), qr/^\{"items":\[\{"id":"0000000000000004",[^\]]*\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 9: X-GEVER-SuppressNotifications: recorded, in nobody's feed
--- http_config eval: ::conf('t9')
--- config
    location = /@external-activities { notify_inbound gever; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post(''), ::as(john => 'GET /activities/count'), ::post(''), ::as(john => 'GET /activities/count'),
       ::post(''), ::post(''), ::post(''), ::post(''), ::post(''), ::post(''),
       ::as(john => 'GET /activities'))
--- more_headers eval
[map({ $::Json . $::Svc . "X-GEVER-SuppressNotifications: $_\n" } 'true'), $::Feed{john},
 map({ $::Json . $::Svc . "X-GEVER-SuppressNotifications: $_\n" } 'false'), $::Feed{john},
 map({ $::Json . $::Svc . "X-GEVER-SuppressNotifications: $_\n" } 'YES', 'y', 'T', '1', ' True ', 'no'),
 $::Feed{john}]
--- error_code eval: [201, 200, 201, 200, 201, 201, 201, 201, 201, 201, 200]
--- response_body_like eval
[::answer($::De), qr/^\{"unread":0\}$/, ::answer($::De), qr/^\{"unread":1\}$/,
 (::answer($::De)) x 6,
 qr/^\{"items":\[\{"id":"0000000000000008",[^\]]*\},\{"id":"0000000000000002",[^\]]*\}\],"next":null,"unread":2\}$/]
--- no_error_log
[error]



=== TEST 10: a suppressed activity is stored for no recipient
--- http_config eval: ::conf('t10')
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: ::post('')->[0]
--- more_headers eval: $::Json . $::Svc . "X-GEVER-SuppressNotifications: 1\n"
--- error_code: 201
--- response_body_like eval: ::answer($::De)
--- error_log
notify: gever: notifications suppressed
notify: stored notification 0000000000000001 for 0 recipients
--- no_error_log
[error]



=== TEST 11: authorization runs before validation
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
::reqs(::post($::John, notification_recipients => ['jane.roe'], resource_url => 42, title => undef),
       ::post($::John, notification_recipients => ['john.doe', 'john.doe']),
       ::post($::John, notification_recipients => ['fa_users']),
       ::post($::John, notification_recipients => 'john.doe'),
       ::post($::John, notification_recipients => ['JOHN.DOE']),
       ::post($::John, notification_recipients => [], resource_url => 42),
       ::post($::John, notification_recipients => undef),
       ::post($::John, resource_url => 42),
       ::post($::Plain, notification_recipients => ['john.doe']),
       ::post($::Plain, notification_recipients => ['svc.other']),
       ::post($::John))
--- more_headers eval: [($::Json . $::John) x 8, ($::Json . $::Plain) x 2, $::Json . $::John]
--- error_code eval: [401, 401, 401, 401, 401, 400, 400, 400, 401, 201, 201]
--- response_body_like eval
[(qr/^\Q$::Insufficient\E$/) x 5,
 ::bad(q{[('notification_recipients', TooShort([], 1)), ('resource_url', WrongType(42, <type 'str'>, 'resource_url'))]}),
 ::bad(q{[('notification_recipients', RequiredMissing('notification_recipients'))]}),
 ::bad(q{[('resource_url', WrongType(42, <type 'str'>, 'resource_url'))]}),
 qr/^\Q$::Insufficient\E$/, ::answer(::errs('svc.other')), ::answer($::De)]
--- no_error_log
[error]



=== TEST 12: the privilege error's headers
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: ::post('', notification_recipients => ['jane.roe'])->[0]
--- more_headers eval: $::Json . $::John
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer error="insufficient_scope"
--- response_body eval: $::Insufficient
--- error_log
notify: gever: caller "john.doe" may only notify itself
--- no_error_log
[error]



=== TEST 13: no token, a bad token, an expired token: 401
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: [("POST /\@external-activities\n" . ::body()) x 3]
--- more_headers eval
[$::Json, $::Json . "Authorization: Bearer abc.def.ghi\n",
 $::Json . NotifyTest::bearer(NotifyTest::token(preferred_username => 'john.doe', exp => time - 3600, nbf => time - 7200))]
--- error_code eval: [401, 401, 401]
--- response_headers eval
[qq{WWW-Authenticate: Bearer error="invalid_token"\nContent-Type: application/json}, qq{WWW-Authenticate: Bearer error="invalid_token"}, qq{WWW-Authenticate: Bearer error="invalid_token"}]
--- response_body eval: [('{"message":"You are not authorized to access this resource.","type":"Unauthorized"}') x 3]
--- error_log
notify: unauthenticated:
--- no_error_log
[error]



=== TEST 14: every field at once, in the schema's order, then the unknown ones
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- more_headers eval: $::Json . $::Svc
--- request
POST /@external-activities
{"foo": 1, "notification_recipients": ["john.doe"], "resource_url": 42,
 "title": {"xx": "a", "de": 42}, "label": 42, "summary": {"de": "a\nb"},
 "description": ["a", "b", "c"], "bar": null}
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"message":"[('resource_url', WrongType(42, <type 'str'>, 'resource_url')), ('title', WrongContainedType([WrongType(42, <type 'unicode'>, ''), ConstraintNotSatisfied(u'xx')], 'title')), ('label', WrongType(42, <type 'dict'>, 'label')), ('summary', WrongContainedType([ConstraintNotSatisfied(u'a\\nb')], 'summary')), ('description', WrongType([u'a', u'b', u'c'], <type 'dict'>, 'description')), (u'foo', UnknownField(u'foo')), (u'bar', UnknownField(u'bar'))]","type":"BadRequest"}
--- no_error_log
[error]



=== TEST 15: an empty body is {}; null is missing
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
["POST /\@external-activities", "POST /\@external-activities\n{}",
 "POST /\@external-activities\n" . '{"notification_recipients": null, "resource_url": null, "title": null, "label": null, "summary": null, "description": null}']
--- more_headers eval: [$::Json . $::John . "Content-Length: 0\n", $::Json . $::John, $::Json . $::John]
--- error_code eval: [400, 400, 400]
--- response_body eval
[('{"message":"[(\'notification_recipients\', RequiredMissing(\'notification_recipients\')), (\'resource_url\', RequiredMissing(\'resource_url\')), (\'title\', RequiredMissing(\'title\')), (\'label\', RequiredMissing(\'label\')), (\'summary\', RequiredMissing(\'summary\')), (\'description\', RequiredMissing(\'description\'))]","type":"BadRequest"}') x 3]
--- no_error_log
[error]



=== TEST 16: recipients: a list of single-line ASCII strings
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
::reqs(::raw('', '{"notification_recipients": ["john.doe", 5, null, "b\nc", "caf\u00e9", "", {"a": [true, false, 1.5, 0.1, 100.0, 1e16, 1.5e16, 1e-05, -0.0, 123.456, 0.0001]}], "resource_url": "https://x.example.org", "title": {}, "label": {}, "summary": {}, "description": {}}'),
       ::post('', notification_recipients => 5),
       ::post('', notification_recipients => 'john.doe'),
       ::post('', notification_recipients => {a => 1}))
--- more_headers eval: $::Json . $::Svc
--- error_code eval: [400, 400, 400, 400]
--- response_body_like eval
[::bad(q{[('notification_recipients', WrongContainedType([WrongType(5, <type 'str'>, ''), RequiredMissing(''), ConstraintNotSatisfied('b\nc'), InvalidValue(), WrongType({u'a': [True, False, 1.5, 0.1, 100.0, 1e+16, 1.5e+16, 1e-05, -0.0, 123.456, 0.0001]}, <type 'str'>, '')], 'notification_recipients'))]}),
 ::bad(q{[('notification_recipients', WrongType(5, <type 'list'>, 'notification_recipients'))]}),
 ::bad(q{[('notification_recipients', WrongType(u'john.doe', <type 'list'>, 'notification_recipients'))]}),
 ::bad(q{[('notification_recipients', WrongType({u'a': 1}, <type 'list'>, 'notification_recipients'))]})]
--- no_error_log
[error]



=== TEST 17: resource_url: a URI of at most 255 characters
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
::reqs(map({ ::post('', resource_url => $_) } 'mailto:john.doe@example.org', 'urn:isbn:0451450523',
           'https://e.example.org/' . ('a' x 233), "https://ex\x{e4}mple.org/\x{f6}",
           'not a uri', '', '://x', 'https://a b', "https://x\ny", 'https://e.example.org/' . ('a' x 234),
           "https://ex\x{e4}mple.org/\x{f6}\t"))
--- more_headers eval: $::Json . $::Svc
--- error_code eval: [201, 201, 201, 201, 400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[(::answer($::De)) x 4,
 ::bad(q{[('resource_url', InvalidURI('not a uri'))]}),
 ::bad(q{[('resource_url', InvalidURI(''))]}),
 ::bad(q{[('resource_url', InvalidURI('://x'))]}),
 ::bad(q{[('resource_url', InvalidURI('https://a b'))]}),
 ::bad(q{[('resource_url', ConstraintNotSatisfied('https://x\ny'))]}),
 ::bad(q{[('resource_url', TooLong('https://e.example.org/} . ('a' x 234) . q{', 255))]}),
 ::bad(q{[('resource_url', InvalidURI('https://ex\xc3\xa4mple.org/\xc3\xb6\t'))]})]
--- no_error_log
[error]



=== TEST 18: texts: objects of de, fr and en to single-line strings; empty ones are valid
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
::reqs(::post('', title => {}, label => {}, summary => {}, description => {}),
       ::post('', title => 'Titel', label => {it => 'x', de => "a\rb", en => undef}, summary => [1],
              description => {fr => {x => "\x{e9}\x{20ac}\x{1f600}"}, en => ["it's", 'a "b"', "q'\"\\"]}))
--- more_headers eval: $::Json . $::Svc
--- error_code eval: [201, 400]
--- response_body_like eval
[::answer(::act('null', 'null', 'null')),
 ::bad(q{[('title', WrongType(u'Titel', <type 'dict'>, 'title')), ('label', WrongContainedType([ConstraintNotSatisfied(u'a\rb'), RequiredMissing(''), ConstraintNotSatisfied(u'it')], 'label')), ('summary', WrongType([1], <type 'dict'>, 'summary')), ('description', WrongContainedType([WrongType([u"it's", u'a "b"', u'q\'"\\\\'], <type 'unicode'>, ''), WrongType({u'x': u'\xe9\u20ac\U0001f600'}, <type 'unicode'>, '')], 'description'))]})]
--- no_error_log
[error]



=== TEST 19: not JSON, not an object: 400
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
["POST /\@external-activities\n{\"notification_recipients\": ", "POST /\@external-activities\n[1, 2]",
 "POST /\@external-activities\n42"]
--- more_headers eval: $::Json . $::John
--- error_code eval: [400, 400, 400]
--- response_body_like eval
[qr/^\{"message":"The request body is not valid JSON: [^"]+ \(line 1, column \d+\)\.","type":"BadRequest"\}$/,
 qr/^\{"message":"The request body must be a JSON object\.","type":"BadRequest"\}$/,
 qr/^\{"message":"The request body is not valid JSON: [^"]+","type":"BadRequest"\}$/]
--- no_error_log
[error]



=== TEST 20: any method but POST: 404, without Allow
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval
["GET /\@external-activities", "PUT /\@external-activities\n" . ::body(), "DELETE /\@external-activities",
 "GET /\@external-activities?x=1", "PATCH /\@external-activities\n{}"]
--- more_headers eval: [$::Json . $::John, $::Json . $::John, $::Json . $::John, '', $::Json . $::Svc]
--- error_code eval: [404, 404, 404, 404, 404]
--- response_headers eval: [("!Allow\nContent-Type: application/json") x 5]
--- response_body eval: [('{"message":"Resource not found: http://localhost/@external-activities","type":"NotFound"}') x 5]
--- no_error_log
[error]



=== TEST 21: a body over notify_max_body: 413
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_max_body 1k; notify_inbound gever; }
--- request eval: ::post('', resource_url => 'https://x.example.org/' . ('x' x 2000))->[0]
--- more_headers eval: $::Json . $::John
--- error_code: 413
--- response_body chomp
{"message":"The request body is larger than 1024 bytes.","type":"PayloadTooLarge"}
--- no_error_log
[error]



=== TEST 22: notify_gever_actor_claim: the caller's own id from another claim
--- http_config eval: ::conf()
--- config
    location = /a { notify_inbound gever; }
    location = /b { notify_gever_actor_claim sub; notify_inbound gever; }
    location = /c { notify_gever_actor_claim gever_userid; notify_inbound gever; }
--- request eval
my $b = ::body(notification_recipients => ['john.doe']);
my $u = ::body(notification_recipients => ['john.doe@example.org']);
["POST /a\n$u", "POST /a\n$b", "POST /b\n$b", "POST /b\n$u", "POST /c\n$b", "POST /c\n$b"]
--- more_headers eval
my $t = NotifyTest::bearer(NotifyTest::token(upn => 'john.doe@example.org', sub => 'john.doe',
                                             gever_userid => 'john.doe'));
my $n = NotifyTest::bearer(NotifyTest::token(upn => 'john.doe@example.org', sub => 'john.doe'));
[($::Json . $t) x 5, $::Json . $n]
--- error_code eval: [201, 401, 201, 401, 201, 401]
--- no_error_log
[error]



=== TEST 23: notify_require_role still applies: 403
--- http_config eval: ::conf()
--- config
    location = /@external-activities { notify_require_role Gever.Sender; notify_inbound gever; }
--- request eval: ::post('')->[0]
--- more_headers eval: $::Json . $::John
--- error_code: 403
--- response_body chomp
{"message":"The caller does not hold a required role.","type":"Forbidden"}
--- no_error_log
[error]



=== TEST 24: a privileged token without azp, appid or a user name, only client_id (RFC 9068): the sender is the client_id
--- http_config eval: ::conf('sender-client_id') . $NotifyTest::PushHttp
--- config eval: "    location = /\@external-activities { notify_inbound gever; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{client_id}[0]}, roles => ['PrivilegedNotificationDispatcher']))
--- request eval: ::post('')->[0]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{client_id}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 201
--- no_error_log
[error]
out of memory



=== TEST 25: a privileged token without azp, appid or a user name, only sub: the sender is the sub
--- http_config eval: ::conf('sender-sub') . $NotifyTest::PushHttp
--- config eval: "    location = /\@external-activities { notify_inbound gever; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{sub}[0]}, roles => ['PrivilegedNotificationDispatcher']))
--- request eval: ::post('')->[0]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{sub}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 201
--- no_error_log
[error]
out of memory



=== TEST 26: a privileged token without azp, appid or a user name, neither azp, appid, client_id nor sub: the sender is null
--- http_config eval: ::conf('sender-none') . $NotifyTest::PushHttp
--- config eval: "    location = /\@external-activities { notify_inbound gever; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . NotifyTest::bearer(NotifyTest::token(@{$NotifyTest::Senders{none}[0]}, roles => ['PrivilegedNotificationDispatcher']))
--- request eval: ::post('')->[0]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{none}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 201
--- no_error_log
[error]
out of memory



=== TEST 27: a user name that is the id of a group names no user: the group is never notified
--- http_config eval: ::conf('t27')
--- config
    location = /@external-activities { notify_inbound gever; }
--- request eval: ::post('', notification_recipients => ['team_a'])->[0]
--- more_headers eval
$::Json . NotifyTest::bearer(NotifyTest::token(azp => 'app-portal', preferred_username => 'team_a'))
--- error_code: 201
--- response_body_like eval: ::answer(::errs('team_a'))
--- no_error_log
[error]
stored notification



=== TEST 28: the oid wins over the user name: naming itself by another's name notifies itself
--- http_config eval: ::conf('t28')
--- config
    location = /@external-activities { notify_inbound gever; }
    location /activities { notify_feed; }
--- request eval
::reqs(::post('', notification_recipients => ['john.doe']),
       ::as(jane => 'GET /activities/count'), ::as(john => 'GET /activities/count'))
--- more_headers eval
::hdrs(::post(NotifyTest::bearer(NotifyTest::token(azp => 'app-portal', oid => 'jane.roe',
                                                   preferred_username => 'john.doe'))),
       ::as(jane => ''), ::as(john => ''))
--- error_code eval: [201, 200, 200]
--- response_body_like eval
[::answer($::De), qr/^\{"unread":1\}$/, qr/^\{"unread":0\}$/]
--- no_error_log
[error]

