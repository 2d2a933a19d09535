// `hostdevctl status`: what the running hostdevd reports (Describe() over D-Bus), summarised or in full,
// with filters; the exit status says whether the host is as configured (exit_codes.hpp).
#include "arguments.hpp"
#include "commands.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "status_report.hpp"

#include <iostream>
#include <sys/ioctl.h>
#include <unistd.h>

namespace hostdevd::cli {

namespace {

size_t terminal_width() {
    winsize ws{};
    if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 0; // not a terminal: whole lines
}

int run_status(const Invocation& in) {
    if (in.has("summary") && in.has("all"))
        return usage_error("--summary and --all exclude each other", in.command);
    auto daemon = DaemonClient::connect_if_running();
    if (!daemon) {
        std::cerr << "hostdevctl: hostdevd is not running (nobody owns io.hostdevd1 on the system bus)\n";
        return kExitFailed;
    }
    nlohmann::json d = daemon->describe();
    StatusOptions options;
    for (const auto& pf : in.list("pf"))
        options.filter.pfs.insert(pf);
    for (const auto& s : in.list("state"))
        options.filter.states.insert(s);
    for (const auto& p : in.list("pool"))
        options.filter.pools.insert(p);
    // A --pf that names no PF hostdevd reports is a mistake worth saying (a typo, a VF's address).
    for (const auto& pf : options.filter.pfs) {
        bool known = false;
        for (const auto& v : d.at("devices"))
            known = known || (v.value("address", "") == pf && v.value("role", "") == "pf");
        if (!known) {
            std::cerr << "hostdevctl: hostdevd reports no PF " << pf << " (hostdevctl status lists them)\n";
            return kExitFailed;
        }
    }
    if (in.has("json")) {
        std::cout << d.dump(2) << '\n';
        return status_exit_status(d, options.filter);
    }
    options.detail = in.has("all")       ? StatusDetail::Full
                     : in.has("summary") ? StatusDetail::Summary
                                         : StatusDetail::Auto;
    options.width = terminal_width();
    return render_status(std::cout, d, options);
}

} // namespace

Command status_command() {
    Command c;
    c.name = "status";
    c.summary = "what the running hostdevd reports: summary, per-PF roll-up, reasons";
    c.description =
        "Show what the running hostdevd reports over D-Bus: its state and configuration, a summary line\n"
        "(devices and mdevs by state), then either every device and mdev (when there are at most 30, or "
        "with\n"
        "--all) or a roll-up with one row per PF (its VFs counted by state, driver and pool) and each\n"
        "distinct reason once with the objects it applies to (with --summary, or when there are more).\n"
        "On a terminal the summary's lines are cut to its width; --all prints everything whole.\n"
        "Filters combine: --pf selects a PF with its VFs and their mdevs, --state and --pool select objects\n"
        "by state and pool; each takes a comma-separated list or may be repeated.";
    c.options = {
        {"summary", ValueKind::None, "", "summary, roll-up and reasons only (at most 30 lines)"},
        {"all", ValueKind::None, "", "every device and mdev, with whole reasons"},
        {"pf", ValueKind::Pf, "ADDR", "only this PF, its VFs and their mdevs", true},
        {"state", ValueKind::State, "STATE",
         "only objects in this state (converged, pending, blocked, failed, absent, foreign, consent)", true},
        {"pool", ValueKind::Pool, "NAME", "only devices in this pool", true},
        json_option(
            "everything the daemon reports, as JSON (its Describe(); filters only set the exit status)"),
    };
    c.exit_status = "  0  converged: the host (or the objects selected) matches the configuration\n"
                    "  1  the configuration is invalid, something failed, or hostdevd is not running\n"
                    "  2  usage error\n"
                    "  3  something is blocked or awaits consent (and nothing failed or is pending)\n"
                    "  4  hostdevd is still applying changes (starting, progressing, pending objects)\n";
    c.run = run_status;
    return c;
}

} // namespace hostdevd::cli
