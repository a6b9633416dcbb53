#!/bin/bash
# image/lwip.sh O: builds lwIP as a static library with sbx's own options
# (net/usernet/lwipopts.h, net/usernet/arch/) from Debian's lwip source
# package, into $SBX_CACHE/lwip-<hash>/{liblwip.a,include/}, linked as
# O/images/lwip. The hash covers this script, the options and port
# files, the lwip version the system's apt lists offer, and the compiler.
#
# The source package is fetched through a private apt folder
# ($SBX_CACHE/work/apt-src/) with a deb-src line for the system's mirror; the
# system's own apt configuration is not touched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
O=$(realpath -m "${1:-build}")
start=$SECONDS
port=$SBX_SRC/net/usernet
CC=${CC:-gcc}
[ "$CC" = cc ] && CC=gcc

ver=$(apt-cache policy liblwip-dev 2>/dev/null | awk '/Candidate:/ { print $2 }')
key=$( { echo lwip-1; cat "$SBX_SRC/image/lwip.sh" \
	"$port/lwipopts.h" "$port"/arch/*; echo "$ver"; apt_lists_date
	$CC --version | head -1; } | key_of)

if cache_begin lwip "$key"; then
	status=cached
else
	status=built
	log=$tmp/build.log
	: >"$log"
	apt_dir=$SBX_CACHE/work/apt-src
	mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) bookworm main" \
		>"$apt_dir/sources/src.list"
	apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt_dir/sources"
		-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
		-o APT::Sandbox::User=root)
	apt-get "${apt_opts[@]}" -q update >>"$log" 2>&1 ||
		{ tail "$log" >&2; die "lwip: apt-get update (deb-src) failed"; }
	mkdir "$tmp/dl"
	(cd "$tmp/dl" && apt-get "${apt_opts[@]}" -q source --download-only lwip) >>"$log" 2>&1 ||
		{ tail "$log" >&2; die "lwip: apt-get source lwip failed"; }
	dsc=$(ls "$tmp"/dl/lwip_*.dsc)
	dpkg-source -x "$dsc" "$tmp/src" >>"$log" 2>&1 ||
		{ tail "$log" >&2; die "lwip: dpkg-source -x failed"; }
	basename "$dsc" .dsc >"$tmp/source-version"

	s=$tmp/src/src
	mkdir -p "$tmp/obj" "$tmp/include/arch"
	cp -a "$s/include/." "$tmp/include/"
	cp "$port/lwipopts.h" "$tmp/include/"
	cp "$port"/arch/*.h "$tmp/include/arch/"
	cflags=(-std=gnu11 -O2 -g -fPIE -fno-strict-aliasing -fstack-protector-strong
		-D_FORTIFY_SOURCE=2 -D_GNU_SOURCE -Wall -Wno-address -I"$tmp/include"
		"-ffile-prefix-map=$tmp/src=lwip" "-ffile-prefix-map=$SBX_SRC=.")
	srcs=("$s"/core/*.c "$s"/core/ipv4/*.c "$s"/core/ipv6/*.c "$s"/netif/ethernet.c "$port"/arch/*.c)
	printf '%s\n' "${srcs[@]}" | nice -n 10 xargs -P"$(nproc)" -I{} \
		sh -c 'c=$1 o=$2/obj/$(basename "$(dirname "$1")")-$(basename "$1" .c).o; shift 2
			exec "$@" -c -o "$o" "$c"' sh {} "$tmp" "$CC" "${cflags[@]}" >>"$log" 2>&1 ||
		{ tail -30 "$log" >&2; die "lwip: compile failed (log: $log)"; }
	[ "$(ls "$tmp"/obj/*.o | wc -l)" = "${#srcs[@]}" ] || die "lwip: some objects are missing"
	(cd "$tmp/obj" && ar rcsD "$tmp/liblwip.a" ./*.o)

	# A trivial program must link against it (sys_now from the caller) and run.
	cat >"$tmp/t.c" <<'C'
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
u32_t sys_now(void);
u32_t sys_now(void) { return 0; }
static err_t out(struct netif *n, struct pbuf *p) { (void)n; (void)p; return ERR_OK; }
static err_t nif_init(struct netif *n) { n->linkoutput = out; n->output = etharp_output;
	n->output_ip6 = ethip6_output; n->mtu = 1500; n->hwaddr_len = 6;
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET; return ERR_OK; }
int main(void) {
	static struct netif nif; ip4_addr_t a, m, g;
	lwip_init();
	IP4_ADDR(&a, 10, 0, 2, 2); IP4_ADDR(&m, 255, 255, 255, 0); IP4_ADDR(&g, 10, 0, 2, 2);
	if (!netif_add(&nif, &a, &m, &g, NULL, nif_init, ethernet_input)) return 1;
	netif_set_up(&nif); netif_set_link_up(&nif);
	struct tcp_pcb *t = tcp_new_ip_type(IPADDR_TYPE_ANY);
	if (!t || tcp_bind(t, IP_ANY_TYPE, 80) != ERR_OK || !tcp_listen(t)) return 2;
	if (!udp_new_ip_type(IPADDR_TYPE_ANY)) return 3;
	sys_check_timeouts();
	return 0;
}
C
	$CC -std=gnu11 -Wall -Werror -I"$tmp/include" -fPIE -pie -o "$tmp/t" "$tmp/t.c" "$tmp/liblwip.a" >>"$log" 2>&1 ||
		{ tail -30 "$log" >&2; die "lwip: the test program does not link (log: $log)"; }
	"$tmp/t" || die "lwip: the test program failed ($?)"
	rm -rf "$tmp/t" "$tmp/t.c" "$tmp/obj" "$tmp/src" "$tmp/dl" "$tmp"/lwip_*
	cache_commit
fi

link_to "$final" "$O/images/lwip"
# The objects that include lwIP's headers depend on this stamp as well as on
# liblwip.a (net/usernet/build.mk): pointed back at an older cached build,
# the library is older than those objects, the stamp is not.
[ "$(cat "$O/images/lwip.stamp" 2>/dev/null)" = "$final" ] || echo "$final" >"$O/images/lwip.stamp"
report lwip "$status" "$start" "$final ($(du -h "$final/liblwip.a" | cut -f1) liblwip.a, $(cat "$final/source-version"))"
