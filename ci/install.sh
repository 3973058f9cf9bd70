#!/usr/bin/env bash
# ci/install.sh — install the Debian packages quintet builds and runs with.
# Idempotent: when every package is present it only runs one dpkg query (~50 ms).
# As root with apt-get it installs what is missing; otherwise it prints the exact
# command to run and exits 1. CUDA (nvcc, cuBLAS, NCCL) is optional and never
# installed here: the build uses it when it finds it.
set -u
PKGS="build-essential clang libbenchmark-dev libpapi-dev papi-tools libsqlite3-dev sqlite3 gnuplot-nox
libcunit1-dev openmpi-bin libopenmpi-dev libopenblas-dev libjansson-dev"

missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PKGS 2>/dev/null | awk '$1 != "ii" {print $2}')
# dpkg-query prints nothing for packages it has never heard of: add those too.
for p in $PKGS; do
    dpkg-query -W -f='${Package}\n' "$p" >/dev/null 2>&1 || missing="$missing $p"
done
missing=$(echo $missing)
[ -z "$missing" ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ci/install.sh: missing packages: $missing" >&2
    echo "ci/install.sh: this is not a Debian system; install the equivalents of the packages above," >&2
    echo "or point the build at unpacked copies with QT_DEPS_PREFIX=DIR (see README.md)." >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "ci/install.sh: missing packages: $missing" >&2
    echo "ci/install.sh: run as root:  sudo sh -c '$cmd'" >&2
    exit 1
fi
echo "ci/install.sh: installing $missing" >&2
if ! sh -c "$cmd" >/tmp/quintet-install.log 2>&1; then
    echo "ci/install.sh: installation failed; the last lines of /tmp/quintet-install.log:" >&2
    tail -n 20 /tmp/quintet-install.log >&2
    exit 1
fi
echo "ci/install.sh: done" >&2
