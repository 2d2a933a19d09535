// future_actions (plan/future.hpp): the writes an apply makes on VFs a VF-count change creates, named
// before they exist, and nothing for a change that is not going to happen now.
#include "plan/future.hpp"
#include "plan_fixtures.hpp"

using namespace plan_test;

namespace {

PfEntry vfio_vfs(uint32_t count, bool autoprobe = false) {
    PfEntry e = pf_entry(exact(count));
    e.autoprobe = autoprobe;
    std::vector<uint32_t> indices;
    for (uint32_t i = 0; i < count; ++i)
        indices.push_back(i);
    e.vfs_settings.push_back(vf_table(indices, named("vfio-pci")));
    return e;
}

ObservedState x710(uint32_t num, const std::string& vf_driver = "vfio-pci") {
    ObservedState host = pf_with_vfs(num, 8, "i40e", vf_driver);
    dev(host, kPf).vf_offset = 16; // X710: VF N at 3b:02.0 + N
    dev(host, kPf).vf_stride = 1;
    dev(host, kPf).drivers_autoprobe = false;
    return host;
}

} // namespace

TEST_CASE("future: 0 -> 3 names the binds of the three VFs, at the addresses offset and stride give") {
    const DesiredState desired = with_pf(vfio_vfs(3));
    const ObservedState host = x710(0);
    const Plan plan = make_plan(desired, host);
    const std::vector<Action> future = future_actions(plan, desired, host);
    REQUIRE(future.size() == 3);
    for (int i = 0; i < 3; ++i) {
        const Action& a = future[static_cast<size_t>(i)];
        CHECK(a.object == vf(i));
        CHECK(a.summary == "bind vfio-pci (after the VFs appear)");
        CHECK(a.after == kAfterVfsAppear);
        CHECK(a.verdict == Verdict::Waiting);
        CHECK(a.writes == writes({{"bus/pci/devices/" + vf(i) + "/driver_override", "vfio-pci"},
                                  {"bus/pci/drivers_probe", vf(i)}}));
        CHECK_THAT(a.reason, Catch::Contains("created by sriov_numvfs 0 -> 3"));
    }
}

TEST_CASE("future: 3 -> 2 goes through 0, so both VFs that come back are bound again") {
    const DesiredState desired = with_pf(vfio_vfs(2));
    const ObservedState host = x710(3);
    const Plan plan = make_plan(desired, host);
    REQUIRE(only(plan, ActionKind::SetNumVfs).summary == "sriov_numvfs 3 -> 0 -> 2");
    const std::vector<Action> future = future_actions(plan, desired, host);
    REQUIRE(future.size() == 2);
    CHECK(future[0].object == vf(0));
    CHECK(future[1].object == vf(1));
}

TEST_CASE("future: nothing for a change that is blocked, and no address without offset and stride") {
    DesiredState desired = with_pf(vfio_vfs(2));
    ObservedState host = x710(3);
    dev(host, vf(1)).holders = {"pid 42 uid 64055 (qemu-system-x86)"};
    Plan plan = make_plan(desired, host);
    REQUIRE(only(plan, ActionKind::SetNumVfs).verdict == Verdict::Blocked);
    CHECK(future_actions(plan, desired, host).empty());

    host = x710(0);
    dev(host, kPf).vf_offset.reset();
    plan = make_plan(desired, host);
    auto future = future_actions(plan, desired, host);
    REQUIRE(future.size() == 2);
    CHECK(future[0].object == kPf + "/vf0");
    CHECK(future[0].writes.empty());
    CHECK_THAT(future[0].reason, Catch::Contains("its address is known once it exists"));
}

TEST_CASE("future: with autoprobe on, the reason says a driver that binds by itself is unbound first") {
    const DesiredState desired = with_pf(vfio_vfs(1, true));
    ObservedState host = x710(0);
    dev(host, kPf).drivers_autoprobe = true;
    const Plan plan = make_plan(desired, host);
    auto future = future_actions(plan, desired, host);
    REQUIRE(future.size() == 1);
    CHECK_THAT(future[0].reason, Catch::Contains("unbound first"));
}
