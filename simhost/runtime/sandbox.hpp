// The private world a simulated host lives in: mount + network namespaces, a tmpfs /run, a /dev with the
// host's basic nodes plus a simulated /dev/vfio, and overlays that add modules.alias and a modprobe shim
// without changing anything on the real host. Everything here dies with the namespace (no cleanup needed
// even after SIGKILL: the kernel tears the mount namespace down with its last process).
#pragma once

#include "kernel.hpp"

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace simhost {

struct SandboxError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Where the control socket lives inside the world (exported as SIMHOST_CONTROL).
inline constexpr const char* kControlSocketPath = "/run/simhost/control.sock";

// unshare(CLONE_NEWNS|CLONE_NEWNET), make / rprivate so no mount leaks to the host, bring up loopback.
void enter_private_namespaces();

// tmpfs on /run (with /run/simhost) so sockets and scratch files never touch the host's /run.
void mount_private_run();

// tmpfs on /dev holding bind mounts of the host's basic nodes (null, zero, tty, fuse, pts, shm, ...)
// and an empty /dev/vfio/ (DevNodes fills it).
void mount_private_dev();

// Overlay `directory` with a tmpfs upper layer so files can be added or replaced in the namespace only.
void overlay_directory(const std::string& directory);

// /lib/modules/<uname -r>/modules.alias with `content` (via an overlay on /usr/lib).
void install_modules_alias(const std::string& content);

// /sbin/modprobe (and /usr/sbin/modprobe) replaced by a link to `simhost_executable`, which acts as
// modprobe when invoked under that name (via an overlay on /usr/sbin).
void install_modprobe_shim(const std::string& simhost_executable);

// Keeps /dev/<name> in step with the model's device nodes ("vfio/12", "vfio/devices/vfio0"): character
// device nodes (mknod) with the numbers sysfs shows for them, so that a program can compare an open file
// with sysfs as it must on a real host. Their majors belong to no driver (kernel.hpp): stat works, an
// open fails (ENXIO); simhost's guests hold them through a simulated /proc (holders.hpp), not by opening.
class DevNodes {
public:
    void set_present(const DevNode& node, bool present);
    void replace_all(const std::vector<DevNode>& nodes); // after start and reset()

private:
    std::mutex mutex_;
    std::vector<DevNode> present_;
};

} // namespace simhost
