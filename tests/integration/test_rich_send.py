"""HTML compose on the server (issue 18): whatever HTML a client sends is sanitized with
nh3 by the compose allow-list before it goes out as multipart/alternative next to the
text part; the Sent copy (Dovecot and pymap) is the same message."""

from __future__ import annotations

import secrets
from email import message_from_bytes, policy
from typing import Any

import aiohttp
import pytest

from mailgate.mail.sanitize import clean_outgoing_html
from mailgate.testing.client import ApiClient

HOSTILE = (
    '<p onclick="steal()" style="color:red" class="x">Hello <b>there</b></p>'
    "<script>alert(1)</script><style>p{}</style>"
    '<ul><li>one</li><li><a href="javascript:alert(1)">two</a></li></ul>'
    '<img src="https://tracker.example/p.gif"><iframe src="https://evil.example"></iframe>'
    '<blockquote>quoted <a href="https://example.org/x">link</a></blockquote>'
    '<form action="https://evil.example"><input name="q"></form>'
)


def test_the_compose_allow_list_keeps_the_editor_markup_only() -> None:
    out = clean_outgoing_html(HOSTILE)
    gone_list = ("script", "alert", "onclick", "style", "class=", "tracker", "iframe", "form")
    for gone in (*gone_list, "input"):
        assert gone not in out, gone
    assert "<p>Hello <b>there</b></p>" in out
    assert "<ul><li>one</li><li><a" in out and ">two</a></li></ul>" in out
    assert '<a href="https://example.org/x" rel="noopener noreferrer">link</a>' in out


@pytest.fixture
async def api(
    logged_in: ApiClient, upstream: Any, sandbox: Any, user: tuple[str, str]
) -> ApiClient:
    if upstream.name != "pymap":
        sandbox.add_user(*user)
    return logged_in


async def test_html_is_sanitized_before_it_is_sent_and_saved(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    subject = f"Rich {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send",
        json={
            "to": ["dora@example.net"],
            "subject": subject,
            "text": "Hello there\n* one\n* two",
            "html": HOSTILE,
        },
    )
    assert resp.status == 200, resp
    mid = resp.json()["message_id_header"]
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"] == mid
    ]
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = list(msg.iter_parts())
    assert text_part.get_content().replace("\r\n", "\n") == "Hello there\n* one\n* two\n"
    html = html_part.get_content()
    assert "<ul><li>one</li>" in html
    for gone in ("<script", "onclick", "tracker.example", "javascript:", "<iframe", "<form"):
        assert gone not in html, gone
    # The Sent copy holds the sanitized HTML as well.
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    sent = next(b for b in boxes if b["role"] == "sent")
    listed = (await api.get(f"/api/mailboxes/{sent['id']}/messages?limit=200")).json()
    (copy,) = [m for m in listed["messages"] if m["subject"] == subject]
    raw = await api.get(f"/api/messages/{copy['id']}/raw")
    assert raw.status == 200
    stored = message_from_bytes(raw.body, policy=policy.default)
    assert stored.get_content_type() == "multipart/alternative"
    assert "<script" not in stored.get_body(("html",)).get_content()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d0b1a50000000049454e44ae426082"
)


async def test_inline_images_go_out_as_related_parts_named_by_cid(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="dot.png", content_type="image/png")
    uploaded = await api.post("/api/uploads", data=form)
    assert uploaded.status == 201, uploaded
    image = uploaded.json()["id"]
    subject = f"Inline {secrets.token_hex(4)}"
    html = f'<p>Look: <img src="cid:{image}" alt="a dot"><img src="cid:other"></p>'
    resp = await api.post(
        "/api/send",
        json={
            "to": ["dora@example.net"],
            "subject": subject,
            "text": "Look: [a dot]",
            "html": html,
            "inline": [image],
        },
    )
    assert resp.status == 200, resp
    mid = resp.json()["message_id_header"]
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"] == mid
    ]
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = list(msg.iter_parts())
    assert text_part.get_content().strip() == "Look: [a dot]"
    assert related.get_content_type() == "multipart/related"
    html_part, picture = list(related.iter_parts())
    assert picture.get_content_type() == "image/png"
    assert picture.get_content() == PNG
    cid = str(picture["Content-ID"]).strip("<>")
    sent_html = html_part.get_content()
    assert f'src="cid:{cid}"' in sent_html
    assert "cid:other" not in sent_html and image not in sent_html

    # Not an image, or inline without html: 400 and nothing sent.
    form = aiohttp.FormData()
    form.add_field("file", b"plain", filename="a.txt", content_type="text/plain")
    text_upload = (await api.post("/api/uploads", data=form)).json()["id"]
    for body in (
        {"html": "<p>x</p>", "inline": [text_upload]},
        {"inline": [image]},
        {"html": "<p>x</p>", "inline": [image, image]},
    ):
        resp = await api.post(
            "/api/send", json={"to": ["dora@example.net"], "subject": subject + " bad", **body}
        )
        assert resp.status == 400, (body, resp)
        assert "inline" in resp.json()["error"]["message"]
