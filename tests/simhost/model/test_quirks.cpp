// The simulated kernel's models of devices that break the simple model (issue 15, docs/simhost-hosts.md):
// PF drivers enabling another number of VFs than written, any IOMMU group layout with VFIO's viability
// rule, module parameters and vfio-pci's denylist, probes that do not take, and the oracle's churn rule.
#include "support.hpp"

using namespace simtest;
using simhost::Fault;
using simhost::GroupHold;

namespace {

const std::string kQat = "/bus/pci/devices/0000:3d:00.0";

std::unique_ptr<simhost::Kernel> from_text(const std::string& text) {
    return std::make_unique<simhost::Kernel>(simhost::parse_host_spec(text, "t.toml"));
}

std::string error_of(const std::string& text) {
    try {
        simhost::parse_host_spec(text, "t.toml");
    } catch (const simhost::HostSpecError& e) {
        return e.what();
    }
    return "(no error)";
}

// One X710-like PF with 8 VFs and the [device.sriov] lines given.
std::string pf_host(const std::string& sriov_lines) {
    return R"(
[[driver]]
name = "i40e"
ids = ["8086:1572"]
sriov_configure = true

[[driver]]
name = "iavf"

[[device]]
address = "0000:3b:00.0"
vendor = 0x8086
device = 0x1572
class = 0x020000
driver = "i40e"
iommu_group = 30

[device.sriov]
totalvfs = 8
offset = 16
vf_device = 0x154c
vf_driver = "iavf"
)" + sriov_lines;
}

int group_of(const simhost::Kernel& k, const std::string& dir) {
    auto target = lnk(k, dir + "/iommu_group");
    return std::stoi(target.substr(target.rfind('/') + 1));
}

simhost::WriteRecord last(const simhost::Kernel& k) {
    auto log = k.write_log();
    REQUIRE(!log.empty());
    return log.back();
}

} // namespace

TEST_CASE("enables = all: QAT's driver enables every VF whatever is written, and the write succeeds") {
    auto k = host("quirks.toml");
    CHECK(k->write(kQat + "/sriov_numvfs", "4") == 0);
    CHECK(rd(*k, kQat + "/sriov_numvfs") == "16\n");
    CHECK(k->write(kQat + "/sriov_numvfs", "0") == 0);
    CHECK(k->write(kQat + "/sriov_numvfs", "1") == 0);
    CHECK(rd(*k, kQat + "/sriov_numvfs") == "16\n");
}

TEST_CASE("enables = N and enables_max, and the enables-vfs fault") {
    auto fixed = from_text(pf_host("enables = 6\n"));
    CHECK(fixed->write(kPf0 + "/sriov_numvfs", "2") == 0);
    CHECK(rd(*fixed, kPf0 + "/sriov_numvfs") == "6\n");
    auto capped = from_text(pf_host("enables_max = 3\n"));
    CHECK(capped->write(kPf0 + "/sriov_numvfs", "5") == 0);
    CHECK(rd(*capped, kPf0 + "/sriov_numvfs") == "3\n");
    auto plain = from_text(pf_host(""));
    std::string err;
    Fault f;
    f.kind = Fault::Kind::EnablesVfs;
    f.path = "0000:3b:00.0";
    f.value = simhost::SriovSpec::kEnablesAll;
    REQUIRE(plain->add_fault(f, err) == 0);
    CHECK(plain->write(kPf0 + "/sriov_numvfs", "2") == 0);
    CHECK(rd(*plain, kPf0 + "/sriov_numvfs") == "8\n");
    f.value = 9; // beyond totalvfs
    CHECK(plain->add_fault(f, err) == -EINVAL);
    CHECK(error_of(pf_host("enables = 9\n")).find("'enables' must be \"all\" or a number of VFs 1..8") !=
          std::string::npos);
    CHECK(error_of(pf_host("enables = \"some\"\n")).find("t.toml:") == 0);
}

TEST_CASE("vf_iommu_groups: a PF sharing its group with some VFs, the others alone") {
    auto k = host("quirks.toml");
    const std::string pf = "/bus/pci/devices/0000:e1:00.0";
    REQUIRE(k->write(pf + "/sriov_numvfs", "8") == 0);
    CHECK(group_of(*k, pf) == 70);
    CHECK(group_of(*k, pf + "/virtfn0") == 70);
    CHECK(group_of(*k, pf + "/virtfn5") == 70);
    CHECK(group_of(*k, pf + "/virtfn6") == 71);
    CHECK(group_of(*k, pf + "/virtfn7") == 72);
    CHECK(error_of(pf_host("vf_iommu_groups = [1, 2]\n")).find("needs one group per VF (8)") !=
          std::string::npos);
    CHECK(error_of(pf_host("vf_iommu_group_base = 100\nvf_iommu_groups = [1, 2, 3, 4, 5, 6, 7, 8]\n"))
              .find("either 'vf_iommu_groups' or 'vf_iommu_group_base'") != std::string::npos);
}

TEST_CASE("VFIO viability: a group with a member on a host driver cannot be held - EPERM") {
    auto k = host("quirks.toml");
    std::string err;
    const std::string gpu = "/bus/pci/devices/0000:65:00.0", audio = "/bus/pci/devices/0000:65:00.1";
    REQUIRE(k->write("/bus/pci/drivers/nvidia/unbind", "0000:65:00.0") == 0);
    REQUIRE(k->write(gpu + "/driver_override", "vfio-pci") == 0);
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:65:00.0") == 0);
    REQUIRE(lnk(*k, gpu + "/driver").find("vfio-pci") != std::string::npos);
    CHECK(k->set_group_hold(60, GroupHold::Group, err) == -EPERM);
    CHECK(err == "IOMMU group 60 is not viable: 0000:65:00.1 is bound to snd_hda_intel (a host driver)");
    REQUIRE(k->write("/bus/pci/drivers/snd_hda_intel/unbind", "0000:65:00.1") == 0);
    CHECK(k->set_group_hold(60, GroupHold::Group, err) == 0); // a driverless member is fine
    (void)audio;
}

TEST_CASE("module parameters and vfio-pci's denylist: QAT refused unless disable_denylist is set") {
    auto k = host("quirks.toml");
    CHECK(rd(*k, "/module/vfio_pci/parameters/disable_denylist") == "N\n");
    const std::string vf = "/bus/pci/devices/0000:3d:01.0";
    REQUIRE(k->write(kQat + "/sriov_numvfs", "16") == 0);
    REQUIRE(k->write("/bus/pci/drivers/c6xxvf/unbind", "0000:3d:01.0") == 0);
    REQUIRE(k->write(vf + "/driver_override", "vfio-pci") == 0);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3d:01.0") == 0); // bus.c: success whatever the probe did
    CHECK_FALSE(exists(*k, vf + "/driver"));
    CHECK(k->write("/bus/pci/drivers/vfio-pci/bind", "0000:3d:01.0") == -EINVAL); // the probe's error

    std::string text = R"(
[[module]]
name = "vfio_pci"
parameters = { disable_denylist = "Y" }
)" + pf_host("");
    text.replace(text.find("vendor = 0x8086\ndevice = 0x1572"), 31, "vendor = 0x8086\ndevice = 0x37c8");
    text.replace(text.find("\"8086:1572\""), 11, "\"8086:37c8\"");
    auto lifted = from_text(text);
    CHECK(rd(*lifted, "/module/vfio_pci/parameters/disable_denylist") == "Y\n");
    REQUIRE(lifted->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0);
    REQUIRE(lifted->write(kPf0 + "/driver_override", "vfio-pci") == 0);
    REQUIRE(lifted->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    CHECK(lnk(*lifted, kPf0 + "/driver").find("vfio-pci") != std::string::npos);
}

TEST_CASE("probe-fail: every probe of the device fails, drivers_probe still succeeds") {
    auto k = from_text(pf_host("autoprobe = false\n"));
    REQUIRE(k->write(kPf0 + "/sriov_numvfs", "2") == 0);
    std::string err;
    Fault f;
    f.kind = Fault::Kind::ProbeFail;
    f.path = "/sys/bus/pci/devices/0000:3b:02.0";
    REQUIRE(k->add_fault(f, err) == 0);
    REQUIRE(k->write(kPf0 + "/virtfn0/driver_override", "vfio-pci") == 0);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    CHECK_FALSE(exists(*k, kPf0 + "/virtfn0/driver"));
    REQUIRE(k->write(kPf0 + "/virtfn1/driver_override", "vfio-pci") == 0);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:02.1") == 0);
    CHECK(exists(*k, kPf0 + "/virtfn1/driver"));
}

TEST_CASE("oracle churn rule: a destruction repeated from the same state is flagged, not after a change") {
    auto k = host("quirks.toml");
    const std::string num = kQat + "/sriov_numvfs";
    REQUIRE(k->write(num, "4") == 0); // 16
    REQUIRE(k->write(num, "0") == 0);
    CHECK_FALSE(last(*k).repeated_destruction); // the first destruction
    REQUIRE(k->write(num, "4") == 0);           // 16 again: where it started
    REQUIRE(k->write(num, "0") == 0);
    CHECK(last(*k).repeated_destruction);
    CHECK(last(*k).repeat_reason.find("sriov_numvfs=0 on 0000:3d:00.0 repeated from the same state") == 0);

    SECTION("a third state in between (autoprobe changed) is a change of input") {
        REQUIRE(k->write(num, "4") == 0);
        REQUIRE(k->write(kQat + "/sriov_drivers_autoprobe", "0") == 0);
        REQUIRE(k->write(kQat + "/sriov_drivers_autoprobe", "1") == 0);
        REQUIRE(k->write(num, "0") == 0);
        CHECK_FALSE(last(*k).repeated_destruction);
    }
    SECTION("an announced change of input (the configuration) forgets what was destroyed") {
        REQUIRE(k->write(num, "4") == 0);
        k->input_changed();
        REQUIRE(k->write(num, "0") == 0);
        CHECK_FALSE(last(*k).repeated_destruction);
    }
    SECTION("holders are not an input: a guest coming and going changes nothing") {
        REQUIRE(k->write(num, "4") == 0);
        std::string err;
        REQUIRE(k->set_group_hold(41, GroupHold::Group, err) == 0);
        REQUIRE(k->set_group_hold(41, GroupHold::None, err) == 0);
        REQUIRE(k->write(num, "0") == 0);
        CHECK(last(*k).repeated_destruction);
    }
}
