"""MongoDB wire-protocol test server (mongoeco, in-memory) for LiteFlow's tests.

Run with the Python 3.13 venv made by scripts/services.sh:
    .services/mongoeco-venv/bin/python scripts/mongo_wire_server.py [PORT]
Serves on 127.0.0.1:PORT (default 27018) until SIGTERM or SIGINT.
"""

import asyncio
import signal
import sys

from mongoeco.engines import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer


async def main(port: int) -> None:
    server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=port)
    await server.start()
    print(f"mongoeco wire server listening on {server.address.uri}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 27018))
