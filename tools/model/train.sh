#!/usr/bin/env bash
# Reproduces tokenflow-tiny-v1: installs Debian's PyTorch + the KJV reader, builds the tokenizer,
# trains, exports GGUF, validates it through LLamaSharp (tokenization + logits) and, unless
# --no-ship or --quick is given, copies it to src/Tokenflow.Server/model/.
#
#   tools/model/train.sh            # the shipped model (~32 min on 2 idle cores)
#   tools/model/train.sh --quick    # shorter run, similar loss (~16 min on 2 idle cores)
#   extra arguments go to tokenflow_tiny.py (e.g. --out DIR, --steps N)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

ship=1
py_args=()
for a in "$@"; do
  case "$a" in
    --no-ship) ship=0 ;;
    --quick) ship=0; py_args+=("$a") ;;
    *) py_args+=("$a") ;;
  esac
done

need=()
for p in python3-torch libopenblas0-pthread bible-kjv; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

out="$here/out"
for ((i = 0; i < ${#py_args[@]}; i++)); do
  [[ "${py_args[$i]}" == "--out" ]] && out="${py_args[$((i + 1))]}"
done

# Debian's interpreter: the python3 first on PATH may be another one without torch.
mkdir -p "$out"
/usr/bin/python3 "$here/tokenflow_tiny.py" all --out "$out" "${py_args[@]}" 2>&1 | tee "$out/train.log"

dotnet build -c Release "$here/validate/Validate.csproj" -o "$out/validate-bin"
OMP_WAIT_POLICY=PASSIVE dotnet "$out/validate-bin/Validate.dll" "$out/tokenflow-tiny-v1.gguf" "$out" --samples \
  | tee "$out/validate.log"

if ((ship)); then
  cp "$out/tokenflow-tiny-v1.gguf" "$repo/src/Tokenflow.Server/model/tokenflow-tiny-v1.gguf"
  echo "shipped: src/Tokenflow.Server/model/tokenflow-tiny-v1.gguf"
fi
