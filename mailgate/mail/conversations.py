"""Conversations: a mailbox's threads, with the user's own replies from Sent.

A conversation is one thread of a mailbox (the server's THREAD REFERENCES, or RFC 5256
computed here) plus the messages among the newest `SENT_WINDOW` of the Sent mailbox whose
Message-ID or References link to one of its messages. The threads and their order (newest
first by each one's newest message in the mailbox) are the connection's kept conversation
view (`MailClient.conversation_page`); a page reads the threading headers of its own
conversations' messages only, and links the Sent replies to those. A conversation is named
by its first message in the mailbox (by UID; `conversation_id`), so the id stays while new
replies arrive; a renumbered mailbox makes it stale (409) like a message id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mailgate.errors import BadRequest, NotFound, StaleMessage
from mailgate.mail.ids import MessageRef, conversation_id, mailbox_id, message_id
from mailgate.mail.imap.client import MailClient, Summary
from mailgate.mail.imap.errors import ImapNoError, ImapStale
from mailgate.mail.pool import Credentials, ImapPool
from mailgate.mail.reader import summary_json
from mailgate.mail.threads import Head

__all__ = ["SENT_WINDOW", "Action", "ConversationService"]

# How many of the newest Sent messages are searched for the user's own replies.
SENT_WINDOW = 500

Action = Literal["read", "unread", "flag", "unflag", "move", "delete"]
CredentialsFn = Callable[[], Credentials]


@dataclass(frozen=True, slots=True)
class _Member:
    mailbox: str
    uidvalidity: int
    uid: int
    date: float

    @property
    def id(self) -> str:
        return message_id(self.mailbox, self.uidvalidity, self.uid)


@dataclass(frozen=True, slots=True)
class _Conversation:
    anchor: MessageRef
    members: list[_Member]  # oldest first

    @property
    def id(self) -> str:
        return conversation_id(self.anchor.mailbox, self.anchor.uidvalidity, self.anchor.uid)

    @property
    def newest(self) -> float:
        return max(m.date for m in self.members)


def _iso(ts: float) -> str | None:
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat() if ts > 0 else None
    except (OverflowError, OSError, ValueError):
        return None


async def _sent_box(client: MailClient, path: str) -> str | None:
    """The Sent mailbox to take the user's replies from: None when there is none, it is
    ``path`` itself, or it holds nothing."""
    boxes = await client.mailboxes()
    sent = next((b for b in boxes if b.role == "sent"), None)
    return None if sent is None or sent.path == path or sent.total == 0 else sent.path


async def _conversations(
    client: MailClient,
    path: str,
    uidvalidity: int | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    holding: int | None = None,
    read: dict[str, dict[int, Summary]] | None = None,
) -> tuple[int, list[_Conversation]]:
    """The total and ``limit`` conversations of ``path`` from ``offset`` (all when None),
    newest first by their newest message in ``path``; with ``holding``, the one holding that
    UID (or none). Each with the replies from Sent that link to its messages. With
    ``read``, the summaries of the conversations' messages in ``path`` are read into it
    before Sent is selected (``path`` then needs no second opening for them).

    The order and the threads come from the connection's kept conversation view (one SORT
    and one THREAD a selection); only the shown conversations' threading headers are read.
    """
    sent = await _sent_box(client, path)
    try:
        if holding is None:
            page = await client.conversation_page(
                path, offset=offset, limit=limit, uidvalidity=uidvalidity
            )
            validity, total, chosen = page.uidvalidity, page.total, page.groups
        else:
            validity, group = await client.conversation_of(path, holding, uidvalidity=uidvalidity)
            total, chosen = (1, [group]) if group is not None else (0, [])
        heads = await client.heads(path, [u for g in chosen for u in g], uidvalidity=validity)
    except ImapStale:
        raise StaleMessage() from None
    except ImapNoError:
        raise NotFound("There is no such mailbox.") from None
    # Which conversation each Message-ID belongs to (its messages' own ids and the ids
    # they cite).
    owner: dict[str, int] = {}
    for index, group in enumerate(chosen):
        for uid in group:
            head = heads.get(uid)
            if head is None:
                continue
            for ref in (head.message_id, *head.references):
                if ref:
                    owner.setdefault(ref, index)
    extra: dict[int, list[_Member]] = {}
    if sent is not None and owner:
        if read is not None:
            uids = [u for g in chosen for u in g]
            mine = await client.summaries(path, uids, uidvalidity=validity)
            read[path] = {x.uid: x for x in mine}
        sent_validity, sent_heads = 0, dict[int, Head]()
        with contextlib.suppress(ImapNoError):
            sent_validity, sent_heads = await client.recent_heads(sent, SENT_WINDOW)
        for uid, head in sorted(sent_heads.items()):
            # A conversation's message replying to it, else the nearest message it replies to.
            links = (head.message_id, *reversed(head.references))
            found = next((owner[r] for r in links if r and r in owner), None)
            if found is not None:
                extra.setdefault(found, []).append(_Member(sent, sent_validity, uid, head.date))
    out: list[_Conversation] = []
    for index, group in enumerate(chosen):
        members = [_Member(path, validity, uid, _date(heads.get(uid))) for uid in group]
        members += extra.get(index, [])
        members.sort(key=lambda m: (m.date, m.mailbox != path, m.uid))
        out.append(_Conversation(MessageRef(path, validity, min(group)), members))
    return total, out


def _date(head: Head | None) -> float:
    return head.date if head is not None else 0.0


async def _summaries(
    client: MailClient,
    members: list[_Member],
    path: str,
    read: dict[str, dict[int, Summary]] | None = None,
) -> dict[tuple[str, int], tuple[_Member, Summary]]:
    """Summaries of ``members`` by (mailbox, UID), from ``read`` for a mailbox read
    already; vanished ones are left out."""
    by_box: dict[str, list[_Member]] = {}
    for m in members:
        by_box.setdefault(m.mailbox, []).append(m)
    found: dict[tuple[str, int], tuple[_Member, Summary]] = {}
    # The conversations' own mailbox first: it is selected already (Sent is read after).
    boxes = sorted(by_box.items(), key=lambda item: item[0] != path)
    for box, ms in boxes:
        known = {m.uid: m for m in ms}
        done = (read or {}).get(box)
        if done is not None:
            got = [done[u] for u in known if u in done]
        else:
            own = box == path  # read-write; Sent is only read
            got = await client.summaries(
                box, list(known), uidvalidity=ms[0].uidvalidity, readonly=not own
            )
        for s in got:
            found[(box, s.uid)] = (known[s.uid], s)
    return found


def _participants(summaries: list[Summary]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for s in summaries:
        for a in s.envelope.from_:
            addr = a if isinstance(a, dict) else {"name": a.name, "email": a.email}
            name, email = addr.get("name") or "", addr.get("email") or ""
            if email and email.lower() not in seen:
                seen.add(email.lower())
                out.append({"name": name, "email": email})
    return out


def _item(conv: _Conversation, got: dict[tuple[str, int], tuple[_Member, Summary]]) -> Any:
    present = [got[(m.mailbox, m.uid)][1] for m in conv.members if (m.mailbox, m.uid) in got]
    if not present:
        return None
    subject = present[0].envelope.subject or ""  # the oldest message's
    newest = max((m.date for m in conv.members if (m.mailbox, m.uid) in got), default=conv.newest)
    return {
        "id": conv.id,
        "subject": subject,
        "participants": _participants(present),
        "count": len(present),
        "unread": sum(1 for s in present if "\\seen" not in {f.lower() for f in s.flags}),
        "date": _iso(newest),
        "has_attachments": any(s.has_attachments for s in present),
    }


class ConversationService:
    """The conversation operations of the API, each one run on the session's connection."""

    def __init__(self, pool: ImapPool, forget: Callable[[str, str | None], None]) -> None:
        self.pool = pool
        self._forget = forget  # drops a message's cached rendering after a change

    async def page(
        self, lookup: str, credentials: CredentialsFn, path: str, *, offset: int, limit: int
    ) -> dict[str, Any]:
        async def op(client: MailClient) -> dict[str, Any]:
            read: dict[str, dict[int, Summary]] = {}
            total, chosen = await _conversations(
                client, path, offset=offset, limit=limit, read=read
            )
            got = await _summaries(client, [m for c in chosen for m in c.members], path, read)
            items = [i for c in chosen if (i := _item(c, got)) is not None]
            return {"total": total, "offset": offset, "conversations": items}

        return await self.pool.run(lookup, credentials, op)

    async def _find(
        self,
        client: MailClient,
        ref: MessageRef,
        read: dict[str, dict[int, Summary]] | None = None,
    ) -> _Conversation:
        _, found = await _conversations(
            client, ref.mailbox, ref.uidvalidity, holding=ref.uid, read=read
        )
        for conv in found:
            if conv.anchor.uid == ref.uid:
                return conv
        raise NotFound("That conversation does not exist (any more).")

    async def get(self, lookup: str, credentials: CredentialsFn, ref: MessageRef) -> Any:
        async def op(client: MailClient) -> dict[str, Any]:
            read: dict[str, dict[int, Summary]] = {}
            conv = await self._find(client, ref, read)
            got = await _summaries(client, conv.members, ref.mailbox, read)
            item = _item(conv, got)
            if item is None:
                raise NotFound("That conversation does not exist (any more).")
            messages = []
            for m in conv.members:
                pair = got.get((m.mailbox, m.uid))
                if pair is not None:
                    body = summary_json(m.mailbox, m.uidvalidity, pair[1])
                    body["mailbox"] = mailbox_id(m.mailbox)
                    messages.append(body)
            return {**item, "messages": messages}

        return await self.pool.run(lookup, credentials, op)

    async def act(
        self,
        lookup: str,
        credentials: CredentialsFn,
        ref: MessageRef,
        action: Action,
        target: str | None = None,
    ) -> int:
        """Apply ``action`` to every message of the conversation; how many it touched.
        ``move`` leaves the user's own replies in Sent (Sent stays complete)."""
        if action == "move" and not target:
            raise BadRequest("Moving a conversation needs the field 'mailbox'.")
        touched: list[_Member] = []

        async def op(client: MailClient) -> int:
            conv = await self._find(client, ref)
            members = conv.members
            trash: str | None = None
            if action == "move":
                members = [m for m in members if m.mailbox == ref.mailbox]
            elif action == "delete":
                boxes = await client.mailboxes()
                trash = next((b.path for b in boxes if b.role == "trash"), None)
            done = 0
            for m in members:
                touched.append(m)
                try:
                    await _apply(client, m, action, target, trash)
                except ImapStale:
                    raise StaleMessage() from None
                except ImapNoError:
                    if action == "move":
                        raise NotFound("The target mailbox does not exist.") from None
                    continue  # gone meanwhile: nothing left to do for it
                done += 1
            return done

        try:
            return await self.pool.run(lookup, credentials, op)
        finally:
            for m in touched:
                self._forget(lookup, m.id)


async def _apply(
    client: MailClient, m: _Member, action: Action, target: str | None, trash: str | None
) -> None:
    v = m.uidvalidity
    if action in ("read", "unread"):
        await client.store_flags(m.mailbox, m.uid, seen=action == "read", uidvalidity=v)
    elif action in ("flag", "unflag"):
        await client.store_flags(m.mailbox, m.uid, flagged=action == "flag", uidvalidity=v)
    elif action == "move":
        assert target is not None
        if target != m.mailbox:
            await client.move(m.mailbox, m.uid, target, uidvalidity=v)
    elif trash is None or trash == m.mailbox:
        await client.expunge_uid(m.mailbox, m.uid, uidvalidity=v)
    else:
        await client.move(m.mailbox, m.uid, trash, uidvalidity=v)
