#!/usr/bin/env python3
"""scripts/bench's slow downstream: answers the push contract, late.

    slow.py <port> <delay ms>

Each request (its headers and its Content-Length body read) is answered
after <delay ms> with 200 and {"Success": true, "Code": "0"}, then the
connection is closed (nginx's proxy speaks HTTP/1.0 to it).  asyncio: any
number of requests wait side by side.
"""

import asyncio
import sys

BODY = b'{"Success": true, "Code": "0", "Message": "OK"}'
ANSWER = (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
          b'Connection: close\r\nContent-Length: %d\r\n\r\n%s'
          % (len(BODY), BODY))


async def serve(reader, writer, delay):
    try:
        head = await reader.readuntil(b'\r\n\r\n')
        length = 0
        for line in head.split(b'\r\n'):
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value)
        if length:
            await reader.readexactly(length)
        await asyncio.sleep(delay)
        writer.write(ANSWER)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ValueError):
        pass
    finally:
        writer.close()


async def main(port, delay):
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, delay), '127.0.0.1', port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) / 1000.0))
