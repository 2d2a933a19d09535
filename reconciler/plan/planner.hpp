// The pure planner: desired + observed state in, an ordered plan of actions with verdicts (safety.md) and
// the status of every object (dbus.md) out. No I/O, no clock, no logging (architecture.md). docs/planner.md
// describes the verdict table as implemented and every decision the contracts leave open.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

namespace hostdevd {

// Actions are sorted by wave, then teardown before build within a wave (removals run first, safety.md),
// then by object; equal keys keep the order they were planned in (e.g. LoadModule before its Bind).
// Conflicts are sorted. The daemon re-plans only what changed with plan/incremental.hpp, which gives the
// same plan.
Plan make_plan(const DesiredState& desired, const ObservedState& observed);

} // namespace hostdevd
