#include "plan/driver_names.hpp"

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

// Optimal string alignment distance (Levenshtein with adjacent transpositions).
std::size_t edits(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

bool registered(const ObservedState& observed, const std::string& driver) {
    return std::find(observed.drivers.begin(), observed.drivers.end(), driver) != observed.drivers.end();
}

std::string did_you_mean(const std::string& name) {
    return "did you mean driver = \"" + name + "\"?";
}

} // namespace

std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    std::size_t best_edits = 0;
    const std::string w = lower(word);
    for (const std::string& c : candidates) {
        const std::size_t e = edits(w, lower(c));
        if (e > 2 || e * 3 >= std::max<std::size_t>(w.size(), 3) || c == word)
            continue;
        if (!best || e < best_edits) {
            best = c;
            best_edits = e;
        }
    }
    return best;
}

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
    if (auto hint = closest(name, candidates))
        problem += ": " + did_you_mean(*hint);
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
