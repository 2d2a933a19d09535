// Status objects (dbus.md `State`/`Reason`): every selected PF, VF and device, VFs the configuration
// names that do not exist yet, entries that select nothing, foreign SR-IOV PFs and foreign mdevs. Objects
// seeded without a preset state take it from the actions about them.
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"
#include "plan/vfio_alias.hpp"

#include <string>

namespace hostdevd::planner {

namespace {

void apply_claim(ObjectStatus& status, const BindingClaim& claim) {
    status.desired_driver = driver_text(claim.driver);
    status.managed = claim.managed;
    status.pool = claim.pool;
    status.desired_vgpu = claim.vgpu.value_or("");
}

// `driver = "vfio"` names no driver: the status says which one it resolves to on this host and why, also
// once converged (the action reasons that say it are gone then).
void apply_claim(ObjectStatus& status, const BindingClaim& claim, const PciDevice& device,
                 const ObservedState& observed) {
    apply_claim(status, claim);
    if (claim.driver.kind != DriverChoice::Kind::Vfio || claim.managed)
        return;
    const VfioDriverPick pick =
        pick_vfio_driver(device.modalias, observed.vfio_aliases, observed.module_drivers);
    status.desired_driver = "vfio: " + pick.why;
}

std::string role_of(const PciDevice& device) {
    if (device.is_pf)
        return "pf";
    return device.physfn.empty() ? "device" : "vf";
}

} // namespace

void seed_device_status(const Selection& selection, const ObservedState& observed,
                        std::map<std::string, ObjectStatus>& objects) {
    for (const auto& [address, selected] : selection.devices) {
        ObjectStatus& status = objects[address];
        status.object = address;
        status.role = role_of(*observed.find(address));
        status.source = selected.pf()        ? selected.pf()->source.file_line()
                        : selected.binding() ? selected.binding()->source
                                             : selected.source;
        if (const PfEntry* pf = selected.pf(); pf && pf->vfs)
            status.desired_vfs = pf->vfs->str();
        if (const BindingClaim* claim = selected.binding())
            apply_claim(status, *claim, *observed.find(address), observed);
        if (!selected.conflict.empty()) {
            status.state = ObjectState::Blocked;
            status.reason = selected.conflict;
        }
    }

    for (const MissingVf& missing : selection.missing_vfs) {
        const std::string key = missing.pf_address + "/vf" + std::to_string(missing.index);
        ObjectStatus& status = objects[key];
        status.object = key;
        status.role = "vf";
        status.source = missing.claim.source;
        apply_claim(status, missing.claim);
        status.state = missing.will_exist ? ObjectState::Pending : ObjectState::Absent;
        status.reason = missing.will_exist
                            ? "waiting for VF " + std::to_string(missing.index) + " to exist"
                            : "VF index " + std::to_string(missing.index) + " does not exist (PF has " +
                                  std::to_string(missing.future_count) + " VFs)";
    }

    for (const AbsentEntry& absent : selection.absent) {
        ObjectStatus& status = objects[absent.source];
        status.object = absent.match;
        status.role = absent.role;
        status.source = absent.source;
        status.state = ObjectState::Absent;
        status.reason = "no device matches " + absent.match;
    }

    // Foreign: SR-IOV PFs no entry selects (their VFs are not reported) and mdevs that are not ours.
    for (const auto& [address, device] : observed.devices) {
        if (!device.is_pf || selection.devices.count(address))
            continue;
        ObjectStatus& status = objects[address];
        status.object = address;
        status.role = "pf";
        status.state = ObjectState::Foreign;
        status.reason = "no configuration entry selects it";
    }
    for (const auto& [uuid, mdev] : observed.mdevs) {
        if (objects.count(uuid))
            continue;
        ObjectStatus& status = objects[uuid];
        status.object = uuid;
        status.role = "mdev";
        status.parent = mdev.parent;
        status.mdev_type = mdev.type;
        status.state = ObjectState::Foreign;
        status.reason = "not created by this configuration";
    }
}

void derive_states(const std::vector<Action>& actions, std::map<std::string, ObjectStatus>& objects) {
    // Only objects still at the default state are derived; absent/foreign/conflict states are final.
    std::map<std::string, const Action*> blocking, pending;
    for (const Action& action : actions) {
        switch (action.verdict) {
        case Verdict::Blocked:
        case Verdict::Invalid:
            blocking.emplace(action.object, &action);
            break;
        case Verdict::Safe:
        case Verdict::Waiting:
            pending.emplace(action.object, &action);
            break;
        case Verdict::Never:
            break;
        }
    }
    for (auto& [key, status] : objects) {
        if (status.state != ObjectState::Converged)
            continue;
        if (auto it = blocking.find(key); it != blocking.end()) {
            status.state = ObjectState::Blocked;
            status.reason = it->second->reason;
        } else if (auto it2 = pending.find(key); it2 != pending.end()) {
            status.state = ObjectState::Pending;
            status.reason = it2->second->reason;
        }
    }
}

} // namespace hostdevd::planner
