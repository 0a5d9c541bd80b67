#!/usr/bin/env bash
# Runs the whole Tokenflow test suite: every xunit project, then the end-to-end checks with
# third-party clients (npm). Prints "N passed, N failed" over all of them as its last line.
set -uo pipefail
cd "$(dirname "$0")"
export OMP_WAIT_POLICY=PASSIVE DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results="$PWD/TestResults"
rm -rf "$results"; mkdir -p "$results"
passed=0; failed=0

dotnet build Tokenflow.slnx -c Release -warnaserror > "$results/build.log" 2>&1
if [ $? != 0 ]; then
  grep -E 'error|warn' "$results/build.log" | sort -u | head -n 40
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

for project in $(grep -o "tests/[^\"]*\.csproj" Tokenflow.slnx); do
  name=$(basename "$project" .csproj)
  dotnet test "$project" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "$results" 2>&1 | grep -vE '^\s*$' | tail -n 30
  trx="$results/$name.trx"
  if [ -f "$trx" ]; then
    p=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')
    f=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  else
    echo "$name: no results (the test run crashed)"; failed=$((failed + 1))
  fi
done

if [ -x tests/e2e/run.sh ]; then
  e2e=$(tests/e2e/run.sh 2>&1 | tee "$results/e2e.log" >(cat >&2) | tail -n 1)
  if [[ "$e2e" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
  else
    echo "e2e: no summary"; failed=$((failed + 1))
  fi
fi

# CI shows only the end of this output: name what failed right above the summary.
if [ "$failed" != 0 ]; then
  grep -ho 'testName="[^"]*"[^>]*outcome="Failed"' "$results"/*.trx 2>/dev/null | sed -E 's/testName="([^"]*)".*/xunit failed: \1/'
  grep -h '^not ok' "$results/e2e.log" 2>/dev/null | sed 's/^/e2e /'
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
