// What hostdevd publishes about each object (D-Bus properties, Describe(), hostdevctl status), derived
// purely from the observation, the plan and the executor's recent failures. Comparing two views tells
// which properties changed, so a pass emits at most one PropertiesChanged per object.
#pragma once

#include "model/observed.hpp"
#include "model/plan.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace hostdevd {

struct DeviceView {
    std::string address, role, vendor_id, device_id, physfn, driver, desired_driver;
    bool managed = false;
    std::string pool;
    uint32_t num_vfs = 0, total_vfs = 0;
    std::string desired_vfs;
    std::string vgpu;         // the VF's current vGPU profile ("NVIDIA L4-6Q", its id when the name is not
                              // known, "" when none or no nvidia files)
    std::string desired_vgpu; // the profile the configuration asks for, "" if none
    bool in_use = false;
    std::vector<std::string> holders;
    std::string state, reason, source;
    bool operator==(const DeviceView&) const = default;
};

// The name of the vGPU type a VF holds now: "" when none, its name when this host knows it (creatable on
// any VF now, or remembered), else its id.
std::string current_vgpu_name(const PciDevice& device, const ObservedState& observed);

struct MdevView {
    std::string uuid, parent, type;
    bool active = false, in_use = false;
    std::vector<std::string> holders;
    std::string state, reason, source;
    bool operator==(const MdevView&) const = default;
};

// What an object reports beyond its planned status: an action the gate holds back (gate/gate.hpp: it
// failed, did not take, keeps being undone) or a write stuck in the kernel. Shown with its own state.
struct ObjectFailure {
    std::string reason;
    std::string state = "failed";
    bool operator==(const ObjectFailure&) const = default;
};

struct Views {
    std::map<std::string, DeviceView> devices;  // by address
    std::map<std::string, MdevView> mdevs;      // by uuid
    std::map<std::string, ObjectStatus> absent; // by plan key: entries that select nothing, VFs that do
                                                // not exist (no D-Bus object)
};

// One view per object of the plan: a device view when the device is observed, an mdev view for each mdev
// the configuration wants or finds foreign, else an absent status.
Views derive_views(const ObservedState& observed, const Plan& plan,
                   const std::map<std::string, ObjectFailure>& failures);

// Re-derives only the views of `keys` (plan object keys, present or not), leaving the rest of `views`
// as it is: equal to derive_views() when every object whose status, observation or failure changed since
// `views` was derived is among `keys`.
void update_views(Views& views, const ObservedState& observed, const Plan& plan,
                  const std::map<std::string, ObjectFailure>& failures, const std::set<std::string>& keys);

// Manager `State` from the views and the configuration status (dbus.md). `runnable`: the gate has actions
// to run now (progressing).
std::string manager_state(const Views& views, const Plan& plan, bool runnable, bool config_valid,
                          bool starting);
// The same for a view made here, without the daemon's gate (hostdevctl export --local): a valid
// configuration, and `progressing` while the plan has a safe action.
std::string local_manager_state(const Views& views, const Plan& plan);

// Names of the properties that differ (D-Bus member names: "Driver", "State", ...).
std::vector<std::string> changed_properties(const DeviceView& before, const DeviceView& after);
std::vector<std::string> changed_properties(const MdevView& before, const MdevView& after);

nlohmann::json to_json(const DeviceView& v);
nlohmann::json to_json(const MdevView& v);

} // namespace hostdevd
