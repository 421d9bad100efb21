"""One exception type per API error code; the error middleware maps them to HTTP.

Messages are fixed, readable sentences chosen by us. They never carry user data,
upstream server text or secrets, so they are safe to show and to log. The code stays the
same in every language; `message_in` gives the message in the request's language (the
catalogs' `error.<code>` texts, see mailgate/i18n.py).
"""

from __future__ import annotations

from mailgate.i18n import error_message

__all__ = [
    "ApiError",
    "AuthFailed",
    "AuthRequired",
    "BadRequest",
    "ContactChanged",
    "ContactsNotConfigured",
    "ContactsUnreachable",
    "CsrfFailed",
    "Forbidden",
    "ImageUnavailable",
    "InvalidFolderName",
    "MailboxExists",
    "MailboxProtected",
    "MailboxRefused",
    "MethodNotAllowed",
    "NotFound",
    "PasswordsDisabled",
    "PayloadTooLarge",
    "SenderRefused",
    "SieveForeignActive",
    "SieveNameTaken",
    "SieveNotConfigured",
    "SieveUnreachable",
    "SignInFailed",
    "StaleMessage",
    "StorageFull",
    "StoreUnavailable",
    "TooManyRequests",
    "UnsupportedMediaType",
    "UpstreamRejected",
    "UpstreamTlsFailed",
    "UpstreamUnavailable",
]


class ApiError(Exception):
    """An error a client can cause or be told about; never a 500."""

    status: int = 500
    code: str = "internal_error"
    default_message: str = "Something went wrong on the server."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        field: str | None = None,
    ):
        self.message = message or self.default_message
        self.headers = headers or {}
        # The request body's field at fault, by its JSON name: a form can mark that input
        # and name it by the label the user sees.
        self.field = field
        super().__init__(self.message)

    def message_in(self, language: str) -> str:
        """The message in `language`, looked up by the code."""
        return error_message(self.code, language, self.message)

    def body(self, language: str = "en") -> dict[str, dict[str, str]]:
        detail = {"code": self.code, "message": self.message_in(language)}
        if self.field is not None:
            detail["field"] = self.field
        return {"error": detail}


class BadRequest(ApiError):
    status, code = 400, "bad_request"
    default_message = "The request is not valid."


class AuthRequired(ApiError):
    status, code = 401, "auth_required"
    default_message = "Sign in first; there is no live session."


class AuthFailed(ApiError):
    status, code = 401, "auth_failed"
    default_message = "The mail server did not accept that e-mail address and password."


class SignInFailed(ApiError):
    """A sign-in through an OpenID provider that cannot be completed: an unknown, used or
    expired flow, a callback from another browser, or a token that does not verify."""

    status, code = 400, "sign_in_failed"
    default_message = (
        "The sign-in with the identity provider could not be completed. Please start again."
    )


class PasswordsDisabled(ApiError):
    status, code = 403, "passwords_disabled"
    default_message = "This domain signs in through its identity provider, not with a password."


class CsrfFailed(ApiError):
    status, code = 403, "csrf_failed"
    default_message = "The request did not come from this site or lacks its CSRF token."


class NotFound(ApiError):
    status, code = 404, "not_found"
    default_message = "There is nothing here."


class Forbidden(ApiError):
    status, code = 403, "forbidden"
    default_message = "This link is not valid for a live session."


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"
    default_message = "This method is not allowed here."


class StaleMessage(ApiError):
    status, code = 409, "stale_message"
    default_message = "That message id is no longer valid; reload the list."


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"
    default_message = "The request is larger than the limit."


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    default_message = "The request body has a media type this endpoint does not take."


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"
    default_message = "Too many attempts; wait a while and try again."

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = retry_after


class UpstreamUnavailable(ApiError):
    status, code = 502, "upstream_unavailable"
    default_message = "The mail server could not be reached."


class UpstreamTlsFailed(ApiError):
    status, code = 502, "upstream_tls_failed"
    default_message = "The mail server could not be reached over a verified TLS connection."


class UpstreamRejected(ApiError):
    status, code = 502, "upstream_rejected"
    default_message = "The mail server refused the request."
    # Set by SMTP submission (mail/smtp.py): the server's reply code and, when recipients
    # were refused, their indexes in the envelope.
    smtp_code: int | None = None
    refused_indexes: list[int] | None = None


class SenderRefused(ApiError):
    """The SMTP server does not let this login send from the chosen address (MAIL FROM
    refused): a choice the user can change, so a 4xx, not a failure of the server."""

    status, code = 403, "sender_refused"
    default_message = (
        "The mail server does not allow sending from this address with this login; "
        "choose another identity or ask the server's operator."
    )
    smtp_code: int | None = None


class ImageUnavailable(ApiError):
    status, code = 502, "image_refused"
    default_message = "The remote image could not be loaded safely."


class StoreUnavailable(ApiError):
    status, code = 503, "store_unavailable"
    default_message = "The session store is unavailable; try again in a moment."


class StorageFull(ApiError):
    status, code = 507, "storage_full"
    default_message = "The server has no room to store this right now."


class MailboxExists(ApiError):
    status, code = 409, "mailbox_exists"
    default_message = "A folder with that name already exists there."


class MailboxProtected(ApiError):
    status, code = 409, "mailbox_protected"
    default_message = (
        "The inbox and special folders (Sent, Drafts, Trash, Junk, Archive) cannot be "
        "renamed or deleted."
    )


class MailboxRefused(ApiError):
    status, code = 422, "mailbox_refused"
    default_message = "The mail server refused that folder name or operation."


class InvalidFolderName(ApiError):
    status, code = 400, "invalid_folder_name"
    default_message = (
        "That folder name cannot be used: it must not be empty, contain the hierarchy "
        "separator, * or %, or be . or .."
    )


# The address book (CardDAV) and the filter server (ManageSieve). A code shared by two
# classes has one catalog sentence: the later class's, written to fit both.
class ContactsNotConfigured(ApiError):
    status, code = 404, "contacts_unavailable"
    default_message = "There is no address book for this account."


class ContactsUnreachable(ApiError):
    status, code = 502, "contacts_unavailable"
    default_message = "The address book is not available right now."


class ContactChanged(ApiError):
    status, code = 409, "contact_changed"
    default_message = "The contact was changed elsewhere meanwhile; reload and try again."


class SieveNotConfigured(ApiError):
    status, code = 404, "sieve_unavailable"
    default_message = "Filters and vacation replies are not available on this server."


class SieveUnreachable(ApiError):
    status, code = 502, "sieve_unavailable"
    default_message = "Filters and vacation replies are not available right now."


class SieveForeignActive(ApiError):
    status, code = 409, "sieve_foreign_active"
    default_message = "Another program's filter script is active."


class SieveNameTaken(ApiError):
    status, code = 409, "sieve_name_taken"
    default_message = (
        "A filter script named \u201cmailgate\u201d was written by another program; "
        "mailgate does not overwrite it."
    )
