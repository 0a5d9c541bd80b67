#!/usr/bin/env bash
# Runs bench.mjs against the reference server (@durable-streams/server 0.3.7, in-memory) and against Tokenflow's
# Release build, one server at a time, same client settings, then prints a markdown table.
#   bench/durable/run.sh [extra bench.mjs args, e.g. --duration 5]
# Env: REF_PORT (default 4437), TF_PORT (default 18090), OUT (default /tmp/durable-bench), SKIP_BUILD=1,
#      REDIS=1 to also run Tokenflow on the Redis store (starts redis-server on REDIS_PORT, default 16390),
#      FLOOR=1 to also run bench/durable/floor (bare Kestrel: reads each append, stores nothing; the ceiling here).
set -euo pipefail
cd "$(dirname "$0")/../.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
REF_PORT=${REF_PORT:-4437}; TF_PORT=${TF_PORT:-18090}; OUT=${OUT:-/tmp/durable-bench}
mkdir -p "$OUT"
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }
PID=
REDIS_PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT

echo "== reference server (@durable-streams/server 0.3.7, in-memory) on :$REF_PORT" >&2
node bench/durable/ref-server.mjs "$REF_PORT" > "$OUT/ref-server.log" 2>&1 & PID=$!
wait_port "$REF_PORT"
node bench/durable/bench.mjs --url "http://127.0.0.1:$REF_PORT/v1/durable" --label reference \
  --server-pid "$PID" --json "$OUT/reference.json" "$@" > /dev/null
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

if [ -z "${SKIP_BUILD:-}" ]; then dotnet build -c Release src/Tokenflow.Server > "$OUT/build.log" 2>&1; fi
echo "== Tokenflow (Release, memory store) on :$TF_PORT" >&2
dotnet src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll --urls "http://127.0.0.1:$TF_PORT" \
  --Tokenflow:EmbeddedModel false > "$OUT/tokenflow-server.log" 2>&1 & PID=$!
wait_port "$TF_PORT"
node bench/durable/bench.mjs --url "http://127.0.0.1:$TF_PORT/v1/durable" --label tokenflow \
  --server-pid "$PID" --json "$OUT/tokenflow.json" "$@" > /dev/null
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

RUNS=("$OUT/reference.json" "$OUT/tokenflow.json")
if [ -n "${REDIS:-}" ]; then
  REDIS_PORT=${REDIS_PORT:-16390}
  echo "== Tokenflow (Release, Redis store, redis-server on :$REDIS_PORT) on :$TF_PORT" >&2
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no > "$OUT/redis.log" 2>&1 & REDIS_PID=$!
  wait_port "$REDIS_PORT"
  dotnet src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll --urls "http://127.0.0.1:$TF_PORT" \
    --Tokenflow:EmbeddedModel false --Tokenflow:Store "127.0.0.1:$REDIS_PORT" > "$OUT/tokenflow-redis-server.log" 2>&1 & PID=$!
  wait_port "$TF_PORT"
  node bench/durable/bench.mjs --url "http://127.0.0.1:$TF_PORT/v1/durable" --label "tokenflow (redis)" \
    --server-pid "$PID" --json "$OUT/tokenflow-redis.json" "$@" > /dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=
  RUNS+=("$OUT/tokenflow-redis.json")
fi

if [ -n "${FLOOR:-}" ]; then
  echo "== floor (bare Kestrel, stores nothing) on :$TF_PORT" >&2
  dotnet build -c Release bench/durable/floor > "$OUT/floor-build.log" 2>&1
  dotnet bench/durable/floor/bin/Release/net10.0/Floor.dll --urls "http://127.0.0.1:$TF_PORT" > "$OUT/floor-server.log" 2>&1 & PID=$!
  wait_port "$TF_PORT"
  node bench/durable/bench.mjs --url "http://127.0.0.1:$TF_PORT/v1/durable" --label "floor: bare Kestrel" \
    --server-pid "$PID" --json "$OUT/floor.json" --tailers none "$@" > /dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  RUNS+=("$OUT/floor.json")
fi

node bench/durable/table.mjs "${RUNS[@]}"
