#include "plan/future.hpp"

#include "model/pci_address.hpp"
#include "plan/plan_util.hpp"
#include "plan/vfio_alias.hpp"

#include <charconv>
#include <optional>
#include <string>

namespace hostdevd {

namespace {

using planner::device_attr;
using planner::driver_attr;

std::optional<uint32_t> parse_count(const std::string& text) {
    uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size())
        return std::nullopt;
    return value;
}

// VF N's address (iov.c pci_iov_virtfn_bus/devfn): routing ID = PF devfn + offset + stride * N.
std::optional<std::string> vf_address(const PciDevice& pf, uint32_t index) {
    auto address = PciAddress::parse(pf.address);
    if (!address || !pf.vf_offset || !pf.vf_stride)
        return std::nullopt;
    auto vf = vf_address_of(*address, *pf.vf_offset, *pf.vf_stride, index);
    return vf ? std::optional(vf->str()) : std::nullopt;
}

const PfEntry* entry_of(const DesiredState& desired, const std::string& source) {
    for (const PfEntry& entry : desired.pfs)
        if (entry.source.file_line() == source)
            return &entry;
    return nullptr;
}

// The modalias the new VFs will have: an existing VF's (they share vendor, device and subsystem IDs).
std::string vf_modalias(const PciDevice& pf, const ObservedState& observed) {
    for (const std::string& vf : pf.vfs)
        if (const PciDevice* d = observed.find(vf))
            return d->modalias;
    return "";
}

struct FutureBinding {
    std::string summary;
    std::vector<SysfsWrite> writes;
    std::string note; // what the reason adds
};

std::optional<FutureBinding> binding_of(const VfSettings& settings, const PciDevice& pf,
                                        const std::string& vf, const ObservedState& observed) {
    FutureBinding b;
    if (settings.managed)
        return std::nullopt; // binding belongs to libvirt
    if (settings.vgpu) {
        b.summary = "vGPU " + *settings.vgpu;
        for (const auto& [id, name] : observed.vgpu_type_names)
            if (name == *settings.vgpu || name == "NVIDIA " + *settings.vgpu)
                b.writes = {{device_attr(vf, "nvidia/current_vgpu_type"), std::to_string(id)}};
        if (b.writes.empty())
            b.note = "; its type id is known once the VF lists it";
        return b;
    }
    switch (settings.driver.kind) {
    case DriverChoice::Kind::Leave:
        return std::nullopt;
    case DriverChoice::Kind::None:
        b.summary = "driver_override none";
        b.writes = {{device_attr(vf, "driver_override"), "none"}};
        return b;
    case DriverChoice::Kind::Named:
    case DriverChoice::Kind::Vfio:
        break;
    }
    std::string driver = settings.driver.name;
    std::string module = planner::module_name_of(driver);
    if (settings.driver.kind == DriverChoice::Kind::Vfio) {
        const planner::VfioDriverPick pick = planner::pick_vfio_driver(
            vf_modalias(pf, observed), observed.vfio_aliases, observed.module_drivers);
        driver = pick.module == "vfio_pci" ? "vfio-pci" : pick.driver;
        module = pick.module;
        b.note = "; vfio: " + pick.why;
    }
    if (driver.empty()) {
        b.summary = "bind " + module;
        b.note += "; module " + module + " is loaded first, its driver name is known then";
        return b;
    }
    b.summary = "bind " + driver;
    if (pf.has_driver_override)
        b.writes = {{device_attr(vf, "driver_override"), driver}, {"bus/pci/drivers_probe", vf}};
    else
        b.writes = {{driver_attr(driver, "bind"), vf}};
    return b;
}

} // namespace

std::vector<Action> future_actions(const Plan& plan, const DesiredState& desired,
                                   const ObservedState& observed, const std::set<size_t>& held) {
    std::vector<Action> out;
    for (size_t i = 0; i < plan.actions.size(); ++i) {
        const Action& change = plan.actions[i];
        if (change.kind != ActionKind::SetNumVfs || change.verdict != Verdict::Safe ||
            change.writes.empty() || held.count(i))
            continue;
        const PciDevice* pf = observed.find(change.object);
        const PfEntry* entry = entry_of(desired, change.source);
        std::optional<uint32_t> count = parse_count(change.writes.back().value);
        if (!pf || !entry || !count || *count == 0)
            continue;
        // The VFs appear with sriov_drivers_autoprobe as the PfSettings wave leaves it.
        const bool autoprobe = entry->autoprobe.value_or(pf->drivers_autoprobe);
        for (const VfSettings& settings : entry->vfs_settings) {
            for (uint32_t index : settings.indices) {
                if (index >= *count)
                    continue;
                std::optional<std::string> address = vf_address(*pf, index);
                const std::string vf = address.value_or(pf->address + "/vf" + std::to_string(index));
                std::optional<FutureBinding> binding = binding_of(settings, *pf, vf, observed);
                if (!binding)
                    continue;
                Action action = planner::make_action(settings.vgpu ? ActionKind::SetVgpu : ActionKind::Bind,
                                                     Wave::Binding, vf, settings.source.file_line());
                action.summary = binding->summary + " (after the VFs appear)";
                action.verdict = Verdict::Waiting;
                action.after = kAfterVfsAppear;
                action.reason = "VF " + std::to_string(index) + " of " + pf->address + " is created by " +
                                change.summary + binding->note;
                if (!address)
                    action.reason += "; its address is known once it exists (no sriov_offset/sriov_stride)";
                else
                    action.writes = std::move(binding->writes);
                if (autoprobe && settings.driver.kind != DriverChoice::Kind::Leave && !settings.vgpu)
                    action.reason += "; sriov_drivers_autoprobe is 1, so a driver that binds the new VF by "
                                     "itself is unbound first";
                out.push_back(std::move(action));
            }
        }
    }
    return out;
}

} // namespace hostdevd
