// IOMMU group viability (issue 15): VFIO hands a group to a guest only when every member is bound to a
// VFIO driver, to pci-stub, to no driver, or is a bridge. Otherwise attaching the group to a container
// fails with EPERM (drivers/iommu/iommu.c iommu_group_claim_dma_owner: a host driver holds the group's
// DMA ownership; docs/kernel-facts.md). A plan that would leave a group mixed blocks the VFIO side: taking
// a device from its host driver buys nothing when no guest can use it (docs/planner.md).
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"
#include "plan/vfio_alias.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd::planner {

namespace {

bool is_vfio_driver(const std::string& driver) {
    // vfio-pci and its variant drivers (mlx5_vfio_pci, xe-vfio-pci, hisi_acc_vfio_pci, ...).
    return driver.find("vfio") != std::string::npos;
}

bool is_bridge(const PciDevice& d) {
    return (d.class_code >> 8) == 0x0604;
}

// Where the configuration takes a device: its target driver (a VFIO driver for `vfio`), none, or — when
// the configuration does not say, leaves the binding to libvirt (`managed`, which binds it to vfio-pci
// when a guest starts) or keeps a vGPU VF on nvidia — what it is bound to now.
struct EndState {
    std::string driver;
    bool vfio = false;
    bool wanted = false; // the configuration asks for a VFIO driver
};

EndState end_state(const PciDevice& device, const DeviceSelection* selected, const ObservedState& observed) {
    EndState out{device.driver, is_vfio_driver(device.driver), false};
    const BindingClaim* claim = selected && selected->conflict.empty() ? selected->binding() : nullptr;
    if (!claim || claim->vgpu)
        return out;
    if (claim->managed) {
        out.vfio = true;
        return out;
    }
    switch (claim->driver.kind) {
    case DriverChoice::Kind::Leave:
        return out;
    case DriverChoice::Kind::None:
        return EndState{"", false, false};
    case DriverChoice::Kind::Named:
        return EndState{claim->driver.name, is_vfio_driver(claim->driver.name),
                        is_vfio_driver(claim->driver.name)};
    case DriverChoice::Kind::Vfio: {
        const VfioDriverPick pick =
            pick_vfio_driver(device.modalias, observed.vfio_aliases, observed.module_drivers);
        return EndState{pick.driver.empty() ? pick.module : pick.driver, true, true};
    }
    }
    return out;
}

bool host_driver(const PciDevice& device, const EndState& end) {
    return !end.driver.empty() && !end.vfio && end.driver != "pci-stub" && !is_bridge(device);
}

} // namespace

void check_group_viability(const Selection& selection, const ObservedState& observed,
                           std::vector<Action>& actions, std::map<std::string, ObjectStatus>& objects) {
    std::map<int, std::vector<const PciDevice*>> groups;
    for (const auto& [address, device] : observed.devices)
        if (device.iommu_group)
            groups[*device.iommu_group].push_back(&device);
    for (const auto& [group, members] : groups) {
        if (members.size() < 2)
            continue;
        std::vector<std::string> host, vfio;
        std::vector<std::string> wanted; // devices the configuration puts on a VFIO driver
        for (const PciDevice* d : members) {
            auto it = selection.devices.find(d->address);
            const EndState end =
                end_state(*d, it == selection.devices.end() ? nullptr : &it->second, observed);
            if (host_driver(*d, end))
                host.push_back(d->address + " on " + end.driver);
            else if (end.vfio)
                vfio.push_back(d->address + " on " + (end.driver.empty() ? "a VFIO driver" : end.driver));
            if (end.wanted)
                wanted.push_back(d->address);
        }
        if (host.empty() || wanted.empty())
            continue;
        const std::string reason =
            "IOMMU group " + std::to_string(group) +
            " would be mixed, which VFIO refuses (no guest could use it): " + join(host, ", ") +
            " (host driver) with " + join(vfio, ", ");
        for (const std::string& address : wanted) {
            bool acted = false;
            for (Action& a : actions) {
                if (a.object != address || (a.kind != ActionKind::Bind && a.kind != ActionKind::Unbind))
                    continue;
                acted = true;
                if (a.verdict == Verdict::Safe || a.verdict == Verdict::Waiting) {
                    a.verdict = Verdict::Blocked;
                    a.reason = reason;
                    a.writes.clear();
                    a.must_be_idle.clear();
                    a.disruptive = false;
                }
            }
            // Already on its VFIO driver: nothing to do, but not usable either.
            ObjectStatus& status = objects[address];
            if (!acted && status.state == ObjectState::Converged) {
                status.state = ObjectState::Blocked;
                status.reason = reason;
            }
        }
    }
}

} // namespace hostdevd::planner
