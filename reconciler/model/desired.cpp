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

ConsumerBinding consumer_binding(const DriverChoice& driver, bool managed, bool vgpu) {
    if (managed)
        return ConsumerBinding::Managed;
    if (vgpu)
        return ConsumerBinding::Other;
    if (driver.kind == DriverChoice::Kind::Vfio ||
        (driver.kind == DriverChoice::Kind::Named && driver.name.find("vfio") != std::string::npos))
        return ConsumerBinding::Vfio;
    return ConsumerBinding::Other;
}

const char* to_string(ConsumerBinding binding) {
    switch (binding) {
    case ConsumerBinding::Managed:
        return "managed";
    case ConsumerBinding::Vfio:
        return "vfio";
    case ConsumerBinding::Other:
        return "other";
    }
    return "";
}

const std::vector<ExportFormat>& all_export_formats() {
    static const std::vector<ExportFormat> formats = {ExportFormat::Nova, ExportFormat::LibvirtNetwork,
                                                      ExportFormat::SriovDp, ExportFormat::Prometheus};
    return formats;
}

const char* to_string(ExportFormat format) {
    switch (format) {
    case ExportFormat::Nova:
        return "nova";
    case ExportFormat::LibvirtNetwork:
        return "libvirt-network";
    case ExportFormat::SriovDp:
        return "sriov-dp";
    case ExportFormat::Prometheus:
        return "prometheus";
    }
    return "";
}

std::optional<ExportFormat> parse_export_format(std::string_view name) {
    for (ExportFormat format : all_export_formats())
        if (name == to_string(format))
            return format;
    return std::nullopt;
}

const PoolSettings* DesiredState::pool(const std::string& name) const {
    for (const auto& p : pools)
        if (p.name == name)
            return &p;
    return nullptr;
}

std::string VfCount::str() const {
    return (mode == Mode::AtLeast ? "min:" : "") + std::to_string(count);
}

} // namespace hostdevd
