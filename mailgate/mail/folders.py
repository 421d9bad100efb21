"""Folder management: create (under a parent), rename or move in the hierarchy, delete,
subscribe; and the special-use Junk and Archive mailboxes made on demand.

Policy lives here, the IMAP commands in MailClient. Errors are `FolderError` with a fixed
reason token (safe for logs); the server's own words never leave the IMAP layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .imap.client import Mailbox, MailClient
from .imap.errors import ImapNoError

__all__ = [
    "SPECIAL_NAMES",
    "FolderError",
    "Reason",
    "check_name",
    "create_folder",
    "delete_folder",
    "ensure_special",
    "find_role",
    "rename_folder",
    "set_subscribed",
]

MAX_NAME = 200
Reason = Literal["invalid_name", "exists", "protected", "not_found", "refused"]
# The names given to a special-use mailbox created on demand.
SPECIAL_NAMES = {"junk": "Junk", "archive": "Archive"}
_USE = {"junk": "\\Junk", "archive": "\\Archive"}


@dataclass
class FolderError(Exception):
    reason: Reason

    def __str__(self) -> str:
        return f"folder operation refused ({self.reason})"


def check_name(name: str, delimiter: str | None) -> str:
    """A folder's own name (one level): trimmed, bounded, no control characters, no
    hierarchy delimiter, no wildcards, not "." or ".."."""
    clean = name.strip()
    if (
        not clean
        or len(clean) > MAX_NAME
        or any(ord(c) < 0x20 or c == "\x7f" for c in clean)
        or any(c in clean for c in "*%")
        or (delimiter and delimiter in clean)
        or clean in (".", "..")
        or clean.upper() == "INBOX"
    ):
        raise FolderError("invalid_name")
    return clean


def _by_path(boxes: list[Mailbox], path: str) -> Mailbox:
    for box in boxes:
        if box.path == path:
            return box
    raise FolderError("not_found")


def _delimiter(boxes: list[Mailbox]) -> str | None:
    for box in boxes:
        if box.delimiter:
            return box.delimiter
    return None


def _child_path(boxes: list[Mailbox], parent: str | None, name: str) -> str:
    delimiter = _delimiter(boxes)
    leaf = check_name(name, delimiter)
    if parent is None:
        return leaf
    box = _by_path(boxes, parent)
    if not delimiter:
        raise FolderError("refused")  # a flat server has no folders inside folders
    return f"{box.path}{box.delimiter or delimiter}{leaf}"


def _refused(exc: ImapNoError) -> FolderError:
    if exc.reason == "alreadyexists":
        return FolderError("exists")
    if exc.reason == "nonexistent":
        return FolderError("not_found")
    return FolderError("refused")


def _protected(box: Mailbox) -> bool:
    return box.path.upper() == "INBOX" or box.role is not None


async def create_folder(
    client: MailClient,
    name: str,
    parent: str | None = None,
    *,
    role: Literal["junk", "archive"] | None = None,
) -> str:
    """Create a folder; its path. With ``role``, marked as that special use where the
    server allows it (CREATE-SPECIAL-USE), else a plain folder."""
    boxes = await client.mailboxes()
    path = _child_path(boxes, parent, name)
    if any(b.path == path for b in boxes):
        raise FolderError("exists")
    try:
        await client.create_mailbox(path, use=_USE[role] if role else None)
    except ImapNoError as exc:
        raise _refused(exc) from None
    return path


async def rename_folder(
    client: MailClient, path: str, name: str, parent: str | Literal[False] | None = False
) -> str:
    """Rename (and with ``parent``, move: None for the top level, False to stay under the
    same parent); the new path. INBOX and special-use folders stay as they are."""
    boxes = await client.mailboxes()
    box = _by_path(boxes, path)
    if _protected(box):
        raise FolderError("protected")
    delimiter = box.delimiter or _delimiter(boxes)
    if parent is False:
        parent = path.rsplit(delimiter, 1)[0] if delimiter and delimiter in path else None
    new_path = _child_path(boxes, parent, name)
    if delimiter and (new_path + delimiter).startswith(path + delimiter) and new_path != path:
        raise FolderError("invalid_name")  # into itself
    if new_path == path:
        return path
    if any(b.path == new_path for b in boxes):
        raise FolderError("exists")
    try:
        await client.rename_mailbox(path, new_path, delimiter=delimiter)
    except ImapNoError as exc:
        raise _refused(exc) from None
    return new_path


async def delete_folder(client: MailClient, path: str) -> None:
    """Delete a folder (and, as the server decides, what is in it). INBOX and special-use
    folders are refused."""
    boxes = await client.mailboxes()
    box = _by_path(boxes, path)
    if _protected(box):
        raise FolderError("protected")
    try:
        await client.delete_mailbox(path, delimiter=box.delimiter or _delimiter(boxes))
    except ImapNoError as exc:
        raise _refused(exc) from None


async def set_subscribed(client: MailClient, path: str, on: bool) -> None:
    boxes = await client.mailboxes()
    _by_path(boxes, path)
    try:
        await client.subscribe(path, on)
    except ImapNoError as exc:
        raise _refused(exc) from None


def find_role(boxes: list[Mailbox], role: str) -> Mailbox | None:
    return next((b for b in boxes if b.role == role), None)


def _marked(box: Mailbox, role: Literal["junk", "archive"]) -> bool:
    return _USE[role].lower() in {f.lower() for f in box.flags}


def _top_level(box: Mailbox) -> bool:
    return not box.delimiter or box.delimiter not in box.path


async def ensure_special(client: MailClient, role: Literal["junk", "archive"]) -> str:
    """The path of the account's Junk or Archive folder, created when there is none.

    Archive is the mailbox marked ``\\Archive`` (RFC 6154), else a top-level one named as an
    archive ("Archive", "Archives"), else one made at the top level as "Archive"; a folder
    merely named so deeper down ("Projects/Archive") is used only when the server refuses
    to make one."""
    boxes = await client.mailboxes()
    box = find_role(boxes, role)
    name = SPECIAL_NAMES[role]
    if role == "junk":
        if box:
            return box.path
        if any(b.path == name for b in boxes):
            return name  # there, but not marked (a server without SPECIAL-USE)
    else:
        marked = next((b for b in boxes if _marked(b, role)), None)
        if marked:
            return marked.path
        if box and _top_level(box):
            return box.path
        top = next((b for b in boxes if b.path.lower() == name.lower()), None)
        if top:
            return top.path  # there, but not marked (a server with SPECIAL-USE)
    try:
        await client.create_mailbox(name, use=_USE[role])
    except ImapNoError as exc:
        if box is not None:
            return box.path
        raise _refused(exc) from None
    return name
