#!/usr/bin/env bash
# bench/download-artifact.sh: speed and peak memory of download-artifact against two peers.
#
# Starts a private Debian nginx on a free loopback port (its own prefix folder in a temp dir,
# `daemon off;` in the background, stopped by its PID on exit) serving a data folder with
# `autoindex on; autoindex_format json;`. Fills that folder in turn with two datasets:
# (a) 5,000 files of 4 KiB in 50 folders, (b) 8 files of 64 MiB, each with the
# artifact-metadata.csv that generate-metadata makes (download-artifact lists through it and
# checks hashes). For each, warms the page cache, then times, interleaved and RUNS times
# (default 3), each tool downloading every file into a fresh empty folder (clearing it is not
# timed):
#   download-artifact --source http://127.0.0.1:PORT/ --destination <dir> --parallel 8 --quiet
#   aria2c -j 8 -x 1 -d <dir> -i <list>           (list: each URL, then "  out=<path>")
#   curl --parallel --parallel-max 8 --create-dirs -K <config>   (url/output pairs)
# Each tool's output is checked against the source once per dataset (sha256 of every file; no
# file missing or extra; an artifact-metadata.csv in the output is ignored). It prints the best
# (minimum) wall time, files/s, MB/s (10^6 bytes), the highest peak RSS seen and ratio = peer
# seconds / download-artifact seconds, then the targets with PASS/FAIL: (a) faster than both
# peers (ratios > 1), (b) download-artifact seconds <= 1.10 x curl's, download-artifact peak
# RSS <= 64 MiB on both.
#
#   bench/download-artifact.sh                 (peers: scripts/install-deps.sh bench)
#   RUNS=5 BENCH_STRICT=1 bench/download-artifact.sh
#   TMPDIR=/dev/shm bench/download-artifact.sh  (data and outputs in RAM: where creating files on
#                                                 disk is slow or noisy, it dominates (a))
# Exit status is 0 even with a FAIL line, unless BENCH_STRICT=1. Needs nginx, aria2c, curl,
# GNU time (/usr/bin/time) and coreutils: scripts/install-deps.sh bench.
set -euo pipefail
export LC_ALL=C # '.' decimal point in EPOCHREALTIME and awk; byte-order sort
cd "$(dirname "$0")/.."

bin=build/release/tasks/download-artifact/download-artifact
gm=build/release/tasks/generate-metadata/generate-metadata
runs=${RUNS:-3}
parallel=8
if [ ! -x "$bin" ] || [ ! -x "$gm" ]; then
  if ! { cmake --preset release >/dev/null && cmake --build --preset release; }; then
    echo "download-artifact.sh: the release build failed (cmake --preset release &&" \
      "cmake --build --preset release); cannot benchmark without $bin" >&2
    exit 2
  fi
fi
for need in "$bin" "$gm"; do
  [ -x "$need" ] || { echo "download-artifact.sh: $need is missing after the release build" >&2; exit 2; }
done
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || nginx=$(command -v nginx || true)
for need in "$nginx" aria2c curl sha256sum /usr/bin/time; do
  command -v "$need" >/dev/null || { echo "missing ${need:-nginx}: run scripts/install-deps.sh bench" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-download-artifact.XXXXXX")
data=$work/data     # what nginx serves: one dataset at a time
out=$work/out       # each run's destination, emptied before every run
prefix=$work/nginx  # nginx's prefix folder: nginx.conf, logs/, tmp/
nginx_pid=
stop_nginx() { # SIGTERM is nginx's fast shutdown: the master stops its workers, then exits
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=
  fi
}
trap 'stop_nginx; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C or kill too
mkdir -p "$data" "$out" "$prefix/logs" "$prefix/tmp"

make_small() { # 50 folders x 100 files x 4 KiB: one head | split per folder
  local d
  for d in $(seq -w 0 49); do
    mkdir -p "$1/dir-$d"
    head -c $((100 * 4096)) /dev/urandom | split -b 4096 -a 2 -d - "$1/dir-$d/file-"
  done
}
make_large() { # 8 x 64 MiB
  for i in 1 2 3 4 5 6 7 8; do head -c 64M /dev/urandom >"$1/large-$i.bin"; done
}

# start_nginx: sets port and nginx_pid. A random port below the ephemeral range that nothing
# answers on; if nginx still cannot bind it (someone took it meanwhile), another one, 5 tries.
start_nginx() {
  local i user=
  [ "$(id -u)" -ne 0 ] || user='user root;' # workers would run as nobody: 0700 temp dirs
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    cat >"$prefix/nginx.conf" <<EOF
daemon off; worker_processes 1; pid logs/nginx.pid; error_log logs/error.log warn;
$user
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types; default_type application/octet-stream;
  sendfile on; tcp_nopush on; keepalive_requests 100000; access_log off;
  client_body_temp_path tmp/cb; proxy_temp_path tmp/p; fastcgi_temp_path tmp/f;
  uwsgi_temp_path tmp/u; scgi_temp_path tmp/s;
  server {
    listen 127.0.0.1:$port;
    root "$data";
    location / { autoindex on; autoindex_format json; }
  }
}
EOF
    : >"$prefix/logs/error.log"
    rm -f "$prefix/logs/nginx.pid"
    "$nginx" -p "$prefix/" -c nginx.conf -e logs/error.log 2>"$prefix/logs/stderr.log" &
    nginx_pid=$!
    for ((i = 0; i < 500; i++)); do # 5 s
      if grep -q 'Address already in use' "$prefix/logs/error.log"; then
        stop_nginx
        continue 2
      fi
      if ! kill -0 "$nginx_pid" 2>/dev/null; then
        break
      fi
      # The pid file is written once nginx has bound its port: the connection reaches it.
      if [ "$(cat "$prefix/logs/nginx.pid" 2>/dev/null)" = "$nginx_pid" ] &&
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 0
      fi
      sleep 0.01
    done
    stop_nginx
    echo "download-artifact.sh: nginx did not start on 127.0.0.1:$port; its error log:" >&2
    tail -n 20 "$prefix/logs/error.log" "$prefix/logs/stderr.log" >&2
    exit 1
  done
  echo "download-artifact.sh: nginx found no free port in 5 tries" >&2
  exit 1
}

# run_tool TOOL: downloads everything from nginx into a fresh $out; sets secs and kib (peak
# RSS, KiB). Wall time from EPOCHREALTIME, peak RSS from GNU time %M.
run_tool() {
  local tool=$1 t0 t1 status=0
  rm -rf "$out" && mkdir "$out" && sync # not timed; no earlier run's writeback during this one
  t0=$EPOCHREALTIME
  case $tool in
    download-artifact)
      /usr/bin/time -f %M -o "$work/rss" "$bin" --source "http://127.0.0.1:$port/" \
        --destination "$out" --parallel "$parallel" --quiet >/dev/null 2>"$work/tool.err" || status=$? ;;
    aria2c)
      /usr/bin/time -f %M -o "$work/rss" aria2c -j "$parallel" -x 1 --allow-overwrite=true \
        --auto-file-renaming=false -d "$out" -i "$work/aria2.list" >/dev/null 2>"$work/tool.err" || status=$? ;;
    curl)
      /usr/bin/time -f %M -o "$work/rss" curl --parallel --parallel-max "$parallel" --create-dirs \
        -sS --fail -K "$work/curl.conf" >/dev/null 2>"$work/tool.err" || status=$? ;;
  esac
  t1=$EPOCHREALTIME
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $tool exited with status $status:" >&2
    tail -n 20 "$work/tool.err" >&2
    exit 1
  fi
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  kib=$(tail -n 1 "$work/rss")
}

sums() { # sums DIR: "hash  ./path" of every file but a top-level artifact-metadata.csv, sorted
  (cd "$1" && find . -type f ! -path ./artifact-metadata.csv -print0 | xargs -0 -r sha256sum) | sort
}

verify() { # verify TOOL: the last run's output must be the source, file for file
  sums "$out" >"$work/got"
  if ! cmp -s "$work/got" "$work/want"; then
    echo "FAIL: $1's download differs from the source (< source, > $1):" >&2
    diff "$work/want" "$work/got" | head -n 10 >&2
    exit 1
  fi
}

# make_lists: the peers' inputs, one entry per data file (names need no percent-encoding).
make_lists() {
  local path
  : >"$work/aria2.list"
  : >"$work/curl.conf"
  while IFS= read -r path; do
    printf 'http://127.0.0.1:%s/%s\n  out=%s\n' "$port" "$path" "$path" >>"$work/aria2.list"
    printf 'url = "http://127.0.0.1:%s/%s"\noutput = "%s/%s"\n' "$port" "$path" "$out" "$path" >>"$work/curl.conf"
  done < <(cd "$data" && find . -type f ! -path ./artifact-metadata.csv | sed 's|^\./||' | sort)
}

tools=(download-artifact aria2c curl)
failures=0
check() { # check LABEL VALUE OP LIMIT: prints a PASS/FAIL line
  if awk -v v="$2" -v l="$4" -v op="$3" \
    'BEGIN { exit !(op == ">" ? v > l : op == ">=" ? v >= l : v <= l) }'; then
    printf '  PASS  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
  else
    printf '  FAIL  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
    failures=$((failures + 1))
  fi
}

bench() { # bench NAME: the dataset in $data; sets best[] and rss[] for the targets
  local name=$1 bytes files r tool
  best=() rss=()
  "$gm" "$data" --quiet >/dev/null
  files=$(find "$data" -type f ! -path "$data/artifact-metadata.csv" | wc -l)
  bytes=$(find "$data" -type f ! -path "$data/artifact-metadata.csv" -printf '%s\n' |
    awk '{ s += $1 } END { print s }')
  find "$data" -type f -exec cat {} + >/dev/null # warm the page cache
  sums "$data" >"$work/want"
  make_lists
  for ((r = 1; r <= runs; r++)); do
    for tool in "${tools[@]}"; do
      run_tool "$tool"
      [ "$r" -gt 1 ] || verify "$tool"
      if [ -z "${best[$tool]:-}" ] || awk -v a="$secs" -v b="${best[$tool]}" 'BEGIN { exit !(a < b) }'; then
        best[$tool]=$secs
      fi
      [ "${rss[$tool]:-0}" -ge "$kib" ] || rss[$tool]=$kib
    done
  done
  rm -rf "$out"
  echo
  echo "== $name: $files files, $bytes bytes, best of $runs runs (outputs verified)"
  printf '%-20s %9s %9s %9s %13s %7s\n' tool seconds files/s MB/s 'peak RSS MiB' ratio
  for tool in "${tools[@]}"; do
    awk -v t="$tool" -v s="${best[$tool]}" -v d="${best[download-artifact]}" -v k="${rss[$tool]}" \
      -v b="$bytes" -v f="$files" \
      'BEGIN { printf "%-20s %9.3f %9.0f %9.1f %13.1f %7s\n", t, s, f / s, b / 1e6 / s, k / 1024,
               t == "download-artifact" ? "-" : sprintf("%.2f", s / d) }'
  done
}
ratio() { awk -v p="${best[$1]}" -v d="${best[download-artifact]}" 'BEGIN { printf "%.2f", p / d }'; }
rss_mib() { awk -v k="${rss[download-artifact]}" 'BEGIN { printf "%.1f", k / 1024 }'; }

declare -A best=() rss=()
targets=() # "label|value|op|limit"
start_nginx
echo "download-artifact benchmark: $(nproc) cores, $runs runs, $parallel at once," \
  "nginx $("$nginx" -v 2>&1 | sed 's|.*/||') on 127.0.0.1:$port, data in $work"

make_small "$data"
bench "(a) 5,000 x 4 KiB in 50 folders"
targets+=("(a) speed vs aria2c (x)|$(ratio aria2c)|>|1"
  "(a) speed vs curl (x)|$(ratio curl)|>|1"
  "(a) download-artifact peak RSS (MiB)|$(rss_mib)|<=|64")
rm -rf "${data:?}"/*

make_large "$data"
bench "(b) 8 x 64 MiB"
targets+=("(b) download-artifact seconds / curl seconds|$(awk -v d="${best[download-artifact]}" \
  -v c="${best[curl]}" 'BEGIN { printf "%.2f", d / c }')|<=|1.10"
  "(b) download-artifact peak RSS (MiB)|$(rss_mib)|<=|64")
rm -rf "${data:?}"/*

echo
echo "== targets"
for target in "${targets[@]}"; do
  IFS='|' read -r label value op limit <<<"$target"
  check "$label" "$value" "$op" "$limit"
done
if [ "$failures" -gt 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
