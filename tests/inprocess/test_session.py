"""Session rules in process: the real app, the pymap sandbox, and a ManualClock, so idle
and absolute timeouts are crossed by moving the clock (SEC-02, 05, 06, 07, 09, 11, 12, 15
and the login body checks). tests/integration/test_session.py keeps the ones that need
real TLS or Dovecot, and a real-time idle expiry end to end."""

from __future__ import annotations

import io

from mailgate.session.tokens import COOKIE_NAME
from mailgate.testing.client import ApiClient
from mailgate.testing.inprocess import InProcessMailgate
from tests.inprocess.conftest import MakeInProcess


async def test_sec_02_no_cookie_before_authentication(api: ApiClient, user: tuple[str, str]):
    for path in (
        "/",
        "/robots.txt",
        "/no/such/path",
        "/api/mailboxes",
        "/api/session/probe",
        "/healthz",
        "/oidc/callback?code=c&state=s",
    ):
        resp = await api.get(path)
        assert resp.set_cookies() == [], path
    failed = await api.login(user[0], "wrong password")
    assert failed.status == 401 and failed.error_code == "auth_failed"
    assert failed.set_cookies() == []
    for path, body in (
        ("/api/oidc/start", {"domain": "example.org"}),
        ("/api/oidc/finish", {"code": "c", "state": "s", "binding": "b"}),
    ):
        refused = await api.post(path, json=body)
        assert refused.status == 400 and refused.error_code == "sign_in_failed", refused
        assert refused.set_cookies() == []


async def test_sec_05_token_only_from_cookie_header(
    signed_in: ApiClient, inprocess: InProcessMailgate
):
    token = signed_in.cookie
    anon = inprocess.client()
    for path, headers in (
        (f"/api/session?session={token}", None),
        ("/api/session", {"Authorization": f"Bearer {token}"}),
        ("/api/session", {"X-Session": token}),
    ):
        resp = await anon.get(path, headers=headers)
        assert resp.status == 401
    assert (await signed_in.get("/api/session")).status == 200


async def test_sec_06_idle_timeout_wipes_without_any_request(
    make_inprocess: MakeInProcess, user: tuple[str, str]
):
    mg = await make_inprocess(session={"idle_timeout_s": 1200, "reap_interval_s": 1})
    api = mg.client()
    assert (await api.login(*user)).status == 201
    upload = await api.post("/api/uploads", data={"file": io.BytesIO(b"idle canary bytes")})
    assert upload.status == 201
    assert mg.services.pool.open_count() == 1
    vault = mg.services.vault
    assert vault.dump()
    session = (await api.get("/api/session")).json()
    assert session["idle_expires_in_s"] == 1200  # read from the same clock
    await mg.advance(1199)  # no request at all meanwhile
    assert len(await mg.services.store.lookups()) == 1
    assert mg.services.sessions.counters.get("wipe_idle") is None
    await mg.advance(1)
    assert await mg.services.store.lookups() == []
    assert vault.dump() == b""
    assert mg.services.pool.open_count() == 0
    assert mg.services.sessions.counters.get("wipe_idle") == 1
    assert (await api.get("/api/session")).status == 401


async def test_idle_clock_restarts_with_every_request(
    make_inprocess: MakeInProcess, user: tuple[str, str]
):
    mg = await make_inprocess(session={"idle_timeout_s": 600, "reap_interval_s": 1})
    api = mg.client()
    assert (await api.login(*user)).status == 201
    for _ in range(3):
        await mg.advance(500)
        resp = await api.get("/api/mailboxes")
        assert resp.status == 200  # 1500 s after login, never 600 s idle
    assert (await api.get("/api/session")).json()["idle_expires_in_s"] == 600
    await mg.advance(600)
    assert (await api.get("/api/session")).status == 401
    assert mg.services.sessions.counters.get("wipe_idle") == 1


async def test_sec_07_absolute_timeout_ends_an_active_session(
    make_inprocess: MakeInProcess, user: tuple[str, str]
):
    mg = await make_inprocess(
        session={"idle_timeout_s": 1200, "absolute_timeout_s": 43200, "reap_interval_s": 1}
    )
    api = mg.client()
    assert (await api.login(*user)).status == 201
    statuses = []
    for _ in range(72):  # a request every 10 minutes for 12 hours
        await mg.advance(600)
        statuses.append((await api.get("/api/session")).status)
    assert statuses[:-1] == [200] * 71 and statuses[-1] == 401
    assert mg.services.sessions.counters.get("wipe_absolute") == 1
    assert mg.services.sessions.counters.get("wipe_idle") is None
    assert await mg.services.store.lookups() == []


async def test_sec_09_no_store_on_every_authenticated_response(signed_in: ApiClient):
    for path in ("/api/session", "/api/mailboxes", "/api/nope"):
        resp = await signed_in.get(path)
        assert resp.headers.get("Cache-Control") == "no-store", path


async def test_sec_11_client_throttle_stops_password_spraying(make_inprocess: MakeInProcess):
    mg = await make_inprocess(throttle={"client_max_failures": 5, "window_s": 600})
    api = mg.client()
    statuses = [(await api.login(f"sprayed{i}@example.test", "guess")).status for i in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    resp = await api.login("sprayed9@example.test", "guess")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) == 600
    await mg.advance(600)  # the window has passed: attempts are answered again
    assert (await api.login("sprayed9@example.test", "guess")).status == 401


async def test_sec_12_forwarded_for_from_untrusted_peer_is_ignored(
    make_inprocess: MakeInProcess,
):
    mg = await make_inprocess(throttle={"client_max_failures": 3})
    api = mg.client()
    statuses = []
    for i in range(5):
        resp = await api.request(
            "POST",
            "/api/session",
            json={"email": f"x{i}@example.test", "password": "guess"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        statuses.append(resp.status)
    assert statuses[3:] == [429, 429]


async def test_account_backoff_passes_with_time(
    make_inprocess: MakeInProcess, user: tuple[str, str]
):
    mg = await make_inprocess(throttle={"account_free_failures": 1})
    api = mg.client()
    assert (await api.login(user[0], "bad")).status == 401
    refused = await api.login(*user)
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    await mg.advance(1)
    assert (await api.login(*user)).status == 201


async def test_sec_15_credentials_only_in_post_bodies_and_never_echoed(
    api: ApiClient, user: tuple[str, str]
):
    resp = await api.request("GET", f"/api/session?email={user[0]}&password={user[1]}")
    assert resp.status == 401
    resp = await api.login(*user)
    assert user[1].encode() not in resp.body
    for path in ("/api/session", "/api/mailboxes"):
        assert user[1].encode() not in (await api.get(path)).body
    put = await api.request("PUT", "/api/session", json={"email": user[0], "password": user[1]})
    assert put.status == 405


async def test_csrf_token_required_on_unsafe_methods(signed_in: ApiClient):
    missing = await signed_in.request("DELETE", "/api/session", csrf=False)
    assert missing.status == 403 and missing.error_code == "csrf_failed"
    wrong = await signed_in.request(
        "DELETE", "/api/session", csrf=False, headers={"X-CSRF-Token": "x" * 43}
    )
    assert wrong.status == 403
    assert (await signed_in.get("/api/session")).status == 200  # still logged in
    resp = await signed_in.logout()
    assert resp.status == 204
    assert [c.split("=")[0] for c in resp.set_cookies()] == [COOKIE_NAME]
    assert signed_in.cookie is None  # the answer cleared it


async def test_wrong_password_is_auth_failed(api: ApiClient, user: tuple[str, str]):
    resp = await api.login(user[0], user[1] + "x")
    assert resp.status == 401
    assert resp.json() == {
        "error": {"code": "auth_failed", "message": resp.json()["error"]["message"]}
    }


async def test_malformed_login_bodies_are_400_or_415(api: ApiClient):
    cases = [
        ({"json": {"email": "a@b.test"}}, 400),
        ({"json": {"email": "a@b.test", "password": 5}}, 400),
        ({"json": {"email": "a@b.test", "password": "x", "extra": 1}}, 400),
        ({"json": {"email": "a\r\n@b.test", "password": "x"}}, 400),
        ({"json": ["not", "an", "object"]}, 400),
        (
            {
                "data": b'{"email": "a@b.test", "email": "c@d.test", "password": "x"}',
                "headers": {"Content-Type": "application/json"},
            },
            400,
        ),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        (
            {
                "data": b"email=a&password=b",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            415,
        ),
        ({"data": b"x" * (2 * 1024 * 1024), "headers": {"Content-Type": "application/json"}}, 413),
    ]
    for kwargs, status in cases:
        resp = await api.request("POST", "/api/session", **kwargs)
        assert resp.status == status, (kwargs.get("json"), resp)
        assert resp.error_code is not None


async def test_the_probe_answers_200_signed_in_or_not(
    signed_in: ApiClient, inprocess: InProcessMailgate
):
    """The page's first request is not an error when nobody is signed in, and it still
    takes the session only from the cookie."""
    anon = inprocess.client()
    resp = await anon.get("/api/session/probe")
    assert resp.status == 200 and resp.json() == {"session": None}
    forged = await anon.get("/api/session/probe", headers={"X-Session": signed_in.cookie})
    assert forged.json() == {"session": None}
    live = (await signed_in.get("/api/session/probe")).json()["session"]
    current = (await signed_in.get("/api/session")).json()
    assert live["csrf_token"] == current["csrf_token"]
    assert live["account"] == current["account"] and live["idle_expires_in_s"] > 0
    assert (await signed_in.logout()).status == 204
    assert (await signed_in.get("/api/session/probe")).json() == {"session": None}
