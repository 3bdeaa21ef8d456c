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
  libpoco-dev libyaml-cpp-dev libboost-program-options-dev catch2 libssl-dev zlib1g-dev
  # test (always): servers the tests start privately on loopback (/usr/sbin/nginx, autoindex)
  nginx openssl
  # test (always): readers that check the ZIP archives shared/zip writes
  unzip python3
  # test (always): the HTTP client that drives download-dir-zip serve (resume with -C -)
  curl
)
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
