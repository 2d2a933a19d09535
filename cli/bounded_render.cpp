#include "bounded_render.hpp"

#include "observe/bounded_read.hpp"
#include "observe/observe.hpp"
#include "sysfs/layout.hpp"

#include <iostream>

namespace hostdevd::cli {

std::optional<std::string> render_bounded(const std::function<std::string(const ObservedState&)>& render) {
    BoundedRead read = read_bounded([&render](const std::map<std::string, std::string>& busy) {
        SysfsLayout layout;
        return render(observe_host(layout, busy));
    });
    if (!read.ok) {
        std::cerr << "hostdevctl: " << read.error << '\n';
        return std::nullopt;
    }
    return read.output;
}

} // namespace hostdevd::cli
