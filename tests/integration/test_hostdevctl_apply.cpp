// hostdevctl on simulated hosts: the unmodified binary against simhost's /sys, judged by simhost's write
// log. Each TEST_CASE runs in a fresh simulated host chosen by its tag (see CMakeLists.txt).
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using testing::ConfigDir;
using testing::run;

namespace {

// The example configuration for each example host (examples/config/<host>/).
std::string example_dir(const std::string& host) {
    return testing::source_dir() + "/examples/config/" + host;
}

nlohmann::json devices_json() {
    auto c = run({testing::hostdevctl(), "devices", "--json"});
    INFO(c.err);
    REQUIRE(c.exit_code == 0);
    return nlohmann::json::parse(c.out);
}

nlohmann::json device(const nlohmann::json& devices, const std::string& address) {
    for (const auto& d : devices.at("devices"))
        if (d.at("address") == address)
            return d;
    FAIL("device " << address << " not found");
    return {};
}

nlohmann::json plan_json(const ConfigDir& conf) {
    auto c = run({testing::hostdevctl(), "plan", "--json", "--config-dir", conf.path()});
    INFO(c.err);
    // 0 nothing to do, 3 only blocked/waiting/invalid left, 4 safe actions pending (exit_codes.hpp).
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4));
    return nlohmann::json::parse(c.out);
}

testing::Completed apply(const ConfigDir& conf) {
    return run({testing::hostdevctl(), "apply", "--config-dir", conf.path()});
}

// Converges the example from nothing, then checks that a second apply writes nothing at all.
void converge_and_check_idempotent(const std::string& host) {
    ConfigDir conf;
    conf.copy_from(example_dir(host));
    auto first = apply(conf);
    INFO("first apply:\n" << first.out << first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(plan_json(conf).at("converged") == true);

    testing::clear_write_log();
    auto second = apply(conf);
    INFO("second apply:\n" << second.out << second.err);
    REQUIRE(second.exit_code == 0);
    auto log = testing::write_log();
    INFO("writes: " << log.dump(1));
    CHECK(log.empty());
}

// A configuration putting `count` VFs of `pf` on vfio-pci.
std::string vfio_config(const std::string& pf, unsigned count) {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" + std::to_string(count - 1) +
           "\"\ndriver = \"vfio-pci\"\n";
}

// The scenario of safety.md on one PF: a guest holds one VF; changing the VF count must write nothing to
// sriov_numvfs and name the holder; once the guest is gone the change goes 0 then N.
void vf_count_change_respects_holder(const std::string& pf, unsigned count, unsigned new_count) {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(pf, count));
    auto first = apply(conf);
    INFO("first apply:\n" << first.out << first.err);
    REQUIRE(first.exit_code == 0);

    auto devices = devices_json();
    auto vfs = device(devices, pf).at("sriov").at("vfs");
    REQUIRE(vfs.size() == count);
    std::string held = vfs.back(); // one VF of the set; every one of them is on vfio-pci
    REQUIRE(device(devices, held).at("driver") == "vfio-pci");
    std::string pid = testing::simhost_ctl({"hold", held, "--comm", "qemu-system-x86"});
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
    REQUIRE(!pid.empty());

    conf.write("10-vfs.toml", vfio_config(pf, new_count));
    testing::clear_write_log();
    auto blocked = apply(conf);
    INFO("apply while held:\n" << blocked.out << blocked.err);
    CHECK(blocked.exit_code == 3);
    auto log = testing::write_log();
    CHECK(testing::writes_to(log, "/sriov_numvfs").empty());

    auto plan = plan_json(conf);
    bool reported = false;
    for (const auto& a : plan.at("actions"))
        if (a.at("object") == pf && a.at("action") == "set-numvfs") {
            CHECK(a.at("verdict") == "blocked");
            std::string reason = a.at("reason");
            CHECK_THAT(reason, Catch::Contains("pid " + pid));
            CHECK_THAT(reason, Catch::Contains(held));
            reported = true;
        }
    CHECK(reported);

    testing::simhost_ctl({"release", pid});
    testing::clear_write_log();
    auto released = apply(conf);
    INFO("apply after release:\n" << released.out << released.err);
    CHECK(released.exit_code == 0);
    auto numvfs_writes = testing::writes_to(testing::write_log(), "/sriov_numvfs");
    REQUIRE(numvfs_writes.size() == 2);
    CHECK(testing::trimmed(numvfs_writes[0].at("value")) == "0");
    CHECK(testing::trimmed(numvfs_writes[1].at("value")) == std::to_string(new_count));
    CHECK(device(devices_json(), pf).at("sriov").at("num_vfs") == new_count);
}

} // namespace

TEST_CASE("x710: apply converges from nothing and a second apply writes nothing", "[intel-x710]") {
    converge_and_check_idempotent("intel-x710");
}
TEST_CASE("x710: a held VF blocks a VF-count change and once released it goes 0 then N", "[intel-x710]") {
    vf_count_change_respects_holder("0000:3b:00.0", 8, 4);
}
TEST_CASE("e810: apply converges from nothing and a second apply writes nothing", "[intel-e810]") {
    converge_and_check_idempotent("intel-e810");
}
TEST_CASE("e810: a held VF blocks a VF-count change and once released it goes 0 then N", "[intel-e810]") {
    vf_count_change_respects_holder("0000:5e:00.0", 16, 8);
}
TEST_CASE("cx5: apply converges from nothing and a second apply writes nothing", "[mellanox-cx5]") {
    converge_and_check_idempotent("mellanox-cx5");
}
TEST_CASE("a16: apply converges from nothing and a second apply writes nothing", "[nvidia-a16]") {
    converge_and_check_idempotent("nvidia-a16");
}
TEST_CASE("l4: apply converges from nothing and a second apply writes nothing", "[nvidia-l4]") {
    converge_and_check_idempotent("nvidia-l4");
}
TEST_CASE("nvme: apply converges from nothing and a second apply writes nothing", "[qemu-nvme]") {
    converge_and_check_idempotent("qemu-nvme");
}
TEST_CASE("nvme: a held VF blocks a VF-count change and once released it goes 0 then N", "[qemu-nvme]") {
    vf_count_change_respects_holder("0000:01:00.0", 4, 2);
}
TEST_CASE("lab: apply converges from nothing and a second apply writes nothing", "[lab]") {
    converge_and_check_idempotent("lab");
}

TEST_CASE("x710: a process in another mount namespace holding its own /dev/vfio/N is no holder of ours",
          "[intel-x710]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config("0000:3b:00.0", 2));
    REQUIRE(apply(conf).exit_code == 0);
    auto vf = device(devices_json(), "0000:3b:02.0");
    REQUIRE(vf.at("driver") == "vfio-pci");
    std::string group = std::to_string(vf.at("iommu_group").get<int>());
    // Same path, different file: what a container (or another simulated host) sees under its own /dev.
    std::string script = "mount -t tmpfs none /dev/vfio && : > /dev/vfio/" + group + " && exec 3</dev/vfio/" +
                         group + " && echo ready && exec sleep 30";
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        execlp("unshare", "unshare", "-m", "--propagation", "private", "sh", "-c", script.c_str(), nullptr);
        _exit(127);
    }
    close(out[1]);
    char buf[16] = {};
    REQUIRE(read(out[0], buf, sizeof buf) > 0); // the other namespace holds its file now
    close(out[0]);
    auto holders = device(devices_json(), "0000:3b:02.0").at("holders");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    CHECK(holders.empty());
}

TEST_CASE("x710: a VF netdev that carries an address is in use and its PF's VF count is not changed",
          "[intel-x710]") {
    ConfigDir conf;
    conf.write(
        "10-vfs.toml",
        "version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\ndestroy = \"when-idle\"\nvfs = 4\n");
    REQUIRE(apply(conf).exit_code == 0);
    auto vf = device(devices_json(), "0000:3b:02.1");
    REQUIRE(vf.at("netdevs").size() == 1);
    std::string netdev = vf.at("netdevs")[0].at("name");
    // The simulated host's network namespace is private: an interface of that name with a documentation
    // address (RFC 5737) stands for the VF netdev an administrator configured.
    REQUIRE(testing::run({"ip", "link", "add", netdev, "type", "bridge"}).exit_code == 0); // any kind will do
    REQUIRE(testing::run({"ip", "addr", "add", "192.0.2.1/24", "dev", netdev}).exit_code == 0);
    auto holders = device(devices_json(), "0000:3b:02.1").at("holders");
    CHECK(holders.dump().find("netdev " + netdev + " carries addresses") != std::string::npos);

    conf.write(
        "10-vfs.toml",
        "version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\ndestroy = \"when-idle\"\nvfs = 2\n");
    testing::clear_write_log();
    CHECK(apply(conf).exit_code == 3);
    CHECK(testing::writes_to(testing::write_log(), "/sriov_numvfs").empty());
}
