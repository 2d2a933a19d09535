// The executor against a fake writer, the real SysfsWriter against a temporary tree, errno helpers and
// the modprobe loader against a stand-in script.
#include "apply/executor.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

using namespace hostdevd;
namespace fs = std::filesystem;

namespace {

// Records writes; fails the writes whose path is in `failures` with that errno.
class FakeWriter : public Writer {
public:
    std::vector<SysfsWrite> written; // attempted, in order
    std::map<std::string, int> failures;
    std::map<std::string, std::chrono::microseconds> slow; // path -> time the kernel keeps the write
    WriteOutcome write(const SysfsWrite& w) override {
        written.push_back(w);
        auto it = failures.find(w.path);
        auto took = slow.count(w.path) ? slow.at(w.path) : std::chrono::microseconds(3);
        return {it == failures.end() ? 0 : it->second, took};
    }
};

class FakeModules : public ModuleLoader {
public:
    std::vector<std::string> loaded;
    ModuleLoadOutcome next;
    ModuleLoadOutcome load(const std::string& module) override {
        loaded.push_back(module);
        return next;
    }
};

Action bind_action(const std::string& vf) {
    Action a;
    a.kind = ActionKind::Bind;
    a.object = vf;
    a.summary = "bind vfio-pci";
    a.source = "/etc/hostdevd/10-nics.toml:7";
    a.writes = {{"bus/pci/devices/" + vf + "/driver_override", "vfio-pci"}, {"bus/pci/drivers_probe", vf}};
    return a;
}

Action renumber_action(const std::string& pf, std::vector<std::string> vfs) {
    Action a;
    a.kind = ActionKind::SetNumVfs;
    a.wave = Wave::VfCount;
    a.object = pf;
    a.summary = "sriov_numvfs 2 -> 4";
    a.writes = {{"bus/pci/devices/" + pf + "/sriov_numvfs", "0"},
                {"bus/pci/devices/" + pf + "/sriov_numvfs", "4"}};
    a.disruptive = true;
    a.must_be_idle = std::move(vfs);
    return a;
}

InUseCheck idle = [](const std::string&) { return std::vector<std::string>{}; };

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "hostdevd-apply-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()));
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    std::string path;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

TEST_CASE("errno classification and descriptions") {
    for (int e : {EBUSY, EAGAIN, EINTR, ETIMEDOUT})
        CHECK(is_transient(e));
    for (int e : {EINVAL, ERANGE, ENOENT, ENODEV, EEXIST, EUSERS, ENOSPC, EPERM, EOPNOTSUPP, ENOMEM, EIO})
        CHECK_FALSE(is_transient(e));
    CHECK(describe_errno(EBUSY) == "EBUSY (Device or resource busy)");
    CHECK(describe_errno(ERANGE) == "ERANGE (Numerical result out of range)");
    CHECK(describe_errno(99999) == "errno 99999");
}

TEST_CASE("the in-use re-check blocks a disruptive action even though the plan said safe") {
    FakeWriter writer;
    FakeModules modules;
    Action a = renumber_action("0000:3b:00.0", {"0000:3b:02.0", "0000:3b:02.1"});
    std::vector<std::string> asked;
    InUseCheck check = [&asked](const std::string& device) {
        asked.push_back(device);
        return device == "0000:3b:02.1" ? std::vector<std::string>{"pid 4242 uid 0 (qemu-system-x86)"}
                                        : std::vector<std::string>{};
    };
    ExecutionReport report = execute({&a}, writer, modules, check);
    REQUIRE(report.results.size() == 1);
    const ActionResult& r = report.results[0];
    CHECK(r.outcome == ActionOutcome::Blocked);
    CHECK(r.holders == std::vector<std::string>{"0000:3b:02.1: pid 4242 uid 0 (qemu-system-x86)"});
    CHECK(r.message == "in use: 0000:3b:02.1: pid 4242 uid 0 (qemu-system-x86)");
    CHECK(r.object == "0000:3b:00.0");
    CHECK(r.summary == "sriov_numvfs 2 -> 4");
    CHECK(writer.written.empty()); // not even the "0"
    CHECK(asked == std::vector<std::string>{"0000:3b:02.0", "0000:3b:02.1"});
    CHECK_FALSE(report.all_ok());
}

TEST_CASE("an in-use check that throws counts as in use") {
    FakeWriter writer;
    FakeModules modules;
    Action a = renumber_action("0000:3b:00.0", {"0000:3b:02.0"});
    InUseCheck broken = [](const std::string&) -> std::vector<std::string> {
        throw std::runtime_error("EACCES");
    };
    ExecutionReport report = execute({&a}, writer, modules, broken);
    CHECK(report.results[0].outcome == ActionOutcome::Blocked);
    CHECK(writer.written.empty());
}

TEST_CASE("an idle disruptive action performs its writes in order") {
    FakeWriter writer;
    FakeModules modules;
    Action a = renumber_action("0000:3b:00.0", {"0000:3b:02.0"});
    ExecutionReport report = execute({&a}, writer, modules, idle);
    CHECK(report.all_ok());
    CHECK(report.results[0].writes_done == 2);
    CHECK(writer.written == a.writes);
    CHECK(report.results[0].duration == std::chrono::microseconds(6));
}

TEST_CASE("a non-disruptive action does not consult the in-use check") {
    FakeWriter writer;
    FakeModules modules;
    Action a = bind_action("0000:3b:02.0");
    a.must_be_idle = {"0000:3b:02.0"};
    bool asked = false;
    InUseCheck check = [&asked](const std::string&) {
        asked = true;
        return std::vector<std::string>{"pid 1 uid 0 (x)"};
    };
    ExecutionReport report = execute({&a}, writer, modules, check);
    CHECK(report.all_ok());
    CHECK_FALSE(asked);
}

TEST_CASE("a failing write stops its action only") {
    FakeWriter writer;
    FakeModules modules;
    Action first = bind_action("0000:3b:02.0");
    Action second = bind_action("0000:3b:02.1");
    writer.failures["bus/pci/devices/0000:3b:02.0/driver_override"] = EBUSY;
    ExecutionReport report = execute({&first, &second}, writer, modules, idle);

    REQUIRE(report.results.size() == 2);
    const ActionResult& failed = report.results[0];
    CHECK(failed.outcome == ActionOutcome::Failed);
    CHECK(failed.error == EBUSY);
    CHECK(failed.transient);
    REQUIRE(failed.failed_write);
    CHECK(*failed.failed_write == first.writes[0]);
    CHECK(failed.writes_done == 0);
    CHECK(failed.source == "/etc/hostdevd/10-nics.toml:7");
    CHECK(failed.message == "write \"vfio-pci\" to bus/pci/devices/0000:3b:02.0/driver_override failed: "
                            "EBUSY (Device or resource busy)");

    CHECK(report.results[1].outcome == ActionOutcome::Ok);
    // first: only the failing write; second: both.
    CHECK(writer.written == std::vector<SysfsWrite>{first.writes[0], second.writes[0], second.writes[1]});
    CHECK(report.count(ActionOutcome::Failed) == 1);
    CHECK(report.count(ActionOutcome::Ok) == 1);
}

// Counts writes in flight; each write waits (up to a deadline) until `wanted` writes are in flight at
// once, so a sequential executor fails the test instead of hanging it.
class OverlapWriter : public Writer {
public:
    explicit OverlapWriter(unsigned wanted) : wanted_(wanted) {}
    WriteOutcome write(const SysfsWrite& w) override {
        std::unique_lock lock(mutex_);
        written.push_back(w);
        ++in_flight_;
        most = std::max(most, in_flight_);
        if (w.path.find("sriov_numvfs") != std::string::npos)
            numvfs_alongside = numvfs_alongside || in_flight_ > 1;
        else if (most < wanted_)
            changed_.wait_for(lock, std::chrono::seconds(5), [this] { return most >= wanted_; });
        changed_.notify_all();
        --in_flight_;
        return {};
    }
    std::vector<SysfsWrite> written; // in the order they started
    unsigned most = 0;               // the most writes in flight at once
    bool numvfs_alongside = false;   // a VF-count write ran while another write was in flight

private:
    unsigned wanted_;
    unsigned in_flight_ = 0;
    std::mutex mutex_;
    std::condition_variable changed_;
};

TEST_CASE("binds of unbound devices run side by side and everything else alone") {
    FakeModules modules;
    std::vector<Action> actions;
    actions.push_back(renumber_action("0000:3b:00.0", {}));
    actions.back().disruptive = false;
    for (int i = 0; i < 12; ++i)
        actions.push_back(bind_action("0000:3b:02." + std::to_string(i)));
    actions.push_back(renumber_action("0000:5e:00.0", {}));
    actions.back().disruptive = false;
    std::vector<const Action*> wave;
    for (const Action& a : actions)
        wave.push_back(&a);

    OverlapWriter writer(4);
    ExecutionReport report = execute(wave, writer, modules, idle, 4);

    CHECK(writer.most == 4); // binds overlapped, never more than `parallel`
    CHECK_FALSE(writer.numvfs_alongside);
    REQUIRE(report.results.size() == actions.size());
    for (size_t i = 0; i < actions.size(); ++i) {
        CHECK(report.results[i].object == actions[i].object); // results in wave order
        CHECK(report.results[i].outcome == ActionOutcome::Ok);
        CHECK(report.results[i].writes_done == actions[i].writes.size());
    }
    // The first and last actions ran alone, before and after every bind; each bind wrote its
    // driver_override before its drivers_probe.
    REQUIRE(writer.written.size() == 2 + 12 * 2 + 2);
    CHECK(writer.written.front().path == "bus/pci/devices/0000:3b:00.0/sriov_numvfs");
    CHECK(writer.written.back().path == "bus/pci/devices/0000:5e:00.0/sriov_numvfs");
    for (int i = 0; i < 12; ++i) {
        const std::string vf = "0000:3b:02." + std::to_string(i);
        auto at = [&](const SysfsWrite& w) {
            return std::find(writer.written.begin(), writer.written.end(), w) - writer.written.begin();
        };
        CHECK(at({"bus/pci/devices/" + vf + "/driver_override", "vfio-pci"}) <
              at({"bus/pci/drivers_probe", vf}));
    }

    // parallel = 1 (the default): one at a time.
    OverlapWriter one_at_a_time(1);
    execute(wave, one_at_a_time, modules, idle);
    CHECK(one_at_a_time.most == 1);
}

TEST_CASE("a permanent error in a later write names that write") {
    FakeWriter writer;
    FakeModules modules;
    Action a = renumber_action("0000:3b:00.0", {});
    a.writes[1].value = "4\n";
    writer.failures["bus/pci/devices/0000:3b:00.0/sriov_numvfs"] = 0; // first succeeds
    struct SecondFails : Writer {
        int calls = 0;
        WriteOutcome write(const SysfsWrite&) override { return {++calls == 2 ? ERANGE : 0, {}}; }
    } second_fails;
    ExecutionReport report = execute({&a}, second_fails, modules, idle);
    const ActionResult& r = report.results[0];
    CHECK(r.outcome == ActionOutcome::Failed);
    CHECK_FALSE(r.transient);
    CHECK(r.writes_done == 1);
    CHECK(*r.failed_write == a.writes[1]);
    CHECK(r.message == "write \"4\" to bus/pci/devices/0000:3b:00.0/sriov_numvfs failed: "
                       "ERANGE (Numerical result out of range) (after 1 of 2 writes)");
}

TEST_CASE("actions that are not Safe are not attempted") {
    FakeWriter writer;
    FakeModules modules;
    Action a = bind_action("0000:3b:02.0");
    a.verdict = Verdict::Blocked;
    ExecutionReport report = execute({&a}, writer, modules, idle);
    CHECK(report.results[0].outcome == ActionOutcome::Blocked);
    CHECK(report.results[0].message == "not attempted: planner verdict is blocked");
    CHECK(writer.written.empty());
}

TEST_CASE("LoadModule runs the loader and reports its failure") {
    FakeWriter writer;
    FakeModules modules;
    Action a;
    a.kind = ActionKind::LoadModule;
    a.object = "0000:3b:02.0";
    a.module = "mlx5_vfio_pci";
    a.summary = "load module mlx5_vfio_pci";

    SECTION("success") {
        ExecutionReport report = execute({&a}, writer, modules, idle);
        CHECK(report.all_ok());
        CHECK(modules.loaded == std::vector<std::string>{"mlx5_vfio_pci"});
    }
    SECTION("failure") {
        modules.next = {0, 1, "modprobe: FATAL: Module mlx5_vfio_pci not found."};
        ExecutionReport report = execute({&a}, writer, modules, idle);
        CHECK(report.results[0].outcome == ActionOutcome::Failed);
        CHECK(
            report.results[0].message ==
            "modprobe mlx5_vfio_pci failed: exit status 1: modprobe: FATAL: Module mlx5_vfio_pci not found.");
    }
    CHECK(writer.written.empty());
}

TEST_CASE("SysfsWriter writes whole values under the layout's sys/ and returns errno") {
    TempDir tmp;
    fs::create_directories(fs::path(tmp.path) / "sys/bus/pci/devices/0000:3b:00.0");
    const fs::path numvfs = fs::path(tmp.path) / "sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs";
    std::ofstream(numvfs) << "";
    SysfsLayout layout(tmp.path, "test");
    SysfsWriter writer(layout);

    WriteOutcome ok = writer.write({"bus/pci/devices/0000:3b:00.0/sriov_numvfs", "8"});
    CHECK(ok.error == 0);
    CHECK(slurp(numvfs) == "8");

    // sysfs files cannot be created by writing: no O_CREAT.
    CHECK(writer.write({"bus/pci/devices/0000:3b:00.0/nonexistent", "1"}).error == ENOENT);
    CHECK_FALSE(fs::exists(fs::path(tmp.path) / "sys/bus/pci/devices/0000:3b:00.0/nonexistent"));
    // Paths that leave the sysfs root are refused before anything is opened.
    std::ofstream(fs::path(tmp.path) / "victim") << "intact";
    CHECK(writer.write({"../victim", "x"}).error == EINVAL);
    CHECK(writer.write({"bus/../../victim", "x"}).error == EINVAL);
    CHECK(writer.write({"/victim", "x"}).error == EINVAL);
    CHECK(slurp(fs::path(tmp.path) / "victim") == "intact");
}

TEST_CASE("ModprobeLoader runs the binary without a shell and reports its status and stderr") {
    TempDir tmp;
    const fs::path script = fs::path(tmp.path) / "fake-modprobe";
    const fs::path args = fs::path(tmp.path) / "args";
    {
        std::ofstream out(script);
        out << "#!/bin/sh\n"
            << "printf '%s|' \"$@\" > '" << args.string() << "'\n"
            << "if [ \"$2\" = missing ]; then echo \"modprobe: FATAL: Module $2 not found.\" >&2; exit 1; "
               "fi\n";
    }
    fs::permissions(script, fs::perms::owner_all);
    ModprobeLoader loader(script.string());

    ModuleLoadOutcome ok = loader.load("vfio_pci");
    CHECK(ok.ok());
    CHECK(slurp(args) == "--|vfio_pci|");

    ModuleLoadOutcome missing = loader.load("missing");
    CHECK_FALSE(missing.ok());
    CHECK(missing.exit_status == 1);
    CHECK(missing.message == "modprobe: FATAL: Module missing not found.");

    // A name the shell would expand is passed through as one literal argument.
    CHECK(loader.load("x;$(touch pwned)").ok());
    CHECK(slurp(args) == "--|x;$(touch pwned)|");
    CHECK_FALSE(fs::exists("pwned"));

    CHECK(loader.load("-r").error == EINVAL);
    CHECK(ModprobeLoader((fs::path(tmp.path) / "absent").string()).load("vfio_pci").exit_status == 127);
}

TEST_CASE("a write in the kernel beyond the threshold makes the action stuck, never ok") {
    FakeWriter writer;
    FakeModules modules;
    Action renumber = renumber_action("0000:3b:00.0", {"0000:3b:02.0"});
    writer.slow["bus/pci/devices/0000:3b:00.0/sriov_numvfs"] = std::chrono::seconds(20);
    ExecutionReport report = execute({&renumber}, writer, modules, idle, 1, std::chrono::seconds(5));
    REQUIRE(report.results.size() == 1);
    const ActionResult& r = report.results[0];
    CHECK(r.outcome == ActionOutcome::Stuck);
    CHECK_FALSE(report.all_ok());
    CHECK(r.writes_done == 2);
    REQUIRE(r.stuck);
    CHECK(r.stuck->write.value == "0");
    CHECK(r.message.rfind(
              "write \"0\" to /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs was blocked in the kernel "
              "for 20.0 s before it succeeded: the kernel waited for a process to let go of a device",
              0) == 0);

    // A non-disruptive write says only what happened; one that then failed is Failed with both.
    Action bind = bind_action("0000:3b:02.1");
    writer.slow["bus/pci/devices/0000:3b:02.1/driver_override"] = std::chrono::milliseconds(6500);
    writer.failures["bus/pci/drivers_probe"] = ENODEV;
    report = execute({&bind}, writer, modules, idle, 1, std::chrono::seconds(5));
    CHECK(report.results[0].outcome == ActionOutcome::Failed);
    CHECK_THAT(
        report.results[0].message,
        Catch::Contains("failed: ENODEV") &&
            Catch::EndsWith("; write \"vfio-pci\" to /sys/bus/pci/devices/0000:3b:02.1/driver_override was "
                            "blocked in the kernel for 6.5 s"));
    // Under the threshold: an ordinary success.
    writer.failures.clear();
    writer.slow["bus/pci/devices/0000:3b:02.1/driver_override"] = std::chrono::milliseconds(4900);
    report = execute({&bind}, writer, modules, idle, 1, std::chrono::seconds(5));
    CHECK(report.results[0].outcome == ActionOutcome::Ok);
    CHECK_FALSE(report.results[0].stuck);
}
