#!/usr/bin/env bash
# The floor of one etcd gRPC call on HttpKv's stack: gobench (etcd's Go client) against grpc-floor, a Kestrel +
# Grpc.AspNetCore server that answers Range, Put and Txn with fixed responses and does nothing else. Its server CPU
# per operation is what any server built on this stack pays before doing any work; docs/PERFORMANCE.md compares
# it with HttpKv's and etcd's.
#
#   bench/grpc-floor/run.sh            # range (serializable) and put, 64 clients over 16 connections, 8 s each
#   DURATION=15 bench/grpc-floor/run.sh
#   RAW=1 bench/grpc-floor/run.sh      # the same answers written on Kestrel's HTTP/2 request without Grpc.AspNetCore
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dll="$root/bench/grpc-floor/bin/Release/net10.0/grpc-floor.dll"
gobench="${GOBENCH:-${TMPDIR:-/tmp}/gobench/gobench}"
duration=${DURATION:-8}
[[ -f $dll ]] || { echo "grpc-floor: $dll not found: dotnet build -c Release HttpKv.sln" >&2; exit 2; }
[[ -x $gobench ]] || "$root/bench/gobench/build.sh" "$gobench" >&2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "$dll" --port "$port" ${RAW:+--raw} > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do kill -0 "$pid" || exit 1; sleep 0.1; done
common=(--endpoints "127.0.0.1:$port" --prefix= --key-size 8 --clients 64 --conns 16)
for workload in "range --consistency s --prewrite=false --settle=false" "put"; do
  # shellcheck disable=SC2086 # the workload is words
  "$gobench" $workload "${common[@]}" --duration 3s > /dev/null 2>&1   # warm-up (JIT, connections)
  # shellcheck disable=SC2086
  "$gobench" $workload "${common[@]}" --duration "${duration}s" --json --server-pids "$pid" 2>/dev/null |
    python3 -c 'import json, sys
r = json.load(sys.stdin)
print("grpc-floor%s %-6s %9.0f ops/s  server CPU %5.1f µs/op  client CPU %s%% of a core  (%d errors)" % (
    sys.argv[2], sys.argv[1], r["ops_per_s"], r["server_cpu_s"] * 1e6 / r["ok"], r["client_cpu_pct"], r["errors"]))' "${workload%% *}" "${RAW:+ raw}"
done
