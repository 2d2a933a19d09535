// Every row of safety.md's verdict table, each test named after its row: verdict, writes and reason.
#include "plan/mdev_uuid.hpp"
#include "plan_fixtures.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace plan_test;

namespace {

const std::string kNumVfs = "bus/pci/devices/0000:3b:00.0/sriov_numvfs";

struct VfCountRow {
    const char* name;
    uint32_t num, total;
    std::string pf_driver;
    VfCount wanted;
    Verdict verdict;
    std::vector<SysfsWrite> writes;
    std::string reason;
};

void check_row(const VfCountRow& row, const ObservedState& host) {
    DYNAMIC_SECTION(row.name) {
        Plan plan = make_plan(with_pf(pf_entry(row.wanted)), host);
        const Action& a = only(plan, ActionKind::SetNumVfs);
        CHECK(a.verdict == row.verdict);
        CHECK(a.wave == Wave::VfCount);
        CHECK(a.object == kPf);
        CHECK(a.source == "10-nics.toml:3");
        CHECK(a.writes == row.writes);
        CHECK(a.reason == row.reason);
    }
}

} // namespace

TEST_CASE("sriov_numvfs 0 -> N, N <= sriov_totalvfs, PF has a driver: safe") {
    for (const VfCountRow& row : {
             VfCountRow{"vfs = 4", 0, 8, "i40e", exact(4), Verdict::Safe, writes({{kNumVfs, "4"}}),
                        "PF has no VFs; i40e is bound and can enable 4"},
             VfCountRow{"vfs = 8 = totalvfs", 0, 8, "i40e", exact(8), Verdict::Safe, writes({{kNumVfs, "8"}}),
                        "PF has no VFs; i40e is bound and can enable 8"},
             VfCountRow{"vfs = {min = 2} from 0", 0, 8, "i40e", at_least(2), Verdict::Safe,
                        writes({{kNumVfs, "2"}}), "PF has no VFs; i40e is bound and can enable 2"},
         })
        check_row(row, pf_with_vfs(row.num, row.total, row.pf_driver));
    Plan plan = make_plan(with_pf(pf_entry(exact(4))), pf_with_vfs(0));
    CHECK_FALSE(only(plan, ActionKind::SetNumVfs).disruptive);
    CHECK(only(plan, ActionKind::SetNumVfs).summary == "sriov_numvfs 0 -> 4");
}

TEST_CASE("PF has no driver bound (kernel would answer ENOENT): waiting") {
    const std::string reason =
        "PF 0000:3b:00.0 has no driver bound; the kernel refuses sriov_numvfs until one is";
    for (const VfCountRow& row : {
             VfCountRow{"0 -> 4", 0, 8, "", exact(4), Verdict::Waiting, {}, reason},
             VfCountRow{
                 "2 -> 0 (driver left SR-IOV enabled)", 2, 8, "", exact(0), Verdict::Waiting, {}, reason},
         })
        check_row(row, pf_with_vfs(row.num, row.total, row.pf_driver));
}

TEST_CASE("N > sriov_totalvfs: invalid (configuration error, not retried until the config changes)") {
    for (const VfCountRow& row : {
             VfCountRow{"vfs = 9 > 8",
                        0,
                        8,
                        "i40e",
                        exact(9),
                        Verdict::Invalid,
                        {},
                        "vfs = 9 exceeds sriov_totalvfs 8"},
             VfCountRow{"min = 64 > 8 with VFs",
                        4,
                        8,
                        "i40e",
                        at_least(64),
                        Verdict::Invalid,
                        {},
                        "vfs = min:64 exceeds sriov_totalvfs 8"},
             VfCountRow{"no PF driver does not hide it",
                        0,
                        8,
                        "",
                        exact(9),
                        Verdict::Invalid,
                        {},
                        "vfs = 9 exceeds sriov_totalvfs 8"},
         })
        check_row(row, pf_with_vfs(row.num, row.total, row.pf_driver));
}

TEST_CASE(
    "N -> M with N > 0 (must write 0 first: destroys every VF), no VF in use: safe (two steps: 0, then M)") {
    const std::string reason_4 =
        "no VF in use; changing 4 VFs means writing 0 first, which destroys all of them";
    for (const VfCountRow& row : {
             VfCountRow{"4 -> 8", 4, 8, "i40e", exact(8), Verdict::Safe,
                        writes({{kNumVfs, "0"}, {kNumVfs, "8"}}), reason_4},
             VfCountRow{"4 -> 2", 4, 8, "i40e", exact(2), Verdict::Safe,
                        writes({{kNumVfs, "0"}, {kNumVfs, "2"}}), reason_4},
             VfCountRow{"4 -> 0 is one write", 4, 8, "i40e", exact(0), Verdict::Safe,
                        writes({{kNumVfs, "0"}}), reason_4},
         })
        check_row(row, pf_with_vfs(row.num, row.total, row.pf_driver));

    Plan plan = make_plan(with_pf(pf_entry(exact(8))), pf_with_vfs(4));
    const Action& a = only(plan, ActionKind::SetNumVfs);
    CHECK(a.disruptive);
    CHECK(a.summary == "sriov_numvfs 4 -> 0 -> 8");
    CHECK(a.must_be_idle == std::vector<std::string>{vf(0), vf(1), vf(2), vf(3)});
}

TEST_CASE("N -> M with N > 0 and any VF in use, or vfs = {min} already satisfied: blocked / nothing") {
    SECTION("a VF held by a VM blocks, naming the holder") {
        ObservedState host = pf_with_vfs(4);
        dev(host, vf(1)).holders = {"pid 4242 uid 0 (qemu-system-x86)"};
        Plan plan = make_plan(with_pf(pf_entry(exact(8))), host);
        const Action& a = only(plan, ActionKind::SetNumVfs);
        CHECK(a.verdict == Verdict::Blocked);
        CHECK(a.writes.empty());
        CHECK(a.reason == "VF 0000:3b:02.1 in use: pid 4242 uid 0 (qemu-system-x86)");
        CHECK(status(plan, kPf).state == ObjectState::Blocked);
        CHECK(status(plan, kPf).reason == a.reason);
    }
    SECTION("every busy VF and every holder is listed") {
        ObservedState host = pf_with_vfs(4);
        dev(host, vf(1)).holders = {"pid 4242 uid 0 (qemu-system-x86)"};
        dev(host, vf(3)).holders = {"netdev ens1f0v3 is up", "enslaved to br0"};
        Plan plan = make_plan(with_pf(pf_entry(exact(0))), host);
        CHECK(only(plan, ActionKind::SetNumVfs).reason ==
              "VF 0000:3b:02.1 in use: pid 4242 uid 0 (qemu-system-x86); "
              "VF 0000:3b:02.3 in use: netdev ens1f0v3 is up, enslaved to br0");
    }
    SECTION("an mdev in use on a VF makes the VF in use") {
        ObservedState host = pf_with_vfs(2);
        host.mdevs["aaaaaaaa-0000-4000-8000-000000000001"] = MdevDevice{
            "aaaaaaaa-0000-4000-8000-000000000001", vf(0), "nvidia-692", 5, {"pid 7 uid 0 (qemu)"}};
        Plan plan = make_plan(with_pf(pf_entry(exact(4))), host);
        CHECK(only(plan, ActionKind::SetNumVfs).verdict == Verdict::Blocked);
        CHECK(only(plan, ActionKind::SetNumVfs).reason ==
              "VF 0000:3b:02.0 in use: mdev aaaaaaaa-0000-4000-8000-000000000001: pid 7 uid 0 (qemu)");
    }
    SECTION("{min = N} satisfied: nothing, even above N") {
        for (uint32_t num : {4u, 6u}) {
            Plan plan = make_plan(with_pf(pf_entry(at_least(4))), pf_with_vfs(num));
            CHECK(plan.actions.empty());
            CHECK(status(plan, kPf).state == ObjectState::Converged);
            CHECK(status(plan, kPf).desired_vfs == "min:4");
        }
    }
    SECTION("0 < num < min: blocked, min never resizes an existing set") {
        Plan plan = make_plan(with_pf(pf_entry(at_least(8))), pf_with_vfs(2));
        const Action& a = only(plan, ActionKind::SetNumVfs);
        CHECK(a.verdict == Verdict::Blocked);
        CHECK(a.writes.empty());
        CHECK(a.reason == "sriov_numvfs is 2, below min = 8: the min semantic never resizes an existing set");
    }
    SECTION("exact count already there: nothing") {
        Plan plan = make_plan(with_pf(pf_entry(exact(4))), pf_with_vfs(4));
        CHECK(plan.actions.empty());
        CHECK(plan.converged());
    }
}

TEST_CASE("bind a device that has no driver: safe") {
    ObservedState host = pf_with_vfs(2, 8, "i40e", "");
    PfEntry e = pf_entry(exact(2));
    e.vfs_settings.push_back(vf_table({0, 1}, named("vfio-pci")));
    Plan plan = make_plan(with_pf(e), host);
    auto binds = actions_of(plan, ActionKind::Bind);
    REQUIRE(binds.size() == 2);
    for (int i = 0; i < 2; ++i) {
        const Action& a = *binds[static_cast<size_t>(i)];
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.object == vf(i));
        CHECK(a.wave == Wave::Binding);
        CHECK_FALSE(a.disruptive);
        CHECK(a.source == "10-nics.toml:8");
        CHECK(a.reason == "no driver bound; vfio-pci requested");
        CHECK(a.writes == writes({{"bus/pci/devices/" + vf(i) + "/driver_override", "vfio-pci"},
                                  {"bus/pci/drivers_probe", vf(i)}}));
    }
}

TEST_CASE("rebind / unbind a device that is not in use: safe") {
    SECTION("rebind: unbind the current driver now, bind next pass") {
        PfEntry e = pf_entry(exact(2));
        e.vfs_settings.push_back(vf_table({1}, named("vfio-pci")));
        Plan plan = make_plan(with_pf(e), pf_with_vfs(2));
        const Action& a = only(plan, ActionKind::Unbind);
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.object == vf(1));
        CHECK(a.disruptive);
        CHECK(a.must_be_idle == std::vector<std::string>{vf(1)});
        CHECK(a.writes == writes({{"bus/pci/drivers/iavf/unbind", vf(1)}}));
        CHECK(a.reason == "vfio-pci requested; bound to iavf, not in use; the bind follows next pass");
        CHECK(actions_of(plan, ActionKind::Bind).empty());
    }
    SECTION("unbind for driver = none also pins driver_override to none") {
        PfEntry e = pf_entry(exact(2));
        e.vfs_settings.push_back(vf_table({0}, no_driver()));
        Plan plan = make_plan(with_pf(e), pf_with_vfs(2));
        const Action& a = only(plan, ActionKind::Unbind);
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.disruptive);
        CHECK(a.writes == writes({{"bus/pci/devices/" + vf(0) + "/driver_override", "none"},
                                  {"bus/pci/drivers/iavf/unbind", vf(0)}}));
        CHECK(a.reason == "bound to iavf, configuration wants no driver; not in use");
    }
}

TEST_CASE("rebind / unbind a device in use, or one marked managed = true: blocked / never") {
    SECTION("in use: blocked with holders") {
        ObservedState host = pf_with_vfs(2);
        dev(host, vf(0)).holders = {"netdev ens1f0v0 is up"};
        PfEntry e = pf_entry(exact(2));
        e.vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
        Plan plan = make_plan(with_pf(e), host);
        const Action& a = only(plan, ActionKind::Unbind);
        CHECK(a.verdict == Verdict::Blocked);
        CHECK(a.writes.empty());
        CHECK(a.reason == "0000:3b:02.0 in use: netdev ens1f0v0 is up");
        CHECK(status(plan, vf(0)).state == ObjectState::Blocked);
    }
    SECTION("managed = true: never, but still reported") {
        PfEntry e = pf_entry(exact(2));
        VfSettings s = vf_table({0}, named("vfio-pci"));
        s.managed = true;
        e.vfs_settings.push_back(s);
        Plan plan = make_plan(with_pf(e), pf_with_vfs(2));
        const Action& a = only(plan, ActionKind::Bind);
        CHECK(a.verdict == Verdict::Never);
        CHECK(a.writes.empty());
        CHECK(a.reason == "binding belongs to libvirt (managed)");
        CHECK(status(plan, vf(0)).managed);
        CHECK(status(plan, vf(0)).state == ObjectState::Converged);
        CHECK(plan.next_wave().empty());
        CHECK(plan.converged());
    }
    SECTION("managed without driver: nothing planned, reported with the flag") {
        PfEntry e = pf_entry(exact(2));
        VfSettings s = vf_table({0}, DriverChoice{});
        s.managed = true;
        e.vfs_settings.push_back(s);
        Plan plan = make_plan(with_pf(e), pf_with_vfs(2));
        CHECK(plan.actions.empty());
        CHECK(status(plan, vf(0)).managed);
    }
}

namespace {

const std::string kGpu = "0000:3d:00.0";

ObservedState gpu_host(uint32_t available_222, std::vector<MdevDevice> mdevs = {}) {
    ObservedState host;
    PciDevice gpu = plain_device(kGpu, "nvidia");
    gpu.vendor = 0x10de;
    gpu.mdev_types = {MdevType{"nvidia-222", "GRID T4-1Q", "vfio-pci", available_222, {}},
                      MdevType{"nvidia-742", "GRID T4-2Q", "vfio-pci", 0, {}}};
    host.devices[kGpu] = gpu;
    for (auto& m : mdevs)
        host.mdevs[m.uuid] = m;
    return host;
}

DesiredState mdev_config(uint32_t count, const std::string& type = "nvidia-222") {
    DesiredState d;
    MdevEntry e;
    e.parent = by_address(kGpu);
    e.type = type;
    e.count = count;
    e.source = at(4, "20-gpus.toml");
    d.mdevs.push_back(e);
    return d;
}

} // namespace

TEST_CASE("create an mdev whose type has available_instances > 0: safe") {
    Plan plan = make_plan(mdev_config(2), gpu_host(16));
    auto creates = actions_of(plan, ActionKind::CreateMdev);
    REQUIRE(creates.size() == 2);
    std::vector<std::string> uuids{mdev_instance_uuid(kGpu, 0), mdev_instance_uuid(kGpu, 1)};
    std::sort(uuids.begin(), uuids.end()); // actions sort by object
    for (size_t i = 0; i < 2; ++i) {
        const Action& a = *creates[i];
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.wave == Wave::Mdev);
        CHECK(a.object == uuids[i]);
        CHECK(a.reason == "available_instances 16 on 0000:3d:00.0");
        CHECK(a.writes ==
              writes({{"bus/pci/devices/0000:3d:00.0/mdev_supported_types/nvidia-222/create", uuids[i]}}));
        CHECK(status(plan, uuids[i]).state == ObjectState::Pending);
        CHECK(status(plan, uuids[i]).source == "20-gpus.toml:4");
    }
}

TEST_CASE(
    "create an mdev on a parent occupied by another type: blocked (type conflict, names the occupants)") {
    const std::string other1 = "11111111-2222-4333-8444-555555555555";
    const std::string other2 = "11111111-2222-4333-8444-666666666666";
    Plan plan = make_plan(mdev_config(1), gpu_host(0, {MdevDevice{other1, kGpu, "nvidia-742", 9, {}},
                                                       MdevDevice{other2, kGpu, "nvidia-742", 10, {}}}));
    const Action& a = only(plan, ActionKind::CreateMdev);
    CHECK(a.verdict == Verdict::Blocked);
    CHECK(a.writes.empty());
    CHECK(a.reason == "parent 0000:3d:00.0 holds nvidia-742 instances: " + other1 + ", " + other2);
    CHECK(actions_of(plan, ActionKind::RemoveMdev).empty()); // not ours: never touched
    CHECK(status(plan, other1).state == ObjectState::Foreign);
}

TEST_CASE("remove or re-type an owned mdev that is not in use: safe") {
    SECTION("beyond count") {
        const std::string extra = mdev_instance_uuid(kGpu, 2);
        Plan plan = make_plan(
            mdev_config(1), gpu_host(14, {MdevDevice{mdev_instance_uuid(kGpu, 0), kGpu, "nvidia-222", 1, {}},
                                          MdevDevice{extra, kGpu, "nvidia-222", 2, {}}}));
        const Action& a = only(plan, ActionKind::RemoveMdev);
        CHECK(a.verdict == Verdict::Safe);
        CHECK(a.object == extra);
        CHECK(a.disruptive);
        CHECK(a.must_be_idle == std::vector<std::string>{extra});
        CHECK(a.writes == writes({{"bus/mdev/devices/" + extra + "/remove", "1"}}));
        CHECK(a.reason == "owned instance #2 is beyond count = 1; not in use");
        CHECK(status(plan, mdev_instance_uuid(kGpu, 0)).state == ObjectState::Converged);
    }
    SECTION("re-type: remove now, create waits for the room") {
        const std::string ours = mdev_instance_uuid(kGpu, 0);
        Plan plan = make_plan(mdev_config(1), gpu_host(0, {MdevDevice{ours, kGpu, "nvidia-742", 1, {}}}));
        REQUIRE(plan.actions.size() == 2);
        const Action& remove = plan.actions[0];
        const Action& create = plan.actions[1];
        CHECK(remove.kind == ActionKind::RemoveMdev); // teardown sorts before build
        CHECK(remove.verdict == Verdict::Safe);
        CHECK(remove.reason ==
              "owned instance has type nvidia-742, configuration wants nvidia-222; not in use");
        CHECK(create.kind == ActionKind::CreateMdev);
        CHECK(create.verdict == Verdict::Waiting);
        CHECK(create.reason == "waiting for removal of " + ours);
    }
    SECTION("in use: blocked") {
        const std::string extra = mdev_instance_uuid(kGpu, 1);
        Plan plan = make_plan(
            mdev_config(1), gpu_host(15, {MdevDevice{mdev_instance_uuid(kGpu, 0), kGpu, "nvidia-222", 1, {}},
                                          MdevDevice{extra, kGpu, "nvidia-222", 2, {"pid 9 uid 0 (qemu)"}}}));
        const Action& a = only(plan, ActionKind::RemoveMdev);
        CHECK(a.verdict == Verdict::Blocked);
        CHECK(a.writes.empty());
        CHECK(a.reason == "mdev " + extra + " in use: pid 9 uid 0 (qemu)");
        CHECK(status(plan, extra).state == ObjectState::Blocked);
    }
}

TEST_CASE("anything on a foreign device or mdev: never") {
    ObservedState host = pf_with_vfs(4);
    host.mdevs["99999999-0000-4000-8000-000000000000"] =
        MdevDevice{"99999999-0000-4000-8000-000000000000", vf(0), "nvidia-1", 1, {}};
    Plan plan = make_plan(DesiredState{}, host);
    CHECK(plan.actions.empty());
    CHECK(status(plan, kPf).state == ObjectState::Foreign);
    CHECK(status(plan, kPf).role == "pf");
    CHECK(status(plan, "99999999-0000-4000-8000-000000000000").state == ObjectState::Foreign);
    for (int i = 0; i < 4; ++i)
        CHECK(plan.objects.count(vf(i)) == 0); // VFs of foreign PFs are not reported
}
