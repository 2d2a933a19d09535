#include "plan/planner.hpp"

#include "plan/plan_parts.hpp"
#include "plan/selection.hpp"

#include <algorithm>

namespace hostdevd {

namespace planner {

namespace {

// Teardown (0) sorts before build (1) inside a wave: "removal runs in reverse" (safety.md), so a parent's
// owned mdevs of the wrong type go before the creations that need their room.
int teardown_rank(const Action& action) {
    switch (action.kind) {
    case ActionKind::RemoveMdev:
    case ActionKind::Unbind:
        return 0;
    case ActionKind::SetVgpu:
        return action.writes.size() == 1 && action.writes[0].value == "0" ? 0 : 1;
    default:
        return 1;
    }
}

} // namespace

bool plan_order(const Action& a, const Action& b) {
    if (a.wave != b.wave)
        return a.wave < b.wave;
    if (teardown_rank(a) != teardown_rank(b))
        return teardown_rank(a) < teardown_rank(b);
    return a.object < b.object;
}

PartialPlan plan_without_states(const DesiredState& desired, const ObservedState& observed) {
    PartialPlan plan;
    const Selection selection = select_devices(desired, observed);
    plan.conflicts = selection.conflicts;

    plan_vf_counts(selection, observed, plan.actions);
    plan_bindings(selection, observed, plan.actions);
    plan_mdevs(desired, observed, plan.actions, plan.objects, plan.conflicts);
    std::stable_sort(plan.actions.begin(), plan.actions.end(), plan_order);

    seed_device_status(selection, observed, plan.objects);
    check_group_viability(selection, observed, plan.actions, plan.objects);
    return plan;
}

} // namespace planner

Plan make_plan(const DesiredState& desired, const ObservedState& observed) {
    planner::PartialPlan part = planner::plan_without_states(desired, observed);
    Plan plan;
    plan.actions = std::move(part.actions);
    plan.objects = std::move(part.objects);
    plan.conflicts = std::move(part.conflicts);
    std::sort(plan.conflicts.begin(), plan.conflicts.end());
    planner::derive_states(plan.actions, plan.objects);
    return plan;
}

} // namespace hostdevd
