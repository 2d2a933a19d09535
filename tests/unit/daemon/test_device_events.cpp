// Which observations become journal events (reconciler/daemon/device_events.hpp): priorities, fields,
// what a write destroyed, and state changes logged once instead of every pass.
#include "daemon/device_events.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;
using journal::Kind;
using journal::Priority;

namespace {

constexpr const char* kPf = "0000:3b:00.0";

ObservedState pf_with_vfs(unsigned n) {
    ObservedState o;
    PciDevice pf;
    pf.address = kPf;
    pf.is_pf = true;
    pf.driver = "i40e";
    pf.total_vfs = 8;
    pf.num_vfs = n;
    for (unsigned i = 0; i < n; ++i)
        pf.vfs.push_back("0000:3b:02." + std::to_string(i));
    o.devices[pf.address] = pf;
    return o;
}

Action numvfs(const std::string& summary, const std::string& value) {
    Action a;
    a.kind = ActionKind::SetNumVfs;
    a.object = kPf;
    a.summary = summary;
    a.source = "/etc/hostdevd/10-nics.toml:3";
    a.writes = {{"bus/pci/devices/0000:3b:00.0/sriov_numvfs", value}};
    return a;
}

std::string field(const journal::Event& e, const std::string& name) {
    for (const auto& [key, value] : e.fields)
        if (key == name)
            return value;
    return "<none>";
}

DeviceView device(const std::string& address, const std::string& state, const std::string& reason = "") {
    DeviceView v;
    v.address = address;
    v.state = state;
    v.reason = reason;
    return v;
}

} // namespace

TEST_CASE("an applied action is logged at info with its device, action and source") {
    Action a = numvfs("sriov_numvfs 0 -> 2", "2");
    ActionResult r;
    r.outcome = ActionOutcome::Ok;
    r.writes_done = 1;
    auto events = action_events(a, r, pf_with_vfs(0));
    REQUIRE(events.size() == 1); // 0 -> 2 destroys nothing
    CHECK(events[0].kind == Kind::Applied);
    CHECK(events[0].priority == Priority::Info);
    CHECK(events[0].device == kPf);
    CHECK(events[0].action == "sriov_numvfs 0 -> 2");
    CHECK(events[0].verdict == "applied");
    CHECK(events[0].message == "device=0000:3b:00.0 action=sriov_numvfs 0 -> 2 applied");
    CHECK(field(events[0], "source") == "/etc/hostdevd/10-nics.toml:3");
}

TEST_CASE("a VF-count change through 0 logs every VF it destroyed, one event per VF") {
    Action a = numvfs("sriov_numvfs 2 -> 0 -> 1", "0");
    a.writes.push_back({"bus/pci/devices/0000:3b:00.0/sriov_numvfs", "1"});
    ActionResult r;
    r.outcome = ActionOutcome::Ok;
    r.writes_done = 2;
    auto events = action_events(a, r, pf_with_vfs(2));
    REQUIRE(events.size() == 3);
    CHECK(events[0].kind == Kind::Applied);
    for (int i = 1; i <= 2; ++i) {
        CHECK(events[i].kind == Kind::Destroyed);
        CHECK(events[i].priority == Priority::Notice);
        CHECK(events[i].device == "0000:3b:02." + std::to_string(i - 1));
        CHECK(field(events[i], "pf") == kPf);
    }
    CHECK(events[2].message == "device=0000:3b:02.1 destroyed by 0000:3b:00.0 sriov_numvfs 2 -> 0 -> 1");

    // The 0 went through and the 1 failed: the VFs are gone all the same, and the journal says so.
    r.outcome = ActionOutcome::Failed;
    r.writes_done = 1;
    r.message = "write \"1\" failed: ENOMEM";
    events = action_events(a, r, pf_with_vfs(2));
    REQUIRE(events.size() == 3);
    CHECK(events[0].kind == Kind::Failed);
    CHECK(events[1].kind == Kind::Destroyed);
    CHECK(events[2].kind == Kind::Destroyed);
    // The 0 itself failed: nothing was destroyed.
    r.writes_done = 0;
    CHECK(action_events(a, r, pf_with_vfs(2)).size() == 1);
}

TEST_CASE("an mdev removal and a vGPU clear are logged as destroyed") {
    Action remove;
    remove.kind = ActionKind::RemoveMdev;
    remove.object = "026cf2e5-2041-5f4b-9370-d8df4379d246";
    remove.summary = "remove mtty-2";
    ActionResult ok;
    auto events = action_events(remove, ok, {});
    REQUIRE(events.size() == 2);
    CHECK(events[1].kind == Kind::Destroyed);
    CHECK(events[1].device == remove.object);

    Action clear;
    clear.kind = ActionKind::SetVgpu;
    clear.object = "0000:3b:02.0";
    clear.summary = "current_vgpu_type 557 -> 0 (for 558)";
    clear.writes = {{"bus/pci/devices/0000:3b:02.0/nvidia/current_vgpu_type", "0"}};
    events = action_events(clear, ok, {});
    REQUIRE(events.size() == 2);
    CHECK(events[1].kind == Kind::Destroyed);

    clear.writes.front().value = "558"; // creating one destroys nothing
    CHECK(action_events(clear, ok, {}).size() == 1);
}

TEST_CASE("a failed write is logged at err with the write and the errno") {
    Action a = numvfs("sriov_numvfs 0 -> 2", "2");
    ActionResult r;
    r.outcome = ActionOutcome::Failed;
    r.error = 2;
    r.failed_write = a.writes.front();
    r.message =
        "write \"2\" to bus/pci/devices/0000:3b:00.0/sriov_numvfs failed: ENOENT (No such file or directory)";
    auto events = action_events(a, r, pf_with_vfs(0));
    REQUIRE(events.size() == 1); // nothing destroyed by a failed write
    CHECK(events[0].kind == Kind::Failed);
    CHECK(events[0].priority == Priority::Err);
    CHECK(events[0].verdict == "failed");
    CHECK(field(events[0], "write") == "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs=2");
    CHECK(field(events[0], "errno") == "2");
    CHECK(events[0].message == "device=0000:3b:00.0 action=sriov_numvfs 0 -> 2 failed: " + r.message);
}

TEST_CASE("a blocked object is logged once, with its holders, however many passes see it blocked") {
    StateJournal journal;
    Views v;
    v.devices[kPf] = device(kPf, "converged");
    CHECK(journal.update(v, nullptr).empty()); // first sight of a converged device: no history to tell

    v.devices[kPf] = device(kPf, "blocked", "VF 0000:3b:02.1 in use: pid 42 (qemu)");
    v.devices[kPf].holders = {"pid 42 (qemu)"};
    auto events = journal.update(v, nullptr);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Kind::Blocked);
    CHECK(events[0].priority == Priority::Warning);
    CHECK(events[0].device == kPf);
    CHECK(events[0].verdict == "blocked");
    CHECK(field(events[0], "reason") == "VF 0000:3b:02.1 in use: pid 42 (qemu)");
    CHECK(field(events[0], "holders") == "pid 42 (qemu)");
    CHECK(events[0].message == "device=0000:3b:00.0 blocked: VF 0000:3b:02.1 in use: pid 42 (qemu)");

    // The holder re-check re-derives the views every 2 s: still blocked for the same reason, nothing new.
    for (int pass = 0; pass < 5; ++pass) {
        std::set<std::string> keys{kPf};
        CHECK(journal.update(v, pass % 2 ? nullptr : &keys).empty());
    }
    // Another process holds it now: that is news.
    v.devices[kPf].reason = "VF 0000:3b:02.1 in use: pid 43 (qemu)";
    CHECK(journal.update(v, nullptr).size() == 1);

    // Released and converged: logged once, saying what it was.
    v.devices[kPf] = device(kPf, "converged");
    events = journal.update(v, nullptr);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Kind::Converged);
    CHECK(events[0].priority == Priority::Info);
    CHECK(events[0].message == "device=0000:3b:00.0 converged (was blocked)");
    CHECK(journal.update(v, nullptr).empty());
}

TEST_CASE(
    "objects that go pending then converged are logged converged and keys not re-derived are not looked at") {
    StateJournal journal;
    Views v;
    v.devices["0000:3b:02.0"] = device("0000:3b:02.0", "pending", "no driver bound");
    v.mdevs["026cf2e5-2041-5f4b-9370-d8df4379d246"].state = "pending";
    CHECK(journal.update(v, nullptr).empty());

    v.devices["0000:3b:02.0"].state = "converged";
    v.mdevs["026cf2e5-2041-5f4b-9370-d8df4379d246"].state = "converged";
    std::set<std::string> only_vf{"0000:3b:02.0"};
    auto events = journal.update(v, &only_vf); // an incremental publish re-derived the VF only
    REQUIRE(events.size() == 1);
    CHECK(events[0].device == "0000:3b:02.0");
    events = journal.update(v, nullptr);
    REQUIRE(events.size() == 1);
    CHECK(events[0].device == "026cf2e5-2041-5f4b-9370-d8df4379d246");

    // A device that goes away is forgotten: when it comes back converged, that is a first sight.
    Views empty;
    std::set<std::string> gone{"0000:3b:02.0"};
    CHECK(journal.update(empty, &gone).empty());
    CHECK(journal.update(v, &gone).empty()); // back, converged: nothing to tell
}
