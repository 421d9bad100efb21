"""The route table of the HTTP API: every operation, its parameters and answers, naming the
declared body types (mailgate/api/models/) instead of spelling out schemas.

`ROUTES` maps path -> (the feature module that serves it, method -> Operation); the module
lets mailgate/api/openapi.py leave out features that are absent or disabled, and check
the rest against the router. Every 4xx/5xx an operation lists carries the one error body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailgate.api.messages import DOWNLOAD_TYPES
from mailgate.mail.imap.client import SORTS

from .models.compose import (
    Compose,
    Draft,
    DraftContent,
    DraftSaved,
    ReceiptAnswer,
    ReceiptDone,
    Sent,
)
from .models.contacts import ContactIn, ContactList, ContactOut, SuggestionList
from .models.conversations import (
    ConversationActed,
    ConversationAction,
    ConversationPage,
    ConversationView,
)
from .models.health import Alive, Ready
from .models.mailboxes import (
    Emptied,
    Mailbox,
    MailboxCreate,
    MailboxList,
    MailboxUpdate,
    MessagePage,
    QuotaAnswer,
    SearchPage,
    Subscription,
)
from .models.messages import (
    BulkActed,
    BulkAction,
    FlagsUpdate,
    HeaderList,
    Message,
    Move,
    Moved,
    Summary,
)
from .models.oidc import OidcFinish, OidcStart, OidcStarted
from .models.preferences import Preferences, PreferencesAnswer
from .models.session import DomainList, Login, Session, SessionProbe
from .models.sieve import FiltersAnswer, FiltersPut, SieveStatus, VacationAnswer, VacationPut
from .models.uploads import Upload, UploadForm, UploadList

__all__ = ["JSON", "ROUTES", "UNSAFE", "Answer", "Operation", "Param"]

JSON = "application/json"
UNSAFE = frozenset({"post", "put", "patch", "delete"})


@dataclass(frozen=True)
class Answer:
    """One success answer: a JSON body of `body` type, or other media with a plain schema."""

    description: str
    body: Any = None  # a type msgspec can describe (usually a ResponseBody)
    media: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" or "query"
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    op_id: str
    summary: str
    tag: str
    ok: Mapping[int, Answer]
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    body: Any = None  # the request body type (JSON unless body_media says otherwise)
    body_media: str = JSON
    public: bool = False  # no session needed


def _path(name: str) -> Param:
    return Param(name, "path", {"type": "string"})


def _q(name: str, schema: dict[str, Any], description: str) -> Param:
    return Param(name, "query", schema, description)


_NO_CONTENT = Answer("Done; no body.")
_TEXT = {"schema": {"type": "string"}}
_DOWNLOAD = {
    "Content-Disposition": {
        "required": True,
        "schema": {"type": "string", "pattern": "^attachment"},
    }
}
# What any handler behind require_session can answer besides its own errors.
_SESSION = (401, 503)
_UNSAFE = (400, 401, 403, 413, 415, 503)
_MESSAGE = (400, 404, 409, 502)
_MSG = (_path("message_id"),)
_M = "messages"

ROUTES: dict[str, tuple[str, dict[str, Operation]]] = {
    "/api/session": (
        "session",
        {
            "post": Operation(
                "login",
                "Log in with an existing mail account; sets the session cookie.",
                "session",
                {201: Answer("Logged in; the cookie is set.", Session)},
                (400, 401, 403, 413, 415, 429, 502, 503),
                body=Login,
                public=True,
            ),
            "get": Operation(
                "get_session",
                "The live session (counts as activity).",
                "session",
                {200: Answer("The session.", Session)},
                _SESSION,
            ),
            "delete": Operation(
                "logout",
                "Log out: wipe the session, expire the cookie, send Clear-Site-Data.",
                "session",
                {204: _NO_CONTENT},
                (401, 403, 503),
            ),
        },
    ),
    "/api/session/probe": (
        "session",
        {
            "get": Operation(
                "probe_session",
                "Whether this page is signed in: the live session (counts as activity) or null, "
                "a 200 either way.",
                "session",
                {200: Answer("The session, or null.", SessionProbe)},
                (503,),
                public=True,
            )
        },
    ),
    "/api/domains": (
        "session",
        {
            "get": Operation(
                "list_domains",
                "The mail domains this server serves, for the login screen: empty unless the "
                "operator allows showing them (domains.show_on_login).",
                "session",
                {200: Answer("Domains.", DomainList)},
                public=True,
            )
        },
    ),
    "/api/oidc/start": (
        "oidc",
        {
            "post": Operation(
                "start_oidc",
                "Start signing in through a domain's OpenID provider: the provider's "
                "authorization URL and the binding the page keeps for the callback. No cookie.",
                "session",
                {200: Answer("The flow.", OidcStarted)},
                (400, 403, 413, 415, 502),
                body=OidcStart,
                public=True,
            )
        },
    ),
    "/api/oidc/finish": (
        "oidc",
        {
            "post": Operation(
                "finish_oidc",
                "Finish signing in: the provider's code and state with the starting page's "
                "binding; sets the session cookie.",
                "session",
                {201: Answer("Signed in; the cookie is set.", Session)},
                (400, 401, 403, 413, 415, 502, 503),
                body=OidcFinish,
                public=True,
            )
        },
    ),
    "/api/mailboxes": (
        "mailboxes",
        {
            "get": Operation(
                "list_mailboxes",
                "All mailboxes of the account.",
                "mailboxes",
                {200: Answer("Mailboxes.", MailboxList)},
                (*_SESSION, 502),
            ),
            "post": Operation(
                "create_mailbox",
                "Create a folder (under a parent, or a special-use Junk or Archive folder).",
                "mailboxes",
                {201: Answer("The new folder.", Mailbox)},
                (*_UNSAFE, 404, 409, 422, 502),
                body=MailboxCreate,
            ),
        },
    ),
    "/api/quota": (
        "mailboxes",
        {
            "get": Operation(
                "get_quota",
                "Storage and message quota of the account, where the server offers QUOTA.",
                "mailboxes",
                {200: Answer("Usage and limits, null where none.", QuotaAnswer)},
                (*_SESSION, 502),
            ),
        },
    ),
    "/api/mailboxes/{mailbox_id}": (
        "mailboxes",
        {
            "patch": Operation(
                "update_mailbox",
                "Rename a folder, or move it in the hierarchy.",
                "mailboxes",
                {200: Answer("The folder as it is now.", Mailbox)},
                (*_UNSAFE, 404, 409, 422, 502),
                (_path("mailbox_id"),),
                body=MailboxUpdate,
            ),
            "delete": Operation(
                "delete_mailbox",
                "Delete a folder (never INBOX or a special-use folder).",
                "mailboxes",
                {204: _NO_CONTENT},
                (400, 401, 403, 503, 404, 409, 422, 502),
                (_path("mailbox_id"),),
            ),
        },
    ),
    "/api/mailboxes/{mailbox_id}/empty": (
        "mailboxes",
        {
            "post": Operation(
                "empty_mailbox",
                "Delete every message in Trash or Junk for good.",
                "mailboxes",
                {200: Answer("How many were deleted.", Emptied)},
                (*_UNSAFE, 404, 502),
                (_path("mailbox_id"),),
            ),
        },
    ),
    "/api/mailboxes/{mailbox_id}/subscription": (
        "mailboxes",
        {
            "put": Operation(
                "put_subscription",
                "Subscribe to a folder or unsubscribe from it.",
                "mailboxes",
                {204: _NO_CONTENT},
                (*_UNSAFE, 404, 422, 502),
                (_path("mailbox_id"),),
                body=Subscription,
            ),
        },
    ),
    "/api/mailboxes/{mailbox_id}/messages": (
        "mailboxes",
        {
            "get": Operation(
                "list_messages",
                "One page of message summaries, optionally searched.",
                "mailboxes",
                {200: Answer("A page.", MessagePage)},
                (400, 404, *_SESSION, 502),
                (
                    _path("mailbox_id"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size."),
                    _q("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "Skip."),
                    _q("q", {"type": "string", "maxLength": 256}, "Search text."),
                    _q("sort", {"enum": list(SORTS)}, "Order."),
                ),
            )
        },
    ),
    "/api/search": (
        "search",
        {
            "get": Operation(
                "search_messages",
                "Search with filters in one mailbox or in all (but Junk and Trash), newest "
                "first by sent date; at least one term or filter.",
                "mailboxes",
                {200: Answer("A page of found messages, each with its mailbox.", SearchPage)},
                (400, 404, *_SESSION, 502),
                (
                    _q("q", {"type": "string", "maxLength": 256}, "Anywhere."),
                    _q("from", {"type": "string", "maxLength": 256}, "In the sender."),
                    _q("to", {"type": "string", "maxLength": 256}, "In To, Cc or Bcc."),
                    _q("subject", {"type": "string", "maxLength": 256}, "In the subject."),
                    _q("body", {"type": "string", "maxLength": 256}, "In the body."),
                    _q("since", {"type": "string", "format": "date"}, "Sent on or after."),
                    _q("until", {"type": "string", "format": "date"}, "Sent on or before."),
                    _q("unread", {"type": "boolean"}, "Only unread."),
                    _q("flagged", {"type": "boolean"}, "Only flagged."),
                    _q("attachment", {"type": "boolean"}, "Only with attachments."),
                    _q("mailbox", {"type": "string", "maxLength": 1000}, "Only this mailbox."),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Page size."),
                    _q("offset", {"type": "integer", "minimum": 0, "maximum": 400}, "Skip."),
                ),
            )
        },
    ),
    "/api/mailboxes/{mailbox_id}/conversations": (
        "conversations",
        {
            "get": Operation(
                "list_conversations",
                "One page of the mailbox's conversations (threads with the user's replies "
                "from Sent), newest first.",
                "conversations",
                {200: Answer("A page.", ConversationPage)},
                (400, 404, *_SESSION, 502),
                (
                    _path("mailbox_id"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size."),
                    _q("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "Skip."),
                ),
            )
        },
    ),
    "/api/conversations/{conversation_id}": (
        "conversations",
        {
            "get": Operation(
                "get_conversation",
                "One conversation and its messages (summaries, oldest first, with mailbox).",
                "conversations",
                {200: Answer("The conversation.", ConversationView)},
                (*_MESSAGE, *_SESSION),
                (_path("conversation_id"),),
            )
        },
    ),
    "/api/conversations/{conversation_id}/actions": (
        "conversations",
        {
            "post": Operation(
                "conversation_action",
                "Mark read or unread, flag or unflag, move or delete every message of a "
                "conversation.",
                "conversations",
                {200: Answer("How many messages the action reached.", ConversationActed)},
                (*_MESSAGE, *_UNSAFE),
                (_path("conversation_id"),),
                body=ConversationAction,
            )
        },
    ),
    "/api/messages/actions": (
        "messages",
        {
            "post": Operation(
                "message_actions",
                "Mark read or unread, flag or unflag, move, delete, mark as junk, archive or "
                "restore up to 200 messages; a result (new id or error code) for each.",
                _M,
                {200: Answer("What became of each message.", BulkActed)},
                (400, 404, 502, *_UNSAFE),
                body=BulkAction,
            )
        },
    ),
    "/api/messages/{message_id}": (
        "messages",
        {
            "get": Operation(
                "get_message",
                "One message; marks it seen unless peek=1.",
                _M,
                {200: Answer("The message.", Message)},
                (*_MESSAGE, *_SESSION),
                (*_MSG, _q("peek", {"enum": ["1", "true", "0"]}, "Do not mark as seen.")),
            ),
            "patch": Operation(
                "update_flags",
                "Set or clear the seen and flagged flags.",
                _M,
                {200: Answer("The updated summary.", Summary)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
                body=FlagsUpdate,
            ),
            "delete": Operation(
                "delete_message",
                "Move to Trash, or remove for good when already in Trash.",
                _M,
                {204: _NO_CONTENT},
                (*_MESSAGE, 401, 403, 503),
                _MSG,
            ),
        },
    ),
    "/api/messages/{message_id}/body.html": (
        "messages",
        {
            "get": Operation(
                "get_body_html",
                "The sanitized HTML body as a standalone document with its own CSP.",
                _M,
                {200: Answer("The document.", media={"text/html": _TEXT})},
                (*_MESSAGE, *_SESSION),
                (*_MSG, _q("remote", {"enum": ["allow"]}, "Load remote images via proxy.")),
            )
        },
    ),
    "/api/messages/{message_id}/raw": (
        "messages",
        {
            "get": Operation(
                "get_raw",
                "The original message, streamed as an attachment.",
                _M,
                {
                    200: Answer(
                        "The message source.", media={"message/rfc822": _TEXT}, headers=_DOWNLOAD
                    )
                },
                (*_MESSAGE, *_SESSION),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/headers": (
        "messages",
        {
            "get": Operation(
                "get_headers",
                "Every header field of the message, in order, values decoded.",
                _M,
                {200: Answer("The header fields.", HeaderList)},
                (*_MESSAGE, *_SESSION),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/parts/{part}": (
        "messages",
        {
            "get": Operation(
                "get_part",
                "One attachment, streamed; a short list of types keeps its own, others are "
                "application/octet-stream.",
                _M,
                {
                    200: Answer(
                        "The part's decoded bytes.",
                        media={
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in ("application/octet-stream", *sorted(DOWNLOAD_TYPES))
                        },
                        headers=_DOWNLOAD,
                    )
                },
                (*_MESSAGE, *_SESSION),
                (*_MSG, _path("part")),
            )
        },
    ),
    "/api/messages/{message_id}/parts/{part}/preview": (
        "messages",
        {
            "get": Operation(
                "get_preview",
                "A preview of an image attachment or of a PDF's first page: a PNG at most 320 "
                "pixels wide and high, made by a reading worker; 404 for a part that is no "
                "PNG, JPEG, GIF, WebP or PDF, an image over 10 MiB or 40 megapixels, a PDF "
                "over 20 MiB, encrypted, without pages or with a first page outside 1 to "
                "14,400 points on a side, or a part that does not decode.",
                _M,
                {
                    200: Answer(
                        "The preview.",
                        media={"image/png": {"schema": {"type": "string", "format": "binary"}}},
                    )
                },
                (*_MESSAGE, *_SESSION),
                (*_MSG, _path("part")),
            )
        },
    ),
    "/api/messages/{message_id}/draft": (
        "messages",
        {
            "get": Operation(
                "get_draft",
                "A saved message (usually a draft) as compose fields; its attachments are "
                "copied into this session's uploads and answered as upload ids.",
                _M,
                {200: Answer("The compose fields.", DraftContent)},
                (*_MESSAGE, 413, *_SESSION),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/attachment": (
        "messages",
        {
            "post": Operation(
                "attach_message",
                "The message, whole, as a new upload of this session (to forward it as an "
                "attachment): message/rfc822 when it is 7-bit clean, else an .eml file.",
                _M,
                {201: Answer("Stored.", Upload)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/move": (
        "messages",
        {
            "post": Operation(
                "move_message",
                "Move to another mailbox; answers the new id (null if the server did not say).",
                _M,
                {200: Answer("The new id.", Moved)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
                body=Move,
            )
        },
    ),
    "/api/messages/{message_id}/junk": (
        "messages",
        {
            "post": Operation(
                "junk_message",
                "Mark as junk: set $Junk (clear $NotJunk), move to Junk (made on demand).",
                _M,
                {200: Answer("The new id.", Moved)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/not-junk": (
        "messages",
        {
            "post": Operation(
                "not_junk_message",
                "Not junk: set $NotJunk (clear $Junk) and move to the inbox; the new id.",
                _M,
                {200: Answer("The new id.", Moved)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/archive": (
        "messages",
        {
            "post": Operation(
                "archive_message",
                "Move to the Archive folder (the \\Archive mailbox, else a top-level Archive "
                "made on demand); the new id.",
                _M,
                {200: Answer("The new id.", Moved)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
            )
        },
    ),
    "/api/messages/{message_id}/restore": (
        "messages",
        {
            "post": Operation(
                "restore_message",
                "Move back to where mailgate moved it from, else to the inbox.",
                _M,
                {200: Answer("The new id.", Moved)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
            )
        },
    ),
    "/api/uploads": (
        "uploads",
        {
            "post": Operation(
                "upload",
                "Store one file (multipart field `file`) encrypted for this session.",
                "uploads",
                {201: Answer("Stored.", Upload)},
                (*_UNSAFE, 507),
                body=UploadForm,
                body_media="multipart/form-data",
            ),
            "get": Operation(
                "list_uploads",
                "This session's uploads.",
                "uploads",
                {200: Answer("Uploads.", UploadList)},
                _SESSION,
            ),
        },
    ),
    "/api/uploads/{upload_id}": (
        "uploads",
        {
            "delete": Operation(
                "delete_upload",
                "Remove one upload.",
                "uploads",
                {204: _NO_CONTENT},
                (404, 401, 403, 503),
                (_path("upload_id"),),
            )
        },
    ),
    "/api/send": (
        "send",
        {
            "post": Operation(
                "send",
                "Send over the account's SMTP submission server, then save to Sent.",
                "compose",
                {200: Answer("Sent.", Sent)},
                (*_UNSAFE, 404, 409, 502),
                body=Compose,
            )
        },
    ),
    "/api/messages/{message_id}/receipt": (
        "send",
        {
            "post": Operation(
                "answer_receipt",
                "Send the read receipt a message asks for (an RFC 8098 MDN), or decline it; "
                "either way the message is flagged $MDNSent and not asked again.",
                "compose",
                {200: Answer("Answered.", ReceiptDone)},
                (*_MESSAGE, *_UNSAFE),
                _MSG,
                body=ReceiptAnswer,
            )
        },
    ),
    "/api/drafts": (
        "send",
        {
            "post": Operation(
                "save_draft",
                "Save to the Drafts mailbox (replacing an earlier draft when `replaces` is given).",
                "compose",
                {201: Answer("Saved.", DraftSaved)},
                (*_UNSAFE, 404, 409, 502),
                body=Draft,
            )
        },
    ),
    "/api/preferences": (
        "preferences",
        {
            "get": Operation(
                "get_preferences",
                "The stored preferences and when they will be erased without a login.",
                "preferences",
                {200: Answer("Preferences.", PreferencesAnswer)},
                _SESSION,
            ),
            "put": Operation(
                "put_preferences",
                "Replace the preferences.",
                "preferences",
                {200: Answer("Stored.", PreferencesAnswer)},
                _UNSAFE,
                body=Preferences,
            ),
            "delete": Operation(
                "delete_preferences",
                "Erase the preferences at once.",
                "preferences",
                {204: _NO_CONTENT},
                (401, 403, 503),
            ),
        },
    ),
    "/api/events": (
        "events",
        {
            "get": Operation(
                "events",
                "Server-sent `mailbox` events when new mail arrives; not activity.",
                "events",
                {200: Answer("An event stream.", media={"text/event-stream": _TEXT})},
                (*_SESSION, 502),
            )
        },
    ),
    "/api/proxy/image": (
        "proxy",
        {
            "get": Operation(
                "get_proxied_image",
                "A remote image of a message, fetched by the privacy proxy. The URL is signed "
                "for one session and message by body.html?remote=allow; no cookie needed, "
                "not activity. 404 when the operator has not enabled the proxy.",
                "proxy",
                {
                    200: Answer(
                        "The image (PNG, JPEG, GIF or WebP, by content).",
                        media={
                            t: _TEXT for t in ("image/png", "image/jpeg", "image/gif", "image/webp")
                        },
                    )
                },
                (403, 404, 502, 503),
                (
                    _q("u", {"type": "string"}, "The image URL (signed)."),
                    _q("s", {"type": "string"}, "The session it is signed for."),
                    _q("m", {"type": "string"}, "The message it is signed for."),
                    _q("e", {"type": "string"}, "Expiry, Unix seconds."),
                    _q("t", {"type": "string"}, "The signature."),
                ),
                public=True,
            )
        },
    ),
    "/api/openapi.json": (
        "openapi",
        {
            "get": Operation(
                "openapi",
                "This document.",
                "operations",
                {200: Answer("The OpenAPI document.", dict[str, Any])},
                public=True,
            )
        },
    ),
    # Filters and vacation replies over ManageSieve (mailgate/api/sieve.py). 404
    # sieve_unavailable: the account's domain has no ManageSieve server; 409: another
    # program's script is active and `activate` was not true, or a script named mailgate is
    # not mailgate's; 502: unreachable, no verified TLS, or the server refused the script
    # (sieve_refused, with its own message).
    "/api/sieve": (
        "sieve",
        {
            "get": Operation(
                "get_sieve",
                "Whether filters and vacation replies are available, and whose script is "
                "active (another program's is shown read-only as text).",
                "sieve",
                {200: Answer("The status.", SieveStatus)},
                (*_SESSION, 502),
            )
        },
    ),
    "/api/sieve/vacation": (
        "sieve",
        {
            "get": Operation(
                "get_vacation",
                "The vacation reply in mailgate's script.",
                "sieve",
                {200: Answer("It.", VacationAnswer)},
                (*_SESSION, 404, 502),
            ),
            "put": Operation(
                "put_vacation",
                "Replace the vacation reply; `activate` replaces another program's active "
                "script (which stays stored).",
                "sieve",
                {200: Answer("Saved.", VacationAnswer)},
                (*_UNSAFE, 404, 409, 502),
                body=VacationPut,
            ),
        },
    ),
    "/api/sieve/filters": (
        "sieve",
        {
            "get": Operation(
                "get_filters",
                "The filters in mailgate's script, in order.",
                "sieve",
                {200: Answer("They.", FiltersAnswer)},
                (*_SESSION, 404, 502),
            ),
            "put": Operation(
                "put_filters",
                "Replace the filters; `activate` replaces another program's active script.",
                "sieve",
                {200: Answer("Saved.", FiltersAnswer)},
                (*_UNSAFE, 404, 409, 502),
                body=FiltersPut,
            ),
        },
    ),
    # Contacts in the account's CardDAV address book (mailgate/api/contacts.py); nothing
    # is kept by mailgate. 404 contacts_unavailable: no address book for this account;
    # 502: unreachable, refused the account, or no verified TLS (upstream_tls_failed).
    "/api/contacts": (
        "contacts",
        {
            "get": Operation(
                "list_contacts",
                "The address book's contacts, those matching `q` (name or address) if given.",
                "contacts",
                {200: Answer("They (`available: false`: no address book).", ContactList)},
                (*_SESSION, 400, 502),
                params=(_q("q", {"type": "string", "maxLength": 200}, "Search text."),),
            ),
            "post": Operation(
                "create_contact",
                "Add a contact to the address book.",
                "contacts",
                {201: Answer("Added.", ContactOut)},
                (*_UNSAFE, 404, 502),
                body=ContactIn,
            ),
        },
    ),
    "/api/contacts/suggest": (
        "contacts",
        {
            "get": Operation(
                "suggest_addresses",
                "Up to 10 addresses matching `q`: contacts of the address book, then people "
                "written to and heard from recently (learned from the mailbox this session, "
                "kept only in memory until it ends).",
                "contacts",
                {200: Answer("They.", SuggestionList)},
                (*_SESSION, 400, 502),
                params=(_q("q", {"type": "string", "maxLength": 200}, "What was typed."),),
            ),
        },
    ),
    "/api/contacts/{contact_id}": (
        "contacts",
        {
            "put": Operation(
                "update_contact",
                "Change a contact's name, addresses and phone numbers (other vCard "
                "properties are kept).",
                "contacts",
                {200: Answer("Saved.", ContactOut)},
                (*_UNSAFE, 404, 409, 502),
                params=(_path("contact_id"),),
                body=ContactIn,
            ),
            "delete": Operation(
                "delete_contact",
                "Remove a contact from the address book.",
                "contacts",
                {204: _NO_CONTENT},
                (*_UNSAFE, 404, 502),
                params=(_path("contact_id"),),
            ),
        },
    ),
    "/healthz": (
        "health",
        {
            "get": Operation(
                "healthz",
                "Liveness; no personal data.",
                "operations",
                {200: Answer("Alive.", Alive)},
                public=True,
            )
        },
    ),
    "/readyz": (
        "health",
        {
            "get": Operation(
                "readyz",
                "Readiness: the session store and the IMAP server are reachable.",
                "operations",
                {
                    200: Answer("Ready.", Ready),
                    503: Answer("Not ready; `checks` says what is missing.", Ready),
                },
                public=True,
            )
        },
    ),
    "/metrics": (
        "metrics",
        {
            "get": Operation(
                "metrics",
                "Prometheus text, aggregate counters only (when enabled).",
                "operations",
                {200: Answer("Metrics.", media={"text/plain": _TEXT})},
                public=True,
            )
        },
    ),
}
