/*
 * The Activity Center page: the signed-in demo user's feed, live.
 *
 * demo-users.json (written by scripts/run, next to this file) lists the
 * quickstart's demo users and their tokens.  The feed's requests send the
 * token in Authorization; the stream (EventSource, which cannot send that
 * header) opens with a one-use ticket, and a new ticket with the last
 * event's id when it reconnects.  No framework, no build step.
 */

'use strict';

const FEED = '/activities';

const state = {
    token: null,
    source: null,
    lastId: null,
    retry: null
};

const $ = (id) => document.getElementById(id);

async function api(method, path) {
    const r = await fetch(FEED + path, {
        method: method,
        headers: {Authorization: 'Bearer ' + state.token}
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
        throw new Error((body.error && body.error.message) || r.statusText);
    }
    return body;
}

function showError(e) {
    $('error').textContent = e ? String(e.message || e) : '';
    $('error').hidden = !e;
}

function setCounts(c) {
    $('unread').textContent = c.unread;
    $('badge').classList.toggle('has', c.unread > 0);
    $('badge').dataset.unseen = c.unseen;
}

/* does an item belong in the list as filtered now? */
function shown(item) {
    const status = $('status').value;
    const dialect = $('dialect').value;
    if (dialect && item.dialect !== dialect) {
        return false;
    }
    switch (status) {
    case 'unread': return !item.read;
    case 'unseen': return !item.seen;
    case 'read': return item.read && !item.archived;
    case 'archived': return item.archived;
    case 'all': return true;
    default: return !item.archived;
    }
}

function render(item, fresh) {
    const li = document.createElement('li');
    li.className = 'item' + (item.read ? ' read' : '') + (fresh ? ' new' : '');
    li.dataset.id = item.id;
    if (item.chainId !== undefined && item.chainId !== null) {
        li.dataset.chain = String(item.chainId);
    }
    li.dataset.item = JSON.stringify(item);

    const text = document.createElement('div');
    text.className = 'text';
    const title = document.createElement(item.url ? 'a' : 'div');
    title.className = 'title';
    title.textContent = item.title;
    if (item.url) {
        title.href = item.url;
        title.target = '_blank';
        title.rel = 'noopener';
    }
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = [item.dialect, item.event, item.created]
        .filter((x) => typeof x === 'string').join(' \u00b7 ');
    text.append(title, meta);

    const archive = document.createElement('button');
    archive.textContent = 'Archive';
    archive.addEventListener('click', (ev) => {
        ev.stopPropagation();
        api('POST', '/' + item.id + '/archive').catch(showError);
    });
    const del = document.createElement('button');
    del.textContent = 'Delete';
    del.addEventListener('click', (ev) => {
        ev.stopPropagation();
        api('DELETE', '/' + item.id).catch(showError);
    });

    li.append(text, archive, del);

    /* a click opens it (its title is the link): it is read */
    li.addEventListener('click', () => {
        api('POST', '/' + item.id + '/read').catch(showError);
    });

    return li;
}

function update(id, change) {
    const li = document.querySelector('.item[data-id="' + id + '"]');
    if (!li) {
        return;
    }
    const item = Object.assign(JSON.parse(li.dataset.item), change);
    li.dataset.item = JSON.stringify(item);
    li.classList.toggle('read', !!item.read);
    if (!shown(item)) {
        li.remove();
    }
    $('empty').hidden = !!$('items').firstChild;
}

function updateAll(test, change) {
    document.querySelectorAll('.item').forEach((li) => {
        if (test(JSON.parse(li.dataset.item))) {
            update(li.dataset.id, change);
        }
    });
}

async function load() {
    const q = new URLSearchParams({status: $('status').value, limit: '50'});
    if ($('dialect').value) {
        q.set('dialect', $('dialect').value);
    }
    const page = await api('GET', '?' + q);
    $('items').replaceChildren(...page.items.map((i) => render(i, false)));
    $('empty').hidden = page.items.length > 0;
    setCounts(page);
}

const handlers = {
    item(data) {
        if (shown(data)) {
            $('items').prepend(render(data, true));
            $('empty').hidden = true;
        }
    },
    replaced(data) {
        if (data.chainId !== undefined && data.chainId !== null) {
            document.querySelectorAll('.item[data-chain="' + data.chainId + '"]')
                .forEach((li) => li.remove());
        }
        handlers.item(data);
    },
    read(data) {
        if (data.id) {
            update(data.id, {read: true, seen: true});
        } else if (data.until) {
            updateAll((i) => i.id <= data.until, {read: true, seen: true});
        } else {
            updateAll(() => true, {read: true, seen: true});
        }
    },
    seen() {
        updateAll(() => true, {seen: true});
    },
    archived(data) {
        if (data.id) {
            update(data.id, {archived: true, read: true, seen: true});
        } else {
            updateAll((i) => i.read, {archived: true});
        }
    },
    deleted(data) {
        const li = document.querySelector('.item[data-id="' + data.id + '"]');
        if (li) {
            li.remove();
        }
        $('empty').hidden = !!$('items').firstChild;
    },
    counts(data) {
        setCounts(data);
    },
    reset() {
        load().catch(showError);
    }
};

/* the stream: a ticket, then EventSource; again with the last id */
async function connect() {
    clearTimeout(state.retry);
    if (state.source) {
        state.source.close();
    }
    let ticket;
    try {
        ticket = (await api('POST', '/stream/ticket')).ticket;
    } catch (e) {
        $('live').textContent = 'offline';
        state.retry = setTimeout(connect, 3000);
        return;
    }
    let url = FEED + '/stream?ticket=' + encodeURIComponent(ticket);
    if (state.lastId) {
        url += '&last_event_id=' + encodeURIComponent(state.lastId);
    }
    const source = new EventSource(url);
    state.source = source;
    source.onopen = () => {
        $('live').textContent = 'live';
        $('live').classList.add('on');
        document.body.dataset.state = 'live';
    };
    source.onerror = () => {
        /* the ticket was used: a new one, from the last event */
        $('live').textContent = 'reconnecting';
        $('live').classList.remove('on');
        document.body.dataset.state = 'reconnecting';
        source.close();
        state.retry = setTimeout(connect, 1000);
    };
    Object.keys(handlers).forEach((name) => {
        source.addEventListener(name, (ev) => {
            if (ev.lastEventId) {
                state.lastId = ev.lastEventId;
            }
            handlers[name](JSON.parse(ev.data));
        });
    });
}

async function signIn(users, name) {
    const user = users.find((u) => u.name === name) || users[0];
    state.token = user.token;
    state.lastId = null;
    $('user').value = user.name;
    sessionStorage.setItem('activity-center-user', user.name);
    showError(null);
    await load();
    await connect();
}

async function main() {
    const users = await (await fetch('demo-users.json')).json();
    for (const u of users) {
        const o = document.createElement('option');
        o.value = u.name;
        o.textContent = u.displayName || u.name;
        $('user').append(o);
    }
    $('user').addEventListener('change', () =>
        signIn(users, $('user').value).catch(showError));
    $('status').addEventListener('change', () => load().catch(showError));
    $('dialect').addEventListener('change', () => load().catch(showError));
    $('read-all').addEventListener('click', () =>
        api('POST', '/read-all').catch(showError));
    $('archive-read').addEventListener('click', () =>
        api('POST', '/archive-read').catch(showError));
    $('badge').addEventListener('click', () =>
        api('POST', '/seen-all').catch(showError));

    const wanted = new URLSearchParams(location.search).get('user')
        || sessionStorage.getItem('activity-center-user');
    await signIn(users, wanted);
}

main().catch(showError);
