#!/bin/bash
# tests/appliance/appliance.sh: the flashable appliance image, end to end.
#
# Builds the qemu-x86_64 image twice and compares them byte for byte; checks
# the update API natively first (501 without a hook, 403 for a tenant);
# writes a config (hostname, domain, an initial operator token's hash, a
# short health timeout, two tries per update) into a copy's SBXCONFIG
# partition with mtools and grows the copy to 4 GiB; then boots it under
# QEMU (q35, OVMF, TCG with an EPYC+SVM CPU; -no-reboot, so every reboot of
# the box ends QEMU and the test boots it again) with the API forwarded to
# a free loopback port:
#   1. first boot: banner and fingerprint, the menu through a fifo (status,
#      create a token), the API over HTTPS with both tokens, an exec;
#      GET /v1/system; a deliberately broken update (same UKI, newer
#      version, an sbx-vmm that fails at once: its sbxd answers /v1/health
#      but boots no sandbox) through POST /v1/system/update with the
#      operator token (a tenant's gets 403), ?reboot=true;
#   2. the broken version boots (its version on the console), answers
#      /v1/health, yet never becomes healthy (sbx-health cannot boot a
#      sandbox in it), and the watchdog reboots it, once per try;
#   3. systemd-boot falls back: the old version serves the API again
#      (tokens, certificate, an exec); the console installs a good newer
#      image from a URL (served on loopback, reached as QEMU's 10.0.2.2);
#   4. the new version boots on trial, sbx-health boots a sandbox in it
#      through the API (its log, read from the maintenance shell, says so;
#      its throwaway token is revoked), it becomes healthy and is blessed;
#      the console rolls it back;
#   5. the old version again; factory reset (asked twice);
#   6. tokens and certificate are gone; a static address written into
#      sbx.conf while the box was off is used.
# Env: SBX_BUILD, SBX_SRC; SBX_APPLIANCE_BOOT_TIMEOUT (s, 400);
# SBX_APPLIANCE_KEEP=1 keeps the work folder (console log) for debugging.
set -uo pipefail
SRC=${SBX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
O=${SBX_BUILD:-$SRC/build}
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
BOOT_TIMEOUT=${SBX_APPLIANCE_BOOT_TIMEOUT:-400}
# The broken version's health timeout: long enough for its sbxd to answer
# /v1/health first, so the watchdog's reboot proves the sandbox check.
BROKEN_HEALTH_TIMEOUT=60
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
spid=''
hpid=''
cleanup() {
	exec 7>&- 2>/dev/null
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
	if [ "${SBX_APPLIANCE_KEEP:-0}" = 1 ]; then
		rm -f "$T/disk.img" "$T"/*.efi
		echo "kept $T"
	else
		rm -rf "$T"
	fi
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
export MTOOLS_SKIP_CHECK=1
esp_off=$(sfdisk -d "$IMG" | awk -F'[=,]' '/name="EFI system"/ { gsub(/ /, "", $2); print $2 * 512 }')
ENTRIES=$(mdir -b -i "$IMG@@$esp_off" ::/EFI/Linux 2>/dev/null | sed 's|.*/||' | xargs)
V=$(objcopy --dump-section .osrel=/dev/stdout "$O/appliance/qemu-x86_64.efi" 2>/dev/null |
	sed -n 's/^IMAGE_VERSION=//p')
mtype -i "$IMG@@$esp_off" ::/loader/loader.conf 2>/dev/null | grep -q '^timeout 0' &&
	[ "$ENTRIES" = "sbx-$V.efi" ] &&
	cmp -s <(mtype -i "$IMG@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI) /usr/lib/systemd/boot/efi/systemd-bootx64.efi
check appliance_esp_systemd_boot test $? = 0

# --- The update API natively (no VM): 501 without a hook, 403 for a
# tenant, 413 past the limit, 400 for what is not an EFI image, 422 when
# the hook refuses.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
native_sbxd() { # HOOK...: sbxd on $NPORT with its state in $T/native
	"$O/bin/sbxd" serve --state "$T/native" --listen "127.0.0.1:$NPORT" --backend host \
		--agent "$O/bin/sbx-init" "$@" >>"$T/native.log" 2>&1 &
	spid=$!
	for _ in $(seq 1 100); do
		curl -sk -m 2 -o /dev/null "https://127.0.0.1:$NPORT/v1/health" && return 0
		sleep 0.1
	done
	return 1
}
stop_native() { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=; }
ncode() { # TOKEN URL-PATH [curl args]: the status code
	local tok=$1 path=$2
	shift 2
	curl -sk -m 20 -o "$T/nbody" -w '%{http_code}' -H "Authorization: Bearer $tok" \
		"$@" "https://127.0.0.1:$NPORT$path"
}
mkdir -p "$T/native"
NOP=$("$O/bin/sbxd" token create --tenant ops --operator --state "$T/native")
NTEN=$("$O/bin/sbxd" token create --tenant bob --state "$T/native")
NPORT=$(free_port)
printf 'MZ not really an image' >"$T/mz.bin"
if native_sbxd; then
	c1=$(ncode "$NOP" /v1/system)
	grep -q '"version":"dev"' "$T/nbody" || c1="$c1 $(cat "$T/nbody")"
	c2=$(ncode "$NTEN" /v1/system)
	c3=$(ncode "$NOP" /v1/system/update --data-binary @"$T/mz.bin")
	c4=$(ncode "$NTEN" /v1/system/update --data-binary @"$T/mz.bin")
	stop_native
	[ "$c1 $c2 $c3 $c4" = "200 403 501 403" ]
	check "appliance_api_system_native ($c1 $c2 $c3 $c4)" test $? = 0
else
	fail appliance_api_system_native "sbxd did not start: $(tail -n 3 "$T/native.log")"
fi
if native_sbxd --update-hook /bin/false; then
	c1=$(ncode "$NOP" /v1/system/update -H 'Content-Length: 268435457' --data-binary @"$T/mz.bin")
	c2=$(ncode "$NOP" /v1/system/update --data-binary 'ELF')
	c3=$(ncode "$NOP" /v1/system/update --data-binary @"$T/mz.bin")
	stop_native
	[ "$c1 $c2 $c3" = "413 400 422" ]
	check "appliance_api_update_bounds ($c1 $c2 $c3)" test $? = 0
else
	fail appliance_api_update_bounds "sbxd did not start"
fi

# --- Variants of the image's UKI, made with the image's own uki.sh: the
# same kernel and initramfs under a newer version (its os-release replaced
# by a cpio archive appended to the initramfs), and with BROKEN an sbx-vmm
# (what sbxd runs per sandbox: --vmm /usr/bin/sbx-vmm) that fails at once:
# sbxd serves and answers /v1/health, but no sandbox boots, so the version
# never becomes healthy.
variant() { # NEWVERSION OUT [broken]
	local d=$T/variant-$1
	mkdir -p "$d/root/etc" "$d/root/usr/bin"
	objcopy --dump-section .osrel="$d/osrel" --dump-section .cmdline="$d/cmdline" \
		--dump-section .linux="$d/linux" --dump-section .initrd="$d/initrd" \
		"$O/appliance/qemu-x86_64.efi" || return 1
	sed -i "s/$V/$1/g" "$d/osrel" "$d/cmdline"
	cp "$d/osrel" "$d/root/etc/os-release"
	if [ "${3:-}" = broken ]; then
		printf '#!/bin/sh\necho "sbx-vmm of a broken update: failing" >&2\nexit 2\n' \
			>"$d/root/usr/bin/sbx-vmm"
		chmod 755 "$d/root/usr/bin/sbx-vmm"
	fi
	(cd "$d/root" && find . ! -name . | sort | cpio -o -H newc --quiet -R 0:0) | gzip -n >>"$d/initrd"
	"$SRC/boards/appliance/uki.sh" "$2" "$d/osrel" "$d/cmdline" "$d/linux" "$d/initrd" &&
		rm -rf "$d"
}
BV=$V.1
GV=$V.2
variant "$BV" "$T/broken.efi" broken && variant "$GV" "$T/good.efi"
check appliance_update_images test -s "$T/good.efi"

# --- A copy with an operator's config, grown as a bigger disk would be.
DISK=$T/disk.img
cp --sparse=always "$IMG" "$DISK"
truncate -s 4G "$DISK"
cfg_off=$(sfdisk -d "$IMG" | awk -F'[=,]' '/name="SBXCONFIG"/ { gsub(/ /, "", $2); print $2 * 512 }')
INIT_TOKEN=sbx_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mcopy -i "$DISK@@$cfg_off" ::sbx.conf "$T/sbx.conf"
{
	tr -d '\r' <"$T/sbx.conf" | grep -v '^hostname=\|^domain='
	echo "hostname=sbxtest"
	echo "domain=sbx.test"
	echo "token_sha256=$(printf %s "$INIT_TOKEN" | sha256sum | cut -d' ' -f1)"
	echo "token_tenant=ops"
	echo "health_timeout=$BROKEN_HEALTH_TIMEOUT"
	echo "update_tries=2"
} | sed 's/$/\r/' >"$T/sbx.conf.new"
mcopy -o -i "$DISK@@$cfg_off" "$T/sbx.conf.new" ::sbx.conf
mtype -i "$DISK@@$cfg_off" ::sbx.conf | grep -q "^hostname=sbxtest"
check appliance_config_written test $? = 0

PORT=$(free_port)
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

send 4 alice n
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

# --- The update API on the box: the operator's token from sbx.conf may,
# the menu's tenant token may not; the hook refuses what is not a UKI; the
# broken image is installed and the box reboots into it.
code=$(api "$INIT_TOKEN" GET /v1/system)
[ "$code" = 200 ] && grep -q "\"version\":\"$V\"" "$T/body"
check appliance_api_system test $? = 0
echo "# GET /v1/system: $(head -c 300 "$T/body")"
code=$(api "$TOKEN" GET /v1/system)
check appliance_api_system_tenant_403 test "$code" = 403
upload() { # TOKEN FILE [QUERY]: POST /v1/system/update, prints the status
	curl -sk -m 600 -o "$T/body" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$2" "$URL/v1/system/update${3:-}"
}
code=$(upload "$TOKEN" "$T/broken.efi")
check appliance_update_tenant_403 test "$code" = 403
code=$(upload "$INIT_TOKEN" "$T/mz.bin")
if [ "$code" = 422 ]; then pass appliance_update_refuses_non_uki
else fail appliance_update_refuses_non_uki "status $code: $(head -c 300 "$T/body")"; fi
code=$(upload "$INIT_TOKEN" "$T/broken.efi" '?reboot=true')
if [ "$code" = 202 ] && grep -q "installed $BV" "$T/body"; then
	pass appliance_update_api_accepted
else
	fail appliance_update_api_accepted "status $code: $(head -c 300 "$T/body")"
	send 7 # reboot anyway, so the checks below report rather than hang
fi
echo "# update answer: $(head -c 400 "$T/body")"
shutdown_vm

# settle [VERSION [SECONDS]]: 0 when the box answers /v1/health (running
# VERSION, when given), 1 when QEMU ended (the box rebooted), 2 after
# SECONDS (BOOT_TIMEOUT) of neither. ANSWERED=1 once /v1/health answered,
# whichever version did.
settle() {
	local i
	ANSWERED=0
	for ((i = 0; i < ${2:-$BOOT_TIMEOUT}; i++)); do
		kill -0 "$qpid" 2>/dev/null || return 1
		if [ "$(curl -sk -m 5 -o /dev/null -w '%{http_code}' "$URL/v1/health")" = 200 ]; then
			ANSWERED=1
			[ -z "${1:-}" ] || [ "$(boot_version)" = "$1" ] && return 0
		fi
		sleep 1
	done
	return 2
}
boot_version() { since | sed -n 's/.*hostinit: appliance version \([^ ]*\).*/\1/p' | head -n 1; }

# --- The broken version boots once per try, answers /v1/health, and is
# rebooted by the watchdog each time (no sandbox boots in it); then
# systemd-boot falls back to the old version. Settled means the old
# version answers: the broken one answering is no reason to stop waiting.
# A box still up long after the broken version's health timeout was not
# rebooted: its status says why (e.g. blessed after /v1/health alone).
broken=0 dogged=0 answered=0 settled=1 seen='' why=''
for _ in 1 2 3 4; do
	t0=$SECONDS
	boot
	settle "$V" $((BROKEN_HEALTH_TIMEOUT + 120))
	settled=$?
	ver=$(boot_version)
	seen="$seen $ver"
	[ "$settled" = 0 ] && break
	[ "$ver" = "$BV" ] && broken=$((broken + 1))
	[ "$ver" = "$BV" ] && [ "$ANSWERED" = 1 ] && answered=$((answered + 1))
	if ! since | grep -q "never became healthy"; then
		if kill -0 "$qpid" 2>/dev/null; then
			send 1
			wait_for "fallback: " 30
			why="$ver not rebooted $((SECONDS - t0)) s after QEMU start;$(since |
				grep -a -e '^version:' -e '^fallback:' | tr -s ' ' | tr '\n' ';')"
			send 7
		else
			why="QEMU ended without the watchdog: $(tail -c 300 "$LOG" | tr -d '\r' | tr '\n' '|')"
		fi
		shutdown_vm
		break
	fi
	dogged=$((dogged + 1))
	echo "# broken boot $broken: $((SECONDS - t0)) s from QEMU start to the watchdog's reboot" \
		"($([ "$ANSWERED" = 1 ] && echo "answered" || echo "did not answer") /v1/health)"
	shutdown_vm
done
if [ "$broken" = 2 ] && [ "$dogged" = 2 ] && [ "$answered" = 2 ]; then
	pass "appliance_update_broken_boots (booted $BV twice, answered /v1/health, rebooted by the watchdog each time)"
else
	fail appliance_update_broken_boots "boots:$seen, answered /v1/health $answered, watchdog reboots $dogged${why:+; $why}"
fi
if [ "$settled" = 0 ] && [ "$ver" = "$V" ]; then
	pass appliance_update_rolled_back
else
	fail appliance_update_rolled_back "boots:$seen, last settled=$settled"
	exit 1
fi

# --- Back on the old version: state, certificate and sandboxes serve.
if wait_for "sbx appliance ready" "$BOOT_TIMEOUT"; then
	fp2=$(since | sed -n 's/.*TLS SHA-256: \([0-9A-F:]*\).*/\1/p' | tail -n 1)
	code=$(api "$TOKEN" GET /v1/sandboxes)
	[ "$code" = 200 ] && [ "$fp2" = "$fp" ]
	check appliance_state_persists test $? = 0
else
	fail appliance_state_persists "no banner after the fallback"
fi
code=$(API_TIMEOUT=300 api "$TOKEN" POST /v1/sandboxes/x/exec '{"command":"echo back"}')
if [ "$code" = 200 ] && grep -q '"stdout":"back\\n"' "$T/body"; then
	pass appliance_rollback_exec
else
	fail appliance_rollback_exec "status $code: $(head -c 300 "$T/body")"
fi
code=$(api "$INIT_TOKEN" GET /v1/system)
grep -q "\"version\":\"$V\"" "$T/body"
check appliance_rollback_api_version test $? = 0

# --- The console installs a good newer image from a URL (a server on this
# machine's loopback, which QEMU's user network shows the box as 10.0.2.2).
mkdir -p "$T/www"
cp "$T/good.efi" "$T/www/sbx.efi"
HPORT=$(free_port)
(cd "$T/www" && exec python3 -m http.server -b 127.0.0.1 "$HPORT") >"$T/http.log" 2>&1 &
hpid=$!
# The box asks at once: the server must listen first.
for _ in $(seq 1 100); do
	curl -s -m 2 -o /dev/null "http://127.0.0.1:$HPORT/" && break
	sleep 0.2
done
send 10 "http://10.0.2.2:$HPORT/sbx.efi" "$(sha256sum "$T/www/sbx.efi" | cut -d' ' -f1)"
if wait_for "reboot into it now" 300 && since | grep -q "installed $GV"; then
	pass appliance_console_update
else
	fail appliance_console_update "$(since | tail -n 5 | tr '\n' '|')"
fi
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
hpid=
send y
shutdown_vm

# A good version must not race the watchdog on this slow emulated box: a
# generous health timeout, written while the box is off (the config
# partition's changes take effect on the next boot).
set_conf() { # KEY=VALUE...: replaces those keys in sbx.conf
	local kv keys=
	for kv in "$@"; do keys="$keys\\|^${kv%%=*}="; done
	mcopy -i "$DISK@@$cfg_off" ::sbx.conf "$T/sbx.conf"
	{
		tr -d '\r' <"$T/sbx.conf" | grep -v "${keys#\\|}"
		printf '%s\n' "$@"
	} | sed 's/$/\r/' >"$T/sbx.conf.new"
	mcopy -o -i "$DISK@@$cfg_off" "$T/sbx.conf.new" ::sbx.conf
}
set_conf health_timeout=1200

# --- The new version boots on trial; sbx-health boots a sandbox in it
# through the API, then blesses it.
t0=$SECONDS
boot
settle
settled=$?
ver=$(boot_version)
if [ "$settled" = 0 ] && [ "$ver" = "$GV" ]; then
	ok=0
	while [ $((SECONDS - t0)) -lt "$BOOT_TIMEOUT" ]; do
		send 1
		wait_for "fallback: " 30
		since | grep -q "version: *$GV (entry sbx-$GV.efi, on trial, healthy)" && { ok=1; break; }
		sleep 5
	done
	[ "$ok" = 1 ] && echo "# the new version: healthy and blessed $((SECONDS - t0)) s after QEMU start"
	code=$(api "$INIT_TOKEN" GET /v1/system)
	[ "$ok" = 1 ] && grep -q "\"version\":\"$GV\"" "$T/body"
	check appliance_update_blessed test $? = 0
	# sbx-health's log and the tokens, from the maintenance shell: a
	# sandbox ran a command, and the check's token is gone (from a list
	# that was printed).
	send 0
	wait_for "exit returns to the menu" 30
	send "cat /run/sbx/health.log" "sbxd token list --state /var/lib/sbx" "exit"
	wait_for "11) roll back" 60
	since | grep -a "^health: " | sed 's/^/# /'
	since | grep -a -q "^health: a sandbox booted and ran a command" &&
		since | grep -a -q "^ID  *TENANT  *CREATED" &&
		! since | grep -a -q "^[0-9a-f]\{12\} *sbx-health "
	check appliance_update_health_sandbox test $? = 0
else
	fail appliance_update_blessed "booted '$ver', settled=$settled"
fi

# --- The console rolls it back.
send 11
if wait_for "mark $GV bad" 60; then
	send y
	shutdown_vm
	boot
	settle
	settled=$?
	ver=$(boot_version)
	[ "$settled" = 0 ] && [ "$ver" = "$V" ]
	check "appliance_console_rollback (booted $ver)" test $? = 0
else
	fail appliance_console_rollback "$(since | tail -n 5 | tr '\n' '|')"
	send 7
	shutdown_vm
	boot
fi
wait_for "sbx appliance ready" "$BOOT_TIMEOUT"
# sbx-health pruned the rolled-back entry once this version was healthy.
for _ in $(seq 1 30); do
	send 1
	wait_for "fallback: " 30
	since | grep -q "fallback: *none" && break
	sleep 2
done

# --- Factory reset, asked twice, erases tokens and certificate; and a
# static address written into sbx.conf while the box is off.
send 8 y ERASE
shutdown_vm
set_conf network=static address=10.0.2.77/24 gateway=10.0.2.2 dns=10.0.2.3
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
ENTRIES=$(mdir -b -i "$DISK@@$esp_off" ::/EFI/Linux 2>/dev/null | sed 's|.*/||' | xargs)
check "appliance_esp_two_versions_at_most ($ENTRIES)" test "$ENTRIES" = "sbx-$V.efi"
exit "${CHECK_FAILED:-0}"
