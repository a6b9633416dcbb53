/*
 * net/tls.c: sbxd's TLS server configuration and connections (see tls.h).
 *
 * Theory of operation: tls_server_init() seeds a CTR-DRBG, loads (or makes)
 * the certificate and key, and builds one mbedtls_ssl_config shared by every
 * connection. Each connection is an mbedtls_ssl_context whose BIO callbacks
 * read and write the non-blocking socket directly and map EAGAIN to
 * WANT_READ/WANT_WRITE, so the event loop can drive it.
 *
 * The record layer after the handshake: mbedTLS derives the keys (full and
 * resumed handshakes alike) and calls tls_export_keys() with the key block;
 * ts->hs_conn names the connection whose handshake step runs. When the
 * handshake is done, tls_conn_takeover() checks that mbedTLS holds no
 * unread record (it reads the socket one record at a time, so it does not),
 * reads its next sequence numbers (in_ctr, cur_out_ctr: 1 and 1 after a
 * full handshake, but read, not assumed), starts a struct tls_record with
 * them and frees the mbedTLS context, its 33 KiB of buffers with it.
 */
#include "net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/ssl_ciphersuites.h>

#define TLS_LEAF_HOLD_MS 30000 /* > the connection's handshake deadline */

#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

/*
 * ECDHE with AEAD only, in the server's order of preference, fastest first
 * for sbxd: after the handshake the records are OpenSSL's EVP
 * (tls_record.c), which on this CPU (AES-NI, VAES, AVX-512) does, on 16 KiB
 * records, AES-128-GCM ~4.4 GB/s, AES-256-GCM ~4.1 GB/s and
 * ChaCha20-Poly1305 ~3.7 GB/s of one core (openssl speed -evp). (mbedTLS
 * 2.28's own record cipher did ~250 and ~350 MiB/s: ChaCha20 came first
 * then.) Every suite here is one tls_record.c carries.
 */
static const int tls_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE,
};

static int tls_fail(const char *what, int err)
{
	char msg[160];

	mbedtls_strerror(err, msg, sizeof(msg));
	fprintf(stderr, "sbxd: tls: %s: %s (-0x%04x)\n", what, msg, -err);
	return -EIO;
}

static int tls_write_file(const char *path, const unsigned char *data,
			  size_t len, mode_t mode)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return rename(tmp, path) < 0 ? -errno : 0;
}

/* DER of a SubjectAltName value: SEQUENCE OF [2] IA5String dNSName. */
static int tls_san_der(const char *const *names, size_t n, unsigned char *out,
		       size_t cap, size_t *len)
{
	size_t body = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (l > 127)
			return -EINVAL;
		body += 2 + l;
	}
	if (body > 65535 || body + 4 > cap)
		return -EINVAL;
	size_t o = 0;
	out[o++] = 0x30;
	if (body < 128) {
		out[o++] = (unsigned char)body;
	} else if (body < 256) {
		out[o++] = 0x81;
		out[o++] = (unsigned char)body;
	} else {
		out[o++] = 0x82;
		out[o++] = (unsigned char)(body >> 8);
		out[o++] = (unsigned char)body;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		out[o++] = 0x82;
		out[o++] = (unsigned char)l;
		memcpy(out + o, names[i], l);
		o += l;
	}
	*len = o;
	return 0;
}

static int tls_generate(struct tls_server *ts, const char *cert_path,
			const char *key_path, const char *domain)
{
	mbedtls_pk_context pk;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char *pem = NULL;
	int rc, ret = -EIO;

	mbedtls_pk_init(&pk);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	pem = calloc(1, 8192);
	if (!pem) {
		ret = -ENOMEM;
		goto out;
	}
	rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!rc)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
					 mbedtls_ctr_drbg_random, &ts->drbg);
	if (rc) {
		tls_fail("key generation", rc);
		goto out;
	}
	rc = mbedtls_pk_write_key_pem(&pk, pem, 8192);
	if (rc) {
		tls_fail("key write", rc);
		goto out;
	}
	ret = tls_write_file(key_path, pem, strlen((char *)pem), 0600);
	explicit_bzero(pem, 8192);
	if (ret)
		goto out;
	ret = -EIO;

	unsigned char sn[16];
	tls_random(ts, sn, sizeof(sn));
	sn[0] &= 0x7f;
	mbedtls_mpi_read_binary(&serial, sn, sizeof(sn));

	char wild_dom[300], wild_local[] = "*.localhost";
	snprintf(wild_dom, sizeof(wild_dom), "*.%s", domain);
	const char *names[4] = { "localhost", wild_local, domain, wild_dom };
	size_t nnames = strcmp(domain, "localhost") ? 4 : 2;
	unsigned char san[1024];
	size_t sanlen;
	if (tls_san_der(names, nnames, san, sizeof(san), &sanlen))
		goto out;

	char tb[16], ta[16];
	time_t now = time(NULL) - 86400;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(tb, sizeof(tb), "%Y%m%d%H%M%S", &tm);
	now += 86400L * 3650;
	gmtime_r(&now, &tm);
	strftime(ta, sizeof(ta), "%Y%m%d%H%M%S", &tm);

	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &pk);
	mbedtls_x509write_crt_set_issuer_key(&crt, &pk);
	if ((rc = mbedtls_x509write_crt_set_subject_name(&crt, "CN=sbxd")) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=sbxd")) ||
	    (rc = mbedtls_x509write_crt_set_serial(&crt, &serial)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&crt, tb, ta)) ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) ||
	    (rc = mbedtls_x509write_crt_set_key_usage(
		     &crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
				   MBEDTLS_X509_KU_KEY_CERT_SIGN)) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) ||
	    (rc = mbedtls_x509write_crt_set_extension(
		     &crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
		     MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san,
		     sanlen)) ||
	    (rc = mbedtls_x509write_crt_pem(&crt, pem, 8192,
					    mbedtls_ctr_drbg_random, &ts->drbg))) {
		tls_fail("certificate", rc);
		goto out;
	}
	ret = tls_write_file(cert_path, pem, strlen((char *)pem), 0644);
out:
	if (pem) {
		explicit_bzero(pem, 8192);
		free(pem);
	}
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&pk);
	return ret;
}

int tls_random(struct tls_server *ts, void *buf, size_t n)
{
	return mbedtls_ctr_drbg_random(&ts->drbg, buf, n) ? -EIO : 0;
}

/* Issues a leaf for one host name, signed by our own certificate's key. */
static int tls_issue_leaf(struct tls_server *ts, const char *name,
			  struct tls_leaf *leaf)
{
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char der[2048], san[512], sn[16];
	char subj[300], tb[16], ta[16];
	size_t sanlen;
	const char *names[1] = { name };
	int rc;

	if (tls_san_der(names, 1, san, sizeof(san), &sanlen))
		return -EINVAL;
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	tls_random(ts, sn, sizeof(sn));
	sn[0] &= 0x7f;
	mbedtls_mpi_read_binary(&serial, sn, sizeof(sn));
	time_t now = time(NULL) - 86400;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(tb, sizeof(tb), "%Y%m%d%H%M%S", &tm);
	now += 86400L * 825;
	gmtime_r(&now, &tm);
	strftime(ta, sizeof(ta), "%Y%m%d%H%M%S", &tm);
	snprintf(subj, sizeof(subj), "CN=%s", name);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &ts->key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &ts->key);
	rc = mbedtls_x509write_crt_set_subject_name(&crt, subj);
	if (!rc)
		rc = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=sbxd");
	if (!rc)
		rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
	if (!rc)
		rc = mbedtls_x509write_crt_set_validity(&crt, tb, ta);
	if (!rc)
		rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
	if (!rc)
		rc = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (!rc)
		rc = mbedtls_x509write_crt_set_extension(
			&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, sanlen);
	int n = rc ? rc : mbedtls_x509write_crt_der(&crt, der, sizeof(der),
						    mbedtls_ctr_drbg_random, &ts->drbg);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	if (n <= 0)
		return -EIO;
	mbedtls_x509_crt_free(&leaf->chain);
	mbedtls_x509_crt_init(&leaf->chain);
	/* der is written at the end of the buffer */
	if (mbedtls_x509_crt_parse_der(&leaf->chain, der + sizeof(der) - n, (size_t)n) ||
	    mbedtls_x509_crt_parse_der(&leaf->chain, ts->cert.raw.p, ts->cert.raw.len)) {
		mbedtls_x509_crt_free(&leaf->chain);
		mbedtls_x509_crt_init(&leaf->chain);
		leaf->name[0] = 0;
		return -EIO;
	}
	snprintf(leaf->name, sizeof(leaf->name), "%s", name);
	return 0;
}

/* SNI: a host name right under a single-label domain gets its own leaf. */
static int tls_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *sni,
		   size_t len)
{
	struct tls_server *ts = arg;
	char name[256];
	size_t dl = strlen(ts->domain);

	if (!ts->own_ca || strchr(ts->domain, '.') || len >= sizeof(name) || len <= dl + 1)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = sni[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		name[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	name[len] = 0;
	if (name[len - dl - 1] != '.' || strcmp(name + len - dl, ts->domain) ||
	    memchr(name, '.', len - dl - 1))
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	unsigned long long now_ms = (unsigned long long)now.tv_sec * 1000 +
				    (unsigned long long)now.tv_nsec / 1000000;
	struct tls_leaf *slot = NULL;
	for (int i = 0; i < TLS_LEAF_CACHE; i++) {
		struct tls_leaf *l = &ts->leaves[i];
		if (l->name[0] && !strcmp(l->name, name)) {
			l->used = now_ms;
			return mbedtls_ssl_set_hs_own_cert(ssl, &l->chain, &ts->key);
		}
		/* A slot may be reused only when no handshake can still hold
		 * it: not used for longer than the handshake deadline. */
		if ((!l->name[0] || l->used + TLS_LEAF_HOLD_MS < now_ms) &&
		    (!slot || l->used < slot->used))
			slot = l;
	}
	if (!slot || tls_issue_leaf(ts, name, slot))
		return 0; /* fall back to the default certificate */
	slot->used = now_ms;
	return mbedtls_ssl_set_hs_own_cert(ssl, &slot->chain, &ts->key);
}

/*
 * mbedTLS's key export (ssl_tls.c, ssl_populate_transform()): kb is
 * client_write_MAC | server_write_MAC (maclen each, 0 for AEAD) |
 * client_write_key | server_write_key | client_write_IV | server_write_IV,
 * ivlen being the fixed IV: 4 for GCM, 12 for ChaCha20-Poly1305. Runs
 * inside mbedtls_ssl_handshake(), for full and resumed handshakes.
 */
static int tls_export_keys(void *arg, const unsigned char *ms, const unsigned char *kb,
			   size_t maclen, size_t keylen, size_t ivlen,
			   const unsigned char client_random[32],
			   const unsigned char server_random[32],
			   mbedtls_tls_prf_types prf)
{
	struct tls_server *ts = arg;
	struct tls_conn *tc = ts->hs_conn;

	if (!tc)
		return 0;
	tc->kb_set = 0;
	if (maclen || 2 * (keylen + ivlen) > sizeof(tc->kb))
		return 0; /* not an AEAD suite we know: mbedTLS keeps it */
	memcpy(tc->kb, kb, 2 * (keylen + ivlen));
	tc->kb_keylen = keylen;
	tc->kb_ivlen = ivlen;
	tc->kb_set = 1;
	return 0;
}

int tls_server_init(struct tls_server *ts, const char *state_dir,
		    const char *domain, const char *cert_path,
		    const char *key_path)
{
	char cpath[4096], kpath[4096];
	int rc;

	mbedtls_entropy_init(&ts->entropy);
	mbedtls_ctr_drbg_init(&ts->drbg);
	mbedtls_ssl_config_init(&ts->conf);
	mbedtls_x509_crt_init(&ts->cert);
	mbedtls_pk_init(&ts->key);
	mbedtls_ssl_ticket_init(&ts->ticket);
	mbedtls_ssl_cache_init(&ts->cache);
	ts->fingerprint[0] = 0;
	ts->own_ca = 0;
	ts->clock = 0;
	ts->hs_conn = NULL;
	ts->record_fast = 1;
	snprintf(ts->domain, sizeof(ts->domain), "%s", domain);
	for (int i = 0; i < TLS_LEAF_CACHE; i++) {
		mbedtls_x509_crt_init(&ts->leaves[i].chain);
		ts->leaves[i].name[0] = 0;
		ts->leaves[i].used = 0;
	}

	rc = mbedtls_ctr_drbg_seed(&ts->drbg, mbedtls_entropy_func, &ts->entropy,
				   (const unsigned char *)"sbxd", 4);
	if (rc)
		return tls_fail("drbg seed", rc);

	if (!cert_path || !key_path) {
		snprintf(cpath, sizeof(cpath), "%s/tls", state_dir);
		mkdir(cpath, 0700);
		snprintf(cpath, sizeof(cpath), "%s/tls/cert.pem", state_dir);
		snprintf(kpath, sizeof(kpath), "%s/tls/key.pem", state_dir);
		cert_path = cpath;
		key_path = kpath;
		ts->own_ca = 1;
		if (access(cpath, R_OK) || access(kpath, R_OK)) {
			rc = tls_generate(ts, cpath, kpath, domain);
			if (rc)
				return rc;
			fprintf(stderr, "sbxd: generated a self-signed certificate: %s\n",
				cpath);
		}
	}
	rc = mbedtls_x509_crt_parse_file(&ts->cert, cert_path);
	if (rc)
		return tls_fail(cert_path, rc);
	rc = mbedtls_pk_parse_keyfile(&ts->key, key_path, NULL);
	if (rc)
		return tls_fail(key_path, rc);

	unsigned char h[32];
	mbedtls_sha256_ret(ts->cert.raw.p, ts->cert.raw.len, h, 0);
	for (int i = 0; i < 32; i++)
		snprintf(ts->fingerprint + i * 3, 4, "%02X%s", h[i], i < 31 ? ":" : "");

	rc = mbedtls_ssl_config_defaults(&ts->conf, MBEDTLS_SSL_IS_SERVER,
					 MBEDTLS_SSL_TRANSPORT_STREAM,
					 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc)
		return tls_fail("config", rc);
	mbedtls_ssl_conf_rng(&ts->conf, mbedtls_ctr_drbg_random, &ts->drbg);
	mbedtls_ssl_conf_min_version(&ts->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&ts->conf, tls_suites);
	mbedtls_ssl_conf_curves(&ts->conf, tls_curves);
	mbedtls_ssl_conf_renegotiation(&ts->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_legacy_renegotiation(&ts->conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
	rc = mbedtls_ssl_conf_own_cert(&ts->conf, &ts->cert, &ts->key);
	if (rc)
		return tls_fail("own cert", rc);
	rc = mbedtls_ssl_ticket_setup(&ts->ticket, mbedtls_ctr_drbg_random,
				      &ts->drbg, MBEDTLS_CIPHER_AES_256_GCM, 86400);
	if (rc)
		return tls_fail("tickets", rc);
	mbedtls_ssl_conf_session_tickets_cb(&ts->conf, mbedtls_ssl_ticket_write,
					    mbedtls_ssl_ticket_parse, &ts->ticket);
	mbedtls_ssl_conf_sni(&ts->conf, tls_sni, ts);
	mbedtls_ssl_cache_set_max_entries(&ts->cache, 1000);
	mbedtls_ssl_conf_session_cache(&ts->conf, &ts->cache, mbedtls_ssl_cache_get,
				       mbedtls_ssl_cache_set);
	mbedtls_ssl_conf_export_keys_ext_cb(&ts->conf, tls_export_keys, ts);
	return 0;
}

void tls_server_fini(struct tls_server *ts)
{
	for (int i = 0; i < TLS_LEAF_CACHE; i++)
		mbedtls_x509_crt_free(&ts->leaves[i].chain);
	mbedtls_ssl_cache_free(&ts->cache);
	mbedtls_ssl_ticket_free(&ts->ticket); /* zeroizes the ticket keys */
	mbedtls_pk_free(&ts->key);            /* zeroizes the private key */
	mbedtls_x509_crt_free(&ts->cert);
	mbedtls_ssl_config_free(&ts->conf);
	mbedtls_ctr_drbg_free(&ts->drbg);
	mbedtls_entropy_free(&ts->entropy);
}

static int tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n = recv(fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

int tls_conn_init(struct tls_server *ts, struct tls_conn *tc, int fd)
{
	mbedtls_ssl_init(&tc->ssl);
	tc->ts = ts;
	tc->fd = fd;
	tc->handshake_done = 0;
	tc->wpending = 0;
	tc->kb_set = 0;
	tc->fast = 0;
	if (mbedtls_ssl_setup(&tc->ssl, &ts->conf)) {
		mbedtls_ssl_free(&tc->ssl);
		return -ENOMEM;
	}
	mbedtls_ssl_set_bio(&tc->ssl, &tc->fd, tls_bio_send, tls_bio_recv, NULL);
	return 0;
}

void tls_conn_fini(struct tls_conn *tc)
{
	if (tc->fast)
		tls_record_fini(&tc->rec);
	else
		mbedtls_ssl_free(&tc->ssl);
	explicit_bzero(tc->kb, sizeof(tc->kb));
	tc->fast = 0;
}

static uint64_t tls_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Moves a finished connection's application data to tls_record.c, or
 * leaves it on mbedTLS when anything is not as expected. */
static void tls_conn_takeover(struct tls_conn *tc)
{
	mbedtls_ssl_context *ssl = &tc->ssl;
	const mbedtls_ssl_ciphersuite_t *cs;
	enum tls_rec_cipher cipher;

	if (!tc->ts->record_fast || !tc->kb_set || !ssl->session ||
	    ssl->minor_ver != MBEDTLS_SSL_MINOR_VERSION_3)
		goto out;
	cs = mbedtls_ssl_ciphersuite_from_id(ssl->session->ciphersuite);
	if (!cs || (cs->flags & MBEDTLS_CIPHERSUITE_SHORT_TAG))
		goto out;
	switch (cs->cipher) {
	case MBEDTLS_CIPHER_AES_128_GCM:
		cipher = TLS_REC_AES128_GCM;
		break;
	case MBEDTLS_CIPHER_AES_256_GCM:
		cipher = TLS_REC_AES256_GCM;
		break;
	case MBEDTLS_CIPHER_CHACHA20_POLY1305:
		cipher = TLS_REC_CHACHA20_POLY1305;
		break;
	default:
		goto out;
	}
	/* Input mbedTLS read but did not hand out, or output not yet sent,
	 * would be lost: then mbedTLS keeps the connection. */
	if (mbedtls_ssl_check_pending(ssl) || ssl->in_left || ssl->out_left)
		goto out;
	int max = mbedtls_ssl_get_max_out_record_payload(ssl);
	if (max <= 0)
		goto out;
	if (tls_record_init(&tc->rec, tc->fd, cipher, 1, tc->kb, tc->kb_keylen,
			    tc->kb_ivlen, tls_be64(ssl->in_ctr), tls_be64(ssl->cur_out_ctr),
			    (size_t)max))
		goto out;
	tc->fast = 1;
	mbedtls_ssl_free(ssl); /* wipes its keys; the session stays cached */
out:
	explicit_bzero(tc->kb, sizeof(tc->kb));
	tc->kb_set = 0;
}

int tls_conn_handshake(struct tls_conn *tc, int *want_write)
{
	*want_write = 0;
	tc->ts->hs_conn = tc;
	int rc = mbedtls_ssl_handshake(&tc->ssl);
	tc->ts->hs_conn = NULL;
	if (rc == 0) {
		tc->handshake_done = 1;
		tls_conn_takeover(tc);
		return 0;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ)
		return -EAGAIN;
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		*want_write = 1;
		return -EAGAIN;
	}
	return -EPROTO;
}

ssize_t tls_conn_read(struct tls_conn *tc, void *buf, size_t len)
{
	if (tc->fast)
		return tls_record_read(&tc->rec, buf, len);
	int rc = mbedtls_ssl_read(&tc->ssl, buf, len);
	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return -EAGAIN;
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF)
		return 0;
	if (rc == MBEDTLS_ERR_NET_RECV_FAILED)
		return -ECONNRESET;
	return -EPROTO;
}

/*
 * mbedtls_ssl_write() encrypts up to one record and, when the socket cannot
 * take it all, returns WANT_WRITE with the record kept in its own buffer.
 * The retry only flushes that record and then returns the length it was
 * given this time, not the length that was encrypted. Callers whose queue
 * grew in between would pass more and consume bytes never sent (and a
 * shrinking length would resend bytes), so the retry is made with exactly
 * the length of the pending record. tls_record_write() keeps the same rule.
 */
ssize_t tls_conn_write(struct tls_conn *tc, const void *buf, size_t len)
{
	if (tc->fast)
		return tls_record_write(&tc->rec, buf, len);
	if (tc->wpending) {
		if (len < tc->wpending)
			return -EPIPE; /* the caller lost bytes it gave us */
		len = tc->wpending;
	}
	int rc = mbedtls_ssl_write(&tc->ssl, buf, len);
	if (rc >= 0) {
		tc->wpending = 0;
		return rc;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		tc->wpending = len;
		return -EAGAIN;
	}
	return -EPIPE;
}

size_t tls_conn_pending(struct tls_conn *tc)
{
	if (tc->fast)
		return tls_record_pending(&tc->rec);
	return mbedtls_ssl_get_bytes_avail(&tc->ssl);
}

void tls_conn_close_notify(struct tls_conn *tc)
{
	if (tc->fast)
		tls_record_alert(&tc->rec, TLS_ALERT_CLOSE_NOTIFY);
	else if (tc->handshake_done)
		mbedtls_ssl_close_notify(&tc->ssl);
}
