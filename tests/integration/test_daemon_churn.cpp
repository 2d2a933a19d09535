// The unmodified hostdevd with devices that break the simple model (issue 15) and bindings someone keeps
// undoing (issue 13): no churn, and every held action comes back when it should. Daemon time runs 60x
// faster than the wall clock (HOSTDEVD_TEST_CLOCK_SCALE) so "nothing for 60 s" needs 1 s of waiting.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <thread>

using namespace std::chrono_literals;
using testing::ConfigDir;

namespace {

constexpr const char* kManager = "/io/hostdevd1";
constexpr const char* kManagerIface = "io.hostdevd1.Manager";
constexpr const char* kDeviceIface = "io.hostdevd1.Device";
constexpr double kClockScale = 60;

std::string device_property(testing::BusClient& client, const std::string& address,
                            const std::string& property) {
    try {
        return client.get_string(testing::device_path(address), kDeviceIface, property);
    } catch (const std::runtime_error&) {
        return "";
    }
}

std::string driver_of(const std::string& address) {
    auto c = testing::run({"readlink", "/sys/bus/pci/devices/" + address + "/driver"});
    auto slash = c.out.rfind('/');
    return c.exit_code == 0 && slash != std::string::npos ? testing::trimmed(c.out.substr(slash + 1)) : "";
}

void sysfs_write(const std::string& path, const std::string& value) {
    auto c = testing::run({"sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", value, path});
    INFO("writing " << value << " to " << path << ": " << c.err);
    REQUIRE(c.exit_code == 0);
}

std::vector<std::string> numvfs_writes(const std::string& pf) {
    std::vector<std::string> out;
    for (const auto& w : testing::writes_to(testing::write_log(), pf + "/sriov_numvfs"))
        out.push_back(testing::trimmed(w.at("value")));
    return out;
}

std::string pf_config(const std::string& pf, unsigned vfs) {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(vfs) + "\n";
}

// A private bus and the daemon with its gate clock 60x faster, on `config`, settled.
struct Setup {
    ConfigDir conf;
    testing::PrivateBus bus;
    std::unique_ptr<testing::Daemon> daemon;
    std::unique_ptr<testing::BusClient> client;

    explicit Setup(const std::string& config, bool fast_clock = true) {
        conf.write("10-test.toml", config);
        std::vector<std::pair<std::string, std::string>> env;
        if (fast_clock)
            env.emplace_back("HOSTDEVD_TEST_CLOCK_SCALE", std::to_string(kClockScale));
        daemon = std::make_unique<testing::Daemon>(bus, conf.path(), std::vector<std::string>{}, env);
        client = std::make_unique<testing::BusClient>(bus.address());
        INFO("hostdevd log:\n" << daemon->log());
        REQUIRE(testing::wait_until([&] { return manager_state() == "converged"; }, 15s));
    }
    std::string manager_state() { return client->get_string(kManager, kManagerIface, "State"); }
    uint64_t last_reconcile() {
        return testing::get_property(bus, kManager, kManagerIface, "LastReconcileUSec").get<uint64_t>();
    }
    // Asks for a pass (root, as `hostdevctl apply` does) and waits until one has looked at the host.
    void reconcile_and_wait() {
        const uint64_t before = last_reconcile();
        auto c = testing::busctl(bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Reconcile"});
        INFO(c.err);
        REQUIRE(c.exit_code == 0);
        REQUIRE(testing::wait_until(
            [&] { return last_reconcile() > before && manager_state() != "progressing"; }, 15s));
    }
    // Waits until `daemon_time` of the daemon's gate clock has passed (1/60 of it on the wall clock), then
    // has a pass look at the unchanged host.
    void let_daemon_time_pass(std::chrono::seconds daemon_time) {
        // Passing time is the point here, not waiting for a state: nothing is supposed to happen.
        std::this_thread::sleep_for(std::chrono::duration<double>(daemon_time.count() / kClockScale));
        reconcile_and_wait();
    }
};

} // namespace

TEST_CASE("daemon churn: a driver enabling all its VFs - one destructive attempt then nothing for 60 s",
          "[quirks]") {
    const std::string pf = "0000:3d:00.0";
    Setup s(pf_config(pf, 16));
    testing::clear_write_log();
    s.conf.write("10-test.toml", pf_config(pf, 4)); // 16 -> 0 -> 4: the driver enables 16 again
    INFO("hostdevd log:\n" << s.daemon->log());
    REQUIRE(testing::wait_until([&] { return device_property(*s.client, pf, "State") == "failed"; }, 15s));
    CHECK_THAT(
        device_property(*s.client, pf, "Reason"),
        Catch::Contains("driver enabled 16 VFs when 4 were written; not repeated until the configuration or "
                        "the device changes"));
    CHECK(numvfs_writes(pf) == std::vector<std::string>{"0", "4"}); // the one attempt
    testing::clear_write_log();
    s.let_daemon_time_pass(61s);
    CHECK(testing::write_log().empty());
    CHECK(device_property(*s.client, pf, "State") == "failed");
    CHECK(s.manager_state() == "degraded");
    // Plan() shows the held tear-down as failed with its reason, never as safe.
    auto plan =
        testing::busctl(s.bus, {"--json=short", "call", "io.hostdevd1", kManager, kManagerIface, "Plan"});
    INFO("Plan(): " << plan.out << plan.err);
    REQUIRE(plan.exit_code == 0);
    bool shown = false;
    const auto rows = nlohmann::json::parse(plan.out); // the loop must not range over a dead temporary
    for (const auto& row : rows.at("data").at(0))
        if (row.at(0) == pf && row.at(1) == "sriov_numvfs 16 -> 0 -> 4") {
            CHECK(row.at(2) == "failed");
            CHECK_THAT(row.at(3).get<std::string>(),
                       Catch::Contains("driver enabled 16 VFs when 4 were written"));
            shown = true;
        }
    CHECK(shown);
    // The configuration changes: acted on at once.
    s.conf.write("10-test.toml", pf_config(pf, 16));
    CHECK(testing::wait_until([&] { return s.manager_state() == "converged"; }, 15s));
}

TEST_CASE("daemon churn: a driver enabling fewer VFs - one destructive attempt then nothing for 60 s",
          "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    Setup s(pf_config(pf, 4));
    testing::simhost_ctl({"fault", "limit-vfs", pf, "3"});
    testing::clear_write_log();
    s.conf.write("10-test.toml", pf_config(pf, 6));
    INFO("hostdevd log:\n" << s.daemon->log());
    REQUIRE(testing::wait_until([&] { return device_property(*s.client, pf, "State") == "failed"; }, 15s));
    CHECK_THAT(device_property(*s.client, pf, "Reason"),
               Catch::Contains("driver enabled 3 VFs when 6 were written"));
    CHECK(numvfs_writes(pf) == std::vector<std::string>{"0", "6"});
    testing::clear_write_log();
    s.let_daemon_time_pass(61s);
    CHECK(testing::write_log().empty());
}

TEST_CASE("daemon churn: a driver enabling a fixed number of VFs - the create is not followed by a tear-down",
          "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    Setup s("version = 1\n");
    testing::simhost_ctl({"fault", "enables-vfs", pf, "8"});
    testing::clear_write_log();
    s.conf.write("10-test.toml", pf_config(pf, 4));
    INFO("hostdevd log:\n" << s.daemon->log());
    REQUIRE(testing::wait_until([&] { return device_property(*s.client, pf, "State") == "failed"; }, 15s));
    CHECK_THAT(device_property(*s.client, pf, "Reason"),
               Catch::Contains("driver enabled 8 VFs when 4 were written"));
    s.let_daemon_time_pass(61s);
    CHECK(numvfs_writes(pf) == std::vector<std::string>{"4"});
}

TEST_CASE("daemon: two bindings undone one after the other are both re-applied with back-off - issue 13",
          "[lab]") {
    // The back-off's earliest retry used to include one whose time had passed: after the first VF had been
    // re-applied, no timer was armed for the second one, which then stayed unbound.
    testing::ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/lab");
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    REQUIRE(testing::wait_until(
        [&] { return client.get_string(kManager, kManagerIface, "State") == "converged"; }, 15s));
    for (const std::string vf : {"0000:3b:02.4", "0000:3b:02.5"}) {
        INFO("flapping " << vf << "; hostdevd log:\n" << daemon.log());
        bool flagged = false;
        for (int round = 0; round < 10 && !flagged; ++round) {
            sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", vf);
            REQUIRE(testing::wait_until(
                [&] {
                    flagged =
                        device_property(client, vf, "Reason").find("keeps undoing") != std::string::npos;
                    return flagged || driver_of(vf) == "vfio-pci";
                },
                10s));
        }
        REQUIRE(flagged);
        // Held with back-off, then re-applied by the daemon's own timer: nothing else happens meanwhile.
        CHECK(testing::wait_until([&] { return driver_of(vf) == "vfio-pci"; }, 15s));
    }
}
