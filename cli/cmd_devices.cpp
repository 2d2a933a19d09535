// `hostdevctl devices`: the inventory as the host shows it, with or without hostdevd.
#include "commands.hpp"
#include "exit_codes.hpp"
#include "observe/observe.hpp"
#include "options.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

#include <iostream>

namespace hostdevd::cli {

namespace {

int run_devices(const Invocation& in) {
    SysfsLayout layout;
    ObservedState observed = observe_host(layout);
    if (in.has("json"))
        std::cout << to_json(observed).dump(2) << '\n';
    else
        render_devices(std::cout, observed);
    return kExitOk;
}

} // namespace

Command devices_command() {
    Command c;
    c.name = "devices";
    c.summary = "PCI devices: SR-IOV PFs with their VFs, drivers, IOMMU groups, holders";
    c.description =
        "List the host's PCI devices as sysfs shows them: SR-IOV PFs with their VFs beneath, other devices\n"
        "with a driver, mdev parents and mdevs; with IDs, drivers, IOMMU groups, network interfaces and the\n"
        "processes holding each device (its VFIO group or device open). Read-only; hostdevd need not run.";
    c.options = {json_option("the observation as JSON")};
    c.exit_status = "  0  listed\n  1  the host could not be read\n  2  usage error\n";
    c.run = run_devices;
    return c;
}

} // namespace hostdevd::cli
