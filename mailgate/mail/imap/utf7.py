"""IMAP modified UTF-7 mailbox names (RFC 3501 §5.1.3)."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["decode", "encode"]

_SHIFTED = re.compile(r"&([^-]*)-")


def _b64(chars: str) -> str:
    raw = base64.b64encode(chars.encode("utf-16-be")).decode("ascii")
    return "&" + raw.rstrip("=").replace("/", ",") + "-"


def encode(name: str) -> str:
    """Encode a Unicode mailbox name; printable ASCII stays, ``&`` becomes ``&-``."""
    if name.isascii() and name.isprintable() and "&" not in name:
        return name  # the common case: nothing to do
    out: list[str] = []
    run: list[str] = []
    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            if run:
                out.append(_b64("".join(run)))
                run.clear()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    if run:
        out.append(_b64("".join(run)))
    return "".join(out)


def _decode_run(match: re.Match[str]) -> str:
    body = match.group(1)
    if not body:
        return "&"
    if not re.fullmatch(r"[A-Za-z0-9+,]+", body):
        raise ValueError("invalid modified UTF-7")
    data = body.replace(",", "/")
    try:
        raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        text = raw.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("invalid modified UTF-7") from None
    if any(0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError("invalid modified UTF-7")  # printable ASCII must not be shifted
    return text


def decode(name: str) -> str:
    """Decode a modified UTF-7 name; raise ValueError when it is not valid."""
    if "&" not in name:
        return name
    rest = _SHIFTED.sub("", name)
    if "&" in rest:
        raise ValueError("invalid modified UTF-7")  # an unterminated shift
    return _SHIFTED.sub(_decode_run, name)
