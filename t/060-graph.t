# The Microsoft Graph dialect: sendActivityNotification (team, user, chat)
# and sendActivityNotificationToRecipients, Graph's permissions and errors,
# the Teams app manifest (notify_graph_manifest), chainId replacement in
# the feed, and the limit of 10 000 team members.
use lib 't/lib';
use NotifyTest;
use JSON::PP;
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

BEGIN { NotifyTest::setup(); }

our $Data = $ENV{TEST_NGINX_DATA_DIR} || 't/data';

# ids of the fixture directory (t/data/graph/directory.json); the team,
# channel, chat and users of Graph's documentation are in it as they are
our $Team = '7155e3c8-175e-4311-97ef-572edc3aa3db';
our $Channel = '19:0ea5de04de4743bcb4cd20cb99235d99@thread.tacv2';
our $Chat = '19:d65713bc498c4a428c71ef9353e6ce20@thread.v2';
our $John = '569363e2-4e49-4661-87f2-16f245c5d66a';
our $Megan = 'ab88234e-0874-477c-9638-d144296ed04f';
our $Alex = '01c64f53-69aa-42c7-9b7f-9f75195d6bfc';

our $TeamPath = "/v1.0/teams/$Team/sendActivityNotification";
our $ChatPath = "/v1.0/chats/$Chat/sendActivityNotification";
our $UserPath = "/v1.0/users/$John/teamwork/sendActivityNotification";
our $BulkPath = "/v1.0/teamwork/sendActivityNotificationToRecipients";
our $TeamUrl = "https://graph.microsoft.com/v1.0/teams/$Team";
our $ChatUrl = "https://graph.microsoft.com/v1.0/chats/$Chat";
our $AppUrl = 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/2f6a0e52-7c1d-4a0f-9f2b-3c4d5e6f7a8b';
our $WebUrl = 'https://teams.microsoft.com/l/message/19:448cfd2ac2a7490a9084a9ed14cttr78c@thread.skype/1605223780000?tenantId=c8b1bf45-3834-4ecf-971a-b4c755ee677d&groupId=d4c2a937-f097-435a-bc91-5c1683ca7245&parentMessageId=1605223771864&teamName=Approvals&channelName=Azure%20DevOps&createdTime=1605223780000';

our $Json = "Content-Type: application/json\n";
our $AppToken = NotifyTest::token(azp => 'app-graph', roles => ['TeamsActivity.Send']);
our $App = $Json . bearer($AppToken);
our $Ada = $Json . bearer(NotifyTest::token(azp => 'app-graph', oid => 'u-ada',
                                            upn => 'ada@example.org',
                                            scp => 'TeamsActivity.Send User.Read'));
sub app { return $Json . bearer(NotifyTest::token(azp => 'app-graph', @_)) }

our %Feed = (
    john => bearer(NotifyTest::user_token($John, 'john.doe@microsoft.com')),
    megan => bearer(NotifyTest::user_token($Megan, 'megan@example.org')),
    ada => bearer(NotifyTest::user_token('u-ada', 'ada@example.org')),
    bob => bearer(NotifyTest::user_token('u-bob', 'bob@example.org')),
);

# conf(): a store of its own per block, the Graph directory and manifest
NotifyTest::setup(directory => "$Data/graph/directory.json",
                  manifest => "$Data/graph/manifest.json");

# a valid team request to John, with some parts changed (undef: removed)
our $Codec = JSON::PP->new->canonical;

sub body {
    my (%change) = @_;
    my %b = (
        topic => {source => 'entityUrl', value => $TeamUrl},
        activityType => 'taskCreated',
        previewText => {content => 'New Task Created'},
        recipient => {'@odata.type' => 'microsoft.graph.aadUserNotificationRecipient',
                      userId => $John},
        templateParameters => [{name => 'taskId', value => 'T-1'}],
    );
    while (my ($k, $v) = each %change) {
        if (defined $v) { $b{$k} = $v } else { delete $b{$k} }
    }
    return $Codec->encode(\%b);
}

sub aad { return {'@odata.type' => 'microsoft.graph.aadUserNotificationRecipient', userId => shift} }

sub post { my ($path, $body) = @_; return "POST $path\n" . (defined $body ? $body : '') }

# Graph's error body
our $Guid = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

sub err {
    my ($code, $message, $client) = @_;
    $client = defined $client ? quotemeta($client) : $Guid;
    return qr/^\{"error":\{"code":"\Q$code\E","message":"\Q$message\E","innerError":\{"date":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d","request-id":"$Guid","client-request-id":"$client"\}\}\}$/;
}

sub bad { return err('BadRequest', shift) }
sub schema { return bad("Property $_[0] in payload has a value that does not match schema.") }

our $Ids = "request-id: $Guid\nclient-request-id: $Guid";

# one feed item of this dialect
sub item {
    my (%f) = @_;
    my $s = '\{"id":"[0-9a-f]{16}","dialect":"graph"';
    for my $k (qw(event title url comment)) {
        $s .= defined $f{$k} ? qq|,"$k":"\Q$f{$k}\E"| : qq|,"$k":null|;
    }
    $s .= ',"notified":null,"created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"';
    $s .= qq|,"topic":"\Q$f{topic}\E"|;
    $s .= defined $f{chain} ? qq|,"chainId":$f{chain}| : ',"chainId":null';
    $s .= ',"read":false\}';
    return $s;
}

# a directory with a team of 10 001 members and one of 10 000
our $Big = tempdir('notify-graph-XXXXXX', TMPDIR => 1, CLEANUP => 1);
{
    my @users = map { {id => sprintf('big-%05d', $_), upn => sprintf('big-%05d@example.org', $_)} } 1 .. 10001;
    my @ids = map { $_->{id} } @users;
    open my $fh, '>', "$Big/directory.json" or die "$Big/directory.json: $!";
    print $fh encode_json({users => \@users,
                           teams => [{id => 'team-big', members => \@ids,
                                      channels => [{id => '19:big@thread.tacv2'}]},
                                     {id => 'team-10k', members => [@ids[0 .. 9999]]}]});
    close $fh;
}

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: the examples of "Send activity feed notifications to users in Microsoft Teams", as written
--- http_config eval: ::conf('t1')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[
# Example 1: Notify a user about a task created in a chat
"POST /v1.0/chats/$::Chat/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/chats/$::Chat\"
    },
    \"activityType\": \"taskCreated\",
    \"previewText\": {
        \"content\": \"New Task Created\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"taskId\",
            \"value\": \"12322\"
        }
    ]
}",
# Example 2: Notify a user about a task created in a team
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/teams/$::Team\"
    },
    \"activityType\": \"taskCreated\",
    \"previewText\": {
        \"content\": \"New Task Created\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"taskId\",
            \"value\": \"12322\"
        }
    ]
}",
# Example 3: Notify a user about an event using a custom topic
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Deployment Approvals Channel\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"activityType\": \"approvalRequired\",
    \"previewText\": {
        \"content\": \"New deployment requires your approval\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"deploymentId\",
            \"value\": \"6788662\"
        }
    ]
}",
# Example 4: Notify the team members about an event
"POST /v1.0/teams/7155e3c8-175e-4311-97ef-572edc3aa3db/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Weekly Virtual Social\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"previewText\": {
        \"content\": \"It will be fun!\"
    },
    \"activityType\": \"eventCreated\",
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.teamMembersNotificationRecipient\",
        \"teamId\": \"7155e3c8-175e-4311-97ef-572edc3aa3db\"
    }
}",
# Example 5: Notify the channel members about an event
"POST /v1.0/teams/7155e3c8-175e-4311-97ef-572edc3aa3db/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Weekly Virtual Social\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"previewText\": {
        \"content\": \"It will be fun!\"
    },
    \"activityType\": \"eventCreated\",
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.channelMembersNotificationRecipient\",
        \"teamId\": \"7155e3c8-175e-4311-97ef-572edc3aa3db\",
        \"channelId\": \"19:0ea5de04de4743bcb4cd20cb99235d99\@thread.tacv2\"
    }
}",
# Example 6: Notify the chat members about an event
"POST /v1.0/chats/19:d65713bc498c4a428c71ef9353e6ce20\@thread.v2/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Weekly Virtual Social\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"previewText\": {
        \"content\": \"It will be fun!\"
    },
    \"activityType\": \"eventCreated\",
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.chatMembersNotificationRecipient\",
        \"chatId\": \"19:d65713bc498c4a428c71ef9353e6ce20\@thread.v2\"
    }
}",
# Example 7: Notify multiple users about pending finance approval requests
"POST /v1.0/teamwork/sendActivityNotificationToRecipients
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"$::AppUrl\"
    },
    \"activityType\": \"pendingFinanceApprovalRequests\",
    \"previewText\": {
        \"content\": \"Internal spending team has a pending finance approval requests\"
    },
    \"recipients\": [
        {
            \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
            \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
        },
        {
            \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
            \"userId\": \"ab88234e-0874-477c-9638-d144296ed04f\"
        },
        {
            \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
            \"userId\": \"01c64f53-69aa-42c7-9b7f-9f75195d6bfc\"
        }
    ],
    \"templateParameters\": [
        {
            \"name\": \"pendingRequestCount\",
            \"value\": \"5\"
        }
    ] 
}",
# Example 8: Send a notification to a user using the systemDefault activity type
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/teams/$::Team\"
    },
    \"activityType\": \"systemDefault\",
    \"previewText\": {
        \"content\": \"Take a break\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"systemDefaultText\",
            \"value\": \"You need to take a short break\"
        }
    ]
}"
]
--- error_code eval: [204, 204, 204, 204, 204, 204, 202, 204]
--- response_headers_like eval: [($::Ids) x 8]
--- response_body eval: [('') x 8]
--- error_log
notify: stored notification
--- no_error_log
[error]



=== TEST 2: the examples of "team: sendActivityNotification", as written
--- http_config eval: ::conf('t2')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[
# Example 1: Notify a user about pending finance approval requests
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/teams/$::Team\"
    },
    \"activityType\": \"pendingFinanceApprovalRequests\",
    \"previewText\": {
        \"content\": \"Internal spending team has a pending finance approval requests\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"pendingRequestCount\",
            \"value\": \"5\"
        }
    ] 
}",
# Example 2: Notify a user about a channel tab
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/teams/$::Team/channels/$::Channel/tabs/tab-1\"
    },
    \"activityType\": \"reservationUpdated\",
    \"previewText\": {
        \"content\": \"You have moved up the queue\"
    },
    \"recipient\": {
        \"\@odata.type\": \"Microsoft.Teams.GraphSvc.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"reservationId\",
            \"value\": \"TREEE433\"
        },
        {
            \"name\": \"currentSlot\",
            \"value\": \"23\"
        }
    ]
}",
# Example 3: Notify a user about a channel tab using user principal name
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/teams/$::Team/channels/$::Channel/tabs/tab-1\"
    },
    \"activityType\": \"reservationUpdated\",
    \"previewText\": {
        \"content\": \"You have moved up the queue\"
    },
    \"recipient\": {
        \"\@odata.type\": \"Microsoft.Teams.GraphSvc.aadUserNotificationRecipient\",
        \"userId\": \"john.doe\@microsoft.com\"
    },
    \"templateParameters\": [
        {
            \"name\": \"reservationId\",
            \"value\": \"TREEE433\"
        },
        {
            \"name\": \"currentSlot\",
            \"value\": \"23\"
        }
    ]
}",
# Example 4: Notify a user about an event using custom topic
"POST /v1.0/teams/$::Team/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Deployment Approvals Channel\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"activityType\": \"deploymentApprovalRequired\",
    \"previewText\": {
        \"content\": \"New deployment requires your approval\"
    },
    \"recipient\": {
        \"\@odata.type\": \"Microsoft.Teams.GraphSvc.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"deploymentId\",
            \"value\": \"6788662\"
        }
    ]
}"
]
--- error_code eval: [204, 204, 204, 204]
--- response_headers_like eval: [($::Ids) x 4]
--- error_log
for 1 recipients
--- no_error_log
[error]



=== TEST 3: the examples of "userTeamwork: sendActivityNotification", as written
--- http_config eval: ::conf('t3')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[
# Example 1: Send notification to a user for a task created
"POST /v1.0/users/$::John/teamwork/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/users/$::John/teamwork/installedApps/installation-1\"
    },
    \"activityType\": \"taskCreated\",
    \"previewText\": {
        \"content\": \"New Task Created\"
    },
    \"templateParameters\": [
        {
            \"name\": \"taskId\",
            \"value\": \"Task 12322\"
        }
    ]
}",
# Example 2: Notify a user about an event using custom topic
"POST /v1.0/users/$::John/teamwork/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Deployment Approvals Channel\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"activityType\": \"deploymentApprovalRequired\",
    \"previewText\": {
        \"content\": \"New deployment requires your approval\"
    },
    \"templateParameters\": [
        {
            \"name\": \"deploymentId\",
            \"value\": \"6788662\"
        }
    ]
}"
]
--- error_code eval: [204, 204]
--- response_headers_like eval: [($::Ids) x 2]
--- error_log
for 1 recipients
--- no_error_log
[error]



=== TEST 4: the examples of "chat: sendActivityNotification", as written
--- http_config eval: ::conf('t4')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[
# Example 1: Notify a user about a task created in a chat
"POST /v1.0/chats/$::Chat/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/chats/$::Chat\"
    },
    \"activityType\": \"taskCreated\",
    \"previewText\": {
        \"content\": \"New Task Created\"
    },
    \"recipient\": {
        \"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"taskId\",
            \"value\": \"Task 12322\"
        }
    ] 
}",
# Example 2: Notify a user about an approval needed in a chat message
"POST /v1.0/chats/$::Chat/sendActivityNotification
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"https://graph.microsoft.com/v1.0/chats/$::Chat/messages/1605223780000\"
    },
    \"activityType\": \"approvalRequired\",
    \"previewText\": {
        \"content\": \"Deployment requires your approval\"
    },
    \"recipient\": {
        \"\@odata.type\": \"Microsoft.Teams.GraphSvc.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"approvalTaskId\",
            \"value\": \"2020AAGGTAPP\"
        }
    ]
}",
# Example 3: Notify a user about an event in relation to a chat
"POST /v1.0/chats/$::Chat/sendActivityNotification
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Deployment Approvals Channel\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"activityType\": \"deploymentApprovalRequired\",
    \"previewText\": {
        \"content\": \"New deployment requires your approval\"
    },
    \"recipient\": {
        \"\@odata.type\": \"Microsoft.Teams.GraphSvc.aadUserNotificationRecipient\",
        \"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    },
    \"templateParameters\": [
        {
            \"name\": \"deploymentId\",
            \"value\": \"6788662\"
        }
    ]
}"
]
--- error_code eval: [204, 204, 204]
--- response_headers_like eval: [($::Ids) x 3]
--- error_log
for 1 recipients
--- no_error_log
[error]



=== TEST 5: the examples of "teamwork: sendActivityNotificationToRecipients", as written
--- http_config eval: ::conf('t5')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[
# Example 1: Notify multiple users about pending finance approval requests
"POST /v1.0/teamwork/sendActivityNotificationToRecipients
{
    \"topic\": {
        \"source\": \"entityUrl\",
        \"value\": \"$::AppUrl\"
    },
    \"activityType\": \"pendingFinanceApprovalRequests\",
    \"previewText\": {
        \"content\": \"Internal spending team has a pending finance approval requests\"
    },
    \"recipients\": [
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    \t},
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"ab88234e-0874-477c-9638-d144296ed04f\"
    \t},
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"01c64f53-69aa-42c7-9b7f-9f75195d6bfc\"
    \t}
    ],
    \"templateParameters\": [
        {
            \"name\": \"pendingRequestCount\",
            \"value\": \"5\"
        }
    ] 
}",
# Example 2: Notify multiple users about an event using a custom topic
"POST /v1.0/teamwork/sendActivityNotificationToRecipients
{
    \"topic\": {
        \"source\": \"text\",
        \"value\": \"Deployment Approvals Channel\",
        \"webUrl\": \"$::WebUrl\"
    },
    \"activityType\": \"deploymentApprovalRequired\",
    \"previewText\": {
        \"content\": \"New deployment requires your approval\"
    },
    \"templateParameters\": [
        {
            \"name\": \"deploymentId\",
            \"value\": \"6788662\"
        }
    ],
    \"recipients\": [
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"569363e2-4e49-4661-87f2-16f245c5d66a\"
    \t},
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"ab88234e-0874-477c-9638-d144296ed04f\"
    \t},
    \t{
        \t\"\@odata.type\": \"microsoft.graph.aadUserNotificationRecipient\",
        \t\"userId\": \"01c64f53-69aa-42c7-9b7f-9f75195d6bfc\"
    \t}
    ]
}"
]
--- error_code eval: [202, 202]
--- response_headers_like eval: [($::Ids) x 2]
--- response_body eval: ['', '']
--- error_log
for 3 recipients
--- no_error_log
[error]



=== TEST 6: the feed shows the rendered template, the link and the preview cut to 150 characters
--- http_config eval: ::conf('t6')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
--- request eval
[::post($::TeamPath, ::body(previewText => {content => ('é' x 149) . 'ab', contentType => 'text'})),
 ::post($::TeamPath, ::body(topic => {source => 'text', value => 'Deployments', webUrl => 'https://teams.example.org/d/1'},
                            activityType => 'braces', templateParameters => undef, previewText => undef)),
 "GET /activities"]
--- more_headers eval: [$::App, $::App, $::Feed{john}]
--- error_code eval: [204, 204, 200]
--- response_body_like eval
my $braces = ::item(event => 'braces', title => 'Contoso Tasks {not a placeholder} {} {x',
                    url => 'https://teams.example.org/d/1', topic => 'Deployments');
my $task = ::item(event => 'taskCreated', title => 'Contoso Tasks created task T-1 for you',
                  url => $::TeamUrl, comment => ('é' x 149) . 'a', topic => $::TeamUrl);
[qr/^$/, qr/^$/, qr/^\{"items":\[$braces,$task\],"next":null,"unread":2\}$/]
--- no_error_log
[error]



=== TEST 7: a delegated caller is the {actor}, and is never notified
--- http_config eval: ::conf('t7')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
--- request eval
[::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body(recipient => ::aad('ADA@example.org'))),
 ::post('/v1.0/users/ada@example.org/teamwork/sendActivityNotification', ::body(recipient => undef, topic => {source => 'text', value => 'x', webUrl => 'https://x.example.org'})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => '#microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team})),
 "GET /activities", "GET /activities"]
--- more_headers eval: [$::Ada, $::Ada, $::Ada, $::Ada, $::Feed{john}, $::Feed{ada}]
--- error_code eval: [204, 400, 400, 204, 200, 200]
--- response_body_like eval
[qr/^$/,
 ::bad('A delegated caller cannot send an activity notification to themselves.'),
 ::bad('A delegated caller cannot send an activity notification to themselves.'),
 qr/^$/,
 qr/^\{"items":\[\{[^\]]*"title":"Ada Lovelace created task T-1 for you".*\},\{[^\]]*"title":"Ada Lovelace created task T-1 for you".*\}\],"next":null,"unread":2\}$/,
 qr/^\{"items":\[\],"next":null,"unread":0\}$/]
--- no_error_log
[error]



=== TEST 8: the paths: no version, beta, the namespace-qualified action, any case, a trailing slash
--- http_config eval: ::conf('t8')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[::post("/teams/$::Team/sendActivityNotification", ::body()),
 ::post("/beta/teams/$::Team/sendActivityNotification", ::body()),
 ::post("/v1.0/teams/$::Team/microsoft.graph.sendActivityNotification", ::body()),
 ::post("/V1.0/TEAMS/$::Team/SENDACTIVITYNOTIFICATION/", ::body()),
 ::post("/beta/chats/$::Chat/microsoft.graph.sendActivityNotification", ::body(topic => {source => 'entityUrl', value => "https://graph.microsoft.com/beta/chats/$::Chat"})),
 ::post("/beta/users/megan\@example.org/teamwork/microsoft.graph.sendActivityNotification", ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post("/teamwork/microsoft.graph.sendActivityNotificationToRecipients", ::body(recipient => undef, recipients => [::aad($::John)], topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post("/v1.0/teams/$::Team/sendActivityNotifications", ::body()),
 ::post("/v1.0/teamwork/sendActivityNotification", ::body()),
 ::post("/v1.0/groups/$::Team/team/sendActivityNotificationToRecipients", ::body())]
--- error_code eval: [204, 204, 204, 204, 204, 204, 202, 400, 400, 400]
--- response_body_like eval
[qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/,
 ::bad("Resource not found for the segment 'sendActivityNotifications'."),
 ::bad("Resource not found for the segment 'sendActivityNotification'."),
 ::bad("Resource not found for the segment 'sendActivityNotificationToRecipients'.")]
--- no_error_log
[error]



=== TEST 9: the recipient's @odata.type, with or without "#" and a namespace, in any case
--- http_config eval: ::conf('t9')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[map { ::post($::TeamPath, ::body(recipient => {'@odata.type' => $_, userId => $::John})) }
 '#microsoft.graph.aadUserNotificationRecipient', 'microsoft.graph.aadUserNotificationRecipient',
 'Microsoft.Teams.GraphSvc.aadUserNotificationRecipient', 'aadUserNotificationRecipient',
 '#aadusernotificationrecipient', '#microsoft.graph.groupMembersNotificationRecipient',
 'aadUser']
--- error_code eval: [204, 204, 204, 204, 204, 400, 400]
--- response_body_like eval
[qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/,
 ::bad("The recipient type '#microsoft.graph.groupMembersNotificationRecipient' is not supported."),
 ::bad("The recipient type 'aadUser' is not supported.")]
--- no_error_log
[error]



=== TEST 10: a user by UPN, without regard to case
--- http_config eval: ::conf('t10')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(recipient => ::aad('BOB@EXAMPLE.ORG')))
--- error_code: 204
--- error_log
for 1 recipients
--- no_error_log
[error]



=== TEST 11: the team's members, without the inactive ones
--- http_config eval: ::conf('t11')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team}))
--- error_code: 204
--- error_log
for 4 recipients
--- no_error_log
[error]



=== TEST 12: a private channel's members
--- http_config eval: ::conf('t12')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team, channelId => $::Channel}))
--- error_code: 204
--- error_log
for 2 recipients
--- no_error_log
[error]



=== TEST 13: a standard channel's members are the team's
--- http_config eval: ::conf('t13')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team, channelId => '19:general@thread.tacv2'}))
--- error_code: 204
--- error_log
for 4 recipients
--- no_error_log
[error]



=== TEST 14: a chat's members
--- http_config eval: ::conf('t14')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => {'@odata.type' => 'microsoft.graph.chatMembersNotificationRecipient', chatId => $::Chat}))
--- error_code: 204
--- error_log
for 3 recipients
--- no_error_log
[error]



=== TEST 15: many recipients at once, each once: 202
--- http_config eval: ::conf('t15')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::BulkPath, ::body(topic => {source => 'entityUrl', value => $::AppUrl}, recipient => undef, recipients => [::aad($::John), ::aad('john.doe@MICROSOFT.com'), ::aad('u-ada'), (::aad($::Megan)) x 97]))
--- error_code: 202
--- response_body_like: ^$
--- error_log
for 3 recipients
--- no_error_log
[error]



=== TEST 16: an inactive user: 204, nobody notified, nothing stored
--- http_config eval: ::conf('t16')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(recipient => ::aad('carol@example.org')))
--- error_code: 204
--- error_log
nobody to notify, nothing stored
--- no_error_log
[error]
stored notification



=== TEST 17: a team of more than 10 000 members notifies nobody, says so, and still answers 204
--- http_config eval: ::conf('t17', directory => "$::Big/directory.json")
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post('/v1.0/teams/team-big/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-big'}, recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => 'team-big'}))
--- error_code: 204
--- response_headers_like eval: $::Ids
--- error_log
[warn]
notify: graph: the team "team-big" has 10001 members, more than 10000: nobody is notified
--- no_error_log
[error]
stored notification



=== TEST 18: so does a (standard) channel of more than 10 000 members
--- http_config eval: ::conf('t17b', directory => "$::Big/directory.json")
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post('/v1.0/teams/team-big/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-big'}, recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => 'team-big', channelId => '19:big@thread.tacv2'}))
--- error_code: 204
--- error_log
notify: graph: the channel "19:big@thread.tacv2" of the team "team-big" has 10001 members, more than 10000: nobody is notified
--- no_error_log
[error]
stored notification



=== TEST 19: a team of exactly 10 000 members is notified
--- http_config eval: ::conf('t18', directory => "$::Big/directory.json")
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post('/v1.0/teams/team-10k/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-10k'}, recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => 'team-10k'}))
--- error_code: 204
--- timeout: 30
--- error_log
for 10000 recipients
--- no_error_log
[error]
[warn]



=== TEST 20: the same chainId from the same app replaces the entry in each recipient's feed
--- http_config eval: ::conf('t19')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
--- request eval
[::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'first'}])),
 ::post($::TeamPath, ::body(chainId => '7', templateParameters => [{name => 'taskId', value => 'second'}])),
 ::post($::TeamPath, ::body(chainId => 8, templateParameters => [{name => 'taskId', value => 'other chain'}])),
 ::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'other app'}])),
 ::post($::TeamPath, ::body(chainId => 9, recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team}, templateParameters => [{name => 'taskId', value => 'team, once'}])),
 ::post($::TeamPath, ::body(chainId => 9, recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team}, templateParameters => [{name => 'taskId', value => 'team, twice'}])),
 "GET /activities", "GET /activities"]
--- more_headers eval: [$::App, $::App, $::App, ::app(roles => ['TeamsActivity.Send'], azp => 'app-other'), $::App, $::App, $::Feed{john}, $::Feed{megan}]
--- error_code eval: [204, 204, 204, 204, 204, 204, 200, 200]
--- response_body_like eval
[qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/, qr/^$/,
 qr/^\{"items":\[${\ ::item(event => 'taskCreated', title => 'Contoso Tasks created task team, twice for you', url => $::TeamUrl, comment => 'New Task Created', topic => $::TeamUrl, chain => 9)},\{[^\]]*"title":"Contoso Tasks created task other app for you"[^\]]*"chainId":7,[^\]]*\},\{[^\]]*"title":"Contoso Tasks created task other chain for you"[^\]]*"chainId":8,[^\]]*\},\{[^\]]*"title":"Contoso Tasks created task second for you"[^\]]*"chainId":7,[^\]]*\}\],"next":null,"unread":4\}$/,
 qr/^\{"items":\[\{[^\]]*"title":"Contoso Tasks created task team, twice for you"[^\]]*\}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 21: no token, an expired one, a malformed one, a forged one: 401 in Graph's words
--- http_config eval: ::conf('t20')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
my $t = $::AppToken;
$t =~ s/(.)(.{10})$/($1 eq 'A' ? 'B' : 'A') . $2/e;
[$::Json,
 $::Json . ::bearer(NotifyTest::token(azp => 'app-graph', roles => ['TeamsActivity.Send'], exp => time - 3600, nbf => time - 7200)),
 $::Json . ::bearer('abc.def'),
 $::Json . ::bearer($t),
 $::Json . "client-request-id: 0b5c9f3e-my-own-id\n"]
--- request eval: [(::post($::TeamPath, ::body())) x 5]
--- error_code eval: [401, 401, 401, 401, 401]
--- response_headers eval
[("WWW-Authenticate: Bearer error=\"invalid_token\"\nContent-Type: application/json") x 4,
 "client-request-id: 0b5c9f3e-my-own-id"]
--- response_body_like eval
[::err('InvalidAuthenticationToken', 'Access token is empty.'),
 ::err('InvalidAuthenticationToken', 'Access token has expired or is not yet valid.'),
 ::err('InvalidAuthenticationToken', 'CompactToken parsing failed with error code: 80049217'),
 ::err('InvalidAuthenticationToken', 'Access token validation failure.'),
 ::err('InvalidAuthenticationToken', 'Access token is empty.', '0b5c9f3e-my-own-id')]
--- error_log
notify: unauthenticated
--- no_error_log
[error]



=== TEST 22: the caller's client-request-id comes back on success too
--- http_config eval: ::conf('t21')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App . "client-request-id: 7d2c5a52-1111-4e2b-9c3d-000000000001\n"
--- request eval: ::post($::TeamPath, ::body())
--- error_code: 204
--- response_headers
client-request-id: 7d2c5a52-1111-4e2b-9c3d-000000000001
--- raw_response_headers_like eval: qr/\r\nrequest-id: $::Guid\r\n/
--- no_error_log
[error]



=== TEST 23: app roles and delegated scopes, with Graph's messages
--- http_config eval: ::conf('t22')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
[::app(roles => undef),
 ::app(roles => ['Other.Role', 'TeamsActivity.Send.Chat']),
 ::app(roles => ['Other.Role', 'TeamsActivity.Send.Chat']),
 ::app(roles => ['TeamsActivity.Send.Group']),
 ::app(roles => ['TeamsActivity.Send.Group']),
 ::app(roles => ['TeamsActivity.Send.User']),
 ::app(roles => ['TeamsActivity.Send.User']),
 ::app(roles => ['teamsactivity.send']),
 ::app(oid => 'u-ada', scp => 'User.Read Feed.Read', roles => ['TeamsActivity.Send']),
 ::app(oid => 'u-ada', scp => 'TeamsActivity.Send'),
 ::app(roles => ['Other.Role', 'TeamsActivity.Send.Chat', 'Sites.Selected', 'ChannelMessage.Read.Group']),
 ::app(roles => ['TeamsActivity.Send.Group', 'TeamsActivity.Send.Chat'])]
--- request eval
[::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body()),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl})),
 ::post($::TeamPath, ::body()),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl})),
 ::post($::UserPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John)], topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body()),
 ::post($::UserPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John)], topic => {source => 'entityUrl', value => $::AppUrl}))]
--- error_code eval: [403, 403, 204, 204, 403, 204, 202, 403, 403, 204, 403, 403]
--- response_body_like eval
[::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.Group'. Roles on the request ''. Resource specific consent grants on the request ''."),
 ::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.Group'. Roles on the request 'Other.Role'. Resource specific consent grants on the request 'TeamsActivity.Send.Chat'."),
 qr/^$/, qr/^$/,
 ::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.Chat'. Roles on the request ''. Resource specific consent grants on the request 'TeamsActivity.Send.Group'."),
 qr/^$/, qr/^$/,
 ::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.Group'. Roles on the request 'teamsactivity.send'. Resource specific consent grants on the request ''."),
 ::err('Forbidden', "Missing scope permissions on the request. API requires one of 'TeamsActivity.Send'. Scopes on the request 'User.Read, Feed.Read'."),
 qr/^$/,
 ::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.User'. Roles on the request 'Other.Role, Sites.Selected'. Resource specific consent grants on the request 'TeamsActivity.Send.Chat, ChannelMessage.Read.Group'."),
 ::err('Forbidden', "Missing role permissions on the request. API requires one of 'TeamsActivity.Send, TeamsActivity.Send.User'. Roles on the request ''. Resource specific consent grants on the request 'TeamsActivity.Send.Group, TeamsActivity.Send.Chat'.")]
--- no_error_log
[error]



=== TEST 24: the body: empty, not JSON, not a JSON content type
--- http_config eval: ::conf('t23')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
[$::App, $::App, $::App, "Content-Type: text/plain\n" . ::bearer($::AppToken),
 ::bearer($::AppToken), "Content-Type: application/json; charset=utf-8\n" . ::bearer($::AppToken)]
--- request eval
[::post($::TeamPath), ::post($::TeamPath, '{"topic": '), ::post($::TeamPath, '[1, 2]'),
 ::post($::TeamPath, ::body()), ::post($::TeamPath, ::body()), ::post($::TeamPath, ::body())]
--- error_code eval: [400, 400, 400, 400, 400, 204]
--- response_body_like eval
[::bad('Empty Payload. JSON content expected.'),
 (::bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.')) x 4,
 qr/^$/]
--- no_error_log
[error]



=== TEST 24a: application/<x>+json is JSON too; text/json and a bare "+json" subtype are not
--- http_config eval: ::conf('t23')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
["Content-Type: application/vnd.contoso+json\n" . ::bearer($::AppToken),
 "Content-Type: text/json\n" . ::bearer($::AppToken),
 "Content-Type: application/+json\n" . ::bearer($::AppToken)]
--- request eval
[::post($::TeamPath, ::body()), ::post($::TeamPath, ::body()), ::post($::TeamPath, ::body())]
--- error_code eval: [204, 400, 400]
--- response_body_like eval
[qr/^$/,
 (::bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.')) x 2]
--- no_error_log
[error]



=== TEST 25: a property of the wrong type
--- http_config eval: ::conf('t24')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[map { ::post($::TeamPath, $_) }
 ::body(topic => 'x'),
 ::body(topic => {source => 'url', value => $::TeamUrl}),
 ::body(topic => {source => 'text', value => [], webUrl => 'https://x.example.org'}),
 ::body(activityType => 5),
 ::body(chainId => 'seven'),
 ::body(chainId => 1.5),
 ::body(chainId => '99999999999999999999'),
 ::body(previewText => 'hello'),
 ::body(previewText => {content => 5}),
 ::body(templateParameters => {name => 'taskId'}),
 ::body(templateParameters => [{name => 1, value => 'x'}]),
 ::body(templateParameters => [{name => 'taskId', value => 1}]),
 ::body(recipient => [::aad($::John)]),
 ::body(recipient => {'@odata.type' => 1, userId => $::John}),
 ::body(recipient => {'@odata.type' => 'microsoft.graph.aadUserNotificationRecipient', userId => 5}),
 ::body(teamsAppId => 5)]
--- error_code eval: [(400) x 16]
--- response_body_like eval
[::schema('topic'), ::schema('source'), ::schema('value'), ::schema('activityType'),
 ::schema('chainId'), ::schema('chainId'), ::schema('chainId'), ::schema('previewText'),
 ::schema('content'), ::schema('templateParameters'), ::schema('name'), ::schema('value'),
 ::schema('recipient'), ::schema('@odata.type'), ::schema('userId'), ::schema('teamsAppId')]
--- no_error_log
[error]



=== TEST 26: what is required, and what is not a parameter of the action
--- http_config eval: ::conf('t25')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[::post($::TeamPath, ::body(topic => undef)),
 ::post($::TeamPath, ::body(activityType => undef)),
 ::post($::TeamPath, ::body(recipient => undef)),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::TeamPath, ::body(topic => {value => $::TeamUrl})),
 ::post($::TeamPath, ::body(topic => {source => 'entityUrl'})),
 ::post($::TeamPath, ::body(recipient => {userId => $::John})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.aadUserNotificationRecipient'})),
 ::post($::TeamPath, ::body(templateParameters => [{value => 'x'}])),
 ::post($::TeamPath, ::body(color => 'red')),
 ::post($::UserPath, ::body(topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::TeamPath, ::body(recipients => [::aad($::John)])),
 ::post($::TeamPath, ::body('@odata.context' => 'ignored', chainId => undef, previewText => undef, templateParameters => [{name => 'taskId', value => undef}]))]
--- error_code eval: [(400) x 12, 204]
--- response_body_like eval
[::bad("The parameter 'topic' is required."),
 ::bad("The parameter 'activityType' is required."),
 ::bad("The parameter 'recipient' is required."),
 ::bad("The parameter 'recipients' is required."),
 ::bad("The property 'source' of the topic is required."),
 ::bad("The property 'value' of the topic is required."),
 ::bad("The property '\@odata.type' of a recipient is required."),
 ::bad("The property 'userId' of the recipient is required."),
 ::bad("The property 'name' of a template parameter is required."),
 ::bad("The parameter 'color' in the request payload is not a valid parameter for the operation 'sendActivityNotification'."),
 ::bad("The parameter 'recipient' in the request payload is not a valid parameter for the operation 'sendActivityNotification'."),
 ::bad("The parameter 'recipients' in the request payload is not a valid parameter for the operation 'sendActivityNotification'."),
 qr/^$/]
--- no_error_log
[error]



=== TEST 27: the topic's rules
--- http_config eval: ::conf('t26')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[map { ::post($_->[0], ::body(topic => $_->[1], $_->[0] eq $::UserPath ? (recipient => undef) : ())) }
 [$::TeamPath, {source => 'text', value => 'Deployments'}],
 [$::TeamPath, {source => 'text', value => 'Deployments', webUrl => 'teams.example.org/d/1'}],
 [$::TeamPath, {source => 'text', value => '', webUrl => 'https://teams.example.org/d/1'}],
 [$::TeamPath, {source => 'TEXT', value => 'Deployments', webUrl => 'https://teams.example.org/d/1'}],
 [$::TeamPath, {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-other'}],
 [$::TeamPath, {source => 'entityUrl', value => "https://graph.microsoft.com/v2.0/teams/$::Team"}],
 [$::TeamPath, {source => 'entityUrl', value => "/v1.0/teams/$::Team"}],
 [$::TeamPath, {source => 'entityUrl', value => $::ChatUrl}],
 [$::TeamPath, {source => 'entityUrl', value => "https://graph.microsoft.com/v1.0/teams/$::Team//channels"}],
 [$::TeamPath, {source => 'entityUrl', value => "https://graph.microsoft.com/beta/teams/7155e3c8-175e-4311-97ef-572edc3aa3db/channels/19%3A0ea5de04de4743bcb4cd20cb99235d99%40thread.tacv2/messages/1/replies/2?x=1"}],
 [$::ChatPath, {source => 'entityUrl', value => "https://graph.microsoft.com/v1.0/chats/19%3Ad65713bc498c4a428c71ef9353e6ce20%40thread.v2/messages/1"}],
 [$::ChatPath, {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/chats/19:other@thread.v2'}],
 [$::UserPath, {source => 'entityUrl', value => "https://graph.microsoft.com/v1.0/users/john.doe%40microsoft.com/teamwork/installedApps/i-1"}],
 [$::UserPath, {source => 'entityUrl', value => "https://graph.microsoft.com/v1.0/users/u-ada/teamwork/installedApps/i-1"}],
 [$::BulkPath, {source => 'entityUrl', value => $::TeamUrl}]]
--- error_code eval: [400, 400, 400, 204, 400, 400, 400, 400, 400, 204, 204, 400, 204, 400, 400]
--- response_body_like eval
[::bad("The topic needs a webUrl when its source is 'text'."),
 ::bad('The webUrl of the topic must be an absolute http or https URL.'),
 ::bad('The value of the topic must not be empty.'),
 qr/^$/,
 (::bad('The entityUrl of the topic must be the Microsoft Graph URL of the team of the request or of one of its child resources.')) x 5,
 qr/^$/, qr/^$/,
 ::bad('The entityUrl of the topic must be the Microsoft Graph URL of the chat of the request or of one of its child resources.'),
 qr/^$/,
 ::bad('The entityUrl of the topic must be the Microsoft Graph URL of an app installed for the user of the request, or of an app of the Teams app catalog.'),
 ::bad("The parameter 'recipient' in the request payload is not a valid parameter for the operation 'sendActivityNotificationToRecipients'.")]
--- no_error_log
[error]



=== TEST 28: the bulk action's topic is an app of the catalog
--- http_config eval: ::conf('t27')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John)]))
--- error_code: 400
--- response_body_like eval: ::bad('The entityUrl of the topic must be the Microsoft Graph URL of an app of the Teams app catalog.')
--- no_error_log
[error]



=== TEST 29: the activity type and its template
--- http_config eval: ::conf('t28')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[::post($::TeamPath, ::body(activityType => 'nobodyKnowsMe')),
 ::post($::TeamPath, ::body(activityType => 'TaskCreated')),
 ::post($::TeamPath, ::body(activityType => '')),
 ::post($::TeamPath, ::body(templateParameters => undef)),
 ::post($::TeamPath, ::body(templateParameters => [{name => 'taskid', value => 'x'}])),
 ::post($::TeamPath, ::body(activityType => 'systemDefault', templateParameters => undef)),
 ::post($::TeamPath, ::body(activityType => 'systemDefault', templateParameters => [{name => 'systemDefaultText', value => ''}])),
 ::post($::TeamPath, ::body(templateParameters => [{name => 'unused', value => 'x'}, {name => 'taskId', value => 'T-2'}]))]
--- error_code eval: [400, 400, 400, 400, 400, 400, 400, 204]
--- response_body_like eval
[::bad("The activityType 'nobodyKnowsMe' is not declared in the Teams app manifest (activities.activityTypes)."),
 ::bad("The activityType 'TaskCreated' is not declared in the Teams app manifest (activities.activityTypes)."),
 ::bad('The activityType must not be empty.'),
 ::bad("The template parameter 'taskId' of the activityType 'taskCreated' is missing."),
 ::bad("The template parameter 'taskId' of the activityType 'taskCreated' is missing."),
 ::bad("The activityType 'systemDefault' needs the template parameter 'systemDefaultText'."),
 ::bad("The activityType 'systemDefault' needs the template parameter 'systemDefaultText'."),
 qr/^$/]
--- no_error_log
[error]



=== TEST 30: without notify_graph_manifest only systemDefault is known
--- http_config eval: ::conf('t29', manifest => '')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
    location /activities { notify_feed; }
--- more_headers eval: [$::App, $::App, $::Feed{john}]
--- request eval
[::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body(activityType => 'systemDefault', templateParameters => [{name => 'systemDefaultText', value => 'You need to take a short break'}])),
 "GET /activities"]
--- error_code eval: [400, 204, 200]
--- response_body_like eval
[::bad("The activityType 'taskCreated' is not declared in the Teams app manifest (activities.activityTypes)."),
 qr/^$/,
 qr/^\{"items":\[${\ ::item(event => 'systemDefault', title => 'You need to take a short break', url => $::TeamUrl, comment => 'New Task Created', topic => $::TeamUrl)}\],"next":null,"unread":1\}$/]
--- no_error_log
[error]



=== TEST 31: the recipients' rules
--- http_config eval: ::conf('t30')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.chatMembersNotificationRecipient', chatId => $::Chat})),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team})),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team, channelId => $::Channel})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => 'team-other'})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => 'team-other', channelId => $::Channel})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team})),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => {'@odata.type' => 'microsoft.graph.chatMembersNotificationRecipient', chatId => '19:other@thread.v2'})),
 ::post($::TeamPath, ::body(recipient => ::aad(''))),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}, recipients => [])),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}, recipients => [(::aad($::John)) x 101])),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}, recipients => [::aad($::John), {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team}])),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}, recipients => [::aad($::John), 'u-ada']))]
--- error_code eval: [(400) x 12]
--- response_body_like eval
[::bad("A recipient of the type 'chatMembersNotificationRecipient' cannot be notified in the scope of a team."),
 ::bad("A recipient of the type 'teamMembersNotificationRecipient' cannot be notified in the scope of a chat."),
 ::bad("A recipient of the type 'channelMembersNotificationRecipient' cannot be notified in the scope of a chat."),
 ::bad('The teamId of the recipient must be the team of the request.'),
 ::bad('The teamId of the recipient must be the team of the request.'),
 ::bad("The property 'channelId' of the recipient is required."),
 ::bad('The chatId of the recipient must be the chat of the request.'),
 ::bad("The property 'userId' of the recipient must not be empty."),
 ::bad('The recipients must be from 1 to 100 recipients.'),
 ::bad('The recipients must be from 1 to 100 recipients.'),
 ::bad("Only recipients of the type 'aadUserNotificationRecipient' can be notified in bulk."),
 ::schema('recipients')]
--- no_error_log
[error]



=== TEST 32: unknown team, chat, user, recipient or channel: 404
--- http_config eval: ::conf('t31')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval
[::post('/v1.0/teams/no-such-team/sendActivityNotification', ::body()),
 ::post('/v1.0/chats/19:nope@thread.v2/sendActivityNotification', ::body()),
 ::post('/v1.0/users/nobody@example.org/teamwork/sendActivityNotification', ::body(recipient => undef)),
 ::post($::TeamPath, ::body(recipient => ::aad('nobody@example.org'))),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team, channelId => '19:nope@thread.tacv2'})),
 ::post($::BulkPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}, recipients => [::aad($::John), ::aad('ghost')]))]
--- error_code eval: [(404) x 6]
--- response_body_like eval
[::err('NotFound', "No team found with id 'no-such-team'."),
 ::err('NotFound', "No chat found with id '19:nope\@thread.v2'."),
 ::err('NotFound', "No user found with id or user principal name 'nobody\@example.org'."),
 ::err('NotFound', "No user found with id or user principal name 'nobody\@example.org'."),
 ::err('NotFound', "No channel found with id '19:nope\@thread.tacv2' in the team '$::Team'."),
 ::err('NotFound', "No user found with id or user principal name 'ghost'.")]
--- no_error_log
[error]
stored notification



=== TEST 33: only POST
--- http_config eval: ::conf('t32')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ["GET $::TeamPath", "PUT $::TeamPath\n{}"]
--- error_code eval: [405, 405]
--- response_headers eval: [("Allow: POST\nContent-Type: application/json") x 2]
--- raw_response_headers_like eval: [(qr/\r\nrequest-id: $::Guid\r\nclient-request-id: $::Guid(\r\n|$)/) x 2]
--- response_body_like eval: [(::err('MethodNotAllowed', 'The method GET is not allowed.')), ::err('MethodNotAllowed', 'The method PUT is not allowed.')]
--- no_error_log
[error]



=== TEST 34: a body over notify_max_body: 413 in Graph's shape
--- http_config eval: ::conf('t33')
--- config
    location ~* sendactivitynotification { notify_max_body 1k; notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(previewText => {content => 'x' x 2000}))
--- error_code: 413
--- response_body_like eval: ::err('RequestEntityTooLarge', 'The request body is larger than 1024 bytes.')
--- no_error_log
[error]



=== TEST 34a: a body over client_max_body_size too: 413 in Graph's shape, not nginx's page
--- http_config eval: ::conf('t33')
--- config
    location ~* sendactivitynotification {
        client_max_body_size 1m;
        notify_inbound graph;
    }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body(previewText => {content => 'x' x (2 * 1024 * 1024)}))
--- error_code: 413
--- response_body_like eval: ::err('RequestEntityTooLarge', 'The request body is larger than 65536 bytes.')
--- no_error_log
[error]
client intended to send too large body



=== TEST 35: notify_require_role adds a role the caller must hold
--- http_config eval: ::conf('t34')
--- config
    location ~* sendactivitynotification { notify_require_role Hub.Graph; notify_inbound graph; }
--- more_headers eval: [$::App, ::app(roles => ['Hub.Graph', 'TeamsActivity.Send'])]
--- request eval: [::post($::TeamPath, ::body()), ::post($::TeamPath, ::body())]
--- error_code eval: [403, 204]
--- response_body_like eval: [::err('Forbidden', 'The caller does not hold a required role.'), qr/^$/]
--- no_error_log
[error]



=== TEST 36: the manifest's activity types: a missing file
--- http_config eval: ::conf('t35', manifest => '/nonexistent/manifest.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- must_die
--- error_log
[emerg]
notify_graph_manifest "/nonexistent/manifest.json": unable to open /nonexistent/manifest.json



=== TEST 37: broken JSON in the manifest
--- http_config eval: ::conf('t36', manifest => '$TEST_NGINX_SERVER_ROOT/html/manifest.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- user_files
>>> manifest.json
{"activities": {"activityTypes": [
  {"type": "a", "templateText": "x"},,
]}}
--- must_die
--- error_log eval
[qr/\[emerg\] .*notify_graph_manifest "[^"]*manifest.json": .* at line 2, column \d+/]



=== TEST 38: systemDefault is reserved
--- http_config eval: ::conf('t37', manifest => '$TEST_NGINX_SERVER_ROOT/html/manifest.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- user_files
>>> manifest.json
{"activities": {"activityTypes": [{"type": "systemDefault", "templateText": "x"}]}}
--- must_die
--- error_log
[emerg]
activities.activityTypes[0]: the activity type "systemDefault" is reserved



=== TEST 39: an activity type declared twice
--- http_config eval: ::conf('t38', manifest => '$TEST_NGINX_SERVER_ROOT/html/m1.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- user_files
>>> m1.json
{"activities": {"activityTypes": [{"type": "a", "templateText": "x"}, {"type": "a", "templateText": "y"}]}}
--- must_die
--- error_log
[emerg]
activities.activityTypes[1]: the activity type "a" is already declared by activities.activityTypes[0]



=== TEST 40: a type without templateText
--- http_config eval: ::conf('t39', manifest => '$TEST_NGINX_SERVER_ROOT/html/m2.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- user_files
>>> m2.json
{"activities": {"activityTypes": [{"type": "b"}]}}
--- must_die
--- error_log
[emerg]
activities.activityTypes[0]: "templateText" must be a string



=== TEST 41: a type without a type
--- http_config eval: ::conf('t40', manifest => '$TEST_NGINX_SERVER_ROOT/html/m3.json')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- user_files
>>> m3.json
{"activities": {"activityTypes": [{"templateText": "y"}]}}
--- must_die
--- error_log
[emerg]
activities.activityTypes[0]: "type" must be a non-empty string



=== TEST 42: a manifest is loaded with a notice, at any level
--- http_config eval: ::conf('t41')
--- config
    location ~* sendactivitynotification { notify_graph_manifest $TEST_NGINX_DATA_DIR/graph/manifest.json; notify_inbound graph; }
--- more_headers eval: $::App
--- request eval: ::post($::TeamPath, ::body())
--- error_code: 204
--- error_log
graph manifest "
7 activity types
--- no_error_log
[error]



=== TEST 43: a replaced notification's pending delivery is cancelled
--- http_config eval
::conf('t43', extra => <<'CONF')
    notify_push_url http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/down;
    notify_delivery_retry 60s 60s;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /down { return 500; }
    }
CONF
--- config
    notify_delivery_location /_deliver;
    location = /_deliver { internal; proxy_pass $notify_target_url; }
    location ~* sendactivitynotification { notify_inbound graph; }
    location /outbox { notify_outbox; }
--- request eval
[::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'first'}])),
 "GET /outbox",
 ::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'second'}])),
 "GET /outbox"]
--- more_headers eval: [$::App, '', $::App, '']
--- wait: 0.3
--- error_code eval: [204, 200, 204, 200]
--- response_body_like eval
[qr/^$/, qr/^\{"items":\[\{"id":"0000000000000001","attempts":1,[^\]]*"last_error":"HTTP 500","notification":"0000000000000001","target":"push","part":0\}\]\}$/,
 qr/^$/, qr/^\{"items":\[\{"id":"0000000000000002","attempts":1,[^\]]*\}\]\}$/]
--- no_error_log
[error]



=== TEST 44: retention and chains (1/2): a chain of two, the second replacing the first
--- http_config eval: ::conf('t44', extra => "    notify_feed_retention 1s;\n")
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- request eval
[::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'first'}])),
 ::post($::TeamPath, ::body(chainId => 7, templateParameters => [{name => 'taskId', value => 'second'}]))]
--- more_headers eval: [$::App, $::App]
--- error_code eval: [204, 204]
--- no_error_log
[error]



=== TEST 45: retention and chains (2/2): the feed before retention runs; then the chain's link goes with the notification it points at
--- http_config eval: ::conf('t44', extra => "    notify_feed_retention 1s;\n")
--- config
    location /activities { notify_feed; }
--- request
GET /activities
--- more_headers eval: $::Feed{john}
--- wait: 3
--- error_code: 200
--- response_body_like eval
qr/^\{"items":\[\{"id":"0000000000000002",[^\]]*"title":"Contoso Tasks created task second for you"[^\]]*\}\],"next":null,"unread":1\}$/
--- grep_error_log eval
qr/retention removed [^"]*? chain links/
--- grep_error_log_out eval
qr/\A(?:retention removed 2 notifications, 1 feed entries and 1 chain links\n|retention removed 1 notifications, 0 feed entries and 0 chain links\nretention removed 1 notifications, 1 feed entries and 1 chain links\n)\z/
--- no_error_log
[error]



=== TEST 46: TeamsActivity.Send.Group: only a team the app is installed in, and only its members
--- http_config eval: ::conf('t46')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
[::app(roles => ['TeamsActivity.Send.Group']),
 ::app(roles => ['TeamsActivity.Send.Group']),
 ::app(azp => 'app-stranger', roles => ['TeamsActivity.Send.Group']),
 (::app(roles => ['TeamsActivity.Send.Group'])) x 3]
--- request eval
[::post($::TeamPath, ::body(recipient => ::aad('bob@example.org'))),
 ::post('/v1.0/teams/team-other/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-other'}, recipient => ::aad('u-bob'))),
 ::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.teamMembersNotificationRecipient', teamId => $::Team})),
 ::post($::TeamPath, ::body(recipient => {'@odata.type' => 'microsoft.graph.channelMembersNotificationRecipient', teamId => $::Team, channelId => $::Channel}))]
--- error_code eval: [403, 403, 403, 204, 204, 204]
--- response_body_like eval
[::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '$::TeamPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 ::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '/v1.0/teams/team-other/sendActivityNotification' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 ::err('Forbidden', "Application with AAD App Id 'app-stranger' is not authorized to generate custom text notifications about '$::TeamPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 qr/^$/, qr/^$/, qr/^$/]
--- no_error_log
[error]



=== TEST 46a: TeamsActivity.Send.Group: the refusal of a recipient outside the team is logged
--- http_config eval: ::conf('t46a')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.Group'])
--- request eval: ::post($::TeamPath, ::body(recipient => ::aad('bob@example.org')))
--- error_code: 403
--- error_log
notify: graph: the recipient "u-bob" is not a member of the team "7155e3c8-175e-4311-97ef-572edc3aa3db"
--- no_error_log
[error]
stored notification



=== TEST 47: TeamsActivity.Send.Group: the refusal of a team the app is not installed in is logged
--- http_config eval: ::conf('t47')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.Group'])
--- request eval: ::post('/v1.0/teams/team-other/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-other'}, recipient => ::aad('u-bob')))
--- error_code: 403
--- error_log
notify: graph: the app "app-graph" is not installed in the team "team-other"
--- no_error_log
[error]
stored notification



=== TEST 48: TeamsActivity.Send.Chat: only a chat the app is installed in, and only its members
--- http_config eval: ::conf('t48')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.Chat'])
--- request eval
[::post('/v1.0/chats/19:other@thread.v2/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/chats/19:other@thread.v2'}, recipient => ::aad('u-dave'))),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => ::aad($::Megan))),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl})),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => {'@odata.type' => 'microsoft.graph.chatMembersNotificationRecipient', chatId => $::Chat}))]
--- error_code eval: [403, 403, 204, 204]
--- response_body_like eval
[::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '/v1.0/chats/19:other\@thread.v2/sendActivityNotification' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 ::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '$::ChatPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 qr/^$/, qr/^$/]
--- no_error_log
[error]



=== TEST 48a: TeamsActivity.Send.Chat: the refusal of a chat the app is not installed in is logged
--- http_config eval: ::conf('t48a')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.Chat'])
--- request eval: ::post('/v1.0/chats/19:other@thread.v2/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/chats/19:other@thread.v2'}, recipient => ::aad('u-dave')))
--- error_code: 403
--- error_log
notify: graph: the app "app-graph" is not installed in the chat "19:other@thread.v2"
--- no_error_log
[error]
stored notification



=== TEST 49: TeamsActivity.Send.Chat: the refusal of a recipient outside the chat is logged
--- http_config eval: ::conf('t49')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.Chat'])
--- request eval: ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => ::aad($::Megan)))
--- error_code: 403
--- error_log
notify: graph: the recipient "ab88234e-0874-477c-9638-d144296ed04f" is not a member of the chat "19:d65713bc498c4a428c71ef9353e6ce20@thread.v2"
--- no_error_log
[error]
stored notification



=== TEST 50: TeamsActivity.Send.User: only a user the app is installed for
--- http_config eval: ::conf('t50')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.User'])
--- request eval
[::post("/v1.0/users/$::Megan/teamwork/sendActivityNotification", ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::UserPath, ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}))]
--- error_code eval: [403, 204]
--- response_body_like eval
[::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '/v1.0/users/$::Megan/teamwork/sendActivityNotification' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 qr/^$/]
--- no_error_log
[error]



=== TEST 50a: TeamsActivity.Send.User: the refusal of a user the app is not installed for is logged
--- http_config eval: ::conf('t50a')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.User'])
--- request eval: ::post("/v1.0/users/$::Megan/teamwork/sendActivityNotification", ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl}))
--- error_code: 403
--- error_log
notify: graph: the app "app-graph" is not installed for the user "ab88234e-0874-477c-9638-d144296ed04f"
--- no_error_log
[error]
stored notification



=== TEST 51: TeamsActivity.Send.User in bulk: every recipient must have the app installed
--- http_config eval: ::conf('t51')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.User'])
--- request eval
[::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John), ::aad('megan@example.org')], topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John)], topic => {source => 'entityUrl', value => $::AppUrl}))]
--- error_code eval: [403, 202]
--- response_body_like eval
[::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '$::BulkPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 qr/^$/]
--- no_error_log
[error]



=== TEST 51a: TeamsActivity.Send.User in bulk: the refusal of a recipient is logged, and nobody is notified
--- http_config eval: ::conf('t51a')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(roles => ['TeamsActivity.Send.User'])
--- request eval: ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::John), ::aad($::Megan)], topic => {source => 'entityUrl', value => $::AppUrl}))
--- error_code: 403
--- error_log
notify: graph: the app "app-graph" is not installed for the recipient "ab88234e-0874-477c-9638-d144296ed04f"
--- no_error_log
[error]
stored notification



=== TEST 52: TeamsActivity.Send is tenant-wide: any team, chat or user, installed or not
--- http_config eval: ::conf('t52')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
[($::App) x 5, ::app(azp => 'app-stranger', roles => ['TeamsActivity.Send'])]
--- request eval
[::post('/v1.0/teams/team-other/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/teams/team-other'}, recipient => ::aad('u-bob'))),
 ::post($::TeamPath, ::body(recipient => ::aad('u-bob'))),
 ::post('/v1.0/chats/19:other@thread.v2/sendActivityNotification', ::body(topic => {source => 'entityUrl', value => 'https://graph.microsoft.com/v1.0/chats/19:other@thread.v2'}, recipient => ::aad('u-dave'))),
 ::post("/v1.0/users/$::Megan/teamwork/sendActivityNotification", ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::Megan)], topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::TeamPath, ::body())]
--- error_code eval: [204, 204, 204, 204, 202, 204]
--- no_error_log
[error]
is not installed
is not a member



=== TEST 53: a delegated caller must be a member of the team or chat, and so must its recipient
--- http_config eval: ::conf('t53')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval
[::app(oid => 'u-bob', scp => 'TeamsActivity.Send'),
 ::app(oid => 'u-dave', scp => 'TeamsActivity.Send'),
 ::app(oid => 'u-nobody', upn => 'nobody@example.org', scp => 'TeamsActivity.Send'),
 $::Ada, $::Ada, $::Ada,
 ::app(oid => 'u-bob', scp => 'TeamsActivity.Send'),
 ::app(oid => 'u-bob', scp => 'TeamsActivity.Send')]
--- request eval
[::post($::TeamPath, ::body()),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl})),
 ::post($::TeamPath, ::body()),
 ::post($::TeamPath, ::body(recipient => ::aad('u-bob'))),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl}, recipient => ::aad($::Megan))),
 ::post($::ChatPath, ::body(topic => {source => 'entityUrl', value => $::ChatUrl})),
 ::post("/v1.0/users/$::Megan/teamwork/sendActivityNotification", ::body(recipient => undef, topic => {source => 'entityUrl', value => $::AppUrl})),
 ::post($::BulkPath, ::body(recipient => undef, recipients => [::aad($::Megan)], topic => {source => 'entityUrl', value => $::AppUrl}))]
--- error_code eval: [403, 403, 403, 403, 403, 204, 204, 202]
--- response_body_like eval
[::err('Forbidden', "The signed-in user is not a member of the team '$::Team'."),
 ::err('Forbidden', "The signed-in user is not a member of the chat '$::Chat'."),
 ::err('Forbidden', "The signed-in user is not a member of the team '$::Team'."),
 ::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '$::TeamPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 ::err('Forbidden', "Application with AAD App Id 'app-graph' is not authorized to generate custom text notifications about '$::ChatPath' to the recipient. Ensure that the expected Teams app is installed in the target scope (user, team, or chat)."),
 qr/^$/, qr/^$/, qr/^$/]
--- no_error_log
[error]



=== TEST 53a: a delegated caller outside the team is refused, and logged
--- http_config eval: ::conf('t53a')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: ::app(oid => 'u-bob', scp => 'TeamsActivity.Send')
--- request eval: ::post($::TeamPath, ::body())
--- error_code: 403
--- error_log
notify: graph: the caller is not a member of the team "7155e3c8-175e-4311-97ef-572edc3aa3db"
--- no_error_log
[error]
stored notification



=== TEST 54: a delegated caller's recipient outside the team is refused, and logged
--- http_config eval: ::conf('t54')
--- config
    location ~* sendactivitynotification { notify_inbound graph; }
--- more_headers eval: $::Ada
--- request eval: ::post($::TeamPath, ::body(recipient => ::aad('u-bob')))
--- error_code: 403
--- error_log
notify: graph: the recipient "u-bob" is not a member of the team "7155e3c8-175e-4311-97ef-572edc3aa3db"
--- no_error_log
[error]
stored notification



=== TEST 55: an app-only token without azp or appid, only client_id (RFC 9068): the sender is the client_id
--- http_config eval: ::conf('sender-app-client_id') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{client_id}[0]}, roles => ['TeamsActivity.Send']))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{client_id}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory



=== TEST 56: an app-only token without azp or appid, only sub: the sender is the sub
--- http_config eval: ::conf('sender-app-sub') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{sub}[0]}, roles => ['TeamsActivity.Send']))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{sub}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory



=== TEST 57: an app-only token without azp or appid, neither azp, appid, client_id nor sub: the sender is null
--- http_config eval: ::conf('sender-app-none') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{none}[0]}, roles => ['TeamsActivity.Send']))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{none}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory



=== TEST 58: a delegated token without azp or appid, only client_id (RFC 9068): the sender is the client_id
--- http_config eval: ::conf('sender-user-client_id') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{client_id}[0]}, oid => 'u-ada', upn => 'ada@example.org', scp => 'TeamsActivity.Send'))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{client_id}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory



=== TEST 59: a delegated token without azp or appid, only sub: the sender is the sub
--- http_config eval: ::conf('sender-user-sub') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{sub}[0]}, oid => 'u-ada', upn => 'ada@example.org', scp => 'TeamsActivity.Send'))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{sub}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory



=== TEST 60: a delegated token without azp or appid, neither azp, appid, client_id nor sub: the sender is null
--- http_config eval: ::conf('sender-user-none') . $NotifyTest::PushHttp
--- config eval: "    location ~* sendactivitynotification { notify_inbound graph; }\n" . $NotifyTest::PushServer
--- more_headers eval: $::Json . ::bearer(NotifyTest::token(@{$NotifyTest::Senders{none}[0]}, oid => 'u-ada', upn => 'ada@example.org', scp => 'TeamsActivity.Send'))
--- request eval: ::post($::TeamPath, ::body())
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $NotifyTest::PushReply
--- tcp_query eval: NotifyTest::pushed_sender($NotifyTest::Senders{none}[1])
--- tcp_query_auto_timeout: 0.1
--- error_code: 204
--- no_error_log
[error]
out of memory
