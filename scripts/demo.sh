#!/usr/bin/env bash
# make demo: the main job on real input that nobody in this project wrote, with no server.
# Today: generate-metadata over a real tree (default /usr/share/doc; DEMO_ROOT or the first
# argument chooses another), the CSV written under build/demo/, then checked.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${1:-${DEMO_ROOT:-/usr/share/doc}}
bin=build/release/tasks
out=build/demo
mkdir -p "$out"
csv=$out/artifact-metadata.csv

echo "== generate-metadata over $root"
"$bin/generate-metadata/generate-metadata" --root-path "$root" --output "$csv"

echo
echo "== checking 20 random lines of $csv against sha256sum"
checked=0
while IFS= read -r line; do
  path=${line%,*}
  want=${line##*,}
  case "$path" in \"*) continue ;; esac # quoted names: covered by the tests
  got=$(sha256sum -- "$root/$path" | cut -d' ' -f1)
  if [ "${got^^}" != "$want" ]; then
    echo "MISMATCH: $path" >&2
    exit 1
  fi
  checked=$((checked + 1))
done < <(shuf -n 20 --random-source=<(yes) "$csv")
echo "ok: $checked files match sha256sum"
echo "CSV: $csv ($(wc -l <"$csv") lines)"
