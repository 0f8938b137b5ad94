/*
 * t/044-activity-center.t: Debian's Chromium, headless, driven over the
 * DevTools protocol (puppeteer-core), through the Activity Center page.
 *
 *   node browse.js <base url> <graph app token> <user id> <screenshot>
 *
 * Opens the page, posts a notification through the Graph endpoint, waits
 * for it to appear without a reload, reads the badge, clicks the item,
 * waits for the badge to go down, saves a screenshot.  Prints one line a
 * step; exits 0 when all went as they should, 1 when not, 2 when Chromium
 * cannot start (the test then skips).  The waits are bounds for failing,
 * not measurements.
 */

'use strict';

const puppeteer = require('puppeteer-core');

const [base, graphToken, userId, shot] = process.argv.slice(2);
const BROWSER = process.env.CHROMIUM || '/usr/bin/chromium';

async function main() {
    let browser;

    try {
        browser = await puppeteer.launch({
            executablePath: BROWSER,
            headless: true,
            args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
        });
    } catch (e) {
        console.log('skip: Chromium cannot start: ' + e.message.split('\n')[0]);
        process.exit(2);
    }

    try {
        const page = await browser.newPage();
        await page.setViewport({width: 900, height: 600});

        page.on('pageerror', (e) => console.log('page error: ' + e.message));

        await page.goto(base + '/activity-center/?user=john');
        await page.waitForSelector('body[data-state="live"]', {timeout: 10000});
        console.log('live, badge ' + await page.$eval('#unread', (e) => e.textContent));

        const r = await fetch(base + '/v1.0/users/' + userId
                              + '/teamwork/sendActivityNotification', {
            method: 'POST',
            headers: {'Content-Type': 'application/json',
                      Authorization: 'Bearer ' + graphToken},
            body: JSON.stringify({
                topic: {source: 'text', value: 'Tasks',
                        webUrl: 'https://teams.microsoft.com/l/tasks'},
                activityType: 'taskCreated',
                previewText: {content: 'New Task'},
                templateParameters: [{name: 'taskId', value: 'Browser-1'}]
            })
        });
        console.log('graph ' + r.status);

        const item = await page.waitForSelector('.item.new', {timeout: 5000});
        console.log('appeared: ' + await item.$eval('.title', (e) => e.textContent));
        await page.waitForFunction(
            () => document.getElementById('unread').textContent === '1',
            {timeout: 5000});
        console.log('badge 1');

        await item.click({offset: {x: 5, y: 5}});
        await page.waitForFunction(
            () => document.getElementById('unread').textContent === '0'
                  && document.querySelector('.item.read') !== null,
            {timeout: 5000});
        console.log('clicked: read, badge 0');

        await page.screenshot({path: shot});
        console.log('screenshot');
    } finally {
        await browser.close();
    }
}

main().then(() => process.exit(0), (e) => {
    console.log('failed: ' + e.message.split('\n')[0]);
    process.exit(1);
});
