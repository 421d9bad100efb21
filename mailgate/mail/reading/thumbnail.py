"""Previews of image attachments, made in a reading worker (see workers.py): the header's
size is checked before anything is decoded, and the result is a new, small PNG, so the
browser never decodes what the sender made (SEC-48). Nothing here does I/O."""

from __future__ import annotations

import io

__all__ = ["PREVIEW_BOX", "PREVIEW_MAX_BYTES", "PREVIEW_MAX_PIXELS", "PREVIEW_TYPES", "thumbnail"]

# Raster types only: an SVG may carry script and is never shown.
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PREVIEW_MAX_BYTES = 10 * 1024 * 1024
# 40 megapixels: any camera's photo, not a decompression bomb (a 50k by 50k PNG is refused).
PREVIEW_MAX_PIXELS = 40_000_000
PREVIEW_BOX = 320
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


def thumbnail(data: bytes, max_pixels: int = PREVIEW_MAX_PIXELS, box: int = PREVIEW_BOX) -> bytes:
    """A PNG at most ``box`` pixels wide and high, of the first frame of ``data``; b"" when
    it is no image of an allowed format, or larger than ``max_pixels``."""
    from PIL import Image  # in the worker only: the server's process never decodes images

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                return b""  # from the header alone, before any pixel is decoded
            image.draft("RGB", (box, box))  # JPEG: decode at a fraction of the size
            image.thumbnail((box, box))
            mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
            out = io.BytesIO()
            image.convert(mode).save(out, "PNG")
            return out.getvalue()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return b""
