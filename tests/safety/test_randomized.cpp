// The randomized safety proof: random configurations of an example host, random holders, random faults,
// random configuration edits and SIGKILLed applies, with hostdevctl (the same reconciler the daemon
// runs). After each scenario the simulated kernel's write log must hold no write the oracle flags
// (simhost/model/kernel_oracle.cpp: disruptive AND the device was in use when it was issued), and once
// the faults are gone the system must settle: the planner has no safe action left.
//
// Environment: HOSTDEVD_SAFETY_SEED (default 1), HOSTDEVD_SAFETY_SCENARIOS (per host, default 6: the CI
// short mode), HOSTDEVD_SAFETY_FIRST (first scenario index, to replay one). Every failure names the
// three values that replay it.
#include "child.hpp"
#include "scenario.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <grp.h>
#include <iostream>
#include <poll.h>
#include <signal.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

unsigned long env_number(const char* name, unsigned long fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::stoul(v) : fallback;
}

// `simhost ctl ...` that may legitimately fail (a hold on a device that has no VFIO group now).
bool try_ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {testing::simhost(), "ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::run(argv).exit_code == 0;
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

// Fake holders an unprivileged user can make (random_holders' "fake-opath", "fake-devnull"): nobody keeps
// an O_PATH fd on the device's group node, or opens /dev/null bound over it in its own user and mount
// namespace. Neither may count as a holder. Killed with the scenario.
class Fakes {
public:
    ~Fakes() {
        for (pid_t pid : pids_) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    // false when the device has no group node now (the fake is refused, as a hold would be).
    bool start(const std::vector<std::string>& fake) {
        std::error_code ec;
        std::filesystem::path group;
        for (const char* bus : {"/sys/bus/pci/devices/", "/sys/bus/mdev/devices/"})
            if (auto link = std::filesystem::read_symlink(bus + fake[1] + "/iommu_group", ec); !ec)
                group = link.filename();
        const std::string node = "/dev/vfio/" + group.string();
        if (group.empty() || !std::filesystem::exists(node, ec))
            return false;
        int ready[2];
        if (pipe(ready) != 0)
            return false;
        const pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            if (fake[0] == "fake-devnull") {
                dup2(ready[1], 1);
                const std::string script = "mount --bind /dev/null " + node + " && exec 3<>" + node +
                                           " && echo ready && exec sleep 600";
                execlp("setpriv", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "unshare",
                       "-Urm", "sh", "-c", script.c_str(), nullptr);
                _exit(127);
            }
            if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                setresuid(65534, 65534, 65534) != 0 || open(node.c_str(), O_PATH) < 0 ||
                write(ready[1], "ready\n", 6) != 6)
                _exit(126);
            pause();
            _exit(0);
        }
        close(ready[1]);
        pollfd p{ready[0], POLLIN, 0};
        char buf[8];
        const bool ok = pid > 0 && poll(&p, 1, 10000) == 1 && read(ready[0], buf, sizeof buf) > 0;
        close(ready[0]);
        if (pid > 0)
            pids_.push_back(pid);
        return ok;
    }
    const std::vector<pid_t>& pids() const { return pids_; }

private:
    std::vector<pid_t> pids_;
};

// A holder from random_holders: a simhost hold, a netdev change, or a fake.
bool start_holder(const std::vector<std::string>& h, Fakes& fakes) {
    return h[0].rfind("fake-", 0) == 0 ? fakes.start(h) : try_ctl(h);
}

safety::ChildResult run_apply(const testing::ConfigDir& conf, std::chrono::microseconds kill_after = 0us) {
    // 30 s: far above a normal apply (< 1 s); an apply still running then is stuck on a held device.
    return safety::run_child({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()}, 30s,
                             kill_after);
}

// Safe actions the planner still has for this configuration ("" = settled), as "object summary" lines.
std::string pending_safe_actions(const testing::ConfigDir& conf) {
    auto c = testing::run({testing::hostdevctl(), "plan", "--json", "--local", "--config-dir", conf.path()});
    if (c.exit_code != 0 && c.exit_code != 3 && c.exit_code != 4)
        return "plan failed (" + std::to_string(c.exit_code) + "): " + c.err;
    std::string out;
    const auto plan = nlohmann::json::parse(c.out); // the loop must not range over a dead temporary
    for (const auto& a : plan.at("actions"))
        if (a.at("verdict") == "safe")
            out += a.at("object").get<std::string>() + " " + a.at("summary").get<std::string>() + "\n";
    return out;
}

struct ScenarioReport {
    std::ostringstream story; // what happened, for the failure message
    std::vector<std::string> violations;
};

void run_scenario(const simhost::HostSpec& host, safety::Rng& rng, ScenarioReport& report) {
    auto& story = report.story;
    testing::simhost_ctl({"reset"});
    testing::simhost_ctl({"log", "clear"});
    testing::ConfigDir conf;
    Fakes fakes;

    // 1. A first configuration, applied on a quiet host.
    std::string config = safety::random_config(host, rng);
    conf.write("10-random.toml", config);
    story << "config A:\n" << config;
    auto r = run_apply(conf);
    story << "apply A: exit " << r.exit_code << "\n";
    if (r.timed_out)
        report.violations.push_back("apply A hung:\n" + r.output);

    // 2. Guests and host networking start using some devices.
    for (const auto& h : safety::random_holders(rng))
        story << "ctl " << joined(h) << (start_holder(h, fakes) ? "" : " (refused)") << "\n";

    // 3. The configuration changes under faults; the apply may be killed at a random point.
    config = safety::random_config(host, rng);
    conf.write("10-random.toml", config);
    story << "config B:\n" << config;
    for (const auto& f : safety::random_faults(host, rng))
        story << "ctl " << joined(f) << (try_ctl(f) ? "" : " (refused)") << "\n";
    const bool crash = std::bernoulli_distribution(0.4)(rng);
    const auto kill_after =
        crash ? std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)) : 0us;
    r = run_apply(conf, kill_after);
    story << "apply B" << (crash ? " (SIGKILL after " + std::to_string(kill_after.count()) + "us)" : "")
          << ": exit " << r.exit_code << "\n";
    if (r.timed_out)
        report.violations.push_back("apply B hung:\n" + r.output);

    // 4. Holders change, maybe the configuration again; faults end; the system must settle.
    for (const auto& h : safety::random_holders(rng))
        story << "ctl " << joined(h) << (start_holder(h, fakes) ? "" : " (refused)") << "\n";
    if (std::bernoulli_distribution(0.5)(rng)) {
        config = safety::random_config(host, rng);
        conf.write("10-random.toml", config);
        story << "config C:\n" << config;
    }
    testing::simhost_ctl({"fault", "clear"});
    std::string pending;
    const bool settled = testing::wait_until(
        [&] {
            auto last = run_apply(conf);
            story << "apply: exit " << last.exit_code << "\n";
            if (last.exit_code == 1) // a write failed although no fault is left: worth reading
                story << last.output;
            if (last.timed_out) {
                report.violations.push_back("final apply hung:\n" + last.output);
                return true;
            }
            pending = pending_safe_actions(conf);
            return pending.empty();
        },
        10s);
    if (!settled)
        report.violations.push_back("did not settle; safe actions left:\n" + pending);

    // 5. No fake holder counted: nothing names their processes.
    if (!fakes.pids().empty()) {
        auto devices = testing::run({testing::hostdevctl(), "devices", "--json"});
        for (pid_t pid : fakes.pids())
            if (devices.out.find("pid " + std::to_string(pid) + " ") != std::string::npos)
                report.violations.push_back("a fake holder (pid " + std::to_string(pid) + ") counts:\n" +
                                            devices.out);
    }

    // 6. The oracle over everything the kernel saw.
    for (const auto& w : testing::write_log())
        if (w.value("disrupted_in_use", false))
            report.violations.push_back(
                "disruptive write on a device in use: " + w.at("path").get<std::string>() + " = " +
                w.at("value").get<std::string>() + " (" + w.at("in_use_reason").get<std::string>() + ")");
}

void run_scenarios(const std::string& tag) {
    const auto host = simhost::load_host_spec(testing::source_dir() + "/examples/hosts/" + tag + ".toml");
    const unsigned long seed = env_number("HOSTDEVD_SAFETY_SEED", 1);
    const unsigned long count = env_number("HOSTDEVD_SAFETY_SCENARIOS", 6);
    const unsigned long first = env_number("HOSTDEVD_SAFETY_FIRST", 0);
    unsigned long failed = 0;
    for (unsigned long i = first; i < first + count; ++i) {
        // One generator per scenario, derived from (seed, host, index): any scenario replays alone.
        std::seed_seq seq{seed, std::hash<std::string>{}(tag), i};
        safety::Rng rng(seq);
        ScenarioReport report;
        run_scenario(host, rng, report);
        if (env_number("HOSTDEVD_SAFETY_VERBOSE", 0))
            std::cout << "---- scenario " << i << " on " << tag << "\n" << report.story.str();
        if (!report.violations.empty()) {
            ++failed;
            std::string all;
            for (const auto& v : report.violations)
                all += "  - " + v + "\n";
            FAIL_CHECK("scenario " << i << " on " << tag << " broke the safety promise; replay with "
                                   << "HOSTDEVD_SAFETY_SEED=" << seed << " HOSTDEVD_SAFETY_FIRST=" << i
                                   << " HOSTDEVD_SAFETY_SCENARIOS=1\n"
                                   << all << "story:\n"
                                   << report.story.str());
        }
    }
    std::cout << "safety: " << count << " scenarios on " << tag << ", seed " << seed << ", first " << first
              << ": " << failed << " failed" << std::endl;
    CHECK(failed == 0);
}

} // namespace

TEST_CASE("randomized scenarios on intel-x710", "[intel-x710]") {
    run_scenarios("intel-x710");
}
TEST_CASE("randomized scenarios on intel-e810", "[intel-e810]") {
    run_scenarios("intel-e810");
}
TEST_CASE("randomized scenarios on mellanox-cx5", "[mellanox-cx5]") {
    run_scenarios("mellanox-cx5");
}
TEST_CASE("randomized scenarios on nvidia-a16", "[nvidia-a16]") {
    run_scenarios("nvidia-a16");
}
TEST_CASE("randomized scenarios on nvidia-l4", "[nvidia-l4]") {
    run_scenarios("nvidia-l4");
}
TEST_CASE("randomized scenarios on qemu-nvme", "[qemu-nvme]") {
    run_scenarios("qemu-nvme");
}
TEST_CASE("randomized scenarios on lab", "[lab]") {
    run_scenarios("lab");
}
