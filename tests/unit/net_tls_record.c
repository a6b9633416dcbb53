/*
 * tests/unit/net_tls_record.c: sbxd's TLS server (net/tls.c) with its record
 * layer on OpenSSL's EVP (net/tls_record.c), against an mbedTLS client in
 * the same process over a socketpair: each suite, full and resumed
 * handshakes (ticket and session id), data both ways compared byte for
 * byte, close_notify both ways, and the records that must end a
 * connection: a tampered byte, an oversized record, a bad version or type,
 * a renegotiation, the peer's fatal alert (a warning is skipped), EOF
 * inside a record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ssl.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl_internal.h>

#include "net/tls.h"
#include "tests/lib/check.h"

static struct tls_server ts;
static char state_dir[] = "/tmp/sbx-tlsrec.XXXXXX";

struct client {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	int suites[2];
	int fd;
	int tamper;  /* flip the last byte of the next record sent */
	int resumed; /* the handshake was abbreviated */
};

static int cl_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct client *c = ctx;
	unsigned char tmp[20000];

	if (c->tamper && len > 20 && len <= sizeof(tmp)) {
		memcpy(tmp, buf, len);
		tmp[len - 1] ^= 0x40;
		buf = tmp;
		c->tamper = 0;
	}
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int cl_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct client *c = ctx;
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* A client and a server connection over a fresh socketpair. */
static int pair_open(struct client *c, struct tls_conn *tc, int suite, int tickets,
		     int reneg)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		return -1;
	c->fd = sv[1];
	c->suites[0] = suite;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
					MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT))
		return -1;
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &ts.drbg);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &ts.cert, NULL);
	mbedtls_ssl_conf_min_version(&c->conf, 3, 3);
	mbedtls_ssl_conf_ciphersuites(&c->conf, c->suites);
	mbedtls_ssl_conf_session_tickets(&c->conf, tickets);
	if (reneg)
		mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_ENABLED);
	if (mbedtls_ssl_setup(&c->ssl, &c->conf) ||
	    mbedtls_ssl_set_hostname(&c->ssl, "localhost"))
		return -1;
	mbedtls_ssl_set_bio(&c->ssl, c, cl_send, cl_recv, NULL);
	return tls_conn_init(&ts, tc, sv[0]);
}

static void pair_close(struct client *c, struct tls_conn *tc)
{
	close(tc->fd);
	tls_conn_fini(tc);
	close(c->fd);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
}

/* Both handshakes, stepped in turn. 0 when both are done. */
static int pair_handshake(struct client *c, struct tls_conn *tc, mbedtls_ssl_session *resume)
{
	int cdone = 0, sdone = 0, ww;

	if (resume && mbedtls_ssl_set_session(&c->ssl, resume))
		return -1;
	for (int i = 0; i < 2000 && !(cdone && sdone); i++) {
		while (!cdone) {
			int rc = mbedtls_ssl_handshake_step(&c->ssl);
			if (c->ssl.handshake && c->ssl.handshake->resume)
				c->resumed = 1;
			if (c->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER)
				cdone = 1;
			else if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				break;
			else if (rc)
				return -1;
		}
		if (!sdone) {
			int rc = tls_conn_handshake(tc, &ww);
			if (!rc)
				sdone = 1;
			else if (rc != -EAGAIN)
				return -1;
		}
	}
	return cdone && sdone ? 0 : -1;
}

/* The client sends len bytes, the server reads them all. 0 when equal. */
static int c2s(struct client *c, struct tls_conn *tc, const unsigned char *data, size_t len)
{
	unsigned char *got = malloc(len + 1), tmp[16384];
	size_t sent = 0, rcvd = 0;
	int idle = 0, zero = !len, rc = -1;

	while (got && (sent < len || zero || rcvd < len) && idle < 10000) {
		int progress = 0;
		if (sent < len || zero) {
			int n = mbedtls_ssl_write(&c->ssl, data + sent, len - sent);
			if (n >= 0) {
				sent += (size_t)n;
				zero = 0;
				progress = 1;
			} else if (n != MBEDTLS_ERR_SSL_WANT_WRITE) {
				goto out;
			}
		}
		ssize_t r = tls_conn_read(tc, tmp, sizeof(tmp));
		if (r > 0) {
			if (rcvd + (size_t)r > len)
				goto out;
			memcpy(got + rcvd, tmp, (size_t)r);
			rcvd += (size_t)r;
			progress = 1;
		} else if (r != -EAGAIN) {
			goto out; /* 0 would be EOF: an empty record must not be */
		}
		idle = progress ? 0 : idle + 1;
	}
	rc = rcvd == len && (!len || !memcmp(got, data, len)) ? 0 : -1;
	/* no stray bytes after the data */
	if (!rc && tls_conn_read(tc, tmp, sizeof(tmp)) != -EAGAIN)
		rc = -1;
out:
	free(got);
	return rc;
}

/* The server writes len bytes in pieces of at most chunk (with the retry
 * rule conn.c follows), the client reads them. 0 when equal. */
static int s2c(struct client *c, struct tls_conn *tc, const unsigned char *data, size_t len,
	       size_t chunk)
{
	unsigned char *got = malloc(len + 1);
	size_t sent = 0, rcvd = 0;
	int idle = 0, rc = -1;

	while (got && rcvd < len && idle < 10000) {
		int progress = 0;
		if (sent < len) {
			size_t n = len - sent < chunk ? len - sent : chunk;
			ssize_t w = tls_conn_write(tc, data + sent, n);
			if (w > 0) {
				if ((size_t)w > n)
					goto out;
				sent += (size_t)w;
				progress = 1;
			} else if (w != -EAGAIN) {
				goto out;
			}
		}
		int r = mbedtls_ssl_read(&c->ssl, got + rcvd, len - rcvd);
		if (r > 0) {
			rcvd += (size_t)r;
			progress = 1;
		} else if (r != MBEDTLS_ERR_SSL_WANT_READ) {
			goto out;
		}
		idle = progress ? 0 : idle + 1;
	}
	rc = rcvd == len && !memcmp(got, data, len) ? 0 : -1;
out:
	free(got);
	return rc;
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len);
	uint32_t x = 0x12345678;

	for (size_t i = 0; p && i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (unsigned char)(x >> 16);
	}
	return p;
}

static const int suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
};
static const size_t sizes[] = { 0, 1, 13, 1000, 16383, 16384, 16385, 65543, 300007, 1 << 20 };

static void suite_run(int suite, int tickets)
{
	struct client c, c2;
	struct tls_conn tc, tc2;
	mbedtls_ssl_session sess;
	unsigned char *data = pattern(1 << 20), tmp[64];

	mbedtls_ssl_session_init(&sess);
	CHECK(!pair_open(&c, &tc, suite, tickets, 0));
	CHECK(!pair_handshake(&c, &tc, NULL));
	CHECK(!c.resumed);
	CHECK(tc.fast); /* the record layer took over */
	CHECK(!strcmp(mbedtls_ssl_get_ciphersuite(&c.ssl),
		      mbedtls_ssl_get_ciphersuite_name(suite)));
	/* after a full handshake: client Finished in, server Finished out */
	CHECK_EQ(tc.rec.rd_seq, 1);
	CHECK_EQ(tc.rec.wr_seq, 1);
	CHECK(!mbedtls_ssl_get_session(&c.ssl, &sess));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK(!c2s(&c, &tc, data, sizes[i]));
		if (sizes[i])
			CHECK(!s2c(&c, &tc, data, sizes[i], 16384));
	}
	CHECK(!s2c(&c, &tc, data, 1 << 20, 1 << 20)); /* several records a write */
	CHECK(!s2c(&c, &tc, data, 99999, 777));
	/* idle: no record buffers held */
	CHECK(!tc.rec.rbuf && !tc.rec.wbuf);
	CHECK_EQ(tls_conn_pending(&tc), 0);
	/* close_notify both ways */
	tls_conn_close_notify(&tc);
	CHECK_EQ(mbedtls_ssl_read(&c.ssl, tmp, sizeof(tmp)), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	CHECK(!mbedtls_ssl_close_notify(&c.ssl));
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), 0);
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), 0);
	pair_close(&c, &tc);

	/* resumed (ticket, or session id from the cache) */
	CHECK(!pair_open(&c2, &tc2, suite, tickets, 0));
	CHECK(!pair_handshake(&c2, &tc2, &sess));
	CHECK(c2.resumed);
	CHECK(tc2.fast);
	CHECK(!c2s(&c2, &tc2, data, 70001));
	CHECK(!s2c(&c2, &tc2, data, 70001, 16384));
	CHECK(!c2s(&c2, &tc2, data, 5));
	pair_close(&c2, &tc2);
	mbedtls_ssl_session_free(&sess);
	free(data);
}

static void test_chacha20_poly1305(void)
{
	suite_run(suites[0], MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
}

static void test_aes128_gcm(void)
{
	suite_run(suites[1], MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
}

static void test_aes256_gcm(void)
{
	suite_run(suites[2], MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
}

static void test_resume_by_session_id(void)
{
	suite_run(suites[1], MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
}

/* The server's alert as the mbedTLS client sees it, or -1. */
static int client_alert(struct client *c)
{
	unsigned char tmp[64];
	int rc;

	for (int i = 0; i < 100; i++) {
		rc = mbedtls_ssl_read(&c->ssl, tmp, sizeof(tmp));
		if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
			return c->ssl.in_msg[1];
		if (rc != MBEDTLS_ERR_SSL_WANT_READ)
			return -1;
	}
	return -1;
}

/* A connection set up for one bad-record case. */
static int bad_open(struct client *c, struct tls_conn *tc, int suite, int reneg)
{
	if (pair_open(c, tc, suite, 1, reneg) || pair_handshake(c, tc, NULL) || !tc->fast)
		return -1;
	return 0;
}

static void test_tampered_record(void)
{
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[16384];

	for (int s = 0; s < 3; s++) {
		CHECK(!bad_open(&c, &tc, suites[s], 0));
		CHECK(!c2s(&c, &tc, (const unsigned char *)"ok", 2));
		c.tamper = 1;
		CHECK_EQ(mbedtls_ssl_write(&c.ssl, (const unsigned char *)"hello world", 11), 11);
		CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -EPROTO);
		CHECK_EQ(client_alert(&c), MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC);
		CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -EPROTO);
		CHECK(tls_conn_write(&tc, "x", 1) < 0);
		pair_close(&c, &tc);
	}
}

/* Raw bytes from the client side; the server's read result and alert. */
static void raw_case(const unsigned char *raw, size_t len, int want_alert, ssize_t want_rc)
{
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[16384];

	CHECK(!bad_open(&c, &tc, suites[1], 0));
	CHECK_EQ(send(c.fd, raw, len, 0), (ssize_t)len);
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), want_rc);
	if (want_alert >= 0)
		CHECK_EQ(client_alert(&c), want_alert);
	pair_close(&c, &tc);
}

static void test_bad_headers(void)
{
	/* longer than 16384 + explicit nonce + tag: record_overflow from the
	 * header alone */
	size_t big = 16384 + 8 + 16 + 1;
	unsigned char over[5] = { 23, 3, 3, (unsigned char)(big >> 8), (unsigned char)big };
	raw_case(over, 5, MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW, -EPROTO);
	unsigned char ver[5] = { 23, 3, 1, 0, 40 };
	raw_case(ver, 5, MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION, -EPROTO);
	unsigned char type[5] = { 24, 3, 3, 0, 40 };
	raw_case(type, 5, MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE, -EPROTO);
	unsigned char shortrec[5 + 8] = { 23, 3, 3, 0, 8 };
	raw_case(shortrec, sizeof(shortrec), MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC, -EPROTO);
	/* a whole record of the largest size, but not ours */
	unsigned char *junk = calloc(1, 5 + big - 1);
	junk[0] = 23, junk[1] = 3, junk[2] = 3, junk[3] = (unsigned char)((big - 1) >> 8);
	junk[4] = (unsigned char)(big - 1);
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[16384];
	CHECK(!bad_open(&c, &tc, suites[1], 0));
	size_t off = 0;
	ssize_t rc = -EAGAIN;
	while (off < 5 + big - 1 && rc == -EAGAIN) {
		ssize_t n = send(c.fd, junk + off, 5 + big - 1 - off, 0);
		if (n > 0)
			off += (size_t)n;
		rc = tls_conn_read(&tc, tmp, sizeof(tmp));
	}
	CHECK_EQ(rc, -EPROTO);
	CHECK_EQ(client_alert(&c), MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC);
	pair_close(&c, &tc);
	free(junk);
}

static void test_eof(void)
{
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[64];

	CHECK(!bad_open(&c, &tc, suites[0], 0));
	CHECK_EQ(send(c.fd, "\x17\x03\x03", 3, 0), 3);
	shutdown(c.fd, SHUT_WR);
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -ECONNRESET);
	pair_close(&c, &tc);

	CHECK(!bad_open(&c, &tc, suites[0], 0));
	CHECK(!c2s(&c, &tc, (const unsigned char *)"abc", 3));
	shutdown(c.fd, SHUT_WR);
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), 0);
	pair_close(&c, &tc);
}

static void test_renegotiation_refused(void)
{
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[64];

	CHECK(!bad_open(&c, &tc, suites[0], 1));
	int rc = mbedtls_ssl_renegotiate(&c.ssl); /* an encrypted ClientHello */
	CHECK(rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -EPROTO);
	CHECK_EQ(client_alert(&c), MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE);
	pair_close(&c, &tc);
}

static void test_peer_alert(void)
{
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[64];

	CHECK(!bad_open(&c, &tc, suites[2], 0));
	CHECK(!mbedtls_ssl_send_alert_message(&c.ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
					      MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE));
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -ECONNRESET);
	pair_close(&c, &tc);
}

/* A warning alert is skipped and the data after it read; too many in a row
 * end the connection like empty records do. */
static void test_warning_alert(void)
{
	static const unsigned char hi[] = "after the warning";
	struct client c;
	struct tls_conn tc;
	unsigned char tmp[64];
	int i;

	CHECK(!bad_open(&c, &tc, suites[0], 0));
	CHECK(!mbedtls_ssl_send_alert_message(&c.ssl, MBEDTLS_SSL_ALERT_LEVEL_WARNING,
					      MBEDTLS_SSL_ALERT_MSG_NO_RENEGOTIATION));
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -EAGAIN);
	CHECK(!c2s(&c, &tc, hi, sizeof(hi)));
	for (i = 0; i < 40; i++)
		CHECK(!mbedtls_ssl_send_alert_message(&c.ssl, MBEDTLS_SSL_ALERT_LEVEL_WARNING,
						      MBEDTLS_SSL_ALERT_MSG_USER_CANCELED));
	CHECK_EQ(tls_conn_read(&tc, tmp, sizeof(tmp)), -EPROTO);
	CHECK_EQ(client_alert(&c), MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE);
	pair_close(&c, &tc);
}

/* The write contract of tls.h: after -EAGAIN the same bytes again, and no
 * more than the pending record's length is taken. */
static void test_write_retry(void)
{
	struct client c;
	struct tls_conn tc;
	size_t total = 4 << 20, sent = 0, rcvd = 0, pend = 0;
	unsigned char *data = pattern(total), *got = malloc(total);

	CHECK(!bad_open(&c, &tc, suites[1], 0));
	for (;;) {
		ssize_t w = tls_conn_write(&tc, data + sent, 16384);
		if (w == -EAGAIN) {
			pend = 16384;
			break;
		}
		CHECK_EQ(w, 16384);
		sent += 16384;
		if (sent + 65536 > total)
			break;
	}
	CHECK_EQ(pend, 16384);
	CHECK_EQ(tls_conn_write(&tc, data + sent, 100), -EPIPE); /* fewer: refused */
	int done = 0;
	for (int i = 0; i < 100000 && !done; i++) {
		int r = mbedtls_ssl_read(&c.ssl, got + rcvd, total - rcvd);
		if (r > 0)
			rcvd += (size_t)r;
		ssize_t w = tls_conn_write(&tc, data + sent, 50000); /* more: only the record */
		if (w != -EAGAIN) {
			CHECK_EQ(w, 16384);
			sent += 16384;
			done = 1;
		}
	}
	CHECK(done);
	while (rcvd < sent) {
		int r = mbedtls_ssl_read(&c.ssl, got + rcvd, total - rcvd);
		if (r <= 0)
			break;
		rcvd += (size_t)r;
	}
	CHECK_EQ(rcvd, sent);
	CHECK(!memcmp(got, data, sent));
	pair_close(&c, &tc);
	free(data);
	free(got);
}

/* With the record layer off, mbedTLS carries the data as before. */
static void test_mbedtls_fallback(void)
{
	struct client c;
	struct tls_conn tc;
	unsigned char *data = pattern(100000), tmp[8];

	ts.record_fast = 0;
	CHECK(!pair_open(&c, &tc, suites[0], 1, 0));
	CHECK(!pair_handshake(&c, &tc, NULL));
	CHECK(!tc.fast);
	CHECK(!c2s(&c, &tc, data, 100000));
	CHECK(!s2c(&c, &tc, data, 100000, 16384));
	tls_conn_close_notify(&tc);
	CHECK_EQ(mbedtls_ssl_read(&c.ssl, tmp, sizeof(tmp)), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	pair_close(&c, &tc);
	ts.record_fast = 1;
	free(data);
}

int main(void)
{
	if (!mkdtemp(state_dir) || tls_server_init(&ts, state_dir, "localhost", NULL, NULL)) {
		printf("FAIL tls_server_init\n");
		return 1;
	}
	TEST(test_chacha20_poly1305);
	TEST(test_aes128_gcm);
	TEST(test_aes256_gcm);
	TEST(test_resume_by_session_id);
	TEST(test_tampered_record);
	TEST(test_bad_headers);
	TEST(test_eof);
	TEST(test_renegotiation_refused);
	TEST(test_peer_alert);
	TEST(test_warning_alert);
	TEST(test_write_retry);
	TEST(test_mbedtls_fallback);
	tls_server_fini(&ts);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	if (system(cmd))
		return 1;
	return check_exit();
}
