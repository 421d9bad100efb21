"""The rules mailgate manages: a vacation reply and an ordered list of filters.

They are validated here from plain JSON (the API's body, or the header of mailgate's own
script), so the same checks guard what a user sends and what the server hands back.
Every check raises RulesError with one readable sentence naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ACTION_TYPES",
    "CONDITION_FIELDS",
    "Action",
    "Condition",
    "Filter",
    "Rules",
    "RulesError",
    "Vacation",
    "parse_filters",
    "parse_vacation",
]

ConditionField = Literal["from", "to_cc", "subject", "header", "size"]
ActionType = Literal["fileinto", "copy", "flag", "mark_read", "redirect", "discard", "stop"]
CONDITION_FIELDS: tuple[str, ...] = ("from", "to_cc", "subject", "header", "size")
ACTION_TYPES: tuple[str, ...] = (
    "fileinto",
    "copy",
    "flag",
    "mark_read",
    "redirect",
    "discard",
    "stop",
)
TEXT_OPS = ("contains", "is", "matches")
SIZE_OPS = ("over", "under")

MAX_FILTERS = 100
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_ADDRESSES = 20
MAX_DAYS = 365
_TEXT_MAX = 10_000
_SUBJECT_MAX = 200
_VALUE_MAX = 500
_NAME_MAX = 100
_FOLDER_MAX = 500
_SIZE_MAX = 2**40
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_]{0,63}")
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.\-]{1,253}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# No NUL and no C0/C1 controls besides line breaks and tabs (in the reply text only).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\r\n]")


class RulesError(ValueError):
    """Invalid rules; the message is one sentence for the user (no user data in it)."""


@dataclass(frozen=True, slots=True)
class Vacation:
    enabled: bool = False
    subject: str = ""
    text: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    days: int = 7
    addresses: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "subject": self.subject,
            "text": self.text,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "days": self.days,
            "addresses": list(self.addresses),
        }


@dataclass(frozen=True, slots=True)
class Condition:
    field: ConditionField
    op: str
    value: str | int
    header: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "op": self.op, "value": self.value}
        if self.field == "header":
            out["header"] = self.header
        return out


@dataclass(frozen=True, slots=True)
class Action:
    type: ActionType
    folder: str = ""
    address: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("fileinto", "copy"):
            out["folder"] = self.folder
        if self.type == "redirect":
            out["address"] = self.address
        return out


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    enabled: bool
    match: Literal["all", "any"]
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "match": self.match,
            "conditions": [c.as_json() for c in self.conditions],
            "actions": [a.as_json() for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class Rules:
    vacation: Vacation = field(default_factory=Vacation)
    filters: tuple[Filter, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "vacation": self.vacation.as_json(),
            "filters": [f.as_json() for f in self.filters],
        }


# -- validation ---------------------------------------------------------------------------------


def _obj(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{where} must be an object.")
    unknown = set(value) - allowed
    if unknown:
        raise RulesError(f"{where} has an unknown field: {sorted(unknown)[0][:40]}.")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(f"{where} must be true or false.")
    return value


def _text(value: Any, where: str, limit: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise RulesError(f"{where} must be a string.")
    if len(value) > limit:
        raise RulesError(f"{where} is longer than {limit} characters.")
    if _CONTROLS.search(value) or (not multiline and _LINE_BREAK.search(value)):
        raise RulesError(f"{where} contains characters that are not allowed.")
    return value


def _date(value: Any, where: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise RulesError(f"{where} must be a date like 2026-12-24.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RulesError(f"{where} is not a real date.") from None


def _address(value: Any, where: str) -> str:
    text = _text(value, where, 254).strip()
    if not _ADDRESS.fullmatch(text):
        raise RulesError(f"{where} must be an e-mail address.")
    return text


def _int(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RulesError(f"{where} must be a whole number from {low} to {high}.")
    return value


def parse_vacation(data: Any) -> Vacation:
    where = "vacation"
    d = _obj(data, where, {"enabled", "subject", "text", "start", "end", "days", "addresses"})
    enabled = _bool(d.get("enabled", False), "vacation.enabled")
    subject = _text(d.get("subject", ""), "vacation.subject", _SUBJECT_MAX).strip()
    text = _text(d.get("text", ""), "vacation.text", _TEXT_MAX, multiline=True)
    start = _date(d.get("start"), "vacation.start")
    end = _date(d.get("end"), "vacation.end")
    if start and end and end < start:
        raise RulesError("vacation.end must not be before vacation.start.")
    days = _int(d.get("days", 7), "vacation.days", 1, MAX_DAYS)
    raw_addresses = d.get("addresses", [])
    if not isinstance(raw_addresses, list) or len(raw_addresses) > MAX_ADDRESSES:
        raise RulesError(f"vacation.addresses must be a list of at most {MAX_ADDRESSES}.")
    addresses = tuple(dict.fromkeys(_address(a, "vacation.addresses[]") for a in raw_addresses))
    if enabled and not text.strip():
        raise RulesError("vacation.text is required to turn the reply on.")
    return Vacation(enabled, subject, text, start, end, days, addresses)


def _condition(data: Any, where: str) -> Condition:
    d = _obj(data, where, {"field", "op", "value", "header"})
    name = d.get("field")
    if name not in CONDITION_FIELDS:
        raise RulesError(f"{where}.field must be one of {', '.join(CONDITION_FIELDS)}.")
    op = d.get("op")
    if name == "size":
        if op not in SIZE_OPS:
            raise RulesError(f"{where}.op must be over or under for size.")
        return Condition("size", op, _int(d.get("value"), f"{where}.value", 0, _SIZE_MAX))
    if op not in TEXT_OPS:
        raise RulesError(f"{where}.op must be one of {', '.join(TEXT_OPS)}.")
    value = _text(d.get("value"), f"{where}.value", _VALUE_MAX)
    if not value:
        raise RulesError(f"{where}.value must not be empty.")
    header = ""
    if name == "header":
        header = d.get("header", "")
        if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
            raise RulesError(f"{where}.header must be a header name such as X-Spam-Flag.")
    elif "header" in d:
        raise RulesError(f"{where}.header is only for the header field.")
    return Condition(name, op, value, header)


def _action(data: Any, where: str, allow_forward: bool) -> Action:
    d = _obj(data, where, {"type", "folder", "address"})
    kind = d.get("type")
    if kind not in ACTION_TYPES:
        raise RulesError(f"{where}.type must be one of {', '.join(ACTION_TYPES)}.")
    if kind in ("fileinto", "copy"):
        folder = _text(d.get("folder"), f"{where}.folder", _FOLDER_MAX).strip()
        if not folder:
            raise RulesError(f"{where}.folder must name a folder.")
        return Action(kind, folder=folder)
    if kind == "redirect":
        if not allow_forward:
            raise RulesError("Forwarding is not allowed on this server.")
        return Action("redirect", address=_address(d.get("address"), f"{where}.address"))
    extra = {"folder", "address"} & set(d)
    if extra:
        raise RulesError(f"{where}.{sorted(extra)[0]} does not belong to {kind}.")
    return Action(kind)


def _filter(data: Any, where: str, allow_forward: bool) -> Filter:
    d = _obj(data, where, {"name", "enabled", "match", "conditions", "actions"})
    name = _text(d.get("name", ""), f"{where}.name", _NAME_MAX).strip()
    enabled = _bool(d.get("enabled", True), f"{where}.enabled")
    match = d.get("match", "all")
    if match not in ("all", "any"):
        raise RulesError(f"{where}.match must be all or any.")
    conditions = d.get("conditions", [])
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise RulesError(f"{where}.conditions must be a list of at most {MAX_CONDITIONS}.")
    actions = d.get("actions", [])
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise RulesError(f"{where}.actions must list 1 to {MAX_ACTIONS} actions.")
    parsed_actions = tuple(
        _action(a, f"{where}.actions[{i}]", allow_forward) for i, a in enumerate(actions)
    )
    return Filter(
        name,
        enabled,
        match,
        tuple(_condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions)),
        parsed_actions,
    )


def parse_filters(data: Any, *, allow_forward: bool) -> tuple[Filter, ...]:
    if not isinstance(data, list) or len(data) > MAX_FILTERS:
        raise RulesError(f"filters must be a list of at most {MAX_FILTERS}.")
    return tuple(_filter(f, f"filters[{i}]", allow_forward) for i, f in enumerate(data))
