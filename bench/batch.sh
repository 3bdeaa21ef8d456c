#!/usr/bin/env bash
# bench/batch.sh: one large file fetched by download-artifact's batch mode (--provider drs: the
# DRS object, then parallel Range parts into the .part file, SHA-256 checked, renamed) against
# two peers on the same access URL: curl (one stream) and aria2c -x 8 -s 8 (8 connections).
#
# A private Debian nginx (bench/lib.sh: free loopback port, its own prefix, stopped on exit)
# plays the whole DRS service with static files, so no fixture server is timed:
#   <root>/ga4gh/drs/v1/objects/big   the DRS 1.2 object JSON (id, name, size, sha-256 checksum,
#                                     access_methods[0].access_url on the same nginx), i.e. the
#                                     200 of GET /objects/{id} for a ready object
#   <root>/bytes/big.bin              the file (SIZE_MIB, default 1024 MiB of /dev/urandom),
#                                     served by nginx with Range support (sendfile)
# (Staging, expiring URLs and faults are the tests' business: tests/support/drs_server.*.)
# Times, interleaved and RUNS times (default 3), each tool writing into a fresh empty folder
# (clearing it is not timed):
#   download-artifact --provider drs http://127.0.0.1:PORT/ga4gh/drs/v1 --files big
#                     --destination <dir> --parallel 8 --part-size PART (default 64MiB) --quiet
#   the same with --skip-validation       (no SHA-256 check: an extra line, not a target, that
#                                          shows what the check costs)
#   curl -sS --fail -o <dir>/big.bin <access URL>
#   aria2c -x 8 -s 8 -d <dir> -o big.bin <access URL>
# download-artifact's time includes its SHA-256 check (computed while the parts land; about
# 0.75 s of one core per GiB with SHA-NI); the peers check nothing. Each output is compared with the source once (sha256sum). Prints the best (minimum)
# wall time, MB/s (10^6 bytes), the highest peak RSS and ratio = peer seconds / download-artifact
# seconds, then the targets with PASS/FAIL: within 10% of aria2c (download-artifact seconds
# <= 1.10 x aria2c's) and faster than curl (ratio > 1).
#
#   bench/batch.sh                       (peers: scripts/install-deps.sh bench)
#   RUNS=5 SIZE_MIB=2048 PART=32MiB BENCH_STRICT=1 bench/batch.sh
#   TMPDIR=/some/disk bench/batch.sh     (default TMPDIR=/dev/shm: data and outputs in RAM; on
#                                         a noisy disk the writeback dominates)
# Exit status is 0 even with a FAIL line, unless BENCH_STRICT=1. Needs nginx, aria2c, curl,
# sha256sum, GNU time (/usr/bin/time): scripts/install-deps.sh bench.
set -euo pipefail
export LC_ALL=C # '.' decimal point in EPOCHREALTIME and awk
export TMPDIR=${TMPDIR:-/dev/shm}
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

bin=build/release/tasks/download-artifact/download-artifact
runs=${RUNS:-3}
size_mib=${SIZE_MIB:-1024}
part=${PART:-64MiB}
parallel=8
bench_release_build "$bin"
bench_find_nginx
bench_need aria2c curl sha256sum /usr/bin/time

bench_workdir batch
root=$work/root # what nginx serves
out=$work/out   # each run's destination, emptied before every run
mkdir -p "$root/ga4gh/drs/v1/objects" "$root/bytes" "$out"
data=$root/bytes/big.bin
head -c "${size_mib}M" /dev/urandom >"$data"
bytes=$(stat -c %s "$data")
sum=$(sha256sum "$data" | cut -d' ' -f1)

start_nginx "$root"
base=http://127.0.0.1:$port/ga4gh/drs/v1
url=http://127.0.0.1:$port/bytes/big.bin
cat >"$root/ga4gh/drs/v1/objects/big" <<JSON
{"id": "big", "name": "big.bin", "self_uri": "drs://127.0.0.1:$port/big", "size": $bytes,
 "created_time": "2026-01-01T00:00:00Z",
 "checksums": [{"type": "sha-256", "checksum": "$sum"}],
 "access_methods": [{"type": "https", "access_url": {"url": "$url"}}]}
JSON

# run_tool TOOL: fetches the file into a fresh $out; sets secs and kib.
run_tool() {
  local tool=$1 status=0
  rm -rf "$out" && mkdir "$out" && sync
  case $tool in
    download-artifact | download-artifact-nocheck)
      local check=()
      [ "$tool" = download-artifact ] || check=(--skip-validation)
      bench_timed "$bin" --provider drs "$base" --files big --destination "$out" "${check[@]}" \
        --parallel "$parallel" --part-size "$part" --quiet >/dev/null 2>"$work/tool.err" || status=$? ;;
    curl)
      bench_timed curl -sS --fail -o "$out/big.bin" "$url" >/dev/null 2>"$work/tool.err" || status=$? ;;
    aria2c)
      bench_timed aria2c -x "$parallel" -s "$parallel" --allow-overwrite=true \
        --auto-file-renaming=false --console-log-level=warn --summary-interval=0 \
        -d "$out" -o big.bin "$url" >/dev/null 2>"$work/tool.err" || status=$? ;;
  esac
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $tool exited with status $status:" >&2
    tail -n 20 "$work/tool.err" >&2
    exit 1
  fi
}

# shellcheck disable=SC2317 # called through bench_rounds
verify() { # verify TOOL: the last run's output must be the source, and alone in $out
  local got
  got=$(sha256sum "$out/big.bin" 2>/dev/null | cut -d' ' -f1 || true)
  if [ "$got" != "$sum" ] || [ "$(find "$out" -mindepth 1 | wc -l)" -ne 1 ]; then
    echo "FAIL: $1's download differs from the source (sha256 $got, want $sum):" >&2
    ls -la "$out" >&2
    exit 1
  fi
}

declare -A best=() rss=()
tools=(download-artifact aria2c curl download-artifact-nocheck)
echo "batch benchmark: $(nproc) cores, $runs runs, one file of $size_mib MiB, $parallel at once" \
  "(download-artifact parts of $part), nginx $("$nginx" -v 2>&1 | sed 's|.*/||') on" \
  "127.0.0.1:$port, data in $work"
bench_rounds verify
rm -rf "$out"

echo
echo "== one file, $bytes bytes, best of $runs runs (outputs verified)"
printf '%-26s %9s %9s %13s %7s\n' tool seconds MB/s 'peak RSS MiB' ratio
for tool in "${tools[@]}"; do
  awk -v t="$tool" -v s="${best[$tool]}" -v d="${best[download-artifact]}" -v k="${rss[$tool]}" \
    -v b="$bytes" \
    'BEGIN { printf "%-26s %9.3f %9.1f %13.1f %7s\n", t, s, b / 1e6 / s, k / 1024,
             t == "download-artifact" ? "-" : sprintf("%.2f", s / d) }'
done
echo "(download-artifact-nocheck: with --skip-validation, no SHA-256 check; not a target)"

echo
echo "== targets"
check "download-artifact seconds / aria2c seconds" \
  "$(ratio_of "${best[download-artifact]}" "${best[aria2c]}")" "<=" 1.10
check "speed vs curl (x)" "$(ratio_of "${best[curl]}" "${best[download-artifact]}")" ">" 1
bench_exit
