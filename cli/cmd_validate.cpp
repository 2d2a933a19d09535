// `hostdevctl validate`: check the configuration directory, and what it names against the running host.
#include "bounded_render.hpp"
#include "commands.hpp"
#include "configuration.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "plan/host_checks.hpp"

#include <iostream>

namespace hostdevd::cli {

namespace {

// Driver names and vGPU profiles are the only values that depend on the host: a configuration without
// them is judged from its files alone, and the host is not read.
bool names_host_values(const DesiredState& desired) {
    for (const PfEntry& pf : desired.pfs)
        for (const VfSettings& vf : pf.vfs_settings)
            if (vf.driver.kind == DriverChoice::Kind::Named || vf.vgpu)
                return true;
    for (const DeviceEntry& device : desired.devices)
        if (device.driver.kind == DriverChoice::Kind::Named)
            return true;
    return false;
}

// The files are valid; what they name must also exist on this host (driver names against the kernel's
// drivers and modules, vGPU profiles against the GPUs'): plan/host_checks.hpp. Each problem as an
// error of validate --json. The host is read in a child process (a device a stuck write keeps locked is
// left out, not waited for); nullopt when it could not be read at all (said on stderr).
std::optional<nlohmann::json> host_problems(const DesiredState& desired) {
    if (!names_host_values(desired))
        return nlohmann::json::array();
    auto output = render_bounded([&desired](const ObservedState& observed) {
        nlohmann::json problems = nlohmann::json::array();
        for (const ConfigProblem& p : check_against_host(desired, observed))
            problems.push_back({{"file", p.where.file},
                                {"line", p.where.line},
                                {"column", p.where.column},
                                {"message", p.message},
                                {"text", p.str()},
                                {"against_host", true}});
        return problems.dump();
    });
    if (!output)
        return std::nullopt;
    return nlohmann::json::parse(*output);
}

int run_validate(const Invocation& in) {
    const std::string dir = in.value("config-dir", kDefaultConfigDir);
    if (in.has("json")) {
        LoadResult loaded = load_config_dir(dir);
        nlohmann::json out = validation_json(dir, loaded);
        if (loaded.ok()) {
            auto problems = host_problems(*loaded.state);
            if (!problems)
                return kExitFailed;
            for (const auto& p : *problems)
                out["errors"].push_back(p);
            out["valid"] = problems->empty();
        }
        std::cout << out.dump(2) << '\n';
        return out.at("valid").get<bool>() ? kExitOk : kExitFailed;
    }
    auto desired = load_or_report(dir);
    if (!desired)
        return kExitFailed;
    auto problems = host_problems(*desired);
    if (!problems)
        return kExitFailed;
    for (const auto& p : *problems)
        std::cerr << p.at("text").get<std::string>() << '\n';
    if (!problems->empty()) {
        std::cerr << "hostdevctl: configuration in " << dir << " does not fit this host (" << problems->size()
                  << (problems->size() == 1 ? " problem" : " problems") << ")\n";
        return kExitFailed;
    }
    std::cout << dir << ": valid (" << desired->files.size() << " files, " << desired->pfs.size() << " pf, "
              << desired->devices.size() << " device, " << desired->mdevs.size() << " mdev, "
              << desired->pools.size() << " pool entries";
    for (const auto& target : desired->exports)
        std::cout << (&target == &desired->exports.front() ? "; exports " : ", ") << to_string(target.format);
    std::cout << ")"
              << (in.has("config-dir") ? "; checked here against this host, not the daemon's configuration"
                                       : "")
              << '\n';
    return kExitOk;
}

} // namespace

Command validate_command() {
    Command c;
    c.name = "validate";
    c.summary = "check the configuration; print every error as FILE:LINE:COL: message";
    c.description =
        "Check every *.toml file of the configuration directory as hostdevd would load it (syntax, keys,\n"
        "values, ownership and permissions, conflicts between entries), then what it names against the\n"
        "running kernel: driver names (registered drivers, modules.dep; a module's name such as vfio_pci\n"
        "where its driver's, vfio-pci, belongs) and vGPU profiles, with the likely intended name. Every\n"
        "error is printed, one per line as FILE:LINE:COL: message. The host is read only for those checks\n"
        "(when the configuration names a driver or a vGPU profile); nothing is changed.";
    c.options = {config_dir_option(),
                 json_option("the result as JSON: valid, files, entries, and each error with file, line, "
                             "column, message (against_host for the checks against the host)")};
    c.exit_status = "  0  the configuration is valid and fits this host\n  1  it does not (every error is "
                    "printed)\n  2  usage error\n";
    c.run = run_validate;
    return c;
}

} // namespace hostdevd::cli
