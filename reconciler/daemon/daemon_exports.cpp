// The daemon's exports for consumers (docs/consumers.md): what Export() answers and what the [export]
// files are made of. The rendering and the files are reconciler/export/'s; this only hands it the
// daemon's state.
#include "daemon/daemon.hpp"
#include "export/formats.hpp"

namespace hostdevd {

ExportInput Daemon::export_input() const {
    const ManagerView m = manager_view();
    ExportManagerState manager{m.version,
                               m.state,
                               m.config_valid,
                               m.config_generation,
                               m.last_reconcile_usec,
                               m.export_errors.size()};
    return ExportInput{desired_, observed_, plan(), views_, manager, &exports_.counters()};
}

std::vector<ExportDocumentRow> Daemon::export_documents(const std::string& format_name, bool all) {
    auto format = parse_export_format(format_name);
    if (!format) {
        std::string known;
        for (ExportFormat f : all_export_formats())
            known += (known.empty() ? "" : ", ") + std::string(to_string(f));
        throw sdbus::Error("io.hostdevd1.Error.InvalidArgument",
                           "unknown export format '" + format_name + "' (" + known + ")");
    }
    std::vector<ExportDocumentRow> rows;
    try {
        for (auto& d : render_export(*format, export_input(), all))
            rows.emplace_back(std::move(d.name), std::move(d.content));
    } catch (const ExportError& e) {
        throw sdbus::Error("io.hostdevd1.Error.ExportFailed", e.what());
    }
    return rows;
}

} // namespace hostdevd
