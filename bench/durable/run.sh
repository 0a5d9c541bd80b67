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

BENCH_ARGS=("$@")
RUNS=()
# bench_server NAME LABEL PORT [bench.mjs args] -- SERVER COMMAND...: starts the server (log $OUT/NAME-server.log),
# runs bench.mjs against it (results $OUT/NAME.json, then this run's extra args), and stops it.
bench_server() {
  local name=$1 label=$2 port=$3 args=()
  shift 3
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  echo "== $label on :$port" >&2
  "$@" > "$OUT/$name-server.log" 2>&1 & PID=$!
  wait_port "$port"
  node bench/durable/bench.mjs --url "http://127.0.0.1:$port/v1/durable" --label "$label" \
    --server-pid "$PID" --json "$OUT/$name.json" "${args[@]}" "${BENCH_ARGS[@]}" > /dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  RUNS+=("$OUT/$name.json")
}
TOKENFLOW=(dotnet src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll --urls "http://127.0.0.1:$TF_PORT" --Tokenflow:EmbeddedModel false)

bench_server reference reference "$REF_PORT" -- node bench/durable/ref-server.mjs "$REF_PORT"

if [ -z "${SKIP_BUILD:-}" ]; then dotnet build -c Release src/Tokenflow.Server > "$OUT/build.log" 2>&1; fi
bench_server tokenflow tokenflow "$TF_PORT" -- "${TOKENFLOW[@]}"

if [ -n "${REDIS:-}" ]; then
  REDIS_PORT=${REDIS_PORT:-16390}
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no > "$OUT/redis.log" 2>&1 & REDIS_PID=$!
  wait_port "$REDIS_PORT"
  bench_server tokenflow-redis "tokenflow (redis)" "$TF_PORT" -- "${TOKENFLOW[@]}" --Tokenflow:Store "127.0.0.1:$REDIS_PORT"
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=
fi

if [ -n "${FLOOR:-}" ]; then
  dotnet build -c Release bench/durable/floor > "$OUT/floor-build.log" 2>&1
  bench_server floor "floor: bare Kestrel" "$TF_PORT" --tailers none -- dotnet bench/durable/floor/bin/Release/net10.0/Floor.dll --urls "http://127.0.0.1:$TF_PORT"
fi

node bench/durable/table.mjs "${RUNS[@]}"
