// `hostdevctl import-mdevctl [DIR]`: mdevctl's definitions as hostdevd TOML (import_mdevctl.hpp).
#include "commands.hpp"
#include "import_mdevctl.hpp"

namespace hostdevd::cli {

Command import_mdevctl_command() {
    Command c;
    c.name = "import-mdevctl";
    c.arguments = "[DIR]";
    c.max_positional = 1;
    c.summary = "print mdevctl's definitions (default /etc/mdevctl.d) as a hostdevd configuration";
    c.description =
        "Read mdevctl's persistent definitions (DIR/<parent>/<uuid>, default /etc/mdevctl.d) and print an\n"
        "equivalent hostdevd configuration on standard output: auto-start definitions become [[mdev]]\n"
        "entries with their UUIDs, manual ones are written commented out. Nothing is changed.";
    c.exit_status =
        "  0  printed\n  1  a definition is unreadable or not in mdevctl's format\n  2  usage error\n";
    c.run = [](const Invocation& in) {
        return run_import_mdevctl(in.positional.empty() ? "/etc/mdevctl.d" : in.positional.front());
    };
    return c;
}

} // namespace hostdevd::cli
