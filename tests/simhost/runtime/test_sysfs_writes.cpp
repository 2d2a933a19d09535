// Kernel behaviours as a program sees them through write(2) on the FUSE /sys of simhost, each test in a
// fresh simulated host (tests/simhost/hosts/runtime.toml). Expected errno values come from the kernel
// sources cited in ../../../../shared/reference/sysfs-abi.md (iov.c, bus.c, dd.c, mdev_sysfs.c).
#include "sysfs_helpers.hpp"

#include <catch2/catch.hpp>
#include <dirent.h>
#include <sys/utsname.h>

using namespace simtest;

namespace {
const std::string kPf = "/sys/bus/pci/devices/0000:3b:00.0";
const std::string kNumvfs = kPf + "/sriov_numvfs";
const std::string kVf0 = "/sys/bus/pci/devices/0000:3b:02.0"; // offset 16, stride 1 -> devfn 0x10
const std::string kGpu = "/sys/bus/pci/devices/0000:00:02.0";
const std::string kType4 = kGpu + "/mdev_supported_types/i915-GVTg_V5_4";
const std::string kUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";

// Enables one VF without autoprobe and binds it to vfio-pci the way driverctl does (driver_override +
// drivers_probe), loading vfio_pci through the modprobe shim first.
void bind_vf0_to_vfio_pci() {
    REQUIRE(run("modprobe vfio-pci").status == 0);
    REQUIRE(write_attr(kPf + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(write_attr(kNumvfs, "1") == 0);
    REQUIRE(write_attr(kVf0 + "/driver_override", "vfio-pci") == 0);
    REQUIRE(write_attr("/sys/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    REQUIRE(basename_of(link_target(kVf0 + "/driver")) == "vfio-pci");
}
} // namespace

TEST_CASE("sriov_numvfs above sriov_totalvfs fails with ERANGE") {
    REQUIRE(read_attr(kPf + "/sriov_totalvfs") == "8");
    CHECK(write_attr(kNumvfs, "9") == ERANGE);
    CHECK(read_attr(kNumvfs) == "0");
}

TEST_CASE("sriov_numvfs success creates the VFs before write returns") {
    REQUIRE(write_attr(kNumvfs, "4\n") == 0);
    CHECK(read_attr(kNumvfs) == "4");
    for (const char* vf : {"0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3"}) {
        INFO(vf);
        CHECK(exists(std::string("/sys/bus/pci/devices/") + vf));
        CHECK(basename_of(link_target(std::string("/sys/bus/pci/devices/") + vf + "/physfn")) ==
              "0000:3b:00.0");
    }
    CHECK_FALSE(exists("/sys/bus/pci/devices/0000:3b:02.4"));
    CHECK(basename_of(link_target(kPf + "/virtfn0")) == "0000:3b:02.0");
}

TEST_CASE("sriov_numvfs same value again is a successful no-op") {
    REQUIRE(write_attr(kNumvfs, "2") == 0);
    CHECK(write_attr(kNumvfs, "2") == 0);
    CHECK(read_attr(kNumvfs) == "2");
    CHECK(exists("/sys/bus/pci/devices/0000:3b:02.1"));
}

TEST_CASE("sriov_numvfs from one nonzero value to another fails with EBUSY") {
    REQUIRE(write_attr(kNumvfs, "2") == 0);
    CHECK(write_attr(kNumvfs, "3") == EBUSY);
    CHECK(read_attr(kNumvfs) == "2");
    CHECK(write_attr(kNumvfs, "0") == 0);
    CHECK_FALSE(exists(kVf0));
}

TEST_CASE("sriov_numvfs without a PF driver fails with ENOENT") {
    REQUIRE(write_attr("/sys/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK_FALSE(exists(kPf + "/driver"));
    CHECK(write_attr(kNumvfs, "2") == ENOENT);
}

TEST_CASE("sriov_numvfs rejects a non-number with EINVAL") {
    CHECK(write_attr(kNumvfs, "four") == EINVAL);
    CHECK(write_attr(kNumvfs, "-1") == EINVAL);
}

TEST_CASE("sriov_drivers_autoprobe accepts only booleans") {
    CHECK(write_attr(kPf + "/sriov_drivers_autoprobe", "2") == EINVAL);
    CHECK(write_attr(kPf + "/sriov_drivers_autoprobe", "0") == 0);
    CHECK(read_attr(kPf + "/sriov_drivers_autoprobe") == "0");
}

TEST_CASE("unbind from a driver the device is not bound to fails with ENODEV") {
    CHECK(write_attr("/sys/bus/pci/drivers/iavf/unbind", "0000:3b:00.0") == ENODEV);
    CHECK(basename_of(link_target(kPf + "/driver")) == "i40e");
}

TEST_CASE("bind of an already bound device fails with EBUSY and of an unknown one with ENODEV") {
    CHECK(write_attr("/sys/bus/pci/drivers/i40e/bind", "0000:3b:00.0") == EBUSY);
    CHECK(write_attr("/sys/bus/pci/drivers/i40e/bind", "0000:3b:1f.7") == ENODEV);
}

TEST_CASE("drivers_probe of a missing device fails with ENODEV") {
    CHECK(write_attr("/sys/bus/pci/drivers_probe", "0000:3b:1f.7") == ENODEV);
}

TEST_CASE("driver_override and drivers_probe bind a VF to vfio-pci and its /dev/vfio group appears") {
    CHECK_FALSE(exists("/sys/bus/pci/drivers/vfio-pci")); // vfio_pci is not loaded in this host
    CHECK_FALSE(exists("/dev/vfio/100"));
    bind_vf0_to_vfio_pci();
    CHECK(basename_of(link_target(kVf0 + "/iommu_group")) == "100");
    CHECK(exists("/dev/vfio/100"));
    REQUIRE(write_attr("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:3b:02.0") == 0);
    CHECK_FALSE(exists("/dev/vfio/100"));
}

TEST_CASE("mdev create and remove report the kernel's errno") {
    REQUIRE(read_attr(kType4 + "/available_instances") == "4");
    CHECK(write_attr(kType4 + "/create", "not-a-uuid") == EINVAL);
    REQUIRE(write_attr(kType4 + "/create", kUuid) == 0);
    CHECK(exists("/sys/bus/mdev/devices/" + kUuid));
    CHECK(read_attr(kType4 + "/available_instances") == "3");
    CHECK(write_attr(kType4 + "/create", kUuid) == EEXIST);
    CHECK(write_attr("/sys/bus/mdev/devices/" + kUuid + "/remove", "x") == EINVAL);
    REQUIRE(write_attr("/sys/bus/mdev/devices/" + kUuid + "/remove", "1") == 0);
    CHECK_FALSE(exists("/sys/bus/mdev/devices/" + kUuid));
    CHECK(read_attr(kType4 + "/available_instances") == "4");
}

TEST_CASE("current_vgpu_type of an NVIDIA VF takes a profile id") {
    const std::string vf = "/sys/bus/pci/devices/0000:ca:00.4/nvidia/current_vgpu_type";
    REQUIRE(exists(vf));
    CHECK(read_attr(vf) == "0");
    CHECK(write_attr(vf, "3\n") == 0);
    CHECK(read_attr(vf) == "3");
    CHECK(write_attr("/sys/bus/pci/devices/0000:ca:00.5/nvidia/current_vgpu_type", "12345") != 0);
}

TEST_CASE("sysfs write semantics: newline optional and O_TRUNC not required") {
    CHECK(write_attr(kNumvfs, "1", O_WRONLY) == 0);
    CHECK(read_attr(kNumvfs) == "1");
    CHECK(write_attr(kNumvfs, "0\n", O_WRONLY | O_APPEND) == 0);
    CHECK(read_attr(kNumvfs) == "0");
}

TEST_CASE("sysfs write semantics: nothing can be created removed or written read-only") {
    CHECK(write_attr(kPf + "/no_such_attribute", "1", O_WRONLY) == ENOENT);
    CHECK(write_attr(kPf + "/new_file", "1", O_WRONLY | O_CREAT) == EACCES);
    CHECK(::mkdir((kPf + "/new_dir").c_str(), 0755) < 0);
    CHECK(errno == EACCES);
    CHECK(::unlink((kPf + "/vendor").c_str()) < 0);
    CHECK(errno == EACCES);
    CHECK(::rename((kPf + "/vendor").c_str(), (kPf + "/vendor2").c_str()) < 0);
    CHECK(errno == EACCES);
    // kernfs_fop_open(): a 0444 attribute cannot be opened for writing, even by root.
    CHECK(write_attr(kPf + "/vendor", "0x1234") == EACCES);
    CHECK(read_attr(kPf + "/vendor") == "0x8086");
}

TEST_CASE("modules.alias holds the simulated modules' aliases") {
    utsname uts{};
    ::uname(&uts);
    const std::string alias = read_attr(std::string("/lib/modules/") + uts.release + "/modules.alias");
    CHECK(alias.find("alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci") != std::string::npos);
}

TEST_CASE("modprobe of an unknown module fails and a known one loads") {
    CHECK(run("modprobe -q no_such_module").status == 1);
    CHECK_FALSE(exists("/sys/module/vfio_pci"));
    CHECK(run("modprobe -q vfio-pci").status == 0);
    CHECK(exists("/sys/module/vfio_pci"));
    CHECK(exists("/sys/bus/pci/drivers/vfio-pci"));
}
