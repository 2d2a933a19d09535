// "Guest" processes that hold VFIO devices, as QEMU (or any VMM) does: a real process (so /proc/PID/comm
// and /proc/PID/status are real, and /proc/PID/fd exists) whose open VFIO files are *simulated*: simhost
// bind-mounts a directory over its /proc/PID/fd and /proc/PID/fdinfo that shows what the kernel would show
// for them, and tells the model (Kernel::set_group_hold). A real process cannot have what a VMM has on a
// host without VFIO hardware: simhost's /dev/vfio nodes have numbers no driver owns (they cannot be
// opened), and `anon_inode:[vfio-device]`, the link of a VFIO device fd, is a file only the kernel can
// make. What hostdevd reads is the same: link text, fdinfo (`flags`, the 6.18+ `vfio-device-syspath`),
// stat of the link (a simulated link resolves through the reader's /dev, to the same node numbers sysfs
// gives; a reader with a private /dev, unlike with the kernel's magic links, sees nothing there).
// Used only from the control server's thread.
#pragma once

#include "kernel.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace simhost {

struct HoldOptions {
    enum class Kind {
        Group,      // the group fd only (/dev/vfio/<group>)
        Qemu,       // the container, the group and a device fd per device: what QEMU keeps
        DeviceOnly, // device fds only, group and container closed (VFIO_GROUP_GET_DEVICE_FD, then close)
        Cdev,       // iommufd: /dev/iommu and /dev/vfio/devices/vfioN per device (host vfio_cdev = true)
    };
    Kind kind = Kind::Group;
    bool syspath = false; // device fds carry `vfio-device-syspath:` in fdinfo (Linux >= 6.18)
    std::string comm = "qemu-system-x86";
    long uid = -1; // run as this uid (and gid), e.g. 64055 for Debian's libvirt-qemu; -1: root
};
const char* to_string(HoldOptions::Kind kind);

class Holders {
public:
    Holders(Kernel& kernel, std::string simhost_executable);
    ~Holders(); // kills every holder
    Holders(const Holders&) = delete;
    Holders& operator=(const Holders&) = delete;

    // Starts a holder of `group`; returns its PID, or a negative errno with `error` in words.
    pid_t start(int group, const HoldOptions& options, std::string& error);
    // Kills the holder and waits for it; false with `error` when `pid` is not a holder.
    bool release(pid_t pid, std::string& error); // false = ESRCH
    // pidfds to poll; when one becomes readable, call reap(fd): the holder died (e.g. killed by a test).
    std::vector<int> pidfds() const;
    void reap(int pidfd);
    void kill_all();

private:
    struct Holder {
        pid_t pid;
        int pidfd;
        int group;
        GroupHold hold;
        std::string scratch; // the simulated fd tables' directory under /run/simhost
    };
    void forget(std::size_t index); // waits, closes, updates the model's hold for the group
    // Mounts the simulated /proc/PID/fd and fdinfo; 0 or a negative errno.
    int simulate_fds(pid_t pid, const std::string& scratch, const HoldOptions& options,
                     const VfioGroupInfo& info, std::string& error);

    Kernel& kernel_;
    std::string executable_;
    std::vector<Holder> holders_;
};

// The holder process itself (`simhost __hold COMM UID`): takes UID (unless -1), renames itself COMM,
// says "ready" on stdout, then sleeps until killed.
int holder_main(int argc, char** argv);

} // namespace simhost
