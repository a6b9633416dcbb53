/*
 * tests/usernet/usernet_tap.c: usernet between a TAP device and the host,
 * the native stand-in for sbx-vmm's virtio-net device, so a real Linux
 * stack (in a network namespace the test made) can be the "guest".
 *
 *   usernet-tap TAP [--resolver ADDR:PORT]... [--rule RULE]... [--max-flows N]
 *
 * Creates the TAP device TAP (no packet info), prints "ready" on stdout, and
 * pumps frames both ways until SIGTERM or SIGINT; then prints its counters
 * on stdout and exits 0. The test moves TAP into its namespace and gives
 * it the guest's address and MAC (usernet.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "net/usernet/usernet.h"

static int tap_fd = -1;

/* The output callback: a full TAP queue is a full guest RX queue. */
static int tap_output(void *opaque, const void *frame, size_t len)
{
	if (write(tap_fd, frame, len) < 0)
		return errno == EAGAIN ? -ENOBUFS : -errno;
	return 0;
}

static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* "1.2.3.4:53" or "[::1]:53" into a sockaddr. */
static int parse_hostport(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	struct policy_addr a;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535 || policy_parse_addr(host, &a) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a.b, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a.b, 16);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t frame[65536];
	struct usernet_config c;
	struct usernet *un;
	struct usernet_stats st;
	struct epoll_event ev;
	sigset_t mask;
	int ep, sfd, r;

	if (argc < 2) {
		fprintf(stderr, "usage: usernet-tap TAP [--resolver "
				"ADDR:PORT]... [--rule RULE]...\n");
		return 2;
	}
	usernet_config_default(&c);
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--resolver") == 0 &&
		    c.n_resolvers < USERNET_MAX_RESOLVERS) {
			if (parse_hostport(argv[i + 1],
					   &c.resolvers[c.n_resolvers++]) < 0) {
				fprintf(stderr,
					"usernet-tap: bad resolver %s\n",
					argv[i + 1]);
				return 2;
			}
		} else if (strcmp(argv[i], "--rule") == 0) {
			if (policy_rule(&c.policy, argv[i + 1]) < 0) {
				fprintf(stderr, "usernet-tap: bad rule %s\n",
					argv[i + 1]);
				return 2;
			}
		} else if (strcmp(argv[i], "--max-flows") == 0) {
			c.max_flows = (unsigned)atoi(argv[i + 1]);
		} else {
			fprintf(stderr, "usernet-tap: unknown option %s\n",
				argv[i]);
			return 2;
		}
	}
	tap_fd = tap_open(argv[1]);
	if (tap_fd < 0) {
		fprintf(stderr, "usernet-tap: %s: %s\n", argv[1],
			strerror(-tap_fd));
		return 1;
	}
	c.output = tap_output;
	r = usernet_create(&c, &un);
	if (r < 0) {
		fprintf(stderr, "usernet-tap: usernet_create: %s\n",
			strerror(-r));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return 1;
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = tap_fd};
	epoll_ctl(ep, EPOLL_CTL_ADD, tap_fd, &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = usernet_fd(un)};
	epoll_ctl(ep, EPOLL_CTL_ADD, usernet_fd(un), &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = sfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("ready\n");
	fflush(stdout);

	for (bool run = true; run;) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				run = false;
			} else if (evs[i].data.fd == tap_fd) {
				for (int k = 0; k < 256; k++) {
					ssize_t len =
					    read(tap_fd, frame, sizeof(frame));

					if (len <= 0)
						break;
					usernet_input(un, frame, (size_t)len);
				}
			} else {
				usernet_poll(un);
			}
		}
	}
	usernet_stats(un, &st);
	printf(
	    "rx_frames=%llu rx_dropped=%llu tx_frames=%llu tx_dropped=%llu "
	    "tcp_opened=%llu "
	    "udp_opened=%llu refused_policy=%llu refused_limit=%llu "
	    "connect_failed=%llu "
	    "dns_queries=%llu dns_answers=%llu tcp_flows=%u udp_flows=%u\n",
	    (unsigned long long)st.rx_frames, (unsigned long long)st.rx_dropped,
	    (unsigned long long)st.tx_frames, (unsigned long long)st.tx_dropped,
	    (unsigned long long)st.tcp_opened,
	    (unsigned long long)st.udp_opened,
	    (unsigned long long)st.refused_policy,
	    (unsigned long long)st.refused_limit,
	    (unsigned long long)st.connect_failed,
	    (unsigned long long)st.dns_queries,
	    (unsigned long long)st.dns_answers, st.tcp_flows, st.udp_flows);
	usernet_destroy(un);
	close(tap_fd);
	return 0;
}
