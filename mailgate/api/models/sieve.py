"""Filters and vacation replies over ManageSieve: the bodies of /api/sieve*.

The wire shapes only; what the rules mean (dates in order, a folder for fileinto, the
operator's forwarding switch) is checked by `mailgate.mail.sieve.rules` on the way in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from .base import RequestBody, ResponseBody

__all__ = [
    "FiltersAnswer",
    "FiltersPut",
    "SieveAction",
    "SieveCondition",
    "SieveFilter",
    "SieveStatus",
    "SieveVacation",
    "VacationAnswer",
    "VacationPut",
]

Active = Literal["mailgate", "foreign", "none"]
Date = Annotated[str, Meta(pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


# Absent fields stay absent (UNSET): the rules module gives them their defaults.
class SieveVacation(RequestBody):
    enabled: bool | UnsetType = UNSET
    subject: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    text: Annotated[str, Meta(max_length=10000)] | UnsetType = UNSET
    start: Date | UnsetType | None = UNSET
    end: Date | UnsetType | None = UNSET
    days: Annotated[int, Meta(ge=1, le=365)] | UnsetType = UNSET
    addresses: Annotated[list[str], Meta(max_length=20)] | UnsetType = UNSET


class SieveCondition(RequestBody, kw_only=True):
    field: Literal["from", "to_cc", "subject", "header", "size"]
    op: Literal["contains", "is", "matches", "over", "under"]
    value: str | int
    header: str | UnsetType = UNSET


class SieveAction(RequestBody, kw_only=True):
    type: Literal["fileinto", "copy", "flag", "mark_read", "redirect", "discard", "stop"]
    folder: str | UnsetType = UNSET
    address: str | UnsetType = UNSET


class SieveFilter(RequestBody, kw_only=True):
    name: Annotated[str, Meta(max_length=100)] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    match: Literal["all", "any"] | UnsetType = UNSET
    conditions: Annotated[list[SieveCondition], Meta(max_length=20)] | UnsetType = UNSET
    actions: Annotated[list[SieveAction], Meta(min_length=1, max_length=10)]


class VacationPut(RequestBody, kw_only=True):
    vacation: SieveVacation
    activate: bool = False


class FiltersPut(RequestBody, kw_only=True):
    filters: Annotated[list[SieveFilter], Meta(max_length=100)]
    activate: bool = False


class VacationAnswer(ResponseBody):
    vacation: SieveVacation
    active: Active


class FiltersAnswer(ResponseBody):
    filters: list[SieveFilter]
    active: Active


class ForeignScript(ResponseBody):
    name: str
    text: str
    truncated: bool


class ScriptInfo(ResponseBody):
    name: str
    active: bool
    mailgate: bool


class Extensions(ResponseBody):
    vacation: bool
    fileinto: bool
    copy: bool
    imap4flags: bool
    dates: bool


class SieveStatus(ResponseBody):
    available: bool
    active: Active
    foreign: ForeignScript | None
    scripts: list[ScriptInfo]
    extensions: Extensions
    max_redirects: int | None
    allow_forward: bool
