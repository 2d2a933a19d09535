// `hostdevctl plan`: what a reconcile would do now. Through the daemon when it runs (its plan is the
// one that counts), else planned here from the configuration and the host.
#include "bounded_render.hpp"
#include "commands.hpp"
#include "configuration.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "gate/history_store.hpp"
#include "observe/observe.hpp"
#include "options.hpp"
#include "plan/future.hpp"
#include "plan/host_checks.hpp"
#include "plan/planner.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

#include <iostream>
#include <sstream>

namespace hostdevd::cli {

namespace {

// The exit status of a plan (exit_codes.hpp): 1 when the gate holds an action as failed (it failed or did
// not take before: apply would end failed), 4 when apply would change something now, 3 when only actions
// it cannot do now are left (waiting, blocked, invalid, held otherwise), an object is blocked without an
// action (a device in an IOMMU group no guest can use), entries conflict or the configuration names what
// this host does not have ("problems"), 0 when nothing is.
int plan_exit_status(const nlohmann::json& plan) {
    bool failed = false, safe = false;
    bool left = !plan.value("conflicts", nlohmann::json::array()).empty() ||
                !plan.value("problems", nlohmann::json::array()).empty();
    for (const auto& o : plan.value("objects", nlohmann::json::array())) {
        const std::string state = o.value("state", "");
        failed = failed || state == "failed";
        left = left || state == "blocked";
    }
    for (const auto& a : plan.at("actions")) {
        const std::string verdict = a.at("verdict");
        if (a.contains("held")) {
            const bool held_failed = a.at("held").value("state", "") == "failed";
            failed = failed || held_failed;
            left = left || !held_failed;
            continue;
        }
        safe = safe || verdict == "safe";
        left = left || (verdict != "safe" && verdict != "never");
    }
    return failed ? kExitFailed : safe ? kExitPending : left ? kExitBlocked : kExitOk;
}

// An action row: an action the gate holds back shows the hold's state and reason instead of `safe`.
std::vector<std::string> action_row(const nlohmann::json& a) {
    std::string summary = a.at("summary");
    if (summary.empty())
        summary = a.at("action").get<std::string>();
    if (a.contains("held"))
        return {a.at("object"), summary, a.at("held").at("state"), a.at("held").at("reason")};
    return {a.at("object"), summary, a.at("verdict"), a.at("reason")};
}

void render_daemon_plan(const nlohmann::json& plan) {
    Table t({"OBJECT", "ACTION", "VERDICT", "REASON"});
    for (const auto& a : plan.at("actions"))
        t.add(action_row(a));
    // Writes on devices that do not exist yet (the binds of VFs a VF-count change creates).
    for (const auto& a : plan.value("future", nlohmann::json::array()))
        t.add(action_row(a));
    std::cout << "(the plan of the running hostdevd; --local to plan here)\n";
    if (t.empty())
        std::cout << "nothing to do: the host matches the configuration\n";
    else
        t.render(std::cout);
    for (const auto& c : plan.value("conflicts", nlohmann::json::array()))
        std::cout << "conflict: " << c.get<std::string>() << '\n';
}

int run_plan(const Invocation& in) {
    // --config-dir is a staged configuration: always planned here against the live host, daemon or not
    // (the daemon's plan is of the configuration in force, not of DIR).
    const bool staged = in.has("config-dir");
    if (auto daemon = in.has("local") || staged ? nullptr : DaemonClient::connect_if_running()) {
        nlohmann::json plan = daemon->describe().at("plan");
        if (in.has("json"))
            std::cout << plan.dump(2) << '\n';
        else
            render_daemon_plan(plan);
        return plan_exit_status(plan);
    }
    auto desired = load_or_report(in.value("config-dir", kDefaultConfigDir));
    if (!desired)
        return kExitFailed;
    // Read in a child process: a device a stuck write keeps locked is reported busy, not waited for.
    int status = kExitOk;
    auto output = render_bounded([&](const ObservedState& observed) {
        SysfsLayout layout;
        Plan plan = make_plan(*desired, observed);
        // What an apply would do now: the gate holds back what did not converge before (its memory,
        // shared with apply and the daemon, is read here, never written), and an apply does not retry
        // within its run.
        GateOptions gate_options;
        gate_options.retry_after_backoff = false;
        const GateDecision gate =
            decide(plan, observed, load_gate_history(layout), GateClock::now(), gate_options);
        std::vector<Action> future = future_actions(plan, *desired, observed, gate.held_indexes());
        const std::vector<ConfigProblem> problems = check_against_host(*desired, observed);
        nlohmann::json json = to_json(plan, future, &gate);
        json["problems"] = nlohmann::json::array();
        for (const auto& p : problems)
            json["problems"].push_back(p.str());
        std::ostringstream out;
        const std::string dir = in.value("config-dir", kDefaultConfigDir);
        if (in.has("json")) {
            json["busy"] = to_json(observed).at("busy");
            json["planned_here_from"] = dir;
            out << json.dump(2) << '\n';
        } else {
            if (staged)
                out << "(planned here from " << dir << ", not the daemon's configuration)\n";
            render_plan(out, plan, future, &gate);
            for (const auto& p : problems)
                out << "problem: " << p.str() << '\n';
            for (const auto& [object, why] : observed.busy)
                out << "not planned: " << object << ": " << why << '\n';
        }
        // The child's exit status does not reach us: the status is carried on the output's last line.
        out << '\x1f' << plan_exit_status(json);
        return out.str();
    });
    if (!output)
        return kExitFailed;
    auto mark = output->rfind('\x1f');
    if (mark != std::string::npos) {
        status = std::stoi(output->substr(mark + 1));
        output->erase(mark);
    }
    std::cout << *output;
    return status;
}

} // namespace

Command plan_command() {
    Command c;
    c.name = "plan";
    c.summary = "what a reconcile would do now, each action with its verdict and reason";
    c.description =
        "Show every action a reconcile would take now, with its verdict (safe: apply does it now; waiting:\n"
        "once the host is ready; blocked: it would disrupt a device in use; invalid: impossible on this\n"
        "host; never: not hostdevd's to do; failed: it failed or did not take before and is held back,\n"
        "with what happened; consent: it destroys devices that exist and waits for the operator's\n"
        "consent, see apply) and the reason, including the writes on VFs that do not exist yet (after the\n"
        "VFs appear), then every object that is not converged, then what the configuration names that\n"
        "this host does not have (problem: ...). When hostdevd runs, this is the daemon's own plan;\n"
        "with --config-dir DIR (a staged configuration) or --local it is planned here from DIR against\n"
        "the live host, daemon or not, and says so. Nothing is changed.";
    c.options = {config_dir_option(),
                 json_option("the plan as JSON (actions, objects, conflicts, converged)"), local_option()};
    c.exit_status =
        "  0  nothing to do: the host matches the configuration\n"
        "  1  error (invalid configuration, hostdevd not reachable), or an action is held back\n"
        "     as failed (it failed or did not take before; apply would not repeat it)\n"
        "  2  usage error\n"
        "  3  nothing apply can do now, but actions are left (waiting, blocked, invalid, awaiting\n"
        "     consent) or entries conflict\n"
        "  4  apply would make changes now (safe actions pending)\n";
    c.run = run_plan;
    return c;
}

} // namespace hostdevd::cli
