"""Sign-in through an OpenID provider: the bodies of POST /api/oidc/start and
POST /api/oidc/finish (docs/api.md "Sign-in with an identity provider")."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .base import RequestBody, ResponseBody

__all__ = ["OidcFinish", "OidcStart", "OidcStarted", "Provider"]

# What a provider hands back is opaque ASCII; nothing longer than a URL could carry.
_OPAQUE = "^[\\x21-\\x7e]+$"


class OidcStart(RequestBody):
    domain: Annotated[str, Meta(min_length=1, max_length=253, pattern="^[a-z0-9.-]+$")]

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return f"The field '{field}' is required and must be a mail domain."


class OidcStarted(ResponseBody):
    # Where to send the browser: the provider's authorization endpoint with this flow.
    authorization_url: str
    # Kept by the starting page (sessionStorage) and sent back with the callback's code.
    binding: str


class OidcFinish(RequestBody):
    code: Annotated[str, Meta(min_length=1, max_length=4096, pattern=_OPAQUE)]
    state: Annotated[str, Meta(min_length=1, max_length=512, pattern=_OPAQUE)]
    binding: Annotated[str, Meta(min_length=1, max_length=512, pattern=_OPAQUE)]
    # RFC 9207's `iss` callback parameter, when the provider sends one.
    iss: Annotated[str, Meta(max_length=2048, pattern="^[\\x21-\\x7e]*$")] = ""

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return f"The field '{field}' is missing or not what the identity provider sent."


class Provider(ResponseBody):
    domain: str
    # "Sign in with …"
    name: str
    # Whether the password form is offered for this domain too.
    passwords: bool
