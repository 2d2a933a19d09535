// One reconcile run to a fixed point: observe → plan → gate → apply one wave → re-observe, until the gate
// has nothing left to run. Used by `hostdevctl apply`; the daemon runs the same steps one pass at a time from
// its loop. The host is observed whole once; after each wave only the devices its actions can have changed
// are read again (refresh_devices), unless the wave loaded a module (which can bind any device).
#pragma once

#include "apply/executor.hpp"
#include "gate/gate.hpp"
#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "sysfs/layout.hpp"

#include <functional>
#include <string>
#include <vector>

namespace hostdevd {

struct OneShotOptions {
    unsigned max_passes = 32;                 // a guard against a world that never settles
    unsigned parallel_binds = kParallelBinds; // execute(): binds of unbound devices side by side
    std::chrono::milliseconds stuck_after = kStuckWriteReport; // a write this long in the kernel is stuck
    // The gate's memory of destructive attempts that did not converge, shared with the daemon and with
    // earlier runs (gate/history_store.hpp): read at the start, written at the end.
    bool persist_gate_history = true;
    // Veto hooks asked before each destructive or rebinding action (apply/hooks.hpp); none when null.
    ActionHooks* hooks = nullptr;
    // The operator's consent for actions that destroy devices that exist (gate needs_consent(), docs/
    // safety.md "Consent"). Called with the actions the gate holds for consent that were not asked about
    // yet in this run (each one once; `observed` names what they destroy); returns, one per action,
    // whether it may run. Unset: nothing is consented, those actions are left (the run ends blocked).
    std::function<std::vector<bool>(const std::vector<const Action*>& awaiting,
                                    const ObservedState& observed)>
        consent;
};

enum class OneShotResult {
    Converged, // nothing left to do
    Blocked,   // only blocked / waiting / invalid actions, or ones awaiting consent, remain (not errors)
    Failed,    // a write failed or was stuck in the kernel, or the gate holds an action that failed or did
               // not take (in this run or, destructive and with nothing changed since, an earlier one)
};
const char* to_string(OneShotResult r);

struct OneShotReport {
    OneShotResult result = OneShotResult::Converged;
    unsigned passes = 0;
    std::vector<ActionResult> applied; // every action attempted, in order
    Plan final_plan;                   // the plan against the final observation
    ObservedState final_observed;
    // Why the result is Failed, in one line: the first action that failed or was stuck in this run, else
    // the first action the gate holds as failed ("<object> <summary>: <reason>").
    std::string reason;
    GateDecision final_gate; // the gate's decision on final_plan: its `held` says what was held and why
};

OneShotReport reconcile_to_fixed_point(const DesiredState& desired, const SysfsLayout& layout, Writer& writer,
                                       ModuleLoader& modules, const OneShotOptions& options = {});

} // namespace hostdevd
