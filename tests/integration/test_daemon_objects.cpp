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
