// Reading the host where a hang cannot stall the caller. While a store to a device is stuck in the kernel,
// reading some of that device's attributes blocks behind it, uninterruptibly: sriov_numvfs_show,
// driver_override_show and uevent_show take the device lock that sriov_numvfs_store (and an unbind that
// waits for a VFIO device) holds (seen on Debian's 6.1 kernel: tests/vm/facts). A thread stuck there
// cannot be killed, and a process is not gone until all its threads are, so `hostdevctl devices` would
// hang with its output half written. Instead the work runs in a child process; the caller watches the
// child's threads (/proc/<child>/task/<tid>/syscall: a read(2) of a /sys file that does not return), and
// when one sits in the same read for `stall`, the device that file belongs to is busy: the child is
// abandoned (killed; it dies when the kernel lets go) and the work runs again without that device.
// Devices some process is writing to at that moment (a write(2) to a file of theirs in /sys that is still
// in progress 30 ms later, /proc/<pid>/task/<tid>/syscall) are not tried at all. Nothing here writes,
// and the child's reads are the same ones the work would have made itself.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

namespace hostdevd {

struct BoundedRead {
    bool ok = false;
    std::string output;                      // what the work returned (the last, complete run)
    std::map<std::string, std::string> busy; // device -> why it was not read
    std::string error;                       // !ok: why there is no output
};

// Runs `work(busy)` in a child process and returns what it returned, running it again with more devices
// in `busy` for as long as it gets stuck on new ones (at most `rounds` times). `work` must not touch
// anything in `busy`.
BoundedRead
read_bounded(const std::function<std::string(const std::map<std::string, std::string>& busy)>& work,
             std::chrono::milliseconds stall = std::chrono::milliseconds(250), int rounds = 6);

// The device a sysfs path is about: the last component that is a PCI address or a UUID; "" for none.
std::string device_of_sysfs_path(const std::string& path);

// The devices whose files in /sys some thread is in the middle of writing to, now and `apart` later
// (device -> why); empty without any, at the cost of one look at every task's syscall file.
std::map<std::string, std::string> devices_being_written(std::chrono::milliseconds apart);

} // namespace hostdevd
