/*
 * hv/kvm.c: the /dev/kvm side of a VM: create it, give it an in-kernel
 * irqchip (PIC, IOAPIC, LAPICs) and PIT, map guest RAM into memory slots,
 * and wire eventfds as interrupt lines (irqfd) and doorbells (ioeventfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hv/vmm.h"

#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDMAP_ADDR 0xfffbc000ULL

static int kvm_set_slot(struct vm *vm, uint32_t slot, uint64_t gpa,
			uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int kvm_vm_init(struct vm *vm, uint64_t mem_bytes)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDMAP_ADDR;
	int r;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENOTSUP;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0)
		return -ENOTSUP;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC);
	/* Intel VMX needs these pages; harmless elsewhere. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	r = vm_mem_init(&vm->mem, mem_bytes);
	if (r)
		return r;
	r = kvm_set_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host);
	if (!r && vm->mem.size > vm->mem.low_size)
		r = kvm_set_slot(vm, 1, MEM_HIGH_START, vm->mem.size - vm->mem.low_size,
				 vm->mem.host + vm->mem.low_size);
	return r;
}

void kvm_vm_free(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->ncpus; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, (size_t)vm->run_size);
		if (vm->vcpu[i].fd >= 0)
			close(vm->vcpu[i].fd);
		vm->vcpu[i].run = NULL;
		vm->vcpu[i].fd = -1;
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	vm_mem_free(&vm->mem);
}

int kvm_irqfd(struct vm *vm, int fd, unsigned gsi)
{
	struct kvm_irqfd f = { .fd = (uint32_t)fd, .gsi = gsi };

	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int kvm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t datamatch, int fd)
{
	struct kvm_ioeventfd e = {
		.datamatch = datamatch,
		.addr = addr,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

void kvm_irq_pulse(struct vm *vm, unsigned irq)
{
	struct kvm_irq_level l = { .irq = irq, .level = 1 };

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
	l.level = 0;
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}
