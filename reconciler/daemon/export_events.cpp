#include "daemon/export_events.hpp"

#include "export/formats.hpp"

namespace hostdevd {

journal::Event export_event(const ExportFileEvent& event) {
    using journal::Kind;
    using journal::Priority;
    const std::string format = to_string(event.format);
    std::vector<std::pair<std::string, std::string>> fields = {{"export_format", format},
                                                               {"export_path", event.path}};
    switch (event.what) {
    case ExportFileEvent::What::Failed:
        fields.emplace_back("reason", event.error);
        return {Kind::ExportFailed,
                Priority::Err,
                "",
                "",
                "failed",
                "export " + format + ": not written: " + event.error,
                fields};
    case ExportFileEvent::What::Recovered:
        return {Kind::ExportWritten,
                Priority::Notice,
                "",
                "",
                "recovered",
                "export " + format + ": written again to " + event.path,
                fields};
    case ExportFileEvent::What::Updated:
        break;
    }
    const Priority priority = event.format == ExportFormat::Prometheus ? Priority::Debug : Priority::Info;
    return {Kind::ExportWritten,
            priority,
            "",
            "",
            "updated",
            "export " + format + ": updated " + event.path,
            fields};
}

} // namespace hostdevd
