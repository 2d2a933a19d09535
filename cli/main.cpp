// hostdevctl: inspect and apply hostdevd's configuration from the command line. The commands live one
// per file (cmd_*.cpp) and are listed in commands.cpp; this file only parses and dispatches.
#include "arguments.hpp"
#include "exit_codes.hpp"

#include <iostream>

int main(int argc, char** argv) {
    using namespace hostdevd::cli;
    Invocation invocation;
    if (auto stop = parse_command_line(argc, argv, invocation))
        return *stop;
    try {
        return invocation.command->run(invocation);
    } catch (const std::exception& e) {
        std::cerr << "hostdevctl: " << e.what() << '\n';
        return kExitFailed;
    }
}
