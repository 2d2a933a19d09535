// The consent rule of the gate (docs/safety.md "Consent", docs/planner.md "The gate"): an action that
// destroys devices that exist runs only with destroy = "when-idle" or the operator's approval for exactly
// that action (effect and inputs); creating, binding and rebinding idle devices stay automatic.
#include "config/loader.hpp"
#include "gate/gate.hpp"
#include "plan/mdev_uuid.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;
using namespace plan_test;
using namespace std::chrono_literals;

namespace {

const GateTime t0 = GateTime{} + 24h;
const std::string kGpu = "0000:3d:00.0";

DesiredState pf_asking(uint32_t vfs, DestroyPolicy policy = DestroyPolicy::Ask) {
    DesiredState desired = with_pf(pf_entry(exact(vfs)));
    desired.pfs[0].destroy = policy;
    return desired;
}

std::vector<std::string> run_summaries(const GateDecision& d) {
    std::vector<std::string> out;
    for (const Action* a : d.run)
        out.push_back(a->object + " " + a->summary);
    return out;
}

GateApprovals approving(const Action& a, const ObservedState& host) {
    GateApprovals approvals;
    approvals.keys.insert(approval_key(a, host));
    return approvals;
}

// A GPU with an owned mdev instance #1 beyond `count = 1`.
ObservedState gpu_with_two_instances() {
    ObservedState host;
    PciDevice d = plain_device(kGpu, "nvidia");
    d.mdev_types = {MdevType{"nvidia-222", "GRID T4-1Q", "vfio-pci", 2, {}}};
    host.devices[kGpu] = d;
    for (uint32_t i = 0; i < 2; ++i) {
        MdevDevice m;
        m.uuid = mdev_instance_uuid(kGpu, i);
        m.parent = kGpu;
        m.type = "nvidia-222";
        host.mdevs[m.uuid] = m;
    }
    return host;
}

} // namespace

TEST_CASE("consent: 8 -> 2 VFs with destroy = ask is held, naming every VF and its driver") {
    ObservedState host = pf_with_vfs(8, 16);
    Plan plan = make_plan(pf_asking(2), host);
    const Action& a = only(plan, ActionKind::SetNumVfs);
    REQUIRE(a.verdict == Verdict::Safe);
    CHECK(a.destroys.size() == 8);
    CHECK(a.destroys[0] == "0000:3b:02.0 (driver iavf)");
    CHECK(needs_consent(a));
    GateDecision d = decide(plan, host, {}, t0);
    CHECK(d.run.empty());
    REQUIRE(d.held.size() == 1);
    const Hold& hold = d.held.begin()->second;
    CHECK(hold.kind == HoldKind::Consent);
    CHECK(hold.state == ObjectState::Consent);
    CHECK_FALSE(hold.retry_at); // never by itself
    for (int i = 0; i < 8; ++i)
        CHECK_THAT(hold.reason, Catch::Contains(vf(i) + " (driver iavf)"));
    CHECK_THAT(hold.reason, Catch::StartsWith("sriov_numvfs 8 -> 0 -> 2 destroys 8 VFs: "));
    CHECK(d.awaiting_consent() == std::vector<size_t>{d.held.begin()->first});
    CHECK_FALSE(d.any_failed());
    CHECK_FALSE(d.wake_at);
    CHECK(d.held_objects(plan).at(kPf).state == ObjectState::Consent);
}

TEST_CASE("consent: the rule, table by table") {
    ObservedState host = pf_with_vfs(8, 16);
    struct Row {
        const char* situation;
        DesiredState desired;
        ObservedState observed;
        bool held_for_consent;
    };
    DesiredState rebind = pf_asking(8);
    rebind.pfs[0].vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    DesiredState create = pf_asking(4);
    DesiredState bind_new = pf_asking(2);
    bind_new.pfs[0].vfs_settings.push_back(vf_table({0, 1}, named("vfio-pci")));
    ObservedState unbound = pf_with_vfs(2, 16, "i40e", "");
    std::vector<Row> rows = {
        {"N -> M through 0, ask", pf_asking(2), host, true},
        {"N -> 0, ask", pf_asking(0), host, true},
        {"N -> M through 0, when-idle", pf_asking(2, DestroyPolicy::WhenIdle), host, false},
        {"0 -> N (creating)", create, pf_with_vfs(0, 16), false},
        {"binding unbound VFs", bind_new, unbound, false},
        {"rebinding an idle VF (iavf -> vfio-pci)", rebind, host, false},
    };
    for (const Row& row : rows) {
        INFO(row.situation);
        Plan plan = make_plan(row.desired, row.observed);
        REQUIRE_FALSE(plan.actions.empty());
        GateDecision d = decide(plan, row.observed, {}, t0);
        CHECK(d.awaiting_consent().empty() != row.held_for_consent);
        CHECK(d.run.empty() == row.held_for_consent);
    }
}

TEST_CASE("consent: a VF in use blocks the change - it never asks for consent to disrupt a guest") {
    ObservedState host = pf_with_vfs(8, 16);
    dev(host, vf(3)).holders = {"pid 42 uid 64055 (qemu-system-x86)"};
    Plan plan = make_plan(pf_asking(2), host);
    CHECK(only(plan, ActionKind::SetNumVfs).verdict == Verdict::Blocked);
    CHECK(decide(plan, host, {}, t0).awaiting_consent().empty());
}

TEST_CASE("consent: mdev removal and vGPU change need it too") {
    SECTION("an owned mdev beyond count") {
        ObservedState host = gpu_with_two_instances();
        DesiredState desired;
        MdevEntry e;
        e.parent = by_address(kGpu);
        e.type = "nvidia-222";
        e.count = 1;
        e.source = at(4, "20-gpus.toml");
        desired.mdevs.push_back(e);
        Plan plan = make_plan(desired, host);
        const Action& remove = only(plan, ActionKind::RemoveMdev);
        CHECK(remove.destroys == std::vector<std::string>{"mdev " + mdev_instance_uuid(kGpu, 1) +
                                                          " (type nvidia-222 on " + kGpu + ")"});
        GateDecision d = decide(plan, host, {}, t0);
        CHECK(d.awaiting_consent().size() == 1);
        desired.mdevs[0].destroy = DestroyPolicy::WhenIdle;
        Plan allowed = make_plan(desired, host);
        CHECK(run_summaries(decide(allowed, host, {}, t0)).size() == 1);
    }
    SECTION("a vGPU of another type") {
        ObservedState host = pf_with_vfs(2, 16, "nvidia", "nvidia");
        dev(host, vf(0)).vgpu = VgpuState{{}, 1};
        dev(host, vf(1)).vgpu = VgpuState{{{1, "NVIDIA L4-3Q"}, {2, "NVIDIA L4-6Q"}}, 0};
        DesiredState desired = pf_asking(2);
        VfSettings s = vf_table({0}, DriverChoice{});
        s.vgpu = "NVIDIA L4-6Q";
        desired.pfs[0].vfs_settings.push_back(s);
        Plan plan = make_plan(desired, host);
        const Action& clear = only(plan, ActionKind::SetVgpu);
        CHECK(clear.destroys == std::vector<std::string>{"vGPU type 1 on 0000:3b:02.0 (driver nvidia)"});
        CHECK(decide(plan, host, {}, t0).awaiting_consent().size() == 1);
    }
}

TEST_CASE("consent: an approval runs exactly the approved action, once") {
    ObservedState host = pf_with_vfs(8, 16);
    Plan plan = make_plan(pf_asking(2), host);
    const Action& change = only(plan, ActionKind::SetNumVfs);
    const GateApprovals approvals = approving(change, host);

    GateDecision d = decide(plan, host, {}, t0, {}, approvals);
    CHECK(run_summaries(d) == std::vector<std::string>{kPf + " sriov_numvfs 8 -> 0 -> 2"});
    CHECK(d.held.empty());
    CHECK(d.approvals_used == approvals.keys);

    SECTION("the configuration changed before the pass: the approval lapses") {
        Plan other = make_plan(pf_asking(4), host);
        GateDecision again = decide(other, host, {}, t0, {}, approvals);
        CHECK(again.run.empty());
        CHECK(again.awaiting_consent().size() == 1);
        CHECK(again.approvals_used.empty());
    }
    SECTION("a VF it destroys changed (rebound) before the pass: the approval lapses") {
        ObservedState changed = host;
        dev(changed, vf(5)).driver = "vfio-pci";
        Plan replanned = make_plan(pf_asking(2), changed);
        CHECK(decide(replanned, changed, {}, t0, {}, approvals).run.empty());
    }
    SECTION("it ran and did not take (the driver enabled 16): not repeated on the same approval") {
        GateHistory h = d.history;
        ExecutionReport report;
        report.results.push_back(ActionResult{});
        report.results[0].object = kPf;
        report.results[0].outcome = ActionOutcome::Ok;
        record(h, d.run, d.run_inputs, report, t0);
        ObservedState after = pf_with_vfs(16, 16);
        Plan replanned = make_plan(pf_asking(2), after);
        GateApprovals left = approvals;
        for (const auto& used : d.approvals_used)
            left.keys.erase(used);
        GateDecision next = decide(replanned, after, h, t0 + 1s, {}, left);
        CHECK(next.run.empty());
        CHECK(next.held.size() == 1);
    }
}

TEST_CASE("consent: [policy] destroy applies to entries without their own") {
    const std::string text = R"(version = 1
[policy]
destroy = "when-idle"

[[pf]]
match = { address = "0000:3b:00.0" }
vfs = 2

[[pf]]
match = { address = "0000:5e:00.0" }
vfs = 2
destroy = "ask"

[[mdev]]
parent = { address = "0000:3d:00.0" }
type = "nvidia-222"
count = 1
)";
    LoadResult loaded = parse_config(text, "10-policy.toml");
    REQUIRE(loaded.ok());
    CHECK(loaded.state->destroy == DestroyPolicy::WhenIdle);
    CHECK(loaded.state->pfs[0].destroy == DestroyPolicy::WhenIdle);
    CHECK(loaded.state->pfs[1].destroy == DestroyPolicy::Ask);
    CHECK(loaded.state->mdevs[0].destroy == DestroyPolicy::WhenIdle);
    LoadResult plain = parse_config("version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\nvfs = 2\n",
                                    "10-nics.toml");
    REQUIRE(plain.ok());
    CHECK(plain.state->pfs[0].destroy == DestroyPolicy::Ask); // the default
}
