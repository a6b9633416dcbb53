/*
 * net/cli/pin.c: trusting sbxd by the SHA-256 fingerprint of its certificate.
 *
 * A developer install serves a self-signed certificate; rather than turning
 * verification off, `sbx login --fingerprint` pins it. libcurl (OpenSSL
 * build) hands us its SSL_CTX before the handshake; we replace the whole
 * chain verification with our own, so the handshake fails before any
 * request (and token) is sent unless either
 *   - the leaf certificate's SHA-256 equals the pin (then chain and host
 *     name are not checked: the pin is the stronger statement), or
 *   - a certificate the server sent in its chain has the pinned SHA-256 and
 *     the leaf verifies against it alone, for the URL's host name (sbxd
 *     signs a leaf per preview host with its own certificate).
 * Runs on the calling thread, inside curl_easy_perform.
 */
#include "net/cli/cli.h"

#include <arpa/inet.h>
#include <string.h>

#include <openssl/crypto.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Lowercase hex SHA-256 of cert into hex. 0 or -1. */
static int cli_pin_hex(X509 *cert, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The host part of the configured URL into host (cap bytes). */
static void cli_pin_host(const struct cli *c, char *host, size_t cap)
{
	const char *p = strstr(c->cfg.url, "://");
	size_t n = 0;

	p = p ? p + 3 : c->cfg.url;
	if (*p == '[') { /* [v6]:port */
		p++;
		while (p[n] && p[n] != ']' && n + 1 < cap)
			n++;
	} else {
		while (p[n] && p[n] != ':' && p[n] != '/' && n + 1 < cap)
			n++;
	}
	memcpy(host, p, n);
	host[n] = 0;
}

/* 1 when leaf verifies against ca alone (with the rest of the sent chain as
 * intermediates) for the URL's host. */
static int cli_pin_by_ca(const struct cli *c, X509 *leaf, X509 *ca,
			 STACK_OF(X509) *chain)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	char host[256];
	int ok = 0;

	if (!st || !v || !X509_STORE_add_cert(st, ca) ||
	    !X509_STORE_CTX_init(v, st, leaf, chain))
		goto out;
	cli_pin_host(c, host, sizeof(host));
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(v);
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	if (host[0] && !(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
			       : X509_VERIFY_PARAM_set1_host(vp, host, 0)))
		goto out;
	ok = X509_verify_cert(v) == 1;
out:
	X509_STORE_CTX_free(v);
	X509_STORE_free(st);
	return ok;
}

/* SSL_CTX_set_cert_verify_callback: 1 when the chain satisfies the pin. */
static int cli_pin_verify(X509_STORE_CTX *xs, void *arg)
{
	const struct cli *c = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
	char hex[65], other[65];

	if (cli_pin_hex(leaf, hex)) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *ca = sk_X509_value(chain, i);
		if (ca == leaf || cli_pin_hex(ca, other) ||
		    CRYPTO_memcmp(other, c->cfg.fingerprint, 64))
			continue;
		if (cli_pin_by_ca(c, leaf, ca, chain)) {
			X509_STORE_CTX_set_error(xs, X509_V_OK);
			return 1;
		}
	}
	if (CRYPTO_memcmp(hex, c->cfg.fingerprint, 64)) {
		fprintf(stderr, "sbx: the server's certificate fingerprint is %s, not the pinned %s\n",
			hex, c->cfg.fingerprint);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

CURLcode cli_pin_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ssl_ctx, cli_pin_verify, arg);
	return CURLE_OK;
}
