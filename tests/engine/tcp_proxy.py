"""A TCP proxy for the fault tests: ``python tcp_proxy.py LISTEN_PORT HOST PORT``.

Forwards every connection to 127.0.0.1:LISTEN_PORT to HOST:PORT, byte for byte, and prints
``ready`` once it listens. Killing it drops every connection through it at once and refuses new
ones, as a network outage would; starting it again on the same port ends the outage.
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until either side closes, then close the other."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def forward(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def main(listen_port: int, host: str, port: int) -> None:
    server = await asyncio.start_server(
        lambda reader, writer: forward(reader, writer, host, port),
        "127.0.0.1",
        listen_port,
        reuse_address=True,  # the port may still have connections in TIME_WAIT
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, target_host, target_port = sys.argv[1:]
    asyncio.run(main(int(listen), target_host, int(target_port)))
