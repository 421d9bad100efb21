"""The `mailgate` command: serve, demo, check."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from mailgate import __version__
from mailgate.config import ConfigError, load_config
from mailgate.prefs.secret import SecretError

__all__ = ["main"]


def _fail(message: str) -> int:
    print(f"mailgate: {message}", file=sys.stderr)
    return 2


def _harden_process() -> None:
    """No core dumps: they would hold decrypted credentials (SEC-52)."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_DUMPABLE = 4
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def cmd_serve(args: argparse.Namespace) -> int:
    from mailgate.app import run_server
    from mailgate.logs import configure_logging

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    for name in ("cert_file", "key_file"):
        path = getattr(config.tls, name)
        if not os.path.isfile(path):
            return _fail(f"tls.{name} (MAILGATE_TLS_{name.upper()}): file not found")
    configure_logging(config.log.level)
    _harden_process()
    try:
        asyncio.run(run_server(config))
    except SecretError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"server.host/server.port: cannot listen ({exc.strerror or exc})")
    return 0


# What `pip install 'mailgate[demo]'` adds: the embedded sandbox's servers.
DEMO_PACKAGES = frozenset({"pymap", "aiosmtpd", "trustme", "proxyprotocol", "pysasl"})


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from mailgate.demo import DemoOptions, run_demo
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in DEMO_PACKAGES:
            raise
        return _fail("the demo needs the sandbox servers: pip install 'mailgate[demo]'")
    if args.idle_timeout < 1:
        return _fail("--idle-timeout: must be at least 1 second")
    options = DemoOptions(
        port=args.port,
        host=args.host,
        idle_timeout_s=args.idle_timeout,
        image_proxy=args.image_proxy,
        log_file=args.log_file,
    )
    _harden_process()
    return asyncio.run(run_demo(options))


def cmd_check(args: argparse.Namespace) -> int:
    from mailgate.check import CheckAccount, run_check

    account = None
    if args.account:
        # Never a command-line argument: it would show in the process list and history.
        password = os.environ.get("MAILGATE_CHECK_PASSWORD")
        if password is None:
            import getpass

            password = getpass.getpass(f"password for {args.account}: ")
        account = CheckAccount(args.account, password)
    return asyncio.run(run_check(args.config, account=account))


def cmd_discover(args: argparse.Namespace) -> int:
    from mailgate.discover import DiscoverOptions, run_discover

    options = DiscoverOptions.from_args(args)
    return asyncio.run(run_discover(args.domain, options))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mailgate", description="A private webmail session backend."
    )
    parser.add_argument("--version", action="version", version=f"mailgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve HTTPS with a configuration file")
    serve.add_argument("--config", help="TOML configuration file (environment variables win)")
    serve.set_defaults(func=cmd_serve)
    demo = sub.add_parser("demo", help="run a sandbox mail server and mailgate with its UI")
    demo.add_argument(
        "--port", type=int, default=int(os.environ.get("MAILGATE_SERVER_PORT", "8443"))
    )
    demo.add_argument("--host", default=os.environ.get("MAILGATE_SERVER_HOST", "127.0.0.1"))
    demo.add_argument(
        "--idle-timeout",
        type=int,
        default=1200,
        metavar="SECONDS",
        help="wipe a session after this long without a request (default 1200; try 60)",
    )
    demo.add_argument(
        "--image-proxy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load remote images through the privacy proxy from the sandbox's image host "
        "(default on)",
    )
    demo.add_argument(
        "--log-file",
        default="",
        metavar="PATH",
        help="where the JSON log lines go (default: a new file, shown in the banner; "
        "'-' for this terminal)",
    )
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check", help="validate a configuration and reach the upstream servers")
    check.add_argument("--config", help="TOML configuration file (environment variables win)")
    check.add_argument(
        "--account",
        help="also log in as this address (password from MAILGATE_CHECK_PASSWORD or a prompt) "
        "and report the capabilities its session sees",
    )
    check.set_defaults(func=cmd_check)
    discover = sub.add_parser(
        "discover",
        help="propose a domain-map entry for a mail domain from its autoconfig, SRV and MX "
        "records (run ahead of time by the operator; never at login)",
    )
    discover.add_argument("domain", help="the mail domain, e.g. example.org")
    from mailgate.discover import add_arguments

    add_arguments(discover)
    discover.set_defaults(func=cmd_discover)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
