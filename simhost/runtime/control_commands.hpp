// The control protocol's commands (docs/simhost.md, "Control protocol"): one request line of
// space-separated words, answered with "ok" or "error ERRNAME message" and an optional body.
#pragma once

#include "holders.hpp"
#include "kernel.hpp"
#include "sandbox.hpp"

#include <string>
#include <vector>

namespace simhost {

struct ControlReply {
    int error = 0;       // positive errno; 0 = ok
    std::string message; // why, in words, when error != 0
    std::string body;    // command output (e.g. a PID, the write log)

    std::string serialize() const;
};

class ControlCommands {
public:
    ControlCommands(Kernel& kernel, Holders& holders, DevNodes& devnodes)
        : kernel_(kernel), holders_(holders), devnodes_(devnodes) {}

    ControlReply handle(const std::vector<std::string>& words);

private:
    ControlReply hold(const std::vector<std::string>& words);
    ControlReply fault(const std::vector<std::string>& words);
    ControlReply log(const std::vector<std::string>& words);
    ControlReply stats(const std::vector<std::string>& words);
    int resolve_group(const std::string& device_or_group, std::string& error) const;

    Kernel& kernel_;
    Holders& holders_;
    DevNodes& devnodes_;
};

std::vector<std::string> split_words(const std::string& line);
std::string format_write_log(const std::vector<WriteRecord>& records, bool json);

} // namespace simhost
