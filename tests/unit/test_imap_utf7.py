"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgate.mail.imap import utf7


@pytest.mark.parametrize(
    ("decoded", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("&", "&-"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("Ü&ü", "&ANw-&-&APw-"),
        ("a😀b", "a&2D3eAA-b"),
    ],
)
def test_known_pairs(decoded: str, encoded: str) -> None:
    assert utf7.encode(decoded) == encoded
    assert utf7.decode(encoded) == decoded


@pytest.mark.parametrize("bad", ["&", "abc&Jjo", "&Jjo!-", "&AGE-", "&ZeVnLIq-x&"])
def test_invalid_is_rejected(bad: str) -> None:
    # "&AGE-" shifts a printable ASCII "a", which RFC 3501 forbids
    with pytest.raises(ValueError):
        utf7.decode(bad)


@given(st.text(max_size=40))
def test_round_trip(name: str) -> None:
    encoded = utf7.encode(name)
    assert encoded.isascii()
    assert utf7.decode(encoded) == name
