"""Actions on many messages at once (the list's selection): mark read or unread, flag or
unflag, move, delete, mark as junk, archive, restore (the UI's Undo of "Mark as junk").

Each message goes through the same reading-service step as when it is acted on alone
(validity check, Trash and Junk policy, the origins kept for "Restore"), so the two never
differ. The list is bounded before any IMAP work; a message that is gone or renumbered
is reported as such and the others still happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from mailgate.errors import ApiError, BadRequest, NotFound, StaleMessage
from mailgate.mail.ids import decode_message_id
from mailgate.mail.pool import Credentials
from mailgate.mail.reading.service import ReadingService

__all__ = ["BULK_MAX", "BulkAction", "BulkResult", "act_on_messages"]

BULK_MAX = 200  # the largest page the list shows
BulkAction = Literal[
    "read", "unread", "flag", "unflag", "move", "delete", "junk", "archive", "restore"
]
# Refusals of one message that leave the others to go on; anything else (the mail server
# gone, the store down) stops the whole request.
_PER_MESSAGE = (NotFound, StaleMessage, BadRequest)


@dataclass(frozen=True)
class BulkResult:
    id: str
    new_id: str | None = None  # where it is now (all but the flag changes), if known
    error: str | None = None  # the error code for this message, None when done

    def as_json(self) -> dict[str, str | None]:
        return {"id": self.id, "new_id": self.new_id, "error": self.error}


async def act_on_messages(
    reading: ReadingService,
    lookup: str,
    credentials: Callable[[], Credentials],
    action: BulkAction,
    ids: Sequence[str],
    target: str | None = None,
) -> list[BulkResult]:
    """Apply ``action`` to each message in ``ids`` (each at most once, in order)."""
    unique = list(dict.fromkeys(ids))
    if not unique or len(unique) > BULK_MAX:
        raise BadRequest(f"Send between 1 and {BULK_MAX} message ids.")
    if action == "move" and not target:
        raise BadRequest("Moving needs the field 'mailbox'.")
    results: list[BulkResult] = []
    for value in unique:
        try:
            ref = decode_message_id(value)
            new_id: str | None = None
            if action in ("read", "unread"):
                await reading.set_flags(
                    lookup, credentials, ref, seen=action == "read", flagged=None
                )
            elif action in ("flag", "unflag"):
                await reading.set_flags(
                    lookup, credentials, ref, seen=None, flagged=action == "flag"
                )
            elif action == "move":
                assert target is not None
                if ref.mailbox == target:
                    results.append(BulkResult(value, value))
                    continue
                new_id = await reading.move(lookup, credentials, ref, target)
            elif action == "delete":
                new_id = await reading.delete(lookup, credentials, ref)
            elif action == "archive":
                new_id = await reading.archive(lookup, credentials, ref)
            elif action == "restore":
                new_id = await reading.restore(lookup, credentials, ref)
            else:
                new_id = await reading.junk(lookup, credentials, ref, junk=True)
        except _PER_MESSAGE as err:
            results.append(BulkResult(value, error=_code(err)))
            continue
        results.append(BulkResult(value, new_id))
    return results


def _code(err: ApiError) -> str:
    return err.code
