/*
 * tests/unit/hv_cpu.c: the crash report of a vCPU without KVM: the register
 * dump's format (cpu_x86_format_state), its note on AMD's reset state, its
 * bounds; vcpu_crash's report (console tail, internal-error data) and its
 * guest-RAM dump to --crash-dump; and that the seccomp allowlists let a vCPU
 * thread make the report's KVM_GET_* ioctls instead of killing the VMM.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"
#include "tests/lib/check.h"

static void test_format(void)
{
	struct kvm_regs r = { .rip = 0xffffffff81e0a123ULL, .rsp = 0xffffffff82003f58ULL,
			      .rflags = 0x10046, .rsi = 0x7000 };
	struct kvm_sregs s = { .cr0 = 0x80050033, .cr2 = 0xffffc90000001000ULL,
			       .cr3 = 0x260c000, .cr4 = 0x3406f0, .efer = 0xd01 };
	struct kvm_vcpu_events e = { 0 };
	char buf[2048];
	int n;

	s.cs.selector = 0x10;
	s.cs.l = 1;
	s.cs.present = 1;
	s.ss.selector = 0x18;
	s.idt.base = 0xfffffe0000000000ULL;
	s.idt.limit = 0xfff;
	s.gdt.base = 0xfffffe0000001000ULL;
	s.gdt.limit = 0x7f;
	e.exception.injected = 1;
	e.exception.nr = 14;
	e.exception.has_error_code = 1;
	e.exception.error_code = 2;
	n = cpu_x86_format_state(buf, sizeof(buf), "vcpu 0:", &r, &s, &e);
	CHECK(n > 0 && n < (int)sizeof(buf));
	CHECK_EQ(strlen(buf), n);
	CHECK(strstr(buf, "vcpu 0: rip ffffffff81e0a123 rsp ffffffff82003f58 ") != NULL);
	CHECK(strstr(buf, "rflags 10046") != NULL);
	CHECK(strstr(buf, "cr0 80050033 cr2 ffffc90000001000 cr3 260c000 cr4 3406f0") != NULL);
	CHECK(strstr(buf, "efer d01") != NULL);
	CHECK(strstr(buf, "cs 0010 base 0") != NULL);
	CHECK(strstr(buf, "ss 0018") != NULL);
	CHECK(strstr(buf, "idt fffffe0000000000/fff") != NULL);
	CHECK(strstr(buf, "gdt fffffe0000001000/7f") != NULL);
	CHECK(strstr(buf, "exception injected 1 pending 0 nr 14 error 2") != NULL);
	CHECK(strstr(buf, "reset state") == NULL);
	/* every line carries the prefix */
	{
		const char *p = buf;
		int lines = 0;

		while (*p) {
			CHECK(!strncmp(p, "vcpu 0:", 7));
			p = strchr(p, '\n');
			if (!p)
				break;
			p++;
			lines++;
		}
		CHECK(lines >= 6);
	}
}

/* After SHUTDOWN, KVM on AMD has INITed the vCPU: the report says so. */
static void test_format_reset_state(void)
{
	struct kvm_regs r = { .rip = 0xfff0, .rflags = 2 };
	struct kvm_sregs s = { .cr0 = 0x60000010 };
	char buf[2048];

	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	cpu_x86_format_state(buf, sizeof(buf), "p:", &r, &s, NULL);
	CHECK(strstr(buf, "rip fff0") != NULL);
	CHECK(strstr(buf, "reset state") != NULL);
	CHECK(strstr(buf, "exception") == NULL);
}

/* A small buffer is filled, never overrun, and stays a string. */
static void test_format_bounds(void)
{
	struct kvm_regs r = { .rip = 1 };
	struct kvm_sregs s = { 0 };
	struct kvm_vcpu_events e = { 0 };
	char buf[64 + 8];
	int n;

	memset(buf, 'X', sizeof(buf));
	n = cpu_x86_format_state(buf, 64, "pfx:", &r, &s, &e);
	CHECK(n <= 63);
	CHECK_EQ(strlen(buf), n);
	CHECK(!memcmp(buf + 64, "XXXXXXXX", 8));
	CHECK_EQ(cpu_x86_format_state(buf, 0, "pfx:", &r, &s, &e), 0);
	CHECK_EQ(cpu_x86_format_state(buf, sizeof(buf), "pfx:", NULL, NULL, NULL), 0);
}

/* vcpu_crash with stderr redirected to a file; returns what it printed. */
static char *crash_report(struct vcpu *v, const char *what, int *code)
{
	static char out[8192];
	char path[] = "/tmp/hv_cpu_err.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	memset(out, 0, sizeof(out));
	if (fd < 0 || saved < 0)
		return out;
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	*code = vcpu_crash(v, what);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	if (n < 0)
		n = 0;
	out[n] = 0;
	close(fd);
	return out;
}

static void test_crash_report_and_dump(void)
{
	static struct vm vm;
	static struct kvm_run run;
	struct vcpu *v = &vm.vcpu[0];
	char path[] = "/tmp/hv_cpu_dump.XXXXXX";
	const char *msg = "[    0.1] booting\r\nlast \"words\"\n";
	uint8_t *back;
	char *out;
	size_t i;
	int fd, code = -1;

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	CHECK_EQ(vm_mem_init(&vm.mem, 4 << 20), 0);
	CHECK_EQ(serial_init(&vm, &vm.serial, -1, -1), 0);
	for (i = 0; i < strlen(msg); i++) {
		uint8_t c = (uint8_t)msg[i];

		serial_io(&vm.serial, 0, &c, 1, 1);
	}
	for (i = 0; i < vm.mem.size; i += 4096)
		vm.mem.host[i] = (uint8_t)(i >> 12);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	vm.crash_fd = fd;
	v->vm = &vm;
	v->id = 0;
	v->fd = -1; /* no KVM: the GETs fail and the report says so */
	v->run = &run;
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.internal.suberror = 1;
	run.internal.ndata = 2;
	run.internal.data[0] = 0xabc;
	run.internal.data[1] = 0xf4cc0f;
	out = crash_report(v, "KVM internal error 1", &code);
	CHECK_EQ(code, SBX_VMM_EXIT_CRASH);
	CHECK(strstr(out, "sbx-vmm: vcpu 0: KVM internal error 1\n") != NULL);
	CHECK(strstr(out, "sbx-vmm: vcpu 0: no regs sregs events\n") != NULL);
	CHECK(strstr(out, "sbx-vmm: vcpu 0: internal data abc f4cc0f\n") != NULL);
	CHECK(strstr(out, "console tail: \"[    0.1] booting\\x0d\\x0alast \\x22words\\x22\\x0a\"\n") != NULL);
	CHECK(strstr(out, "4194304 bytes of guest RAM in --crash-dump") != NULL);
	CHECK_EQ(vm.crash_fd, -1); /* taken: a second crash dumps nothing */
	back = malloc(vm.mem.size);
	CHECK(back != NULL);
	if (back) {
		int rfd = open(path, O_RDONLY);

		CHECK(rfd >= 0);
		CHECK_EQ(read(rfd, back, vm.mem.size), (ssize_t)vm.mem.size);
		CHECK(!memcmp(back, vm.mem.host, vm.mem.size));
		close(rfd);
		free(back);
	}
	run.exit_reason = KVM_EXIT_SHUTDOWN;
	out = crash_report(v, "triple fault", &code);
	CHECK(strstr(out, "sbx-vmm: vcpu 0: triple fault\n") != NULL);
	CHECK(strstr(out, "internal data") == NULL);
	CHECK(strstr(out, "guest RAM") == NULL);
	unlink(path);
	vm_mem_free(&vm.mem);
}

/* A vCPU thread under both allowlists makes the report's ioctls: they fail
 * (no such fd) instead of the VMM dying by SIGSYS mid-report. */
static void test_seccomp_allows_report(void)
{
	int st = 0;
	pid_t pid;

#if defined(__SANITIZE_ADDRESS__)
	SKIP("ASan build: seccomp_install() is a no-op");
	return;
#endif
	pid = fork();
	if (pid == 0) {
		struct kvm_regs r;
		struct kvm_sregs s;
		struct kvm_vcpu_events e;

		if (seccomp_install() || seccomp_install_vcpu())
			_exit(100);
		if (ioctl(-1, KVM_GET_REGS, &r) == 0 || ioctl(-1, KVM_GET_SREGS, &s) == 0 ||
		    ioctl(-1, KVM_GET_VCPU_EVENTS, &e) == 0)
			_exit(101);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		printf("  killed by signal %d\n", WTERMSIG(st));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

int main(void)
{
	TEST(test_format);
	TEST(test_format_reset_state);
	TEST(test_format_bounds);
	TEST(test_crash_report_and_dump);
	TEST(test_seccomp_allows_report);
	return check_exit();
}
