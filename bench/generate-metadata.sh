#!/usr/bin/env bash
# bench/generate-metadata.sh: speed and peak memory of generate-metadata against two peers.
#
# Makes two datasets in a temp dir: (a) 8 files of 64 MiB, (b) 5,000 files of 4 KiB in 50
# folders. For each, warms the page cache, checks generate-metadata's hashes against
# sha256sum's, then times, interleaved and RUNS times (default 3), each tool:
#   generate-metadata --root-path <dir> --output <csv outside dir> --quiet
#   find <dir> -type f -print0 | xargs -0 -P2 sha256sum
#   hashdeep -c sha256 -r -j2 <dir>
# It prints the best (minimum) wall time, MB/s (10^6 bytes), the highest peak RSS seen and
# ratio = peer seconds / generate-metadata seconds, then the targets with PASS/FAIL:
# (a) >= 3.0x the xargs sha256sum line, (b) >= 1.5x, generate-metadata peak RSS <= 32 MiB.
#
#   bench/generate-metadata.sh                 (or: make bench, which installs the peers)
#   RUNS=5 BENCH_STRICT=1 bench/generate-metadata.sh
# Exit status is 0 even with a FAIL line, unless BENCH_STRICT=1. Needs hashdeep, GNU time
# (/usr/bin/time) and coreutils: scripts/install-deps.sh bench.
set -euo pipefail
export LC_ALL=C # '.' decimal point in EPOCHREALTIME and awk; byte-order sort
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

bin=build/release/tasks/generate-metadata/generate-metadata
runs=${RUNS:-3}
bench_release_build "$bin"
bench_need hashdeep sha256sum /usr/bin/time

bench_workdir generate-metadata
csv=$work/artifact-metadata.csv # outside both dataset folders

# run_tool TOOL DIR: sets secs and kib (peak RSS, KiB). Wall time comes from EPOCHREALTIME
# (time's %e has only 0.01 s resolution, too coarse for dataset b); peak RSS from GNU time %M.
# For the xargs pipeline, time wraps `bash -c`: %M is the largest peak RSS of any one process
# in the tree (bash, find, xargs or a sha256sum), not their sum.
run_tool() {
  local tool=$1 dir=$2
  case $tool in
    generate-metadata)
      bench_timed "$bin" --root-path "$dir" --output "$csv" --quiet \
        >/dev/null 2>"$work/gm.err" || { cat "$work/gm.err" >&2; exit 1; } ;;
    xargs-sha256sum)
      # shellcheck disable=SC2016 # $1 is expanded by the inner bash
      bench_timed bash -c 'find "$1" -type f -print0 | xargs -0 -P2 sha256sum' _ "$dir" >/dev/null ;;
    hashdeep)
      bench_timed hashdeep -c sha256 -r -j2 "$dir" >/dev/null ;;
  esac
}

verify() { # generate-metadata's CSV must list every file with sha256sum's hash
  local dir=$1
  run_tool generate-metadata "$dir"
  awk -F, '{ print $1, toupper($2) }' "$csv" | sort >"$work/got"
  (cd "$dir" && find . -type f -print0 | xargs -0 sha256sum) |
    awk '{ sub(/^\.\//, "", $2); print $2, toupper($1) }' | sort >"$work/want"
  if ! cmp -s "$work/got" "$work/want"; then
    echo "FAIL: generate-metadata's hashes differ from sha256sum's under $dir:" >&2
    diff "$work/want" "$work/got" | head -n 10 >&2
    exit 1
  fi
}

tools=(generate-metadata xargs-sha256sum hashdeep)
bench() { # bench NAME DIR MIN_RATIO
  local name=$1 dir=$2 min_ratio=$3 bytes files r tool ratio rss_mib
  local -A best=() rss=()
  files=$(tree_files "$dir")
  bytes=$(tree_bytes "$dir")
  warm_cache "$dir"
  verify "$dir"
  bench_rounds - "$dir"
  echo
  echo "== $name: $files files, $bytes bytes, best of $runs runs (hashes verified)"
  printf '%-20s %9s %9s %13s %7s\n' tool seconds MB/s 'peak RSS MiB' ratio
  for tool in "${tools[@]}"; do
    awk -v t="$tool" -v s="${best[$tool]}" -v g="${best[generate-metadata]}" -v k="${rss[$tool]}" -v b="$bytes" \
      'BEGIN { printf "%-20s %9.3f %9.1f %13.1f %7s\n", t, s, b / 1e6 / s, k / 1024,
               t == "generate-metadata" ? "-" : sprintf("%.2f", s / g) }'
  done
  ratio=$(ratio_of "${best[xargs-sha256sum]}" "${best[generate-metadata]}")
  rss_mib=$(mib_of "${rss[generate-metadata]}")
  results+=("$name|$ratio|$min_ratio|$rss_mib")
}

echo "generate-metadata benchmark: $(nproc) cores, $runs runs, data in $work"
results=()
make_large "$work/a-large"
bench "(a) 8 x 64 MiB" "$work/a-large" 3.0
rm -rf "$work/a-large"
make_small "$work/b-small"
bench "(b) 5,000 x 4 KiB in 50 folders" "$work/b-small" 1.5

echo
echo "== targets"
for result in "${results[@]}"; do
  IFS='|' read -r name ratio min_ratio rss_mib <<<"$result"
  check "$name speed vs xargs sha256sum (x)" "$ratio" '>=' "$min_ratio"
  check "$name generate-metadata peak RSS (MiB)" "$rss_mib" '<=' 32
done
bench_exit
