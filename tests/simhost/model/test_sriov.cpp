// sriov_numvfs / sriov_drivers_autoprobe semantics and errno (iov.c sriov_numvfs_store, sysfs-abi.md §1.2,
// §5) and the uevent order of VF enable/disable.
#include "support.hpp"

using namespace simtest;

static const std::string kNum = kPf0 + "/sriov_numvfs";

// Debian's 6.1 kernel answers EINVAL for every parse failure, 70000 included (tests/vm/facts).
TEST_CASE("sriov_numvfs: not a u16 is EINVAL, above 65535 too") {
    auto k = host("intel-x710.toml");
    CHECK(k->write(kNum, "abc\n") == -EINVAL);
    CHECK(k->write(kNum, "-1") == -EINVAL);
    CHECK(k->write(kNum, "") == -EINVAL);
    CHECK(k->write(kNum, "65536") == -EINVAL);
    CHECK(k->write(kNum, "70000") == -EINVAL);
    CHECK(rd(*k, kNum) == "0\n");
}

TEST_CASE("sriov_numvfs: above totalvfs is ERANGE (checked before the driver)") {
    auto k = host("intel-x710.toml");
    CHECK(k->write(kNum, "65\n") == -ERANGE);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK(k->write(kNum, "65") == -ERANGE);
}

TEST_CASE("sriov_numvfs: base 0 accepts hex and a trailing newline") {
    auto k = host("intel-x710.toml");
    CHECK(k->write(kNum, "0x4\n") == 0);
    CHECK(rd(*k, kNum) == "4\n");
}

TEST_CASE("sriov_numvfs: same value is a successful no-op (0 to 0 too)") {
    auto k = host("intel-x710.toml");
    Recorder r(*k);
    CHECK(k->write(kNum, "0") == 0);
    REQUIRE(k->write(kNum, "2") == 0);
    r.clear();
    CHECK(k->write(kNum, "2\n") == 0);
    CHECK(r.summary().empty());
}

TEST_CASE("sriov_numvfs: no PF driver is ENOENT") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    CHECK(k->write(kNum, "2") == -ENOENT);
    CHECK(k->write(kNum, "0") == 0); // same value first
}

TEST_CASE("sriov_numvfs: PF driver without sriov_configure (vfio-pci) is ENOENT") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(k->write(kPf0 + "/driver_override", "vfio-pci") == 0);
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    REQUIRE(lnk(*k, kPf0 + "/driver") == "../../../../bus/pci/drivers/vfio-pci");
    CHECK(k->write(kNum, "2") == -ENOENT);
}

TEST_CASE("sriov_numvfs: N>0 while M>0 is EBUSY - 0 then N works") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kNum, "2") == 0);
    CHECK(k->write(kNum, "3") == -EBUSY);
    CHECK(rd(*k, kNum) == "2\n");
    REQUIRE(k->write(kNum, "0") == 0);
    CHECK(k->write(kNum, "3") == 0);
    CHECK(rd(*k, kNum) == "3\n");
}

TEST_CASE("VF enable creates VFs at offset/stride with links, groups and bound drivers") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kNum, "2") == 0);
    CHECK(lnk(*k, kPf0 + "/virtfn0") == "../0000:3b:02.0");
    CHECK(lnk(*k, kPf0 + "/virtfn1") == "../0000:3b:02.1");
    std::string vf = "/bus/pci/devices/0000:3b:02.1";
    CHECK(lnk(*k, vf + "/physfn") == "../0000:3b:00.0");
    CHECK(rd(*k, vf + "/device") == "0x154c\n");
    CHECK(rd(*k, vf + "/vendor") == "0x8086\n");
    CHECK(lnk(*k, vf + "/iommu_group") == "../../../../kernel/iommu_groups/101");
    CHECK(lnk(*k, vf + "/driver") == "../../../../bus/pci/drivers/iavf");
    CHECK(exists(*k, vf + "/net/ens1f0v1"));
    CHECK_FALSE(exists(*k, vf + "/sriov_numvfs")); // PF-only attribute group
    CHECK(exists(*k, vf + "/reset"));
    // PF1's VFs use its own offset (79).
    REQUIRE(k->write("/bus/pci/devices/0000:3b:00.1/sriov_numvfs", "1") == 0);
    CHECK(lnk(*k, "/bus/pci/devices/0000:3b:00.1/virtfn0") == "../0000:3b:0a.0");
}

TEST_CASE("VF enable events: per VF add, change, net add, bind, then PF change - SEQNUM increments - tags") {
    auto k = host("intel-x710.toml");
    Recorder r(*k);
    REQUIRE(k->write(kNum, "2") == 0);
    CHECK(r.summary() == std::vector<std::string>{"add pci 0000:3b:02.0", "change pci 0000:3b:02.0",
                                                  "add net ens1f0v0", "bind pci 0000:3b:02.0",
                                                  "add pci 0000:3b:02.1", "change pci 0000:3b:02.1",
                                                  "add net ens1f0v1", "bind pci 0000:3b:02.1",
                                                  "change pci 0000:3b:00.0"});
    std::lock_guard l(r.mu);
    auto& add = r.events[0];
    CHECK(add.properties[0] == std::pair<std::string, std::string>{"ACTION", "add"});
    CHECK(add.properties[1].second == "/devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0");
    CHECK(add.properties[2] == std::pair<std::string, std::string>{"SUBSYSTEM", "pci"});
    CHECK(add.get("DRIVER").empty());
    CHECK(add.get("PCI_ID") == "8086:154C");
    CHECK(add.get("PCI_SLOT_NAME") == "0000:3b:02.0");
    CHECK(add.get("MODALIAS") == "pci:v00008086d0000154Csv00008086sd00000006bc02sc00i00");
    CHECK(add.properties.back().first == "SEQNUM");
    CHECK(add.tags == std::vector<std::string>{"hostdevd"});
    CHECK(r.events[3].get("DRIVER") == "iavf");
    CHECK(r.events[2].tags.empty()); // net events are not ours
    for (size_t i = 1; i < r.events.size(); ++i)
        CHECK(std::stoul(r.events[i].get("SEQNUM")) == std::stoul(r.events[i - 1].get("SEQNUM")) + 1);
}

// The lowest VF goes first, as on Debian's 6.1 kernel (tests/vm/facts/observed-6.1.txt).
TEST_CASE("VF disable events: per VF from the lowest, net remove, unbind, remove") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kNum, "2") == 0);
    Recorder r(*k);
    REQUIRE(k->write(kNum, "0") == 0);
    CHECK(r.summary() == std::vector<std::string>{"remove net ens1f0v0", "unbind pci 0000:3b:02.0",
                                                  "remove pci 0000:3b:02.0", "remove net ens1f0v1",
                                                  "unbind pci 0000:3b:02.1", "remove pci 0000:3b:02.1"});
    {
        std::lock_guard l(r.mu);
        CHECK(r.events[1].get("DRIVER").empty()); // dev->driver is NULL before KOBJ_UNBIND
    }
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:02.0"));
    CHECK_FALSE(exists(*k, kPf0 + "/virtfn0"));
    CHECK_FALSE(exists(*k, "/class/net/ens1f0v0"));
}

TEST_CASE("sriov_drivers_autoprobe: kstrtobool, EINVAL otherwise - 0 leaves new VFs unbound") {
    auto k = host("intel-x710.toml");
    std::string ap = kPf0 + "/sriov_drivers_autoprobe";
    CHECK(k->write(ap, "maybe") == -EINVAL);
    CHECK(k->write(ap, "") == -EINVAL);
    CHECK(k->write(ap, "off\n") == 0);
    CHECK(rd(*k, ap) == "0\n");
    CHECK(k->write(ap, "Y") == 0);
    CHECK(rd(*k, ap) == "1\n");
    REQUIRE(k->write(ap, "0") == 0);
    Recorder r(*k);
    REQUIRE(k->write(kNum, "1") == 0);
    CHECK(r.summary() == std::vector<std::string>{"add pci 0000:3b:02.0", "change pci 0000:3b:02.0",
                                                  "change pci 0000:3b:00.0"});
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:02.0/driver"));
}

TEST_CASE("VF with autoprobe 0 binds only through driver_override (pci_device_can_probe)") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kPf0 + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(k->write(kNum, "1") == 0);
    std::string vf = "/bus/pci/devices/0000:3b:02.0";
    // drivers_probe succeeds but nothing binds; an explicit bind is refused by the probe.
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    CHECK_FALSE(exists(*k, vf + "/driver"));
    CHECK(k->write("/bus/pci/drivers/iavf/bind", "0000:3b:02.0") == -ENODEV);
    REQUIRE(k->write(vf + "/driver_override", "vfio-pci\n") == 0);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    CHECK(lnk(*k, vf + "/driver") == "../../../../bus/pci/drivers/vfio-pci");
}

TEST_CASE("unbinding the PF driver disables its VFs first") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kNum, "2") == 0);
    Recorder r(*k);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0\n") == 0);
    auto s = r.summary();
    REQUIRE(s.size() == 8);
    CHECK(s[5] == "remove pci 0000:3b:02.1"); // the lowest VF goes first, the last one ends the disable
    CHECK(s[6] == "remove net ens1f0");
    CHECK(s[7] == "unbind pci 0000:3b:00.0");
    CHECK(rd(*k, kNum) == "0\n");
}

TEST_CASE("start state: numvfs in the description creates bound VFs without events") {
    auto spec = simhost::load_host_spec(std::string(HOSTS_DIR) + "/qemu-nvme.toml");
    spec.devices[1].sriov->numvfs = 2;
    simhost::Kernel k(spec);
    CHECK(rd(k, "/bus/pci/devices/0000:01:00.0/sriov_numvfs") == "2\n");
    CHECK(lnk(k, "/bus/pci/devices/0000:01:00.2/driver") == "../../../../bus/pci/drivers/nvme");
    CHECK(lnk(k, "/bus/pci/devices/0000:01:00.1/physfn") == "../0000:01:00.0");
}

TEST_CASE("qemu-nvme host matches the VM tier: offset 1, stride 1, VF 0010, one group per VF") {
    auto k = host("qemu-nvme.toml");
    std::string pf = "/bus/pci/devices/0000:01:00.0";
    CHECK(rd(*k, pf + "/sriov_vf_device") == "10\n");
    REQUIRE(k->write(pf + "/sriov_numvfs", "4") == 0);
    CHECK(k->write(pf + "/sriov_numvfs", "5") == -ERANGE);
    CHECK(k->write(pf + "/sriov_numvfs", "3") == -EBUSY);
    CHECK(lnk(*k, pf + "/virtfn3") == "../0000:01:00.4");
    CHECK(lnk(*k, "/bus/pci/devices/0000:01:00.4/iommu_group") == "../../../../kernel/iommu_groups/7");
    CHECK(rd(*k, "/bus/pci/devices/0000:01:00.4/device") == "0x0010\n");
}
