#include "reconcile/one_shot.hpp"

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
    InUseCheck check = [&layout](const std::string& object) { return holders_now(layout, object); };
    std::set<std::string> applied_last_pass; // keys of actions that "succeeded" in the previous pass
    bool failed = false;
    report.final_observed = observe_host(layout);
    for (;;) {
        report.final_plan = make_plan(desired, report.final_observed);
        std::vector<const Action*> wave;
        for (const Action* a : report.final_plan.next_wave()) {
            // Success of a write is not convergence: an action that succeeded in the previous pass and is
            // needed again did not take effect (a probe that bound nothing, a driver enabling fewer VFs).
            // In a one-shot run it is reported as failed instead of being retried forever.
            if (applied_last_pass.count(effect_key(*a))) {
                ActionResult r;
                r.object = a->object;
                r.summary = a->summary;
                r.kind = a->kind;
                r.source = a->source;
                r.outcome = ActionOutcome::Failed;
                r.message = "the write succeeded but the device did not change";
                if (report.reason.empty())
                    report.reason = r.object + " " + r.summary + ": " + r.message;
                report.applied.push_back(std::move(r));
                failed = true;
                continue;
            }
            wave.push_back(a);
        }
        if (wave.empty() || report.passes >= options.max_passes)
            break;
        ++report.passes;
        ExecutionReport executed =
            execute(wave, writer, modules, check, options.parallel_binds, options.stuck_after);
        applied_last_pass.clear();
        for (size_t i = 0; i < executed.results.size(); ++i) {
            const auto& r = executed.results[i];
            // A stuck write that went through took effect: not to be repeated, but never a success.
            if (r.outcome == ActionOutcome::Ok || r.outcome == ActionOutcome::Stuck)
                applied_last_pass.insert(effect_key(*wave[i]));
            if (r.outcome == ActionOutcome::Failed || r.outcome == ActionOutcome::Stuck) {
                failed = true;
                if (report.reason.empty())
                    report.reason = r.object + " " + r.summary + ": " + r.message;
            }
            report.applied.push_back(r);
        }
        if (applied_last_pass.empty())
            break; // nothing took effect this pass; another observation would plan the same again
        // Re-observe what the wave can have changed (as the daemon's targeted refresh does); the rest of
        // the host is as observed before. A wave that can reach anything re-observes everything.
        if (auto touched = touched_devices(wave, executed, report.final_plan, report.final_observed))
            refresh_devices(layout, *touched, report.final_observed);
        else
            report.final_observed = observe_host(layout);
    }
    if (failed)
        report.result = OneShotResult::Failed;
    else if (report.final_plan.converged())
        report.result = OneShotResult::Converged;
    else
        report.result = OneShotResult::Blocked;
    return report;
}

} // namespace hostdevd
