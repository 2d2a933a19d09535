// The daemon and configuration that must not hurt it (issue 17): a file toml++ 3.3 cannot parse without
// overflowing its stack is refused with FILE:LINE:COL, the last good configuration stays in force, and a
// restart with the file still there survives it; an editor's save that takes a file away for a moment is
// never applied half way.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr const char* kManager = "/io/hostdevd1";
constexpr const char* kManagerIface = "io.hostdevd1.Manager";

std::string dotted_key(size_t parts) {
    std::string key = "a";
    for (size_t i = 1; i < parts; ++i)
        key += ".a";
    return key;
}

nlohmann::json manager_property(const testing::PrivateBus& bus, const std::string& property) {
    return testing::get_property(bus, kManager, kManagerIface, property);
}

std::string driver_of(const std::string& address) {
    auto c = testing::run({"readlink", "/sys/bus/pci/devices/" + address + "/driver"});
    auto slash = c.out.rfind('/');
    return c.exit_code == 0 && slash != std::string::npos ? testing::trimmed(c.out.substr(slash + 1)) : "";
}

// The lab host's example configuration, a private bus and the daemon, converged.
struct Lab {
    testing::ConfigDir conf;
    testing::PrivateBus bus;
    std::unique_ptr<testing::Daemon> daemon;

    Lab() {
        conf.copy_from(testing::source_dir() + "/examples/config/lab");
        start();
    }
    void start() {
        daemon = std::make_unique<testing::Daemon>(bus, conf.path());
        INFO("hostdevd log:\n" << daemon->log());
        REQUIRE(testing::wait_until(
            [&] { return manager_property(bus, "State") == "converged" || !daemon->running(); }, 30s));
        REQUIRE(daemon->running());
    }
};

} // namespace

TEST_CASE("daemon: a 40000-part dotted key is refused where it starts and the last good configuration "
          "stays in force (also across a restart)",
          "[lab]") {
    Lab lab;
    const uint64_t generation = manager_property(lab.bus, "ConfigGeneration");
    const std::string huge = lab.conf.path() + "/30-huge.toml";
    // 80 KB. toml++ 3.3 parsed such a key one part per recursion and the daemon died of a stack overflow,
    // on the reload and at every start after.
    std::string header = GENERATE(as<std::string>{}, "key", "table");
    lab.conf.write("30-huge.toml", header == "key" ? "version = 1\n" + dotted_key(40000) + " = 1\n"
                                                   : "version = 1\n[" + dotted_key(40000) + "]\n");
    const bool refused = testing::wait_until(
        [&] { return !lab.daemon->running() || manager_property(lab.bus, "ConfigValid") == false; }, 30s);
    INFO("hostdevd log:\n" << lab.daemon->log());
    REQUIRE(lab.daemon->running());
    REQUIRE(refused);
    const std::string expected =
        huge + (header == "key" ? ":2:1" : ":2:2") +
        ": this key has more than 8 parts (dotted keys and table names are limited to "
        "8; hostdevd's settings need 3)";
    CHECK(manager_property(lab.bus, "ConfigError") == expected);
    CHECK(manager_property(lab.bus, "ConfigGeneration") == generation);
    CHECK(manager_property(lab.bus, "State") == "invalid-config");

    // The previous configuration is still enforced: a VF unbound by hand is bound again.
    REQUIRE(driver_of("0000:3b:02.0") == "vfio-pci");
    testing::run({"sh", "-c", "printf 0000:3b:02.0 > /sys/bus/pci/drivers/vfio-pci/unbind"});
    CHECK(testing::wait_until([] { return driver_of("0000:3b:02.0") == "vfio-pci"; }, 30s));

    // A restart with the file still there: the daemon comes up, says why, and changes nothing.
    REQUIRE(lab.daemon->stop(SIGTERM) == 0);
    lab.daemon = std::make_unique<testing::Daemon>(lab.bus, lab.conf.path());
    const bool reported = testing::wait_until(
        [&] { return !lab.daemon->running() || manager_property(lab.bus, "State") == "invalid-config"; },
        30s);
    INFO("hostdevd log after the restart:\n" << lab.daemon->log());
    REQUIRE(lab.daemon->running());
    CHECK(reported);
    CHECK(manager_property(lab.bus, "ConfigError") == expected);
    CHECK(lab.daemon->log().find(expected) != std::string::npos); // logged at err, with the position

    // Fixed: the file goes, the configuration loads.
    REQUIRE(std::remove(huge.c_str()) == 0);
    CHECK(testing::wait_until([&] { return manager_property(lab.bus, "ConfigValid") == true; }, 30s));
}

TEST_CASE("daemon: a file that disappears for 300 ms during an editor's save is never applied half way",
          "[lab]") {
    Lab lab;
    const uint64_t generation = manager_property(lab.bus, "ConfigGeneration");
    REQUIRE(manager_property(lab.bus, "ConfigFiles").size() == 2);
    const std::string gpus = lab.conf.path() + "/20-gpus.toml", backup = gpus + "~";

    // An editor saving without writing in place: the old file goes to a backup name and the new one
    // appears 300 ms later (a slow disk, a big file), here with the same text.
    REQUIRE(std::rename(gpus.c_str(), backup.c_str()) == 0);
    std::this_thread::sleep_for(300ms); // the length of the save is the scenario, not a wait for a state
    REQUIRE(std::rename(backup.c_str(), gpus.c_str()) == 0);

    // The change is loaded once, with both files.
    const bool reloaded =
        testing::wait_until([&] { return manager_property(lab.bus, "ConfigGeneration") > generation; }, 30s);
    INFO("hostdevd log:\n" << lab.daemon->log());
    REQUIRE(reloaded);
    CHECK(manager_property(lab.bus, "ConfigFiles").size() == 2);
    CHECK(lab.daemon->log().find("(1 files)") == std::string::npos); // never loaded without 20-gpus.toml
    CHECK(manager_property(lab.bus, "ConfigGeneration") == generation + 1);

    // A removal that lasts is real: after the 2 s grace the configuration without the file is in force.
    const uint64_t before_removal = manager_property(lab.bus, "ConfigGeneration");
    REQUIRE(std::remove(gpus.c_str()) == 0);
    CHECK(testing::wait_until(
        [&] {
            return manager_property(lab.bus, "ConfigFiles").size() == 1 &&
                   manager_property(lab.bus, "ConfigGeneration") == before_removal + 1;
        },
        30s));
}
