// What the exports for hostdevd's consumers are made of (docs/consumers.md): the configuration (pools and
// their consumer attributes), the host as observed, the plan and the published views, and, from the
// daemon, its own state and counters. Everything here is pure: values in, values out.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "report/views.hpp"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace hostdevd {

// An export that cannot be made (two pools that would get one consumer name, a pool mixing device types
// a consumer keeps apart). The message names the pools.
class ExportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Actions the daemon carried out since it started, by action kind ("bind", "set-numvfs", ...), for the
// metrics. hostdevctl without a daemon has none.
struct ActionCounters {
    std::map<std::string, uint64_t> applied;    // every write of the action succeeded
    std::map<std::string, uint64_t> disruptive; // ... and it was disruptive (destroyed or detached something)
    std::map<std::string, uint64_t> failed;     // a write or the module load failed
};

// The daemon's own state, for the metrics (the Manager's properties, dbus.md).
struct ExportManagerState {
    std::string version;
    std::string state; // starting, converged, progressing, blocked, degraded, invalid-config
    bool config_valid = true;
    uint64_t config_generation = 0;
    uint64_t last_reconcile_usec = 0;
    size_t failing_exports = 0;
    bool operator==(const ExportManagerState&) const = default;
};

struct ExportInput {
    const DesiredState& desired;
    const ObservedState& observed;
    const Plan& plan;
    const Views& views;
    ExportManagerState manager;
    const ActionCounters* counters = nullptr; // the daemon's; nullptr from hostdevctl without a daemon
};

// One device of a pool as consumers see it.
struct ExportDevice {
    std::string address; // "0000:3b:02.0"
    std::string role;    // "vf", "device", "pf"
    std::string physfn;  // PF address of a VF
    uint16_t vendor = 0, device = 0;
    uint32_t class_code = 0; // PCI class, 0x020000 for an Ethernet controller
    std::string driver;      // bound now
};

// A pool: the devices whose configuration entries name it, with its [[pool]] attributes (all defaults when
// no [[pool]] describes it).
struct ExportPool {
    std::string name;
    ConsumerBinding binding = ConsumerBinding::Other;
    PoolSettings settings;
    std::vector<ExportDevice> devices; // sorted by address; converged ones only unless `all`
    size_t not_converged = 0;          // devices present but not converged, left out (0 with `all`)
};

// Every pool an entry names, sorted by name, with its present devices.
std::vector<ExportPool> export_pools(const ExportInput& input, bool all);

} // namespace hostdevd
