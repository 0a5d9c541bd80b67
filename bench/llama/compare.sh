#!/usr/bin/env bash
# Tokenflow's local engine against llama.cpp's own llama-server on the same GGUF, in the same run.
#
#   bench/llama/compare.sh [LLAMA_CPP_SOURCE_DIR]
#
# LLAMA_CPP_SOURCE_DIR (or $LLAMA_CPP_DIR): a llama.cpp source tree. llama-server is built from it once
# (cmake -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF) into $LLAMA_BUILD_DIR (default
# ~/.cache/tokenflow/llama-build/<tree's name>), reused by later runs. Without a tree the script says so
# and measures Tokenflow alone.
#
# Both servers get the same GGUF, thread count and number of parallel sequences; `tokenflow bench`
# streams greedy chat completions of MAX_TOKENS tokens at each concurrency and one table is printed
# (tokens/s, TTFT p50, gap p50, and Tokenflow / llama-server). Settings (environment):
#   GGUF         model file (default: the embedded src/Tokenflow.Server/model/tokenflow-tiny-v1.gguf)
#   THREADS      llama.cpp threads for both (default 1; Tokenflow's auto rule gives 1 to a tiny model)
#   NP           parallel sequences for both (llama-server -np, Tokenflow MaxConcurrentSequences; default 16)
#   CTX          context window per sequence (default 1024)
#   CONCURRENCY  the concurrencies to run (default "1 4 16")
#   MAX_TOKENS   tokens per request (default 200)
#   DURATION     how long each run starts requests (default 10s)
#   LLAMA_CMAKE_FLAGS  extra cmake flags for the llama-server build (default "-DGGML_NATIVE=ON"); e.g. the AVX2
#                build Tokenflow loads by default: "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
#                -DGGML_AVX512=OFF" with LLAMA_BUILD_DIR set to a directory of its own
# The machine is shared: report the load average printed with the table, and the ratios.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="${1:-${LLAMA_CPP_DIR:-}}"
GGUF="${GGUF:-$ROOT/src/Tokenflow.Server/model/tokenflow-tiny-v1.gguf}"
THREADS="${THREADS:-1}"
NP="${NP:-16}"
CTX="${CTX:-1024}"
CONCURRENCY="${CONCURRENCY:-1 4 16}"
MAX_TOKENS="${MAX_TOKENS:-200}"
DURATION="${DURATION:-10s}"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "compare.sh: $*" >&2; exit 1; }
[ -f "$GGUF" ] || die "no GGUF at $GGUF (set GGUF=...)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "nothing answered $1 within $2 s (log: $3)"
    sleep 0.5
  done
}

# --- llama-server, built from the given tree ---------------------------------------------------------
LLAMA_SERVER=""
if [ -z "$SRC" ]; then
  echo "compare.sh: no llama.cpp source tree given (argument or LLAMA_CPP_DIR): skipping llama-server, measuring Tokenflow only." >&2
elif [ ! -f "$SRC/CMakeLists.txt" ]; then
  die "$SRC is not a llama.cpp source tree (no CMakeLists.txt)"
else
  BUILD="${LLAMA_BUILD_DIR:-$HOME/.cache/tokenflow/llama-build/$(basename "$(cd "$SRC" && pwd)")}"
  if [ ! -x "$BUILD/bin/llama-server" ]; then
    command -v cmake >/dev/null || die "cmake is needed to build llama-server (apt-get install cmake build-essential)"
    echo "compare.sh: building llama-server in $BUILD (several minutes on 2 cores) ..." >&2
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${LLAMA_CMAKE_FLAGS:--DGGML_NATIVE=ON} >"$WORK/cmake.log" 2>&1 \
      || die "cmake configure failed: see $WORK/cmake.log"
    cmake --build "$BUILD" --target llama-server -j "$(nproc)" >>"$WORK/cmake.log" 2>&1 \
      || { tail -20 "$WORK/cmake.log" >&2; die "llama-server build failed"; }
  fi
  LLAMA_SERVER="$BUILD/bin/llama-server"
fi

# --- Tokenflow ---------------------------------------------------------------------------------------
SERVER_DLL="$ROOT/src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll"
CLI_DLL="$ROOT/src/Tokenflow.Cli/bin/Release/net10.0/tokenflow.dll"
[ -f "$CLI_DLL" ] || CLI_DLL="$ROOT/src/Tokenflow.Cli/bin/Release/net10.0/Tokenflow.Cli.dll"
if [ ! -f "$SERVER_DLL" ] || [ ! -f "$CLI_DLL" ] || [ -n "${REBUILD:-}" ]; then
  dotnet build "$ROOT/src/Tokenflow.Server" -c Release -v q >/dev/null
  dotnet build "$ROOT/src/Tokenflow.Cli" -c Release -v q >/dev/null
  [ -f "$CLI_DLL" ] || CLI_DLL="$ROOT/src/Tokenflow.Cli/bin/Release/net10.0/Tokenflow.Cli.dll"
fi

MODEL_ID=bench-model
TF_PORT=$(free_port)
Tokenflow__EmbeddedModel=false Tokenflow__ModelId=$MODEL_ID Tokenflow__Model="$GGUF" \
  Tokenflow__LlamaCpp__Threads="$THREADS" Tokenflow__LlamaCpp__MaxConcurrentSequences="$NP" \
  Tokenflow__LlamaCpp__ContextSize="$CTX" Logging__LogLevel__Default=Warning \
  dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$TF_PORT" >"$WORK/tokenflow.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$TF_PORT/v1/models" 120 "$WORK/tokenflow.log"

LS_PORT=""
if [ -n "$LLAMA_SERVER" ]; then
  LS_PORT=$(free_port)
  "$LLAMA_SERVER" -m "$GGUF" -t "$THREADS" -tb "$THREADS" -np "$NP" -c $((CTX * NP)) --host 127.0.0.1 --port "$LS_PORT" \
    --alias "$MODEL_ID" --no-webui >"$WORK/llama-server.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$LS_PORT/health" 120 "$WORK/llama-server.log"
fi

bench() { # url, concurrency, out
  dotnet "$CLI_DLL" bench --url "$1" --model "$MODEL_ID" -c "$2" -d "$DURATION" --max-tokens "$MAX_TOKENS" \
    --prompt "In the beginning God created the heaven and the earth." --extra '{"temperature":0}' --json >"$3"
}

# Warm both (first decodes are slow), then measure one concurrency at a time, the two servers in turn.
dotnet "$CLI_DLL" bench --url "http://127.0.0.1:$TF_PORT" --model "$MODEL_ID" -c 2 -n 4 --max-tokens 16 --json >/dev/null
[ -z "$LS_PORT" ] || dotnet "$CLI_DLL" bench --url "http://127.0.0.1:$LS_PORT" --model "$MODEL_ID" -c 2 -n 4 --max-tokens 16 --json >/dev/null
for c in $CONCURRENCY; do
  bench "http://127.0.0.1:$TF_PORT" "$c" "$WORK/tf-$c.json"
  [ -z "$LS_PORT" ] || bench "http://127.0.0.1:$LS_PORT" "$c" "$WORK/ls-$c.json"
done

echo
echo "$(basename "$GGUF"), threads $THREADS, $NP parallel sequences, $MAX_TOKENS tokens greedy, $DURATION per run; load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK" "$CONCURRENCY" <<'EOF'
import json, os, sys
work, cs = sys.argv[1], sys.argv[2].split()
def load(name):
    path = os.path.join(work, name)
    return json.load(open(path))["targets"][0] if os.path.exists(path) else None
print("| c | Tokenflow tok/s | llama-server tok/s | ratio | Tokenflow TTFT p50 ms | llama-server TTFT p50 ms | Tokenflow gap p50 ms | llama-server gap p50 ms | failed (TF / LS) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for c in cs:
    tf, ls = load(f"tf-{c}.json"), load(f"ls-{c}.json")
    def f(r, pick, fmt):
        return fmt.format(pick(r)) if r else "—"
    tps = lambda r: r["tokens_per_second"]
    ttft = lambda r: r["first_partial_ms"]["p50"]
    gap = lambda r: r["gap_ms"]["p50"]
    ratio = f"{tps(tf) / tps(ls):.2f}" if tf and ls and tps(ls) > 0 else "—"
    failed = f"{tf['requests']['failed'] if tf else '—'} / {ls['requests']['failed'] if ls else '—'}"
    print(f"| {c} | {f(tf, tps, '{:,.0f}')} | {f(ls, tps, '{:,.0f}')} | {ratio} | {f(tf, ttft, '{:.1f}')} | {f(ls, ttft, '{:.1f}')} | {f(tf, gap, '{:.2f}')} | {f(ls, gap, '{:.2f}')} | {failed} |")
EOF
