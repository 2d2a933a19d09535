#include "export/formats.hpp"

namespace hostdevd {

std::vector<ExportDocument> render_export(ExportFormat format, const ExportInput& input, bool all) {
    switch (format) {
    case ExportFormat::Nova:
        return {{"", render_nova(export_pools(input, all), all)}};
    case ExportFormat::LibvirtNetwork:
        return render_libvirt_networks(export_pools(input, all));
    case ExportFormat::SriovDp:
        return {{"", render_sriov_dp(export_pools(input, all))}};
    case ExportFormat::Prometheus:
        return {{"", render_prometheus(input)}};
    }
    return {};
}

std::string joined(const std::vector<ExportDocument>& documents) {
    std::string out;
    for (const auto& d : documents)
        out += d.content;
    return out;
}

} // namespace hostdevd
