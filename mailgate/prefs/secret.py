"""The server secret, and the per-account keys derived from it for preferences.

The secret is 32 random bytes in a file of mode 0600, created at first start: the
setting `[data] secret_file` (MAILGATE_DATA_SECRET_FILE), or `<data dir>/server.secret`.
Preference rows are keyed by an HMAC of the normalized account and sealed with
AES-256-GCM under a key derived from the secret and the account, so a copy of the
database without the secret shows neither who has preferences nor what they are.
All instances that share one preference database (Redis) must share this secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailgate.config import DataConfig

__all__ = [
    "SECRET_FILE_NAME",
    "AccountKeys",
    "SecretError",
    "load_secret",
    "load_server_secret",
    "normalize_account",
    "secret_path",
]

SECRET_FILE_NAME = "server.secret"
_SECRET_BYTES = 32
_NONCE = 12


class SecretError(Exception):
    """The secret file is unusable (wrong size or readable by others)."""


def load_secret(path: str | Path) -> bytes:
    """Read the secret at `path`, creating it (0600, in a 0700 directory) if missing."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(_SECRET_BYTES))
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{path.name}: must not be accessible to group or others (chmod 600)")
    secret = path.read_bytes()
    if len(secret) < _SECRET_BYTES:
        raise SecretError(f"{path.name}: must hold at least {_SECRET_BYTES} bytes")
    return secret


def secret_path(data: DataConfig, data_dir: Path) -> Path:
    """Where the server secret lives: the `secret_file` setting, else the data directory."""
    return Path(data.secret_file) if data.secret_file else data_dir / SECRET_FILE_NAME


def load_server_secret(data: DataConfig, data_dir: Path) -> bytes:
    """The server secret the settings point at (created on first use); SecretError
    names the setting when it is unusable."""
    path = secret_path(data, data_dir)
    try:
        return load_secret(path)
    except SecretError as exc:
        raise SecretError(f"data.secret_file (MAILGATE_DATA_SECRET_FILE): {exc}") from None
    except OSError as exc:
        raise SecretError(
            f"data.secret_file (MAILGATE_DATA_SECRET_FILE): {path.name}: {exc.strerror or exc}"
        ) from None


def normalize_account(email: str) -> bytes:
    """One spelling per mailbox: surrounding space dropped, case folded."""
    return email.strip().casefold().encode()


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class AccountKeys:
    """Derives, per account, the opaque row id and the AEAD that seals the row."""

    def __init__(self, secret: bytes):
        self._id_key = _hkdf(secret, b"mailgate/v1/prefs-id")
        self._seal_root = _hkdf(secret, b"mailgate/v1/prefs-seal")

    def account_id(self, email: str) -> str:
        return hmac.new(self._id_key, normalize_account(email), hashlib.sha256).hexdigest()

    def _aead(self, email: str) -> AESGCM:
        return AESGCM(_hkdf(self._seal_root, b"mailgate/v1/prefs/" + normalize_account(email)))

    def seal(self, email: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        aad = self.account_id(email).encode()
        return nonce + self._aead(email).encrypt(nonce, plaintext, aad)

    def open(self, email: str, sealed: bytes) -> bytes | None:
        """The plaintext, or None if it does not authenticate (other secret, tampered)."""
        aad = self.account_id(email).encode()
        try:
            return self._aead(email).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except (InvalidTag, ValueError):
            return None
