"""POST /api/session's body and the session object (API.md "Session")."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from mailgate.errors import BadRequest

from .base import RequestBody, ResponseBody
from .oidc import Provider

__all__ = [
    "Account",
    "DomainList",
    "Features",
    "Login",
    "Session",
    "SessionProbe",
    "SignedInWith",
    "UploadLimits",
]

# CR, LF and NUL would let a client smuggle protocol lines into the IMAP LOGIN.
_NO_BREAKS = "^[^\\x00\\r\\n]*$"


class Login(RequestBody):
    email: Annotated[str, Meta(min_length=3, max_length=320, pattern=_NO_BREAKS)]
    password: Annotated[str, Meta(min_length=1, max_length=1024, pattern=_NO_BREAKS)]

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return f"The field '{field}' is required and must be a string without line breaks."

    def check(self) -> None:
        # The pattern's `$` (in Python) lets one final newline through; refuse it here.
        for name, value in (("email", self.email), ("password", self.password)):
            if "\n" in value:
                raise BadRequest(self.invalid_message(name))
        if self.email != self.email.strip() or "@" not in self.email:
            raise BadRequest("The field 'email' is not an e-mail address.")


class Account(ResponseBody):
    email: str


class Features(ResponseBody):
    proxy: bool
    contacts: bool


class UploadLimits(ResponseBody):
    """The upload limits (config `limits`), for a client to show before a file is picked."""

    upload_max_bytes: int
    session_upload_max_bytes: int
    session_upload_max_files: int


class SignedInWith(ResponseBody):
    """The OpenID provider a session signed in through."""

    name: str
    # Where to end the sign-in at the provider as well ("" when it offers no such page).
    end_session_url: str


class Session(ResponseBody):
    account: Account
    csrf_token: str
    idle_timeout_s: float
    absolute_timeout_s: float
    features: Features
    limits: UploadLimits
    # Only for a session signed in through an OpenID provider.
    provider: SignedInWith | UnsetType = UNSET
    # Only in GET /api/session: the login answer is the start of the idle clock.
    idle_expires_in_s: float | UnsetType = UNSET


class SessionProbe(ResponseBody):
    # The live session (as GET /api/session answers it), or null when there is none:
    # a page finding out whether it is signed in is not an error.
    session: Session | None


class DomainList(ResponseBody):
    domains: list[str]
    # Domains that sign in through an OpenID provider (always listed: the login screen
    # offers "Sign in with …" for them), with or without the password form.
    providers: list[Provider]
