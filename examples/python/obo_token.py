"""Validating a cognito-obo on-behalf-of token in a Python target, with exactly the rules of the
Rust crate `obo-target` (the shared vectors in `tests/vectors/obo-target.json` hold both to it).

The gateway's interceptor exchanges the user's token for a Cognito machine (client_credentials)
access token minted for this target and enriched with the verified user (`obo_sub`, `obo_exp`,
`obo_iss`, ...). A target checks, in order:

1. the signature with a key of its own user pool's JWKS, an allowed `alg`, `iss` exact, `exp` in
   the future, `nbf`/`iat` not in the future (leeway 30 s);
2. not a user's own token (`username`, `cognito:username` or `origin_jti` without `obo_sub`);
3. `token_use` is `access`, `client_id` is the on-behalf-of client (or, for requests that do not
   act for a user, a listed service client), `scope` contains this target's scope;
4. for calls acting for a user: `obo_sub` present, `now < obo_exp`, no scope but this target's own
   (a token minted for several targets is refused), and `obo_iss` in the allowed list when one is
   configured. The user is identified by (`obo_iss`, `obo_sub`).

Every refusal is a `Rejection` with the stable reason code obo-target uses. Needs PyJWT and
`cryptography` only; never logs or returns token material.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

DEFAULT_MAX_TOKEN_BYTES = 16 * 1024
"""Tokens longer than this are refused before parsing (as obo-core's default)."""

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"})
KEY_CHOOSING_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
USER_TOKEN_CLAIMS = ("username", "cognito:username", "origin_jti")

# HTTP status of a refusal whose fault is on the server's side; every other one is 401 (400 for
# an ambiguous request), as `obo_target::rejection_status`.
SERVER_SIDE_STATUS = {"jwks_unavailable": 503, "misconfigured": 500, "internal": 500}


class Rejection(Exception):
    """A refused token: `reason` is the stable code, `message` a description without token material."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    @property
    def status(self) -> int:
        if self.reason == "subject_ambiguous":
            return 400
        return SERVER_SIDE_STATUS.get(self.reason, 401)

    def www_authenticate(self) -> str | None:
        """The RFC 6750 challenge: plain `Bearer` when no token was sent, none for server faults."""
        if self.reason == "subject_missing":
            return "Bearer"
        if self.status == 400:
            return f'Bearer error="invalid_request", error_description="{self.reason}"'
        if self.status == 401:
            return f'Bearer error="invalid_token", error_description="{self.reason}"'
        return None


@dataclass(frozen=True)
class TargetConfig:
    """What a target trusts; checked when built, so a bad setting stops the start."""

    issuer: str
    """The user pool's issuer (exact `iss`), e.g. `https://cognito-idp.<region>.amazonaws.com/<pool>`."""
    obo_client_id: str
    """The machine client that mints on-behalf-of tokens (the interceptor's)."""
    scope: str
    """This target's own resource-server scope, e.g. `crm/obo`: the only audience a Cognito machine token has."""
    service_client_ids: tuple[str, ...] = ()
    """Other machine clients whose tokens may list tools (never act for a user), e.g. the gateway's tool sync."""
    scope_group: tuple[str, ...] = ()
    """This target's other scopes, when it has several (`OBO_TARGET_SCOPE_GROUP`): a token acting
    for a user may carry only this target's own scopes."""
    allowed_obo_issuers: tuple[str, ...] = ()
    """Issuers that may vouch for users (`obo_iss`); empty: any issuer the trigger accepted."""
    org_claim: str = "org_id"
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_secs: int = 30
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES

    def __post_init__(self):
        def require(name: str, value: str):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must not be empty")

        require("issuer", self.issuer)
        url = urllib.parse.urlsplit(self.issuer)
        loopback = url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1")
        if not (url.scheme == "https" or loopback) or not url.hostname or url.query or url.fragment or url.username:
            raise ValueError("issuer must be an https URL without query or credentials (plain http only on loopback)")
        require("obo_client_id", self.obo_client_id)
        require("scope", self.scope)
        if any(c.isspace() for c in self.scope):
            raise ValueError("scope must be one scope, without spaces")
        if any(not s or any(c.isspace() for c in s) for s in self.scope_group):
            raise ValueError("scope_group must list scopes without spaces")
        unknown = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if unknown or not self.algorithms:
            raise ValueError(f"algorithms must be asymmetric JWT algorithms, not {unknown or 'none'}")
        if not 0 <= self.leeway_secs <= 300:
            raise ValueError("leeway_secs must be between 0 and 300")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TargetConfig:
        """Reads the variables obo-target reads (`OBO_TARGET_ISSUER`, `OBO_TARGET_CLIENT_ID`,
        `OBO_TARGET_SCOPE`, `OBO_TARGET_SCOPE_GROUP`, `OBO_TARGET_SERVICE_CLIENT_IDS`, `OBO_TARGET_ORG_CLAIM`,
        `OBO_TARGET_ALGORITHMS`, `OBO_LEEWAY_SECONDS`) and `OBO_TARGET_USER_ISSUERS`; errors name
        the variable."""

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is required but not set")
            return value

        def listed(name: str) -> tuple[str, ...]:
            return tuple(v.strip() for v in env.get(name, "").split(",") if v.strip())

        try:
            leeway = int(env.get("OBO_LEEWAY_SECONDS", "30"))
        except ValueError:
            raise ValueError("OBO_LEEWAY_SECONDS must be a whole number of seconds") from None
        return cls(
            issuer=required("OBO_TARGET_ISSUER"),
            obo_client_id=required("OBO_TARGET_CLIENT_ID"),
            scope=required("OBO_TARGET_SCOPE"),
            scope_group=listed("OBO_TARGET_SCOPE_GROUP"),
            service_client_ids=listed("OBO_TARGET_SERVICE_CLIENT_IDS"),
            allowed_obo_issuers=listed("OBO_TARGET_USER_ISSUERS"),
            org_claim=env.get("OBO_TARGET_ORG_CLAIM", "").strip() or "org_id",
            algorithms=listed("OBO_TARGET_ALGORITHMS") or ("RS256",),
            leeway_secs=leeway,
        )

    def is_own_scope(self, scope: str) -> bool:
        """Whether `scope` may appear in a token acting for a user: this target's own."""
        return scope == self.scope or scope in self.scope_group

    def is_service_client(self, client_id: str) -> bool:
        return client_id == self.obo_client_id or client_id in self.service_client_ids


@dataclass(frozen=True)
class ServiceToken:
    """A machine token for this target that does not (necessarily) act for a user."""

    client_id: str
    exp: int
    claims: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class OboIdentity:
    """Who a verified on-behalf-of token acts for: the user is (`user_issuer`, `user_sub`)."""

    user_sub: str
    user_issuer: str | None
    username: str | None
    org_id: str | None
    groups: list[str]
    user_client_id: str | None
    obo_exp: int
    token: ServiceToken


KeyResolver = Callable[[str], Any]
"""Returns the verifying key for a `kid`; raises `Rejection` (`subject_unknown_key`, `jwks_unavailable`)."""


def jwks_keys(issuer: str, timeout: float = 1.5) -> KeyResolver:
    """Keys from `<issuer>/.well-known/jwks.json` through PyJWT's `PyJWKClient`: the key set
    cached for five minutes, no redirects, and tokens with an unknown `kid` refetching at most once
    per 10 s since the last fetch, so forged `kid`s cannot make the target hammer the pool."""
    client = jwt.PyJWKClient(f"{issuer.rstrip('/')}/.well-known/jwks.json", lifespan=300, timeout=timeout, cooldown_duration=10)
    unavailable = (jwt.PyJWKClientError, jwt.exceptions.PyJWKSetError)

    def resolve(kid: str):
        try:
            client.get_signing_keys()  # the cached set; fetched when missing or older than five minutes
        except unavailable:
            raise Rejection("jwks_unavailable", "the issuer's signing keys are unavailable") from None
        try:
            return client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError:
            raise Rejection("jwks_unavailable", "the issuer's signing keys are unavailable") from None
        except unavailable:
            raise Rejection("subject_unknown_key", "the token's key is not in the issuer's JWKS") from None

    return resolve


def key_set(jwks: Mapping[str, Any]) -> KeyResolver:
    """Keys from a JWKS document held in memory (keys distributed out of band; tests)."""
    keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(dict(jwks)).keys if k.key_id}

    def resolve(kid: str):
        if kid not in keys:
            raise Rejection("subject_unknown_key", "the token's key is not in the issuer's JWKS")
        return keys[kid]

    return resolve


def numeric_date(value: Any) -> int | None:
    """A JWT NumericDate as whole seconds; `None` if it is not a non-negative number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return int(value)
    return None


class TargetVerifier:
    """Validates the tokens a target receives. Build one at start-up and share it."""

    def __init__(self, config: TargetConfig, keys: KeyResolver | None = None, clock: Callable[[], float] = time.time):
        self.config = config
        self._keys = keys or jwks_keys(config.issuer)
        self._clock = clock

    def verify_service(self, token: str) -> ServiceToken:
        """A token that may list tools or otherwise not act for a user: a machine token of the
        on-behalf-of client or a listed service client, with this target's scope."""
        return self._machine_token(self._verify_jwt(token), self.config.is_service_client)

    def verify_obo(self, token: str) -> OboIdentity:
        """A token for a call acting for a user: a machine token of the on-behalf-of client with
        this target's scope and no other target's, `obo_sub`, `obo_exp` not passed and, when configured, an allowed `obo_iss`."""
        service = self._machine_token(self._verify_jwt(token), lambda c: c == self.config.obo_client_id)
        claims = service.claims
        user_sub = claims.get("obo_sub")
        if user_sub is None:
            raise Rejection("obo_claims_missing", "the token carries no `obo_sub`: it does not act for a user")
        if not isinstance(user_sub, str) or not user_sub:
            raise Rejection("subject_claim_invalid", "`obo_sub` is not a string")
        if "obo_exp" not in claims:
            raise Rejection("obo_claims_missing", "the token carries no `obo_exp`")
        obo_exp = numeric_date(claims["obo_exp"])
        if obo_exp is None:
            raise Rejection("subject_claim_invalid", "`obo_exp` is not a number")
        if self._now() >= obo_exp:
            raise Rejection("subject_expired", "the user's token has expired (`obo_exp`)")
        if any(s and not self.config.is_own_scope(s) for s in claims.get("scope", "").split(" ")):
            raise Rejection(
                "token_not_for_target",
                "the token also carries other targets' scopes: an on-behalf-of token is for one target",
            )
        user_issuer = _optional_string(claims, "obo_iss")
        if self.config.allowed_obo_issuers:
            if user_issuer is None:
                raise Rejection("obo_claims_missing", "the token carries no `obo_iss`")
            if user_issuer not in self.config.allowed_obo_issuers:
                raise Rejection("subject_issuer_not_allowed", "the user's issuer (`obo_iss`) is not allowed")
        return OboIdentity(
            user_sub=user_sub,
            user_issuer=user_issuer,
            username=_optional_string(claims, "obo_username"),
            org_id=_optional_string(claims, self.config.org_claim),
            groups=_string_list(claims, "obo_groups"),
            user_client_id=_optional_string(claims, "obo_client_id"),
            obo_exp=obo_exp,
            token=service,
        )

    def _now(self) -> int:
        return int(self._clock())

    def _verify_jwt(self, token: str) -> dict[str, Any]:
        """Structure, allowed `alg`, issuer pinned before any key is looked up, key by `kid`,
        signature, then `exp` (required), `nbf` and `iat`."""
        if not token:
            raise Rejection("subject_missing", "the token is empty")
        if len(token) > self.config.max_token_bytes:
            raise Rejection("subject_malformed", "the token exceeds the size limit")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise Rejection("subject_malformed", "the token is not a well-formed JWT") from None
        if any(h in header for h in KEY_CHOOSING_HEADERS):
            raise Rejection("subject_header_rejected", "the token's header names a key location, which is never honoured")
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise Rejection("subject_malformed", "the token's header has no `alg` string")
        if alg not in self.config.algorithms:
            raise Rejection("subject_alg_not_allowed", "the token's algorithm is not allowed")
        iss = unverified.get("iss")
        if iss is None:
            raise Rejection("subject_issuer_not_allowed", "the token has no issuer")
        if not isinstance(iss, str):
            raise Rejection("subject_claim_invalid", "`iss` is not a string")
        if iss != self.config.issuer:
            raise Rejection("subject_issuer_not_allowed", "the token's issuer is not trusted")
        kid = header.get("kid")
        if kid is None:
            raise Rejection("subject_unknown_key", "the token has no `kid`")
        key = self._keys(kid)
        try:
            # Time claims are checked below, as obo-target does (no leeway on `exp`); Cognito
            # access tokens carry no `aud`.
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise Rejection("subject_bad_signature", "the token's signature does not verify") from None
        except (jwt.InvalidAlgorithmError, jwt.exceptions.InvalidKeyError):
            raise Rejection("subject_alg_not_allowed", "the token's algorithm does not match its key") from None
        except jwt.InvalidTokenError:
            raise Rejection("subject_malformed", "the token is not a well-formed JWT") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now, leeway = self._now(), self.config.leeway_secs

        def number(name: str) -> int | None:
            if name not in claims:
                return None
            value = numeric_date(claims[name])
            if value is None:
                raise Rejection("subject_claim_invalid", f"`{name}` is not a number")
            return value

        exp = number("exp")
        if exp is None:
            raise Rejection("subject_claim_invalid", "the token has no `exp`")
        if now >= exp:
            raise Rejection("subject_expired", "the token has expired")
        nbf = number("nbf")
        if nbf is not None and nbf > now + leeway:
            raise Rejection("subject_not_yet_valid", "the token is not valid yet (`nbf`)")
        iat = number("iat")
        if iat is not None and iat > now + leeway:
            raise Rejection("subject_not_yet_valid", "the token was issued in the future (`iat`)")

    def _machine_token(self, claims: dict[str, Any], allowed: Callable[[str], bool]) -> ServiceToken:
        """Not a user's token, `token_use` access, an allowed client, this target's scope."""
        user_claim = next((c for c in USER_TOKEN_CLAIMS if c in claims), None)
        if user_claim is not None and "obo_sub" not in claims:
            raise Rejection(
                "token_not_for_target",
                f"a user's own token (it has `{user_claim}`) was sent to the target; "
                "targets accept only tokens minted for them",
            )
        if claims.get("token_use") != "access":
            raise Rejection("subject_wrong_token_use", "the token is not an access token")
        client_id = claims.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise Rejection("subject_claim_invalid", "`client_id` is not a string")
        if client_id is None or not allowed(client_id):
            raise Rejection("subject_client_not_allowed", "the token was issued to a client this target does not accept here")
        scope = claims.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise Rejection("subject_claim_invalid", "`scope` is not a string")
        if self.config.scope not in (scope or "").split(" "):
            raise Rejection("token_not_for_target", "the token lacks this target's scope")
        return ServiceToken(client_id=client_id, exp=numeric_date(claims.get("exp")) or 0, claims=claims)


def bearer_token(authorization: Iterable[str]) -> str:
    """The token of the request's `Authorization` values: exactly one, `Bearer <token>` with the
    scheme in any case."""
    values = list(authorization)
    if not values:
        raise Rejection("subject_missing", "no Authorization header")
    if len(values) > 1:
        raise Rejection("subject_ambiguous", "more than one Authorization header")
    # RFC 9110 / RFC 6750: "Bearer" 1*SP token; the value's surrounding spaces and tabs are not
    # part of it, a tab between scheme and token is refused (as obo_core::bearer::parse_bearer).
    scheme, _, token = values[0].strip(" \t").partition(" ")
    token = token.lstrip(" ")
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        raise Rejection("subject_malformed", "the Authorization header is not `Bearer <token>`")
    return token


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise Rejection("subject_claim_invalid", f"`{name}` is not a string")


def _string_list(claims: Mapping[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise Rejection("subject_claim_invalid", f"`{name}` is not a list of strings")
