// hostdevctl: inspect and apply hostdevd's configuration from the command line.
//
//   hostdevctl validate [--config-dir DIR]          check the configuration, print FILE:LINE:COL errors
//   hostdevctl plan     [--config-dir DIR] [--json] what a reconcile would do, with verdicts and reasons
//   hostdevctl apply    [--config-dir DIR] [--json] one-shot reconcile of the safe actions
//   hostdevctl devices  [--json]                    inventory: PFs, VFs, drivers, groups, holders
//
// Exit status: 0 success/converged, 1 failure (invalid configuration, a write failed), 2 usage error,
// 3 apply finished with blocked/waiting/invalid actions left (nothing failed, something was not done).
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apply/module_loader.hpp"
#include "apply/writer.hpp"
#include "config/loader.hpp"
#include "observe/observe.hpp"
#include "plan/planner.hpp"
#include "reconcile/one_shot.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

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

options:
  --config-dir DIR   configuration directory (default /etc/hostdevd)
  --json             machine-readable output (plan, apply, devices)
  -h, --help         this text

exit status: 0 ok/converged, 1 failed (invalid configuration or a write failed), 2 usage error,
             3 apply left blocked/waiting/invalid actions (nothing failed)
)";

struct Options {
    std::string command;
    std::string config_dir = "/etc/hostdevd";
    bool json = false;
};

int usage_error(const std::string& message) {
    std::cerr << "hostdevctl: " << message << "\n(see hostdevctl --help)\n";
    return kExitUsage;
}

// Parses argv; returns an exit code when the program should stop now. getopt_long permutes argv, so
// options may stand before or after the command.
std::optional<int> parse_args(int argc, char** argv, Options& opts) {
    enum { kConfigDir = 1000, kJson };
    static const option long_options[] = {
        {"config-dir", required_argument, nullptr, kConfigDir},
        {"json", no_argument, nullptr, kJson},
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
        return usage_error("a command is required (validate, plan, apply, devices)");
    opts.command = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument '" + std::string(argv[optind]) + "'");
    if (opts.json && opts.command == "validate")
        return usage_error("validate has no --json output");
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
    std::cout << opts.config_dir << ": valid (" << desired->files.size() << " files, " << desired->pfs.size()
              << " pf, " << desired->devices.size() << " device, " << desired->mdevs.size() << " mdev entries)\n";
    return kExitOk;
}

int cmd_plan(const Options& opts) {
    auto desired = load_or_report(opts);
    if (!desired)
        return kExitFailed;
    SysfsLayout layout;
    ObservedState observed = observe_host(layout);
    Plan plan = make_plan(*desired, observed);
    if (opts.json)
        std::cout << to_json(plan).dump(2) << '\n';
    else
        render_plan(std::cout, plan);
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
                                    {"plan", to_json(report.final_plan)}}
                         .dump(2)
                  << '\n';
    } else {
        for (const auto& r : report.applied)
            std::cout << describe(r) << '\n';
        if (!report.final_plan.actions.empty()) {
            std::cout << '\n';
            render_plan(std::cout, report.final_plan);
        }
        std::cout << "\nresult: " << to_string(report.result) << " after " << report.passes
                  << (report.passes == 1 ? " pass" : " passes") << '\n';
    }
    switch (report.result) {
    case OneShotResult::Converged: return kExitOk;
    case OneShotResult::Blocked: return kExitNotConverged;
    case OneShotResult::Failed: return kExitFailed;
    }
    return kExitFailed;
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
    } catch (const std::exception& e) {
        std::cerr << "hostdevctl: " << e.what() << '\n';
        return kExitFailed;
    }
    return usage_error("unknown command '" + opts.command + "'");
}
