# boards/build.mk: the host side's own PID 1 (host VM and appliance).
$(eval $(call musl_prog,sbx-hostinit,boards/hostinit.c))
