#include "report/views.hpp"

#include "report/format.hpp"

#include <algorithm>
#include <cstdio>

namespace hostdevd {

namespace {

// State, reason and source of a Device or Mdev view: the plan's, unless the object's last write failed.
template <typename View>
void set_state(View& v, const ObjectStatus& status,
               std::map<std::string, ObjectFailure>::const_iterator failure,
               const std::map<std::string, ObjectFailure>& failures) {
    v.state = to_string(status.state);
    v.reason = status.reason;
    v.source = status.source;
    if (failure != failures.end()) {
        v.state = failure->second.state;
        v.reason = failure->second.reason;
    }
}

// The view of one plan object. Views are keyed by the plan key: an address or an mdev UUID (the status's
// object), or for absent objects the entry's FILE:LINE or "<pf>/vf<i>".
void derive_view(Views& views, const std::string& key, const ObjectStatus& status,
                 const ObservedState& observed, const std::map<std::string, ObjectFailure>& failures) {
    auto failure = failures.find(key);
    if (status.role == "mdev" && status.state != ObjectState::Absent) {
        MdevView v;
        v.uuid = status.object;
        auto it = observed.mdevs.find(status.object);
        v.active = it != observed.mdevs.end();
        v.parent = status.parent;
        v.type = status.mdev_type;
        if (v.active) {
            v.parent = it->second.parent;
            v.type = it->second.type;
            v.holders = it->second.holders;
            v.in_use = it->second.in_use();
        }
        set_state(v, status, failure, failures);
        views.mdevs.insert_or_assign(key, std::move(v));
        return;
    }
    const PciDevice* d = observed.find(status.object);
    if (!d) {
        views.absent.insert_or_assign(key, status);
        return;
    }
    DeviceView v;
    v.address = d->address;
    v.role = status.role;
    v.vendor_id = hex4(d->vendor);
    v.device_id = hex4(d->device);
    v.physfn = d->physfn;
    v.driver = d->driver;
    v.desired_driver = status.desired_driver;
    v.managed = status.managed;
    v.pool = status.pool;
    v.num_vfs = d->num_vfs;
    v.total_vfs = d->total_vfs;
    v.desired_vfs = status.desired_vfs;
    v.vgpu = current_vgpu_name(*d, observed);
    v.desired_vgpu = status.desired_vgpu;
    v.in_use = d->in_use();
    v.holders = d->holders;
    set_state(v, status, failure, failures);
    views.devices.insert_or_assign(key, std::move(v));
}

} // namespace

std::string current_vgpu_name(const PciDevice& device, const ObservedState& observed) {
    if (!device.vgpu || device.vgpu->current == 0)
        return "";
    const uint32_t id = device.vgpu->current;
    if (auto it = observed.vgpu_type_names.find(id); it != observed.vgpu_type_names.end())
        return it->second;
    for (const auto& [address, other] : observed.devices)
        if (other.vgpu)
            for (const VgpuType& type : other.vgpu->creatable)
                if (type.id == id)
                    return type.name;
    return std::to_string(id);
}

Views derive_views(const ObservedState& observed, const Plan& plan,
                   const std::map<std::string, ObjectFailure>& failures) {
    Views views;
    for (const auto& [key, status] : plan.objects)
        derive_view(views, key, status, observed, failures);
    return views;
}

void update_views(Views& views, const ObservedState& observed, const Plan& plan,
                  const std::map<std::string, ObjectFailure>& failures, const std::set<std::string>& keys) {
    for (const std::string& key : keys) {
        views.devices.erase(key);
        views.mdevs.erase(key);
        views.absent.erase(key);
        if (auto it = plan.objects.find(key); it != plan.objects.end())
            derive_view(views, key, it->second, observed, failures);
    }
}

std::string manager_state(const Views& views, const Plan& plan, bool runnable, bool config_valid,
                          bool starting) {
    if (!config_valid)
        return "invalid-config";
    if (starting)
        return "starting";
    bool blocked = false;
    auto consider = [&blocked](const std::string& state) {
        if (state == "blocked" || state == "consent") // consent: nothing happens without the operator
            blocked = true;
        return state == "failed";
    };
    for (const auto& [a, v] : views.devices)
        if (consider(v.state))
            return "degraded";
    for (const auto& [u, v] : views.mdevs)
        if (consider(v.state))
            return "degraded";
    if (runnable)
        return "progressing";
    for (const auto& a : plan.actions)
        if (a.verdict == Verdict::Waiting)
            return "progressing";
    return blocked || !plan.conflicts.empty() ? "blocked" : "converged";
}

std::string local_manager_state(const Views& views, const Plan& plan) {
    const bool runnable = std::any_of(plan.actions.begin(), plan.actions.end(),
                                      [](const Action& a) { return a.verdict == Verdict::Safe; });
    return manager_state(views, plan, runnable, true, false);
}

std::vector<std::string> changed_properties(const DeviceView& a, const DeviceView& b) {
    std::vector<std::string> out;
    auto check = [&out](bool differs, const char* name) {
        if (differs)
            out.push_back(name);
    };
    check(a.role != b.role, "Role");
    check(a.vendor_id != b.vendor_id, "VendorId");
    check(a.device_id != b.device_id, "DeviceId");
    check(a.physfn != b.physfn, "PhysFn");
    check(a.driver != b.driver, "Driver");
    check(a.desired_driver != b.desired_driver, "DesiredDriver");
    check(a.managed != b.managed, "Managed");
    check(a.pool != b.pool, "Pool");
    check(a.num_vfs != b.num_vfs, "NumVFs");
    check(a.total_vfs != b.total_vfs, "TotalVFs");
    check(a.desired_vfs != b.desired_vfs, "DesiredVFs");
    check(a.vgpu != b.vgpu, "Vgpu");
    check(a.desired_vgpu != b.desired_vgpu, "DesiredVgpu");
    check(a.in_use != b.in_use, "InUse");
    check(a.holders != b.holders, "Holders");
    check(a.state != b.state, "State");
    check(a.reason != b.reason, "Reason");
    check(a.source != b.source, "Source");
    return out;
}

std::vector<std::string> changed_properties(const MdevView& a, const MdevView& b) {
    std::vector<std::string> out;
    auto check = [&out](bool differs, const char* name) {
        if (differs)
            out.push_back(name);
    };
    check(a.parent != b.parent, "Parent");
    check(a.type != b.type, "Type");
    check(a.active != b.active, "Active");
    check(a.in_use != b.in_use, "InUse");
    check(a.holders != b.holders, "Holders");
    check(a.state != b.state, "State");
    check(a.reason != b.reason, "Reason");
    check(a.source != b.source, "Source");
    return out;
}

nlohmann::json to_json(const DeviceView& v) {
    return {{"address", v.address},
            {"role", v.role},
            {"vendor_id", v.vendor_id},
            {"device_id", v.device_id},
            {"physfn", v.physfn},
            {"driver", v.driver},
            {"desired_driver", v.desired_driver},
            {"managed", v.managed},
            {"pool", v.pool},
            {"num_vfs", v.num_vfs},
            {"total_vfs", v.total_vfs},
            {"desired_vfs", v.desired_vfs},
            {"vgpu", v.vgpu},
            {"desired_vgpu", v.desired_vgpu},
            {"in_use", v.in_use},
            {"holders", v.holders},
            {"state", v.state},
            {"reason", v.reason},
            {"source", v.source}};
}

nlohmann::json to_json(const MdevView& v) {
    return {{"uuid", v.uuid},     {"parent", v.parent}, {"type", v.type},
            {"active", v.active}, {"in_use", v.in_use}, {"holders", v.holders},
            {"state", v.state},   {"reason", v.reason}, {"source", v.source}};
}

} // namespace hostdevd
