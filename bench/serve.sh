#!/usr/bin/env bash
# bench/serve.sh: download-dir-zip serve handing out a 1 GiB folder as a stored zip, against
# Debian nginx serving a prebuilt stored zip of the same folder (the ceiling: sendfile of one
# ready file) and against a zip-to-pipe approach, `zip -r -0 - . | cat > /dev/null`.
#
# Makes $work/root/photos: COUNT (default 16) files of 1 GiB / COUNT from /dev/urandom, and
# $work/www/photos.zip with `zip -q -r -0`. Starts nginx (bench/lib.sh) on $work/www and
# `download-dir-zip serve -P 0 --root $work/root --db … --store …` (job state in $work; port from its "Listening on" line, stopped
# by its PID on exit). Warms the page cache, then one timed first request (the service reads
# every file once for the CRC-32s its exact Content-Length layout needs; they are cached),
# then RUNS (default 3) interleaved, timed:
#   curl -sS -o /dev/null http://127.0.0.1:<service>/archive/photos/
#   curl -sS -o /dev/null http://127.0.0.1:<nginx>/photos.zip
#   (cd $work/root/photos && zip -q -r -0 - . | cat > /dev/null)
# Then 50 curl clients at once against the service (and against nginx for comparison). Prints
# best seconds, MB/s (10^6 bytes of archive a second), ratios, the service's peak RSS (VmHWM)
# after the single-client runs and after the 50 clients, and the targets with PASS/FAIL:
# service >= 80% of nginx's rate, service peak RSS <= 64 MiB with 50 clients.
#
#   bench/serve.sh                      (peers: scripts/install-deps.sh bench)
#   RUNS=5 COUNT=64 BENCH_STRICT=1 bench/serve.sh
#   TMPDIR=/dev/shm bench/serve.sh       (data in RAM; needs 2.2 GiB there)
# Exit status is 0 even with a FAIL line, unless BENCH_STRICT=1.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

bin=build/release/tasks/download-dir-zip/download-dir-zip
runs=${RUNS:-3}
count=${COUNT:-16}
clients=${CLIENTS:-50}
bench_release_build "$bin"
bench_find_nginx
bench_need curl zip /usr/bin/time

bench_workdir serve
service_pid=
stop_service() {
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
    service_pid=
  fi
}
trap 'stop_service; bench_cleanup' EXIT

folder=$work/root/photos
mkdir -p "$folder" "$work/www"
make_large "$folder" "$count" $((1024 / count))
(cd "$folder" && zip -q -r -0 "$work/www/photos.zip" .)
bytes=$(tree_bytes "$folder")
start_nginx "$work/www"

"$bin" serve -P 0 --root "$work/root" --db "$work/jobs.sqlite" --store "$work/downloads" >"$work/service.log" 2>&1 &
service_pid=$!
for ((i = 0; i < 500; i++)); do
  sport=$(sed -n 's|.*Listening on http://[^ ]*:\([0-9]*\)/.*|\1|p' "$work/service.log")
  [ -z "$sport" ] || break
  sleep 0.01
done
[ -n "$sport" ] || { echo "$bench_name: the service did not start:" >&2; cat "$work/service.log" >&2; exit 1; }
service_url=http://127.0.0.1:$sport/archive/photos/
nginx_url=http://127.0.0.1:$port/photos.zip
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$service_pid/status"; } # KiB

warm_cache "$folder"
warm_cache "$work/www"
bench_timed curl -sS -f -o /dev/null "$service_url"
first=$secs
curl -sS -f -o "$work/check.zip" "$service_url" # not timed: the archive must test
archive=$(stat -c %s "$work/check.zip")
unzip -tq "$work/check.zip" >/dev/null || { echo "FAIL: the service's archive does not test" >&2; exit 1; }
cmp -s "$work/check.zip" "$work/www/photos.zip" && same=yes || same=no
rm -f "$work/check.zip"

declare -A best=() rss=()
tools=(service nginx "zip -r -0")
for ((r = 1; r <= runs; r++)); do
  bench_timed curl -sS -f -o /dev/null "$service_url" && bench_record service
  bench_timed curl -sS -f -o /dev/null "$nginx_url" && bench_record nginx
  bench_timed sh -c 'cd "$1" && zip -q -r -0 - . | cat >/dev/null' sh "$folder" && bench_record "zip -r -0"
done
single_hwm=$(hwm)

many() { # many URL: CLIENTS curls at once; sets secs
  local url=$1 t0 t1 i pids=()
  t0=$EPOCHREALTIME
  for ((i = 0; i < clients; i++)); do
    curl -sS -f -o /dev/null "$url" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  t1=$EPOCHREALTIME
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}
many "$service_url"
many_service=$secs
many_hwm=$(hwm)
many "$nginx_url"
many_nginx=$secs

echo "download-dir-zip serve benchmark: $(nproc) cores, $count files, $bytes bytes of files," \
  "archive $archive bytes, best of $runs runs, nginx $("$nginx" -v 2>&1 | sed 's|.*/||')"
rss[service]=$single_hwm # the service's own peak (VmHWM), not curl's
rss[nginx]=0             # nginx's workers are not measured
printf '%-12s %9s %9s %13s %14s\n' tool seconds MB/s 'peak RSS MiB' 'rate vs nginx'
for tool in "${tools[@]}"; do
  awk -v t="$tool" -v s="${best[$tool]}" -v n="${best[nginx]}" -v k="${rss[$tool]}" -v b="$archive" \
    'BEGIN { printf "%-12s %9.3f %9.1f %13s %14.2f\n", t, s, b / 1e6 / s,
             (k > 0 ? sprintf("%.1f", k / 1024) : "-"), n / s }'
done
echo "the service's archive is byte-for-byte zip -r -0's: $same (both are valid stored zips)"
echo "first request to the service (reads every file for its CRC-32 first): $first s," \
  "$(awk -v b="$archive" -v s="$first" 'BEGIN { printf "%.1f", b / 1e6 / s }') MB/s"
echo "$clients clients at once: service $many_service s" \
  "($(awk -v b="$archive" -v s="$many_service" -v c="$clients" 'BEGIN { printf "%.1f", c * b / 1e6 / s }') MB/s in all)," \
  "nginx $many_nginx s ($(awk -v b="$archive" -v s="$many_nginx" -v c="$clients" 'BEGIN { printf "%.1f", c * b / 1e6 / s }') MB/s in all)"
echo "service peak RSS (VmHWM): $(mib_of "$single_hwm") MiB after single clients," \
  "$(mib_of "$many_hwm") MiB after $clients clients at once"
echo
echo "== targets"
check "service rate / nginx rate" "$(ratio_of "${best[nginx]}" "${best[service]}")" ">=" 0.80
check "$clients clients: service rate / nginx rate" "$(ratio_of "$many_nginx" "$many_service")" ">=" 0.80
check "service peak RSS with $clients clients (MiB)" "$(mib_of "$many_hwm")" "<=" 64
bench_exit
