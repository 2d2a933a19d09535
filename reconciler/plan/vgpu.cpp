// Wave Binding, NVIDIA vendor-specific VFIO (vGPU 17+, no mdev): each VF bound to `nvidia` has
// nvidia/creatable_vgpu_types ("<id> : <name>" lines, only the types that can be created *now*) and
// nvidia/current_vgpu_type (0 = none; writing an id creates the vGPU, writing 0 deletes it). Source:
// NVIDIA/vgpu-device-manager PR #195 README and sysfs.go (devices.toml, nvidia-l4/h100 notes).
#include "plan/driver_names.hpp"
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"

#include <optional>
#include <string>

namespace hostdevd::planner {

namespace {

// Profile names may be written without the "NVIDIA " prefix the driver prints ("L4-6Q" for "NVIDIA L4-6Q").
bool profile_matches(const std::string& type_name, const std::string& profile) {
    return type_name == profile || type_name == "NVIDIA " + profile;
}

const VgpuType* find_profile(const VgpuState& state, const std::string& profile) {
    for (const VgpuType& type : state.creatable)
        if (profile_matches(type.name, profile))
            return &type;
    return nullptr;
}

// A VF that already holds a vGPU may no longer list its own type as creatable, so the name -> id mapping
// is also looked up on the sibling VFs of the same PF (the ids are per GPU model, not per VF).
const VgpuType* find_profile_on_siblings(const PciDevice& vf, const ObservedState& observed,
                                         const std::string& profile) {
    const PciDevice* pf = observed.find(vf.physfn);
    if (!pf)
        return nullptr;
    for (const std::string& sibling : pf->vfs) {
        const PciDevice* other = observed.find(sibling);
        if (other && other->vgpu)
            if (const VgpuType* type = find_profile(*other->vgpu, profile))
                return type;
    }
    return nullptr;
}

// Last resort: the names of vGPU types hostdevd has seen on this host (a fully used GPU lists nothing).
std::optional<VgpuType> find_profile_remembered(const ObservedState& observed, const std::string& profile) {
    for (const auto& [id, name] : observed.vgpu_type_names)
        if (profile_matches(name, profile))
            return VgpuType{id, name};
    return std::nullopt;
}

// A vGPU creation already planned (Safe) for another VF of the same PF.
bool creation_planned_on_sibling(const PciDevice& vf, const ObservedState& observed,
                                 const std::vector<Action>& actions) {
    for (const Action& a : actions) {
        if (a.kind != ActionKind::SetVgpu || a.verdict != Verdict::Safe || a.writes.empty() ||
            a.writes.back().value == "0") // a clear frees capacity, it does not use it
            continue;
        const PciDevice* other = observed.find(a.object);
        if (other && other->address != vf.address && other->physfn == vf.physfn)
            return true;
    }
    return false;
}

// Every vGPU profile name known on this host: listed by any VF now, or remembered this boot.
std::vector<std::string> known_profiles(const ObservedState& observed) {
    std::vector<std::string> names;
    for (const auto& [id, name] : observed.vgpu_type_names)
        names.push_back(name);
    for (const auto& [address, device] : observed.devices)
        if (device.vgpu)
            for (const VgpuType& type : device.vgpu->creatable)
                names.push_back(type.name);
    return names;
}

std::string creatable_list(const VgpuState& state) {
    std::vector<std::string> names;
    for (const VgpuType& type : state.creatable)
        names.push_back(type.name);
    return names.empty() ? "none" : join(names, ", ");
}

} // namespace

void plan_vgpu(const std::string& profile, const std::string& source, DestroyPolicy destroy,
               const PciDevice& vf, const ObservedState& observed, std::vector<Action>& actions) {
    Action action = make_action(ActionKind::SetVgpu, Wave::Binding, vf.address, source);
    const std::string path = device_attr(vf.address, "nvidia/current_vgpu_type");
    if (!vf.vgpu) {
        action.summary = "vgpu " + profile;
        const bool nvidia_may_come = vf.driver.empty() || vf.driver == "nvidia";
        action.verdict = nvidia_may_come ? Verdict::Waiting : Verdict::Blocked;
        action.reason = nvidia_may_come
                            ? "VF has no nvidia/current_vgpu_type yet (waiting for the nvidia driver)"
                            : "VF is bound to " + vf.driver + "; vGPU profiles need the nvidia driver";
        actions.push_back(std::move(action));
        return;
    }
    const VgpuState& state = *vf.vgpu;
    const VgpuType* own = find_profile(state, profile);
    const VgpuType* known = own ? own : find_profile_on_siblings(vf, observed, profile);
    std::optional<VgpuType> remembered;
    if (!known && (remembered = find_profile_remembered(observed, profile)))
        known = &*remembered;
    if (known && state.current == known->id)
        return;
    if (!known) {
        if (auto meant = profile_suggestion(profile, known_profiles(observed))) {
            // A slip in the name (its case, a letter), not a profile that does not fit now: never acted on.
            action.summary = "vgpu " + profile;
            action.verdict = Verdict::Invalid;
            action.reason = "vGPU profile \"" + profile +
                            "\" is not a profile of this host's GPUs: did you mean \"" + *meant + "\"?";
            actions.push_back(std::move(action));
            return;
        }
    }

    if (state.current != 0) {
        const std::string want = known ? std::to_string(known->id) : "?";
        action.summary = "current_vgpu_type " + std::to_string(state.current) + " -> 0 (for " + want + ")";
        if (std::vector<std::string> holders = device_holders(observed, vf.address); !holders.empty()) {
            action.verdict = Verdict::Blocked;
            action.reason = in_use_reason(vf.address, holders);
        } else if (!known) {
            // Do not delete a working vGPU for a profile no VF of this GPU offers.
            action.verdict = Verdict::Blocked;
            action.reason = "vGPU profile \"" + profile +
                            "\" is not creatable (creatable: " + creatable_list(state) +
                            "); keeping vGPU type " + std::to_string(state.current);
        } else {
            action.reason = "VF holds vGPU type " + std::to_string(state.current) + ", configuration wants " +
                            known->name + " (" + std::to_string(known->id) +
                            "); not in use, created next pass";
            action.writes = {{path, "0"}};
            action.disruptive = true;
            action.must_be_idle = {vf.address};
            action.destroys = {"vGPU type " + std::to_string(state.current) + " on " +
                               destroyed_device(observed, vf.address)};
            action.destroy_policy = destroy;
        }
        actions.push_back(std::move(action));
        return;
    }
    action.summary = "current_vgpu_type 0 -> " + (own ? std::to_string(own->id) : "?") + " (" + profile + ")";
    if (!own) {
        action.verdict = Verdict::Blocked;
        action.reason = "vGPU profile \"" + profile + "\" is not creatable on " + vf.address +
                        " (creatable: " + creatable_list(state) + ")";
    } else if (creation_planned_on_sibling(vf, observed, actions)) {
        // creatable_vgpu_types says whether one more vGPU fits, not how many: a second creation on the
        // same GPU in one pass may find the capacity gone (EINVAL). One per GPU per pass, then re-observe.
        action.verdict = Verdict::Waiting;
        action.reason = "another VF of " + vf.physfn + " gets a vGPU this pass; capacity is re-read first";
    } else {
        action.reason = "VF has no vGPU; " + own->name + " is creatable";
        action.writes = {{path, std::to_string(own->id)}};
    }
    actions.push_back(std::move(action));
}

} // namespace hostdevd::planner
