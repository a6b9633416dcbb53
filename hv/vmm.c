/*
 * hv/vmm.c: assembles a VM from its config and runs it.
 *
 * Order (vmm_build): KVM VM and RAM → event loop → legacy devices (COM1,
 * i8042, boot timer) → virtio-mmio devices in the fixed order vda = rootfs,
 * vdb = workspace disk, then vsock, then (--net) usernet and virtio-net →
 * kernel and initramfs → command line and
 * zero page → MP table → page tables and GDT → vCPUs. Everything that needs
 * a path or a privilege happens here, before jail_enter() and
 * seccomp_install() in main(), before the first KVM_RUN (vmm_run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/boot_x86.h"
#include "hv/mptable.h"
#include "hv/vmm.h"

static int vmm_read_file(const char *path, void **data, size_t *len)
{
	struct stat st;
	void *p;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (st.st_size <= 0) {
		err = -EINVAL;
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	*data = p;
	*len = (size_t)st.st_size;
	err = 0;
out:
	close(fd);
	return err;
}

/*
 * Maps file bytes [off, off+len) privately at guest-physical gpa instead of
 * copying them: start-up does no copy, and the pages stay shared with the
 * page cache (and every other sandbox) until the guest writes them. off and
 * gpa must be page-aligned. The rest of the last page is zeroed.
 */
static int vmm_map_file(struct vm *vm, int fd, uint64_t off, uint64_t len,
			uint64_t gpa)
{
	uint64_t maplen = (len + 4095) & ~4095ULL;
	uint8_t *dst = gpa_ptr(&vm->mem, gpa, maplen);

	if (!dst || !len || (off & 4095) || (gpa & 4095))
		return -EINVAL;
	if (mmap(dst, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
		 (off_t)off) == MAP_FAILED)
		return -errno;
	if (maplen > len)
		memset(dst + len, 0, maplen - len);
	return 0;
}

/* Loads the kernel: ELF segments mapped where aligned, else copied. */
static int vmm_load_kernel(struct vm *vm, struct boot_kernel *k)
{
	struct boot_seg seg[BOOT_MAX_SEGS];
	uint64_t entry;
	void *img = NULL;
	size_t len = 0;
	int fd, r, n, i;

	r = vmm_read_file(vm->cfg.kernel, &img, &len);
	if (r || !img)
		return r ? r : -EIO;
	n = boot_elf_segments(&vm->mem, img, len, seg, BOOT_MAX_SEGS, &entry);
	if (n < 0) { /* bzImage, or the loader's own error */
		r = boot_load_kernel(&vm->mem, img, len, k);
		goto out;
	}
	fd = open(vm->cfg.kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	memset(k, 0, sizeof(*k));
	k->entry = entry;
	for (i = 0; i < n; i++) {
		uint8_t *dst = gpa_ptr(&vm->mem, seg[i].paddr, seg[i].memsz);

		if (!dst) { /* boot_elf_segments checked it; be explicit */
			r = -EINVAL;
			close(fd);
			goto out;
		}
		/* RAM is fresh anonymous memory: beyond filesz it is zero already */
		if (!seg[i].filesz ||
		    vmm_map_file(vm, fd, seg[i].offset, seg[i].filesz, seg[i].paddr)) {
			memcpy(dst, (uint8_t *)img + seg[i].offset, seg[i].filesz);
			memset(dst + seg[i].filesz, 0, seg[i].memsz - seg[i].filesz);
		}
		if (seg[i].paddr + seg[i].memsz > k->end)
			k->end = seg[i].paddr + seg[i].memsz;
	}
	close(fd);
	k->initrd_addr_max = 0x7fffffff;
	r = 0;
out:
	munmap(img, len);
	return r;
}

/* Places the initramfs high in low RAM, mapped from its file. */
static int vmm_load_initrd(struct vm *vm, const struct boot_kernel *k,
			   uint64_t *addr, uint64_t *len)
{
	struct stat st;
	uint8_t *dst;
	int fd, r = 0;

	fd = open(vm->cfg.initrd, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		r = -EINVAL;
		goto out;
	}
	*len = (uint64_t)st.st_size;
	*addr = boot_initrd_addr(&vm->mem, *len, k->end, k->initrd_addr_max);
	dst = *addr ? gpa_ptr(&vm->mem, *addr, *len) : NULL;
	if (!dst) {
		r = -E2BIG;
		goto out;
	}
	if (vmm_map_file(vm, fd, 0, *len, *addr)) {
		/* not mappable (e.g. a pipe): read it */
		uint64_t done = 0;

		while (done < *len) {
			ssize_t n = pread(fd, dst + done, *len - done, (off_t)done);

			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;
				goto out;
			}
			done += (uint64_t)n;
		}
	}
out:
	close(fd);
	return r;
}

static int vmm_base(struct vm *vm)
{
	int r, i;

	vm->kvm_fd = vm->vm_fd = vm->epfd = vm->stopfd = vm->sigfd = -1;
	vm->exit_code = -1;
	vm->ready_us = -1;
	vm->vsock.listen_fd = vm->vsock.probe_fd = vm->vsock.accept_fd = -1;
	vm->blk[0].fd = vm->blk[1].fd = -1;
	vm->serial.out_fd = -1;
	vm->crash_fd = -1;
	for (i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpu[i].fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &vm->t0);
	if (vm->cfg.cpus < 1 || vm->cfg.cpus > VM_MAX_CPUS || vm->cfg.mem_mib < 16)
		return -EINVAL;
	r = kvm_vm_init(vm, vm->cfg.mem_mib << 20);
	if (r)
		return r;
	r = evloop_init(vm);
	if (r)
		return r;
	r = serial_init(vm, &vm->serial, -1, vm->cfg.console_stdout ? STDOUT_FILENO : -1);
	if (!r)
		r = i8042_init(vm);
	if (!r)
		r = boot_timer_init(vm);
	return r;
}

/* usernet_fd is readable: host sockets or usernet's timers need service. */
static void vmm_usernet_ready(struct vm *vm, struct ev_handler *h, uint32_t events)
{
	usernet_poll(vm->usernet);
}

/* The guest sent a frame (virtio-net tx callback, event loop thread). */
static void vmm_net_tx(void *un, const void *frame, size_t len)
{
	usernet_input(un, frame, len);
}

/*
 * --net: usernet (it reads the host's resolv.conf: before the jail), the
 * virtio-net device that feeds it, and its fd in the event loop.
 */
static int vmm_net(struct vm *vm)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct usernet_config c;
	int r, i;

	usernet_config_default(&c);
	memcpy(c.guest_mac, mac, 6);
	c.output = vnet_rx;
	c.opaque = &vm->net;
	for (i = 0; i < vm->cfg.n_net_rules; i++) {
		r = policy_rule(&c.policy, vm->cfg.net_rules[i]);
		if (r)
			return r;
	}
	r = usernet_create(&c, &vm->usernet);
	if (r)
		return r;
	r = vnet_init(vm, &vm->net, mac, vmm_net_tx, vm->usernet);
	if (r)
		return r;
	vm->usernet_h.fn = vmm_usernet_ready;
	return evloop_add(vm, usernet_fd(vm->usernet), EPOLLIN, &vm->usernet_h);
}

static int vmm_cpus(struct vm *vm)
{
	uint8_t *mp = gpa_ptr(&vm->mem, BOOT_MPTABLE, 1024);
	int r, i;

	if (!mp)
		return -EINVAL;
	r = mptable_build(mp, 1024, (uint32_t)BOOT_MPTABLE, vm->cfg.cpus);
	if (r < 0)
		return r;
	r = cpu_x86_tables(&vm->mem);
	if (r)
		return r;
	vm->ncpus = vm->cfg.cpus;
	for (i = 0; i < vm->ncpus; i++) {
		vm->vcpu[i].id = i;
		r = cpu_x86_vcpu_init(vm, &vm->vcpu[i]);
		if (r)
			return r;
	}
	return 0;
}

int vmm_build(struct vm *vm)
{
	struct boot_kernel k = { 0 };
	char cmdline[BOOT_CMDLINE_MAX], extra[BOOT_CMDLINE_MAX];
	uint64_t initrd_addr = 0, initrd_len = 0;
	int r;

	r = vmm_base(vm);
	if (r)
		return r;
	if (vm->cfg.console && (r = serial_log_open(&vm->serial, vm->cfg.console)))
		return r;
	if (vm->cfg.crash_dump) {
		vm->crash_fd = open(vm->cfg.crash_dump,
				    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (vm->crash_fd < 0)
			return -errno;
	}
	if (vm->cfg.rootfs && (r = vblk_init(vm, &vm->blk[0], vm->cfg.rootfs, 1, "sbx-rootfs")))
		return r;
	if (vm->cfg.disk && (r = vblk_init(vm, &vm->blk[1], vm->cfg.disk, 0, "sbx-workspace")))
		return r;
	r = vsock_init(vm, &vm->vsock, VM_GUEST_CID, vm->cfg.vsock);
	if (!r)
		r = vsock_probe_init(&vm->vsock, VM_AGENT_PORT);
	if (r)
		return r;
	if (vm->cfg.net && (r = vmm_net(vm)))
		return r;

	r = vmm_load_kernel(vm, &k);
	if (r)
		return r;
	vm->entry = k.entry;
	if (vm->cfg.initrd) {
		r = vmm_load_initrd(vm, &k, &initrd_addr, &initrd_len);
		if (r)
			return r;
	}
	if (vm->cfg.net) {
		r = snprintf(extra, sizeof(extra), "%s%s%s", VM_NET_CMDLINE,
			     vm->cfg.cmdline ? " " : "",
			     vm->cfg.cmdline ? vm->cfg.cmdline : "");
		if (r < 0 || (size_t)r >= sizeof(extra))
			return -E2BIG;
	}
	r = boot_cmdline_build(cmdline, sizeof(cmdline), vm->nvdev, VM_MMIO_BASE,
			       VM_MMIO_STRIDE, VM_VIRTIO_IRQ_BASE,
			       vm->cfg.net ? extra : vm->cfg.cmdline);
	if (r < 0)
		return r;
	r = boot_zero_page_build(&vm->mem, &k, cmdline, initrd_addr, initrd_len);
	if (r)
		return r;
	return vmm_cpus(vm);
}

int vmm_run(struct vm *vm)
{
	int r = vcpu_start_all(vm);

	if (r) {
		vm_request_exit(vm, 2);
	} else {
		evloop_run(vm);
	}
	vcpu_stop_all(vm);
	return vm->exit_code;
}

void vmm_free(struct vm *vm)
{
	int i;

	vsock_free(&vm->vsock);
	usernet_destroy(vm->usernet);
	vm->usernet = NULL;
	for (i = 0; i < 2; i++)
		if (vm->blk[i].fd >= 0)
			close(vm->blk[i].fd);
	for (i = 0; i < vm->nvdev; i++) {
		struct virtio_mmio *t = vm->vdev[i];
		int q;

		if (t->irqfd >= 0)
			close(t->irqfd);
		for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
			if (t->kick[q].fd >= 0)
				close(t->kick[q].fd);
	}
	serial_log_close(&vm->serial);
	if (vm->crash_fd >= 0)
		close(vm->crash_fd);
	if (vm->epfd >= 0)
		close(vm->epfd);
	if (vm->stopfd >= 0)
		close(vm->stopfd);
	if (vm->sigfd >= 0)
		close(vm->sigfd);
	kvm_vm_free(vm);
}
