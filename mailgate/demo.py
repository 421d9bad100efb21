"""`mailgate demo`: the sandbox mail servers, a seeded account, and mailgate with its UI.

The sandbox (mailgate/sandbox/) only provides servers; this module composes them with the
app. Start-up is quiet: the logs go to a file (unless `log_file` is "-"), so the banner
with the URL, the login and the CA path is the last thing printed and stays on screen.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailgate.app import run_server
from mailgate.config import Config
from mailgate.logs import configure_logging, quiet_sandbox_loggers
from mailgate.sandbox import Sandbox

__all__ = ["DEMO_EMAIL", "DemoOptions", "run_demo"]

DEMO_EMAIL = "demo@example.org"
# The sandbox's image host listens here; only the demo lets the proxy reach it.
_IMAGE_HOST_NETWORK = "127.0.0.1/32"


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8443
    host: str = "127.0.0.1"
    # Seconds without a request before a session is wiped (the server default: 1200).
    idle_timeout_s: int = 1200
    # Remote images through the privacy proxy, from the sandbox's local image host.
    image_proxy: bool = True
    # Where the JSON log lines go: a file path, "" for a new file in a private temporary
    # directory, or "-" for the terminal.
    log_file: str = ""


def _banner(url: str, password: str, ca_file: str, options: DemoOptions, log_path: str) -> str:
    images = (
        "through the privacy proxy: open a 'Spring sale' newsletter, then 'Load remote images'"
        if options.image_proxy
        else "blocked (the image proxy is off; start with --image-proxy)"
    )
    return (
        "\nmailgate demo is running\n"
        f"  Open:    {url}\n"
        f"  Log in:  {DEMO_EMAIL} / {password}\n"
        f"  CA file: {ca_file}  (trust it, e.g. curl --cacert, or accept the browser warning)\n"
        f"  Idle:    sessions are wiped after {options.idle_timeout_s} s without a request\n"
        f"  Images:  {images}\n"
        f"  Logs:    {log_path}\n"
        "  Stop with Ctrl+C; every session and the sandbox mail are wiped on exit."
    )


def _send_logs(log_file: str) -> str:
    """Configure logging; return where the log lines go (for the banner)."""
    configure_logging("info")
    quiet_sandbox_loggers()
    if log_file == "-":
        return "this terminal"
    path = (
        Path(log_file)
        if log_file
        else Path(tempfile.mkdtemp(prefix="mailgate-demo-")) / "mailgate.log"
    )
    stream = path.open("a", encoding="utf-8")
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_mailgate", False) and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    return str(path)


def demo_config(sandbox: Sandbox, options: DemoOptions, cert: str, key: str) -> Config:
    """mailgate pointed at the sandbox, with the demo's choices."""
    proxy: dict[str, object] = {"enabled": options.image_proxy}
    if options.image_proxy and sandbox.images is not None:
        # The image host is on loopback, which the proxy refuses for everyone else (SSRF
        # policy): this explicit allowance exists only in the demo's own configuration.
        proxy |= {
            "ca_file": str(sandbox.ca_file),
            "allow_private_addresses": (_IMAGE_HOST_NETWORK,),
        }
    return Config().replace(
        server={"host": options.host, "port": options.port},
        tls={"cert_file": cert, "key_file": key},
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
        session={
            "idle_timeout_s": options.idle_timeout_s,
            "absolute_timeout_s": max(options.idle_timeout_s, 43200),
        },
        proxy=proxy,
    )


async def run_demo(options: DemoOptions | None = None) -> int:
    options = options or DemoOptions()
    log_path = _send_logs(options.log_file)
    sandbox = Sandbox(image_host=options.image_proxy)
    await sandbox.start()
    try:
        password = "demo-" + secrets.token_urlsafe(9)
        await sandbox.add_user(DEMO_EMAIL, password, seed=True)
        cert, key = sandbox.ca.issue("localhost", "127.0.0.1")
        config = demo_config(sandbox, options, cert, key)

        def ready(url: str) -> None:
            banner = _banner(url, password, str(sandbox.ca_file), options, log_path)
            print(banner, flush=True)

        await run_server(config, ready=ready)
    except OSError as exc:
        where = f"{options.host}:{options.port}"
        print(f"mailgate: cannot listen on {where} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        pass
    finally:
        await sandbox.stop()
    return 0
