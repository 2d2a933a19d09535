#include "plan/vfio_alias.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace hostdevd::planner {

namespace {

bool same_char(char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

} // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion depth issues.
    size_t p = 0, t = 0, star = std::string::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && same_char(pattern[p], text[t])) {
            ++p;
            ++t;
        } else if (star != std::string::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

VfioAliasMatch best_vfio_alias(const std::string& modalias, const std::vector<std::string>& alias_lines) {
    VfioAliasMatch best;
    if (modalias.empty())
        return best;
    const std::string text = "vfio_" + modalias;
    for (const std::string& line : alias_lines) {
        std::istringstream words(line);
        std::string keyword, pattern, module;
        if (!(words >> keyword >> pattern >> module) || keyword != "alias" ||
            pattern.rfind("vfio_pci:", 0) != 0)
            continue;
        if (!glob_match(pattern, text))
            continue;
        const int wildcards = static_cast<int>(std::count(pattern.begin(), pattern.end(), '*'));
        if (best.wildcards < 0 || wildcards < best.wildcards) {
            best.module = module;
            best.wildcards = wildcards;
        }
    }
    return best;
}

std::string module_name_of(const std::string& driver) {
    std::string module = driver;
    std::replace(module.begin(), module.end(), '-', '_');
    return module;
}

std::string driver_of_module(const std::string& module,
                             const std::map<std::string, std::vector<std::string>>& module_drivers) {
    auto it = module_drivers.find(module);
    if (it == module_drivers.end() || it->second.empty())
        return "";
    return it->second.front();
}

VfioDriverPick pick_vfio_driver(const std::string& modalias, const std::vector<std::string>& alias_lines,
                                const std::map<std::string, std::vector<std::string>>& module_drivers) {
    const VfioAliasMatch match = best_vfio_alias(modalias, alias_lines);
    if (match.generic())
        return {"vfio-pci", "vfio_pci",
                match.wildcards < 0 ? "vfio-pci: no vfio_pci alias matches " + modalias
                                    : "vfio-pci: only the generic vfio_pci alias matches"};
    // The module name is not the bind name (xe_vfio_pci registers "xe-vfio-pci"): map it through
    // /sys/module/<module>/drivers as libvirt does; unknown until the module is loaded.
    return {driver_of_module(match.module, module_drivers), match.module,
            match.module + ": modules.alias match with " + std::to_string(match.wildcards) + " wildcards"};
}

} // namespace hostdevd::planner
