#!/bin/bash
# boards/appliance/uki.sh OUT OSREL CMDLINE LINUX INITRD: a Unified Kernel
# Image (a Boot Loader Specification "type #2" entry) made with objcopy from
# Debian's systemd-boot stub, for build.sh and for tests that need a variant
# of the image (tests/appliance builds a deliberately broken update with it).
#
# Each section is placed at the first page after the stub's last section
# and the one before it (fixed offsets break once the kernel and initramfs
# pass 16 MiB). objcopy stamps the PE header with the current time: it gets
# SOURCE_DATE_EPOCH instead, and the PE checksum is recomputed, so the same
# inputs give the same bytes.
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: uki.sh OUT OSREL CMDLINE LINUX INITRD" >&2; exit 2; }
OUT=$1
STUB=${SBX_UKI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}
EPOCH=${SOURCE_DATE_EPOCH:-1767225600}

# The first free address after the stub's last section (VMA + size).
stub_end() {
	local m=0 e
	while read -r size vma; do
		e=$((0x$vma + 0x$size))
		[ "$e" -gt "$m" ] && m=$e
	done < <(objdump -h "$1" | awk '$1 ~ /^[0-9]+$/ { print $3, $4 }')
	echo "$m"
}
align() { echo $(( ($1 + 4095) / 4096 * 4096 )); }

vma=$(align "$(stub_end "$STUB")")
sec_args=()
for s in osrel:"$2" cmdline:"$3" linux:"$4" initrd:"$5"; do
	name=${s%%:*} file=${s#*:}
	sec_args+=(--add-section ".$name=$file" --change-section-vma ".$name=$(printf 0x%x "$vma")")
	vma=$(align $((vma + $(stat -L -c %s "$file"))))
done
objcopy "${sec_args[@]}" "$STUB" "$OUT.tmp"
python3 - "$OUT.tmp" "$EPOCH" <<'PY'
import struct, sys
path, epoch = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
pe = struct.unpack_from("<I", b, 0x3c)[0]
struct.pack_into("<I", b, pe + 8, epoch & 0xffffffff)
ck = pe + 24 + 64
struct.pack_into("<I", b, ck, 0)
s = 0
data = bytes(b) + b"\0" * (len(b) & 1)
for (w,) in struct.iter_unpack("<H", data):
    s += w
    s = (s & 0xffff) + (s >> 16)
struct.pack_into("<I", b, ck, (s + len(b)) & 0xffffffff)
open(path, "wb").write(b)
PY
mv "$OUT.tmp" "$OUT"
