#include "uevent_netlink.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

namespace simhost {
namespace {

// Netlink multicast groups of NETLINK_KOBJECT_UEVENT: the kernel broadcasts on 1 (lib/kobject_uevent.c),
// udevd re-broadcasts processed events on 2 (MONITOR_GROUP_KERNEL / MONITOR_GROUP_UDEV in
// src/libsystemd/sd-device/device-monitor-private.h).
constexpr uint32_t kUdevGroup = 2;
constexpr uint32_t kUdevMonitorMagic = 0xfeedcafe;

// Layout of systemd's monitor_netlink_header (device-monitor.c). Fields that libudev's BPF filters read
// (magic, hashes, bloom) are in network byte order; the offsets/lengths are in host order.
struct MonitorNetlinkHeader {
    char prefix[8];
    uint32_t magic;
    uint32_t header_size;
    uint32_t properties_off;
    uint32_t properties_len;
    uint32_t filter_subsystem_hash;
    uint32_t filter_devtype_hash;
    uint32_t filter_tag_bloom_hi;
    uint32_t filter_tag_bloom_lo;
};
static_assert(sizeof(MonitorNetlinkHeader) == 40);

void append_property(std::vector<char>& out, std::string_view key, std::string_view value) {
    out.insert(out.end(), key.begin(), key.end());
    out.push_back('=');
    out.insert(out.end(), value.begin(), value.end());
    out.push_back('\0');
}

} // namespace

uint32_t murmur_hash2(std::string_view data, uint32_t seed) {
    constexpr uint32_t m = 0x5bd1e995;
    constexpr int r = 24;
    auto len = static_cast<uint32_t>(data.size());
    uint32_t h = seed ^ len;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    while (len >= 4) {
        uint32_t k;
        std::memcpy(&k, p, 4); // systemd reads a native (little-endian on x86) 32-bit word
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
        p += 4;
        len -= 4;
    }
    switch (len) {
    case 3:
        h ^= uint32_t(p[2]) << 16;
        [[fallthrough]];
    case 2:
        h ^= uint32_t(p[1]) << 8;
        [[fallthrough]];
    case 1:
        h ^= p[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

uint64_t tag_bloom64(std::string_view tag) {
    const uint32_t hash = murmur_hash2(tag);
    uint64_t bits = 0;
    bits |= uint64_t(1) << (hash & 63);
    bits |= uint64_t(1) << ((hash >> 6) & 63);
    bits |= uint64_t(1) << ((hash >> 12) & 63);
    bits |= uint64_t(1) << ((hash >> 18) & 63);
    return bits;
}

std::vector<char> encode_udev_message(const Uevent& event, uint64_t usec_initialized) {
    std::vector<char> properties;
    for (const auto& [key, value] : event.properties)
        append_property(properties, key, value);
    // What udevd adds to every processed event (udev-event.c / device-private.c): the time the device was
    // first initialised, and the tags its rules set, as ":a:b:".
    append_property(properties, "USEC_INITIALIZED", std::to_string(usec_initialized));
    if (!event.tags.empty()) {
        std::string tags = ":";
        for (const auto& tag : event.tags)
            tags += tag + ":";
        append_property(properties, "TAGS", tags);
        append_property(properties, "CURRENT_TAGS", tags);
    }

    MonitorNetlinkHeader header{};
    std::memcpy(header.prefix, "libudev", 8);
    header.magic = htonl(kUdevMonitorMagic);
    header.header_size = sizeof(header);
    header.properties_off = sizeof(header);
    header.properties_len = static_cast<uint32_t>(properties.size());
    header.filter_subsystem_hash = htonl(murmur_hash2(event.get("SUBSYSTEM")));
    if (const std::string devtype = event.get("DEVTYPE"); !devtype.empty())
        header.filter_devtype_hash = htonl(murmur_hash2(devtype));
    uint64_t bloom = 0;
    for (const auto& tag : event.tags)
        bloom |= tag_bloom64(tag);
    header.filter_tag_bloom_hi = htonl(static_cast<uint32_t>(bloom >> 32));
    header.filter_tag_bloom_lo = htonl(static_cast<uint32_t>(bloom & 0xffffffff));

    std::vector<char> message(sizeof(header) + properties.size());
    std::memcpy(message.data(), &header, sizeof(header));
    std::memcpy(message.data() + sizeof(header), properties.data(), properties.size());
    return message;
}

std::vector<char> encode_kernel_message(const Uevent& event, bool with_seqnum) {
    // lib/kobject_uevent.c: "<action>@<devpath>\0" followed by the environment, each "KEY=VALUE\0".
    std::vector<char> message;
    const std::string head = event.get("ACTION") + "@" + event.get("DEVPATH");
    message.insert(message.end(), head.begin(), head.end());
    message.push_back('\0');
    for (const auto& [key, value] : event.properties)
        if (with_seqnum || key != "SEQNUM")
            append_property(message, key, value);
    return message;
}

UeventBroadcaster::UeventBroadcaster() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "netlink socket");
    sockaddr_nl self{};
    self.nl_family = AF_NETLINK; // nl_pid 0: the kernel assigns a port id (autobind)
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&self), sizeof(self)) < 0) {
        const int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "bind netlink socket");
    }
}

UeventBroadcaster::~UeventBroadcaster() {
    if (fd_ >= 0)
        ::close(fd_);
}

namespace {
// Listeners of group 1 (libudev's "kernel" monitor: device_monitor_receive_device()) drop messages whose
// sender port id is not 0, i.e. that did not come from the kernel, so a userspace sendto(group 1) is
// invisible to `udevadm monitor --kernel`. Instead hand the message to the kernel: since Linux 4.18
// (lib/kobject_uevent.c uevent_net_rcv_skb(), commit 692ec06d7c92 "netns: send uevent messages") a
// CAP_SYS_ADMIN process may send a uevent to the kernel's NETLINK_KOBJECT_UEVENT socket, and the kernel
// rebroadcasts it in that network namespace on group 1 with port id 0, appending its own SEQNUM.
void send_through_kernel(int fd, const std::vector<char>& payload) {
    std::vector<char> message(NLMSG_HDRLEN + payload.size());
    nlmsghdr header{};
    header.nlmsg_len = static_cast<uint32_t>(message.size());
    header.nlmsg_type = NLMSG_MIN_TYPE; // netlink_rcv_skb() skips control types below NLMSG_MIN_TYPE
    header.nlmsg_flags = NLM_F_REQUEST; // and messages without NLM_F_REQUEST; no ACK wanted
    std::memcpy(message.data(), &header, sizeof(header));
    std::memcpy(message.data() + NLMSG_HDRLEN, payload.data(), payload.size());
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK; // nl_pid 0, no groups: unicast to the kernel
    (void)::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                   sizeof(kernel));
}

void send_to_group(int fd, uint32_t group, const std::vector<char>& message) {
    sockaddr_nl destination{};
    destination.nl_family = AF_NETLINK;
    destination.nl_groups = group;
    // Best effort like udevd: a missing listener (ECONNREFUSED) or a full receiver buffer (ENOBUFS, seen by
    // the receiver) must not fail the sysfs write that caused the event.
    (void)::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&destination),
                   sizeof(destination));
}
} // namespace

void UeventBroadcaster::send(const Uevent& event) {
    std::lock_guard lock(mutex_);
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC,
                    &now); // udev's USEC_INITIALIZED is CLOCK_MONOTONIC (now(CLOCK_MONOTONIC))
    const uint64_t usec = uint64_t(now.tv_sec) * 1000000 + uint64_t(now.tv_nsec) / 1000;
    send_through_kernel(fd_, encode_kernel_message(event, false));
    send_to_group(fd_, kUdevGroup, encode_udev_message(event, usec));
}

} // namespace simhost
