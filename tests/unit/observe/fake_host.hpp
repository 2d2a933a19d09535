// A sysfs + /proc fixture tree in a temporary directory, laid out as the kernel lays it out: devices
// under sys/devices/pci0000:00, relative links from sys/bus/pci/devices, driver/iommu_group/virtfn/
// physfn links, net/<if>/ directories, mdev types, and /proc/<pid>/fd links to /dev/vfio nodes.
#pragma once

#include "sysfs/layout.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hostdevd::testing {

struct DeviceSpec {
    uint16_t vendor = 0x8086, device = 0x1572;
    uint32_t class_code = 0x020000;
    uint16_t subsystem_vendor = 0x8086, subsystem_device = 0x0000;
    std::string driver;          // "" = unbound
    std::string driver_override; // "" = "(null)"
    int iommu_group = -1;        // -1 = no link
};

class FakeHost {
public:
    FakeHost();
    ~FakeHost();
    FakeHost(const FakeHost&) = delete;
    FakeHost& operator=(const FakeHost&) = delete;

    static constexpr const char* kRelease = "6.1.0-test";
    const std::string& root() const { return root_; }
    SysfsLayout layout() const { return SysfsLayout(root_, kRelease); }

    // Low-level: `rel` is relative to the root ("sys/bus/pci/drivers_probe").
    void file(const std::string& rel, const std::string& content);
    void link(const std::string& rel, const std::string& target);
    void dir(const std::string& rel);
    void remove(const std::string& rel);

    std::string device_dir(const std::string& address) const; // "sys/devices/pci0000:00/<address>"
    void add_device(const std::string& address, const DeviceSpec& spec);
    void bind(const std::string& address, const std::string& driver); // "" unbinds
    void set_group(const std::string& address, int group);
    // A PF with SR-IOV files; VFs are added with add_vf.
    void make_pf(const std::string& address, unsigned total, unsigned num, unsigned offset, unsigned stride,
                 bool autoprobe = true, bool with_offset_files = true);
    // VF `index` of `pf`, at `address`: virtfnN and physfn links.
    void add_vf(const std::string& pf, unsigned index, const std::string& address, const DeviceSpec& spec);
    void add_netdev(const std::string& address, const std::string& name, bool up,
                    const std::string& master = "", const std::vector<std::string>& uppers = {});
    void add_vfio_cdev(const std::string& address, const std::string& cdev); // <dev>/vfio-dev/<cdev>
    // A process (uid 0) with read-write fds on the given /dev paths ("/dev/vfio/12").
    void add_process(int pid, const std::string& comm, const std::vector<std::string>& fd_targets);
    // One open file as /proc shows it: the link text, fdinfo `flags` (octal) and the 6.18+ syspath line.
    struct Fd {
        std::string target;
        std::string flags = "02100002"; // O_RDWR | O_LARGEFILE | O_CLOEXEC
        std::string syspath;            // "vfio-device-syspath: <this>" when not empty
    };
    void add_process(int pid, const std::string& comm, long uid, const std::vector<Fd>& fds);
    void add_mdev_type(const std::string& parent, const std::string& type, const std::string& name,
                       unsigned available);
    void add_mdev(const std::string& parent, const std::string& type, const std::string& uuid, int group);
    void add_module(const std::string& module, const std::vector<std::string>& pci_drivers);
    void set_modules_alias(const std::string& content);

private:
    std::string root_;
};

} // namespace hostdevd::testing
