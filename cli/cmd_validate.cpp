// `hostdevctl validate`: check the configuration directory without touching the host.
#include "commands.hpp"
#include "configuration.hpp"
#include "exit_codes.hpp"
#include "options.hpp"

#include <iostream>

namespace hostdevd::cli {

namespace {

int run_validate(const Invocation& in) {
    const std::string dir = in.value("config-dir", kDefaultConfigDir);
    if (in.has("json")) {
        LoadResult loaded = load_config_dir(dir);
        std::cout << validation_json(dir, loaded).dump(2) << '\n';
        return loaded.ok() ? kExitOk : kExitFailed;
    }
    auto desired = load_or_report(dir);
    if (!desired)
        return kExitFailed;
    std::cout << dir << ": valid (" << desired->files.size() << " files, " << desired->pfs.size() << " pf, "
              << desired->devices.size() << " device, " << desired->mdevs.size() << " mdev, "
              << desired->pools.size() << " pool entries";
    for (const auto& target : desired->exports)
        std::cout << (&target == &desired->exports.front() ? "; exports " : ", ") << to_string(target.format);
    std::cout << ")\n";
    return kExitOk;
}

} // namespace

Command validate_command() {
    Command c;
    c.name = "validate";
    c.summary = "check the configuration; print every error as FILE:LINE:COL: message";
    c.description =
        "Check every *.toml file of the configuration directory as hostdevd would load it (syntax, keys,\n"
        "values, ownership and permissions, conflicts between entries) and print every error found, one per\n"
        "line as FILE:LINE:COL: message. Nothing on the host is read or changed.";
    c.options = {config_dir_option(),
                 json_option("the result as JSON: valid, files, entries, and each error with file, line, "
                             "column, message")};
    c.exit_status =
        "  0  the configuration is valid\n  1  it is not (every error is printed)\n  2  usage error\n";
    c.run = run_validate;
    return c;
}

} // namespace hostdevd::cli
