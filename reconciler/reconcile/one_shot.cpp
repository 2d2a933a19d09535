#include "reconcile/one_shot.hpp"

#include "observe/observe.hpp"
#include "plan/planner.hpp"

#include <set>

namespace hostdevd {

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
    for (;;) {
        report.final_observed = observe_host(layout);
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
                report.applied.push_back(std::move(r));
                failed = true;
                continue;
            }
            wave.push_back(a);
        }
        if (wave.empty() || report.passes >= options.max_passes)
            break;
        ++report.passes;
        ExecutionReport executed = execute(wave, writer, modules, check);
        applied_last_pass.clear();
        for (size_t i = 0; i < executed.results.size(); ++i) {
            const auto& r = executed.results[i];
            if (r.outcome == ActionOutcome::Ok)
                applied_last_pass.insert(effect_key(*wave[i]));
            failed = failed || r.outcome == ActionOutcome::Failed;
            report.applied.push_back(r);
        }
        if (applied_last_pass.empty())
            break; // nothing took effect this pass; another observation would plan the same again
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
