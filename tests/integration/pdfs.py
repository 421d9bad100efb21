"""Small, valid PDFs written out object by object for the preview tests (issue 17): a page
with a drawing, a page with an absurd media box, and a page under the standard security
handler (revision 2, empty user password: any reader opens it without asking)."""

from __future__ import annotations

import hashlib
import struct

__all__ = ["BLUE_TOP_HALF", "pdf", "pdf_with_empty_password"]

# A Letter page (612 by 792 points) whose top half is filled blue (PDF's origin is the
# bottom left); the bottom half stays white.
BLUE_TOP_HALF = b"0 0 1 rg 0 396 612 396 re f"

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def pdf(
    content: bytes = BLUE_TOP_HALF,
    media_box: tuple[float, float] = (612, 792),
    *,
    trailer_extra: bytes = b"",
    extra_objects: tuple[bytes, ...] = (),
) -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    width, height = media_box
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 %.2f %.2f]/Contents 4 0 R/Resources<<>>>>"
        % (width, height),
        b"<</Length %d>>\nstream\n%s\nendstream" % (len(content), content),
        *extra_objects,
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<</Size %d/Root 1 0 R%s>>\n" % (len(objects) + 1, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _rc4(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    encryptor = Cipher(ARC4(key), mode=None).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def pdf_with_empty_password(owner_password: bytes = b"owner") -> bytes:
    """The drawing of ``pdf()``, encrypted under RC4-40 (ISO 32000-1, 7.6.3, revision 2)
    with an empty user password, as "protected" PDFs that open without a prompt are."""
    file_id = hashlib.md5(b"mailgate test").digest()
    permissions = -44  # printing and copying refused: what such files usually say
    owner_key = hashlib.md5((owner_password + _PAD)[:32]).digest()[:5]
    o_entry = _rc4(owner_key, _PAD)
    key = hashlib.md5(_PAD + o_entry + struct.pack("<i", permissions) + file_id).digest()[:5]
    u_entry = _rc4(key, _PAD)

    def object_key(number: int) -> bytes:
        return hashlib.md5(key + struct.pack("<i", number)[:3] + b"\0\0").digest()[:10]

    content = _rc4(object_key(4), BLUE_TOP_HALF)
    encrypt = b"<</Filter/Standard/V 1/R 2/O<%s>/U<%s>/P %d>>" % (
        o_entry.hex().encode(),
        u_entry.hex().encode(),
        permissions,
    )
    return pdf(
        content,
        trailer_extra=b"/Encrypt 5 0 R/ID[<%s><%s>]" % ((file_id.hex().encode(),) * 2),
        extra_objects=(encrypt,),
    )
