// Broadcasts the model's uevents on NETLINK_KOBJECT_UEVENT the way the kernel (group 1) and systemd-udevd
// (group 2, libudev wire format) do, so unmodified libudev monitors and `udevadm monitor` receive them.
#pragma once

#include "kernel.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace simhost {

// MurmurHash2 (Austin Appleby), seed 0: what systemd's string_hash32() uses for the subsystem/devtype
// hashes that libudev's in-kernel BPF filters compare (src/basic/MurmurHash2.c).
uint32_t murmur_hash2(std::string_view data, uint32_t seed = 0);

// systemd's string_bloom64(): four bits of the tag's hash set in a 64-bit bloom filter.
uint64_t tag_bloom64(std::string_view tag);

// The exact bytes udevd broadcasts for `event` (monitor_netlink_header + "KEY=VAL\0..." properties), as
// device_monitor_send_device() in src/libsystemd/sd-device/device-monitor.c builds them.
std::vector<char> encode_udev_message(const Uevent& event, uint64_t usec_initialized);

// The kernel's own format (lib/kobject_uevent.c): "ACTION@DEVPATH\0KEY=VAL\0...". Without SEQNUM when
// the kernel is going to append its own (see UeventBroadcaster::send).
std::vector<char> encode_kernel_message(const Uevent& event, bool with_seqnum = true);

class UeventBroadcaster {
public:
    UeventBroadcaster(); // throws std::system_error when the netlink socket cannot be created
    ~UeventBroadcaster();
    UeventBroadcaster(const UeventBroadcaster&) = delete;
    UeventBroadcaster& operator=(const UeventBroadcaster&) = delete;

    // Sends the kernel message on group 1 (through the kernel, see the .cpp), then the udev message on
    // group 2. Thread-safe; serialised so
    // listeners see events in the order the model produced them. ECONNREFUSED (no listener) is not an error.
    void send(const Uevent& event);

private:
    int fd_ = -1;
    std::mutex mutex_;
};

} // namespace simhost
