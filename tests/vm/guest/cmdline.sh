# Sourced by the guest's scripts (stage2.sh, run-scenarios.sh, systemd-boot.sh): what run.sh passed on
# the kernel command line, as environment variables. Needs /proc.
#   hostdevd.scenarios=A,B  -> SCENARIOS="A B"
#   hostdevd.repo=PATH      -> VM_REPO (the repository, a path in the host's tree)
#   hostdevd.cache=PATH     -> VM_CACHE (prepare.sh's cache: the unpacked kernel and its modules)
#   hostdevd.build=PATH     -> VM_BUILD (the build tree)
#   hostdevd.hostdevctl=P   -> VM_HOSTDEVCTL
#   hostdevd.init=systemd   -> VM_INIT (empty: the busybox-style PID 1 of stage2.sh)
#   hostdevd.boot=NAME      -> VM_BOOT (systemd boots: which guest/systemd-boot.sh setup)
#   hostdevd.deb=PATH       -> VM_DEB (systemd boots: the .deb to install; empty: cmake --install)
SCENARIOS=
VM_REPO=
VM_CACHE=
VM_BUILD=
VM_HOSTDEVCTL=
VM_INIT=
VM_BOOT=
VM_DEB=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    hostdevd.scenarios=*) SCENARIOS=$(echo "${arg#hostdevd.scenarios=}" | tr ',' ' ') ;;
    hostdevd.repo=*) VM_REPO=${arg#hostdevd.repo=} ;;
    hostdevd.cache=*) VM_CACHE=${arg#hostdevd.cache=} ;;
    hostdevd.build=*) VM_BUILD=${arg#hostdevd.build=} ;;
    hostdevd.hostdevctl=*) VM_HOSTDEVCTL=${arg#hostdevd.hostdevctl=} ;;
    hostdevd.init=*) VM_INIT=${arg#hostdevd.init=} ;;
    hostdevd.boot=*) VM_BOOT=${arg#hostdevd.boot=} ;;
    hostdevd.deb=*) VM_DEB=${arg#hostdevd.deb=} ;;
    esac
done
export SCENARIOS VM_REPO VM_CACHE VM_BUILD VM_HOSTDEVCTL VM_INIT VM_BOOT VM_DEB
export VM_RESULTS=/results
export VM_TOOL=/results/vmtool
