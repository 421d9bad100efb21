"""The "direct" baseline: a minimal IMAP client that sends commands and reads the
responses (literals included) without parsing them, so its cost is close to the floor
a browser-side or native client would pay for the same wire traffic."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl
import time

from mailgate.mail.imap.parse import parse_bodystructure, parse_envelope, parse_internaldate
from mailgate.mail.imap.protocol import Untagged, fetch_items, tokenize

__all__ = ["SUMMARY_ITEMS", "RawImap", "direct_login"]

#: What mailgate's list FETCHes per message (mailgate/mail/imap/client.py `_summaries`).
SUMMARY_ITEMS = "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE PREVIEW"
#: What mailgate's open FETCHes (`fetch_message`, non-peek: BODY[] sets \\Seen itself).
OPEN_ITEMS = "UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY[]<0.262144>"

_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n\Z")


class ImapFailed(Exception):
    pass


class RawImap:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._tag = 0

    @classmethod
    async def connect(cls, port: int, ctx: ssl.SSLContext) -> RawImap:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost", limit=1 << 20
        )
        await reader.readuntil(b"\r\n")  # greeting
        return cls(reader, writer)

    async def _read_until(
        self, tag: bytes, sink: bool = False, literals: list[bytes] | None = None
    ) -> int:
        """Read responses up to the tagged one; returns the bytes received. With
        ``literals``, the literals' bytes are kept there."""
        got = 0
        reader = self.reader
        while True:
            line = await reader.readuntil(b"\r\n")
            got += len(line)
            match = _LITERAL.search(line)
            if match:
                left = int(match.group(1))
                got += left
                kept = []
                while left:
                    chunk = await reader.read(min(left, 256 * 1024))
                    if not chunk:
                        raise ImapFailed("eof in literal")
                    left -= len(chunk)
                    if literals is not None:
                        kept.append(chunk)
                if literals is not None:
                    literals.append(b"".join(kept))
                continue
            if line.startswith(tag):
                if line[len(tag) : len(tag) + 3] != b"OK ":
                    raise ImapFailed(line[:120].decode(errors="replace"))
                return got

    def _next_tag(self) -> bytes:
        self._tag += 1
        return b"b%d " % self._tag

    async def command(self, text: str) -> int:
        tag = self._next_tag()
        self.writer.write(tag + text.encode() + b"\r\n")
        return await self._read_until(tag)

    async def lines(self, text: str) -> list[bytes]:
        """A command whose untagged lines are wanted (no literals expected)."""
        tag = self._next_tag()
        self.writer.write(tag + text.encode() + b"\r\n")
        out = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line.startswith(tag):
                if line[len(tag) : len(tag) + 3] != b"OK ":
                    raise ImapFailed(line[:120].decode(errors="replace"))
                return out
            out.append(line)

    async def append(self, mailbox: str, data: bytes) -> None:
        tag = self._next_tag()
        self.writer.write(tag + f'APPEND "{mailbox}" (\\Seen) {{{len(data)}+}}\r\n'.encode())
        self.writer.write(data)
        self.writer.write(b"\r\n")
        await self._read_until(tag)

    async def sort_newest(self, limit: int = 50) -> list[int]:
        lines = await self.lines("UID SORT (REVERSE DATE) UTF-8 ALL")
        uids = [int(t) for line in lines if line.startswith(b"* SORT") for t in line.split()[2:]]
        return uids[:limit]

    async def list_newest(self, limit: int = 50) -> int:
        """The direct "list": SORT, then FETCH the summaries of the newest ``limit``."""
        uids = await self.sort_newest(limit)
        return await self.command(f"UID FETCH {','.join(map(str, uids))} ({SUMMARY_ITEMS})")

    async def list_newest_parsed(self, limit: int = 50) -> list[dict[str, object]]:
        """The same list, and what any client must do to show it: each summary parsed
        (flags, date, size, envelope, structure), with mailgate's own IMAP tokenizer and
        parsers, so the difference to mailgate is everything but the parsing."""
        uids = await self.sort_newest(limit)
        tag = self._next_tag()
        fetch = f"UID FETCH {','.join(map(str, uids))} ({SUMMARY_ITEMS})"
        self.writer.write(tag + fetch.encode() + b"\r\n")
        summaries = []
        for frags, lits in await self._responses(tag):
            tokens = tokenize([frags[0][2:], *frags[1:]], lits)
            if len(tokens) < 3 or tokens[1] != "FETCH":
                continue
            items = fetch_items(Untagged(int(str(tokens[0])), "FETCH", tokens[2:]))
            summaries.append(
                {
                    "uid": items.get("UID"),
                    "flags": items.get("FLAGS"),
                    "date": parse_internaldate(items.get("INTERNALDATE")),
                    "size": items.get("RFC822.SIZE"),
                    "envelope": parse_envelope(items.get("ENVELOPE")),
                    "body": parse_bodystructure(items.get("BODYSTRUCTURE")),
                    "preview": items.get("PREVIEW"),
                }
            )
        return summaries

    async def _responses(self, tag: bytes) -> list[tuple[list[bytes], list[bytes]]]:
        """The untagged responses up to the tagged one, each as its line fragments and
        literals."""
        out: list[tuple[list[bytes], list[bytes]]] = []
        frags: list[bytes] = []
        lits: list[bytes] = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            match = _LITERAL.search(line)
            if match:
                frags.append(line[: match.start()] + b"{0}")
                lits.append(await self.reader.readexactly(int(match.group(1))))
                continue
            frags.append(line[:-2])
            if not lits and line.startswith(tag):
                if line[len(tag) : len(tag) + 3] != b"OK ":
                    raise ImapFailed(line[:120].decode(errors="replace"))
                return out
            out.append((frags, lits))
            frags, lits = [], []

    async def open(self, uid: int) -> int:
        return await self.command(f"UID FETCH {uid} ({OPEN_ITEMS})")

    async def open_and_read(self, uid: int) -> tuple[list[str], str, list[str]]:
        """The same FETCH, then what any client must do to show it, with the standard
        library (``policy.default``): the header lines a reader shows, the body to display
        and the names of the attachments (mailgate's message JSON carries all three)."""
        tag = self._next_tag()
        self.writer.write(tag + f"UID FETCH {uid} ({OPEN_ITEMS})".encode() + b"\r\n")
        literals: list[bytes] = []
        await self._read_until(tag, literals=literals)
        message = email.message_from_bytes(literals[-1], policy=email.policy.default)
        shown = [str(message[name] or "") for name in ("From", "To", "Cc", "Subject", "Date")]
        body = message.get_body(preferencelist=("html", "plain"))  # type: ignore[attr-defined]
        files = [str(a.get_filename() or "") for a in message.iter_attachments()]  # type: ignore[attr-defined]
        return shown, body.get_content() if body is not None else "", files

    async def logout(self) -> None:
        await self.command("LOGOUT")
        self.writer.close()

    def close(self) -> None:
        self.writer.close()


async def direct_login(port: int, ctx: ssl.SSLContext, user: str, password: str) -> RawImap:
    conn = await RawImap.connect(port, ctx)
    await conn.command(f'LOGIN "{user}" "{password}"')
    return conn


async def timed_login(port: int, ctx: ssl.SSLContext, user: str, password: str) -> float:
    started = time.perf_counter()
    conn = await direct_login(port, ctx, user, password)
    elapsed = time.perf_counter() - started
    await conn.logout()
    return elapsed
