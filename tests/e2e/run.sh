#!/usr/bin/env bash
# Starts a real Tokenflow server on a free loopback port and runs the npm end-to-end checks
# against it (the openai client, the MCP TypeScript SDK over HTTP and stdio). Last line:
# "N passed, N failed" over all of them. Expects a Release build (./test.sh builds it).
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
server_dll="$root/src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll"
if ! npm install --no-audit --no-fund --loglevel=error >/tmp/tokenflow-e2e-npm.log 2>&1; then
  cat /tmp/tokenflow-e2e-npm.log; echo "0 passed, 1 failed"; exit 1
fi
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log=$(mktemp)
OMP_WAIT_POLICY=PASSIVE dotnet "$server_dll" --urls "http://127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
  sleep 0.2
done

passed=0; failed=0
run() {
  local last
  last=$("$@" 2>&1 | tee /dev/stderr | tail -n 1)
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
  else
    echo "not ok - $1 $2 printed no summary"; failed=$((failed + 1))
  fi
}
run node openai.test.mjs "http://127.0.0.1:$port/v1"
run node durable.test.mjs "http://127.0.0.1:$port/v1"
run node mcp.test.mjs "http://127.0.0.1:$port" dotnet "$server_dll" --mcp-stdio --Tokenflow:EmbeddedModel false
echo "$passed passed, $failed failed"
