#include "plan/driver_names.hpp"

#include "common/closest_match.hpp"
#include "plan/vfio_alias.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace hostdevd::planner {

namespace {

// Modules whose PCI driver has another name than the module (the .name the driver registers differs from
// KBUILD_MODNAME): the usual slip is writing the module's name where the driver's belongs.
const std::map<std::string, std::string>& module_bind_names() {
    static const std::map<std::string, std::string> names = {
        {"vfio_pci", "vfio-pci"},       // drivers/vfio/pci/vfio_pci.c: .name = "vfio-pci"
        {"pci_stub", "pci-stub"},       // drivers/pci/pci-stub.c: .name = "pci-stub"
        {"xe_vfio_pci", "xe-vfio-pci"}, // drivers/vfio/pci/xe/main.c: .name = "xe-vfio-pci"
    };
    return names;
}

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool registered(const ObservedState& observed, const std::string& driver) {
    return std::find(observed.drivers.begin(), observed.drivers.end(), driver) != observed.drivers.end();
}

std::string did_you_mean(const std::string& name) {
    return "did you mean driver = \"" + name + "\"?";
}

} // namespace

std::optional<std::string> driver_name_problem(const std::string& name, const ObservedState& observed) {
    if (registered(observed, name))
        return std::nullopt;
    const std::string module = module_name_of(name);
    if (auto known = module_bind_names().find(name); known != module_bind_names().end())
        return "\"" + name + "\" is the name of the module; the driver it registers is \"" + known->second +
               "\": " + did_you_mean(known->second);
    if (auto loaded = observed.module_drivers.find(module); loaded != observed.module_drivers.end()) {
        const std::vector<std::string>& drivers = loaded->second;
        if (drivers.empty())
            return "module " + module + " is loaded but registers no PCI driver named \"" + name + "\"";
        if (std::find(drivers.begin(), drivers.end(), name) == drivers.end())
            return "module " + module + " registers driver \"" + drivers.front() + "\", not \"" + name +
                   "\": " + did_you_mean(drivers.front());
        return std::nullopt;
    }
    if (observed.available_modules.empty() ||
        std::binary_search(observed.available_modules.begin(), observed.available_modules.end(), module))
        return std::nullopt; // loadable (or the kernel's module list is unknown): judged once loaded
    // Unknown to this kernel: suggest a registered driver, or what a loadable module will register.
    std::vector<std::string> candidates = observed.drivers;
    for (const std::string& m : observed.available_modules) {
        auto bind = module_bind_names().find(m);
        candidates.push_back(bind != module_bind_names().end() ? bind->second : m);
    }
    std::string problem = "no driver or module named \"" + name +
                          "\" on this kernel (not registered, not in "
                          "modules.dep)";
    const std::vector<std::string_view> names(candidates.begin(), candidates.end());
    if (std::string hint = closest_match(name, names); !hint.empty())
        problem += ": " + did_you_mean(hint);
    return problem;
}

std::optional<std::string> profile_suggestion(const std::string& profile,
                                              const std::vector<std::string>& known) {
    for (const std::string& name : known)
        if (name == profile || name == "NVIDIA " + profile)
            return std::nullopt;
    const std::string wanted = lower(profile);
    for (const std::string& name : known)
        if (lower(name) == wanted || lower(name) == "nvidia " + wanted)
            return name;
    // No edit-distance guess here: profile names differ by a digit ("L4-24Q", "L4-2Q", "L4-4Q") and a
    // valid profile that does not fit now must not be "corrected" into another one.
    return std::nullopt;
}

bool vfio_pci_denylisted(uint16_t vendor, uint16_t device) {
    // Intel QAT DH895XCC/VF, C3XXX/VF, C62X/VF (include/linux/pci_ids.h), Sapphire Rapids DSA and IAX.
    static const uint16_t intel[] = {0x0435, 0x0443, 0x19e2, 0x19e3, 0x37c8, 0x37c9, 0x0b25, 0x0cfe};
    return vendor == 0x8086 && std::find(std::begin(intel), std::end(intel), device) != std::end(intel);
}

} // namespace hostdevd::planner
