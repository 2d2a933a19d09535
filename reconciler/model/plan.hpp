// A plan: what the pure planner decided from desired + observed state (../shared/design/safety.md).
#pragma once

#include "model/desired.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hostdevd {

// The verdict table of safety.md.
enum class Verdict {
    Safe,    // will be applied in this pass
    Waiting, // cannot be done yet, will be once the world changes by itself (PF has no driver yet)
    Blocked, // would disrupt something in use, or a type conflict; retried when the situation changes
    Invalid, // configuration asks for the impossible (vfs > totalvfs); not retried until config changes
    Never,   // hostdevd does not do this (managed devices, foreign devices)
};
const char* to_string(Verdict v);

// One sysfs write. `path` is relative to the sysfs root ("bus/pci/devices/0000:3b:00.0/sriov_numvfs");
// the writer joins it with the root, so the planner stays free of I/O and of the root.
struct SysfsWrite {
    std::string path;
    std::string value;
    bool operator==(const SysfsWrite&) const = default;
};

enum class ActionKind {
    SetAutoprobe, // sriov_drivers_autoprobe
    SetNumVfs,    // sriov_numvfs: one write (0 -> N, or N -> 0) or two (N -> 0 -> M)
    Bind,         // driver_override + drivers_probe (device without a driver)
    Unbind,       // driver/unbind (before a rebind, or driver = "none")
    CreateMdev,   // mdev_supported_types/<type>/create (+ attrs)
    RemoveMdev,   // <uuid>/remove
    SetVgpu,      // nvidia/current_vgpu_type
    LoadModule,   // modprobe `module` (a driver that is not loaded yet); no sysfs write
};
const char* to_string(ActionKind k);

// Waves run in this order; removal runs in reverse (safety.md).
enum class Wave : int { PfSettings = 0, VfCount = 1, Binding = 2, Mdev = 3 };

struct Action {
    ActionKind kind = ActionKind::Bind;
    Wave wave = Wave::Binding;
    std::string object;  // PCI address or mdev UUID the action is about
    std::string summary; // "sriov_numvfs 4 -> 8", "bind vfio-pci"
    Verdict verdict = Verdict::Safe;
    std::string reason;             // one line; for Safe a short why ("VF 3 has no driver")
    std::string source;             // FILE:LINE of the configuration entry
    std::vector<SysfsWrite> writes; // in order; empty unless the verdict is Safe
    std::string module;             // LoadModule only
    // Devices that must still be idle immediately before the writes (the executor re-checks them).
    std::vector<std::string> must_be_idle;
    bool disruptive = false; // destroys or detaches something that could have been in use
    // The devices that exist and the action destroys (docs/safety.md "Consent"): every VF of a PF whose
    // count goes through or to 0, an mdev removed or re-typed, a vGPU cleared or changed; one line each,
    // "0000:3b:02.0 (driver iavf)". Empty for every other action. With destroy_policy Ask (from the
    // configuration entry, or [policy]) the gate holds such an action until the operator consents.
    std::vector<std::string> destroys;
    DestroyPolicy destroy_policy = DestroyPolicy::Ask;
    // Non-empty for an action on a device that does not exist yet, shown with the plan but never executed:
    // what has to happen first ("the VFs appear", plan/future.hpp).
    std::string after;
};

// Identifies what an action leaves behind: object, kind and the last value it writes (or the module).
// The same effect key planned right after it was applied means the write did not take effect (a probe
// that bound nothing, a driver that enabled fewer VFs than asked): success of a write is not convergence.
std::string effect_key(const Action& action);

// Status of one object as D-Bus and hostdevctl report it (dbus.md `State`/`Reason`).
// Consent: an action that destroys devices that exist waits for the operator's approval (gate/gate.hpp).
enum class ObjectState { Converged, Pending, Blocked, Failed, Absent, Foreign, Consent };
const char* to_string(ObjectState s);

struct ObjectStatus {
    std::string object; // address or uuid; for absent entries the match text
    std::string role;   // "pf", "vf", "device", "mdev"
    ObjectState state = ObjectState::Converged;
    std::string reason;         // empty when converged
    std::string source;         // FILE:LINE of the selecting entry, "" for foreign
    std::string desired_driver; // "" if the configuration does not care
    std::string desired_vfs;    // "8", "min:8", "" (PF only)
    bool managed = false;
    std::string pool;
    std::string parent;       // mdev only: parent address (also before the instance exists)
    std::string mdev_type;    // mdev only: desired type id
    std::string desired_vgpu; // VF: the vGPU profile the configuration asks for ("NVIDIA L4-6Q"), "" if none
};

struct Plan {
    std::vector<Action> actions;                 // all of them, every verdict, in wave order
    std::map<std::string, ObjectStatus> objects; // by object key
    std::vector<std::string> conflicts;          // configuration conflicts found against this host

    // The actions of the earliest wave that has any Safe action: what one pass applies.
    std::vector<const Action*> next_wave() const;
    bool converged() const; // no action at all other than Never
};

} // namespace hostdevd
