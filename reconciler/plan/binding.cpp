// Wave Binding: make each selected device's driver match `driver` (config.md), one safe step per pass.
// Kernel rules relied on:
// - driver_override names the only driver that may bind; "none" opts out of binding (ABI sysfs-bus-pci,
//   drivers/base/driver.c driver_set_override); it does not unbind or load anything by itself.
// - /sys/bus/pci/drivers_probe re-probes one device (drivers/base/bus.c); drivers/<d>/unbind detaches it and
//   fails with ENODEV unless <d> is the bound driver (bus.c unbind_store). Unbinding a VFIO device blocks
//   while a process holds it (drivers/vfio/vfio_main.c), hence the in-use check.
// - Unbinding a parent destroys its mdevs (mdev_core.c), and a PF driver's remove usually disables SR-IOV
//   (iov.c warns "driver left SR-IOV enabled after remove" otherwise), so a PF is idle only if its VFs are.
#include "plan/driver_names.hpp"
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"
#include "plan/vfio_alias.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>

namespace hostdevd::planner {

namespace {

// What to bind to, and why.
struct DriverTarget {
    std::string driver; // bind name; "" when it is only known once `module` is loaded
    std::string module; // module that provides it (modprobe name)
    bool loaded = false;
    std::string why; // "mlx5_vfio_pci: modules.alias match with 3 wildcards"
};

bool driver_registered(const ObservedState& observed, const std::string& driver) {
    return std::find(observed.drivers.begin(), observed.drivers.end(), driver) != observed.drivers.end();
}

DriverTarget resolve_target(const DriverChoice& choice, const PciDevice& device,
                            const ObservedState& observed) {
    DriverTarget target;
    if (choice.kind == DriverChoice::Kind::Named) {
        target.driver = choice.name;
        target.module = module_name_of(choice.name);
        target.loaded = driver_registered(observed, choice.name);
        target.why = choice.name + " requested";
        return target;
    }
    const VfioDriverPick pick =
        pick_vfio_driver(device.modalias, observed.vfio_aliases, observed.module_drivers);
    target.driver = pick.driver;
    target.module = pick.module;
    target.why = pick.why;
    // vfio-pci's bind name is known without loading it; a variant's only once its module is loaded.
    target.loaded =
        pick.module == "vfio_pci" ? driver_registered(observed, "vfio-pci") : !pick.driver.empty();
    return target;
}

// Holders that an unbind of `device` would disturb: its own, its mdevs', and for a PF its VFs'.
std::vector<std::string> unbind_holders(const PciDevice& device, const ObservedState& observed) {
    std::vector<std::string> holders = device_holders(observed, device.address);
    for (const std::string& vf : device.vfs)
        for (const std::string& holder : device_holders(observed, vf))
            holders.push_back("VF " + vf + ": " + holder);
    return holders;
}

std::vector<std::string> unbind_idle_set(const PciDevice& device, const ObservedState& observed) {
    std::vector<std::string> idle{device.address};
    for (const std::string& uuid : child_mdevs(observed, device.address))
        idle.push_back(uuid);
    for (const std::string& vf : device.vfs) {
        idle.push_back(vf);
        for (const std::string& uuid : child_mdevs(observed, vf))
            idle.push_back(uuid);
    }
    return idle;
}

class BindingPlanner {
public:
    BindingPlanner(const ObservedState& observed, std::vector<Action>& actions)
        : observed_(observed), actions_(actions) {}

    void plan(const PciDevice& device, const BindingClaim& claim) {
        destroy_ = claim.destroy;
        Action action = make_action(ActionKind::Bind, Wave::Binding, device.address, claim.source);
        if (claim.managed) {
            // `managed` with `driver` is a config error the loader rejects; never act on it anyway.
            action.summary = "bind";
            action.verdict = Verdict::Never;
            action.reason = "binding belongs to libvirt (managed)";
            actions_.push_back(std::move(action));
            return;
        }
        if (claim.driver.kind == DriverChoice::Kind::None) {
            plan_unbound(device, std::move(action));
            return;
        }
        const DriverTarget target = resolve_target(claim.driver, device, observed_);
        if (target.driver == device.driver && !target.driver.empty())
            return; // bound as wanted
        if (auto problem = invalid_target(claim, device, target)) {
            // Decided before anything is unbound or loaded: the device keeps its working driver.
            action.kind = device.driver.empty() ? ActionKind::Bind : ActionKind::Unbind;
            action.summary = (device.driver.empty() ? "bind " : "unbind " + device.driver + " (for ") +
                             (target.driver.empty() ? target.module : target.driver) +
                             (device.driver.empty() ? "" : ")");
            action.verdict = Verdict::Invalid;
            action.reason = *problem;
            actions_.push_back(std::move(action));
            return;
        }
        plan_bound(device, target, std::move(action));
    }

private:
    // driver = "none": unbind, and keep the device unbound across later probes with driver_override "none"
    // (a driver loaded later, or anyone's drivers_probe, would otherwise bind it again).
    void plan_unbound(const PciDevice& device, Action action) {
        action.kind = ActionKind::Unbind;
        const bool override_missing = device.has_driver_override && device.driver_override != "none";
        if (device.driver.empty()) {
            if (!override_missing)
                return;
            action.summary = "driver_override none";
            action.reason = "no driver bound; driver_override none keeps it that way";
            action.writes = {{device_attr(device.address, "driver_override"), "none"}};
            actions_.push_back(std::move(action));
            return;
        }
        action.summary = "unbind " + device.driver + " (driver = none)";
        if (block_if_in_use(device, action))
            return;
        action.reason = "bound to " + device.driver + ", configuration wants no driver; not in use";
        if (override_missing)
            action.writes.push_back({device_attr(device.address, "driver_override"), "none"});
        action.writes.push_back({driver_attr(device.driver, "unbind"), device.address});
        make_disruptive(device, action);
        actions_.push_back(std::move(action));
    }

    void plan_bound(const PciDevice& device, const DriverTarget& target, Action action) {
        // Bound to the wanted driver: converged, even if driver_override is stale.
        if (!target.driver.empty() && device.driver == target.driver)
            return;
        const std::string wanted = target.driver.empty() ? target.module : target.driver;
        if (!device.driver.empty()) {
            action.kind = ActionKind::Unbind;
            action.summary = "unbind " + device.driver + " (for " + wanted + ")";
            if (block_if_in_use(device, action))
                return;
            if (!target.loaded) {
                // Never detach a working driver for one that may fail to load: load first, unbind after.
                load_module(device, target, action.source);
                action.verdict = Verdict::Waiting;
                action.reason = "waiting for module " + target.module + " to load (" + target.why + ")";
                actions_.push_back(std::move(action));
                return;
            }
            action.reason =
                target.why + "; bound to " + device.driver + ", not in use; the bind follows next pass";
            action.writes = {{driver_attr(device.driver, "unbind"), device.address}};
            make_disruptive(device, action);
            actions_.push_back(std::move(action));
            return;
        }
        action.summary = "bind " + wanted;
        if (!target.loaded) {
            load_module(device, target, action.source);
            action.verdict = Verdict::Waiting;
            action.reason = "waiting for module " + target.module + " to load (" + target.why + ")";
            actions_.push_back(std::move(action));
            return;
        }
        action.reason = "no driver bound; " + target.why;
        if (device.has_driver_override) {
            action.writes = {{device_attr(device.address, "driver_override"), target.driver},
                             {"bus/pci/drivers_probe", device.address}};
        } else {
            // Kernels without driver_override: only the driver's own ID table can match (bus.c bind_store).
            action.writes = {{driver_attr(target.driver, "bind"), device.address}};
        }
        actions_.push_back(std::move(action));
    }

    // A target this kernel cannot bind: a driver name it does not know (or a module's name written for
    // its driver's), or vfio-pci for a device on vfio-pci's denylist while the denylist is on.
    std::optional<std::string> invalid_target(const BindingClaim& claim, const PciDevice& device,
                                              const DriverTarget& target) const {
        if (claim.driver.kind == DriverChoice::Kind::Named)
            if (auto problem = driver_name_problem(claim.driver.name, observed_))
                return problem;
        const bool to_vfio_pci =
            target.driver == "vfio-pci" || (target.driver.empty() && target.module == "vfio_pci");
        // vfio_pci.c: the probe fails with -EINVAL and logs "exists in vfio-pci device denylist, driver
        // probing disallowed"; drivers_probe still returns success (bus.c), leaving the device driverless.
        const std::optional<bool>& lifted = observed_.vfio_pci_disable_denylist; // unset: vfio_pci not loaded
        if (to_vfio_pci && vfio_pci_denylisted(device.vendor, device.device) && lifted && !*lifted)
            return hex_id(device) +
                   " is on vfio-pci's denylist (drivers/vfio/pci/vfio_pci.c: devices with "
                   "errata a guest could exploit), so vfio-pci refuses to probe it; loading "
                   "vfio-pci with disable_denylist=1 (vfio-pci.disable_denylist=1) lifts that";
        return std::nullopt;
    }

    static std::string hex_id(const PciDevice& d) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04x:%04x", d.vendor, d.device);
        return buf;
    }

    bool block_if_in_use(const PciDevice& device, Action& action) {
        std::vector<std::string> holders = unbind_holders(device, observed_);
        if (holders.empty())
            return false;
        action.verdict = Verdict::Blocked;
        action.reason = in_use_reason(device.address, holders);
        actions_.push_back(std::move(action));
        return true;
    }

    // An unbind detaches the device itself (it exists afterwards: automatic, docs/safety.md "Consent"), but
    // a PF's driver disables its VFs on remove and an mdev parent's driver takes its mdevs with it: those
    // are destroyed, and need consent like a VF-count change.
    void make_disruptive(const PciDevice& device, Action& action) {
        action.disruptive = true;
        action.must_be_idle = unbind_idle_set(device, observed_);
        for (const std::string& gone : action.must_be_idle) {
            if (gone == device.address)
                continue;
            action.destroys.push_back(observed_.find(gone) ? destroyed_device(observed_, gone)
                                                           : destroyed_mdev(observed_, gone));
        }
        action.destroy_policy = destroy_;
    }

    // One LoadModule per module per plan; the other devices that need it wait on it.
    void load_module(const PciDevice& device, const DriverTarget& target, const std::string& source) {
        if (!requested_modules_.insert(target.module).second)
            return;
        Action action = make_action(ActionKind::LoadModule, Wave::Binding, device.address, source);
        action.summary = "modprobe " + target.module;
        action.module = target.module;
        action.reason = target.why + "; module " + target.module + " is not loaded";
        actions_.push_back(std::move(action));
    }

    const ObservedState& observed_;
    std::vector<Action>& actions_;
    std::set<std::string> requested_modules_;
    DestroyPolicy destroy_ = DestroyPolicy::Ask; // the claim being planned
};

} // namespace

void plan_bindings(const Selection& selection, const ObservedState& observed, std::vector<Action>& actions) {
    BindingPlanner planner(observed, actions);
    for (const auto& [address, selected] : selection.devices) {
        const BindingClaim* claim = selected.binding();
        if (!claim || !selected.conflict.empty() || !selected.invalid.empty())
            continue;
        const PciDevice& device = *observed.find(address);
        if (claim->vgpu)
            plan_vgpu(*claim->vgpu, claim->source, claim->destroy, device, observed, actions);
        else if (claim->driver.kind != DriverChoice::Kind::Leave)
            planner.plan(device, *claim);
    }
}

} // namespace hostdevd::planner
