/*
 * net/tls_record.h: the TLS 1.2 record layer for application data, after
 * the handshake, with OpenSSL libcrypto's AEAD (EVP).
 *
 * mbedTLS 2.28 does the handshake (net/tls.c); its record cipher is slow
 * (GCM one block per call, ChaCha20-Poly1305 in plain C), so once the
 * handshake is done tls.c hands the key block and the sequence numbers to
 * a struct tls_record, which then reads and writes the socket itself:
 * AES-128-GCM, AES-256-GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905).
 * Buffers are allocated while data is in flight and freed when empty, so
 * an idle connection holds only its two cipher contexts. Single-threaded;
 * keys are wiped when freed.
 */
#ifndef SBX_NET_TLS_RECORD_H
#define SBX_NET_TLS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TLS_REC_HDR 5
#define TLS_REC_MAX_PLAIN 16384
#define TLS_REC_TAG 16
/* Content types (RFC 5246 6.2.1) and the alerts this layer sends. */
#define TLS_REC_CCS 20
#define TLS_REC_ALERT 21
#define TLS_REC_HANDSHAKE 22
#define TLS_REC_APPDATA 23
#define TLS_ALERT_CLOSE_NOTIFY 0
#define TLS_ALERT_UNEXPECTED 10
#define TLS_ALERT_BAD_RECORD_MAC 20
#define TLS_ALERT_RECORD_OVERFLOW 22
#define TLS_ALERT_DECODE_ERROR 50
#define TLS_ALERT_PROTOCOL_VERSION 70

enum tls_rec_cipher {
	TLS_REC_AES128_GCM,
	TLS_REC_AES256_GCM,
	TLS_REC_CHACHA20_POLY1305,
};

struct evp_cipher_ctx_st; /* OpenSSL's EVP_CIPHER_CTX */

struct tls_record {
	int fd;
	enum tls_rec_cipher cipher;
	size_t nonce_len;  /* explicit nonce in each record: 8 (GCM) or 0 */
	size_t wr_max;     /* largest plaintext per record we send */
	struct evp_cipher_ctx_st *rd, *wr;
	unsigned char rd_iv[12], wr_iv[12]; /* GCM: 4-byte salt; ChaCha: 12 */
	uint64_t rd_seq, wr_seq;            /* next sequence numbers */

	/* Input: rlen bytes at rbuf. A record being returned spans
	 * [0, rnext); its plaintext waiting for the caller is ptlen bytes at
	 * rbuf + ptoff. Only ever part of one record beyond it is held. */
	unsigned char *rbuf;
	size_t rlen, rnext, ptoff, ptlen;
	unsigned empty; /* consecutive empty records */
	int rd_state;   /* 0, or 1 after close_notify, or -errno */

	/* Output: ciphertext [woff, wlen) of wbuf not yet sent, covering
	 * wplain plaintext bytes the caller will give again. */
	unsigned char *wbuf;
	size_t wcap, wlen, woff, wplain;
	int wr_state; /* 0, or -errno once writing must stop */
};

/*
 * Starts the record layer on connected non-blocking fd. kb is the TLS 1.2
 * key block (RFC 5246 6.3) of an AEAD suite: client_write_key,
 * server_write_key (keylen each), client_write_IV, server_write_IV (ivlen
 * each: 4 for GCM, 12 for ChaCha20-Poly1305); server selects which half is
 * ours. rd_seq/wr_seq: the next sequence numbers; wr_max: the largest
 * plaintext per record (<= 16384, smaller after max_fragment_length).
 * kb is copied. Returns 0, -EINVAL (lengths not of the cipher) or -ENOMEM.
 */
int tls_record_init(struct tls_record *r, int fd, enum tls_rec_cipher cipher,
		    int server, const unsigned char *kb, size_t keylen, size_t ivlen,
		    uint64_t rd_seq, uint64_t wr_seq, size_t wr_max);
/* Frees the cipher contexts and buffers; keys and buffers are wiped. */
void tls_record_fini(struct tls_record *r);

/*
 * Reads application data: returns bytes copied into buf (the rest of a
 * record stays for the next call), 0 after close_notify or TCP EOF at a
 * record boundary, -EAGAIN, -ECONNRESET (peer's alert, or EOF inside a
 * record), -EPROTO (a bad record: an alert is sent, best effort) or
 * -ENOMEM.
 * Whole records are taken from the socket as they are returned, never
 * more, so bytes the event loop would not announce are never left behind.
 */
ssize_t tls_record_read(struct tls_record *r, void *buf, size_t len);
/*
 * Encrypts and sends from the front of buf, as records of at most wr_max.
 * Returns bytes written, -EAGAIN, -EPIPE or -ENOMEM. After -EAGAIN the ciphertext
 * is kept: the caller calls again with the same bytes (len at least as
 * large) and gets the length that ciphertext covered once it is sent.
 */
ssize_t tls_record_write(struct tls_record *r, const void *buf, size_t len);
/* Decrypted bytes waiting for tls_record_read(). */
size_t tls_record_pending(const struct tls_record *r);
/* Sends an alert (level fatal unless close_notify), best effort; after it
 * no application data is written. */
void tls_record_alert(struct tls_record *r, unsigned char desc);

/*
 * Encrypts one record of type type with len (<= 16384) bytes into out,
 * which has room for TLS_REC_HDR + 8 + len + TLS_REC_TAG bytes. Returns
 * the record's length or -EINVAL/-EOVERFLOW (sequence numbers exhausted).
 * For tests and the fuzzer; tls_record_write() uses it.
 */
ssize_t tls_record_seal(struct tls_record *r, unsigned char type,
			const void *in, size_t len, unsigned char *out);

#endif
