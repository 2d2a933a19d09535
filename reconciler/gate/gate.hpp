// The gate (architecture.md "The gate: one place decides what runs now"): between the planner and the
// executor, the one pure component that decides which of the planner's safe actions run now and, for each
// one it holds back, why and what the object reports meanwhile. Used by `hostdevctl apply` (one-shot) and
// by the daemon's passes; docs/planner.md "The gate" lists the rules and which situations are retried when.
//
// Inputs: the plan, the observation it was made from, the history of earlier attempts, the time (a
// parameter: no clock is read here), options and the operator's approvals. Output: the actions to run now
// (one wave), the held ones with their reasons, when to look again, and the updated history.
//
// The history is keyed by what an action would do (model/plan.hpp effect_key) AND the inputs it was
// planned from (gate/inputs.hpp: the action as the configuration asks it, and the observed facts of the
// objects it reads and changes), so "nothing changed since it did not take" is a lookup.
#pragma once

#include "apply/executor.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hostdevd {

// Monotonic time, as the daemon's timers use it. Pure code takes it as a parameter; the daemon may run it
// faster than the wall clock for tests (docs/daemon.md, HOSTDEVD_TEST_CLOCK_SCALE).
using GateClock = std::chrono::steady_clock;
using GateTime = GateClock::time_point;

// Why the gate holds back an action the planner calls safe. The list is meant to grow: issue 16 adds the
// destroy policy (waiting for the operator's consent), consumers' claims and hooks' vetoes here, each with
// its own rule in decide() and its own reported state.
enum class HoldKind {
    NoEffect, // destructive, and it already ran from these same inputs without reaching its goal
    Backoff,  // its last attempt failed or did not take: retried after a growing delay, or at once when
              // its inputs change
    Flapping, // something else keeps undoing it: re-applied only after a growing delay
    Vetoed,   // a hook vetoed it (apply/hooks.hpp): the object reports `blocked` with the hook's reason;
              // the hooks are asked again after a growing delay, or at once when its inputs change
    Consent,  // it destroys devices that exist and the configuration says destroy = "ask": runs only once
              // the operator approves it (GateApprovals), never by itself
};
const char* to_string(HoldKind kind);

struct Hold {
    HoldKind kind = HoldKind::Backoff;
    ObjectState state = ObjectState::Failed; // what the object reports while the action is held
    std::string reason;                      // one line: what happened, and when it is tried again
    std::optional<GateTime> retry_at;        // tried again by itself then; none: only after a change of input
    // What happened, without when it is tried again: the same on every pass of one episode, so that the
    // daemon logs each hold once.
    std::string what;
    // Backoff only: the last attempt failed with an error the executor reported (and the daemon logged
    // with the write), rather than running without error and not taking.
    bool write_failed = false;
};

// Everything the gate remembers about one effect (effect_key).
struct EffectHistory {
    // Inputs (gate_inputs) from which this effect is known not to take, each with what the kernel did
    // ("driver enabled 16 VFs when 4 were written"). A destructive action is never repeated from them.
    std::map<std::string, std::string> no_effect;
    // The effect ran without error in the last wave: the next decision sees whether it took.
    bool awaiting_check = false;
    // A destructive run decided but not yet recorded (set by decide(), cleared by record()), with the inputs
    // it started from. Persisted: when the process dies in between (SIGKILL during the writes), the next one
    // treats the effect planned again from those very inputs as not taking, rather than destroying again.
    std::string attempted_inputs;
    // Back-off: failed or ineffective attempts in a row (reset when the effect settles or its inputs
    // change), when the next one may run, from which inputs, and what went wrong last.
    unsigned failures = 0;
    GateTime retry_at{};
    std::string failed_inputs;
    std::string last_failure;
    bool last_failure_is_error = false; // last_failure is a write's error, not "did not take"
    // Vetoed by a hook: vetoes in a row (reset when its inputs change or it runs), when the hooks are asked
    // again, from which inputs, and the veto's reason. Not persisted: each hostdevctl run asks afresh.
    unsigned vetoes = 0;
    GateTime veto_retry_at{};
    std::string vetoed_inputs;
    std::string veto;
    // Flapping: applications within the current window.
    unsigned applications = 0;
    GateTime window_start{};
    bool flapping = false;
    GateTime flap_retry_at{};
    bool operator==(const EffectHistory&) const = default;
};

struct GateHistory {
    std::map<std::string, EffectHistory> effects; // by effect_key
    bool operator==(const GateHistory&) const = default;
};

// Operator approvals (D-Bus Approve, hostdevctl apply's prompt, --yes, --approve): actions, by
// approval_key(), that the operator allows to run now although a hold would keep them back (the consent
// an action that destroys needs, and the no-effect and back-off holds: approving one is the operator's
// way to try it once more).
struct GateApprovals {
    std::set<std::string> keys;
};
// What an approval is for: the effect (object, kind, last write), the inputs it is planned from
// (gate/inputs.hpp), as the history is keyed, and what it destroys as listed to the operator. So an approval
// lapses by itself when the plan for that object changes: another configuration (8 -> 0 -> 4 instead of 8 ->
// 0 -> 2), or a device it reads or destroys that changed (a VF rebound, the PF's driver reloaded) since the
// operator saw it.
std::string approval_key(const Action& action, const ObservedState& observed);

// Whether the gate holds `action` for consent when it is not approved (docs/safety.md "Consent"): a safe
// action that destroys devices that exist, with destroy = "ask". Pure.
bool needs_consent(const Action& action);

struct GateOptions {
    // The daemon retries a failed action after its back-off. `hostdevctl apply` does not retry within
    // one run: each run is the operator asking again, and the next run tries harmless actions afresh.
    bool retry_after_backoff = true;
};

struct GateDecision {
    std::vector<const Action*> run;      // the actions to run now: one wave, in plan order
    std::vector<std::string> run_inputs; // gate_inputs of each action in `run` (for record())
    std::map<size_t, Hold> held;         // safe actions of any wave held back, by index in plan.actions
    std::optional<GateTime> wake_at;     // the earliest future retry of a held action
    GateHistory history;                 // the history after this decision
    // The approvals (approval_key) of the actions this decision runs: an approval is used up when its
    // action runs (the caller drops it), so an approved destruction that does not take is not repeated
    // on the strength of the same approval.
    std::set<std::string> approvals_used;

    const Hold* hold_of(size_t action_index) const;
    std::set<size_t> held_indexes() const; // the keys of `held`
    // The hold each object reports (the first held action about it, in plan order).
    std::map<std::string, Hold> held_objects(const Plan& plan) const;
    bool any_failed() const; // some held action reports its object failed
    // The held actions that wait for the operator's consent (HoldKind::Consent), by index, in plan order.
    std::vector<size_t> awaiting_consent() const;
};

// The gate's decision for `plan` (made from `observed`) at time `now`. Pure.
GateDecision decide(const Plan& plan, const ObservedState& observed, GateHistory history, GateTime now,
                    const GateOptions& options = {}, const GateApprovals& approvals = {});

// What the executor did with the actions a decision ran (`run`, with the decision's `run_inputs`):
// successes await their check by the next decide(), failures start or extend their back-off,
// applications count towards flapping. `took` (optional, one per action): whether the effect showed
// right after the writes (observe/effect_check.hpp); an effect that did is not checked again, so its
// undoing by someone else before the next decision counts as flapping, not as "did not take". Pure.
void record(GateHistory& history, const std::vector<const Action*>& run,
            const std::vector<std::string>& inputs, const ExecutionReport& report, GateTime now,
            const std::vector<std::optional<bool>>& took = {});

// Back-off delays: 1 s, 2 s, 4 s ... doubling per failed or ineffective attempt, at most kMaxBackoff.
std::chrono::seconds backoff_delay(unsigned failures);
inline constexpr std::chrono::seconds kMaxBackoff{3600};
// Flapping: an effect applied more than kFlapLimit times within kFlapWindow.
inline constexpr unsigned kFlapLimit = 3;
inline constexpr std::chrono::minutes kFlapWindow{10};

} // namespace hostdevd
