"""Previews of image and PDF attachments, made in a reading worker (see workers.py): an
image's size is checked from its header before anything is decoded, a PDF's page count and
first page's size before that page is drawn, and the result is a new, small PNG, so the
browser never decodes what the sender made (SEC-48). Nothing here does I/O."""

from __future__ import annotations

import io

__all__ = [
    "PDF_MAX_BYTES",
    "PDF_TYPES",
    "PREVIEW_BOX",
    "PREVIEW_MAX_BYTES",
    "PREVIEW_MAX_PIXELS",
    "PREVIEW_TYPES",
    "pdf_thumbnail",
    "thumbnail",
]

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


# -- PDF: the first page, drawn by PDFium (pypdfium2) ------------------------------------

PDF_TYPES = frozenset({"application/pdf"})
PDF_MAX_BYTES = 20 * 1024 * 1024
# 14,400 points (200 inches) is PDF's own largest page (ISO 32000-1, annex C: 3 to 14,400
# units); a page outside 1 to 14,400 points on a side is a trick, not a document.
PDF_MAX_SIDE_PT = 14_400.0
PDF_MIN_SIDE_PT = 1.0


def pdf_thumbnail(data: bytes, box: int = PREVIEW_BOX) -> bytes:
    """A PNG at most ``box`` pixels wide and high of the first page of the PDF ``data``;
    b"" when it is over PDF_MAX_BYTES, does not load, is encrypted (even without a user
    password), has no page, or a first page outside 1 to 14,400 points on a side.

    PDFium as pypdfium2 ships it has no JavaScript engine and no network code: the PDF's
    scripts never run, nothing remote is loaded, and form fields are not drawn."""
    if len(data) > PDF_MAX_BYTES or b"%PDF-" not in data[:1024]:  # where readers look for it
        return b""
    import pypdfium2  # type: ignore[import-untyped]  # in the worker only
    import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:  # not a PDF, damaged beyond repair, or needs a password
        return b""
    try:
        if pdfium_c.FPDF_GetSecurityHandlerRevision(pdf) != -1 or len(pdf) < 1:
            return b""
        # The size from the page tree, before the page's content is parsed.
        width, height = (float(v) for v in pdf.get_page_size(0))
        sides = (width, height)
        if not all(PDF_MIN_SIDE_PT <= side <= PDF_MAX_SIDE_PT for side in sides):
            return b""
        page = pdf[0]
        try:
            bitmap = page.render(scale=box / max(sides), may_draw_forms=False)
            image = bitmap.to_pil()
        finally:
            page.close()
        image.thumbnail((box, box))  # a rounding pixel over the box, at most
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG")
        return out.getvalue()
    except (pypdfium2.PdfiumError, OSError, ValueError):
        return b""
    finally:
        pdf.close()
