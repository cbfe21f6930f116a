"""A Python MCP target behind AgentCore Gateway (or `obo-local`'s gateway emulator) that knows the
user it acts for, on the official MCP Python SDK (`mcp`, Streamable HTTP).

Two layers, as the Rust demo target `crm`:

- an HTTP guard in front of MCP lets through only machine tokens minted for this target
  (`verify_service`: the on-behalf-of client or a listed service client such as the gateway's
  tool sync, with this target's scope) and answers anything else, a user's own token first of
  all, with `401` and `WWW-Authenticate: Bearer error="invalid_token"`;
- each tool that acts for a user re-checks the token as an on-behalf-of token (`verify_obo`) and
  refuses with a JSON-RPC error (code -32001, `data.reason`) when it does not act for one.

Configuration from the environment (see `obo_token.TargetConfig.from_env`): `OBO_TARGET_ISSUER`,
`OBO_TARGET_CLIENT_ID`, `OBO_TARGET_SCOPE`, optional `OBO_TARGET_SERVICE_CLIENT_IDS`,
`OBO_TARGET_USER_ISSUERS`, `OBO_TARGET_ORG_CLAIM`. `python server.py --port 8081` serves
`http://127.0.0.1:8081/mcp`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import anyio.to_thread
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError

from obo_token import OboIdentity, Rejection, TargetConfig, TargetVerifier, bearer_token

OBO_REFUSED = -32001
"""The JSON-RPC error code of a refused on-behalf-of token (server-defined range), as `crm`'s."""

log = logging.getLogger("obo-python-target")


def identity_json(who: OboIdentity) -> dict[str, Any]:
    """What the target saw, as its tools report it."""
    return {
        "obo_iss": who.user_issuer,
        "obo_sub": who.user_sub,
        "username": who.username,
        "org_id": who.org_id,
        "groups": who.groups,
        "user_client_id": who.user_client_id,
        "obo_exp": who.obo_exp,
        "token_client_id": who.token.client_id,
    }


def authorization_values(headers) -> list[str]:
    """Every `Authorization` value of the request (Starlette's `Headers` keeps repeated ones)."""
    if headers is None:
        return []
    if hasattr(headers, "getlist"):
        return headers.getlist("authorization")
    return [v for k, v in headers.items() if k.lower() == "authorization"]


def build_server(verifier: TargetVerifier) -> MCPServer:
    """The MCP server; its tools verify the caller with `verifier`."""
    server = MCPServer("python-target", instructions="Example Python target: acts on behalf of the signed-in user.")

    def identity(ctx: Context) -> OboIdentity:
        try:
            return verifier.verify_obo(bearer_token(authorization_values(ctx.headers)))
        except Rejection as rejection:
            log.info("on-behalf-of token refused: %s", rejection.reason)
            raise MCPError(OBO_REFUSED, f"on-behalf-of token refused: {rejection}", {"reason": rejection.reason}) from None

    @server.tool(description="Who this call acts for: the user and organization from the on-behalf-of token.")
    def whoami(ctx: Context) -> dict[str, Any]:
        who = identity(ctx)
        log.info("whoami for %s of %s", who.user_sub, who.org_id)
        return identity_json(who)

    @server.tool(description="Notes of the organization of the user this call acts for.")
    def list_notes(ctx: Context) -> dict[str, Any]:
        who = identity(ctx)
        if who.org_id is None:
            raise MCPError(OBO_REFUSED, "the on-behalf-of token carries no organization", {"reason": "obo_claims_missing"})
        return {"org_id": who.org_id, "notes": [f"{who.org_id}: welcome, {who.username or who.user_sub}"]}

    return server


class Guard:
    """ASGI middleware: only service tokens for this target reach MCP (RFC 6750 answers otherwise)."""

    def __init__(self, app, verifier: TargetVerifier):
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"]
        try:
            # The key lookup may fetch the JWKS (bounded by its timeout): off the event loop.
            await anyio.to_thread.run_sync(self.verifier.verify_service, bearer_token(values))
        except Rejection as rejection:
            log.info("request refused: %s", rejection.reason)
            return await refuse(rejection, send)
        return await self.app(scope, receive, send)


async def refuse(rejection: Rejection, send) -> None:
    error = {401: "invalid_token", 400: "invalid_request"}.get(rejection.status, "temporarily_unavailable")
    body = json.dumps({"error": error, "error_description": rejection.message, "reason": rejection.reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    challenge = rejection.www_authenticate()
    if challenge:
        headers.append((b"www-authenticate", challenge.encode()))
    await send({"type": "http.response.start", "status": rejection.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(verifier: TargetVerifier):
    """The ASGI application: the guard in front of the MCP Streamable HTTP endpoint `/mcp`."""
    return Guard(build_server(verifier).streamable_http_app(), verifier)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8081")))
    args = parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("mcp").setLevel(logging.WARNING)
    try:
        config = TargetConfig.from_env(os.environ)
    except ValueError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    uvicorn.run(build_app(TargetVerifier(config)), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
