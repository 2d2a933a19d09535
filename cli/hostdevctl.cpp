// hostdevctl: inspect and apply hostdevd's configuration from the command line.
//
//   hostdevctl validate [--config-dir DIR]          check the configuration, print FILE:LINE:COL errors
//   hostdevctl plan     [--config-dir DIR] [--json] what a reconcile would do, with verdicts and reasons
//   hostdevctl apply    [--config-dir DIR] [--json] one-shot reconcile of the safe actions
//   hostdevctl devices  [--json]                    inventory: PFs, VFs, drivers, groups, holders
//   hostdevctl status   [--json]                    what the running daemon reports (D-Bus)
//   hostdevctl import-mdevctl [DIR]                 /etc/mdevctl.d definitions as hostdevd TOML
//
// When hostdevd runs (io.hostdevd1 is on the system bus), `plan` shows the daemon's plan and `apply`
// asks the daemon to reload and reconcile instead of writing behind its back; `--local` forces the
// one-shot behaviour.
//
// Exit status: 0 success/converged, 1 failure (invalid configuration, a write failed), 2 usage error,
// 3 apply finished with blocked/waiting/invalid actions left (nothing failed, something was not done).
#include "apply/module_loader.hpp"
#include "apply/writer.hpp"
#include "config/loader.hpp"
#include "daemon_client.hpp"
#include "gate/history_store.hpp"
#include "import_mdevctl.hpp"
#include "observe/observe.hpp"
#include "plan/host_checks.hpp"
#include "plan/planner.hpp"
#include "reconcile/one_shot.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

#include <cstdio>
#include <getopt.h>
#include <iostream>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace hostdevd;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotConverged = 3;

const char* const kUsage = R"(usage: hostdevctl COMMAND [OPTIONS]

commands:
  validate   check the configuration directory; print every error as FILE:LINE:COL: message
  plan       show what a reconcile would do now, each action with its verdict and reason
  apply      reconcile once: apply every safe action, wave by wave, until nothing safe remains
  devices    list PCI devices, SR-IOV PFs with their VFs, drivers, IOMMU groups and holders
  status     what the running hostdevd reports over D-Bus (manager state, devices, mdevs)
  import-mdevctl [DIR]
             print mdevctl's definitions (default /etc/mdevctl.d) as a hostdevd configuration

options:
  --config-dir DIR   configuration directory (default /etc/hostdevd)
  --json             machine-readable output (plan, apply, devices, status)
  --local            plan/apply here even when the daemon runs (normally they go through it)
  -h, --help         this text

exit status: 0 ok/converged, 1 failed (invalid configuration or a write failed), 2 usage error,
             3 apply left blocked/waiting/invalid actions (nothing failed)
)";

struct Options {
    std::string command;
    std::string argument; // import-mdevctl DIR
    std::string config_dir = "/etc/hostdevd";
    bool json = false;
    bool local = false;
};

int usage_error(const std::string& message) {
    std::cerr << "hostdevctl: " << message << "\n(see hostdevctl --help)\n";
    return kExitUsage;
}

// Parses argv; returns an exit code when the program should stop now. getopt_long permutes argv, so
// options may stand before or after the command.
std::optional<int> parse_args(int argc, char** argv, Options& opts) {
    enum { kConfigDir = 1000, kJson, kLocal };
    static const option long_options[] = {
        {"config-dir", required_argument, nullptr, kConfigDir},
        {"json", no_argument, nullptr, kJson},
        {"local", no_argument, nullptr, kLocal},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", long_options, nullptr)) != -1) {
        switch (c) {
        case kConfigDir:
            if (*optarg == '\0')
                return usage_error("--config-dir needs a directory");
            opts.config_dir = optarg;
            break;
        case kJson:
            opts.json = true;
            break;
        case kLocal:
            opts.local = true;
            break;
        case 'h':
            std::cout << kUsage;
            return kExitOk;
        case ':':
            return usage_error(std::string("option ") + argv[optind - 1] + " needs a value");
        default:
            return usage_error(std::string("unknown option ") + argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("a command is required (validate, plan, apply, devices, status, import-mdevctl)");
    opts.command = argv[optind++];
    if (opts.command == "import-mdevctl" && optind < argc)
        opts.argument = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument '" + std::string(argv[optind]) + "'");
    if (opts.json && (opts.command == "validate" || opts.command == "import-mdevctl"))
        return usage_error(opts.command + " has no --json output");
    return std::nullopt;
}

// Loads the configuration or prints its errors. nullopt = invalid.
std::optional<DesiredState> load_or_report(const Options& opts) {
    LoadResult loaded = load_config_dir(opts.config_dir);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors)
            std::cerr << e.str() << '\n';
        std::cerr << "hostdevctl: configuration in " << opts.config_dir << " is invalid ("
                  << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors") << ")\n";
        return std::nullopt;
    }
    return std::move(loaded.state);
}

int cmd_validate(const Options& opts) {
    auto desired = load_or_report(opts);
    if (!desired)
        return kExitFailed;
    // The files are valid; now what they name must exist on this host (drivers, vGPU profiles).
    SysfsLayout layout;
    const auto problems = check_against_host(*desired, observe_host(layout));
    for (const auto& p : problems)
        std::cerr << p.str() << '\n';
    if (!problems.empty()) {
        std::cerr << "hostdevctl: configuration in " << opts.config_dir << " does not fit this host ("
                  << problems.size() << (problems.size() == 1 ? " problem" : " problems") << ")\n";
        return kExitFailed;
    }
    std::cout << opts.config_dir << ": valid (" << desired->files.size() << " files, " << desired->pfs.size()
              << " pf, " << desired->devices.size() << " device, " << desired->mdevs.size()
              << " mdev entries)\n";
    return kExitOk;
}

int cmd_plan(const Options& opts) {
    if (auto daemon = opts.local ? nullptr : DaemonClient::connect_if_running()) {
        if (opts.json) {
            std::cout << daemon->describe().at("plan").dump(2) << '\n';
            return kExitOk;
        }
        Table t({"OBJECT", "ACTION", "VERDICT", "REASON"});
        for (const auto& [object, action, verdict, reason, detail] : daemon->plan())
            t.add({object, action, verdict, reason});
        std::cout << "(the plan of the running hostdevd; --local to plan here)\n";
        if (t.empty())
            std::cout << "nothing to do: the host matches the configuration\n";
        else
            t.render(std::cout);
        return kExitOk;
    }
    auto desired = load_or_report(opts);
    if (!desired)
        return kExitFailed;
    SysfsLayout layout;
    ObservedState observed = observe_host(layout);
    Plan plan = make_plan(*desired, observed);
    // What an apply would do now: the gate holds back what did not converge before (its memory is read,
    // never written, here).
    GateOptions gate_options;
    gate_options.retry_after_backoff = false;
    GateDecision gate = decide(plan, observed, load_gate_history(layout), GateClock::now(), gate_options);
    const auto problems = check_against_host(*desired, observed);
    if (opts.json) {
        nlohmann::json out = to_json(plan, &gate);
        out["problems"] = nlohmann::json::array();
        for (const auto& p : problems)
            out["problems"].push_back(p.str());
        std::cout << out.dump(2) << '\n';
    } else {
        render_plan(std::cout, plan, &gate);
        for (const auto& p : problems)
            std::cout << "problem: " << p.str() << '\n';
    }
    return kExitOk;
}

int cmd_devices(const Options& opts) {
    SysfsLayout layout;
    ObservedState observed = observe_host(layout);
    if (opts.json)
        std::cout << to_json(observed).dump(2) << '\n';
    else
        render_devices(std::cout, observed);
    return kExitOk;
}

int cmd_apply(const Options& opts) {
    if (auto daemon = opts.local ? nullptr : DaemonClient::connect_if_running()) {
        // Never race the daemon: ask it to reload and reconcile, and report what it reaches.
        std::string state = daemon->reload_and_reconcile(60'000);
        std::cout << "hostdevd reloaded and reconciled: state " << state << '\n';
        if (state == "converged")
            return kExitOk;
        return state == "blocked" ? kExitNotConverged : kExitFailed;
    }
    auto desired = load_or_report(opts);
    if (!desired)
        return kExitFailed;
    SysfsLayout layout;
    SysfsWriter writer(layout);
    ModprobeLoader modules;
    OneShotReport report = reconcile_to_fixed_point(*desired, layout, writer, modules);
    if (opts.json) {
        nlohmann::json applied = nlohmann::json::array();
        for (const auto& r : report.applied)
            applied.push_back(to_json(r));
        std::cout << nlohmann::json{{"result", to_string(report.result)},
                                    {"passes", report.passes},
                                    {"applied", applied},
                                    {"plan", to_json(report.final_plan, &report.final_gate)}}
                         .dump(2)
                  << '\n';
    } else {
        for (const auto& r : report.applied)
            std::cout << describe(r) << '\n';
        if (!report.final_plan.actions.empty()) {
            std::cout << '\n';
            render_plan(std::cout, report.final_plan, &report.final_gate);
        }
        std::cout << "\nresult: " << to_string(report.result) << " after " << report.passes
                  << (report.passes == 1 ? " pass" : " passes") << '\n';
    }
    switch (report.result) {
    case OneShotResult::Converged:
        return kExitOk;
    case OneShotResult::Blocked:
        return kExitNotConverged;
    case OneShotResult::Failed:
        return kExitFailed;
    }
    return kExitFailed;
}

std::string joined(const nlohmann::json& list) {
    std::string out;
    for (const auto& item : list)
        out += (out.empty() ? "" : "; ") + item.get<std::string>();
    return out.empty() ? "-" : out;
}

int cmd_status(const Options& opts) {
    auto daemon = DaemonClient::connect_if_running();
    if (!daemon) {
        std::cerr << "hostdevctl: hostdevd is not running (nobody owns io.hostdevd1 on the system bus)\n";
        return kExitFailed;
    }
    nlohmann::json d = daemon->describe();
    if (opts.json) {
        std::cout << d.dump(2) << '\n';
        return kExitOk;
    }
    const auto& m = d.at("manager");
    std::cout << "hostdevd " << m.at("version").get<std::string>() << ": " << m.at("state").get<std::string>()
              << ", configuration generation " << m.at("config_generation").get<uint64_t>() << " ("
              << m.at("config_files").size() << " files)\n";
    if (!m.at("config_valid").get<bool>())
        std::cout << "configuration error (previous one still in force): "
                  << m.at("config_error").get<std::string>() << '\n';
    // One notation for counts in every view: VFS is current/total (sriov_numvfs/sriov_totalvfs), as in
    // `hostdevctl devices`; what the configuration asks for is under WANTS.
    Table t({"DEVICE", "ROLE", "DRIVER", "VFS", "VGPU", "WANTS", "STATE", "HOLDERS", "REASON"});
    auto or_dash = [](const std::string& text) { return text.empty() ? std::string("-") : text; };
    for (const auto& v : d.at("devices")) {
        const std::string role = v.at("role");
        std::string vfs = "-";
        if (role == "pf")
            vfs = std::to_string(v.at("num_vfs").get<unsigned>()) + "/" +
                  std::to_string(v.at("total_vfs").get<unsigned>());
        std::vector<std::string> wants;
        if (const std::string n = v.at("desired_vfs"); !n.empty())
            wants.push_back("vfs " + n);
        if (v.at("managed").get<bool>())
            wants.push_back("(managed)");
        else if (const std::string drv = v.at("desired_driver"); !drv.empty())
            wants.push_back(drv);
        if (const std::string vgpu = v.value("desired_vgpu", ""); !vgpu.empty())
            wants.push_back("vgpu " + vgpu);
        std::string wanted;
        for (const auto& w : wants)
            wanted += (wanted.empty() ? "" : ", ") + w;
        t.add({v.at("address"), role, or_dash(v.at("driver")), vfs, or_dash(v.value("vgpu", "")),
               or_dash(wanted), v.at("state"), joined(v.at("holders")), v.at("reason")});
    }
    std::cout << '\n';
    t.render(std::cout);
    if (!d.at("mdevs").empty()) {
        Table md({"MDEV", "PARENT", "TYPE", "ACTIVE", "STATE", "HOLDERS", "REASON"});
        for (const auto& v : d.at("mdevs"))
            md.add({v.at("uuid"), v.at("parent"), v.at("type"), v.at("active").get<bool>() ? "yes" : "no",
                    v.at("state"), joined(v.at("holders")), v.at("reason")});
        std::cout << '\n';
        md.render(std::cout);
    }
    for (const auto& a : d.at("absent"))
        std::cout << "absent: " << a.at("object").get<std::string>() << " ("
                  << a.at("source").get<std::string>() << ")\n";
    return kExitOk;
}

} // namespace

int main(int argc, char** argv) {
    Options opts;
    if (auto stop = parse_args(argc, argv, opts))
        return *stop;
    try {
        if (opts.command == "validate")
            return cmd_validate(opts);
        if (opts.command == "plan")
            return cmd_plan(opts);
        if (opts.command == "apply")
            return cmd_apply(opts);
        if (opts.command == "devices")
            return cmd_devices(opts);
        if (opts.command == "status")
            return cmd_status(opts);
        if (opts.command == "import-mdevctl")
            return run_import_mdevctl(opts.argument.empty() ? "/etc/mdevctl.d" : opts.argument);
    } catch (const std::exception& e) {
        std::cerr << "hostdevctl: " << e.what() << '\n';
        return kExitFailed;
    }
    return usage_error("unknown command '" + opts.command + "'");
}
