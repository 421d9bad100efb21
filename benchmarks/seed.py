"""The benchmark workload: a deterministic mix of plain, HTML and attachment messages,
written straight into a Dovecot maildir (no IMAP round trip per message).

About 55 % plain text, 30 % HTML (multipart/alternative, some with remote images for the
sanitizer to remove) and 15 % with an attachment (20-400 KiB, so some take mailgate's
"bigger than 256 KiB" structure path). Dates spread over two years, the newest 5 % unread.
Other users get the same mailbox as hard links (Dovecot builds each one its own index).

    python benchmarks/seed.py [--messages 2000]   # seeds a throwaway Dovecot, prints timing
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

__all__ = ["Corpus", "big_attachment_message", "build_corpus", "clone_mailbox", "seed_mailbox"]

_WORDS = (
    "meeting", "report", "budget", "quarter", "review", "draft", "project", "deadline",
    "invoice", "travel", "schedule", "agenda", "notes", "update", "proposal", "contract",
    "design", "release", "customer", "feedback", "summary", "team", "plan", "launch",
    "minutes", "request", "approval", "server", "backup", "migration",
)  # fmt: skip
_NAMES = ("Alice Martin", "Bob Stone", "Chloé Dubois", "Dmitri Ivanov", "Eve Tanaka", "Femi Ade")


@dataclass(frozen=True)
class Corpus:
    """Raw messages with their internal dates (oldest first) and maildir flags."""

    messages: list[tuple[bytes, float, str]]
    kinds: dict[str, int]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    return [" ".join(_sentence(rng, rng.randint(6, 16)) for _ in range(4)) for _ in range(count)]


def _headers(rng: random.Random, i: int, to: str, when: datetime, content_type: str) -> str:
    name = rng.choice(_NAMES)
    sender = name.split()[0].lower().replace("é", "e")
    return (
        f"From: {name if name.isascii() else '=?utf-8?q?Chlo=C3=A9_Dubois?='}"
        f" <{sender}@example.test>\r\n"
        f"To: {to}\r\n"
        f"Subject: {_sentence(rng, rng.randint(3, 8))[:-1]} #{i}\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f"Message-ID: <bench-{i}@example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    )


def _plain(rng: random.Random, i: int, to: str, when: datetime) -> bytes:
    body = "\r\n\r\n".join(_paragraphs(rng, rng.randint(2, 10)))
    head = _headers(rng, i, to, when, 'text/plain; charset="utf-8"')
    return (head + "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n").encode()


def _html(rng: random.Random, i: int, to: str, when: datetime) -> bytes:
    paras = _paragraphs(rng, rng.randint(3, 14))
    text = "\r\n\r\n".join(paras)
    remote = (
        '<img src="https://tracker.example.net/p.gif" width="1" height="1">'
        if rng.random() < 0.5
        else ""
    )
    html = (
        "<!DOCTYPE html><html><head><style>p{color:#333}</style></head><body>"
        '<table width="600"><tr><td>'
        + "".join(f'<p style="font-family:sans-serif">{p}</p>' for p in paras)
        + f'<a href="https://example.net/u?id={i}">unsubscribe</a>{remote}'
        "</td></tr></table></body></html>"
    )
    boundary = f"alt-{i}"
    head = _headers(rng, i, to, when, f'multipart/alternative; boundary="{boundary}"')
    return (
        f"{head}\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def _with_attachment(rng: random.Random, i: int, to: str, when: datetime) -> bytes:
    size = rng.choice((20, 60, 120, 250, 400)) * 1024
    kinds = (("application/pdf", "report.pdf"), ("image/png", "photo.png"), ("text/csv", "a.csv"))
    kind, name = rng.choice(kinds)
    payload = base64.encodebytes(rng.randbytes(size)).replace(b"\n", b"\r\n").decode()
    boundary = f"mix-{i}"
    head = _headers(rng, i, to, when, f'multipart/mixed; boundary="{boundary}"')
    text = "\r\n\r\n".join(_paragraphs(rng, 2))
    return (
        f"{head}\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: {kind}; name={name}\r\n"
        f"Content-Disposition: attachment; filename={name}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{payload}--{boundary}--\r\n"
    ).encode()


def build_corpus(count: int = 2000, to: str = "bench@example.test", seed: int = 8) -> Corpus:
    """``count`` messages, oldest first, the same for the same arguments."""
    rng = random.Random(seed)
    now = time.time()
    span = 2 * 365 * 86400
    kinds = {"plain": 0, "html": 0, "attachment": 0}
    out: list[tuple[bytes, float, str]] = []
    for i in range(count):
        stamp = now - span + span * (i + 1) / count - rng.random() * 600
        when = datetime.fromtimestamp(stamp, UTC)
        roll = rng.random()
        if roll < 0.55:
            kind, raw = "plain", _plain(rng, i, to, when)
        elif roll < 0.85:
            kind, raw = "html", _html(rng, i, to, when)
        else:
            kind, raw = "attachment", _with_attachment(rng, i, to, when)
        kinds[kind] += 1
        flags = "" if i >= count * 0.95 else "S"
        out.append((raw, stamp, flags))
    return Corpus(out, kinds)


def big_attachment_message(size: int, to: str = "bench@example.test") -> bytes:
    """One message with a ``size``-byte binary attachment (part 2), dated long ago."""
    payload = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    head = (
        f"From: Big Sender <big@example.test>\r\nTo: {to}\r\nSubject: big attachment\r\n"
        "Date: Mon, 01 Jan 2018 10:00:00 +0000\r\nMessage-ID: <bench-big@example.test>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n'
        "--big\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
        "--big\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
        "Content-Disposition: attachment; filename=big.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + payload + b"--big--\r\n"


def seed_mailbox(dovecot: object, email: str, corpus: Corpus) -> list[Path]:
    """Write the corpus into ``email``'s INBOX; returns the maildir files."""
    deliver = dovecot.deliver  # type: ignore[attr-defined]
    return [deliver(email, raw, flags=flags, internaldate=t) for raw, t, flags in corpus.messages]


def clone_mailbox(dovecot: object, files: list[Path], email: str) -> None:
    """Give ``email`` the same INBOX as hard links of ``files`` (from seed_mailbox)."""
    folder = dovecot.maildir(email)  # type: ignore[attr-defined]
    for path in files:
        os.link(path, folder / path.parent.name / path.name)


def main() -> int:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.servers.dovecot import Dovecot

    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clones", type=int, default=0, help="more users sharing the mailbox")
    args = parser.parse_args()
    dc = Dovecot()
    try:
        dc.add_user("bench@example.test", "x")
        started = time.perf_counter()
        corpus = build_corpus(args.messages)
        built = time.perf_counter()
        files = seed_mailbox(dc, "bench@example.test", corpus)
        written = time.perf_counter()
        for n in range(args.clones):
            dc.add_user(f"bench{n}@example.test", "x")
            clone_mailbox(dc, files, f"bench{n}@example.test")
        cloned = time.perf_counter()
        total = sum(len(raw) for raw, _, _ in corpus.messages)
        print(f"{args.messages} messages {corpus.kinds}, {total / 1048576:.1f} MiB")
        print(
            f"built in {(built - started) * 1000:.0f} ms, written in "
            f"{(written - built) * 1000:.0f} ms, {args.clones} clones in "
            f"{(cloned - written) * 1000:.0f} ms"
        )
    finally:
        dc.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
