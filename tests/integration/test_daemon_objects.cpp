// The unmodified hostdevd on the lab host: the D-Bus objects a client finds are exactly the devices and
// mdevs of Describe(), and their properties are the values Describe() reports.
#include "support/daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <systemd/sd-bus.h>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Describe()'s field → the D-Bus property.
const std::map<std::string, std::string> kDeviceProperties = {{"address", "Address"},
                                                              {"role", "Role"},
                                                              {"vendor_id", "VendorId"},
                                                              {"device_id", "DeviceId"},
                                                              {"physfn", "PhysFn"},
                                                              {"driver", "Driver"},
                                                              {"desired_driver", "DesiredDriver"},
                                                              {"managed", "Managed"},
                                                              {"pool", "Pool"},
                                                              {"num_vfs", "NumVFs"},
                                                              {"total_vfs", "TotalVFs"},
                                                              {"desired_vfs", "DesiredVFs"},
                                                              {"vgpu", "Vgpu"},
                                                              {"desired_vgpu", "DesiredVgpu"},
                                                              {"in_use", "InUse"},
                                                              {"holders", "Holders"},
                                                              {"state", "State"},
                                                              {"reason", "Reason"},
                                                              {"source", "Source"}};
const std::map<std::string, std::string> kMdevProperties = {
    {"uuid", "Uuid"},     {"parent", "Parent"}, {"type", "Type"},
    {"active", "Active"}, {"in_use", "InUse"},  {"holders", "Holders"},
    {"state", "State"},   {"reason", "Reason"}, {"source", "Source"}};

std::string mdev_path(const std::string& uuid) {
    char* path = nullptr;
    REQUIRE(sd_bus_path_encode("/io/hostdevd1/mdev", uuid.c_str(), &path) >= 0);
    std::string out(path);
    free(path);
    return out;
}

// Every property of `object` under `interface` equals the Describe() field it stands for.
void check_properties(const json& object, const char* interface, const json& described,
                      const std::map<std::string, std::string>& fields) {
    REQUIRE(object.contains(interface));
    const json& properties = object.at(interface);
    CHECK(properties.size() == fields.size());
    for (const auto& [field, property] : fields) {
        INFO(property);
        REQUIRE(properties.contains(property));
        CHECK(properties.at(property).at("data") == described.at(field));
    }
}

} // namespace

TEST_CASE("daemon: the bus objects are the devices and mdevs of Describe with their values", "[lab]") {
    testing::ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/lab");
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    bool settled = testing::wait_until(
        [&] {
            auto state = testing::get_property(bus, "/io/hostdevd1", "io.hostdevd1.Manager", "State");
            return state == "converged" || state == "blocked";
        },
        15s);
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(settled);

    auto describe = testing::busctl(
        bus, {"--json=short", "call", "io.hostdevd1", "/io/hostdevd1", "io.hostdevd1.Manager", "Describe"});
    REQUIRE(describe.exit_code == 0);
    json described = json::parse(json::parse(describe.out).at("data").at(0).get<std::string>());
    auto managed = testing::busctl(bus, {"--json=short", "call", "io.hostdevd1", "/io/hostdevd1",
                                         "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"});
    REQUIRE(managed.exit_code == 0);
    json objects = json::parse(managed.out).at("data").at(0);

    std::set<std::string> expected_paths, paths;
    REQUIRE(described.at("devices").size() > 10);
    REQUIRE(!described.at("mdevs").empty());
    for (const auto& device : described.at("devices")) {
        std::string path = testing::device_path(device.at("address"));
        expected_paths.insert(path);
        INFO(path);
        REQUIRE(objects.contains(path));
        check_properties(objects.at(path), "io.hostdevd1.Device", device, kDeviceProperties);
    }
    for (const auto& mdev : described.at("mdevs")) {
        std::string path = mdev_path(mdev.at("uuid"));
        expected_paths.insert(path);
        INFO(path);
        REQUIRE(objects.contains(path));
        check_properties(objects.at(path), "io.hostdevd1.Mdev", mdev, kMdevProperties);
    }
    for (const auto& [path, interfaces] : objects.items())
        paths.insert(path);
    CHECK(paths == expected_paths);

    // busctl tree walks introspection: it finds the same objects.
    auto tree = testing::busctl(bus, {"tree", "--list", "io.hostdevd1"});
    REQUIRE(tree.exit_code == 0);
    for (const auto& path : expected_paths)
        CHECK_THAT(tree.out, Catch::Contains(path + "\n"));
}

// The line of a table that starts with `first` (hostdevctl's tables: one object per line).
std::string row_of(const std::string& table, const std::string& first) {
    for (size_t at = 0; at < table.size();) {
        size_t end = table.find('\n', at);
        std::string line = table.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.rfind(first, 0) == 0)
            return line;
        if (end == std::string::npos)
            break;
        at = end + 1;
    }
    FAIL("no line starts with " << first << " in:\n" << table);
    return "";
}

TEST_CASE("daemon: vGPU profiles held and wanted in status - devices - on D-Bus - and VFS as current/total "
          "everywhere",
          "[nvidia-l4]") {
    testing::ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/nvidia-l4"); // 4 VFs of the L4, each L4-6Q
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(testing::wait_until(
        [&] {
            return testing::get_property(bus, "/io/hostdevd1", "io.hostdevd1.Manager", "State") ==
                   "converged";
        },
        15s));
    const std::string vf = "0000:ca:00.4", pf = "0000:ca:00.0";
    CHECK(testing::get_property(bus, testing::device_path(vf), "io.hostdevd1.Device", "Vgpu") ==
          "NVIDIA L4-6Q");
    CHECK(testing::get_property(bus, testing::device_path(vf), "io.hostdevd1.Device", "DesiredVgpu") ==
          "NVIDIA L4-6Q");
    CHECK(testing::get_property(bus, testing::device_path(pf), "io.hostdevd1.Device", "Vgpu") == "");

    setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
    auto status = testing::run({testing::hostdevctl(), "status"});
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
    INFO(status.out << status.err);
    REQUIRE(status.exit_code == 0);
    CHECK_THAT(row_of(status.out, vf),
               Catch::Contains("NVIDIA L4-6Q") && Catch::Contains("vgpu NVIDIA L4-6Q"));
    CHECK_THAT(row_of(status.out, pf), Catch::Contains(" 4/16 ") && Catch::Contains("vfs 4"));
    auto devices = testing::run({testing::hostdevctl(), "devices"});
    REQUIRE(devices.exit_code == 0);
    CHECK_THAT(row_of(devices.out, "  " + vf), Catch::Contains("NVIDIA L4-6Q"));
    CHECK_THAT(row_of(devices.out, pf), Catch::Contains(" 4/16 "));
    auto json_devices = json::parse(testing::run({testing::hostdevctl(), "devices", "--json"}).out);
    for (const auto& d : json_devices.at("devices"))
        if (d.at("address") == vf)
            CHECK(d.at("vgpu").at("current_name") == "NVIDIA L4-6Q");
}
