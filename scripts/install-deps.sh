#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs that are missing, and nothing else.
# Quiet when everything is there. Uses sudo when not root; runs apt-get update only when
# something must be installed.
#
#   scripts/install-deps.sh          build and test dependencies
#   scripts/install-deps.sh bench    also the peers the benchmarks measure against
set -euo pipefail

packages=(
  g++ make cmake ninja-build pkg-config
  # make format-check (CI): the formatter of .clang-format
  clang-format
  libpoco-dev libyaml-cpp-dev libboost-program-options-dev catch2 libssl-dev zlib1g-dev
  # Poco::DataPostgreSQL's headers include libpq's (the job queue of download-dir-zip worker)
  libpq-dev
  # test (always): servers the tests start privately on loopback (/usr/sbin/nginx, autoindex)
  nginx openssl
  # test (always): readers that check the ZIP archives shared/zip writes
  unzip python3
  # test (always): the HTTP client that drives download-dir-zip serve (resume with -C -)
  curl
  # test (always): the job queue's PostgreSQL (initdb + pg_ctl into a temp folder)
  postgresql
)
# test (always): Azurite (npm azurite@3.35.0, installed by the test fixture under build/) needs
# Node.js and npm; a Node.js from elsewhere (e.g. NodeSource, which bundles npm) is kept.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
for profile in "$@"; do
  case "$profile" in
    bench) packages+=(hashdeep time coreutils findutils aria2 curl zip libarchive-tools) ;;
    *) echo "install-deps.sh: unknown profile '$profile' (known: bench)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
