// mdev UUIDs, ownership, attrs, capacity, explicit UUIDs, parent conflicts and absent parents.
#include "plan/mdev_uuid.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;

namespace {

const std::string kGpu = "0000:3d:00.0";

ObservedState gpu(uint32_t available) {
    ObservedState host;
    PciDevice d = plain_device(kGpu, "nvidia");
    d.mdev_types = {MdevType{"nvidia-222", "GRID T4-1Q", "vfio-pci", available, {}}};
    host.devices[kGpu] = d;
    return host;
}

MdevEntry mdev_entry(const std::string& type, std::optional<uint32_t> count, uint32_t line = 4) {
    MdevEntry e;
    e.parent = by_address(kGpu);
    e.type = type;
    e.count = count;
    e.source = at(line, "20-gpus.toml");
    return e;
}

} // namespace

TEST_CASE("UUIDv5 instance names are deterministic and match an independent implementation") {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "mdev.hostdevd.io")
    CHECK(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "mdev.hostdevd.io") == kMdevNamespaceUuid);
    // Python: uuid.uuid5(ns, "0000:3d:00.0/0") and ".../1"
    CHECK(mdev_instance_uuid(kGpu, 0) == "ddaf6d4d-dd33-5790-a498-fe63de0441cd");
    CHECK(mdev_instance_uuid(kGpu, 1) == "a9854ed7-12fe-5c4d-a80b-38f333c3e417");
    CHECK(mdev_instance_uuid(kGpu, 0) == mdev_instance_uuid(kGpu, 0));
    CHECK(mdev_instance_uuid("0000:3d:00.1", 0) != mdev_instance_uuid(kGpu, 0));
    CHECK_THROWS_AS(uuid_v5("not-a-uuid", "x"), std::invalid_argument);
}

TEST_CASE("mdev create writes the UUID, then each attr in order") {
    DesiredState d;
    MdevEntry e = mdev_entry("nvidia-222", 1);
    e.attrs = {{"vgpu_params", "frame_rate_limiter=0"}, {"enable", "1"}};
    d.mdevs.push_back(e);
    const std::string uuid = mdev_instance_uuid(kGpu, 0);
    CHECK(only(make_plan(d, gpu(4)), ActionKind::CreateMdev).writes ==
          writes({{"bus/pci/devices/0000:3d:00.0/mdev_supported_types/nvidia-222/create", uuid},
                  {"bus/mdev/devices/" + uuid + "/vgpu_params", "frame_rate_limiter=0"},
                  {"bus/mdev/devices/" + uuid + "/enable", "1"}}));
}

TEST_CASE("mdev creations beyond available_instances are blocked") {
    DesiredState d;
    d.mdevs.push_back(mdev_entry("nvidia-222", 3));
    Plan plan = make_plan(d, gpu(2));
    int safe = 0, blocked = 0;
    for (const Action* a : actions_of(plan, ActionKind::CreateMdev)) {
        safe += a->verdict == Verdict::Safe;
        if (a->verdict == Verdict::Blocked) {
            ++blocked;
            CHECK(a->reason == "no nvidia-222 instances left on parent 0000:3d:00.0 (available_instances 2)");
        }
    }
    CHECK(safe == 2);
    CHECK(blocked == 1);
}

TEST_CASE("mdev type unknown on the parent is invalid - a parent without types waits") {
    DesiredState d;
    d.mdevs.push_back(mdev_entry("nvidia-999", 1));
    Plan plan = make_plan(d, gpu(2));
    const Action& a = only(plan, ActionKind::CreateMdev);
    CHECK(a.verdict == Verdict::Invalid);
    CHECK(a.reason == "parent 0000:3d:00.0 has no mdev type nvidia-999 (offers: nvidia-222)");
    ObservedState bare = gpu(2);
    bare.devices.at(kGpu).mdev_types.clear();
    CHECK(only(make_plan(d, bare), ActionKind::CreateMdev).verdict == Verdict::Waiting);
}

TEST_CASE("explicit UUIDs: created, owned only while listed - others' instances are foreign") {
    DesiredState d;
    MdevEntry e = mdev_entry("nvidia-222", std::nullopt);
    e.uuids = {"c2177883-f1bb-47f0-914d-32a22e3a8804"};
    d.mdevs.push_back(e);
    ObservedState host = gpu(3);
    host.mdevs["0d000000-0000-4000-8000-000000000000"] =
        MdevDevice{"0d000000-0000-4000-8000-000000000000", kGpu, "nvidia-222", 3, {}};
    Plan plan = make_plan(d, host);
    CHECK(only(plan, ActionKind::CreateMdev).object == "c2177883-f1bb-47f0-914d-32a22e3a8804");
    CHECK(actions_of(plan, ActionKind::RemoveMdev).empty());
    CHECK(status(plan, "0d000000-0000-4000-8000-000000000000").state == ObjectState::Foreign);
}

TEST_CASE("an instance that exists with the desired type is converged") {
    DesiredState d;
    d.mdevs.push_back(mdev_entry("nvidia-222", 1));
    ObservedState host = gpu(3);
    const std::string uuid = mdev_instance_uuid(kGpu, 0);
    host.mdevs[uuid] = MdevDevice{uuid, kGpu, "nvidia-222", 3, {"pid 3 uid 0 (qemu)"}};
    Plan plan = make_plan(d, host);
    CHECK(plan.actions.empty());
    CHECK(status(plan, uuid).state == ObjectState::Converged);
    CHECK(status(plan, uuid).role == "mdev");
}

TEST_CASE("two count entries on one parent conflict - identical ones do not") {
    DesiredState d;
    d.mdevs.push_back(mdev_entry("nvidia-222", 1, 4));
    d.mdevs.push_back(mdev_entry("nvidia-222", 2, 9));
    Plan plan = make_plan(d, gpu(4));
    CHECK(plan.actions.empty());
    REQUIRE(plan.conflicts.size() == 1);
    CHECK(plan.conflicts[0] ==
          "0000:3d:00.0: [[mdev]] entries 20-gpus.toml:4 and 20-gpus.toml:9 select the same parent with "
          "conflicting settings");
    CHECK(status(plan, mdev_instance_uuid(kGpu, 0)).state == ObjectState::Blocked);

    DesiredState same;
    same.mdevs.push_back(mdev_entry("nvidia-222", 1, 4));
    same.mdevs.push_back(mdev_entry("nvidia-222", 1, 9));
    Plan ok = make_plan(same, gpu(4));
    CHECK(ok.conflicts.empty());
    CHECK(actions_of(ok, ActionKind::CreateMdev).size() == 1);
}

TEST_CASE("an [[mdev]] entry whose parent is missing is absent") {
    DesiredState d;
    MdevEntry e = mdev_entry("nvidia-222", 1);
    e.parent = by_address("0000:af:00.0");
    d.mdevs.push_back(e);
    Plan plan = make_plan(d, gpu(4));
    CHECK(status(plan, "20-gpus.toml:4").state == ObjectState::Absent);
    CHECK(status(plan, "20-gpus.toml:4").reason == "no device matches parent address=0000:af:00.0");
}

TEST_CASE("mdev status objects name their parent and type - before creation, converged and foreign") {
    DesiredState d;
    d.mdevs.push_back(mdev_entry("nvidia-222", 2));
    ObservedState host = gpu(3);
    const std::string existing = mdev_instance_uuid(kGpu, 0);
    const std::string missing = mdev_instance_uuid(kGpu, 1);
    const std::string foreign = "0d000000-0000-4000-8000-000000000000";
    host.mdevs[existing] = MdevDevice{existing, kGpu, "nvidia-222", 3, {}};
    host.mdevs[foreign] = MdevDevice{foreign, kGpu, "nvidia-223", 4, {}};
    Plan plan = make_plan(d, host);
    CHECK(status(plan, existing).parent == kGpu);
    CHECK(status(plan, existing).mdev_type == "nvidia-222");
    CHECK(status(plan, missing).state == ObjectState::Pending);
    CHECK(status(plan, missing).parent == kGpu);
    CHECK(status(plan, missing).mdev_type == "nvidia-222");
    CHECK(status(plan, foreign).state == ObjectState::Foreign);
    CHECK(status(plan, foreign).parent == kGpu);
    CHECK(status(plan, foreign).mdev_type == "nvidia-223");
}

namespace {

// The kernel's sample mtty: a parent that is not a PCI device, selected by name.
ObservedState mtty_host(uint32_t available) {
    ObservedState host = gpu(4); // a PCI parent too, which a name never selects
    host.mdev_parents["mtty"] =
        MdevParent{"mtty", {MdevType{"mtty-1", "Single port serial", "vfio-pci", available, {}}}};
    return host;
}

MdevEntry mtty_entry(uint32_t count) {
    MdevEntry e;
    e.parent.name = "mtty";
    e.type = "mtty-1";
    e.count = count;
    e.source = at(9, "30-mtty.toml");
    return e;
}

} // namespace

TEST_CASE("a non-PCI parent selected by name - created through its mdev_bus link with names of mtty/N") {
    DesiredState d;
    d.mdevs.push_back(mtty_entry(2));
    Plan plan = make_plan(d, mtty_host(24));
    auto creates = actions_of(plan, ActionKind::CreateMdev);
    REQUIRE(creates.size() == 2);
    // Python: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "mdev.hostdevd.io"), "mtty/0") and "mtty/1"
    CHECK(creates[0]->object == "026cf2e5-2041-5f4b-9370-d8df4379d246");
    CHECK(creates[1]->object == "64111159-134c-55b6-b36d-2d6c0214e526");
    CHECK(creates[0]->verdict == Verdict::Safe);
    CHECK(creates[0]->writes ==
          writes({{"class/mdev_bus/mtty/mdev_supported_types/mtty-1/create", creates[0]->object}}));
    CHECK(status(plan, creates[0]->object).parent == "mtty");
    CHECK(actions_of(plan, ActionKind::CreateMdev).size() == 2); // nothing on the PCI parent
}

TEST_CASE("a non-PCI parent: converged - beyond count removed unless held - absent when not registered") {
    DesiredState d;
    d.mdevs.push_back(mtty_entry(1));
    ObservedState host = mtty_host(22);
    const std::string first = mdev_instance_uuid("mtty", 0), second = mdev_instance_uuid("mtty", 1);
    host.mdevs[first] = MdevDevice{first, "mtty", "mtty-1", 7, {}};
    host.mdevs[second] = MdevDevice{second, "mtty", "mtty-1", 8, {"pid 4242 uid 0 (qemu-system-x86)"}};
    Plan plan = make_plan(d, host);
    CHECK(actions_of(plan, ActionKind::CreateMdev).empty());
    const Action& removal = only(plan, ActionKind::RemoveMdev);
    CHECK(removal.object == second);
    CHECK(removal.verdict == Verdict::Blocked);
    CHECK(removal.reason.find("pid 4242") != std::string::npos);
    CHECK(status(plan, second).state == ObjectState::Blocked);
    CHECK(status(plan, first).state == ObjectState::Converged);

    host.mdevs.at(second).holders.clear();
    Plan idle_plan = make_plan(d, host);
    const Action& idle = only(idle_plan, ActionKind::RemoveMdev);
    CHECK(idle.verdict == Verdict::Safe);
    CHECK(idle.writes == writes({{"bus/mdev/devices/" + second + "/remove", "1"}}));

    ObservedState unloaded = gpu(4);
    Plan absent = make_plan(d, unloaded);
    CHECK(status(absent, "30-mtty.toml:9").state == ObjectState::Absent);
    CHECK(status(absent, "30-mtty.toml:9").reason ==
          "no mdev parent mtty under /sys/class/mdev_bus (is its driver loaded?)");
}
