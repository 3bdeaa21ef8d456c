#!/usr/bin/env bash
# bench/zip.sh: speed, peak memory and archive size of download-dir-zip against zip and bsdtar.
#
# Makes two trees in a temp dir (default /dev/shm: this machine's disk is too noisy to time):
# (a) BIG_FILES (2,000) files adding up to exactly BIG_MB (1,024) MiB, sizes and names drawn
#     from SEED (1): 1 file in 100 is large (8 to 64 MiB), 9 in 100 medium (256 KiB to 8 MiB),
#     the rest small (1 to 256 KiB), each log-uniform, then all scaled to the total; in 20
#     folders x 5 subfolders. Half the files of each size class are random bytes (*.bin:
#     incompressible, like most build outputs), half source-like text (*.txt: lines of random
#     identifiers, numbers and operators, 64 KiB runs from an 8 MiB pool; zlib level 1 makes
#     them about 38% of their size), all from SEED too;
# (b) SMALL_COUNT (5,000) files of 4 KiB of random bytes, 100 a folder (lib.sh's make_small).
# For each, warms the page cache, then times, interleaved and RUNS times (default 3), each tool
# zipping the whole tree into one archive outside it (deleting the last archive is not timed):
#   download-dir-zip <tree> --output <zip> --compression store --max-size 0 --quiet
#   zip -0 -r -q <zip> .                                        (in the tree, as all the peers)
#   bsdtar --format zip --options zip:compression=store -cf <zip> .
#   download-dir-zip <tree> --output <zip> --compression deflate --compression-level 1 --max-size 0 --quiet
#   zip -1 -r -q <zip> .
#   bsdtar --format zip --options zip:compression-level=1 -cf <zip> .
#   bsdtar --format zip -cf <zip> .                             (its default: deflate, level 6)
# Every archive of the first repetition is verified outside the timed region: `unzip -t -q`,
# then Python's zipfile reads every member: the files (directory entries aside, a leading ./
# dropped) and their sha256 must be the tree's exactly; download-dir-zip must leave no .part.
# It prints per dataset the best (minimum) wall time, MB/s (10^6 bytes of the tree a second),
# the highest peak RSS seen, the archive's size and its percentage of the tree, and x zip =
# zip's seconds / the tool's seconds (zip -0 for the store rows, zip -1 for the deflate rows);
# then the targets with PASS/FAIL, on both datasets: download-dir-zip store >= 2x as fast as
# zip -0, deflate level 1 faster than zip -1 (x zip > 1), download-dir-zip peak RSS <= 32 MiB.
#
#   bench/zip.sh
#   BIG_FILES=50 BIG_MB=64 SMALL_COUNT=200 RUNS=1 bench/zip.sh     (smoke run)
#   RUNS=5 BENCH_STRICT=1 bench/zip.sh
#   TMPDIR=/tmp bench/zip.sh                 (trees and archives on disk)
#   DOWNLOAD_DIR_ZIP=path/to/download-dir-zip bench/zip.sh
# Binary: DOWNLOAD_DIR_ZIP, else build/release/tasks/download-dir-zip/download-dir-zip (the
# release build is run when it is missing). The /dev/shm default needs about the tree's size
# twice over in RAM (2.1 GiB for (a)). Exit status is 0 even with a FAIL line, unless
# BENCH_STRICT=1. Needs zip, unzip, bsdtar (libarchive-tools), python3, GNU time
# (/usr/bin/time) and coreutils: scripts/install-deps.sh bench.
set -euo pipefail
export LC_ALL=C # '.' decimal point in EPOCHREALTIME and awk; byte-order sort
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR/..
. bench/lib.sh

if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
big_files=${BIG_FILES:-2000}
big_mb=${BIG_MB:-1024}
small_count=${SMALL_COUNT:-5000}
seed=${SEED:-1}
runs=${RUNS:-3}
if [ -n "${DOWNLOAD_DIR_ZIP:-}" ]; then
  bin=$DOWNLOAD_DIR_ZIP
  [ -x "$bin" ] || { echo "$bench_name: DOWNLOAD_DIR_ZIP=$bin is not an executable" >&2; exit 2; }
else
  bin=build/release/tasks/download-dir-zip/download-dir-zip
  bench_release_build "$bin"
fi
bench_need zip unzip bsdtar python3 sha256sum /usr/bin/time

bench_workdir zip
zipfile=$work/out.zip # every run's archive, outside the trees; deleted before each run

# make_mixed DIR COUNT MIB SEED: dataset (a), see the header. Deterministic for a SEED.
make_mixed() {
  python3 - "$@" <<'EOF'
import os, random, sys

root, count, mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
KiB, MiB = 1 << 10, 1 << 20

# Text pool: source-like lines. Files take 64 KiB runs from random offsets of it: far more than
# deflate's 32 KiB window, so a file compresses like the text, not like a repetition.
words = ("int void const auto return if else for while struct class namespace std string vector "
         "size_t uint8_t buffer length offset entry header value result status error path name file "
         "read write open close flush data count index begin end next prev node list map key "
         "crc32 deflate inflate stream output input archive record central local zip64 extra").split()
idents = [a + "_" + b for a in words[:40] for b in words[40:]] + words
ops = [" = ", " + ", " - ", " * ", " == ", " != ", " < ", " > ", ", ", "->", "."]
lines, n = [], 0
while n < 8 * MiB:
    toks = [rng.choice(idents) if rng.random() < 0.7 else str(rng.randint(0, 99999))
            for _ in range(rng.randint(2, 9))]
    line = (" " * (2 * rng.randint(0, 4)) + toks[0] + "".join(rng.choice(ops) + t for t in toks[1:])
            + rng.choice([";", ";", " {", ")", ""]) + "\n")
    lines.append(line)
    n += len(line)
pool = "".join(lines).encode()

# Sizes: 1 in 100 large, 9 in 100 medium, the rest small, log-uniform in each class; scaled so
# that they add up to mib MiB exactly (the rounding goes to the largest file). In each class,
# every other file is text.
classes = []
for i in range(count):
    lo, hi = (8 * MiB, 64 * MiB) if i % 100 == 0 else (256 * KiB, 8 * MiB) if i % 10 == 0 else (KiB, 256 * KiB)
    classes.append((lo, hi))
raw = [rng.uniform(0, 1) for _ in range(count)]
sizes = [lo * (hi / lo) ** u for (lo, hi), u in zip(classes, raw)]
scale = mib * MiB / sum(sizes)
sizes = [max(1, int(s * scale)) for s in sizes]
sizes[sizes.index(max(sizes))] += mib * MiB - sum(sizes)
seen = {}
text = []
for lo, _ in classes:
    seen[lo] = seen.get(lo, 0) + 1
    text.append(seen[lo] % 2 == 0)
order = list(range(count))
rng.shuffle(order) # which name (folder) gets which file

for slot, i in enumerate(order):
    folder = os.path.join(root, "d%02d" % (slot // 100), "s%d" % (slot // 20 % 5))
    os.makedirs(folder, exist_ok=True)
    name = os.path.join(folder, "f%04d.%s" % (slot, "txt" if text[i] else "bin"))
    with open(name, "wb") as f:
        left = sizes[i]
        while left > 0:
            n = min(left, 64 * KiB if text[i] else 4 * MiB)
            if text[i]:
                start = rng.randrange(len(pool) - n + 1)
                f.write(pool[start:start + n])
            else:
                f.write(rng.randbytes(n))
            left -= n
EOF
}

# zip_sums ZIP: "sha256  ./name" of every member but directory entries, sorted like tree_sums;
# exits 1 on a duplicate, absolute or .. name.
# shellcheck disable=SC2317 # called through verify
zip_sums() {
  python3 - "$1" <<'EOF' | sort
import hashlib, sys, zipfile

seen = set()
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith("/"):
            continue
        rel = name[2:] if name.startswith("./") else name
        if rel.startswith("/") or ".." in rel.split("/") or rel in seen:
            sys.exit("bad or duplicate member name: %r" % name)
        seen.add(rel)
        h = hashlib.sha256()
        with z.open(info) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        print("%s  ./%s" % (h.hexdigest(), rel))
EOF
}

# run_tool TOOL DIR: one timed run into a fresh $zipfile; sets secs and kib.
run_tool() {
  local tool=$1 dir=$2 status=0
  local -a cmd
  case $tool in
    ddz-store) cmd=("$bin" "$dir" --output "$zipfile" --compression store --max-size 0 --quiet) ;;
    ddz-deflate1)
      cmd=("$bin" "$dir" --output "$zipfile" --compression deflate --compression-level 1 --max-size 0 --quiet) ;;
    zip0) cmd=(env -C "$dir" zip -0 -r -q "$zipfile" .) ;;
    zip1) cmd=(env -C "$dir" zip -1 -r -q "$zipfile" .) ;;
    bsdtar-store) cmd=(env -C "$dir" bsdtar --format zip --options zip:compression=store -cf "$zipfile" .) ;;
    bsdtar-deflate1) cmd=(env -C "$dir" bsdtar --format zip --options zip:compression-level=1 -cf "$zipfile" .) ;;
    bsdtar-deflate) cmd=(env -C "$dir" bsdtar --format zip -cf "$zipfile" .) ;;
  esac
  rm -f "$zipfile" "$zipfile.part" # zip would update an existing archive
  sync                             # not timed; no earlier run's writeback during this one
  bench_timed "${cmd[@]}" >"$work/tool.out" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ ! -f "$zipfile" ]; then
    echo "FAIL: ${label[$tool]} exited with status $status (or wrote no $zipfile): ${cmd[*]}" >&2
    tail -n 20 "$work/tool.out" >&2
    exit 1
  fi
  if [ -e "$zipfile.part" ]; then
    echo "FAIL: ${label[$tool]} left $zipfile.part behind" >&2
    exit 1
  fi
}

# shellcheck disable=SC2317 # called through bench_rounds
first_round() { # first_round TOOL: the archive's size, and verify
  size[$1]=$(stat -c %s "$zipfile")
  verify "$1"
}

# shellcheck disable=SC2317 # called through first_round
verify() { # verify TOOL: the archive must test clean and hold the tree, file for file
  if ! unzip -t -q "$zipfile" >"$work/unzip.out" 2>&1; then
    echo "FAIL: unzip -t on ${label[$1]}'s archive:" >&2
    tail -n 10 "$work/unzip.out" >&2
    exit 1
  fi
  if ! zip_sums "$zipfile" >"$work/got" || ! cmp -s "$work/got" "$work/want"; then
    echo "FAIL: ${label[$1]}'s archive ($(wc -l <"$work/got") files) differs from the tree" \
      "($(wc -l <"$work/want") files) (< tree, > archive):" >&2
    diff "$work/want" "$work/got" | head -n 10 >&2
    exit 1
  fi
}

declare -A label=([ddz-store]='download-dir-zip store' [zip0]='zip -0'
  [bsdtar-store]='bsdtar store' [ddz-deflate1]='download-dir-zip deflate-1' [zip1]='zip -1'
  [bsdtar-deflate1]='bsdtar deflate-1' [bsdtar-deflate]='bsdtar deflate (default 6)')
declare -A base=([ddz-store]=zip0 [zip0]=zip0 [bsdtar-store]=zip0 [ddz-deflate1]=zip1 [zip1]=zip1
  [bsdtar-deflate1]=zip1 [bsdtar-deflate]=zip1)
tools=(ddz-store zip0 bsdtar-store ddz-deflate1 zip1 bsdtar-deflate1 bsdtar-deflate)

bench() { # bench TAG NAME DIR: adds the dataset's target lines to targets[]
  local tag=$1 name=$2 dir=$3 bytes files r tool
  local -A best=() rss=() size=()
  files=$(tree_files "$dir")
  bytes=$(tree_bytes "$dir")
  warm_cache "$dir"
  tree_sums "$dir" >"$work/want"
  bench_rounds first_round "$dir"
  rm -f "$zipfile"
  echo
  echo "== $tag $name: $files files, $bytes bytes, best of $runs runs (archives verified)"
  printf '%-27s %9s %9s %13s %13s %7s %7s\n' tool seconds MB/s 'peak RSS MiB' 'archive bytes' \
    'size %' 'x zip'
  for tool in "${tools[@]}"; do
    awk -v t="${label[$tool]}" -v s="${best[$tool]}" -v z="${best[${base[$tool]}]}" \
      -v k="${rss[$tool]}" -v a="${size[$tool]}" -v b="$bytes" \
      'BEGIN { printf "%-27s %9.3f %9.1f %13.1f %13d %7.1f %7.2f\n", t, s, b / 1e6 / s, k / 1024, a,
               100 * a / b, z / s }'
  done
  targets+=("$tag store speed vs zip -0 (x)|$(ratio_of "${best[zip0]}" "${best[ddz-store]}")|>=|2"
    "$tag deflate-1 speed vs zip -1 (x)|$(ratio_of "${best[zip1]}" "${best[ddz-deflate1]}")|>|1"
    "$tag download-dir-zip peak RSS (MiB)|$(mib_of "$(max "${rss[ddz-store]}" "${rss[ddz-deflate1]}")")|<=|32")
}
max() { if [ "$1" -ge "$2" ]; then echo "$1"; else echo "$2"; fi; }

echo "download-dir-zip benchmark: $(nproc) cores, $runs runs, data in $work"
echo "binary: $bin; peers: $(zip -v | sed -n 's/^This is \(Zip [0-9.]*\).*/\1/p'), $(bsdtar --version | cut -d' ' -f1-2)"
targets=()
make_mixed "$work/a-mixed" "$big_files" "$big_mb" "$seed"
bench "(a)" "$big_files files, $big_mb MiB, mixed sizes, half text" "$work/a-mixed"
rm -rf "$work/a-mixed"
make_small "$work/b-small" "$small_count"
bench "(b)" "$small_count x 4 KiB" "$work/b-small"
rm -rf "$work/b-small"

echo
echo "== targets"
bench_check_targets
bench_exit
