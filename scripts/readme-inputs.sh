#!/usr/bin/env bash
# The input tables of README.md and docs/inputs.md, generated from task-manifests/.
# Each table sits between two markers:
#   <!-- inputs: <manifest> [<group>...] [brief] -->
#   <!-- end inputs -->
# and is what `manifest-compiler --markdown` prints for task-manifests/<manifest>.yml with the
# shared inputs the task is compiled with: the groups named (main: the inputs without a group;
# none: every group, one table each) and, with brief, the first sentence of each help.
#
#   scripts/readme-inputs.sh [--check] [--compiler <manifest-compiler>]
#
# Rewrites the tables in place; with --check, changes nothing and exits 1 naming each file
# whose tables differ from the manifests (a ctest runs it so).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
compiler=build/dev/tools/manifest-compiler/manifest-compiler
while [[ $# -gt 0 ]]; do
  case $1 in
  --check) check=true ;;
  --compiler) compiler=$2; shift ;;
  *) echo "usage: $0 [--check] [--compiler <manifest-compiler>]" >&2; exit 2 ;;
  esac
  shift
done
if [[ ! -x $compiler ]]; then
  echo "$0: no $compiler: build it first (cmake --build --preset dev --target manifest-compiler)" >&2
  exit 2
fi

# The files of a manifest as its executable is compiled with (embed_manifest and
# compile_manifest in tasks/*/CMakeLists.txt): the task's own, common.yml, then fragments.
manifest_files() {
  local dir=task-manifests
  case $1 in
  generate-metadata) echo "$dir/$1.yml $dir/common.yml" ;;
  download-artifact | download-dir-zip | download-dir-zip-serve | download-dir-zip-worker)
    echo "$dir/$1.yml $dir/common.yml $dir/http.yml" ;;
  *) echo "unknown manifest $1" >&2; return 1 ;;
  esac
}

# The table a start marker's words ask for.
table() {
  local manifest=$1 word
  shift
  local options=()
  for word in "$@"; do
    if [[ $word == brief ]]; then options+=(--brief); else options+=(--group "$word"); fi
  done
  local files
  files=$(manifest_files "$manifest")
  # shellcheck disable=SC2086 # the file list is split on purpose
  "$compiler" --markdown "${options[@]}" $files
}

# `file` with every table between its markers generated anew, on stdout.
render() {
  local file=$1 line inside=false
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^\<!--\ inputs:\ (.*)\ --\>$ ]]; then
      printf '%s\n\n' "$line"
      # shellcheck disable=SC2086 # the marker's words
      table ${BASH_REMATCH[1]}
      printf '\n'
      inside=true
    elif [[ $line == '<!-- end inputs -->' ]]; then
      printf '%s\n' "$line"
      inside=false
    elif [[ $inside == false ]]; then
      printf '%s\n' "$line"
    fi
  done <"$file"
  if [[ $inside == true ]]; then
    echo "$file: an inputs marker without <!-- end inputs -->" >&2
    return 1
  fi
}

status=0
# docs/inputs.md is the reference: every task's full table.
for manifest in task-manifests/*.yml; do
  name=$(basename "$manifest" .yml)
  [[ $name == common || $name == http ]] && continue
  if ! grep -qx "<!-- inputs: $name -->" docs/inputs.md; then
    echo "docs/inputs.md: no <!-- inputs: $name --> table" >&2
    status=1
  fi
done
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
for file in README.md docs/inputs.md; do
  render "$file" >"$rendered"
  if cmp -s "$file" "$rendered"; then
    continue
  elif [[ $check == true ]]; then
    echo "$file: its input tables differ from task-manifests/ (run scripts/readme-inputs.sh):" >&2
    diff -u "$file" "$rendered" >&2 || true
    status=1
  else
    cat "$rendered" >"$file"
    echo "updated $file"
  fi
done
exit $status
