/*
 * guest/net.c: PID 1's network files, after the kernel did the real work.
 *
 * The VMM puts "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3" on
 * the kernel command line; the kernel's IP autoconfiguration (ipconfig.c)
 * brings eth0 up with that address and route before /init runs and shows
 * the result in /proc/net/pnp, e.g.
 *     #MANUAL
 *     nameserver 10.0.2.3
 * net_setup() turns the nameserver lines into /etc/resolv.conf (the
 * rootfs is read-only underneath, but /etc is on the overlay) and makes
 * the host name resolvable (/etc/hostname, a 127.0.1.1 line in /etc/hosts
 * unless the name is there already). Without ip= (no --net) /proc/net/pnp exists but
 * names no nameserver, and nothing is touched. Files are replaced with a
 * rename, so a symlink in the rootfs (systemd-resolved's) is replaced
 * rather than followed into /run.
 */
#include "guest/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NET_MAX_NS 3 /* glibc's and musl's MAXNS */

/* Copies the first whitespace-separated word of s into w (cap bytes). */
static const char *net_word(const char *s, char *w, size_t cap)
{
	size_t n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
		if (n + 1 < cap)
			w[n++] = *s;
		s++;
	}
	w[n] = 0;
	return s;
}

/* 1 if d is a plausible domain name: letters, digits, '-', '.', 1..253. */
static int net_domain_ok(const char *d)
{
	size_t n = strlen(d), i;

	if (!n || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = d[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return 0;
	}
	return 1;
}

int net_resolv_conf(const char *pnp, char *out, size_t cap)
{
	static const char head[] = "# sbx-init: from the kernel's ip= (/proc/net/pnp)\n";
	char key[32], val[256];
	struct in_addr a;
	size_t len = 0;
	int ns = 0, n;

	if (cap < sizeof(head))
		return -ENOSPC;
	memcpy(out, head, sizeof(head));
	len = sizeof(head) - 1;
	while (*pnp) {
		const char *s = net_word(pnp, key, sizeof(key));

		net_word(s, val, sizeof(val));
		n = 0;
		if (!strcmp(key, "nameserver") && ns < NET_MAX_NS &&
		    inet_pton(AF_INET, val, &a) == 1 && a.s_addr != 0 &&
		    a.s_addr != 0xffffffff) {
			n = snprintf(out + len, cap - len, "nameserver %s\n", val);
			ns++;
		} else if (!strcmp(key, "domain") && net_domain_ok(val)) {
			n = snprintf(out + len, cap - len, "search %s\n", val);
		}
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
		pnp = strchr(pnp, '\n');
		if (!pnp)
			break;
		pnp++;
	}
	if (!ns) {
		out[0] = 0;
		return 0;
	}
	return (int)len;
}

int net_hosts_has(const char *hosts, const char *name)
{
	char w[256];

	while (*hosts) {
		const char *eol = strchr(hosts, '\n');
		size_t n = eol ? (size_t)(eol - hosts) : strlen(hosts);
		char line[512];
		const char *p;
		int col;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, hosts, n);
		line[n] = 0;
		if (strchr(line, '#'))
			*strchr(line, '#') = 0;
		for (p = line, col = 0;; col++) {
			p = net_word(p, w, sizeof(w));
			if (!w[0])
				break;
			if (col > 0 && !strcmp(w, name))
				return 1;
		}
		if (!eol)
			break;
		hosts = eol + 1;
	}
	return 0;
}

/* Replaces path with text: a temporary file beside it, then rename. */
static int net_write_file(const char *path, const char *text)
{
	char tmp[64];
	size_t len = strlen(text);
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.sbx-new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* Reads up to cap-1 bytes of path into buf, NUL terminated. Length or -errno. */
static ssize_t net_read_file(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	buf[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	return (ssize_t)len;
}

int net_setup(void)
{
	char pnp[1024], conf[1024], hosts[4096];
	ssize_t n;
	int r;

	n = net_read_file("/proc/net/pnp", pnp, sizeof(pnp));
	if (n < 0)
		return n == -ENOENT ? 0 : (int)n;
	r = net_resolv_conf(pnp, conf, sizeof(conf));
	if (r <= 0)
		return r;
	r = net_write_file("/etc/resolv.conf", conf);
	if (r)
		return r;
	/* the host name: resolvable without asking the DNS forwarder */
	r = net_write_file("/etc/hostname", NET_HOSTNAME "\n");
	n = net_read_file("/etc/hosts", hosts, sizeof(hosts) - 64);
	if (!r && (n < 0 || !net_hosts_has(hosts, NET_HOSTNAME))) {
		if (n < 0)
			snprintf(hosts, sizeof(hosts), "127.0.0.1 localhost\n::1 localhost\n");
		else if (n > 0 && hosts[n - 1] != '\n')
			strcat(hosts, "\n");
		strcat(hosts, "127.0.1.1 " NET_HOSTNAME "\n");
		r = net_write_file("/etc/hosts", hosts);
	}
	return r ? r : 1;
}
