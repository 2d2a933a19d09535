// Client side of the control socket: `simhost ctl ...` and the modprobe shim.
#pragma once

#include <string>
#include <vector>

namespace simhost {

struct ControlResult {
    bool ok = false;
    std::string error_name; // "EBUSY" when !ok
    std::string message;    // why, when !ok
    std::string body;       // output when ok
};

// $SIMHOST_CONTROL, else /run/simhost/control.sock.
std::string control_socket_path();

// Sends one request; throws std::runtime_error when the socket cannot be reached.
ControlResult control_request(const std::vector<std::string>& words);

int ctl_main(const std::vector<std::string>& args);      // simhost ctl CMD ...
int modprobe_main(const std::vector<std::string>& args); // invoked as /sbin/modprobe inside the world

} // namespace simhost
