// In use, as the kernel sees it (issue 13, 17): holders that keep only a VFIO device fd (anon_inode,
// no /dev/vfio path) block VF-count changes and mdev removals with zero writes, whether the kernel names
// the device in fdinfo (6.18) or not (6.1: unknown counts as in use); a VFIO device cdev holder blocks;
// an unprivileged user's O_PATH fd on a VFIO node, or a /dev/null bound over one in its own namespace,
// does not; a write stuck in the kernel ends `hostdevctl apply` with a failure naming the write; the plan
// shows every write the apply then makes. hostdevctl on simulated hosts, judged by simhost's write log.
#include "support/process.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <grp.h>
#include <regex>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using testing::ConfigDir;

namespace {

constexpr const char* kNvmePf = "0000:01:00.0";

testing::Completed apply(const ConfigDir& conf) {
    // A bounded apply: one that writes to a held device waits in the kernel until the holder goes.
    return testing::run({"timeout", "30", testing::hostdevctl(), "apply", "--config-dir", conf.path()});
}

nlohmann::json devices_json() {
    auto c = testing::run({"timeout", "30", testing::hostdevctl(), "devices", "--json"});
    INFO(c.err);
    REQUIRE(c.exit_code == 0);
    return nlohmann::json::parse(c.out);
}

nlohmann::json find(const nlohmann::json& list, const std::string& key, const std::string& value) {
    for (const auto& item : list)
        if (item.at(key) == value)
            return item;
    FAIL(key << " " << value << " not found in " << list.dump());
    return {};
}

std::string vfio_config(const std::string& pf, unsigned count) {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" + std::to_string(count - 1) +
           "\"\ndriver = \"vfio-pci\"\n";
}

std::string mtty_config(unsigned count) {
    return "version = 1\n[[mdev]]\nparent = { name = \"mtty\" }\ndestroy = \"when-idle\"\ntype = "
           "\"mtty-2\"\ncount = " +
           std::to_string(count) + "\n";
}

std::string hold(std::vector<std::string> args) {
    args.insert(args.begin(), "hold");
    std::string pid = testing::trimmed(testing::simhost_ctl(args));
    REQUIRE(!pid.empty());
    return pid;
}

// The blocked action's reason for `object`, from `hostdevctl plan --json`.
std::string blocked_reason(const ConfigDir& conf, const std::string& object, const std::string& kind) {
    auto c =
        testing::run({"timeout", "30", testing::hostdevctl(), "plan", "--json", "--config-dir", conf.path()});
    // plan exits 0 (nothing to do), 3 (only blocked/waiting left) or 4 (safe actions pending): never 1 or 2.
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4));
    const auto plan = nlohmann::json::parse(c.out); // the loop must not range over a dead temporary
    for (const auto& a : plan.at("actions"))
        if (a.at("object") == object && a.at("action") == kind && a.at("verdict") == "blocked")
            return a.at("reason");
    return "";
}

// A VF-count change while a guest keeps only a device fd of VF 1: blocked, nothing written, the holder
// named with its uid; VF 0 (bound to vfio-pci, opened by nobody: enable 0) is not in use. After the
// guest exits the change goes 0 then N.
void device_fd_holder_blocks_vf_count_change(bool syspath) {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 3));
    REQUIRE(apply(conf).exit_code == 0);
    const std::string held = "0000:01:00.2", idle = "0000:01:00.1";
    std::vector<std::string> args = {held, "--device-only", "--comm", "qemu-system-x86", "--uid", "64055"};
    if (syspath)
        args.push_back("--syspath");
    const std::string pid = hold(args);
    const std::string holder = "pid " + pid + " uid 64055 (qemu-system-x86)";

    auto devices = devices_json();
    std::string holders = find(devices.at("devices"), "address", held).at("holders").dump();
    CHECK_THAT(holders, Catch::Contains(holder));
    if (syspath)
        CHECK_THAT(holders, !Catch::Contains("unknown"));
    else
        CHECK_THAT(holders,
                   Catch::Contains("holds a VFIO device fd the kernel does not attribute (unknown counts "
                                   "as in use)"));
    CHECK(find(devices.at("devices"), "address", idle).at("holders").empty());

    conf.write("10-vfs.toml", vfio_config(kNvmePf, 2));
    testing::clear_write_log();
    auto blocked = apply(conf);
    INFO("apply while held:\n" << blocked.out << blocked.err);
    CHECK(blocked.exit_code == 3);
    CHECK(testing::write_log().empty()); // zero writes
    std::string reason = blocked_reason(conf, kNvmePf, "set-numvfs");
    CHECK_THAT(reason, Catch::Contains("VF " + held + " in use: " + holder));

    testing::simhost_ctl({"release", pid});
    testing::clear_write_log();
    auto released = apply(conf);
    INFO("apply after release:\n" << released.out << released.err);
    CHECK(released.exit_code == 0);
    auto numvfs = testing::writes_to(testing::write_log(), "/sriov_numvfs");
    REQUIRE(numvfs.size() == 2);
    CHECK(testing::trimmed(numvfs[0].at("value")) == "0");
    CHECK(testing::trimmed(numvfs[1].at("value")) == "2");
}

// The same for an mdev: lowering `count` while its only holder keeps a device fd leaves it, writing nothing.
void device_fd_holder_blocks_mdev_removal(bool syspath) {
    ConfigDir conf;
    conf.write("20-mtty.toml", mtty_config(2));
    REQUIRE(apply(conf).exit_code == 0);
    auto mdevs = devices_json().at("mdevs");
    REQUIRE(mdevs.size() == 2);
    // The configuration keeps instance 0 ("mtty/0") and removes instance 1 when count drops to 1.
    const std::string second = "64111159-134c-55b6-b36d-2d6c0214e526";
    std::vector<std::string> args = {second, "--device-only"};
    if (syspath)
        args.push_back("--syspath");
    const std::string pid = hold(args);

    conf.write("20-mtty.toml", mtty_config(1));
    testing::clear_write_log();
    auto blocked = apply(conf);
    INFO("apply while held:\n" << blocked.out << blocked.err);
    CHECK(blocked.exit_code == 3);
    CHECK(testing::write_log().empty());
    CHECK_THAT(blocked_reason(conf, second, "remove-mdev"), Catch::Contains("pid " + pid + " uid 0"));

    testing::simhost_ctl({"release", pid});
    testing::clear_write_log();
    CHECK(apply(conf).exit_code == 0);
    auto removes = testing::writes_to(testing::write_log(), second + "/remove");
    CHECK(removes.size() == 1);
    CHECK(devices_json().at("mdevs").size() == 1);
}

// A process that is not root (nobody) and holds an fd that must not count: `opath` opens the group node
// with O_PATH (no permission needed, no device opened); `devnull` binds /dev/null over the node in its
// own user and mount namespace and opens that. Killed at destruction.
class Prank {
public:
    Prank(const std::string& node, bool devnull) {
        int ready[2];
        REQUIRE(pipe(ready) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            close(ready[0]);
            if (devnull) {
                dup2(ready[1], 1);
                const std::string script = "mount --bind /dev/null " + node + " && exec 3<>" + node +
                                           " && echo ready && exec sleep 600";
                execlp("setpriv", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "unshare",
                       "-Urm", "sh", "-c", script.c_str(), nullptr);
                _exit(127);
            }
            if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                setresuid(65534, 65534, 65534) != 0)
                _exit(126);
            int fd = open(node.c_str(), O_PATH);
            if (fd < 0 || write(ready[1], "ready\n", 6) != 6)
                _exit(125);
            pause();
            _exit(0);
        }
        close(ready[1]);
        char buf[16] = {};
        REQUIRE(read(ready[0], buf, sizeof buf) > 0); // holding it now
        close(ready[0]);
    }
    ~Prank() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

// Writes in the log, as "bus/pci/devices/ADDR/ATTR=VALUE" (or "bus/pci/drivers_probe=ADDR"): the form the
// plan names them in. The log has the canonical /sys/devices/... path.
std::vector<std::string> logged_writes() {
    static const std::regex device_attr(
        R"(^/sys/devices/.*/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])/(.+)$)");
    std::vector<std::string> out;
    for (const auto& w : testing::write_log()) {
        std::string path = w.at("path"), value = testing::trimmed(w.at("value"));
        std::smatch m;
        if (std::regex_match(path, m, device_attr))
            path = "bus/pci/devices/" + m[1].str() + "/" + m[2].str();
        else if (path.rfind("/sys/", 0) == 0)
            path = path.substr(5);
        out.push_back(path + "=" + value);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Every write the plan shows, current actions and those after the VFs appear.
std::vector<std::string> planned_writes(const ConfigDir& conf, std::string& table) {
    auto text = testing::run({testing::hostdevctl(), "plan", "--config-dir", conf.path()});
    table = text.out;
    auto c = testing::run({testing::hostdevctl(), "plan", "--json", "--config-dir", conf.path()});
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4)); // see blocked_reason()
    auto plan = nlohmann::json::parse(c.out);
    std::vector<std::string> out;
    for (const char* part : {"actions", "future"})
        for (const auto& a : plan.at(part))
            for (const auto& w : a.at("writes"))
                out.push_back(w.at("path").get<std::string>() + "=" + w.at("value").get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
}

void plan_shows_every_write(ConfigDir& conf, unsigned count) {
    conf.write("10-vfs.toml", vfio_config(kNvmePf, count));
    std::string table;
    auto planned = planned_writes(conf, table);
    testing::clear_write_log();
    auto applied = apply(conf);
    INFO("plan:\n" << table << "apply:\n" << applied.out);
    REQUIRE(applied.exit_code == 0);
    CHECK(planned == logged_writes());
    CHECK_THAT(table, Catch::Contains("bind vfio-pci (after the VFs appear)"));
}

} // namespace

TEST_CASE("nvme: a guest holding only a VFIO device fd (6.1: unattributed) blocks a VF-count change",
          "[qemu-nvme]") {
    device_fd_holder_blocks_vf_count_change(false);
}
TEST_CASE("nvme: a guest holding only a VFIO device fd (6.18: fdinfo syspath) blocks a VF-count change",
          "[qemu-nvme]") {
    device_fd_holder_blocks_vf_count_change(true);
}
TEST_CASE("nvme: a guest holding only an mdev's device fd (6.1) blocks its removal", "[qemu-nvme]") {
    device_fd_holder_blocks_mdev_removal(false);
}
TEST_CASE("nvme: a guest holding only an mdev's device fd (6.18) blocks its removal", "[qemu-nvme]") {
    device_fd_holder_blocks_mdev_removal(true);
}

TEST_CASE("lab: a guest holding a VFIO device cdev blocks a VF-count change", "[lab]") {
    ConfigDir conf;
    const std::string pf = "0000:af:00.0"; // CX-5, VFs on vfio-pci
    conf.write("10-vfs.toml", vfio_config(pf, 4));
    REQUIRE(apply(conf).exit_code == 0);
    auto devices = devices_json();
    const std::string vf = find(devices.at("devices"), "address", pf).at("sriov").at("vfs")[1];
    const std::string pid = hold({vf, "--cdev", "--uid", "64055"});
    conf.write("10-vfs.toml", vfio_config(pf, 2));
    testing::clear_write_log();
    CHECK(apply(conf).exit_code == 3);
    CHECK(testing::write_log().empty());
    CHECK_THAT(blocked_reason(conf, pf, "set-numvfs"),
               Catch::Contains("VF " + vf + " in use: pid " + pid + " uid 64055 (qemu-system-x86)"));
}

TEST_CASE("nvme: nobody's O_PATH fd on a VFIO node and /dev/null bound over one leave the resize unblocked",
          "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 2));
    REQUIRE(apply(conf).exit_code == 0);
    auto vf = find(devices_json().at("devices"), "address", "0000:01:00.1");
    const std::string node = "/dev/vfio/" + std::to_string(vf.at("iommu_group").get<int>());
    Prank opath(node, false);
    Prank devnull(node, true);
    // Both open files show up in /proc as the group node, as a guest's would.
    for (pid_t p : {opath.pid(), devnull.pid()}) {
        auto links = testing::run({"sh", "-c", "readlink /proc/$1/fd/* /proc/$(pgrep -P $1)/fd/* 2>/dev/null",
                                   "sh", std::to_string(p)});
        CHECK_THAT(links.out, Catch::Contains(node));
    }
    CHECK(find(devices_json().at("devices"), "address", "0000:01:00.1").at("holders").empty());

    // hostdevctl with /dev/vfio hidden, as the unit's PrivateDevices=yes hides it from the daemon: the open
    // files are compared with the device numbers sysfs gives, not with /dev.
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 1));
    testing::clear_write_log();
    auto c = testing::run({"timeout", "30", "unshare", "-m", "sh", "-c",
                           "mount -t tmpfs none /dev/vfio && exec \"$0\" apply --config-dir \"$1\"",
                           testing::hostdevctl(), conf.path()});
    INFO(c.out << c.err);
    CHECK(c.exit_code == 0);
    auto numvfs = testing::writes_to(testing::write_log(), "/sriov_numvfs");
    REQUIRE(numvfs.size() == 2);
    CHECK(testing::trimmed(numvfs[1].at("value")) == "1");
}

// The reason `hostdevctl plan` gives for the blocked VF-count change of `pf`, run as root with exactly
// the capabilities `caps` (setpriv's bounding set: uid 0 gets those and no others, as a unit's
// CapabilityBoundingSet= gives hostdevd).
std::string blocked_with_caps(const ConfigDir& conf, const std::string& pf, const std::string& caps) {
    auto c = testing::run({"timeout", "30", "setpriv", "--bounding-set=-all," + caps, "--",
                           testing::hostdevctl(), "plan", "--json", "--config-dir", conf.path()});
    INFO("plan with " << caps << ": " << c.err);
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4));
    const auto plan = nlohmann::json::parse(c.out);
    for (const auto& a : plan.at("actions"))
        if (a.at("object") == pf && a.at("action") == "set-numvfs" && a.at("verdict") == "blocked")
            return a.at("reason");
    return "not blocked: " + plan.at("actions").dump();
}

TEST_CASE("nvme: another user's guest is named with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and counts as "
          "in use without either",
          "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 2));
    REQUIRE(apply(conf).exit_code == 0);
    // A guest of libvirt's as QEMU keeps it (container, group, device fd): uid 64055, its /proc/PID/fd its
    // own (0500), the VF's enable count 1.
    const std::string pid = hold({"0000:01:00.2", "--device", "--uid", "64055"});
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 1));
    CHECK_THAT(blocked_with_caps(conf, kNvmePf, "+sys_ptrace,+dac_read_search"),
               Catch::Contains("in use: pid " + pid + " uid 64055 (qemu-system-x86)"));
    // Listing another user's fd table takes the DAC capability (reading its links the ptrace one, which
    // simhost's plain links cannot show: tests/vm kernel-proc-access does). With CAP_SYS_PTRACE alone the
    // guest cannot be seen, and unknown counts as in use. Before, CAP_SYS_PTRACE alone passed for "able to
    // read everything", and the unreadable guest was skipped as one a security policy hides.
    CHECK_THAT(blocked_with_caps(conf, kNvmePf, "+sys_ptrace"),
               Catch::Contains("pid " + pid +
                               " uid 64055 (qemu-system-x86) cannot be read (EACCES; unknown "
                               "counts as in use)"));
}

TEST_CASE("nvme: a write stuck in the kernel ends apply with a failure naming the write", "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kNvmePf, 2));
    // 6 s in the kernel, over the 5 s report threshold; then the kernel carries the write out.
    testing::simhost_ctl(
        {"fault", "block", std::string("/sys/bus/pci/devices/") + kNvmePf + "/sriov_numvfs", "6"});
    auto c = apply(conf);
    INFO(c.out << c.err);
    CHECK(c.exit_code == 1);
    const std::string what =
        "write \"2\" to /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs was blocked in the kernel for 6.";
    CHECK_THAT(c.out, Catch::Contains("sriov_numvfs 0 -> 2: stuck (" + what));
    CHECK_THAT(c.out, Catch::Contains("result: failed after"));
    CHECK_THAT(c.out, Catch::Contains(what));
    testing::simhost_ctl({"fault", "clear"});
    auto json = testing::run(
        {"timeout", "30", testing::hostdevctl(), "apply", "--json", "--config-dir", conf.path()});
    CHECK(json.exit_code == 0); // done by now: nothing left, nothing stuck
}

TEST_CASE("nvme: the plan shows every write apply makes for 0 to 3 and 3 to 2 VFs", "[qemu-nvme]") {
    ConfigDir conf;
    plan_shows_every_write(conf, 3); // autoprobe, VF count, and two binding writes per VF not yet there
    plan_shows_every_write(conf, 2); // 3 -> 0 -> 2, and the binds of the re-created VFs
}
