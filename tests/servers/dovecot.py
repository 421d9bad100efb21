"""A private Dovecot 2.3 instance for integration tests.

Everything lives in one temp dir: config, sockets, state, log, TLS key and the users'
maildirs. The instance listens on 127.0.0.1 only, on free high ports, and is stopped by the
master PID it writes; the system Dovecot service is never touched.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import grp
import itertools
import math
import os
import pwd
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

import trustme

from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.tls import upstream_context

from .ports import free_port, wait_for_closed, wait_for_listen
from .process import PrivateServer, alive, read_text

__all__ = [
    "MAIL_USER",
    "SPECIAL_USE",
    "Dovecot",
    "OAuth2Validation",
    "random_password",
    "running_dovecot",
]

#: Unprivileged system user owning every test maildir.
MAIL_USER = "mailgate-test"

#: Special-use mailboxes created (and subscribed) for every user.
SPECIAL_USE: dict[str, str] = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}

_IMAP_TO_MAILDIR = {
    "\\Seen": "S",
    "\\Answered": "R",
    "\\Flagged": "F",
    "\\Deleted": "T",
    "\\Draft": "D",
}
_DH_FILE = "/usr/share/dovecot/dh.pem"
_FTS_XAPIAN_MODULE = "/usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so"
_HOSTNAME = socket.gethostname().replace("/", "_").replace(":", "_")


def _ensure_mail_user() -> tuple[int, int]:
    """Return (uid, gid) of MAIL_USER, creating the system user if it is missing."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        # A concurrent test process may win the race; re-read the user afterwards either way.
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_USER,
            ],
            check=False,
            capture_output=True,
        )
        entry = pwd.getpwnam(MAIL_USER)
    return entry.pw_uid, entry.pw_gid


def _utf7_imap(name: str) -> str:
    """Encode a mailbox name in IMAP modified UTF-7 (RFC 3501 5.1.3), as Dovecot stores it."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _maildir_flags(flags: str | Sequence[str]) -> str:
    """Turn maildir letters ("FS") or IMAP system flags ("\\Seen", …) into sorted letters."""
    if isinstance(flags, str):
        letters = set(flags)
    else:
        try:
            letters = {_IMAP_TO_MAILDIR[flag] for flag in flags}
        except KeyError as exc:
            raise ValueError(f"unsupported flag for maildir delivery: {exc}") from None
    if not letters <= set("DFRST"):
        raise ValueError("maildir flags must be among D, F, R, S, T")
    return "".join(sorted(letters))


def _internal_date(raw: bytes) -> float | None:
    """The Date header of ``raw`` as a timestamp, or None if absent or unparsable."""
    header = BytesHeaderParser().parsebytes(raw, headersonly=True).get("Date")
    if header is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(header)).timestamp()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class OAuth2Validation:
    """What Dovecot needs to validate an OpenID provider's JWT access tokens locally."""

    issuer: str
    kid: str
    public_pem: bytes
    client_id: str = "mailgate"


class Dovecot(PrivateServer):
    """A private Dovecot instance with passwd-file users and maildir storage.

    ``imaps`` adds the implicit-TLS listener (``port``); ``plain`` adds a cleartext listener
    (``plain_port``) which offers STARTTLS when ``imaps`` or ``starttls`` enables TLS. A server
    with ``imaps=False, plain=True, starttls=False`` offers no TLS at all and accepts plaintext
    LOGIN, for "server offers no TLS" tests.

    ``sieve`` adds Pigeonhole: a ManageSieve listener (``sieve_port``, STARTTLS, or implicit
    TLS with ``sieve_security="tls"``), an LMTP listener (``lmtp_port``, see
    :meth:`deliver_lmtp`) that runs the users' active Sieve scripts, and vacation replies
    and redirects sent to ``submission_port`` on 127.0.0.1 (plain SMTP, a test's sink).
    ``sieve_settings`` go into the ``plugin`` block (e.g. ``sieve_max_script_size``).
    ``quota_storage`` (e.g. ``"1G"``) turns on the quota plugin with that storage limit.
    ``special_use`` replaces the special-use mailboxes every user gets (name → flag).
    ``fts`` turns on full-text search with Debian's ``dovecot-fts-xapian`` (see
    :meth:`fts_available`): SEARCH BODY/TEXT are answered from a Xapian index kept in each
    user's home, built on first search (``fts_autoindex``) or by :meth:`index`.
    """

    host = "localhost"

    def __init__(
        self,
        *,
        imaps: bool = True,
        plain: bool = False,
        starttls: bool = True,
        separator: str = "/",
        ca: trustme.CA | None = None,
        max_connections_per_user: int = 1000,
        sieve: bool = False,
        sieve_security: str = "starttls",
        submission_port: int | None = None,
        sieve_settings: dict[str, str] | None = None,
        oauth2: OAuth2Validation | None = None,
        submission_relay_port: int | None = None,
        quota_storage: str | None = None,
        special_use: dict[str, str] | None = None,
        fts: bool = False,
    ) -> None:
        if not (imaps or plain):
            raise ValueError("need at least one listener")
        if imaps and plain and not starttls:
            # Dovecot 2.3 cannot switch TLS off per listener on the same address.
            raise ValueError("a plain listener without STARTTLS needs imaps=False")
        self.tls = imaps or starttls
        self.separator = separator
        self.ca = ca or trustme.CA()
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-dovecot-"))
        # Login and mail processes run as other users and must traverse the root.
        self.root.chmod(0o755)
        self.port: int | None = free_port() if imaps else None
        self.plain_port: int | None = free_port() if plain else None
        if sieve and not self.tls:
            raise ValueError("the ManageSieve listener needs TLS")
        if sieve_security not in ("tls", "starttls"):
            raise ValueError("sieve_security must be 'tls' or 'starttls'")
        self.sieve = sieve
        self.sieve_security = sieve_security
        self.sieve_port: int | None = free_port() if sieve else None
        self.lmtp_port: int | None = free_port() if sieve else None
        self.submission_port = submission_port
        self.sieve_settings = dict(sieve_settings or {})
        self.oauth2 = oauth2
        # Dovecot's own submission server (implicit TLS on ``smtp_port``), relaying what
        # its users send to plain SMTP on 127.0.0.1:``submission_relay_port`` (a test sink);
        # it signs users in like IMAP does (passwords, or tokens with ``oauth2``).
        self.submission_relay_port = submission_relay_port
        # With a limit ("1G"), the quota plugin counts each user's storage and IMAP offers
        # QUOTA (GETQUOTAROOT) with that limit for everyone.
        self.quota_storage = quota_storage
        # The mailboxes made for every user, with their special use (SPECIAL_USE by default).
        self.special_use = dict(SPECIAL_USE if special_use is None else special_use)
        if fts and not self.fts_available():
            raise RuntimeError("fts=True needs the dovecot-fts-xapian package")
        self.fts = fts
        self.smtp_port: int | None = free_port() if submission_relay_port else None
        self.uid, self.gid = _ensure_mail_user()
        self.ca_file = str(self.root / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        # One passwd-file per user: Dovecot opens a new user's file at first lookup, whereas a
        # shared file is re-checked at most once per second.
        self.passwd_dir = self.root / "passwd.d"
        self.passwd_dir.mkdir(mode=0o750)
        os.chown(self.passwd_dir, 0, grp.getgrnam("dovecot").gr_gid)
        self.log_file = self.root / "dovecot.log"
        self._max_conn = max_connections_per_user
        self._users: dict[str, tuple[str, Path]] = {}
        self._seq = itertools.count()
        self._pid: int | None = None
        self._write_tls()
        if oauth2 is not None:
            self._write_oauth2(oauth2)
        self.config_file = self.root / "dovecot.conf"
        self.config_file.write_text(self._config())

    # -- availability ---------------------------------------------------------------------

    @staticmethod
    def available() -> bool:
        """Whether this machine can run a private Dovecot (binary present, running as root)."""
        return shutil.which("dovecot") is not None and os.geteuid() == 0

    @staticmethod
    def fts_available() -> bool:
        """Whether the Xapian full-text search plugin (``dovecot-fts-xapian``) is installed."""
        return Path(_FTS_XAPIAN_MODULE).exists()

    # -- config -------------------------------------------------------------------------------

    def _write_tls(self) -> None:
        ssl_dir = self.root / "ssl"
        ssl_dir.mkdir(mode=0o700)
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        cert.cert_chain_pems[0].write_to_path(str(ssl_dir / "cert.pem"))
        for pem in cert.cert_chain_pems[1:]:
            pem.write_to_path(str(ssl_dir / "cert.pem"), append=True)
        key_path = ssl_dir / "key.pem"
        cert.private_key_pem.write_to_path(str(key_path))
        key_path.chmod(0o600)

    def _write_oauth2(self, oauth2: OAuth2Validation) -> None:
        """Local JWT validation (Dovecot 2.3): the provider's public key under
        ``<azp or "default">/<alg>/<kid>`` in a key dictionary, the issuer pinned."""
        keys = self.root / "oauth2-keys"
        for azp in ("default", oauth2.client_id):
            folder = keys / azp / "RS256"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / oauth2.kid).write_bytes(oauth2.public_pem)
        (self.root / "dovecot-oauth2.conf.ext").write_text(
            "introspection_mode = local\n"
            f"local_validation_key_dict = fs:posix:prefix={keys}/\n"
            "username_attribute = sub\n"
            f"issuers = {oauth2.issuer}\n"
        )

    def _config(self) -> str:
        root = self.root
        mailboxes = "\n".join(
            f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}"
            for name, flag in self.special_use.items()
        )
        listeners = []
        if self.plain_port is not None:
            listeners.append(
                "  inet_listener imap {\n    address = 127.0.0.1\n"
                f"    port = {self.plain_port}\n  }}"
            )
        else:
            listeners.append("  inet_listener imap {\n    port = 0\n  }")
        if self.port is not None:
            listeners.append(
                "  inet_listener imaps {\n    address = 127.0.0.1\n"
                f"    port = {self.port}\n    ssl = yes\n  }}"
            )
        else:
            listeners.append("  inet_listener imaps {\n    port = 0\n  }")
        if self.tls:
            ssl = (
                "ssl = yes\n"
                f"ssl_cert = <{root}/ssl/cert.pem\n"
                f"ssl_key = <{root}/ssl/key.pem\n"
                "ssl_min_protocol = TLSv1.2\n"
                f"ssl_dh = <{_DH_FILE}\n"
                "disable_plaintext_auth = yes\n"
            )
        else:
            ssl = "ssl = no\ndisable_plaintext_auth = no\n"
        listener_block = "\n".join(listeners)
        imap_quota = "  mail_plugins = $mail_plugins imap_quota\n" if self.quota_storage else ""
        sieve_block = self._sieve_config() if self.sieve else ""
        return f"""# Generated by tests/servers/dovecot.py: a private, self-contained instance.
instance_name = {root.name}
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
info_log_path = {self.log_file}
protocols = imap{" lmtp sieve" if self.sieve else ""}{" submission" if self.smtp_port else ""}
listen = 127.0.0.1
{ssl}
auth_mechanisms = plain login{" oauthbearer xoauth2" if self.oauth2 else ""}
# Failed-login tests must not wait 2 s per attempt (Dovecot still answers a failure on its
# 500 ms failure-queue tick, so expect about 0.5 s).
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {self.uid}
last_valid_uid = {self.uid}
first_valid_gid = {self.gid}
last_valid_gid = {self.gid}
mail_location = maildir:~/Maildir
mail_fsync = never
{self._quota_config()}{self._fts_config()}{self._oauth2_passdb()}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd_dir}/%u
}}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
{mailboxes}
}}
protocol imap {{
  mail_max_userip_connections = {self._max_conn}
{imap_quota}}}
service imap-login {{
{listener_block}
}}
# Mode 0 disables the anvil auth penalty, so repeated failed logins stay fast.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{sieve_block}{self._submission_config()}"""

    def _quota_config(self) -> str:
        if not self.quota_storage:
            return ""
        return f"""# Quota: storage counted per user (virtual sizes), one limit for everyone.
mail_plugins = $mail_plugins quota
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage={self.quota_storage}
}}
"""

    def _fts_config(self) -> str:
        if not self.fts:
            return ""
        # fts-xapian 1.5.5 (its README): n-grams of 3 to 20 characters for header fields,
        # whole words for bodies; fts_enforced: a search never falls back to reading mail.
        return """# Full-text search: the Xapian index (dovecot-fts-xapian), in each user's home.
mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20
  fts_autoindex = yes
  fts_enforced = yes
}
service indexer-worker {
  vsz_limit = 2G
}
"""

    def _submission_config(self) -> str:
        if not self.smtp_port:
            return ""
        hostname = "" if self.sieve else "hostname = localhost\n"
        return f"""# Submission, relaying to the test's sink.
{hostname}submission_relay_host = 127.0.0.1
submission_relay_port = {self.submission_relay_port}
submission_relay_trusted = no
submission_relay_ssl = no
submission_max_mail_size = 40M
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {self.smtp_port}
    ssl = yes
  }}
}}
"""

    def _oauth2_passdb(self) -> str:
        if self.oauth2 is None:
            return ""
        return (
            "passdb {\n  driver = oauth2\n  mechanisms = oauthbearer xoauth2\n"
            f"  args = {self.root}/dovecot-oauth2.conf.ext\n}}\n"
        )

    def _sieve_config(self) -> str:
        ssl_line = "    ssl = yes\n" if self.sieve_security == "tls" else ""
        submission = (
            f"submission_host = 127.0.0.1:{self.submission_port}\n"
            if self.submission_port is not None
            else "sendmail_path = /bin/false\n"
        )
        extra = "".join(f"  {key} = {value}\n" for key, value in self.sieve_settings.items())
        return f"""# Pigeonhole: ManageSieve, LMTP delivery through Sieve, vacation replies.
hostname = localhost
postmaster_address = postmaster@example.test
{submission}service managesieve-login {{
  # Pre-forked, so a test's first connections do not wait for a fork each.
  process_min_avail = 2
  inet_listener sieve {{
    address = 127.0.0.1
    port = {self.sieve_port}
{ssl_line}  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
{extra}}}
"""

    # -- users ---------------------------------------------------------------------------------

    def _write_passwd(self, login: str) -> None:
        password, home = self._users[login]
        line = f"{login}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n"
        path = self.passwd_dir / login
        existed = path.exists()
        tmp = self.passwd_dir / f".{login}.tmp"
        tmp.write_text(line)
        os.chown(tmp, 0, grp.getgrnam("dovecot").gr_gid)
        tmp.chmod(0o640)
        if existed:
            # Dovecot re-stats a passwd-file at most once per second and compares mtime and
            # size: give the new file a fresh mtime and let the clock move past this second.
            stamp = max(int(time.time()), int(path.stat().st_mtime)) + 1
            os.utime(tmp, (stamp, stamp))
        tmp.replace(path)
        if existed and self._pid is not None:
            time.sleep(max(0.0, math.floor(time.time()) + 1.01 - time.time()))

    def add_user(self, email_addr: str, password: str) -> None:
        """Create a login (the address) with a PLAIN password, or change its password.

        A new user can log in at once; a password change of an existing user on a running
        server takes up to one second (Dovecot's passwd-file re-check interval).
        """
        if (
            not email_addr
            or any(c in email_addr for c in ":/\n\r%")
            or email_addr.startswith(".")
            or any(c in password for c in ":\n\r")
        ):
            raise ValueError("unsupported characters in login or password")
        if email_addr in self._users:
            home = self._users[email_addr][1]
        else:
            home = self.root / "home" / f"u{len(self._users)}"
            for directory in (home.parent, home):
                directory.mkdir(mode=0o700 if directory == home else 0o755, exist_ok=True)
            os.chown(home, self.uid, self.gid)
        self._users[email_addr] = (password, home)
        self._write_passwd(email_addr)

    # -- fast delivery -------------------------------------------------------------------------

    def _mkdir(self, path: Path) -> None:
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chown(path, self.uid, self.gid)

    def maildir(self, email_addr: str, mailbox: str = "INBOX") -> Path:
        """The maildir++ directory of ``mailbox`` (created with cur/new/tmp if missing)."""
        home = self._users[email_addr][1]
        base = home / "Maildir"
        self._mkdir(base)
        if mailbox.upper() == "INBOX":
            path = base
        else:
            parts = [_utf7_imap(p) for p in mailbox.split(self.separator)]
            path = base / ("." + ".".join(parts))
            self._mkdir(path)
            marker = path / "maildirfolder"
            if not marker.exists():
                marker.touch()
                os.chown(marker, self.uid, self.gid)
        for sub in ("cur", "new", "tmp"):
            self._mkdir(path / sub)
        return path

    async def open_client(self, email_addr: str, password: str) -> MailClient:
        """mailgate's IMAP client, logged in as ``email_addr`` over implicit TLS."""
        conn = await ImapConnection.open(
            self.host, self.port, "tls", upstream_context(self.ca_file), timeout=10
        )
        await conn.login(email_addr, password)
        return MailClient(conn)

    def deliver(
        self,
        email_addr: str,
        raw: bytes,
        mailbox: str = "INBOX",
        flags: str | Sequence[str] = "",
        internaldate: float | dt.datetime | None = None,
    ) -> Path:
        """Write ``raw`` straight into the user's maildir (no IMAP round trip).

        ``flags`` are maildir letters ("S", "FS") or IMAP system flags. Flagged messages go to
        ``cur/`` with ``:2,FLAGS``, unflagged ones to ``new/``. The internal date is taken
        from ``internaldate`` or the Date header. Returns the file written.
        """
        letters = _maildir_flags(flags)
        folder = self.maildir(email_addr, mailbox)
        now = time.time()
        unique = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(self._seq)}"
        name = f"{unique}.{_HOSTNAME}"
        target = folder / "cur" / f"{name}:2,{letters}" if letters else folder / "new" / name
        tmp = folder / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            os.fchown(fd, self.uid, self.gid)
        finally:
            os.close(fd)
        if isinstance(internaldate, dt.datetime):
            stamp: float | None = internaldate.timestamp()
        else:
            stamp = internaldate if internaldate is not None else _internal_date(raw)
        if stamp is not None:
            os.utime(tmp, (stamp, stamp))
        tmp.rename(target)
        return target

    def deliver_lmtp(self, sender: str, recipient: str, raw: bytes) -> None:
        """Deliver ``raw`` through Dovecot's LMTP (``sieve=True``), so the recipient's
        active Sieve script runs on it exactly as for mail from outside."""
        if self.lmtp_port is None:
            raise RuntimeError("LMTP needs Dovecot(sieve=True)")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=15) as lmtp:
            refused = lmtp.sendmail(sender, [recipient], raw)
        if refused:
            raise RuntimeError("LMTP refused the recipient")

    def index(self, email_addr: str, mailbox: str = "INBOX", timeout: float = 3600) -> None:
        """Build (or bring up to date) the full-text index of ``mailbox`` now, with
        ``doveadm index`` (``fts=True``); without it the first search builds it."""
        if not self.fts:
            raise RuntimeError("index() needs Dovecot(fts=True)")
        subprocess.run(
            ["doveadm", "-c", str(self.config_file), "index", "-u", email_addr, mailbox],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=timeout,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "master.pid"

    def start(self, timeout: float = 15.0) -> None:
        """Start the master (it daemonizes) and wait until every listener accepts."""
        if self._pid is not None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        # The daemonized master keeps inherited fds open: never give it a pipe to wait on.
        errors = self.root / "start.err"
        with errors.open("wb") as err:
            result = subprocess.run(
                ["dovecot", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {errors.read_text()}\n{self.log()}")
        deadline = time.monotonic() + timeout
        while not (pid_text := read_text(self.pid_file)).strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"dovecot wrote no master.pid\n{self.log()}")
            time.sleep(0.01)
        self._pid = int(pid_text.split()[0])
        for port in (self.port, self.plain_port, self.sieve_port, self.lmtp_port, self.smtp_port):
            if port is not None:
                # Checked via /proc rather than by connecting: a probe connection makes the
                # master fork a login process, and a stop() during that fork takes seconds.
                wait_for_listen(port, timeout=max(0.1, deadline - time.monotonic()))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the master by its PID and wait until it and its listeners are gone."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        nudge_at = time.monotonic() + 1.5
        while alive(pid):
            if nudge_at and time.monotonic() > nudge_at:
                # Stopped right after start, the master sometimes waits ~5 s for its anvil
                # child; that child is ours too, so tell it to stop directly.
                nudge_at = 0.0
                for child in _children(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGTERM)
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        for port in (self.port, self.plain_port, self.sieve_port, self.lmtp_port, self.smtp_port):
            if port is not None:
                wait_for_closed(port, max(0.0, deadline - time.monotonic()))

    def restart(self) -> None:
        """Stop and start again on the same ports; users and mail are kept."""
        self.stop()
        self.start()


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def running_dovecot(**kwargs: object) -> Iterator[Dovecot]:
    """Start a private Dovecot (``Dovecot(**kwargs)``), yield it, then stop and clean up."""
    server = Dovecot(**kwargs)  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def random_password() -> str:
    """A password safe for the passwd-file format."""
    return secrets.token_urlsafe(12)
