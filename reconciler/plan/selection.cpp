#include "plan/selection.hpp"

#include "plan/plan_util.hpp"

#include <algorithm>

namespace hostdevd::planner {

bool matches(const Match& match, const PciDevice& device) {
    if (match.name || (!match.address && !match.netdev && !match.vendor && !match.device && !match.path))
        return false; // `name` selects parents that are not PCI devices (ObservedState::mdev_parents)
    if (match.address && *match.address != device.address)
        return false;
    if (match.netdev && std::none_of(device.netdevs.begin(), device.netdevs.end(),
                                     [&](const Netdev& n) { return n.name == *match.netdev; }))
        return false;
    if (match.vendor && *match.vendor != device.vendor)
        return false;
    if (match.device && *match.device != device.device)
        return false;
    if (match.path && *match.path != device.id_path)
        return false;
    return true;
}

bool pf_entry_selects(const Match& match, const PciDevice& device) {
    return device.physfn.empty() && matches(match, device);
}

bool names_device(const Match& match) {
    return match.address || match.netdev || match.path;
}

namespace {

// In conflict messages an omitted driver reads "unset".
std::string conflict_driver_text(const DriverChoice& driver) {
    std::string text = driver_text(driver);
    return text.empty() ? "unset" : text;
}

std::string optional_text(const std::optional<VfCount>& vfs) {
    return vfs ? vfs->str() : "unset";
}
std::string optional_text(const std::optional<bool>& flag) {
    return flag ? (*flag ? "true" : "false") : "unset";
}
std::string optional_text(const std::optional<std::string>& text) {
    return text ? "\"" + *text + "\"" : "unset";
}

// "vfs 8 vs 4, autoprobe true vs unset": the keys on which two [[pf]] entries disagree.
std::string pf_difference(const PfEntry& a, const PfEntry& b) {
    std::vector<std::string> diffs;
    if (a.vfs != b.vfs)
        diffs.push_back("vfs " + optional_text(a.vfs) + " vs " + optional_text(b.vfs));
    if (a.autoprobe != b.autoprobe)
        diffs.push_back("autoprobe " + optional_text(a.autoprobe) + " vs " + optional_text(b.autoprobe));
    return join(diffs, ", ");
}

std::string binding_difference(const BindingClaim& a, const BindingClaim& b) {
    std::vector<std::string> diffs;
    if (!(a.driver == b.driver))
        diffs.push_back("driver " + conflict_driver_text(a.driver) + " vs " + conflict_driver_text(b.driver));
    if (a.managed != b.managed)
        diffs.push_back(std::string("managed ") + (a.managed ? "true" : "false") + " vs " +
                        (b.managed ? "true" : "false"));
    if (a.pool != b.pool)
        diffs.push_back("pool \"" + a.pool + "\" vs \"" + b.pool + "\"");
    if (a.vgpu != b.vgpu)
        diffs.push_back("vgpu " + optional_text(a.vgpu) + " vs " + optional_text(b.vgpu));
    return join(diffs, ", ");
}

BindingClaim claim_of(const VfSettings& vf, const PfEntry& pf) {
    return BindingClaim{vf.driver,
                        vf.managed,
                        vf.pool,
                        vf.vgpu,
                        vf.source.file_line(),
                        pf.destroy.value_or(DestroyPolicy::Ask)};
}

BindingClaim claim_of(const DeviceEntry& entry, DestroyPolicy policy) {
    return BindingClaim{entry.driver, entry.managed, entry.pool, std::nullopt, entry.source.file_line(),
                        policy};
}

DeviceSelection& selection_for(Selection& selection, const std::string& address, const std::string& source) {
    auto [it, inserted] = selection.devices.try_emplace(address);
    if (inserted) {
        it->second.address = address;
        it->second.source = source;
    }
    return it->second;
}

// Records the first disagreement among the claims on one device (the device is then left untouched).
void find_conflict(Selection& selection, DeviceSelection& device) {
    std::string first, second, difference;
    for (size_t i = 1; i < device.pf_claims.size() && difference.empty(); ++i) {
        difference = pf_difference(*device.pf_claims.front(), *device.pf_claims[i]);
        first = device.pf_claims.front()->source.file_line();
        second = device.pf_claims[i]->source.file_line();
    }
    for (size_t i = 1; i < device.binding_claims.size() && difference.empty(); ++i) {
        if (device.binding_claims.front().same_settings(device.binding_claims[i]))
            continue;
        difference = binding_difference(device.binding_claims.front(), device.binding_claims[i]);
        first = device.binding_claims.front().source;
        second = device.binding_claims[i].source;
    }
    if (difference.empty())
        return;
    device.conflict = "conflicting settings from " + first + " and " + second + " (" + difference + ")";
    selection.conflicts.push_back(device.address + ": selected by " + first + " and " + second +
                                  " with conflicting settings (" + difference + ")");
}

} // namespace

bool BindingClaim::same_settings(const BindingClaim& other) const {
    return driver == other.driver && managed == other.managed && pool == other.pool && vgpu == other.vgpu;
}

uint32_t future_vf_count(const PfEntry* entry, const PciDevice& pf) {
    if (!entry || !entry->vfs || entry->vfs->count > pf.total_vfs)
        return pf.num_vfs;
    if (entry->vfs->mode == VfCount::Mode::Exact)
        return entry->vfs->count;
    return pf.num_vfs == 0 ? entry->vfs->count : pf.num_vfs;
}

Selection select_devices(const DesiredState& desired, const ObservedState& observed) {
    Selection selection;

    // [[pf]] entries: the PF itself, then every VF it has (reported even without a [[pf.vf]] table). A VF
    // is never selected as a PF, whatever its IDs.
    std::map<std::string, std::string> pf_owner; // PF (and its VFs) -> the [[pf]] entry managing it
    for (const PfEntry& entry : desired.pfs) {
        const std::string source = entry.source.file_line();
        bool selected_any = false;
        for (const auto& [address, device] : observed.devices) {
            if (!pf_entry_selects(entry.match, device))
                continue;
            selected_any = true;
            DeviceSelection& pf = selection_for(selection, address, source);
            pf.pf_claims.push_back(&entry);
            if (!device.is_pf) {
                // iov.c creates the sriov_* files only for devices with an SR-IOV capability.
                pf.invalid = address + " has no SR-IOV capability";
                continue;
            }
            pf_owner.emplace(address, source);
            for (const std::string& vf : device.vfs) {
                pf_owner.emplace(vf, source);
                if (observed.find(vf))
                    selection_for(selection, vf, source);
            }
            for (const VfSettings& settings : entry.vfs_settings) {
                for (uint32_t index : settings.indices) {
                    if (index < device.vfs.size() && observed.find(device.vfs[index])) {
                        selection_for(selection, device.vfs[index], source)
                            .binding_claims.push_back(claim_of(settings, entry));
                        continue;
                    }
                    auto known = std::find_if(
                        selection.missing_vfs.begin(), selection.missing_vfs.end(),
                        [&](const MissingVf& m) { return m.pf_address == address && m.index == index; });
                    if (known == selection.missing_vfs.end())
                        selection.missing_vfs.push_back(MissingVf{address, index, claim_of(settings, entry)});
                }
            }
        }
        if (!selected_any)
            selection.absent.push_back(AbsentEntry{source, entry.match.str(), "pf"});
    }

    // [[device]] entries select whole devices. A PF that a [[pf]] entry manages, and its VFs, are not:
    // an entry matching by IDs (VFs often carry their PF's device ID) leaves them to the [[pf]] entry;
    // one that names a managed PF itself is reported as a conflict (the PF stays with its [[pf]] entry,
    // whose SR-IOV needs the PF's driver); one that names a VF binds it, as [[pf.vf]] would.
    for (const DeviceEntry& entry : desired.devices) {
        bool selected_any = false;
        const std::string source = entry.source.file_line();
        for (const auto& [address, device] : observed.devices) {
            if (!matches(entry.match, device))
                continue;
            selected_any = true;
            if (auto owner = pf_owner.find(address); owner != pf_owner.end()) {
                if (!names_device(entry.match))
                    continue;
                if (device.physfn.empty()) {
                    selection.conflicts.push_back(address + ": [[device]] " + source +
                                                  " names a PF that [[pf]] " + owner->second +
                                                  " manages; it is left to " + owner->second);
                    continue;
                }
            }
            selection_for(selection, address, source)
                .binding_claims.push_back(claim_of(entry, desired.destroy));
        }
        if (!selected_any)
            selection.absent.push_back(AbsentEntry{entry.source.file_line(), entry.match.str(), "device"});
    }

    for (auto& [address, device] : selection.devices)
        find_conflict(selection, device);

    for (MissingVf& missing : selection.missing_vfs) {
        const DeviceSelection& pf = selection.devices.at(missing.pf_address);
        const PciDevice& pf_device = *observed.find(missing.pf_address);
        missing.future_count = future_vf_count(pf.conflict.empty() ? pf.pf() : nullptr, pf_device);
        missing.will_exist = missing.index < missing.future_count;
    }
    return selection;
}

} // namespace hostdevd::planner
