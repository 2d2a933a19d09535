#include "daemon/journal.hpp"

#include <cstdlib>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

namespace hostdevd::journal {

namespace {

bool g_journal = false;

// JOURNAL_STREAM=<device>:<inode> of the stream systemd connected stdout/stderr to. Set for the service's
// processes; inherited by anything they run with stderr redirected elsewhere, hence the comparison.
bool stderr_is_journal() {
    const char* value = std::getenv("JOURNAL_STREAM");
    if (!value)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(value, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st {};
    return ::fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

spdlog::level::level_enum spdlog_level(Priority p) {
    switch (p) {
    case Priority::Err:
        return spdlog::level::err;
    case Priority::Warning:
        return spdlog::level::warn;
    case Priority::Notice:
    case Priority::Info:
        return spdlog::level::info;
    case Priority::Debug:
        return spdlog::level::debug;
    }
    return spdlog::level::info;
}

std::string upper_field(const std::string& name) {
    std::string out = "HOSTDEVD_";
    for (char c : name)
        out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    return out;
}

} // namespace

const char* message_id(Kind kind) {
    switch (kind) {
    case Kind::Applied:
        return "4968c26988d74652b4c27230c305d3de";
    case Kind::Converged:
        return "85e40103647a473fa7c01a6dd5f055c6";
    case Kind::Blocked:
        return "942ff42c56064ba4a1b957ac11b752da";
    case Kind::Failed:
        return "9c667f213a6441a4ab3c36c1fb715e80";
    case Kind::Undone:
        return "15feefbbeb894aba86c37f4f7363aa8f";
    case Kind::Destroyed:
        return "ba4b4efef6ee4ec2a53dbdf80b807e31";
    case Kind::Vetoed:
        return "0db42aa4a8d24329a62131c31abfdf2b";
    case Kind::ConfigInvalid:
        return "d072086be53a4d4d8dad3d682761dfd8";
    case Kind::ExportWritten:
        return "84a8d11a761e4892829b65062a240fae";
    case Kind::ExportFailed:
        return "25ffde48bf66402d8187d930b9055f38";
    }
    return "";
}

const char* kind_name(Kind kind) {
    switch (kind) {
    case Kind::Applied:
        return "applied";
    case Kind::Converged:
        return "converged";
    case Kind::Blocked:
        return "blocked";
    case Kind::Failed:
        return "failed";
    case Kind::Undone:
        return "undone";
    case Kind::Destroyed:
        return "destroyed";
    case Kind::Vetoed:
        return "vetoed";
    case Kind::ConfigInvalid:
        return "config-invalid";
    case Kind::ExportWritten:
        return "export-written";
    case Kind::ExportFailed:
        return "export-failed";
    }
    return "";
}

void init(bool debug) {
    // spdlog's own default logger (plain text with a timestamp) is the one used when not under journald.
    static const std::shared_ptr<spdlog::logger> plain = spdlog::default_logger();
    g_journal = stderr_is_journal();
    if (g_journal) {
        // Every other line (spdlog::info(...) and friends) goes to journald with its real priority.
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "hostdevd", std::make_shared<spdlog::sinks::systemd_sink_mt>("hostdevd")));
    } else {
        spdlog::set_default_logger(plain);
    }
    spdlog::set_level(debug ? spdlog::level::debug : spdlog::level::info);
}

bool to_journal() {
    return g_journal;
}

void log(const Event& event) {
    const spdlog::level::level_enum level = spdlog_level(event.priority);
    if (!spdlog::should_log(level))
        return;
    if (!g_journal) {
        spdlog::log(level, "{}", event.message);
        return;
    }
    // sd_journal_sendv: one entry with every field; values may hold any text (no format strings).
    std::vector<std::string> fields = {
        "MESSAGE=" + event.message,
        "PRIORITY=" + std::to_string(static_cast<int>(event.priority)),
        "SYSLOG_IDENTIFIER=hostdevd",
        std::string("MESSAGE_ID=") + message_id(event.kind),
        std::string("HOSTDEVD_EVENT=") + kind_name(event.kind),
    };
    if (!event.device.empty())
        fields.push_back("HOSTDEVD_DEVICE=" + event.device);
    if (!event.action.empty())
        fields.push_back("HOSTDEVD_ACTION=" + event.action);
    if (!event.verdict.empty())
        fields.push_back("HOSTDEVD_VERDICT=" + event.verdict);
    for (const auto& [name, value] : event.fields)
        fields.push_back(upper_field(name) + "=" + value);
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (std::string& f : fields)
        iov.push_back({f.data(), f.size()});
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0)
        spdlog::log(level, "{}", event.message); // journald gone: the line still goes through spdlog's sink
}

} // namespace hostdevd::journal
