"""The Python verifier against the shared vectors (`tests/vectors/obo-target.json`), which also
drive `crates/obo-target/tests/vectors.rs`; plus the HTTP helpers and the configuration.

Run: `python -m unittest discover -s examples/python` (`make test` does, in its own venv).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from obo_token import Rejection, TargetConfig, TargetVerifier, bearer_token, jwks_keys, key_set

ROOT = Path(__file__).resolve().parents[2]
VECTORS_DIR = ROOT / "tests" / "vectors"
VECTORS = json.loads((VECTORS_DIR / "obo-target.json").read_text())

# The rules of docs/targets.md ("The checks"); each has vectors.
RULES = {"signature_and_time", "not_a_user_token", "client", "scope", "obo_sub", "obo_exp", "obo_iss", "service", "accepted"}


def verifier_for(case: dict) -> TargetVerifier:
    base = VECTORS["config"]
    extra = case.get("config", {})
    config = TargetConfig(
        issuer=base["issuer"],
        obo_client_id=base["obo_client_id"],
        scope=base["scope"],
        service_client_ids=tuple(base["service_client_ids"]),
        allowed_obo_issuers=tuple(extra.get("allowed_obo_issuers", ())),
        scope_group=tuple(extra.get("scope_group", ())),
        org_claim=base["org_claim"],
        algorithms=tuple(base["algorithms"]),
        leeway_secs=base["leeway_secs"],
    )
    return TargetVerifier(config, keys=key_set(VECTORS["jwks"]), clock=lambda: VECTORS["now"])


def outcome(case: dict) -> dict:
    verifier = verifier_for(case)
    try:
        if case["check"] == "service":
            return {"verdict": "accept", "client_id": verifier.verify_service(case["token"]).client_id}
        who = verifier.verify_obo(case["token"])
    except Rejection as rejection:
        return {"verdict": "reject", "reason": rejection.reason}
    return {
        "verdict": "accept",
        "user_issuer": who.user_issuer,
        "user_sub": who.user_sub,
        "username": who.username,
        "org_id": who.org_id,
        "groups": who.groups,
        "user_client_id": who.user_client_id,
        "obo_exp": who.obo_exp,
        "client_id": who.token.client_id,
    }


class SharedVectors(unittest.TestCase):
    def test_every_vector(self):
        for case in VECTORS["cases"]:
            with self.subTest(case["name"]):
                self.assertEqual(outcome(case), case["expect"])

    def test_every_rule_has_accepting_or_refusing_vectors(self):
        self.assertEqual({c["rule"] for c in VECTORS["cases"]}, RULES)
        names = [c["name"] for c in VECTORS["cases"]]
        self.assertEqual(len(names), len(set(names)), "vector names are unique")

    def test_the_guide_states_exactly_the_rules_the_vectors_test(self):
        guide = (ROOT / "docs" / "targets.md").read_text()
        self.assertEqual(set(re.findall(r"vectors:\s+`(\w+)`", guide)), RULES)

    def test_the_committed_vectors_are_what_the_generator_makes(self):
        sys.path.insert(0, str(VECTORS_DIR))
        try:
            import generate
        finally:
            sys.path.remove(str(VECTORS_DIR))
        self.assertEqual(generate.build(), (VECTORS_DIR / "obo-target.json").read_text(), "run tests/vectors/generate.py")

    def test_a_later_clock_ends_the_delegation(self):
        case = next(c for c in VECTORS["cases"] if c["name"] == "obo_token_of_alice")
        verifier = verifier_for(case)
        verifier._clock = lambda: VECTORS["now"] + 600
        with self.assertRaises(Rejection) as caught:
            verifier.verify_obo(case["token"])
        self.assertEqual(caught.exception.reason, "subject_expired")


class JwksFetching(unittest.TestCase):
    """`jwks_keys` against a real loopback HTTP server holding the vectors' JWKS."""

    def setUp(self):
        self.fetches = 0
        test = self

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self):
                test.fetches += 1
                ok = self.path == "/pool/.well-known/jwks.json"
                body = json.dumps(VECTORS["jwks"]).encode() if ok else b"{}"
                self.send_response(200 if ok else 404)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/pool"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def reason(self, resolve, kid):
        with self.assertRaises(Rejection) as caught:
            resolve(kid)
        return caught.exception.reason

    def test_keys_are_cached_and_forged_kids_cannot_force_fetches(self):
        resolve = jwks_keys(self.issuer)
        kid = VECTORS["jwks"]["keys"][0]["kid"]
        self.assertIsNotNone(resolve(kid))
        self.assertIsNotNone(resolve(kid))
        self.assertEqual(self.fetches, 1)
        for forged in ["forged-1", "forged-2", "forged-3"]:
            self.assertEqual(self.reason(resolve, forged), "subject_unknown_key")
        self.assertEqual(self.fetches, 1, "unknown kids refetch at most once per 10 s since the last fetch")

    def test_unreachable_keys_are_a_server_side_failure(self):
        self.assertEqual(self.reason(jwks_keys(self.issuer + "-gone"), "k"), "jwks_unavailable")
        closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        port = closed.server_address[1]
        closed.server_close()
        self.assertEqual(self.reason(jwks_keys(f"http://127.0.0.1:{port}/pool", timeout=0.5), "k"), "jwks_unavailable")


class Http(unittest.TestCase):
    def test_bearer_token_wants_exactly_one_bearer_header(self):
        for value in ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER  abc.def.ghi ", " bEaReR abc.def.ghi"]:
            self.assertEqual(bearer_token([value]), "abc.def.ghi", value)
        for values, reason in [
            ([], "subject_missing"),
            (["Bearer a", "Bearer b"], "subject_ambiguous"),
            (["Basic dXNlcjpwdw=="], "subject_malformed"),
            (["Bearer"], "subject_malformed"),
            (["Bearer a b"], "subject_malformed"),
            (["Bearerabc"], "subject_malformed"),
        ]:
            with self.assertRaises(Rejection) as caught:
                bearer_token(values)
            self.assertEqual(caught.exception.reason, reason, values)

    def test_rejections_become_rfc6750_answers(self):
        bad = Rejection("subject_bad_signature", "x")
        self.assertEqual(bad.status, 401)
        self.assertEqual(bad.www_authenticate(), 'Bearer error="invalid_token", error_description="subject_bad_signature"')
        self.assertEqual(Rejection("subject_missing", "x").www_authenticate(), "Bearer")
        self.assertEqual(Rejection("subject_ambiguous", "x").status, 400)
        down = Rejection("jwks_unavailable", "x")
        self.assertEqual((down.status, down.www_authenticate()), (503, None))
        self.assertEqual(Rejection("obo_claims_missing", "x").status, 401)


class Config(unittest.TestCase):
    ENV = {"OBO_TARGET_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc", "OBO_TARGET_CLIENT_ID": "obo", "OBO_TARGET_SCOPE": "crm/obo"}

    def test_from_env_reads_the_variables_of_obo_target(self):
        config = TargetConfig.from_env({**self.ENV, "OBO_TARGET_SERVICE_CLIENT_IDS": "sync, sync2", "OBO_TARGET_USER_ISSUERS": "https://a.example"})
        self.assertEqual(config.service_client_ids, ("sync", "sync2"))
        self.assertEqual(config.allowed_obo_issuers, ("https://a.example",))
        self.assertEqual((config.algorithms, config.leeway_secs, config.org_claim), (("RS256",), 30, "org_id"))

    def test_errors_name_the_problem(self):
        for change, words in [
            ({"OBO_TARGET_SCOPE": ""}, "OBO_TARGET_SCOPE is required"),
            ({"OBO_TARGET_SCOPE": "crm/obo crm/admin"}, "one scope"),
            ({"OBO_TARGET_ISSUER": "http://example.com/p"}, "https"),
            ({"OBO_TARGET_ALGORITHMS": "HS256"}, "asymmetric"),
            ({"OBO_LEEWAY_SECONDS": "soon"}, "OBO_LEEWAY_SECONDS"),
        ]:
            with self.assertRaises(ValueError) as caught:
                TargetConfig.from_env({**self.ENV, **change})
            self.assertIn(words, str(caught.exception), change)


if __name__ == "__main__":
    unittest.main()
