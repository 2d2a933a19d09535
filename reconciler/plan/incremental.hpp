// Re-planning only what changed (docs/planner.md, "Incremental planning"). The host is cut into units: an
// SR-IOV PF with its VFs, or any other PCI device, merged with the devices that share an IOMMU group with
// them, each with the mdevs whose parent is one of its devices (an
// mdev parent that is not an observed PCI device is a unit of its own). make_plan's decisions about one unit
// read no other unit's observed state (an IOMMU group shared by devices of several units makes them
// "coupled", below: group viability reads every member), with three exceptions, which are merged here:
// whether an entry selects anything anywhere (absent entries), which device asks first for a module that is
// not loaded (one LoadModule per module and plan), and an mdev UUID the configuration wants on one unit but
// that exists on, or is also wanted by, another ("coupled" units: then every plan is made for the whole host
// with make_plan until that is over). Both functions are pure: the previous plan goes in by value and the
// next one comes out.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hostdevd {

class IncrementalPlan {
public:
    const Plan& plan() const { return plan_; }

    // Keys of plan().objects (present or removed) whose status may differ from the previous plan's.
    // Not filled when all_changed(): then anything may differ.
    const std::set<std::string>& changed_objects() const { return changed_; }
    bool all_changed() const { return all_changed_; }

    // The last plan was made for the whole host at once (coupled units); the next replan() does so again.
    bool whole() const { return whole_; }

private:
    friend IncrementalPlan plan_all(const DesiredState&, const ObservedState&);
    friend IncrementalPlan replan(const DesiredState&, const ObservedState&, IncrementalPlan,
                                  const std::set<std::string>&, const std::set<std::string>&);

    // What one unit contributed to the plan, so that it can be taken out again.
    struct Unit {
        std::vector<std::string> objects;      // keys in plan_.objects
        std::vector<std::string> conflicts;    // texts in conflicts_
        std::vector<std::size_t> selecting;    // entries (index into entry_keys_) that select something here
        std::vector<std::string> wanted_mdevs; // UUIDs the configuration wants on this unit's parents
        std::vector<std::pair<std::string, std::string>> load_modules; // (module, device) asking to load it
    };

    // The part of the host and of the configuration one unit's plan reads.
    struct UnitInput {
        ObservedState observed;
        DesiredState desired;             // the entries that select something in the unit, in their order
        std::vector<std::size_t> entries; // their indices into entry_keys_
        bool coupled = false; // a PF of the unit lists a VF of another unit, or an IOMMU group spans units
    };

    static IncrementalPlan whole_plan(const DesiredState& desired, const ObservedState& observed);
    void index_entries(const DesiredState& desired);
    void index_everything(const ObservedState& observed);
    void reindex(const ObservedState& observed, const std::set<std::string>& changed_devices,
                 const std::set<std::string>& changed_mdevs, std::set<std::string>& dirty);
    std::string unit_of_parent(const std::string& parent) const;
    std::set<std::string> all_units() const;
    UnitInput unit_input(const DesiredState& desired, const ObservedState& observed,
                         const ObservedState& host_wide, const std::string& unit) const;
    void take_out(const std::string& unit, std::set<std::string>& removed);
    bool rebuild(const DesiredState& desired, const ObservedState& observed, std::set<std::string> dirty);
    void sync_absent_entries();

    Plan plan_;
    std::set<std::string> changed_;
    bool all_changed_ = true;
    bool whole_ = false;

    std::map<std::string, Unit> units_;
    std::map<std::string, std::string> device_unit_;            // observed device → its unit
    std::map<std::string, std::set<std::string>> unit_devices_; // unit → its observed devices
    std::map<int, std::set<std::string>> group_devices_;        // IOMMU group → its observed devices
    std::map<std::string, int> device_group_;                   // observed device → its IOMMU group
    void index_group(const PciDevice& device);
    std::string unit_of(const PciDevice& device, const ObservedState& observed) const;
    void unindex_group(const std::string& address);
    std::map<std::string, std::string> mdev_parent_;            // observed mdev → its parent
    std::map<std::string, std::set<std::string>> parent_mdevs_; // parent → its observed mdevs
    std::map<std::string, std::string> wanted_by_;              // wanted mdev UUID → the unit wanting it
    std::vector<std::string> entry_keys_;                       // FILE:LINE of every entry
    std::map<std::string, std::vector<std::size_t>>
        entries_by_address_; // entries whose match names an address
    std::vector<std::size_t> entries_without_address_;
    std::vector<std::size_t> selecting_units_;   // per entry: units it selects something in
    std::map<std::string, ObjectStatus> absent_; // per entry key: its status when absent
    std::map<std::string, std::map<std::string, Action>> load_asks_; // module → device → LoadModule
    std::multiset<std::string> conflicts_;
};

// Plans every unit (start, configuration change, Reconcile(), or a change of what all units read: drivers,
// modules, vGPU type names). The plan equals make_plan(desired, observed).
IncrementalPlan plan_all(const DesiredState& desired, const ObservedState& observed);

// Re-plans the units holding the changed devices and mdevs (PCI addresses, mdev UUIDs: re-read, added,
// removed, or with other holders) and keeps the rest of `previous`, which must have been planned for the same
// `desired`. The plan equals make_plan(desired, observed) when every observed difference since `previous` is
// named in the two sets.
IncrementalPlan replan(const DesiredState& desired, const ObservedState& observed, IncrementalPlan previous,
                       const std::set<std::string>& changed_devices,
                       const std::set<std::string>& changed_mdevs);

} // namespace hostdevd
