"""List previews are filled on every server: Dovecot answers PREVIEW itself; on a server
without it (pymap) mailgate reads the first kilobyte of each message's text part, decoded
by its transfer encoding and charset (issue 17)."""

from __future__ import annotations

import base64
import quopri
import secrets

from mailgate.testing.client import ApiClient
from tests.conftest import Upstream


def _message(subject: str, headers: str, body: bytes) -> bytes:
    head = f"From: Ann <ann@example.test>\r\nTo: b@example.test\r\nSubject: {subject}\r\n"
    return (head + "MIME-Version: 1.0\r\n" + headers + "\r\n").encode() + body


def _cases(tag: str) -> dict[str, tuple[bytes, str]]:
    latin = "Grüße aus Köln, schöne Straße. " * 60
    utf8 = "Привет из Москвы, как дела? " * 80
    alternative = (
        f'Content-Type: multipart/alternative; boundary="b{tag}"\r\n',
        (
            f"--b{tag}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Plain   side\r\n\r\nof the\tletter\r\n"
            f"--b{tag}\r\nContent-Type: text/html\r\n\r\n<p>HTML side</p>\r\n--b{tag}--\r\n"
        ).encode(),
    )
    return {
        "plain": (
            _message(f"plain {tag}", "Content-Type: text/plain\r\n", b"Just a short note.\r\n"),
            "Just a short note.",
        ),
        "qp-latin1": (
            _message(
                f"qp {tag}",
                "Content-Type: text/plain; charset=iso-8859-1\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n",
                quopri.encodestring(latin.encode("latin-1")).replace(b"\n", b"\r\n"),
            ),
            "Grüße aus Köln, schöne Straße.",
        ),
        "base64-utf8": (
            _message(
                f"b64 {tag}",
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                base64.encodebytes(utf8.encode()).replace(b"\n", b"\r\n"),
            ),
            "Привет из Москвы, как дела?",
        ),
        "alternative": (_message(f"alt {tag}", *alternative), "Plain side of the letter"),
    }


async def test_list_previews_are_filled(upstream: Upstream, client: ApiClient) -> None:
    email, password = upstream.new_user()
    tag = secrets.token_hex(3)
    cases = _cases(tag)
    for raw, _ in cases.values():
        upstream.deliver(email, raw)
    assert (await client.login(email, password)).status == 201
    boxes = (await client.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listed = (await client.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"]
    by_subject = {m["subject"].split()[0]: m for m in listed}
    starts = {"plain": "plain", "qp-latin1": "qp", "base64-utf8": "b64", "alternative": "alt"}
    for name, (_, expected) in cases.items():
        summary = by_subject[starts[name]]
        assert summary["preview"].startswith(expected), (name, summary["preview"])
        assert "\ufffd" not in summary["preview"] and "=" not in summary["preview"], name
        assert len(summary["preview"]) <= 200, name
        assert summary["seen"] is False, name  # reading a preview marks nothing as seen
