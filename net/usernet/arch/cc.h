/* lwIP port for sbx-vmm (x86_64/arm64 Linux, glibc): compiler and platform. */
#ifndef SBX_LWIP_ARCH_CC_H
#define SBX_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Random numbers (local ports, IPv6, ...): getrandom, see sbx_port.c. */
uint32_t sbx_lwip_rand(void);
#define LWIP_RAND() sbx_lwip_rand()

/* Diagnostics go to stderr (LWIP_DEBUG is off, so only assertions). */
void sbx_lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define LWIP_PLATFORM_DIAG(x) do { sbx_lwip_diag x; } while (0)

/* An lwIP assertion is a bug in lwIP or in its caller, never bad input. */
#define LWIP_PLATFORM_ASSERT(x) \
	do { \
		fprintf(stderr, "lwip: assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
		abort(); \
	} while (0)

#endif
