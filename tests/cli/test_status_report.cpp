// hostdevctl status as text (cli/status_report.cpp) from a synthetic Describe(): the 512-VF host of
// issue 18 fits a summary in 30 lines, each distinct reason is said once, filters select and set the
// exit status. The same output on a real daemon is checked on simhost (tests/integration).
#include "exit_codes.hpp"
#include "status_report.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

using namespace hostdevd::cli;
using nlohmann::json;

namespace {

std::string address(unsigned bus, unsigned dev, unsigned fn) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0000:%02x:%02x.%u", bus, dev, fn);
    return buf;
}

const std::string kLongReason =
    "sriov_numvfs cannot change from 64 to 32 while VF 0000:21:00.0 is in use: pid 4242 uid 64055 "
    "(qemu-system-x86) holds /dev/vfio/1042; the kernel can only disable all VFs and create them again, "
    "which would take the device away from the guest. Stop the guest or move the device, and hostdevd "
    "applies the change by itself.";

// 8 PFs x 64 VFs; PF 0 and its VFs blocked with one long reason; 16 VFs of PF 1 pending.
json big_host() {
    json devices = json::array();
    for (unsigned p = 0; p < 8; ++p) {
        std::string pf = address(0x20 + 2 * p, 0, 0);
        bool blocked = p == 0;
        devices.push_back({{"address", pf},
                           {"role", "pf"},
                           {"driver", "ice"},
                           {"desired_driver", ""},
                           {"managed", false},
                           {"pool", ""},
                           {"num_vfs", 64},
                           {"desired_vfs", blocked ? "32" : "64"},
                           {"holders", json::array()},
                           {"state", blocked ? "blocked" : "converged"},
                           {"reason", blocked ? kLongReason : ""},
                           {"physfn", ""}});
        for (unsigned v = 0; v < 64; ++v) {
            unsigned rid = ((0x20 + 2 * p) << 8) + 8 + v;
            std::string state = blocked ? "blocked" : (p == 1 && v < 16) ? "pending" : "converged";
            std::string reason = blocked              ? kLongReason
                                 : state == "pending" ? "VF has no driver: bind vfio-pci"
                                                      : "";
            devices.push_back({{"address", address(rid >> 8, (rid >> 3) & 0x1f, rid & 7)},
                               {"role", "vf"},
                               {"driver", state == "pending" ? "" : "vfio-pci"},
                               {"desired_driver", "vfio-pci"},
                               {"managed", false},
                               {"pool", v < 32 ? "gold" : "silver"},
                               {"num_vfs", 0},
                               {"desired_vfs", ""},
                               {"holders", json::array()},
                               {"state", state},
                               {"reason", reason},
                               {"physfn", pf}});
        }
    }
    return {{"manager",
             {{"version", "0.1.0"},
              {"state", "progressing"},
              {"config_generation", 1},
              {"config_valid", true},
              {"config_error", ""},
              {"config_files", {"/etc/hostdevd/10-bench.toml"}},
              {"last_reconcile_usec", 1}}},
            {"devices", devices},
            {"mdevs", json::array()},
            {"absent", json::array()},
            {"plan", {{"actions", json::array()}, {"objects", json::array()}, {"conflicts", json::array()}}}};
}

size_t lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

std::string render(const json& d, StatusDetail detail, StatusFilter filter = {}, int* status = nullptr) {
    std::ostringstream out;
    StatusOptions options;
    options.detail = detail;
    options.filter = std::move(filter);
    int s = render_status(out, d, options);
    if (status)
        *status = s;
    return out.str();
}

} // namespace

TEST_CASE("status: 512 VFs fit a summary of at most 30 lines, each reason said once") {
    json d = big_host();
    for (auto detail : {StatusDetail::Auto, StatusDetail::Summary}) {
        std::string text = render(d, detail);
        INFO(text);
        CHECK(lines(text) <= 30);
        CHECK_THAT(text,
                   Catch::Contains(
                       "520 devices (8 PFs with 512 VFs, 0 other): 65 blocked, 16 pending, 439 converged"));
        CHECK(occurrences(text, kLongReason) == 1);
        CHECK_THAT(text, Catch::Contains("0000:20:00.0")); // the PF roll-up
        // The objects of the reason, compressed: the PF and its VFs.
        CHECK_THAT(text,
                   Catch::Contains("blocked: 0000:20:00.0 and 64 of its VFs (0000:20:01.0 … 0000:20:08.7)"));
        CHECK_THAT(text, Catch::Contains("pending: 16 VFs of 0000:22:00.0 (0000:22:01.0 … 0000:22:02.7)"));
        CHECK_THAT(text, Catch::Contains("gold 32, silver 32"));
        CHECK_THAT(text, Catch::Contains("16 pending, 49 converged"));
    }
}

TEST_CASE("status: --all lists every device and says a shared reason once, as a note") {
    std::string text = render(big_host(), StatusDetail::Full);
    CHECK(lines(text) >= 520);
    CHECK(occurrences(text, kLongReason) == 1);
    CHECK(occurrences(text, "[1]") == 66); // 65 rows and the note
}

TEST_CASE("status: the summary cuts reason lines to the terminal's width") {
    std::ostringstream out;
    StatusOptions options;
    options.detail = StatusDetail::Summary;
    options.width = 80;
    render_status(out, big_host(), options);
    std::istringstream in(out.str());
    std::string line;
    bool reason_seen = false;
    while (std::getline(in, line)) {
        if (line.rfind("  sriov_numvfs cannot change", 0) == 0) {
            reason_seen = true;
            CHECK(line.size() <= 80 + 2); // "…" is three bytes for one column
        }
    }
    CHECK(reason_seen);
}

TEST_CASE("status: filters select objects and decide the exit status") {
    json d = big_host();
    int status = -1;
    std::string text = render(d, StatusDetail::Auto, StatusFilter{{"0000:22:00.0"}, {}, {}}, &status);
    INFO(text);
    CHECK_THAT(text, Catch::Contains("65 devices (1 PF with 64 VFs, 0 other): 16 pending, 49 converged"));
    CHECK(status == kExitPending);
    render(d, StatusDetail::Auto, StatusFilter{{"0000:24:00.0"}, {}, {}}, &status);
    CHECK(status == kExitOk);
    text = render(d, StatusDetail::Auto, StatusFilter{{}, {"blocked"}, {}}, &status);
    CHECK(status == kExitBlocked);
    CHECK_THAT(text, Catch::Contains("65 devices (1 PF with 64 VFs, 0 other): 65 blocked"));
    text = render(d, StatusDetail::Full, StatusFilter{{}, {}, {"gold"}}, &status);
    CHECK_THAT(text, Catch::Contains("256 devices (0 PFs with 256 VFs, 0 other)"));
    CHECK_FALSE(text.find("silver") != std::string::npos);
}

TEST_CASE("status: the exit status follows the manager's state, and an invalid configuration is an error") {
    json d = big_host();
    const std::vector<std::pair<std::string, int>> table = {
        {"converged", kExitOk},    {"starting", kExitPending}, {"progressing", kExitPending},
        {"blocked", kExitBlocked}, {"degraded", kExitFailed},  {"invalid-config", kExitFailed}};
    for (const auto& [state, expected] : table) {
        d["manager"]["state"] = state;
        CHECK(status_exit_status(d, {}) == expected);
    }
    d["manager"]["state"] = "converged";
    d["manager"]["config_valid"] = false;
    d["manager"]["config_error"] = "/etc/hostdevd/10-nics.toml:3:1: unknown key `vfss`";
    CHECK(status_exit_status(d, {}) == kExitFailed);
    CHECK(status_exit_status(d, StatusFilter{{"0000:24:00.0"}, {}, {}}) == kExitFailed);
    CHECK_THAT(render(d, StatusDetail::Summary),
               Catch::Contains("configuration error (previous one still in force)"));
}
