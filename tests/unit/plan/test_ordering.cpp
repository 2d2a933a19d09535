// Waves, ordering, next_wave() and determinism of whole plans.
#include "plan/mdev_uuid.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;

namespace {

// autoprobe off, 0 -> 4 VFs, existing VF 0 rebound to vfio-pci... on a host that still has 1 VF.
DesiredState full_config() {
    PfEntry e = pf_entry(exact(4));
    e.autoprobe = false;
    e.vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    DesiredState d = with_pf(e);
    MdevEntry m;
    m.parent = by_address("0000:3d:00.0");
    m.type = "nvidia-222";
    m.count = 1;
    m.source = at(2, "20-gpus.toml");
    d.mdevs.push_back(m);
    return d;
}

ObservedState full_host() {
    ObservedState host = pf_with_vfs(1);
    PciDevice g = plain_device("0000:3d:00.0", "nvidia");
    g.mdev_types = {MdevType{"nvidia-222", "GRID T4-1Q", "vfio-pci", 4, {}}};
    host.devices[g.address] = g;
    return host;
}

} // namespace

TEST_CASE("actions are sorted by wave - next_wave() is the earliest wave with a safe action") {
    Plan plan = make_plan(full_config(), full_host());
    REQUIRE(plan.actions.size() == 4);
    CHECK(plan.actions[0].kind == ActionKind::SetAutoprobe);
    CHECK(plan.actions[0].wave == Wave::PfSettings);
    CHECK(plan.actions[0].writes == writes({{"bus/pci/devices/0000:3b:00.0/sriov_drivers_autoprobe", "0"}}));
    CHECK(plan.actions[0].summary == "sriov_drivers_autoprobe 1 -> 0");
    CHECK(plan.actions[1].kind == ActionKind::SetNumVfs);
    CHECK(plan.actions[2].kind == ActionKind::Unbind);
    CHECK(plan.actions[3].kind == ActionKind::CreateMdev);
    for (size_t i = 1; i < plan.actions.size(); ++i)
        CHECK(plan.actions[i - 1].wave <= plan.actions[i].wave);

    auto wave = plan.next_wave();
    REQUIRE(wave.size() == 1);
    CHECK(wave[0]->kind == ActionKind::SetAutoprobe);
    CHECK(status(plan, kPf).state == ObjectState::Pending);
    CHECK(status(plan, kPf).reason == plan.actions[0].reason);
}

TEST_CASE("when an earlier wave is blocked, the next wave with safe actions proceeds") {
    DesiredState d = full_config();
    d.pfs[0].autoprobe.reset();
    ObservedState host = full_host();
    dev(host, vf(0)).holders = {"pid 1 uid 0 (qemu)"}; // blocks the count change and VF 0's rebind
    Plan plan = make_plan(d, host);
    auto wave = plan.next_wave();
    REQUIRE(wave.size() == 1);
    CHECK(wave[0]->kind == ActionKind::CreateMdev);
    CHECK(status(plan, kPf).state == ObjectState::Blocked);
    CHECK(status(plan, vf(0)).state == ObjectState::Blocked);
    CHECK_FALSE(plan.converged());
}

TEST_CASE("autoprobe already as configured: nothing - the same plan twice is identical") {
    DesiredState d = full_config();
    ObservedState host = full_host();
    dev(host, kPf).drivers_autoprobe = false;
    Plan a = make_plan(d, host);
    Plan b = make_plan(d, host);
    CHECK(actions_of(a, ActionKind::SetAutoprobe).empty());
    REQUIRE(a.actions.size() == b.actions.size());
    for (size_t i = 0; i < a.actions.size(); ++i) {
        CHECK(a.actions[i].object == b.actions[i].object);
        CHECK(a.actions[i].writes == b.actions[i].writes);
        CHECK(a.actions[i].reason == b.actions[i].reason);
    }
    REQUIRE(a.objects.size() == b.objects.size());
    for (auto ia = a.objects.begin(), ib = b.objects.begin(); ia != a.objects.end(); ++ia, ++ib) {
        CHECK(ia->first == ib->first);
        CHECK(ia->second.state == ib->second.state);
        CHECK(ia->second.reason == ib->second.reason);
    }
}

TEST_CASE("a converged host has no actions and every selected object converged") {
    PfEntry e = pf_entry(exact(2));
    e.vfs_settings.push_back(vf_table({0, 1}, named("vfio-pci")));
    Plan plan = make_plan(with_pf(e), pf_with_vfs(2, 8, "i40e", "vfio-pci"));
    CHECK(plan.actions.empty());
    CHECK(plan.converged());
    CHECK(plan.next_wave().empty());
    for (const auto& [key, s] : plan.objects) {
        CHECK(s.state == ObjectState::Converged);
        CHECK(s.reason.empty());
    }
}
