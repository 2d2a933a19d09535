// observe_host / refresh_devices / holders_now against fixture trees laid out like sysfs and /proc.
#include "fake_host.hpp"
#include "model/pci_address.hpp"
#include "observe/observe.hpp"
#include "observe/parallel_read.hpp"
#include "observe/pci_reader.hpp"
#include "sysfs/read.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace hostdevd;
using hostdevd::testing::DeviceSpec;
using hostdevd::testing::FakeHost;

namespace {

const std::string kPf = "0000:3b:00.0";
// Intel X710 numbering: offset 16, stride 1 → VF0 at 3b:02.0 (iov.c pci_iov_virtfn_devfn).
const std::string kVf0 = "0000:3b:02.0";
const std::string kVf1 = "0000:3b:02.1";

DeviceSpec iavf_vf(int group) {
    DeviceSpec spec;
    spec.device = 0x154c;
    spec.driver = "iavf";
    spec.iommu_group = group;
    return spec;
}

// A PF bound to i40e with two VFs: VF0 on iavf with netdev ens1f0v0 (down), VF1 on vfio-pci.
void make_sriov_host(FakeHost& host) {
    DeviceSpec pf;
    pf.driver = "i40e";
    pf.iommu_group = 10;
    host.add_device(kPf, pf);
    host.make_pf(kPf, 64, 2, 16, 1, /*autoprobe=*/false);
    host.add_netdev(kPf, "ens1f0", true);
    host.add_vf(kPf, 0, kVf0, iavf_vf(20));
    host.add_netdev(kVf0, "ens1f0v0", false);
    DeviceSpec vfio = iavf_vf(21);
    vfio.driver = "vfio-pci";
    vfio.driver_override = "vfio-pci";
    host.add_vf(kPf, 1, kVf1, vfio);
}

DeviceSpec spec(const std::string& driver, int group = -1, uint16_t vendor = 0x8086, uint16_t device = 0x1572,
                uint32_t class_code = 0x020000) {
    DeviceSpec s;
    s.driver = driver;
    s.iommu_group = group;
    s.vendor = vendor;
    s.device = device;
    s.class_code = class_code;
    return s;
}

// Records every path the read helpers touch while alive (from every reader thread: parallel_read.hpp).
// With `meet` > 1 it is also a barrier: the first reads wait (10 s at most) until `meet` different
// threads are reading, so "the reads are spread over threads" does not depend on how the threads happen
// to be scheduled (on a loaded machine the calling thread can otherwise finish alone).
struct ReadRecorder {
    std::vector<std::string> paths;
    std::set<std::thread::id> threads;
    std::mutex mutex;
    std::condition_variable joined;
    bool met = false;
    explicit ReadRecorder(size_t meet = 0) {
        set_io_observer([this, meet](IoKind, const std::string& path) {
            std::unique_lock lock(mutex);
            paths.push_back(path);
            threads.insert(std::this_thread::get_id());
            if (meet > 1 && !met) {
                met = threads.size() >= meet;
                if (met)
                    joined.notify_all();
                else if (!joined.wait_for(lock, std::chrono::seconds(10), [&] { return met; }))
                    met = true; // give up waiting (the test then fails on threads.size()), never hang
            }
        });
    }
    ~ReadRecorder() { set_io_observer(nullptr); }
    size_t under(const std::string& prefix) const {
        return static_cast<size_t>(std::count_if(paths.begin(), paths.end(), [&](const std::string& p) {
            return p.compare(0, prefix.size(), prefix) == 0 &&
                   (p.size() == prefix.size() || p[prefix.size()] == '/');
        }));
    }
};

} // namespace

TEST_CASE("a PF and its VFs: identity, SR-IOV state and linking") {
    FakeHost host;
    make_sriov_host(host);
    ObservedState state = observe_host(host.layout());

    REQUIRE(state.devices.size() == 3);
    const PciDevice* pf = state.find(kPf);
    REQUIRE(pf);
    CHECK(pf->vendor == 0x8086);
    CHECK(pf->device == 0x1572);
    CHECK(pf->class_code == 0x020000);
    CHECK(pf->id_path == "pci-" + kPf);
    CHECK(pf->driver == "i40e");
    CHECK(pf->driver_override.empty()); // "(null)" in sysfs
    CHECK(pf->has_driver_override);
    CHECK(pf->iommu_group == 10);
    CHECK(pf->is_pf);
    CHECK(pf->total_vfs == 64);
    CHECK(pf->num_vfs == 2);
    CHECK_FALSE(pf->drivers_autoprobe);
    CHECK(pf->vfs == std::vector<std::string>{kVf0, kVf1});
    CHECK(pf->physfn.empty());

    const PciDevice* vf1 = state.find(kVf1);
    REQUIRE(vf1);
    CHECK(vf1->device == 0x154c);
    CHECK(vf1->physfn == kPf);
    CHECK(vf1->vf_index == 1);
    CHECK(vf1->driver == "vfio-pci");
    CHECK(vf1->driver_override == "vfio-pci");
    CHECK(vf1->iommu_group == 21);
    CHECK_FALSE(vf1->is_pf);
    CHECK(vf1->modalias == "pci:v00008086d0000154Csv00008086sd00000000bc02sc00i00");

    const PciDevice* vf0 = state.find(kVf0);
    REQUIRE(vf0);
    CHECK(vf0->vf_index == 0);
    REQUIRE(vf0->netdevs.size() == 1);
    CHECK(vf0->netdevs[0].name == "ens1f0v0");
    CHECK_FALSE(vf0->netdevs[0].admin_up);
    CHECK(vf0->holders.empty());
}

TEST_CASE("VFs are linked through virtfn links when the PF has no offset/stride files") {
    FakeHost host;
    host.add_device(kPf, spec("i40e"));
    host.make_pf(kPf, 8, 1, 0, 0, true, /*with_offset_files=*/false);
    host.add_vf(kPf, 0, "0000:3b:0a.0", iavf_vf(5)); // not where any formula would put it
    ObservedState state = observe_host(host.layout());
    REQUIRE(state.find("0000:3b:0a.0"));
    CHECK(state.find("0000:3b:0a.0")->physfn == kPf);
    CHECK(state.find("0000:3b:0a.0")->vf_index == 0);
    CHECK(state.find(kPf)->vfs == std::vector<std::string>{"0000:3b:0a.0"});
}

TEST_CASE("holders: VFIO group and cdev fds, with the process name") {
    FakeHost host;
    make_sriov_host(host);
    host.add_vfio_cdev(kVf0, "vfio3");
    host.add_process(4242, "qemu-system-x86", {"/dev/vfio/vfio", "/dev/vfio/21"});
    host.add_process(4300, "qemu-kvm", {"/dev/vfio/devices/vfio3", "/dev/kvm"});
    host.add_process(77, "bash", {"/dev/pts/0"});
    ObservedState state = observe_host(host.layout());

    CHECK(state.find(kVf1)->holders == std::vector<std::string>{"pid 4242 uid 0 (qemu-system-x86)"});
    CHECK(state.find(kVf0)->holders == std::vector<std::string>{"pid 4300 uid 0 (qemu-kvm)"});
    CHECK(state.find(kVf1)->in_use());
}

TEST_CASE("holders: a device fd the kernel attributes (6.18 fdinfo) holds its device only") {
    FakeHost host;
    make_sriov_host(host);
    host.add_process(
        4242, "qemu-system-x86", 64055,
        {{"anon_inode:[vfio-device]", "02000002", "/sys/devices/pci0000:00/0000:00:02.0/" + kVf1}});
    ObservedState state = observe_host(host.layout());
    CHECK(state.find(kVf1)->holders == std::vector<std::string>{"pid 4242 uid 64055 (qemu-system-x86)"});
    CHECK(state.find(kVf0)->holders.empty());
    CHECK(holders_now(host.layout(), kVf1) ==
          std::vector<std::string>{"pid 4242 uid 64055 (qemu-system-x86)"});
}

TEST_CASE("holders: a device fd the kernel does not attribute (6.1) counts for every VFIO device that may be "
          "open") {
    FakeHost host;
    make_sriov_host(host); // VF1 on vfio-pci, VF0 on iavf
    const std::string vf2 = "0000:3b:02.2";
    DeviceSpec vfio = iavf_vf(22);
    vfio.driver = "vfio-pci";
    host.add_vf(kPf, 2, vf2, vfio);
    host.make_pf(kPf, 64, 3, 16, 1, false);
    // vfio_pci_core_enable/disable: VF1 is open (enable 1), VF2 is not (enable 0).
    host.file(host.device_dir(kVf1) + "/enable", "1\n");
    host.file(host.device_dir(vf2) + "/enable", "0\n");
    const std::string gpu = "0000:af:00.0", uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
    host.add_device(gpu, spec("nvidia", 30, 0x10de, 0x1eb8, 0x030200));
    host.add_mdev_type(gpu, "nvidia-222", "GRID T4-1B", 15);
    host.add_mdev(gpu, "nvidia-222", uuid, 140);
    host.add_process(4242, "qemu-system-x86", 64055, {{"anon_inode:[vfio-device]", "02000002", ""}});
    ObservedState state = observe_host(host.layout());

    const std::string unknown =
        "pid 4242 uid 64055 (qemu-system-x86) holds a VFIO device fd the kernel does not "
        "attribute (unknown counts as in use)";
    CHECK(state.find(kVf1)->holders == std::vector<std::string>{unknown});
    CHECK(state.find(vf2)->holders.empty());  // on vfio-pci but opened by nobody
    CHECK(state.find(kVf0)->holders.empty()); // iavf registers no VFIO device
    CHECK(state.find(kPf)->holders == std::vector<std::string>{"netdev ens1f0 is up"});
    CHECK(state.mdevs.at(uuid).holders == std::vector<std::string>{unknown}); // no sign of an open mdev
    CHECK(holders_now(host.layout(), kVf1) == std::vector<std::string>{unknown});
    CHECK(holders_now(host.layout(), vf2).empty());
    CHECK(holders_now(host.layout(), uuid) == std::vector<std::string>{unknown});
    // An `enable` that cannot be read leaves the device a candidate.
    host.remove(host.device_dir(vf2) + "/enable");
    CHECK(holders_now(host.layout(), vf2) == std::vector<std::string>{unknown});
}

TEST_CASE("holders: O_PATH fds hold nothing, whatever they point at") {
    FakeHost host;
    make_sriov_host(host);
    host.add_process(666, "qemu-system-x86", 65534,
                     {{"/dev/vfio/21", "010000000", ""}, {"anon_inode:[vfio-device]", "012000000", ""}});
    ObservedState state = observe_host(host.layout());
    CHECK(state.find(kVf1)->holders.empty());
    host.add_process(667, "qemu-system-x86", 65534, {{"/dev/vfio/21", "0100002", ""}});
    CHECK(holders_now(host.layout(), kVf1) ==
          std::vector<std::string>{"pid 667 uid 65534 (qemu-system-x86)"});
}

TEST_CASE("holders: a device cdev resolves through /sys/class/vfio-dev when present") {
    FakeHost host;
    make_sriov_host(host);
    host.link("sys/class/vfio-dev/vfio7/device", "../../../devices/pci0000:00/" + kVf1);
    host.add_process(500, "cloud-hypervisor", {"/dev/vfio/devices/vfio7"});
    ObservedState state = observe_host(host.layout());
    CHECK(state.find(kVf1)->holders == std::vector<std::string>{"pid 500 uid 0 (cloud-hypervisor)"});
    CHECK(state.find(kVf0)->holders.empty());
}

TEST_CASE("holders: netdev signals") {
    FakeHost host;
    make_sriov_host(host);

    SECTION("admin up") {
        host.add_netdev(kVf0, "ens1f0v0", true);
        CHECK(observe_host(host.layout()).find(kVf0)->holders ==
              std::vector<std::string>{"netdev ens1f0v0 is up"});
    }
    SECTION("enslaved to a bridge, not reported twice as an upper") {
        host.add_netdev(kVf0, "ens1f0v0", false, "br0");
        CHECK(observe_host(host.layout()).find(kVf0)->holders == std::vector<std::string>{"enslaved to br0"});
    }
    SECTION("an upper device such as macvtap") {
        host.add_netdev(kVf0, "ens1f0v0", false, "", {"macvtap0"});
        CHECK(observe_host(host.layout()).find(kVf0)->holders ==
              std::vector<std::string>{"upper device macvtap0"});
    }
    SECTION("a network VF whose netdev is not in the host namespace") {
        host.remove(host.device_dir(kVf0) + "/net");
        CHECK(observe_host(host.layout()).find(kVf0)->holders ==
              std::vector<std::string>{"netdev not in host namespace (unknown counts as in use)"});
    }
    SECTION("a network VF on vfio-pci has no netdev and is idle") {
        CHECK(observe_host(host.layout()).find(kVf1)->holders.empty());
    }
    SECTION("the PF's own netdev being up marks the PF, not its VFs") {
        ObservedState state = observe_host(host.layout());
        CHECK(state.find(kPf)->holders == std::vector<std::string>{"netdev ens1f0 is up"});
        CHECK(state.find(kVf0)->holders.empty());
    }
}

TEST_CASE("mdev parents, types and mdevs with their holders") {
    FakeHost host;
    const std::string gpu = "0000:af:00.0";
    host.add_device(gpu, spec("nvidia", 30, 0x10de, 0x1eb8, 0x030200));
    host.add_mdev_type(gpu, "nvidia-222", "GRID T4-1B", 15);
    host.add_mdev_type(gpu, "nvidia-223", "GRID T4-2B", 0);
    const std::string uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
    host.add_mdev(gpu, "nvidia-222", uuid, 140);
    host.add_process(9000, "qemu-system-x86", {"/dev/vfio/140"});
    ObservedState state = observe_host(host.layout());

    const PciDevice* parent = state.find(gpu);
    REQUIRE(parent);
    REQUIRE(parent->mdev_types.size() == 2);
    const MdevType& t = parent->mdev_types[0];
    CHECK(t.id == "nvidia-222");
    CHECK(t.name == "GRID T4-1B");
    CHECK(t.device_api == "vfio-pci");
    CHECK(t.available == 15);
    CHECK(t.devices == std::vector<std::string>{uuid});
    CHECK(parent->mdev_types[1].available == 0);
    CHECK(parent->holders.empty()); // the mdev's group is held, not the parent's

    REQUIRE(state.mdevs.count(uuid));
    const MdevDevice& m = state.mdevs.at(uuid);
    CHECK(m.parent == gpu);
    CHECK(m.type == "nvidia-222");
    CHECK(m.iommu_group == 140);
    CHECK(m.holders == std::vector<std::string>{"pid 9000 uid 0 (qemu-system-x86)"});
    CHECK(holders_now(host.layout(), uuid) == std::vector<std::string>{"pid 9000 uid 0 (qemu-system-x86)"});
}

TEST_CASE("a non-PCI mdev parent - types through its mdev_bus link and its mdevs") {
    // The kernel's mtty sample: /sys/devices/virtual/mtty/mtty, linked from /sys/class/mdev_bus/mtty.
    FakeHost host;
    const std::string dir = "sys/devices/virtual/mtty/mtty";
    const std::string types = dir + "/mdev_supported_types/mtty-2";
    host.file(types + "/name", "Dual port serial\n");
    host.file(types + "/device_api", "vfio-pci\n");
    host.file(types + "/available_instances", "11\n");
    host.link("sys/class/mdev_bus/mtty", "../../devices/virtual/mtty/mtty");
    const std::string uuid = "026cf2e5-2041-5f4b-9370-d8df4379d246";
    host.link(dir + "/" + uuid + "/mdev_type", "../mdev_supported_types/mtty-2");
    host.link(types + "/devices/" + uuid, "../../../" + uuid);
    host.link("sys/bus/mdev/devices/" + uuid, "../../../devices/virtual/mtty/mtty/" + uuid);
    host.dir("sys/kernel/iommu_groups/21/devices");
    host.link(dir + "/" + uuid + "/iommu_group", "../../../../../kernel/iommu_groups/21");
    host.add_process(9100, "qemu-system-x86", {"/dev/vfio/21"});
    // A PCI parent stays a PCI device, not an entry of mdev_parents.
    const std::string gpu = "0000:af:00.0";
    host.add_device(gpu, spec("nvidia", 30, 0x10de, 0x1eb8, 0x030200));
    host.add_mdev_type(gpu, "nvidia-222", "GRID T4-1B", 15);

    ObservedState state = observe_host(host.layout());
    REQUIRE(state.mdev_parents.size() == 1);
    const MdevParent& mtty = state.mdev_parents.at("mtty");
    REQUIRE(mtty.mdev_types.size() == 1);
    CHECK(mtty.mdev_types[0].id == "mtty-2");
    CHECK(mtty.mdev_types[0].name == "Dual port serial");
    CHECK(mtty.mdev_types[0].available == 11);
    CHECK(mtty.mdev_types[0].devices == std::vector<std::string>{uuid});
    REQUIRE(state.mdevs.count(uuid));
    CHECK(state.mdevs.at(uuid).parent == "mtty");
    CHECK(state.mdevs.at(uuid).iommu_group == 21);
    CHECK(state.mdevs.at(uuid).holders == std::vector<std::string>{"pid 9100 uid 0 (qemu-system-x86)"});
    CHECK(state.find(gpu)->mdev_types.size() == 1);

    // A targeted refresh re-reads the parents: a new count shows without a full observation.
    host.file(types + "/available_instances", "10\n");
    refresh_devices(host.layout(), {}, state);
    CHECK(state.mdev_parents.at("mtty").mdev_types[0].available == 10);
}

TEST_CASE("NVIDIA vendor-specific VFIO files of a VF") {
    FakeHost host;
    const std::string vf = "0000:18:00.4";
    host.add_device(vf, spec("nvidia", -1, 0x10de, 0x27b8, 0x030200));
    host.file(host.device_dir(vf) + "/nvidia/creatable_vgpu_types",
              "ID    : vGPU Name\n1414 : NVIDIA H200X-1-18C\n 1415 : NVIDIA H200X-1-35C \ngarbage\n");
    host.file(host.device_dir(vf) + "/nvidia/current_vgpu_type", "0\n");
    ObservedState state = observe_host(host.layout());
    REQUIRE(state.find(vf)->vgpu);
    const VgpuState& v = *state.find(vf)->vgpu;
    REQUIRE(v.creatable.size() == 2);
    CHECK(v.creatable[0].id == 1414);
    CHECK(v.creatable[0].name == "NVIDIA H200X-1-18C");
    CHECK(v.creatable[1].id == 1415);
    CHECK(v.creatable[1].name == "NVIDIA H200X-1-35C");
    CHECK(v.current == 0);
}

TEST_CASE("drivers, vfio_pci aliases and module drivers") {
    FakeHost host;
    make_sriov_host(host);
    host.add_module("xe_vfio_pci", {"xe-vfio-pci"});
    host.add_module("vfio_pci", {"vfio-pci"});
    host.add_module("kvm", {});
    host.set_modules_alias("# Aliases extracted from modules themselves.\n"
                           "alias pci:v00008086d00001572sv*sd*bc*sc*i* i40e\n"
                           "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
                           "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n");
    ObservedState state = observe_host(host.layout());
    CHECK(state.drivers == std::vector<std::string>{"i40e", "iavf", "vfio-pci"});
    CHECK(state.vfio_aliases ==
          std::vector<std::string>{"alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci",
                                   "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci"});
    CHECK(state.module_drivers.at("xe_vfio_pci") == std::vector<std::string>{"xe-vfio-pci"});
    CHECK(state.module_drivers.at("vfio_pci") == std::vector<std::string>{"vfio-pci"});
    CHECK(state.module_drivers.at("kvm").empty());
}

TEST_CASE("strange contents do not crash the snapshot") {
    FakeHost host;
    make_sriov_host(host);
    host.file("sys/bus/pci/devices/README", "not a device\n");

    SECTION("garbage in a numeric file leaves that field at its default") {
        host.file(host.device_dir(kPf) + "/sriov_numvfs", "lots\n");
        ObservedState state = observe_host(host.layout());
        REQUIRE(state.find(kPf));
        CHECK(state.find(kPf)->num_vfs == 0);
        CHECK(state.find(kPf)->total_vfs == 64);
    }
    SECTION("garbage modalias falls back to vendor/device/class") {
        host.file(host.device_dir(kVf0) + "/modalias", "pci:vZZZ\n");
        ObservedState state = observe_host(host.layout());
        REQUIRE(state.find(kVf0));
        CHECK(state.find(kVf0)->device == 0x154c);
        CHECK(state.find(kVf0)->class_code == 0x020000);
    }
    SECTION("a device without a readable identity is skipped") {
        host.remove(host.device_dir(kVf0) + "/modalias");
        host.file(host.device_dir(kVf0) + "/vendor", "0xnope\n");
        ObservedState state = observe_host(host.layout());
        CHECK_FALSE(state.find(kVf0));
        CHECK(state.find(kVf1));
        // The PF still lists the VF it has a virtfn link for.
        CHECK(state.find(kPf)->vfs.size() == 2);
    }
    SECTION("a device that vanished leaves a dangling bus link and is absent") {
        host.remove(host.device_dir(kVf1));
        ObservedState state = observe_host(host.layout());
        CHECK_FALSE(state.find(kVf1));
        CHECK(state.devices.size() == 2);
    }
    SECTION("an mdev with a broken type link is skipped") {
        host.link("sys/bus/mdev/devices/11111111-2222-3333-4444-555555555555", "../../../devices/nowhere");
        ObservedState state = observe_host(host.layout());
        CHECK(state.mdevs.empty());
    }
    SECTION("the README entry is not a device") {
        CHECK(observe_host(host.layout()).devices.size() == 3);
    }
}

TEST_CASE("a no-op pass reads at most 8 files per VF (benchmarks.md B3)") {
    FakeHost host;
    make_sriov_host(host);
    host.add_netdev(kVf0, "ens1f0v0", true, "br0"); // the costliest VF: netdev with a master
    host.add_vfio_cdev(kVf1, "vfio3");
    ReadRecorder reads;
    observe_host(host.layout());
    CHECK(reads.under(host.layout().pci_device(kVf0)) <= 8);
    CHECK(reads.under(host.layout().pci_device(kVf1)) <= 5);
    // No per-VF link reads on the PF either: VF addresses come from offset/stride.
    for (const std::string& path : reads.paths)
        CHECK(path.find("virtfn") == std::string::npos);
}

// What a read of one device found, for comparing two ways of reading it.
std::string fingerprint(const RawPciDevice& raw) {
    const PciDevice& d = raw.device;
    std::string netdevs;
    for (const Netdev& n : d.netdevs)
        netdevs += n.name + (n.admin_up ? "+" : "-");
    return d.address + " " + d.modalias + " " + d.driver + " " + d.driver_override + " " +
           std::to_string(d.iommu_group.value_or(-1)) + " " + std::to_string(d.num_vfs) + " " + netdevs +
           " " + (raw.has_physfn ? "vf" : "-") + (raw.has_vfio_dev ? " cdev" : "");
}

TEST_CASE("many devices are read on several threads with the same result as one by one") {
    FakeHost host;
    DeviceSpec pf = spec("i40e", 10);
    host.add_device(kPf, pf);
    host.make_pf(kPf, 128, 96, 16, 1);
    std::vector<std::string> addresses{kPf};
    for (unsigned i = 0; i < 96; ++i) {
        // VF i at 3b:02.0 + i (offset 16, stride 1): every VF differs from its neighbours.
        const std::string vf =
            PciAddress{0, 0x3b, static_cast<uint8_t>(2 + i / 8), static_cast<uint8_t>(i % 8)}.str();
        DeviceSpec s = iavf_vf(100 + static_cast<int>(i));
        if (i % 3 == 1) {
            s.driver = "vfio-pci";
            s.driver_override = "vfio-pci";
        }
        host.add_vf(kPf, i, vf, s);
        if (i % 3 == 0)
            host.add_netdev(vf, "v" + std::to_string(i), i % 2 == 0);
        if (i % 3 == 1)
            host.add_vfio_cdev(vf, "vfio" + std::to_string(i));
        addresses.push_back(vf);
    }
    addresses.push_back("0000:3b:7f.7"); // not there: absent from the result, as one by one

    std::map<std::string, std::string> one_by_one;
    for (const std::string& address : addresses)
        if (auto raw = read_pci_device(host.layout(), address))
            one_by_one[address] = fingerprint(*raw);
    REQUIRE(one_by_one.size() == 97);

    ReadRecorder reads(2);
    std::map<std::string, RawPciDevice> together = read_pci_devices(host.layout(), addresses);
    CHECK(reads.threads.size() > 1); // two threads were reading at the same time
    CHECK(reads.threads.size() <= kMaxDeviceReaders);
    std::map<std::string, std::string> seen;
    for (const auto& [address, raw] : together)
        seen[address] = fingerprint(raw);
    CHECK(seen == one_by_one);

    // A handful of devices is read on the calling thread.
    ReadRecorder few;
    read_pci_devices(host.layout(), {kPf, addresses[1], addresses[2]});
    CHECK(few.threads == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("refresh_devices re-reads the given PF and its VFs, old and new, and nothing else") {
    FakeHost host;
    make_sriov_host(host);
    const std::string other = "0000:5e:00.0";
    host.add_device(other, spec("nvme", 40, 0x144d, 0xa808, 0x010802));
    ObservedState state = observe_host(host.layout());
    REQUIRE(state.devices.size() == 4);

    // VFs re-created as 1 VF on vfio-pci; meanwhile the other device changed too.
    host.remove(host.device_dir(kVf1));
    host.remove("sys/bus/pci/devices/" + kVf1);
    host.remove(host.device_dir(kPf) + "/virtfn1");
    host.file(host.device_dir(kPf) + "/sriov_numvfs", "1\n");
    host.remove(host.device_dir(kVf0) + "/net");
    host.bind(kVf0, "vfio-pci");
    host.bind(other, "vfio-pci");
    host.add_process(4242, "qemu-system-x86", {"/dev/vfio/20"});

    ReadRecorder reads;
    ObservedChanges changes = refresh_devices(host.layout(), {kPf}, state);
    CHECK(reads.under(host.layout().pci_device(other)) == 0);
    // What was re-read or vanished is reported; the other device neither was re-read nor changed holders.
    CHECK(changes.devices == std::set<std::string>{kPf, kVf0, kVf1});

    CHECK_FALSE(state.find(kVf1));
    REQUIRE(state.find(kVf0));
    CHECK(state.find(kVf0)->driver == "vfio-pci");
    CHECK(state.find(kVf0)->physfn == kPf);
    CHECK(state.find(kVf0)->holders == std::vector<std::string>{"pid 4242 uid 0 (qemu-system-x86)"});
    CHECK(state.find(kPf)->num_vfs == 1);
    CHECK(state.find(kPf)->vfs == std::vector<std::string>{kVf0});
    CHECK(state.find(other)->driver == "nvme"); // not refreshed
}

TEST_CASE("refresh_devices picks up new VFs and a vanished device") {
    FakeHost host;
    DeviceSpec pf;
    pf.driver = "i40e";
    host.add_device(kPf, pf);
    host.make_pf(kPf, 64, 0, 16, 1);
    ObservedState state = observe_host(host.layout());
    REQUIRE(state.devices.size() == 1);

    host.file(host.device_dir(kPf) + "/sriov_numvfs", "2\n");
    host.add_vf(kPf, 0, kVf0, iavf_vf(20));
    host.add_vf(kPf, 1, kVf1, iavf_vf(21));
    host.add_netdev(kVf0, "v0", false);
    host.add_netdev(kVf1, "v1", false);
    refresh_devices(host.layout(), {kPf}, state);
    REQUIRE(state.devices.size() == 3);
    CHECK(state.find(kVf1)->vf_index == 1);

    host.remove(host.device_dir(kVf1));
    refresh_devices(host.layout(), {kVf1}, state);
    CHECK_FALSE(state.find(kVf1));
    CHECK(state.find(kVf0));
}

TEST_CASE("refresh_devices reports changed holders anywhere, mdevs that came and went, and host-wide lists") {
    FakeHost host;
    make_sriov_host(host);
    const std::string gpu = "0000:af:00.0";
    const std::string kept = "aaaaaaaa-0000-4000-8000-000000000001";
    const std::string gone = "aaaaaaaa-0000-4000-8000-000000000002";
    const std::string added = "aaaaaaaa-0000-4000-8000-000000000003";
    host.add_device(gpu, spec("nvidia", 140, 0x10de, 0x1eb8, 0x030200));
    host.add_mdev_type(gpu, "nvidia-222", "GRID T4-1B", 15);
    host.add_mdev(gpu, "nvidia-222", kept, 141);
    host.add_mdev(gpu, "nvidia-222", gone, 142);
    ObservedState state = observe_host(host.layout());

    // Nothing happened: only what was asked for is reported.
    ObservedChanges none = refresh_devices(host.layout(), {kVf0}, state);
    CHECK(none.devices == std::set<std::string>{kVf0});
    CHECK(none.mdevs.empty());
    CHECK_FALSE(none.host_wide);

    // A guest opens VF 1 and the kept mdev (no event names them); an mdev goes, another comes; a module
    // loads.
    host.add_process(4242, "qemu-system-x86", {"/dev/vfio/21", "/dev/vfio/141"});
    host.remove("sys/bus/mdev/devices/" + gone);
    host.remove(host.device_dir(gpu) + "/mdev_supported_types/nvidia-222/devices/" + gone);
    host.remove(host.device_dir(gpu) + "/" + gone);
    host.add_mdev(gpu, "nvidia-222", added, 143);
    host.add_module("vfio_pci", {"vfio-pci"});
    ObservedChanges changes = refresh_devices(host.layout(), {gpu}, state);
    CHECK(changes.devices == std::set<std::string>{gpu, kVf1});
    CHECK(changes.mdevs == std::set<std::string>{kept, gone, added});
    CHECK(changes.host_wide);
}

TEST_CASE("refresh_devices finds new VFs through virtfn links when offset/stride do not place them") {
    FakeHost host;
    host.add_device(kPf, spec("i40e"));
    host.make_pf(kPf, 8, 0, 0, 0, true, /*with_offset_files=*/false);
    ObservedState state = observe_host(host.layout());

    host.file(host.device_dir(kPf) + "/sriov_numvfs", "1\n");
    host.add_vf(kPf, 0, "0000:3b:0a.0", iavf_vf(5));
    host.add_netdev("0000:3b:0a.0", "v0", false);
    refresh_devices(host.layout(), {kPf}, state);
    REQUIRE(state.find("0000:3b:0a.0"));
    CHECK(state.find("0000:3b:0a.0")->physfn == kPf);
    CHECK(state.find(kPf)->vfs == std::vector<std::string>{"0000:3b:0a.0"});
}

TEST_CASE("holders_now looks again: a VM that started after the snapshot is seen") {
    FakeHost host;
    make_sriov_host(host);
    ObservedState state = observe_host(host.layout());
    REQUIRE(state.find(kVf1)->holders.empty());

    host.add_process(31337, "qemu-system-x86", {"/dev/vfio/21"});
    CHECK(holders_now(host.layout(), kVf1) == std::vector<std::string>{"pid 31337 uid 0 (qemu-system-x86)"});
    host.add_netdev(kVf0, "ens1f0v0", true);
    CHECK(holders_now(host.layout(), kVf0) == std::vector<std::string>{"netdev ens1f0v0 is up"});
    CHECK(holders_now(host.layout(), "0000:99:00.0").empty()); // gone: nothing holds it
    CHECK(holders_now(host.layout(), "not-a-device").empty());
}

TEST_CASE("modalias parsing") {
    PciDevice d;
    CHECK(parse_pci_modalias("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00", d));
    CHECK(d.vendor == 0x15b3);
    CHECK(d.device == 0x101e);
    CHECK(d.subsystem_device == 0x0001);
    CHECK(d.class_code == 0x020000);
    PciDevice bad;
    CHECK_FALSE(parse_pci_modalias("pci:v000015B3d0000101E", bad));
    CHECK_FALSE(parse_pci_modalias("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00x", bad));
    CHECK_FALSE(parse_pci_modalias("usb:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00", bad));
}
