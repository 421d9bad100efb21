"""HTTP hardening that lives in the app, checked in process: SEC-16 … SEC-30 and SEC-64
(methods, CSRF, CORS, security headers, the shell). The listener's own rows (TLS, plain
HTTP, oversized headers) are in tests/integration/test_http_security.py."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from mailgate.http.headers import SHELL_CSP
from mailgate.testing.client import ApiClient

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


async def test_sec_16_trace_and_unused_methods_are_405(api):
    assert (await api.request("TRACE", "/")).status == 405
    assert (await api.request("PUT", "/")).status == 405
    assert (await api.request("DELETE", "/api/mailboxes")).status == 405
    resp = await api.request("PUT", "/healthz", json={})
    assert resp.status == 405 and resp.error_code == "method_not_allowed"


async def test_sec_16_no_get_route_changes_state(inprocess):
    # GET handlers are only the read-only ones: the route table is the proof.
    mutating_names = re.compile(
        r"^(login|logout|upload|send|draft|patch|move|delete|put|purge)", re.I
    )
    for route in inprocess.app.router.routes():
        if route.method in ("GET", "HEAD"):
            assert not mutating_names.search(route.handler.__name__), route.handler.__name__


async def test_sec_17_cross_site_requests_refused_including_login(api, user):
    body = {"email": user[0], "password": user[1]}
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ):
        resp = await api.request("POST", "/api/session", json=body, headers=headers, origin=False)
        assert resp.status == 403 and resp.error_code == "csrf_failed", headers
        assert resp.set_cookies() == []
    resp = await api.request(
        "POST",
        "/api/session",
        json=body,
        origin=False,
        headers={"Referer": "https://evil.example/x"},
    )
    assert resp.status == 403
    ok = await api.request(
        "POST", "/api/session", json=body, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert ok.status == 201


async def test_sec_18_mutations_take_json_only(signed_in):
    for ctype in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        resp = await signed_in.request(
            "PATCH", "/api/messages/MTox/x", data=b"seen=1", headers={"Content-Type": ctype}
        )
        assert resp.status in (404, 415)
    resp = await signed_in.request(
        "POST", "/api/session", data=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 415
    # An upload needs the per-session token header, which forces a CORS preflight.
    no_token = await signed_in.request(
        "POST", "/api/uploads", data={"file": io.BytesIO(b"x")}, csrf=False
    )
    assert no_token.status == 403


async def test_sec_19_no_cors_headers_anywhere(api):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    for method, path in (("OPTIONS", "/api/session"), ("GET", "/api/session"), ("OPTIONS", "/")):
        resp = await api.request(method, path, headers=headers, origin=False)
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


async def test_sec_20_api_bodies_are_json_objects(signed_in):
    for path in ("/api/session?callback=x", "/api/mailboxes?callback=x", "/nope"):
        resp = await signed_in.get(path)
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert isinstance(resp.json(), dict)
        assert not resp.body.startswith(b"x(")


async def test_sec_22_to_28_headers_on_every_response(api):
    for name, resp in (await _sample_responses(api)).items():
        for header, value in ALWAYS.items():
            assert resp.headers.getall(header, []) == [value], (name, header)
        assert "aiohttp" not in resp.headers.get("Server", "").lower()
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], name
        assert resp.headers.get("Cache-Control") == "no-store", name
        assert "charset=utf-8" in resp.headers.get("Content-Type", ""), name
        assert "camera=()" in resp.headers["Permissions-Policy"]
        assert "X-Powered-By" not in resp.headers


async def test_sec_23_shell_csp_is_strict(api):
    resp = await api.get("/")
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
    # Trusted Types: DOM script sinks take no strings, and no policy may be made.
    assert directives["require-trusted-types-for"] == "'script'"
    assert directives["trusted-types"] == "'none'"
    assert resp.headers.getall("Cross-Origin-Embedder-Policy") == ["require-corp"]


async def test_sec_27_no_banner_no_git(api):
    resp = await api.get("/.git/HEAD")
    assert resp.status == 404
    assert resp.headers["Server"] == "mailgate"


async def test_sec_64_foreign_host_header_is_refused(api):
    resp = await api.get("/api/session", headers={"Host": "evil.test"})
    assert resp.status == 421
    assert resp.error_code == "misdirected_request"


async def test_sec_30_shell_scripts_are_same_origin_with_integrity(api):
    resp = await api.get("/")
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
