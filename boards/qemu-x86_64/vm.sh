#!/bin/bash
# boards/qemu-x86_64/vm.sh O MODE [ARGS]: boots the host VM.
#
#   vm.sh build exec 'CMD'   runs CMD (bash) inside the host VM, chrooted into
#                            this machine's own root (shared read-only over 9p),
#                            with the VM's /dev/kvm, /tmp and /run; prints its
#                            output and exits with its status. The rootfs image
#                            is /dev/vda inside. Writable: /tmp, /run, $SBX_OUT.
#   vm.sh build run          serves the API: sbxd inside the VM on port 8443,
#                            forwarded to 127.0.0.1:${SBX_PORT:-8443}; its state
#                            is ${SBX_STATE:-/var/lib/sbx} of this machine (9p).
#   vm.sh build shell        a busybox shell on the console, for debugging.
#
# Env: SBX_VM_TIMEOUT (s, default 1800) ends a hung VM; SBX_VM_STALL (s, 0 =
# off) ends one sooner when its out folder stops changing; SBX_VM_MEM, SBX_VM_SMP.
# The console log is kept in $SBX_OUT/console.log (exec) for post-mortems.
set -euo pipefail
O=$(realpath "${1:-build}")
MODE=${2:-shell}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=board.conf
. "$SRC/boards/qemu-x86_64/board.conf"
IMG=$O/images
for f in host-vmlinuz host-initramfs.cpio.gz; do
	[ -e "$IMG/$f" ] || { echo "vm.sh: $IMG/$f missing: run make images" >&2; exit 2; }
done

args=($QEMU_MACHINE -smp "${SBX_VM_SMP:-$QEMU_SMP}" -m "${SBX_VM_MEM:-$QEMU_MEM}"
	-no-reboot -display none -monitor none
	-kernel "$IMG/host-vmlinuz" -initrd "$IMG/host-initramfs.cpio.gz")
if [ -e "$IMG/rootfs.ext4" ]; then
	args+=(-drive "file=$(realpath "$IMG/rootfs.ext4"),if=virtio,format=raw,readonly=on,cache=none")
fi

case $MODE in
exec)
	CMD=${3:?vm.sh: exec needs a command}
	OUT=${SBX_OUT:-$(mktemp -d /tmp/sbx-vm.XXXXXX)}
	mkdir -p "$OUT"
	OUT=$(realpath "$OUT")
	rm -f "$OUT/status"
	# The tree, the build and the cache are shared again at their own paths,
	# read-only: the VM's /tmp and /run are its own, and CI's clone (or a
	# cache moved with SBX_CACHE) may live there.
	mounts=
	i=0
	for p in "$SRC" "$O" "$(realpath -m "${SBX_CACHE:-/var/cache/sbx}")"; do
		[ -d "$p" ] || continue
		args+=(-virtfs "local,path=$p,mount_tag=p$i,security_model=none,readonly=on,multidevs=remap")
		mounts+="mkdir -p '$p' && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro p$i '$p' || exit 97"$'\n'
		i=$((i + 1))
	done
	cat >"$OUT/job.sh" <<JOB
#!/bin/bash
$mounts
export SBX_OUT=/run/out SBX_BUILD=$O SBX_SRC=$SRC SBX_IMAGES=$IMG SBX_IN_VM=1
export SBX_ROOTFS_DEV=/dev/vda PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd "$SRC"
( $CMD ) >/run/out/output.txt 2>&1
echo \$? >/run/out/status
JOB
	chmod +x "$OUT/job.sh"
	# A host VM whose CPUs lock up (nested SVM under TCG can wedge) panics
	# and ends instead of hanging until the time limit.
	args+=(-append "$CMDLINE sbx.mode=test softlockup_panic=1 watchdog_thresh=30"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$OUT,mount_tag=out,security_model=none"
		-serial "file:$OUT/console.log")
	rc=0
	timeout "${SBX_VM_TIMEOUT:-1800}" qemu-system-x86_64 "${args[@]}" </dev/null 2> >(grep -v "TCG doesn.t support" >&2) &
	qpid=$!
	# SBX_VM_STALL=S: a VM whose out folder (console, output, anything the
	# job writes) has not changed for S seconds is wedged below its own
	# lockup detector (its CPUs spinning with interrupts off): end it now
	# rather than at SBX_VM_TIMEOUT.
	stall=${SBX_VM_STALL:-0} sig='' since=$SECONDS
	while [ "$stall" -gt 0 ] && kill -0 "$qpid" 2>/dev/null; do
		sleep 5
		now=$(find "$OUT" -type f -printf '%p %s %T@\n' 2>/dev/null | md5sum)
		if [ "$now" != "$sig" ]; then
			sig=$now since=$SECONDS
		elif [ $((SECONDS - since)) -ge "$stall" ]; then
			echo "vm.sh: nothing new in $OUT for $stall s: the host VM is wedged; ending it" >&2
			kill "$qpid" 2>/dev/null
			break
		fi
	done
	wait "$qpid" || rc=$?
	[ -e "$OUT/output.txt" ] && cat "$OUT/output.txt"
	if [ ! -e "$OUT/status" ]; then
		echo "vm.sh: the job did not finish (qemu status $rc); console: $OUT/console.log" >&2
		tail -n 20 "$OUT/console.log" >&2 || true
		exit 3
	fi
	exit "$(cat "$OUT/status")"
	;;
run)
	PORT=${SBX_PORT:-8443}
	STATE=${SBX_STATE:-/var/lib/sbx}
	mkdir -p "$STATE"
	args+=(-append "$CMDLINE sbx.mode=run"
		-virtfs "local,path=$(realpath "$STATE"),mount_tag=state,security_model=none"
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:8443"
		-device virtio-net-pci,netdev=n0
		-serial mon:stdio)
	exec qemu-system-x86_64 "${args[@]}"
	;;
shell)
	args+=(-append "$CMDLINE sbx.mode=shell" -serial mon:stdio)
	exec qemu-system-x86_64 "${args[@]}"
	;;
*)
	echo "vm.sh: unknown mode $MODE (exec, run, shell)" >&2
	exit 2
	;;
esac
