# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/*.sh scripts. Sourced, not run:
#   . "$(dirname "$0")/lib.sh"
#
# Globals it reads or sets (the scripts use the same names):
#   bench_name  the script's name, prefix of error messages
#   work        the temp folder (bench_workdir), removed on exit with nginx stopped
#   nginx       the nginx binary (bench_find_nginx)
#   prefix      nginx's prefix folder, $work/nginx: nginx.conf, logs/, tmp/
#   port, nginx_pid   set by start_nginx
#   secs, kib   wall seconds and peak RSS (KiB) of the last bench_timed command
#   best[], rss[]     associative arrays (the caller declares them, global or local):
#                     best (minimum) seconds and highest peak RSS per tool, by bench_record
#   failures    FAIL lines printed by check
#
#   bench_need CMD...             exit 2 with an install hint when one is missing
#   bench_release_build BIN...    the release build (cmake presets) when one BIN is missing
#   bench_find_nginx              /usr/sbin/nginx, else nginx on PATH; sets nginx
#   bench_workdir NAME            work=$(mktemp -d $TMPDIR/bench-NAME.XXXXXX), cleanup traps
#   make_small DIR [COUNT]        COUNT (5,000) files of 4 KiB, 100 a folder: dir-NN/file-NN
#   make_large DIR [COUNT] [MIB]  COUNT (8) files of MIB (64) MiB: large-N.bin
#   tree_files DIR, tree_bytes DIR   files and bytes, but a top-level artifact-metadata.csv
#   tree_sums DIR                 sorted "sha256  ./path" lines, same exclusion
#   warm_cache DIR                reads every file once (page cache)
#   start_nginx ROOT [ACCESS_LOG] private nginx on a free loopback port serving ROOT with
#                                 autoindex json; ACCESS_LOG: http-level directives, default
#                                 "access_log off;"
#   stop_nginx                    SIGTERM to nginx_pid, waits for it
#   bench_timed CMD...            runs CMD under GNU time: sets secs and kib; CMD's status
#   bench_record TOOL             best[TOOL] = min(secs), rss[TOOL] = max(kib)
#   ratio_of A B                  A / B, 2 decimals
#   mib_of KIB                    KIB / 1024, 1 decimal
#   check LABEL VALUE OP LIMIT    "  PASS|FAIL  LABEL: VALUE (target OP LIMIT)", OP > >= <=
#   bench_exit                    exit 1 after a FAIL when BENCH_STRICT=1, else 0

bench_name=$(basename "$0")
work=
nginx=
prefix=
port=
nginx_pid=
secs=
kib=
failures=0

bench_need() {
  local need
  for need in "$@"; do
    command -v "$need" >/dev/null || { echo "missing ${need:-nginx}: run scripts/install-deps.sh bench" >&2; exit 2; }
  done
}

# bench_release_build BIN...: runs the release build when one of them is missing, then
# requires all of them. Called from the repository root.
bench_release_build() {
  local need missing=0
  for need in "$@"; do [ -x "$need" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    if ! { cmake --preset release >/dev/null && cmake --build --preset release; }; then
      echo "$bench_name: the release build failed (cmake --preset release &&" \
        "cmake --build --preset release); cannot benchmark without $1" >&2
      exit 2
    fi
  fi
  for need in "$@"; do
    [ -x "$need" ] || { echo "$bench_name: $need is missing after the release build" >&2; exit 2; }
  done
}

bench_find_nginx() {
  nginx=/usr/sbin/nginx
  [ -x "$nginx" ] || nginx=$(command -v nginx || true)
  bench_need "$nginx"
}

bench_cleanup() {
  stop_nginx
  if [ -n "$work" ]; then rm -rf "$work"; fi
}

# bench_workdir NAME: the temp folder under $TMPDIR (default /tmp); on exit (also after
# Ctrl-C or kill) nginx is stopped and the folder removed.
bench_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/bench-$1.XXXXXX")
  prefix=$work/nginx
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C or kill too
}

make_small() { # make_small DIR [COUNT]: 100 files a folder, one head | split per folder
  local dir=$1 count=${2:-5000} d n left
  left=$count
  for d in $(seq -w 0 $(((count + 99) / 100 - 1))); do
    n=$((left < 100 ? left : 100))
    left=$((left - n))
    mkdir -p "$dir/dir-$d"
    head -c $((n * 4096)) /dev/urandom | split -b 4096 -a 2 -d - "$dir/dir-$d/file-"
  done
}
make_large() { # make_large DIR [COUNT] [MIB]
  local dir=$1 count=${2:-8} mib=${3:-64} i
  mkdir -p "$dir"
  for ((i = 1; i <= count; i++)); do head -c "${mib}M" /dev/urandom >"$dir/large-$i.bin"; done
}

tree_files() { find "$1" -type f ! -path "$1/artifact-metadata.csv" | wc -l; }
tree_bytes() {
  find "$1" -type f ! -path "$1/artifact-metadata.csv" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
tree_sums() { # "hash  ./path" of every file but a top-level artifact-metadata.csv, sorted
  (cd "$1" && find . -type f ! -path ./artifact-metadata.csv -print0 | xargs -0 -r sha256sum) | sort
}
warm_cache() { find "$1" -type f -exec cat {} + >/dev/null; }

stop_nginx() { # SIGTERM is nginx's fast shutdown: the master stops its workers, then exits
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=
  fi
}

# start_nginx ROOT [ACCESS_LOG]: sets port and nginx_pid. `daemon off;` in the background, its
# own prefix ($work/nginx), pid and temp paths; `user root;` only when run as root (workers
# would run as nobody: 0700 temp dirs). A random port below the ephemeral range that nothing
# answers on; if nginx still cannot bind it (someone took it meanwhile), another one, 5 tries.
start_nginx() {
  local root=$1 access_log=${2:-access_log off;} i user=
  [ -n "$nginx" ] || bench_find_nginx
  [ "$(id -u)" -ne 0 ] || user='user root;'
  mkdir -p "$prefix/logs" "$prefix/tmp"
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    cat >"$prefix/nginx.conf" <<EOF
daemon off; worker_processes 1; pid logs/nginx.pid; error_log logs/error.log warn;
$user
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types; default_type application/octet-stream;
  sendfile on; tcp_nopush on; keepalive_requests 100000; $access_log
  client_body_temp_path tmp/cb; proxy_temp_path tmp/p; fastcgi_temp_path tmp/f;
  uwsgi_temp_path tmp/u; scgi_temp_path tmp/s;
  server {
    listen 127.0.0.1:$port;
    root "$root";
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
    echo "$bench_name: nginx did not start on 127.0.0.1:$port; its error log:" >&2
    tail -n 20 "$prefix/logs/error.log" "$prefix/logs/stderr.log" >&2
    exit 1
  done
  echo "$bench_name: nginx found no free port in 5 tries" >&2
  exit 1
}

# bench_timed CMD...: sets secs (wall time from EPOCHREALTIME: time's %e has only 0.01 s
# resolution) and kib (peak RSS from GNU time %M: for a shell pipeline, the largest of any
# one process in it, not their sum); returns CMD's status. Redirect the call to redirect CMD.
bench_timed() {
  local t0 t1 status=0
  t0=$EPOCHREALTIME
  /usr/bin/time -f %M -o "$work/rss" "$@" || status=$?
  t1=$EPOCHREALTIME
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  kib=$(tail -n 1 "$work/rss") # after "Command exited with non-zero status N"
  return "$status"
}

bench_record() { # bench_record TOOL: the best time and the highest peak RSS so far
  if [ -z "${best[$1]:-}" ] || awk -v a="$secs" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
    best[$1]=$secs
  fi
  [ "${rss[$1]:-0}" -ge "$kib" ] || rss[$1]=$kib
}

# bench_rounds FIRST [ARGS...]: $runs rounds, interleaved; each runs every tool of $tools in
# turn: run_tool TOOL ARGS..., then (first round only, unless FIRST is -) FIRST TOOL ARGS...,
# e.g. a check of the output, then bench_record TOOL.
# shellcheck disable=SC2154 # runs and tools: the calling script's
bench_rounds() {
  local first=$1 r tool
  shift
  for ((r = 1; r <= runs; r++)); do
    for tool in "${tools[@]}"; do
      run_tool "$tool" "$@"
      [ "$r" -gt 1 ] || [ "$first" = - ] || "$first" "$tool" "$@"
      bench_record "$tool"
    done
  done
}

# bench_check_targets: a PASS/FAIL line (check) for each "label|value|op|limit" of $targets.
# shellcheck disable=SC2154 # targets: the calling script's
bench_check_targets() {
  local target label value op limit
  for target in "${targets[@]}"; do
    IFS='|' read -r label value op limit <<<"$target"
    check "$label" "$value" "$op" "$limit"
  done
}

ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib_of() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

check() { # check LABEL VALUE OP LIMIT: prints a PASS/FAIL line
  if awk -v v="$2" -v l="$4" -v op="$3" \
    'BEGIN { exit !(op == ">" ? v > l : op == ">=" ? v >= l : v <= l) }'; then
    printf '  PASS  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
  else
    printf '  FAIL  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
    failures=$((failures + 1))
  fi
}

bench_exit() {
  if [ "$failures" -gt 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
  exit 0
}
