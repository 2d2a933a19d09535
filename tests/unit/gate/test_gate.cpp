// The gate's rules, table by table (docs/planner.md "The gate"): what runs now, what is held back, why,
// and when it is tried again. Plans come from the real planner; time is a parameter.
#include "gate/gate.hpp"
#include "gate/history_store.hpp"
#include "gate/inputs.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;
using namespace plan_test;
using namespace std::chrono_literals;

namespace {

const GateTime t0 = GateTime{} + 24h;

ExecutionReport outcomes(const GateDecision& d, ActionOutcome outcome, const std::string& message = "") {
    ExecutionReport r;
    for (const Action* a : d.run) {
        ActionResult res;
        res.object = a->object;
        res.outcome = outcome;
        res.message = message;
        r.results.push_back(res);
    }
    return r;
}

// Runs the decision's wave with `outcome` and records it at `when`.
void ran(GateHistory& h, const GateDecision& d, ActionOutcome outcome, GateTime when,
         const std::string& message = "") {
    record(h, d.run, d.run_inputs, outcomes(d, outcome, message), when);
}

std::vector<std::string> run_objects(const GateDecision& d) {
    std::vector<std::string> out;
    for (const Action* a : d.run)
        out.push_back(a->object + " " + a->summary);
    return out;
}

// A plan and the gate's decision on it (the decision points into the plan, which must live as long).
struct Decided {
    Plan plan;
    GateDecision gate;
};
Decided decide_on(const DesiredState& desired, const ObservedState& host, GateHistory h, GateTime now) {
    Decided out;
    out.plan = make_plan(desired, host);
    out.gate = decide(out.plan, host, std::move(h), now);
    return out;
}

const Hold& the_hold(const GateDecision& d) {
    REQUIRE(d.held.size() == 1);
    return d.held.begin()->second;
}

// A PF whose driver enables every VF whatever is written (older QAT drivers: "numvfs parameter is
// ignored and all VFs supported by the device are enabled"): 16 VFs of 16.
ObservedState all_vfs_enabled(uint32_t num) {
    return pf_with_vfs(num, 16);
}

} // namespace

TEST_CASE("with nothing remembered the safe actions of the earliest wave run, and nothing is held") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    desired.pfs[0].autoprobe = false;
    ObservedState host = pf_with_vfs(0, 16);
    Plan plan = make_plan(desired, host);
    GateDecision d = decide(plan, host, {}, t0);
    CHECK(run_objects(d) == std::vector<std::string>{kPf + " sriov_drivers_autoprobe 1 -> 0"});
    CHECK(d.held.empty());
    CHECK_FALSE(d.wake_at);
    REQUIRE(d.run_inputs.size() == 1);
    CHECK(d.run_inputs[0] == gate_inputs(*d.run[0], host));
}

TEST_CASE("churn: a driver enabling all its VFs - the create is not followed by any tear-down") {
    // 0 -> 4 is written; the driver enables 16. Writing 0 and 4 again would end the same way.
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState before = all_vfs_enabled(0);
    Plan create = make_plan(desired, before);
    GateDecision d = decide(create, before, {}, t0);
    REQUIRE(run_objects(d) == std::vector<std::string>{kPf + " sriov_numvfs 0 -> 4"});
    GateHistory h = d.history;
    ran(h, d, ActionOutcome::Ok, t0);

    ObservedState after = all_vfs_enabled(16);
    Plan teardown = make_plan(desired, after);
    REQUIRE(only(teardown, ActionKind::SetNumVfs).summary == "sriov_numvfs 16 -> 0 -> 4");
    REQUIRE(only(teardown, ActionKind::SetNumVfs).disruptive);
    // Held at once, and at every later time while nothing changes: no back-off that would let it run.
    for (GateTime when : {t0 + 1s, t0 + 60s, t0 + 10min, t0 + 48h}) {
        GateDecision again = decide(teardown, after, h, when);
        INFO("at +" << std::chrono::duration_cast<std::chrono::seconds>(when - t0).count() << " s");
        CHECK(again.run.empty());
        const Hold& hold = the_hold(again);
        CHECK(hold.kind == HoldKind::NoEffect);
        CHECK(hold.state == ObjectState::Failed);
        CHECK(hold.reason ==
              "driver enabled 16 VFs when 4 were written; not repeated until the configuration or the device "
              "changes");
        CHECK_FALSE(hold.retry_at);
        CHECK_FALSE(again.wake_at);
        h = again.history;
    }
}

TEST_CASE("churn: at most one destructive attempt when the driver enables a different number") {
    // Each row: VFs before, VFs wanted, VFs the driver enables whatever is written.
    struct Row {
        uint32_t before, wanted, enabled;
    };
    for (Row row : {Row{2, 4, 16}, Row{8, 4, 16}, Row{2, 8, 3}, Row{6, 8, 4}}) {
        INFO(row.before << " -> " << row.wanted << ", driver enables " << row.enabled);
        DesiredState desired = with_pf(pf_entry(exact(row.wanted)));
        ObservedState before = pf_with_vfs(row.before, 16);
        Plan first = make_plan(desired, before);
        GateDecision d = decide(first, before, {}, t0);
        REQUIRE(d.run.size() == 1);
        CHECK(d.run[0]->disruptive); // the one destructive attempt
        GateHistory h = d.history;
        ran(h, d, ActionOutcome::Ok, t0);
        ObservedState after = pf_with_vfs(row.enabled, 16);
        Plan second = make_plan(desired, after);
        GateDecision again = decide(second, after, h, t0 + 1s);
        CHECK(again.run.empty());
        CHECK(the_hold(again).kind == HoldKind::NoEffect);
        CHECK(the_hold(again).reason.find("driver enabled " + std::to_string(row.enabled) + " VFs when " +
                                          std::to_string(row.wanted) + " were written") == 0);
        // Still held an hour later; the record survives as long as the effect is wanted.
        CHECK(decide(second, after, again.history, t0 + 1h).run.empty());
    }
}

TEST_CASE("a change of input lets a held destructive action run once more") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState before = all_vfs_enabled(2);
    Decided first = decide_on(desired, before, {}, t0);
    GateHistory h = first.gate.history;
    ran(h, first.gate, ActionOutcome::Ok, t0);
    ObservedState after = all_vfs_enabled(16);
    Plan plan = make_plan(desired, after);
    GateDecision held = decide(plan, after, h, t0 + 1s);
    REQUIRE(held.run.empty());

    SECTION("holders coming and going are not a change of input") {
        ObservedState used = after;
        dev(used, vf(3)).holders = {"pid 7 (qemu)"};
        Plan blocked = make_plan(desired, used);
        CHECK(only(blocked, ActionKind::SetNumVfs).verdict == Verdict::Blocked);
        GateDecision b = decide(blocked, used, held.history, t0 + 2s);
        CHECK(b.run.empty());
        CHECK(b.held.empty()); // not safe: the planner's verdict, not the gate's
        CHECK(decide(plan, after, b.history, t0 + 3s).run.empty());
    }
    SECTION("the device changed (its driver was reloaded)") {
        ObservedState reloaded = all_vfs_enabled(0);
        Plan create = make_plan(desired, reloaded);
        CHECK(run_objects(decide(create, reloaded, held.history, t0 + 2s)) ==
              std::vector<std::string>{kPf + " sriov_numvfs 0 -> 4"});
    }
    SECTION("the configuration changed") {
        DesiredState other = with_pf(pf_entry(exact(2)));
        CHECK(run_objects(decide(make_plan(other, after), after, held.history, t0 + 2s)) ==
              std::vector<std::string>{kPf + " sriov_numvfs 16 -> 0 -> 2"});
    }
    SECTION("the configuration reached: the record is forgotten") {
        DesiredState sixteen = with_pf(pf_entry(exact(16)));
        GateDecision done = decide(make_plan(sixteen, after), after, held.history, t0 + 2s);
        CHECK(persisted_part(done.history).effects.empty());
    }
    SECTION("the operator approves it (D-Bus Approve, hostdevctl apply)") {
        GateApprovals approvals;
        approvals.keys.insert(approval_key(only(plan, ActionKind::SetNumVfs), after));
        CHECK(decide(plan, after, held.history, t0 + 2s, {}, approvals).run.size() == 1);
    }
}

TEST_CASE("a bind that does not take is retried with a back-off that keeps growing") {
    // The probe fails (the write succeeded, no driver): 1 s, 2 s, 4 s ... never in a loop.
    DesiredState desired = with_pf(pf_entry(exact(1)));
    desired.pfs[0].vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    ObservedState host = pf_with_vfs(1, 8, "i40e", "");
    Plan plan = make_plan(desired, host);
    REQUIRE(only(plan, ActionKind::Bind).summary == "bind vfio-pci");
    GateHistory h;
    GateTime now = t0;
    for (int expected : {1, 2, 4, 8, 16, 32, 64}) {
        GateDecision d = decide(plan, host, h, now);
        REQUIRE(d.run.size() == 1);
        h = d.history;
        ran(h, d, ActionOutcome::Ok, now);
        ObservedState after = host;
        dev(after, vf(0)).driver_override = "vfio-pci";
        GateDecision again = decide(make_plan(desired, after), after, h, now + 10ms);
        INFO("expected delay " << expected << " s");
        REQUIRE(again.run.empty());
        const Hold& hold = the_hold(again);
        CHECK(hold.kind == HoldKind::Backoff);
        CHECK(hold.reason == vf(0) +
                                 " has no driver after binding vfio-pci (the write succeeded; the probe "
                                 "did not take); retrying after " +
                                 std::to_string(expected) + " s");
        REQUIRE(hold.retry_at);
        CHECK(*hold.retry_at == now + 10ms + std::chrono::seconds(expected)); // from when it was seen
        CHECK(again.wake_at == hold.retry_at);
        h = again.history;
        host = after;
        plan = make_plan(desired, host);
        now = *hold.retry_at;
    }
}

TEST_CASE("back-off delays double from 1 s and stop at one hour") {
    CHECK(backoff_delay(1) == 1s);
    CHECK(backoff_delay(2) == 2s);
    CHECK(backoff_delay(3) == 4s);
    CHECK(backoff_delay(12) == 2048s);
    CHECK(backoff_delay(13) == 3600s);
    CHECK(backoff_delay(100) == 3600s);
}

TEST_CASE(
    "a failed write is held with its error: the daemon retries it after the back-off, one run does not") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState host = pf_with_vfs(0, 16);
    Plan plan = make_plan(desired, host);
    GateDecision d = decide(plan, host, {}, t0);
    GateHistory h = d.history;
    const std::string error = "write \"4\" to bus/pci/devices/" + kPf + "/sriov_numvfs failed: EIO";
    ran(h, d, ActionOutcome::Failed, t0, error);

    GateDecision daemon = decide(plan, host, h, t0 + 500ms);
    CHECK(daemon.run.empty());
    CHECK(the_hold(daemon).reason == error + "; retrying after 1 s");
    CHECK(the_hold(daemon).retry_at == t0 + 1s);
    CHECK(decide(plan, host, h, t0 + 1s).run.size() == 1);

    GateOptions one_shot;
    one_shot.retry_after_backoff = false;
    GateDecision run = decide(plan, host, h, t0 + 1h, one_shot);
    CHECK(run.run.empty());
    CHECK(the_hold(run).reason == error);
    CHECK_FALSE(the_hold(run).retry_at);
    CHECK(run.any_failed());
}

TEST_CASE("issue 13: the earliest retry is the earliest still to come, not one that has passed") {
    // Two VFs flap one after the other. The first one's retry time has passed (it ran again); the second
    // is held: the daemon must wake for the second one.
    DesiredState desired = with_pf(pf_entry(exact(2)));
    desired.pfs[0].vfs_settings.push_back(vf_table({0, 1}, named("vfio-pci")));
    ObservedState bound = pf_with_vfs(2, 8, "i40e", "vfio-pci");
    GateHistory h;
    auto unbind = [&](std::initializer_list<int> vfs) {
        ObservedState o = bound;
        for (int i : vfs)
            dev(o, vf(i)).driver.clear();
        return o;
    };
    GateTime now = t0;
    // VF 0 is undone and re-applied until it counts as flapping (4 applications, 100 ms apart).
    for (unsigned i = 0; i <= kFlapLimit; ++i) {
        ObservedState o = unbind({0});
        Decided d = decide_on(desired, o, h, now);
        REQUIRE(d.gate.run.size() == 1);
        h = d.gate.history;
        ran(h, d.gate, ActionOutcome::Ok, now);
        h = decide(make_plan(desired, bound), bound, h, now + 10ms).history; // it took
        now += 100ms;
    }
    ObservedState o0 = unbind({0});
    GateDecision held0 = decide(make_plan(desired, o0), o0, h, now);
    REQUIRE(the_hold(held0).kind == HoldKind::Flapping);
    const GateTime first_retry = *held0.wake_at;
    // Its retry comes and it is re-applied (its record stays: it is still flapping).
    Decided again = decide_on(desired, o0, held0.history, first_retry);
    REQUIRE(again.gate.run.size() == 1);
    h = again.gate.history;
    ran(h, again.gate, ActionOutcome::Ok, first_retry);
    h = decide(make_plan(desired, bound), bound, h, first_retry + 10ms).history;
    now = first_retry + 100ms;
    // Then VF 1 flaps.
    for (unsigned i = 0; i <= kFlapLimit; ++i) {
        ObservedState o = unbind({1});
        Decided d = decide_on(desired, o, h, now);
        REQUIRE(d.gate.run.size() == 1);
        h = d.gate.history;
        ran(h, d.gate, ActionOutcome::Ok, now);
        h = decide(make_plan(desired, bound), bound, h, now + 10ms).history;
        now += 100ms;
    }
    ObservedState o1 = unbind({1});
    GateDecision held1 = decide(make_plan(desired, o1), o1, h, now);
    REQUIRE(held1.held.size() == 1);
    REQUIRE(held1.wake_at);
    CHECK(*held1.wake_at > now); // the old Backoff::next_retry() returned VF 0's passed retry here
    CHECK(*held1.wake_at == *held1.held.begin()->second.retry_at);
}

TEST_CASE(
    "an action undone again and again is held back as flapping, and the count restarts after the window") {
    DesiredState desired = with_pf(pf_entry(exact(1)));
    desired.pfs[0].vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    ObservedState bound = pf_with_vfs(1, 8, "i40e", "vfio-pci");
    ObservedState undone = pf_with_vfs(1, 8, "i40e", "");
    auto apply_and_undo = [&](GateHistory& h, GateTime when) {
        Decided d = decide_on(desired, undone, h, when);
        h = d.gate.history;
        if (d.gate.run.empty())
            return false;
        ran(h, d.gate, ActionOutcome::Ok, when);
        h = decide(make_plan(desired, bound), bound, h, when + 10ms).history;
        return true;
    };
    GateHistory h;
    for (unsigned i = 0; i <= kFlapLimit; ++i)
        REQUIRE(apply_and_undo(h, t0 + i * 1s));
    // The 4th application (at +3 s) made it flapping: held for 1 s after it.
    GateDecision held = decide(make_plan(desired, undone), undone, h, t0 + 3500ms);
    REQUIRE(held.run.empty());
    CHECK(the_hold(held).kind == HoldKind::Flapping);
    CHECK(the_hold(held).reason ==
          "bind vfio-pci: something else keeps undoing this; re-applying with back-off");
    CHECK(held.wake_at == t0 + 4s);
    CHECK(apply_and_undo(h, t0 + 4s));       // after its delay (1 s after the 4th application)
    CHECK_FALSE(apply_and_undo(h, t0 + 5s)); // the 5th made the delay 2 s

    GateHistory fresh;
    CHECK(apply_and_undo(fresh, t0));
    CHECK(apply_and_undo(fresh, t0 + 11min)); // outside the window: counted from 1 again
    CHECK(apply_and_undo(fresh, t0 + 12min));
    CHECK(apply_and_undo(fresh, t0 + 13min));
}

TEST_CASE("a held action of an earlier wave does not stop later waves") {
    // The VF count is held (it did not take), the PF's existing VFs are still bound.
    DesiredState desired = with_pf(pf_entry(exact(4)));
    desired.pfs[0].vfs_settings.push_back(vf_table({0, 1, 2, 3}, named("vfio-pci")));
    ObservedState before = pf_with_vfs(0, 16);
    Decided d = decide_on(desired, before, {}, t0);
    GateHistory h = d.gate.history;
    ran(h, d.gate, ActionOutcome::Ok, t0);
    ObservedState after = pf_with_vfs(16, 16);
    Decided next = decide_on(desired, after, h, t0 + 1s);
    CHECK(next.gate.held.size() == 1);
    REQUIRE(next.gate.run.size() == 4);
    for (const Action* a : next.gate.run)
        CHECK(a->kind == ActionKind::Unbind); // iavf -> vfio-pci, wave Binding
}

TEST_CASE("the inputs of an action ignore holders and follow the device and the configuration") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState host = pf_with_vfs(2, 16);
    const Action a = only(make_plan(desired, host), ActionKind::SetNumVfs);
    const std::string base = gate_inputs(a, host);
    ObservedState held = host;
    dev(held, kPf).holders = {"netdev ens1f0 is up"};
    CHECK(gate_inputs(a, held) == base);
    ObservedState other_driver = host;
    dev(other_driver, kPf).driver = "i40e-new";
    CHECK(gate_inputs(a, other_driver) != base);
    ObservedState autoprobe = host;
    dev(autoprobe, kPf).drivers_autoprobe = false;
    CHECK(gate_inputs(a, autoprobe) != base);
    Action other_target = a;
    other_target.writes.back().value = "8";
    CHECK(gate_inputs(other_target, host) != base);
    CHECK(base.size() == 16);
}

TEST_CASE(
    "a destructive attempt whose process died before recording it is not repeated from where it started") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState sixteen = all_vfs_enabled(16);
    Decided started = decide_on(desired, sixteen, {}, t0);
    REQUIRE(started.gate.run.size() == 1);
    REQUIRE(started.gate.run[0]->disruptive);
    // The process is killed during the writes: only what decide() recorded survives (and is persisted).
    const GateHistory survived = persisted_part(started.gate.history);
    REQUIRE(survived.effects.size() == 1);
    CHECK(survived.effects.begin()->second.attempted_inputs == started.gate.run_inputs[0]);

    SECTION("found where it started (both writes done, the driver enabled 16 again; or none done): held") {
        Decided next = decide_on(desired, sixteen, survived, t0 + 1s);
        CHECK(next.gate.run.empty());
        CHECK(the_hold(next.gate).kind == HoldKind::NoEffect);
    }
    SECTION("found part-way (0 written, 4 not): the rest runs") {
        ObservedState none = all_vfs_enabled(0);
        Decided next = decide_on(desired, none, survived, t0 + 1s);
        REQUIRE(next.gate.run.size() == 1);
        CHECK(next.gate.run[0]->summary == "sriov_numvfs 0 -> 4");
        CHECK(next.gate.held.empty());
    }
}

TEST_CASE("record: a failed or blocked destructive run is no attempt left open") {
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState host = all_vfs_enabled(16);
    for (ActionOutcome outcome : {ActionOutcome::Failed, ActionOutcome::Blocked}) {
        Decided d = decide_on(desired, host, {}, t0);
        GateHistory h = d.gate.history;
        ran(h, d.gate, outcome, t0, "write \"0\" failed: EBUSY");
        CHECK(persisted_part(h).effects.empty());
    }
}

TEST_CASE("an effect seen in place right after its writes and undone before the next decision is flapping") {
    // The daemon checks a bind at once (observe/effect_check.hpp): someone unbinding the VF before the next
    // pass looks must not make the bind count as "did not take".
    DesiredState desired = with_pf(pf_entry(exact(1)));
    desired.pfs[0].vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    ObservedState undone = pf_with_vfs(1, 8, "i40e", "");
    GateHistory h;
    for (unsigned i = 0; i <= kFlapLimit; ++i) {
        Decided d = decide_on(desired, undone, h, t0 + i * 100ms);
        REQUIRE(d.gate.run.size() == 1);
        h = d.gate.history;
        record(h, d.gate.run, d.gate.run_inputs, outcomes(d.gate, ActionOutcome::Ok), t0 + i * 100ms, {true});
    }
    Decided held = decide_on(desired, undone, h, t0 + 350ms);
    REQUIRE(held.gate.run.empty());
    CHECK(the_hold(held.gate).kind == HoldKind::Flapping);
    CHECK(persisted_part(held.gate.history).effects.empty()); // no "did not take" record
    // Without the check the same sequence looks like a bind that does not take.
    Decided first = decide_on(desired, undone, {}, t0);
    GateHistory unchecked = first.gate.history;
    ran(unchecked, first.gate, ActionOutcome::Ok, t0);
    CHECK(the_hold(decide_on(desired, undone, unchecked, t0 + 10ms).gate).kind == HoldKind::Backoff);
}

TEST_CASE("a vetoed destructive action is held blocked with the hook's reason and asked again with back-off "
          "or when its inputs change") { // no commas: ctest names
    DesiredState desired = with_pf(pf_entry(exact(4)));
    ObservedState host = pf_with_vfs(8, 16);
    Plan plan = make_plan(desired, host);
    GateDecision d = decide(plan, host, {}, t0);
    REQUIRE(run_objects(d) == std::vector<std::string>{kPf + " sriov_numvfs 8 -> 0 -> 4"});
    GateHistory h = d.history;
    ExecutionReport vetoed =
        outcomes(d, ActionOutcome::Blocked, "hook 50-guard vetoed (exit status 1): not now");
    vetoed.results[0].veto = vetoed.results[0].message;
    record(h, d.run, d.run_inputs, vetoed, t0);

    // Not asked again in a tight loop: held (blocked, the hook's reason) until the back-off is over.
    GateDecision held = decide(plan, host, h, t0 + 500ms);
    CHECK(held.run.empty());
    const Hold& hold = the_hold(held);
    CHECK(hold.kind == HoldKind::Vetoed);
    CHECK(hold.state == ObjectState::Blocked);
    CHECK(hold.reason == "hook 50-guard vetoed (exit status 1): not now");
    REQUIRE(held.wake_at);
    CHECK(*held.wake_at == t0 + 1s);
    // The back-off grows with each veto in a row.
    GateDecision again = decide(plan, host, held.history, t0 + 1s);
    REQUIRE(run_objects(again) == std::vector<std::string>{kPf + " sriov_numvfs 8 -> 0 -> 4"});
    h = again.history;
    record(h, again.run, again.run_inputs, vetoed, t0 + 1s);
    GateDecision second = decide(plan, host, h, t0 + 2s);
    CHECK(second.run.empty());
    CHECK(*second.wake_at == t0 + 3s);
    // hostdevctl apply (no retries within a run): held for the rest of the run.
    GateOptions once;
    once.retry_after_backoff = false;
    CHECK(decide(plan, host, h, t0 + 1h, once).run.empty());
    // A change of input (another VF count asked) asks the hooks at once.
    DesiredState other = with_pf(pf_entry(exact(2)));
    Plan changed = make_plan(other, host);
    CHECK(run_objects(decide(changed, host, h, t0 + 2s)) ==
          std::vector<std::string>{kPf + " sriov_numvfs 8 -> 0 -> 2"});
}
