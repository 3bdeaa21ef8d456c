#!/usr/bin/env bash
# bench/incremental.sh: time and bytes of download-artifact's incremental download.
#
# Against a private Debian nginx (bench/lib.sh: free loopback port, `autoindex on;
# autoindex_format json;`, access log of each response's $body_bytes_sent and $bytes_sent)
# serving a source tree: SMALL_COUNT (5,000) files of 4 KiB in folders of 100 plus LARGE_COUNT
# (8) files of LARGE_MB (64) MiB, with the artifact-metadata.csv of generate-metadata at its
# root. Version 2 of the tree changes CHANGED_SMALL (10%) of the small files and CHANGED_LARGE
# (1) large file (new random bytes, same sizes) and has its own artifact-metadata.csv; nginx's
# root is a symlink switched between the two, so the URL (and the cache key) stays the same.
# Each repetition (RUNS, default 3; the best time and the highest peak RSS are kept), every
# download with --parallel PARALLEL (8):
#   plain        v1 without --incremental into a fresh folder
#   cache fill   v1 --incremental --cache-directory C (C empty) into a fresh D1: the "plain
#                run" of the targets (timed twice per repetition: before each case below)
#   incr fresh   v2 --incremental, same C, into a fresh D2
#   incr reuse   v2 --incremental --clean-destination, same C, into D1 (after a new fill)
# DOWNLOAD_ARGS (split on blanks) is added to every --incremental run, e.g.
# DOWNLOAD_ARGS='--cache-link copy'. Outputs are checked against the source on the first
# repetition (sha256 of every file; a top-level artifact-metadata.csv is ignored), D1 also after
# the incr fresh run (the cache update must not touch an earlier destination). Bytes are summed
# from nginx's access log per run (truncated before each). Prints per run: seconds, peak RSS,
# requests, body and total bytes sent, time ratio to the cache fill and to plain; then the
# targets: incremental seconds <= 0.20 x cache fill seconds, incremental body bytes <= changed
# bytes + the size of the new artifact-metadata.csv. Ends with download-artifact's last lines
# (summary) of each kind of run.
#
#   bench/incremental.sh
#   SMALL_COUNT=200 LARGE_COUNT=2 LARGE_MB=4 RUNS=1 bench/incremental.sh    (smoke run)
#   DOWNLOAD_ARGS='--cache-link copy' bench/incremental.sh
#   TMPDIR=/tmp bench/incremental.sh      (trees on disk; the default is /dev/shm, in RAM)
#   TMPDIR=/tmp DIRTY_MB=1000 bench/incremental.sh   (before each run, 1,000 MB of another job's
#                                          unsynced writes on the same filesystem: the cache
#                                          update must not wait for them)
# Binaries: DOWNLOAD_ARTIFACT and GENERATE_METADATA, else the first of build/release and
# build/dev that has them (download-artifact must know --incremental); nothing is built.
# Exit status is 0 even with a FAIL line, unless BENCH_STRICT=1. Needs nginx, GNU time
# (/usr/bin/time) and coreutils: scripts/install-deps.sh bench.
set -euo pipefail
export LC_ALL=C # '.' decimal point in EPOCHREALTIME and awk; byte-order sort
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
small_count=${SMALL_COUNT:-5000}
large_count=${LARGE_COUNT:-8}
large_mb=${LARGE_MB:-64}
changed_small=${CHANGED_SMALL:-$((small_count / 10))}
changed_large=${CHANGED_LARGE:-$((large_count < 1 ? large_count : 1))}
runs=${RUNS:-3}
parallel=${PARALLEL:-8}
read -r -a extra_args <<<"${DOWNLOAD_ARGS:-}"
dirty_mb=${DIRTY_MB:-0}
if [ "$changed_small" -gt "$small_count" ] || [ "$changed_large" -gt "$large_count" ]; then
  echo "$bench_name: CHANGED_SMALL/CHANGED_LARGE exceed SMALL_COUNT/LARGE_COUNT" >&2
  exit 2
fi

bin=${DOWNLOAD_ARTIFACT:-}
if [ -z "$bin" ]; then
  for candidate in build/release build/dev; do
    candidate=$candidate/tasks/download-artifact/download-artifact
    [ -x "$candidate" ] || continue
    help=$("$candidate" --help 2>&1 || true)
    if [[ $help == *--incremental* ]]; then bin=$candidate; break; fi
    echo "note: $candidate has no --incremental (an older build); trying the next" >&2
  done
fi
gm=${GENERATE_METADATA:-}
if [ -z "$gm" ]; then
  for candidate in build/release build/dev; do
    candidate=$candidate/tasks/generate-metadata/generate-metadata
    if [ -x "$candidate" ]; then gm=$candidate; break; fi
  done
fi
if [ -z "$bin" ] || [ -z "$gm" ]; then
  echo "$bench_name: no download-artifact with --incremental or no generate-metadata in" \
    "build/release or build/dev (or set DOWNLOAD_ARTIFACT, GENERATE_METADATA)" >&2
  exit 2
fi
bench_find_nginx
bench_need sha256sum /usr/bin/time

bench_workdir incremental
v1=$work/v1 v2=$work/v2 # the two versions of the source tree
www=$work/www           # nginx's root: a symlink to v1 or v2
cache=$work/cache d1=$work/d1 d2=$work/d2 plain=$work/plain
access_log="log_format bench '\$body_bytes_sent \$bytes_sent \$status \$request_method \$request_uri';
  access_log logs/access.log bench;"

serve() { ln -sfn "$1" "$www"; }

# run KIND DEST [ARGS...]: one timed download of $url into DEST; records secs and kib under
# KIND, and the requests and bytes that nginx logged meanwhile. Output: $work/KIND.log.
declare -A best=() rss=() requests=() body=() sent=() meta=()
run() {
  local kind=$1 dest=$2 status=0
  shift 2
  : >"$prefix/logs/access.log" # nginx appends (O_APPEND): it goes on at offset 0
  sync                          # not timed; no earlier run's writeback during this one
  # Another job's unsynced output on the same filesystem (DIRTY_MB), as a build leaves it.
  [ "$dirty_mb" -eq 0 ] || head -c "${dirty_mb}M" /dev/zero >"$work/dirty"
  bench_timed "$bin" --source "$url" --destination "$dest" --parallel "$parallel" "$@" \
    >"$work/$kind.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL: $kind: download-artifact exited with status $status:" >&2
    tail -n 20 "$work/$kind.log" >&2
    exit 1
  fi
  bench_record "$kind"
  rm -f "$work/dirty"
  sleep 0.1 # nginx logs a request once it has handed the last bytes to the socket
  read -r "requests[$kind]" "body[$kind]" "sent[$kind]" "meta[$kind]" < <(awk \
    '{ n++; b += $1; s += $2; m += $5 == "/artifact-metadata.csv" }
     END { printf "%d %d %d %d\n", n, b, s, m }' "$prefix/logs/access.log")
  cp "$prefix/logs/access.log" "$work/$kind.access.log"
}

verify() { # verify LABEL DIR WANT: DIR must hold the files listed in WANT (tree_sums)
  tree_sums "$2" >"$work/got"
  if ! cmp -s "$work/got" "$3"; then
    echo "FAIL: $1: $2 differs from the source (< source, > download):" >&2
    diff "$3" "$work/got" | head -n 10 >&2
    exit 1
  fi
}

# The trees. v2 starts as hard links to v1; a changed file is removed and written anew.
make_small "$v1" "$small_count"
make_large "$v1" "$large_count" "$large_mb"
"$gm" "$v1" --quiet >/dev/null
cp -al "$v1" "$v2"
rm "$v2/artifact-metadata.csv"
changed_bytes=0
while IFS= read -r path; do
  size=$(stat -c %s "$v2/$path")
  rm "$v2/$path"
  head -c "$size" /dev/urandom >"$v2/$path"
  changed_bytes=$((changed_bytes + size))
done < <(
  (cd "$v1" && find . -path './dir-*' -type f | sed 's|^\./||' | sort) |
    awk -v n="$small_count" -v c="$changed_small" 'c > 0 && int((NR - 1) * c / n) != int(NR * c / n)'
  (cd "$v1" && find . -maxdepth 1 -name 'large-*.bin' | sed 's|^\./||' | sort) | head -n "$changed_large"
)
"$gm" "$v2" --quiet >/dev/null
metadata_bytes=$(stat -c %s "$v2/artifact-metadata.csv")
tree_sums "$v1" >"$work/want1"
tree_sums "$v2" >"$work/want2"
warm_cache "$v1"
warm_cache "$v2"

start_nginx "$www" "$access_log"
url=http://127.0.0.1:$port/
echo "download-artifact incremental benchmark: $(nproc) cores, $runs runs, $parallel at once," \
  "nginx $("$nginx" -v 2>&1 | sed 's|.*/||') on 127.0.0.1:$port, data in $work"
echo "binary: $bin; incremental runs add: --incremental --cache-directory <C>${DOWNLOAD_ARGS:+ $DOWNLOAD_ARGS}"
echo "source v1: $small_count x 4 KiB + $large_count x $large_mb MiB = $(tree_bytes "$v1") bytes" \
  "in $(tree_files "$v1") files; v2: $changed_small small + $changed_large large changed" \
  "= $changed_bytes bytes, its artifact-metadata.csv $metadata_bytes bytes"

incr=(--incremental --cache-directory "$cache" "${extra_args[@]}")
for ((r = 1; r <= runs; r++)); do
  serve "$v1"
  rm -rf "$plain" && mkdir "$plain"
  run plain "$plain" --quiet
  [ "$r" -gt 1 ] || verify plain "$plain" "$work/want1"
  rm -rf "$plain"

  # incr fresh: fill C and D1 from v1, then v2 into a fresh D2
  rm -rf "$cache" "$d1" "$d2"
  run fill "$d1" "${incr[@]}" --quiet
  [ "$r" -gt 1 ] || verify "cache fill" "$d1" "$work/want1"
  serve "$v2"
  run incr-fresh "$d2" "${incr[@]}" --quiet
  if [ "$r" -eq 1 ]; then
    verify "incr fresh" "$d2" "$work/want2"
    verify "D1 after incr fresh (v1 still)" "$d1" "$work/want1"
  fi

  # incr reuse: fill C and D1 from v1 again, then v2 into D1 with --clean-destination
  serve "$v1"
  rm -rf "$cache" "$d1" "$d2"
  run fill "$d1" "${incr[@]}" --quiet
  serve "$v2"
  run incr-reuse "$d1" "${incr[@]}" --clean-destination --quiet
  [ "$r" -gt 1 ] || verify "incr reuse" "$d1" "$work/want2"
done
rm -rf "$cache" "$d1" "$d2"

kinds=(plain fill incr-fresh incr-reuse)
declare -A label=([plain]='plain (no --incremental)' [fill]='cache fill (C empty)'
  [incr-fresh]='incr fresh (new D2)' [incr-reuse]='incr reuse (D1, --clean-dest)')
echo
echo "== best of $runs runs (outputs verified; requests and bytes as nginx logged them)"
printf '%-30s %8s %13s %8s %12s %12s %8s %8s\n' run seconds 'peak RSS MiB' requests \
  'body bytes' 'bytes sent' 'vs fill' 'vs plain'
for kind in "${kinds[@]}"; do
  awk -v l="${label[$kind]}" -v s="${best[$kind]}" -v k="${rss[$kind]}" -v n="${requests[$kind]}" \
    -v b="${body[$kind]}" -v t="${sent[$kind]}" -v f="${best[fill]}" -v p="${best[plain]}" \
    'BEGIN { printf "%-30s %8.3f %13.1f %8d %12d %12d %8.2f %8.2f\n", l, s, k / 1024, n, b, t, s / f, s / p }'
done
limit_bytes=$((changed_bytes + metadata_bytes))
echo "changed bytes + metadata: $changed_bytes + $metadata_bytes = $limit_bytes;" \
  "changed files + metadata: $((changed_small + changed_large + 1)) requests"
printf 'artifact-metadata.csv requests per run:'
for kind in "${kinds[@]}"; do printf ' %s %d;' "$kind" "${meta[$kind]}"; done
echo

echo
echo "== targets"
for kind in incr-fresh incr-reuse; do
  check "$kind seconds / cache fill seconds" "$(ratio_of "${best[$kind]}" "${best[fill]}")" '<=' 0.20
  check "$kind body bytes" "${body[$kind]}" '<=' "$limit_bytes"
done

echo
echo "== download-artifact's last lines, last run of each"
for kind in "${kinds[@]}"; do
  printf '%s:\n' "${label[$kind]}"
  tail -n 3 "$work/$kind.log" | sed 's/^/    /'
done
bench_exit
