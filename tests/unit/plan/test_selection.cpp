// Selection, conflicts, absent entries, foreign PFs and the status fields of selected objects.
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;

TEST_CASE("match keys: address, netdev, vendor/device, path - every given key must hold") {
    ObservedState host = pf_with_vfs(0);
    auto selects = [&](Match m) {
        PfEntry e = pf_entry(exact(2));
        e.match = m;
        return status(make_plan(with_pf(e), host), kPf).state != ObjectState::Foreign;
    };
    Match m;
    m.netdev = "ens1f0";
    CHECK(selects(m));
    m.netdev = "ens9";
    CHECK_FALSE(selects(m));
    Match ids;
    ids.vendor = 0x8086;
    ids.device = 0x1572;
    CHECK(selects(ids));
    ids.device = 0x1573;
    CHECK_FALSE(selects(ids));
    Match path;
    path.path = "pci-0000:3b:00.0";
    CHECK(selects(path));
    path.address = "0000:3b:00.1"; // both keys must hold
    CHECK_FALSE(selects(path));
    CHECK_FALSE(selects(Match{})); // an empty match selects nothing
}

TEST_CASE("[[pf]] selecting a device without SR-IOV is invalid") {
    ObservedState host;
    host.devices["0000:00:1f.6"] = plain_device("0000:00:1f.6", "e1000e");
    PfEntry e = pf_entry(exact(4));
    e.match = by_address("0000:00:1f.6");
    Plan plan = make_plan(with_pf(e), host);
    const Action& a = only(plan, ActionKind::SetNumVfs);
    CHECK(a.verdict == Verdict::Invalid);
    CHECK(a.reason == "0000:00:1f.6 has no SR-IOV capability");
    CHECK(status(plan, "0000:00:1f.6").state == ObjectState::Blocked);
    CHECK(status(plan, "0000:00:1f.6").role == "device");
}

TEST_CASE("[[pf.vf]] index i selects the PF's virtfn i - other VFs are reported with the PF's source") {
    PfEntry e = pf_entry(exact(4));
    VfSettings s = vf_table({2}, named("vfio-pci"), 11);
    s.pool = "gold";
    e.vfs_settings.push_back(s);
    Plan plan = make_plan(with_pf(e), pf_with_vfs(4));
    const ObjectStatus& chosen = status(plan, vf(2));
    CHECK(chosen.role == "vf");
    CHECK(chosen.source == "10-nics.toml:11");
    CHECK(chosen.desired_driver == "vfio-pci");
    CHECK(chosen.pool == "gold");
    CHECK(chosen.state == ObjectState::Pending);
    const ObjectStatus& other = status(plan, vf(0));
    CHECK(other.source == "10-nics.toml:3");
    CHECK(other.desired_driver.empty());
    CHECK(other.state == ObjectState::Converged);
    CHECK(other.reason.empty());
    CHECK(status(plan, kPf).desired_vfs == "4");
    CHECK(status(plan, kPf).role == "pf");
}

TEST_CASE("VFs that do not exist yet: pending while the count will reach them, absent otherwise") {
    PfEntry e = pf_entry(exact(4));
    e.vfs_settings.push_back(vf_table({1, 3, 6}, named("vfio-pci")));
    Plan plan = make_plan(with_pf(e), pf_with_vfs(0));
    CHECK(status(plan, kPf + "/vf1").state == ObjectState::Pending);
    CHECK(status(plan, kPf + "/vf1").reason == "waiting for VF 1 to exist");
    CHECK(status(plan, kPf + "/vf3").state == ObjectState::Pending);
    CHECK(status(plan, kPf + "/vf6").state == ObjectState::Absent);
    CHECK(status(plan, kPf + "/vf6").reason == "VF index 6 does not exist (PF has 4 VFs)");
    CHECK(actions_of(plan, ActionKind::Bind).empty()); // the count comes first
    CHECK(actions_of(plan, ActionKind::Unbind).empty());
}

TEST_CASE("entries that select nothing are absent, keyed by their source") {
    DesiredState d = with_pf(pf_entry(exact(2)));
    d.pfs[0].match = by_address("0000:af:00.0");
    d.devices.push_back(device_entry("0000:af:00.1", named("vfio-pci"), 30));
    Plan plan = make_plan(d, pf_with_vfs(0));
    const ObjectStatus& pf = status(plan, "10-nics.toml:3");
    CHECK(pf.state == ObjectState::Absent);
    CHECK(pf.object == "address=0000:af:00.0");
    CHECK(pf.reason == "no device matches address=0000:af:00.0");
    CHECK(status(plan, "10-nics.toml:30").state == ObjectState::Absent);
    CHECK(status(plan, "10-nics.toml:30").role == "device");
    CHECK(plan.actions.empty());
}

TEST_CASE("two entries with conflicting settings leave the device untouched and name both places") {
    DesiredState d = with_pf(pf_entry(exact(8), 3));
    PfEntry other = pf_entry(exact(4), 9);
    other.match = Match{};
    other.match.netdev = "ens1f0";
    other.source = at(9, "50-other.toml");
    d.pfs.push_back(other);
    Plan plan = make_plan(d, pf_with_vfs(0));
    CHECK(plan.actions.empty());
    CHECK(status(plan, kPf).state == ObjectState::Blocked);
    CHECK(status(plan, kPf).reason ==
          "conflicting settings from 10-nics.toml:3 and 50-other.toml:9 (vfs 8 vs 4)");
    REQUIRE(plan.conflicts.size() == 1);
    CHECK(plan.conflicts[0] == "0000:3b:00.0: selected by 10-nics.toml:3 and 50-other.toml:9 with "
                               "conflicting settings (vfs 8 vs 4)");
}

TEST_CASE("binding conflicts between [[pf.vf]] and [[device]] block only that VF") {
    PfEntry e = pf_entry(exact(2));
    e.vfs_settings.push_back(vf_table({0, 1}, named("vfio-pci")));
    DesiredState d = with_pf(e);
    d.devices.push_back(device_entry(vf(1), named("iavf"), 40));
    Plan plan = make_plan(d, pf_with_vfs(2, 8, "i40e", ""));
    CHECK(status(plan, vf(1)).state == ObjectState::Blocked);
    CHECK(status(plan, vf(1)).reason ==
          "conflicting settings from 10-nics.toml:8 and 10-nics.toml:40 (driver vfio-pci vs iavf)");
    REQUIRE(actions_of(plan, ActionKind::Bind).size() == 1);
    CHECK(only(plan, ActionKind::Bind).object == vf(0));
    CHECK(plan.conflicts.size() == 1);
}

TEST_CASE("identical settings from two entries are not a conflict") {
    DesiredState d = with_pf(pf_entry(exact(2), 3));
    PfEntry same = pf_entry(exact(2), 12);
    same.match = Match{};
    same.match.path = "pci-0000:3b:00.0";
    d.pfs.push_back(same);
    d.devices.push_back(device_entry(vf(0), named("vfio-pci"), 40));
    d.devices.push_back(device_entry(vf(0), named("vfio-pci"), 44));
    Plan plan = make_plan(d, pf_with_vfs(2));
    CHECK(plan.conflicts.empty());
    CHECK(status(plan, kPf).state == ObjectState::Converged);
    CHECK(only(plan, ActionKind::Unbind).object == vf(0));
}

TEST_CASE("foreign PFs are reported read-only - their VFs are not") {
    ObservedState host = pf_with_vfs(2);
    PciDevice second = plain_device("0000:5e:00.0", "mlx5_core");
    second.is_pf = true;
    second.total_vfs = 8;
    host.devices[second.address] = second;
    Plan plan = make_plan(with_pf(pf_entry(exact(2))), host);
    const ObjectStatus& foreign = status(plan, "0000:5e:00.0");
    CHECK(foreign.state == ObjectState::Foreign);
    CHECK(foreign.source.empty());
    CHECK(foreign.reason == "no configuration entry selects it");
    for (const Action& a : plan.actions)
        CHECK(a.object != "0000:5e:00.0");
}

namespace {

// An Ada-style GPU (10de:27b8): its VFs carry the PF's device ID, bound to nvidia with vGPU profiles.
ObservedState same_id_gpu(uint32_t vfs) {
    ObservedState host = pf_with_vfs(vfs, 16, "nvidia", "nvidia");
    for (auto& [address, d] : host.devices) {
        d.vendor = 0x10de;
        d.device = 0x27b8;
        d.netdevs.clear();
        if (!d.physfn.empty())
            d.vgpu = VgpuState{{{906, "NVIDIA L4-6Q"}}, 0};
    }
    host.drivers.push_back("nvidia");
    return host;
}

Match gpu_ids() {
    Match m;
    m.vendor = 0x10de;
    m.device = 0x27b8;
    return m;
}

} // namespace

TEST_CASE("VF ID = PF ID: [[pf]] by vendor/device selects the PF only - its VFs get their vGPU profiles") {
    PfEntry e = pf_entry(exact(2));
    e.match = gpu_ids();
    VfSettings s = vf_table({0, 1}, {}, 8);
    s.vgpu = "NVIDIA L4-6Q";
    e.vfs_settings.push_back(s);
    Plan plan = make_plan(with_pf(e), same_id_gpu(2));
    CHECK(actions_of(plan, ActionKind::SetNumVfs).empty()); // 2 VFs: converged, no "no SR-IOV" for VFs
    auto vgpus = actions_of(plan, ActionKind::SetVgpu);
    REQUIRE(vgpus.size() == 2); // one vGPU per GPU and pass: the second waits for the first
    CHECK(vgpus[0]->verdict == Verdict::Safe);
    CHECK(vgpus[0]->writes == writes({{"bus/pci/devices/" + vf(0) + "/nvidia/current_vgpu_type", "906"}}));
    CHECK(vgpus[1]->verdict == Verdict::Waiting);
    CHECK(status(plan, vf(0)).role == "vf");
    CHECK(status(plan, kPf).state == ObjectState::Converged);
    CHECK(plan.conflicts.empty());
}

TEST_CASE("[[pf]] matching only VFs selects nothing: the entry is absent") {
    PfEntry e = pf_entry(exact(2));
    e.match.address.reset();
    e.match.vendor = 0x8086;
    e.match.device = 0x154c; // the X710's VF ID
    Plan plan = make_plan(with_pf(e), pf_with_vfs(2));
    CHECK(actions_of(plan, ActionKind::SetNumVfs).empty());
    CHECK(status(plan, "10-nics.toml:3").state == ObjectState::Absent);
    CHECK(plan.objects.count(vf(0)) == 0); // VFs of a foreign PF are not reported
}

TEST_CASE("VF ID = PF ID: [[device]] by vendor/device leaves a [[pf]] PF and its VFs alone") {
    DesiredState d = with_pf(pf_entry(exact(2)));
    VfSettings s = vf_table({0, 1}, {}, 8);
    s.vgpu = "NVIDIA L4-6Q";
    d.pfs[0].vfs_settings.push_back(s);
    DeviceEntry whole;
    whole.match = gpu_ids();
    whole.driver = vfio();
    whole.source = at(20);
    d.devices.push_back(whole);
    // A second GPU of the same model without SR-IOV configuration: the [[device]] entry is for it.
    ObservedState host = same_id_gpu(2);
    PciDevice other = plain_device("0000:5e:00.0", "nvidia");
    other.vendor = 0x10de;
    other.device = 0x27b8;
    other.modalias = "pci:v000010DEd000027B8sv000010DEsd000016CAbc03sc02i00";
    host.devices[other.address] = other;
    host.vfio_aliases = {"alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci"};
    Plan plan = make_plan(d, host);
    for (const Action& a : plan.actions)
        CHECK(a.object != kPf); // the PF is never unbound
    CHECK(actions_of(plan, ActionKind::SetVgpu).size() == 2);
    const Action& unbind = only(plan, ActionKind::Unbind);
    CHECK(unbind.object == "0000:5e:00.0");
    CHECK(plan.conflicts.empty());
}

TEST_CASE("[[device]] naming a PF that a [[pf]] entry manages is a conflict naming both - the PF stays") {
    DesiredState d = with_pf(pf_entry(exact(4)));
    d.devices.push_back(device_entry(kPf, named("vfio-pci"), 20));
    Plan plan = make_plan(d, pf_with_vfs(2));
    REQUIRE(plan.conflicts.size() == 1);
    CHECK(plan.conflicts[0] ==
          kPf + ": [[device]] 10-nics.toml:20 names a PF that [[pf]] 10-nics.toml:3 manages; "
                "it is left to 10-nics.toml:3");
    CHECK(only(plan, ActionKind::SetNumVfs).verdict == Verdict::Safe); // still sized by its [[pf]]
    CHECK(actions_of(plan, ActionKind::Unbind).empty());
    // A VF named by address is still a [[device]]'s to bind.
    DesiredState named_vf = with_pf(pf_entry(exact(2)));
    named_vf.devices.push_back(device_entry(vf(1), named("vfio-pci"), 20));
    Plan vf_plan = make_plan(named_vf, pf_with_vfs(2));
    CHECK(only(vf_plan, ActionKind::Unbind).object == vf(1));
}
