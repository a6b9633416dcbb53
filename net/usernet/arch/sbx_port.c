/* lwIP port for sbx-vmm: random numbers, RFC 6528 initial sequence numbers,
 * the optional input hooks. Compiled into liblwip.a by image/lwip.sh. The
 * caller provides sys_now(). */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "lwip/opt.h"
#include "lwip/ip_addr.h"
#include "arch/sbx_hooks.h"

int (*sbx_lwip_ip4_input_hook)(struct pbuf *p, struct netif *inp);
int (*sbx_lwip_ip6_input_hook)(struct pbuf *p, struct netif *inp);

void sbx_lwip_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("lwip: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0) {
			/* Only before the host's pool is ready (not after boot). */
			LWIP_PLATFORM_ASSERT("getrandom failed");
		}
		p += n;
		len -= (size_t)n;
	}
}

uint32_t sbx_lwip_rand(void)
{
	/* Used rarely (port numbers, IPv6 ids): a system call each is fine. */
	uint32_t r;

	fill_random(&r, sizeof r);
	return r;
}

/* SipHash-2-4 (Aumasson, Bernstein), 64-bit output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t siphash24(const uint8_t *in, size_t len, const uint64_t k[2])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static size_t put_addr(uint8_t *out, const ip_addr_t *a)
{
#if LWIP_IPV6
	if (IP_IS_V6(a)) {
		memcpy(out, ip_2_ip6(a)->addr, 16);
		return 16;
	}
#endif
	memcpy(out, &ip_2_ip4(a)->addr, 4);
	return 4;
}

u32_t sbx_lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
		       const ip_addr_t *remote_ip, u16_t remote_port)
{
	static uint64_t key[2];
	static int have_key;
	uint8_t buf[36];
	size_t n = 0;
	struct timespec ts;

	if (!have_key) {
		fill_random(key, sizeof key);
		have_key = 1;
	}
	n += put_addr(buf + n, local_ip);
	n += put_addr(buf + n, remote_ip);
	memcpy(buf + n, &local_port, 2);
	n += 2;
	memcpy(buf + n, &remote_port, 2);
	n += 2;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* M: a timer ticking every 4 microseconds (RFC 6528, 3). */
	uint32_t m = (uint32_t)((uint64_t)ts.tv_sec * 250000u + (uint64_t)ts.tv_nsec / 4000u);
	return m + (uint32_t)siphash24(buf, n, key);
}
