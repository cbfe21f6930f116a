#!/usr/bin/env bash
# Lists and calls the tools through the local gateway with the official MCP Inspector CLI
# (npm @modelcontextprotocol/inspector, --cli). Not part of the CI test path.
set -euo pipefail
cd "$(dirname "$0")/.."
INSPECTOR="@modelcontextprotocol/inspector@${INSPECTOR_VERSION:-2.12.0}"

env_file=$(mktemp)
cargo build -q --workspace --bins
./target/debug/obo-local up --env-file "$env_file" ${OBO_LOCAL_ARGS:-} > "$env_file.log" 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null || true; wait $stack 2>/dev/null || true; rm -f "$env_file" "$env_file.log"' EXIT
for _ in $(seq 100); do grep -q USER_TOKEN "$env_file" 2>/dev/null && break; sleep 0.2; done
grep -q USER_TOKEN "$env_file" || { cat "$env_file.log"; exit 1; }
# shellcheck disable=SC1090
source "$env_file"

inspect() {
  npx --yes "$INSPECTOR" --cli "$GATEWAY_URL" --transport http \
    --header "Authorization: Bearer $USER_TOKEN" "$@"
}
echo "== tools/list through the gateway (as $USER_NAME)"
inspect --method tools/list
echo "== tools/call crm___whoami (as $USER_NAME)"
inspect --method tools/call --tool-name crm___whoami
