"""A private Radicale (Debian package `radicale`) on 127.0.0.1 with TLS from a test CA and
htpasswd users: the real CardDAV server the contacts tests talk to."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import trustme

from tests.servers.ports import free_port, wait_for_listen

__all__ = ["Radicale"]


class Radicale:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mailgate-radicale-"))
        self.port = free_port()
        self.ca = trustme.CA(organization_name="mailgate radicale test")
        self.ca_file = str(self.dir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        leaf = self.ca.issue_cert("localhost")
        self._cert = self.dir / "cert.pem"
        self._key = self.dir / "key.pem"
        leaf.private_key_pem.write_to_path(str(self._key))
        self._cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        self._users = self.dir / "users"
        self._users.write_text("")
        self._store = self.dir / "collections"
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("radicale") is not None

    def start(self) -> None:
        config = self.dir / "config"
        config.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "ssl = True\n"
            f"certificate = {self._cert}\n"
            f"key = {self._key}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {self._users}\n"
            "htpasswd_encryption = plain\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {self._store}\n"
            "[logging]\n"
            "level = warning\n"
            "mask_passwords = True\n"
        )
        self._log = open(self.dir / "radicale.log", "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            ["radicale", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for_listen(self.port, timeout=20)

    def add_user(self, username: str, password: str) -> str:
        """A user with an empty address book; returns the book's https:// URL."""
        with self._users.open("a") as users:
            users.write(f"{username}:{password}\n")
        book = self._store / "collection-root" / username / "contacts"
        book.mkdir(parents=True, exist_ok=True)
        (book / ".Radicale.props").write_text(json.dumps({"tag": "VADDRESSBOOK"}))
        return self.url_template.replace("{user}", username)

    @property
    def url_template(self) -> str:
        return f"https://localhost:{self.port}/{{user}}/contacts/"

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
            self._log.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
