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
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

bin=build/release/tasks/download-artifact/download-artifact
gm=build/release/tasks/generate-metadata/generate-metadata
runs=${RUNS:-3}
parallel=8
bench_release_build "$bin" "$gm"
bench_find_nginx
bench_need aria2c curl sha256sum /usr/bin/time

bench_workdir download-artifact
data=$work/data # what nginx serves: one dataset at a time
out=$work/out   # each run's destination, emptied before every run
mkdir -p "$data" "$out"

# run_tool TOOL: downloads everything from nginx into a fresh $out; sets secs and kib (peak
# RSS, KiB). Wall time from EPOCHREALTIME, peak RSS from GNU time %M.
run_tool() {
  local tool=$1 status=0
  rm -rf "$out" && mkdir "$out" && sync # not timed; no earlier run's writeback during this one
  case $tool in
    download-artifact)
      bench_timed "$bin" --source "http://127.0.0.1:$port/" \
        --destination "$out" --parallel "$parallel" --quiet >/dev/null 2>"$work/tool.err" || status=$? ;;
    aria2c)
      bench_timed aria2c -j "$parallel" -x 1 --allow-overwrite=true \
        --auto-file-renaming=false -d "$out" -i "$work/aria2.list" >/dev/null 2>"$work/tool.err" || status=$? ;;
    curl)
      bench_timed curl --parallel --parallel-max "$parallel" --create-dirs \
        -sS --fail -K "$work/curl.conf" >/dev/null 2>"$work/tool.err" || status=$? ;;
  esac
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $tool exited with status $status:" >&2
    tail -n 20 "$work/tool.err" >&2
    exit 1
  fi
}

# shellcheck disable=SC2317 # called through bench_rounds
verify() { # verify TOOL: the last run's output must be the source, file for file
  tree_sums "$out" >"$work/got"
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
bench() { # bench NAME: the dataset in $data; sets best[] and rss[] for the targets
  local name=$1 bytes files r tool
  best=() rss=()
  "$gm" "$data" --quiet >/dev/null
  files=$(tree_files "$data")
  bytes=$(tree_bytes "$data")
  warm_cache "$data"
  tree_sums "$data" >"$work/want"
  make_lists
  bench_rounds verify
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
ratio() { ratio_of "${best[$1]}" "${best[download-artifact]}"; }
rss_mib() { mib_of "${rss[download-artifact]}"; }

declare -A best=() rss=()
targets=() # "label|value|op|limit"
start_nginx "$data"
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
targets+=("(b) download-artifact seconds / curl seconds|$(ratio_of "${best[download-artifact]}" "${best[curl]}")|<=|1.10"
  "(b) download-artifact peak RSS (MiB)|$(rss_mib)|<=|64")
rm -rf "${data:?}"/*

echo
echo "== targets"
bench_check_targets
bench_exit
