# shellcheck shell=bash
# tests/lib/vmm.sh: shared shell helpers of the tests and benches that drive a
# raw sbx-vmm (source it). The guest protocol client is tests/lib/agent.py.

# vmm_need_net: skips every case of $ALL (via skip, tests/lib/check.sh) and
# exits unless a networked sbx-vmm can run here: $VMM built with --net, the
# guest images in $IMG, /dev/kvm, python3, root and unshare (to give usernet
# a resolv.conf). Sets ROOTFS (SBX_ROOTFS_DEV or $IMG/rootfs.ext4).
skip_all() { for n in $ALL; do skip "$n" "$1"; done; exit 0; }
vmm_need_net() {
	local f
	[ -x "$VMM" ] || skip_all "sbx-vmm not built"
	"$VMM" --help | grep -q -- --net || skip_all "sbx-vmm without --net"
	for f in vmlinux initramfs.cpio; do [ -e "$IMG/$f" ] || skip_all "no $IMG/$f"; done
	[ -w /dev/kvm ] || skip_all "no usable /dev/kvm"
	command -v python3 >/dev/null || skip_all "no python3"
	[ "$(id -u)" = 0 ] && command -v unshare >/dev/null || skip_all "needs root and unshare (resolv.conf)"
	ROOTFS=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
	[ -e "$ROOTFS" ] || skip_all "no rootfs"
}

# vmm_own_kb PID MEM: KiB resident in the VMM PID outside guest RAM: the Rss
# of every mapping in /proc/PID/smaps but guest RAM, which is the run of
# adjacent mappings, exactly MEM MiB long, holding the largest one (one
# anonymous mapping with the kernel and initramfs file pages mapped over
# parts of it). Counts the binary, libraries, heap, stacks and device
# buffers, and none of the pages the guest touched.
vmm_own_kb() {
	python3 - "$1" "$2" <<'PY'
import re, sys
vmas = []
for line in open("/proc/%s/smaps" % sys.argv[1]):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
    if m:
        vmas.append([int(m.group(1), 16), int(m.group(2), 16), 0])
    elif line.startswith("Rss:"):
        vmas[-1][2] = int(line.split()[1])
target = int(sys.argv[2]) << 20
big = max(range(len(vmas)), key=lambda i: vmas[i][1] - vmas[i][0])
for i in range(big, -1, -1):
    if i < big and vmas[i][1] != vmas[i + 1][0]:
        break
    for j in range(big, len(vmas)):
        if j > big and vmas[j][0] != vmas[j - 1][1]:
            break
        if vmas[j][1] - vmas[i][0] == target:
            print(sum(v[2] for k, v in enumerate(vmas) if not i <= k <= j))
            sys.exit(0)
sys.exit("no %d-byte guest RAM run in smaps" % target)
PY
}
