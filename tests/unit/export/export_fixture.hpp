// A small host for the export tests: a configuration (parsed by the real loader), a hand-made observation,
// and the real planner's plan and views, so that the exports see what the daemon would give them.
#pragma once

#include "config/loader.hpp"
#include "export/export_input.hpp"
#include "plan/planner.hpp"
#include "report/views.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace export_test {

using namespace hostdevd;

inline const std::string kPf = "0000:3b:00.0";

// VF i of kPf (an X710: offset 16, stride 1): 0000:3b:02.0 ...
inline std::string vf(int index) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0000:3b:%02x.%d", 2 + index / 8, index % 8);
    return buf;
}

inline PciDevice device(const std::string& address, uint16_t vendor, uint16_t id, uint32_t class_code,
                        const std::string& driver) {
    PciDevice d;
    d.address = address;
    d.id_path = "pci-" + address;
    d.vendor = vendor;
    d.device = id;
    d.class_code = class_code;
    d.driver = driver;
    return d;
}

// kPf (8086:1572, i40e) with 8 VFs (8086:154c, Ethernet class), bound to `drivers[i]`.
inline ObservedState x710(const std::vector<std::string>& drivers) {
    ObservedState host;
    PciDevice pf = device(kPf, 0x8086, 0x1572, 0x020000, "i40e");
    pf.is_pf = true;
    pf.total_vfs = 64;
    pf.num_vfs = static_cast<uint32_t>(drivers.size());
    for (size_t i = 0; i < drivers.size(); ++i) {
        PciDevice v = device(vf(static_cast<int>(i)), 0x8086, 0x154c, 0x020000, drivers[i]);
        v.modalias = "pci:v00008086d0000154Csv00008086sd00000000bc02sc00i00";
        v.physfn = kPf;
        v.vf_index = static_cast<int>(i);
        pf.vfs.push_back(v.address);
        host.devices[v.address] = v;
    }
    host.devices[kPf] = pf;
    host.drivers = {"i40e", "iavf", "vfio-pci"};
    host.module_drivers = {{"i40e", {"i40e"}}, {"iavf", {"iavf"}}, {"vfio_pci", {"vfio-pci"}}};
    return host;
}

// The configuration of most tests: VFs 0-3 vfio-pci in "gold", 4-5 managed in "silver", 6-7 iavf in "pods".
inline const char* const kConfig = R"(version = 1

[[pf]]
match = { address = "0000:3b:00.0" }
vfs = 8

[[pf.vf]]
index = "0-3"
driver = "vfio-pci"
pool = "gold"

[[pf.vf]]
index = "4-5"
managed = true
pool = "silver"

[[pf.vf]]
index = "6-7"
driver = "iavf"
pool = "pods"
)";

// VF 3 is still on iavf: it is pending (not converged); the others are as configured.
inline ObservedState default_host() {
    return x710({"vfio-pci", "vfio-pci", "vfio-pci", "iavf", "iavf", "iavf", "iavf", "iavf"});
}

struct Host {
    DesiredState desired;
    ObservedState observed;
    Plan plan;
    Views views;
    ExportManagerState manager;

    Host(const std::string& config, ObservedState host) : observed(std::move(host)) {
        auto loaded = parse_config(config, "10-test.toml");
        for (const auto& e : loaded.errors)
            UNSCOPED_INFO(e.str());
        REQUIRE(loaded.ok());
        desired = *loaded.state;
        plan = make_plan(desired, observed);
        views = derive_views(observed, plan, {});
        manager.version = "0.1.0";
        manager.state = local_manager_state(views, plan);
    }
    ExportInput input(const ActionCounters* counters = nullptr) const {
        return ExportInput{desired, observed, plan, views, manager, counters};
    }
};

} // namespace export_test
