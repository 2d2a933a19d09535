// `hostdevctl apply`: one reconcile of the safe actions. When hostdevd runs, it is asked to reload and
// reconcile and followed until it settles (never raced with writes of our own); else the reconcile runs
// here (reconcile/one_shot.hpp). On a terminal, a progress line says what the apply waits for.
#include "apply/hooks.hpp"
#include "apply/module_loader.hpp"
#include "apply/writer.hpp"
#include "commands.hpp"
#include "configuration.hpp"
#include "consent.hpp"
#include "daemon_client.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "reconcile/one_shot.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "status_report.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <set>

namespace hostdevd::cli {

namespace {

constexpr unsigned kDefaultTimeoutSeconds = 120;

// One progress line from a Describe(): the state, what is pending, and the most telling reason (a
// failed or stuck write first).
std::string daemon_progress(const nlohmann::json& d, std::chrono::steady_clock::duration elapsed) {
    std::map<std::string, size_t> counts;
    std::string failed, pending;
    for (const auto* list : {&d.at("devices"), &d.at("mdevs")})
        for (const auto& v : *list) {
            std::string state = v.value("state", "");
            ++counts[state];
            std::string object = v.contains("address") ? v.value("address", "") : v.value("uuid", "");
            if (state == "failed" && failed.empty())
                failed = object + ": " + v.value("reason", "");
            if (state == "pending" && pending.empty())
                pending = object + ": " + v.value("reason", "");
        }
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
    std::string text = "waiting for hostdevd (" + d.at("manager").value("state", "?") + ", " +
                       std::to_string(seconds) + " s)";
    if (counts["pending"])
        text += ": " + std::to_string(counts["pending"]) + " pending";
    if (!failed.empty())
        text += "; " + failed;
    else if (!pending.empty())
        text += "; " + pending;
    return text;
}

int apply_through_daemon(DaemonClient& daemon, const Invocation& in) {
    const unsigned timeout =
        static_cast<unsigned>(std::stoul(in.value("timeout", std::to_string(kDefaultTimeoutSeconds))));
    ProgressLine line(std::cout, ProgressLine::stdout_is_terminal());
    const auto start = std::chrono::steady_clock::now();
    nlohmann::json last;
    {
        // The ticker redraws from the latest Describe() the follower saw; both run on this thread's
        // data only through `latest`, guarded by its mutex.
        std::mutex mutex;
        nlohmann::json latest;
        ProgressTicker ticker(line, [&] {
            std::lock_guard lock(mutex);
            return latest.is_null() ? std::string("waiting for hostdevd")
                                    : daemon_progress(latest, std::chrono::steady_clock::now() - start);
        });
        last = daemon.reload_and_follow(std::chrono::seconds(timeout), [&](const nlohmann::json& d) {
            std::lock_guard lock(mutex);
            latest = d;
        });
    }
    // Consent: what awaits it is listed and asked about (or --yes / --approve), then approved over D-Bus and
    // followed again. The daemon carries out exactly what was listed: an approval lapses when the plan
    // for that object changes before its pass (a VF the same reload rebinds, say). What is still awaiting
    // consent then is asked about again, as a new list (at most 3 rounds); what was refused is not.
    std::set<std::string> refused;
    for (int round = 0; round < 3; ++round) {
        std::vector<ConsentItem> items;
        for (ConsentItem& item : awaiting_consent(last.value("plan", nlohmann::json())))
            if (!refused.count(item.object))
                items.push_back(std::move(item));
        if (items.empty())
            break;
        const std::vector<bool> yes = ask_consent(items, in);
        std::vector<std::string> objects;
        for (size_t i = 0; i < items.size(); ++i) {
            if (!yes[i])
                refused.insert(items[i].object);
            else if (std::find(objects.begin(), objects.end(), items[i].object) == objects.end())
                objects.push_back(items[i].object);
        }
        if (objects.empty())
            break;
        std::mutex mutex;
        nlohmann::json latest;
        ProgressTicker ticker(line, [&] {
            std::lock_guard lock(mutex);
            return latest.is_null() ? std::string("waiting for hostdevd")
                                    : daemon_progress(latest, std::chrono::steady_clock::now() - start);
        });
        last =
            daemon.approve_and_follow(objects, std::chrono::seconds(timeout), [&](const nlohmann::json& d) {
                std::lock_guard lock(mutex);
                latest = d;
            });
    }
    const std::vector<ConsentItem> left = awaiting_consent(last.value("plan", nlohmann::json()));
    const std::string state = last.at("manager").value("state", "?");
    int status = state == "converged"                            ? kExitOk
                 : state == "blocked"                            ? kExitBlocked
                 : state == "starting" || state == "progressing" ? kExitPending
                                                                 : kExitFailed;
    if (in.has("json")) {
        std::cout << nlohmann::json{{"result", state}, {"through_daemon", true}, {"status", last}}.dump(2)
                  << '\n';
        return status;
    }
    if (status == kExitPending)
        std::cout << "hostdevd is still applying after " << timeout << " s (state " << state
                  << "); hostdevctl status follows it\n";
    else
        std::cout << "hostdevd reloaded and reconciled: state " << state << '\n';
    if (status != kExitOk) {
        std::cout << '\n';
        render_reasons(std::cout, last, {}, 20, 0);
    }
    if (!left.empty()) {
        std::cout << "\nawaiting consent:\n";
        print_consent_items(std::cout, left);
        std::cout << consent_hint(true) << '\n';
    }
    return status;
}

int apply_here(const Invocation& in) {
    const std::string config_dir = in.value("config-dir", kDefaultConfigDir);
    auto desired = load_or_report(config_dir);
    if (!desired)
        return kExitFailed;
    SysfsLayout layout;
    SysfsWriter writer(layout);
    ModprobeLoader modules;
    ApplyActivity activity(writer, modules);
    ProgressLine line(std::cout, ProgressLine::stdout_is_terminal());
    OneShotReport report;
    {
        std::optional<ProgressTicker> ticker;
        ticker.emplace(line, [&activity] { return activity.describe(); });
        HookRunner hooks(hook_settings_for(config_dir)); // the configuration's hooks.d (docs/hooks.md)
        OneShotOptions options;
        options.hooks = &hooks;
        // Asked before anything is destroyed; the progress line is off while the question is up.
        options.consent = [&](const std::vector<const Action*>& awaiting, const ObservedState&) {
            std::vector<ConsentItem> items;
            for (const Action* a : awaiting)
                items.push_back(consent_item(*a));
            ticker.reset();
            std::vector<bool> yes = ask_consent(items, in);
            ticker.emplace(line, [&activity] { return activity.describe(); });
            return yes;
        };
        report = reconcile_to_fixed_point(*desired, layout, activity, activity, options);
    }
    std::vector<ConsentItem> left;
    for (size_t index : report.final_gate.awaiting_consent())
        left.push_back(consent_item(report.final_plan.actions[index]));
    if (in.has("json")) {
        nlohmann::json applied = nlohmann::json::array();
        for (const auto& r : report.applied)
            applied.push_back(to_json(r));
        std::cout << nlohmann::json{{"result", to_string(report.result)},
                                    {"reason", report.reason},
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
            render_plan(std::cout, report.final_plan, {}, &report.final_gate);
        }
        if (!left.empty()) {
            std::cout << "\nawaiting consent:\n";
            print_consent_items(std::cout, left);
            std::cout << consent_hint(false) << '\n';
        }
        std::cout << "\nresult: " << to_string(report.result) << " after " << report.passes
                  << (report.passes == 1 ? " pass" : " passes")
                  << (report.reason.empty() ? "" : ": " + report.reason) << '\n';
    }
    switch (report.result) {
    case OneShotResult::Converged:
        return kExitOk;
    case OneShotResult::Blocked:
        return kExitBlocked;
    case OneShotResult::Failed:
        return kExitFailed;
    }
    return kExitFailed;
}

int run_apply(const Invocation& in) {
    if (auto daemon = in.has("local") ? nullptr : DaemonClient::connect_if_running())
        return apply_through_daemon(*daemon, in);
    return apply_here(in);
}

} // namespace

Command apply_command() {
    Command c;
    c.name = "apply";
    c.summary = "reconcile once: apply every safe action, wave by wave, until nothing safe remains";
    c.description =
        "Reconcile once: apply every safe action of the plan, wave by wave (VF counts, bindings, mdevs),\n"
        "re-reading the host after each, until nothing safe remains; then print what was done and what is\n"
        "left with its reason. Nothing in use is ever disrupted, and a destructive change that did not take\n"
        "(a driver that enables another number of VFs than written) is not repeated, by this run or a later\n"
        "one, until the configuration or the device changes. An action that destroys devices that exist\n"
        "(VFs of a PF whose count changes, an mdev removed or re-typed, a vGPU cleared) needs consent\n"
        "unless the configuration says destroy = \"when-idle\": on a terminal the devices are listed and\n"
        "you are asked; otherwise --yes or --approve OBJECT gives it, and without them nothing is\n"
        "destroyed (exit 3, with the list). When hostdevd runs, it is asked to reload\n"
        "its configuration and reconcile instead, and followed until it settles (at most --timeout\n"
        "seconds). On a terminal, a progress line says what the apply is waiting for once it has taken a\n"
        "second; scripts (stdout not a terminal) get only the result.";
    c.options = {
        config_dir_option(),
        json_option("the result as JSON (applied actions and the final plan)"),
        local_option(),
        yes_option(),
        approve_option(),
        {"timeout", ValueKind::Number, "SECONDS", "through hostdevd: how long to follow it (default 120)"}};
    c.exit_status =
        "  0  converged: the host matches the configuration\n"
        "  1  a write failed or was stuck in the kernel for 5 s or more, a write did not take\n"
        "     (held back, not repeated: also one that did not take in an earlier run), a device\n"
        "     failed, or the configuration is invalid\n"
        "  2  usage error\n"
        "  3  blocked, waiting or invalid actions, or actions awaiting consent, are left (nothing\n"
        "     failed)\n"
        "  4  through hostdevd: it was still applying when --timeout passed\n";
    c.run = run_apply;
    return c;
}

} // namespace hostdevd::cli
