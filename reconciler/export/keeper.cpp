#include "export/keeper.hpp"

#include "export/file_writer.hpp"
#include "export/formats.hpp"

namespace hostdevd {

namespace {

bool same_targets(const std::vector<ExportTarget>& a, const std::vector<ExportTarget>& b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].format != b[i].format || a[i].path != b[i].path)
            return false;
    return true;
}

} // namespace

void ExportKeeper::count(const Action& action, ActionOutcome outcome) {
    const std::string kind = to_string(action.kind);
    if (outcome == ActionOutcome::Ok) {
        ++counters_.applied[kind];
        if (action.disruptive)
            ++counters_.disruptive[kind];
    } else if (outcome == ActionOutcome::Failed) {
        ++counters_.failed[kind];
    } else if (outcome == ActionOutcome::Stuck) {
        // Stuck in the kernel for seconds: a failure (issue 13), although its writes went through in the
        // end; a destructive one did destroy.
        ++counters_.failed[kind];
        if (action.disruptive)
            ++counters_.disruptive[kind];
    }
}

std::vector<ExportFileEvent> ExportKeeper::refresh(const std::vector<ExportTarget>& targets,
                                                   const ExportInput& input, bool changed) {
    const bool due = changed || !errors_.empty() || !same_targets(targets, last_targets_) || !last_manager_ ||
                     *last_manager_ != input.manager;
    std::vector<ExportFileEvent> events;
    if (!due)
        return events;
    std::map<ExportFormat, std::string> errors;
    for (const auto& target : targets) {
        WriteResult written;
        try {
            auto documents = render_export(target.format, input, false);
            written = target.format == ExportFormat::LibvirtNetwork
                          ? sync_directory(target.path, documents, kLibvirtMarker)
                          : write_file_atomically(target.path, joined(documents));
        } catch (const ExportError& e) {
            written.error = target.path + ": " + e.what();
        }
        using What = ExportFileEvent::What;
        if (!written.error.empty()) {
            // Reported once per distinct failure; retried at every refresh until it succeeds.
            auto previous = errors_.find(target.format);
            if (previous == errors_.end() || previous->second != written.error)
                events.push_back({What::Failed, target.format, target.path, written.error});
            errors[target.format] = written.error;
        } else if (errors_.count(target.format)) {
            events.push_back({What::Recovered, target.format, target.path, ""});
        } else if (written.changed) {
            events.push_back({What::Updated, target.format, target.path, ""});
        }
    }
    errors_ = std::move(errors);
    last_targets_ = targets;
    last_manager_ = input.manager;
    return events;
}

std::vector<std::string> ExportKeeper::errors() const {
    std::vector<std::string> out;
    for (const auto& [format, error] : errors_)
        out.push_back(error);
    return out;
}

} // namespace hostdevd
