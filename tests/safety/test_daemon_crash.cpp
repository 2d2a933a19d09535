// Crash safety of the daemon: hostdevd SIGKILLed at several points of its first reconcile, with a guest
// holding a VF, then started again. The restarted daemon must converge (the planner has no safe action
// left) and the write-log oracle (kernel_oracle.cpp) must show no disruptive write on a device in use.
#include "child.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

namespace {

using namespace std::chrono_literals;

std::string vfio_pf(const std::string& pf, unsigned count) {
    return "[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" + std::to_string(count - 1) +
           "\"\ndriver = \"vfio-pci\"\n";
}

} // namespace

TEST_CASE("daemon SIGKILLed at points of a reconcile restarts and converges without disrupting a guest",
          "[lab]") {
    for (int kill_ms : {0, 5, 20, 50, 100, 200}) {
        INFO("SIGKILL after " << kill_ms << " ms");
        testing::simhost_ctl({"reset"});
        std::filesystem::remove_all("/run/hostdevd"); // a "reboot": hostdevd's per-boot memory goes too
        testing::ConfigDir conf;
        conf.write("10-a.toml", "version = 1\n" + vfio_pf("0000:3b:00.0", 4));
        REQUIRE(testing::run({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()})
                    .exit_code == 0);
        const std::string pid = testing::trimmed(testing::simhost_ctl({"hold", "0000:3b:02.1"}));
        // The new configuration resizes the held PF (must stay blocked) and sets up two other PFs.
        conf.write("10-a.toml", "version = 1\n" + vfio_pf("0000:3b:00.0", 6) + vfio_pf("0000:af:00.0", 4) +
                                    vfio_pf("0000:3b:00.1", 3));
        testing::clear_write_log();
        testing::PrivateBus bus;
        {
            testing::Daemon first(bus, conf.path());
            // The kill lands at a chosen time into the daemon's first reconcile: a sleep is the point of
            // this test, not a wait for state.
            std::this_thread::sleep_for(std::chrono::milliseconds(kill_ms));
            CHECK(first.stop(SIGKILL) == 128 + SIGKILL);
        }
        testing::Daemon second(bus, conf.path());
        std::vector<std::string> left;
        const bool settled = testing::wait_until(
            [&] {
                left = testing::safe_actions(conf);
                return left.empty();
            },
            20s);
        INFO("daemon log:\n" << second.log());
        CHECK(settled);
        CHECK(testing::trimmed(testing::read_file("/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs")) == "4");
        CHECK(testing::trimmed(testing::read_file("/sys/bus/pci/devices/0000:af:00.0/sriov_numvfs")) == "4");
        for (const auto& w : testing::write_log()) {
            INFO(w.dump());
            CHECK_FALSE(w.value("disrupted_in_use", false));
            CHECK_FALSE(w.value("repeated_destruction", false));
        }
        CHECK(second.stop(SIGTERM) == 0);
        testing::simhost_ctl({"release", pid});
    }
}
