// One-line builders of desired and observed state for the planner's table-driven tests.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "plan/planner.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plan_test {

using namespace hostdevd;

inline const std::string kPf = "0000:3b:00.0";

// VF i of kPf, laid out as an Intel X710 with VF offset 16, stride 1: 0000:3b:02.0, 0000:3b:02.1, ...
inline std::string vf(int index) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0000:3b:%02x.%d", 2 + index / 8, index % 8);
    return buf;
}

inline PciDevice plain_device(const std::string& address, const std::string& driver = "") {
    PciDevice d;
    d.address = address;
    d.id_path = "pci-" + address;
    d.driver = driver;
    return d;
}

// A host with one SR-IOV PF (kPf, 8086:1572, netdev ens1f0) and `num` VFs (8086:154c) bound to `vf_driver`.
inline ObservedState pf_with_vfs(uint32_t num, uint32_t total = 8, const std::string& pf_driver = "i40e",
                                 const std::string& vf_driver = "iavf") {
    ObservedState host;
    PciDevice pf = plain_device(kPf, pf_driver);
    pf.vendor = 0x8086;
    pf.device = 0x1572;
    pf.is_pf = true;
    pf.total_vfs = total;
    pf.num_vfs = num;
    pf.netdevs.push_back(Netdev{"ens1f0", true, "up", "", {}});
    for (uint32_t i = 0; i < num; ++i) {
        PciDevice v = plain_device(vf(static_cast<int>(i)), vf_driver);
        v.vendor = 0x8086;
        v.device = 0x154c;
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

inline PciDevice& dev(ObservedState& host, const std::string& address) {
    return host.devices.at(address);
}

inline SourceLocation at(uint32_t line, const std::string& file = "10-nics.toml") {
    return {file, line, 1};
}

inline Match by_address(const std::string& address) {
    Match m;
    m.address = address;
    return m;
}

inline VfCount exact(uint32_t n) {
    return {VfCount::Mode::Exact, n};
}
inline VfCount at_least(uint32_t n) {
    return {VfCount::Mode::AtLeast, n};
}

inline DriverChoice named(const std::string& name) {
    return {DriverChoice::Kind::Named, name};
}
inline DriverChoice vfio() {
    return {DriverChoice::Kind::Vfio, ""};
}
inline DriverChoice no_driver() {
    return {DriverChoice::Kind::None, ""};
}

// [[pf]] match = { address = kPf } at 10-nics.toml:3, optionally with vfs.
inline PfEntry pf_entry(std::optional<VfCount> vfs = std::nullopt, uint32_t line = 3) {
    PfEntry e;
    e.match = by_address(kPf);
    e.vfs = vfs;
    e.source = at(line);
    // destroy = "when-idle": the planner's and the gate's other rules are tested as before the consent
    // rule; the consent rule's own tests (test_gate_consent.cpp) ask for "ask".
    e.destroy = DestroyPolicy::WhenIdle;
    return e;
}

inline VfSettings vf_table(std::vector<uint32_t> indices, DriverChoice driver, uint32_t line = 8) {
    VfSettings s;
    s.indices = std::move(indices);
    s.driver = driver;
    s.source = at(line);
    return s;
}

inline DesiredState with_pf(PfEntry entry) {
    DesiredState d;
    d.destroy = DestroyPolicy::WhenIdle; // [policy], for [[device]] entries (as pf_entry() says why)
    d.pfs.push_back(std::move(entry));
    return d;
}

inline DeviceEntry device_entry(const std::string& address, DriverChoice driver, uint32_t line = 20) {
    DeviceEntry e;
    e.match = by_address(address);
    e.driver = driver;
    e.source = at(line);
    return e;
}

inline std::vector<const Action*> actions_of(const Plan& plan, ActionKind kind) {
    std::vector<const Action*> out;
    for (const Action& a : plan.actions)
        if (a.kind == kind)
            out.push_back(&a);
    return out;
}

// The single action of `kind`; throws when there is not exactly one.
inline const Action& only(const Plan& plan, ActionKind kind) {
    auto found = actions_of(plan, kind);
    if (found.size() != 1)
        throw std::runtime_error(std::string("expected exactly one ") + to_string(kind) + " action, got " +
                                 std::to_string(found.size()));
    return *found.front();
}

inline const ObjectStatus& status(const Plan& plan, const std::string& key) {
    return plan.objects.at(key);
}

inline std::vector<SysfsWrite> writes(std::initializer_list<std::pair<std::string, std::string>> list) {
    std::vector<SysfsWrite> out;
    for (const auto& [path, value] : list)
        out.push_back({path, value});
    return out;
}

} // namespace plan_test

namespace Catch {
template <>
struct StringMaker<hostdevd::SysfsWrite> {
    static std::string convert(const hostdevd::SysfsWrite& w) { return w.path + " <- \"" + w.value + "\""; }
};
} // namespace Catch
