"""Signing in through a mail domain's OpenID provider (docs/decisions/0021-openid-sign-in.md).

The authorization-code flow with PKCE (S256), ``state`` and ``nonce``; the provider's
endpoints from its issuer's discovery document (https, no redirects, size-capped, cached);
the ID token's signature (the provider's JWKS, asymmetric algorithms only) and claims
(iss, aud, azp, exp, iat, nonce) verified with joserfc. Nothing here keeps a token: the
flow state holds the PKCE verifier and nonce until the callback, keyed by a hash of
``state``, and the browser's proof that it started the flow (the binding) only as a hash.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import secrets
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any, NoReturn

import aiohttp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config, DomainEntry
from mailgate.domains import address_domain
from mailgate.errors import SignInFailed, StoreUnavailable, UpstreamUnavailable
from mailgate.logs import log_event
from mailgate.store.flows import FlowStore, MemoryFlowStore
from mailgate.store.interface import StoreError

__all__ = ["OidcService", "ProviderMetadata", "SignedIn"]

#: A flow must come back from the provider within this time.
FLOW_TTL_S = 600
_FLOW_INFO = b"mailgate/v1/oidc-flow"
#: Discovery documents and key sets: cached this long, and no larger than this.
CACHE_TTL_S = 3600
MAX_DOCUMENT_BYTES = 256 * 1024
#: Asymmetric signatures only: never "none", never an HMAC keyed with public data.
ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
#: Clock skew allowed between us and the provider, in seconds.
LEEWAY_S = 60


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str = ""
    end_session_endpoint: str = ""


@dataclass(frozen=True, repr=False)
class SignedIn:
    """What a completed flow yields; handed to the session manager and not kept."""

    domain: str
    email: str
    access_token: str
    refresh_token: str
    expires_at: float
    id_token: str

    def __repr__(self) -> str:
        return "SignedIn(<redacted>)"


@dataclass(frozen=True, repr=False)
class _Flow:
    domain: str
    verifier: str
    nonce: str
    redirect_uri: str
    created: float


def _flow_key(binding: str) -> AESGCM:
    material = binding.encode("utf-8")
    return AESGCM(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FLOW_INFO).derive(material)
    )


def _seal(flow: _Flow, binding: str, key: bytes) -> bytes:
    """The flow encrypted under the starting page's binding, tied to its state's hash:
    the store holds nothing that could finish it without that page."""
    plain = json.dumps(dataclasses.asdict(flow)).encode("utf-8")
    nonce = secrets.token_bytes(12)
    return nonce + _flow_key(binding).encrypt(nonce, plain, key)


def _unseal(sealed: bytes, binding: str, key: bytes) -> _Flow | None:
    try:
        plain = _flow_key(binding).decrypt(sealed[:12], sealed[12:], key)
        fields = json.loads(plain)
        return _Flow(
            str(fields["domain"]),
            str(fields["verifier"]),
            str(fields["nonce"]),
            str(fields["redirect_uri"]),
            float(fields["created"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _https(url: object) -> str:
    if not isinstance(url, str):
        raise ValueError("not a URL")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.fragment:
        raise ValueError("not an https URL")
    return url


class OidcService:
    """The OpenID providers of the domain map, one per domain that configures one."""

    def __init__(
        self,
        config: Config,
        ssl_context: ssl.SSLContext,
        clock: Clock = SYSTEM_CLOCK,
        flows: FlowStore | None = None,
    ) -> None:
        self._entries = {e.domain: e for e in config.domains.entries if e.oidc_issuer}
        self._ssl = ssl_context
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=config.imap.timeout_s)
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}
        # Shared with the other instances (Redis) where the sessions are: the provider's
        # redirect may reach any of them. Each flow is sealed under the page's binding.
        self._flows: FlowStore = flows if flows is not None else MemoryFlowStore()

    async def close(self) -> None:
        await self._flows.close()

    # -- the login screen ---------------------------------------------------------------

    def entry(self, domain: str) -> DomainEntry | None:
        return self._entries.get(domain)

    def providers(self) -> list[DomainEntry]:
        return [self._entries[d] for d in sorted(self._entries)]

    def passwords_allowed(self, email: str) -> bool:
        entry = self._entries.get(address_domain(email) or "")
        return entry is None or entry.passwords_allowed

    @staticmethod
    def display_name(entry: DomainEntry) -> str:
        return entry.oidc_name or urllib.parse.urlsplit(entry.oidc_issuer).hostname or ""

    # -- HTTP to the provider --------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        """One request to the provider: verified TLS, no redirects, a capped JSON body."""
        try:
            async with (
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=self._ssl),
                    timeout=self._timeout,
                    trust_env=False,
                ) as http,
                http.request(method, url, allow_redirects=False, **kwargs) as resp,
            ):
                body = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            log_event("oidc_provider_unreachable", logging.WARNING)
            raise UpstreamUnavailable("The identity provider cannot be reached.") from None
        if len(body) > MAX_DOCUMENT_BYTES:
            raise UpstreamUnavailable("The identity provider answered too much.")
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, None

    async def metadata(self, entry: DomainEntry) -> ProviderMetadata:
        cached = self._metadata.get(entry.domain)
        now = self._clock.now()
        if cached is not None and now - cached[0] < CACHE_TTL_S:
            return cached[1]
        issuer = entry.oidc_issuer.rstrip("/")
        status, doc = await self._request("GET", f"{issuer}/.well-known/openid-configuration")
        try:
            if status != 200 or not isinstance(doc, dict):
                raise ValueError("no discovery document")
            # OpenID Connect Discovery 1.0 §4.3: exactly the configured issuer.
            if doc.get("issuer") != entry.oidc_issuer:
                raise ValueError("issuer mismatch")
            if "S256" not in doc.get("code_challenge_methods_supported", ["S256"]):
                raise ValueError("no PKCE S256")
            meta = ProviderMetadata(
                issuer=entry.oidc_issuer,
                authorization_endpoint=_https(doc.get("authorization_endpoint")),
                token_endpoint=_https(doc.get("token_endpoint")),
                jwks_uri=_https(doc.get("jwks_uri")),
                revocation_endpoint=_https(doc["revocation_endpoint"])
                if doc.get("revocation_endpoint")
                else "",
                end_session_endpoint=_https(doc["end_session_endpoint"])
                if doc.get("end_session_endpoint")
                else "",
            )
        except (ValueError, KeyError):
            log_event("oidc_discovery_refused", logging.WARNING)
            raise UpstreamUnavailable(
                "The identity provider's configuration is not usable."
            ) from None
        self._metadata[entry.domain] = (now, meta)
        return meta

    async def _key_set(self, entry: DomainEntry, meta: ProviderMetadata, fresh: bool) -> KeySet:
        cached = self._keys.get(entry.domain)
        now = self._clock.now()
        if cached is not None and not fresh and now - cached[0] < CACHE_TTL_S:
            return cached[1]
        status, doc = await self._request("GET", meta.jwks_uri)
        try:
            if status != 200 or not isinstance(doc, dict):
                raise ValueError("no key set")
            keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (ValueError, JoseError):
            log_event("oidc_jwks_refused", logging.WARNING)
            raise UpstreamUnavailable("The identity provider's keys are not usable.") from None
        self._keys[entry.domain] = (now, keys)
        return keys

    def _client_auth(self, entry: DomainEntry, form: dict[str, str]) -> dict[str, str]:
        """client_secret_basic (RFC 6749 §2.3.1, form-encoded parts), or a public client."""
        if not entry.oidc_client_secret:
            form["client_id"] = entry.oidc_client_id
            return {}
        user = urllib.parse.quote(entry.oidc_client_id, safe="")
        secret = urllib.parse.quote(entry.oidc_client_secret, safe="")
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}

    # -- the flow --------------------------------------------------------------------------

    async def start(self, domain: str, redirect_uri: str) -> tuple[str, str]:
        """A new flow for ``domain``: (the provider's authorization URL, the binding the
        starting page keeps and sends back with the callback's code and state)."""
        entry = self._entries.get(domain)
        if entry is None:
            raise SignInFailed("This domain does not sign in through an identity provider.")
        meta = await self.metadata(entry)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        binding = secrets.token_urlsafe(32)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
            .rstrip(b"=")
            .decode("ascii")
        )
        flow = _Flow(domain, verifier, nonce, redirect_uri, self._clock.now())
        key = _sha256(state)
        try:
            await self._flows.put(key, _seal(flow, binding, key), FLOW_TTL_S)
        except StoreError:
            raise StoreUnavailable() from None
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": entry.oidc_client_id,
                "redirect_uri": redirect_uri,
                "scope": entry.oidc_scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if urllib.parse.urlsplit(meta.authorization_endpoint).query else "?"
        log_event("oidc_started", logging.INFO)
        return f"{meta.authorization_endpoint}{separator}{query}", binding

    async def finish(self, code: str, state: str, binding: str, iss: str = "") -> SignedIn:
        """The callback's code and state, with the binding of the page that started the
        flow: exchange the code and verify the ID token. Any mismatch: SignInFailed."""
        key = _sha256(state)
        try:
            sealed = await self._flows.take(key)  # one use: a replayed state is unknown
        except StoreError:
            raise StoreUnavailable() from None
        if sealed is None:
            self._refuse("unknown_state")
        flow = _unseal(sealed, binding, key)
        if flow is None:
            # The code arrived in a browser that did not start this flow (login CSRF):
            # only the starting page's binding opens the flow.
            self._refuse("binding")
        if self._clock.now() - flow.created >= FLOW_TTL_S:
            self._refuse("unknown_state")
        entry = self._entries.get(flow.domain)
        if entry is None:
            self._refuse("unknown_state")
        meta = await self.metadata(entry)
        # RFC 9207: a provider that names itself on the callback must be ours.
        if iss and iss != meta.issuer:
            self._refuse("issuer")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.verifier,
        }
        headers = self._client_auth(entry, form)
        status, tokens = await self._request(
            "POST", meta.token_endpoint, data=form, headers=headers
        )
        if status != 200 or not isinstance(tokens, dict):
            self._refuse("token_endpoint")
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not isinstance(access, str) or not access or not isinstance(id_token, str):
            self._refuse("token_endpoint")
        claims = await self.verify_id_token(entry, meta, id_token, flow.nonce)
        login = claims.get(entry.oidc_login_claim)
        if not isinstance(login, str) or address_domain(login) != entry.domain:
            # A provider speaks for its own domain only.
            self._refuse("login_claim")
        if entry.oidc_login_claim == "email" and claims.get("email_verified") is False:
            self._refuse("login_claim")
        refresh = tokens.get("refresh_token")
        expires_in = tokens.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        return SignedIn(
            domain=entry.domain,
            email=login,
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) else "",
            expires_at=self._clock.now() + lifetime,
            id_token=id_token,
        )

    async def verify_id_token(
        self, entry: DomainEntry, meta: ProviderMetadata, id_token: str, nonce: str
    ) -> dict[str, Any]:
        keys = await self._key_set(entry, meta, fresh=False)
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except (ValueError, JoseError):
                # Perhaps a key the cache does not know yet (rotation): fetch the set again.
                keys = await self._key_set(entry, meta, fresh=True)
                token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            registry = JWTClaimsRegistry(
                now=lambda: int(self._clock.now()),
                leeway=LEEWAY_S,
                iss={"essential": True, "value": meta.issuer},
                aud={"essential": True, "value": entry.oidc_client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (ValueError, JoseError):
            self._refuse("id_token")
        claims = dict(token.claims)
        audience = claims.get("aud")
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != entry.oidc_client_id:
            self._refuse("id_token")
        if float(claims["iat"]) > self._clock.now() + LEEWAY_S:
            self._refuse("id_token")
        return claims

    def _refuse(self, reason: str) -> NoReturn:
        log_event("oidc_refused", logging.INFO, reason=reason)
        raise SignInFailed()

    # -- after sign-in ---------------------------------------------------------------------

    async def refresh(self, domain: str, refresh_token: str) -> tuple[str, str, float] | None:
        """A new access token (and the refresh token to keep), or None: the session ends."""
        entry = self._entries.get(domain)
        if entry is None or not refresh_token:
            return None
        meta = await self.metadata(entry)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        headers = self._client_auth(entry, form)
        try:
            status, tokens = await self._request(
                "POST", meta.token_endpoint, data=form, headers=headers
            )
        except UpstreamUnavailable:
            return None
        if status != 200 or not isinstance(tokens, dict):
            return None
        access = tokens.get("access_token")
        if not isinstance(access, str) or not access:
            return None
        rotated = tokens.get("refresh_token")
        expires_in = tokens.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        return (
            access,
            rotated if isinstance(rotated, str) and rotated else refresh_token,
            self._clock.now() + lifetime,
        )

    async def end_session_url(self, domain: str, origin: str) -> str:
        """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where the browser
        can go to end its sign-in at the provider too, back to ``origin``; "" if none."""
        entry = self._entries.get(domain)
        if entry is None:
            return ""
        try:
            meta = await self.metadata(entry)
        except UpstreamUnavailable:
            return ""
        if not meta.end_session_endpoint:
            return ""
        query = urllib.parse.urlencode(
            {"client_id": entry.oidc_client_id, "post_logout_redirect_uri": f"{origin}/"}
        )
        separator = "&" if urllib.parse.urlsplit(meta.end_session_endpoint).query else "?"
        return f"{meta.end_session_endpoint}{separator}{query}"

    async def revoke(self, domain: str, refresh_token: str) -> None:
        """Best effort (RFC 7009): the provider forgets the refresh token at logout."""
        entry = self._entries.get(domain)
        if entry is None or not refresh_token:
            return
        try:
            meta = await self.metadata(entry)
            if not meta.revocation_endpoint:
                return
            form = {"token": refresh_token, "token_type_hint": "refresh_token"}
            headers = self._client_auth(entry, form)
            status, _ = await self._request(
                "POST", meta.revocation_endpoint, data=form, headers=headers
            )
        except UpstreamUnavailable:
            status = 0
        log_event("oidc_revoked", logging.INFO, ok=status == 200)
