/*
 * net/tls_record.c: TLS 1.2 AEAD records on OpenSSL's EVP (see tls_record.h).
 *
 * Theory of operation. A record (RFC 5246 6.2) is a 5-byte header, type,
 * version 3,3 and length, then for GCM (RFC 5288) an 8-byte explicit nonce,
 * the ciphertext and a 16-byte tag; ChaCha20-Poly1305 (RFC 7905) has no
 * explicit nonce. The nonce is the 4-byte salt || the explicit nonce (we
 * send our sequence number there), or for ChaCha20 the 12-byte IV XOR the
 * sequence number. The additional data is seq(8) || type || version ||
 * plaintext length(2).
 *
 * Reading takes from the socket at most the rest of the current record
 * and the next record's header, in one recv(): everything held after a
 * call returns is either plaintext of that record or an incomplete record
 * whose rest is still to come, so the event loop (level-triggered, and
 * told nothing about our buffer) never waits on bytes we hold. Records are
 * decrypted straight into the caller's buffer when it is large enough,
 * else in place. Writing seals up to 64 KiB as records into one buffer and
 * sends it with one send(); what the socket does not take is kept and
 * flushed when the caller repeats the write.
 */
#include "net/tls_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define REC_NONCE_MAX 8
#define REC_MAX_BODY (REC_NONCE_MAX + TLS_REC_MAX_PLAIN + TLS_REC_TAG)
/* One whole record and the next header. */
#define REC_RBUF (TLS_REC_HDR + REC_MAX_BODY + TLS_REC_HDR)
#define REC_WRITE_BATCH (64 * 1024)
#define REC_ALERT_LEN (TLS_REC_HDR + REC_NONCE_MAX + 2 + TLS_REC_TAG)
#define REC_MAX_EMPTY 32 /* consecutive empty records before we give up */

static void rec_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The 12-byte nonce of record seq; explicit is the record's 8 bytes (GCM). */
static void rec_nonce(const struct tls_record *r, const unsigned char *iv, uint64_t seq,
		      const unsigned char *explicit, unsigned char nonce[12])
{
	if (r->nonce_len) {
		memcpy(nonce, iv, 4);
		memcpy(nonce + 4, explicit, 8);
		return;
	}
	unsigned char s[8];
	rec_be64(s, seq);
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

static void rec_aad(unsigned char aad[13], uint64_t seq, unsigned char type, size_t len)
{
	rec_be64(aad, seq);
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
}

int tls_record_init(struct tls_record *r, int fd, enum tls_rec_cipher cipher,
		    int server, const unsigned char *kb, size_t keylen, size_t ivlen,
		    uint64_t rd_seq, uint64_t wr_seq, size_t wr_max)
{
	const EVP_CIPHER *evp;
	size_t want_key, want_iv;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	switch (cipher) {
	case TLS_REC_AES128_GCM:
		evp = EVP_aes_128_gcm(), want_key = 16, want_iv = 4, r->nonce_len = 8;
		break;
	case TLS_REC_AES256_GCM:
		evp = EVP_aes_256_gcm(), want_key = 32, want_iv = 4, r->nonce_len = 8;
		break;
	case TLS_REC_CHACHA20_POLY1305:
		evp = EVP_chacha20_poly1305(), want_key = 32, want_iv = 12, r->nonce_len = 0;
		break;
	default:
		return -EINVAL;
	}
	if (keylen != want_key || ivlen != want_iv || !wr_max || wr_max > TLS_REC_MAX_PLAIN)
		return -EINVAL;
	r->cipher = cipher;
	r->wr_max = wr_max;
	r->rd_seq = rd_seq;
	r->wr_seq = wr_seq;

	const unsigned char *ckey = kb, *skey = kb + keylen;
	const unsigned char *civ = kb + 2 * keylen, *siv = civ + ivlen;
	memcpy(r->rd_iv, server ? civ : siv, ivlen);
	memcpy(r->wr_iv, server ? siv : civ, ivlen);
	r->rd = EVP_CIPHER_CTX_new();
	r->wr = EVP_CIPHER_CTX_new();
	if (!r->rd || !r->wr) {
		tls_record_fini(r);
		return -ENOMEM;
	}
	if (EVP_DecryptInit_ex(r->rd, evp, NULL, server ? ckey : skey, NULL) != 1 ||
	    EVP_EncryptInit_ex(r->wr, evp, NULL, server ? skey : ckey, NULL) != 1) {
		tls_record_fini(r);
		return -ENOMEM;
	}
	return 0;
}

void tls_record_fini(struct tls_record *r)
{
	EVP_CIPHER_CTX_free(r->rd); /* wipes the key schedule */
	EVP_CIPHER_CTX_free(r->wr);
	r->rd = r->wr = NULL;
	OPENSSL_cleanse(r->rd_iv, sizeof(r->rd_iv));
	OPENSSL_cleanse(r->wr_iv, sizeof(r->wr_iv));
	if (r->rbuf)
		OPENSSL_cleanse(r->rbuf, REC_RBUF);
	free(r->rbuf);
	free(r->wbuf);
	r->rbuf = r->wbuf = NULL;
	r->rlen = r->rnext = r->ptlen = r->wlen = r->woff = r->wcap = r->wplain = 0;
}

ssize_t tls_record_seal(struct tls_record *r, unsigned char type, const void *in,
			size_t len, unsigned char *out)
{
	unsigned char nonce[12], aad[13], seqb[8];
	size_t body = r->nonce_len + len + TLS_REC_TAG;
	int n;

	if (len > TLS_REC_MAX_PLAIN)
		return -EINVAL;
	if (r->wr_seq == UINT64_MAX)
		return -EOVERFLOW; /* sequence numbers must not wrap */
	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = (unsigned char)(body >> 8);
	out[4] = (unsigned char)body;
	rec_be64(seqb, r->wr_seq);
	if (r->nonce_len)
		memcpy(out + TLS_REC_HDR, seqb, 8);
	rec_nonce(r, r->wr_iv, r->wr_seq, seqb, nonce);
	rec_aad(aad, r->wr_seq, type, len);
	unsigned char *ct = out + TLS_REC_HDR + r->nonce_len;
	if (EVP_EncryptInit_ex(r->wr, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(r->wr, NULL, &n, aad, sizeof(aad)) != 1 ||
	    (len && EVP_EncryptUpdate(r->wr, ct, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(r->wr, ct + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(r->wr, EVP_CTRL_AEAD_GET_TAG, TLS_REC_TAG, ct + len) != 1)
		return -EIO;
	r->wr_seq++;
	return (ssize_t)(TLS_REC_HDR + body);
}

/* Sends what is left of wbuf. 0 when all is sent, -EAGAIN or -EPIPE. */
static int rec_flush(struct tls_record *r)
{
	while (r->woff < r->wlen) {
		ssize_t n = send(r->fd, r->wbuf + r->woff, r->wlen - r->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return -EAGAIN;
			r->wr_state = -EPIPE;
			return -EPIPE;
		}
		r->woff += (size_t)n;
	}
	/* Nothing in flight: an idle connection keeps no buffer. */
	free(r->wbuf);
	r->wbuf = NULL;
	r->wcap = r->wlen = r->woff = 0;
	return 0;
}

/* Makes room for more bytes after wlen. 0 or -ENOMEM. */
static int rec_wroom(struct tls_record *r, size_t more)
{
	if (r->wlen + more <= r->wcap)
		return 0;
	unsigned char *p = realloc(r->wbuf, r->wlen + more);
	if (!p)
		return -ENOMEM;
	r->wbuf = p;
	r->wcap = r->wlen + more;
	return 0;
}

void tls_record_alert(struct tls_record *r, unsigned char desc)
{
	unsigned char a[2] = { desc == TLS_ALERT_CLOSE_NOTIFY ? 1 : 2, desc };

	if (r->wr_state)
		return; /* one alert at most, and none once sending failed */
	/* After any ciphertext still pending: records must not interleave. */
	if (!rec_wroom(r, REC_ALERT_LEN)) {
		ssize_t n = tls_record_seal(r, TLS_REC_ALERT, a, 2, r->wbuf + r->wlen);
		if (n > 0) {
			r->wlen += (size_t)n;
			rec_flush(r);
		}
	}
	r->wr_state = -EPIPE;
}

ssize_t tls_record_write(struct tls_record *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (r->wr_state)
		return -EPIPE;
	if (r->wplain) {
		/* The repeat of a write that returned -EAGAIN. */
		if (len < r->wplain)
			return -EPIPE; /* the caller lost bytes it gave us */
		int rc = rec_flush(r);
		if (rc)
			return rc;
		size_t n = r->wplain;
		r->wplain = 0;
		return (ssize_t)n;
	}
	if (!len)
		return 0;
	size_t n = len < REC_WRITE_BATCH ? len : REC_WRITE_BATCH;
	size_t nrec = (n + r->wr_max - 1) / r->wr_max;
	if (rec_wroom(r, n + nrec * (TLS_REC_HDR + r->nonce_len + TLS_REC_TAG)))
		return -ENOMEM;
	for (size_t off = 0; off < n;) {
		size_t l = n - off < r->wr_max ? n - off : r->wr_max;
		ssize_t s = tls_record_seal(r, TLS_REC_APPDATA, p + off, l, r->wbuf + r->wlen);
		if (s < 0) {
			r->wr_state = -EPIPE;
			return -EPIPE;
		}
		r->wlen += (size_t)s;
		off += l;
	}
	r->wplain = n;
	int rc = rec_flush(r);
	if (rc)
		return rc;
	r->wplain = 0;
	return (ssize_t)n;
}

size_t tls_record_pending(const struct tls_record *r)
{
	return r->ptlen;
}

/* Ends reading (and writing) with an alert, when alert >= 0. */
static ssize_t rec_fail(struct tls_record *r, int alert, int err)
{
	if (alert >= 0)
		tls_record_alert(r, (unsigned char)alert);
	r->rd_state = err;
	r->wr_state = -EPIPE;
	return err;
}

static size_t rec_copy_out(struct tls_record *r, void *buf, size_t len)
{
	size_t n = len < r->ptlen ? len : r->ptlen;

	memcpy(buf, r->rbuf + r->ptoff, n);
	r->ptoff += n;
	r->ptlen -= n;
	return n;
}

/*
 * Checks the header at rbuf. Returns the record's body length, or -EPROTO
 * with an alert sent.
 */
static ssize_t rec_header(struct tls_record *r)
{
	const unsigned char *h = r->rbuf;
	size_t body = (size_t)h[3] << 8 | h[4];

	if (h[0] < TLS_REC_CCS || h[0] > TLS_REC_APPDATA)
		return rec_fail(r, TLS_ALERT_UNEXPECTED, -EPROTO);
	if (h[1] != 3 || h[2] != 3)
		return rec_fail(r, TLS_ALERT_PROTOCOL_VERSION, -EPROTO);
	if (body > r->nonce_len + TLS_REC_MAX_PLAIN + TLS_REC_TAG)
		return rec_fail(r, TLS_ALERT_RECORD_OVERFLOW, -EPROTO);
	if (body < r->nonce_len + TLS_REC_TAG)
		return rec_fail(r, TLS_ALERT_BAD_RECORD_MAC, -EPROTO);
	return (ssize_t)body;
}

/*
 * Decrypts and handles the whole record at rbuf (body bytes after the
 * header). Returns bytes put in buf, 0 when there is nothing for the caller
 * (an empty record, or close_notify: rd_state says), or -errno.
 */
static ssize_t rec_open(struct tls_record *r, size_t body, unsigned char *buf, size_t len)
{
	unsigned char *rec = r->rbuf, nonce[12], aad[13];
	unsigned char type = rec[0];
	size_t ctlen = body - r->nonce_len - TLS_REC_TAG;
	unsigned char *ct = rec + TLS_REC_HDR + r->nonce_len;
	int n;

	if (r->rd_seq == UINT64_MAX)
		return rec_fail(r, -1, -EPROTO); /* sequence numbers must not wrap */
	rec_nonce(r, r->rd_iv, r->rd_seq, rec + TLS_REC_HDR, nonce);
	rec_aad(aad, r->rd_seq, type, ctlen);
	unsigned char *out = type == TLS_REC_APPDATA && len >= ctlen ? buf : ct;
	if (EVP_DecryptInit_ex(r->rd, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(r->rd, NULL, &n, aad, sizeof(aad)) != 1 ||
	    (ctlen && EVP_DecryptUpdate(r->rd, out, &n, ct, (int)ctlen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(r->rd, EVP_CTRL_AEAD_SET_TAG, TLS_REC_TAG, ct + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(r->rd, out + ctlen, &n) != 1)
		return rec_fail(r, TLS_ALERT_BAD_RECORD_MAC, -EPROTO);
	r->rd_seq++;
	r->rnext = TLS_REC_HDR + body;

	switch (type) {
	case TLS_REC_APPDATA:
		if (!ctlen) {
			if (++r->empty > REC_MAX_EMPTY)
				return rec_fail(r, TLS_ALERT_UNEXPECTED, -EPROTO);
			return 0;
		}
		r->empty = 0;
		if (out == buf)
			return (ssize_t)ctlen;
		r->ptoff = (size_t)(ct - r->rbuf);
		r->ptlen = ctlen;
		return (ssize_t)rec_copy_out(r, buf, len);
	case TLS_REC_ALERT:
		if (ctlen != 2)
			return rec_fail(r, TLS_ALERT_DECODE_ERROR, -EPROTO);
		if (out[1] == TLS_ALERT_CLOSE_NOTIFY) {
			r->rd_state = 1;
			return 0;
		}
		/* 5246 7.2: a warning (user_canceled, no_renegotiation) may be
		 * ignored; counted with empty records so a stream of them ends. */
		if (out[0] == 1) {
			if (++r->empty > REC_MAX_EMPTY)
				return rec_fail(r, TLS_ALERT_UNEXPECTED, -EPROTO);
			return 0;
		}
		return rec_fail(r, -1, -ECONNRESET);
	default:
		/* Handshake (renegotiation is off) or ChangeCipherSpec. */
		return rec_fail(r, TLS_ALERT_UNEXPECTED, -EPROTO);
	}
}

ssize_t tls_record_read(struct tls_record *r, void *buf, size_t len)
{
	if (r->ptlen)
		return (ssize_t)rec_copy_out(r, buf, len);
	for (;;) {
		if (r->rd_state)
			return r->rd_state > 0 ? 0 : r->rd_state;
		if (r->rnext) {
			/* Drop the record returned last; keep what follows. */
			memmove(r->rbuf, r->rbuf + r->rnext, r->rlen - r->rnext);
			r->rlen -= r->rnext;
			r->rnext = 0;
		}
		size_t want = TLS_REC_HDR;
		if (r->rlen >= TLS_REC_HDR) {
			ssize_t body = rec_header(r);
			if (body < 0)
				return body;
			want += (size_t)body;
			if (r->rlen >= want) {
				ssize_t n = rec_open(r, (size_t)body, buf, len);
				if (n)
					return n;
				continue;
			}
			want += TLS_REC_HDR;
		}
		if (!r->rbuf && !(r->rbuf = malloc(REC_RBUF)))
			return -ENOMEM;
		ssize_t n = recv(r->fd, r->rbuf + r->rlen, want - r->rlen, 0);
		if (n > 0) {
			r->rlen += (size_t)n;
			continue;
		}
		if (n == 0) {
			/* TCP EOF without close_notify: fine between records. */
			r->rd_state = r->rlen ? -ECONNRESET : 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return rec_fail(r, -1, -ECONNRESET);
		if (!r->rlen) {
			free(r->rbuf); /* idle: keep no buffer */
			r->rbuf = NULL;
		}
		return -EAGAIN;
	}
}
