// hostdevctl's behaviour for people and scripts (issue 18) on simulated hosts: exit statuses of plan and
// status, status on a 512-VF host (summary, roll-up, each reason once, filters), progress of long
// applies on a terminal (local and through the daemon), apply through the daemon saying what is left.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;
using testing::ConfigDir;
using testing::run;

namespace {

std::string manager_state(testing::BusClient& client) {
    return client.get_string("/io/hostdevd1", "io.hostdevd1.Manager", "State");
}

bool wait_state(testing::BusClient& client, const std::string& state,
                std::chrono::milliseconds timeout = 20s) {
    return testing::wait_until([&] { return manager_state(client) == state; }, timeout);
}

// hostdevctl with the private bus of `bus` as its system bus.
testing::Completed ctl(const testing::PrivateBus& bus, std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "DBUS_SYSTEM_BUS_ADDRESS=" + bus.address(),
                                     testing::hostdevctl()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

// The simulated host's /dev has no usable pseudo-terminals (its /dev/ptmx belongs to another devpts
// instance): mount a private one, in the simulated host's own mount namespace, once per test process.
void ensure_ptys() {
    static bool done = false;
    if (done)
        return;
    auto m = run({"sh", "-c",
                  "mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts && "
                  "mount --bind /dev/pts/ptmx /dev/ptmx"});
    INFO(m.err);
    REQUIRE(m.exit_code == 0);
    done = true;
}

// The command run with a pseudo-terminal as its standard output (util-linux script(1)): what a person
// at a terminal sees, progress line included.
testing::Completed on_terminal(const std::vector<std::string>& env, const std::vector<std::string>& args) {
    ensure_ptys();
    std::string command;
    for (const auto& e : env)
        command += e + " ";
    command += "'" + testing::hostdevctl() + "'";
    for (const auto& a : args)
        command += " '" + a + "'";
    return run({"script", "--quiet", "--return", "--command", command, "/dev/null"});
}

size_t line_count(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

std::string virtfn(const std::string& pf, unsigned index) {
    auto c = run({"readlink", "/sys/bus/pci/devices/" + pf + "/virtfn" + std::to_string(index)});
    REQUIRE(c.exit_code == 0);
    std::string target = testing::trimmed(c.out);
    return target.substr(target.rfind('/') + 1);
}

std::string vfio_config(const std::string& pf, unsigned count) {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" + std::to_string(count - 1) +
           "\"\ndriver = \"vfio-pci\"\npool = \"gold\"\n";
}

constexpr const char* kPf = "0000:3b:00.0"; // lab host: ens1f0, an X710 with SR-IOV

} // namespace

TEST_CASE("cli: plan exits 4 while apply would change something and 0 when converged and 3 when blocked",
          "[lab]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kPf, 4));
    auto plan = [&] { return run({testing::hostdevctl(), "plan", "--local", "--config-dir", conf.path()}); };
    auto fresh = plan();
    INFO(fresh.out << fresh.err);
    CHECK(fresh.exit_code == 4);
    auto applied = run({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()});
    INFO(applied.out << applied.err);
    REQUIRE(applied.exit_code == 0);
    auto converged = plan();
    INFO(converged.out);
    CHECK(converged.exit_code == 0);
    CHECK_THAT(converged.out, Catch::Contains("nothing to do"));

    // A guest holds VF 0; fewer VFs can only be had through 0: blocked, nothing else to do.
    auto holder = testing::simhost_ctl({"hold", virtfn(kPf, 0)});
    conf.write("10-vfs.toml", vfio_config(kPf, 2));
    auto blocked = plan();
    INFO(blocked.out << blocked.err);
    CHECK(blocked.exit_code == 3);
    CHECK_THAT(blocked.out, Catch::Contains("blocked"));
    auto json = run({testing::hostdevctl(), "plan", "--local", "--json", "--config-dir", conf.path()});
    CHECK(json.exit_code == 3); // the same status with --json
}

TEST_CASE("cli: status through the daemon: summary line and filters and exit status for blocked and invalid",
          "[lab]") {
    ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/lab");
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(wait_state(client, "converged"));

    auto status = ctl(bus, {"status"});
    INFO(status.out << status.err);
    CHECK(status.exit_code == 0);
    CHECK_THAT(status.out, Catch::Contains("devices (") && Catch::Contains("converged"));
    // --pf: the PF and its VFs only.
    auto one_pf = ctl(bus, {"status", "--pf", "3b:00.0", "--all"});
    INFO(one_pf.out << one_pf.err);
    CHECK(one_pf.exit_code == 0);
    CHECK_THAT(one_pf.out, Catch::Contains("9 devices (1 PF with 8 VFs, 0 other)"));
    CHECK(one_pf.out.find("0000:3b:00.1") == std::string::npos);
    auto not_a_pf = ctl(bus, {"status", "--pf", virtfn(kPf, 0)});
    CHECK(not_a_pf.exit_code == 1);
    CHECK_THAT(not_a_pf.err, Catch::Contains("hostdevd reports no PF"));
    auto gold = ctl(bus, {"status", "--pool", "gold", "--all"});
    CHECK_THAT(gold.out, Catch::Contains("6 devices (0 PFs with 6 VFs, 0 other): 6 converged"));

    // ens1f0 from 8 to 6 VFs while a guest holds VF 5: blocked, exit 3, the holder in the reason.
    auto holder = testing::simhost_ctl({"hold", virtfn(kPf, 5), "--comm", "qemu-system-x86"});
    std::string nics = testing::read_file(conf.path() + "/10-nics.toml");
    auto replace = [&nics](const std::string& from, const std::string& to) {
        auto at = nics.find(from);
        REQUIRE(at != std::string::npos);
        nics.replace(at, from.size(), to);
    };
    replace("vfs = 8", "vfs = 6");
    replace("index = \"0-5\"", "index = \"0-3\"");
    replace("index = \"6-7\"", "index = \"4-5\"");
    conf.write("10-nics.toml", nics);
    REQUIRE(wait_state(client, "blocked"));
    auto blocked = ctl(bus, {"status"});
    INFO(blocked.out);
    CHECK(blocked.exit_code == 3);
    CHECK_THAT(blocked.out, Catch::Contains("blocked"));
    CHECK_THAT(blocked.out, Catch::Contains("qemu-system-x86"));
    CHECK(ctl(bus, {"status", "--pf", "0000:3b:00.1"}).exit_code == 0); // the other port is fine
    CHECK(ctl(bus, {"status", "--state", "blocked", "--all"}).exit_code == 3);
    CHECK(ctl(bus, {"status", "--json"}).exit_code == 3);

    // An invalid configuration: exit 1 and the error, whatever the devices say.
    conf.write("30-bad.toml",
               "version = 1\n[[pf]]\nmatch = { adress = \"0000:3b:00.0\" }\ndestroy = \"when-idle\"\n");
    REQUIRE(wait_state(client, "invalid-config"));
    auto invalid = ctl(bus, {"status"});
    INFO(invalid.out);
    CHECK(invalid.exit_code == 1);
    CHECK_THAT(invalid.out, Catch::Contains("configuration error (previous one still in force)") &&
                                Catch::Contains("30-bad.toml:3:"));
}

TEST_CASE("cli: a long local apply says what it waits for on a terminal and nothing more in a pipe",
          "[lab]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kPf, 4));
    const std::string numvfs = std::string("/sys/bus/pci/devices/") + kPf + "/sriov_numvfs";
    // The VF count write sits in the kernel for 4 s; the progress line appears after one.
    testing::simhost_ctl({"fault", "block", numvfs, "4"});
    auto terminal = on_terminal({}, {"apply", "--local", "--config-dir", conf.path()});
    INFO(terminal.out << terminal.err);
    CHECK(terminal.exit_code == 0);
    CHECK_THAT(terminal.out, Catch::Contains("applying: 1 write done; waiting ") &&
                                 Catch::Contains(" s for 0000:3b:00.0/sriov_numvfs = \"4\""));
    CHECK_THAT(terminal.out, Catch::Contains("result: converged"));

    testing::simhost_ctl({"reset"});
    testing::simhost_ctl({"fault", "block", numvfs, "4"});
    auto piped = run({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()});
    INFO(piped.out << piped.err);
    CHECK(piped.exit_code == 0);
    CHECK(piped.out.find("waiting") == std::string::npos);
    CHECK(piped.out.find('\r') == std::string::npos);
    CHECK_THAT(piped.out, Catch::Contains("result: converged"));
}

TEST_CASE("cli: apply through the daemon follows it and shows progress and the result", "[lab]") {
    ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/lab");
    testing::PrivateBus bus;
    // The daemon's first bind of ens1f0's VF 0 (0000:3b:02.0, once the VFs exist) sits in the kernel for
    // 4 s: the daemon is still starting when apply asks it to reconcile (the case that used to be 60 s of
    // silence and "state starting"). 4 s stays below the 5 s after which a write counts as stuck, which
    // is never a success (issue 13).
    testing::simhost_ctl({"fault", "block", "/sys/bus/pci/devices/0000:3b:02.0/driver_override", "4"});
    testing::Daemon daemon(bus, conf.path());
    auto apply =
        on_terminal({"DBUS_SYSTEM_BUS_ADDRESS=" + bus.address()}, {"apply", "--config-dir", conf.path()});
    INFO(apply.out << apply.err << "\nhostdevd log:\n" << daemon.log());
    CHECK(apply.exit_code == 0);
    CHECK_THAT(apply.out, Catch::Contains("waiting for hostdevd ("));
    CHECK_THAT(apply.out, Catch::Contains("hostdevd reloaded and reconciled: state converged"));
}

TEST_CASE("cli: apply through the daemon exits 3 and says what is blocked and why", "[lab]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfio_config(kPf, 4));
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    REQUIRE(wait_state(client, "converged"));
    auto holder = testing::simhost_ctl({"hold", virtfn(kPf, 1), "--comm", "qemu-guest-7"});
    // Written while the daemon watches: it may see the change before apply asks; either way apply
    // reports the blocked state it settles in.
    conf.write("10-vfs.toml", vfio_config(kPf, 2));
    auto apply = ctl(bus, {"apply"});
    INFO(apply.out << apply.err << "\nhostdevd log:\n" << daemon.log());
    CHECK(apply.exit_code == 3);
    CHECK_THAT(apply.out, Catch::Contains("state blocked"));
    CHECK_THAT(apply.out, Catch::Contains("blocked: " + std::string(kPf)) && Catch::Contains("qemu-guest-7"));
}

TEST_CASE("cli: status of 512 VFs fits 30 lines with each reason once and the full table on request",
          "[host-8x64]") {
    // bench/gen_host.py --pfs 8 --vfs 64: 8 E810-like PFs with 64 VFs each, all on vfio-pci.
    const std::string generated = HOSTDEVD_TEST_HOST_8X64_CONFIG;
    ConfigDir conf;
    conf.write("10-bench.toml", testing::read_file(generated));
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(wait_state(client, "converged", 60s));

    auto status = ctl(bus, {"status"});
    INFO(status.out);
    CHECK(status.exit_code == 0);
    CHECK(line_count(status.out) <= 30);
    CHECK_THAT(status.out, Catch::Contains("520 devices (8 PFs with 512 VFs, 0 other): 520 converged"));
    CHECK_THAT(status.out, Catch::Contains("vfio-pci 64")); // the roll-up: one row per PF
    auto all = ctl(bus, {"status", "--all"});
    CHECK(line_count(all.out) >= 520);

    // Every VF of the first PF asked for a driver this kernel does not have (not registered, not in
    // modules.dep): the 64 VFs are blocked with one and the same reason, which is said once.
    std::string text = testing::read_file(generated);
    auto at = text.find("driver = \"vfio-pci\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, std::string("driver = \"vfio-pci\"").size(), "driver = \"nosuch_vfio\"");
    conf.write("10-bench.toml", text);
    REQUIRE(testing::wait_until([&] { return manager_state(client) == "blocked"; }, 30s));
    const std::string why = "no driver or module named \"nosuch_vfio\" on this kernel";
    for (const char* flag : {"--summary", ""}) {
        auto summary = std::string(flag).empty() ? ctl(bus, {"status"}) : ctl(bus, {"status", flag});
        INFO(summary.out);
        CHECK(summary.exit_code == 3); // blocked
        CHECK(line_count(summary.out) <= 30);
        CHECK_THAT(summary.out,
                   Catch::Contains("520 devices (8 PFs with 512 VFs, 0 other): 64 blocked, 456 converged"));
        CHECK_THAT(summary.out, Catch::Contains("64 blocked, 1 converged")); // PF 0000:20:00.0's row
        CHECK_THAT(summary.out,
                   Catch::Contains("blocked: 64 VFs of 0000:20:00.0 (0000:20:01.0 … 0000:20:08.7)"));
        CHECK(occurrences(summary.out, why) == 1);
    }
    auto full = ctl(bus, {"status", "--all", "--pf", "0000:20:00.0"});
    INFO(full.out);
    CHECK(line_count(full.out) >= 65);
    CHECK(occurrences(full.out, why) == 1); // a note, "[n]" in the 64 rows
}
