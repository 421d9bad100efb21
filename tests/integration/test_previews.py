"""List previews are filled on every server: Dovecot answers PREVIEW itself; on a server
without it (pymap) mailgate reads the first kilobyte of each message's text part, decoded
by its transfer encoding and charset (issue 17)."""

from __future__ import annotations

import base64
import quopri
import secrets
from typing import Any

from mailgate.testing.client import ApiClient
from tests.conftest import Upstream


def _message(subject: str, headers: str, body: bytes) -> bytes:
    head = f"From: Ann <ann@example.test>\r\nTo: b@example.test\r\nSubject: {subject}\r\n"
    return (head + "MIME-Version: 1.0\r\n" + headers + "\r\n").encode() + body


def _cases(tag: str) -> dict[str, tuple[bytes, str]]:
    latin = "Grüße aus Köln, schöne Straße. " * 60
    utf8 = "Привет из Москвы, как дела? " * 80
    alternative = (
        f'Content-Type: multipart/alternative; boundary="b{tag}"\r\n',
        (
            f"--b{tag}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Plain   side\r\n\r\nof the\tletter\r\n"
            f"--b{tag}\r\nContent-Type: text/html\r\n\r\n<p>HTML side</p>\r\n--b{tag}--\r\n"
        ).encode(),
    )
    return {
        "plain": (
            _message(f"plain {tag}", "Content-Type: text/plain\r\n", b"Just a short note.\r\n"),
            "Just a short note.",
        ),
        "qp-latin1": (
            _message(
                f"qp {tag}",
                "Content-Type: text/plain; charset=iso-8859-1\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n",
                quopri.encodestring(latin.encode("latin-1")).replace(b"\n", b"\r\n"),
            ),
            "Grüße aus Köln, schöne Straße.",
        ),
        "base64-utf8": (
            _message(
                f"b64 {tag}",
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                base64.encodebytes(utf8.encode()).replace(b"\n", b"\r\n"),
            ),
            "Привет из Москвы, как дела?",
        ),
        "alternative": (_message(f"alt {tag}", *alternative), "Plain side of the letter"),
    }


async def test_list_previews_are_filled(upstream: Upstream, client: ApiClient) -> None:
    email, password = upstream.new_user()
    tag = secrets.token_hex(3)
    cases = _cases(tag)
    for raw, _ in cases.values():
        upstream.deliver(email, raw)
    assert (await client.login(email, password)).status == 201
    boxes = (await client.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listed = (await client.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"]
    by_subject = {m["subject"].split()[0]: m for m in listed}
    starts = {"plain": "plain", "qp-latin1": "qp", "base64-utf8": "b64", "alternative": "alt"}
    for name, (_, expected) in cases.items():
        summary = by_subject[starts[name]]
        assert summary["preview"].startswith(expected), (name, summary["preview"])
        assert "\ufffd" not in summary["preview"] and "=" not in summary["preview"], name
        assert len(summary["preview"]) <= 200, name
        assert summary["seen"] is False, name  # reading a preview marks nothing as seen


def _huge_png_header() -> bytes:
    """A PNG whose header claims 50,000 by 50,000 pixels (its data is cut short)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)


async def test_sec_48_image_previews_are_bounded_and_re_encoded(
    upstream: Upstream, client: ApiClient
) -> None:
    import io

    from PIL import Image

    from tests.integration.image_server import SVG
    from tests.integration.mailfactory import with_attachment

    email, password = upstream.new_user()
    photo = io.BytesIO()
    Image.new("RGB", (1600, 900), (200, 30, 30)).save(photo, "JPEG")
    cases = {
        "photo": (photo.getvalue(), "photo.jpg", "image/jpeg"),
        "bomb": (_huge_png_header(), "bomb.png", "image/png"),
        "drawing": (SVG, "drawing.svg", "image/svg+xml"),
        "fake": (b"not an image at all", "fake.png", "image/png"),
    }
    for name, (data, filename, ctype) in cases.items():
        upstream.deliver(email, with_attachment(data, filename, ctype, f"preview {name}"))
    assert (await client.login(email, password)).status == 201
    boxes = (await client.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listed = (await client.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"]
    ids = {m["subject"].split()[1]: m["id"] for m in listed if m["subject"].startswith("preview")}

    async def preview(name: str) -> Any:
        message = (await client.get(f"/api/messages/{ids[name]}?peek=1")).json()
        (attachment,) = message["attachments"]
        return await client.get(attachment["url"] + "/preview")

    made = await preview("photo")
    assert made.status == 200 and made.headers["Content-Type"] == "image/png", made
    assert made.headers["Cache-Control"] == "no-store"
    assert "sandbox" in made.headers["Content-Security-Policy"]
    with Image.open(io.BytesIO(made.body)) as image:
        assert image.format == "PNG" and image.size == (320, 180)  # re-encoded, shrunk
        assert image.getpixel((160, 90))[0] > 150  # the photo's red
    for name in ("bomb", "drawing", "fake"):
        refused = await preview(name)
        assert refused.status == 404 and refused.error_code == "not_found", (name, refused)


async def test_sec_48_pdf_previews_draw_the_first_page_within_bounds(
    upstream: Upstream, client: ApiClient
) -> None:
    """A PDF attachment's preview is its first page, drawn by PDFium in a reading worker and
    re-encoded as a PNG of at most 320 pixels; a PDF that is encrypted (even one any reader
    opens without a password), has an absurd page size, is cut short, or is no PDF at all
    gets the same 404 as any part without a preview."""
    import io

    from PIL import Image

    from tests.integration.mailfactory import with_attachment
    from tests.integration.pdfs import pdf, pdf_with_empty_password

    email, password = upstream.new_user()
    letter = pdf()
    assert b"Encrypt" not in letter
    cases = {
        "letter": letter,
        "wide": pdf(b"1 0 0 rg 0 0 300 600 re f", media_box=(1200, 600)),
        "huge": pdf(media_box=(100_000, 100_000)),
        "encrypted": pdf_with_empty_password(),
        "truncated": letter[: len(letter) // 2],
        "fake": b"%PDF-1.4 but nothing after the header",
    }
    for name, data in cases.items():
        upstream.deliver(
            email, with_attachment(data, f"{name}.pdf", "application/pdf", f"pdf {name}")
        )
    assert (await client.login(email, password)).status == 201
    boxes = (await client.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listed = (await client.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"]
    ids = {m["subject"].split()[1]: m["id"] for m in listed if m["subject"].startswith("pdf ")}
    assert set(ids) == set(cases)

    async def preview(name: str) -> Any:
        message = (await client.get(f"/api/messages/{ids[name]}?peek=1")).json()
        (attachment,) = message["attachments"]
        assert attachment["content_type"] == "application/pdf"
        return await client.get(attachment["url"] + "/preview")

    made = await preview("letter")
    assert made.status == 200 and made.headers["Content-Type"] == "image/png", made
    assert made.headers["Cache-Control"] == "no-store"
    assert "sandbox" in made.headers["Content-Security-Policy"]
    with Image.open(io.BytesIO(made.body)) as image:
        # 612 by 792 points, the long side drawn at 320 pixels.
        assert image.format == "PNG" and image.size == (248, 320), image.size
        top, bottom = image.convert("RGB").getpixel((124, 80)), image.getpixel((124, 240))
        assert top == (0, 0, 255) and bottom == (255, 255, 255), (top, bottom)
        assert len(image.convert("RGB").getcolors(1 << 16) or []) > 1  # drawn, not blank
    made = await preview("wide")
    assert made.status == 200, made
    with Image.open(io.BytesIO(made.body)) as image:
        assert image.size == (320, 160), image.size
        assert image.convert("RGB").getpixel((20, 80)) == (255, 0, 0)  # the red left quarter
        assert image.convert("RGB").getpixel((300, 80)) == (255, 255, 255)
    for name in ("huge", "encrypted", "truncated", "fake"):
        refused = await preview(name)
        assert refused.status == 404 and refused.error_code == "not_found", (name, refused)
