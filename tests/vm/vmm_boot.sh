#!/bin/bash
# tests/vm/vmm_boot.sh: sbx-vmm boots the real guest (kernel, initramfs with
# sbx-init, Debian rootfs) where KVM boots Linux (inside the host VM here).
#
# Cases: boot to sbx-init and HELLO over vsock (CONNECT 1024), 2 and 4 vCPUs
# (nproc in the guest), a workspace file persists across a VM restart, guest
# reboot and guest poweroff end the VMM with statuses 1 and 0, SIGTERM gives
# 5, kill -9 leaves no process behind and the socket path is reusable, and a
# jailed VMM (own uid, chroot, seccomp) still serves the guest.
#
# Env: SBX_BUILD, SBX_SRC, SBX_IMAGES (vmlinux, initramfs.cpio, rootfs.ext4),
# SBX_ROOTFS_DEV (the rootfs as a block device inside the host VM, optional).
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
VMM=$SBX_BUILD/bin/sbx-vmm
IMG=$SBX_IMAGES
ALL="vmm-boot vmm-ready-fd vmm-boot-bzimage vmm-vsock-stream vmm-vsock-upload vmm-smp-2 vmm-smp-4 vmm-workspace-persists vmm-guest-reboot vmm-guest-poweroff vmm-sigterm vmm-kill9 vmm-jail"
skip_all() { for n in $ALL; do skip "$n" "$1"; done; exit 0; }
[ -x "$VMM" ] || skip_all "sbx-vmm not built"
for f in vmlinux initramfs.cpio; do [ -e "$IMG/$f" ] || skip_all "no $IMG/$f"; done
[ -w /dev/kvm ] || skip_all "no usable /dev/kvm"
command -v python3 >/dev/null || skip_all "no python3 for the vsock client"
ROOTFS=${SBX_ROOTFS_DEV:-$IMG/rootfs.ext4}
[ -e "$ROOTFS" ] || skip_all "no rootfs"

tmp=$(mktemp -d /tmp/vmm_boot.XXXXXX)
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The host side of the guest protocol over the VMM's vsock socket.
cat >"$tmp/vsock.py" <<'EOF'
import socket, struct, sys, time

def dial(path, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(path)
            s.sendall(b"CONNECT 1024\n")
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    raise OSError("closed before OK")
                line += c
            if not line.startswith(b"OK "):
                raise OSError("bad answer %r" % line)
            return s
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.02)

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("eof")
        b += c
    return b

def frame(s):
    n, t, _ = struct.unpack("<IHH", recvn(s, 8))
    return t, recvn(s, n)

def tlv(body):
    out, i = {}, 0
    while i + 6 <= len(body):
        tag, n = struct.unpack_from("<HI", body, i)
        out.setdefault(tag, body[i + 6:i + 6 + n])
        i += 6 + n
    return out

cmd, path = sys.argv[1], sys.argv[2]
if cmd == "hello":
    s = dial(path, float(sys.argv[3]))
    s.sendall(struct.pack("<IHH", 0, 1, 0))
    t, body = frame(s)
    sys.exit(0 if t == 0x200 and b"sbx-init" in body else 1)
if cmd == "write":  # write PATH with N zero bytes through FILE_WRITE
    s = dial(path, 5)
    p, n = sys.argv[3].encode(), int(sys.argv[4])
    body = struct.pack("<HI", 6, len(p)) + p
    s.sendall(struct.pack("<IHH", len(body), 4, 0) + body)
    chunk = bytes(65536)
    left = n
    while left:
        k = min(left, len(chunk))
        s.sendall(struct.pack("<IHH", k, 0x100, 0) + chunk[:k])
        left -= k
    s.sendall(struct.pack("<IHH", 0, 0x101, 0))
    t, body = frame(s)
    size = struct.unpack("<Q", tlv(body).get(0x0b, bytes(8)))[0]
    print(size if t == 0x200 else "error %r" % body)
    sys.exit(0)
if cmd in ("exec", "execcount"):
    count = cmd == "execcount"
    total = 0
    s = dial(path, 5)
    c = sys.argv[3].encode()
    body = struct.pack("<HI", 1, len(c)) + c
    s.sendall(struct.pack("<IHH", len(body), 2, 0) + body)
    while True:
        try:
            t, body = frame(s)
        except OSError:
            sys.exit(99)  # the guest went away mid-command (reboot, poweroff)
        if t == 0x104:
            total += len(body)
            if not count:
                sys.stdout.buffer.write(body)
        elif t == 0x203:
            if count:
                print(total)
            sys.exit(struct.unpack("<i", tlv(body).get(0x10, b"\0\0\0\0"))[0] & 255)
        elif t == 0x201:
            sys.stderr.write("ERROR %r\n" % body)
            sys.exit(98)
EOF

# start NAME ARGS...: starts sbx-vmm in the background; $pid, $sock, $log.
start() {
	local name=$1
	shift
	sock=$tmp/$name.sock
	log=$tmp/$name.console
	"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 "$@" 2>"$tmp/$name.stderr" &
	pid=$!
}

# finish: waits for the VMM (up to 60 s) and sets $rc; kills it on timeout.
finish() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null # no "Killed" job notice
	rc=$?
	pid=
}

hello() { python3 "$tmp/vsock.py" hello "$sock" "${1:-120}"; }
gexec() { python3 "$tmp/vsock.py" exec "$sock" "$1"; }
why() { echo "$1 (console: $(tail -n 3 "$log" 2>/dev/null | tr '\n' '|'); stderr: $(tail -n 2 "$tmp/$2.stderr" 2>/dev/null | tr '\n' '|'))"; }

# sbx-init reaches port 0x440 through ioperm(2): the kernel must have it.
ioperm=
grep -q '^CONFIG_X86_IOPL_IOPERM=y' "$IMG/kernel.config" 2>/dev/null ||
	ioperm="guest kernel lacks CONFIG_X86_IOPL_IOPERM (no port 0x440 from user space)"

# 1. Boot to sbx-init and HELLO over vsock; readiness reaches --ready-fd
#    (boot-timer port, or the VMM's vsock probe when the port is unreachable).
t0=$(date +%s%N)
start boot --ready-fd 3 3>"$tmp/boot.ready"
if hello; then
	echo "  sbx-vmm start to HELLO answered: $((($(date +%s%N) - t0) / 1000000)) ms"
	pass vmm-boot
	for ((i = 0; i < 30; i++)); do # the probe may answer just after HELLO
		grep -q '^ready [0-9]*$' "$tmp/boot.ready" && break
		sleep 0.1
	done
	if grep -q '^ready [0-9]*$' "$tmp/boot.ready"; then
		pass vmm-ready-fd
		echo "  $(grep -o 'guest ready after .*' "$tmp/boot.stderr" | head -n 1)"
	else
		fail vmm-ready-fd "nothing on --ready-fd: '$(cat "$tmp/boot.ready")'"
	fi
else
	fail vmm-boot "$(why "no HELLO answer" boot)"
	fail vmm-ready-fd "no boot"
fi
kill -TERM "$pid"
finish
[ "$rc" = 5 ] && pass vmm-sigterm || fail vmm-sigterm "exit status $rc, want 5"

# 1b. The same kernel as a bzImage (64-bit entry of the protected-mode part).
if [ -e "$IMG/bzImage" ]; then
	sock=$tmp/bz.sock
	log=$tmp/bz.console
	"$VMM" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 2>"$tmp/bz.stderr" &
	pid=$!
	if hello; then pass vmm-boot-bzimage; else fail vmm-boot-bzimage "$(why "no HELLO answer" bz)"; fi
	kill -TERM "$pid"
	finish
else
	skip vmm-boot-bzimage "no $IMG/bzImage"
fi

# 1c. A stream through vsock credit flow control: 32 MiB of guest stdout.
start stream
t0=$(date +%s%N)
out=$(hello && python3 "$tmp/vsock.py" execcount "$sock" "head -c 33554432 /dev/zero")
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$out" = 33554432 ]; then
	pass vmm-vsock-stream
	echo "  32 MiB guest to host in $ms ms (with boot)"
else
	fail vmm-vsock-stream "$(why "got '$out' bytes" stream)"
fi
# and 16 MiB host to guest (FILE_WRITE), read back by size
out=$(python3 "$tmp/vsock.py" write "$sock" /tmp/sbx-upload 16777216 &&
	gexec "wc -c < /tmp/sbx-upload")
if [ "$out" = "16777216
16777216" ]; then
	pass vmm-vsock-upload
else
	fail vmm-vsock-upload "$(why "got '$out'" stream)"
fi
kill -TERM "$pid"
finish

# 2. SMP: the guest sees every vCPU.
for n in 2 4; do
	start smp$n --cpus "$n"
	out=$(hello && gexec nproc)
	if [ "$out" = "$n" ]; then pass "vmm-smp-$n"; else fail "vmm-smp-$n" "$(why "nproc said '$out'" smp$n)"; fi
	kill -TERM "$pid"
	finish
done

# 3. A workspace file persists across a VM restart.
truncate -s 256M "$tmp/ws.img" && mkfs.ext4 -q -F "$tmp/ws.img"
word=persist-$RANDOM$RANDOM
start ws1 --disk "$tmp/ws.img"
out1=$(hello && gexec "echo $word > /root/sbx-persist.txt && sync && echo done")
kill -TERM "$pid"
finish
start ws2 --disk "$tmp/ws.img"
out2=$(hello && gexec "cat /root/sbx-persist.txt")
kill -TERM "$pid"
finish
if [ "$out1" = done ] && [ "$out2" = "$word" ]; then
	pass vmm-workspace-persists
else
	fail vmm-workspace-persists "$(why "wrote '$out1', read back '$out2'" ws2)"
fi

# 4. Guest reboot (reboot(2), kernel reboot=k → i8042 reset) ends the VMM with 1.
start reboot
hello && gexec "python3 -c 'import ctypes; ctypes.CDLL(None).sync(); ctypes.CDLL(None).reboot(0x01234567)'" >/dev/null
finish
[ "$rc" = 1 ] && pass vmm-guest-reboot || fail vmm-guest-reboot "$(why "exit status $rc, want 1" reboot)"

# 5. Guest poweroff: 0x02 to the boot-timer port 0x440 ends the VMM with 0.
#    (sbx-init's job at shutdown; done here by hand with ioperm + an out insn.)
if [ -n "$ioperm" ]; then
	skip vmm-guest-poweroff "$ioperm"
else
start poweroff
hello && gexec "python3 -c '
import ctypes, mmap
libc = ctypes.CDLL(None)
libc.sync()
assert libc.ioperm(0x440, 1, 1) == 0
code = bytes([0x66, 0xba, 0x40, 0x04, 0xb0, 0x02, 0xee, 0xc3])  # mov dx,0x440; mov al,2; out dx,al; ret
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
ctypes.CFUNCTYPE(None)(addr)()
'" >/dev/null
finish
[ "$rc" = 0 ] && pass vmm-guest-poweroff || fail vmm-guest-poweroff "$(why "exit status $rc, want 0" poweroff)"
fi

# 6. kill -9 leaves nothing behind; the socket path can be used again.
start kill9
if hello; then
	vpid=$pid
	{ kill -9 "$vpid"; finish; sleep 0.2; } 2>/dev/null # no "Killed" job notice
	if [ -e "/proc/$vpid" ]; then
		fail vmm-kill9 "process $vpid still there"
	else
		start kill9
		if hello; then pass vmm-kill9; else fail vmm-kill9 "$(why "no restart on the same socket" kill9)"; fi
		kill -TERM "$pid"
		finish
	fi
else
	fail vmm-kill9 "$(why "no HELLO answer" kill9)"
	kill -9 "$pid"
	finish
fi

# 7. Jailed: own uid, chroot into a folder holding the socket, seccomp.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$tmp/jail"
	chmod 777 "$tmp/jail"
	sock=$tmp/jail/v.sock
	log=$tmp/jail.console
	"$VMM" --kernel "$IMG/vmlinux" --initrd "$IMG/initramfs.cpio" --rootfs "$ROOTFS" \
		--vsock "$sock" --console "$log" --mem 512 \
		--jail-uid 65534 --jail-gid 65534 --jail-dir "$tmp/jail" 2>"$tmp/jail.stderr" &
	pid=$!
	if hello; then
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
		sec=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
		# vCPU threads stack a second, stricter filter on themselves
		vf=$(cat /proc/"$pid"/task/*/status | awk '/^Seccomp_filters:/ { print $2 }' | sort -n | tail -n 1)
		if [ "$uid" = 65534 ] && [ "$sec" = 2 ] && [ "${vf:-2}" = 2 ]; then
			pass vmm-jail
		else
			fail vmm-jail "uid $uid seccomp $sec vcpu filters $vf"
		fi
	else
		fail vmm-jail "$(why "no HELLO answer" jail)"
	fi
	kill -TERM "$pid"
	finish
else
	skip vmm-jail "needs root"
fi
