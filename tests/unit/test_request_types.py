"""The declared body types (mailgate/api/models/): what they accept and refuse, what a 400
says, and that the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mailgate.api.models.base import RequestBody, ResponseBody, decode_body
from mailgate.api.models.compose import MAX_ATTACHMENTS, Compose, Draft
from mailgate.api.models.messages import FlagsUpdate, Move
from mailgate.api.models.preferences import Preferences
from mailgate.api.models.session import Login
from mailgate.api.openapi_document import document, schemas
from mailgate.api.operations import ROUTES
from mailgate.errors import ApiError, BadRequest, NotFound, PayloadTooLarge

CANARY = "Canary-7f3a"
REQUEST_TYPES = sorted(
    {op.body for _, ops in ROUTES.values() for op in ops.values() if op.body is not None},
    key=lambda t: t.__name__,
)
JSON_REQUEST_TYPES = [t for t in REQUEST_TYPES if issubclass(t, RequestBody)]


def _refused(model: type[RequestBody], data: Any) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        body = decode_body(data, model)
        if isinstance(body, Compose):
            body.to_request(100)
    return caught.value


@pytest.mark.parametrize("model", JSON_REQUEST_TYPES, ids=lambda t: t.__name__)
def test_every_request_type_refuses_unknown_fields_and_non_objects(
    model: type[RequestBody],
) -> None:
    error = _refused(model, {f"x{CANARY}": 1})
    assert error.status == 400 and error.code == "bad_request"
    assert CANARY not in error.message
    assert _refused(model, [1, 2]).message == "The body must be a JSON object."


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Preferences, {"page_size": True}, "page_size"),
        (Preferences, {"page_size": "50"}, "page_size"),
        (Preferences, {"page_size": 9}, "page_size"),
        (Preferences, {"page_size": 201}, "page_size"),
        (Preferences, {"theme": CANARY}, "theme"),
        (Preferences, {"signature": "a\x00" + CANARY}, "signature"),
        (Preferences, {"display_name": CANARY + "\n"}, "display_name"),
        (Preferences, {"display_name": "x" * 101}, "display_name"),
        (Preferences, {"time_zone": "UTC\n"}, "time_zone"),
        (Preferences, {"time_zone": "../" + CANARY}, "time_zone"),
        (Preferences, {"remote_images_senders": [CANARY]}, "remote_images_senders"),
        (Preferences, {"remote_images_senders": ["a@b@example.org"]}, "remote_images_senders"),
        (Preferences, {"remote_images_senders": CANARY}, "remote_images_senders"),
        (Login, {"email": "a@b.test"}, "password"),
        (Login, {"email": "a@b.test", "password": 5}, "password"),
        (Login, {"email": "a@b.test", "password": CANARY + "\n"}, "password"),
        (Login, {"email": "a\r\n@b.test", "password": "x"}, "email"),
        (Login, {"email": " a@b.test", "password": "x"}, "email"),
        (FlagsUpdate, {"seen": None}, "seen"),
        (FlagsUpdate, {"flagged": 1}, "flagged"),
        (Move, {}, "mailbox"),
        (Move, {"mailbox": 3}, "mailbox"),
        (Compose, {"to": CANARY}, "to"),
        (Compose, {"to": [{"email": "a@b.example", CANARY: 1}]}, "to"),
        (Compose, {"to": [f"{CANARY} <a@b.example>, c@d.example"]}, "to"),
        (Compose, {"to": ["a@b.example"], "subject": "x" * 999}, "subject"),
        (Compose, {"to": ["a@b.example"], "text": ["a"]}, "text"),
        (Compose, {"to": ["a@b.example"], "save_sent": "yes"}, "save_sent"),
        (Compose, {"to": ["a@b.example"], "attachments": ["u"] * 2}, "attachments"),
        (Compose, {"to": ["a@b.example"], "attachments": [""]}, "attachments"),
        (
            Compose,
            {"to": ["a@b.example"], "attachments": [f"u{i}" for i in range(MAX_ATTACHMENTS + 1)]},
            "attachments",
        ),
        (Compose, {"to": ["a@b.example"], "text": "é" * (512 * 1024 + 1)}, "text"),
        (Compose, {"to": ["a@b.example"], "thread": {"references": CANARY}}, "thread"),
        (Compose, {"to": ["a@b.example"], "thread": {"in_reply_to": ["x"]}}, "thread"),
        (Compose, {"to": ["a@b.example"], "thread": {CANARY: 1}}, "thread"),
        (Compose, {"to": ["a@b.example"], "in_reply_to": "x", "thread": {}}, "thread"),
    ],
)
def test_a_400_names_the_field_and_never_echoes_input(
    model: type[RequestBody], data: dict[str, Any], field: str | None
) -> None:
    error = _refused(model, data)
    assert CANARY not in error.message
    if field is not None:
        assert f"'{field}'" in error.message, error.message


def test_unknown_preference_is_named_only_when_it_is_a_plain_name() -> None:
    assert "'colour'" in _refused(Preferences, {"colour": "red"}).message
    assert "<" not in _refused(Preferences, {"<b>": "red"}).message


def test_preferences_are_normalized_and_bounded() -> None:
    body = decode_body(
        {"remote_images_senders": ["A@Example.org", "@Example.ORG", "example.org"]}, Preferences
    )
    assert body.stored(10_000) == {"remote_images_senders": ["a@example.org", "example.org"]}
    assert decode_body({}, Preferences).stored(10_000) == {}
    with pytest.raises(PayloadTooLarge):
        decode_body({"signature": "x" * 700}, Preferences).stored(600)


def test_compose_becomes_the_mail_layers_request() -> None:
    body = decode_body(
        {
            "to": ["Ann <ann@example.org>", {"name": None, "email": "bob@example.org"}],
            "subject": None,
            "save_sent": False,
        },
        Compose,
    )
    request = body.to_request(recipients_max=100)
    assert [a.addr_spec for a in request.to] == ["ann@example.org", "bob@example.org"]
    assert request.to[0].display_name == "Ann" and request.subject == ""
    assert request.save_sent is False and request.replaces is None
    with pytest.raises(BadRequest, match="at most 1 recipients"):
        body.to_request(recipients_max=1)
    # A draft may have no recipient; a made-up id to replace is a 404, as before.
    assert decode_body({}, Draft).to_request(100).recipient_count == 0
    with pytest.raises(NotFound):
        decode_body({"replaces": "not-an-id"}, Draft).to_request(100)
    # A send may replace a draft too (the draft it was written as), and keep its thread.
    with pytest.raises(NotFound):
        decode_body({"to": ["a@b.example"], "replaces": "not-an-id"}, Compose).to_request(100)
    thread = {"in_reply_to": "<p@x>", "references": ["<r@x>", "<p@x>"]}
    request = decode_body({"to": ["a@b.example"], "thread": thread}, Compose).to_request(100)
    assert request.thread == ("<p@x>", ["<r@x>", "<p@x>"]) and request.in_reply_to is None


def test_document_schemas_are_the_declared_types() -> None:
    doc = document({path for path in ROUTES})
    components = doc["components"]["schemas"]
    refs, generated = schemas()
    assert components == generated
    declared = [t for t in refs if isinstance(t, type) and issubclass(t, msgspec.Struct)]
    assert set(JSON_REQUEST_TYPES) <= set(declared)
    for model in declared:
        assert issubclass(model, RequestBody | ResponseBody)
        schema = components[model.__name__]
        # Closed objects: exactly the declared fields, and the document says so.
        assert schema["additionalProperties"] is False
        assert set(schema["properties"]) == set(model.__struct_encode_fields__)
    prefs = components["Preferences"]["properties"]
    assert prefs["page_size"] == {"type": "integer", "minimum": 10, "maximum": 200}
    assert components["Summary"]["properties"].keys() >= {"from", "to", "seen"}
    put = doc["paths"]["/api/preferences"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Preferences"
    }
    # Every $ref in the document resolves.
    text = msgspec.json.encode(doc).decode()
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in components, name


def test_refusal_is_an_api_error_with_the_one_body() -> None:
    error = _refused(Move, {"mailbox": 3})
    assert isinstance(error, ApiError)
    assert error.body() == {
        "error": {
            "code": "bad_request",
            "message": "The field 'mailbox' must be a mailbox id.",
            "field": "mailbox",
        }
    }
