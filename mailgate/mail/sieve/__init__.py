"""Vacation replies and filters over ManageSieve (RFC 5804): a small asyncio client
(``protocol``), SASL mechanisms (``sasl``), the rules (``rules``), mailgate's own script
(``script``) and the operations (``service``)."""

from __future__ import annotations

from .errors import (
    SieveAuthError,
    SieveError,
    SieveProtocolError,
    SieveRefused,
    SieveTlsError,
    SieveUnavailable,
)
from .protocol import Capabilities, ScriptInfo, SieveConnection
from .rules import (
    Action,
    Condition,
    Filter,
    Rules,
    RulesError,
    Vacation,
    parse_filters,
    parse_vacation,
)
from .sasl import BearerMechanism, PlainMechanism, SaslMechanism
from .script import ScriptError, generate, is_mailgate_script, parse_rules
from .service import SCRIPT_NAME, ForeignScript, NameTaken, SaveResult, SieveService, SieveState

__all__ = [
    "SCRIPT_NAME",
    "Action",
    "BearerMechanism",
    "Capabilities",
    "Condition",
    "Filter",
    "ForeignScript",
    "NameTaken",
    "PlainMechanism",
    "Rules",
    "RulesError",
    "SaslMechanism",
    "SaveResult",
    "ScriptError",
    "ScriptInfo",
    "SieveAuthError",
    "SieveConnection",
    "SieveError",
    "SieveProtocolError",
    "SieveRefused",
    "SieveService",
    "SieveState",
    "SieveTlsError",
    "SieveUnavailable",
    "Vacation",
    "generate",
    "is_mailgate_script",
    "parse_filters",
    "parse_rules",
    "parse_vacation",
]
