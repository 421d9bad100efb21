"""The composition root (mailgate/composition.py): every service built once, from the
configuration, into typed fields; the server secret is a setting of its own."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from mailgate import app as app_module
from mailgate.app import create_app
from mailgate.composition import Lifecycle, build_services
from mailgate.config import Config, ConfigError, load_config
from mailgate.prefs.secret import SECRET_FILE_NAME, AccountKeys
from mailgate.prefs.store import RedisPreferenceStore, SqlitePreferenceStore
from mailgate.proxy.signing import ProxySigner, SignatureInvalid
from mailgate.services import SERVICES, Services
from mailgate.store.memory import MemoryStore
from mailgate.store.redis import RedisStore
from mailgate.testing.servers import free_port
from mailgate.vault.files import FileVault
from mailgate.vault.redis import RedisVault

_UPSTREAM_ENV = {
    "MAILGATE_IMAP_HOST": "imap.example.test",
    "MAILGATE_SMTP_HOST": "smtp.example.test",
    "MAILGATE_TLS_CERT_FILE": "/nonexistent/cert.pem",
    "MAILGATE_TLS_KEY_FILE": "/nonexistent/key.pem",
}


def _close(svc: Services) -> None:
    asyncio.run(Lifecycle(svc).cleanup())


def test_server_secret_comes_from_the_secret_file_setting(tmp_path: Path):
    secret_file = tmp_path / "secrets" / "mailgate_secret"
    secret_file.parent.mkdir()
    secret_file.write_bytes(os.urandom(48))
    secret_file.chmod(0o600)
    config = load_config(
        environ={
            **_UPSTREAM_ENV,
            "MAILGATE_DATA_DIR": str(tmp_path / "data"),
            "MAILGATE_DATA_SECRET_FILE": str(secret_file),
            "MAILGATE_PROXY_ENABLED": "true",
        }
    )
    assert config.data.secret_file == str(secret_file)
    svc = build_services(config)
    try:
        assert svc.server_secret == secret_file.read_bytes()
        # Not the data directory's default file: the setting wins.
        assert not (tmp_path / "data" / SECRET_FILE_NAME).exists()
        # The proxy signs with it, and the preference keys derive from it.
        assert svc.image_proxy is not None
        url = svc.image_proxy.signer.url_for("ab" * 32, "m1", "https://images.example/a.png")
        assert url is not None
        query = dict(parse_qsl(urlsplit(url).query))
        assert ProxySigner(secret_file.read_bytes(), 60).verify(query).lookup == "ab" * 32
        with pytest.raises(SignatureInvalid):
            ProxySigner(os.urandom(32), 60).verify(query)
        email = "someone@example.test"
        expected = AccountKeys(secret_file.read_bytes()).account_id(email)
        assert svc.preferences.keys.account_id(email) == expected
    finally:
        _close(svc)


def test_server_secret_is_made_in_the_data_dir_when_unset(tmp_path: Path):
    config = Config().replace(data={"dir": str(tmp_path)})
    svc = build_services(config)
    try:
        path = tmp_path / SECRET_FILE_NAME
        assert svc.server_secret == path.read_bytes() and len(svc.server_secret) == 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert svc.image_proxy is None and svc.metrics is None  # both off by default
    finally:
        _close(svc)
    # A second build over the same directory keeps the same secret.
    again = build_services(config)
    try:
        assert again.server_secret == path.read_bytes()
    finally:
        _close(again)


def test_a_temporary_data_dir_is_removed_at_cleanup():
    svc = build_services(Config())
    assert svc.data_dir_is_temporary and svc.data_dir.is_dir()
    _close(svc)
    assert not svc.data_dir.exists()


def test_memory_backend_keeps_everything_in_this_process(tmp_path: Path):
    svc = build_services(Config().replace(data={"dir": str(tmp_path)}))
    try:
        assert isinstance(svc.store, MemoryStore)
        assert isinstance(svc.vault, FileVault)
        assert isinstance(svc.preferences.store, SqlitePreferenceStore)
    finally:
        _close(svc)


def test_redis_backend_puts_everything_in_redis(tmp_path: Path):
    config = Config().replace(
        data={"dir": str(tmp_path)},
        store={"backend": "redis", "redis_url": "redis://127.0.0.1:1/0"},
    )
    svc = build_services(config)  # builds clients; nothing connects until used
    assert isinstance(svc.store, RedisStore)
    assert isinstance(svc.vault, RedisVault)
    assert isinstance(svc.preferences.store, RedisPreferenceStore)


def test_wiping_a_session_reaches_every_service_that_holds_its_data(tmp_path: Path):
    svc = build_services(Config().replace(data={"dir": str(tmp_path)}))
    lookup = "cd" * 32
    svc.reading.cache.put(lookup, "m1", object())

    async def scenario() -> list[str]:
        async def chunks():
            yield b"attachment bytes"

        await svc.vault.put(lookup, os.urandom(32), "a.txt", "text/plain", chunks(), max_bytes=99)
        assert (await svc.vault.usage(lookup))[0] == 1
        await svc.sessions.wipe(lookup, "logout")
        return [p.name for p in Path(svc.vault.root).iterdir()]

    try:
        assert isinstance(svc.vault, FileVault)
        left = asyncio.run(scenario())
        assert left == []
        assert svc.reading.cache.get(lookup, "m1") is None
    finally:
        _close(svc)


def test_feature_order_does_not_matter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    config = Config().replace(
        data={"dir": str(tmp_path)}, proxy={"enabled": True}, metrics={"enabled": True}
    )

    def routes(app) -> set[tuple[str, str]]:
        return {(r.method, r.resource.canonical) for r in app.router.routes()}

    forward = create_app(config)
    monkeypatch.setattr(app_module, "FEATURES", tuple(reversed(app_module.FEATURES)))
    backward = create_app(config)
    try:
        assert routes(forward) == routes(backward)
        assert ("GET", "/api/proxy/image") in routes(backward)
        svc = backward[SERVICES]
        assert svc.image_proxy is not None and svc.metrics is not None
    finally:
        _close(forward[SERVICES])
        _close(backward[SERVICES])


def test_serve_names_the_secret_setting_when_the_secret_is_unusable(tmp_path: Path):
    from mailgate.sandbox.ca import LocalCA

    ca = LocalCA()
    try:
        cert, key = ca.issue("localhost")
        secret_file = tmp_path / "secret"
        secret_file.write_bytes(os.urandom(32))
        secret_file.chmod(0o644)  # readable by others: refused
        env = {
            **os.environ,
            **_UPSTREAM_ENV,
            "MAILGATE_TLS_CERT_FILE": cert,
            "MAILGATE_TLS_KEY_FILE": key,
            "MAILGATE_SERVER_PORT": str(free_port()),
            "MAILGATE_DATA_DIR": str(tmp_path / "data"),
            "MAILGATE_DATA_SECRET_FILE": str(secret_file),
        }
        result = subprocess.run(
            [sys.executable, "-m", "mailgate", "serve"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        ca.cleanup()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MAILGATE_DATA_SECRET_FILE" in lines[0] and "chmod 600" in lines[0]


def test_the_proxy_loopback_allowance_is_not_a_setting(tmp_path: Path):
    # The demo lets its proxy reach the sandbox's image host on loopback in code; no
    # file or variable can weaken the public-address policy of a real server.
    for environ in (
        {"MAILGATE_PROXY_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1/32"},
        {"MAILGATE_PROXY_ALLOW_PRIVATE_ADDRESSES_FILE": str(tmp_path / "x")},
    ):
        with pytest.raises(ConfigError, match=r"proxy\.allow_private_addresses"):
            load_config(environ={**_UPSTREAM_ENV, **environ})
    toml = tmp_path / "mailgate.toml"
    toml.write_text('[proxy]\nenabled = true\nallow_private_addresses = ["10.0.0.0/8"]\n')
    with pytest.raises(ConfigError, match=r"proxy\.allow_private_addresses"):
        load_config(toml, environ=_UPSTREAM_ENV)
    toml.write_text("[proxy]\nenabled = true\n")
    assert load_config(toml, environ=_UPSTREAM_ENV).proxy.allow_private_addresses == ()
