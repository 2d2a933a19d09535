#include "fake_host.hpp"

#include "model/pci_address.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace hostdevd::testing {

namespace {

std::string hex(unsigned value, int width) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%0*X", width, value);
    return buffer;
}
std::string lower_hex(unsigned value, int width) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%0*x", width, value);
    return buffer;
}

} // namespace

FakeHost::FakeHost() {
    std::string pattern = (fs::temp_directory_path() / "hostdevd-observe-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    dir("sys/bus/pci/devices");
    dir("sys/bus/pci/drivers");
    dir("sys/kernel/iommu_groups");
    dir("sys/module");
    dir("proc");
}

FakeHost::~FakeHost() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
}

void FakeHost::file(const std::string& rel, const std::string& content) {
    fs::path path = fs::path(root_) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::trunc);
    out << content;
}

void FakeHost::link(const std::string& rel, const std::string& target) {
    fs::path path = fs::path(root_) / rel;
    fs::create_directories(path.parent_path());
    std::error_code ignored;
    fs::remove(path, ignored);
    fs::create_symlink(target, path);
}

void FakeHost::dir(const std::string& rel) {
    fs::create_directories(fs::path(root_) / rel);
}

void FakeHost::remove(const std::string& rel) {
    fs::remove_all(fs::path(root_) / rel);
}

std::string FakeHost::device_dir(const std::string& address) const {
    return "sys/devices/pci0000:00/" + address;
}

void FakeHost::add_device(const std::string& address, const DeviceSpec& spec) {
    const std::string d = device_dir(address);
    // Formats of pci-sysfs.c: 0x%04x, class 0x%06x, modalias upper-case hex.
    file(d + "/vendor", lower_hex(spec.vendor, 4) + "\n");
    file(d + "/device", lower_hex(spec.device, 4) + "\n");
    file(d + "/class", lower_hex(spec.class_code, 6) + "\n");
    file(d + "/subsystem_vendor", lower_hex(spec.subsystem_vendor, 4) + "\n");
    file(d + "/subsystem_device", lower_hex(spec.subsystem_device, 4) + "\n");
    file(d + "/modalias", "pci:v" + hex(spec.vendor, 8) + "d" + hex(spec.device, 8) + "sv" +
                              hex(spec.subsystem_vendor, 8) + "sd" + hex(spec.subsystem_device, 8) + "bc" +
                              hex(spec.class_code >> 16, 2) + "sc" + hex((spec.class_code >> 8) & 0xff, 2) +
                              "i" + hex(spec.class_code & 0xff, 2) + "\n");
    file(d + "/driver_override", (spec.driver_override.empty() ? "(null)" : spec.driver_override) + "\n");
    link("sys/bus/pci/devices/" + address, "../../../devices/pci0000:00/" + address);
    if (!spec.driver.empty())
        bind(address, spec.driver);
    if (spec.iommu_group >= 0)
        set_group(address, spec.iommu_group);
}

void FakeHost::bind(const std::string& address, const std::string& driver) {
    const std::string d = device_dir(address);
    if (driver.empty()) {
        remove(d + "/driver");
        return;
    }
    dir("sys/bus/pci/drivers/" + driver);
    link(d + "/driver", "../../../bus/pci/drivers/" + driver);
}

void FakeHost::set_group(const std::string& address, int group) {
    dir("sys/kernel/iommu_groups/" + std::to_string(group) + "/devices");
    link(device_dir(address) + "/iommu_group", "../../../kernel/iommu_groups/" + std::to_string(group));
}

void FakeHost::make_pf(const std::string& address, unsigned total, unsigned num, unsigned offset,
                       unsigned stride, bool autoprobe, bool with_offset_files) {
    const std::string d = device_dir(address);
    file(d + "/sriov_totalvfs", std::to_string(total) + "\n");
    file(d + "/sriov_numvfs", std::to_string(num) + "\n");
    file(d + "/sriov_drivers_autoprobe", std::string(autoprobe ? "1" : "0") + "\n");
    if (with_offset_files) {
        file(d + "/sriov_offset", std::to_string(offset) + "\n");
        file(d + "/sriov_stride", std::to_string(stride) + "\n");
    }
}

void FakeHost::add_vf(const std::string& pf, unsigned index, const std::string& address,
                      const DeviceSpec& spec) {
    add_device(address, spec);
    link(device_dir(pf) + "/virtfn" + std::to_string(index), "../" + address);
    link(device_dir(address) + "/physfn", "../" + pf);
}

void FakeHost::add_netdev(const std::string& address, const std::string& name, bool up,
                          const std::string& master, const std::vector<std::string>& uppers) {
    const std::string d = device_dir(address) + "/net/" + name;
    // net-sysfs.c prints flags as "%#x"; IFF_UP = 0x1, IFF_BROADCAST|IFF_MULTICAST = 0x1002.
    file(d + "/flags", up ? "0x1003\n" : "0x1002\n");
    file(d + "/operstate", up ? "up\n" : "down\n");
    if (!master.empty()) {
        link(d + "/master", "../../../../virtual/net/" + master);
        link(d + "/upper_" + master, "../../../../virtual/net/" + master);
    }
    for (const std::string& upper : uppers)
        link(d + "/upper_" + upper, "../../../../virtual/net/" + upper);
}

void FakeHost::add_vfio_cdev(const std::string& address, const std::string& cdev) {
    file(device_dir(address) + "/vfio-dev/" + cdev + "/dev", "511:0\n");
}

void FakeHost::add_process(int pid, const std::string& comm, const std::vector<std::string>& fd_targets) {
    std::vector<Fd> fds;
    for (const std::string& target : fd_targets)
        fds.push_back(Fd{target, "02100002", ""});
    add_process(pid, comm, 0, fds);
}

void FakeHost::add_process(int pid, const std::string& comm, long uid, const std::vector<Fd>& fds) {
    const std::string p = "proc/" + std::to_string(pid);
    file(p + "/comm", comm + "\n");
    // fs/proc/array.c task_state: "Uid:\t<real>\t<effective>\t<saved>\t<fs>".
    const std::string id = std::to_string(uid);
    file(p + "/status", "Name:\t" + comm + "\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t" + id + "\t" + id +
                            "\t" + id + "\t" + id + "\nGid:\t0\t0\t0\t0\n");
    dir(p + "/fd");
    dir(p + "/fdinfo");
    link(p + "/fd/0", "/dev/null");
    file(p + "/fdinfo/0", "pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t4\n");
    int n = 3;
    for (const Fd& fd : fds) {
        const std::string name = std::to_string(n++);
        link(p + "/fd/" + name, fd.target);
        std::string info = "pos:\t0\nflags:\t" + fd.flags + "\nmnt_id:\t25\nino:\t" + name + "\n";
        if (!fd.syspath.empty())
            info += "vfio-device-syspath: " + fd.syspath + "\n";
        file(p + "/fdinfo/" + name, info);
    }
}

void FakeHost::add_mdev_type(const std::string& parent, const std::string& type, const std::string& name,
                             unsigned available) {
    const std::string t = device_dir(parent) + "/mdev_supported_types/" + type;
    file(t + "/name", name + "\n");
    file(t + "/device_api", "vfio-pci\n");
    file(t + "/available_instances", std::to_string(available) + "\n");
    file(t + "/create", "");
    dir(t + "/devices");
    link("sys/class/mdev_bus/" + parent, "../../devices/pci0000:00/" + parent);
}

void FakeHost::add_mdev(const std::string& parent, const std::string& type, const std::string& uuid,
                        int group) {
    const std::string m = device_dir(parent) + "/" + uuid;
    link(m + "/mdev_type", "../mdev_supported_types/" + type);
    file(m + "/remove", "");
    link(device_dir(parent) + "/mdev_supported_types/" + type + "/devices/" + uuid, "../../../" + uuid);
    link("sys/bus/mdev/devices/" + uuid, "../../../devices/pci0000:00/" + parent + "/" + uuid);
    if (group >= 0) {
        dir("sys/kernel/iommu_groups/" + std::to_string(group) + "/devices");
        link(m + "/iommu_group", "../../../../kernel/iommu_groups/" + std::to_string(group));
    }
}

void FakeHost::add_module(const std::string& module, const std::vector<std::string>& pci_drivers) {
    dir("sys/module/" + module);
    for (const std::string& driver : pci_drivers)
        link("sys/module/" + module + "/drivers/pci:" + driver, "../../../bus/pci/drivers/" + driver);
}

void FakeHost::set_modules_alias(const std::string& content) {
    file(std::string("lib/modules/") + kRelease + "/modules.alias", content);
}

} // namespace hostdevd::testing
