"""HTTP hardening of the listener: SEC-16 … SEC-36 (headers, CSRF, CORS, TLS)."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from html.parser import HTMLParser

import pytest

from mailgate.http.headers import SHELL_CSP
from mailgate.testing.client import ApiClient

pytestmark = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)

ALWAYS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "x-dns-prefetch-control": "off",
    "server": "mailgate",
}


async def _sample_responses(api: ApiClient) -> dict[str, object]:
    """A crawl of 2xx, 3xx-free 4xx answers, JSON, HTML and static files."""
    out = {}
    for path in (
        "/",
        "/robots.txt",
        "/healthz",
        "/api/session",
        "/api/mailboxes",
        "/nope",
        "/.git/HEAD",
    ):
        out[f"GET {path}"] = await api.get(path)
    out["POST /api/session (415)"] = await api.request(
        "POST", "/api/session", data=b"x", headers={"Content-Type": "text/plain"}
    )
    out["PUT /healthz (405)"] = await api.request("PUT", "/healthz", json={})
    out["TRACE / (405)"] = await api.request("TRACE", "/")
    out["POST 413"] = await api.request(
        "POST",
        "/api/session",
        data=b"{" + b" " * (2 << 20),
        headers={"Content-Type": "application/json"},
    )
    return out


async def test_sec_16_trace_and_unused_methods_are_405(client):
    assert (await client.request("TRACE", "/")).status == 405
    assert (await client.request("PUT", "/")).status == 405
    assert (await client.request("DELETE", "/api/mailboxes")).status == 405
    resp = await client.request("PUT", "/healthz", json={})
    assert resp.status == 405 and resp.error_code == "method_not_allowed"


def test_sec_16_no_get_route_changes_state(mailgate):
    # GET handlers are only the read-only ones: the route table is the proof.
    mutating_names = re.compile(
        r"^(login|logout|upload|send|draft|patch|move|delete|put|purge)", re.I
    )
    for route in mailgate.app.router.routes():
        if route.method in ("GET", "HEAD"):
            assert not mutating_names.search(route.handler.__name__), route.handler.__name__


async def test_sec_17_cross_site_requests_refused_including_login(client, user):
    body = {"email": user[0], "password": user[1]}
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ):
        resp = await client.request(
            "POST", "/api/session", json=body, headers=headers, origin=False
        )
        assert resp.status == 403 and resp.error_code == "csrf_failed", headers
        assert resp.set_cookies() == []
    resp = await client.request(
        "POST",
        "/api/session",
        json=body,
        origin=False,
        headers={"Referer": "https://evil.example/x"},
    )
    assert resp.status == 403
    ok = await client.request(
        "POST", "/api/session", json=body, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert ok.status == 201


async def test_sec_18_mutations_take_json_only(logged_in):
    for ctype in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        resp = await logged_in.request(
            "PATCH", "/api/messages/MTox/x", data=b"seen=1", headers={"Content-Type": ctype}
        )
        assert resp.status in (404, 415)
    resp = await logged_in.request(
        "POST", "/api/session", data=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 415
    # An upload needs the per-session token header, which forces a CORS preflight.
    no_token = await logged_in.request("POST", "/api/uploads", data={"file": b"x"}, csrf=False)
    assert no_token.status == 403


async def test_sec_19_no_cors_headers_anywhere(client):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    for method, path in (("OPTIONS", "/api/session"), ("GET", "/api/session"), ("OPTIONS", "/")):
        resp = await client.request(method, path, headers=headers, origin=False)
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


async def test_sec_20_api_bodies_are_json_objects(logged_in):
    for path in ("/api/session?callback=x", "/api/mailboxes?callback=x", "/nope"):
        resp = await logged_in.get(path)
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert isinstance(resp.json(), dict)
        assert not resp.body.startswith(b"x(")


async def test_sec_22_to_28_headers_on_every_response(client):
    for name, resp in (await _sample_responses(client)).items():
        for header, value in ALWAYS.items():
            assert resp.headers.getall(header, []) == [value], (name, header)
        assert "aiohttp" not in resp.headers.get("Server", "").lower()
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], name
        assert resp.headers.get("Cache-Control") == "no-store", name
        assert "charset=utf-8" in resp.headers.get("Content-Type", ""), name
        assert "camera=()" in resp.headers["Permissions-Policy"]
        assert "X-Powered-By" not in resp.headers


async def test_sec_23_shell_csp_is_strict(client):
    resp = await client.get("/")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert csp == SHELL_CSP
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src"):
        assert "unsafe" not in directives[directive] and "data:" not in directives[directive]
        assert "*" not in directives[directive]
    for directive in ("object-src", "base-uri", "form-action", "frame-ancestors"):
        assert directives[directive] == "'none'"
    assert resp.headers.getall("Cross-Origin-Embedder-Policy") == ["require-corp"]


async def test_sec_27_no_banner_no_git(client):
    resp = await client.get("/.git/HEAD")
    assert resp.status == 404
    assert resp.headers["Server"] == "mailgate"


def test_sec_29_and_sec_36_no_plaintext_listener(mailgate):
    # Plain HTTP to the HTTPS port never gets an HTTP answer.
    with socket.create_connection(("127.0.0.1", mailgate.port), timeout=5) as sock:
        sock.sendall(b"GET /api/session HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            data = sock.recv(100)
        except (ConnectionResetError, TimeoutError):
            data = b""
    assert not data.startswith(b"HTTP/")
    # And nothing listens on port 80 on our behalf.
    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", 80)) != 0


def _handshake(mailgate, **kw) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=mailgate.ca_file)
    for name, value in kw.items():
        setattr(ctx, name, value)
    sock = socket.create_connection(("127.0.0.1", mailgate.port), timeout=5)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def test_sec_32_old_tls_versions_fail(mailgate):
    with pytest.raises(ssl.SSLError):
        _handshake(
            mailgate, minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1_1
        ).close()
    tls12 = _handshake(mailgate, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert tls12.version() == "TLSv1.2"
    tls12.close()
    tls13 = _handshake(mailgate)
    assert tls13.version() == "TLSv1.3"
    tls13.close()


def test_sec_33_tls12_suites_are_ecdhe_aead_only(mailgate):
    accepted = []
    probe = ssl.create_default_context(cafile=mailgate.ca_file)
    probe.set_ciphers("ALL:@SECLEVEL=0")
    for cipher in probe.get_ciphers():
        if cipher["protocol"] != "TLSv1.2":
            continue
        try:
            sock = _handshake(mailgate, maximum_version=ssl.TLSVersion.TLSv1_2)
        except ssl.SSLError:
            break
        sock.close()
        ctx = ssl.create_default_context(cafile=mailgate.ca_file)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(cipher["name"] + ":@SECLEVEL=0")
        except ssl.SSLError:
            continue
        try:
            with ctx.wrap_socket(
                socket.create_connection(("127.0.0.1", mailgate.port), timeout=5),
                server_hostname="localhost",
            ):
                accepted.append(cipher["name"])
        except (ssl.SSLError, OSError):
            pass
    assert accepted, "no TLS 1.2 suite accepted"
    for name in accepted:
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


async def test_sec_64_foreign_host_header_is_refused(client):
    resp = await client.get("/api/session", headers={"Host": "evil.test"})
    assert resp.status == 421
    assert resp.error_code == "misdirected_request"


async def test_sec_67_oversized_header_is_refused(mailgate):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", mailgate.port, ssl=mailgate.client_ssl(), server_hostname="localhost"
    )
    writer.write(
        b"GET /healthz HTTP/1.1\r\nHost: localhost:%d\r\nX-Big: %s\r\n\r\n"
        % (mailgate.port, b"a" * 16384)
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] in (b"400", b"431")


async def test_sec_30_shell_scripts_are_same_origin_with_integrity(client):
    resp = await client.get("/")
    scripts: list[dict[str, str | None]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "link"):
                scripts.append(dict(attrs) | {"_tag": tag})

    Collect().feed(resp.body.decode())
    external = [s for s in scripts if s.get("src") or s.get("_tag") == "link"]
    assert external, "the shell loads its script"
    for item in external:
        url = item.get("src") or item.get("href") or ""
        assert url.startswith("/") and not url.startswith("//"), url
        if item["_tag"] == "script":
            assert (item.get("integrity") or "").startswith("sha384-"), item
