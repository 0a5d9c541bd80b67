#!/usr/bin/env bash
# Starts a real Tokenflow server on a free loopback port and runs the npm end-to-end checks
# against it (the openai client, tool calls through it, the Vercel AI SDK and the Anthropic SDK, the
# Responses and Messages doors resumed and continued — also across two processes on one Redis —,
# watches with cancel_on, the Durable Streams client and conformance suite, the MCP TypeScript SDK
# over HTTP and stdio, `tokenflow bench` against a TypeScript SDK MCP server), then a second server using the first as its upstream (gateway checks); then
# starts redis-server and a second server on the Redis
# store and runs the Durable Streams checks again, then once more on a Redis Cluster of three
# masters (redis-server --cluster-enabled yes, joined by redis-cli --cluster create); and the playground page in headless
# Chromium (playwright-core), on the first server and on one that requires an API key. Last line: "N passed, N failed" over all of
# them. Expects a Release build (./test.sh builds it).
set -uo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
server_dll="$root/src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll"
if ! npm install --no-audit --no-fund --loglevel=error >/tmp/tokenflow-e2e-npm.log 2>&1; then
  cat /tmp/tokenflow-e2e-npm.log; echo "0 passed, 1 failed"; exit 1
fi
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
pids=()
logs=()
dirs=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -f "${logs[@]}"; rm -rf "${dirs[@]}"' EXIT
# start_server PORT ARGS...: a Release server on 127.0.0.1:PORT, waited for until it answers (with $ready_key as the
# bearer when set, for a server that requires an API key).
start_server() {
  local port=$1 log; shift
  log=$(mktemp); logs+=("$log")
  OMP_WAIT_POLICY=PASSIVE dotnet "$server_dll" --urls "http://127.0.0.1:$port" "$@" >"$log" 2>&1 &
  local pid=$!; pids+=($pid)
  for _ in $(seq 1 300); do
    curl -sf ${ready_key:+-H "Authorization: Bearer $ready_key"} "http://127.0.0.1:$port/v1/models" >/dev/null && return 0
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
  done
  cat "$log"; return 1
}

port=$(free_port)
start_server "$port" || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
run() {
  local last
  last=$("$@" 2>&1 | tee >(cat >&2) | tail -n 1)
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
  else
    echo "not ok - $1 $2 printed no summary"; failed=$((failed + 1))
  fi
}
run node openai.test.mjs "http://127.0.0.1:$port/v1"
run node tools.test.mjs "http://127.0.0.1:$port/v1"
run node agents.test.mjs "http://127.0.0.1:$port/v1"
run node doors.test.mjs "http://127.0.0.1:$port/v1" --label memory
run node durable.test.mjs "http://127.0.0.1:$port/v1" --label memory
run node mcp.test.mjs "http://127.0.0.1:$port" dotnet "$server_dll" --mcp-stdio --Tokenflow:EmbeddedModel false
run node mcp-resume.test.mjs "http://127.0.0.1:$port" "http://127.0.0.1:$port" --label memory
run node bench.test.mjs "$root/src/Tokenflow.Cli/bin/Release/net10.0/tokenflow.dll"
run bash ../conformance/run.sh

# Tokenflow as a gateway: a second server with the first as its OpenAI-compatible upstream "up".
gateway_port=$(free_port)
if start_server "$gateway_port" --Tokenflow:EmbeddedModel false --Tokenflow:Upstreams:up:Kind openai --Tokenflow:Upstreams:up:Url "http://127.0.0.1:$port/v1"; then
  run node gateway.test.mjs "http://127.0.0.1:$gateway_port/v1" "http://127.0.0.1:$port/v1"
else
  echo "not ok - the gateway server did not start"; failed=$((failed + 1))
fi

# The playground (GET /) in headless Chromium: on the first server, then on a server that requires an API key.
# Screenshots go to TestResults/playground.
run node playground.test.mjs "http://127.0.0.1:$port" --screenshots "$root/TestResults/playground"
key_port=$(free_port)
if ready_key=playground-e2e-key start_server "$key_port" --Tokenflow:EmbeddedModel false --Tokenflow:ApiKeys:0 playground-e2e-key; then
  run node playground.test.mjs "http://127.0.0.1:$key_port" --api-key playground-e2e-key --screenshots "$root/TestResults/playground"
else
  echo "not ok - the server with an API key did not start"; failed=$((failed + 1))
fi

# durable_on LABEL STORE: a second server on Tokenflow:Store=STORE, and the Durable Streams checks against it.
durable_on() {
  local http; http=$(free_port)
  if start_server "$http" --Tokenflow:Store "$2" --Tokenflow:EmbeddedModel false; then
    run node durable.test.mjs "http://127.0.0.1:$http/v1" --label "$1"
  else
    echo "not ok - a server on the $1 store did not start"; failed=$((failed + 1))
  fi
}

# The Durable Streams checks again, on the Redis store.
if command -v redis-server >/dev/null; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --protected-mode no >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  durable_on redis "127.0.0.1:$redis_port"
  # Two processes on the same Redis: Responses resumed and continued, Messages replayed, and an MCP call
  # resumed (its session migrated), on the other one.
  redis_a=$(free_port); redis_b=$(free_port)
  if start_server "$redis_a" --Tokenflow:Store "127.0.0.1:$redis_port" --Tokenflow:EmbeddedModel false \
    && start_server "$redis_b" --Tokenflow:Store "127.0.0.1:$redis_port" --Tokenflow:EmbeddedModel false; then
    run node doors.test.mjs "http://127.0.0.1:$redis_a/v1" "http://127.0.0.1:$redis_b/v1" --label "redis, two processes"
    run node mcp-resume.test.mjs "http://127.0.0.1:$redis_a" "http://127.0.0.1:$redis_b" --label redis
    run node mcp.test.mjs "http://127.0.0.1:$redis_a" --label redis
  else
    echo "not ok - two servers on the Redis store did not start"; failed=$((failed + 1))
  fi
else
  echo "not ok - redis-server is not installed: the Durable Streams checks on the Redis store did not run"; failed=$((failed + 1))
fi
# And on a Redis Cluster of three masters, no replicas (each node's cluster bus on a free port of its own).
# start_cluster: sets $cluster to the nodes' addresses (comma-separated) once every node reports cluster_state:ok.
start_cluster() {
  local dir nodes=() port
  dir=$(mktemp -d); dirs+=("$dir")
  for _ in 1 2 3; do
    port=$(free_port)
    redis-server --port "$port" --cluster-port "$(free_port)" --bind 127.0.0.1 --save "" --appendonly no --protected-mode no \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" --dir "$dir" >/dev/null 2>&1 &
    pids+=($!); nodes+=("127.0.0.1:$port")
  done
  for node in "${nodes[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "${node#*:}" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null 2>&1 || return 1
  for _ in $(seq 1 150); do
    local ready=1
    for node in "${nodes[@]}"; do
      redis-cli -p "${node#*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ready=0
    done
    if [ $ready = 1 ]; then cluster=$(IFS=,; echo "${nodes[*]}"); return 0; fi
    sleep 0.1
  done
  return 1
}
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  if start_cluster; then
    durable_on cluster "$cluster"
  else
    echo "not ok - the Redis Cluster did not come up"; failed=$((failed + 1))
  fi
else
  echo "not ok - redis-server or redis-cli is not installed: the Durable Streams checks on Redis Cluster did not run"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
