// The kernel behaviours behind in-use detection and stuck writes that Debian's 6.1 kernel shows
// (tests/vm/facts/observed-6.1.txt [kernel-vfio-device-fd]), in the model: VFIO nodes with the device
// numbers sysfs gives, `enable` counting open VFIO devices only, a VF disable that removes the lower VFs
// and then blocks on a held one while reads that take the PF's lock wait, and an mdev remove that takes
// the mdev off the bus before it blocks.
#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

using namespace simtest;
using namespace std::chrono_literals;

namespace {

// Polls `done` until it holds (a change another thread makes), failing after 5 s.
template <typename F>
void wait_for_state(F done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::yield();
    }
}

void two_vfio_vfs(simhost::Kernel& k) {
    REQUIRE(k.write(kPf0 + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(k.write(kPf0 + "/sriov_numvfs", "2") == 0);
    for (const char* vf : {"0000:3b:02.0", "0000:3b:02.1"}) {
        REQUIRE(k.write(std::string("/bus/pci/devices/") + vf + "/driver_override", "vfio-pci") == 0);
        REQUIRE(k.write("/bus/pci/drivers_probe", vf) == 0);
    }
}

} // namespace

TEST_CASE("VFIO group nodes carry the numbers /sys/class/vfio gives, and vfio-dev class devices exist") {
    auto k = host("intel-x710.toml");
    two_vfio_vfs(*k);
    auto nodes = k->devnode_numbers();
    CHECK(nodes == std::vector<simhost::DevNode>{{"vfio/vfio", simhost::kMiscMajor, 0},
                                                 {"vfio/100", simhost::kVfioGroupMajor, 0},
                                                 {"vfio/101", simhost::kVfioGroupMajor, 1}});
    CHECK(rd(*k, "/class/vfio/101/dev") == "4000:1\n");
    CHECK(lnk(*k, "/class/vfio-dev/vfio1") ==
          "../../devices/pci0000:3a/0000:3a:00.0/0000:3b:02.1/vfio-dev/vfio1");
    CHECK(lnk(*k, "/bus/pci/devices/0000:3b:02.1/vfio-dev/vfio1/device") == "../../../0000:3b:02.1");
    CHECK_FALSE(exists(*k, "/class/vfio-dev/vfio1/dev")); // 6.1: no cdev
    // Unbound: the group node and the class devices go; the freed minor is handed out again.
    REQUIRE(k->write("/bus/pci/drivers/vfio-pci/unbind", "0000:3b:02.0") == 0);
    CHECK_FALSE(exists(*k, "/class/vfio/100"));
    CHECK_FALSE(exists(*k, "/class/vfio-dev/vfio0"));
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    CHECK(rd(*k, "/class/vfio/100/dev") == "4000:0\n");

    auto lab = host("lab.toml"); // vfio_cdev = true: /dev/vfio/devices/vfioN and its `dev`
    std::string err;
    REQUIRE(lab->write("/bus/pci/devices/0000:af:00.0/sriov_numvfs", "1") == 0);
    REQUIRE(lab->write("/bus/pci/devices/0000:af:00.2/driver_override", "vfio-pci") == 0);
    REQUIRE(lab->write("/bus/pci/drivers/mlx5_core/unbind", "0000:af:00.2") == 0);
    REQUIRE(lab->write("/bus/pci/drivers_probe", "0000:af:00.2") == 0);
    CHECK(rd(*lab, "/bus/pci/devices/0000:af:00.2/vfio-dev/vfio0/dev") == "4001:0\n");
    auto names = lab->devnodes();
    CHECK(std::find(names.begin(), names.end(), "vfio/devices/vfio0") != names.end());
    CHECK(std::find(names.begin(), names.end(), "iommu") != names.end());
}

TEST_CASE("enable counts an open VFIO device only: 0 bound and idle or group fd only, 1 with a device fd") {
    auto k = host("intel-x710.toml");
    two_vfio_vfs(*k);
    std::string err;
    const std::string vf1 = "/bus/pci/devices/0000:3b:02.1/enable";
    CHECK(rd(*k, vf1) == "0\n");
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::Group, err) == 0);
    CHECK(rd(*k, vf1) == "0\n");
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::Device, err) == 0);
    CHECK(rd(*k, vf1) == "1\n");
    CHECK(rd(*k, "/bus/pci/devices/0000:3b:02.0/enable") == "0\n");
    CHECK(rd(*k, kPf0 + "/enable") == "1\n"); // i40e enabled it when it probed
}

TEST_CASE("VF disable with a held VF removes the lower VFs, then blocks holding the PF's lock") {
    auto k = host("intel-x710.toml");
    two_vfio_vfs(*k);
    std::string err;
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::Device, err) == 0); // VF 1's device fd
    auto disable = std::async(std::launch::async, [&] { return k->write(kPf0 + "/sriov_numvfs", "0"); });
    wait_for_state([&] { return !exists(*k, "/bus/pci/devices/0000:3b:02.0"); }); // VF 0 went first
    CHECK(exists(*k, "/bus/pci/devices/0000:3b:02.1"));
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:02.1/physfn")); // unlinked before the removal waits
    CHECK_FALSE(exists(*k, kPf0 + "/virtfn1"));
    // Reads whose show() takes the PF's or VF 1's device lock wait; the others answer.
    auto numvfs = std::async(std::launch::async, [&] { return rd(*k, kPf0 + "/sriov_numvfs"); });
    auto override_pf = std::async(std::launch::async, [&] { return rd(*k, kPf0 + "/driver_override"); });
    auto override_vf = std::async(std::launch::async, [&] {
        std::string text;
        return k->read("/bus/pci/devices/0000:3b:02.1/driver_override", text);
    });
    CHECK(rd(*k, kPf0 + "/sriov_totalvfs") == "64\n");
    CHECK(rd(*k, kPf0 + "/enable") == "1\n");
    CHECK(rd(*k, "/bus/pci/devices/0000:3b:02.1/enable") == "1\n");
    // Nothing can release them but the holder: the disable is still waiting for it.
    CHECK(disable.wait_for(200ms) == std::future_status::timeout);
    CHECK(numvfs.wait_for(0ms) == std::future_status::timeout);
    CHECK(override_pf.wait_for(0ms) == std::future_status::timeout);
    CHECK(override_vf.wait_for(0ms) == std::future_status::timeout);
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::None, err) == 0);
    CHECK(disable.get() == 0);
    CHECK(numvfs.get() == "0\n");
    CHECK(override_pf.get() == "(null)\n");
    CHECK(override_vf.get() < 0); // the VF it waited for is gone
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:02.1"));
}

TEST_CASE("a stuck mdev remove takes the mdev off the bus while the write still blocks") {
    auto g = host("nvidia-a16.toml");
    const std::string t = "/bus/pci/devices/0000:3d:00.0/mdev_supported_types/nvidia-700";
    const std::string u = "11111111-2222-3333-4444-555555555555";
    REQUIRE(g->write(t + "/create", u) == 0);
    const std::string dir = lnk(*g, "/bus/mdev/devices/" + u);
    std::string err;
    REQUIRE(g->set_group_hold(84, simhost::GroupHold::Device, err) == 0);
    auto rm =
        std::async(std::launch::async, [&] { return g->write("/bus/mdev/devices/" + u + "/remove", "1"); });
    wait_for_state([&] { return !exists(*g, "/bus/mdev/devices/" + u); });
    CHECK_FALSE(exists(*g, t + "/devices/" + u));
    CHECK(exists(*g, "/bus/pci/devices/0000:3d:00.0/" + u)); // the device itself is still there
    CHECK(rm.wait_for(200ms) == std::future_status::timeout);
    REQUIRE(g->set_group_hold(84, simhost::GroupHold::None, err) == 0);
    CHECK(rm.get() == 0);
    CHECK_FALSE(exists(*g, "/bus/pci/devices/0000:3d:00.0/" + u));
}
