"""An SMTP submission server for the benchmarks, run in its own process by harness.py:
the sandbox's aiosmtpd server (implicit TLS, AUTH required) on 127.0.0.1, which accepts
mail for anyone and throws it away, so a long run does not pile messages up.

    BENCH_SMTP_PASSWORD=P python benchmarks/smtp_sink.py --port N --cert cert.pem --key key.pem
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailgate.sandbox.smtp import SandboxSMTP


async def serve(port: int, cert: str, key: str, password: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server: SandboxSMTP

    async def discard(rcpt: str, content: bytes) -> bool:
        server.received.clear()
        return True

    server = SandboxSMTP(
        ctx, lambda _login, given: given == password, deliver_local=discard, port=port
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.cert, args.key, os.environ["BENCH_SMTP_PASSWORD"]))


if __name__ == "__main__":
    main()
