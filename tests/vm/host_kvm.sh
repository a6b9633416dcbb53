#!/bin/bash
# tests/vm/host_kvm.sh: where guests boot, /dev/kvm answers the KVM API and
# creates a VM with a vCPU (the host VM's nested SVM works).
set -uo pipefail
. "$SBX_SRC/tests/lib/check.sh"
if [ ! -e /dev/kvm ]; then fail kvm-api "no /dev/kvm"; exit 0; fi
out=$(python3 - <<'PY' 2>&1
import fcntl, os
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
api = fcntl.ioctl(kvm, 0xAE00)          # KVM_GET_API_VERSION
vm = fcntl.ioctl(kvm, 0xAE01, 0)        # KVM_CREATE_VM
vcpu = fcntl.ioctl(vm, 0xAE41, 0)       # KVM_CREATE_VCPU
print(api, vm > 0, vcpu > 0)
PY
)
if [ "$out" = "12 True True" ]; then pass kvm-api; else fail kvm-api "$out"; fi
