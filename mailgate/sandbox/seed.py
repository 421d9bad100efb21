"""Deterministic, real-looking demo mail for a sandbox user.

Everything uses reserved example domains (example.org/.com/.net, .test). The same address
and the same ``now`` always give the same messages.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["DemoMessage", "demo_messages"]

#: (mailbox, raw RFC 5322 bytes with CRLF line ends, IMAP flags)
DemoMessage = tuple[str, bytes, tuple[str, ...]]

_SEEN = "\\Seen"
_FLAGGED = "\\Flagged"
_ANSWERED = "\\Answered"
_DRAFT = "\\Draft"

_PEOPLE: tuple[tuple[str, str], ...] = (
    ("Alice Martin", "alice.martin@example.org"),
    ("Bob Okafor", "bob@example.com"),
    ("Zoë Äpfelbaum", "zoe@example.net"),
    ("José Müller", "jose.mueller@example.org"),
    ("山田 太郎", "taro.yamada@example.net"),
    ("Chloé Dubois", "chloe@example.com"),
    ("Priya Raman", "priya@example.org"),
    ("Søren Kierkegård", "soren@example.net"),
)

_SHORT_NOTES: tuple[tuple[str, str], ...] = (
    ("Lunch on Thursday?", "Are you free for lunch on Thursday? The new place near the station."),
    ("Slides from today", "Here is the link to the slides: https://files.example.com/s/4821"),
    ("Quick question about the budget", "Do we still have room for two more licences?"),
    ("Grüße aus München", "Viele Grüße aus München! Das Wetter ist großartig."),
    ("Café ☕ meeting moved", "The café meeting moved to 3 pm, same place."),
    ("日本語の件名のテスト", "これはテストメッセージです。よろしくお願いします。"),
    ("Re: parking permits", "The permits arrived, you can pick yours up at the front desk."),
    ("Book recommendation", "You should read 'The Left Hand of Darkness'. Trust me."),
    ("Weekend hike", "Weather looks good for Saturday. Meet at 8 at the trailhead?"),
    ("Your feedback", "Thanks for the review, I addressed all comments but one."),
    ("Ça marche pour demain", "Parfait, à demain 10 h devant l'entrée."),
    ("Server maintenance window", "Maintenance is planned for Sunday 02:00-04:00 UTC."),
)


def _tiny_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A valid size-by-size single-colour PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def _tiny_pdf(text: str) -> bytes:
    """A small one-page PDF showing ``text`` (ASCII)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


class _Builder:
    """Collects messages with deterministic ids and dates."""

    def __init__(self, user_email: str, now: datetime) -> None:
        seed = int.from_bytes(hashlib.sha256(user_email.encode("utf-8")).digest()[:8], "big")
        self.rng = random.Random(seed)
        self.user = Address(addr_spec=user_email)
        self.now = now
        self.out: list[tuple[datetime, DemoMessage]] = []

    def msgid(self, domain: str = "example.org") -> str:
        return f"<{self.rng.getrandbits(64):016x}.{self.rng.getrandbits(32):08x}@{domain}>"

    def date(self, days_ago: float) -> datetime:
        jitter = self.rng.randint(0, 3600)
        return self.now - timedelta(days=days_ago, seconds=jitter)

    def new(
        self,
        subject: str,
        sender: Address,
        when: datetime,
        *,
        to: Address | None = None,
        msgid: str | None = None,
    ) -> EmailMessage:
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = sender
        msg["To"] = to or self.user
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = msgid or self.msgid(sender.domain or "example.org")
        return msg

    def add(self, msg: EmailMessage, when: datetime, mailbox: str, *flags: str) -> None:
        # The email package draws random MIME boundaries; fix them for reproducible bytes.
        for part in msg.walk():
            if part.is_multipart():
                part.set_boundary(f"=_demo_{self.rng.getrandbits(64):016x}")
        self.out.append((when, (mailbox, msg.as_bytes(policy=policy.SMTP), tuple(flags))))


def _person(index: int) -> Address:
    name, addr = _PEOPLE[index % len(_PEOPLE)]
    return Address(display_name=name, addr_spec=addr)


def _newsletters(b: _Builder, image_base: str | None) -> None:
    # With a local image host (the demo), "Load remote images" really loads them.
    banner = (
        f"{image_base}/shop/banner.png" if image_base else "https://cdn.shop.example.com/banner.jpg"
    )
    pixel_url = f"{image_base}/track/p.gif" if image_base else "https://tracker.example/p.gif"
    shop = Address(display_name="Example Outdoor Shop", addr_spec="news@shop.example.com")
    for issue, days_ago in enumerate((26.0, 12.0, 2.5), start=1):
        when = b.date(days_ago)
        msg = b.new(f"Spring sale - issue {issue}: up to 40% off tents", shop, when)
        msg["List-Unsubscribe"] = "<https://shop.example.com/unsubscribe?u=8f2c>"
        link = f"https://shop.example.com/sale?utm_source=newsletter&utm_medium=email&utm_campaign=spring{issue}"
        msg.set_content(f"Spring sale, issue {issue}.\n\nShop now: {link}\n")
        pixel = (
            f'<img src="{pixel_url}?u=8f2c{issue:02d}" width="1" height="1" '
            'alt="" style="display:none">'
            if issue == 2
            else ""
        )
        msg.add_alternative(
            "<!doctype html><html><head><style>h1{color:#2a6}</style></head><body>"
            f"<h1>Spring sale - issue {issue}</h1>"
            f'<p>Up to <b>40%</b> off tents. <a href="{link}">Shop now</a></p>'
            f'<p><img src="{banner}" alt="Tents at sunset"></p>'
            '<p><a href="https://shop.example.com/unsubscribe?u=8f2c">Unsubscribe</a></p>'
            f"{pixel}</body></html>",
            subtype="html",
        )
        b.add(msg, when, "INBOX", *((_SEEN,) if days_ago > 5 else ()))


def _attachments(b: _Builder) -> None:
    billing = Address(display_name="Example Hosting Billing", addr_spec="billing@example.net")
    when = b.date(9.0)
    msg = b.new("Your invoice INV-2024-0042", billing, when)
    msg.set_content("Hello,\n\nplease find your invoice attached.\n\nExample Hosting\n")
    msg.add_attachment(
        _tiny_pdf("Invoice INV-2024-0042: 19.00 EUR"),
        maintype="application",
        subtype="pdf",
        filename="INV-2024-0042.pdf",
    )
    b.add(msg, when, "INBOX", _SEEN, _FLAGGED)

    when = b.date(6.0)
    msg = b.new("Photos from the trip", _person(2), when)
    msg.set_content("Two pictures from the trip, the rest follows.\n\nZoë\n")
    msg.add_attachment(
        _tiny_png((200, 60, 40)), maintype="image", subtype="png", filename="sunset.png"
    )
    msg.add_attachment(
        _tiny_png((40, 90, 200)), maintype="image", subtype="png", filename="lake é.png"
    )
    b.add(msg, when, "INBOX", _SEEN)

    when = b.date(1.2)
    msg = b.new("Team logo, final version", _person(5), when)
    msg.set_content("The final logo is below (HTML version).\n")
    msg.add_alternative(
        '<html><body><p>The final logo:</p><p><img src="cid:logo-final@example.com" '
        'alt="Team logo"></p><p>Chloé</p></body></html>',
        subtype="html",
    )
    html_part = list(msg.iter_parts())[1]  # the text/html alternative
    html_part.add_related(
        _tiny_png((20, 160, 120)),
        maintype="image",
        subtype="png",
        cid="<logo-final@example.com>",
        filename="logo.png",
    )
    b.add(msg, when, "INBOX")


def _thread(b: _Builder) -> None:
    subject = "Project kickoff: agenda"
    root_when = b.date(15.0)
    root = b.new(subject, _person(0), root_when)
    root["Cc"] = _person(1)
    root.set_content("Hi all,\n\nproposed agenda for Monday:\n1. Goals\n2. Timeline\n3. Risks\n")
    b.add(root, root_when, "INBOX", _SEEN, _ANSWERED)
    references = [root["Message-ID"]]
    replies = ((_person(1), 14.8, "INBOX"), (None, 14.5, "Sent"), (_person(0), 14.2, "INBOX"))
    for sender, days_ago, mailbox in replies:
        when = b.date(days_ago)
        from_ = sender or b.user
        to = _person(0) if sender is None else b.user
        reply = b.new(f"Re: {subject}", from_, when, to=to)
        reply["In-Reply-To"] = references[-1]
        reply["References"] = " ".join(references)
        who = from_.display_name or from_.addr_spec
        reply.set_content(f"Sounds good to me, let's add a budget item.\n\n-- \n{who}\n")
        b.add(reply, when, mailbox, _SEEN)
        references.append(reply["Message-ID"])


def _sent_and_draft(b: _Builder) -> None:
    for index, (subject, days_ago) in enumerate(
        (("Thanks for yesterday", 20.0), ("Re: Lunch on Thursday?", 8.0), ("Documents", 3.0))
    ):
        when = b.date(days_ago)
        msg = b.new(subject, b.user, when, to=_person(index + 3))
        msg.set_content(f"{subject}.\n\nBest regards\n")
        b.add(msg, when, "Sent", _SEEN)
    when = b.date(0.3)
    draft = b.new("Draft: holiday plans", b.user, when, to=_person(6))
    draft.set_content("Hi Priya,\n\nI was thinking about the second week of August, and\n")
    b.add(draft, when, "Drafts", _SEEN, _DRAFT)


def _notes(b: _Builder) -> None:
    for index, (subject, body) in enumerate(_SHORT_NOTES):
        days_ago = 28.0 - index * 2.3 + b.rng.random()
        when = b.date(max(days_ago, 0.05))
        msg = b.new(subject, _person(index), when)
        msg.set_content(f"{body}\n")
        flags = [_SEEN] if days_ago > 4 else []
        if index in (3, 8):
            flags.append(_FLAGGED)
        b.add(msg, when, "INBOX", *flags)
    notifier = Address(display_name="Example Code Review", addr_spec="noreply@code.example.com")
    for number in range(5):
        when = b.date(10.0 - number * 2.1)
        msg = b.new(f"[mailgate] Pull request #{101 + number} updated", notifier, when)
        msg["List-Id"] = "<mailgate.code.example.com>"
        msg.set_content(
            f"A pull request was updated: https://code.example.com/mailgate/pull/{101 + number}\n"
        )
        b.add(msg, when, "INBOX", *((_SEEN,) if number < 3 else ()))


def demo_messages(
    user_email: str, *, now: datetime | None = None, image_base: str | None = None
) -> list[DemoMessage]:
    """Build a few dozen demo messages for ``user_email``, oldest first.

    Returns ``(mailbox, raw bytes, IMAP flags)`` tuples for INBOX, Sent and Drafts. ``now``
    anchors the dates (default: the current hour, UTC); the content is seeded by the address.
    ``image_base`` (e.g. ``https://127.0.0.1:PORT``) is where the newsletters' remote images
    live; by default they point at example hosts that do not exist.
    """
    anchor = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    builder = _Builder(user_email, anchor)
    welcome_when = builder.date(30.0)
    welcome = builder.new(
        "Welcome to your sandbox mailbox",
        Address(display_name="Mailgate Sandbox", addr_spec="sandbox@example.test"),
        welcome_when,
    )
    welcome.set_content(
        "This mailbox lives in memory and disappears when the sandbox stops.\n"
        "Every address here uses a reserved example domain.\n"
    )
    builder.add(welcome, welcome_when, "INBOX", _SEEN)
    _newsletters(builder, image_base)
    _attachments(builder)
    _thread(builder)
    _sent_and_draft(builder)
    _notes(builder)
    builder.out.sort(key=lambda item: item[0])
    return [message for _, message in builder.out]
