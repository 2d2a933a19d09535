#include "control_commands.hpp"

#include "access_stats.hpp"
#include "errno_names.hpp"

#include <cerrno>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

namespace simhost {
namespace {

ControlReply ok(std::string body = {}) {
    return {0, {}, std::move(body)};
}
ControlReply failure(int error, std::string message) {
    return {error, std::move(message), {}};
}
ControlReply usage(const std::string& text) {
    return failure(EINVAL, "usage: " + text);
}
ControlReply from_model(int rc, const std::string& error) {
    return rc < 0 ? failure(-rc, error.empty() ? errno_name(-rc) : error) : ok();
}

template <typename Number>
bool parse_number(const std::string& text, Number& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

bool parse_seconds(const std::string& text, double& out) {
    try {
        std::size_t used = 0;
        out = std::stod(text, &used);
        return used == text.size() && out >= 0;
    } catch (const std::exception&) {
        return false;
    }
}

std::string iso_time(std::chrono::system_clock::time_point time) {
    const auto since_epoch = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(since_epoch.count() / 1000000);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char text[64];
    const std::size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof(text) - n, ".%06lldZ",
                  static_cast<long long>(since_epoch.count() % 1000000));
    return text;
}

std::string c_escaped(const std::string& value) {
    std::string out = "\"";
    for (const unsigned char c : value) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\\' || c == '"')
            out += std::string("\\") + char(c);
        else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "\\x%02x", c);
            out += hex;
        } else
            out += char(c);
    }
    return out + "\"";
}

} // namespace

std::string ControlReply::serialize() const {
    if (error == 0)
        return "ok\n" + body;
    return "error " + errno_name(error) + " " + message + "\n";
}

std::vector<std::string> split_words(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string word; in >> word;)
        words.push_back(word);
    return words;
}

std::string format_write_log(const std::vector<WriteRecord>& records, bool json) {
    if (json) {
        auto array = nlohmann::json::array();
        for (const auto& record : records)
            array.push_back({
                {"time", iso_time(record.time)},
                {"path", record.path},
                {"value", record.value},
                {"result", errno_name(record.error)},
                {"errno", record.error},
                {"duration_us", record.duration.count()},
                {"disrupted_in_use", record.disrupted_in_use},
                {"in_use_reason", record.in_use_reason},
            });
        return array.dump(2) + "\n";
    }
    std::string out;
    for (const auto& record : records)
        out += iso_time(record.time) + " " + std::to_string(record.duration.count()) + "us " +
               errno_name(record.error) + " " + record.path + " " + c_escaped(record.value) +
               (record.disrupted_in_use ? " DISRUPTED-IN-USE " + c_escaped(record.in_use_reason) : "") + "\n";
    return out;
}

int ControlCommands::resolve_group(const std::string& device_or_group, std::string& error) const {
    int group = -1;
    if (parse_number(device_or_group, group) && group >= 0)
        return group;
    // drivers/iommu/iommu.c iommu_group_add_device(): every grouped device has an iommu_group link to
    // /sys/kernel/iommu_groups/<n>; PCI functions and mdevs alike.
    for (const char* bus : {"/bus/pci/devices/", "/bus/mdev/devices/"}) {
        std::string target;
        if (kernel_.readlink(std::string(bus) + device_or_group + "/iommu_group", target) == 0) {
            const std::string number = target.substr(target.rfind('/') + 1);
            if (parse_number(number, group))
                return group;
        }
    }
    error = device_or_group + " is neither an IOMMU group number nor a device with an iommu_group link";
    return -1;
}

ControlReply ControlCommands::hold(const std::vector<std::string>& words) {
    const char* kUsage =
        "hold ADDR|GROUP [--device|--device-only|--cdev] [--syspath] [--comm NAME] [--uid UID]";
    if (words.size() < 2)
        return usage(kUsage);
    HoldOptions options;
    bool kind_given = false;
    for (std::size_t i = 2; i < words.size(); ++i) {
        auto kind = [&](HoldOptions::Kind k) {
            if (kind_given)
                return false;
            kind_given = true;
            options.kind = k;
            return true;
        };
        bool ok = true;
        if (words[i] == "--device")
            ok = kind(HoldOptions::Kind::Qemu);
        else if (words[i] == "--device-only")
            ok = kind(HoldOptions::Kind::DeviceOnly);
        else if (words[i] == "--cdev")
            ok = kind(HoldOptions::Kind::Cdev);
        else if (words[i] == "--syspath")
            options.syspath = true;
        else if (words[i] == "--comm" && i + 1 < words.size())
            options.comm = words[++i];
        else if (words[i] == "--uid" && i + 1 < words.size())
            ok = parse_number(words[++i], options.uid) && options.uid >= 0;
        else
            ok = false;
        if (!ok)
            return usage(kUsage);
    }
    std::string error;
    const int group = resolve_group(words[1], error);
    if (group < 0)
        return failure(ENODEV, error);
    const pid_t pid = holders_.start(group, options, error);
    if (pid < 0)
        return failure(-pid, error);
    return ok(std::to_string(pid) + "\n");
}

ControlReply ControlCommands::fault(const std::vector<std::string>& words) {
    const std::string kinds = "fault fail PATH ERRNO [COUNT] | block PATH SECONDS | limit-vfs PF N | "
                              "probe-delay PF SECONDS | clear";
    if (words.size() < 2)
        return usage(kinds);
    const std::string& kind = words[1];
    if (kind == "clear" && words.size() == 2) {
        kernel_.clear_faults();
        return ok();
    }
    Fault fault;
    if (kind == "fail" && (words.size() == 4 || words.size() == 5)) {
        fault.kind = Fault::Kind::FailWrite;
        fault.path = words[2];
        const auto error = parse_errno(words[3]);
        if (!error)
            return failure(EINVAL, "unknown errno '" + words[3] + "' (use a name like EBUSY or a number)");
        fault.error = *error;
        fault.count = 1;
        if (words.size() == 5 && !parse_number(words[4], fault.count))
            return failure(EINVAL, "COUNT must be a number (0 = every write), not '" + words[4] + "'");
    } else if (kind == "block" && words.size() == 4) {
        fault.kind = Fault::Kind::BlockWrite;
        fault.path = words[2];
        if (!parse_seconds(words[3], fault.seconds))
            return failure(EINVAL, "SECONDS must be a non-negative number, not '" + words[3] + "'");
    } else if (kind == "limit-vfs" && words.size() == 4) {
        fault.kind = Fault::Kind::LimitVfs;
        fault.path = words[2];
        if (!parse_number(words[3], fault.value))
            return failure(EINVAL, "N must be a number, not '" + words[3] + "'");
    } else if (kind == "probe-delay" && words.size() == 4) {
        fault.kind = Fault::Kind::ProbeDelay;
        fault.path = words[2];
        if (!parse_seconds(words[3], fault.seconds))
            return failure(EINVAL, "SECONDS must be a non-negative number, not '" + words[3] + "'");
    } else {
        return usage(kinds);
    }
    std::string error;
    return from_model(kernel_.add_fault(fault, error), error);
}

ControlReply ControlCommands::log(const std::vector<std::string>& words) {
    if (words.size() == 1)
        return ok(format_write_log(kernel_.write_log(), false));
    if (words.size() == 2 && words[1] == "--json")
        return ok(format_write_log(kernel_.write_log(), true));
    if (words.size() == 2 && words[1] == "clear") {
        kernel_.clear_write_log();
        return ok();
    }
    return usage("log [--json] | log clear");
}

ControlReply ControlCommands::stats(const std::vector<std::string>& words) {
    if (words.size() == 1)
        return ok(format_access_counts(access_totals()));
    if (words.size() == 2 && words[1] == "clear") {
        clear_access_counts();
        return ok();
    }
    if (words.size() == 2 && words[1].starts_with("/sys/")) // FUSE sees paths relative to the mount
        return ok(format_access_counts(access_counts_for(words[1].substr(4))));
    return usage("stats | stats clear | stats /sys/PATH");
}

ControlReply ControlCommands::handle(const std::vector<std::string>& words) {
    if (words.empty())
        return usage("COMMAND [ARGS...]");
    const std::string& command = words[0];
    std::string error;
    if (command == "plug" && words.size() == 2)
        return from_model(kernel_.plug(words[1], error), error);
    if (command == "unplug" && words.size() == 2)
        return from_model(kernel_.unplug(words[1], error), error);
    if (command == "link" && words.size() == 3 && (words[2] == "up" || words[2] == "down"))
        return from_model(kernel_.set_link(words[1], words[2] == "up", error), error);
    if (command == "master" && words.size() == 3)
        return from_model(kernel_.set_master(words[1], words[2] == "-" ? "" : words[2], error), error);
    if (command == "hold")
        return hold(words);
    if (command == "release" && words.size() == 2) {
        pid_t pid = 0;
        if (!parse_number(words[1], pid))
            return failure(EINVAL, "PID must be a number, not '" + words[1] + "'");
        return holders_.release(pid, error) ? ok() : failure(ESRCH, error);
    }
    if (command == "fault")
        return fault(words);
    if (command == "log")
        return log(words);
    if (command == "stats")
        return stats(words);
    if (command == "load_module" && words.size() == 2)
        return from_model(kernel_.load_module(words[1], error), error);
    if (command == "reset" && words.size() == 1) {
        holders_.kill_all(); // guests do not survive the host going back to its description
        kernel_.reset();
        devnodes_.replace_all(kernel_.devnode_numbers());
        return ok();
    }
    return failure(
        EINVAL, "unknown command or wrong arguments: '" + command +
                    "' (plug, unplug, link, master, hold, release, fault, log, stats, load_module, reset)");
}

} // namespace simhost
