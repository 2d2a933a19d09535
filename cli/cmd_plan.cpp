// `hostdevctl plan`: what a reconcile would do now. Through the daemon when it runs (its plan is the
// one that counts), else planned here from the configuration and the host.
#include "bounded_render.hpp"
#include "commands.hpp"
#include "configuration.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "observe/observe.hpp"
#include "options.hpp"
#include "plan/future.hpp"
#include "plan/planner.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

#include <iostream>
#include <sstream>

namespace hostdevd::cli {

namespace {

// The exit status of a plan (exit_codes.hpp): 4 when apply would change something now, 3 when only
// actions it cannot do now are left (waiting, blocked, invalid) or entries conflict, 0 when nothing is.
int plan_exit_status(const nlohmann::json& plan) {
    bool safe = false, left = !plan.value("conflicts", nlohmann::json::array()).empty();
    for (const auto& a : plan.at("actions")) {
        const std::string verdict = a.at("verdict");
        safe = safe || verdict == "safe";
        left = left || (verdict != "safe" && verdict != "never");
    }
    return safe ? kExitPending : left ? kExitBlocked : kExitOk;
}

void render_daemon_plan(const nlohmann::json& plan) {
    Table t({"OBJECT", "ACTION", "VERDICT", "REASON"});
    for (const auto& a : plan.at("actions")) {
        std::string summary = a.at("summary");
        t.add({a.at("object"), summary.empty() ? a.at("action").get<std::string>() : summary, a.at("verdict"),
               a.at("reason")});
    }
    // Writes on devices that do not exist yet (the binds of VFs a VF-count change creates).
    for (const auto& a : plan.value("future", nlohmann::json::array())) {
        std::string summary = a.at("summary");
        t.add({a.at("object"), summary.empty() ? a.at("action").get<std::string>() : summary, a.at("verdict"),
               a.at("reason")});
    }
    std::cout << "(the plan of the running hostdevd; --local to plan here)\n";
    if (t.empty())
        std::cout << "nothing to do: the host matches the configuration\n";
    else
        t.render(std::cout);
    for (const auto& c : plan.value("conflicts", nlohmann::json::array()))
        std::cout << "conflict: " << c.get<std::string>() << '\n';
}

int run_plan(const Invocation& in) {
    if (auto daemon = in.has("local") ? nullptr : DaemonClient::connect_if_running()) {
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
        Plan plan = make_plan(*desired, observed);
        std::vector<Action> future = future_actions(plan, *desired, observed);
        nlohmann::json json = to_json(plan, future);
        std::ostringstream out;
        if (in.has("json")) {
            json["busy"] = to_json(observed).at("busy");
            out << json.dump(2) << '\n';
        } else {
            render_plan(out, plan, future);
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
        "host; never: not hostdevd's to do) and the reason, then every object that is not converged.\n"
        "When hostdevd runs, this is the daemon's own plan; --local plans here from --config-dir.\n"
        "Nothing is changed.";
    c.options = {config_dir_option(),
                 json_option("the plan as JSON (actions, objects, conflicts, converged)"), local_option()};
    c.exit_status = "  0  nothing to do: the host matches the configuration\n"
                    "  1  error (invalid configuration, hostdevd not reachable)\n"
                    "  2  usage error\n"
                    "  3  nothing apply can do now, but actions are left (waiting, blocked, invalid) or\n"
                    "     entries conflict\n"
                    "  4  apply would make changes now (safe actions pending)\n";
    c.run = run_plan;
    return c;
}

} // namespace hostdevd::cli
