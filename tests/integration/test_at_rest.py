"""Invariant 1: nothing readable at rest (SEC-49, SEC-50, SEC-52)."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from mailgate.session.crypto import SealError, SessionKeys
from mailgate.session.tokens import parse_token


def encodings(value: bytes) -> list[bytes]:
    """The forms a secret could take in a dump: raw, hex, UTF-16, and base64 at every
    alignment (a base64 run embedded at offset 0, 1 or 2 of a longer string)."""
    forms = [value, value.hex().encode()]
    text = value.decode("utf-8", "ignore")
    forms += [text.encode("utf-16-le"), text.encode("utf-16-be")]
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + value)[4 if shift else 0 :]
        forms.append(encoded[: max(8, len(encoded) - 4)])
        forms.append(base64.urlsafe_b64encode(b"\x00" * shift + value)[4 if shift else 0 :][:-4])
    return [f for f in forms if len(f) >= 6]


def assert_absent(dump: bytes, secret: bytes, what: str) -> None:
    for form in encodings(secret):
        assert form not in dump, f"{what} found in the dump"


async def test_sec_49_store_and_vault_hold_no_plaintext(logged_in, user, mailgate):
    upload_bytes = b"ATTACHMENT-CANARY-" + os.urandom(64).hex().encode() + b"-END"
    resp = await logged_in.post("/api/uploads", data={"file": upload_bytes})
    assert resp.status == 201
    store_dump = mailgate.services.store.dump()
    vault = mailgate.services.vault
    vault_dump = vault.dump()
    assert store_dump and vault_dump  # there is something to look at
    dump = store_dump + b"\n" + vault_dump
    email, password = user
    assert_absent(dump, password.encode(), "password")
    assert_absent(dump, email.encode(), "e-mail address")
    assert_absent(dump, email.split("@")[0].encode(), "user name")
    assert_absent(dump, upload_bytes[:40], "upload bytes")
    assert_absent(dump, b"ATTACHMENT-CANARY", "upload bytes")


async def test_sec_49_ciphertext_needs_the_cookie_key_and_detects_tampering(logged_in, mailgate):
    token = parse_token(logged_in.cookie)
    record = await mailgate.services.store.get(token.lookup)
    right = SessionKeys(token.key, token.lookup)
    assert b"@" in right.open(record.sealed, b"account")
    with pytest.raises(SealError):
        SessionKeys(os.urandom(32), token.lookup).open(record.sealed, b"account")
    flipped = bytearray(record.sealed)
    flipped[20] ^= 1
    with pytest.raises(SealError):
        right.open(bytes(flipped), b"account")


async def test_sec_50_logout_removes_upload_files_and_copies_stay_sealed(
    logged_in, mailgate, tmp_path
):
    secret = b"shred-me-" + os.urandom(32)
    assert (await logged_in.post("/api/uploads", data={"file": secret})).status == 201
    vault = mailgate.services.vault
    files = [p for p in vault.root.rglob("*") if p.is_file()]
    assert files
    copies = {p.name: p.read_bytes() for p in files}
    assert (await logged_in.logout()).status == 204
    assert [p for p in vault.root.rglob("*") if p.is_file()] == []
    for data in copies.values():
        assert secret not in data


async def test_sec_52_private_directory_and_file_modes(logged_in, mailgate):
    assert (await logged_in.post("/api/uploads", data={"file": b"mode check"})).status == 201
    vault = mailgate.services.vault
    assert stat.S_IMODE(vault.root.stat().st_mode) == 0o700
    for path in vault.root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


async def test_sec_46_uploads_are_bound_to_their_session(logged_in, mailgate, upstream):
    from mailgate.testing.client import ApiClient

    resp = await logged_in.post("/api/uploads", data={"file": b"mine"})
    upload_id = resp.json()["id"]
    other_user = upstream.new_user()
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as other:
        assert (await other.login(*other_user)).status == 201
        assert (await other.request("DELETE", f"/api/uploads/{upload_id}")).status == 404
        assert (await other.get("/api/uploads")).json() == {"uploads": []}
    assert len((await logged_in.get("/api/uploads")).json()["uploads"]) == 1


async def test_contacts_and_correspondents_are_not_at_rest(make_mailgate, upstream, radicale):
    """A contact made, edited and listed through mailgate, and the correspondents learned
    for suggestions, appear nowhere mailgate writes: the session store, the vault, the
    data directory (preference database, server secret) — nor in its logs (the log
    check of every test, with them registered as canaries)."""
    import secrets

    from mailgate.testing.client import ApiClient
    from tests.integration.test_contacts import _mail, contact_values, contacts_settings

    email, password = upstream.new_user()
    radicale.add_user(email, password)
    tag = secrets.token_hex(4)
    contact = (f"Ottilie Kontaktperson{tag}", f"ottilie.{tag}@contact.example")
    edited = f"Ottilie Umbenannt{tag}"
    sender = (f"Sigurd Absender{tag}", f"sigurd.{tag}@sender.example")
    recipient = (f"Rita Empfaengerin{tag}", f"rita.{tag}@recipient.example")
    for name, address in (contact, sender, recipient):
        contact_values(name, address)
    contact_values(edited, contact[1])
    upstream.deliver(email, _mail(f"{sender[0]} <{sender[1]}>", email, "at rest in"))
    upstream.deliver(email, _mail(email, f"{recipient[0]} <{recipient[1]}>", "at rest out"), "Sent")
    mailgate = make_mailgate(**contacts_settings(upstream, radicale))
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        made = await api.post("/api/contacts", json={"name": contact[0], "emails": [contact[1]]})
        assert made.status == 201
        resp = await api.request(
            "PUT",
            f"/api/contacts/{made.json()['id']}",
            json={"name": edited, "emails": [contact[1]]},
        )
        assert resp.status == 200
        assert (await api.get("/api/contacts?q=ottilie")).status == 200
        found = (await api.get(f"/api/contacts/suggest?q={tag}")).json()["suggestions"]
        assert {s["email"] for s in found} == {contact[1], sender[1], recipient[1]}
        # Preferences are the one thing mailgate keeps: save some so the database exists.
        assert (await api.request("PUT", "/api/preferences", json={"page_size": 20})).status == 200

        svc = mailgate.services
        files = [p for p in svc.data_dir.rglob("*") if p.is_file()]
        assert files  # the preference database and the server secret are there to look at
        dump = b"\n".join([svc.store.dump(), svc.vault.dump(), *(p.read_bytes() for p in files)])
        for value in (*contact, edited, *sender, *recipient):
            assert_absent(dump, value.encode(), "a contact's or correspondent's name or address")
        # Held in memory for the session only; the logout drops them.
        assert svc.correspondents.session_count() == 1
        assert (await api.logout()).status == 204
        assert svc.correspondents.session_count() == 0
