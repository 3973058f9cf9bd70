#!/usr/bin/env bash
# ci/gpu-deps.sh [DIR] — fetch the Debian 12 packages a machine without a package manager lacks
# (the H200 GPU machine: no sqlite3.h, PAPI, CUnit or jansson there) and unpack them under DIR
# (default third_party/deb/root, which .gitignore covers). Run it on a Debian 12 machine with
# apt-get, from the project root; then build there with
#   make QT_DEPS_PREFIX=$PWD/third_party/deb/root
# (carry third_party/deb along with the work tree). Binaries built against Debian 12's glibc 2.36
# run on newer glibc (Ubuntu 24.04's 2.39). About 11 MB.
set -eu
dir=${1:-third_party/deb/root}
pkgs="libsqlite3-dev libsqlite3-0 libpapi-dev libpapi7.0 libpfm4 libsde1 libcunit1-dev libcunit1 libjansson-dev libjansson4"
command -v apt-get >/dev/null || { echo "ci/gpu-deps.sh: needs apt-get (run it on a Debian 12 machine)" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"
(cd "$work" && apt-get download $pkgs >/dev/null 2>&1) || { apt-get update >/dev/null 2>&1; (cd "$work" && apt-get download $pkgs >/dev/null); }
for d in "$work"/*.deb; do dpkg -x "$d" "$dir"; done
echo "ci/gpu-deps.sh: unpacked $(ls "$work"/*.deb | wc -l) packages into $dir ($(du -sh "$dir" | cut -f1))"
