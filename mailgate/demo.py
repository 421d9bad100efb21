"""`mailgate demo`: the sandbox mail servers, a seeded account, and mailgate with its UI."""

from __future__ import annotations

import asyncio
import secrets
import sys

from mailgate.config import Config

__all__ = ["DEMO_EMAIL", "run_demo"]

DEMO_EMAIL = "demo@example.org"


def _banner(url: str, password: str, ca_file: str) -> str:
    return (
        "\nmailgate demo is running\n"
        f"  Open:    {url}\n"
        f"  Log in:  {DEMO_EMAIL} / {password}\n"
        f"  CA file: {ca_file}  (trust it, e.g. curl --cacert, or accept the browser warning)\n"
        "  Stop with Ctrl+C; every session and the sandbox mail are wiped on exit.\n"
    )


async def run_demo(*, port: int = 8443, host: str = "127.0.0.1") -> int:
    from mailgate.app import run_server
    from mailgate.logs import configure_logging, quiet_sandbox_loggers
    from mailgate.sandbox import Sandbox

    configure_logging("info")
    quiet_sandbox_loggers()
    sandbox = Sandbox()
    await sandbox.start()
    try:
        password = "demo-" + secrets.token_urlsafe(9)
        await sandbox.add_user(DEMO_EMAIL, password, seed=True)
        cert, key = sandbox.ca.issue("localhost", "127.0.0.1")
        config = Config().replace(
            server={"host": host, "port": port},
            tls={"cert_file": str(cert), "key_file": str(key)},
            imap={
                "host": sandbox.imap_host,
                "port": sandbox.imap_port,
                "security": sandbox.imap_security,
            },
            smtp={
                "host": sandbox.smtp_host,
                "port": sandbox.smtp_port,
                "security": sandbox.smtp_security,
            },
            upstream={"ca_file": str(sandbox.ca_file), "allow_any_port": True},
            proxy={"enabled": False},
        )

        def ready(url: str) -> None:
            print(_banner(url, password, str(sandbox.ca_file)), flush=True)

        await run_server(config, ready=ready)
    except OSError as exc:
        print(f"mailgate: cannot listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        pass
    finally:
        await sandbox.stop()
    return 0
