// Fault injection on simhost with the unmodified hostdevctl: every write of an example apply failing with
// each errno the kernel can return, a driver enabling fewer VFs than asked, late VF probing, SIGKILL
// between sriov_numvfs=0 and =N. After each, the write-log oracle (kernel_oracle.cpp) must be clean and,
// once the fault is gone, the next apply must converge (the planner has no safe action left).
#include "child.hpp"
#include "scenario.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using testing::ConfigDir;

safety::ChildResult run_apply(const ConfigDir& conf, std::chrono::microseconds kill_after = 0us) {
    return safety::run_child({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()}, 30s,
                             kill_after);
}

// Every write the oracle flags since the last `log clear`: disruptive on a device in use, or a destruction
// repeated without a change of input.
std::vector<std::string> oracle_violations() {
    std::vector<std::string> out;
    for (const auto& w : testing::write_log()) {
        if (w.value("disrupted_in_use", false))
            out.push_back(w.at("path").get<std::string>() + " = " + w.at("value").get<std::string>() + ": " +
                          w.at("in_use_reason").get<std::string>());
        if (w.value("repeated_destruction", false))
            out.push_back(w.at("path").get<std::string>() + " = " + w.at("value").get<std::string>() + ": " +
                          w.at("repeat_reason").get<std::string>());
    }
    return out;
}

// The simulated host back to its description, as after a reboot: hostdevd's per-boot memory goes too.
void reset_host() {
    testing::simhost_ctl({"reset"});
    std::filesystem::remove_all("/run/hostdevd");
}

// With no fault left, apply until nothing safe remains (each apply may finish with waiting actions).
void require_converges(const ConfigDir& conf) {
    std::vector<std::string> left;
    const bool settled = testing::wait_until(
        [&] {
            auto r = run_apply(conf);
            REQUIRE_FALSE(r.timed_out);
            left = testing::safe_actions(conf);
            return left.empty();
        },
        10s);
    INFO("safe actions left: " << left.size() << (left.empty() ? "" : " first: " + left.front()));
    CHECK(settled);
}

void copy_example(ConfigDir& conf, const std::string& tag) {
    for (const auto& e :
         std::filesystem::directory_iterator(testing::source_dir() + "/examples/config/" + tag))
        conf.write(e.path().filename(), testing::read_file(e.path()));
}

// The files an apply of the example configuration writes, one path per kind of file (the last path
// component: sriov_numvfs, driver_override, bind, create, current_vgpu_type ...), in first-write order.
std::vector<std::string> one_path_per_write_kind(const ConfigDir& conf) {
    reset_host();
    testing::clear_write_log();
    REQUIRE(run_apply(conf).exit_code == 0);
    std::vector<std::string> paths;
    std::set<std::string> kinds;
    for (const auto& w : testing::write_log()) {
        const std::string path = w.at("path");
        if (kinds.insert(path.substr(path.rfind('/') + 1)).second)
            paths.push_back(path);
    }
    return paths;
}

void every_write_fails_with_every_errno(const std::string& tag) {
    ConfigDir conf;
    copy_example(conf, tag);
    const auto paths = one_path_per_write_kind(conf);
    REQUIRE(!paths.empty());
    for (const auto& path : paths) {
        for (const auto& error : safety::kernel_write_errnos()) {
            INFO(tag << ": " << path << " fails with " << error);
            reset_host();
            // Every matching write fails while the fault is there: the first apply cannot route around it.
            testing::simhost_ctl({"fault", "fail", path, error, "0"});
            testing::clear_write_log();
            auto r = run_apply(conf);
            INFO("apply output:\n" << r.output);
            CHECK_FALSE(r.timed_out);
            CHECK(r.exit_code == 1); // "a write failed", never a crash or a false "converged"
            CHECK_THAT(r.output, Catch::Contains(error));
            CHECK(oracle_violations().empty());
            testing::simhost_ctl({"fault", "clear"});
            require_converges(conf);
            CHECK(oracle_violations().empty());
        }
    }
}

std::string vfio_config(const std::string& pf, unsigned count) {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" + std::to_string(count - 1) +
           "\"\ndriver = \"vfio-pci\"\n";
}

std::string numvfs(const std::string& pf) {
    return testing::trimmed(testing::read_file("/sys/bus/pci/devices/" + pf + "/sriov_numvfs"));
}

} // namespace

TEST_CASE("the oracle flags a disruptive write made by hand - the harness can see a violation",
          "[intel-x710]") {
    // Without this, a clean write log could also mean the oracle is not wired through `ctl log --json`.
    testing::clear_write_log();
    std::ofstream("/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs") << "2";
    std::string netdev;
    for (const auto& e : std::filesystem::directory_iterator("/sys/bus/pci/devices/0000:3b:02.1/net"))
        netdev = e.path().filename();
    REQUIRE(!netdev.empty());
    testing::simhost_ctl({"link", netdev, "up"});
    std::ofstream("/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs") << "0";
    auto v = oracle_violations();
    REQUIRE(v.size() == 1);
    CHECK_THAT(v[0], Catch::Contains("netdev " + netdev + " is up"));
}

TEST_CASE("every write of the x710 example fails with each kernel errno - reported then converged",
          "[intel-x710]") {
    every_write_fails_with_every_errno("intel-x710");
}
TEST_CASE("every write of the A16 mdev example fails with each kernel errno - reported then converged",
          "[nvidia-a16]") {
    every_write_fails_with_every_errno("nvidia-a16");
}
TEST_CASE("every write of the L4 vGPU example fails with each kernel errno - reported then converged",
          "[nvidia-l4]") {
    every_write_fails_with_every_errno("nvidia-l4");
}

TEST_CASE("a driver enabling fewer VFs than asked - VFs in use are never disabled to retry", "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(pf, 6));
    testing::simhost_ctl({"fault", "limit-vfs", pf, "3"});
    testing::clear_write_log();
    auto r = run_apply(conf);
    INFO("apply:\n" << r.output);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 1);    // the count did not take: reported as a failure, not as converged
    REQUIRE(numvfs(pf) == "3"); // iov.c: the driver's sriov_configure may enable fewer; still success
    // A guest's manager (libvirt) binds one of the three VFs itself and starts the guest.
    const std::string held = "0000:3b:02.0";
    std::ofstream("/sys/bus/pci/devices/" + held + "/driver_override") << "vfio-pci";
    std::ofstream("/sys/bus/pci/drivers_probe") << held;
    std::string pid = testing::trimmed(testing::simhost_ctl({"hold", held}));
    testing::clear_write_log();
    auto again = run_apply(conf); // the driver still enables only 3: retrying would destroy the guest's VF
    INFO("apply while held:\n" << again.output);
    CHECK(again.exit_code == 3);
    CHECK(numvfs(pf) == "3");
    CHECK(testing::writes_to(testing::write_log(), "/sriov_numvfs").empty());
    CHECK(oracle_violations().empty());
    testing::simhost_ctl({"fault", "clear"});
    testing::simhost_ctl({"release", pid});
    // Nothing hostdevd can see has changed: the tear-down that ended with 3 VFs is not tried again.
    testing::clear_write_log();
    auto unchanged = run_apply(conf);
    INFO("apply after the guest left:\n" << unchanged.output);
    CHECK(unchanged.exit_code == 1);
    CHECK_THAT(unchanged.output, Catch::Contains("driver enabled 3 VFs when 6 were written"));
    CHECK(testing::writes_to(testing::write_log(), "/sriov_numvfs").empty());
    // The operator reloads the PF's driver (as a driver update would): its VFs are gone, a new situation.
    std::ofstream("/sys/bus/pci/drivers/i40e/unbind") << pf;
    std::ofstream("/sys/bus/pci/drivers/i40e/bind") << pf;
    require_converges(conf);
    CHECK(numvfs(pf) == "6");
    CHECK(oracle_violations().empty());
}

TEST_CASE("late VF probing - bindings wait for the probe and then converge", "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    ConfigDir conf;
    // autoprobe stays on so the VF driver (iavf) probes the VFs late, after the enable returned.
    conf.write("10-vfs.toml", "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
                                  "\" }\nvfs = 4\n[[pf.vf]]\nindex = \"0-3\"\ndriver = \"vfio-pci\"\n");
    testing::simhost_ctl({"fault", "probe-delay", pf, "0.5"});
    testing::clear_write_log();
    auto r = run_apply(conf);
    INFO("apply:\n" << r.output);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code != 1);
    require_converges(conf);
    for (int i = 0; i < 4; ++i) {
        const auto driver =
            std::filesystem::read_symlink("/sys/bus/pci/devices/0000:3b:02." + std::to_string(i) + "/driver");
        CHECK(driver.filename() == "vfio-pci");
    }
    CHECK(oracle_violations().empty());
}

TEST_CASE("SIGKILL between sriov_numvfs=0 and =N - the next apply finishes the change", "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(pf, 8));
    REQUIRE(run_apply(conf).exit_code == 0);
    conf.write("10-vfs.toml", vfio_config(pf, 4));
    // Each sriov_numvfs write waits 0.5 s before it is carried out: "0" completes at ~0.5 s, "4" would at
    // ~1 s; the kill at 0.75 s lands in between.
    testing::simhost_ctl({"fault", "block", "/sys/bus/pci/devices/" + pf + "/sriov_numvfs", "0.5"});
    testing::clear_write_log();
    auto killed = run_apply(conf, 750ms);
    CHECK(killed.exit_code == 128 + 9);
    auto writes = testing::writes_to(testing::write_log(), "/sriov_numvfs");
    REQUIRE(!writes.empty());
    CHECK(testing::trimmed(writes.front().at("value")) == "0");
    testing::simhost_ctl({"fault", "clear"});
    require_converges(conf);
    CHECK(numvfs(pf) == "4");
    CHECK(oracle_violations().empty());
}

TEST_CASE(
    "SIGKILL at many points of an apply with a guest present - restart converges and the guest is untouched",
    "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    for (int kill_us : {0, 1000, 3000, 6000, 10000, 20000, 40000, 80000}) {
        INFO("kill after " << kill_us << "us");
        reset_host();
        ConfigDir conf;
        conf.write("10-vfs.toml", vfio_config(pf, 4));
        REQUIRE(run_apply(conf).exit_code == 0);
        std::string pid = testing::trimmed(testing::simhost_ctl({"hold", "0000:3b:02.1"}));
        // The new configuration wants 6 VFs (blocked by the guest) and the second PF sized.
        conf.write("10-vfs.toml",
                   vfio_config(pf, 6) +
                       "[[pf]]\nmatch = { address = \"0000:3b:00.1\" }\ndestroy = \"when-idle\"\nvfs = 2\n");
        testing::clear_write_log();
        auto killed = run_apply(conf, std::chrono::microseconds(kill_us));
        CHECK_FALSE(killed.timed_out);
        auto again = run_apply(conf);
        INFO("restart:\n" << again.output);
        CHECK(again.exit_code == 3); // the resize stays blocked by the guest
        CHECK(testing::safe_actions(conf).empty());
        CHECK(numvfs(pf) == "4");
        CHECK(numvfs("0000:3b:00.1") == "2");
        CHECK(oracle_violations().empty());
    }
}

TEST_CASE("a guest starting between the plan and a disruptive write is seen by the re-check before it",
          "[intel-x710]") {
    const std::string pf = "0000:3b:00.0";
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(pf, 4)); // autoprobe = false
    REQUIRE(run_apply(conf).exit_code == 0);
    // The new configuration turns autoprobe on (written first) and shrinks 4 -> 2 (disruptive, planned as
    // safe: no VF is in use yet). The autoprobe write is slowed to 2 s; the guest starts inside that window.
    std::string next = vfio_config(pf, 2);
    next.replace(next.find("autoprobe = false"), 17, "autoprobe = true");
    conf.write("10-vfs.toml", next);
    testing::simhost_ctl({"fault", "block", "/sys/bus/pci/devices/" + pf + "/sriov_drivers_autoprobe", "2"});
    testing::clear_write_log();
    safety::ChildResult result;
    std::thread apply([&] { result = run_apply(conf); });
    // The point of injection: while hostdevctl is inside the slowed write (seen in /proc, not guessed).
    const bool in_window = testing::wait_write_in_flight("/sriov_drivers_autoprobe", 20s) != 0;
    std::string pid = testing::trimmed(testing::simhost_ctl({"hold", "0000:3b:02.3"}));
    apply.join();
    INFO("apply:\n" << result.output);
    REQUIRE(in_window);
    auto log = testing::write_log();
    REQUIRE(testing::writes_to(log, "/sriov_drivers_autoprobe").size() == 1); // the window really was there
    CHECK(testing::writes_to(log, "/sriov_numvfs").empty());
    CHECK(result.exit_code == 3);
    CHECK_THAT(result.output, Catch::Contains("pid " + pid));
    CHECK(numvfs(pf) == "4");
    CHECK(oracle_violations().empty());
    testing::simhost_ctl({"release", pid});
}

TEST_CASE("a device vanishing mid-wave - the apply ends cleanly and the next one has nothing to do",
          "[lab]") {
    const std::string pf = "0000:5e:00.0"; // the hot-pluggable E810 port of the lab host
    testing::simhost_ctl({"plug", pf});
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(pf, 4));
    // Each VF's probe request is slowed to 1 s; the card is pulled during the first one.
    testing::simhost_ctl({"fault", "block", "/sys/bus/pci/drivers_probe", "1"});
    testing::clear_write_log();
    safety::ChildResult result;
    std::thread apply([&] { result = run_apply(conf); });
    // The point of injection: while hostdevctl is inside a slowed probe request (seen in /proc).
    const bool in_window = testing::wait_write_in_flight("/drivers_probe", 20s) != 0;
    testing::simhost_ctl({"unplug", pf});
    apply.join();
    INFO("apply:\n" << result.output);
    REQUIRE(in_window);
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code < 128); // no crash
    CHECK_FALSE(std::filesystem::exists("/sys/bus/pci/devices/" + pf));
    testing::simhost_ctl({"fault", "clear"});
    CHECK(testing::safe_actions(conf).empty()); // the PF is absent: nothing to do until it comes back
    CHECK(oracle_violations().empty());
    // Plugged back in, it converges from scratch.
    testing::simhost_ctl({"plug", pf});
    require_converges(conf);
    CHECK(numvfs(pf) == "4");
}
