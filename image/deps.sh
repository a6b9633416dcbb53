#!/bin/bash
# image/deps.sh: installs the Debian packages the build, the images and the
# tests need. Each folder lists its own in <folder>/packages.txt (and sub-
# folders in theirs). apt-get runs only when something is missing, so a
# second call is quick and silent.
set -euo pipefail
cd "$(dirname "$0")/.."

# guest/rootfs/packages.txt is what goes into the sandbox rootfs, not here.
lists=$(ls ./*/packages.txt ./*/*/packages.txt 2>/dev/null | grep -v '^./guest/rootfs/')
# shellcheck disable=SC2086
wanted=$(sed 's/#.*//' $lists | xargs -n1 | sort -u)
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
	awk '$1 == "ii" { print $2 }' | sort -u)
missing=$(comm -23 <(echo "$wanted") <(echo "$installed") | xargs)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: $missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
