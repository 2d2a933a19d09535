// `hostdevctl devices`: the inventory as the host shows it, with or without hostdevd.
#include "bounded_render.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "observe/observe.hpp"
#include "options.hpp"
#include "report/json.hpp"
#include "report/table.hpp"
#include "sysfs/layout.hpp"

#include <iostream>
#include <sstream>

namespace hostdevd::cli {

namespace {

int run_devices(const Invocation& in) {
    auto output = render_bounded([&](const ObservedState& observed) {
        std::ostringstream out;
        if (in.has("json"))
            out << to_json(observed).dump(2) << '\n';
        else
            render_devices(out, observed);
        return out.str();
    });
    if (!output)
        return kExitFailed;
    std::cout << *output;
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
        "processes holding each device (its VFIO group or device open). Read-only; hostdevd need not run.\n"
        "A device whose attributes a write stuck in the kernel keeps locked is listed as busy instead of\n"
        "hanging the command.";
    c.options = {json_option("the observation as JSON")};
    c.exit_status = "  0  listed\n  1  the host could not be read\n  2  usage error\n";
    c.run = run_devices;
    return c;
}

} // namespace hostdevd::cli
