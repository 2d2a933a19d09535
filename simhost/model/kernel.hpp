// The simulated kernel: an in-memory model of PCI devices, drivers, SR-IOV, mdev and NVIDIA vGPU that
// answers sysfs reads and writes with the real kernel's semantics and errno (see
// ../shared/reference/sysfs-abi.md and docs/simhost.md), and reports every change as a uevent.
//
// This header is the seam between the model (kernel*.cpp, pure C++, unit-tested without FUSE) and the
// runtime (FUSE server, namespaces, netlink, control socket). The runtime never interprets sysfs paths.
#pragma once

#include "host_spec.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace simhost {

// One uevent as udev would broadcast it after processing the kernel's event. `properties` holds the
// kernel's properties in the kernel's order, starting with ACTION, DEVPATH, SUBSYSTEM (then DEVTYPE,
// DRIVER, PCI_CLASS, PCI_ID, PCI_SUBSYS_ID, PCI_SLOT_NAME, MODALIAS, ... as the kernel sends them) and
// ending with SEQNUM. The netlink sender adds udev's own properties (USEC_INITIALIZED, TAGS, CURRENT_TAGS).
struct Uevent {
    std::vector<std::pair<std::string, std::string>> properties;
    std::vector<std::string> tags; // udev tags the shipped rules would set (e.g. "hostdevd")

    std::string get(std::string_view key) const; // "" when absent
};

// What the runtime needs to serve a node through FUSE.
enum class NodeKind { Directory, File, Symlink };
struct NodeInfo {
    NodeKind kind = NodeKind::File;
    unsigned mode = 0444; // permission bits only (0200 write-only, 0644 rw, 0755 dirs, 0777 links)
    uint64_t size = 4096; // sysfs reports 4096 for attributes; content may be shorter
};

// A node as the FUSE low-level API serves it: an inode number that is never reused (a node removed and
// created again is a new inode), and a version that changes whenever a directory's listing changes; the
// runtime reports it as the mtime.
struct NodeAttr {
    uint64_t ino = 0;
    NodeKind kind = NodeKind::File;
    unsigned mode = 0444;
    uint64_t size = 4096; // fixed files: the text's length; others: what sysfs says (4096; config 256)
    uint64_t version = 0;
    bool fixed = false; // files: the text never changes while the inode lives (vendor, modalias, ...)
};
struct DirEntry {
    std::string name;
    uint64_t ino = 0;
    NodeKind kind = NodeKind::File;
};

// What the kernel's caches may hold that a change made stale. `name` set: the entry `name` in directory
// `ino` (a dentry of a node that went, or the lock barrier for one that came). `name` empty: the node
// `ino` itself: its attributes (the new version tells the kernel to drop a cached text), and with
// `listing` its cached directory listing too. Only inodes the runtime was handed by lookup() are ever
// named; the runtime forwards them to the kernel (fuse_lowlevel_notify_inval_*), entries first.
struct Invalidation {
    uint64_t ino = 0;
    std::string name;
    bool listing = false;
};

// Every write, successful or not, in order. Tests assert on this.
struct WriteRecord {
    std::chrono::system_clock::time_point time;
    std::string path;  // absolute sysfs path, "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs"
    std::string value; // the bytes written, trailing newline included
    int error = 0;     // 0 on success, else the positive errno the write returned
    std::chrono::microseconds duration{0};
    // The safety oracle (kernel_oracle.cpp), judged on the state when the write was issued: the write was
    // disruptive (VF disable, unbind, mdev remove, vGPU teardown, reset) and hit a device in use (VFIO
    // group held, netdev up or enslaved, or such a VF/mdev below it). Failed writes are judged too: a
    // disruptive attempt on a device in use breaks the promise even if the kernel refused it.
    bool disrupted_in_use = false;
    std::string in_use_reason; // why, in words; "" when !disrupted_in_use
};

// Fault injection. `path` is an absolute /sys path; it may end in '*' to match a prefix.
struct Fault {
    enum class Kind {
        FailWrite,  // the next `count` matching writes fail with `error` (count 0 = every write)
        BlockWrite, // matching writes block for `seconds` before being carried out
        LimitVfs,   // the PF driver at `path` (a PF address) enables at most `value` VFs
        ProbeDelay, // VF driver probing after VF enable completes `seconds` later (path = PF address)
    };
    Kind kind = Kind::FailWrite;
    std::string path;
    int error = 0;
    unsigned count = 1;
    double seconds = 0;
    unsigned value = 0;
};

// How strongly a process holds a VFIO group (set by the runtime's holder processes): `Group` is only the
// group fd open (the kernel removes the group's devices anyway, tests/vm/facts), `Device` is a VFIO device
// fd of the group open (with or without the group fd), which makes removing its devices wait.
enum class GroupHold { None, Group, Device };

// A /dev node of the simulated kernel: "vfio/12" (a group), "vfio/devices/vfio3" (a device cdev),
// "vfio/vfio" (the container), "iommu". Its numbers are the ones sysfs gives in the node's `dev`
// attribute; the majors are above CHRDEV_MAJOR_MAX (512), so no Linux driver can own them and opening such
// a node on the real host can never reach a real device.
struct DevNode {
    std::string name;
    unsigned major = 0, minor = 0;
    bool operator==(const DevNode&) const = default;
};
inline constexpr unsigned kVfioGroupMajor = 4000; // /dev/vfio/<group>
inline constexpr unsigned kVfioCdevMajor = 4001;  // /dev/vfio/devices/vfioN
inline constexpr unsigned kMiscMajor = 4002;      // /dev/vfio/vfio (minor 0), /dev/iommu (minor 1)

// What a holder of a group can open: the group node (if the group has one) and its VFIO devices.
struct VfioGroupInfo {
    int group = -1;
    bool node = false;
    struct Device {
        std::string name;    // PCI address or mdev UUID
        std::string syspath; // "/sys/devices/..." as vfio-device-syspath prints it (Linux >= 6.18)
        int cdev = -1;       // N of /dev/vfio/devices/vfioN when the host has cdevs, else -1
    };
    std::vector<Device> devices;
};

class Kernel {
public:
    explicit Kernel(HostSpec spec);
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    // ---- filesystem view; paths are absolute inside sysfs ("/", "/bus/pci/devices/0000:3b:00.0/vendor").
    // Every call returns 0 or a negative errno. Thread-safe. `write` may block (faults, held devices) and
    // never holds internal locks while it sleeps.
    int stat(std::string_view path, NodeInfo& out) const;
    int list(std::string_view path, std::vector<std::string>& names) const;
    int readlink(std::string_view path, std::string& target) const;
    int read(std::string_view path, std::string& content) const;
    int write(std::string_view path, std::string_view data);

    // ---- the same by inode, for the FUSE low-level API. `path_out` (optional) receives the node's path
    // inside sysfs, for access statistics. lookup() and getattr() tell the model that the kernel may now
    // hold the inode, which decides the invalidations a change sends.
    static constexpr uint64_t kRootIno = 1;
    int lookup(uint64_t parent, std::string_view name, NodeAttr& out, std::string* path_out = nullptr);
    int getattr(uint64_t ino, NodeAttr& out, std::string* path_out = nullptr);
    int readlink(uint64_t ino, std::string& target, std::string* path_out = nullptr) const;
    int list(uint64_t ino, std::vector<DirEntry>& entries, std::string* path_out = nullptr) const;
    int read(uint64_t ino, std::string& content, std::string* path_out = nullptr);
    int write(uint64_t ino, std::string_view data, std::string* path_out = nullptr);

    // ---- outputs to the runtime (set before serving; called without internal locks held)
    void on_uevent(std::function<void(const Uevent&)> sink);
    // A /dev node appears or disappears: "vfio/12", "vfio/devices/vfio0".
    void on_devnode(std::function<void(const DevNode& node, bool present)> sink);
    // Cache invalidations, one batch per change, delivered before the change's uevents and devnodes.
    void on_invalidate(std::function<void(const std::vector<Invalidation>&)> sink);
    // Test aid: after every change, re-generate every fixed text the kernel was handed (those it caches)
    // and abort with a message if one changed: a file marked fixed that is not.
    void set_verify_cache(bool on);

    // ---- control (tests and people); each returns 0 or a negative errno, `error` says why in words
    int plug(std::string_view address, std::string& error);   // a device declared with present = false
    int unplug(std::string_view address, std::string& error); // removes it (and its VFs, mdevs)
    int set_link(std::string_view netdev, bool up, std::string& error);
    int set_master(std::string_view netdev, std::string_view master, std::string& error); // "" = release
    int set_group_hold(int group, GroupHold hold, std::string& error);
    // The group's node and VFIO devices now; -ENOENT with `error` when no device is in the group.
    int vfio_group_info(int group, VfioGroupInfo& out, std::string& error) const;
    int add_fault(const Fault& fault, std::string& error);
    void clear_faults();
    int load_module(std::string_view module, std::string& error); // modprobe; -ENOENT if not available
    void reset();                                                 // back to the host description
    std::vector<WriteRecord> write_log() const;
    void clear_write_log();

    // The `vfio_pci:` alias lines for /lib/modules/<release>/modules.alias.
    std::string modules_alias() const;
    // The /dev nodes that exist now ("vfio/12", ...), to populate /dev at start and after reset().
    std::vector<std::string> devnodes() const;
    std::vector<DevNode> devnode_numbers() const; // the same with their device numbers

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace simhost
