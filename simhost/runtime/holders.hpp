// "Guest" processes that hold a VFIO group open, as QEMU does: a real process (so /proc/PID/fd shows
// /dev/vfio/<group> and /proc/PID/comm shows "qemu-system-x86") that the model is told about through
// Kernel::set_group_hold. Used only from the control server's thread.
#pragma once

#include "kernel.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace simhost {

class Holders {
public:
    Holders(Kernel& kernel, std::string simhost_executable);
    ~Holders(); // kills every holder
    Holders(const Holders&) = delete;
    Holders& operator=(const Holders&) = delete;

    // Starts a holder of /dev/vfio/<group>; returns its PID, or a negative errno with `error` in words.
    pid_t start(int group, bool device, const std::string& comm, std::string& error);
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
    };
    void forget(std::size_t index); // waits, closes, updates the model's hold for the group

    Kernel& kernel_;
    std::string executable_;
    std::vector<Holder> holders_;
};

// The holder process itself (`simhost __hold GROUP COMM 0|1`): opens the group (and with `device` the
// container /dev/vfio/vfio, as QEMU does before VFIO_GROUP_GET_DEVICE_FD), renames itself, says "ready"
// on stdout, then sleeps until killed.
int holder_main(int argc, char** argv);

} // namespace simhost
