#include "export/export_input.hpp"

#include <map>

namespace hostdevd {

std::vector<ExportPool> export_pools(const ExportInput& input, bool all) {
    // The pools the configuration names, with the binding its entries give them (one per pool: the loader
    // refuses a pool whose entries disagree).
    std::map<std::string, ExportPool> pools;
    auto declare = [&](const std::string& name, ConsumerBinding binding) {
        if (name.empty())
            return;
        auto [it, inserted] = pools.try_emplace(name);
        if (!inserted)
            return;
        it->second.name = name;
        it->second.binding = binding;
        if (const PoolSettings* settings = input.desired.pool(name))
            it->second.settings = *settings;
        else
            it->second.settings.name = name;
    };
    for (const auto& pf : input.desired.pfs)
        for (const auto& vf : pf.vfs_settings)
            declare(vf.pool, consumer_binding(vf.driver, vf.managed, vf.vgpu.has_value()));
    for (const auto& device : input.desired.devices)
        declare(device.pool, consumer_binding(device.driver, device.managed, false));

    // Views are keyed by address, so each pool's devices come out sorted.
    for (const auto& [address, view] : input.views.devices) {
        auto pool = pools.find(view.pool);
        if (view.pool.empty() || pool == pools.end())
            continue;
        if (!all && view.state != "converged") {
            ++pool->second.not_converged;
            continue;
        }
        ExportDevice device;
        device.address = view.address;
        device.role = view.role;
        device.physfn = view.physfn;
        device.driver = view.driver;
        if (const PciDevice* observed = input.observed.find(address)) {
            device.vendor = observed->vendor;
            device.device = observed->device;
            device.class_code = observed->class_code;
        }
        pool->second.devices.push_back(std::move(device));
    }

    std::vector<ExportPool> out;
    for (auto& [name, pool] : pools)
        out.push_back(std::move(pool));
    return out;
}

} // namespace hostdevd
