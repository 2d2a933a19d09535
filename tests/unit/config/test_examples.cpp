// The shipped examples are what users copy first: each must load, and mean what its comments say.
#include "config/loader.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;

namespace {

DesiredState load_example(const std::string& name) {
    // Checked-out files may be group-writable (umask 002), so ownership is not what is tested here.
    auto result =
        load_config_dir(std::string(HOSTDEVD_EXAMPLES_DIR) + "/" + name, {.check_permissions = false});
    for (const auto& error : result.errors)
        UNSCOPED_INFO(error.str());
    REQUIRE(result.ok());
    return *result.state;
}

const VfSettings& vf_settings(const PfEntry& pf, uint32_t index) {
    for (const auto& settings : pf.vfs_settings)
        if (std::find(settings.indices.begin(), settings.indices.end(), index) != settings.indices.end())
            return settings;
    FAIL("no [[pf.vf]] covers VF " << index);
    throw; // unreachable
}

std::vector<uint32_t> range(uint32_t first, uint32_t last) {
    std::vector<uint32_t> out;
    for (uint32_t i = first; i <= last; ++i)
        out.push_back(i);
    return out;
}

const DriverChoice kVfioPci{DriverChoice::Kind::Named, "vfio-pci"};
const DriverChoice kVfio{DriverChoice::Kind::Vfio, ""};

} // namespace

TEST_CASE("example intel-x710") {
    auto state = load_example("intel-x710");
    REQUIRE(state.pfs.size() == 2);
    const auto& port0 = state.pfs[0];
    CHECK(port0.match.netdev == "ens1f0");
    CHECK(port0.vfs == VfCount{VfCount::Mode::Exact, 8});
    CHECK(port0.autoprobe == false);
    CHECK(vf_settings(port0, 0).indices == range(0, 5));
    CHECK(vf_settings(port0, 0).driver == kVfioPci);
    CHECK(vf_settings(port0, 0).pool == "gold");
    CHECK(vf_settings(port0, 6).indices == range(6, 7));
    CHECK(vf_settings(port0, 6).driver == DriverChoice{DriverChoice::Kind::Named, "iavf"});
    const auto& port1 = state.pfs[1];
    CHECK(port1.match.address == "0000:3b:00.1");
    CHECK(port1.vfs == VfCount{VfCount::Mode::AtLeast, 4});
    CHECK(vf_settings(port1, 0).indices == range(0, 3));
    CHECK(vf_settings(port1, 0).managed);
}

TEST_CASE("example intel-e810") {
    auto state = load_example("intel-e810");
    REQUIRE(state.pfs.size() == 1);
    CHECK(state.pfs[0].match.netdev == "ens2f0");
    CHECK(state.pfs[0].match.vendor == 0x8086);
    CHECK(state.pfs[0].match.device == 0x1592);
    CHECK(state.pfs[0].vfs == VfCount{VfCount::Mode::Exact, 16});
    CHECK(vf_settings(state.pfs[0], 0).indices == range(0, 15));
    CHECK(vf_settings(state.pfs[0], 0).driver == kVfioPci);
}

TEST_CASE("example mellanox-cx5") {
    auto state = load_example("mellanox-cx5");
    REQUIRE(state.pfs.size() == 2);
    CHECK(state.pfs[0].match.address == "0000:af:00.0");
    CHECK(state.pfs[0].vfs == VfCount{VfCount::Mode::Exact, 4});
    CHECK(vf_settings(state.pfs[0], 1).driver == DriverChoice{DriverChoice::Kind::Named, "mlx5_core"});
    CHECK(vf_settings(state.pfs[0], 2).indices == range(2, 3));
    CHECK(vf_settings(state.pfs[0], 2).driver == kVfio);
    CHECK(state.pfs[1].match.address == "0000:d8:00.0");
    CHECK(state.pfs[1].vfs == VfCount{VfCount::Mode::Exact, 2});
    CHECK(vf_settings(state.pfs[1], 0).indices == range(0, 1));
    CHECK(vf_settings(state.pfs[1], 0).driver == kVfio);
}

TEST_CASE("example nvidia-a16") {
    auto state = load_example("nvidia-a16");
    REQUIRE(state.mdevs.size() == 2);
    CHECK(state.mdevs[0].parent.address == "0000:3d:00.0");
    CHECK(state.mdevs[0].type == "nvidia-701");
    CHECK(state.mdevs[0].count == 4u);
    CHECK(state.mdevs[1].parent.address == "0000:3e:00.0");
    CHECK_FALSE(state.mdevs[1].count.has_value());
    CHECK(state.mdevs[1].uuids.size() == 2);
}

TEST_CASE("example nvidia-l4") {
    auto state = load_example("nvidia-l4");
    REQUIRE(state.pfs.size() == 1);
    CHECK(state.pfs[0].match.address == "0000:ca:00.0");
    CHECK(state.pfs[0].vfs == VfCount{VfCount::Mode::Exact, 4});
    CHECK(vf_settings(state.pfs[0], 0).indices == range(0, 3));
    CHECK(vf_settings(state.pfs[0], 0).vgpu == "NVIDIA L4-6Q");
    CHECK(vf_settings(state.pfs[0], 0).driver.kind == DriverChoice::Kind::Leave);
}

TEST_CASE("example qemu-nvme") {
    auto state = load_example("qemu-nvme");
    REQUIRE(state.pfs.size() == 1);
    CHECK(state.pfs[0].match.address == "0000:01:00.0");
    CHECK(state.pfs[0].vfs == VfCount{VfCount::Mode::Exact, 4});
    CHECK(state.pfs[0].autoprobe == false);
    CHECK(vf_settings(state.pfs[0], 0).indices == range(0, 3));
    CHECK(vf_settings(state.pfs[0], 0).driver == kVfioPci);
}

TEST_CASE("example lab: two files, NICs then GPUs") {
    auto state = load_example("lab");
    REQUIRE(state.files.size() == 2);
    CHECK(state.files[0].ends_with("/10-nics.toml"));
    CHECK(state.files[1].ends_with("/20-gpus.toml"));
    REQUIRE(state.pfs.size() == 5); // four from 10-nics.toml, then the L4 from 20-gpus.toml
    CHECK(state.pfs[0].match.netdev == "ens1f0");
    CHECK(state.pfs[1].match.address == "0000:3b:00.1");
    CHECK(state.pfs[2].match.address == "0000:af:00.0");
    CHECK(vf_settings(state.pfs[2], 0).indices == range(0, 3));
    CHECK(vf_settings(state.pfs[2], 0).driver == kVfioPci);
    CHECK(state.pfs[3].match.address == "0000:5e:00.0");
    CHECK(state.pfs[3].vfs == VfCount{VfCount::Mode::Exact, 8});
    CHECK(vf_settings(state.pfs[3], 0).indices == range(0, 7));
    CHECK(state.pfs[4].match.address == "0000:ca:00.0");
    CHECK(state.pfs[4].vfs == VfCount{VfCount::Mode::Exact, 2});
    CHECK(vf_settings(state.pfs[4], 0).indices == range(0, 1));
    CHECK(vf_settings(state.pfs[4], 0).vgpu == "NVIDIA L4-6Q");
    REQUIRE(state.mdevs.size() == 1);
    CHECK(state.mdevs[0].parent.address == "0000:3d:00.0");
    CHECK(state.mdevs[0].count == 2u);
}

TEST_CASE("example lab-consumers: pools for nova, libvirt and the device plugin, and the [export] files") {
    auto state = load_example("lab-consumers");
    REQUIRE(state.pfs.size() == 3);
    CHECK(vf_settings(state.pfs[0], 0).pool == "gold");
    CHECK(vf_settings(state.pfs[0], 6).pool == "pod-nics");
    CHECK(vf_settings(state.pfs[1], 0).managed);
    CHECK(vf_settings(state.pfs[1], 0).pool == "fast");
    REQUIRE(state.pools.size() == 3);
    const PoolSettings* gold = state.pool("gold");
    REQUIRE(gold);
    CHECK(gold->nova.physical_network == "physnet-gold");
    CHECK(gold->nova.resource_class == "CUSTOM_GOLD_VF");
    CHECK(gold->nova.traits == std::vector<std::string>{"CUSTOM_FAST_NIC", "HW_NIC_SRIOV"});
    CHECK(gold->libvirt.network == "hostdev-gold");
    REQUIRE(state.pool("fast"));
    CHECK(state.pool("fast")->sriov_dp.is_rdma);
    REQUIRE(state.exports.size() == 4);
    CHECK(state.exports[0].path == "/etc/nova/nova.conf.d/50-hostdevd.conf");
    CHECK(state.exports[3].path == "/var/lib/prometheus/node-exporter/hostdevd.prom");
}
