# net/build.mk: sbxd (the HTTPS API daemon), its unit tests and fuzz targets.
#
# llhttp is compiled from Debian's node-llhttp sources in place (never copied
# into the repo), with warnings relaxed for those files only.

LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp
LLHTTP_SRCS := $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
LLHTTP_OBJS := $(O)/obj/llhttp/llhttp.o $(O)/obj/llhttp/api.o $(O)/obj/llhttp/http.o

$(O)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(OPT) $(HARDEN) -fPIE -w -I$(LLHTTP_INC) $(SAN) -c -o $@ $<

# Every object of net/ sees llhttp's header.
$(O)/obj/net/%.o: HOST_CFLAGS += -I$(LLHTTP_INC)
$(O)/obj/tests/unit/net_%.o: HOST_CFLAGS += -I$(LLHTTP_INC)

# mbedTLS does the handshake; OpenSSL's libcrypto (EVP AEAD only) encrypts
# the application data records after it (net/tls_record.c).
NET_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto -ljansson

SBXD_SRCS := net/main.c net/loop.c net/buf.c net/tls.c net/tls_record.c net/http.c net/conn.c \
	net/router.c net/auth.c net/sandbox.c net/backend_host.c net/backend_vm.c \
	net/agent.c net/sse.c net/json.c net/api.c net/api_exec.c net/api_files.c net/api_system.c net/preview.c \
	guest/proto.c hv/supervisor.c hv/vsock_line.c

$(eval $(call host_prog,sbxd,$(SBXD_SRCS),$(NET_LIBS)))
$(O)/bin/sbxd: $(LLHTTP_OBJS)

$(eval $(call unit_test,net_router,tests/unit/net_router.c net/router.c,))
$(eval $(call unit_test,net_auth,tests/unit/net_auth.c net/auth.c net/router.c,-lmbedcrypto -ljansson))
$(eval $(call unit_test,net_http,tests/unit/net_http.c net/http.c,))
$(O)/tests/unit/net_http: $(LLHTTP_OBJS)
$(eval $(call unit_test,net_tls_record,tests/unit/net_tls_record.c net/tls.c net/tls_record.c,-lmbedtls -lmbedx509 -lmbedcrypto -lcrypto))
$(eval $(call unit_test,net_json,tests/unit/net_json.c net/json.c net/buf.c,-ljansson))

$(eval $(call fuzz_target,http_fuzz,tests/fuzz/http_fuzz.c net/http.c $(LLHTTP_SRCS),-I$(LLHTTP_INC)))
$(eval $(call fuzz_target,tls_record_fuzz,tests/fuzz/tls_record_fuzz.c net/tls_record.c,-lcrypto))
$(eval $(call fuzz_target,json_fuzz,tests/fuzz/json_fuzz.c net/json.c,-ljansson))
