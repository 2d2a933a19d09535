#include "plan/incremental.hpp"

#include "plan/plan_parts.hpp"
#include "plan/planner.hpp"
#include "plan/selection.hpp"

#include <algorithm>
#include <iterator>

namespace hostdevd {

namespace {

// A device's own unit: a VF's is its PF, anything else's the device itself (before IOMMU groups merge them).
std::string base_unit(const PciDevice& device) {
    return device.physfn.empty() ? device.address : device.physfn;
}

// Entries are numbered [[pf]] first, then [[device]], then [[mdev]], each in configuration order.
const Match& entry_match(const DesiredState& desired, std::size_t index) {
    if (index < desired.pfs.size())
        return desired.pfs[index].match;
    index -= desired.pfs.size();
    if (index < desired.devices.size())
        return desired.devices[index].match;
    return desired.mdevs[index - desired.devices.size()].parent;
}

void add_entry(const DesiredState& from, std::size_t index, DesiredState& to) {
    if (index < from.pfs.size()) {
        to.pfs.push_back(from.pfs[index]);
        return;
    }
    index -= from.pfs.size();
    if (index < from.devices.size()) {
        to.devices.push_back(from.devices[index]);
        return;
    }
    to.mdevs.push_back(from.mdevs[index - from.devices.size()]);
}

// What every unit's plan reads besides its own devices and mdevs. A new host-wide field of ObservedState
// must be copied here (the property test in tests/unit/plan/test_incremental.cpp fills every field).
ObservedState host_wide_state(const ObservedState& observed) {
    ObservedState out;
    out.drivers = observed.drivers;
    out.vfio_aliases = observed.vfio_aliases;
    out.module_drivers = observed.module_drivers;
    out.vgpu_type_names = observed.vgpu_type_names;
    out.available_modules = observed.available_modules;
    out.vfio_pci_disable_denylist = observed.vfio_pci_disable_denylist;
    out.vfio_pci_enable_sriov = observed.vfio_pci_enable_sriov;
    return out;
}

void erase_from(std::map<std::string, std::set<std::string>>& index, const std::string& key,
                const std::string& member) {
    auto it = index.find(key);
    if (it == index.end())
        return;
    it->second.erase(member);
    if (it->second.empty())
        index.erase(it);
}

// An mdev the configuration wants (as opposed to a foreign one, or an entry that selects nothing).
bool wanted_mdev(const ObjectStatus& status) {
    return status.role == "mdev" && status.state != ObjectState::Foreign &&
           status.state != ObjectState::Absent;
}

} // namespace

IncrementalPlan IncrementalPlan::whole_plan(const DesiredState& desired, const ObservedState& observed) {
    IncrementalPlan out;
    out.plan_ = make_plan(desired, observed);
    out.whole_ = true;
    return out;
}

void IncrementalPlan::index_entries(const DesiredState& desired) {
    auto add = [this](const SourceLocation& source, const Match& match) {
        const std::size_t index = entry_keys_.size();
        entry_keys_.push_back(source.file_line());
        if (match.address)
            entries_by_address_[*match.address].push_back(index);
        else
            entries_without_address_.push_back(index);
    };
    for (const PfEntry& e : desired.pfs)
        add(e.source, e.match);
    for (const DeviceEntry& e : desired.devices)
        add(e.source, e.match);
    for (const MdevEntry& e : desired.mdevs)
        add(e.source, e.parent);
    selecting_units_.assign(entry_keys_.size(), 0);
}

std::string IncrementalPlan::unit_of_parent(const std::string& parent) const {
    auto it = device_unit_.find(parent);
    return it == device_unit_.end() ? parent : it->second;
}

void IncrementalPlan::index_group(const PciDevice& device) {
    if (!device.iommu_group)
        return;
    group_devices_[*device.iommu_group].insert(device.address);
    device_group_[device.address] = *device.iommu_group;
}

void IncrementalPlan::unindex_group(const std::string& address) {
    auto it = device_group_.find(address);
    if (it == device_group_.end())
        return;
    auto members = group_devices_.find(it->second);
    members->second.erase(address);
    if (members->second.empty())
        group_devices_.erase(members);
    device_group_.erase(it);
}

// Devices of one IOMMU group share a unit (group viability reads every member): the smallest of their own
// units. A group that also splits a PF from its VFs makes them "coupled" (unit_input): planned whole.
std::string IncrementalPlan::unit_of(const PciDevice& device, const ObservedState& observed) const {
    std::string unit = base_unit(device);
    if (!device.iommu_group)
        return unit;
    auto group = group_devices_.find(*device.iommu_group);
    if (group == group_devices_.end() || group->second.size() < 2)
        return unit;
    for (const std::string& member : group->second)
        if (const PciDevice* d = observed.find(member))
            unit = std::min(unit, base_unit(*d));
    return unit;
}

void IncrementalPlan::index_everything(const ObservedState& observed) {
    for (const auto& [address, device] : observed.devices)
        index_group(device);
    for (const auto& [address, device] : observed.devices) {
        const std::string unit = unit_of(device, observed);
        device_unit_.emplace(address, unit);
        unit_devices_[unit].insert(address);
    }
    for (const auto& [uuid, mdev] : observed.mdevs) {
        mdev_parent_.emplace(uuid, mdev.parent);
        parent_mdevs_[mdev.parent].insert(uuid);
    }
}

// Moves the changed devices and mdevs to their current units; `dirty` gets every unit they left or joined.
void IncrementalPlan::reindex(const ObservedState& observed, const std::set<std::string>& changed_devices,
                              const std::set<std::string>& changed_mdevs, std::set<std::string>& dirty) {
    // Group memberships first: a device's unit follows its group-mates', so the members of every group a
    // changed device left or joined are placed again too.
    std::set<std::string> affected(changed_devices.begin(), changed_devices.end());
    auto add_members = [&](int group) {
        if (auto it = group_devices_.find(group); it != group_devices_.end())
            affected.insert(it->second.begin(), it->second.end());
    };
    for (const std::string& address : changed_devices) {
        if (auto it = device_group_.find(address); it != device_group_.end())
            add_members(it->second);
        unindex_group(address);
        if (const PciDevice* device = observed.find(address)) {
            index_group(*device);
            if (device->iommu_group)
                add_members(*device->iommu_group);
        }
    }
    for (const std::string& address : affected) {
        const PciDevice* device = observed.find(address);
        const std::string unit = device ? unit_of(*device, observed) : std::string();
        auto it = device_unit_.find(address);
        if (it != device_unit_.end() && device && it->second == unit && !changed_devices.count(address))
            continue; // an unchanged group-mate that stays where it was
        if (it != device_unit_.end()) {
            dirty.insert(it->second);
            erase_from(unit_devices_, it->second, address);
            device_unit_.erase(it);
        }
        if (device) {
            device_unit_.emplace(address, unit);
            unit_devices_[unit].insert(address);
            dirty.insert(unit);
        }
        // Its mdevs move along: to its unit, or to a unit of their own when it is gone.
        if (parent_mdevs_.count(address))
            dirty.insert(address);
    }
    for (const std::string& uuid : changed_mdevs) {
        if (auto it = mdev_parent_.find(uuid); it != mdev_parent_.end()) {
            dirty.insert(unit_of_parent(it->second));
            erase_from(parent_mdevs_, it->second, uuid);
            mdev_parent_.erase(it);
        }
        if (auto it = observed.mdevs.find(uuid); it != observed.mdevs.end()) {
            mdev_parent_.emplace(uuid, it->second.parent);
            parent_mdevs_[it->second.parent].insert(uuid);
            dirty.insert(unit_of_parent(it->second.parent));
        }
    }
}

std::set<std::string> IncrementalPlan::all_units() const {
    std::set<std::string> units;
    for (const auto& [unit, devices] : unit_devices_)
        units.insert(unit);
    for (const auto& [parent, uuids] : parent_mdevs_)
        units.insert(unit_of_parent(parent));
    return units;
}

IncrementalPlan::UnitInput IncrementalPlan::unit_input(const DesiredState& desired,
                                                       const ObservedState& observed,
                                                       const ObservedState& host_wide,
                                                       const std::string& unit) const {
    UnitInput in;
    in.observed = host_wide;
    auto add_mdevs_of = [&](const std::string& parent) {
        if (auto it = parent_mdevs_.find(parent); it != parent_mdevs_.end())
            for (const std::string& uuid : it->second)
                in.observed.mdevs.emplace(uuid, observed.mdevs.at(uuid));
    };
    std::set<std::size_t> candidates(entries_without_address_.begin(), entries_without_address_.end());
    if (auto it = unit_devices_.find(unit); it != unit_devices_.end()) {
        for (const std::string& address : it->second) {
            const PciDevice& device = observed.devices.at(address);
            in.observed.devices.emplace(address, device);
            add_mdevs_of(address);
            for (const std::string& vf : device.vfs)
                if (auto at = device_unit_.find(vf); at != device_unit_.end() && at->second != unit)
                    in.coupled = true; // the planner would read another unit's VF
            if (device.iommu_group)
                for (const std::string& member : group_devices_.at(*device.iommu_group))
                    if (auto at = device_unit_.find(member); at != device_unit_.end() && at->second != unit)
                        in.coupled = true; // group viability reads every member of the group
            if (auto entries = entries_by_address_.find(address); entries != entries_by_address_.end())
                candidates.insert(entries->second.begin(), entries->second.end());
        }
    }
    if (!device_unit_.count(unit))
        add_mdevs_of(unit);

    // Only the entries that select something here: the others would only report themselves absent, which
    // is decided across units (sync_absent_entries).
    for (std::size_t index : candidates) {
        const Match& match = entry_match(desired, index);
        const bool pf_entry = index < desired.pfs.size();
        for (const auto& [address, device] : in.observed.devices) {
            if (pf_entry ? planner::pf_entry_selects(match, device) : planner::matches(match, device)) {
                in.entries.push_back(index);
                add_entry(desired, index, in.desired);
                break;
            }
        }
    }
    return in;
}

// Takes a unit's contribution out of the plan; its object keys go to `removed`.
void IncrementalPlan::take_out(const std::string& name, std::set<std::string>& removed) {
    auto it = units_.find(name);
    if (it == units_.end())
        return;
    Unit& unit = it->second;
    for (const std::string& key : unit.objects) {
        plan_.objects.erase(key);
        removed.insert(key);
        changed_.insert(key);
    }
    for (const std::string& text : unit.conflicts)
        conflicts_.erase(conflicts_.find(text));
    for (std::size_t entry : unit.selecting)
        --selecting_units_[entry];
    for (const std::string& uuid : unit.wanted_mdevs)
        wanted_by_.erase(uuid);
    for (const auto& [module, device] : unit.load_modules) {
        auto asks = load_asks_.find(module);
        asks->second.erase(device);
        if (asks->second.empty())
            load_asks_.erase(asks);
    }
    units_.erase(it);
}

// Re-plans the `dirty` units and merges them into the plan. False when units turn out to be coupled; the
// plan is then unusable and the caller plans the whole host.
bool IncrementalPlan::rebuild(const DesiredState& desired, const ObservedState& observed,
                              std::set<std::string> dirty) {
    const ObservedState host_wide = host_wide_state(observed);
    struct Fresh {
        planner::PartialPlan part;
        std::vector<std::size_t> entries;
    };
    std::map<std::string, Fresh> fresh;
    std::set<std::string> removed;
    std::set<std::string> done; // units re-planned (or found to have nothing to plan) in this call

    // The device that loads a module is the first one in address order that asks, across units. When that
    // choice moves, the units of the old and of the new choice are re-planned as well: a device's status
    // comes from its actions, the LoadModule among them.
    std::map<std::string, std::string> chosen_before;
    auto chosen = [this](const std::string& module) {
        auto asks = load_asks_.find(module);
        return asks == load_asks_.end() ? std::string() : asks->second.begin()->first;
    };
    auto note_module = [&](const std::string& module) {
        if (!chosen_before.count(module))
            chosen_before[module] = chosen(module);
    };
    while (!dirty.empty()) {
        for (const std::string& name : dirty) {
            if (auto it = units_.find(name); it != units_.end())
                for (const auto& [module, device] : it->second.load_modules)
                    note_module(module);
            take_out(name, removed);
        }
        for (const std::string& name : dirty) {
            done.insert(name);
            UnitInput in = unit_input(desired, observed, host_wide, name);
            if (in.coupled)
                return false;
            // Nothing to plan: no entry selects anything here, and there is no PF or mdev to report foreign.
            if (in.entries.empty() && in.observed.mdevs.empty() &&
                std::none_of(in.observed.devices.begin(), in.observed.devices.end(),
                             [](const auto& d) { return d.second.is_pf; }))
                continue;
            Fresh& f = fresh[name];
            f.part = planner::plan_without_states(in.desired, in.observed);
            f.entries = std::move(in.entries);
            for (const Action& action : f.part.actions) {
                if (action.kind != ActionKind::LoadModule)
                    continue;
                note_module(action.module);
                load_asks_[action.module].emplace(action.object, action);
            }
        }
        std::set<std::string> more;
        for (const auto& [module, before] : chosen_before) {
            const std::string now = chosen(module);
            if (now == before)
                continue;
            for (const std::string& device : {before, now}) {
                auto it = device_unit_.find(device);
                if (it != device_unit_.end() && !done.count(it->second))
                    more.insert(it->second);
            }
        }
        dirty = std::move(more);
    }

    // Coupled units: an mdev UUID wanted by two units, or wanted by one and present on another (the
    // planner then reads across units: "UUID already exists on parent", foreign or not).
    for (auto& [name, f] : fresh)
        for (const auto& [key, status] : f.part.objects)
            if (wanted_mdev(status) && !wanted_by_.emplace(key, name).second)
                return false;
    for (auto& [name, f] : fresh) {
        for (const auto& [key, status] : f.part.objects) {
            if (wanted_mdev(status)) {
                auto parent = mdev_parent_.find(key);
                if (parent != mdev_parent_.end() && unit_of_parent(parent->second) != name)
                    return false;
            } else if (status.role == "mdev" && status.state == ObjectState::Foreign) {
                auto wanter = wanted_by_.find(key);
                if (wanter != wanted_by_.end() && wanter->second != name)
                    return false;
            }
        }
    }

    std::erase_if(plan_.actions, [&removed](const Action& a) { return removed.count(a.object) != 0; });
    std::vector<Action> added;
    for (auto& [name, f] : fresh) {
        Unit& unit = units_[name];
        for (const Action& a : f.part.actions)
            if (a.kind == ActionKind::LoadModule)
                unit.load_modules.emplace_back(a.module, a.object);
        std::erase_if(f.part.actions, [&chosen](const Action& a) {
            return a.kind == ActionKind::LoadModule && chosen(a.module) != a.object;
        });
        planner::derive_states(f.part.actions, f.part.objects);
        for (auto& [key, status] : f.part.objects) {
            if (wanted_mdev(status))
                unit.wanted_mdevs.push_back(key);
            if (!plan_.objects.emplace(key, std::move(status)).second)
                return false; // two units report the same object
            unit.objects.push_back(key);
            changed_.insert(key);
        }
        for (std::size_t entry : f.entries)
            ++selecting_units_[entry];
        unit.selecting = std::move(f.entries);
        conflicts_.insert(f.part.conflicts.begin(), f.part.conflicts.end());
        unit.conflicts = std::move(f.part.conflicts);
        std::move(f.part.actions.begin(), f.part.actions.end(), std::back_inserter(added));
    }
    std::stable_sort(added.begin(), added.end(), planner::plan_order);
    std::vector<Action> merged;
    merged.reserve(plan_.actions.size() + added.size());
    std::merge(std::make_move_iterator(plan_.actions.begin()), std::make_move_iterator(plan_.actions.end()),
               std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()),
               std::back_inserter(merged), planner::plan_order);
    plan_.actions = std::move(merged);
    plan_.conflicts.assign(conflicts_.begin(), conflicts_.end());
    sync_absent_entries();
    return true;
}

// An entry that selects nothing in any unit is reported absent (its status as planned without devices).
void IncrementalPlan::sync_absent_entries() {
    for (std::size_t i = 0; i < entry_keys_.size(); ++i) {
        const std::string& key = entry_keys_[i];
        const bool absent = selecting_units_[i] == 0;
        auto it = plan_.objects.find(key);
        if (absent && it == plan_.objects.end()) {
            plan_.objects.emplace(key, absent_.at(key));
            changed_.insert(key);
        } else if (!absent && it != plan_.objects.end()) {
            plan_.objects.erase(it);
            changed_.insert(key);
        }
    }
}

namespace {

// Units are PCI devices with what hangs below them. A parent that is not a PCI device (selected by
// `name`, or observed under /sys/class/mdev_bus) has no unit here: such hosts (s390, the sample drivers)
// are planned whole, which is correct and, with a handful of objects, cheap.
bool has_non_pci_mdev_parents(const DesiredState& desired, const ObservedState& observed) {
    if (!observed.mdev_parents.empty())
        return true;
    for (const MdevEntry& entry : desired.mdevs)
        if (entry.parent.name)
            return true;
    return false;
}

} // namespace

IncrementalPlan plan_all(const DesiredState& desired, const ObservedState& observed) {
    if (has_non_pci_mdev_parents(desired, observed))
        return IncrementalPlan::whole_plan(desired, observed);
    IncrementalPlan out;
    out.index_entries(desired);
    out.absent_ = planner::plan_without_states(desired, host_wide_state(observed)).objects;
    out.index_everything(observed);
    if (!out.rebuild(desired, observed, out.all_units()))
        return IncrementalPlan::whole_plan(desired, observed);
    out.changed_.clear();
    out.all_changed_ = true;
    return out;
}

IncrementalPlan replan(const DesiredState& desired, const ObservedState& observed, IncrementalPlan previous,
                       const std::set<std::string>& changed_devices,
                       const std::set<std::string>& changed_mdevs) {
    if (previous.whole_ || has_non_pci_mdev_parents(desired, observed))
        return plan_all(desired, observed);
    IncrementalPlan out = std::move(previous);
    out.changed_.clear();
    out.all_changed_ = false;
    std::set<std::string> dirty;
    out.reindex(observed, changed_devices, changed_mdevs, dirty);
    if (!out.rebuild(desired, observed, std::move(dirty)))
        return IncrementalPlan::whole_plan(desired, observed);
    return out;
}

} // namespace hostdevd
