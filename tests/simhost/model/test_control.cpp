// Control operations (plug, links, masters, holds, faults, modules, reset) and the write log.
#include "support.hpp"

#include <future>

using namespace simtest;
using namespace std::chrono_literals;

namespace {
void bind_vfio(simhost::Kernel& k, const std::string& addr, const std::string& from) {
    REQUIRE(k.write("/bus/pci/drivers/" + from + "/unbind", addr) == 0);
    REQUIRE(k.write("/bus/pci/devices/" + addr + "/driver_override", "vfio-pci") == 0);
    REQUIRE(k.write("/bus/pci/drivers_probe", addr) == 0);
}
} // namespace

TEST_CASE("plug adds a present=false device and probes it - unplug removes VFs first") {
    auto k = host("lab.toml");
    std::string e810 = "/bus/pci/devices/0000:5e:00.0";
    std::string err;
    CHECK_FALSE(exists(*k, e810));
    Recorder r(*k);
    REQUIRE(k->plug("0000:5e:00.0", err) == 0);
    CHECK(r.summary() ==
          std::vector<std::string>{"add pci 0000:5e:00.0", "add net ens2f0", "bind pci 0000:5e:00.0"});
    CHECK(lnk(*k, e810 + "/driver") == "../../../../bus/pci/drivers/ice");
    CHECK(k->plug("0000:5e:00.0", err) == -EEXIST);
    CHECK(k->plug("0000:77:00.0", err) == -ENOENT);
    REQUIRE(k->write(e810 + "/sriov_numvfs", "1") == 0);
    r.clear();
    REQUIRE(k->unplug("0000:5e:00.0", err) == 0);
    CHECK(r.summary() == std::vector<std::string>{"remove net ens2f0v0", "unbind pci 0000:5e:01.0",
                                                  "remove pci 0000:5e:01.0", "remove net ens2f0",
                                                  "unbind pci 0000:5e:00.0", "remove pci 0000:5e:00.0"});
    CHECK_FALSE(exists(*k, e810));
    CHECK(k->unplug("0000:5e:00.0", err) == -ENOENT);
    CHECK(k->unplug("0000:5d:00.0", err) == 0); // bridge now has nothing behind it
}

TEST_CASE("set_link toggles IFF_UP and operstate - unknown netdev is ENODEV") {
    auto k = host("intel-x710.toml");
    std::string err;
    REQUIRE(k->set_link("ens1f0", true, err) == 0);
    CHECK(rd(*k, "/class/net/ens1f0/flags") == "0x1003\n");
    CHECK(rd(*k, "/class/net/ens1f0/operstate") == "up\n");
    REQUIRE(k->set_link("ens1f0", false, err) == 0);
    CHECK(rd(*k, "/class/net/ens1f0/operstate") == "down\n");
    CHECK(k->set_link("nope0", true, err) == -ENODEV);
}

TEST_CASE("set_master creates a virtual master with master/upper/lower links - release removes them") {
    auto k = host("intel-x710.toml");
    std::string err;
    Recorder r(*k);
    REQUIRE(k->set_master("ens1f0", "br0", err) == 0);
    CHECK(r.summary() == std::vector<std::string>{"add net br0"});
    CHECK(lnk(*k, "/class/net/br0") == "../../devices/virtual/net/br0");
    CHECK(lnk(*k, "/class/net/ens1f0/master") == "../../../../../virtual/net/br0");
    CHECK(exists(*k, "/class/net/ens1f0/upper_br0"));
    CHECK(exists(*k, "/class/net/br0/lower_ens1f0"));
    CHECK(k->set_master("ens1f0", "ens1f1", err) == -EINVAL);
    REQUIRE(k->set_master("ens1f0", "", err) == 0);
    CHECK_FALSE(exists(*k, "/class/net/ens1f0/master"));
    CHECK(exists(*k, "/class/net/br0"));
}

TEST_CASE("a Device hold blocks vfio unbind until released - a Group hold does not") {
    auto k = host("intel-x710.toml");
    bind_vfio(*k, "0000:3b:00.1", "i40e");
    std::string err;
    REQUIRE(k->set_group_hold(31, simhost::GroupHold::Device, err) == 0);
    auto fut = std::async(std::launch::async,
                          [&] { return k->write("/bus/pci/drivers/vfio-pci/unbind", "0000:3b:00.1"); });
    CHECK(fut.wait_for(200ms) == std::future_status::timeout); // still blocked
    std::string s;
    CHECK(k->read("/bus/pci/devices/0000:3b:00.1/vendor", s) == 0); // reads are not blocked meanwhile
    REQUIRE(k->set_group_hold(31, simhost::GroupHold::Group, err) == 0);
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK(fut.get() == 0);
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:3b:00.1/driver"));
    auto log = k->write_log();
    CHECK(log.back().duration >= std::chrono::microseconds(150000)); // blocked for most of the 200 ms
    CHECK(k->set_group_hold(9999, simhost::GroupHold::Device, err) == -ENOENT);
}

TEST_CASE("a Device hold on a VF blocks VF disable - removing an mdev blocks likewise") {
    auto k = host("intel-x710.toml");
    REQUIRE(k->write(kPf0 + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(k->write(kPf0 + "/sriov_numvfs", "2") == 0);
    REQUIRE(k->write("/bus/pci/devices/0000:3b:02.1/driver_override", "vfio-pci") == 0);
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:3b:02.1") == 0);
    std::string err;
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::Device, err) == 0);
    auto fut = std::async(std::launch::async, [&] { return k->write(kPf0 + "/sriov_numvfs", "0"); });
    CHECK(fut.wait_for(200ms) == std::future_status::timeout);
    REQUIRE(k->set_group_hold(101, simhost::GroupHold::None, err) == 0);
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK(fut.get() == 0);
    CHECK(rd(*k, kPf0 + "/sriov_numvfs") == "0\n");

    auto g = host("nvidia-a16.toml");
    std::string t = "/bus/pci/devices/0000:3d:00.0/mdev_supported_types/nvidia-700/create";
    std::string u = "11111111-2222-3333-4444-555555555555";
    REQUIRE(g->write(t, u) == 0);
    REQUIRE(g->set_group_hold(84, simhost::GroupHold::Device, err) == 0);
    auto rm =
        std::async(std::launch::async, [&] { return g->write("/bus/mdev/devices/" + u + "/remove", "1"); });
    CHECK(rm.wait_for(200ms) == std::future_status::timeout);
    REQUIRE(g->set_group_hold(84, simhost::GroupHold::None, err) == 0);
    REQUIRE(rm.wait_for(5s) == std::future_status::ready);
    CHECK(rm.get() == 0);
}

TEST_CASE("FailWrite: the next count matching writes fail, then writes succeed - prefix match") {
    auto k = host("intel-x710.toml");
    std::string err;
    simhost::Fault f;
    f.kind = simhost::Fault::Kind::FailWrite;
    f.path = "/sys/bus/pci/devices/0000:3b:00.0/sriov_*";
    f.error = EIO;
    f.count = 2;
    REQUIRE(k->add_fault(f, err) == 0);
    CHECK(k->write(kPf0 + "/sriov_numvfs", "1") == -EIO);
    // The canonical path matches the same fault.
    CHECK(k->write("/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/sriov_numvfs", "1") == -EIO);
    CHECK(k->write(kPf0 + "/sriov_numvfs", "1") == 0);
    f.count = 0; // every write
    f.path = "/sys/bus/pci/drivers_probe";
    REQUIRE(k->add_fault(f, err) == 0);
    for (int i = 0; i < 3; ++i)
        CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == -EIO);
    k->clear_faults();
    CHECK(k->write("/bus/pci/drivers_probe", "0000:3b:00.0") == 0);
    f.path = "bus/pci";
    CHECK(k->add_fault(f, err) == -EINVAL);
    f.path = "/sys/x";
    f.error = 0;
    CHECK(k->add_fault(f, err) == -EINVAL);
}

TEST_CASE("BlockWrite delays the write, then performs it") {
    auto k = host("intel-x710.toml");
    std::string err;
    simhost::Fault f;
    f.kind = simhost::Fault::Kind::BlockWrite;
    f.path = "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs";
    f.seconds = 0.3;
    f.count = 0;
    REQUIRE(k->add_fault(f, err) == 0);
    auto fut = std::async(std::launch::async, [&] { return k->write(kPf0 + "/sriov_numvfs", "2"); });
    // The model stays usable while the write sleeps (sriov_numvfs itself is read under the PF's lock,
    // which the blocked store holds: tests/simhost/model/test_in_use.cpp).
    CHECK(rd(*k, kPf0 + "/sriov_totalvfs") == "64\n");
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK(fut.get() == 0);
    CHECK(rd(*k, kPf0 + "/sriov_numvfs") == "2\n");
    CHECK(k->write_log().back().duration >= std::chrono::microseconds(300000));
}

TEST_CASE("LimitVfs: the driver enables fewer VFs and the write still succeeds") {
    auto k = host("intel-x710.toml");
    std::string err;
    simhost::Fault f;
    f.kind = simhost::Fault::Kind::LimitVfs;
    f.path = "0000:3b:00.0";
    f.value = 3;
    REQUIRE(k->add_fault(f, err) == 0);
    CHECK(k->write(kPf0 + "/sriov_numvfs", "8") == 0);
    CHECK(rd(*k, kPf0 + "/sriov_numvfs") == "3\n");
    CHECK_FALSE(exists(*k, kPf0 + "/virtfn3"));
    f.path = "0000:3a:00.0";
    CHECK(k->add_fault(f, err) == -EINVAL); // not an SR-IOV PF
    f.path = "0000:99:00.0";
    CHECK(k->add_fault(f, err) == -ENOENT);
}

TEST_CASE("ProbeDelay: VFs appear at once, drivers bind later with their events") {
    auto k = host("intel-x710.toml");
    std::string err;
    simhost::Fault f;
    f.kind = simhost::Fault::Kind::ProbeDelay;
    f.path = "/sys/bus/pci/devices/0000:3b:00.0";
    f.seconds = 0.2;
    REQUIRE(k->add_fault(f, err) == 0);
    Recorder r(*k);
    const auto written = std::chrono::steady_clock::now();
    REQUIRE(k->write(kPf0 + "/sriov_numvfs", "2") == 0);
    const auto returned = std::chrono::steady_clock::now();
    CHECK(exists(*k, "/bus/pci/devices/0000:3b:02.1"));
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (r.summary().size() < 9 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms); // polling the recorder, with a deadline
    auto s = r.summary();
    REQUIRE(s.size() == 9);
    CHECK(s[4] == "change pci 0000:3b:00.0");
    CHECK(s[5] == "add net ens1f0v0");
    CHECK(s[6] == "bind pci 0000:3b:02.0");
    CHECK(s[8] == "bind pci 0000:3b:02.1");
    // Timed by when each event was delivered, not by when the test looked (a loaded machine can pause
    // the test longer than the delay): add + change per VF and the PF's change before the write
    // returned; the binds not before the probe delay had passed.
    std::lock_guard l(r.mu);
    for (size_t i = 0; i < 5; ++i)
        CHECK(r.times[i] <= returned);
    for (size_t i = 5; i < 9; ++i)
        CHECK(r.times[i] >= written + 200ms);
}

TEST_CASE(
    "load_module registers its drivers (ENOENT if unknown) and the variant driver binds the CX-6 Dx VF") {
    auto k = host("mellanox-cx5.toml");
    std::string err;
    CHECK(k->load_module("nosuch", err) == -ENOENT);
    Recorder r(*k);
    REQUIRE(k->load_module("mlx5_vfio_pci", err) == 0);
    CHECK(r.summary() == std::vector<std::string>{"add module mlx5_vfio_pci", "add drivers mlx5_vfio_pci"});
    CHECK(lnk(*k, "/module/mlx5_vfio_pci/drivers/pci:mlx5_vfio_pci") ==
          "../../../bus/pci/drivers/mlx5_vfio_pci");
    CHECK(k->load_module("mlx5_vfio_pci", err) == 0); // already loaded
    std::string pf = "/bus/pci/devices/0000:d8:00.0";
    REQUIRE(k->write(pf + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(k->write(pf + "/sriov_numvfs", "1") == 0);
    std::string vf = "/bus/pci/devices/0000:d8:00.2";
    CHECK(rd(*k, vf + "/modalias").rfind("pci:v000015B3d0000101E", 0) == 0);
    REQUIRE(k->write(vf + "/driver_override", "mlx5_vfio_pci") == 0);
    REQUIRE(k->write("/bus/pci/drivers_probe", "0000:d8:00.2") == 0);
    CHECK(lnk(*k, vf + "/driver") == "../../../../bus/pci/drivers/mlx5_vfio_pci");
    CHECK(k->devnodes() == std::vector<std::string>{"vfio/vfio", "vfio/440"});
}

TEST_CASE("write log records path, value, errno and duration of every write") {
    auto k = host("intel-x710.toml");
    k->write(kPf0 + "/sriov_numvfs", "2\n");
    k->write(kPf0 + "/sriov_numvfs", "3\n");
    auto log = k->write_log();
    REQUIRE(log.size() == 2);
    CHECK(log[0].path == "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs");
    CHECK(log[0].value == "2\n");
    CHECK(log[0].error == 0);
    CHECK(log[1].error == EBUSY);
    k->clear_write_log();
    CHECK(k->write_log().empty());
}

TEST_CASE("reset returns to the host description") {
    auto k = host("lab.toml");
    std::string err;
    REQUIRE(k->write(kPf0 + "/sriov_numvfs", "4") == 0);
    REQUIRE(k->plug("0000:5e:00.0", err) == 0);
    REQUIRE(k->set_master("ens1f0", "br0", err) == 0);
    k->reset();
    CHECK(rd(*k, kPf0 + "/sriov_numvfs") == "0\n");
    CHECK_FALSE(exists(*k, "/bus/pci/devices/0000:5e:00.0"));
    CHECK_FALSE(exists(*k, "/class/net/br0"));
    CHECK(k->write_log().empty());
    CHECK(rd(*k, "/class/net/ens1f0/ifindex") == "2\n");
}
