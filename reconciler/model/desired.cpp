#include "model/desired.hpp"

#include <cstdio>

namespace hostdevd {

const char* to_string(DestroyPolicy policy) {
    return policy == DestroyPolicy::WhenIdle ? "when-idle" : "ask";
}

std::string SourceLocation::str() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string SourceLocation::file_line() const {
    return file + ":" + std::to_string(line);
}

std::string Match::str() const {
    std::string out;
    auto add = [&out](const char* key, const std::string& value) {
        if (!out.empty())
            out += ' ';
        out += key;
        out += '=';
        out += value;
    };
    auto hex4 = [](uint16_t v) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04x", v);
        return std::string(buf);
    };
    if (address)
        add("address", *address);
    if (netdev)
        add("netdev", *netdev);
    if (vendor)
        add("vendor", hex4(*vendor));
    if (device)
        add("device", hex4(*device));
    if (path)
        add("path", *path);
    if (name)
        add("name", *name);
    return out;
}

std::string VfCount::str() const {
    return (mode == Mode::AtLeast ? "min:" : "") + std::to_string(count);
}

} // namespace hostdevd
