/*
 * net/main.c: the sbxd command line.
 *
 *   sbxd serve --state DIR [--listen 127.0.0.1:8443] [--domain localhost]
 *              [--backend host|vm] [--agent PATH] [--vmm PATH] [--images DIR]
 *              [--cert PEM --key PEM] [--public-port N] [--disk-mib N]
 *              [--no-jail] [--jail-uid-base N]
 *   sbxd token create --tenant NAME [--operator] --state DIR
 *   sbxd token list --state DIR
 *   sbxd token revoke ID --state DIR
 *
 * serve: sets up the state folder, TLS (a self-signed certificate on first
 * start), the token store (the first token is created and printed when there
 * is none), the sandbox table, the listening socket and signals, then runs
 * the event loop until SIGINT/SIGTERM, and stops every sandbox on the way out.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/agent.h"
#include "net/api_system.h"
#include "net/conn.h"
#include "net/sandbox.h"
#include "net/sbxd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sbxd serve --state DIR [options]\n"
		"       sbxd token create --tenant NAME [--operator] --state DIR\n"
		"       sbxd token list --state DIR\n"
		"       sbxd token revoke ID --state DIR\n"
		"\n"
		"serve options:\n"
		"  --state DIR        state folder (tokens, sandboxes, TLS key)\n"
		"  --listen ADDR:PORT HTTPS listen address (default 127.0.0.1:8443)\n"
		"  --domain NAME      preview URL domain (default localhost)\n"
		"  --backend host|vm  sandbox runtime (default vm; host is for tests)\n"
		"  --agent PATH       sbx-init, for --backend host\n"
		"  --vmm PATH         sbx-vmm, for --backend vm\n"
		"  --images DIR       guest kernel, initramfs, rootfs, for --backend vm\n"
		"  --cert PEM --key PEM  certificate (default: self-signed in STATE/tls)\n"
		"  --public-port N    port shown in preview URLs (default: the listen port)\n"
		"  --disk-mib N       workspace disk size for new VM sandboxes (default 4096)\n"
		"  --run-dir DIR      sockets of running sandboxes (default STATE/run)\n"
		"  --net-alias G=H:LO[-HI]  sandboxes reach host address H ports LO..HI\n"
		"                     at guest address G (e.g. 10.0.2.100=127.0.0.1:8000-8999)\n"
		"  --no-net           no network device in any sandbox\n"
		"  --jail-uid-base N  first uid/gid of jailed VMMs, one per running\n"
		"                     VM (default 200000; must be unused on the host)\n"
		"  --no-jail          run VMMs unjailed, as sbxd's user (development)\n"
		"  --update-hook PATH POST /v1/system/update runs PATH FILE (appliance)\n"
		"  --update-hook-timeout S  the hook is killed after S seconds (default 600)\n"
		"token create: --operator  the token may also manage the box (/v1/system)\n");
}

static int main_listen(struct sbxd *d)
{
	char host[256];
	const char *l = d->cfg.listen;
	const char *colon = strrchr(l, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;

	if (!colon || (size_t)(colon - l) >= sizeof(host))
		return -EINVAL;
	memcpy(host, l, (size_t)(colon - l));
	host[colon - l] = 0;
	if (host[0] == '[') { /* [::1]:8443 */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai))
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 512)) {
		int e = -errno;
		close(fd);
		freeaddrinfo(ai);
		return e;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		int e = -errno;
		close(fd);
		return e;
	}
	d->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	d->listen_w.fd = fd;
	d->listen_w.cb = conn_accept;
	return loop_add(&d->loop, &d->listen_w, EPOLLIN);
}

/*
 * The first SIGTERM/SIGINT: no new clients, the connected ones are cut, and
 * every sandbox stops at once through the loop (its guest syncs, SIGTERM,
 * SIGKILL after the grace), so fifty VMs take as long as the slowest one,
 * not fifty times as long. The loop ends when all are stopped (main_tick)
 * or at the deadline; a second signal ends it now.
 */
static void main_drain(struct sbxd *d)
{
	printf("sbxd: stopping every sandbox\n");
	fflush(stdout);
	if (d->listen_w.fd >= 0) {
		if (!d->accept_paused)
			loop_del(&d->loop, &d->listen_w);
		close(d->listen_w.fd);
		d->listen_w.fd = -1;
	}
	conn_close_all(d);
	d->draining = 1;
	d->drain_deadline_ms = loop_now_ms() + SANDBOX_FLUSH_MS + SANDBOX_TERM_MS + 2000;
	sandbox_stop_all(d);
}

static void main_on_signal(struct loop_watch *w, uint32_t events)
{
	struct sbxd *d = (struct sbxd *)((char *)w - offsetof(struct sbxd, signal_w));
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM)
			continue;
		if (d->draining)
			d->loop.stop = 1;
		else
			main_drain(d);
	}
}

static void main_tick(void *arg, uint64_t now_ms)
{
	struct sbxd *d = arg;

	conn_tick(d, now_ms);
	agent_tick(d);
	if (now_ms) {
		sandbox_tick(d, now_ms);
		api_system_tick(d, now_ms);
	}
	if (d->draining && (sandbox_all_stopped(d) || loop_now_ms() > d->drain_deadline_ms))
		d->loop.stop = 1;
}

static int main_serve(struct sbxd *d)
{
	int rc;
	sigset_t ss;

	if (!d->cfg.state_dir) {
		fprintf(stderr, "sbxd: --state DIR is required\n");
		return 2;
	}
	if (!strcmp(d->cfg.backend, "host")) {
		d->backend = &backend_host;
		if (!d->cfg.agent || access(d->cfg.agent, X_OK)) {
			fprintf(stderr, "sbxd: --backend host needs --agent PATH-to-sbx-init\n");
			return 2;
		}
	} else if (!strcmp(d->cfg.backend, "vm")) {
		d->backend = &backend_vm;
		if (!d->cfg.images)
			fprintf(stderr, "sbxd: warning: no --images: sandboxes cannot boot\n");
		/* Said once, here: every VMM then runs with sbxd's own rights. */
		if (d->cfg.no_jail)
			fprintf(stderr, "sbxd: warning: --no-jail: VMMs run unjailed\n");
		else if (geteuid() != 0)
			fprintf(stderr, "sbxd: warning: not root, so VMMs cannot be "
					"jailed: they run unjailed as uid %d\n", (int)geteuid());
	} else {
		fprintf(stderr, "sbxd: unknown backend %s\n", d->cfg.backend);
		return 2;
	}
	mkdir(d->cfg.state_dir, 0700);
	signal(SIGPIPE, SIG_IGN);
	/* Two descriptors per stream (client, agent): take all we may. */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rc = loop_init(&d->loop))) {
		fprintf(stderr, "sbxd: epoll: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = tls_server_init(&d->tls, d->cfg.state_dir, d->cfg.domain, d->cfg.cert,
				  d->cfg.key))) {
		/* mbedTLS errors were printed already; this covers the others
		 * (no memory, a file that cannot be written) */
		fprintf(stderr, "sbxd: tls: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = auth_load(&d->auth, d->cfg.state_dir)) ||
	    (rc = sandbox_table_load(d))) {
		fprintf(stderr, "sbxd: state: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = main_listen(d))) {
		fprintf(stderr, "sbxd: listen %s: %s\n", d->cfg.listen, strerror(-rc));
		return 1;
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	d->signal_w.fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	d->signal_w.cb = main_on_signal;
	loop_add(&d->loop, &d->signal_w, EPOLLIN);

	printf("sbxd: listening on https://%s (port %u), backend %s\n", d->cfg.listen,
	       d->port, d->backend->name);
	printf("sbxd: certificate SHA-256 fingerprint %s\n", d->tls.fingerprint);
	if (d->auth.n == 0) {
		char tok[AUTH_TOKEN_LEN + 1];
		if (!auth_create(&d->auth, "default", tok)) {
			printf("sbxd: first token (tenant \"default\"), shown once:\n%s\n", tok);
			explicit_bzero(tok, sizeof(tok));
		}
	}
	fflush(stdout);

	d->loop.tick = main_tick;
	d->loop.tick_arg = d;
	rc = loop_run(&d->loop);

	printf("sbxd: stopping\n");
	conn_close_all(d);
	agent_tick(d);
	sandbox_table_fini(d);
	auth_free(&d->auth);
	tls_server_fini(&d->tls);
	if (d->listen_w.fd >= 0)
		close(d->listen_w.fd);
	close(d->signal_w.fd);
	loop_fini(&d->loop);
	return rc ? 1 : 0;
}

static int main_token(struct sbxd *d, int argc, char **argv, const char *tenant,
		      int operator)
{
	struct auth a;
	int rc;

	if (!d->cfg.state_dir || optind >= argc) {
		usage(stderr);
		return 2;
	}
	mkdir(d->cfg.state_dir, 0700);
	if ((rc = auth_load(&a, d->cfg.state_dir))) {
		fprintf(stderr, "sbxd: %s\n", strerror(-rc));
		return 1;
	}
	const char *cmd = argv[optind];
	if (!strcmp(cmd, "create")) {
		char tok[AUTH_TOKEN_LEN + 1];
		if (!tenant) {
			fprintf(stderr, "sbxd: token create needs --tenant NAME\n");
			rc = -EINVAL;
		} else if ((rc = auth_create_role(&a, tenant, operator, tok))) {
			fprintf(stderr, "sbxd: token create: %s\n", strerror(-rc));
		} else {
			printf("%s\n", tok);
			explicit_bzero(tok, sizeof(tok));
		}
	} else if (!strcmp(cmd, "list")) {
		printf("%-14s %-24s %-21s %s\n", "ID", "TENANT", "CREATED", "ROLE");
		for (size_t i = 0; i < a.n; i++)
			printf("%-14s %-24s %-21s %s\n", a.v[i].id, a.v[i].tenant,
			       a.v[i].created, a.v[i].operator ? "operator" : "tenant");
	} else if (!strcmp(cmd, "revoke") && optind + 1 < argc) {
		rc = auth_revoke(&a, argv[optind + 1]);
		if (rc)
			fprintf(stderr, "sbxd: token revoke: %s\n", strerror(-rc));
	} else {
		usage(stderr);
		rc = -EINVAL;
	}
	auth_free(&a);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, 0, 's' },
		{ "listen", required_argument, 0, 'l' },
		{ "domain", required_argument, 0, 'd' },
		{ "backend", required_argument, 0, 'b' },
		{ "images", required_argument, 0, 'i' },
		{ "agent", required_argument, 0, 'a' },
		{ "vmm", required_argument, 0, 'v' },
		{ "cert", required_argument, 0, 'c' },
		{ "key", required_argument, 0, 'k' },
		{ "tenant", required_argument, 0, 't' },
		{ "public-port", required_argument, 0, 'p' },
		{ "disk-mib", required_argument, 0, 'm' },
		{ "run-dir", required_argument, 0, 'R' },
		{ "net-alias", required_argument, 0, 'A' },
		{ "no-net", no_argument, 0, 'N' },
		{ "update-hook", required_argument, 0, 'H' },
		{ "update-hook-timeout", required_argument, 0, 'T' },
		{ "operator", no_argument, 0, 'O' },
		{ "no-jail", no_argument, 0, 'J' },
		{ "jail-uid-base", required_argument, 0, 'U' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	static struct sbxd d; /* large (TLS state): not on the stack */
	const char *tenant = NULL;
	int token_operator = 0;
	int o;

	d.cfg = (struct sbxd_config){
		.listen = "127.0.0.1:8443",
		.domain = "localhost",
		.backend = "vm",
		.vmm = "sbx-vmm",
	};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's': d.cfg.state_dir = optarg; break;
		case 'l': d.cfg.listen = optarg; break;
		case 'd': d.cfg.domain = optarg; break;
		case 'b': d.cfg.backend = optarg; break;
		case 'i': d.cfg.images = optarg; break;
		case 'a': d.cfg.agent = optarg; break;
		case 'v': d.cfg.vmm = optarg; break;
		case 'c': d.cfg.cert = optarg; break;
		case 'k': d.cfg.key = optarg; break;
		case 't': tenant = optarg; break;
		case 'p': d.cfg.public_port = (unsigned)atoi(optarg); break;
		case 'm': d.cfg.disk_mib = strtoull(optarg, NULL, 10); break;
		case 'R': d.cfg.run_dir = optarg; break;
		case 'A':
			if (sandbox_net_alias(&d.cfg, optarg)) {
				fprintf(stderr, "sbxd: bad --net-alias %s (GUEST=HOST:LO[-HI])\n", optarg);
				return 2;
			}
			break;
		case 'N': sandbox_net_disable(&d.cfg); break;
		case 'H': d.cfg.update_hook = optarg; break;
		case 'T': d.cfg.update_hook_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'O': token_operator = 1; break;
		case 'J': d.cfg.no_jail = 1; break;
		case 'U': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			/* uid 0 is root; the last slot must stay below (uid_t)-1 */
			if (!*optarg || *end || v < 1 || v > 0xfff00000UL) {
				fprintf(stderr, "sbxd: bad --jail-uid-base %s\n", optarg);
				return 2;
			}
			d.cfg.jail_uid_base = (unsigned)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!strcmp(sub, "serve"))
		return main_serve(&d);
	if (!strcmp(sub, "token"))
		return main_token(&d, argc, argv, tenant, token_operator);
	usage(stderr);
	return 2;
}
