#include "commands.hpp"

namespace hostdevd::cli {

const std::vector<Command>& commands() {
    // Add a new subcommand here (and see command.hpp).
    static const std::vector<Command> table = {
        validate_command(), plan_command(),   apply_command(),          devices_command(),
        status_command(),   export_command(), import_mdevctl_command(), complete_command(),
    };
    return table;
}

const Command* find_command(std::string_view name) {
    for (const auto& c : commands())
        if (c.name == name)
            return &c;
    return nullptr;
}

std::string Invocation::value(const std::string& option, const std::string& fallback) const {
    auto it = values.find(option);
    return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Invocation::list(const std::string& option) const {
    std::vector<std::string> out;
    auto it = values.find(option);
    if (it == values.end())
        return out;
    for (const auto& v : it->second) {
        size_t start = 0;
        for (;;) {
            size_t comma = v.find(',', start);
            std::string item =
                v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (!item.empty())
                out.push_back(item);
            if (comma == std::string::npos)
                break;
            start = comma + 1;
        }
    }
    return out;
}

} // namespace hostdevd::cli
