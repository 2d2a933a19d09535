#include "observe/module_facts.hpp"

#include "sysfs/read.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

namespace hostdevd {

namespace {

// modules.dep of a distribution kernel is ~0.5 MiB (one line per module, "path.ko[.xz]: deps").
constexpr std::size_t kMaxModulesDep = 8u << 20;

// "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/..." -> "vfio_pci" (kmod treats '-' and '_' alike).
std::string module_of_line(std::string_view line) {
    line = line.substr(0, line.find(':'));
    line = line.substr(line.rfind('/') == std::string_view::npos ? 0 : line.rfind('/') + 1);
    const auto ko = line.find(".ko");
    if (ko == std::string_view::npos)
        return {};
    std::string name(line.substr(0, ko));
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

} // namespace

bool read_module_facts(const SysfsLayout& layout, ObservedState& state) {
    std::vector<std::string> modules;
    TextResult dep = read_file(layout.modules_dep(), kMaxModulesDep);
    if (dep.ok()) {
        std::size_t start = 0;
        while (start < dep.text.size()) {
            std::size_t end = dep.text.find('\n', start);
            if (end == std::string::npos)
                end = dep.text.size();
            if (std::string name = module_of_line(std::string_view(dep.text).substr(start, end - start));
                !name.empty())
                modules.push_back(std::move(name));
            start = end + 1;
        }
        std::sort(modules.begin(), modules.end());
        modules.erase(std::unique(modules.begin(), modules.end()), modules.end());
    } else {
        spdlog::debug("observe: {}: errno {}; driver names are not checked against it", layout.modules_dep(),
                      dep.error);
    }
    std::optional<bool> denylist_off;
    // module_param(disable_denylist, bool, 0444): param_get_bool prints "Y" or "N".
    if (TextResult p = read_attribute(layout.modules_dir() + "/vfio_pci/parameters/disable_denylist"); p.ok())
        denylist_off = !p.text.empty() && (p.text[0] == 'Y' || p.text[0] == 'y' || p.text[0] == '1');
    const bool changed =
        modules != state.available_modules || denylist_off != state.vfio_pci_disable_denylist;
    state.available_modules = std::move(modules);
    state.vfio_pci_disable_denylist = denylist_off;
    return changed;
}

} // namespace hostdevd
