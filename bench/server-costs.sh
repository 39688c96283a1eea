#!/usr/bin/env bash
# What one operation costs HttpKv's server, in figures that machine noise does not move much: bytes allocated,
# thread-pool work items, lock contentions and GCs per operation (from the runtime's own counters, read with
# dotnet-counters), beside the server CPU per operation and ops/s (which a busy machine does move). The workload is
# gobench's (etcd's Go client), against a fresh one-member HttpKv on loopback with a temporary data dir.
#
#   bench/server-costs.sh                         # put, 64 clients over 16 connections, 50,000 puts after a 10 s warm-up
#   bench/server-costs.sh range --consistency s   # any gobench workload and flags (see bench/gobench/README.md)
#   TOTAL=100000 WARM=20 bench/server-costs.sh    # more operations, longer warm-up
#   CLIENTS=1 CONNS=1 TOTAL=10000 bench/server-costs.sh   # one client
#
# Needs a Release build (dotnet build -c Release HttpKv.sln), gobench (bench/gobench/build.sh; GOBENCH=path to use
# another) and dotnet-counters (dotnet tool install -g dotnet-counters, installed when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll="${HTTPKV_DLL:-$root/src/HttpKv/bin/Release/net10.0/httpkv.dll}"
gobench="${GOBENCH:-${TMPDIR:-/tmp}/gobench/gobench}"
total=${TOTAL:-50000}; warm=${WARM:-10}
[[ $# -gt 0 ]] || set -- put
[[ -f $dll ]] || { echo "server-costs: $dll not found: dotnet build -c Release HttpKv.sln" >&2; exit 2; }
[[ -x $gobench ]] || "$root/bench/gobench/build.sh" "$gobench" >&2
export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-counters >/dev/null || dotnet tool install -g dotnet-counters >&2

work=$(mktemp -d)
read -r cport pport <<< "$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]; print(*[x.getsockname()[1] for x in s])')"
dotnet "$dll" --name m0 --data-dir "$work/m0" --listen-client-urls "http://127.0.0.1:$cport" \
  --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
  --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "m0=http://127.0.0.1:$pport" \
  --log-level warn > "$work/m0.log" 2>&1 &
pid=$!
counters=""
cleanup() { [[ -n $counters ]] && kill "$counters" 2>/dev/null; kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
until curl -fsS -m 1 "http://127.0.0.1:$cport/health" 2>/dev/null | grep -q '"health":"true"'; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/m0.log" >&2; exit 1; }; sleep 0.1
done
common=(--endpoints "127.0.0.1:$cport" --prefix= --key-size 8 --clients "${CLIENTS:-64}" --conns "${CONNS:-16}")
echo "warming up for ${warm}s: gobench $*" >&2
"$gobench" "$@" "${common[@]}" --duration "${warm}s" > /dev/null 2>&1
dotnet-counters collect -p "$pid" --counters System.Runtime --format json -o "$work/counters.json" --refresh-interval 1 > /dev/null 2>&1 &
counters=$!
sleep 2.5  # the first report comes after a second; the idle ones before the run are subtracted below
# The kernel's side (context switches and system calls), when perf may count them (root, or perf_event_paranoid ≤ 1).
perfstat=""
if command -v perf >/dev/null && perf stat -e context-switches,raw_syscalls:sys_enter -- true > /dev/null 2>&1; then
  perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "$pid" -o "$work/perf.csv" > /dev/null 2>&1 &
  perfstat=$!
fi
"$gobench" "$@" "${common[@]}" --total "$total" --json --server-pids "$pid" > "$work/result.json" 2>"$work/gobench.log"
[[ -n $perfstat ]] && { kill -INT "$perfstat"; wait "$perfstat" 2>/dev/null || true; }
sleep 2.5
kill -TERM "$counters"; wait "$counters" 2>/dev/null || true; counters=""
python3 - "$work/counters.json" "$work/result.json" "$*" "$work/perf.csv" <<'PY'
import json, os, re, sys
text, result, workload = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3]
# dotnet-counters may stop mid-record: read the records one by one rather than as one JSON document.
rates = {}
for name, tags, value in re.findall(r'"name": "([^"]*)",\s*"tags": "([^"]*)",.*?"value": ([0-9.eE+-]+)', text):
    rates.setdefault((name.split(" (")[0], tags), []).append(float(value))
def total(name, tags=""):
    values = rates.get((name, tags), [])
    idle = min(values) if values else 0   # the idle seconds before and after the run
    return sum(v - idle for v in values)
ops = result["ok"]
rows = [("bytes allocated", total("dotnet.gc.heap.total_allocated")),
        ("thread-pool work items", total("dotnet.thread_pool.work_item.count")),
        ("lock contentions", total("dotnet.monitor.lock_contentions")),
        ("gen0+1+2 GCs (per 1,000 ops)", 1000 * sum(total("dotnet.gc.collections", f"gc.heap.generation=gen{g}") for g in range(3)))]
print(f"gobench {workload}: {ops:,} ok, {result['errors']} errors, {result['ops_per_s']:,.0f} ops/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
print(f"  server CPU per op:       {result['server_cpu_s'] * 1e6 / ops:8,.1f} µs   (client CPU {result['client_cpu_pct']}% of a core)")
if os.path.exists(sys.argv[4]):  # perf stat -x, lines: value,unit,event,...
    for line in open(sys.argv[4]):
        fields = line.strip().split(",")
        names = {"context-switches": "context switches", "raw_syscalls:sys_enter": "system calls"}
        if len(fields) > 2 and fields[0].isdigit() and fields[2] in names: rows.append((names[fields[2]], float(fields[0])))
for label, value in rows:
    print(f"  {label + ' per op:':24} {value / ops:8,.1f}" if "per 1,000" not in label else f"  {label + ':':24} {value / ops:8,.2f}")
PY
