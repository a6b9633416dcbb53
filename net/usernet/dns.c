/*
 * net/usernet/dns.c: the guest's resolver at the DNS address (10.0.2.3).
 *
 * Queries the guest sends to DNS:53 over UDP go to the host's resolvers (one
 * connected, non-blocking UDP socket each, used in turn) with an ID of our
 * own; answers come back to the guest from DNS:53 with the guest's ID.
 * Queries unanswered after 5 s are forgotten (the guest retries).
 *
 * Answers are also read for the egress policy: each A/AAAA address is
 * remembered with the names that led to it (the name the guest asked and
 * the CNAME chain from it), so domain rules can match the address a flow
 * dials later. The cache is a ring of UN_DNS_CACHE entries; an entry lives
 * max(TTL, 10 min), at most a day, because guests keep answers longer than
 * their TTL. Only records in the chain from the question count, and only
 * names of letters, digits, '-' and '_' are kept.
 *
 * These resolvers are set by the operator (or the host's resolv.conf): they
 * are dialled whatever the policy says.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"

#define DNS_HDR	       12
#define DNS_TIMEOUT_MS 5000
#define DNS_MIN_KEEP_S 600
#define DNS_MAX_KEEP_S 86400
#define DNS_MAX_RR     64 /* records looked at in one answer */
#define DNS_MAX_CHAIN  8  /* CNAME hops followed */

int un_dns_read_resolv_conf(const char *path, struct sockaddr_storage *out,
			    unsigned max)
{
	char line[512], word[32], addr[128];
	unsigned n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		struct policy_addr a;

		if (sscanf(line, " %31s %127s", word, addr) != 2 ||
		    strcmp(word, "nameserver"))
			continue;
		char *pct =
		    strchr(addr, '%'); /* fe80::1%eth0: no scopes here */
		if (pct)
			continue;
		if (policy_parse_addr(addr, &a) < 0)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		if (a.family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&out[n];

			s->sin_family = AF_INET;
			s->sin_port = htons(53);
			memcpy(&s->sin_addr, a.b, 4);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out[n];

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(53);
			memcpy(&s->sin6_addr, a.b, 16);
		}
		n++;
	}
	fclose(f);
	return (int)n;
}

int un_dns_init(struct usernet *un)
{
	struct un_dns *d = &un->dns;
	int r;

	if (getrandom(&d->next_id, sizeof(d->next_id), 0) < 0)
		d->next_id = (uint16_t)un_now_ms();
	for (unsigned i = 0; i < un->cfg.n_resolvers; i++) {
		const struct sockaddr_storage *ss = &un->cfg.resolvers[i];
		socklen_t sl = ss->ss_family == AF_INET6
				   ? sizeof(struct sockaddr_in6)
				   : sizeof(struct sockaddr_in);
		int fd = socket(ss->ss_family,
				SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		/*
		 * A resolver this host cannot reach (no route, no IPv6) is
		 * left out rather than failing the sandbox: resolv.conf often
		 * lists more than the network offers. With none left, the
		 * guest's queries go unanswered and its resolver times out.
		 */
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
			continue;
		if (fd < 0)
			return -errno;
		if (connect(fd, (const struct sockaddr *)ss, sl) < 0) {
			r = -errno;
			close(fd);
			if (r == -ENETUNREACH || r == -EHOSTUNREACH ||
			    r == -EADDRNOTAVAIL)
				continue;
			return r;
		}
		d->res[d->n_res].kind = UN_DNS;
		d->res[d->n_res].fd = fd;
		r = un_watch(un, fd, EPOLLIN, &d->res[d->n_res], true);
		if (r < 0) {
			close(fd);
			return r;
		}
		d->n_res++;
	}
	return 0;
}

void un_dns_fini(struct usernet *un)
{
	for (unsigned i = 0; i < un->dns.n_res; i++) {
		un_unwatch(un, un->dns.res[i].fd);
		close(un->dns.res[i].fd);
	}
	un->dns.n_res = 0;
}

bool un_dns_busy(const struct usernet *un)
{
	for (unsigned i = 0; i < UN_DNS_PENDING; i++)
		if (un->dns.q[i].used)
			return true;
	return false;
}

void un_dns_query(struct usernet *un, const struct un_ip4 *ip,
		  const uint8_t *msg, size_t len)
{
	struct un_dns *d = &un->dns;
	struct un_dns_query *q = NULL;
	uint8_t buf[4096];
	unsigned i;

	if (len < DNS_HDR || len > sizeof(buf) || (msg[2] & 0x80) ||
	    d->n_res == 0)
		return; /* not a query */
	for (i = 0; i < UN_DNS_PENDING; i++) {
		if (!d->q[i].used) {
			q = &d->q[i];
			break;
		}
	}
	if (!q) { /* all busy: the oldest goes */
		q = &d->q[0];
		for (i = 1; i < UN_DNS_PENDING; i++)
			if (d->q[i].sent_ms < q->sent_ms)
				q = &d->q[i];
	}
	un->st.dns_queries++;
	q->used = true;
	q->guest_id = (uint16_t)(msg[0] << 8 | msg[1]);
	q->id = d->next_id;
	d->next_id =
	    (uint16_t)(d->next_id * 31421u + 6927u); /* a full-period LCG */
	q->gaddr = ip->src;
	memcpy(&q->gport, ip->l4, 2);
	q->sent_ms = un_now_ms();
	memcpy(buf, msg, len);
	buf[0] = (uint8_t)(q->id >> 8);
	buf[1] = (uint8_t)q->id;
	/* Failures here (no route, ...) look like loss to the guest: it
	 * retries. */
	(void)!send(d->res[d->next_res++ % d->n_res].fd, buf, len,
		    MSG_DONTWAIT);
}

/* ---- the cache ---- */

struct dns_remember {
	struct usernet *un;
	uint64_t now;
};

static void un_dns_remember(void *arg, const char *name,
			    const struct policy_addr *a, uint32_t ttl)
{
	struct dns_remember *r = arg;
	struct un_dns *d = &r->un->dns;
	uint64_t keep = ttl < DNS_MIN_KEEP_S ? DNS_MIN_KEEP_S : ttl;
	struct policy_addr canon = *a;
	struct un_dns_name *e;

	/* An AAAA of ::ffff:a.b.c.d names the v4 address the guest dials. */
	policy_addr_canon(&canon);
	a = &canon;

	if (keep > DNS_MAX_KEEP_S)
		keep = DNS_MAX_KEEP_S;
	for (unsigned i = 0; i < UN_DNS_CACHE; i++) {
		e = &d->cache[i];
		if (e->expires_ms && e->addr.family == a->family &&
		    memcmp(e->addr.b, a->b, 16) == 0 &&
		    strcmp(e->name, name) == 0) {
			if (e->expires_ms < r->now + keep * 1000)
				e->expires_ms = r->now + keep * 1000;
			return;
		}
	}
	e = &d->cache[d->cache_next++ % UN_DNS_CACHE];
	e->addr = *a;
	e->expires_ms = r->now + keep * 1000;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

size_t un_names_for(struct usernet *un, const struct policy_addr *a,
		    const char *names[UN_DNS_NAMES])
{
	uint64_t now = un_now_ms();
	size_t n = 0;

	for (unsigned i = 0; i < UN_DNS_CACHE && n < UN_DNS_NAMES; i++) {
		const struct un_dns_name *e = &un->dns.cache[i];

		if (e->expires_ms > now && e->addr.family == a->family &&
		    memcmp(e->addr.b, a->b, a->family == AF_INET ? 4 : 16) == 0)
			names[n++] = e->name;
	}
	return n;
}

void un_dns_event(struct usernet *un, struct un_dns_resolver *r)
{
	struct un_dns *d = &un->dns;
	static uint8_t buf[65536];

	for (int budget = 0; budget < 64; budget++) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct dns_remember rem = {.un = un, .now = un_now_ms()};
		uint16_t id;

		if (n < 0)
			return; /* EAGAIN, or ECONNREFUSED from an earlier send
				 */
		if (n < DNS_HDR || !(buf[2] & 0x80))
			continue;
		id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (unsigned i = 0; i < UN_DNS_PENDING; i++) {
			struct un_dns_query *q = &d->q[i];
			uint16_t dns_port = htons(53);

			if (!q->used || q->id != id)
				continue;
			q->used = false;
			un_dns_parse_response(buf, (size_t)n, un_dns_remember,
					      &rem);
			buf[0] = (uint8_t)(q->guest_id >> 8);
			buf[1] = (uint8_t)q->guest_id;
			un->st.dns_answers++;
			un_build_udp(un, un->cfg.dns_ip.s_addr, dns_port,
				     q->gaddr, q->gport, buf, (size_t)n);
			break;
		}
	}
}

void un_dns_tick(struct usernet *un, uint64_t now)
{
	for (unsigned i = 0; i < UN_DNS_PENDING; i++) {
		struct un_dns_query *q = &un->dns.q[i];

		if (q->used && now - q->sent_ms > DNS_TIMEOUT_MS)
			q->used = false;
	}
}

/* ---- parsing answers (untrusted bytes) ---- */

/*
 * Reads the name at *off into out (normalised text, "" for the root),
 * following compression pointers; *off moves past the name as stored.
 * Returns 0, or -EINVAL for a malformed name or one with characters a
 * domain rule could never match.
 */
static int dns_name(const uint8_t *m, size_t len, size_t *off,
		    char out[POLICY_NAME_MAX])
{
	size_t p = *off, o = 0;
	bool jumped = false;
	int hops = 0;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return -EINVAL;
		l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++hops > 32)
				return -EINVAL;
			if (!jumped)
				*off = p + 2;
			jumped = true;
			p = (size_t)(l & 0x3f) << 8 | m[p + 1];
			continue;
		}
		if (l & 0xc0)
			return -EINVAL;
		if (l == 0) {
			if (!jumped)
				*off = p + 1;
			out[o] = '\0';
			return 0;
		}
		if (p + 1 + l > len || o + l + 2 > POLICY_NAME_MAX)
			return -EINVAL;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = m[p + 1 + i];

			if (!isalnum(c) && c != '-' && c != '_')
				return -EINVAL;
			out[o++] = (char)tolower(c);
		}
		p += 1 + (size_t)l;
	}
}

struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	size_t rdata, rdlen;
	char name[POLICY_NAME_MAX];
};

int un_dns_parse_response(const uint8_t *m, size_t len, un_dns_record_fn fn,
			  void *arg)
{
	static struct dns_rr rr[DNS_MAX_RR]; /* single thread: see usernet.h */
	char qname[POLICY_NAME_MAX], chain[DNS_MAX_CHAIN + 1][POLICY_NAME_MAX];
	unsigned qd, an, n_rr = 0, n_chain = 1;
	size_t off = DNS_HDR;

	if (len < DNS_HDR || !(m[2] & 0x80) || (m[3] & 0x0f) != 0)
		return -EINVAL; /* not an answer, or an error (NXDOMAIN, ...) */
	qd = (unsigned)m[4] << 8 | m[5];
	an = (unsigned)m[6] << 8 | m[7];
	if (qd != 1)
		return -EINVAL;
	if (dns_name(m, len, &off, qname) < 0 || off + 4 > len)
		return -EINVAL;
	off += 4;
	for (unsigned i = 0; i < an && n_rr < DNS_MAX_RR; i++) {
		struct dns_rr *r = &rr[n_rr];

		if (dns_name(m, len, &off, r->name) < 0 || off + 10 > len)
			return -EINVAL;
		r->type = (uint16_t)(m[off] << 8 | m[off + 1]);
		r->ttl = (uint32_t)m[off + 4] << 24 |
			 (uint32_t)m[off + 5] << 16 |
			 (uint32_t)m[off + 6] << 8 | m[off + 7];
		r->rdlen = (size_t)m[off + 8] << 8 | m[off + 9];
		r->rdata = off + 10;
		if (r->rdata + r->rdlen > len)
			return -EINVAL;
		off = r->rdata + r->rdlen;
		if (m[r->rdata - 8] != 0 || m[r->rdata - 7] != 1)
			continue; /* class IN only */
		if (r->type == 1 || r->type == 28 || r->type == 5)
			n_rr++;
	}

	/* The chain: qname, then each CNAME target from the last name. */
	snprintf(chain[0], sizeof(chain[0]), "%s", qname);
	for (bool grew = true; grew && n_chain <= DNS_MAX_CHAIN;) {
		grew = false;
		for (unsigned i = 0; i < n_rr; i++) {
			size_t t = rr[i].rdata;

			if (rr[i].type != 5 ||
			    strcmp(rr[i].name, chain[n_chain - 1]) != 0)
				continue;
			if (dns_name(m, len, &t, chain[n_chain]) < 0 ||
			    t > rr[i].rdata + rr[i].rdlen)
				return -EINVAL;
			n_chain++;
			grew = true;
			break;
		}
	}

	for (unsigned i = 0; i < n_rr; i++) {
		struct policy_addr a;
		bool in_chain = false;

		if (rr[i].type == 5)
			continue;
		if ((rr[i].type == 1 && rr[i].rdlen != 4) ||
		    (rr[i].type == 28 && rr[i].rdlen != 16))
			continue;
		for (unsigned c = 0; c < n_chain; c++)
			in_chain |= strcmp(rr[i].name, chain[c]) == 0;
		if (!in_chain)
			continue;
		memset(&a, 0, sizeof(a));
		a.family = rr[i].type == 1 ? AF_INET : AF_INET6;
		memcpy(a.b, m + rr[i].rdata, rr[i].rdlen);
		for (unsigned c = 0; c < n_chain; c++)
			if (chain[c][0])
				fn(arg, chain[c], &a, rr[i].ttl);
	}
	return 0;
}
