#include "report/json.hpp"

#include "report/format.hpp"
#include "report/views.hpp"

#include <cstdio>

namespace hostdevd {

namespace {

std::string hex6(uint32_t v) {
    char buf[12];
    std::snprintf(buf, sizeof buf, "%06x", v);
    return buf;
}

const char* role_of(const PciDevice& d) {
    if (d.is_pf)
        return "pf";
    if (!d.physfn.empty())
        return "vf";
    return "device";
}

nlohmann::json netdev_json(const Netdev& n) {
    return {{"name", n.name},
            {"admin_up", n.admin_up},
            {"operstate", n.operstate},
            {"master", n.master},
            {"uppers", n.uppers}};
}

nlohmann::json mdev_types_json(const std::vector<MdevType>& types) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : types)
        out.push_back({{"id", t.id},
                       {"name", t.name},
                       {"device_api", t.device_api},
                       {"available_instances", t.available},
                       {"devices", t.devices}});
    return out;
}

} // namespace

nlohmann::json to_json(const ObservedState& observed) {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& [address, d] : observed.devices) {
        nlohmann::json j = {
            {"address", address},
            {"role", role_of(d)},
            {"vendor", hex4(d.vendor)},
            {"device", hex4(d.device)},
            {"class", hex6(d.class_code)},
            {"driver", d.driver},
            {"driver_override", d.driver_override},
            {"iommu_group", d.iommu_group ? nlohmann::json(*d.iommu_group) : nlohmann::json(nullptr)},
            {"in_use", d.in_use()},
            {"holders", d.holders},
        };
        if (d.is_pf)
            j["sriov"] = {{"total_vfs", d.total_vfs},
                          {"num_vfs", d.num_vfs},
                          {"drivers_autoprobe", d.drivers_autoprobe},
                          {"vfs", d.vfs}};
        if (!d.physfn.empty()) {
            j["physfn"] = d.physfn;
            j["vf_index"] = d.vf_index;
        }
        nlohmann::json nets = nlohmann::json::array();
        for (const auto& n : d.netdevs)
            nets.push_back(netdev_json(n));
        j["netdevs"] = nets;
        if (!d.mdev_types.empty())
            j["mdev_types"] = mdev_types_json(d.mdev_types);
        if (d.vgpu) {
            nlohmann::json creatable = nlohmann::json::array();
            for (const auto& t : d.vgpu->creatable)
                creatable.push_back({{"id", t.id}, {"name", t.name}});
            j["vgpu"] = {{"current", d.vgpu->current},
                         {"current_name", current_vgpu_name(d, observed)},
                         {"creatable", creatable}};
        }
        devices.push_back(std::move(j));
    }
    nlohmann::json mdevs = nlohmann::json::array();
    for (const auto& [uuid, m] : observed.mdevs)
        mdevs.push_back(
            {{"uuid", uuid},
             {"parent", m.parent},
             {"type", m.type},
             {"iommu_group", m.iommu_group ? nlohmann::json(*m.iommu_group) : nlohmann::json(nullptr)},
             {"in_use", m.in_use()},
             {"holders", m.holders}});
    nlohmann::json parents = nlohmann::json::array();
    for (const auto& [name, parent] : observed.mdev_parents)
        parents.push_back({{"name", name}, {"mdev_types", mdev_types_json(parent.mdev_types)}});
    nlohmann::json busy = nlohmann::json::array();
    for (const auto& [object, why] : observed.busy)
        busy.push_back({{"object", object}, {"reason", why}});
    return {{"devices", devices}, {"mdevs", mdevs}, {"mdev_parents", parents}, {"busy", busy}};
}

nlohmann::json to_json(const Action& a) {
    nlohmann::json writes = nlohmann::json::array();
    for (const auto& w : a.writes)
        writes.push_back({{"path", w.path}, {"value", w.value}});
    nlohmann::json j = {{"object", a.object},
                        {"action", to_string(a.kind)},
                        {"wave", static_cast<int>(a.wave)},
                        {"summary", a.summary},
                        {"verdict", to_string(a.verdict)},
                        {"reason", a.reason},
                        {"source", a.source},
                        {"writes", writes},
                        {"disruptive", a.disruptive},
                        {"must_be_idle", a.must_be_idle}};
    if (!a.module.empty())
        j["module"] = a.module;
    if (!a.after.empty())
        j["after"] = a.after;
    if (!a.destroys.empty()) {
        j["destroys"] = a.destroys; // what exists and goes: the list a consent is given for
        j["destroy_policy"] = to_string(a.destroy_policy);
    }
    return j;
}

nlohmann::json to_json(const ObjectStatus& s) {
    return {{"object", s.object},           {"role", s.role},           {"state", to_string(s.state)},
            {"reason", s.reason},           {"source", s.source},       {"desired_driver", s.desired_driver},
            {"desired_vfs", s.desired_vfs}, {"managed", s.managed},     {"pool", s.pool},
            {"parent", s.parent},           {"mdev_type", s.mdev_type}, {"desired_vgpu", s.desired_vgpu}};
}

nlohmann::json to_json(const ActionResult& r) {
    nlohmann::json j = {{"object", r.object},
                        {"summary", r.summary},
                        {"action", to_string(r.kind)},
                        {"source", r.source},
                        {"outcome", to_string(r.outcome)},
                        {"error", r.error},
                        {"message", r.message},
                        {"transient", r.transient},
                        {"holders", r.holders},
                        {"writes_done", r.writes_done},
                        {"duration_usec", r.duration.count()}};
    if (r.failed_write)
        j["failed_write"] = {{"path", r.failed_write->path}, {"value", r.failed_write->value}};
    if (r.stuck)
        j["stuck_write"] = {{"path", r.stuck->write.path},
                            {"value", r.stuck->write.value},
                            {"blocked_usec", r.stuck->blocked.count()}};
    return j;
}

std::string describe(const ActionResult& r) {
    std::string line =
        r.object + " " + (r.summary.empty() ? to_string(r.kind) : r.summary) + ": " + to_string(r.outcome);
    if (!r.message.empty())
        line += " (" + r.message + ")";
    return line;
}

nlohmann::json to_json(const Plan& plan, const GateDecision* gate) {
    nlohmann::json actions = nlohmann::json::array();
    for (size_t i = 0; i < plan.actions.size(); ++i) {
        nlohmann::json a = to_json(plan.actions[i]);
        if (const Hold* hold = gate ? gate->hold_of(i) : nullptr)
            a["held"] = {
                {"kind", to_string(hold->kind)}, {"state", to_string(hold->state)}, {"reason", hold->reason}};
        actions.push_back(std::move(a));
    }
    const std::map<std::string, Hold> held = gate ? gate->held_objects(plan) : std::map<std::string, Hold>{};
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& [key, s] : plan.objects) {
        nlohmann::json o = to_json(s);
        if (auto it = held.find(key); it != held.end()) {
            o["state"] = to_string(it->second.state);
            o["reason"] = it->second.reason;
        }
        objects.push_back(std::move(o));
    }
    return {{"actions", actions},
            {"objects", objects},
            {"conflicts", plan.conflicts},
            {"converged", plan.converged()}};
}

nlohmann::json to_json(const Plan& plan, const std::vector<Action>& future, const GateDecision* gate) {
    nlohmann::json j = to_json(plan, gate);
    nlohmann::json later = nlohmann::json::array();
    for (const auto& a : future)
        later.push_back(to_json(a));
    j["future"] = later;
    return j;
}

} // namespace hostdevd
