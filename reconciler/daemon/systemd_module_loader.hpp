// Loading kernel modules without CAP_SYS_MODULE (docs/security.md, "Kernel modules").
//
// hostdevd's unit has no CAP_SYS_MODULE and no module system calls: with them a compromised daemon could
// load any kernel code. When a VFIO variant driver (or vfio-pci) must be loaded, hostdevd asks systemd to
// start its own template unit `modprobe@MODULE.service` (systemd >= 245, in Debian 12's systemd package:
// `modprobe -abq MODULE`) over the system bus, as root may, and waits for the job. modprobe then runs in
// that unit with systemd's privileges, and only modules installed under /lib/modules can be named.
// The result is checked where it shows, in /sys/module: the unit succeeds whatever modprobe said.
//
// When no systemd answers on the bus (tests on a private bus, a system without systemd) it runs modprobe
// itself through `fallback`, as before.
#pragma once

#include "apply/module_loader.hpp"

#include <chrono>
#include <string>

namespace hostdevd {

class SystemdModuleLoader : public ModuleLoader {
public:
    // `sys_module` is the directory of loaded modules (/sys/module).
    SystemdModuleLoader(ModuleLoader& fallback, std::string sys_module,
                        std::chrono::seconds timeout = std::chrono::seconds(60))
        : fallback_(fallback), sys_module_(std::move(sys_module)), timeout_(timeout) {}
    ModuleLoadOutcome load(const std::string& module) override;

private:
    ModuleLoader& fallback_;
    std::string sys_module_;
    std::chrono::seconds timeout_;
};

// Whether `module` can be a unit instance name as it is (letters, digits, '_' and '-'; no leading '-').
bool valid_module_name(const std::string& module);

} // namespace hostdevd
