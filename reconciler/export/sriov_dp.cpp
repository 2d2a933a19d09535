// `hostdevctl export sriov-dp`: the SR-IOV network device plugin's config.json (its README, "Config
// parameters"; pkg/types/types.go ResourceConfig): one resource per pool whose selector names exactly the
// pool's devices by `pciAddresses`. The plugin serves two PCI classes (types.SupportedDevices): network
// controllers (class 0x02, deviceType "netDevice", its default) and processing accelerators (0x12,
// "accelerator"); devices of other classes (NVMe, GPUs) are left out, and a pool without any is not
// exported. Unlike nova and libvirt, the plugin also serves devices on host drivers (kernel netdevs for
// pods), so every pool is exported whatever its binding.
#include "export/consumer_names.hpp"
#include "export/formats.hpp"

#include <nlohmann/json.hpp>

namespace hostdevd {

namespace {

const char* device_type_of(uint32_t class_code) {
    switch (class_code >> 16) {
    case 0x02:
        return "netDevice";
    case 0x12:
        return "accelerator";
    }
    return nullptr;
}

} // namespace

std::string render_sriov_dp(const std::vector<ExportPool>& pools) {
    using Json = nlohmann::ordered_json;
    Json resources = Json::array();
    NameRegistry names("the device plugin resource", "[pool.sriov_dp] resource_name");
    for (const auto& pool : pools) {
        std::string device_type;
        Json addresses = Json::array();
        for (const auto& device : pool.devices) {
            const char* type = device_type_of(device.class_code);
            if (!type)
                continue;
            if (!device_type.empty() && device_type != type)
                throw ExportError("pool \"" + pool.name +
                                  "\" mixes network devices and accelerators; a "
                                  "device plugin resource has one deviceType: use "
                                  "two pools");
            device_type = type;
            addresses.push_back(device.address);
        }
        if (addresses.empty())
            continue;
        const auto& dp = pool.settings.sriov_dp;
        const std::string name = dp_resource_name(pool);
        // Resource names are unique per prefix; an unset prefix is the plugin's --resource-prefix.
        names.claim(dp.resource_prefix ? *dp.resource_prefix + "/" + name : name, pool);
        Json resource;
        resource["resourceName"] = name;
        if (dp.resource_prefix)
            resource["resourcePrefix"] = *dp.resource_prefix;
        resource["deviceType"] = device_type;
        Json selector;
        selector["pciAddresses"] = addresses;
        if (dp.is_rdma && device_type == "netDevice") // an accelerator selector has no isRdma
            selector["isRdma"] = true;
        resource["selectors"] = Json::array({selector});
        resources.push_back(resource);
    }
    return Json{{"resourceList", resources}}.dump(2) + "\n";
}

} // namespace hostdevd
