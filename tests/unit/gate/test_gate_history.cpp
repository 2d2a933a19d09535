// The gate's memory across processes (gate/history_store.hpp): only what stops a repeated tear-down.
#include "gate/history_store.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace hostdevd;

namespace {

struct TempRoot {
    std::string path;
    TempRoot() {
        char tmpl[] = "/tmp/hostdevd-gate-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempRoot() { std::filesystem::remove_all(path); }
};

} // namespace

TEST_CASE("only no-effect records are persisted, and they load back as saved") {
    TempRoot root;
    SysfsLayout layout(root.path, "6.1.0-test");
    GateHistory h;
    EffectHistory& e = h.effects["0000:3b:00.0|set-numvfs|bus/pci/devices/0000:3b:00.0/sriov_numvfs=4"];
    e.no_effect["00112233aabbccdd"] = "driver enabled 16 VFs when 4 were written";
    e.failures = 3;
    e.applications = 2;
    h.effects["0000:3b:02.0|bind|bus/pci/drivers_probe=0000:3b:02.0"].failures = 1; // back-off only
    REQUIRE(save_gate_history(layout, h));
    GateHistory loaded = load_gate_history(layout);
    CHECK(loaded == persisted_part(h));
    REQUIRE(loaded.effects.size() == 1);
    CHECK(loaded.effects.begin()->second.failures == 0);
    CHECK(gate_history_path(layout) == root.path + "/run/hostdevd/gate-history.json");
}

TEST_CASE("a missing or corrupt history file is an empty history") {
    TempRoot root;
    SysfsLayout layout(root.path, "6.1.0-test");
    CHECK(load_gate_history(layout).effects.empty());
    std::filesystem::create_directories(root.path + "/run/hostdevd");
    for (const char* text : {"", "{", "{\"version\": 2, \"effects\": {}}", "[1,2]",
                             "{\"version\": 1, \"effects\": {\"k\": {\"no_effect\": {\"x\": 5}}}}"}) {
        std::ofstream(gate_history_path(layout)) << text;
        INFO(text);
        CHECK(load_gate_history(layout).effects.empty());
    }
}
