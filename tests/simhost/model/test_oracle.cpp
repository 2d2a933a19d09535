// The safety oracle (kernel_oracle.cpp): each WriteRecord says whether the write was disruptive AND hit a
// device in use when it was issued. tests/safety relies on it to judge hostdevd from the write log.
#include "support.hpp"

using namespace simtest;

namespace {

const std::string kNum = kPf0 + "/sriov_numvfs";

int group_of(const simhost::Kernel& k, const std::string& device_dir) {
    auto target = lnk(k, device_dir + "/iommu_group");
    return std::stoi(target.substr(target.rfind('/') + 1));
}

simhost::WriteRecord last_write(const simhost::Kernel& k) {
    auto log = k.write_log();
    REQUIRE(!log.empty());
    return log.back();
}

std::string first_vf_netdev(const simhost::Kernel& k, const std::string& vf_dir) {
    std::vector<std::string> names;
    REQUIRE(k.list(vf_dir + "/net", names) == 0);
    REQUIRE(!names.empty());
    return names.front();
}

} // namespace

TEST_CASE("oracle: VF disable with an idle VF is clean - with a held VF group it is flagged") {
    auto k = host("intel-x710.toml");
    std::string err;
    REQUIRE(k->write(kNum, "2") == 0);
    CHECK_FALSE(last_write(*k).disrupted_in_use); // enabling destroys nothing
    REQUIRE(k->write(kNum, "0") == 0);
    CHECK_FALSE(last_write(*k).disrupted_in_use);

    REQUIRE(k->write(kNum, "2") == 0);
    const int group = group_of(*k, kPf0 + "/virtfn1");
    // A group fd alone does not make the kernel wait (vfio_main.c), so the write goes through: exactly the
    // case the oracle exists for.
    REQUIRE(k->set_group_hold(group, simhost::GroupHold::Group, err) == 0);
    REQUIRE(k->write(kNum, "0") == 0);
    auto rec = last_write(*k);
    CHECK(rec.disrupted_in_use);
    CHECK(rec.in_use_reason.find("VFIO group " + std::to_string(group)) != std::string::npos);
}

TEST_CASE("oracle: EBUSY numvfs change and non-disruptive writes are never flagged") {
    auto k = host("intel-x710.toml");
    std::string err;
    REQUIRE(k->write(kNum, "2") == 0);
    REQUIRE(k->set_group_hold(group_of(*k, kPf0 + "/virtfn0"), simhost::GroupHold::Group, err) == 0);
    CHECK(k->write(kNum, "3") == -EBUSY); // iov.c: N>0 while M>0 destroys nothing
    CHECK_FALSE(last_write(*k).disrupted_in_use);
    CHECK(k->write(kPf0 + "/virtfn0/driver_override", "vfio-pci") == 0);
    CHECK_FALSE(last_write(*k).disrupted_in_use);
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:02.0") == 0); // bound already: dd.c skips it
    CHECK_FALSE(last_write(*k).disrupted_in_use);
}

TEST_CASE("oracle: unbinding a VF whose netdev is up or enslaved is flagged - down and free is not") {
    auto k = host("intel-x710.toml");
    std::string err;
    REQUIRE(k->write(kNum, "2") == 0);
    const std::string vf0 = kPf0 + "/virtfn0", vf1 = kPf0 + "/virtfn1";
    const std::string addr0 = lnk(*k, vf0).substr(3), addr1 = lnk(*k, vf1).substr(3);
    const std::string drv = lnk(*k, vf0 + "/driver");
    const std::string unbind = "/bus/pci/drivers/" + drv.substr(drv.rfind('/') + 1) + "/unbind";

    REQUIRE(k->set_link(first_vf_netdev(*k, vf0), true, err) == 0);
    REQUIRE(k->write(unbind, addr0) == 0);
    CHECK(last_write(*k).disrupted_in_use);
    CHECK(last_write(*k).in_use_reason.find("is up") != std::string::npos);

    REQUIRE(k->set_master(first_vf_netdev(*k, vf1), "br0", err) == 0);
    REQUIRE(k->write(unbind, addr1) == 0);
    CHECK(last_write(*k).disrupted_in_use);
    CHECK(last_write(*k).in_use_reason.find("enslaved to br0") != std::string::npos);

    REQUIRE(k->write(kNum, "0") == 0); // both VFs unbound now, their netdevs gone
    CHECK_FALSE(last_write(*k).disrupted_in_use);
}

TEST_CASE("oracle: PF unbind counts the VFs its driver disables") {
    auto k = host("intel-x710.toml");
    std::string err;
    REQUIRE(k->write(kNum, "1") == 0);
    REQUIRE(k->set_group_hold(group_of(*k, kPf0 + "/virtfn0"), simhost::GroupHold::Group, err) == 0);
    REQUIRE(k->write("/bus/pci/drivers/i40e/unbind", "0000:3b:00.0") == 0); // i40e remove disables SR-IOV
    auto rec = last_write(*k);
    CHECK(rec.disrupted_in_use);
    CHECK(rec.in_use_reason.find("unbind of 0000:3b:00.0") != std::string::npos);
}

TEST_CASE("oracle: removing an mdev whose group is open is flagged - an idle one is not") {
    auto k = host("nvidia-a16.toml");
    std::string err;
    const std::string gpu = "/bus/pci/devices/0000:3d:00.0";
    const std::string type = gpu + "/mdev_supported_types/nvidia-700";
    const std::string u1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
                      u2 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002";
    REQUIRE(k->write(type + "/create", u1) == 0);
    REQUIRE(k->write(type + "/create", u2) == 0);
    REQUIRE(k->write(gpu + "/" + u1 + "/remove", "1") == 0);
    CHECK_FALSE(last_write(*k).disrupted_in_use);
    REQUIRE(k->set_group_hold(group_of(*k, gpu + "/" + u2), simhost::GroupHold::Group, err) == 0);
    REQUIRE(k->write(gpu + "/" + u2 + "/remove", "1") == 0);
    CHECK(last_write(*k).disrupted_in_use);
    CHECK(last_write(*k).in_use_reason.find("mdev " + u2) != std::string::npos);
}
