/*
 * net/cli/http.c: calls to sbxd through libcurl.
 *
 * One easy handle per process, reset before each call. Trust comes from the
 * config: a pinned fingerprint (pin.c), a CA file, or the system store.
 * Bodies of successful answers stream to a sink as they arrive; the body of
 * an error answer is collected (bounded) and turned into one line:
 * "sbx: MESSAGE (CODE, HTTP STATUS)". A progress bar is drawn on stderr
 * only when it is a terminal and the command asked for one.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_http_init(struct cli *c)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	c->curl = curl_easy_init();
	return c->curl ? 0 : -ENOMEM;
}

void cli_http_fini(struct cli *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	curl_global_cleanup();
}

int cli_path_escape(const char *in, char *out, size_t cap, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(out);

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~", *p) ||
			    (keep_slash && *p == '/');
		if (n + (plain ? 1 : 3) + 1 > cap)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
	return 0;
}

struct cli_xfer {
	struct cli *c;
	struct cli_sink *sink;
	int sink_failed;
	time_t last_draw;
	int drew;
};

static size_t cli_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct cli_xfer *x = arg;
	struct cli *c = x->c;
	size_t len = size * nmemb;
	long status = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300) {
		size_t room = sizeof(c->err_body) - 1 - c->err_len;
		size_t n = len < room ? len : room;
		memcpy(c->err_body + c->err_len, ptr, n);
		c->err_len += n;
		c->err_body[c->err_len] = 0;
		return len;
	}
	if (x->sink && x->sink->data && x->sink->data(x->sink->arg, ptr, len)) {
		x->sink_failed = 1;
		return 0;
	}
	return len;
}

static size_t cli_read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct cli_xfer *x = arg;

	return x->sink->read(x->sink->arg, buf, size * nmemb);
}

static void cli_draw_bar(curl_off_t now, curl_off_t total)
{
	char bar[31];
	int pct = total > 0 ? (int)(now * 100 / total) : 0;
	int fill = pct * 30 / 100;

	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[30] = 0;
	if (total > 0)
		fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MiB", bar, pct, (double)now / 1048576.0,
			(double)total / 1048576.0);
	else
		fprintf(stderr, "\r%.1f MiB", (double)now / 1048576.0);
}

static int cli_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	struct cli_xfer *x = arg;
	time_t t = time(NULL);
	int up = ultotal > 0 || (ulnow > 0 && dlnow == 0);

	if (t == x->last_draw && x->drew)
		return 0;
	x->last_draw = t;
	x->drew = 1;
	cli_draw_bar(up ? ulnow : dlnow, up ? ultotal : dltotal);
	return 0;
}

/* Turns a failed call into one line on stderr. Returns 1. */
static int cli_report(struct cli *c, CURLcode rc, struct cli_xfer *x)
{
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->sink_failed)) {
		if (c->status >= 300 && c->err_len)
			goto http_error;
		if (c->status > 0) /* the answer had started */
			return cli_fail(c, "the answer from %s broke off: %s", c->cfg.url,
					c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
		return cli_fail(c, "cannot reach %s: %s", c->cfg.url,
				c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
	}
	if (rc != CURLE_OK)
		return 1; /* the sink said why */
http_error:;
	json_error_t je;
	json_t *j = json_loadb(c->err_body, c->err_len, 0, &je);
	json_t *e = json_object_get(j, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));
	if (!msg && json_is_string(e))
		msg = json_string_value(e);
	if (!msg)
		msg = c->err_len ? c->err_body : "request failed";
	int r = cli_fail(c, "%s (%s, HTTP %ld)", msg, code ? code : "error", c->status);
	json_decref(j);
	return r;
}

static int cli_perform(struct cli *c, const char *method, const char *path,
		       const char *json, struct cli_sink *sink)
{
	struct curl_slist *h = NULL;
	struct cli_xfer x = { .c = c, .sink = sink };
	char url[CLI_URL_MAX + 8192], line[CLI_TOKEN_MAX + 64];
	CURL *cu = c->curl;

	if (!c->cfg.url[0])
		return cli_fail(c, "no server: run `sbx login URL --token TOKEN` or set SBX_URL");
	snprintf(url, sizeof(url), "%s%s", c->cfg.url, path);
	curl_easy_reset(cu);
	c->status = 0;
	c->err_len = 0;
	c->err_body[0] = 0;
	c->curl_err[0] = 0;
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "sbx-cli/0.1");
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(cu, CURLOPT_VERBOSE, (long)(c->verbose > 1));
	if (c->cfg.fingerprint[0]) {
		curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(cu, CURLOPT_SSL_CTX_FUNCTION, cli_pin_ssl_ctx);
		curl_easy_setopt(cu, CURLOPT_SSL_CTX_DATA, c);
		/* The pin replaces the CA store: without these libcurl still
		 * loads the system bundle and fails where there is none. */
		curl_easy_setopt(cu, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
	} else if (c->cfg.ca[0]) {
		curl_easy_setopt(cu, CURLOPT_CAINFO, c->cfg.ca);
	}
	if (c->cfg.token[0]) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", c->cfg.token);
		h = curl_slist_append(h, line);
	}
	snprintf(line, sizeof(line), "Accept: %s",
		 sink && sink->accept ? sink->accept : "application/json");
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	if (json) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	} else if (sink && sink->read) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 sink->content_type ? sink->content_type : "application/octet-stream");
		h = curl_slist_append(h, line);
		curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, cli_read_cb);
		curl_easy_setopt(cu, CURLOPT_READDATA, &x);
		if (sink->upload_size >= 0)
			curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sink->upload_size);
	} else if (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, cli_write_cb);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &x);
	if (c->progress) {
		curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, cli_progress_cb);
		curl_easy_setopt(cu, CURLOPT_XFERINFODATA, &x);
	}
	CURLcode rc = curl_easy_perform(cu);
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(h);
	if (x.drew) {
		curl_off_t a = 0, b = 0;
		curl_easy_getinfo(cu, sink && sink->read ? CURLINFO_SIZE_UPLOAD_T
							 : CURLINFO_SIZE_DOWNLOAD_T, &a);
		b = a;
		cli_draw_bar(a, b);
		fputc('\n', stderr);
	}
	if (rc != CURLE_OK || c->status >= 300)
		return cli_report(c, rc, &x);
	return 0;
}

int cli_call_stream(struct cli *c, const char *method, const char *path,
		    json_t *json_body, struct cli_sink *sink)
{
	char *json = json_body ? json_dumps(json_body, JSON_COMPACT) : NULL;

	if (json_body && !json)
		return cli_fail(c, "out of memory");
	int rc = cli_perform(c, method, path, json, sink);
	free(json);
	return rc;
}

struct cli_collect {
	char *buf;
	size_t len, cap;
};

static int cli_collect_data(void *arg, const char *data, size_t len)
{
	struct cli_collect *k = arg;

	if (k->len + len + 1 > k->cap) {
		size_t n = k->cap ? k->cap * 2 : 4096;
		while (n < k->len + len + 1)
			n *= 2;
		char *b = realloc(k->buf, n);
		if (!b)
			return -ENOMEM;
		k->buf = b;
		k->cap = n;
	}
	memcpy(k->buf + k->len, data, len);
	k->len += len;
	k->buf[k->len] = 0;
	return 0;
}

int cli_call_json(struct cli *c, const char *method, const char *path,
		  json_t *body, json_t **out)
{
	struct cli_collect k = { 0 };
	struct cli_sink sink = { .data = cli_collect_data, .arg = &k, .upload_size = -1 };
	int rc = cli_call_stream(c, method, path, body, &sink);

	if (rc) {
		free(k.buf);
		return rc;
	}
	json_t *j = json_null();
	if (k.len) {
		json_error_t je;
		j = json_loadb(k.buf, k.len, 0, &je);
		if (!j) {
			free(k.buf);
			return cli_fail(c, "%s %s: the answer is not JSON", method, path);
		}
	}
	free(k.buf);
	if (out)
		*out = j;
	else
		json_decref(j);
	return 0;
}

int cli_ensure_sandbox(struct cli *c, const char *id)
{
	char path[256] = "/v1/sandboxes/";

	if (cli_path_escape(id, path, sizeof(path), 0))
		return cli_fail(c, "sandbox id too long");
	return cli_call_json(c, "PUT", path, NULL, NULL);
}
