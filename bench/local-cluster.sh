#!/usr/bin/env bash
# Starts a local 3-member cluster on loopback, as etcd's Procfile does: members infra1..3, client ports
# 12379/22379/32379, peer ports 12380/22380/32380. Ctrl-C stops all three.
#
#   bench/local-cluster.sh [DATA_DIR]                 # HttpKv (build first: dotnet build -c Release HttpKv.sln)
#   HTTPKV_SERVER=etcd bench/local-cluster.sh         # the real etcd, same flags
#   HTTPKV_SERVER="path/to/httpkv" bench/local-cluster.sh   # any other server command
#
# DATA_DIR defaults to a new temporary directory (removed on exit); a given DATA_DIR is kept, so a second
# run restarts the same cluster (the members then ignore --initial-cluster, as etcd does).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${HTTPKV_SERVER:-httpkv}" in
  httpkv) server=(dotnet "$root/src/HttpKv/bin/Release/net10.0/httpkv.dll")
          [[ -f "${server[1]}" ]] || { echo "${server[1]} not found: run 'dotnet build -c Release HttpKv.sln' first" >&2; exit 1; } ;;
  etcd)   server=(etcd) ;;
  *)      read -r -a server <<< "$HTTPKV_SERVER" ;;
esac

if [[ $# -ge 1 ]]; then data="$1"; mkdir -p "$data"; cleanup_data=false
else data="$(mktemp -d -t local-cluster.XXXXXX)"; cleanup_data=true; fi

token=etcd-cluster-1
cluster=infra1=http://127.0.0.1:12380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380
endpoints=127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379

# The ports are fixed (as in etcd's Procfile): refuse to start beside another local cluster.
for port in 12379 22379 32379 12380 22380 32380; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port is in use: is another local cluster running?" >&2; exit 1
  fi
done

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} members" >&2
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # A stopping leader first tries to hand leadership to a member that is stopping too (etcd can take 15 s
  # over it): after 5 s, kill -9 what is left.
  for _ in $(seq 50); do
    alive=false; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break; sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $cleanup_data; then rm -rf "$data"; fi
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

for i in 1 2 3; do
  name=infra$i
  # Each member's output goes to the terminal prefixed with its name, and to DATA_DIR/NAME.log.
  ( exec "${server[@]}" \
    --name "$name" \
    --data-dir "$data/$name" \
    --listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster-token "$token" --initial-cluster "$cluster" --initial-cluster-state new \
    --heartbeat-interval 100 --election-timeout 1000 ) \
    > >(tee "$data/$name.log" | sed -u "s/^/$name | /") 2>&1 &
  pids+=($!)
done

echo "data in $data; the cluster, once it is up:" >&2
echo "  ETCDCTL_API=3 etcdctl --endpoints=$endpoints endpoint status -w table" >&2
echo "  ETCDCTL_API=3 etcdctl --endpoints=$endpoints put foo bar" >&2
echo "Ctrl-C stops all three." >&2

# Exits when any member exits (then stops the others) or on Ctrl-C.
wait -n "${pids[@]}" || true
echo "a member exited" >&2
