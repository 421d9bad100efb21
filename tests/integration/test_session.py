"""Session core against real IMAP servers (pymap sandbox and Dovecot) over real TLS:
SEC-01, 03, 04, 06 (real time), 08, 10, 13, 14, 40. The rules that need neither are in
tests/inprocess/test_session.py (SEC-02, 05, 06 and 07 on a ManualClock, 09, 11, 12, 15)."""

from __future__ import annotations

import asyncio
import base64
import time
from http.cookies import SimpleCookie

import pytest

from mailgate.session.tokens import COOKIE_NAME, parse_token
from mailgate.testing.client import ApiClient


def _cookie_attrs(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    attrs = {}
    for p in parts[1:]:
        name, _, value = p.partition("=")
        attrs[name.lower()] = value
    return attrs


async def test_sec_01_login_sets_exactly_one_cookie(client, user, mailgate):
    resp = await client.login(*user)
    assert resp.status == 201
    cookies = resp.set_cookies()
    assert len(cookies) == 1
    name, _, value = cookies[0].split(";")[0].partition("=")
    assert name == COOKIE_NAME
    attrs = _cookie_attrs(cookies[0])
    assert set(attrs) == {"httponly", "path", "samesite", "secure"}
    assert attrs["path"] == "/" and attrs["samesite"].lower() == "strict"
    assert len(cookies[0].split(";")[0]) <= 4096
    body = resp.json()
    assert body["account"] == {"email": user[0]}
    assert body["idle_timeout_s"] == 1200 and body["absolute_timeout_s"] == 43200
    assert body["csrf_token"] and value not in str(body)
    assert resp.headers["Cache-Control"] == "no-store"


async def test_sec_03_token_entropy_and_store_keeps_only_a_hash(client, user, mailgate):
    tokens = set()
    for _ in range(5):
        resp = await client.login(*user)
        assert resp.status == 201
        tokens.add(client.cookie)
    assert len(tokens) == 5
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "==")
        assert len(raw) >= 32
    parsed = parse_token(client.cookie)
    dump = mailgate.services.store.dump()
    assert client.cookie.encode() not in dump
    assert parsed.session_id.hex().encode() not in dump
    assert parsed.key.hex().encode() not in dump
    assert parsed.lookup.encode() in dump  # only the SHA-256 of the id names the record


async def test_sec_04_login_rotates_and_unknown_tokens_are_refused(client, user, mailgate):
    await client.login(*user)
    first = client.cookie
    await client.login(*user)  # sends the first cookie along
    assert client.cookie != first
    old = ApiClient(mailgate.url, mailgate.client_ssl())
    old.cookie = first
    assert (await old.get("/api/session")).status == 401
    forged = ApiClient(mailgate.url, mailgate.client_ssl())
    forged.cookie = "A" * 86
    resp = await forged.get("/api/session")
    assert resp.status == 401 and resp.error_code == "auth_required"
    # A real id with a wrong key is not the session either.
    real = parse_token(client.cookie)
    forged.cookie = base64.urlsafe_b64encode(real.session_id + b"\x00" * 32).rstrip(b"=").decode()
    assert (await forged.get("/api/session")).status == 401
    assert len(await mailgate.services.store.lookups()) == 1
    await old.close()
    await forged.close()


# Real time, end to end on a real server: the reaper, the store and the wipe hooks wired
# in the running server. tests/inprocess covers the rules on a ManualClock.
@pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)
async def test_sec_06_idle_timeout_wipes_without_any_request(make_mailgate, user):
    mg = make_mailgate(session={"idle_timeout_s": 2, "reap_interval_s": 0.2})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        upload = await api.post("/api/uploads", data={"file": b"idle canary bytes"})
        assert upload.status == 201
        assert mg.services.pool.open_count() == 1
        vault = mg.services.vault
        assert vault.dump()
        await asyncio.sleep(3.2)  # no request at all meanwhile
        assert await mg.services.store.lookups() == []
        assert vault.dump() == b""
        assert mg.services.pool.open_count() == 0
        assert mg.services.sessions.counters.get("wipe_idle") == 1
        assert (await api.get("/api/session")).status == 401


async def test_sec_08_logout_wipes_and_clears(logged_in, mailgate):
    token = logged_in.cookie
    resp = await logged_in.logout()
    assert resp.status == 204
    assert resp.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    cleared = resp.set_cookies()
    assert len(cleared) == 1
    jar = SimpleCookie()
    jar.load(cleared[0])
    assert jar[COOKIE_NAME].value == "" and jar[COOKIE_NAME]["max-age"] == "0"
    assert _cookie_attrs(cleared[0]).keys() >= {"secure", "httponly", "samesite", "path"}
    assert resp.headers["Cache-Control"] == "no-store"
    assert await mailgate.services.store.lookups() == []
    assert mailgate.services.pool.open_count() == 0
    logged_in.cookie = token
    assert (await logged_in.get("/api/session")).status == 401
    assert (await logged_in.get("/api/logout")).status in (404, 405)


@pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)
async def test_sec_10_account_throttle_answers_429_even_for_the_right_password(make_mailgate, user):
    mg = make_mailgate(throttle={"account_free_failures": 3})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        for _ in range(3):
            assert (await api.login(user[0], "bad")).status == 401
        resp = await api.login(*user)
        assert resp.status == 429 and resp.error_code == "too_many_requests"
        assert int(resp.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sec_13_upstream_failures_look_the_same(make_mailgate, upstream, tmp_path):
    from mailgate.testing.servers import free_port
    from tests.integration.fake_imap import FakeImap

    untrusted = FakeImap("untrusted", tmp_path)
    hanging = FakeImap("hang", tmp_path)
    bodies = []
    try:
        # TLS fails, nothing listens, and the server never answers (timeout).
        for port in (untrusted.port, free_port(), hanging.port):
            mg = make_mailgate(
                imap={"host": "localhost", "port": port, "security": "tls", "timeout_s": 1}
            )
            async with ApiClient(mg.url, mg.client_ssl()) as api:
                resp = await api.login("someone@example.test", "secret-password")
                bodies.append((resp.status, resp.body))
    finally:
        untrusted.close()
        hanging.close()
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0][0] == 502
    assert b"upstream_tls_failed" in bodies[0][1]
    assert b"LOGIN" not in bytes(untrusted.received)


async def test_sec_14_password_reaches_upstream_byte_for_byte(upstream, client, log_canaries):
    email = f"long-{time.monotonic_ns()}@example.test"
    # 128+ chars with spaces; emoji only on Dovecot (pymap applies SASLprep, which
    # refuses code points unassigned in Unicode 3.2).
    word = "🔑 pässwörd" if upstream.name == "dovecot" else "ключ pässwörd 密码"
    password = " ".join([word] * 12) + "  trailing  "
    assert len(password) >= 128
    upstream.add_user(email, password)
    log_canaries.add(email, kind="account")
    log_canaries.add(password, kind="password")
    assert (await client.login(email, password)).status == 201
    assert (await client.login(email, password.strip())).status == 401


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_a_server_hanging_up_on_the_login_is_a_refusal_not_an_outage(
    upstream, client, mailgate
):
    # pymap closes the connection on a LOGIN with 4-byte UTF-8 in the name (found by the
    # API fuzzer): what the user typed was refused, so 401, and the server stays usable.
    for email in ["\U00074bdc@example.test", "x@\U0008f57b.example.test"]:
        response = await client.login(email, "whatever")
        assert (response.status, response.error_code) == (401, "auth_failed"), email
    email, password = upstream.new_user()
    assert (await client.login(email, password)).status == 201


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_sec_40_plaintext_only_upstream_is_refused_before_credentials(
    make_mailgate, tmp_path, security
):
    from tests.integration.fake_imap import FakeImap

    plain = FakeImap("plain", tmp_path)
    try:
        mg = make_mailgate(imap={"host": "localhost", "port": plain.port, "security": security})
        async with ApiClient(mg.url, mg.client_ssl()) as api:
            resp = await api.login("someone@example.test", "plaintext-canary-pw")
        assert resp.status == 502 and resp.error_code == "upstream_tls_failed"
        assert resp.set_cookies() == []
        assert plain.connections >= 1
        assert b"LOGIN" not in bytes(plain.received).upper()
        assert b"plaintext-canary-pw" not in bytes(plain.received)
    finally:
        plain.close()


@pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)
async def test_upstream_restart_mid_session_is_survived(logged_in, dovecot, mailgate):
    assert (await logged_in.get("/api/mailboxes")).status == 200
    assert mailgate.services.pool.open_count() == 1
    dovecot.restart()
    resp = await logged_in.get("/api/mailboxes")
    assert resp.status == 200  # reconnected with the session's credentials, no new login
    assert any(b["role"] == "inbox" for b in resp.json()["mailboxes"])
    assert mailgate.services.sessions.counters.get("login") == 1


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_an_unused_session_keeps_no_connection_and_no_decrypted_mail(
    make_mailgate, upstream, user
):
    from tests.integration.mailfactory import plain_message

    upstream.deliver(user[0], plain_message(1))
    mg = make_mailgate(imap={"idle_close_s": 0.5}, session={"reap_interval_s": 0.2})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
        inbox = next(b for b in boxes if b["role"] == "inbox")
        page = (await api.get(f"/api/mailboxes/{inbox['id']}/messages")).json()
        message_id = page["messages"][0]["id"]
        assert (await api.get(f"/api/messages/{message_id}")).status == 200
        cache = mg.services.reading.cache
        lookup = mg.call(mg.services.store.lookups())[0]
        assert cache.get(lookup, message_id) is not None
        await asyncio.sleep(1.5)
        assert mg.services.pool.open_count() == 0
        assert cache.get(lookup, message_id) is None  # no decrypted message left behind
        resp = await api.get(f"/api/messages/{message_id}")
        assert resp.status == 200 and resp.json()["subject"] == "Message number 1"


async def test_a_request_that_outlives_its_session_opens_no_connection(logged_in, mailgate, user):
    """A request that resumed its session just before a logout reaches the mail pool
    after the wipe: it gets a 401 and no new connection (which would cache the session's
    mail for up to idle_close_s, or for good on a slot the wipe had already removed)."""
    from mailgate.errors import AuthRequired
    from mailgate.mail.pool import Credentials

    pool = mailgate.services.pool
    token = parse_token(logged_in.cookie)
    assert token is not None
    boxes = await logged_in.get("/api/mailboxes")
    assert boxes.status == 200 and pool.open_count() == 1

    def credentials() -> Credentials:  # what the resumed request still holds
        return Credentials(*user)

    async def listed(client):
        return await client.mailboxes()

    async def race() -> list[object]:
        """One request holds the session's connection, a second waits for it; the
        session ends meanwhile; then a third arrives."""

        async def holding(client):
            await asyncio.sleep(0.3)
            return await client.mailboxes()

        first = asyncio.ensure_future(pool.run(token.lookup, credentials, holding))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(pool.run(token.lookup, credentials, listed))
        await asyncio.sleep(0.05)
        await pool.close(token.lookup)  # what the logout's wipe does
        results = await asyncio.gather(first, second, return_exceptions=True)
        try:
            results.append(await pool.run(token.lookup, credentials, listed))
        except AuthRequired as exc:
            results.append(exc)
        return results

    first, second, third = mailgate.call(race())
    assert isinstance(second, AuthRequired) and isinstance(third, AuthRequired)
    assert isinstance(first, AuthRequired)  # its connection was logged out under it
    assert pool.open_count() == 0
    assert not any(slot.client for slot in pool._slots.values())
