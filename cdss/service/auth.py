"""Verifying the EHR's JWT, as CDS Hooks 2.0 ("Trusting CDS Clients") describes it.

The client signs a short-lived JWT (ES384 or RS384; RS256/ES256 accepted too) and sends it as a Bearer
token. It is trusted when its issuer is on the allow-list, its signature verifies with that issuer's key
(a JWKS URL, a JWKS file or a PEM public key, configured per issuer: a `jku` header pointing elsewhere is
never fetched), its audience is this service endpoint's URL, it expires within 5 minutes of being issued
and is not yet expired, and its `jti` was not seen before (replay).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jwt
from attrs import frozen

ALGORITHMS = ["ES384", "RS384", "ES256", "RS256", "ES512", "RS512"]
MAX_LIFETIME = 300
LEEWAY = 30


class AuthError(Exception):
    """Why a request's JWT is not trusted (said in the 401 answer, never logged with the token)."""


@frozen
class Trust:
    """One allowed issuer and where its keys are: a JWKS URL (http/https), a JWKS file, or a PEM file."""

    issuer: str
    keys: str


def parse_trust(text: str) -> Trust:
    issuer, sep, keys = text.partition("=")
    if not sep or not issuer or not keys:
        raise ValueError(f"expected ISSUER=JWKS_URL_OR_FILE, got {text!r}")
    return Trust(issuer, keys)


class Verifier:
    def __init__(self, trusts: list[Trust]):
        self.trusts = {t.issuer: t for t in trusts}
        self._keys: dict[str, object] = {}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.trusts)

    def _key_for(self, trust: Trust, header: dict, token: str):
        source = trust.keys
        if source.startswith(("http://", "https://")):
            client = self._keys.get(source)
            if client is None:
                client = self._keys.setdefault(source, jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=5))
            try:
                return client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as error:
                raise AuthError(f"no key for this token at the issuer's JWKS: {error}") from None
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as error:
            raise AuthError(f"the issuer's key file cannot be read: {error.strerror}") from None
        if text.lstrip().startswith("{"):
            keys = jwt.PyJWKSet.from_dict(json.loads(text))
            kid = header.get("kid")
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
            raise AuthError(f"no key with kid {kid!r} in the issuer's JWKS")
        return text

    def verify(self, authorization: str | None, audience: str) -> dict:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("a Bearer JWT is required (Authorization header)")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise AuthError(f"not a JWT: {error}") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"algorithm {header.get('alg')!r} is not accepted (use ES384 or RS384)")
        issuer = claims.get("iss")
        trust = self.trusts.get(issuer) if isinstance(issuer, str) else None
        if trust is None:
            raise AuthError(f"issuer {str(issuer)[:80]!r} is not trusted")
        key = self._key_for(trust, header, token)
        try:
            verified = jwt.decode(token, key, algorithms=ALGORITHMS, audience=audience, issuer=issuer, leeway=LEEWAY,
                                  options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except jwt.PyJWTError as error:
            raise AuthError(f"the JWT is not valid: {error}") from None
        if verified["exp"] - verified["iat"] > MAX_LIFETIME + LEEWAY:
            raise AuthError("the JWT lives longer than 5 minutes")
        now = time.time()
        with self._lock:
            for jti, until in list(self._seen.items()):
                if until < now:
                    del self._seen[jti]
            if verified["jti"] in self._seen:
                raise AuthError("the JWT was used before (jti replayed)")
            self._seen[verified["jti"]] = verified["exp"] + LEEWAY
        return verified
