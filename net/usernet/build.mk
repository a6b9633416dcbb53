# net/usernet/build.mk: usernet (lwIP user-mode networking for sbx-vmm), its
# unit tests, its fuzz target and its native end-to-end test program.
#
# For sbx-vmm (hv/build.mk): link $(USERNET_SRCS) and $(USERNET_LIBS); the
# objects of net/usernet/ get lwIP's headers from $(USERNET_LWIP)/include.
# lwIP itself is built by `make images` (image/lwip.sh); until it exists
# the targets that need it are left out, so `make bins` never breaks.
# USERNET_LWIP=DIR points at another build of it (DIR/liblwip.a,
# DIR/include/).

USERNET_LWIP ?= $(O)/images/lwip
USERNET_SRCS := net/usernet/usernet.c net/usernet/pkt.c net/usernet/flow.c net/usernet/tcp_flow.c \
                net/usernet/udp_flow.c net/usernet/dns.c net/usernet/policy.c
USERNET_LIBS := $(USERNET_LWIP)/liblwip.a

$(O)/obj/net/usernet/%.o: HOST_CFLAGS += -isystem $(USERNET_LWIP)/include
$(O)/obj/tests/usernet/%.o: HOST_CFLAGS += -isystem $(USERNET_LWIP)/include
$(O)/obj/tests/unit/usernet_%.o: HOST_CFLAGS += -isystem $(USERNET_LWIP)/include

# lwIP's headers come in with -isystem, which -MMD does not track: an object
# that includes them is rebuilt when the library is (image/lwip.sh rebuilds
# it, headers and our lwipopts.h copy with it, when any of its inputs change),
# and when image/lwip.sh points images/lwip at another cached build (its
# stamp: that build may be older than the objects).
$(patsubst %.c,$(O)/obj/%.o,$(USERNET_SRCS) tests/unit/usernet_dns.c \
	tests/unit/usernet_frames.c tests/usernet/usernet_tap.c) $(O)/fuzz/usernet_fuzz: \
	$(wildcard $(USERNET_LIBS) $(O)/images/lwip.stamp)

$(eval $(call unit_test,usernet_policy,tests/unit/usernet_policy.c net/usernet/policy.c))

ifneq ($(wildcard $(USERNET_LWIP)/liblwip.a),)
$(eval $(call unit_test,usernet_dns,tests/unit/usernet_dns.c $(USERNET_SRCS),$(USERNET_LIBS)))
$(eval $(call unit_test,usernet_frames,tests/unit/usernet_frames.c $(USERNET_SRCS),$(USERNET_LIBS)))
$(eval $(call host_prog,usernet-tap,tests/usernet/usernet_tap.c $(USERNET_SRCS),$(USERNET_LIBS)))
$(eval $(call fuzz_target,usernet_fuzz,tests/fuzz/usernet_fuzz.c $(USERNET_SRCS),-isystem $(USERNET_LWIP)/include $(USERNET_LIBS)))
endif
