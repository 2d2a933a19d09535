#include "configuration.hpp"

#include <iostream>

namespace hostdevd::cli {

std::optional<DesiredState> load_or_report(const std::string& dir) {
    LoadResult loaded = load_config_dir(dir);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors)
            std::cerr << e.str() << '\n';
        std::cerr << "hostdevctl: configuration in " << dir << " is invalid (" << loaded.errors.size()
                  << (loaded.errors.size() == 1 ? " error" : " errors") << ")\n";
        return std::nullopt;
    }
    return std::move(loaded.state);
}

nlohmann::json validation_json(const std::string& dir, const LoadResult& loaded) {
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : loaded.errors)
        errors.push_back({{"file", e.where.file},
                          {"line", e.where.line},
                          {"column", e.where.column},
                          {"message", e.message},
                          {"text", e.str()}});
    nlohmann::json out = {{"config_dir", dir}, {"valid", loaded.ok()}, {"errors", errors}};
    if (loaded.ok()) {
        out["files"] = loaded.state->files;
        out["entries"] = {{"pf", loaded.state->pfs.size()},
                          {"device", loaded.state->devices.size()},
                          {"mdev", loaded.state->mdevs.size()},
                          {"pool", loaded.state->pools.size()}};
        nlohmann::json exports = nlohmann::json::object();
        for (const auto& target : loaded.state->exports)
            exports[to_string(target.format)] = target.path;
        out["exports"] = exports;
    } else {
        out["files"] = nlohmann::json::array();
        out["entries"] = nullptr;
        out["exports"] = nullptr;
    }
    return out;
}

} // namespace hostdevd::cli
