#include "control_client.hpp"

#include "sandbox.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace simhost {

std::string control_socket_path() {
    const char* path = std::getenv("SIMHOST_CONTROL");
    return path && *path ? path : kControlSocketPath;
}

ControlResult control_request(const std::vector<std::string>& words) {
    std::string request;
    for (const auto& word : words) {
        if (word.empty() || word.find_first_of(" \t\n") != std::string::npos)
            throw std::runtime_error("arguments must be non-empty and contain no whitespace: '" + word + "'");
        request += (request.empty() ? "" : " ") + word;
    }
    request += "\n";

    const std::string path = control_socket_path();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0) {
        const std::string reason = std::strerror(errno);
        if (fd >= 0)
            ::close(fd);
        throw std::runtime_error("cannot reach the simhost control socket " + path + ": " + reason +
                                 " (run this inside `simhost run`)");
    }
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string reply;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        reply.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);

    ControlResult result;
    const std::size_t end_of_status = reply.find('\n');
    const std::string status = reply.substr(0, end_of_status);
    if (status == "ok") {
        result.ok = true;
        result.body = end_of_status == std::string::npos ? "" : reply.substr(end_of_status + 1);
    } else if (status.rfind("error ", 0) == 0) {
        const std::string rest = status.substr(6);
        const std::size_t space = rest.find(' ');
        result.error_name = rest.substr(0, space);
        result.message = space == std::string::npos ? "" : rest.substr(space + 1);
    } else {
        result.error_name = "EPROTO";
        result.message = "malformed reply from simhost: '" + status + "'";
    }
    return result;
}

int ctl_main(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cerr << "usage: simhost ctl COMMAND [ARGS...]\n"
                     "  plug ADDR | unplug ADDR | link NETDEV up|down | master NETDEV MASTER|-\n"
                     "  hold ADDR|GROUP [--device] [--comm NAME] | release PID\n"
                     "  fault fail PATH ERRNO [COUNT] | fault block PATH SECONDS\n"
                     "  fault limit-vfs PF N | fault enables-vfs PF N|all | fault probe-delay PF SECONDS\n"
                     "  fault probe-fail ADDR [ERRNO]\n"
                     "  fault clear | log [--json] | log clear | stats [clear | /sys/PATH]\n"
                     "  input-changed | reset\n";
        return args.empty() ? 1 : 0;
    }
    try {
        const ControlResult result = control_request(args);
        if (!result.ok) {
            std::cerr << "simhost ctl " << args[0] << ": " << result.error_name << ": " << result.message
                      << "\n";
            return 1;
        }
        std::cout << result.body << std::flush;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "simhost ctl: " << e.what() << "\n";
        return 1;
    }
}

int modprobe_main(const std::vector<std::string>& args) {
    // The subset of kmod's modprobe that tools use to load a module: options are accepted and ignored
    // except -q (quiet) and -a (every argument is a module); without -a the first name is the module and
    // the rest are its parameters. kmod normalises '-' to '_' in module names (modname_normalize()).
    bool quiet = false, all = false, remove = false;
    std::vector<std::string> modules;
    for (const auto& arg : args) {
        if (arg == "-q" || arg == "--quiet")
            quiet = true;
        else if (arg == "-a" || arg == "--all")
            all = true;
        else if (arg == "-r" || arg == "--remove")
            remove = true;
        else if (!arg.empty() && arg[0] == '-')
            continue;
        else if (modules.empty() || all)
            modules.push_back(arg);
    }
    if (remove) {
        std::cerr << "modprobe: simhost does not unload modules\n";
        return 1;
    }
    if (modules.empty()) {
        if (!quiet)
            std::cerr << "modprobe: ERROR: missing module name.\n";
        return 1;
    }
    utsname uts{};
    ::uname(&uts);
    for (auto module : modules) {
        std::replace(module.begin(), module.end(), '-', '_');
        try {
            const ControlResult result = control_request({"load_module", module});
            if (!result.ok) {
                if (!quiet)
                    std::cerr << "modprobe: FATAL: Module " << module
                              << " not found in directory /lib/modules/" << uts.release << "\n";
                return 1;
            }
        } catch (const std::exception& e) {
            std::cerr << "modprobe (simhost): " << e.what() << "\n";
            return 1;
        }
    }
    return 0;
}

} // namespace simhost
