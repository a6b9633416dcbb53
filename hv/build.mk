# hv/build.mk: sbx-vmm, the supervisor library sbxd links, and hv's tests.

# The supervisor that sbxd links (net/build.mk adds these to sbxd's sources).
HV_SUPERVISOR_SRCS := hv/supervisor.c hv/vsock_line.c

# Pure code, testable without /dev/kvm.
HV_PURE_SRCS := hv/memory.c hv/boot_x86.c hv/mptable.c hv/virtq.c hv/vsock_line.c

# Everything of the VMM but main().
HV_VMM_SRCS := $(HV_PURE_SRCS) hv/bus.c hv/kvm.c hv/cpu_x86.c hv/vcpu.c \
	hv/evloop.c hv/serial.c hv/i8042.c hv/boot_timer.c hv/virtio_mmio.c \
	hv/virtio_blk.c hv/virtio_vsock.c hv/vsock_mux.c hv/virtio_net.c \
	hv/vmm.c hv/jail.c hv/seccomp.c $(USERNET_SRCS)
# usernet (net/usernet/build.mk, read first; it gives its objects lwIP's
# headers) needs lwIP, which `make all` builds before the binaries.
HV_VMM_LIBS := -lpthread -lseccomp $(USERNET_LIBS)

# The virtio-net device alone, for its unit test (no lwIP).
HV_NET_SRCS := hv/memory.c hv/virtq.c hv/bus.c hv/kvm.c hv/evloop.c \
	hv/virtio_mmio.c hv/virtio_net.c

$(eval $(call host_prog,sbx-vmm,hv/main.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))

$(eval $(call unit_test,hv_boot,tests/unit/hv_boot.c hv/memory.c hv/boot_x86.c hv/mptable.c,))
$(eval $(call unit_test,hv_virtq,tests/unit/hv_virtq.c hv/memory.c hv/virtq.c,))
$(eval $(call unit_test,hv_vsock,tests/unit/hv_vsock.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))
$(eval $(call unit_test,hv_blk,tests/unit/hv_blk.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))
$(eval $(call unit_test,hv_cpu,tests/unit/hv_cpu.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))
$(eval $(call unit_test,hv_serial,tests/unit/hv_serial.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))
$(eval $(call unit_test,hv_net,tests/unit/hv_net.c $(HV_NET_SRCS),-lpthread))
$(eval $(call unit_test,hv_supervisor,tests/unit/hv_supervisor.c $(HV_SUPERVISOR_SRCS),))

$(eval $(call kvm_test,hv_payload,tests/kvm/hv_payload.c $(HV_VMM_SRCS),$(HV_VMM_LIBS)))

$(eval $(call fuzz_target,virtq_fuzz,tests/fuzz/virtq_fuzz.c hv/memory.c hv/virtq.c))
$(eval $(call fuzz_target,connect_fuzz,tests/fuzz/connect_fuzz.c hv/vsock_line.c))
$(eval $(call fuzz_target,vsock_fuzz,tests/fuzz/vsock_fuzz.c hv/memory.c hv/virtq.c \
	hv/bus.c hv/evloop.c hv/virtio_mmio.c hv/virtio_vsock.c hv/vsock_mux.c \
	hv/vsock_line.c))
$(eval $(call fuzz_target,virtio_net_fuzz,tests/fuzz/virtio_net_fuzz.c hv/memory.c \
	hv/virtq.c hv/bus.c hv/evloop.c hv/virtio_mmio.c hv/virtio_net.c))
