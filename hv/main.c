/*
 * hv/main.c: sbx-vmm, one KVM microVM per process.
 *
 * Parses the command line, builds the VM (vmm_build: opens everything),
 * jails itself (jail_enter), installs the seccomp allowlist, then runs the
 * vCPUs and the event loop until the guest powers off or reboots, or a
 * signal arrives. The exit code says which (hv/supervisor.h):
 *   0 poweroff, 1 reboot/panic, 2 VMM error, 3 usage, 4 guest crash, 5 signal.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

static const char usage[] =
	"usage: sbx-vmm --kernel FILE --vsock PATH [options]\n"
	"  --kernel FILE     guest kernel: vmlinux (ELF) or bzImage\n"
	"  --initrd FILE     initramfs\n"
	"  --rootfs FILE     read-only root disk, /dev/vda\n"
	"  --disk FILE       read-write workspace disk, /dev/vdb\n"
	"  --vsock PATH      Unix socket for the guest's vsock (CID 3):\n"
	"                    host connects and sends \"CONNECT <port>\\n\",\n"
	"                    gets \"OK <hostport>\\n\"; guest connections to host\n"
	"                    port P go to PATH_P\n"
	"  --cpus N          vCPUs, 1..32 (default 1)\n"
	"  --mem MIB         guest RAM in MiB (default 512)\n"
	"  --console FILE    append the serial console to FILE\n"
	"  --console-stdout  also copy the console to stdout\n"
	"  --crash-dump FILE on a guest crash, write guest RAM to FILE (raw,\n"
	"                    guest-physical from 0; RAM above 4 GiB follows)\n"
	"  --cmdline TEXT    extra kernel command-line words\n"
	"  --ready-fd FD     write \"ready <usec>\\n\" to FD when the guest is ready\n"
	"  --jail-uid UID    run jailed as UID (default on when root and given)\n"
	"  --jail-gid GID    with --jail-uid (default: UID)\n"
	"  --jail-dir DIR    chroot into DIR in a new mount namespace\n"
	"  --no-jail         do not jail (debugging)\n"
	"  --no-seccomp      do not install the syscall allowlist (debugging)\n"
	"  --net             a virtio-net device (eth0, 10.0.2.15) behind\n"
	"                    user-mode networking (usernet) and its egress policy\n"
	"  --no-net          no network device (the default)\n"
	"  --net-rule TEXT   an egress policy rule, repeatable, applied in order:\n"
	"                    \"internet on|off\", \"allow|deny CIDR|DOMAIN\",\n"
	"                    \"alias GUEST_ADDR HOST_ADDR PORT[-PORT]\"\n"
	"  --help            this text\n"
	"exit status: 0 guest poweroff, 1 guest reboot or panic, 2 VMM error,\n"
	"             3 usage, 4 guest crash (triple fault), 5 stopped by signal\n";

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("sbx-vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static unsigned long parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end)
		die(SBX_VMM_EXIT_USAGE, "bad %s: %s", what, s);
	return v;
}

static void parse_args(int argc, char **argv, struct vmm_config *c)
{
	enum { O_KERNEL = 256, O_INITRD, O_ROOTFS, O_DISK, O_VSOCK, O_CPUS, O_MEM,
	       O_CONSOLE, O_CONSOLE_STDOUT, O_CMDLINE, O_READY, O_JUID, O_JGID,
	       O_JDIR, O_NOJAIL, O_NOSECCOMP, O_NET, O_NONET, O_NETRULE, O_CRASH, O_HELP };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "rootfs", required_argument, NULL, O_ROOTFS },
		{ "disk", required_argument, NULL, O_DISK },
		{ "vsock", required_argument, NULL, O_VSOCK },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "mem", required_argument, NULL, O_MEM },
		{ "console", required_argument, NULL, O_CONSOLE },
		{ "console-stdout", no_argument, NULL, O_CONSOLE_STDOUT },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "ready-fd", required_argument, NULL, O_READY },
		{ "jail-uid", required_argument, NULL, O_JUID },
		{ "jail-gid", required_argument, NULL, O_JGID },
		{ "jail-dir", required_argument, NULL, O_JDIR },
		{ "no-jail", no_argument, NULL, O_NOJAIL },
		{ "no-seccomp", no_argument, NULL, O_NOSECCOMP },
		{ "net", no_argument, NULL, O_NET },
		{ "no-net", no_argument, NULL, O_NONET },
		{ "net-rule", required_argument, NULL, O_NETRULE },
		{ "crash-dump", required_argument, NULL, O_CRASH },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static struct policy scratch; /* checks --net-rule text early */
	int o, nojail = 0;

	policy_init(&scratch);

	*c = (struct vmm_config){ .cpus = 1, .mem_mib = 512, .ready_fd = -1, .seccomp = 1 };
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_KERNEL: c->kernel = optarg; break;
		case O_INITRD: c->initrd = optarg; break;
		case O_ROOTFS: c->rootfs = optarg; break;
		case O_DISK: c->disk = optarg; break;
		case O_VSOCK: c->vsock = optarg; break;
		case O_CPUS: c->cpus = (int)parse_num(optarg, "--cpus"); break;
		case O_MEM: c->mem_mib = parse_num(optarg, "--mem"); break;
		case O_CONSOLE: c->console = optarg; break;
		case O_CONSOLE_STDOUT: c->console_stdout = 1; break;
		case O_CMDLINE: c->cmdline = optarg; break;
		case O_READY: c->ready_fd = (int)parse_num(optarg, "--ready-fd"); break;
		case O_JUID: c->jail_uid = (unsigned)parse_num(optarg, "--jail-uid"); break;
		case O_JGID: c->jail_gid = (unsigned)parse_num(optarg, "--jail-gid"); break;
		case O_JDIR: c->jail_dir = optarg; break;
		case O_NOJAIL: nojail = 1; break;
		case O_NOSECCOMP: c->seccomp = 0; break;
		case O_NET: c->net = 1; break;
		case O_NONET: c->net = 0; break;
		case O_NETRULE:
			if (c->n_net_rules >= VM_MAX_NET_RULES)
				die(SBX_VMM_EXIT_USAGE, "too many --net-rule");
			if (policy_rule(&scratch, optarg))
				die(SBX_VMM_EXIT_USAGE, "bad --net-rule: %s", optarg);
			c->net_rules[c->n_net_rules++] = optarg;
			break;
		case O_CRASH: c->crash_dump = optarg; break;
		case O_HELP: fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(SBX_VMM_EXIT_USAGE);
		}
	}
	if (optind != argc || !c->kernel || !c->vsock) {
		fputs(usage, stderr);
		exit(SBX_VMM_EXIT_USAGE);
	}
	if (c->cpus < 1 || c->cpus > VM_MAX_CPUS)
		die(SBX_VMM_EXIT_USAGE, "--cpus must be 1..%d", VM_MAX_CPUS);
	if (c->mem_mib < 16 || c->mem_mib > (1u << 20))
		die(SBX_VMM_EXIT_USAGE, "--mem must be 16..1048576 MiB");
	if (!c->jail_gid)
		c->jail_gid = c->jail_uid;
	c->jail = !nojail && c->jail_uid > 0 && geteuid() == 0;
	if (c->jail_uid > 0 && !nojail && geteuid() != 0)
		die(SBX_VMM_EXIT_USAGE, "--jail-uid needs root (or use --no-jail)");
}

int main(int argc, char **argv)
{
	static struct vm vm; /* large (vsock scratch); one per process */
	int r, code;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	parse_args(argc, argv, &vm.cfg);
	r = vmm_build(&vm);
	if (r)
		die(SBX_VMM_EXIT_ERROR, "setup: %s", strerror(-r));
	if (vm.cfg.jail && (r = jail_enter(&vm)))
		die(SBX_VMM_EXIT_ERROR, "jail: %s", strerror(-r));
	if (vm.cfg.seccomp && (r = seccomp_install()))
		die(SBX_VMM_EXIT_ERROR, "seccomp: %s", strerror(-r));
	fprintf(stderr, "sbx-vmm: set up in %lld us\n", (long long)vm_uptime_us(&vm));
	code = vmm_run(&vm);
	vmm_free(&vm);
	return code;
}
