#!/usr/bin/env bash
# HttpKv against the real etcd 3.4, side by side on this machine (issue 8).
#
#   bench/compare-etcd.sh                        # full run, under 15 minutes: 1 and 3 members, memory and restart
#   bench/compare-etcd.sh --quick                # under 3 minutes: 1 member, 3 s runs, no memory section
#   bench/compare-etcd.sh --only 'range-*,watch' # only these workloads (comma-separated globs over the ids below)
#
# Options:
#   --quick              1 member, --duration 3s, 1,000 watch puts, no memory section
#   --only GLOBS         workload ids: put put-1client put-http txn-put range-l range-s range-http watch
#                        lease-keepalive put-3m memory
#   --duration D         seconds per measured run (default 6, quick 3); watch and the memory load use totals,
#                        so their time depends on the machine (about 5 of the full run's 15 minutes)
#   --rounds N           runs per server and workload (default 2: etcd, HttpKv, etcd, HttpKv)
#   --with-memory        run the memory and restart section (default in the full run)
#   --no-memory          skip it
#   --mem-keys N         keys loaded by the memory section (default 1000000)
#   --watch-puts P       puts of the watch workload (default 10000, quick 1000)
#   --data-root DIR      where the temporary data dirs go (default: $TMPDIR or /tmp if it is on the
#                        repository's filesystem, else the repository's parent directory)
#   --no-build           do not build HttpKv even if the build looks stale
#   --no-write           print the table only; leave docs/PERFORMANCE.md alone
#   --keep               keep the data dirs, server logs and raw JSON results
#
# Every gRPC row is driven by gobench (bench/gobench: etcd's own Go client, clientv3 3.4.23, the client Kubernetes
# runs), with the servers' CPU time read from /proc, so each such row also gives server CPU µs per operation: the
# figure that holds best on a shared 2-core machine. httpkv-bench (src/HttpKv.Bench, a .NET client) drives what
# gobench cannot: the JSON gateway rows, watch and lease keep-alive.
#
# What it does: builds HttpKv in Release when the build is missing or older than the sources; installs Debian's
# etcd-server (and etcd-client), and golang-go + golang-etcd-server-dev to build gobench, when missing; measures the disk's fsync latency (the floor for one
# acknowledged write); then, per group of workloads, starts a fresh etcd and a fresh HttpKv with the same flags on
# loopback (new data dirs on the same disk), runs each workload alternately on etcd and HttpKv so machine noise
# hits both, and stops them. Each value in the table is the MEAN of the runs of that server. The table goes to
# stdout and into docs/PERFORMANCE.md between <!-- compare-etcd:begin --> and <!-- compare-etcd:end -->, with the
# machine's facts; the rest of that file is kept. Every process it starts is stopped on exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command_line="bench/compare-etcd.sh${*:+ $*}"
# HTTPKV_DLL / HTTPKV_BENCH_DLL point at other builds (e.g. to compare two versions of HttpKv); they are not rebuilt.
httpkv_dll="${HTTPKV_DLL:-$root/src/HttpKv/bin/Release/net10.0/httpkv.dll}"
bench_dll="${HTTPKV_BENCH_DLL:-$root/src/HttpKv.Bench/bin/Release/net10.0/httpkv-bench.dll}"
doc="$root/docs/PERFORMANCE.md"

# ---------------------------------------------------------------------------------------------------- options
quick=false; only=""; duration=""; rounds=2; memory=""; mem_keys=1000000; watch_puts=""
data_root=""; build=true; write=true; keep=false
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "compare-etcd: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=true ;;
    --only) [[ $# -ge 2 ]] || die "--only needs a value"; only=$2; shift ;;
    --only=*) only=${1#*=} ;;
    --duration) [[ $# -ge 2 ]] || die "--duration needs a value"; duration=$2; shift ;;
    --duration=*) duration=${1#*=} ;;
    --rounds) [[ $# -ge 2 ]] || die "--rounds needs a value"; rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    --with-memory) memory=true ;;
    --no-memory) memory=false ;;
    --mem-keys) [[ $# -ge 2 ]] || die "--mem-keys needs a value"; mem_keys=$2; shift ;;
    --mem-keys=*) mem_keys=${1#*=} ;;
    --watch-puts) [[ $# -ge 2 ]] || die "--watch-puts needs a value"; watch_puts=$2; shift ;;
    --watch-puts=*) watch_puts=${1#*=} ;;
    --data-root) [[ $# -ge 2 ]] || die "--data-root needs a value"; data_root=$2; shift ;;
    --data-root=*) data_root=${1#*=} ;;
    --no-build) build=false ;;
    --no-write) write=false ;;
    --keep) keep=true ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
duration=${duration%s}
[[ -z $duration ]] && { if $quick; then duration=3; else duration=6; fi; }
[[ -z $watch_puts ]] && { if $quick; then watch_puts=1000; else watch_puts=10000; fi; }
[[ -z $memory ]] && { if $quick; then memory=false; else memory=true; fi; }
[[ $duration =~ ^[0-9]+$ && $duration -gt 0 ]] || die "--duration takes whole seconds, e.g. 10 or 10s"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds takes a positive number"
[[ $mem_keys =~ ^[1-9][0-9]*$ ]] || die "--mem-keys takes a positive number"
[[ $watch_puts =~ ^[1-9][0-9]*$ ]] || die "--watch-puts takes a positive number"

all_ids="put put-1client put-http txn-put range-l range-s range-http watch lease-keepalive put-3m memory"
# selected ID...: true when any of the ids is to run (--only, --quick and --no-memory decide).
selected() {
  local id pattern patterns
  for id in "$@"; do
    [[ $id == memory ]] && ! $memory && continue
    [[ $id == put-3m ]] && $quick && [[ -z $only ]] && continue
    [[ -z $only ]] && return 0
    IFS=, read -r -a patterns <<< "$only"
    for pattern in "${patterns[@]}"; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      [[ $id == $pattern ]] && return 0
    done
  done
  return 1
}
if [[ -n $only ]]; then
  any=false; for id in $all_ids; do selected "$id" && any=true; done
  $any || die "--only '$only' matches none of: $all_ids"
fi

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------------- prerequisites
need_apt=()
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
command -v curl >/dev/null || need_apt+=(curl)
command -v go >/dev/null || need_apt+=(golang-go)
[[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]] || need_apt+=(golang-etcd-server-dev)
if [[ ${#need_apt[@]} -gt 0 ]]; then
  sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  log "installing ${need_apt[*]} (apt-get)"
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >&2
fi
command -v dotnet >/dev/null || die "dotnet (the .NET 10 SDK) is needed: see README.md"

# Build when a dll is missing or a source is newer than the newest HttpKv dll beside it (the Release build is what
# is measured). The project dlls beside it count: a change inside a dependency need not rewrite the program's dll.
newest_source=$(find "$root/src" \( -name obj -o -name bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' -o -name '*.proto' \) \
                  -printf '%T@\n' | sort -n | tail -n 1)
stale() {
  [[ -f $1 ]] || return 0
  local built; built=$(find "$(dirname "$1")" -maxdepth 1 \( -name 'HttpKv*.dll' -o -name "$(basename "$1")" \) -printf '%T@\n' | sort -n | tail -n 1)
  awk -v s="${newest_source:-0}" -v b="$built" 'BEGIN { exit !(s > b) }'
}
if $build && [[ -z ${HTTPKV_DLL:-}${HTTPKV_BENCH_DLL:-} ]] && { stale "$httpkv_dll" || stale "$bench_dll"; }; then
  log "building HttpKv (dotnet build -c Release HttpKv.sln)"
  (cd "$root" && dotnet build -c Release HttpKv.sln -nologo -v:q >&2)
fi
[[ -f $httpkv_dll ]] || die "$httpkv_dll not found: run 'dotnet build -c Release HttpKv.sln'"
[[ -f $bench_dll ]] || die "$bench_dll not found: run 'dotnet build -c Release HttpKv.sln'"
# gobench is rebuilt when its source is newer than the binary (GOBENCH points at another build, not rebuilt).
gobench_bin="${GOBENCH:-${TMPDIR:-/tmp}/gobench/gobench}"
if [[ -z ${GOBENCH:-} ]] && { [[ ! -x $gobench_bin ]] || [[ $root/bench/gobench/main.go -nt $gobench_bin ]]; }; then
  log "building gobench (bench/gobench/build.sh)"
  "$root/bench/gobench/build.sh" "$gobench_bin" >&2
fi
[[ -x $gobench_bin ]] || die "$gobench_bin not found: run bench/gobench/build.sh"

# The data dirs must be on the repository's disk (the disk HttpKv is developed and measured on).
if [[ -z $data_root ]]; then
  data_root=${TMPDIR:-/tmp}
  if [[ $(stat -c %d "$data_root") != "$(stat -c %d "$root")" ]]; then data_root=$(dirname "$root"); fi
fi
work=$(mktemp -d -p "$data_root" compare-etcd.XXXXXX)
res="$work/results"; mkdir -p "$res" "$work/logs"

# ---------------------------------------------------------------------------------------------------- processes
all_pids=()
cleanup() {
  local pid
  trap - EXIT INT TERM
  [[ -n ${bench_pid:-} ]] && { kill "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; }
  for pid in "${all_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=false
    for pid in "${all_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break; sleep 0.1
  done
  for pid in "${all_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if $keep; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2034 # used through the name reference in launch
etcd_cmd=(etcd)
# shellcheck disable=SC2034
httpkv_cmd=(dotnet "$httpkv_dll")
declare -A eps pids dirs member
# The flags both servers get: etcd's defaults spelled out (so both run with the same values), a backend quota
# that 1M keys plus the put runs stay under, and warnings-only logging to a file.
common_flags=(--heartbeat-interval 100 --election-timeout 1000 --snapshot-count 100000
              --quota-backend-bytes 8589934592 --logger zap --log-level warn)

# free_ports N: N loopback ports below the ephemeral range (so client connections cannot take them meanwhile).
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
want, found, tried = int(sys.argv[1]), [], set()
while len(found) < want:
    port = random.randrange(20000, 32000)
    if port in tried: continue
    tried.add(port)
    with socket.socket() as s:
        try: s.bind(("127.0.0.1", port)); found.append(port)
        except OSError: pass
print(" ".join(map(str, found)))
PY
}

# launch SERVER NAME DATADIR CLIENT_PORT PEER_PORT CLUSTER: one member in the background; its pid in $last_pid.
launch() {
  local -n cmd="${1}_cmd"
  "${cmd[@]}" --name "$2" --data-dir "$3" \
    --listen-client-urls "http://127.0.0.1:$4" --advertise-client-urls "http://127.0.0.1:$4" \
    --listen-peer-urls "http://127.0.0.1:$5" --initial-advertise-peer-urls "http://127.0.0.1:$5" \
    --initial-cluster "$6" --initial-cluster-token "compare-$1" --initial-cluster-state new \
    "${common_flags[@]}" >>"$3.log" 2>&1 &
  last_pid=$!
  all_pids+=("$last_pid")
}

healthy() { curl -fsS -m 2 "$1/health" 2>/dev/null | grep -q '"health":"true"'; }

# wait_healthy SERVER SECONDS: until every member answers /health with "true"; fails if a member exits.
wait_healthy() {
  local server=$1 deadline=$((SECONDS + $2)) ep pid
  for ep in ${eps[$server]//,/ }; do
    until healthy "$ep"; do
      for pid in ${pids[$server]}; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "${dirs[$server]}"/*.log >&2; die "$server exited while starting"; }
      done
      [[ $SECONDS -lt $deadline ]] || { tail -n 20 "${dirs[$server]}"/*.log >&2; die "$server not healthy after $2 s"; }
      sleep 0.05
    done
  done
}

# start_server SERVER MEMBERS: a new cluster of SERVER (etcd|httpkv) on new ports with new data dirs; wait_healthy
# then waits for it.
start_server() {
  local server=$1 n=$2 i cluster="" ports list=() pidlist=()
  read -r -a ports <<< "$(free_ports $((2 * n)))"
  dirs[$server]=$(mktemp -d -p "$work" "$server.XXXX")
  for ((i = 0; i < n; i++)); do cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[2 * i + 1]}"; done
  for ((i = 0; i < n; i++)); do
    launch "$server" "m$i" "${dirs[$server]}/m$i" "${ports[2 * i]}" "${ports[2 * i + 1]}" "$cluster"
    pidlist+=("$last_pid"); list+=("http://127.0.0.1:${ports[2 * i]}")
  done
  member[$server]="m0 ${dirs[$server]}/m0 ${ports[0]} ${ports[1]} $cluster"
  eps[$server]=$(IFS=,; echo "${list[*]}")
  pids[$server]="${pidlist[*]}"
}

# stop_pids GRACE PID...: SIGTERM, then SIGKILL what is left after GRACE seconds. The short default (5 s) is for
# clusters whose data is thrown away: members stopping together can wait long on each other (HttpKv's inbound peer
# streams hold its shutdown to ASP.NET's 30 s timeout; etcd's leader tries to hand over to a member that is stopping).
stop_pids() {
  local grace=$1 pid; shift
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq $((grace * 10))); do
    local alive=false
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break; sleep 0.1
  done
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null && log "pid $pid ($(ps -o args= -p "$pid" | cut -c1-60)) still running $grace s after SIGTERM: SIGKILL"
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
}
# shellcheck disable=SC2086 # the pid lists are space-separated on purpose
stop_server() { stop_pids "${2:-5}" ${pids[$1]}; pids[$1]=""; }

members=1; group_warm=(); restartable=true; restart_group=false
start_both() {
  members=$1
  log "starting etcd and HttpKv, $members member(s) each"
  start_server etcd "$members"; start_server httpkv "$members"
  wait_healthy etcd 120; wait_healthy httpkv 120
}
# group MEMBERS WARM-UP ARGS...: a group of workloads starts: fresh etcd and HttpKv clusters, then the warm-up (see
# warm) on each; the same is done again if a server dies within the group.
group() {
  start_both "$1"; shift
  group_warm=("$@"); warm "$@"
}
stop_both() {
  # shellcheck disable=SC2086
  stop_pids 5 ${pids[etcd]} ${pids[httpkv]}
  pids[etcd]=""; pids[httpkv]=""
  if ! $keep; then rm -rf "${dirs[etcd]}" "${dirs[httpkv]}"; fi
}

# ---------------------------------------------------------------------------------------------------- measuring
name_of() { case $1 in etcd) echo etcd ;; httpkv) echo HttpKv ;; esac; }
measure() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$res/measures.tsv"; }
fact() { printf '%s\t%s\n' "$1" "$2" >> "$res/facts.tsv"; }
now_ns() { date +%s%N; }
seconds_since() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.3f}')" "$1" "$(now_ns)"; }
rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
summary() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r.get("latencyMs", {})
w = r.get("watch")
extra = f"  delivered {w['delivered']}/{w['expected']}  {w['eventsPerSec']:,.0f} events/s" if w else ""
cpu = f"  server CPU {r['serverCpuUsPerOp']:.0f} µs/op" if r.get("serverCpuUsPerOp") is not None else ""
print(f"{r['opsPerSec']:>10,.0f} ops/s  p50 {l.get('p50', 0):.3f} ms  p99 {l.get('p99', 0):.3f} ms{cpu}  errors {r['errors']}{extra}")
PY
}

# bench SERVER ARGS...: one load run against SERVER's endpoints; the caller reads the JSON (--json FILE, given last).
# ARGS starting with "go" run gobench (etcd's Go client) with the rest of them and the servers' pids, and its result
# is rewritten into httpkv-bench's JSON shape plus serverCpuUsPerOp; other ARGS run httpkv-bench. In the background
# and waited for, so that Ctrl-C or SIGTERM stops the script at once rather than after the run.
bench_pid=""
bench() {
  local server=$1 status=0 endpoints=(); shift
  if [[ ${1:-} == go ]]; then
    shift
    local args=("$@") out=""
    # --json FILE is httpkv-bench's flag; gobench prints its JSON on stdout.
    if [[ ${#args[@]} -ge 2 && ${args[-2]} == --json ]]; then out=${args[-1]}; args=("${args[@]:0:${#args[@]}-2}"); fi
    local hosts=${eps[$server]//http:\/\//} raw="$work/logs/gobench.$$.json"
    timeout -k 10 "$bench_limit" "$gobench_bin" "${args[@]}" --endpoints "$hosts" --json \
      --server-pids "$(tr ' ' , <<< "${pids[$server]}")" > "$raw" &
    bench_pid=$!
    wait "$bench_pid" || status=$?
    bench_pid=""
    [[ $status -eq 0 && -n $out ]] && { from_gobench "$raw" > "$out" || status=$?; }
    rm -f "$raw"
    return "$status"
  fi
  [[ -n ${eps[$server]:-} ]] && endpoints=(--endpoints "${eps[$server]}")
  timeout -k 10 "$bench_limit" dotnet "$bench_dll" "$@" "${endpoints[@]}" --quiet &
  bench_pid=$!
  wait "$bench_pid" || status=$?
  bench_pid=""
  return "$status"
}
# from_gobench FILE: gobench's JSON result in httpkv-bench's shape (opsPerSec, latencyMs, errors, errorCounts), with
# the servers' CPU per successful operation in µs (summed over the members) and the client's own CPU share.
from_gobench() {
  python3 - "$1" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
r = {"tool": "gobench", "ops": g["ok"], "opsPerSec": g["ops_per_s"],
     "latencyMs": {"p50": g["p50_ms"], "p90": g["p90_ms"], "p99": g["p99_ms"], "max": g["max_ms"]},
     "errors": g["errors"], "errorCounts": g.get("errs") or {}, "clientCpuPct": g.get("client_cpu_pct")}
if "server_cpu_s" in g and g["ok"]:
    r["serverCpuUsPerOp"] = round(g["server_cpu_s"] * 1e6 / g["ok"], 1)
    r["serverCpuPct"] = g.get("server_cpu_pct")
print(json.dumps(r))
PY
}

# run ID SERVER ROUND ARGS...: one measured run; its JSON result goes to results/ID__SERVER__ROUND.json.
run() {
  local id=$1 server=$2 round=$3; shift 3
  local out="$res/${id}__${server}__${round}.json" blog="$work/logs/${id}__${server}__${round}.log" pid
  printf '%s   %-15s %-6s #%s ' "$(date -u +%H:%M:%S)" "$id" "$(name_of "$server")" "$round" >&2
  local ok=true
  if bench "$server" "$@" --json "$out" >"$blog" 2>&1 && [[ -s $out ]]; then
    summary "$out" >&2
  else
    echo "FAILED (exit $?); last lines of its output:" >&2; tail -n 15 "$blog" >&2; ok=false
  fi
  # A member that exited during the run (a crash, or a kill from outside): the run does not count; the group's
  # servers are started afresh for the next one (the memory section cannot: its data is gone).
  for pid in ${pids[$server]}; do
    kill -0 "$pid" 2>/dev/null && continue
    local status=0; wait "$pid" || status=$?
    log "$(name_of "$server") pid $pid exited with status $status$( ((status > 128)) && echo " (signal $((status - 128)))") during this run; its log ends:"
    tail -n 20 "${dirs[$server]}"/*.log >&2
    $restartable || die "cannot go on without it"
    ok=false; restart_group=true
  done
  if ! $ok; then rm -f "$out"; printf '%s\t%s\t%s\n' "$id" "$server" "$round" >> "$res/failed.tsv"; fi
  if $restart_group; then
    restart_group=false
    stop_both; start_both "$members"
    warm "${group_warm[@]}"
  fi
}

# ab ID ARGS...: the workload on etcd and HttpKv alternately, $rounds times each (A, B, A, B), if ID is selected.
ab() {
  selected "$1" || return 0
  rounds_of "$@"
}
# rounds_of ID ARGS...: as ab, for the memory section's parts (selected as a whole).
rounds_of() {
  local id=$1 r server; shift
  for ((r = 1; r <= rounds; r++)); do
    for server in etcd httpkv; do run "$id" "$server" "$r" "$@"; done
  done
}

# warm ARGS...: an unrecorded short run on each server first, so the first measured run of neither pays for
# start-up work (HttpKv's JIT, etcd's first allocations).
warm() {
  local server
  for server in etcd httpkv; do bench "$server" "$@" >"$work/logs/warm-$server.log" 2>&1 || true; done
}

bench_limit=$((duration + 120))
dur=(--duration "${duration}s")
# gobench's keys are --prefix + a zero-padded index, --key-size bytes in all; with an empty prefix they are the keys
# httpkv-bench uses, so both tools read the keys either of them wrote.
gput=(go put --prefix= --key-size 8 --val-size 256 --key-space 100000)
grange=(go range --prefix= --key-size 8 --val-size 256 --key-space 1000)
g64=(--clients 64 --conns 16)
put_args=(put --key-size 8 --val-size 256 --key-space-size 100000)
c64=(--clients 64 --conns 16)
range_args=(range --key-size 8 --val-size 256 --key-space-size 1000)
# A new HttpKv process runs partly unoptimized code for its first seconds under load (.NET's tiered JIT recompiles
# hot methods in the background; perf showed 30-50% of samples in the JIT during the first 20 s): the full run warms
# each server for 10 s so the table compares steady states; --quick keeps 1 s and shows HttpKv still warming.
warm_for=(--duration "$($quick && echo 1 || echo 10)s")

started=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "data dirs in $work ($(findmnt -n -T "$work" -o SOURCE,FSTYPE | tr -s ' '); the repository: $(findmnt -n -T "$root" -o SOURCE,FSTYPE | tr -s ' '))"

# The fsync floor: one acknowledged write cannot be faster than one write + fdatasync on this disk.
log "fsync latency of the data dirs' disk"
bench_limit=300
eps[disk]=""  # fsync is local: no endpoints
if bench disk fsync --dir "$work" --total "$($quick && echo 300 || echo 1000)" --json "$res/fsync.json" \
     >"$work/logs/fsync.log" 2>&1; then
  printf '%s   %-15s        ' "$(date -u +%H:%M:%S)" fsync >&2; summary "$res/fsync.json" >&2
else
  log "fsync measurement failed:"; tail -n 15 "$work/logs/fsync.log" >&2
fi
bench_limit=$((duration + 120))

if selected put put-1client put-http txn-put; then
  group 1 "${gput[@]}" "${g64[@]}" "${warm_for[@]}"
  ab put         "${gput[@]}" "${g64[@]}" "${dur[@]}"
  ab put-1client "${gput[@]}" --clients 1 --conns 1 "${dur[@]}"
  ab put-http    "${put_args[@]}" "${c64[@]}" --transport http "${dur[@]}"
  ab txn-put     go txn-put --txn-ops 4 --prefix= --key-size 8 --val-size 256 --key-space 100000 "${g64[@]}" "${dur[@]}"
  stop_both
fi

if selected range-l range-s range-http; then
  # gobench writes every key of the range key space before it measures (not measured), so the runs read existing
  # keys, the JSON row's too.
  group 1 "${grange[@]}" "${g64[@]}" "${warm_for[@]}"
  ab range-l    "${grange[@]}" --consistency l "${g64[@]}" "${dur[@]}"
  ab range-s    "${grange[@]}" --consistency s "${g64[@]}" "${dur[@]}"
  ab range-http "${range_args[@]}" --consistency l --transport http "${c64[@]}" "${dur[@]}"
  stop_both
fi

if selected watch; then
  bench_limit=600
  group 1 watch --watchers 1000 --watch-streams 10 --puts 100 --clients 16 --conns 2
  ab watch watch --watchers 1000 --watch-streams 10 --puts "$watch_puts" --clients 16 --conns 2
  bench_limit=$((duration + 120))
fi
if selected lease-keepalive; then
  # Shares the watch group's servers when there is one.
  if [[ -n ${pids[etcd]:-} ]]; then group_warm=(lease-keepalive "${c64[@]}" "${warm_for[@]}"); warm "${group_warm[@]}"
  else group 1 lease-keepalive "${c64[@]}" "${warm_for[@]}"; fi
  ab lease-keepalive lease-keepalive "${c64[@]}" "${dur[@]}"
fi
if [[ -n ${pids[etcd]:-} ]]; then stop_both; fi

if selected put-3m; then
  group 3 "${gput[@]}" "${g64[@]}" "${warm_for[@]}"
  ab put-3m "${gput[@]}" "${g64[@]}" "${dur[@]}"
  stop_both
fi

# restart SERVER: SIGTERM, wait for the exit, start again on the same data dir; records the seconds until /health
# answers "true" (the start) and the seconds the stop took.
restart() {
  local server=$1 name dir cp pp cluster t0 ep
  read -r name dir cp pp cluster <<< "${member[$server]}"
  t0=$(now_ns); stop_server "$server" 60; measure stop_s "$server" "$(seconds_since "$t0")"
  t0=$(now_ns); launch "$server" "$name" "$dir" "$cp" "$pp" "$cluster"; pids[$server]=$last_pid
  ep=${eps[$server]}
  until healthy "$ep"; do
    kill -0 "$last_pid" 2>/dev/null || { tail -n 30 "$dir.log" >&2; die "$server exited while restarting"; }
    sleep 0.02
  done
  measure restart_s "$server" "$(seconds_since "$t0")"
}

# large_range SERVER: all keys in one range, over gRPC (etcdctl) and over the JSON gateway (curl). The peak RSS
# is reset first (clear_refs 5), so VmHWM afterwards is the peak of the range itself.
large_range() {
  local server=$1 pid=${pids[$1]} ep=${eps[$1]} t0 out
  if command -v etcdctl >/dev/null; then
    measure range_grpc_rss_before_mb "$server" "$(rss_mb "$pid" VmRSS)"
    echo 5 2>/dev/null > "/proc/$pid/clear_refs" || log "cannot reset the peak RSS of $server: VmHWM is since start"
    t0=$(now_ns)
    if ETCDCTL_API=3 timeout 600 etcdctl --endpoints "$ep" --command-timeout 600s get "" --prefix -w protobuf > /dev/null 2>"$work/logs/range-grpc-$server.log"; then
      measure range_grpc_s "$server" "$(seconds_since "$t0")"
      measure range_grpc_hwm_mb "$server" "$(rss_mb "$pid" VmHWM)"
    else
      log "$(name_of "$server"): etcdctl get of all keys failed: $(tail -n 3 "$work/logs/range-grpc-$server.log")"
    fi
  fi
  measure range_json_rss_before_mb "$server" "$(rss_mb "$pid" VmRSS)"
  echo 5 2>/dev/null > "/proc/$pid/clear_refs" || true
  t0=$(now_ns)
  # key and range_end "\0" (base64 AA==) is etcd's "every key".
  if out=$(curl -sS -m 600 -X POST "$ep/v3/kv/range" -d '{"key":"AA==","range_end":"AA=="}' -o /dev/null \
             -w '%{http_code} %{size_download}' 2>&1) && [[ $out == 200\ * ]]; then
    measure range_json_s "$server" "$(seconds_since "$t0")"
    measure range_json_hwm_mb "$server" "$(rss_mb "$pid" VmHWM)"
    measure range_json_body_mb "$server" "$(awk '{ printf "%.1f", $2 / 1048576 }' <<< "$out")"
  else
    log "$(name_of "$server"): JSON range of all keys failed: $out"
  fi
}

if selected memory; then
  mem_put=(go put --prefix= --key-size 32 --val-size 256 --key-space "$mem_keys" "${g64[@]}")
  group 1 "${mem_put[@]}" "${warm_for[@]}"
  restartable=false
  rounds_of put-empty "${mem_put[@]}" "${dur[@]}"
  bench_limit=1200
  for server in etcd httpkv; do
    log "$(name_of "$server"): loading $mem_keys keys (32-byte keys, 256-byte values)"
    run load "$server" 1 go put --sequential-keys --key-space "$mem_keys" --total "$mem_keys" --prefix= --key-size 32 \
      --val-size 256 "${g64[@]}"
    measure rss_mb "$server" "$(rss_mb "${pids[$server]}" VmRSS)"
  done
  bench_limit=$((duration + 120))
  for server in etcd httpkv; do
    log "$(name_of "$server"): restart on the loaded data dir"
    restart "$server"
    measure rss_restarted_mb "$server" "$(rss_mb "${pids[$server]}" VmRSS)"
  done
  warm "${mem_put[@]}" "${warm_for[@]}"
  rounds_of put-full "${mem_put[@]}" "${dur[@]}"
  for server in etcd httpkv; do
    log "$(name_of "$server"): range of all keys"
    large_range "$server"
  done
  stop_both
fi

# ---------------------------------------------------------------------------------------------------- facts
fact warmup "${warm_for[1]}"
fact mode "$($quick && echo "quick run (1 member, ${duration} s runs" || echo "full run (${duration} s runs")${only:+, only $only})"
fact rounds "$rounds"
fact command "$command_line"
fact date "$(date -u '+%Y-%m-%d %H:%M UTC')"
fact cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores available ($(grep -c ^processor /proc/cpuinfo) online)"
fact ram "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
fact kernel "$(uname -sr)"
fact disk "$(findmnt -n -T "$work" -o SOURCE,FSTYPE | tr -s ' '); data dirs under $data_root"
fact etcd "$(etcd --version | head -n 1)"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]] && commit+=" (with uncommitted changes)"
fact httpkv "commit $commit, $(dotnet --version 2>/dev/null | sed 's/^/.NET SDK /')"
fact elapsed "$(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
fact flags "${common_flags[*]}"
fact load "$load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min)"

# ---------------------------------------------------------------------------------------------------- the table
python3 - "$res" "$doc" "$write" "$mem_keys" "$watch_puts" <<'PY'
import glob, json, os, statistics, sys

res, doc, write, mem_keys, watch_puts = sys.argv[1], sys.argv[2], sys.argv[3] == "true", int(sys.argv[4]), int(sys.argv[5])
facts = dict(l.rstrip("\n").split("\t", 1) for l in open(f"{res}/facts.tsv"))
runs = {}
for path in sorted(glob.glob(f"{res}/*__*__*.json")):
    wid, server, rnd = os.path.basename(path)[:-5].split("__")
    runs.setdefault((wid, server), []).append((int(rnd), json.load(open(path))))
measures = {}
if os.path.exists(f"{res}/measures.tsv"):
    for l in open(f"{res}/measures.tsv"):
        k, s, v = l.rstrip("\n").split("\t")
        if v: measures[(k, s)] = float(v)
failed = [l.split() for l in open(f"{res}/failed.tsv")] if os.path.exists(f"{res}/failed.tsv") else []
fsync = json.load(open(f"{res}/fsync.json")) if os.path.exists(f"{res}/fsync.json") else None
fsync_p50 = fsync["latencyMs"]["p50"] if fsync else None

def mean(wid, s, get):
    rs = [get(r) for _, r in runs.get((wid, s), [])]
    rs = [v for v in rs if v is not None]
    return statistics.mean(rs) if rs else None
def errors(wid, s): return sum(r["errors"] for _, r in runs.get((wid, s), []))
ops = lambda r: r["opsPerSec"]
p50 = lambda r: r["latencyMs"]["p50"]
p99 = lambda r: r["latencyMs"]["p99"]
evs = lambda r: r["watch"]["eventsPerSec"]
cpu = lambda r: r.get("serverCpuUsPerOp")

def num(v, unit):
    if v is None: return "n/a"
    if unit == "ops": return f"{v:,.0f}"
    if unit == "%": return f"{v:.0%}"
    if unit in ("ms", "s"): return f"{v:.2f} {unit}" if v < 10 else (f"{v:.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}")
    if unit == "MB": return f"{v:,.0f} MB"
    if unit == "µs": return f"{v:,.0f} µs"
    return str(v)

rows = []
def row(label, e, h, unit, higher_better, target=None, met=None, ewid=None, hwid=None):
    ratio = None
    if e is not None and h is not None and e > 0 and h > 0:
        ratio = h / e if higher_better else e / h
    if met is None and target is not None and ratio is not None: met = ratio >= target
    ec, hc = num(e, unit), num(h, unit)
    if ewid and errors(ewid, "etcd"): ec += f" ({errors(ewid, 'etcd'):,} errors)"
    if hwid and errors(hwid, "httpkv"): hc += f" ({errors(hwid, 'httpkv'):,} errors)"
    ttext = f"≥ {target:g}×" if isinstance(target, (int, float)) else (target or "—")
    mtext = "—" if met is None else ("**yes**" if met is True else ("no" if met is False else met))
    rows.append((label, ec, hc, f"{ratio:.2f}×" if ratio else "n/a", ttext, mtext))

def ops_row(label, wid, target):
    if (wid, "etcd") in runs or (wid, "httpkv") in runs:
        row(label, mean(wid, "etcd", ops), mean(wid, "httpkv", ops), "ops", True, target, ewid=wid, hwid=wid)
# cpu_row LABEL WID MOST: the servers' CPU per operation (gobench rows; summed over the members), with the target
# "HttpKv at most MOST times etcd's" (the ratio column is etcd ÷ HttpKv, so the target is ratio ≥ 1 / MOST).
def cpu_row(label, wid, most=None):
    e, h = mean(wid, "etcd", cpu), mean(wid, "httpkv", cpu)
    if e is None and h is None: return
    met = None if most is None or e is None or h is None else h <= most * e
    row(label, e, h, "µs", False, f"HttpKv ≤ {most:g}× etcd" if most else None, met)

ops_row("put, gRPC, 64 clients, 1 member (ops/s)", "put", 1.5)
cpu_row("put, 1 member: server CPU per put", "put", 0.5)
ops_row("put, gRPC, 64 clients, 3 members (ops/s)", "put-3m", 1.5)
cpu_row("put, 3 members: server CPU per put, all members", "put-3m", 0.6)
if ("put-1client", "etcd") in runs or ("put-1client", "httpkv") in runs:
    e, h = mean("put-1client", "etcd", p50), mean("put-1client", "httpkv", p50)
    met = None
    if h is not None and fsync_p50:
        met = "**yes**" if h <= 1.5 * fsync_p50 else "no"
        met += f" (HttpKv {h / fsync_p50:.1f}× fsync" + (f", etcd {e / fsync_p50:.1f}×)" if e is not None else ")")
    row("put, 1 client: p50 latency", e, h, "ms", False,
        f"HttpKv ≤ 1.5× fsync p50 = {1.5 * fsync_p50:.3g} ms" if fsync_p50 else "≤ 1.5× fsync p50", met, "put-1client", "put-1client")
ops_row("range, linearizable, 64 clients (ops/s)", "range-l", 1.5)
cpu_row("range, linearizable: server CPU per range", "range-l", 0.5)
ops_row("range, serializable, 64 clients (ops/s)", "range-s", 2)
cpu_row("range, serializable: server CPU per range", "range-s", 0.5)
ops_row("put, JSON /v3/kv/put, 64 clients (ops/s)", "put-http", 3)
ops_row("range, JSON /v3/kv/range, 64 clients (ops/s)", "range-http", 3)
if ("watch", "etcd") in runs or ("watch", "httpkv") in runs:
    row(f"watch, 1,000 watchers, {watch_puts:,} puts: events/s", mean("watch", "etcd", evs), mean("watch", "httpkv", evs), "ops", True, 1, ewid="watch", hwid="watch")
    row("watch: p99 delivery latency", mean("watch", "etcd", p99), mean("watch", "httpkv", p99), "ms", False, 1)
    def deliv(s):
        rs = [r["watch"] for _, r in runs.get(("watch", s), [])]
        return (sum(w["delivered"] for w in rs), sum(w["expected"] for w in rs)) if rs else None
    de, dh = deliv("etcd"), deliv("httpkv")
    fmt = lambda d: "n/a" if d is None else f"{d[0]:,} / {d[1]:,}"
    rows.append(("watch: events delivered / expected (all runs)", fmt(de), fmt(dh), "", "all delivered",
                 "—" if dh is None else ("**yes**" if dh[0] == dh[1] else "no")))
ops_row("txn-put (4 puts per txn), 64 clients (ops/s)", "txn-put", 1.5)
cpu_row("txn-put: server CPU per txn", "txn-put")
ops_row("lease keep-alive, 64 clients (ops/s)", "lease-keepalive", 1)
M = lambda k, s: measures.get((k, s))
if any(k[0] == "put-empty" for k in runs):
    keys = f"{mem_keys:,}"
    ops_row(f"load {keys} keys, 64 clients (ops/s)", "load", None)
    row(f"RSS with {keys} keys", M("rss_mb", "etcd"), M("rss_mb", "httpkv"), "MB", False, 1)
    row(f"restart until /health ok, {keys} keys", M("restart_s", "etcd"), M("restart_s", "httpkv"), "s", False, 1)
    def kept(s):
        full, empty = mean("put-full", s, ops), mean("put-empty", s, ops)
        return full / empty if full is not None and empty else None
    fe, fh = kept("etcd"), kept("httpkv")
    row(f"put ops/s with {keys} keys ÷ on an empty store", fe, fh, "%", True, "HttpKv ≥ 80%",
        None if fh is None else fh >= 0.8, "put-full", "put-full")
    for via, label in (("grpc", "gRPC (etcdctl)"), ("json", "JSON (curl)")):
        if M(f"range_{via}_hwm_mb", "etcd") or M(f"range_{via}_hwm_mb", "httpkv"):
            row(f"range of all {keys} keys over {label}: peak RSS (growth)", M(f"range_{via}_hwm_mb", "etcd"), M(f"range_{via}_hwm_mb", "httpkv"), "MB", False)
            for i, s in ((1, "etcd"), (2, "httpkv")):
                if M(f"range_{via}_hwm_mb", s) is not None and M(f"range_{via}_rss_before_mb", s) is not None:
                    cells = list(rows[-1]); cells[i] += f" (+{M(f'range_{via}_hwm_mb', s) - M(f'range_{via}_rss_before_mb', s):,.0f})"; rows[-1] = tuple(cells)
            row(f"range of all {keys} keys over {label}: time", M(f"range_{via}_s", "etcd"), M(f"range_{via}_s", "httpkv"), "s", False)

out = []
out.append(f"### etcd 3.4 against HttpKv: {facts['mode']}, {facts['date']}")
out.append("")
out.append("gRPC rows are driven by gobench (`bench/gobench`: etcd's own Go client, clientv3 3.4.23) with 16 connections; "
           "the JSON, watch and lease keep-alive rows by httpkv-bench (.NET). Server CPU per operation is the servers' user + system "
           "CPU time during the run (from /proc, summed over the members) divided by the successful operations.")
out.append("")
out.append(f"Each value is the **mean** of {facts['rounds']} runs per server, run alternately (etcd, HttpKv, etcd, HttpKv) "
           f"after an unrecorded warm-up of each ({facts['warmup']}: .NET's tiered JIT needs seconds of load to reach steady state); each group of workloads starts on fresh data dirs. "
           "**ratio** = HttpKv ÷ etcd for throughput, etcd ÷ HttpKv for latency, memory and time: **above 1 means HttpKv is better**.")
out.append("")
out.append("| workload | etcd | HttpKv | ratio (>1 = HttpKv better) | target | met? |")
out.append("| --- | ---: | ---: | ---: | --- | --- |")
out += [f"| {' | '.join(r)} |" for r in rows]
out.append("")
out.append("Machine and run:")
out.append("")
if fsync:
    l = fsync["latencyMs"]
    out.append(f"- fsync (write 4 KiB + fdatasync, {fsync['ops']:,} times, in the data dirs): p50 {l['p50']:.3g} ms, p99 {l['p99']:.3g} ms")
for k, label in (("cpu", "CPU"), ("ram", "RAM"), ("kernel", "kernel"), ("disk", "disk of the data dirs"), ("etcd", "etcd"),
                 ("httpkv", "HttpKv"), ("flags", "flags of both servers (plus name, data dir and loopback URLs)"),
                 ("command", "command"), ("load", "load average"), ("elapsed", "run took")):
    out.append(f"- {label}: `{facts[k]}`" if k in ("command", "flags") else f"- {label}: {facts[k]}")
if failed:
    out.append(f"- failed runs (not in the means): {', '.join(f'{w} {s} #{r}' for w, s, r in failed)}")
out.append("")
out.append("<details><summary>every run</summary>")
out.append("")
out.append("| workload | tool | server | run | ops/s | p50 ms | p99 ms | max ms | server CPU µs/op | errors |")
out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
order = ["put", "put-1client", "put-http", "txn-put", "range-l", "range-s", "range-http", "watch", "lease-keepalive",
         "put-3m", "put-empty", "load", "put-full"]
for (wid, s), rs in sorted(runs.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1])):
    for rnd, r in sorted(rs, key=lambda x: x[0]):
        l = r["latencyMs"]
        errs = f"{r['errors']:,}" + (": " + "; ".join(f"{k} ×{v}" for k, v in list(r.get("errorCounts", {}).items())[:3]) if r.get("errorCounts") else "")
        c = f"{r['serverCpuUsPerOp']:,.1f}" if r.get("serverCpuUsPerOp") is not None else "—"
        out.append(f"| {wid} | {r.get('tool', 'httpkv-bench')} | {'HttpKv' if s == 'httpkv' else s} | {rnd} | {r['opsPerSec']:,.0f} | {l['p50']:.3f} | {l['p99']:.3f} | {l['max']:.1f} | {c} | {errs} |")
if measures:
    out.append("")
    out.append("| measure | etcd | HttpKv |")
    out.append("| --- | ---: | ---: |")
    for k in dict.fromkeys(k for k, _ in measures):
        out.append(f"| {k} | {measures.get((k, 'etcd'), 'n/a')} | {measures.get((k, 'httpkv'), 'n/a')} |")
out.append("")
out.append("</details>")
text = "\n".join(out) + "\n"
print(text)

if write:
    begin, end = "<!-- compare-etcd:begin -->", "<!-- compare-etcd:end -->"
    if os.path.exists(doc):
        body = open(doc).read()
    else:
        body = ("# Performance\n\nHttpKv against the real etcd 3.4 on the same machine, measured by `bench/compare-etcd.sh` "
                "(issue 8). The section between the compare-etcd markers is rewritten by each run of the script; the rest of "
                "this file is kept.\n\n")
    if begin in body and end in body:
        head, rest = body.split(begin, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = body.rstrip("\n") + "\n\n", "\n"
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + text + end + tail)
    print(f"written to {os.path.relpath(doc)}", file=sys.stderr)
PY
log "done in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
