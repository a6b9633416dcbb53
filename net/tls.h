/*
 * net/tls.h: TLS for sbxd's listening socket, with mbedTLS 2.28.
 *
 * struct tls_server holds the one server configuration: TLS 1.2 minimum,
 * ECDHE with AEAD suites only, x25519 and P-256 first, renegotiation off,
 * session tickets and a session cache for resumption. When no certificate
 * is configured it creates an ECDSA P-256 key and a self-signed certificate
 * in the state folder on first start. That certificate is also a CA (for
 * itself only): TLS clients do not accept a wildcard right under a
 * single-label domain (*.localhost), so for such a domain each preview host
 * name asked for by SNI gets a leaf certificate issued on the fly and
 * cached; clients that trust cert.pem trust those. struct tls_conn is one
 * connection over a non-blocking socket. Once its handshake is done, the
 * application data records are no longer mbedTLS's: tls.c takes the key
 * block (mbedTLS's key export callback) and the sequence numbers and hands
 * them to net/tls_record.c, which does the AEAD with OpenSSL's libcrypto,
 * many times faster than mbedTLS 2.28's record cipher. mbedTLS keeps the
 * handshake, certificates, session tickets and cache; a connection the
 * record layer cannot take (none with our suites) stays on mbedTLS.
 * Single-threaded; keys are wiped when freed.
 */
#ifndef SBX_NET_TLS_H
#define SBX_NET_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "net/tls_record.h"

#define TLS_LEAF_CACHE 64

/* A certificate issued on demand for one preview host name (see tls.c). */
struct tls_leaf {
	char name[256];
	mbedtls_x509_crt chain; /* leaf, then our CA certificate */
	unsigned long long used;
};

struct tls_server {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_ssl_ticket_context ticket;
	mbedtls_ssl_cache_context cache;
	char fingerprint[96]; /* SHA-256 of the leaf, AA:BB:... */
	int own_ca;           /* the generated certificate: may issue leaves */
	char domain[256];
	struct tls_leaf leaves[TLS_LEAF_CACHE];
	unsigned long long clock;
	/* The connection whose handshake step is running: the key export
	 * callback's context is per configuration, so it finds it here. */
	struct tls_conn *hs_conn;
	int record_fast; /* 1: tls_record.c takes over after handshakes */
};

struct tls_conn {
	mbedtls_ssl_context ssl; /* freed (zeroed) once rec has taken over */
	struct tls_server *ts;
	int fd;
	int handshake_done;
	/* Length of a record mbedtls_ssl_write() encrypted but could not send
	 * yet (WANT_WRITE); the next write must repeat exactly this length. */
	size_t wpending;
	/* The key block exported during the handshake, until rec takes it. */
	unsigned char kb[2 * 32 + 2 * 12];
	size_t kb_keylen, kb_ivlen;
	int kb_set;
	int fast; /* rec carries the application data, not ssl */
	struct tls_record rec;
};

/*
 * Sets up the server. cert_path/key_path may be NULL: then
 * STATE/tls/cert.pem and key.pem are used, generated when missing with
 * SANs localhost, *.localhost, domain and *.domain. Returns 0 or -errno
 * (-EIO with a message on stderr for mbedTLS errors).
 */
int tls_server_init(struct tls_server *ts, const char *state_dir,
		    const char *domain, const char *cert_path,
		    const char *key_path);
void tls_server_fini(struct tls_server *ts);

/* Fills buf with n random bytes from the server's DRBG. Returns 0 or -EIO. */
int tls_random(struct tls_server *ts, void *buf, size_t n);

/* Starts a connection on a connected non-blocking fd. Returns 0 or -errno. */
int tls_conn_init(struct tls_server *ts, struct tls_conn *tc, int fd);
void tls_conn_fini(struct tls_conn *tc);

/*
 * Drives the handshake. Returns 0 when done, -EAGAIN when it needs the
 * socket readable, -EWOULDBLOCK... (same value) or -EPROTO on failure.
 * *want_write is set when the socket must become writable.
 */
int tls_conn_handshake(struct tls_conn *tc, int *want_write);

/*
 * Reads plaintext. Returns bytes read, 0 on clean close, -EAGAIN, or
 * -EPROTO/-ECONNRESET.
 */
ssize_t tls_conn_read(struct tls_conn *tc, void *buf, size_t len);
/*
 * Writes plaintext from the front of buf. Returns bytes written (maybe
 * fewer than len), -EAGAIN, or -errno. After -EAGAIN the caller must call
 * again with buf still starting with the same bytes and len at least as
 * large as before; no more than the pending record's length is consumed.
 */
ssize_t tls_conn_write(struct tls_conn *tc, const void *buf, size_t len);
/* Plaintext bytes already decrypted and waiting (in rec or mbedTLS). */
size_t tls_conn_pending(struct tls_conn *tc);
/* Sends close_notify (best effort). */
void tls_conn_close_notify(struct tls_conn *tc);

#endif
