"""The message list as the API sends it: a page of summaries, encoded once.

A list that finds the same page as the last one (nothing came, went or changed on it, so
its summaries are the very objects the connection keeps; `Summary` is frozen and flag news
replaces it) sends the bytes it made then. Under 50 busy sessions, making and encoding the
50 summaries of a page had been over 40 % of the event loop's own CPU
(benchmarks/README.md, "concurrency.py").
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgate.http.json_io import encode_json
from mailgate.mail.imap.client import MailClient, Page, Sort, Summary
from mailgate.mail.reader import summary_json

__all__ = ["page_json"]


@dataclass(frozen=True, slots=True)
class _Encoded:
    path: str
    offset: int
    uidvalidity: int
    total: int
    summaries: tuple[Summary, ...]  # kept alive, so that identity means "unchanged"
    body: bytes

    def serves(self, path: str, offset: int, page: Page) -> bool:
        return (
            self.path == path
            and self.offset == offset
            and self.uidvalidity == page.uidvalidity
            and self.total == page.total
            and len(self.summaries) == len(page.summaries)
            and all(a is b for a, b in zip(self.summaries, page.summaries, strict=True))
        )


async def page_json(
    client: MailClient, path: str, *, offset: int, limit: int, sort: Sort, query: str | None
) -> bytes:
    """The JSON body of one page of ``path``'s list, as docs/api.md describes
    ``GET /api/mailboxes/{mailbox_id}/messages``."""
    page = await client.list_page(path, offset=offset, limit=limit, sort=sort, query=query)
    memo = client.list_memo
    if isinstance(memo, _Encoded) and memo.serves(path, offset, page):
        return memo.body
    body = encode_json(
        {
            "total": page.total,
            "offset": offset,
            "messages": [summary_json(path, page.uidvalidity, s) for s in page.summaries],
        }
    )
    client.list_memo = _Encoded(
        path, offset, page.uidvalidity, page.total, tuple(page.summaries), body
    )
    return body
