// driver_override, bind/unbind, drivers_probe, new_id/remove_id (base/driver.c, bus.c, dd.c,
// pci-driver.c; sysfs-abi.md §2, §5), VFIO group devnodes and netdevs made by probing.
#include "support.hpp"

using namespace simtest;

namespace {
const std::string kOv = kPf0 + "/driver_override";
const std::string kVfioBind = "/bus/pci/drivers/vfio-pci/bind";
} // namespace

TEST_CASE("driver_override: newline stripped, empty or lone newline clears, NUL truncates") {
    auto k = host("intel-x710.toml");
    CHECK(k->write(kOv, "vfio-pci\n") == 0);
    CHECK(rd(*k, kOv) == "vfio-pci\n");
    CHECK(k->write(kOv, "\n") == 0);
    CHECK(rd(*k, kOv) == "(null)\n");
    CHECK(k->write(kOv, "vfio-pci") == 0);
    CHECK(k->write(kOv, "") == 0);
    CHECK(rd(*k, kOv) == "(null)\n");
    CHECK(k->write(kOv, std::string("\0", 1)) == 0); // sriov-network-operator clears with "\x00"
    CHECK(rd(*k, kOv) == "(null)\n");
    CHECK(k->write(kOv, std::string("abc\0def", 7)) == 0);
    CHECK(rd(*k, kOv) == "abc\n");
    CHECK(k->write(kOv, "first\nsecond") == 0); // value ends at the first newline
    CHECK(rd(*k, kOv) == "first\n");
}

TEST_CASE("driver_override: PAGE_SIZE - 1 bytes or more is EINVAL") {
    auto k = host("intel-x710.toml");
    CHECK(k->write(kOv, std::string(4095, 'a')) == -EINVAL);
    CHECK(k->write(kOv, std::string(4094, 'a')) == 0);
}

TEST_CASE("driver_override does not unbind - override to another driver blocks matching") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kOv, "vfio-pci") == 0);
    CHECK(lnk(*k, kPf0 + "/driver") == "../../../../bus/pci/drivers/i40e");
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK(k->write("/bus/pci/drivers/i40e/bind", "0000:3b:00.0") == -ENODEV); // override names vfio-pci
}

TEST_CASE("bind: unknown device or no ID match is ENODEV - already bound is EBUSY") {
    auto k = host("intel-x710.toml");
    CHECK(k->write("/bus/pci/drivers/i40e/bind", "0000:99:00.0") == -ENODEV);
    CHECK(k->write("/bus/pci/drivers/iavf/bind", "0000:3b:00.0") == -ENODEV); // iavf doesn't match 1572
    CHECK(k->write("/bus/pci/drivers/i40e/bind", "0000:3b:00.0\n") == -EBUSY);
    // vfio-pci's table is override_only: no match without driver_override.
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK(k->write(kVfioBind, "0000:3b:00.0") == -ENODEV);
    REQUIRE(k->write(kOv, "vfio-pci") == 0);
    CHECK(k->write(kVfioBind, "0000:3b:00.0") == 0);
}

TEST_CASE("unbind: not bound to this driver is ENODEV") {
    auto k = host("intel-x710.toml");
    CHECK(k->write("/bus/pci/drivers/iavf/unbind", "0000:3b:00.0") == -ENODEV);
    CHECK(k->write("/bus/pci/drivers/i40e/unbind", "0000:99:00.0") == -ENODEV);
    Recorder r(*k);
    CHECK(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK(r.summary() == std::vector<std::string>{"remove net ens1f0", "unbind pci 0000:3b:00.0"});
    CHECK_FALSE(exists(*k, kPf0 + "/driver"));
    CHECK_FALSE(exists(*k, "/bus/pci/drivers/i40e/0000:3b:00.0"));
    CHECK(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == -ENODEV);
}

TEST_CASE("drivers_probe: ENODEV for unknown device, success even when nothing binds") {
    auto k = host("intel-x710.toml");
    CHECK(k->write("/bus/pci/drivers_probe", "0000:99:00.0") == -ENODEV);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(k->write(kOv, "none") == 0); // opt out of binding
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    CHECK_FALSE(exists(*k, kPf0 + "/driver"));
    REQUIRE(k->write(kOv, "\n") == 0);
    Recorder r(*k);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:00.0\n") == 0);
    CHECK(r.summary() == std::vector<std::string>{"add net ens1f0", "bind pci 0000:3b:00.0"});
}

TEST_CASE("vfio-pci binding creates /dev/vfio/<group> - unbinding removes it") {
    auto k = host("intel-x710.toml");
    Recorder r(*k);
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio"});
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(k->write(kOv, "vfio-pci") == 0);
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio", "vfio/30"});
    REQUIRE(k->write("/bus/pci/drivers/vfio-pci/unbind", "0000:3b:00.0") == 0);
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio"});
    std::lock_guard l(r.mu);
    CHECK(r.devnodes == std::vector<std::string>{"+vfio/30", "-vfio/30"});
}

TEST_CASE("new_id: EINVAL under two fields, EEXIST when already matched, then binds matching devices") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.1") == 0);
    CHECK(k->write("/bus/pci/drivers/i40e/new_id", "8086") == -EINVAL);
    CHECK(k->write("/bus/pci/drivers/i40e/new_id", "zz yy") == -EINVAL);
    CHECK(k->write("/bus/pci/drivers/i40e/new_id", "8086 1572\n") == -EEXIST);
    // vfio-pci's static entry is override_only, so a new_id for any ID is new, and it binds at once.
    CHECK(k->write("/bus/pci/drivers/vfio-pci/new_id", "8086 1572") == 0);
    CHECK(lnk(*k, "/bus/pci/devices/0000:3b:00.1/driver") == "../../../../bus/pci/drivers/vfio-pci");
    CHECK(k->write("/bus/pci/drivers/vfio-pci/new_id", "8086 1572") == -EEXIST); // dynamic IDs count
    CHECK(k->write("/bus/pci/drivers/vfio-pci/remove_id", "8086 1572") == 0);
    CHECK(k->write("/bus/pci/drivers/vfio-pci/remove_id", "8086 1572") == -ENODEV);
    CHECK(k->write("/bus/pci/drivers/vfio-pci/remove_id", "8086") == -EINVAL);
}

TEST_CASE("bus drivers_autoprobe 0 stops probing of new VFs but not drivers_probe") {
    auto k = host("intel-x710.toml");
    CHECK(rd(*k, "/bus/pci/drivers_autoprobe") == "1\n");
    REQUIRE(k->write("/bus/pci/drivers_autoprobe", "0\n") == 0);
    CHECK(rd(*k, "/bus/pci/drivers_autoprobe") == "0\n");
    REQUIRE(k->write(kPf0 + "/sriov_numvfs", "1") == 0);
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:02.0/driver"));
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    CHECK(exists(*k, "/bus/pci/devices/0000:3b:02.0/driver"));
}

TEST_CASE("denylisted device: probe fails with the driver's errno, drivers_probe still succeeds") {
    auto spec = simhost::load_host_spec(std::string(HOSTS_DIR) + "/intel-x710.toml");
    for (auto& d : spec.drivers)
        if (d.name == "vfio-pci")
            d.deny.push_back({0x8086, 0x1572, simhost::PciIdMatch::kAny, simhost::PciIdMatch::kAny, 0, 0});
    simhost::Kernel k(spec);
    REQUIRE(k.write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(k.write(kOv, "vfio-pci") == 0);
    CHECK(k.write(kVfioBind, "0000:3b:00.0") == -EINVAL);
    CHECK(k.write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    CHECK_FALSE(exists(k, kPf0 + "/driver"));
}

TEST_CASE("device reset attribute accepts only 1") {
    auto k = host("qemu-nvme.toml");
    CHECK(k->write("/bus/pci/devices/0000:01:00.0/reset", "1\n") == 0);
    CHECK(k->write("/bus/pci/devices/0000:01:00.0/reset", "2") == -EINVAL);
}

TEST_CASE("writing an action to uevent synthesises that event - unknown action is EINVAL") {
    auto k = host("intel-x710.toml");
    Recorder r(*k);
    CHECK(k->write(kPf0 + "/uevent", "bogus") == -EINVAL);
    CHECK(k->write(kPf0 + "/uevent", "change\n") == 0);
    CHECK(k->write("/class/net/ens1f0/uevent", "add") == 0);
    CHECK(r.summary() == std::vector<std::string>{"change pci 0000:3b:00.0", "add net ens1f0"});
    std::lock_guard l(r.mu);
    CHECK(r.events[0].get("SYNTH_UUID") == "0");
    CHECK(r.events[0].get("DRIVER") == "i40e");
}
