"""[contacts] carddav_url and the domain map's carddav_url: https:// only, the domain's
own book first, `{user}` replaced by the account's address; and what the suggestions
learn from envelopes (senders of INBOX, recipients of Sent, never the account)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from mailgate.config import ConfigError, load_config
from mailgate.mail.contacts import ContactsService, valid_contact_id
from mailgate.mail.correspondents import learn
from mailgate.mail.imap.client import Summary
from mailgate.mail.imap.parse import Envelope
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.tls import upstream_context

BASE = {
    "MAILGATE_IMAP_HOST": "imap.example.org",
    "MAILGATE_SMTP_HOST": "smtp.example.org",
    "MAILGATE_TLS_CERT_FILE": "cert.pem",
    "MAILGATE_TLS_KEY_FILE": "key.pem",
}


def test_off_by_default() -> None:
    config = load_config(environ=BASE)
    assert config.contacts.carddav_url == ""
    service = ContactsService(config.contacts, upstream_context(), UpstreamDirectory(config))
    assert service.url_for("a@example.org") is None


def test_global_url_with_the_user() -> None:
    config = load_config(
        environ={**BASE, "MAILGATE_CONTACTS_CARDDAV_URL": "https://dav.example.org/{user}/book/"}
    )
    service = ContactsService(config.contacts, upstream_context(), UpstreamDirectory(config))
    assert service.url_for("a.b@example.org") == "https://dav.example.org/a.b@example.org/book/"


@pytest.mark.parametrize("url", ["http://dav.example.org/", "dav.example.org", "ftp://x/"])
def test_only_https(url: str) -> None:
    with pytest.raises(
        ConfigError, match=re.escape("contacts.carddav_url: must start with https://")
    ):
        load_config(environ={**BASE, "MAILGATE_CONTACTS_CARDDAV_URL": url})


def test_a_domain_has_its_own_book(tmp_path: Path) -> None:
    toml = tmp_path / "mailgate.toml"
    toml.write_text(
        "[contacts]\n"
        'carddav_url = "https://all.example.net/{user}/"\n'
        "[domains]\n"
        'default = "one.example"\n'
        '[domains."one.example"]\n'
        'imap_host = "imap.one.example"\n'
        'smtp_host = "smtp.one.example"\n'
        'carddav_url = "https://dav.one.example/{user}/contacts/"\n'
        '[domains."two.example"]\n'
        'imap_host = "imap.two.example"\n'
        'smtp_host = "smtp.two.example"\n'
        "[tls]\n"
        'cert_file = "c"\nkey_file = "k"\n'
    )
    config = load_config(toml, environ={})
    service = ContactsService(config.contacts, upstream_context(), UpstreamDirectory(config))
    assert service.url_for("x@one.example") == "https://dav.one.example/x@one.example/contacts/"
    assert service.url_for("y@two.example") == "https://all.example.net/y@two.example/"
    bad = toml.read_text().replace("https://dav.one.example", "http://dav.one.example")
    toml.write_text(bad)
    with pytest.raises(ConfigError, match=re.escape('domains."one.example".carddav_url')):
        load_config(toml, environ={})


@pytest.mark.parametrize(
    "contact_id,ok",
    [
        ("abc.vcf", True),
        ("a b@x.vcf", True),
        ("", False),
        (".", False),
        ("..", False),
        ("a/b.vcf", False),
        ("a\\b", False),
        ("a\nb", False),
        ("x" * 256, False),
    ],
)
def test_contact_ids(contact_id: str, ok: bool) -> None:
    assert valid_contact_id(contact_id) is ok


def _summary(uid: int, **envelope: list[dict[str, str | None]]) -> Summary:
    return Summary(
        uid=uid,
        flags=frozenset(),
        internaldate=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        size=1,
        envelope=Envelope(**envelope),  # type: ignore[arg-type]
        has_attachments=False,
        preview=None,
    )


def test_learn_counts_senders_and_recipients_but_never_the_account() -> None:
    me = {"name": "Me", "email": "Me@Example.org"}
    ann = {"name": "Ann", "email": "ann@x.example"}
    bob = {"name": None, "email": "bob@y.example"}
    inbox = [_summary(1, from_=[ann]), _summary(2, from_=[ann]), _summary(3, from_=[me])]
    sent = [
        _summary(4, from_=[me], to=[bob, {"name": "", "email": "me@example.org"}], cc=[ann]),
        _summary(5, from_=[me], to=[{"name": None, "email": "undisclosed-recipients"}]),
    ]
    found = learn(inbox, sent, "me@example.org")
    assert {k: (c.name, c.email, c.count) for k, c in found.items()} == {
        "ann@x.example": ("Ann", "ann@x.example", 3),
        "bob@y.example": ("", "bob@y.example", 1),
    }
