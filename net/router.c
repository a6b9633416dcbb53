/*
 * net/router.c: request targets and preview hosts to routes (see router.h).
 */
#include "net/router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int route_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes [in, in+len) into out; plus_space turns '+' into ' '. */
static int route_decode(const char *in, size_t len, char *out, size_t cap,
			int plus_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -EINVAL;
			int h = route_hex(in[i + 1]), l = route_hex(in[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			c = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == 0)
			return -EINVAL;
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = 0;
	return (int)o;
}

int route_valid_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n < ROUTE_ID_MAX;
}

int route_normalize_path(const char *in, size_t inlen, char *out, size_t cap)
{
	size_t o = 0;
	size_t i = 0;

	if (cap < 2)
		return -ENAMETOOLONG;
	out[o++] = '/';
	while (i < inlen) {
		while (i < inlen && in[i] == '/')
			i++;
		size_t s = i;
		while (i < inlen && in[i] != '/') {
			if (in[i] == 0)
				return -EINVAL;
			i++;
		}
		size_t n = i - s;
		if (n == 0 || (n == 1 && in[s] == '.'))
			continue;
		if (n == 2 && in[s] == '.' && in[s + 1] == '.') {
			if (o == 1)
				return -EINVAL;
			o--; /* drop the trailing '/' then the segment */
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
			else
				o = 1;
			continue;
		}
		if (o > 1) {
			if (o + 1 >= cap)
				return -ENAMETOOLONG;
			out[o++] = '/';
		}
		if (o + n >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, in + s, n);
		o += n;
	}
	out[o] = 0;
	return 0;
}

/* Copies raw segment [s, s+n) decoded into out (cap ROUTE_ID_MAX). */
static int route_segment(const char *s, size_t n, char *out)
{
	int rc = route_decode(s, n, out, ROUTE_ID_MAX, 0);
	if (rc < 0)
		return -EINVAL;
	return 0;
}

int route_match(const char *target, struct route *r)
{
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);
	const char *seg[6];
	size_t seglen[6];
	int nseg = 0;

	memset(r, 0, sizeof(*r));
	r->query = q ? q + 1 : "";
	if (plen == 0 || target[0] != '/')
		return -EINVAL;

	/* Split at most 5 segments; the 6th keeps the rest (file paths). */
	const char *p = target + 1, *end = target + plen;
	while (p < end && nseg < 6) {
		const char *s = p;
		if (nseg == 5) {
			seg[nseg] = s;
			seglen[nseg++] = (size_t)(end - s);
			break;
		}
		while (p < end && *p != '/')
			p++;
		seg[nseg] = s;
		seglen[nseg++] = (size_t)(p - s);
		if (p < end)
			p++;
	}
	/* "/v1/sandboxes/" with a trailing slash counts as the list. */
	if (nseg > 0 && seglen[nseg - 1] == 0 && !(nseg == 6))
		nseg--;

#define SEG_IS(i, str) (seglen[i] == strlen(str) && !memcmp(seg[i], str, seglen[i]))
	if (nseg < 2 || !SEG_IS(0, "v1"))
		return -ENOENT;
	if (nseg == 2 && SEG_IS(1, "health")) {
		r->kind = ROUTE_HEALTH;
		return 0;
	}
	if (SEG_IS(1, "system") && (nseg == 2 || (nseg == 3 && SEG_IS(2, "update")))) {
		r->kind = nseg == 2 ? ROUTE_SYSTEM : ROUTE_SYSTEM_UPDATE;
		return 0;
	}
	if (!SEG_IS(1, "sandboxes"))
		return -ENOENT;
	if (nseg == 2) {
		r->kind = ROUTE_SANDBOXES;
		return 0;
	}
	if (route_segment(seg[2], seglen[2], r->id) || !route_valid_id(r->id))
		return -EINVAL;
	if (nseg == 3) {
		r->kind = ROUTE_SANDBOX;
		return 0;
	}
	if (SEG_IS(3, "files")) {
		char dec[ROUTE_PATH_MAX];
		if (nseg < 5) {
			/* /files or /files/ : the sandbox root */
			strcpy(r->path, "/");
			r->kind = ROUTE_FILES;
			return 0;
		}
		size_t rest = (size_t)(end - seg[4]);
		int n = route_decode(seg[4], rest, dec, sizeof(dec), 0);
		if (n < 0)
			return -EINVAL;
		if (route_normalize_path(dec, (size_t)n, r->path, sizeof(r->path)))
			return -EINVAL;
		r->kind = ROUTE_FILES;
		return 0;
	}
	if (nseg == 4) {
		if (SEG_IS(3, "exec"))
			r->kind = ROUTE_EXEC;
		else if (SEG_IS(3, "processes"))
			r->kind = ROUTE_PROCESSES;
		else if (SEG_IS(3, "contexts"))
			r->kind = ROUTE_CONTEXTS;
		else if (SEG_IS(3, "code"))
			r->kind = ROUTE_CODE;
		else if (SEG_IS(3, "ports"))
			r->kind = ROUTE_PORTS;
		else
			return -ENOENT;
		return 0;
	}
	if (nseg == 5 && SEG_IS(3, "git") && SEG_IS(4, "checkout")) {
		r->kind = ROUTE_GIT_CHECKOUT;
		return 0;
	}
	if (nseg >= 5 && (SEG_IS(3, "processes") || SEG_IS(3, "contexts") ||
			  SEG_IS(3, "ports"))) {
		if (route_segment(seg[4], seglen[4], r->sub) || !r->sub[0] ||
		    !route_valid_id(r->sub))
			return -EINVAL;
		if (nseg == 5) {
			r->kind = SEG_IS(3, "processes") ? ROUTE_PROCESS
				: SEG_IS(3, "contexts") ? ROUTE_CONTEXT : ROUTE_PORT;
			return 0;
		}
		if (SEG_IS(3, "processes") && SEG_IS(5, "logs")) {
			r->kind = ROUTE_PROCESS_LOGS;
			return 0;
		}
	}
#undef SEG_IS
	return -ENOENT;
}

int route_query(const char *query, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		if (kl == nl && !memcmp(p, name, nl)) {
			if (!eq) {
				if (cap < 1)
					return -ENAMETOOLONG;
				out[0] = 0;
				return 0;
			}
			int rc = route_decode(eq + 1, len - kl - 1, out, cap, 1);
			return rc;
		}
		p = amp ? amp + 1 : NULL;
	}
	return -ENOENT;
}

int route_preview_host(const char *host, const char *domain, unsigned *port,
		       char *id, char *token)
{
	char h[256];
	size_t hl = strlen(host), dl = strlen(domain);

	if (hl >= sizeof(h))
		return -ENOENT;
	memcpy(h, host, hl + 1);
	char *colon = strrchr(h, ':');
	if (colon)
		*colon = 0;
	hl = strlen(h);
	if (hl && h[hl - 1] == '.') /* fully-qualified form */
		h[--hl] = 0;
	if (hl <= dl + 1 || h[hl - dl - 1] != '.' || strcasecmp(h + hl - dl, domain))
		return -ENOENT;
	h[hl - dl - 1] = 0;
	if (strchr(h, '.'))
		return -ENOENT;
	char *d1 = strchr(h, '-'), *d2 = strrchr(h, '-');
	if (!d1 || d1 == d2)
		return -ENOENT;
	*d1 = 0;
	*d2 = 0;
	char *e;
	if (!h[0] || strlen(h) > 5)
		return -ENOENT;
	unsigned long pn = strtoul(h, &e, 10);
	if (*e || pn == 0 || pn > 65535)
		return -ENOENT;
	if (!route_valid_id(d1 + 1) || strlen(d2 + 1) == 0 || strlen(d2 + 1) >= 64)
		return -ENOENT;
	*port = (unsigned)pn;
	strcpy(id, d1 + 1);
	strcpy(token, d2 + 1);
	return 0;
}
