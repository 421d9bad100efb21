"""Image type by content: the four raster formats browsers render without scripts.

SVG is refused on purpose: it is a document that can carry script and remote loads.
"""

from __future__ import annotations

__all__ = ["ALLOWED_DECLARED", "SNIFF_BYTES", "sniff_image"]

SNIFF_BYTES = 12
# Declared types we accept before sniffing; the served type is always the sniffed one.
ALLOWED_DECLARED = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/webp"}
)


def sniff_image(head: bytes) -> str | None:
    """The MIME type the first bytes prove, or None if they are not a raster image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
