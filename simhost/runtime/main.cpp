// simhost: a simulated Linux host (docs/simhost.md).
//   simhost run --host FILE [--] COMMAND [ARGS...]   run COMMAND in a fresh simulated host
//   simhost ctl COMMAND [ARGS...]                      control the host COMMAND runs in
// Invoked as "modprobe" (the shim inside the world) it loads simulated modules.
#include "control_client.hpp"
#include "holders.hpp"
#include "run_world.hpp"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    const char* slash = std::strrchr(argv[0], '/');
    const std::string invoked_as = slash ? slash + 1 : argv[0];
    const std::vector<std::string> rest(argv + (argc > 1 ? 2 : 1), argv + argc);
    if (invoked_as == "modprobe")
        return simhost::modprobe_main(std::vector<std::string>(argv + 1, argv + argc));
    const std::string subcommand = argc > 1 ? argv[1] : "";
    if (subcommand == "run")
        return simhost::run_main(rest);
    if (subcommand == "ctl")
        return simhost::ctl_main(rest);
    if (subcommand == "__hold")
        return simhost::holder_main(argc, argv);
    std::cerr << "usage: simhost run --host FILE [--uncached-sysfs] [--] COMMAND [ARGS...]\n"
                 "       simhost ctl COMMAND [ARGS...]   (inside `simhost run`; `simhost ctl --help`)\n";
    return subcommand == "--help" || subcommand == "-h" ? 0 : 2;
}
