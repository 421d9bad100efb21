"""The two kinds of body type, the one error body, and decoding a request body into a type.

A request body type is a closed msgspec Struct: unknown fields are a 400, and every value
is checked strictly (no "50" for 50, no true for 1) against the bounds declared on its
field. What JSON Schema cannot say (a UTF-8 size, an address that parses, a list without
repeats) goes in the type's `check()`, next to the fields it concerns.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, TypeVar

import msgspec
from aiohttp import web

from mailgate.errors import BadRequest
from mailgate.http.json_io import read_json

__all__ = [
    "Error",
    "ErrorDetail",
    "RequestBody",
    "ResponseBody",
    "decode_body",
    "read_body",
]

Body = TypeVar("Body", bound="RequestBody")

# msgspec ends a validation message with the path of the value, e.g. " - at `$.to[0]`";
# a missing field is named in the message itself. Only our own field names are kept.
_AT_FIELD = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_MISSING_FIELD = re.compile(r"missing required field `([A-Za-z_][A-Za-z0-9_]*)`")


class RequestBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A JSON object a client sends. Subclasses declare fields; the messages below are the
    fixed sentences a 400 carries (never the client's input, except a field name we own)."""

    unknown_field_message: ClassVar[str] = "The body has a field this endpoint does not take."

    @classmethod
    def invalid_message(cls, field: str) -> str:
        """The 400 message for a value of `field` that breaks its declared type or bounds."""
        return f"The field '{field}' is not valid."

    @classmethod
    def unknown_message(cls, key: str) -> str:
        return cls.unknown_field_message

    def check(self) -> None:
        """Rules JSON Schema cannot express; raise BadRequest naming the field."""


class ResponseBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A JSON object the server answers: closed, so the document says exactly what comes."""


class ErrorDetail(ResponseBody):
    code: Annotated[str, msgspec.Meta(pattern="^[a-z_]+$")]
    message: str
    # The request body's field at fault (its JSON name), where one is.
    field: str | msgspec.UnsetType = msgspec.UNSET


class Error(ResponseBody):
    """Every 4xx and 5xx body (mailgate/errors.py)."""

    error: ErrorDetail


def _field_of(error: msgspec.ValidationError, fields: tuple[str, ...]) -> str | None:
    text = str(error)
    found = _AT_FIELD.search(text) or _MISSING_FIELD.search(text)
    if found is None or found.group(1) not in fields:
        return None
    return found.group(1)


def decode_body(data: Any, model: type[Body]) -> Body:
    """`data` (parsed JSON) as a `model`, or BadRequest with the model's message."""
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    fields = model.__struct_encode_fields__
    for key in data:
        if key not in fields:
            raise BadRequest(model.unknown_message(key))
    try:
        body = msgspec.convert(data, model, strict=True)
    except msgspec.ValidationError as exc:
        field = _field_of(exc, fields)
        if field is None:
            raise BadRequest("The request is not valid.") from None
        raise BadRequest(model.invalid_message(field), field=field) from None
    body.check()
    return body


async def read_body(request: web.Request, model: type[Body], max_bytes: int) -> Body:
    """The request's JSON body as a `model`: media type, size limit, no duplicate keys,
    valid Unicode, then the model's fields and rules; every failure a 4xx."""
    return decode_body(await read_json(request, max_bytes), model)
