"""Structural limits, checked on the raw bytes before `email` or nh3 sees them.

The standard library's MIME parser and html5ever (inside nh3) both cost more than linear
time on some shapes a sender controls (deep nesting, many parts, many encoded words), and
they only know the shape once they have paid for it. These scans are single passes over
the bytes with constant work per line or per tag, so a hostile message is recognised for
the price of reading it once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BOM",
    "BoundedHtml",
    "MimeShape",
    "ReadingLimits",
    "bound_html",
    "scan_mime",
    "strip_bom",
]

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ReadingLimits:
    """What one message may contain before it gets the degraded view (or, for HTML, is
    flattened and cut). Generous for real mail; torture tests exceed them by far."""

    mime_depth: int = 32
    parts: int = 500
    header_lines: int = 1_000  # in any one header block
    header_bytes: int = 128 * 1024  # of any one header block
    encoded_words: int = 2_000  # in all header blocks together
    html_depth: int = 128  # deeper elements are flattened (their text stays)
    html_elements: int = 20_000  # further tags are dropped (their text stays)
    html_bytes: int = 1024 * 1024  # longer HTML is cut here
    deadline_s: float = 5.0  # per message, in a worker


def strip_bom(raw: bytes) -> bytes:
    """A UTF-8 byte-order mark before the first header is not part of the header name."""
    return raw[len(BOM) :] if raw.startswith(BOM) else raw


@dataclass(frozen=True)
class MimeShape:
    """What the scan saw, up to where it stopped; ``exceeded`` names the first limit hit."""

    depth: int
    parts: int
    header_lines: int
    header_bytes: int
    encoded_words: int
    exceeded: str | None


_CONTENT_TYPE = re.compile(rb"^content-type\s*:(.*)", re.I | re.S)
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;"]{1,200}))', re.I)
_TYPE = re.compile(rb"\s*([a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+)", re.I)


def _content_type(value: bytes) -> tuple[bytes, bytes | None]:
    found = _TYPE.match(value)
    kind = found.group(1).lower() if found else b"text/plain"
    boundary = None
    if kind.startswith(b"multipart/"):
        b = _BOUNDARY.search(value)
        if b is not None:
            boundary = (b.group(1) or b.group(2)).rstrip()
    return kind, boundary


def scan_mime(raw: bytes, limits: ReadingLimits) -> MimeShape:
    """One pass over the lines: header blocks, multipart boundaries, message/rfc822 bodies.

    Mirrors what a MIME parser would find (a multipart's boundary opens its children, an
    attached message's body starts with a header block one level deeper) without building
    anything, and stops at the first limit exceeded."""
    raw = strip_bom(raw)
    # Each open multipart: (boundary line prefix, depth of its children).
    stack: list[tuple[bytes, int]] = []
    depth = max_depth = 0
    parts = 1
    in_header = True
    block_lines = block_bytes = 0
    max_lines = max_bytes = 0
    words = 0
    content_type = b""
    in_content_type = False
    exceeded: str | None = None

    def shape() -> MimeShape:
        return MimeShape(max_depth, parts, max_lines, max_bytes, words, exceeded)

    for line in raw.split(b"\n"):
        if in_header:
            stripped = line.rstrip(b"\r")
            if stripped:
                block_bytes += len(line) + 1
                words += line.count(b"=?")
                if stripped[:1] in (b" ", b"\t"):
                    if in_content_type and len(content_type) < 4096:
                        content_type += b" " + stripped.strip()
                else:
                    block_lines += 1
                    match = _CONTENT_TYPE.match(stripped)
                    in_content_type = match is not None
                    if match is not None:
                        content_type = match.group(1)[:4096]
                max_lines, max_bytes = max(max_lines, block_lines), max(max_bytes, block_bytes)
                if block_lines > limits.header_lines:
                    exceeded = "header_lines"
                elif block_bytes > limits.header_bytes:
                    exceeded = "header_bytes"
                elif words > limits.encoded_words:
                    exceeded = "encoded_words"
                if exceeded:
                    return shape()
                continue
            # End of a header block: what follows depends on this part's type.
            kind, boundary = _content_type(content_type)
            content_type, in_content_type = b"", False
            block_lines = block_bytes = 0
            in_header = False
            if boundary is not None:
                stack.append((b"--" + boundary, depth + 1))
            elif kind in (b"message/rfc822", b"message/global"):
                depth += 1
                in_header = True  # the attached message's own header block
            max_depth = max(max_depth, depth + (1 if boundary is not None else 0))
            if max_depth > limits.mime_depth:
                exceeded = "mime_depth"
                return shape()
            continue
        if not stack or not line.startswith(b"--"):
            continue
        stripped = line.rstrip(b" \t\r")
        for level in range(len(stack) - 1, -1, -1):
            prefix, child_depth = stack[level]
            if not stripped.startswith(prefix):
                continue
            rest = stripped[len(prefix) :]
            if rest == b"--":
                del stack[level:]  # this multipart and any left open inside it end
                depth = child_depth - 1
                break
            if rest == b"":
                del stack[level + 1 :]
                depth = child_depth
                parts += 1
                in_header = True
                if parts > limits.parts:
                    exceeded = "parts"
                    return shape()
                break
    return shape()


@dataclass(frozen=True)
class BoundedHtml:
    html: str
    elements: int
    depth: int  # the deepest nesting seen in the input
    flattened: int  # opening tags dropped (too deep or past the element limit)
    cut: bool  # the input was longer than the limit and was cut


_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>\x00]*)[^>]*>")
_COMMENT_OR_DECL = re.compile(r"<!--.*?(?:-->|$)|<![^>]*>|<\?[^>]*>", re.S)
# Elements that never nest (no end tag) or whose end tag parsers imply: they add no depth.
_NO_DEPTH = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody",
        "tfoot", "option", "optgroup", "colgroup", "caption", "rb", "rt", "rp", "html", "head",
        "body",
    }
)  # fmt: skip


def bound_html(html: str, limits: ReadingLimits) -> BoundedHtml:
    """HTML nh3 can sanitize in bounded time: cut to `html_bytes`, tags nested deeper than
    `html_depth` or past `html_elements` dropped with their text kept.

    This is a tag scanner, not a parser; it need not be exact, because nh3 still parses
    and sanitizes whatever it returns. It only has to keep nh3's input shallow and small.
    """
    cut = len(html) > limits.html_bytes
    if cut:
        html = html[: limits.html_bytes]
        lt = html.rfind("<")
        if lt > len(html) - 4096 and html.find(">", lt) < 0:
            html = html[:lt]  # no half tag at the end
    # Only the text up to the last ">" can hold a complete tag; scanning the rest for tag
    # ends would be quadratic ("<a<a<a…" with no ">"), and a parser drops an unclosed one.
    end = html.rfind(">") + 1
    html, tail = html[:end], html[end:]
    if "<!" in html or "<?" in html:
        html = _COMMENT_OR_DECL.sub("", html)
    out: list[str] = []
    open_names: list[str] = []
    skipped: dict[str, int] = {}
    elements = max_depth = flattened = 0
    pos = 0
    for match in _TAG.finditer(html):
        out.append(html[pos : match.start()])
        pos = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            if skipped.get(name):
                skipped[name] -= 1
                continue
            if name in open_names:
                while open_names and open_names.pop() != name:
                    pass
            out.append(match.group(0))
            continue
        elements += 1
        self_closing = name in _NO_DEPTH or match.group(0).endswith("/>")
        depth = len(open_names) + (0 if self_closing else 1)
        max_depth = max(max_depth, depth)
        if elements > limits.html_elements or depth > limits.html_depth:
            flattened += 1
            if not self_closing:
                skipped[name] = skipped.get(name, 0) + 1
            continue
        if not self_closing:
            open_names.append(name)
        out.append(match.group(0))
    if pos == 0:
        return BoundedHtml(html + tail, elements, max_depth, flattened, cut)
    out.append(html[pos:])
    out.append(tail)
    return BoundedHtml("".join(out), elements, max_depth, flattened, cut)
