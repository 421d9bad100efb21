"""An opened message as the render cache keeps it: what the server said, what the worker
rendered, and the documents built from it on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailgate.mail.cache import SessionCache
from mailgate.mail.ids import MessageRef
from mailgate.mail.imap.parse import BodyPart
from mailgate.mail.mime_read import MessageView
from mailgate.mail.reader import MDN_SENT, flag_json, iso_date

from .render import NOTICE_TOO_COMPLEX, Rendered

__all__ = ["OpenedMessage", "RenderCache"]


@dataclass
class OpenedMessage:
    ref: MessageRef
    flags: frozenset[str]
    size: int
    internaldate: Any
    whole: bool  # the message was fetched whole (small-message path)
    structure: BodyPart | None
    rendered: Rendered
    # Inline (cid:) images as data: URLs, once fetched for this message.
    cid_urls: dict[str, str] | None = None
    # The document with proxied remote images and when its signed URLs stop being
    # worth serving (epoch seconds).
    proxied_document: str | None = None
    proxied_until: float = 0.0

    @property
    def view(self) -> MessageView:
        return self.rendered.view

    def as_json(self, base: str) -> dict[str, Any]:
        v = self.view
        attachments = [
            {
                "part": a.part,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "inline": a.inline,
                "url": f"{base}/parts/{a.part}",
            }
            for a in v.attachments
        ]
        return {
            "id": self.ref.id,
            "from": v.from_,
            "to": v.to,
            "cc": v.cc,
            "bcc": v.bcc,
            "reply_to": v.reply_to,
            "delivered_to": v.delivered_to,
            "receipt_to": v.receipt_to,
            "receipt_handled": MDN_SENT.lower() in {f.lower() for f in self.flags},
            "subject": v.subject,
            "date": v.date or iso_date(self.internaldate),
            **flag_json(self.flags),
            "size": self.size,
            "has_attachments": any(not a.inline for a in v.attachments),
            "preview": self.rendered.preview,
            "message_id_header": v.message_id_header,
            "in_reply_to": v.in_reply_to,
            "references": v.references,
            "text": v.text,
            "text_links": [{"text": k, "href": h} for k, h in self.rendered.text_links.items()],
            "has_html": v.html is not None,
            "html_url": f"{base}/body.html",
            "attachments": attachments,
            "degraded": self.rendered.degraded,
            "notice": NOTICE_TOO_COMPLEX if self.rendered.degraded else None,
        }


class RenderCache(SessionCache[OpenedMessage]):
    """The render cache: a session's recently opened messages, rendered (degraded ones
    too, so reopening a hostile message costs nothing)."""
