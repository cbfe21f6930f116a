"""Writes `obo-target.json`: the shared test vectors for every on-behalf-of token verifier.

One table of tokens and expected verdicts drives `crates/obo-target/tests/vectors.rs` (Rust) and
`examples/python/test_vectors.py` (Python), so the verifiers cannot drift. Every token is signed
with `test-signing-key.pem` (a key made for these vectors only; it signs nothing else) and every
verifier checks them at the fixed instant `now`, so the file is reproducible byte for byte
(RS256 signatures are deterministic): `python generate.py` rewrites it, `python generate.py
--check` (run by `make test` through the Python tests) fails if the committed file differs.

Needs PyJWT and cryptography (`examples/python/requirements.txt`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "obo-target.json"
KEY_FILE = HERE / "test-signing-key.pem"

NOW = 1_800_000_000
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Vectors"
OTHER_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Elsewhere"
PARTNER_ISSUER = "https://login.partner.example"
KID = "vectors-1"
OBO = "obo-client"
SYNC = "sync-client"
SCOPE = "crm/obo"
ALICE = "a11ce000-0000-4000-8000-00000000a11c"

CONFIG = {
    "issuer": ISSUER,
    "obo_client_id": OBO,
    "service_client_ids": [SYNC],
    "scope": SCOPE,
    "org_claim": "org_id",
    "algorithms": ["RS256"],
    "leeway_secs": 30,
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def load_key():
    return serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)


def public_jwks(key) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig", "n": jwk["n"], "e": jwk["e"]}]}


def machine(client: str, scope: str | None = SCOPE) -> dict:
    """A Cognito client_credentials access token's claims."""
    claims = {
        "sub": client,
        "token_use": "access",
        "scope": scope,
        "auth_time": NOW - 60,
        "iss": ISSUER,
        "exp": NOW + 3600,
        "iat": NOW - 60,
        "version": 2,
        "jti": "00000000-0000-4000-8000-0000000000aa",
        "client_id": client,
    }
    if scope is None:
        del claims["scope"]
    return claims


def obo(**changes) -> dict:
    """An enriched token as the pre-token trigger makes it for alice of acme; a change whose value
    is `None` removes the claim."""
    claims = machine(OBO)
    claims.update(
        {
            "obo_sub": ALICE,
            "obo_username": "alice",
            "obo_client_id": "web-client",
            "obo_iss": ISSUER,
            "obo_exp": NOW + 600,
            "obo_jti": "00000000-0000-4000-8000-0000000000bb",
            "obo_groups": ["crm-users"],
            "org_id": "acme",
        }
    )
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def user_access(client: str = "web-client") -> dict:
    """A user's own Cognito access token."""
    return {
        "sub": ALICE,
        "cognito:groups": ["crm-users"],
        "iss": ISSUER,
        "version": 2,
        "client_id": client,
        "origin_jti": "00000000-0000-4000-8000-0000000000cc",
        "event_id": "00000000-0000-4000-8000-0000000000dd",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": NOW - 60,
        "exp": NOW + 3600,
        "iat": NOW - 60,
        "jti": "00000000-0000-4000-8000-0000000000ee",
        "username": "alice",
    }


def user_id() -> dict:
    """A user's own Cognito ID token."""
    return {
        "sub": ALICE,
        "aud": "web-client",
        "cognito:username": "alice",
        "custom:org_id": "acme",
        "token_use": "id",
        "auth_time": NOW - 60,
        "iss": ISSUER,
        "exp": NOW + 3600,
        "iat": NOW - 60,
        "origin_jti": "00000000-0000-4000-8000-0000000000cc",
        "email": "alice@acme.example",
    }


def identity(**changes) -> dict:
    """The identity a verifier returns for `obo()` (with `changes`)."""
    who = {
        "user_issuer": ISSUER,
        "user_sub": ALICE,
        "username": "alice",
        "org_id": "acme",
        "groups": ["crm-users"],
        "user_client_id": "web-client",
        "obo_exp": NOW + 600,
        "client_id": OBO,
    }
    who.update(changes)
    return who


class Signer:
    def __init__(self, key):
        self.key = key

    def sign(self, claims: dict, header: dict | None = None) -> str:
        header = {"alg": "RS256", "kid": KID} if header is None else header
        extra = {"typ": None, **{k: v for k, v in header.items() if k != "alg"}}
        return jwt.encode(claims, self.key, algorithm=header["alg"], headers=extra, sort_headers=False)

    def tampered(self, claims: dict) -> str:
        """A token signed for `claims`, whose payload was then replaced by one naming bob."""
        header, _, signature = self.sign(claims).split(".")
        return ".".join([header, b64json({**claims, "obo_sub": "b0b00000-0000-4000-8000-000000000b0b"}), signature])


def unsigned(header: dict, claims: dict, signature: str = "") -> str:
    return f"{b64json(header)}.{b64json(claims)}.{signature}"


def hs256_with_public_key(key, claims: dict) -> str:
    """The classic key-confusion attack: HS256 keyed with the RSA public key."""
    header = {"alg": "HS256", "kid": KID}
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"{signing_input}.{b64url(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def accept(name, rule, token, who, check="obo", **extra):
    return {"name": name, "rule": rule, "check": check, **extra, "token": token, "expect": {"verdict": "accept", **who}}


def reject(name, rule, token, reason, check="obo", **extra):
    return {"name": name, "rule": rule, "check": check, **extra, "token": token, "expect": {"verdict": "reject", "reason": reason}}


def cases(s: Signer, key) -> list[dict]:
    # Rows with an `obo_iss` allow-list configured.
    listed = {"config": {"allowed_obo_issuers": [ISSUER, PARTNER_ISSUER]}}
    only_ours = {"config": {"allowed_obo_issuers": [ISSUER]}}
    # A target whose own scopes are a group (OBO_TARGET_SCOPE_GROUP): all of them are its own.
    grouped = {"config": {"scope_group": [f"{SCOPE}-write"]}}
    return [
        # Accepted: the user, identified by (obo_iss, obo_sub), and what the token says of them.
        accept("obo_token_of_alice", "accepted", s.sign(obo()), identity()),
        accept("scope_group_of_ours", "scope", s.sign(obo(scope=f"{SCOPE} {SCOPE}-write")), identity(), **grouped),
        accept(
            "optional_claims_absent",
            "obo_sub",
            s.sign(obo(obo_username=None, obo_client_id=None, obo_groups=None, org_id=None, obo_jti=None)),
            identity(username=None, org_id=None, groups=[], user_client_id=None),
        ),
        accept("iat_within_leeway", "signature_and_time", s.sign(obo(iat=NOW + 30)), identity()),
        accept("obo_exp_one_second_ahead", "obo_exp", s.sign(obo(obo_exp=NOW + 1)), identity(obo_exp=NOW + 1)),
        accept(
            "obo_iss_any_without_allow_list",
            "obo_iss",
            s.sign(obo(obo_iss=PARTNER_ISSUER)),
            identity(user_issuer=PARTNER_ISSUER),
        ),
        accept("service_token_of_sync_client", "service", s.sign(machine(SYNC)), {"client_id": SYNC}, check="service"),
        accept(
            "service_token_of_obo_client_without_user",
            "service",
            s.sign(machine(OBO, f"other/read {SCOPE}")),
            {"client_id": OBO},
            check="service",
        ),
        # Never a user's own token.
        reject("user_access_token", "not_a_user_token", s.sign(user_access()), "token_not_for_target"),
        reject("user_id_token", "not_a_user_token", s.sign(user_id()), "token_not_for_target"),
        reject(
            "user_token_of_obo_client_with_scope",
            "not_a_user_token",
            s.sign({**user_access(OBO), "scope": SCOPE}),
            "token_not_for_target",
        ),
        reject("user_access_token_listing", "not_a_user_token", s.sign(user_access()), "token_not_for_target", check="service"),
        # token_use, client_id.
        reject("id_token_use", "client", s.sign(obo(token_use="id")), "subject_wrong_token_use"),
        reject("token_use_missing", "client", s.sign(obo(token_use=None)), "subject_wrong_token_use"),
        reject("sync_client_acting_for_user", "client", s.sign({**machine(SYNC), "obo_sub": ALICE, "obo_exp": NOW + 600}), "subject_client_not_allowed"),
        reject("stranger_client", "client", s.sign(obo(client_id="stranger", sub="stranger")), "subject_client_not_allowed"),
        reject("stranger_client_listing", "client", s.sign(machine("stranger")), "subject_client_not_allowed", check="service"),
        reject("client_id_not_a_string", "client", s.sign(obo(client_id=[OBO])), "subject_claim_invalid"),
        # This target's own scope.
        reject("another_targets_scope", "scope", s.sign(obo(scope="weather/read")), "token_not_for_target"),
        reject("scope_that_extends_ours", "scope", s.sign(obo(scope=f"{SCOPE}-admin")), "token_not_for_target"),
        reject("scope_prefix_of_ours", "scope", s.sign(obo(scope="crm")), "token_not_for_target"),
        reject("scope_empty", "scope", s.sign(obo(scope="")), "token_not_for_target"),
        reject("scope_missing", "scope", s.sign(obo(scope=None)), "token_not_for_target"),
        reject("scope_not_a_string", "scope", s.sign(obo(scope=[SCOPE])), "subject_claim_invalid"),
        # One target per on-behalf-of token: another target's scope beside ours is refused.
        reject("scope_among_others", "scope", s.sign(obo(scope=f"other/read {SCOPE}")), "token_not_for_target"),
        reject("scope_group_not_configured", "scope", s.sign(obo(scope=f"{SCOPE} {SCOPE}-write")), "token_not_for_target"),
        reject("scope_missing_listing", "scope", s.sign(machine(SYNC, None)), "token_not_for_target", check="service"),
        # obo_sub present.
        reject("obo_token_without_user", "obo_sub", s.sign(machine(OBO)), "obo_claims_missing"),
        reject("obo_sub_missing", "obo_sub", s.sign(obo(obo_sub=None)), "obo_claims_missing"),
        reject("obo_sub_empty", "obo_sub", s.sign(obo(obo_sub="")), "subject_claim_invalid"),
        reject("obo_sub_not_a_string", "obo_sub", s.sign(obo(obo_sub=7)), "subject_claim_invalid"),
        reject("obo_groups_not_a_list", "obo_sub", s.sign(obo(obo_groups="crm-users")), "subject_claim_invalid"),
        reject("org_id_not_a_string", "obo_sub", s.sign(obo(org_id=42)), "subject_claim_invalid"),
        # obo_exp not passed: the delegation ends with the user's token.
        reject("obo_exp_missing", "obo_exp", s.sign(obo(obo_exp=None)), "obo_claims_missing"),
        reject("obo_exp_now", "obo_exp", s.sign(obo(obo_exp=NOW)), "subject_expired"),
        reject("obo_exp_passed", "obo_exp", s.sign(obo(obo_exp=NOW - 1)), "subject_expired"),
        reject("obo_exp_not_a_number", "obo_exp", s.sign(obo(obo_exp="soon")), "subject_claim_invalid"),
        # obo_iss allowed when a list is configured (one issuer: no list, as simple as before).
        accept("obo_iss_listed", "obo_iss", s.sign(obo(obo_iss=PARTNER_ISSUER)), identity(user_issuer=PARTNER_ISSUER), **listed),
        reject("obo_iss_not_listed", "obo_iss", s.sign(obo(obo_iss=OTHER_ISSUER)), "subject_issuer_not_allowed", **listed),
        reject("obo_iss_missing_with_allow_list", "obo_iss", s.sign(obo(obo_iss=None)), "obo_claims_missing", **only_ours),
        # Signature, algorithm, issuer and time come first.
        reject("signature_of_other_claims", "signature_and_time", s.tampered(obo()), "subject_bad_signature"),
        reject("hs256_keyed_with_public_key", "signature_and_time", hs256_with_public_key(key, obo()), "subject_alg_not_allowed"),
        reject("alg_none", "signature_and_time", unsigned({"alg": "none", "kid": KID}, obo()), "subject_alg_not_allowed"),
        reject("kid_missing", "signature_and_time", s.sign(obo(), {"alg": "RS256"}), "subject_unknown_key"),
        reject(
            "jku_header",
            "signature_and_time",
            s.sign(obo(), {"alg": "RS256", "kid": KID, "jku": "https://attacker.example/jwks.json"}),
            "subject_header_rejected",
        ),
        reject("issuer_of_another_pool", "signature_and_time", s.sign(obo(iss=OTHER_ISSUER)), "subject_issuer_not_allowed"),
        reject("issuer_missing", "signature_and_time", s.sign(obo(iss=None)), "subject_issuer_not_allowed"),
        reject("exp_passed", "signature_and_time", s.sign(obo(exp=NOW)), "subject_expired"),
        reject("exp_missing", "signature_and_time", s.sign(obo(exp=None)), "subject_claim_invalid"),
        reject("nbf_ahead", "signature_and_time", s.sign(obo(nbf=NOW + 31)), "subject_not_yet_valid"),
        reject("iat_ahead", "signature_and_time", s.sign(obo(iat=NOW + 31)), "subject_not_yet_valid"),
        reject("not_a_jwt", "signature_and_time", "not-a-jwt", "subject_malformed"),
        reject("payload_not_an_object", "signature_and_time", unsigned({"alg": "RS256", "kid": KID}, [1], "c2ln"), "subject_malformed"),
        reject("empty", "signature_and_time", "", "subject_missing"),
    ]


def build() -> str:
    key = load_key()
    doc = {
        "about": "Shared test vectors for on-behalf-of token verifiers: generated by generate.py, "
        "checked by crates/obo-target/tests/vectors.rs and examples/python/test_vectors.py.",
        "now": NOW,
        "config": CONFIG,
        "jwks": public_jwks(key),
        "cases": cases(Signer(key), key),
    }
    return json.dumps(doc, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = build()
    if argv[1:] == ["--check"]:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT.name} differs from what generate.py makes: run `python generate.py`", file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print("usage: generate.py [--check]", file=sys.stderr)
        return 2
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
