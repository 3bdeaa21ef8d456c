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

bin=build/release/tasks/generate-metadata/generate-metadata
runs=${RUNS:-3}
if [ ! -x "$bin" ]; then
  cmake --preset release >/dev/null && cmake --build --preset release
fi
for need in hashdeep sha256sum /usr/bin/time; do
  command -v "$need" >/dev/null || { echo "missing $need: run scripts/install-deps.sh bench" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-generate-metadata.XXXXXX")
trap 'rm -rf "$work"' EXIT
csv=$work/artifact-metadata.csv # outside both dataset folders

make_large() { # 8 x 64 MiB
  mkdir "$1"
  for i in 1 2 3 4 5 6 7 8; do head -c 64M /dev/urandom >"$1/large-$i.bin"; done
}
make_small() { # 50 folders x 100 files x 4 KiB: one head | split per folder
  local d
  for d in $(seq -w 0 49); do
    mkdir -p "$1/dir-$d"
    head -c $((100 * 4096)) /dev/urandom | split -b 4096 -a 2 -d - "$1/dir-$d/file-"
  done
}

# run_tool TOOL DIR: sets secs and kib (peak RSS, KiB). Wall time comes from EPOCHREALTIME
# (time's %e has only 0.01 s resolution, too coarse for dataset b); peak RSS from GNU time %M.
# For the xargs pipeline, time wraps `bash -c`: %M is the largest peak RSS of any one process
# in the tree (bash, find, xargs or a sha256sum), not their sum.
run_tool() {
  local tool=$1 dir=$2 t0 t1
  t0=$EPOCHREALTIME
  case $tool in
    generate-metadata)
      /usr/bin/time -f %M -o "$work/rss" "$bin" --root-path "$dir" --output "$csv" --quiet \
        >/dev/null 2>"$work/gm.err" || { cat "$work/gm.err" >&2; exit 1; } ;;
    xargs-sha256sum)
      # shellcheck disable=SC2016 # $1 is expanded by the inner bash
      /usr/bin/time -f %M -o "$work/rss" bash -c 'find "$1" -type f -print0 | xargs -0 -P2 sha256sum' _ "$dir" >/dev/null ;;
    hashdeep)
      /usr/bin/time -f %M -o "$work/rss" hashdeep -c sha256 -r -j2 "$dir" >/dev/null ;;
  esac
  t1=$EPOCHREALTIME
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  kib=$(tail -n 1 "$work/rss")
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
failures=0
check() { # check LABEL VALUE OP LIMIT: prints a PASS/FAIL line
  if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == ">=" ? v >= l : v <= l) }'; then
    printf '  PASS  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
  else
    printf '  FAIL  %s: %s (target %s %s)\n' "$1" "$2" "$3" "$4"
    failures=$((failures + 1))
  fi
}

bench() { # bench NAME DIR MIN_RATIO
  local name=$1 dir=$2 min_ratio=$3 bytes files r tool ratio rss_mib
  local -A best=() rss=()
  files=$(find "$dir" -type f | wc -l)
  bytes=$(find "$dir" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
  find "$dir" -type f -exec cat {} + >/dev/null # warm the page cache
  verify "$dir"
  for ((r = 1; r <= runs; r++)); do
    for tool in "${tools[@]}"; do
      run_tool "$tool" "$dir"
      if [ -z "${best[$tool]:-}" ] || awk -v a="$secs" -v b="${best[$tool]}" 'BEGIN { exit !(a < b) }'; then
        best[$tool]=$secs
      fi
      [ "${rss[$tool]:-0}" -ge "$kib" ] || rss[$tool]=$kib
    done
  done
  echo
  echo "== $name: $files files, $bytes bytes, best of $runs runs (hashes verified)"
  printf '%-20s %9s %9s %13s %7s\n' tool seconds MB/s 'peak RSS MiB' ratio
  for tool in "${tools[@]}"; do
    awk -v t="$tool" -v s="${best[$tool]}" -v g="${best[generate-metadata]}" -v k="${rss[$tool]}" -v b="$bytes" \
      'BEGIN { printf "%-20s %9.3f %9.1f %13.1f %7s\n", t, s, b / 1e6 / s, k / 1024,
               t == "generate-metadata" ? "-" : sprintf("%.2f", s / g) }'
  done
  ratio=$(awk -v p="${best[xargs-sha256sum]}" -v g="${best[generate-metadata]}" 'BEGIN { printf "%.2f", p / g }')
  rss_mib=$(awk -v k="${rss[generate-metadata]}" 'BEGIN { printf "%.1f", k / 1024 }')
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
if [ "$failures" -gt 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
