#!/bin/bash
# image/images.sh O: builds every image sbx needs into $SBX_CACHE (default
# /var/cache/sbx), each keyed by a hash of its inputs, and links them into
# O/images/ (see image/README.md). Quick when nothing changed. Then builds the
# host VM (boards/qemu-x86_64/build.sh) if that script exists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
O=${1:-build}
start=$SECONDS
mkdir -p "$O/images"

# The initramfs last: it needs sbx-init, and the others are useful without it.
"$here/lwip.sh" "$O"
"$here/kernel.sh" "$O"
"$here/rootfs.sh" "$O"
"$here/initramfs.sh" "$O"

board=$here/../boards/qemu-x86_64/build.sh
if [ -x "$board" ]; then
	"$board" "$O"
elif [ -f "$board" ]; then
	bash "$board" "$O"
fi
echo "images: all done in $((SECONDS - start)) s ($O/images)"
