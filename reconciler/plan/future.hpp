// The writes an apply will make on devices that do not exist yet: the bindings (driver, vGPU) of the VFs a
// planned VF-count change creates, or destroys and creates again (N -> 0 -> M). The planner plans a device
// only once it is observed, so these are not in Plan::actions; they are derived from the plan for showing
// it whole (hostdevctl plan, --json, D-Bus Plan()), never executed from here: the pass after the VFs
// appear plans them for real. Pure, like the planner.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

#include <set>
#include <vector>

namespace hostdevd {

// What `after` says on every action returned below.
inline constexpr const char* kAfterVfsAppear = "the VFs appear";

// One action per VF binding a Safe SetNumVfs action of `plan` leads to, in VF order, each with verdict
// Waiting, `after` = kAfterVfsAppear and the writes the next passes will make once the VF exists:
//  - the VF's address comes from the PF's sriov_offset/sriov_stride (iov.c pci_iov_virtfn_devfn); without
//    them the object is "<pf>/vf<N>" and no write can be named;
//  - a driver: driver_override + drivers_probe (or drivers/<d>/bind on kernels without driver_override);
//    `driver = "vfio"` is resolved from an existing VF's modalias (the new VFs have the same IDs), else
//    from vfio-pci's generic line; a driver whose module is not loaded yet shows the module;
//  - `driver = "none"`: driver_override "none"; a vGPU profile: nvidia/current_vgpu_type when its id is
//    known on this host;
//  - with sriov_drivers_autoprobe on when the VFs appear, a driver may bind them by itself; it is
//    unbound first, which the reason says (which driver that is is only known once it happened).
// `held`: indexes into plan.actions that the gate holds back (gate/gate.hpp GateDecision::held_indexes):
// a held VF-count change creates no VFs now, so nothing is shown as following from it.
std::vector<Action> future_actions(const Plan& plan, const DesiredState& desired,
                                   const ObservedState& observed, const std::set<size_t>& held = {});

} // namespace hostdevd
