#!/usr/bin/env bash
# Starts a real Tokenflow server on a free loopback port and runs the npm end-to-end checks
# against it. Last line: "N passed, N failed". Expects a Release build (./test.sh builds it).
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
if ! npm install --no-audit --no-fund --loglevel=error >/tmp/tokenflow-e2e-npm.log 2>&1; then
  cat /tmp/tokenflow-e2e-npm.log; echo "0 passed, 1 failed"; exit 1
fi
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log=$(mktemp)
OMP_WAIT_POLICY=PASSIVE dotnet "$root/src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll" --urls "http://127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
  sleep 0.2
done
node openai.test.mjs "http://127.0.0.1:$port/v1"
