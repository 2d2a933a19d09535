// One reconcile run to a fixed point: observe → plan → apply one wave → re-observe, until nothing safe
// remains. Used by `hostdevctl apply`; the daemon runs the same steps one pass at a time from its loop.
// The host is observed whole once; after each wave only the devices its actions can have changed are
// read again (refresh_devices), unless the wave loaded a module (which can bind any device).
#pragma once

#include "apply/executor.hpp"
#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "sysfs/layout.hpp"

#include <string>
#include <vector>

namespace hostdevd {

struct OneShotOptions {
    unsigned max_passes = 32;                 // a guard against a world that never settles
    unsigned parallel_binds = kParallelBinds; // execute(): binds of unbound devices side by side
    std::chrono::milliseconds stuck_after = kStuckWriteReport; // a write this long in the kernel is stuck
};

enum class OneShotResult {
    Converged, // nothing left to do
    Blocked,   // only blocked / waiting / invalid actions remain (reported, not errors)
    Failed,    // a write failed, was stuck in the kernel, or "succeeded" without the effect showing up
};
const char* to_string(OneShotResult r);

struct OneShotReport {
    OneShotResult result = OneShotResult::Converged;
    unsigned passes = 0;
    std::vector<ActionResult> applied; // every action attempted, in order
    Plan final_plan;                   // the plan against the final observation
    ObservedState final_observed;
    // Why the result is Failed, in one line: the message of the first action that failed or was stuck.
    std::string reason;
};

OneShotReport reconcile_to_fixed_point(const DesiredState& desired, const SysfsLayout& layout, Writer& writer,
                                       ModuleLoader& modules, const OneShotOptions& options = {});

} // namespace hostdevd
