#!/usr/bin/env python3
"""scripts/bench-stream's client: holds the feed streams and measures.

    stream.py <port> <tokens.json> <streams> <master pid> <duration> <wrk cmd...>

Opens one stream per user (asyncio, one connection each), reports the
workers' RSS once all are open, then runs wrk (the inbound load, full rate)
and meanwhile a probe: a notification to the probe user every 20 ms, timed
from its answer (the inbound request answered) to its "item" event at the
probe's stream.  Prints one JSON object.
"""

import asyncio
import json
import os
import random
import resource
import sys
import time


def worker_rss(master):
    """RSS (KiB) of each child of the master"""
    out = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            if ppid != master:
                continue
            with open('/proc/%s/status' % pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        out.append(int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(out)


class Stream:
    def __init__(self):
        self.events = 0
        self.resets = 0
        self.closed = False
        self.waiting = {}       # title -> future

    async def run(self, port, token, ready):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.write(('GET /activities/stream HTTP/1.1\r\nHost: bench\r\n'
                      'Authorization: Bearer %s\r\n\r\n' % token).encode())
        await writer.drain()
        status = await reader.readline()
        if b' 200 ' not in status:
            raise RuntimeError('stream: %r' % status)
        while (await reader.readline()) not in (b'\r\n', b''):
            pass
        ready.set_result(True)
        event = None
        while True:
            line = await reader.readline()
            if not line:
                self.closed = True
                return
            if line.startswith(b'event: '):
                event = line[7:].strip()
                self.events += 1
                if event == b'reset':
                    self.resets += 1
            elif line.startswith(b'data: ') and event == b'item' and self.waiting:
                data = line[6:]
                i = data.find(b'"title":"')
                if i >= 0:
                    title = data[i + 9:data.index(b'"', i + 9)].decode()
                    fut = self.waiting.pop(title, None)
                    if fut and not fut.done():
                        fut.set_result(time.monotonic())


async def post(port, app, to, title):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    body = json.dumps({'eventId': 'probe', 'title': title,
                       'url': 'https://ci.example.org/builds/42',
                       'accounts': [to]}).encode()
    writer.write(b'POST /ActivityCenter/app/setExternalNotification HTTP/1.1\r\n'
                 b'Host: bench\r\nConnection: close\r\n'
                 b'Content-Type: application/json\r\n'
                 b'Authorization: Bearer ' + app.encode() + b'\r\n'
                 b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
    await writer.drain()
    status = await reader.readline()
    answered = time.monotonic()
    await reader.read()
    writer.close()
    return status, answered


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


async def main():
    port, tokens_file, n, master, duration = sys.argv[1:6]
    wrk = sys.argv[6:]
    port, n, master, duration = int(port), int(n), int(master), float(duration)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with open(tokens_file) as f:
        tokens = json.load(f)
    users = tokens['users']
    probe_user = users[-1]
    rss_before = worker_rss(master)

    streams, tasks = [], []
    t0 = time.monotonic()
    for i in range(n):
        s = Stream()
        ready = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(s.run(port, users[i]['token'], ready)))
        streams.append(s)
        await ready
    probe = Stream()
    ready = asyncio.get_running_loop().create_future()
    tasks.append(asyncio.create_task(probe.run(port, probe_user['token'], ready)))
    await ready
    opened = time.monotonic() - t0
    await asyncio.sleep(1)
    rss_open = worker_rss(master)

    # the load, at full rate, and the probe meanwhile
    proc = await asyncio.create_subprocess_exec(*wrk, stdout=asyncio.subprocess.PIPE)
    await asyncio.sleep(0.5)
    lat, lost, k = [], 0, 0
    end = time.monotonic() + duration - 1
    while time.monotonic() < end:
        k += 1
        title = 'probe %d' % k
        fut = asyncio.get_running_loop().create_future()
        probe.waiting[title] = fut
        status, answered = await post(port, tokens['app'], probe_user['upn'], title)
        try:
            arrived = await asyncio.wait_for(fut, 10)
            lat.append((arrived - answered) * 1000)
        except asyncio.TimeoutError:
            lost += 1
        await asyncio.sleep(0.02)
    out, _ = await proc.communicate()
    rss_load = worker_rss(master)

    wrk_text = out.decode()
    rps = None
    for line in wrk_text.splitlines():
        if line.startswith('Requests/sec:'):
            rps = float(line.split()[1])

    result = {
        'streams': n + 1,
        'open_seconds': round(opened, 1),
        'worker_rss_kib': {'before': rss_before, 'streams_open': rss_open,
                           'after_load': rss_load},
        'inbound_rps': rps,
        'probes': len(lat), 'probes_lost': lost,
        'latency_ms': {'p50': pct(lat, 50), 'p99': pct(lat, 99),
                       'max': max(lat) if lat else None},
        'events_received': sum(s.events for s in streams) + probe.events,
        'resets': sum(s.resets for s in streams) + probe.resets,
        'streams_closed': sum(1 for s in streams if s.closed),
    }
    print(json.dumps(result))
    for t in tasks:
        t.cancel()


asyncio.run(main())
