// Golden diagnostics: every bad/NN-name.toml (or bad/NN-name/ directory of files) must produce exactly the
// lines of bad/NN-name.expected. Paths are printed relative to bad/ so the goldens do not depend on where
// the tree is checked out. HOSTDEVD_UPDATE_GOLDENS=1 rewrites the .expected files (review the diff!).
#include "config/loader.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace hostdevd;

namespace {

const fs::path kGoldenDir = HOSTDEVD_CONFIG_GOLDEN_DIR;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string diagnostics_for(const fs::path& golden_case) {
    LoadResult result;
    if (fs::is_directory(golden_case))
        result = load_config_dir(golden_case.string(), {.check_permissions = false});
    else
        result = parse_config(read_file(golden_case), golden_case.filename().string());
    const std::string prefix = kGoldenDir.string() + "/";
    std::string out;
    for (const auto& error : result.errors) {
        std::string line = error.str();
        // Both the diagnostic's own path and any other place it names ("... at FILE:LINE").
        for (size_t at; (at = line.find(prefix)) != std::string::npos;)
            line.erase(at, prefix.size());
        out += line + "\n";
    }
    if (result.ok())
        out += "(loaded without errors)\n";
    return out;
}

std::vector<fs::path> golden_cases() {
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(kGoldenDir))
        if (entry.is_directory() || entry.path().extension() == ".toml")
            cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    return cases;
}

} // namespace

TEST_CASE("golden diagnostics for bad configurations") {
    const bool update = std::getenv("HOSTDEVD_UPDATE_GOLDENS") != nullptr;
    auto cases = golden_cases();
    CHECK(cases.size() >= 25);
    for (const auto& golden_case : cases) {
        fs::path expected_path = golden_case;
        expected_path.replace_extension(".expected");
        if (fs::is_directory(golden_case))
            expected_path = golden_case.string() + ".expected";
        DYNAMIC_SECTION(golden_case.filename().string()) {
            std::string actual = diagnostics_for(golden_case);
            if (update)
                std::ofstream(expected_path, std::ios::binary) << actual;
            REQUIRE(fs::exists(expected_path));
            CHECK(actual == read_file(expected_path));
            CHECK(actual.find("(loaded without errors)") == std::string::npos);
        }
    }
}
