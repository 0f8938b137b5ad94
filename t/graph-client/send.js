'use strict';

// Sends one activity notification to the hub with Microsoft's own Graph
// JavaScript client, the way an app sends it to Microsoft Graph:
//
//   node send.js <base URL> <token> <team id> <user id>
//
// The client adds the token (and its client-request-id) only for https
// URLs of Graph or of its customHosts: the base URL's host is made one.
// Its default middleware chain is used as it is, behind one link that
// notes the answer.  Prints "status <n> request-id <id> client-request-id
// <id>", or, when the client throws, "error <status> <code>: <message>
// (request-id <id>, date <date>)" as the client parsed the hub's error
// body; exits 0 on 204, 1 otherwise, 2 on wrong usage.

const {
    Client, CustomAuthenticationProvider, MiddlewareFactory,
} = require('@microsoft/microsoft-graph-client');

// the first link of the client's middleware chain: notes the answer
class Recorder {
    setNext(next) {
        this.next = next;
    }

    async execute(context) {
        await this.next.execute(context);
        this.response = context.response;
    }
}

async function main() {
    const [base, token, team, user] = process.argv.slice(2);

    if (!user) {
        console.error('usage: node send.js <base URL> <token> <team id> <user id>');
        return 2;
    }

    const recorder = new Recorder();
    const auth = new CustomAuthenticationProvider((done) => done(null, token));

    const client = Client.initWithMiddleware({
        baseUrl: base,
        defaultVersion: 'v1.0',
        customHosts: new Set([new URL(base).hostname]),
        middleware: [recorder, ...MiddlewareFactory.getDefaultMiddlewareChain(auth)],
    });

    const notification = {
        topic: {
            source: 'entityUrl',
            value: `https://graph.microsoft.com/v1.0/teams/${team}`,
        },
        activityType: 'taskCreated',
        previewText: { content: 'Sent by @microsoft/microsoft-graph-client' },
        recipient: {
            '@odata.type': 'microsoft.graph.aadUserNotificationRecipient',
            userId: user,
        },
        templateParameters: [{ name: 'taskId', value: 'JS-1' }],
    };

    try {
        await client
            .api(`/teams/${encodeURIComponent(team)}/sendActivityNotification`)
            .post(notification);
    } catch (e) {
        console.log(`error ${e.statusCode} ${e.code}: ${e.message}`
                    + ` (request-id ${e.requestId}, date ${e.date && e.date.toISOString()})`);
        return 1;
    }

    const res = recorder.response;

    console.log(`status ${res.status} request-id ${res.headers.get('request-id')}`
                + ` client-request-id ${res.headers.get('client-request-id')}`);

    return res.status === 204 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
    console.log(`failed: ${e && e.stack || e}`);
    process.exit(1);
});
