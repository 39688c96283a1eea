#!/usr/bin/env bash
# What one operation costs HttpKv's server, in figures that machine noise does not move much: bytes allocated,
# thread-pool work items, lock contentions and GCs per operation (from the runtime's own counters, read with
# dotnet-counters), beside the server CPU per operation and ops/s (which a busy machine does move). The workload is
# gobench's (etcd's Go client), against a fresh HttpKv of MEMBERS members (1 unless set) on loopback with a temporary data dir.
#
#   bench/server-costs.sh                         # put, 64 clients over 16 connections, 50,000 puts after a 10 s warm-up
#   bench/server-costs.sh range --consistency s   # any gobench workload and flags (see bench/gobench/README.md)
#   TOTAL=100000 WARM=20 bench/server-costs.sh    # more operations, longer warm-up
#   CLIENTS=1 CONNS=1 TOTAL=10000 bench/server-costs.sh   # one client
#   MEMBERS=3 bench/server-costs.sh              # three members on loopback: each member's share in a column
#   PERF=/tmp/prof bench/server-costs.sh         # also perf record -g each member during the run: /tmp/prof/m0.data …
#                                                # (JIT frames named: the members run with DOTNET_PerfMapEnabled=1)
#   FLOOR=1 bench/server-costs.sh                # the same figures for bench/grpc-floor (Kestrel + Grpc.AspNetCore with
#                                                # fixed answers): what any server on this stack pays per call
#
# Needs a Release build (dotnet build -c Release HttpKv.sln), gobench (bench/gobench/build.sh; GOBENCH=path to use
# another) and dotnet-counters (dotnet tool install -g dotnet-counters, installed when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll="${HTTPKV_DLL:-$root/src/HttpKv/bin/Release/net10.0/httpkv.dll}"
gobench="${GOBENCH:-${TMPDIR:-/tmp}/gobench/gobench}"
total=${TOTAL:-50000}; warm=${WARM:-10}
[[ $# -gt 0 ]] || set -- put
floor=${FLOOR:-}
[[ -n $floor ]] && dll="$root/bench/grpc-floor/bin/Release/net10.0/grpc-floor.dll"
[[ -f $dll ]] || { echo "server-costs: $dll not found: dotnet build -c Release HttpKv.sln" >&2; exit 2; }
[[ -x $gobench ]] || "$root/bench/gobench/build.sh" "$gobench" >&2
export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-counters >/dev/null || dotnet tool install -g dotnet-counters >&2

members=${MEMBERS:-1}
profile=${PERF:-}
if [[ -n $profile ]]; then mkdir -p "$profile"; export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0; fi
[[ $members =~ ^[1-9]$ ]] || { echo "server-costs: MEMBERS must be 1..9" >&2; exit 2; }
[[ -n $floor && $members != 1 ]] && { echo "server-costs: FLOOR is one server" >&2; exit 2; }
work=$(mktemp -d)
read -r -a ports <<< "$(python3 -c 'import socket,sys
s=[socket.socket() for _ in range(2*int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]; print(*[x.getsockname()[1] for x in s])' "$members")"
cluster=""
for ((i = 0; i < members; i++)); do cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[2*i+1]}"; done
pids=(); endpoints=""
for ((i = 0; i < members; i++)); do
  cport=${ports[2*i]} pport=${ports[2*i+1]}
  if [[ -n $floor ]]; then
    dotnet "$dll" --port "$cport" > "$work/m$i.log" 2>&1 &
    pids+=($!); endpoints="127.0.0.1:$cport"; continue
  fi
  dotnet "$dll" --name "m$i" --data-dir "$work/m$i" --listen-client-urls "http://127.0.0.1:$cport" \
    --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "$cluster" \
    --log-level warn > "$work/m$i.log" 2>&1 &
  pids+=($!); endpoints+="${endpoints:+,}127.0.0.1:$cport"
done
collectors=()
cleanup() { kill "${collectors[@]}" "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for ((i = 0; i < members; i++)); do
  until if [[ -n $floor ]]; then (exec 3<>"/dev/tcp/127.0.0.1/${ports[2*i]}") 2>/dev/null
        else curl -fsS -m 1 "http://127.0.0.1:${ports[2*i]}/health" 2>/dev/null | grep -q '"health":"true"'; fi; do
    kill -0 "${pids[i]}" 2>/dev/null || { cat "$work/m$i.log" >&2; exit 1; }; sleep 0.1
  done
done
common=(--endpoints "$endpoints" --prefix= --key-size 8 --clients "${CLIENTS:-64}" --conns "${CONNS:-16}")
echo "warming up for ${warm}s: gobench $*" >&2
"$gobench" "$@" "${common[@]}" --duration "${warm}s" > /dev/null 2>&1
for ((i = 0; i < members; i++)); do
  dotnet-counters collect -p "${pids[i]}" --counters System.Runtime --format json -o "$work/counters.$i.json" --refresh-interval 1 > /dev/null 2>&1 &
  collectors+=($!)
done
sleep 2.5  # the first report comes after a second; the idle ones before the run are subtracted below
# The kernel's side (context switches and system calls), when perf may count them (root, or perf_event_paranoid ≤ 1).
perfstat=""
if command -v perf >/dev/null && perf stat -e context-switches,raw_syscalls:sys_enter -- true > /dev/null 2>&1; then
  perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "$(IFS=,; echo "${pids[*]}")" -o "$work/perf.csv" > /dev/null 2>&1 &
  perfstat=$!
fi
recorders=()
if [[ -n $profile ]]; then
  for ((i = 0; i < members; i++)); do
    perf record -F 999 -g -p "${pids[i]}" -o "$profile/m$i.data" > /dev/null 2>&1 & recorders+=($!)
  done
fi
for pid in "${pids[@]}"; do awk '{ print $14, $15 }' "/proc/$pid/stat"; done > "$work/cpu.before"
"$gobench" "$@" "${common[@]}" --total "$total" --json --server-pids "$(IFS=,; echo "${pids[*]}")" > "$work/result.json" 2>"$work/gobench.log"
for pid in "${pids[@]}"; do awk '{ print $14, $15 }' "/proc/$pid/stat"; done > "$work/cpu.after"
[[ -n $perfstat ]] && { kill -INT "$perfstat"; wait "$perfstat" 2>/dev/null || true; }
for recorder in "${recorders[@]}"; do kill -INT "$recorder"; wait "$recorder" 2>/dev/null || true; done
sleep 2.5
kill -TERM "${collectors[@]}"; wait "${collectors[@]}" 2>/dev/null || true; collectors=()
python3 - "$work" "$members" "$*" <<'PY'
import json, os, re, sys
work, members, workload = sys.argv[1], int(sys.argv[2]), sys.argv[3]
result = json.load(open(f"{work}/result.json"))
ops = result["ok"]
def ticks(when):  # utime + stime of each member, in clock ticks, as cpu.before / cpu.after hold them
    return [int(line.split()[0]) + int(line.split()[1]) for line in open(f"{work}/cpu.{when}")]
cpu_us = [(a - b) * 1e6 / os.sysconf("SC_CLK_TCK") / ops for a, b in zip(ticks("after"), ticks("before"))]
def runtime_rows(path):
    # dotnet-counters may stop mid-record: read the records one by one rather than as one JSON document.
    rates = {}
    for name, tags, value in re.findall(r'"name": "([^"]*)",\s*"tags": "([^"]*)",.*?"value": ([0-9.eE+-]+)', open(path).read()):
        rates.setdefault((name.split(" (")[0], tags), []).append(float(value))
    def total(name, tags=""):
        values = rates.get((name, tags), [])
        idle = min(values) if values else 0   # the idle seconds before and after the run
        return sum(v - idle for v in values)
    return {"bytes allocated": total("dotnet.gc.heap.total_allocated"),
            "thread-pool work items": total("dotnet.thread_pool.work_item.count"),
            "lock contentions": total("dotnet.monitor.lock_contentions"),
            "gen0+1+2 GCs (per 1,000 ops)": 1000 * sum(total("dotnet.gc.collections", f"gc.heap.generation=gen{g}") for g in range(3))}
per_member = [runtime_rows(f"{work}/counters.{i}.json") for i in range(members)]
print(f"gobench {workload}: {ops:,} ok, {result['errors']} errors, {result['ops_per_s']:,.0f} ops/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
      + (f", {members} members" if members > 1 else ""))
kernel = {}
if os.path.exists(f"{work}/perf.csv"):  # perf stat -x, lines: value,unit,event,... (all members together)
    names = {"context-switches": "context switches", "raw_syscalls:sys_enter": "system calls"}
    for line in open(f"{work}/perf.csv"):
        fields = line.strip().split(",")
        if len(fields) > 2 and fields[0].isdigit() and fields[2] in names: kernel[names[fields[2]]] = float(fields[0])
def show(label, values, fmt):
    cells = "".join(f" {fmt.format(v):>10}" for v in values) if members > 1 else ""
    print(f"  {label:30} {fmt.format(sum(values)):>10}{cells}")
header = "".join(f" {'m' + str(i):>10}" for i in range(members)) if members > 1 else ""
print(f"  {'per op (' + ('all members' if members > 1 else 'the member') + ')':30} {'total':>10}{header}")
show("server CPU, µs", cpu_us, "{:,.1f}")
for label in per_member[0]:
    scale = 1 if "per 1,000" in label else 1
    show(label, [m[label] / ops for m in per_member], "{:,.2f}" if "per 1,000" in label else "{:,.1f}")
for label, value in kernel.items():
    print(f"  {label:30} {value / ops:>10,.1f}")
print(f"  (client CPU {result['client_cpu_pct']}% of a core; gobench's server CPU {result['server_cpu_s'] * 1e6 / ops:,.1f} µs/op)")
PY
