// reconcile_to_fixed_point() in process on simulated hosts: after each wave it re-reads only the devices
// the wave can have changed (reconcile/one_shot.cpp). Its final observation must be exactly what reading
// the whole host gives, and its final plan what planning against that gives, for every example
// configuration (VF counts, autoprobe, binds, mdevs, vGPUs, module loads). Each TEST_CASE runs in a fresh
// `simhost run --host examples/hosts/<tag>.toml` (see CMakeLists.txt).
#include "apply/module_loader.hpp"
#include "apply/writer.hpp"
#include "config/loader.hpp"
#include "observe/observe.hpp"
#include "plan/planner.hpp"
#include "reconcile/one_shot.hpp"
#include "report/json.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;

namespace {

void converge_and_compare(const std::string& host) {
    LoadResult loaded = load_config_dir(testing::source_dir() + "/examples/config/" + host,
                                        LoadOptions{.check_permissions = false});
    REQUIRE(loaded.ok());
    SysfsLayout layout;
    SysfsWriter writer(layout);
    ModprobeLoader modules;
    const OneShotReport report = reconcile_to_fixed_point(*loaded.state, layout, writer, modules);
    INFO("result " << to_string(report.result) << " after " << report.passes << " passes");
    CHECK(report.passes >= 1);
    const ObservedState whole = observe_host(layout);
    CHECK(to_json(report.final_observed).dump(1) == to_json(whole).dump(1));
    CHECK(to_json(report.final_plan).dump(1) == to_json(make_plan(*loaded.state, whole)).dump(1));
}

} // namespace

TEST_CASE("one-shot intel-x710: the final observation after targeted re-reads is the whole host's",
          "[intel-x710]") {
    converge_and_compare("intel-x710");
}

TEST_CASE("one-shot intel-e810: the final observation after targeted re-reads is the whole host's",
          "[intel-e810]") {
    converge_and_compare("intel-e810");
}

TEST_CASE("one-shot mellanox-cx5: the final observation after targeted re-reads is the whole host's",
          "[mellanox-cx5]") {
    converge_and_compare("mellanox-cx5");
}

TEST_CASE("one-shot nvidia-a16: the final observation after targeted re-reads is the whole host's",
          "[nvidia-a16]") {
    converge_and_compare("nvidia-a16");
}

TEST_CASE("one-shot nvidia-l4: the final observation after targeted re-reads is the whole host's",
          "[nvidia-l4]") {
    converge_and_compare("nvidia-l4");
}

TEST_CASE("one-shot qemu-nvme: the final observation after targeted re-reads is the whole host's",
          "[qemu-nvme]") {
    converge_and_compare("qemu-nvme");
}

TEST_CASE("one-shot lab: the final observation after targeted re-reads is the whole host's", "[lab]") {
    converge_and_compare("lab");
}
