/*
 * tests/kvm/hv_payload.c: boots tiny 64-bit payloads through sbx-vmm's real
 * boot path (an ELF "kernel" loaded by boot_load_kernel, zero page, page
 * tables, long-mode sregs) on this machine's /dev/kvm, and checks the exits
 * and device state: serial output, virtio-mmio register window, boot-timer
 * port, i8042 reset, triple fault, SMP with APs waiting for SIPI.
 *
 * The payload (source below, assembled with `as --64` and objcopy -O binary)
 * writes "OK" to COM1, reads MagicValue/Version/DeviceID of virtio-mmio
 * slot 0 and prints 'M', 'V' and '@'+id, checks rsi = zero page ('Z'),
 * writes 1 to port 0x440, then acts by the byte at offset 0x70:
 * 0 poweroff (0x440 <- 2), 1 reboot (0x64 <- 0xfe), 2 triple fault.
 *
 *	mov $0x3f8,%dx; mov $'O',%al; out %al,%dx; mov $'K',%al; out %al,%dx
 *	mov $0xd0000000,%ebx; mov (%rbx),%eax; cmp $0x74726976,%eax; jne 1f
 *	mov $'M',%al; out %al,%dx
 *  1:	mov 4(%rbx),%eax; cmp $2,%eax; jne 2f; mov $'V',%al; out %al,%dx
 *  2:	mov 8(%rbx),%eax; add $'@',%al; out %al,%dx
 *	cmp $0x7000,%rsi; jne 3f; mov $'Z',%al; out %al,%dx
 *  3:	mov $'\n',%al; out %al,%dx
 *	mov $0x440,%dx; mov $1,%al; out %al,%dx
 *	movb action(%rip),%al; cmp $1,%al; je reboot; cmp $2,%al; je crash
 *	mov $2,%al; mov $0x440,%dx; out %al,%dx; hlt
 *  reboot: mov $0xfe,%al; out %al,$0x64; hlt
 *  crash:  lidt idt0(%rip); int3; hlt
 *  idt0: .word 0; .quad 0
 *  action: .byte 0
 */
#include <elf.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asm/bootparam.h>

#include "hv/boot_x86.h"
#include "hv/supervisor.h"
#include "hv/vmm.h"
#include "tests/lib/check.h"

static const unsigned char payload[] = {
	0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0xbb, 0x00,
	0x00, 0x00, 0xd0, 0x8b, 0x03, 0x3d, 0x76, 0x69, 0x72, 0x74, 0x75, 0x03,
	0xb0, 0x4d, 0xee, 0x8b, 0x43, 0x04, 0x83, 0xf8, 0x02, 0x75, 0x03, 0xb0,
	0x56, 0xee, 0x8b, 0x43, 0x08, 0x04, 0x40, 0xee, 0x48, 0x81, 0xfe, 0x00,
	0x70, 0x00, 0x00, 0x75, 0x03, 0xb0, 0x5a, 0xee, 0xb0, 0x0a, 0xee, 0x66,
	0xba, 0x40, 0x04, 0xb0, 0x01, 0xee, 0x8a, 0x05, 0x28, 0x00, 0x00, 0x00,
	0x3c, 0x01, 0x74, 0x0c, 0x3c, 0x02, 0x74, 0x0d, 0xb0, 0x02, 0x66, 0xba,
	0x40, 0x04, 0xee, 0xf4, 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0x0f, 0x01, 0x1d,
	0x02, 0x00, 0x00, 0x00, 0xcc, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00
};
#define ACTION_OFF 0x70

static char dir[] = "/tmp/hv_payload.XXXXXX";
static char kpath[128], vpath[128], rootfs[128], disk[128], console[128];
static int kvm_ok;

static int aligned; /* put the segment at file offset 4096 (mapped, not copied) */

/* Writes an ELF64 "vmlinux" holding the payload at 1 MiB. */
static int write_kernel(int action)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
		unsigned char pad[4096 - sizeof(Elf64_Ehdr) - sizeof(Elf64_Phdr)];
		unsigned char code[sizeof(payload)];
	} img;
	size_t codeoff = aligned ? offsetof(__typeof__(img), code) :
				   sizeof(img.eh) + sizeof(img.ph);
	int fd, ok;

	memset(&img, 0, sizeof(img));
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_ident[EI_VERSION] = EV_CURRENT;
	img.eh.e_type = ET_EXEC;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_version = EV_CURRENT;
	img.eh.e_entry = 0x100000;
	img.eh.e_phoff = sizeof(img.eh);
	img.eh.e_ehsize = sizeof(img.eh);
	img.eh.e_phentsize = sizeof(img.ph);
	img.eh.e_phnum = 1;
	img.ph.p_type = PT_LOAD;
	img.ph.p_offset = codeoff;
	img.ph.p_vaddr = 0xffffffff81000000ULL;
	img.ph.p_paddr = 0x100000;
	img.ph.p_filesz = sizeof(payload);
	img.ph.p_memsz = 0x2000;
	memcpy((unsigned char *)&img + codeoff, payload, sizeof(payload));
	((unsigned char *)&img)[codeoff + ACTION_OFF] = (unsigned char)action;
	fd = open(kpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, &img, codeoff + sizeof(payload)) ==
	     (ssize_t)(codeoff + sizeof(payload));
	close(fd);
	return ok ? 0 : -1;
}

static int boot(struct vm *vm, int action, int cpus, int with_disks)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	if (write_kernel(action))
		return -1;
	vm->cfg = (struct vmm_config){
		.kernel = kpath, .vsock = vpath, .cpus = cpus, .mem_mib = 64,
		.ready_fd = -1, .console = console, .cmdline = "sbx.test=1",
		.rootfs = with_disks ? rootfs : NULL, .disk = with_disks ? disk : NULL,
	};
	r = vmm_build(vm);
	{	/* evloop_init blocked SIGTERM; let the harness kill us */
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	if (r) {
		printf("  vmm_build: %s\n", strerror(-r));
		return r;
	}
	return vmm_run(vm);
}

static void test_poweroff_serial_mmio(void)
{
	static struct vm vm;
	int code;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	code = boot(&vm, 0, 1, 0);
	CHECK_EQ(code, SBX_VMM_EXIT_POWEROFF);
	/* slot 0 is vsock (no disks): "OK" "M" "V" '@'+19='S' "Z" "\n" */
	CHECK(vm.serial.nlast >= 7);
	CHECK(!memcmp(vm.serial.last, "OKMVSZ\n", 7));
	CHECK(vm.ready_us >= 0);
	CHECK(vm.exits_io >= 9);
	CHECK(vm.exits_mmio >= 3);
	vmm_free(&vm);
}

/* Kernel segment page-aligned in the file: mapped, not copied. Also an
 * initramfs, mapped the same way, must be where the zero page says. */
static void test_mapped_kernel_and_initrd(void)
{
	static struct vm vm;
	struct boot_params *bp;
	char ipath[160];
	uint8_t *p;
	int fd;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	snprintf(ipath, sizeof(ipath), "%s/initrd", dir);
	fd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "070701-fake-cpio", 16) == 16);
	close(fd);
	aligned = 1;
	memset(&vm, 0, sizeof(vm));
	CHECK_EQ(write_kernel(0), 0);
	vm.cfg = (struct vmm_config){ .kernel = kpath, .vsock = vpath, .cpus = 1,
				      .mem_mib = 64, .ready_fd = -1, .initrd = ipath };
	CHECK_EQ(vmm_build(&vm), 0);
	{	/* the kernel and the initramfs are file mappings now */
		char maps[65536] = { 0 };

		fd = open("/proc/self/maps", O_RDONLY);
		CHECK(read(fd, maps, sizeof(maps) - 1) > 0);
		close(fd);
		CHECK(strstr(maps, kpath) != NULL);
		CHECK(strstr(maps, ipath) != NULL);
	}
	bp = gpa_ptr(&vm.mem, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK(bp && bp->hdr.ramdisk_size == 16);
	p = bp ? gpa_ptr(&vm.mem, bp->hdr.ramdisk_image, 16) : NULL;
	CHECK(p && !memcmp(p, "070701-fake-cpio", 16));
	p = gpa_ptr(&vm.mem, 0x100000 + sizeof(payload), 8);
	CHECK(p && !p[0] && !p[7]); /* past the file bytes: zero */
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	CHECK_EQ(vmm_run(&vm), SBX_VMM_EXIT_POWEROFF);
	CHECK(!memcmp(vm.serial.last, "OKMVSZ\n", 7));
	vmm_free(&vm);
	aligned = 0;
	unlink(ipath);
}

static void test_disks_order(void)
{
	static struct vm vm;
	char *cl;
	int code;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	code = boot(&vm, 0, 1, 1);
	CHECK_EQ(code, SBX_VMM_EXIT_POWEROFF);
	/* slot 0 = rootfs (virtio-blk, id 2 -> 'B') */
	CHECK(!memcmp(vm.serial.last, "OKMVBZ\n", 7));
	CHECK_EQ(vm.nvdev, 3);
	cl = gpa_ptr(&vm.mem, BOOT_CMDLINE, 1);
	CHECK(cl && strstr(cl, "virtio_mmio.device=4K@0xd0000000:5 "
			      "virtio_mmio.device=4K@0xd0001000:6 "
			      "virtio_mmio.device=4K@0xd0002000:7 sbx.test=1"));
	vmm_free(&vm);
}

/* 5 GiB: RAM below the 3 GiB hole and from 4 GiB up, two KVM slots. */
static void test_high_memory(void)
{
	static struct vm vm;
	struct boot_params *bp;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	memset(&vm, 0, sizeof(vm));
	CHECK_EQ(write_kernel(0), 0);
	vm.cfg = (struct vmm_config){ .kernel = kpath, .vsock = vpath, .cpus = 1,
				      .mem_mib = 5120, .ready_fd = -1 };
	CHECK_EQ(vmm_build(&vm), 0);
	bp = gpa_ptr(&vm.mem, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK(bp && bp->e820_entries == 4);
	if (bp && bp->e820_entries == 4) {
		CHECK_EQ(bp->e820_table[2].addr + bp->e820_table[2].size, MEM_LOW_END);
		CHECK_EQ(bp->e820_table[3].addr, MEM_HIGH_START);
		CHECK_EQ(bp->e820_table[3].size, (5120ULL << 20) - MEM_LOW_END);
	}
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	CHECK_EQ(vmm_run(&vm), SBX_VMM_EXIT_POWEROFF);
	vmm_free(&vm);
}

static void test_reboot(void)
{
	static struct vm vm;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	CHECK_EQ(boot(&vm, 1, 1, 0), SBX_VMM_EXIT_REBOOT);
	vmm_free(&vm);
}

static void test_triple_fault(void)
{
	static struct vm vm;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	CHECK_EQ(boot(&vm, 2, 1, 0), SBX_VMM_EXIT_CRASH);
	vmm_free(&vm);
}

static void test_smp_4(void)
{
	static struct vm vm;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	/* APs sit in wait-for-SIPI; the VM must still stop and join them. */
	CHECK_EQ(boot(&vm, 0, 4, 0), SBX_VMM_EXIT_POWEROFF);
	CHECK_EQ(vm.ncpus, 4);
	vmm_free(&vm);
}

static void test_console_log(void)
{
	char buf[256] = { 0 };
	int fd;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
	fd = open(console, O_RDONLY);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	CHECK(strstr(buf, "OKMVSZ\n") != NULL);
	CHECK(strstr(buf, "sbx-vmm: guest ready after") != NULL);
}

/* The same boot in a child under the seccomp allowlists (process, and the
 * vCPU threads' own): nothing it needs after setup is missing from them
 * (a miss kills it with SIGSYS). */
static void test_seccomp_allowlist(void)
{
	int st = 0;
	pid_t pid;

	if (!kvm_ok) {
		SKIP("/dev/kvm not usable");
		return;
	}
#if defined(__SANITIZE_ADDRESS__)
	SKIP("ASan build: seccomp_install() is a no-op");
	return;
#endif
	pid = fork();
	if (pid == 0) {
		static struct vm vm;

		if (write_kernel(0))
			_exit(100);
		memset(&vm, 0, sizeof(vm));
		vm.cfg = (struct vmm_config){ .kernel = kpath, .vsock = vpath, .cpus = 2,
					      .mem_mib = 64, .ready_fd = -1, .console = console,
					      .rootfs = rootfs, .disk = disk, .seccomp = 1 };
		if (vmm_build(&vm))
			_exit(101);
		if (seccomp_install())
			_exit(102);
		_exit(vmm_run(&vm));
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	if (WIFSIGNALED(st))
		printf("  killed by signal %d\n", WTERMSIG(st));
	CHECK_EQ(WEXITSTATUS(st), SBX_VMM_EXIT_POWEROFF);
}

static int probe_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int main(void)
{
	int fd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(kpath, sizeof(kpath), "%s/vmlinux", dir);
	snprintf(vpath, sizeof(vpath), "%s/v.sock", dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(disk, sizeof(disk), "%s/disk", dir);
	snprintf(console, sizeof(console), "%s/console.log", dir);
	fd = open(rootfs, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0 && ftruncate(fd, 1 << 20) == 0)
		close(fd);
	fd = open(disk, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0 && ftruncate(fd, 1 << 20) == 0)
		close(fd);
	kvm_ok = probe_kvm();
	TEST(test_poweroff_serial_mmio);
	TEST(test_console_log);
	TEST(test_disks_order);
	TEST(test_mapped_kernel_and_initrd);
	TEST(test_high_memory);
	TEST(test_reboot);
	TEST(test_triple_fault);
	TEST(test_smp_4);
	TEST(test_seccomp_allowlist);
	unlink(kpath);
	unlink(vpath);
	unlink(rootfs);
	unlink(disk);
	unlink(console);
	rmdir(dir);
	return check_exit();
}
