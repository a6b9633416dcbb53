# net/cli/build.mk: `sbx`, the command line (libcurl with OpenSSL for the
# certificate pin, jansson), and the unit test of its pure parts.

SBX_CLI_SRCS := net/cli/main.c net/cli/config.c net/cli/http.c net/cli/pin.c \
	net/cli/sse.c net/cli/cmd_sandbox.c net/cli/cmd_exec.c net/cli/cmd_files.c \
	net/cli/cmd_proc.c net/cli/cmd_token.c

$(eval $(call host_prog,sbx,$(SBX_CLI_SRCS),-lcurl -lssl -lcrypto -ljansson))
$(eval $(call unit_test,cli_parse,tests/sdk/unit/cli_parse.c net/cli/sse.c net/cli/config.c,))
