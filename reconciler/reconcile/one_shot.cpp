#include "reconcile/one_shot.hpp"

#include "gate/history_store.hpp"
#include "observe/libvirt_claims.hpp"
#include "observe/observe.hpp"
#include "plan/planner.hpp"

#include <optional>
#include <set>

namespace hostdevd {

namespace {

// "bus/pci/devices/<parent>/mdev_supported_types/<type>/create" -> "<parent>".
std::optional<std::string> parent_in_create_path(const Action& action) {
    constexpr std::string_view prefix = "bus/pci/devices/";
    for (const SysfsWrite& w : action.writes) {
        std::string_view path = w.path;
        if (path.substr(0, prefix.size()) != prefix)
            continue;
        path.remove_prefix(prefix.size());
        return std::string(path.substr(0, path.find('/')));
    }
    return std::nullopt;
}

// The PCI devices whose observation an attempted action can have changed, with what the kernel does
// alongside (refresh_devices() brings a PF's VFs, old and new, and the mdevs of a refreshed parent):
//  - sriov_drivers_autoprobe, sriov_numvfs, bind, unbind: the device itself (a PF driver's remove
//    disables its VFs and unregisters its mdev parent: all below the PF);
//  - mdev create/remove: the parent (available_instances of its types);
//  - a vGPU type: the PF, whose VFs' creatable types all change.
// nullopt when the change can reach any device: a module load attaches its driver to every unbound
// device it matches (driver_attach), and an action kind not listed here is treated the same way.
std::optional<std::vector<std::string>> touched_devices(const std::vector<const Action*>& wave,
                                                        const ExecutionReport& executed, const Plan& plan,
                                                        const ObservedState& observed) {
    std::set<std::string> devices;
    for (size_t i = 0; i < wave.size() && i < executed.results.size(); ++i) {
        if (executed.results[i].outcome == ActionOutcome::Blocked)
            continue; // not attempted: nothing changed
        const Action& a = *wave[i];
        switch (a.kind) {
        case ActionKind::SetAutoprobe:
        case ActionKind::SetNumVfs:
        case ActionKind::Bind:
        case ActionKind::Unbind:
            devices.insert(a.object);
            break;
        case ActionKind::CreateMdev: {
            auto status = plan.objects.find(a.object);
            std::optional<std::string> parent = status != plan.objects.end() && !status->second.parent.empty()
                                                    ? std::optional<std::string>(status->second.parent)
                                                    : parent_in_create_path(a);
            if (!parent)
                return std::nullopt;
            devices.insert(*parent);
            break;
        }
        case ActionKind::RemoveMdev: {
            auto mdev = observed.mdevs.find(a.object);
            if (mdev == observed.mdevs.end())
                return std::nullopt;
            devices.insert(mdev->second.parent);
            break;
        }
        case ActionKind::SetVgpu: {
            const PciDevice* vf = observed.find(a.object);
            if (!vf || vf->physfn.empty())
                return std::nullopt;
            devices.insert(vf->physfn);
            devices.insert(a.object);
            break;
        }
        default:
            return std::nullopt;
        }
    }
    return std::vector<std::string>(devices.begin(), devices.end());
}

} // namespace

const char* to_string(OneShotResult r) {
    switch (r) {
    case OneShotResult::Converged:
        return "converged";
    case OneShotResult::Blocked:
        return "blocked";
    case OneShotResult::Failed:
        return "failed";
    }
    return "?";
}

OneShotReport reconcile_to_fixed_point(const DesiredState& desired, const SysfsLayout& layout, Writer& writer,
                                       ModuleLoader& modules, const OneShotOptions& options) {
    OneShotReport report;
    // Right before a destructive or rebinding write: the processes, netdevs and consumers' claims now.
    FreshClaims fresh_claims(layout);
    InUseCheck check = [&layout, &fresh_claims](const std::string& object) {
        std::vector<std::string> holders = holders_now(layout, object);
        for (std::string& claim : fresh_claims.holders_of(object))
            holders.push_back(std::move(claim));
        return holders;
    };
    // An observation with the claims libvirt has now (read once per observation: a run is short).
    auto observe_all = [&layout] {
        ObservedState state = observe_host(layout);
        add_claims(state, claims_for(layout));
        return state;
    };
    // Every run is the operator asking again: a failed action is not retried within the run, and the
    // next run tries harmless actions afresh; what is remembered across runs is a destructive action
    // that did not converge (the gate never repeats it from the same inputs).
    GateOptions gate_options;
    gate_options.retry_after_backoff = false;
    GateHistory history = options.persist_gate_history ? load_gate_history(layout) : GateHistory{};
    GateHistory saved = persisted_part(history);
    // Saved whenever it changes, before any write of the wave the decision starts: a run killed during a
    // destructive write leaves the attempt on record.
    auto persist = [&] {
        if (!options.persist_gate_history)
            return;
        GateHistory now = persisted_part(history);
        if (now == saved)
            return;
        save_gate_history(layout, history);
        saved = std::move(now);
    };
    bool failed = false;
    report.final_observed = observe_all();
    // Consent: each action awaiting it is asked about once per run (by its approval key: what it does and
    // from which inputs); a yes is an approval for that action, used up when it runs.
    GateApprovals approvals;
    std::set<std::string> asked;
    for (;;) {
        report.final_plan = make_plan(desired, report.final_observed);
        report.final_gate = decide(report.final_plan, report.final_observed, history, GateClock::now(),
                                   gate_options, approvals);
        if (options.consent) {
            std::vector<const Action*> ask;
            std::vector<std::string> keys;
            for (size_t index : report.final_gate.awaiting_consent()) {
                const Action& a = report.final_plan.actions[index];
                std::string key = approval_key(a, report.final_observed);
                if (asked.insert(key).second) {
                    ask.push_back(&a);
                    keys.push_back(std::move(key));
                }
            }
            if (!ask.empty()) {
                const std::vector<bool> yes = options.consent(ask, report.final_observed);
                bool any = false;
                for (size_t i = 0; i < keys.size() && i < yes.size(); ++i)
                    if (yes[i])
                        any = approvals.keys.insert(keys[i]).second || any;
                if (any) // decided again with the approvals: the same plan, from the same history
                    report.final_gate = decide(report.final_plan, report.final_observed, history,
                                               GateClock::now(), gate_options, approvals);
            }
        }
        for (const std::string& used : report.final_gate.approvals_used)
            approvals.keys.erase(used);
        history = report.final_gate.history;
        persist();
        const std::vector<const Action*>& wave = report.final_gate.run;
        if (wave.empty() || report.passes >= options.max_passes)
            break;
        ++report.passes;
        ExecutionReport executed =
            execute(wave, writer, modules, check, options.parallel_binds, options.stuck_after, options.hooks);
        // A stuck write that went through is in place: record() treats it as applied, so the next
        // decision holds it if it is planned again (never repeated from the same inputs); but the run is
        // no success.
        record(history, wave, report.final_gate.run_inputs, executed, GateClock::now());
        for (const auto& r : executed.results) {
            if (!r.veto.empty() && report.reason.empty())
                report.reason = r.object + " " + r.summary + ": " + r.veto;
            if (r.outcome == ActionOutcome::Failed || r.outcome == ActionOutcome::Stuck) {
                failed = true;
                if (report.reason.empty())
                    report.reason = r.object + " " + r.summary + ": " + r.message;
            }
            report.applied.push_back(r);
        }
        // The next decision holds what failed here (it is not retried within the run) and finds what ran
        // without error but did not take (its effect is planned again).
        // Re-observe what the wave can have changed (as the daemon's targeted refresh does); the rest of
        // the host is as observed before. A wave that can reach anything re-observes everything.
        if (auto touched = touched_devices(wave, executed, report.final_plan, report.final_observed)) {
            refresh_devices(layout, *touched, report.final_observed);
            add_claims(report.final_observed, claims_for(layout));
        } else
            report.final_observed = observe_all();
    }
    persist();
    // What the gate holds as failed at the end (an action that failed or did not take, in this run or,
    // destructive and with nothing changed since, in an earlier one) is why the run failed when nothing
    // else is.
    for (const auto& [index, hold] : report.final_gate.held) {
        if (!report.reason.empty())
            break;
        if (hold.state == ObjectState::Failed && index < report.final_plan.actions.size()) {
            const Action& a = report.final_plan.actions[index];
            report.reason = a.object + " " + a.summary + ": " + hold.reason;
        }
    }
    if (failed || report.final_gate.any_failed())
        report.result = OneShotResult::Failed;
    else if (report.final_plan.converged())
        report.result = OneShotResult::Converged;
    else
        report.result = OneShotResult::Blocked;
    return report;
}

} // namespace hostdevd
