// Host descriptions: every example loads; bad files fail with FILE:LINE:COL and a clear message.
#include "support.hpp"

using simhost::HostSpecError;
using simhost::parse_host_spec;

namespace {
std::string error_of(const std::string& text) {
    try {
        parse_host_spec(text, "t.toml");
    } catch (const HostSpecError& e) {
        return e.what();
    }
    return "(no error)";
}
const char* kMinimal = R"(
[[driver]]
name = "i40e"
ids = ["8086:1572"]
sriov_configure = true

[[device]]
address = "0000:3b:00.0"
vendor = 0x8086
device = 0x1572
class = 0x020000
driver = "i40e"
)";
} // namespace

TEST_CASE("every example host description loads") {
    for (auto name : {"intel-x710.toml", "intel-e810.toml", "mellanox-cx5.toml", "nvidia-a16.toml",
                      "nvidia-l4.toml", "qemu-nvme.toml", "lab.toml", "quirks.toml"}) {
        INFO(name);
        auto k = simtest::host(name);
        std::vector<std::string> devs;
        REQUIRE(k->list("/bus/pci/devices", devs) == 0);
        CHECK_FALSE(devs.empty());
    }
}

TEST_CASE("a minimal description parses with built-in vfio-pci and pcieport") {
    auto h = parse_host_spec(kMinimal, "m.toml");
    REQUIRE(h.devices.size() == 1);
    CHECK(h.devices[0].subsystem_vendor == 0x8086); // defaults to the vendor
    auto* vfio = h.find_driver("vfio-pci");
    REQUIRE(vfio);
    CHECK(vfio->override_only);
    CHECK(vfio->module == "vfio_pci");
    CHECK(h.find_driver("pcieport"));
}

TEST_CASE("unknown key is an error at its line and column") {
    auto e = error_of("[[device]]\naddress = \"0000:3b:00.0\"\n  colour = 1\n");
    CHECK(e == "t.toml:3:3: unknown key 'colour' in [[device]]");
}

TEST_CASE("wrong type is an error at the value") {
    auto e = error_of("[[device]]\naddress = \"0000:3b:00.0\"\nvendor = \"8086\"\ndevice = 1\nclass = 2\n");
    CHECK(e == "t.toml:3:10: 'vendor' must be an integer");
}

TEST_CASE("TOML syntax errors carry toml++'s position") {
    auto e = error_of("[[device]]\naddress = \n");
    CHECK(e.rfind("t.toml:2:", 0) == 0);
}

TEST_CASE("missing required key names the table's position") {
    auto e = error_of("[[device]]\naddress = \"0000:3b:00.0\"\n");
    CHECK(e == "t.toml:1:1: missing required key 'vendor'");
}

TEST_CASE("bad address, unknown driver, unknown parent, duplicate address are errors") {
    CHECK(error_of("[[device]]\naddress = \"3b:00.0\"\nvendor = 1\ndevice = 1\nclass = 1\n") ==
          "t.toml:2:11: address '3b:00.0' is not a lower-case DDDD:BB:DD.F PCI address");
    CHECK(
        error_of(
            "[[device]]\naddress = \"0000:3b:00.0\"\nvendor = 1\ndevice = 1\nclass = 1\ndriver = \"x\"\n") ==
        "t.toml:6:10: driver 'x' is not declared in a [[driver]] table");
    CHECK(error_of("[[device]]\naddress = \"0000:3b:00.0\"\nvendor = 1\ndevice = 1\nclass = 1\nparent = "
                   "\"0000:00:01.0\"\n") ==
          "t.toml:6:10: parent '0000:00:01.0' is not a device in this file");
    std::string dev = "[[device]]\naddress = \"0000:3b:00.0\"\nvendor = 1\ndevice = 1\nclass = 1\n";
    CHECK(error_of(dev + dev) == "t.toml:7:11: duplicate device address 0000:3b:00.0");
}

TEST_CASE("VF addresses colliding with another device are rejected") {
    std::string text = std::string(kMinimal) + R"(
[device.sriov]
totalvfs = 4
offset = 1
vf_device = 0x154c

[[device]]
address = "0000:3b:00.2"
vendor = 0x8086
device = 0x1572
class = 0x020000
)";
    auto e = error_of(text);
    CHECK(e == "t.toml:14:1: VF 1 address 0000:3b:00.2 collides with 0000:3b:00.2");
}

TEST_CASE("numvfs at start needs a PF driver with sriov_configure - ranges are checked") {
    CHECK(error_of(std::string(kMinimal) +
                   "[device.sriov]\ntotalvfs = 4\noffset = 1\nvf_device = 1\nnumvfs = 5\n") ==
          "t.toml:17:10: numvfs exceeds totalvfs");
    CHECK(error_of(std::string(kMinimal) + "[device.sriov]\ntotalvfs = 0\noffset = 1\nvf_device = 1\n") ==
          "t.toml:14:12: 'totalvfs' = 0 is out of range [1, 65535]");
}

TEST_CASE("load_host_spec reports a missing file") {
    CHECK_THROWS_WITH(simhost::load_host_spec("/nonexistent/h.toml"),
                      "/nonexistent/h.toml:0:0: cannot open host description");
}

TEST_CASE("VF address follows offset and stride and carries into the next bus") {
    auto pf = *simhost::PciAddr::parse("0000:3b:00.0");
    CHECK(simhost::vf_address(pf, 16, 1, 0).str() == "0000:3b:02.0");
    CHECK(simhost::vf_address(pf, 16, 1, 63).str() == "0000:3b:09.7");
    CHECK(simhost::vf_address(pf, 384, 2, 1).str() == "0000:3c:10.2"); // 82576: offset 384 crosses a bus
    CHECK(simhost::vf_address(*simhost::PciAddr::parse("0000:3b:1f.7"), 1, 1, 0).str() == "0000:3c:00.0");
}
