// NVIDIA vendor-specific VFIO vGPU profiles on [[pf.vf]] (nvidia/current_vgpu_type).
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;

namespace {

// An L4 PF with `num` VFs bound to nvidia; every VF offers L4-3Q (id 1) and L4-6Q (id 2) while empty.
ObservedState l4_host(uint32_t num) {
    ObservedState host = pf_with_vfs(num, 16, "nvidia", "nvidia");
    for (uint32_t i = 0; i < num; ++i)
        dev(host, vf(static_cast<int>(i))).vgpu = VgpuState{{{1, "NVIDIA L4-3Q"}, {2, "NVIDIA L4-6Q"}}, 0};
    return host;
}

DesiredState want_vgpu(const std::string& profile, std::vector<uint32_t> indices = {0}) {
    PfEntry e = pf_entry(exact(2));
    VfSettings s = vf_table(std::move(indices), DriverChoice{});
    s.vgpu = profile;
    e.vfs_settings.push_back(s);
    return with_pf(e);
}

const std::string kCurrent = "bus/pci/devices/0000:3b:02.0/nvidia/current_vgpu_type";

} // namespace

TEST_CASE("vgpu: current 0 and creatable: safe, writes the id (name with or without NVIDIA prefix)") {
    for (const std::string profile : {"NVIDIA L4-6Q", "L4-6Q"}) {
        Plan plan = make_plan(want_vgpu(profile), l4_host(2));
        const Action& a = only(plan, ActionKind::SetVgpu);
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.wave == Wave::Binding);
        CHECK(a.writes == writes({{kCurrent, "2"}}));
        CHECK(a.reason == "VF has no vGPU; NVIDIA L4-6Q is creatable");
        CHECK(actions_of(plan, ActionKind::Bind).empty()); // never bound to vfio-pci
    }
}

TEST_CASE("vgpu: current == id is converged, even when the VF no longer lists its own type") {
    ObservedState host = l4_host(2);
    dev(host, vf(0)).vgpu = VgpuState{{}, 2}; // creatable lists only what can be created now
    Plan plan = make_plan(want_vgpu("NVIDIA L4-6Q"), host);
    CHECK(plan.actions.empty());
    CHECK(status(plan, vf(0)).state == ObjectState::Converged);
}

TEST_CASE("vgpu: another type, idle: safe delete (0), disruptive - in use: blocked") {
    ObservedState host = l4_host(2);
    dev(host, vf(0)).vgpu = VgpuState{{}, 1};
    Plan plan = make_plan(want_vgpu("NVIDIA L4-6Q"), host);
    const Action& a = only(plan, ActionKind::SetVgpu);
    CHECK(a.verdict == Verdict::Safe);
    CHECK(a.disruptive);
    CHECK(a.must_be_idle == std::vector<std::string>{vf(0)});
    CHECK(a.writes == writes({{kCurrent, "0"}}));
    dev(host, vf(0)).holders = {"pid 5 uid 0 (qemu-system-x86)"};
    Plan busy = make_plan(want_vgpu("NVIDIA L4-6Q"), host);
    CHECK(only(busy, ActionKind::SetVgpu).verdict == Verdict::Blocked);
    CHECK(only(busy, ActionKind::SetVgpu).reason == "0000:3b:02.0 in use: pid 5 uid 0 (qemu-system-x86)");
}

TEST_CASE("vgpu: profile not creatable: blocked, listing what is") {
    Plan plan = make_plan(want_vgpu("NVIDIA L4-24Q"), l4_host(2));
    const Action& a = only(plan, ActionKind::SetVgpu);
    CHECK(a.verdict == Verdict::Blocked);
    CHECK(a.writes.empty());
    CHECK(a.reason == "vGPU profile \"NVIDIA L4-24Q\" is not creatable on 0000:3b:02.0 "
                      "(creatable: NVIDIA L4-3Q, NVIDIA L4-6Q)");
}

TEST_CASE("vgpu: a VF without the nvidia files waits for the nvidia driver") {
    ObservedState host = l4_host(2);
    dev(host, vf(0)).vgpu.reset();
    dev(host, vf(0)).driver = "";
    CHECK(only(make_plan(want_vgpu("L4-6Q"), host), ActionKind::SetVgpu).verdict == Verdict::Waiting);
    dev(host, vf(0)).driver = "vfio-pci";
    CHECK(only(make_plan(want_vgpu("L4-6Q"), host), ActionKind::SetVgpu).verdict == Verdict::Blocked);
}

TEST_CASE("vgpu: one creation per GPU per pass - the others wait for the capacity to be re-read") {
    Plan plan = make_plan(want_vgpu("NVIDIA L4-6Q", {0, 1}), l4_host(2));
    auto creations = actions_of(plan, ActionKind::SetVgpu);
    REQUIRE(creations.size() == 2);
    size_t safe = 0, waiting = 0;
    for (const Action* a : creations) {
        safe += a->verdict == Verdict::Safe;
        waiting += a->verdict == Verdict::Waiting;
    }
    CHECK(safe == 1);
    CHECK(waiting == 1);
}
