// The planner's parts, one per wave or concern; planner.cpp runs them in order and sorts the result.
// Each part appends actions (every verdict) and seeds status objects; status.cpp derives the rest.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "plan/selection.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd::planner {

// Wave PfSettings (sriov_drivers_autoprobe) and wave VfCount (sriov_numvfs), per selected PF (vf_count.cpp).
void plan_vf_counts(const Selection& selection, const ObservedState& observed, std::vector<Action>& actions);

// Wave Binding: driver binding of selected VFs and devices, and module loads (binding.cpp).
void plan_bindings(const Selection& selection, const ObservedState& observed, std::vector<Action>& actions);

// Wave Binding: NVIDIA vendor-specific VFIO vGPU profile of one VF (vgpu.cpp).
void plan_vgpu(const std::string& profile, const std::string& source, DestroyPolicy destroy,
               const PciDevice& vf, const ObservedState& observed, std::vector<Action>& actions);

// Wave Mdev: creation and removal of owned mdevs; seeds their status objects, reports absent parents and
// parent conflicts (mdev.cpp).
void plan_mdevs(const DesiredState& desired, const ObservedState& observed, std::vector<Action>& actions,
                std::map<std::string, ObjectStatus>& objects, std::vector<std::string>& conflicts);

// IOMMU groups the plan would leave mixed (a VFIO driver beside a host driver): the VFIO binds into them
// are blocked, and a device already on its VFIO driver in such a group reports blocked (group_viability.cpp).
// Call after seed_device_status.
void check_group_viability(const Selection& selection, const ObservedState& observed,
                           std::vector<Action>& actions, std::map<std::string, ObjectStatus>& objects);

// Status objects of selected, missing, absent and foreign devices and of foreign mdevs, then every
// object's state and reason from the actions about it (status.cpp).
void seed_device_status(const Selection& selection, const ObservedState& observed,
                        std::map<std::string, ObjectStatus>& objects);
void derive_states(const std::vector<Action>& actions, std::map<std::string, ObjectStatus>& objects);

// Everything make_plan decides before object states are derived from the actions: the sorted actions (every
// LoadModule a device asks for, before one per module is kept), the seeded status objects and the conflicts.
// The incremental planner (incremental.cpp) runs this for one unit of the host at a time.
struct PartialPlan {
    std::vector<Action> actions;
    std::map<std::string, ObjectStatus> objects;
    std::vector<std::string> conflicts;
};
PartialPlan plan_without_states(const DesiredState& desired, const ObservedState& observed);

// The order of Plan::actions: wave, then teardown before build, then object (a stable sort keeps planning
// order among equal keys, e.g. a device's LoadModule before its waiting Bind).
bool plan_order(const Action& a, const Action& b);

} // namespace hostdevd::planner
