#include "gate/history_store.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sstream>

namespace hostdevd {

namespace {
constexpr int kFormatVersion = 1;
}

std::string gate_history_path(const SysfsLayout& layout) {
    return layout.run_dir() + "/gate-history.json";
}

GateHistory persisted_part(const GateHistory& history) {
    GateHistory out;
    for (const auto& [key, e] : history.effects) {
        if (!e.no_effect.empty())
            out.effects[key].no_effect = e.no_effect;
        if (e.awaiting_check && !e.attempted_inputs.empty()) {
            out.effects[key].awaiting_check = true;
            out.effects[key].attempted_inputs = e.attempted_inputs;
        }
    }
    return out;
}

GateHistory load_gate_history(const SysfsLayout& layout) {
    GateHistory history;
    const std::string path = gate_history_path(layout);
    std::ifstream in(path);
    if (!in)
        return history;
    std::stringstream text;
    text << in.rdbuf();
    try {
        const auto doc = nlohmann::json::parse(text.str());
        if (doc.at("version").get<int>() != kFormatVersion)
            throw std::runtime_error("unknown version " + doc.at("version").dump());
        for (const auto& [key, effect] : doc.at("effects").items()) {
            EffectHistory& e = history.effects[key];
            for (const auto& [inputs, reason] : effect.at("no_effect").items())
                e.no_effect[inputs] = reason.get<std::string>();
            if (effect.contains("attempted")) {
                e.attempted_inputs = effect.at("attempted").get<std::string>();
                e.awaiting_check = !e.attempted_inputs.empty();
            }
        }
    } catch (const std::exception& e) {
        spdlog::warn("ignoring {}: {}", path, e.what());
        return GateHistory{};
    }
    return history;
}

bool save_gate_history(const SysfsLayout& layout, const GateHistory& history) {
    nlohmann::json effects = nlohmann::json::object();
    for (const auto& [key, e] : persisted_part(history).effects) {
        effects[key] = {{"no_effect", e.no_effect}};
        if (e.awaiting_check)
            effects[key]["attempted"] = e.attempted_inputs;
    }
    const std::string text = nlohmann::json{{"version", kFormatVersion}, {"effects", effects}}.dump(1) + "\n";
    const std::string path = gate_history_path(layout);
    std::error_code ec;
    std::filesystem::create_directories(layout.run_dir(), ec);
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    bool ok = f != nullptr;
    if (f) {
        ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
        ok = std::fclose(f) == 0 && ok;
    }
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        spdlog::warn("cannot save {}: {}", path, std::strerror(errno));
        return false;
    }
    return true;
}

} // namespace hostdevd
