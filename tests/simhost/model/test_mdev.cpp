// mdev create/remove (mdev_sysfs.c, mdev_core.c; sysfs-abi.md §3) and NVIDIA per-VF vGPU files.
#include "support.hpp"

using namespace simtest;

namespace {
const std::string kGpu = "/bus/pci/devices/0000:3d:00.0";
const std::string kT1 = kGpu + "/mdev_supported_types/nvidia-700";  // A16-1Q, 16 per GPU
const std::string kT16 = kGpu + "/mdev_supported_types/nvidia-707"; // A16-16Q, 1 per GPU
const std::string kU1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
const std::string kU2 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002";
} // namespace

TEST_CASE("mdev parent layout: types with name, description, device_api, available_instances") {
    auto k = host("nvidia-a16.toml");
    CHECK(rd(*k, kT1 + "/name") == "NVIDIA A16-1Q\n");
    CHECK(rd(*k, kT1 + "/device_api") == "vfio-pci\n");
    CHECK(rd(*k, kT1 + "/available_instances") == "16\n");
    CHECK(rd(*k, kT1 + "/description").find("max_instance=16") != std::string::npos);
    CHECK(rd(*k, kT16 + "/available_instances") == "1\n");
    CHECK(lnk(*k, "/class/mdev_bus/0000:3d:00.0") == "../../devices/pci0000:3d/0000:3d:00.0");
    std::vector<std::string> types;
    REQUIRE(k->list(kGpu + "/mdev_supported_types", types) == 0);
    CHECK(types.size() == 8);
}

TEST_CASE("mdev create: wrong length or bad UUID is EINVAL") {
    auto k = host("nvidia-a16.toml");
    CHECK(k->write(kT1 + "/create", "not-a-uuid") == -EINVAL);
    CHECK(k->write(kT1 + "/create", kU1 + "\n\n") == -EINVAL); // 38 bytes
    CHECK(k->write(kT1 + "/create", "83b8f4f2x509f-382f-3c1e-e6bfe0fa1001") == -EINVAL);
    CHECK(k->write(kT1 + "/create", "83b8f4f2-509f-382f-3c1e-e6bfe0fa100g") == -EINVAL);
}

TEST_CASE("mdev create: device with links, lower-case name, own IOMMU group, events add then bind") {
    auto k = host("nvidia-a16.toml");
    Recorder r(*k);
    std::string upper = "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001";
    REQUIRE(k->write(kT1 + "/create", upper + "\n") == 0);
    std::string m = "/bus/mdev/devices/" + kU1;
    CHECK(lnk(*k, m) == "../../../devices/pci0000:3d/0000:3d:00.0/" + kU1);
    CHECK(lnk(*k, m + "/mdev_type") == "../mdev_supported_types/nvidia-700");
    CHECK(lnk(*k, m + "/driver") == "../../../../bus/mdev/drivers/vfio_mdev");
    CHECK(lnk(*k, kT1 + "/devices/" + kU1) == "../../../" + kU1);
    std::string g = lnk(*k, m + "/iommu_group");
    CHECK(g == "../../../../kernel/iommu_groups/84"); // above every PCI group in the file
    CHECK(rd(*k, kT1 + "/available_instances") == "15\n");
    CHECK(r.summary() == std::vector<std::string>{"add mdev " + kU1, "bind mdev " + kU1});
    std::lock_guard l(r.mu);
    CHECK(r.events[1].get("DRIVER") == "vfio_mdev");
    CHECK(r.events[1].get("MDEV_TYPE") == "nvidia-700");
    CHECK(r.devnodes == std::vector<std::string>{"+vfio/84"});
}

TEST_CASE("mdev create: duplicate UUID is EEXIST (on any parent)") {
    auto k = host("nvidia-a16.toml");
    REQUIRE(k->write(kT1 + "/create", kU1) == 0);
    CHECK(k->write(kT1 + "/create", kU1) == -EEXIST);
    CHECK(k->write("/bus/pci/devices/0000:3e:00.0/mdev_supported_types/nvidia-700/create", kU1) == -EEXIST);
}

TEST_CASE("mdev create: none left is EUSERS - single-type GPU zeroes other types") {
    auto k = host("nvidia-a16.toml");
    REQUIRE(k->write(kT16 + "/create", kU1) == 0);
    CHECK(rd(*k, kT16 + "/available_instances") == "0\n");
    CHECK(k->write(kT16 + "/create", kU2) == -EUSERS);
    CHECK(rd(*k, kT1 + "/available_instances") == "0\n");
    CHECK(k->write(kT1 + "/create", kU2) == -EUSERS);
    // The other GPUs are independent.
    CHECK(rd(*k, "/bus/pci/devices/0000:3e:00.0/mdev_supported_types/nvidia-707/available_instances") ==
          "1\n");
}

TEST_CASE("mdev types compete for shared capacity") {
    auto k = host("nvidia-a16.toml");
    auto t2 = kGpu + "/mdev_supported_types/nvidia-701"; // A16-2Q: 8 per GPU, 2 units each
    for (int i = 0; i < 7; ++i) {
        char u[40];
        std::snprintf(u, sizeof u, "00000000-0000-0000-0000-%012d", i);
        REQUIRE(k->write(t2 + "/create", u) == 0);
    }
    CHECK(rd(*k, t2 + "/available_instances") == "1\n");
}

TEST_CASE("mdev remove: kstrtoul - 0 does nothing - 1 removes with unbind then remove events") {
    auto k = host("nvidia-a16.toml");
    REQUIRE(k->write(kT1 + "/create", kU1) == 0);
    std::string rm = "/bus/mdev/devices/" + kU1 + "/remove";
    CHECK(k->write(rm, "yes") == -EINVAL);
    CHECK(k->write(rm, "0") == 0);
    CHECK(exists(*k, "/bus/mdev/devices/" + kU1));
    Recorder r(*k);
    CHECK(k->write(rm, "1\n") == 0);
    CHECK_FALSE(exists(*k, "/bus/mdev/devices/" + kU1));
    CHECK(r.summary() == std::vector<std::string>{"unbind mdev " + kU1, "remove mdev " + kU1});
    CHECK(rd(*k, kT1 + "/available_instances") == "16\n");
}

TEST_CASE("mdev parent registration: change MDEV_STATE on driver bind and unbind") {
    auto k = host("nvidia-a16.toml");
    REQUIRE(k->write(kT1 + "/create", kU1) == 0);
    Recorder r(*k);
    REQUIRE(k->write("/bus/pci/drivers/nvidia/unbind", "0000:3d:00.0") == 0);
    CHECK(r.summary() == std::vector<std::string>{"unbind mdev " + kU1, "remove mdev " + kU1,
                                                  "change pci 0000:3d:00.0", "unbind pci 0000:3d:00.0"});
    CHECK_FALSE(exists(*k, kGpu + "/mdev_supported_types"));
    CHECK_FALSE(exists(*k, "/class/mdev_bus/0000:3d:00.0"));
    r.clear();
    REQUIRE(k->write("/bus/pci/drivers/nvidia/bind", "0000:3d:00.0") == 0);
    CHECK(r.summary() == std::vector<std::string>{"change pci 0000:3d:00.0", "bind pci 0000:3d:00.0"});
    std::lock_guard l(r.mu);
    CHECK(r.events[0].get("MDEV_STATE") == "registered");
    CHECK(r.events[0].properties[3].first == "MDEV_STATE"); // extra env comes before the bus's
    CHECK(r.events[0].tags == std::vector<std::string>{"hostdevd"});
}

// ---- NVIDIA vendor-specific vGPU on L4 VFs
namespace {
const std::string kL4 = "/bus/pci/devices/0000:ca:00.0";
std::string vf_file(int i, const char* f) {
    char a[16];
    std::snprintf(a, sizeof a, "0000:ca:%02x.%x", (4 + i) >> 3, (4 + i) & 7);
    return std::string("/bus/pci/devices/") + a + "/nvidia/" + f;
}
} // namespace

TEST_CASE("L4 VFs bound to nvidia have creatable_vgpu_types and current_vgpu_type") {
    auto k = host("nvidia-l4.toml");
    REQUIRE(k->write(kL4 + "/sriov_numvfs", "16") == 0);
    CHECK(rd(*k, vf_file(0, "current_vgpu_type")) == "0\n");
    auto types = rd(*k, vf_file(0, "creatable_vgpu_types"));
    CHECK(types.rfind("900 : NVIDIA L4-1Q\n", 0) == 0);
    CHECK(types.find("912 : NVIDIA L4-24Q\n") != std::string::npos);
    CHECK(lnk(*k, "/bus/pci/devices/0000:ca:00.4/driver") == "../../../bus/pci/drivers/nvidia");
}

TEST_CASE("current_vgpu_type: create, EBUSY while active, EINVAL not creatable, 0 clears") {
    auto k = host("nvidia-l4.toml");
    REQUIRE(k->write(kL4 + "/sriov_numvfs", "4") == 0);
    CHECK(k->write(vf_file(0, "current_vgpu_type"), "abc") == -EINVAL);
    CHECK(k->write(vf_file(0, "current_vgpu_type"), "12345") == -EINVAL); // unknown id
    REQUIRE(k->write(vf_file(0, "current_vgpu_type"), "906\n") == 0);     // L4-6Q: 4 per GPU
    CHECK(rd(*k, vf_file(0, "current_vgpu_type")) == "906\n");
    CHECK(rd(*k, vf_file(0, "creatable_vgpu_types")).empty());
    CHECK(k->write(vf_file(0, "current_vgpu_type"), "900") == -EBUSY);
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio", "vfio/500"});
    // 6 of 24 units used: the 24Q profile is no longer creatable anywhere.
    CHECK(rd(*k, vf_file(1, "creatable_vgpu_types")).find("NVIDIA L4-24Q") == std::string::npos);
    CHECK(k->write(vf_file(1, "current_vgpu_type"), "912") == -EINVAL);
    CHECK(k->write(vf_file(1, "current_vgpu_type"), "910") == 0); // L4-12Q: 12 units, fits
    CHECK(k->write(vf_file(0, "current_vgpu_type"), "0") == 0);
    CHECK(rd(*k, vf_file(0, "current_vgpu_type")) == "0\n");
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio", "vfio/501"});
}

// ---- a parent that is not a PCI device: the kernel's sample mtty
namespace {
const std::string kMtty = "/devices/virtual/mtty/mtty";
const std::string kMtty1 = "/class/mdev_bus/mtty/mdev_supported_types/mtty-1";
const std::string kMtty2 = "/class/mdev_bus/mtty/mdev_supported_types/mtty-2";
} // namespace

TEST_CASE("mtty parent: a class device linked from mdev_bus, types sharing 24 ports, ENOSPC when full") {
    auto k = host("qemu-nvme.toml");
    CHECK(lnk(*k, "/class/mdev_bus/mtty") == "../../devices/virtual/mtty/mtty");
    CHECK(lnk(*k, "/class/mtty/mtty") == "../../devices/virtual/mtty/mtty");
    CHECK(lnk(*k, kMtty + "/subsystem") == "../../../../class/mtty");
    CHECK(rd(*k, kMtty1 + "/name") == "Single port serial\n");
    CHECK(rd(*k, kMtty1 + "/available_instances") == "24\n");
    CHECK(rd(*k, kMtty2 + "/available_instances") == "12\n");
    REQUIRE(k->write(kMtty2 + "/create", kU1) == 0);
    CHECK(lnk(*k, "/bus/mdev/devices/" + kU1) == "../../../devices/virtual/mtty/mtty/" + kU1);
    CHECK(lnk(*k, kMtty + "/" + kU1 + "/mdev_type") == "../mdev_supported_types/mtty-2");
    CHECK(rd(*k, kMtty1 + "/available_instances") == "22\n"); // mtty-2 takes two ports
    for (int i = 0; i < 11; ++i) {
        char u[40];
        std::snprintf(u, sizeof u, "00000000-0000-0000-0000-%012d", i);
        REQUIRE(k->write(kMtty2 + "/create", u) == 0);
    }
    CHECK(k->write(kMtty1 + "/create", kU2) == -ENOSPC);
    CHECK(k->write("/bus/mdev/devices/" + kU1 + "/remove", "1") == 0);
    CHECK(rd(*k, kMtty1 + "/available_instances") == "2\n");
}

TEST_CASE("mtty parent: absent until its module loads - then add and change MDEV_STATE under its class") {
    auto k = host("lab.toml");
    CHECK_FALSE(exists(*k, "/class/mdev_bus/mtty"));
    CHECK_FALSE(exists(*k, kMtty));
    CHECK(k->write("/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1/create", kU1) == -ENOENT);
    Recorder r(*k);
    std::string error;
    REQUIRE(k->load_module("mtty", error) == 0);
    CHECK(r.summary() == std::vector<std::string>{"add module mtty", "add mtty mtty", "change mtty mtty"});
    {
        std::lock_guard l(r.mu);
        CHECK(r.events[2].get("MDEV_STATE") == "registered");
    }
    CHECK(rd(*k, kMtty1 + "/available_instances") == "24\n");
    REQUIRE(k->write(kMtty1 + "/create", kU1) == 0);
    CHECK(exists(*k, "/bus/mdev/devices/" + kU1));
}
