# guest/build.mk: sbx-init (static musl), its unit tests (codec, log ring,
# resolv.conf from /proc/net/pnp), the sbx-agent-client test client (glibc)
# and the protocol decoder fuzz target.

GUEST_INIT_SRCS := guest/main.c guest/agent.c guest/proto.c guest/reaper.c \
	guest/exec.c guest/files.c guest/procs.c guest/portfwd.c \
	guest/contexts.c guest/cgroup.c guest/mounts.c guest/selftest.c guest/ring.c \
	guest/net.c

$(eval $(call musl_prog,sbx-init,$(GUEST_INIT_SRCS),-lpthread))
$(eval $(call unit_test,guest_proto,tests/unit/guest_proto.c guest/proto.c))
$(eval $(call unit_test,guest_ring,tests/unit/guest_ring.c guest/ring.c))
$(eval $(call unit_test,guest_net,tests/unit/guest_net.c guest/net.c))
$(eval $(call fuzz_target,proto_fuzz,tests/fuzz/proto_fuzz.c guest/proto.c))
$(eval $(call host_prog,sbx-agent-client,guest/client.c guest/proto.c,-lpthread))
