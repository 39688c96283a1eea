#!/usr/bin/env bash
# Runs every HttpKv test: unit, integration (WebApplicationFactory) and compatibility tests that drive the real
# httpkv process with etcdctl, curl, python3-etcd3, python3-etcd3gw, python3-prometheus-client and dotnet-etcd, and
# browser tests of the dashboard in Debian's chromium.
# Installs the Debian packages the tests need when they are missing. Ends with one line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"

missing=()
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)   # the oracle the compatibility tests compare against
command -v cc >/dev/null 2>&1 || missing+=(gcc)           # compiles the vendored LMDB
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/bin/chromium ] || missing+=(chromium)           # the dashboard's browser tests (Playwright cannot download browsers here)
/usr/bin/python3 -c 'import etcd3' >/dev/null 2>&1 || missing+=(python3-etcd3)
/usr/bin/python3 -c 'import etcd3gw' >/dev/null 2>&1 || missing+=(python3-etcd3gw)
/usr/bin/python3 -c 'import prometheus_client.parser' >/dev/null 2>&1 || missing+=(python3-prometheus-client)  # parses /metrics
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing test dependencies: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    echo "could not install ${missing[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

if ! dotnet build -c Release HttpKv.sln -nologo -v:q; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

results=$(mktemp -d)
dotnet test HttpKv.sln -c Release --no-build -nologo --logger "trx" --results-directory "$results" "$@"
status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
rm -rf "$results"
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then failed=1; echo "dotnet test exited with $status"; fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
