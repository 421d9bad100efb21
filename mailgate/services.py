"""The application's services: built once per app by mailgate/composition.py from the
configuration, and reached by handlers through `request.app`.

Every field is typed; nothing is looked up by string. A feature that needs another's
service reads its field here, so the order in which features register routes does not
matter.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from mailgate.config import Config
from mailgate.mail.contacts import ContactsService
from mailgate.mail.conversations import ConversationService
from mailgate.mail.correspondents import CorrespondentsService
from mailgate.mail.pool import ImapPool
from mailgate.mail.reading.service import ReadingService
from mailgate.mail.sieve import SieveService
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.metrics import Metrics
from mailgate.prefs import PreferenceService
from mailgate.proxy.service import ImageProxy
from mailgate.push.hub import PushHub
from mailgate.session.manager import SessionManager
from mailgate.session.oidc import OidcService
from mailgate.session.reaper import Reaper
from mailgate.store.interface import SessionStore
from mailgate.vault.interface import Vault

__all__ = ["SERVICES", "Services", "services"]


@dataclass(eq=False)
class Services:
    config: Config
    store: SessionStore
    pool: ImapPool
    sessions: SessionManager
    reaper: Reaper
    upstream_ssl: ssl.SSLContext
    # Which servers serve an address: the domain map, or [imap]/[smtp]/[sieve] for all.
    upstreams: UpstreamDirectory
    # `[data] secret_file`, or `<data dir>/server.secret`: signs proxy URLs, keys preferences.
    server_secret: bytes
    # Holds the server secret (by default) and the SQLite preference database.
    data_dir: Path
    # A private temporary data directory, removed at shutdown (no `[data] dir` set).
    data_dir_is_temporary: bool
    # Encrypted uploads, per session.
    vault: Vault
    preferences: PreferenceService
    # Turns upstream messages into the views the API serves, in bounded worker processes;
    # its render cache holds opened messages per session (send drops replied-to ones).
    reading: ReadingService
    push_hub: PushHub
    # None when the operator has not enabled them.
    image_proxy: ImageProxy | None
    metrics: Metrics | None
    # Filters and vacation replies on each account's ManageSieve server.
    sieve: SieveService
    # Threads of a mailbox with the user's replies from Sent (drops changed renderings).
    conversations: ConversationService
    # Sign-in through the domains' OpenID providers (empty when no domain has one).
    oidc: OidcService
    # Contacts in each account's CardDAV address book (none kept by mailgate).
    contacts: ContactsService
    # Address suggestions learned from each session's own mail, in memory until its wipe.
    correspondents: CorrespondentsService


SERVICES = web.AppKey("mailgate_services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
