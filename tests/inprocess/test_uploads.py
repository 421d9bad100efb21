"""Uploads through the API, in process: limits enforced while streaming (SEC-44), safe
names (SEC-45)."""

from __future__ import annotations

import io
import os

import aiohttp
import pytest

LIMIT = 100_000


async def _stream(size: int):
    chunk = os.urandom(16_384)
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        sent += len(piece)
        yield piece


def _files(mg) -> list:
    return [p for p in mg.services.vault.root.rglob("*") if p.is_file()]


async def test_sec_44_limits_are_enforced_while_streaming(make_inprocess, user):
    mg = await make_inprocess(
        limits={"upload_max_bytes": LIMIT, "session_upload_max_bytes": 2 * LIMIT + 10}
    )
    api = mg.client()
    assert (await api.login(*user)).status == 201
    # Chunked, so no Content-Length tells the server in advance.
    form = aiohttp.FormData()
    form.add_field("file", _stream(LIMIT + 1), filename="big.bin")
    resp = await api.post("/api/uploads", data=form)
    assert resp.status == 413 and resp.error_code == "payload_too_large"
    assert _files(mg) == []  # the partial ciphertext was removed
    for _ in range(2):
        ok = await api.post("/api/uploads", data={"file": io.BytesIO(os.urandom(LIMIT - 1000))})
        assert ok.status == 201
    over_quota = await api.post("/api/uploads", data={"file": io.BytesIO(os.urandom(5000))})
    assert over_quota.status == 413
    assert len((await api.get("/api/uploads")).json()["uploads"]) == 2


@pytest.mark.parametrize(
    "name",
    ["../../x", "..\\..\\x", "a\x00.html", "evil\r\nSet-Cookie: x=1.html", "n" * 1000 + ".pdf"],
)
async def test_sec_45_user_file_names_are_only_sanitized_metadata(make_inprocess, user, name):
    mg = await make_inprocess()
    api = mg.client()
    assert (await api.login(*user)).status == 201
    # Written by hand: client libraries refuse to put NUL or CR/LF in a header.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: text/html\r\n\r\ncontent\r\n--B--\r\n'
    )
    headers = {"Content-Type": "multipart/form-data; boundary=B"}
    resp = await api.post("/api/uploads", data=body, headers=headers)
    if resp.status == 400:
        # A name that breaks the part's header itself is refused outright.
        assert any(c in name for c in "\r\n\x00") and resp.error_code == "bad_request"
        return
    assert resp.status == 201, resp
    stored = resp.json()["filename"]
    assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
    assert not any(ord(c) < 32 for c in stored)
    assert len(stored) <= 200
    root = mg.services.vault.root
    for path in _files(mg):
        assert path.resolve().is_relative_to(root.resolve())
        assert name.encode("utf-8", "ignore")[:20] not in path.name.encode()
