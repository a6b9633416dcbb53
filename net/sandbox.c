/*
 * net/sandbox.c: the sandbox table, its file, and start/sleep/stop.
 *
 * Theory of operation: sandboxes are created stopped. sandbox_dial() boots
 * one through the backend when needed and opens an agent connection; every
 * open connection counts as busy. Nothing here waits: a boot (starting) is
 * watched through the backend's ready_fd and pidfd, calls wait in s->waiters
 * meanwhile. The tick puts a sandbox to sleep once it has been idle (not
 * busy) for sleepAfter, unless keepAlive: a stop (stopping) asks the guest
 * to sync (SANDBOX_STOP_FLUSH, an agent call dialed like any other), sends
 * SIGTERM (SANDBOX_STOP_TERM) and SIGKILL after SANDBOX_TERM_MS; the pidfd
 * says when it is gone and sandbox_reap() collects it. Calls that arrive
 * during a stop wait too, and boot it again once it is reaped. The pidfd
 * also tells when a runtime died on its own: before it was ever ready, a VM
 * is booted once more (a guest crash under load) before its waiters fail;
 * after, the sandbox is marked stopped (crashed) and the next request boots.
 * A sandbox destroyed while its runtime runs leaves the table at once, its
 * folder moved to STATE/trash (a new one of the same id starts clean), and
 * is freed once the runtime is reaped. sbxd's own shutdown stops every
 * sandbox with the backend's blocking stop(): nothing else is served then.
 *
 * Dialing a VM: the backend's dial() (vsock_dial) waits for the VMM's "OK"
 * line with the loop blocked, up to seconds when guests are busy, and every
 * client waits meanwhile. For the VM backend, sandbox_dial() instead sends
 * "CONNECT <port>" on a non-blocking socket and returns at once; the loop
 * reads the answer (sandbox_vsock_*) and then attaches the call, like a
 * call that waited for a boot.
 */
#include "net/sandbox.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "guest/proto.h"
#include "hv/vsock_line.h"
#include "net/agent.h"
#include "net/sbxd.h"

#define SANDBOX_VSOCK_PORT 1024u /* the agent's port (backend_vm.c) */
#define SANDBOX_VSOCK_DIAL_MS 30000 /* longest wait for the VMM's "OK" */

uint64_t sandbox_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sandbox_iso_time(uint64_t ms, char *out)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[24];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03uZ", b, (unsigned)(ms % 1000));
}

static void sandbox_paths(struct sbxd *d, struct sandbox *s)
{
	unsigned char h[32];
	char in[160];

	snprintf(in, sizeof(in), "%s/%s", s->tenant, s->id);
	mbedtls_sha256_ret((unsigned char *)in, strlen(in), h, 0);
	for (int i = 0; i < 8; i++)
		snprintf(s->key + 2 * i, 3, "%02x", h[i]);
	snprintf(s->dir, sizeof(s->dir), "%s/sandboxes/%s", d->cfg.state_dir, s->key);
	int n = d->cfg.run_dir
			? snprintf(s->sock, sizeof(s->sock), "%s/%s.sock",
				   d->cfg.run_dir, s->key)
			: snprintf(s->sock, sizeof(s->sock), "%s/run/%s.sock",
				   d->cfg.state_dir, s->key);
	if (n < 0 || (size_t)n >= sizeof(s->sock))
		snprintf(s->sock, sizeof(s->sock), "/tmp/sbxd-%d-%s.sock",
			 (int)getuid(), s->key);
}

struct sandbox *sandbox_find(struct sbxd *d, const char *tenant, const char *id)
{
	for (struct sandbox *s = d->table.head; s; s = s->next)
		if (!strcmp(s->tenant, tenant) && !strcmp(s->id, id))
			return s;
	return NULL;
}

static struct sandbox *sandbox_new(struct sbxd *d, const char *tenant,
				   const char *id)
{
	struct sandbox *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->env = json_object();
	s->limits = json_object();
	s->sleep_after_ms = SANDBOX_DEFAULT_SLEEP_MS;
	s->pidfd = -1;
	s->vmm.pidfd = s->vmm.ready_fd = -1;
	s->pid_w.fd = -1;
	s->ready_fd = -1;
	s->ready_w.fd = -1;
	sandbox_paths(d, s);
	return s;
}

static void sandbox_free(struct sandbox *s)
{
	json_decref(s->env);
	json_decref(s->limits);
	json_decref(s->network);
	free(s);
}

/* Parses a duration: a number of ms, or a string "500ms", "30s", "10m", "2h". */
static int sandbox_duration(json_t *v, uint64_t *ms)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ms = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0) {
		*ms = (uint64_t)json_real_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	const char *str = json_string_value(v);
	char *e;
	errno = 0;
	unsigned long long n = strtoull(str, &e, 10);
	if (e == str || errno)
		return -EINVAL;
	uint64_t mul;
	if (!strcmp(e, "ms") || !*e)
		mul = 1;
	else if (!strcmp(e, "s"))
		mul = 1000;
	else if (!strcmp(e, "m"))
		mul = 60000;
	else if (!strcmp(e, "h"))
		mul = 3600000;
	else
		return -EINVAL;
	if (n > UINT64_MAX / mul)
		return -EINVAL;
	*ms = n * mul;
	return 0;
}


/* --- networking --------------------------------------------------------- */

/* The operator's settings (sbxd serve --net-alias, --no-net) live in cfg. */
void sandbox_net_disable(struct sbxd_config *cfg)
{
	cfg->no_net = 1;
}

/* "1.2.3.4" or "[::1]"/"::1" (v6 only when v6 is nonzero). 0 or -EINVAL. */
static int net_addr(const char *s, size_t n, int v6, char *out, size_t cap)
{
	unsigned char bin[16];
	char buf[64];

	if (v6 && n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf) || n >= cap)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, bin) != 1 &&
	    (!v6 || inet_pton(AF_INET6, buf, bin) != 1))
		return -EINVAL;
	memcpy(out, buf, n + 1);
	return 0;
}

/* A port 1..65535 of decimal digits, n bytes. */
static int net_port(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

int sandbox_net_alias(struct sbxd_config *cfg, const char *spec)
{
	char guest[64], host[64];
	unsigned lo, hi;

	if (!spec)
		return -EINVAL;
	const char *eq = strchr(spec, '=');
	const char *colon = eq ? strrchr(eq, ':') : NULL;
	if (!eq || !colon || colon < eq + 1)
		return -EINVAL;
	if (net_addr(spec, (size_t)(eq - spec), 0, guest, sizeof(guest)) ||
	    net_addr(eq + 1, (size_t)(colon - eq - 1), 1, host, sizeof(host)))
		return -EINVAL;
	const char *ports = colon + 1, *dash = strchr(ports, '-');
	if (dash) {
		if (net_port(ports, (size_t)(dash - ports), &lo) ||
		    net_port(dash + 1, strlen(dash + 1), &hi) || hi < lo)
			return -EINVAL;
	} else {
		if (net_port(ports, strlen(ports), &lo))
			return -EINVAL;
		hi = lo;
	}
	snprintf(cfg->net_alias, sizeof(cfg->net_alias), "alias %s %s %u-%u",
		 guest, host, lo, hi);
	return 0;
}

/* A CIDR ("10.0.0.0/8", "2001:db8::/32", a bare address) or a domain
 * ("example.com", "*.example.com"), as the VMM's egress policy parses them
 * (net/usernet/policy.c), but stricter. 1 if valid. */
static int net_target_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 253)
		return 0;
	const char *slash = strchr(t, '/');
	char addr[64];
	if (!net_addr(t, slash ? (size_t)(slash - t) : n, 1, addr, sizeof(addr))) {
		if (!slash)
			return 1;
		unsigned max = strchr(addr, ':') ? 128 : 32, v = 0;
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return 0;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return 0;
			v = v * 10 + (unsigned)(*p - '0');
		}
		return v <= max;
	}
	if (slash)
		return 0;
	size_t i = 0, label = 0;
	if (n > 2 && t[0] == '*' && t[1] == '.')
		i = 2;
	if (t[n - 1] == '.')
		n--;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '.') {
			if (label == 0 || t[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '_' || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && t[n - 1] != '-';
}

/* Validates a "network" value into a complete object (internet, allow,
 * deny) built on cur (NULL: the default): present keys replace, null
 * resets. New reference, or NULL with *why. */
static json_t *net_settings(json_t *cur, json_t *v, const char **why)
{
	static const char *const lists[] = { "allow", "deny" };
	json_t *out;
	const char *k;
	json_t *val;

	if (json_is_null(v))
		return json_pack("{s:b,s:[],s:[]}", "internet", 1, "allow", "deny");
	if (!json_is_object(v)) {
		*why = "network must be an object {internet, allow, deny}";
		return NULL;
	}
	json_object_foreach(v, k, val) {
		if (strcmp(k, "internet") && strcmp(k, "allow") && strcmp(k, "deny")) {
			*why = "network takes only internet, allow and deny";
			return NULL;
		}
	}
	val = json_object_get(v, "internet");
	if (val && !json_is_boolean(val)) {
		*why = "network.internet must be a boolean";
		return NULL;
	}
	for (int l = 0; l < 2; l++) {
		json_t *arr = json_object_get(v, lists[l]);
		size_t i;
		json_t *e;
		if (!arr)
			continue;
		if (!json_is_array(arr) || json_array_size(arr) > SANDBOX_NET_MAX_LIST) {
			*why = "network.allow and network.deny must be arrays of at most 32 strings";
			return NULL;
		}
		json_array_foreach(arr, i, e) {
			if (!json_is_string(e) || !net_target_ok(json_string_value(e))) {
				*why = "network.allow and network.deny take CIDRs "
				       "(\"203.0.113.0/24\"), addresses or domains "
				       "(\"example.com\", \"*.example.com\")";
				return NULL;
			}
		}
	}
	out = cur ? json_deep_copy(cur)
		  : json_pack("{s:b,s:[],s:[]}", "internet", 1, "allow", "deny");
	if (!out) {
		*why = "out of memory";
		return NULL;
	}
	json_object_foreach(v, k, val) {
		json_object_set_new(out, k, json_deep_copy(val));
	}
	return out;
}

int sandbox_net_rules(const struct sbxd_config *cfg, const struct sandbox *s,
		      char rules[][SANDBOX_NET_RULE_MAX])
{
	static const char *const lists[] = { "allow", "deny" };
	int n = 0;

	if (cfg->no_net)
		return -1;
	json_t *net = s->network;
	json_t *inet = net ? json_object_get(net, "internet") : NULL;
	snprintf(rules[n++], SANDBOX_NET_RULE_MAX, "internet %s",
		 inet && json_is_false(inet) ? "off" : "on");
	for (int l = 0; l < 2 && net; l++) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(net, lists[l]), i, e) {
			if (n >= SANDBOX_NET_MAX_RULES - 1 || !json_is_string(e))
				break;
			snprintf(rules[n++], SANDBOX_NET_RULE_MAX, "%s %s", lists[l],
				 json_string_value(e));
		}
	}
	if (cfg->net_alias[0])
		snprintf(rules[n++], SANDBOX_NET_RULE_MAX, "%s", cfg->net_alias);
	return n;
}

int sandbox_apply(struct sandbox *s, json_t *opts, const char **why)
{
	json_t *v;

	if (!opts)
		return 0;
	if (!json_is_object(opts)) {
		*why = "body must be a JSON object";
		return -EINVAL;
	}
	v = json_object_get(opts, "env");
	if (!v)
		v = json_object_get(opts, "envVars");
	if (v) {
		const char *k;
		json_t *val;
		if (!json_is_object(v)) {
			*why = "env must be an object of strings";
			return -EINVAL;
		}
		json_object_foreach(v, k, val) {
			if ((!json_is_string(val) && !json_is_null(val)) || !*k ||
			    strchr(k, '=')) {
				*why = "env must be an object of strings";
				return -EINVAL;
			}
		}
		json_object_foreach(v, k, val) {
			if (json_is_null(val))
				json_object_del(s->env, k);
			else
				json_object_set(s->env, k, val);
		}
	}
	v = json_object_get(opts, "sleepAfter");
	if (v) {
		uint64_t ms;
		if (sandbox_duration(v, &ms) || ms < 1000) {
			*why = "sleepAfter must be ms >= 1000 or a string like \"10m\"";
			return -EINVAL;
		}
		s->sleep_after_ms = ms;
	}
	v = json_object_get(opts, "keepAlive");
	if (v) {
		if (!json_is_boolean(v)) {
			*why = "keepAlive must be a boolean";
			return -EINVAL;
		}
		s->keep_alive = json_is_true(v);
	}
	v = json_object_get(opts, "limits");
	if (v) {
		if (!json_is_object(v)) {
			*why = "limits must be an object";
			return -EINVAL;
		}
		json_object_update(s->limits, v);
	}
	v = json_object_get(opts, "network");
	if (v) {
		json_t *net = net_settings(s->network, v, why);
		if (!net)
			return -EINVAL;
		json_decref(s->network);
		s->network = net;
	}
	return 0;
}

json_t *sandbox_json(struct sbxd *d, struct sandbox *s)
{
	json_t *ports = json_array();
	char url[512];

	for (int i = 0; i < s->nports; i++) {
		snprintf(url, sizeof(url), "https://%u-%s-%s.%s:%u/", s->ports[i].port,
			 s->id, s->ports[i].token, d->cfg.domain,
			 d->cfg.public_port ? d->cfg.public_port : d->port);
		json_array_append_new(ports, json_pack("{s:i,s:s,s:s,s:s}", "port",
						       (int)s->ports[i].port, "url", url,
						       "name", s->ports[i].name, "status", "active"));
	}
	json_t *net = s->network ? json_incref(s->network)
				 : json_pack("{s:b,s:[],s:[]}", "internet", 1, "allow", "deny");
	return json_pack("{s:s,s:s,s:s,s:O,s:I,s:b,s:O,s:o,s:o}", "id", s->id, "status",
			 s->running ? "running" : "stopped", "createdAt", s->created,
			 "env", s->env, "sleepAfter", (json_int_t)s->sleep_after_ms,
			 "keepAlive", s->keep_alive, "limits", s->limits,
			 "network", net, "exposedPorts", ports);
}

int sandbox_table_save(struct sbxd *d)
{
	json_t *arr = json_array();
	char tmp[4200];

	for (struct sandbox *s = d->table.head; s; s = s->next) {
		json_t *ports = json_array();
		for (int i = 0; i < s->nports; i++)
			json_array_append_new(ports, json_pack("{s:i,s:s,s:s}", "port",
							       (int)s->ports[i].port, "token",
							       s->ports[i].token, "name",
							       s->ports[i].name));
		json_t *o = json_pack("{s:s,s:s,s:s,s:O,s:O,s:I,s:b,s:o}",
				      "tenant", s->tenant, "id", s->id,
				      "created", s->created, "env", s->env,
				      "limits", s->limits, "sleepAfter",
				      (json_int_t)s->sleep_after_ms,
				      "keepAlive", s->keep_alive, "ports", ports);
		if (o && s->network)
			json_object_set(o, "network", s->network);
		json_array_append_new(arr, o);
	}
	json_t *root = json_pack("{s:i,s:o}", "version", 1, "sandboxes", arr);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->table.path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_decref(root);
		return -errno;
	}
	int rc = json_dumpfd(root, fd, JSON_INDENT(1));
	json_decref(root);
	if (rc || fsync(fd) || close(fd)) {
		unlink(tmp);
		return -EIO;
	}
	return rename(tmp, d->table.path) ? -errno : 0;
}

static int sandbox_rm_one(const char *path, const struct stat *st, int flag,
			  struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* rm -rf path. */
static void sandbox_rm_tree(const char *path)
{
	nftw(path, sandbox_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* Socket folders of VMs destroyed while they ran (backend_vm.c's retire:
 * RUN/KEY.dead.N) that an earlier sbxd had no time to remove. */
static void sandbox_rm_dead_folders(const char *run)
{
	char path[4400];
	struct dirent *e;
	DIR *dir = opendir(run);

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (!strstr(e->d_name, ".dead."))
			continue;
		int n = snprintf(path, sizeof(path), "%s/%s", run, e->d_name);
		if (n > 0 && (size_t)n < sizeof(path))
			sandbox_rm_tree(path);
	}
	closedir(dir);
}

int sandbox_table_load(struct sbxd *d)
{
	json_error_t jerr;
	char dir[4200];

	snprintf(d->table.path, sizeof(d->table.path), "%s/sandboxes.json",
		 d->cfg.state_dir);
	snprintf(dir, sizeof(dir), "%s/sandboxes", d->cfg.state_dir);
	mkdir(dir, 0700);
	/* Sockets live apart from the state when asked: a state folder on a
	 * file system without sockets (9p, some network mounts) still works. */
	if (d->cfg.run_dir)
		snprintf(dir, sizeof(dir), "%s", d->cfg.run_dir);
	else
		snprintf(dir, sizeof(dir), "%s/run", d->cfg.state_dir);
	mkdir(dir, 0700);
	sandbox_rm_dead_folders(dir);
	/* Folders of sandboxes destroyed while they ran (sandbox_to_trash) that
	 * an earlier sbxd had no time to remove. */
	snprintf(dir, sizeof(dir), "%s/trash", d->cfg.state_dir);
	sandbox_rm_tree(dir);
	mkdir(dir, 0700);
	if (access(d->table.path, F_OK))
		return 0;
	json_t *root = json_load_file(d->table.path, 0, &jerr);
	if (!root) {
		fprintf(stderr, "sbxd: %s: %s\n", d->table.path, jerr.text);
		return -EINVAL;
	}
	json_t *arr = json_object_get(root, "sandboxes");
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		const char *tn = json_string_value(json_object_get(o, "tenant"));
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *why;
		if (!tn || !id)
			continue;
		struct sandbox *s = sandbox_new(d, tn, id);
		if (!s)
			break;
		snprintf(s->created, sizeof(s->created), "%s",
			 json_string_value(json_object_get(o, "created")) ?: "");
		json_t *opts = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "env",
					 json_object_get(o, "env"), "limits",
					 json_object_get(o, "limits"), "sleepAfter",
					 json_object_get(o, "sleepAfter"), "keepAlive",
					 json_object_get(o, "keepAlive"), "network",
					 json_object_get(o, "network"));
		sandbox_apply(s, opts, &why);
		json_decref(opts);
		size_t j;
		json_t *p;
		json_array_foreach(json_object_get(o, "ports"), j, p) {
			if (s->nports >= SANDBOX_MAX_PORTS)
				break;
			struct sandbox_port *sp = &s->ports[s->nports];
			const char *tok = json_string_value(json_object_get(p, "token"));
			const char *nm = json_string_value(json_object_get(p, "name"));
			sp->port = (unsigned)json_integer_value(json_object_get(p, "port"));
			if (!tok || !sp->port)
				continue;
			snprintf(sp->token, sizeof(sp->token), "%s", tok);
			snprintf(sp->name, sizeof(sp->name), "%s", nm ? nm : "");
			s->nports++;
		}
		s->next = d->table.head;
		d->table.head = s;
		d->table.count++;
	}
	json_decref(root);
	return 0;
}

int sandbox_create(struct sbxd *d, const char *tenant, const char *id,
		   json_t *opts, struct sandbox **out)
{
	const char *why;
	struct sandbox *s = sandbox_find(d, tenant, id);

	if (s) {
		*out = s;
		return -EEXIST;
	}
	s = sandbox_new(d, tenant, id);
	if (!s)
		return -ENOMEM;
	sandbox_iso_time(sandbox_wall_ms(), s->created);
	if (sandbox_apply(s, opts, &why)) {
		sandbox_free(s);
		return -EINVAL;
	}
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		int e = -errno;
		sandbox_free(s);
		return e;
	}
	int rc = d->backend->prepare(d, s);
	if (rc) {
		d->backend->destroy(d, s);
		sandbox_free(s);
		return rc;
	}
	s->next = d->table.head;
	d->table.head = s;
	d->table.count++;
	rc = sandbox_table_save(d);
	*out = s;
	return rc;
}

/* --- asynchronous vsock dial (VM backend) ------------------------------ */

struct sandbox_vsock_dial {
	struct loop_watch w;
	struct sandbox *s;
	struct agent_call *a;
	struct sandbox_vsock_dial *next;
	uint64_t deadline_ms;
	size_t got;
	char line[VSOCK_LINE_MAX];
};

static int sandbox_vsock_async(struct sbxd *d)
{
	return d->backend == &backend_vm;
}

/* An ended dial whose event is still in the loop's current batch. */
static void sandbox_vsock_gone(struct loop_watch *w, uint32_t events)
{
}

/* Unlinks dl from its sandbox and frees it after the loop's batch; closes
 * its socket unless keep_fd. */
static void sandbox_vsock_end(struct sbxd *d, struct sandbox_vsock_dial *dl, int keep_fd)
{
	for (struct sandbox_vsock_dial **pp = &dl->s->dials; *pp; pp = &(*pp)->next) {
		if (*pp == dl) {
			*pp = dl->next;
			break;
		}
	}
	loop_del(&d->loop, &dl->w);
	if (!keep_fd)
		close(dl->w.fd);
	dl->w.fd = -1;
	dl->w.cb = sandbox_vsock_gone;
	sbxd_defer_free(d, dl);
}

static void sandbox_vsock_fail(struct sbxd *d, struct sandbox_vsock_dial *dl, int err)
{
	struct agent_call *a = dl->a;

	sandbox_vsock_end(d, dl, 0);
	agent_call_fail(a, err);
}

/* The VMM's answer: read a byte at a time, so nothing after the line is
 * taken from the agent's stream. */
static void sandbox_vsock_on_event(struct loop_watch *w, uint32_t events)
{
	struct sandbox_vsock_dial *dl = (struct sandbox_vsock_dial *)w;
	struct sbxd *d = dl->s->d;
	uint32_t port;

	while (dl->got < sizeof(dl->line)) {
		ssize_t n = read(w->fd, dl->line + dl->got, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break; /* the VMM refused (closed) */
		dl->got++;
		int r = vsock_line_ok(dl->line, dl->got, &port);
		if (r < 0)
			break;
		if (r > 0) {
			struct agent_call *a = dl->a;
			int fd = w->fd;
			sandbox_vsock_end(d, dl, 1);
			agent_call_attach(a, fd);
			return;
		}
	}
	sandbox_vsock_fail(d, dl, -ECONNREFUSED);
}

/* Connects to the VMM's socket and sends CONNECT; a is attached (or
 * failed) from the loop later. 0 or -errno (nothing was queued). */
static int sandbox_vsock_start(struct sbxd *d, struct sandbox *s, struct agent_call *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[32];
	int n = snprintf(req, sizeof(req), "CONNECT %u\n", SANDBOX_VSOCK_PORT);

	if (strlen(s->sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->sock);
	struct sandbox_vsock_dial *dl = calloc(1, sizeof(*dl));
	if (!dl)
		return -ENOMEM;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -errno : 0;
	/* a Unix socket connects at once, or fails (EAGAIN: backlog full) */
	if (!rc && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = -errno;
	if (!rc && send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		rc = -EIO;
	dl->w.fd = fd;
	dl->w.cb = sandbox_vsock_on_event;
	if (!rc)
		rc = loop_add(&d->loop, &dl->w, EPOLLIN);
	if (rc) {
		if (fd >= 0)
			close(fd);
		free(dl);
		return rc;
	}
	dl->s = s;
	dl->a = a;
	dl->deadline_ms = loop_now_ms() + SANDBOX_VSOCK_DIAL_MS;
	dl->next = s->dials;
	s->dials = dl;
	return 0;
}

/* Fails every pending dial of s (stopped, destroyed) or, with now_ms,
 * those past their deadline (moved by the loop's stalls, see loop.h). */
static void sandbox_vsock_expire(struct sbxd *d, struct sandbox *s, uint64_t now_ms, int err)
{
	struct sandbox_vsock_dial *dl;

	for (dl = s->dials; dl; dl = dl->next)
		dl->deadline_ms += d->loop.stalled_ms;
	/* From the head again after each failure: its callback may have
	 * ended or started other dials of s. */
	for (;;) {
		for (dl = s->dials; dl && now_ms && now_ms <= dl->deadline_ms; dl = dl->next)
			;
		if (!dl)
			return;
		sandbox_vsock_fail(d, dl, err);
	}
}

/* Opens the agent connection of a running sandbox for a: the fd, or
 * -EINPROGRESS (dialing; attached later), or -errno. */
static int sandbox_dial_running(struct sbxd *d, struct sandbox *s, struct agent_call *a)
{
	if (sandbox_vsock_async(d)) {
		int rc = sandbox_vsock_start(d, s, a);
		return rc ? rc : -EINPROGRESS;
	}
	int fd = d->backend->dial(d, s);
	if (fd < 0)
		return fd;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}


/* --- lifecycle: boot, exit, stop ----------------------------------------- */

static void sandbox_on_exit(struct loop_watch *w, uint32_t events);
static void sandbox_on_ready(struct loop_watch *w, uint32_t events);

static void sandbox_unwatch(struct sbxd *d, struct sandbox *s)
{
	if (s->pid_w.fd >= 0)
		loop_del(&d->loop, &s->pid_w);
	s->pid_w.fd = -1;
}

static void sandbox_unwatch_ready(struct sbxd *d, struct sandbox *s)
{
	if (s->ready_w.fd >= 0)
		loop_del(&d->loop, &s->ready_w);
	s->ready_w.fd = -1;
}

/* Watches the pidfd of the runtime (or boot step) of s and, with ready,
 * its ready_fd while it boots. Without a pidfd (old kernels) the tick polls
 * a stop. */
static void sandbox_watch(struct sbxd *d, struct sandbox *s, int ready)
{
	if (s->pidfd >= 0 && s->pid_w.fd < 0) {
		s->pid_w.fd = s->pidfd;
		s->pid_w.cb = sandbox_on_exit;
		if (loop_add(&d->loop, &s->pid_w, EPOLLIN))
			s->pid_w.fd = -1;
	}
	if (ready && s->starting && s->ready_fd >= 0 && s->ready_w.fd < 0) {
		s->ready_w.fd = s->ready_fd;
		s->ready_w.cb = sandbox_on_ready;
		if (loop_add(&d->loop, &s->ready_w, EPOLLIN))
			s->ready_w.fd = -1;
	}
}

/* Fails every waiting call (they answer 503). */
static void sandbox_fail_waiters(struct sandbox *s, int err)
{
	while (s->waiters) {
		struct agent_call *a = s->waiters;
		s->waiters = a->next_wait;
		a->next_wait = NULL;
		agent_call_fail(a, err);
	}
}

/* A boot that calls were waiting for could not start: said in the log,
 * and to them as "could not boot" (-ECHILD). */
static void sandbox_boot_failed(struct sandbox *s, const char *what, int rc)
{
	fprintf(stderr, "sbxd: sandbox %s/%s: %s: %s\n", s->tenant, s->id, what,
		strerror(-rc));
	snprintf(s->boot_error, sizeof(s->boot_error), "%s: %s", what, strerror(-rc));
	s->starting = 0;
	sandbox_fail_waiters(s, -ECHILD);
}

/* Starts the next step of a boot (struct backend_ops: a step such as mkfs,
 * or the runtime) and watches it. 0 or -errno (nothing runs then). */
static int sandbox_boot_step(struct sbxd *d, struct sandbox *s)
{
	int pending = 0;

	s->start_deadline_ms = 0;
	int rc = d->backend->start(d, s, &pending);
	if (rc) {
		s->starting = 0;
		return rc;
	}
	if (pending) {
		s->starting = 1;
		if (!s->start_deadline_ms) /* the backend may set its own */
			s->start_deadline_ms = loop_now_ms() + SANDBOX_BOOT_MS;
	} else {
		s->starting = 0;
		s->running = 1;
	}
	sandbox_watch(d, s, 1);
	return 0;
}

/* Boots a stopped sandbox: a new boot attempt. 0 or -errno. */
static int sandbox_boot(struct sbxd *d, struct sandbox *s)
{
	s->crashed = 0;
	s->boot_retried = 0;
	s->boot_error[0] = 0;
	s->default_ctx[0][0] = s->default_ctx[1][0] = 0;
	return sandbox_boot_step(d, s);
}

/* The phase after the guest's sync: SIGTERM, SIGKILL at the deadline. */
static void sandbox_stop_term(struct sbxd *d, struct sandbox *s)
{
	s->stop_phase = SANDBOX_STOP_TERM;
	s->stop_deadline_ms = loop_now_ms() + SANDBOX_TERM_MS;
	d->backend->signal(d, s, SIGTERM);
}

/* Ends the guest's sync, answered or not, and goes on to SIGTERM. */
static void sandbox_flush_end(struct sbxd *d, struct sandbox *s)
{
	struct agent_call *a = s->flush;

	if (!a)
		return;
	s->flush = NULL;
	agent_call_close(a);
	if (s->stopping && s->stop_phase == SANDBOX_STOP_FLUSH)
		sandbox_stop_term(d, s);
}

static void sandbox_flush_on_frame(struct agent_call *a, const struct proto_frame *f)
{
	struct sandbox *s = a->arg;

	if (s->flush == a && (f->type == PROTO_EXIT || f->type == PROTO_ERROR))
		sandbox_flush_end(s->d, s);
}

static void sandbox_flush_on_close(struct agent_call *a, int err)
{
	struct sandbox *s = a->arg;

	if (s->flush == a)
		sandbox_flush_end(s->d, s);
}

/*
 * Asks the guest to write its page cache to the workspace disk, as
 * PROTO_EXEC "sync", through the asynchronous vsock dial: what user code
 * wrote with ordinary writes is otherwise still in guest memory, and a
 * sleep would lose it. The answer (or SANDBOX_FLUSH_MS) ends the phase.
 * 0, or -errno when it could not even start.
 */
static int sandbox_flush_start(struct sbxd *d, struct sandbox *s)
{
	uint8_t buf[PROTO_HDR_LEN + 64];
	struct proto_builder b;
	struct agent_call *a = agent_call_new(d, s, s);

	if (!a)
		return -ENOMEM;
	a->on_frame = sandbox_flush_on_frame;
	a->on_close = sandbox_flush_on_close;
	s->busy++; /* agent_call_close() releases it */
	proto_build_begin(&b, buf, sizeof(buf), PROTO_EXEC);
	proto_put_str(&b, PT_ARG, "sync");
	proto_put_u32(&b, PT_TIMEOUT_MS, (uint32_t)SANDBOX_FLUSH_MS);
	int n = proto_build_end(&b);
	int rc = n > 0 ? agent_call_send(a, buf, (size_t)n) : -EINVAL;
	if (!rc)
		rc = sandbox_vsock_start(d, s, a);
	if (rc) {
		a->on_close = NULL;
		agent_call_close(a);
		return rc;
	}
	s->flush = a;
	s->stop_phase = SANDBOX_STOP_FLUSH;
	s->stop_deadline_ms = loop_now_ms() + SANDBOX_FLUSH_MS;
	return 0;
}

/*
 * Begins to stop the runtime of s (running or booting): with flush, the
 * guest syncs first. Waiting calls of a boot are failed with -ECHILD.
 * Returns at once; sandbox_on_exit() ends the stop.
 */
static void sandbox_halt(struct sbxd *d, struct sandbox *s, int flush)
{
	sandbox_vsock_expire(d, s, 0, -EPIPE); /* none may outlive the runtime */
	if (s->stopping || (!s->running && !s->starting))
		return;
	sandbox_unwatch_ready(d, s);
	flush = flush && s->running && d->backend->flush;
	if (s->starting) {
		s->starting = 0;
		sandbox_fail_waiters(s, -ECHILD);
	}
	s->running = 0;
	s->crashed = 0;
	s->stopping = 1;
	if (flush && !sandbox_flush_start(d, s))
		return;
	sandbox_stop_term(d, s);
}

void sandbox_stop(struct sbxd *d, struct sandbox *s)
{
	sandbox_halt(d, s, 1);
}

void sandbox_stop_all(struct sbxd *d)
{
	for (struct sandbox *s = d->table.head; s; s = s->next)
		sandbox_halt(d, s, 1);
	for (struct sandbox *s = d->table.dying; s; s = s->next)
		sandbox_halt(d, s, 0); /* destroyed: nothing to keep */
}

int sandbox_all_stopped(const struct sbxd *d)
{
	for (const struct sandbox *s = d->table.head; s; s = s->next)
		if (s->running || s->starting || s->stopping)
			return 0;
	return d->table.dying == NULL;
}

/* Forgets s for good: its runtime is gone. Frees it after the batch. */
static void sandbox_bury(struct sbxd *d, struct sandbox *s)
{
	for (struct sandbox **pp = &d->table.dying; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	sandbox_fail_waiters(s, -ENOENT);
	int rc = d->backend->destroy(d, s);
	if (rc)
		fprintf(stderr, "sbxd: %s: %s\n", s->dir, strerror(-rc));
	json_decref(s->env);
	json_decref(s->limits);
	json_decref(s->network);
	sbxd_defer_free(d, s); /* later events of this batch may name its watches */
}

/* The runtime of s is reaped and the stop done: a destroyed sandbox goes,
 * calls that came meanwhile boot it again. */
static void sandbox_stopped(struct sbxd *d, struct sandbox *s)
{
	s->stopping = 0;
	s->stop_phase = 0;
	sandbox_flush_end(d, s);
	if (s->doomed) {
		sandbox_bury(d, s);
		return;
	}
	if (d->draining) { /* sbxd is stopping: nothing boots again */
		sandbox_fail_waiters(s, -ESHUTDOWN);
		return;
	}
	if (!s->waiters)
		return;
	int rc = sandbox_boot(d, s);
	if (rc)
		sandbox_boot_failed(s, "boot after a stop failed", rc);
}

/* A boot that died before it was ready: boot it once more, or give up. */
static void sandbox_boot_died(struct sbxd *d, struct sandbox *s, int status)
{
	const char *how;
	int code = sbx_vmm_exit_decode(status, &how);
	int again = d->backend->boot_retry && s->waiters && !s->boot_retried &&
		    (code == SBX_VMM_EXIT_CRASH || code == SBX_VMM_EXIT_REBOOT);

	if (!d->backend->boot_retry) /* an agent's own exit status */
		how = WIFEXITED(status) ? "exit status" : "killed by signal";
	fprintf(stderr, "sbxd: sandbox %s/%s: its %s exited before it was ready (%s %d)%s\n",
		s->tenant, s->id, d->backend->boot_retry ? "VM" : "agent", how,
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		again ? ": booting it again"
		      : s->boot_retried ? ", the second time: giving up" : "");
	if (again) {
		s->boot_retried = 1;
		int rc = sandbox_boot_step(d, s);
		if (rc)
			sandbox_boot_failed(s, "boot again failed", rc);
		return;
	}
	snprintf(s->boot_error, sizeof(s->boot_error),
		 "its %s exited before it was ready (%s %d)%s",
		 d->backend->boot_retry ? "VM" : "agent", how,
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		 s->boot_retried ? ", twice" : "");
	s->starting = 0;
	s->crashed = 1;
	sandbox_fail_waiters(s, -ECHILD);
}

/* The runtime (or boot step) of s exited, with wait status: asked to
 * (a stop), as a step of the boot, or on its own. */
static void sandbox_exited(struct sbxd *d, struct sandbox *s, int status)
{
	int prep = s->prep;

	s->prep = 0;
	if (s->stopping) {
		sandbox_stopped(d, s);
		return;
	}
	if (s->starting && prep) {
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			sandbox_boot_failed(s, "formatting its workspace failed", -EIO);
			return;
		}
		int rc = sandbox_boot_step(d, s);
		if (rc)
			sandbox_boot_failed(s, "boot failed", rc);
		return;
	}
	if (s->starting) {
		sandbox_boot_died(d, s, status);
		return;
	}
	fprintf(stderr, "sbxd: sandbox %s/%s: runtime exited unexpectedly\n",
		s->tenant, s->id);
	s->running = 0;
	s->crashed = 1;
	sandbox_vsock_expire(d, s, 0, -EPIPE);
}

/* Reaps the runtime of s if it exited (its fds leave the loop first).
 * 1 if it did, 0 while it runs. */
static int sandbox_reap(struct sbxd *d, struct sandbox *s)
{
	int watched = s->ready_w.fd >= 0, status = 0;

	sandbox_unwatch(d, s);
	sandbox_unwatch_ready(d, s);
	if (d->backend->reap(d, s, &status) == 0) {
		sandbox_watch(d, s, watched);
		return 0;
	}
	sandbox_exited(d, s, status);
	return 1;
}

/* The pidfd of the runtime became readable: it exited. */
static void sandbox_on_exit(struct loop_watch *w, uint32_t events)
{
	struct sandbox *s = (struct sandbox *)((char *)w - offsetof(struct sandbox, pid_w));

	if (w->fd >= 0) /* else an event of this batch for a watch ended in it */
		sandbox_reap(s->d, s);
}

/* The boot finished (or failed): connect the waiting calls. */
static void sandbox_booted(struct sbxd *d, struct sandbox *s, int rc)
{
	sandbox_unwatch_ready(d, s);
	if (rc < 0) {
		fprintf(stderr, "sbxd: sandbox %s/%s: boot failed: %s\n", s->tenant,
			s->id, strerror(-rc));
		snprintf(s->boot_error, sizeof(s->boot_error), "%s",
			 rc == -ETIMEDOUT ? "its guest was not ready in time" : strerror(-rc));
		sandbox_fail_waiters(s, rc);
		sandbox_halt(d, s, 0);
		return;
	}
	s->starting = 0;
	s->running = 1;
	s->last_used_ms = loop_now_ms();
	while (s->waiters) {
		struct agent_call *a = s->waiters;
		s->waiters = a->next_wait;
		a->next_wait = NULL;
		int fd = sandbox_dial_running(d, s, a);
		if (fd == -EINPROGRESS)
			continue;
		if (fd < 0)
			agent_call_fail(a, fd);
		else
			agent_call_attach(a, fd);
	}
}

static void sandbox_on_ready(struct loop_watch *w, uint32_t events)
{
	struct sandbox *s = (struct sandbox *)((char *)w - offsetof(struct sandbox, ready_w));
	struct sbxd *d = s->d;

	if (w->fd < 0 || !s->starting)
		return; /* an event of this batch for a watch ended in it */
	int rc = d->backend->check_ready(d, s);
	if (rc == 0)
		return;
	if (rc == -ECHILD && s->pid_w.fd >= 0) {
		/* exiting: its pidfd tells how (sandbox_on_exit) */
		sandbox_unwatch_ready(d, s);
		return;
	}
	sandbox_booted(d, s, rc > 0 ? 0 : rc);
}

/* Moves the folder of a destroyed sandbox whose runtime still runs to
 * STATE/trash, and forgets its socket, so a new sandbox of the same id
 * starts clean while the old runtime is stopped. 0 or -errno. */
static int sandbox_to_trash(struct sbxd *d, struct sandbox *s)
{
	char trash[sizeof(s->dir)];
	static unsigned seq;
	int n = snprintf(trash, sizeof(trash), "%s/trash/%s.%u", d->cfg.state_dir,
			 s->key, ++seq);

	if (n < 0 || (size_t)n >= sizeof(trash))
		return -ENAMETOOLONG;
	if (rename(s->dir, trash) < 0)
		return -errno;
	memcpy(s->dir, trash, (size_t)n + 1);
	if (d->backend->retire) {
		d->backend->retire(d, s);
	} else {
		unlink(s->sock); /* the old runtime keeps its socket open, unnamed */
		s->sock[0] = 0;
	}
	return 0;
}

int sandbox_destroy(struct sbxd *d, struct sandbox *s)
{
	for (struct sandbox **pp = &d->table.head; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			d->table.count--;
			break;
		}
	}
	int rc = sandbox_table_save(d);
	s->next = d->table.dying;
	d->table.dying = s;
	s->doomed = 1;
	if (!s->running && !s->starting && !s->stopping) {
		sandbox_bury(d, s);
		return rc;
	}
	int e = sandbox_to_trash(d, s);
	if (e) {
		/* cannot move it aside: stop it here and now, as sbxd did once */
		fprintf(stderr, "sbxd: sandbox %s/%s: to trash: %s\n", s->tenant, s->id,
			strerror(-e));
		sandbox_unwatch(d, s);
		sandbox_unwatch_ready(d, s);
		sandbox_vsock_expire(d, s, 0, -EPIPE);
		sandbox_flush_end(d, s);
		s->running = 0; /* no sync: its files go */
		d->backend->stop(d, s);
		s->running = s->starting = s->stopping = 0;
		sandbox_bury(d, s);
		return rc;
	}
	if (s->stopping)
		sandbox_flush_end(d, s); /* no need to keep its files now */
	else
		sandbox_halt(d, s, 0);
	return rc;
}

/* Stops s and waits (sbxd's shutdown: nothing else is served now). */
static void sandbox_fini_one(struct sbxd *d, struct sandbox *s)
{
	sandbox_vsock_expire(d, s, 0, -EPIPE);
	sandbox_unwatch(d, s);
	sandbox_unwatch_ready(d, s);
	if (s->flush) {
		struct agent_call *a = s->flush;
		s->flush = NULL;
		agent_call_close(a);
	}
	if (s->running || s->starting || s->stopping)
		d->backend->stop(d, s);
	s->running = s->starting = s->stopping = 0;
	if (s->doomed)
		d->backend->destroy(d, s);
	sandbox_free(s);
}

void sandbox_table_fini(struct sbxd *d)
{
	struct sandbox *s, *n;

	for (s = d->table.head; s; s = n) {
		n = s->next;
		sandbox_fini_one(d, s);
	}
	for (s = d->table.dying; s; s = n) {
		n = s->next;
		sandbox_fini_one(d, s);
	}
	d->table.head = d->table.dying = NULL;
}

int sandbox_dial(struct sbxd *d, struct sandbox *s, struct agent_call *a)
{
	int rc;

	if (!s->running && !s->starting && !s->stopping) {
		rc = sandbox_boot(d, s);
		if (rc)
			return rc;
	}
	s->busy++;
	s->last_used_ms = loop_now_ms();
	if (s->starting || s->stopping) {
		/* wait: for the boot, or for the stop and then a boot */
		a->next_wait = s->waiters;
		s->waiters = a;
		return -EINPROGRESS;
	}
	rc = sandbox_dial_running(d, s, a);
	if (rc < 0 && rc != -EINPROGRESS)
		s->busy--;
	return rc;
}

void sandbox_unwait(struct sandbox *s, struct agent_call *a)
{
	for (struct agent_call **pp = &s->waiters; *pp; pp = &(*pp)->next_wait) {
		if (*pp == a) {
			*pp = a->next_wait;
			a->next_wait = NULL;
			return;
		}
	}
	for (struct sandbox_vsock_dial *dl = s->dials; dl; dl = dl->next) {
		if (dl->a == a) {
			sandbox_vsock_end(s->d, dl, 0);
			return;
		}
	}
}

const char *sandbox_boot_message(const struct sandbox *s, char *buf, size_t cap)
{
	snprintf(buf, cap, "the sandbox could not boot%s%s", s->boot_error[0] ? ": " : "",
		 s->boot_error);
	return buf;
}

void sandbox_release(struct sbxd *d, struct sandbox *s)
{
	if (s->busy)
		s->busy--;
	s->last_used_ms = loop_now_ms();
}

/* The deadlines of a stop: the guest's sync, then SIGTERM's grace. */
static void sandbox_stop_tick(struct sbxd *d, struct sandbox *s, uint64_t now_ms)
{
	s->stop_deadline_ms += d->loop.stalled_ms;
	if (s->pid_w.fd < 0 && sandbox_reap(d, s))
		return; /* no pidfd: polled */
	if (now_ms <= s->stop_deadline_ms)
		return;
	switch (s->stop_phase) {
	case SANDBOX_STOP_FLUSH:
		fprintf(stderr, "sbxd: sandbox %s/%s: the guest did not sync in %llu ms; "
			"stopping it anyway\n", s->tenant, s->id,
			(unsigned long long)SANDBOX_FLUSH_MS);
		sandbox_flush_end(d, s);
		break;
	case SANDBOX_STOP_TERM:
		fprintf(stderr, "sbxd: sandbox %s/%s: still running %llu ms after SIGTERM: "
			"SIGKILL\n", s->tenant, s->id, (unsigned long long)SANDBOX_TERM_MS);
		s->stop_phase = SANDBOX_STOP_KILL;
		d->backend->signal(d, s, SIGKILL);
		break;
	}
}

void sandbox_tick(struct sbxd *d, uint64_t now_ms)
{
	struct sandbox *s, *n;

	for (s = d->table.dying; s; s = n) {
		n = s->next; /* s may be buried */
		if (s->stopping)
			sandbox_stop_tick(d, s, now_ms);
	}
	for (s = d->table.head; s; s = s->next) {
		if (s->stopping) {
			sandbox_stop_tick(d, s, now_ms);
			continue;
		}
		/* a boot is not charged for time the loop was stuck (loop.h) */
		if (s->starting)
			s->start_deadline_ms += d->loop.stalled_ms;
		sandbox_vsock_expire(d, s, now_ms, -ECONNREFUSED);
		if (s->starting && now_ms > s->start_deadline_ms) {
			sandbox_booted(d, s, -ETIMEDOUT);
			continue;
		}
		if (!s->running || s->keep_alive || s->busy)
			continue;
		/* last_used_ms may be a little after now_ms: a call closed
		 * earlier in this tick (conn_tick) stamped it since. */
		if (now_ms > s->last_used_ms &&
		    now_ms - s->last_used_ms >= s->sleep_after_ms) {
			fprintf(stderr, "sbxd: sandbox %s/%s: idle, going to sleep\n",
				s->tenant, s->id);
			sandbox_stop(d, s);
		}
	}
}

struct sandbox_port *sandbox_find_preview(struct sbxd *d, const char *id,
					  unsigned port, const char *token,
					  struct sandbox **sb)
{
	for (struct sandbox *s = d->table.head; s; s = s->next) {
		if (strcasecmp(s->id, id))
			continue;
		for (int i = 0; i < s->nports; i++) {
			struct sandbox_port *p = &s->ports[i];
			if (p->port == port && strlen(token) == strlen(p->token) &&
			    auth_ct_equal(token, p->token, strlen(p->token))) {
				*sb = s;
				return p;
			}
		}
	}
	return NULL;
}
