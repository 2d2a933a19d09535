// Selection: which observed devices each configuration entry selects, what each selected device is asked
// to be, and where two entries disagree (config.md "Selecting devices", "Ownership and removal").
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd::planner {

// True when every key `match` sets holds for `device`. An empty match selects nothing: "all of no keys"
// would select the whole host, which no one means (the config loader rejects it too).
bool matches(const Match& match, const PciDevice& device);

// What an entry can select (docs/planner.md "Selection"): a [[pf]] entry only devices that are not VFs
// (a VF is never a PF, even when it carries its PF's device ID, as many GPUs' VFs do); other entries any
// device their match holds for. Whether an entry selects anything at all (absent entries) is this.
bool pf_entry_selects(const Match& match, const PciDevice& device);

// The match names one device itself (address, netdev or path), not a kind of device (vendor/device).
bool names_device(const Match& match);

// What a `[[pf.vf]]` table or a `[[device]]` entry asks of one device's binding.
struct BindingClaim {
    DriverChoice driver;
    bool managed = false;
    std::string pool;
    std::optional<std::string> vgpu;
    std::string source; // FILE:LINE of the [[pf.vf]] table or [[device]] entry
    // [[pf.vf]]: its [[pf]]'s destroy (may a vGPU be cleared without consent); [[device]]: [policy]'s (may
    // unbinding a PF or an mdev parent destroy its VFs and mdevs without consent).
    DestroyPolicy destroy = DestroyPolicy::Ask;
    bool same_settings(const BindingClaim& other) const;
};

struct DeviceSelection {
    std::string address;
    std::string source;                    // FILE:LINE of the first entry that selects it
    std::vector<const PfEntry*> pf_claims; // [[pf]] entries selecting this device
    std::vector<BindingClaim> binding_claims;
    std::string conflict; // non-empty: entries disagree; the device is left untouched (blocked)
    std::string invalid;  // non-empty: a [[pf]] selected a device without SR-IOV

    // Resolved settings, only meaningful when `conflict` is empty.
    const PfEntry* pf() const { return pf_claims.empty() ? nullptr : pf_claims.front(); }
    const BindingClaim* binding() const { return binding_claims.empty() ? nullptr : &binding_claims.front(); }
};

// A `[[pf.vf]]` index whose VF does not exist (yet).
struct MissingVf {
    std::string pf_address;
    uint32_t index = 0;
    BindingClaim claim;
    bool will_exist = false; // the PF's VF count (current or planned) reaches it
    uint32_t future_count = 0;
};

// An entry that selects nothing on this host.
struct AbsentEntry {
    std::string source; // FILE:LINE
    std::string match;  // Match::str()
    std::string role;   // "pf", "device", "mdev"
};

struct Selection {
    std::map<std::string, DeviceSelection> devices; // by address
    std::vector<MissingVf> missing_vfs;
    std::vector<AbsentEntry> absent;
    std::vector<std::string> conflicts;
};

Selection select_devices(const DesiredState& desired, const ObservedState& observed);

// The number of VFs the PF will have once the VF count wave has done what it can: `vfs = N` gives N,
// `{min = N}` gives N only when there are none yet (min never resizes), no `vfs` leaves the current count.
uint32_t future_vf_count(const PfEntry* entry, const PciDevice& pf);

} // namespace hostdevd::planner
