#!/usr/bin/env bash
# Where HttpKv allocates under a gobench workload: starts a one-member HttpKv on loopback, warms it up, samples its
# allocations (bench/alloc-sites, EventPipe) for SECONDS of the workload and prints the report.
#
#   bench/alloc-sites/run.sh                     # put, 64 clients over 16 connections, 8 s sampled after a 10 s warm-up
#   SECONDS_SAMPLED=15 bench/alloc-sites/run.sh range --consistency s
#
# Needs a Release build of HttpKv (dotnet build -c Release HttpKv.sln) and gobench (bench/gobench/build.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dll="${HTTPKV_DLL:-$root/src/HttpKv/bin/Release/net10.0/httpkv.dll}"
gobench="${GOBENCH:-${TMPDIR:-/tmp}/gobench/gobench}"
sampled=${SECONDS_SAMPLED:-8}
[[ $# -gt 0 ]] || set -- put
[[ -f $dll ]] || { echo "alloc-sites: $dll not found: dotnet build -c Release HttpKv.sln" >&2; exit 2; }
[[ -x $gobench ]] || "$root/bench/gobench/build.sh" "$gobench" >&2
dotnet build -c Release "$root/bench/alloc-sites/AllocSites.csproj" -nologo -v:q >&2
tool="$root/bench/alloc-sites/bin/Release/net10.0/alloc-sites.dll"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "$dll" --name m0 --data-dir "$work/data" --listen-client-urls "http://127.0.0.1:$port" \
  --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls http://127.0.0.1:0 --log-level warn > "$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
until curl -fsS -m 1 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'; do
  kill -0 $pid 2>/dev/null || { cat "$work/log" >&2; exit 1; }; sleep 0.1
done
common=(--endpoints "127.0.0.1:$port" --prefix= --key-size 8 --clients 64 --conns 16)
"$gobench" "$@" "${common[@]}" --duration 10s > /dev/null 2>&1   # warm-up (JIT)
"$gobench" "$@" "${common[@]}" --duration "$((sampled + 4))s" > /dev/null 2>&1 &
load=$!
sleep 2
dotnet "$tool" record $pid "$sampled" "$work/allocs.nettrace"
wait $load
dotnet "$tool" report "$work/allocs.nettrace" "${TOP:-30}"
