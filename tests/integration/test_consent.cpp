// Consent for destructive changes (issue 16, docs/safety.md "Consent"), with the unmodified hostdevd and
// hostdevctl on the simulated X710 host: a configuration that destroys VFs that exist waits for the
// operator (status, Describe(), Plan() and `hostdevctl plan` name every VF); Approve (root only, refused
// by the bus policy and by the daemon itself) carries out exactly what was approved; an approval lapses
// when the plan changes before its pass; destroy = "when-idle" goes on by itself. `hostdevctl apply
// --local` without a terminal destroys nothing without --yes or --approve. `plan --config-dir STAGED`
// plans STAGED here, daemon or not.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using testing::ConfigDir;

namespace {

constexpr const char* kPf = "0000:3b:00.0";
constexpr const char* kPf1 = "0000:3b:00.1";
constexpr const char* kManager = "/io/hostdevd1";
constexpr const char* kManagerIface = "io.hostdevd1.Manager";

std::string vf(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0000:3b:%02x.%d", 2 + i / 8, i % 8);
    return buf;
}

std::string pf_config(unsigned vfs, const std::string& extra = "") {
    return "version = 1\n" + extra +
           "[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\nvfs = " + std::to_string(vfs) + "\n";
}

std::string numvfs(const std::string& pf = kPf) {
    return testing::trimmed(testing::read_file("/sys/bus/pci/devices/" + pf + "/sriov_numvfs"));
}

size_t numvfs_writes(const std::string& pf = kPf) {
    return testing::writes_to(testing::write_log(), pf + "/sriov_numvfs").size();
}

std::string property(testing::BusClient& client, const std::string& path, const std::string& iface,
                     const std::string& name) {
    try {
        return client.get_string(path, iface, name);
    } catch (const std::runtime_error&) {
        return "";
    }
}

// The daemon on its own configuration directory and private bus, converged on `content`.
struct Host {
    ConfigDir conf;
    testing::PrivateBus bus;
    std::unique_ptr<testing::Daemon> daemon;
    std::unique_ptr<testing::BusClient> client;

    explicit Host(const std::string& content, bool with_policy = true) : bus(with_policy) {
        conf.write("10-nics.toml", content);
        daemon = std::make_unique<testing::Daemon>(bus, conf.path());
        client = std::make_unique<testing::BusClient>(bus.address());
        INFO("hostdevd log:\n" << daemon->log());
        REQUIRE(state_is("converged"));
    }
    std::string pf(const std::string& name, const std::string& address = kPf) {
        return property(*client, testing::device_path(address), "io.hostdevd1.Device", name);
    }
    bool state_is(const std::string& state, std::chrono::milliseconds timeout = 20s) {
        return testing::wait_until(
            [&] { return property(*client, kManager, kManagerIface, "State") == state; }, timeout);
    }
    testing::Completed approve(const std::vector<std::string>& objects, bool as_nobody = false) {
        std::vector<std::string> args = {
            "call", "io.hostdevd1", kManager, kManagerIface, "Approve", "as", std::to_string(objects.size())};
        args.insert(args.end(), objects.begin(), objects.end());
        return testing::busctl(bus, args, as_nobody);
    }
    testing::Completed hostdevctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {"env", "DBUS_SYSTEM_BUS_ADDRESS=" + bus.address(), "timeout", "60",
                                         testing::hostdevctl()};
        argv.insert(argv.end(), args.begin(), args.end());
        return testing::run(argv);
    }
    nlohmann::json describe() {
        auto call = testing::busctl(
            bus, {"--json=short", "call", "io.hostdevd1", kManager, kManagerIface, "Describe"});
        REQUIRE(call.exit_code == 0);
        return nlohmann::json::parse(nlohmann::json::parse(call.out).at("data").at(0).get<std::string>());
    }
};

// hostdevctl without the daemon (no bus), stdin not a terminal.
testing::Completed hostdevctl_here(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent", "timeout", "60",
                                     testing::hostdevctl()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::run(argv);
}

} // namespace

TEST_CASE("consent: with the daemon running an 8 -> 2 copy destroys nothing until root approves it",
          "[intel-x710]") {
    Host host(pf_config(8));
    REQUIRE(numvfs() == "8");
    testing::clear_write_log();
    host.conf.write("10-nics.toml", pf_config(2)); // reloaded through inotify
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(testing::wait_until([&] { return host.pf("State") == "consent"; }, 20s));
    CHECK(host.state_is("blocked"));
    CHECK(numvfs() == "8");
    CHECK(numvfs_writes() == 0);

    // The pending destruction, each VF named with its driver: the Device's Reason, Describe(), status, plan.
    const std::string reason = host.pf("Reason");
    CHECK_THAT(reason, Catch::StartsWith("sriov_numvfs 8 -> 0 -> 2 destroys 8 VFs: "));
    for (int i = 0; i < 8; ++i)
        CHECK_THAT(reason, Catch::Contains(vf(i) + " (driver iavf)"));
    nlohmann::json described = host.describe();
    bool listed = false;
    for (const auto& a : described.at("plan").at("actions"))
        if (a.value("object", "") == kPf && a.contains("held") &&
            a.at("held").value("kind", "") == "consent") {
            listed = true;
            CHECK(a.at("held").value("state", "") == "consent");
            REQUIRE(a.at("destroys").size() == 8);
            for (int i = 0; i < 8; ++i)
                CHECK(a.at("destroys").at(i) == vf(i) + " (driver iavf)");
        }
    CHECK(listed);
    auto status = host.hostdevctl({"status"});
    CHECK(status.exit_code == 3);
    CHECK_THAT(status.out, Catch::Contains("consent") && Catch::Contains(vf(7) + " (driver iavf)"));
    auto plan = host.hostdevctl({"plan"});
    CHECK(plan.exit_code == 3);
    CHECK_THAT(plan.out, Catch::Contains("consent") && Catch::Contains(vf(0)) && Catch::Contains(vf(7)));
    auto rows = testing::busctl(host.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Plan"});
    CHECK_THAT(rows.out, Catch::Contains("\"consent\"") && Catch::Contains("destroys: " + vf(0)));

    // Not root: the bus policy refuses; nothing changes.
    auto nobody = host.approve({kPf}, true);
    CHECK(nobody.exit_code != 0);
    CHECK_THAT(nobody.err, Catch::Contains("denied") || Catch::Contains("Access"));
    // Refusals by the daemon: an object it does not know, one with nothing awaiting consent.
    auto unknown = host.approve({"0000:99:00.0"});
    CHECK(unknown.exit_code != 0);
    CHECK_THAT(unknown.err, Catch::Contains("not a device or mdev of hostdevd's configuration"));
    auto nothing = host.approve({vf(0)});
    CHECK(nothing.exit_code != 0);
    CHECK_THAT(nothing.err, Catch::Contains("no action awaiting consent"));
    CHECK(numvfs() == "8");
    CHECK(numvfs_writes() == 0);

    auto root = host.approve({kPf});
    INFO(root.err);
    REQUIRE(root.exit_code == 0);
    CHECK(host.state_is("converged"));
    CHECK(numvfs() == "2");
    CHECK(numvfs_writes() == 2); // 0, then 2
    auto again = host.approve({kPf});
    CHECK(again.exit_code != 0);
}

TEST_CASE("consent: the daemon itself refuses Approve from others whatever the bus policy says",
          "[intel-x710]") {
    Host host(pf_config(8), false); // a bus that lets everyone call everything
    host.conf.write("10-nics.toml", pf_config(2));
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(testing::wait_until([&] { return host.pf("State") == "consent"; }, 20s));
    auto nobody = host.approve({kPf}, true);
    CHECK(nobody.exit_code != 0);
    CHECK_THAT(nobody.err, Catch::Contains("only root"));
    CHECK(host.pf("State") == "consent");
    CHECK(numvfs() == "8");
}

TEST_CASE("consent: an approval lapses when the configuration changes before its pass", "[intel-x710]") {
    Host host(pf_config(8));
    // The second port's VFs are created in the same pass that finds the first port's change awaiting
    // consent; that write stays in the kernel until `fault clear`, so no pass runs meanwhile.
    const std::string blocked = std::string("/sys/bus/pci/devices/") + kPf1 + "/sriov_numvfs";
    testing::simhost_ctl({"fault", "block", blocked, "600"});
    const std::string second_port = "[[pf]]\nmatch = { address = \"0000:3b:00.1\" }\nvfs = 2\n";
    testing::clear_write_log();
    host.conf.write("10-nics.toml", pf_config(2) + second_port);
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(testing::wait_write_in_flight(std::string(kPf1) + "/sriov_numvfs", 30s) != 0);
    REQUIRE(host.pf("State") == "consent");
    REQUIRE(host.approve({kPf}).exit_code == 0); // 8 -> 0 -> 2, for the next pass
    host.conf.write("10-nics.toml", pf_config(4) + second_port);
    auto reload = testing::busctl(host.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Reload"});
    REQUIRE(reload.exit_code == 0);
    REQUIRE(testing::wait_write_in_flight(std::string(kPf1) + "/sriov_numvfs", 1s) != 0); // still no pass
    testing::simhost_ctl({"fault", "clear"});
    REQUIRE(testing::wait_until([&] { return numvfs(kPf1) == "2"; }, 20s));
    REQUIRE(testing::wait_until(
        [&] { return host.pf("Reason").rfind("sriov_numvfs 8 -> 0 -> 4 destroys 8 VFs", 0) == 0; }, 20s));
    CHECK(host.pf("State") == "consent");
    CHECK(numvfs() == "8");
    CHECK(numvfs_writes() == 0);
    CHECK_THAT(host.daemon->log(), Catch::Contains("approval lapsed"));
}

TEST_CASE("consent: with destroy = \"when-idle\" the change happens on its own", "[intel-x710]") {
    Host host(pf_config(8));
    host.conf.write("10-nics.toml", pf_config(2, "[policy]\ndestroy = \"when-idle\"\n"));
    INFO("hostdevd log:\n" << host.daemon->log());
    CHECK(testing::wait_until([&] { return numvfs() == "2"; }, 20s));
    CHECK(host.state_is("converged"));
}

TEST_CASE("consent: hostdevctl apply --local without a terminal destroys nothing without --yes",
          "[intel-x710]") {
    ConfigDir conf;
    conf.write("10-nics.toml", pf_config(8));
    REQUIRE(hostdevctl_here({"apply", "--local", "--config-dir", conf.path()}).exit_code == 0); // creating
    REQUIRE(numvfs() == "8");
    conf.write("10-nics.toml", pf_config(2));
    testing::clear_write_log();
    auto refused = hostdevctl_here({"apply", "--local", "--config-dir", conf.path()});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 3);
    CHECK_THAT(refused.out,
               Catch::Contains("awaiting consent:") &&
                   Catch::Contains(std::string(kPf) + " sriov_numvfs 8 -> 0 -> 2 destroys 8 devices:"));
    for (int i = 0; i < 8; ++i)
        CHECK_THAT(refused.out, Catch::Contains("    " + vf(i) + " (driver iavf)\n"));
    CHECK(numvfs() == "8");
    CHECK(testing::write_log().empty());
    auto other = hostdevctl_here({"apply", "--local", "--config-dir", conf.path(), "--approve", kPf1});
    CHECK(other.exit_code == 3);
    CHECK(numvfs() == "8");
    auto yes = hostdevctl_here({"apply", "--local", "--config-dir", conf.path(), "--yes"});
    INFO(yes.out << yes.err);
    CHECK(yes.exit_code == 0);
    CHECK(numvfs() == "2");
    conf.write("10-nics.toml", pf_config(3));
    auto approved = hostdevctl_here({"apply", "--local", "--config-dir", conf.path(), "--approve", kPf});
    CHECK(approved.exit_code == 0);
    CHECK(numvfs() == "3");
}

TEST_CASE("consent: hostdevctl apply through the daemon approves with --yes", "[intel-x710]") {
    Host host(pf_config(8));
    host.conf.write("10-nics.toml", pf_config(2));
    auto refused = host.hostdevctl({"apply", "--config-dir", host.conf.path()});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 3);
    CHECK_THAT(refused.out,
               Catch::Contains("awaiting consent:") && Catch::Contains(vf(7) + " (driver iavf)"));
    CHECK(numvfs() == "8");
    auto yes = host.hostdevctl({"apply", "--yes"});
    INFO(yes.out << yes.err);
    CHECK(yes.exit_code == 0);
    CHECK(numvfs() == "2");
}

TEST_CASE("staged: plan --config-dir STAGED with the daemon running plans STAGED here", "[intel-x710]") {
    Host host(pf_config(8));
    ConfigDir staged;
    staged.write("10-nics.toml", pf_config(2));
    auto plan = host.hostdevctl({"plan", "--config-dir", staged.path()});
    INFO(plan.out << plan.err);
    CHECK(plan.exit_code == 3);
    CHECK_THAT(plan.out,
               Catch::Contains("(planned here from " + staged.path() + ", not the daemon's configuration)"));
    CHECK_THAT(plan.out, Catch::Contains("sriov_numvfs 8 -> 0 -> 2") && Catch::Contains("consent"));
    auto daemons = host.hostdevctl({"plan"});
    CHECK(daemons.exit_code == 0);
    CHECK_THAT(daemons.out, Catch::Contains("(the plan of the running hostdevd"));
    staged.write("10-nics.toml", "version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\nvfss = 2\n");
    auto invalid = host.hostdevctl({"plan", "--config-dir", staged.path()});
    CHECK(invalid.exit_code == 1);
    CHECK_THAT(invalid.err, Catch::Contains(staged.path() + "/10-nics.toml:4:1: unknown key `vfss`"));
    auto validate = host.hostdevctl({"validate", "--config-dir", staged.path()});
    CHECK(validate.exit_code == 1);
    CHECK_THAT(validate.err, Catch::Contains(staged.path() + "/10-nics.toml:4:1:"));
    CHECK(numvfs() == "8");
}
