"""All header fields of a message, for "Show headers": names as written, values unfolded
with their encoded words decoded (the standard library's `email`), within bounds."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32

from mailgate.mail.reading.limits import ReadingLimits, strip_bom

__all__ = ["HeaderFields", "header_fields"]

# Each value is shown up to this many characters (a longer one is cut and says so).
VALUE_CHARS = 8_000


@dataclass(frozen=True)
class HeaderFields:
    fields: list[tuple[str, str]]
    # True when the block was longer than the limits and only its start is listed.
    truncated: bool


def _decoded(value: str) -> str:
    unfolded = " ".join(value.split())
    try:
        return str(make_header(decode_header(unfolded)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return unfolded


def _printable(value: str) -> str:
    return "".join(c if c.isprintable() else "\ufffd" for c in value)


def header_fields(block: bytes, limits: ReadingLimits | None = None) -> HeaderFields:
    """The fields of one header block, in order, at most ``header_lines`` of them from the
    first ``header_bytes``; a header line that is not a field is left out."""
    limits = limits or ReadingLimits()
    block = strip_bom(block)
    truncated = len(block) > limits.header_bytes
    if truncated:
        block = block[: limits.header_bytes]
        block = block[: block.rfind(b"\n") + 1]  # whole lines only
    parsed = BytesHeaderParser(policy=compat32).parsebytes(block, headersonly=True)
    fields: list[tuple[str, str]] = []
    for name, value in parsed.items():
        if len(fields) >= limits.header_lines:
            truncated = True
            break
        text = _decoded(str(value))
        if len(text) > VALUE_CHARS:
            text, truncated = text[:VALUE_CHARS] + "…", True
        fields.append((_printable(str(name)), _printable(text)))
    return HeaderFields(fields, truncated)
