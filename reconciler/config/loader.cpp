// Reading the configuration directory: which files, whether to trust them, and the all-or-nothing merge.
#include "config/loader.hpp"

#include "config/cross_checks.hpp"
#include "config/document_parser.hpp"
#include "config/toml_guard.hpp"
#include "config/trusted_path.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

namespace hostdevd {

namespace {

using config_detail::ParsedEntries;

// Configuration files are a few kilobytes; a huge file is a mistake (or an attack on the parser). The same
// limit as the text guard's (toml_guard.hpp), checked here before the file is read at all.
constexpr off_t kMaxFileSize = config_detail::TomlLimits{}.max_bytes;
// Entries ([[pf]], [[device]], [[mdev]]) in the whole directory: the checks across entries compare every
// pair, and no host has this many things to declare (a file may hold 10,000 tables, a directory any number
// of files).
constexpr size_t kMaxEntries = 10000;

ConfigDiagnostic whole_file_error(const std::string& file, std::string message) {
    return ConfigDiagnostic{SourceLocation{file, 0, 0}, std::move(message)};
}

// Parses one file's text into `entries`; syntax and static errors go to `errors`.
void parse_text(std::string_view text, const std::string& file_name, ParsedEntries& entries,
                std::vector<ConfigDiagnostic>& errors) {
    config_detail::DiagnosticSink sink(file_name, errors);
    if (auto unsafe = config_detail::find_unsafe_text(text)) {
        // Never hand toml++ 3.3 text that reaches its undefined behaviour (see toml_guard.hpp).
        sink.error(SourceLocation{file_name, unsafe->line, unsafe->column}, unsafe->message);
        return;
    }
    toml::table document;
    try {
        document = toml::parse(text, std::string_view(file_name));
    } catch (const toml::parse_error& error) {
        // toml++ stops at the first syntax error, so this file contributes exactly one diagnostic.
        sink.error(error.source(), "TOML syntax error: " + std::string(error.description()));
        return;
    }
    config_detail::parse_document(document, sink, entries);
}

// Errors in file load order, then by position, so output reads top to bottom. Directory-level
// errors (file not among `files`) come first.
void sort_errors(std::vector<ConfigDiagnostic>& errors, const std::vector<std::string>& files) {
    std::map<std::string, size_t> order;
    for (size_t i = 0; i < files.size(); ++i)
        order.emplace(files[i], i + 1);
    auto key = [&order](const ConfigDiagnostic& d) {
        auto it = order.find(d.where.file);
        return std::make_tuple(it == order.end() ? 0 : it->second, d.where.line, d.where.column);
    };
    std::stable_sort(
        errors.begin(), errors.end(),
        [&key](const ConfigDiagnostic& a, const ConfigDiagnostic& b) { return key(a) < key(b); });
}

LoadResult finish(ParsedEntries&& entries, std::vector<std::string> files,
                  std::vector<ConfigDiagnostic> errors) {
    config_detail::check_across_entries(entries, errors);
    LoadResult result;
    sort_errors(errors, files);
    result.errors = std::move(errors);
    if (result.errors.empty()) {
        DesiredState state;
        state.files = std::move(files);
        state.pfs = std::move(entries.pfs);
        state.devices = std::move(entries.devices);
        state.mdevs = std::move(entries.mdevs);
        state.pools = std::move(entries.pools);
        state.exports = std::move(entries.exports);
        std::stable_sort(state.exports.begin(), state.exports.end(),
                         [](const ExportTarget& a, const ExportTarget& b) { return a.format < b.format; });
        // [policy] destroy (or "ask") for every entry that does not say for itself.
        state.destroy = entries.destroy.value_or(DestroyPolicy::Ask);
        for (PfEntry& pf : state.pfs)
            pf.destroy = pf.destroy.value_or(state.destroy);
        for (MdevEntry& mdev : state.mdevs)
            mdev.destroy = mdev.destroy.value_or(state.destroy);
        result.state = std::move(state);
    }
    return result;
}

// The sshd StrictModes rule: a file (or directory) someone other than root can change could be used to
// rebind host devices, so it is refused. Returns the reason, or "" when the owner and mode are fine.
std::string permission_problem(const struct stat& st, const char* what) {
    if (st.st_uid != 0)
        return std::string(what) + " is owned by uid " + std::to_string(st.st_uid) +
               ", not root; refusing it (chown root)";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return std::string(what) + " is writable by group/other; refusing it (chmod go-w)";
    return {};
}

// The `*.toml` names in `dir` (no dot files: editor lock files such as ".#10-nics.toml"), sorted bytewise.
std::optional<std::vector<std::string>> list_config_files(const std::string& dir, std::string& error) {
    DIR* handle = opendir(dir.c_str());
    if (!handle) {
        error = std::string("cannot read the configuration directory: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::vector<std::string> names;
    while (auto* entry = readdir(handle)) {
        std::string_view name = entry->d_name;
        if (name.size() > 5 && name.front() != '.' && name.substr(name.size() - 5) == ".toml")
            names.emplace_back(name);
    }
    closedir(handle);
    std::sort(names.begin(), names.end());
    return names;
}

// Reads a file through one descriptor, so the permission check and the content refer to the same file.
std::optional<std::string> read_config_file(const std::string& path, const LoadOptions& options,
                                            std::string& error) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        error = std::string("cannot open: ") + std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    std::string text;
    if (fstat(fd, &st) != 0) {
        error = std::string("cannot stat: ") + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        error = "not a regular file";
    } else if (options.check_permissions && !(error = permission_problem(st, "file")).empty()) {
        // error is set
    } else if (st.st_size > kMaxFileSize) {
        error = "file is larger than 1 MiB; refusing it";
    } else {
        char buffer[16384];
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0 && text.size() <= static_cast<size_t>(kMaxFileSize))
            text.append(buffer, static_cast<size_t>(n));
        if (n < 0)
            error = std::string("cannot read: ") + std::strerror(errno);
        else if (text.size() > static_cast<size_t>(kMaxFileSize))
            error = "file is larger than 1 MiB; refusing it";
    }
    close(fd);
    if (!error.empty())
        return std::nullopt;
    return text;
}

} // namespace

LoadResult parse_config(std::string_view text, const std::string& file_name) {
    ParsedEntries entries;
    std::vector<ConfigDiagnostic> errors;
    parse_text(text, file_name, entries, errors);
    return finish(std::move(entries), {file_name}, std::move(errors));
}

LoadResult load_config_dir(const std::string& dir, const LoadOptions& options) {
    LoadResult failed;
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) {
        failed.errors.push_back(whole_file_error(
            dir, errno == ENOENT
                     ? "configuration directory does not exist"
                     : std::string("cannot stat the configuration directory: ") + std::strerror(errno)));
        return failed;
    }
    if (!S_ISDIR(st.st_mode)) {
        failed.errors.push_back(whole_file_error(dir, "not a directory"));
        return failed;
    }
    if (options.check_permissions) {
        std::string problem = permission_problem(st, "directory");
        if (problem.empty())
            problem = config_detail::untrusted_directory_on_the_way(dir);
        if (!problem.empty()) {
            failed.errors.push_back(whole_file_error(dir, problem));
            return failed;
        }
    }
    std::string list_error;
    auto names = list_config_files(dir, list_error);
    if (!names) {
        failed.errors.push_back(whole_file_error(dir, list_error));
        return failed;
    }

    ParsedEntries entries;
    std::vector<std::string> files;
    std::vector<ConfigDiagnostic> errors;
    for (const auto& name : *names) {
        std::string path = !dir.empty() && dir.back() == '/' ? dir + name : dir + "/" + name;
        files.push_back(path);
        std::string read_error;
        if (options.check_permissions)
            read_error = config_detail::untrusted_directory_on_the_way(path); // a link's way, too
        std::optional<std::string> text;
        if (read_error.empty())
            text = read_config_file(path, options, read_error);
        if (!text) {
            errors.push_back(whole_file_error(path, read_error));
            continue; // keep checking the other files, so one run shows every problem
        }
        parse_text(*text, path, entries, errors);
        if (entries.pfs.size() + entries.devices.size() + entries.mdevs.size() > kMaxEntries) {
            errors.push_back(whole_file_error(
                path, "with this file the directory declares more than " + std::to_string(kMaxEntries) +
                          " entries ([[pf]], [[device]], [[mdev]]; the limit); not reading further"));
            entries = ParsedEntries{}; // nothing to cross-check: the load has failed
            break;
        }
    }
    return finish(std::move(entries), std::move(files), std::move(errors));
}

} // namespace hostdevd
