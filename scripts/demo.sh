#!/usr/bin/env bash
# make demo: the main job on real input that nobody in this project wrote, with no server.
#   1. generate-metadata over a real tree (default /usr/share/doc; DEMO_ROOT or the first
#      argument chooses another), the CSV written under build/demo/;
#   2. download-artifact from that tree as a file-share drop (an Azure Pipelines "file share"
#      artifact), hashes checked against the CSV as the bytes stream, into build/demo/download;
#   3. the result compared with the source;
#   4. a few files of the drop changed, its CSV regenerated, and download-artifact run again,
#      incremental: the unchanged files come from the local cache the first run filled.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${1:-${DEMO_ROOT:-/usr/share/doc}}
bin=build/release/tasks
out=build/demo
rm -rf "$out"
mkdir -p "$out"
csv=$out/artifact-metadata.csv

echo "== 1. generate-metadata over $root"
"$bin/generate-metadata/generate-metadata" --root-path "$root" --output "$csv" 2>&1 | tail -n 3

# The drop: the tree's regular files as a build would publish them, with the CSV at the root.
# Hard links (cp -l) keep this cheap and leave the real tree untouched; symlinks stay out,
# as generate-metadata left them out.
drop=$out/drop
mkdir -p "$drop"
drop_abs=$(realpath "$drop")
copy_tree() { (cd "$root" && find . -type f -print0 | xargs -0 cp --parents "$@" -t "$drop_abs" --); }
copy_tree -l 2>/dev/null || copy_tree # hard links need one filesystem; else copy
cp "$csv" "$drop/artifact-metadata.csv"

cache=$out/cache
download() { # <destination>: an incremental download of the drop, its log shortened
  "$bin/download-artifact/download-artifact" --source "$drop" --destination "$1" \
    --incremental --cache-directory "$cache" --log-format plain 2>&1 |
    sed -E 's|(ArtifactEngineCache/[0-9a-f]{12})[0-9a-f]{52}|\1…|'
}
check() { # <destination>
  local listed placed
  listed=$(wc -l <"$drop/artifact-metadata.csv")
  placed=$(find "$1" -type f ! -name artifact-metadata.csv | wc -l)
  if ! diff -r -q "$drop" "$1" >/dev/null; then
    echo "MISMATCH between $drop and $1" >&2
    diff -r -q "$drop" "$1" | head >&2
    exit 1
  fi
  echo "ok: $placed files placed, $listed listed in the CSV, every byte equal to the source"
}

echo
echo "== 2. download-artifact from $drop (file share) into $out/download (the cache is empty)"
download "$out/download"

echo
echo "== 3. checking every file listed in the CSV"
check "$out/download"

echo
echo "== 4. five files of the drop change; download-artifact --incremental into $out/download2"
mapfile -t changed < <(cd "$drop" && find . -type f ! -name artifact-metadata.csv | LC_ALL=C sort |
  awk 'NR % 400 == 1' | head -n 5)
for file in "${changed[@]}"; do
  rm -f "$drop/$file" # a new file, not a write through the hard link into $root
  printf 'changed by make demo at %s\n' "$(date -u +%FT%TZ)" >"$drop/$file"
  echo "  changed ${file#./}"
done
"$bin/generate-metadata/generate-metadata" --root-path "$drop" --output "$csv" \
  --exclude artifact-metadata.csv --quiet
cp "$csv" "$drop/artifact-metadata.csv"
download "$out/download2"
check "$out/download2"
