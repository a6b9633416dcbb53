/*
 * tests/fuzz/tls_record_fuzz.c: libFuzzer target for the TLS record reader
 * (net/tls_record.c), which sees untrusted bytes right after the handshake.
 *
 * A server record layer reads from one end of a socketpair. The input is a
 * cipher byte, then operations: raw bytes onto the wire, records sealed by
 * a client record layer with the same key block (any type, any length, so
 * the reader gets past authentication), the same with a flipped byte,
 * reads with small and large buffers, server writes, and draining what the
 * server sent. Checked: whatever the reader returns is the next part of
 * the application data the client sealed, and nothing comes after an EOF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls_record.h"

#define FZ_STREAM (1 << 20)

static unsigned char fz_kb[2 * 32 + 2 * 12];
static unsigned char fz_rec[TLS_REC_HDR + 8 + TLS_REC_MAX_PLAIN + TLS_REC_TAG];
static unsigned char fz_plain[TLS_REC_MAX_PLAIN + 2048];
static unsigned char fz_expect[FZ_STREAM];
static unsigned char fz_got[TLS_REC_MAX_PLAIN];

struct fz {
	const uint8_t *p;
	size_t left;
};

static unsigned fz_byte(struct fz *f)
{
	if (!f->left)
		return 0;
	f->left--;
	return *f->p++;
}

static void fz_send(int fd, const unsigned char *b, size_t n)
{
	ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
	(void)w; /* a full socket drops the rest: the stream just breaks */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct tls_record srv, cli;
	size_t keylen, ivlen, explen = 0, got = 0;
	int sv[2], eof = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < sizeof(fz_kb); i++)
		fz_kb[i] = (unsigned char)(i * 7 + 1);
	enum tls_rec_cipher c = (enum tls_rec_cipher)(fz_byte(&f) % 3);
	keylen = c == TLS_REC_AES128_GCM ? 16 : 32;
	ivlen = c == TLS_REC_CHACHA20_POLY1305 ? 12 : 4;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		return 0;
	if (tls_record_init(&srv, sv[0], c, 1, fz_kb, keylen, ivlen, 1, 1, TLS_REC_MAX_PLAIN) ||
	    tls_record_init(&cli, sv[1], c, 0, fz_kb, keylen, ivlen, 1, 1, TLS_REC_MAX_PLAIN))
		abort();

	while (f.left) {
		unsigned op = fz_byte(&f) % 6;
		if (op == 0) { /* raw bytes */
			size_t n = fz_byte(&f);
			n = n < f.left ? n : f.left;
			fz_send(sv[1], f.p, n);
			f.p += n, f.left -= n;
		} else if (op == 1 || op == 2) { /* a sealed record, maybe tampered */
			unsigned t = fz_byte(&f);
			unsigned char type = t < 200 ? (unsigned char)(20 + t % 4) : (unsigned char)t;
			size_t len = (fz_byte(&f) << 8 | fz_byte(&f)) % (TLS_REC_MAX_PLAIN + 1);
			size_t have = len < f.left ? len : f.left;
			memset(fz_plain, 0, len);
			memcpy(fz_plain, f.p, have);
			f.p += have, f.left -= have;
			ssize_t n = tls_record_seal(&cli, type, fz_plain, len, fz_rec);
			if (n < 0)
				abort();
			if (op == 2)
				fz_rec[fz_byte(&f) * 97 % (size_t)n] ^= (unsigned char)(1 + fz_byte(&f) % 255);
			else if (type == TLS_REC_APPDATA && explen + len <= FZ_STREAM)
				memcpy(fz_expect + explen, fz_plain, len), explen += len;
			else if (type == TLS_REC_APPDATA)
				explen = FZ_STREAM + 1; /* no longer tracked */
			fz_send(sv[1], fz_rec, (size_t)n);
		} else if (op == 3) { /* read */
			unsigned b = fz_byte(&f);
			size_t len = b == 255 ? sizeof(fz_got) : b + 1;
			ssize_t r = tls_record_read(&srv, fz_got, len);
			if (r > (ssize_t)len || (r > 0 && eof))
				abort();
			if (r > 0 && explen <= FZ_STREAM) {
				if (got + (size_t)r > explen || memcmp(fz_expect + got, fz_got, (size_t)r))
					abort();
				got += (size_t)r;
			}
			if (r == 0)
				eof = 1;
		} else if (op == 4) { /* server writes */
			ssize_t w = tls_record_write(&srv, fz_plain, fz_byte(&f) * 64);
			(void)w;
		} else { /* drain what the server sent */
			ssize_t n;
			do
				n = recv(sv[1], fz_rec, sizeof(fz_rec), 0);
			while (n > 0);
		}
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 64; i++) {
		ssize_t r = tls_record_read(&srv, fz_got, sizeof(fz_got));
		if (r > 0 && (eof || (explen <= FZ_STREAM &&
				      (got + (size_t)r > explen ||
				       memcmp(fz_expect + got, fz_got, (size_t)r)))))
			abort();
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	tls_record_fini(&srv);
	tls_record_fini(&cli);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
