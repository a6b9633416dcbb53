#!/bin/bash
# tests/appliance/appliance.sh: the flashable appliance image, end to end.
#
# Builds the qemu-x86_64 image twice and compares them byte for byte; writes
# a config (hostname, domain, an initial token's hash) into a copy's SBXCONFIG
# partition with mtools and grows the copy to 4 GiB; boots it under QEMU
# (q35, OVMF, TCG with an EPYC+SVM CPU) with the API forwarded to a free
# loopback port; waits for the serial banner; drives the menu through a fifo
# (status, create a token); calls the API over HTTPS with both tokens;
# reboots from the menu and checks that the data partition kept the tokens
# and the certificate; then a factory reset (asked twice) and checks they
# are gone. Env: SBX_BUILD, SBX_SRC; SBX_APPLIANCE_BOOT_TIMEOUT (s, 400).
set -uo pipefail
SRC=${SBX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
O=${SBX_BUILD:-$SRC/build}
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
BOOT_TIMEOUT=${SBX_APPLIANCE_BOOT_TIMEOUT:-400}
OVMF=/usr/share/OVMF

for need in qemu-system-x86_64 qemu-img sfdisk mcopy mkfs.fat mksquashfs objcopy curl openssl; do
	command -v "$need" >/dev/null || { skip appliance "$need missing (make deps)"; exit 0; }
done
for f in "$O/images/host-vmlinuz" "$O/images/host-initramfs.cpio.gz" "$O/bin/sbxd" \
	/usr/lib/systemd/boot/efi/linuxx64.efi.stub "$OVMF/OVMF_CODE.fd"; do
	[ -e "$f" ] || { skip appliance "$f missing (make images; make deps)"; exit 0; }
done

T=$(mktemp -d /tmp/sbx-appliance.XXXXXX)
qpid=''
rpid=''
cleanup() {
	exec 7>&- 2>/dev/null
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# --- Reproducible build.
build() {
	SBX_APPLIANCE_XZ=0 timeout 1200 nice "$SRC/boards/appliance/build.sh" "$O" qemu-x86_64 \
		>"$T/build$1.log" 2>&1
}
IMG=$O/appliance/qemu-x86_64.img
if build 1; then
	pass appliance_build
else
	fail appliance_build "$(tail -n 3 "$T/build1.log" | tr '\n' ' ')"
	exit 1
fi
sum1=$(sha256sum "$IMG" "$O/appliance/qemu-x86_64.efi" | cut -d' ' -f1 | xargs)
sleep 1
if build 2; then
	sum2=$(sha256sum "$IMG" "$O/appliance/qemu-x86_64.efi" | cut -d' ' -f1 | xargs)
	if [ "$sum1" = "$sum2" ]; then pass appliance_reproducible
	else fail appliance_reproducible "$sum1 != $sum2"; fi
else
	fail appliance_reproducible "second build failed"
fi
sfdisk -d "$IMG" | grep -q 'name="SBXCONFIG"' && sfdisk -d "$IMG" | grep -q 'name="EFI system"'
check appliance_gpt_layout test $? = 0

# --- A copy with an operator's config, grown as a bigger disk would be.
DISK=$T/disk.img
cp --sparse=always "$IMG" "$DISK"
truncate -s 4G "$DISK"
cfg_off=$(sfdisk -d "$IMG" | awk -F'[=,]' '/name="SBXCONFIG"/ { gsub(/ /, "", $2); print $2 * 512 }')
INIT_TOKEN=sbx_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
export MTOOLS_SKIP_CHECK=1
mcopy -i "$DISK@@$cfg_off" ::sbx.conf "$T/sbx.conf"
{
	tr -d '\r' <"$T/sbx.conf" | grep -v '^hostname=\|^domain='
	echo "hostname=sbxtest"
	echo "domain=sbx.test"
	echo "token_sha256=$(printf %s "$INIT_TOKEN" | sha256sum | cut -d' ' -f1)"
	echo "token_tenant=ops"
} | sed 's/$/\r/' >"$T/sbx.conf.new"
mcopy -o -i "$DISK@@$cfg_off" "$T/sbx.conf.new" ::sbx.conf
mtype -i "$DISK@@$cfg_off" ::sbx.conf | grep -q "^hostname=sbxtest"
check appliance_config_written test $? = 0

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT
cp "$OVMF/OVMF_VARS.fd" "$T/vars.fd"
LOG=$T/console.log
: >"$LOG"

boot() {
	rm -f "$T/ser.in" "$T/ser.out"
	mkfifo "$T/ser.in" "$T/ser.out"
	cat "$T/ser.out" >>"$LOG" &
	rpid=$!
	timeout "$BOOT_TIMEOUT" nice qemu-system-x86_64 -M q35 -accel tcg,thread=multi \
		-cpu EPYC,+svm -smp 2 -m 4096 -display none -monitor none -no-reboot \
		-drive "if=pflash,format=raw,readonly=on,file=$OVMF/OVMF_CODE.fd" \
		-drive "if=pflash,format=raw,file=$T/vars.fd" \
		-drive "file=$DISK,if=virtio,format=raw" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-${GUEST_IP:-}:443" \
		-device virtio-net-pci,netdev=n0 \
		-serial "pipe:$T/ser" >"$T/qemu.log" 2>&1 </dev/null &
	qpid=$!
	exec 7>"$T/ser.in"
	MARK=$(stat -c %s "$LOG")
}

# wait_for PATTERN SECONDS: the pattern appears in the log after MARK.
wait_for() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		tail -c +"$((MARK + 1))" "$LOG" | tr -d '\r' | grep -a -q -- "$1" && return 0
		kill -0 "$qpid" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
send() { MARK=$(stat -c %s "$LOG"); printf '%s\n' "$@" >&7; }
since() { tail -c +"$((MARK + 1))" "$LOG" | tr -d '\r'; }
api() { # TOKEN METHOD PATH [BODY]: prints the status code, body in $T/body
	curl -sk -m "${API_TIMEOUT:-20}" -o "$T/body" -w '%{http_code}' -X "$2" \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		${4:+-d "$4"} "$URL$3"
}
shutdown_vm() {
	exec 7>&-
	wait "$qpid" 2>/dev/null
	qpid=
	wait "$rpid" 2>/dev/null
	rpid=
}

# --- First boot.
t0=$SECONDS
boot
if wait_for "sbx appliance ready" "$BOOT_TIMEOUT"; then
	pass "appliance_banner (boot to banner $((SECONDS - t0)) s)"
else
	fail appliance_banner "no banner; console tail: $(tail -c 600 "$LOG" | tr -d '\r' | tr '\n' '|')"
	exit 1
fi
fp=$(since | sed -n 's/.*TLS SHA-256: \([0-9A-F:]*\).*/\1/p' | tail -n 1)
served=$(openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)
if [ -n "$fp" ] && [ "$fp" = "$served" ]; then pass appliance_banner_fingerprint
else fail appliance_banner_fingerprint "banner '$fp' served '$served'"; fi
since | grep -q "API: *https://10.0.2.15"
check appliance_banner_url test $? = 0

send 1
wait_for "sbxd: " 30
since | grep -q "hostname: *sbxtest" && since | grep -q "domain: *sbx.test" &&
	since | grep -q "sbxd: *running"
check appliance_status_config test $? = 0
since | grep -Eq "disk: .* of [34]\.[0-9]G"
check appliance_data_partition_grown test $? = 0

send 4 alice
wait_for "token for alice: sbx_" 30
TOKEN=$(since | grep -a -o "token for alice: sbx_[0-9a-f]*" | tail -n 1 | awk '{ print $4 }')
[ -n "$TOKEN" ]
check appliance_menu_token test $? = 0

code=$(api "$TOKEN" GET /v1/sandboxes)
check appliance_api_menu_token test "$code" = 200
code=$(api "$INIT_TOKEN" GET /v1/sandboxes)
check appliance_api_config_token test "$code" = 200
code=$(api sbx_bad GET /v1/sandboxes)
check appliance_api_bad_token test "$code" = 401
code=$(api "$TOKEN" PUT /v1/sandboxes/x)
case $code in 200 | 201) pass appliance_api_create ;; *) fail appliance_api_create "status $code" ;; esac

code=$(API_TIMEOUT=300 api "$TOKEN" POST /v1/sandboxes/x/exec '{"command":"echo hi"}')
if [ "$code" = 200 ] && grep -q '"stdout":"hi\\n"' "$T/body"; then
	pass appliance_api_exec
else
	fail appliance_api_exec "status $code: $(head -c 300 "$T/body")"
fi

# --- Reboot: the data partition keeps tokens and certificate.
send 7
shutdown_vm
boot
if wait_for "sbx appliance ready" "$BOOT_TIMEOUT"; then
	fp2=$(since | sed -n 's/.*TLS SHA-256: \([0-9A-F:]*\).*/\1/p' | tail -n 1)
	code=$(api "$TOKEN" GET /v1/sandboxes)
	[ "$code" = 200 ] && [ "$fp2" = "$fp" ]
	check appliance_state_persists test $? = 0
else
	fail appliance_state_persists "no banner after reboot"
fi

# --- Factory reset, asked twice, erases tokens and certificate; and a
# static address written into sbx.conf while the box is off.
send 8 y ERASE
shutdown_vm
mcopy -i "$DISK@@$cfg_off" ::sbx.conf "$T/sbx.conf"
{
	tr -d '\r' <"$T/sbx.conf" | grep -v '^network=\|^address=\|^gateway=\|^dns='
	printf '%s\n' network=static address=10.0.2.77/24 gateway=10.0.2.2 dns=10.0.2.3
} | sed 's/$/\r/' >"$T/sbx.conf.new"
mcopy -o -i "$DISK@@$cfg_off" "$T/sbx.conf.new" ::sbx.conf
GUEST_IP=10.0.2.77 boot
if wait_for "sbx appliance ready" "$BOOT_TIMEOUT"; then
	fp3=$(since | sed -n 's/.*TLS SHA-256: \([0-9A-F:]*\).*/\1/p' | tail -n 1)
	code=$(api "$TOKEN" GET /v1/sandboxes)
	[ "$code" = 401 ] && [ -n "$fp3" ] && [ "$fp3" != "$fp" ]
	check appliance_factory_reset test $? = 0
	since | grep -q "API: *https://10.0.2.77"
	check appliance_static_network test $? = 0
else
	fail appliance_factory_reset "no banner after the reset"
fi
send 7
shutdown_vm
exit "${CHECK_FAILED:-0}"
