"""Signing in through a domain's OpenID provider, end to end over HTTP: the real provider
(oidc-provider on Node.js, tests/servers/oidc.py), a real Dovecot validating its access
tokens, and mailgate between them. Then the attacks: a tampered, replayed or foreign
state, a code from another browser's flow (login CSRF), another issuer on the callback,
and, from a provider of the test's own making, ID tokens signed with another key, expired,
for another audience or with the wrong nonce. Each is a 4xx and sets no cookie."""

from __future__ import annotations

import contextlib
import json
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiosmtpd.controller import Controller
from joserfc import jwt
from joserfc.jwk import RSAKey

from mailgate.config import DomainEntry
from mailgate.errors import SignInFailed
from mailgate.session.crypto import SessionKeys
from mailgate.session.oidc import OidcService
from mailgate.session.tokens import parse_token
from mailgate.store.redis import RedisFlowStore
from mailgate.testing.client import ApiClient, ApiResponse
from mailgate.testing.loop import LoopThread
from mailgate.testing.servers import RunningMailgate, RunningSandbox, free_port, upstream_config
from mailgate.tls import upstream_context
from tests.conftest import CANARIES, OUTPUT
from tests.oidc.flow import provider_login
from tests.servers.dovecot import Dovecot, OAuth2Validation, random_password
from tests.servers.oidc import OidcProvider
from tests.servers.redis import RedisServer, running_redis

pytestmark = pytest.mark.dovecot


class Sink:
    """Where Dovecot's submission server relays to: plain SMTP on 127.0.0.1, no AUTH."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.content))
        return "250 OK"

    def stop(self) -> None:
        self._controller.stop()


class EvilProvider:
    """A provider of the test's making (aiohttp over TLS): a true discovery document and
    key set, and a token endpoint answering whatever ID token the test set."""

    def __init__(self, ca: trustme.CA) -> None:
        self.port = free_port()
        self.issuer = f"https://localhost:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "evil-1"}, private=True)
        self.id_token = ""
        self.thread = LoopThread("evil-provider")
        cert = ca.issue_cert("localhost")
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.ssl)
        self._runner: web.AppRunner | None = None

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        key = key or self.key
        kid = key.kid or "evil-1"
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

    async def _start(self) -> None:
        app = web.Application()
        issuer = self.issuer

        async def discovery(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/auth",
                    "token_endpoint": f"{issuer}/token",
                    "jwks_uri": f"{issuer}/jwks",
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def jwks(_: web.Request) -> web.Response:
            return web.json_response({"keys": [self.key.as_dict(private=False)]})

        async def token(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "access_token": "evil-access",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "id_token": self.id_token,
                }
            )

        app.router.add_get("/.well-known/openid-configuration", discovery)
        # A document for the issuer ".../mixup" that names another issuer (mix-up).
        app.router.add_get("/mixup/.well-known/openid-configuration", discovery)
        app.router.add_get("/jwks", jwks)
        app.router.add_post("/token", token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl).start()

    def start(self) -> None:
        self.thread.call(self._start())

    def stop(self) -> None:
        if self._runner is not None:
            self.thread.call(self._runner.cleanup())
        self.thread.close()


@dataclass
class Stack:
    mailgate: RunningMailgate
    provider: OidcProvider
    evil: EvilProvider
    dovecot: Dovecot
    redirect_uri: str
    sink: Sink
    users: list[str] = field(default_factory=list)

    def new_user(self, domain: str = "alpha.test") -> str:
        email = f"o-{secrets.token_hex(4)}@{domain}"
        password = random_password()
        self.dovecot.add_user(email, password)
        CANARIES.add(email, kind="account")
        CANARIES.add(password, kind="password")
        return email

    def client(self) -> ApiClient:
        return ApiClient(self.mailgate.url, self.mailgate.client_ssl())


@contextlib.contextmanager
def build_stack(sandbox: RunningSandbox, access_token_ttl: int = 600) -> Iterator[Stack]:
    """The provider (access tokens living ``access_token_ttl`` seconds), a provider of the
    test's making, Dovecot validating the provider's tokens for IMAP and submission, and
    mailgate serving alpha.test (provider only) and evil.test."""
    if not Dovecot.available() or not OidcProvider.available():
        pytest.skip("needs dovecot and `npm install --prefix tests/oidc/provider`")
    ca = trustme.CA()
    with contextlib.ExitStack() as cleanup:
        # Servers bind their ports as soon as they are picked where they can; the provider
        # starts last, once it knows mailgate's address for its client's redirect URI.
        provider = OidcProvider("", ca=ca, access_token_ttl=access_token_ttl)
        cleanup.callback(provider.cleanup)
        evil = EvilProvider(ca)
        evil.start()
        cleanup.callback(evil.stop)
        sink = Sink()
        cleanup.callback(sink.stop)
        validation = OAuth2Validation(provider.issuer, provider.kid, provider.public_pem())
        dovecot = Dovecot(oauth2=validation, submission_relay_port=sink.port, sieve=True)
        cleanup.callback(dovecot.cleanup)
        dovecot.start()
        bundle = OUTPUT / f"ca-oidc-{secrets.token_hex(4)}.pem"
        bundle.write_bytes(
            Path(dovecot.ca_file).read_bytes()
            + Path(provider.ca_file).read_bytes()
            + Path(sandbox.ca_file).read_bytes()
        )
        servers: dict[str, Any] = {
            "imap_host": "localhost",
            "imap_port": dovecot.port,
            "imap_security": "tls",
            "smtp_host": "localhost",
            "smtp_port": dovecot.smtp_port,
            "smtp_security": "tls",
            "sieve_host": "localhost",
            "sieve_port": dovecot.sieve_port,
            "sieve_security": "starttls",
        }
        entries = (
            DomainEntry(
                domain="alpha.test",
                oidc_issuer=provider.issuer,
                oidc_name="Test IdP",
                oidc_client_id=provider.client_id,
                oidc_client_secret=provider.client_secret,
                passwords_allowed=False,
                **servers,
            ),
            DomainEntry(
                domain="mixup.test",
                oidc_issuer=f"{evil.issuer}/mixup",
                oidc_client_id="mailgate",
                **servers,
            ),
            DomainEntry(
                domain="evil.test",
                oidc_issuer=evil.issuer,
                oidc_client_id="mailgate",
                oidc_client_secret="s",
                **servers,
            ),
        )
        config = upstream_config(
            {
                "upstream": {"ca_file": str(bundle), "allow_any_port": True},
                "domains": {"entries": entries},
            }
        )
        running = RunningMailgate(config).start()
        cleanup.callback(running.stop)
        provider.redirect_uri = f"{running.url}/oidc/callback"
        provider.post_logout_redirect_uri = f"{running.url}/"
        provider.start()
        yield Stack(running, provider, evil, dovecot, provider.redirect_uri, sink)


@pytest.fixture(scope="module")
def stack(sandbox: RunningSandbox) -> Iterator[Stack]:
    with build_stack(sandbox) as built:
        yield built


async def _start(api: ApiClient, domain: str) -> tuple[str, str]:
    resp = await api.post("/api/oidc/start", json={"domain": domain})
    assert resp.status == 200, resp
    assert resp.set_cookies() == []
    body = resp.json()
    return body["authorization_url"], body["binding"]


async def _at_provider(stack: Stack, url: str, email: str) -> dict[str, str]:
    back = await provider_login(url, email, stack.redirect_uri, stack.provider.ca_file)
    params = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
    CANARIES.add(params["code"], kind="authorization code")
    return params


async def _finish(api: ApiClient, params: dict[str, str], binding: str) -> ApiResponse:
    body = {"code": params["code"], "state": params["state"], "binding": binding}
    if "iss" in params:
        body["iss"] = params["iss"]
    resp = await api.post("/api/oidc/finish", json=body)
    if resp.status == 201:
        api.csrf = resp.json()["csrf_token"]
    return resp


def _refused(resp: ApiResponse, code: str = "sign_in_failed", status: int = 400) -> None:
    assert resp.status == status, resp
    assert resp.error_code == code, resp
    assert resp.set_cookies() == []


async def test_sign_in_through_the_provider_reads_the_inbox_and_logout_revokes(
    stack: Stack,
) -> None:
    email = stack.new_user()
    async with stack.client() as api:
        providers = (await api.get("/api/domains")).json()["providers"]
        assert {"domain": "alpha.test", "name": "Test IdP", "passwords": False} in providers
        url, binding = await _start(api, "alpha.test")
        query = parse_qs(urlparse(url).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
        params = await _at_provider(stack, url, email)
        resp = await _finish(api, params, binding)
        assert resp.status == 201, resp
        assert resp.json()["account"]["email"] == email
        provider = (await api.get("/api/session")).json()["provider"]
        assert provider["name"] == "Test IdP"
        assert provider["end_session_url"].startswith(f"{stack.provider.issuer}/session/end?")
        assert len(resp.set_cookies()) == 1
        assert "SameSite=Strict" in resp.set_cookies()[0]
        mailboxes = await api.get("/api/mailboxes")
        assert mailboxes.status == 200, mailboxes
        assert "INBOX" in {m["name"] for m in mailboxes.json()["mailboxes"]}
        # ManageSieve with the token (OAUTHBEARER), like IMAP.
        vacation = await api.get("/api/sieve/vacation")
        assert vacation.status == 200, vacation
        # Submission with the token too (Dovecot's submission server, same oauth2 passdb).
        subject = f"token mail {secrets.token_hex(4)}"
        sent = await api.post(
            "/api/send", json={"to": ["friend@example.test"], "subject": subject, "text": "hi"}
        )
        assert sent.status in (200, 201), sent
        assert any(subject.encode() in m for m in stack.sink.messages)
        assert (await api.logout()).status == 204
    ctx = ssl.create_default_context(cafile=stack.provider.ca_file)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http,
        http.get(f"{stack.provider.issuer}/test/revoked") as revoked,
    ):
        assert email in (await revoked.json())["revoked"]


async def test_a_password_login_is_refused_where_only_the_provider_signs_in(
    stack: Stack,
) -> None:
    email = stack.new_user()
    async with stack.client() as api:
        _refused(await api.login(email, "whatever"), "passwords_disabled", 403)


async def test_sec_oidc_code_from_another_browsers_flow_is_refused(stack: Stack) -> None:
    """Login CSRF: the attacker's own code and state, delivered to the victim's browser,
    meet the victim's binding (or none), never the attacker's."""
    attacker = stack.new_user()
    async with stack.client() as mallory, stack.client() as victim:
        url, mallory_binding = await _start(mallory, "alpha.test")
        params = await _at_provider(stack, url, attacker)
        _, victim_binding = await _start(victim, "alpha.test")
        _refused(await _finish(victim, params, victim_binding))
        # The flow is spent by the refusal: not even its starter can use it now.
        _refused(await _finish(mallory, params, mallory_binding))


async def test_sec_oidc_tampered_replayed_or_foreign_state_is_refused(stack: Stack) -> None:
    email = stack.new_user()
    async with stack.client() as api:
        url, binding = await _start(api, "alpha.test")
        params = await _at_provider(stack, url, email)
        tampered = dict(params, state=params["state"][:-2] + "xy")
        _refused(await _finish(api, tampered, binding))
        foreign = dict(params, iss="https://localhost:1")
        _refused(await _finish(api, foreign, binding))
        # The right state after a wrong issuer: the flow was spent by that attempt.
        _refused(await _finish(api, params, binding))
        url, binding = await _start(api, "alpha.test")
        params = await _at_provider(stack, url, email)
        assert (await _finish(api, params, binding)).status == 201
        async with stack.client() as other:
            _refused(await _finish(other, params, binding))  # replayed


async def test_sec_oidc_unusable_requests_are_clear_400s(stack: Stack) -> None:
    async with stack.client() as api:
        # A discovery document naming an issuer other than the configured one is not used.
        mixup = await api.post("/api/oidc/start", json={"domain": "mixup.test"})
        assert mixup.status == 502 and mixup.error_code == "upstream_unavailable", mixup
        assert mixup.set_cookies() == []
        _refused(await api.post("/api/oidc/start", json={"domain": "beta.test"}))
        resp = await api.post("/api/oidc/finish", json={"code": "c", "state": "s"})
        assert resp.status == 400 and resp.set_cookies() == []
        cross = await api.post(
            "/api/oidc/finish",
            json={"code": "c", "state": "s", "binding": "b"},
            headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status == 403 and cross.set_cookies() == []


def _claims(stack: Stack, nonce: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": stack.evil.issuer,
        "sub": "someone",
        "aud": "mailgate",
        "email": "victim@evil.test",
        "nonce": nonce,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "attack",
    ["other_key", "expired", "other_audience", "wrong_nonce", "other_issuer", "no_signature"],
)
async def test_sec_oidc_id_tokens_that_do_not_verify_are_refused(stack: Stack, attack: str) -> None:
    async with stack.client() as api:
        url, binding = await _start(api, "evil.test")
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        nonce, state = query["nonce"], query["state"]
        evil = stack.evil
        if attack == "other_key":
            stranger = RSAKey.generate_key(2048, parameters={"kid": "evil-1"}, private=True)
            evil.id_token = evil.sign(_claims(stack, nonce), stranger)
        elif attack == "expired":
            past = int(time.time()) - 3600
            evil.id_token = evil.sign(_claims(stack, nonce, iat=past - 300, exp=past))
        elif attack == "other_audience":
            evil.id_token = evil.sign(_claims(stack, nonce, aud="another-client"))
        elif attack == "wrong_nonce":
            evil.id_token = evil.sign(_claims(stack, "not-" + nonce))
        elif attack == "other_issuer":
            evil.id_token = evil.sign(_claims(stack, nonce, iss=stack.provider.issuer))
        else:
            header, payload, _ = evil.sign(_claims(stack, nonce)).split(".")
            evil.id_token = f"{header}.{payload}."
        _refused(await _finish(api, {"code": "evil-code", "state": state}, binding))


async def test_an_id_token_that_verifies_goes_on_to_the_mail_server(stack: Stack) -> None:
    """The control for the attacks above: the same provider's good token passes every
    check and fails only where it should, at the mail server (evil-access is no token)."""
    async with stack.client() as api:
        url, binding = await _start(api, "evil.test")
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        stack.evil.id_token = stack.evil.sign(_claims(stack, query["nonce"]))
        resp = await _finish(api, {"code": "evil-code", "state": query["state"]}, binding)
        _refused(resp, "auth_failed", 401)


async def test_sec_oidc_tokens_live_only_in_the_sealed_session(stack: Stack) -> None:
    """No access token, refresh token, ID token or authorization code in the store, in any
    answer, or (the tokens are canaries for the log check) in any log line."""
    email = stack.new_user()
    async with stack.client() as api:
        url, binding = await _start(api, "alpha.test")
        params = await _at_provider(stack, url, email)
        finished = await _finish(api, params, binding)
        assert finished.status == 201, finished
        assert api.cookie is not None
        token = parse_token(api.cookie)
        store = stack.mailgate.services.store
        record = await store.get(token.lookup)
        assert record is not None
        account = json.loads(SessionKeys(token.key, token.lookup).open(record.sealed, b"account"))
        oidc = account["oidc"]
        secrets_held = [oidc["access_token"], oidc["refresh_token"]]
        assert all(secrets_held)
        CANARIES.add(*secrets_held, kind="token")
        answers = [finished, await api.get("/api/session"), await api.get("/api/mailboxes")]
        dump = store.dump()  # type: ignore[attr-defined]
        for value in [*secrets_held, params["code"], email]:
            assert value.encode() not in dump
            for answer in answers:
                assert value.encode() not in answer.body or value == email
        assert "id_token" not in account["oidc"]
        assert (await api.logout()).status == 204


async def test_a_sign_in_the_mail_server_refuses_revokes_its_fresh_tokens(stack: Stack) -> None:
    """The provider vouches for an address the mail server has no mailbox for: 401, no
    cookie, and the refresh token no session will hold is revoked at once."""
    stranger = f"nobody-{secrets.token_hex(4)}@alpha.test"
    async with stack.client() as api:
        url, binding = await _start(api, "alpha.test")
        params = await _at_provider(stack, url, stranger)
        _refused(await _finish(api, params, binding), "auth_failed", 401)
    ctx = ssl.create_default_context(cafile=stack.provider.ca_file)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http,
        http.get(f"{stack.provider.issuer}/test/revoked") as revoked,
    ):
        assert stranger in (await revoked.json())["revoked"]


async def test_a_flow_started_on_one_instance_finishes_on_another(stack: Stack) -> None:
    """Behind the shipped HAProxy layout (no stickiness) the provider's redirect may reach
    any instance: with the Redis backend the flow is shared, sealed under the starting
    page's binding, and still taken once only."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    config = stack.mailgate.config
    tls = upstream_context(config.upstream.ca_file or None)
    with running_redis() as redis_server:
        first = OidcService(config, tls, flows=RedisFlowStore(redis_server.url))
        second = OidcService(config, tls, flows=RedisFlowStore(redis_server.url))
        try:
            email = stack.new_user()
            url, binding = await first.start("alpha.test", stack.redirect_uri)
            params = await _at_provider(stack, url, email)
            # The store holds a sealed flow only: no PKCE verifier or nonce to read.
            dump = RedisFlowStore(redis_server.url)
            stored = dump.dump()
            await dump.close()
            nonce = parse_qs(urlparse(url).query)["nonce"][0]
            assert stored.startswith(b"mailgate:oidc:") and nonce.encode() not in stored
            # Another browser's binding opens nothing, and spends the flow.
            other_url, other_binding = await first.start("alpha.test", stack.redirect_uri)
            other = await _at_provider(stack, other_url, email)
            with pytest.raises(SignInFailed):
                await second.finish(other["code"], other["state"], binding, other.get("iss", ""))
            with pytest.raises(SignInFailed):
                await second.finish(
                    other["code"], other["state"], other_binding, other.get("iss", "")
                )
            # The right binding on the other instance: signed in, once.
            signed = await second.finish(
                params["code"], params["state"], binding, params.get("iss", "")
            )
            assert signed.email == email
            with pytest.raises(SignInFailed):
                await first.finish(params["code"], params["state"], binding, params.get("iss", ""))
        finally:
            await first.close()
            await second.close()
