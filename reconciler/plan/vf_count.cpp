// Waves PfSettings and VfCount: the rows of safety.md about sriov_drivers_autoprobe and sriov_numvfs.
// Kernel rules relied on (drivers/pci/iov.c, sriov_numvfs_store): a count above sriov_totalvfs is ERANGE; the
// same count is a no-op; no PF driver is ENOENT (also for 0); N > 0 while VFs are enabled is EBUSY, so a
// change between two non-zero counts must go through 0, which destroys every VF ("SRIOV spec does not
// allow partial VF disable"). sriov_drivers_autoprobe "does not affect already-enabled VFs" (ABI text).
#include "plan/plan_parts.hpp"
#include "plan/plan_util.hpp"

#include <string>

namespace hostdevd::planner {

namespace {

void plan_autoprobe(const PfEntry& entry, const PciDevice& pf, std::vector<Action>& actions) {
    if (!entry.autoprobe || *entry.autoprobe == pf.drivers_autoprobe)
        return;
    const std::string from = pf.drivers_autoprobe ? "1" : "0";
    const std::string to = *entry.autoprobe ? "1" : "0";
    Action action =
        make_action(ActionKind::SetAutoprobe, Wave::PfSettings, pf.address, entry.source.file_line());
    action.summary = "sriov_drivers_autoprobe " + from + " -> " + to;
    action.reason = "sriov_drivers_autoprobe is " + from + ", configuration wants " + to +
                    " (affects only VFs enabled later)";
    action.writes = {{device_attr(pf.address, "sriov_drivers_autoprobe"), to}};
    actions.push_back(std::move(action));
}

// "VF 0000:3b:02.1 in use: pid 4242 (qemu-system-x86); VF 0000:3b:02.3 in use: netdev ens1f0v3 is up"
std::string vf_holders(const PciDevice& pf, const ObservedState& observed) {
    std::vector<std::string> busy;
    for (const std::string& vf : pf.vfs) {
        std::vector<std::string> holders = device_holders(observed, vf);
        if (!holders.empty())
            busy.push_back(in_use_reason("VF " + vf, holders));
    }
    return join(busy, "; ");
}

void plan_num_vfs(const PfEntry& entry, const PciDevice& pf, const ObservedState& observed,
                  std::vector<Action>& actions) {
    const VfCount& wanted = *entry.vfs;
    const uint32_t current = pf.num_vfs;
    Action action = make_action(ActionKind::SetNumVfs, Wave::VfCount, pf.address, entry.source.file_line());

    if (wanted.count > pf.total_vfs) {
        action.summary = "sriov_numvfs " + std::to_string(current) + " -> " + std::to_string(wanted.count);
        action.verdict = Verdict::Invalid;
        action.reason = "vfs = " + wanted.str() + " exceeds sriov_totalvfs " + std::to_string(pf.total_vfs);
        actions.push_back(std::move(action));
        return;
    }
    if (wanted.mode == VfCount::Mode::AtLeast) {
        if (current >= wanted.count)
            return; // {min = N} satisfied: nothing, whatever the exact number
        if (current > 0) {
            action.summary =
                "sriov_numvfs " + std::to_string(current) + " -> " + std::to_string(wanted.count);
            action.verdict = Verdict::Blocked;
            action.reason = "sriov_numvfs is " + std::to_string(current) +
                            ", below min = " + std::to_string(wanted.count) +
                            ": the min semantic never resizes an existing set";
            actions.push_back(std::move(action));
            return;
        }
    } else if (current == wanted.count) {
        return;
    }

    const uint32_t target = wanted.count;
    const bool through_zero = current > 0 && target > 0;
    action.summary = "sriov_numvfs " + std::to_string(current) + (through_zero ? " -> 0" : "") + " -> " +
                     std::to_string(target);
    if (pf.driver.empty()) {
        action.verdict = Verdict::Waiting;
        action.reason =
            "PF " + pf.address + " has no driver bound; the kernel refuses sriov_numvfs until one is";
        actions.push_back(std::move(action));
        return;
    }
    if (pf.driver.find("vfio") != std::string::npos &&
        !(pf.driver == "vfio-pci" && observed.vfio_pci_enable_sriov == true)) {
        // A PF passed through to a guest: vfio-pci's sriov_configure refuses (-ENOENT) unless it was loaded
        // with enable_sriov=1 (vfio_pci.c), and the variant drivers have none (iov.c: ENOENT). Writing would
        // only fail, pass after pass; the PF's driver has to change first.
        action.verdict = Verdict::Blocked;
        action.reason = "PF " + pf.address + " is bound to " + pf.driver +
                        ", which refuses sriov_numvfs (ENOENT)" +
                        (pf.driver == "vfio-pci" ? " unless vfio-pci is loaded with enable_sriov=1" : "") +
                        "; bind the PF to its own driver";
        actions.push_back(std::move(action));
        return;
    }
    if (current == 0) {
        action.reason = "PF has no VFs; " + pf.driver + " is bound and can enable " + std::to_string(target);
        action.writes = {{device_attr(pf.address, "sriov_numvfs"), std::to_string(target)}};
        actions.push_back(std::move(action));
        return;
    }
    if (std::string busy = vf_holders(pf, observed); !busy.empty()) {
        action.verdict = Verdict::Blocked;
        action.reason = busy;
        actions.push_back(std::move(action));
        return;
    }
    action.disruptive = true;
    action.reason = "no VF in use; changing " + std::to_string(current) +
                    " VFs means writing 0 first, which " + "destroys all of them";
    action.writes = {{device_attr(pf.address, "sriov_numvfs"), "0"}};
    if (target > 0)
        action.writes.push_back({device_attr(pf.address, "sriov_numvfs"), std::to_string(target)});
    action.destroy_policy = entry.destroy.value_or(DestroyPolicy::Ask);
    for (const std::string& vf : pf.vfs) {
        action.must_be_idle.push_back(vf);
        action.destroys.push_back(destroyed_device(observed, vf));
        for (const std::string& uuid : child_mdevs(observed, vf)) {
            action.must_be_idle.push_back(uuid);
            action.destroys.push_back(destroyed_mdev(observed, uuid));
        }
    }
    actions.push_back(std::move(action));
}

} // namespace

void plan_vf_counts(const Selection& selection, const ObservedState& observed, std::vector<Action>& actions) {
    for (const auto& [address, selected] : selection.devices) {
        const PfEntry* entry = selected.pf();
        if (!entry || !selected.conflict.empty())
            continue;
        if (!selected.invalid.empty()) {
            const bool count = entry->vfs.has_value();
            Action action = make_action(count ? ActionKind::SetNumVfs : ActionKind::SetAutoprobe,
                                        count ? Wave::VfCount : Wave::PfSettings, address, selected.source);
            action.summary = count ? "sriov_numvfs -> " + entry->vfs->str() : "sriov_drivers_autoprobe";
            action.verdict = Verdict::Invalid;
            action.reason = selected.invalid;
            actions.push_back(std::move(action));
            continue;
        }
        const PciDevice& pf = *observed.find(address);
        plan_autoprobe(*entry, pf, actions);
        if (entry->vfs)
            plan_num_vfs(*entry, pf, observed, actions);
    }
}

} // namespace hostdevd::planner
