#include "plan/host_checks.hpp"

#include "plan/driver_names.hpp"

namespace hostdevd {

std::string ConfigProblem::str() const {
    return where.str() + ": " + message;
}

std::vector<ConfigProblem> check_against_host(const DesiredState& desired, const ObservedState& observed) {
    std::vector<ConfigProblem> out;
    std::vector<std::string> profiles;
    for (const auto& [id, name] : observed.vgpu_type_names)
        profiles.push_back(name);
    for (const auto& [address, device] : observed.devices)
        if (device.vgpu)
            for (const VgpuType& type : device.vgpu->creatable)
                profiles.push_back(type.name);
    auto check_driver = [&](const DriverChoice& driver, const SourceLocation& where) {
        if (driver.kind != DriverChoice::Kind::Named)
            return;
        if (auto problem = planner::driver_name_problem(driver.name, observed))
            out.push_back({where, "driver \"" + driver.name + "\": " + *problem});
    };
    for (const PfEntry& pf : desired.pfs) {
        for (const VfSettings& vf : pf.vfs_settings) {
            check_driver(vf.driver, vf.source);
            if (vf.vgpu && !profiles.empty())
                if (auto meant = planner::profile_suggestion(*vf.vgpu, profiles))
                    out.push_back({vf.source, "vgpu \"" + *vf.vgpu +
                                                  "\" is not a profile of this host's GPUs: "
                                                  "did you mean \"" +
                                                  *meant + "\"?"});
        }
    }
    for (const DeviceEntry& device : desired.devices)
        check_driver(device.driver, device.source);
    return out;
}

} // namespace hostdevd
