# sbx: the top-level build.
#
# A plain Makefile. Each folder adds its own part through <folder>/build.mk,
# using the macros below, so the source lists stay explicit and beside the code:
#
#   $(call host_prog,NAME,SOURCES,LIBS)   build/bin/NAME, glibc, hardened
#   $(call musl_prog,NAME,SOURCES)        build/bin/NAME, static musl
#   $(call unit_test,NAME,SOURCES,LIBS)   build/tests/unit/NAME, run by `make test`
#   $(call kvm_test,NAME,SOURCES,LIBS)    build/tests/kvm/NAME, needs /dev/kvm
#   $(call fuzz_target,NAME,SOURCES)      build/fuzz/NAME, clang libFuzzer + ASan/UBSan
#
# Heavy artifacts (guest kernel, rootfs, lwIP, host VM) are built by scripts in
# image/ and boards/ into $(SBX_CACHE), keyed by a hash of their inputs.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

O ?= build
SBX_CACHE ?= /var/cache/sbx
export SBX_CACHE

CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif
CLANG ?= clang
MUSL_CC ?= musl-gcc

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter -Werror
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
OPT ?= -O2 -g
SAN ?=
HOST_CFLAGS := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -fPIE -D_GNU_SOURCE \
               -I. -Ibuild/gen -MMD -MP $(SAN) $(EXTRA_CFLAGS)
HOST_LDFLAGS := -pie -Wl,-z,relro,-z,now $(SAN)

# musl cannot see the kernel headers on its own; a folder of links gives it
# linux/, asm/ and asm-generic/ without letting glibc's headers leak in.
MUSL_INC := $(O)/musl-include
MUSL_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -static \
               -isystem $(MUSL_INC) -I. -MMD -MP
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -DSBX_FUZZ -I. \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

HOST_BINS :=
MUSL_BINS :=
UNIT_TESTS :=
KVM_TESTS :=
FUZZ_TARGETS :=
ALL_SRCS :=
DEPFILES :=

define host_prog
$(O)/bin/$(1): $(patsubst %.c,$(O)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
HOST_BINS += $(O)/bin/$(1)
ALL_SRCS += $(2)
DEPFILES += $(patsubst %.c,$(O)/obj/%.d,$(2))
endef

define musl_prog
$(O)/bin/$(1): $(patsubst %.c,$(O)/musl/%.o,$(2))
	@mkdir -p $$(@D)
	$$(MUSL_CC) -static -o $$@ $$^ $(3)
MUSL_BINS += $(O)/bin/$(1)
ALL_SRCS += $(2)
DEPFILES += $(patsubst %.c,$(O)/musl/%.d,$(2))
endef

define unit_test
$(O)/tests/unit/$(1): $(patsubst %.c,$(O)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
UNIT_TESTS += $(O)/tests/unit/$(1)
ALL_SRCS += $(2)
DEPFILES += $(patsubst %.c,$(O)/obj/%.d,$(2))
endef

define kvm_test
$(O)/tests/kvm/$(1): $(patsubst %.c,$(O)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(HOST_LDFLAGS) -o $$@ $$^ $(3)
KVM_TESTS += $(O)/tests/kvm/$(1)
ALL_SRCS += $(2)
DEPFILES += $(patsubst %.c,$(O)/obj/%.d,$(2))
endef

define fuzz_target
$(O)/fuzz/$(1): $(2)
	@mkdir -p $$(@D)
	$$(CLANG) $$(FUZZ_CFLAGS) -o $$@ $(2) $(3)
FUZZ_TARGETS += $(O)/fuzz/$(1)
endef

$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(O)/musl/%.o: %.c | $(MUSL_INC)/linux
	@mkdir -p $(@D)
	$(MUSL_CC) $(MUSL_CFLAGS) -c -o $@ $<

$(MUSL_INC)/linux:
	@mkdir -p $(MUSL_INC)
	ln -sfn /usr/include/linux $(MUSL_INC)/linux
	ln -sfn /usr/include/x86_64-linux-gnu/asm $(MUSL_INC)/asm
	ln -sfn /usr/include/asm-generic $(MUSL_INC)/asm-generic

# Sub-folder fragments first: they define source lists (usernet) that the
# folders above them link in.
-include $(wildcard */*/build.mk) $(wildcard */build.mk)

.PHONY: all deps bins images test unit fuzz bench run vm asan ubsan tidy cppcheck \
        format clean appliance

# lwIP comes first: sbx-vmm links it (usernet), and the fragments that use it
# look for it when make reads them, hence the second make.
all: deps
	@image/lwip.sh $(O)
	@$(MAKE) --no-print-directory bins

bins: $(HOST_BINS) $(MUSL_BINS) $(UNIT_TESTS) $(KVM_TESTS)

# Installs the Debian packages the build and the tests need; quiet and quick
# when everything is already there.
deps:
	@image/deps.sh

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)

images: all
	@image/images.sh $(O)

test: images
	@$(MAKE) --no-print-directory fuzz
	@tests/run.sh $(O)

bench: images
	@tests/bench/run.sh $(O)

run: images
	@boards/run.sh $(O)

vm: images
	@boards/qemu-x86_64/vm.sh $(O) run

# The flashable appliance image: build/appliance/$(BOARD).img and .img.xz.
BOARD ?= qemu-x86_64
appliance: images
	@boards/appliance/build.sh $(O) $(BOARD)

# Sanitizer builds of the host binaries and unit tests, each in a folder of
# its own; a folder built with other flags is started afresh.
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
UBSAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=undefined

define san_build
	@mkdir -p build/$(1)
	@[ "$$(cat build/$(1)/.flags 2>/dev/null)" = "$(2)" ] || \
		{ rm -rf build/$(1) && mkdir -p build/$(1) && echo "$(2)" >build/$(1)/.flags; }
	@$(MAKE) --no-print-directory O=build/$(1) SAN="$(2)" OPT="-O1 -g" USERNET_LWIP=$(abspath $(O))/images/lwip \
		build/$(1)/bin/sbxd build/$(1)/bin/sbx-vmm $(patsubst $(O)/%,build/$(1)/%,$(UNIT_TESTS))
endef

asan: all
	$(call san_build,asan,$(ASAN_FLAGS))

ubsan: all
	$(call san_build,ubsan,$(UBSAN_FLAGS))

TIDY_SRCS = $(sort $(filter-out %_fuzz.c,$(ALL_SRCS)))

TIDY_INC := -I. -Ibuild/gen -I/usr/share/include/llhttp -isystem $(O)/images/lwip/include

tidy:
	clang-tidy --quiet $(TIDY_SRCS) -- -std=gnu11 -D_GNU_SOURCE $(TIDY_INC)

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr --suppress=missingIncludeSystem -D__x86_64__ $(TIDY_INC) $(TIDY_SRCS)

format:
	clang-format -i $(ALL_SRCS) $(wildcard */*.h */*/*.h)

clean:
	rm -rf build

-include $(DEPFILES)
