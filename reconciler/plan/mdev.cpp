// Wave Mdev: create the configured mediated devices, remove or re-type our own idle ones, never touch
// anyone else's. Kernel rules relied on (sysfs-abi.md §3): writing a UUID to
// mdev_supported_types/<type>/create creates an instance (mdev_sysfs.c create_store), failing with EUSERS
// when available_instances is 0 and EEXIST for a UUID that exists on any parent (mdev_core.c); writing "1"
// to <uuid>/remove destroys it, and blocks or fails while a VFIO user holds it (vfio_main.c).
//
// Removal comes before creation: within the Mdev wave removals sort first (planner.cpp), and a creation
// that needs the room a removal frees waits for it (next pass).
#include "plan/mdev_uuid.hpp"
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace hostdevd::planner {

namespace {

struct DesiredInstance {
    std::string uuid;
    std::string label; // "#2" for count entries, the UUID's first group for explicit ones
    const MdevEntry* entry = nullptr;
};

bool same_settings(const MdevEntry& a, const MdevEntry& b) {
    return a.type == b.type && a.count == b.count && a.uuids == b.uuids && a.attrs == b.attrs;
}

std::vector<DesiredInstance> desired_instances(const std::string& parent, const MdevEntry& entry) {
    std::vector<DesiredInstance> out;
    if (entry.count)
        for (uint32_t i = 0; i < *entry.count; ++i)
            out.push_back({mdev_instance_uuid(parent, i), "#" + std::to_string(i), &entry});
    for (const std::string& uuid : entry.uuids)
        out.push_back({uuid, uuid.substr(0, 8), &entry});
    return out;
}

// Two different entries on one parent conflict when both name instances by index (the UUIDs come from the
// same "<parent>/<index>" names) or when they list the same UUID.
bool entries_conflict(const std::string& parent, const MdevEntry& a, const MdevEntry& b) {
    if (a.count && b.count)
        return true;
    std::set<std::string> mine;
    for (const auto& instance : desired_instances(parent, a))
        mine.insert(instance.uuid);
    for (const auto& instance : desired_instances(parent, b))
        if (mine.count(instance.uuid))
            return true;
    return false;
}

class ParentPlanner {
public:
    ParentPlanner(const std::string& parent, const ObservedState& observed, std::vector<Action>& actions,
                  std::map<std::string, ObjectStatus>& objects)
        : parent_(parent), observed_(observed), actions_(actions), objects_(objects) {}

    void plan(const std::vector<const MdevEntry*>& entries) {
        std::map<std::string, DesiredInstance> desired;
        std::vector<DesiredInstance> order;
        // Instances beyond `count` (up to kOwnedMdevIndexBound) are still ours: found, they are removed.
        std::map<std::string, std::pair<const MdevEntry*, uint32_t>> owned_extra;
        for (const MdevEntry* entry : entries) {
            for (const DesiredInstance& instance : desired_instances(parent_, *entry)) {
                desired.emplace(instance.uuid, instance);
                order.push_back(instance);
            }
            if (entry->count)
                for (uint32_t i = *entry->count; i < kOwnedMdevIndexBound; ++i)
                    owned_extra.emplace(mdev_instance_uuid(parent_, i), std::make_pair(entry, i));
        }

        for (const auto& [uuid, mdev] : observed_.mdevs) {
            if (mdev.parent != parent_)
                continue;
            if (auto it = desired.find(uuid); it != desired.end()) {
                seed(uuid, *it->second.entry);
                if (mdev.type != it->second.entry->type)
                    remove(mdev, *it->second.entry,
                           "owned instance has type " + mdev.type + ", configuration wants " +
                               it->second.entry->type);
            } else if (auto extra = owned_extra.find(uuid); extra != owned_extra.end()) {
                const MdevEntry& entry = *extra->second.first;
                seed(uuid, entry);
                remove(mdev, entry,
                       "owned instance #" + std::to_string(extra->second.second) +
                           " is beyond count = " + std::to_string(*entry.count));
            }
        }
        // Missing instances, and re-typed ones (created again once their removal has happened).
        for (const DesiredInstance& instance : order) {
            auto found = observed_.mdevs.find(instance.uuid);
            if (found == observed_.mdevs.end() || found->second.parent != parent_ ||
                found->second.type != instance.entry->type)
                create(instance);
        }
    }

private:
    void seed(const std::string& uuid, const MdevEntry& entry) {
        ObjectStatus& status = objects_[uuid];
        status.object = uuid;
        status.role = "mdev";
        status.source = entry.source.file_line();
        status.parent = parent_;
        status.mdev_type = entry.type;
    }

    void remove(const MdevDevice& mdev, const MdevEntry& entry, const std::string& why) {
        Action action = make_action(ActionKind::RemoveMdev, Wave::Mdev, mdev.uuid, entry.source.file_line());
        action.summary = "remove " + mdev.type + " instance from " + parent_;
        if (mdev.in_use()) {
            action.verdict = Verdict::Blocked;
            action.reason = in_use_reason("mdev " + mdev.uuid, mdev.holders);
        } else {
            action.reason = why + "; not in use";
            action.writes = {{"bus/mdev/devices/" + mdev.uuid + "/remove", "1"}};
            action.disruptive = true;
            action.must_be_idle = {mdev.uuid};
            action.destroys = {destroyed_mdev(observed_, mdev.uuid)};
            action.destroy_policy = entry.destroy.value_or(DestroyPolicy::Ask);
            being_removed_.insert(mdev.uuid);
        }
        actions_.push_back(std::move(action));
    }

    void create(const DesiredInstance& instance) {
        const MdevEntry& entry = *instance.entry;
        seed(instance.uuid, entry);
        Action action =
            make_action(ActionKind::CreateMdev, Wave::Mdev, instance.uuid, entry.source.file_line());
        action.summary = "create " + entry.type + " " + instance.label + " on " + parent_;
        finish_create(instance, action);
        actions_.push_back(std::move(action));
    }

    void finish_create(const DesiredInstance& instance, Action& action) {
        const MdevEntry& entry = *instance.entry;
        if (auto elsewhere = observed_.mdevs.find(instance.uuid); elsewhere != observed_.mdevs.end()) {
            if (elsewhere->second.parent == parent_) { // re-type: the old instance must go first
                const bool removing = being_removed_.count(instance.uuid) != 0;
                action.verdict = removing ? Verdict::Waiting : Verdict::Blocked;
                action.reason = removing ? "waiting for removal of " + instance.uuid
                                         : "instance " + instance.uuid + " of type " +
                                               elsewhere->second.type + " cannot be removed while in use";
                return;
            }
            action.verdict = Verdict::Blocked;
            action.reason = "UUID " + instance.uuid + " already exists on parent " + elsewhere->second.parent;
            return;
        }
        const MdevType* type = nullptr;
        std::vector<std::string> offered;
        for (const MdevType& candidate : parent_types()) {
            offered.push_back(candidate.id);
            if (candidate.id == entry.type)
                type = &candidate;
        }
        if (!type) {
            // Types appear when the parent's vendor driver registers; an empty list may still fill in.
            action.verdict = offered.empty() ? Verdict::Waiting : Verdict::Invalid;
            action.reason = offered.empty() ? "parent " + parent_ + " offers no mdev types (yet)"
                                            : "parent " + parent_ + " has no mdev type " + entry.type +
                                                  " (offers: " + join(offered, ", ") + ")";
            return;
        }
        uint32_t& planned = planned_creates_[entry.type];
        if (type->available > planned) {
            ++planned;
            action.reason = "available_instances " + std::to_string(type->available) + " on " + parent_;
            action.writes = {{parent_attr("mdev_supported_types/" + entry.type + "/create"), instance.uuid}};
            for (const MdevAttr& attr : entry.attrs)
                action.writes.push_back({"bus/mdev/devices/" + instance.uuid + "/" + attr.name, attr.value});
            return;
        }
        // No room: name what occupies the parent, by type.
        std::map<std::string, std::vector<std::string>> occupants;
        bool all_being_removed = true;
        for (const auto& [uuid, mdev] : observed_.mdevs) {
            if (mdev.parent != parent_ || mdev.type == entry.type)
                continue;
            occupants[mdev.type].push_back(uuid);
            all_being_removed = all_being_removed && being_removed_.count(uuid);
        }
        if (!occupants.empty() && all_being_removed) {
            std::vector<std::string> uuids;
            for (const auto& [type_id, list] : occupants)
                uuids.insert(uuids.end(), list.begin(), list.end());
            action.verdict = Verdict::Waiting;
            action.reason = "waiting for removal of " + join(uuids, ", ");
            return;
        }
        action.verdict = Verdict::Blocked;
        if (occupants.empty()) {
            action.reason = "no " + entry.type + " instances left on parent " + parent_ +
                            " (available_instances " + std::to_string(type->available) + ")";
            return;
        }
        std::vector<std::string> groups;
        for (const auto& [type_id, list] : occupants)
            groups.push_back(type_id + " instances: " + join(list, ", "));
        action.reason = "parent " + parent_ + " holds " + join(groups, "; ");
    }

    // A PCI parent is read and written through its PCI device; any other parent through the mdev_bus
    // class link that names it (/sys/class/mdev_bus/mtty → /sys/devices/virtual/mtty/mtty).
    const std::vector<MdevType>& parent_types() const {
        if (const PciDevice* device = observed_.find(parent_))
            return device->mdev_types;
        return observed_.mdev_parents.at(parent_).mdev_types;
    }
    std::string parent_attr(const std::string& attribute) const {
        return observed_.find(parent_) ? device_attr(parent_, attribute) : mdev_bus_attr(parent_, attribute);
    }

    const std::string& parent_;
    const ObservedState& observed_;
    std::vector<Action>& actions_;
    std::map<std::string, ObjectStatus>& objects_;
    std::set<std::string> being_removed_;
    std::map<std::string, uint32_t> planned_creates_;
};

} // namespace

void plan_mdevs(const DesiredState& desired, const ObservedState& observed, std::vector<Action>& actions,
                std::map<std::string, ObjectStatus>& objects, std::vector<std::string>& conflicts) {
    std::map<std::string, std::vector<const MdevEntry*>> by_parent;
    for (const MdevEntry& entry : desired.mdevs) {
        bool selected_any = false;
        auto select = [&](const std::string& parent) {
            selected_any = true;
            auto& entries = by_parent[parent];
            // Identical settings from two entries are one wish, not a conflict.
            bool duplicate = false;
            for (const MdevEntry* known : entries)
                duplicate = duplicate || same_settings(*known, entry);
            if (!duplicate)
                entries.push_back(&entry);
        };
        if (entry.parent.name) {
            if (observed.mdev_parents.count(*entry.parent.name))
                select(*entry.parent.name);
        } else {
            // A GPU whose VFs carry its device ID and are the mdev parents (SR-IOV vGPU, A100): a match by
            // IDs selects the PF too, which offers no types; it is not a parent when its VFs are selected.
            auto vf_selected = [&](const PciDevice& pf) {
                return std::any_of(pf.vfs.begin(), pf.vfs.end(), [&](const std::string& vf) {
                    const PciDevice* d = observed.find(vf);
                    return d && matches(entry.parent, *d);
                });
            };
            for (const auto& [address, device] : observed.devices)
                if (matches(entry.parent, device) &&
                    !(device.is_pf && device.mdev_types.empty() && vf_selected(device)))
                    select(address);
        }
        if (!selected_any) {
            ObjectStatus& status = objects[entry.source.file_line()];
            status.object = entry.parent.str();
            status.role = "mdev";
            status.state = ObjectState::Absent;
            status.reason = entry.parent.name ? "no mdev parent " + *entry.parent.name +
                                                    " under /sys/class/mdev_bus (is its driver loaded?)"
                                              : "no device matches parent " + entry.parent.str();
            status.source = entry.source.file_line();
            status.mdev_type = entry.type;
        }
    }

    for (const auto& [parent, entries] : by_parent) {
        std::string conflict;
        for (size_t i = 0; i < entries.size() && conflict.empty(); ++i)
            for (size_t j = i + 1; j < entries.size() && conflict.empty(); ++j)
                if (entries_conflict(parent, *entries[i], *entries[j]))
                    conflict = entries[i]->source.file_line() + " and " + entries[j]->source.file_line();
        if (conflict.empty()) {
            ParentPlanner(parent, observed, actions, objects).plan(entries);
            continue;
        }
        conflicts.push_back(parent + ": [[mdev]] entries " + conflict +
                            " select the same parent with conflicting settings");
        for (const MdevEntry* entry : entries) {
            for (const DesiredInstance& instance : desired_instances(parent, *entry)) {
                ObjectStatus& status = objects[instance.uuid];
                status.object = instance.uuid;
                status.role = "mdev";
                status.state = ObjectState::Blocked;
                status.reason = "conflicting settings from " + conflict + " for parent " + parent;
                status.source = entry->source.file_line();
                status.parent = parent;
                status.mdev_type = entry->type;
            }
        }
    }
}

} // namespace hostdevd::planner
