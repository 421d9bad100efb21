"""Contacts in the account's CardDAV address book: the bodies of /api/contacts*."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from mailgate.errors import BadRequest
from mailgate.mail.compose import parse_recipient
from mailgate.mail.contacts import ContactDraft

from .base import RequestBody, ResponseBody

__all__ = ["ContactIn", "ContactList", "ContactOut", "Suggestion", "SuggestionList"]

_Phone = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[0-9+()./ *#-]+$")]
_MESSAGES = {
    "name": "The field 'name' must be 1 to 200 characters.",
    "emails": "The field 'emails' must list at most 20 e-mail addresses.",
    "phones": "The field 'phones' must list at most 20 phone numbers (digits, +, -, spaces).",
}


class ContactIn(RequestBody, kw_only=True):
    """A contact to create or the new state of one: what mailgate edits on a vCard."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    emails: Annotated[list[str], Meta(max_length=20)] = []
    phones: Annotated[list[_Phone], Meta(max_length=20)] = []

    unknown_field_message: ClassVar[str] = "The body has a field contacts do not take."

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return _MESSAGES.get(field, f"The field '{field}' is not valid.")

    def check(self) -> None:
        if not self.name.strip() or not self.name.isprintable():
            raise BadRequest(_MESSAGES["name"], field="name")

    def to_draft(self) -> ContactDraft:
        emails = []
        for value in self.emails:
            address = parse_recipient(value.strip(), "emails")
            if address.display_name:
                raise BadRequest(
                    "The field 'emails' takes bare addresses, without a name.", field="emails"
                )
            emails.append(address.addr_spec)
        if len({e.casefold() for e in emails}) != len(emails):
            raise BadRequest("The field 'emails' lists the same address twice.", field="emails")
        return ContactDraft(self.name.strip(), tuple(emails), tuple(p.strip() for p in self.phones))


class ContactOut(ResponseBody):
    id: str
    name: str
    emails: list[str]
    phones: list[str]


class ContactList(ResponseBody):
    available: bool  # false: no address book for this account (nothing else is said)
    contacts: list[ContactOut]


class Suggestion(ResponseBody):
    name: str
    email: str
    source: Literal["contacts", "mail"]


class SuggestionList(ResponseBody):
    suggestions: list[Suggestion]
