#include "config/loader.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;

namespace {

DesiredState parse_ok(const std::string& text) {
    auto result = parse_config(text, "good.toml");
    for (const auto& error : result.errors)
        UNSCOPED_INFO(error.str());
    REQUIRE(result.ok());
    REQUIRE(result.errors.empty());
    return *result.state;
}

} // namespace

TEST_CASE("a [[pf]] with VF settings becomes a PfEntry with every value") {
    auto state = parse_ok(R"(version = 1

[[pf]]
match = { netdev = "ens1f0" }
vfs = 8
autoprobe = false

[[pf.vf]]
index = "0-5"
driver = "vfio-pci"
pool = "gold"

[[pf.vf]]
index = 7
driver = "iavf"

[[pf]]
match = { address = "3B:00.1", vendor = "8086", device = "1572" }
vfs = { min = 4 }

[[pf.vf]]
index = "0-3"
managed = true
)");
    CHECK(state.files == std::vector<std::string>{"good.toml"});
    REQUIRE(state.pfs.size() == 2);
    const auto& x710 = state.pfs[0];
    CHECK(x710.match.netdev == "ens1f0");
    CHECK_FALSE(x710.match.address.has_value());
    CHECK(x710.vfs == VfCount{VfCount::Mode::Exact, 8});
    CHECK(x710.autoprobe == false);
    CHECK(x710.source.str() == "good.toml:3:1");
    REQUIRE(x710.vfs_settings.size() == 2);
    CHECK(x710.vfs_settings[0].indices == std::vector<uint32_t>{0, 1, 2, 3, 4, 5});
    CHECK(x710.vfs_settings[0].driver == DriverChoice{DriverChoice::Kind::Named, "vfio-pci"});
    CHECK(x710.vfs_settings[0].pool == "gold");
    CHECK_FALSE(x710.vfs_settings[0].managed);
    CHECK(x710.vfs_settings[0].source.str() == "good.toml:8:1");
    CHECK(x710.vfs_settings[1].indices == std::vector<uint32_t>{7});
    CHECK(x710.vfs_settings[1].driver.name == "iavf");

    const auto& port1 = state.pfs[1];
    CHECK(port1.match.address == "0000:3b:00.1"); // normalised: domain added, lower case
    CHECK(port1.match.vendor == 0x8086);
    CHECK(port1.match.device == 0x1572);
    CHECK(port1.vfs == VfCount{VfCount::Mode::AtLeast, 4});
    CHECK_FALSE(port1.autoprobe.has_value()); // omitted: leave sriov_drivers_autoprobe alone
    REQUIRE(port1.vfs_settings.size() == 1);
    CHECK(port1.vfs_settings[0].managed);
    CHECK(port1.vfs_settings[0].driver.kind == DriverChoice::Kind::Leave);
}

TEST_CASE("driver words vfio and none, vgpu, and a [[pf]] without vfs") {
    auto state = parse_ok(R"(version = 1
[[pf]]
match = { path = "pci-0000:ca:00.0" }
[[pf.vf]]
index = "0-1"
vgpu = "NVIDIA L4-6Q"
[[pf.vf]]
index = "2"
driver = "vfio"
[[pf.vf]]
index = "3"
driver = "none"
)");
    REQUIRE(state.pfs.size() == 1);
    const auto& pf = state.pfs[0];
    CHECK_FALSE(pf.vfs.has_value()); // no `vfs`: the VF count is left alone
    CHECK(pf.match.path == "pci-0000:ca:00.0");
    REQUIRE(pf.vfs_settings.size() == 3);
    CHECK(pf.vfs_settings[0].vgpu == "NVIDIA L4-6Q");
    CHECK(pf.vfs_settings[0].driver.kind == DriverChoice::Kind::Leave);
    CHECK(pf.vfs_settings[1].driver.kind == DriverChoice::Kind::Vfio);
    CHECK(pf.vfs_settings[2].driver.kind == DriverChoice::Kind::None);
}

TEST_CASE("[[device]] entries keep match, driver, managed and pool") {
    auto state = parse_ok(R"(version = 1
[[device]]
match = { vendor = "10de", device = "2236" }
driver = "vfio"
pool = "gpu"

[[device]]
match = { address = "0000:65:00.0" }
managed = true
)");
    REQUIRE(state.devices.size() == 2);
    CHECK(state.devices[0].match.vendor == 0x10de);
    CHECK(state.devices[0].match.device == 0x2236);
    CHECK(state.devices[0].driver.kind == DriverChoice::Kind::Vfio);
    CHECK(state.devices[0].pool == "gpu");
    CHECK(state.devices[0].source.file_line() == "good.toml:2");
    CHECK(state.devices[1].managed);
    CHECK(state.devices[1].driver.kind == DriverChoice::Kind::Leave);
}

TEST_CASE("[[mdev]] entries with count, with uuids and with attrs in order") {
    auto state = parse_ok(R"(version = 1
[[mdev]]
parent = { address = "0000:af:00.0" }
type = "nvidia-222"
count = 4
attrs = [{ name = "vgpu_params", value = "frame_rate_limiter=0" }, { name = "b", value = "2" }]

[[mdev]]
parent = { address = "0000:b0:00.0" }
type = "nvidia-222"
uuids = ["C2177883-F1BB-47F0-914D-32A22E3A8804", "5f1b2a44-6c8e-4d0b-9e2f-0a1b2c3d4e5f"]

[[mdev]]
parent = { address = "0000:b1:00.0" }
type = "i915-GVTg_V5_4"
count = 0
)");
    REQUIRE(state.mdevs.size() == 3);
    const auto& counted = state.mdevs[0];
    CHECK(counted.parent.address == "0000:af:00.0");
    CHECK(counted.type == "nvidia-222");
    CHECK(counted.count == 4u);
    CHECK(counted.uuids.empty());
    CHECK(counted.attrs == std::vector<MdevAttr>{{"vgpu_params", "frame_rate_limiter=0"}, {"b", "2"}});
    const auto& named = state.mdevs[1];
    CHECK_FALSE(named.count.has_value());
    CHECK(named.uuids == std::vector<std::string>{"c2177883-f1bb-47f0-914d-32a22e3a8804",
                                                  "5f1b2a44-6c8e-4d0b-9e2f-0a1b2c3d4e5f"});
    CHECK(state.mdevs[2].count == 0u); // count = 0 declares removal of our instances
}

TEST_CASE("[[mdev]] parent by name - a parent that is not a PCI device") {
    auto state = parse_ok(R"(version = 1
[[mdev]]
parent = { name = "mtty" }
type = "mtty-2"
count = 2
)");
    REQUIRE(state.mdevs.size() == 1);
    CHECK(state.mdevs[0].parent.name == "mtty");
    CHECK_FALSE(state.mdevs[0].parent.address.has_value());
    CHECK(state.mdevs[0].parent.str() == "name=mtty");
}

TEST_CASE("inline array-of-tables form is accepted too") {
    auto state = parse_ok(R"(version = 1
pf = [{ match = { address = "0000:01:00.0" }, vfs = 2, vf = [{ index = "0-1", driver = "vfio-pci" }] }]
)");
    REQUIRE(state.pfs.size() == 1);
    CHECK(state.pfs[0].vfs_settings.at(0).indices == std::vector<uint32_t>{0, 1});
}

TEST_CASE("a file with only a version is an empty configuration") {
    auto state = parse_ok("version = 1\n");
    CHECK(state.pfs.empty());
    CHECK(state.devices.empty());
    CHECK(state.mdevs.empty());
}

TEST_CASE("diagnostics keep going after a bad entry and the state is withheld") {
    auto result = parse_config(R"(version = 1
[[pf]]
match = { address = "zz" }
vfs = 2
[[pf]]
match = { address = "0000:01:00.0" }
vfs = -1
[[device]]
match = {}
)",
                               "x.toml");
    CHECK_FALSE(result.ok());
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].where.str() == "x.toml:3:21");
    CHECK(result.errors[1].where.line == 7);
    CHECK(result.errors[2].where.line == 9);
}
