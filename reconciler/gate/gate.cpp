#include "gate/gate.hpp"

#include "gate/inputs.hpp"

#include <algorithm>
#include <utility>

namespace hostdevd {

namespace {

std::string seconds_text(std::chrono::seconds s) {
    return std::to_string(s.count()) + " s";
}

// A settled effect (no action of the plan has it any more: done, or no longer wanted) forgets its
// attempts; only its flapping count lives on for the window, so that the next undo is still counted.
void settle(GateHistory& history, GateTime now) {
    for (auto it = history.effects.begin(); it != history.effects.end();) {
        EffectHistory& e = it->second;
        e.no_effect.clear();
        e.awaiting_check = false;
        e.attempted_inputs.clear();
        e.failures = 0;
        e.retry_at = {};
        e.failed_inputs.clear();
        e.last_failure.clear();
        e.last_failure_is_error = false;
        const bool window_over = e.applications == 0 || now - e.window_start > kFlapWindow;
        if (window_over && (!e.flapping || now >= e.flap_retry_at))
            it = history.effects.erase(it);
        else
            ++it;
    }
}

// "<object>|<kind>" of an action, and of an effect_key ("<object>|<kind>|<last write>").
std::string object_kind(const Action& a) {
    return a.object + "|" + to_string(a.kind);
}
std::string object_kind_of(const std::string& effect) {
    const auto first = effect.find('|');
    return first == std::string::npos ? effect : effect.substr(0, effect.find('|', first + 1));
}

// "sriov_numvfs 8 -> 0 -> 2 destroys 8 VFs: 0000:3b:02.0 (driver iavf), ...; awaiting consent ...".
// The reason names at most kNamed devices; Action::destroys (plan --json, Describe()) has them all.
constexpr size_t kNamed = 16;

std::string consent_what(const Action& a) {
    const size_t n = a.destroys.size();
    std::string noun = a.kind == ActionKind::SetNumVfs ? (n == 1 ? " VF" : " VFs")
                       : a.kind == ActionKind::SetVgpu ? (n == 1 ? " vGPU" : " vGPUs")
                                                       : (n == 1 ? " mdev" : " mdevs");
    if (a.kind == ActionKind::SetNumVfs &&
        std::any_of(a.destroys.begin(), a.destroys.end(),
                    [](const auto& d) { return d.rfind("mdev ", 0) == 0; }))
        noun = n == 1 ? " device" : " devices"; // VFs and the mdevs on them
    std::string text = a.summary + " destroys " + std::to_string(n) + noun + ": ";
    for (size_t i = 0; i < n && i < kNamed; ++i)
        text += (i ? ", " : "") + a.destroys[i];
    if (n > kNamed)
        text += " and " + std::to_string(n - kNamed) + " more";
    return text;
}

std::string consent_reason(const Action& a) {
    return consent_what(a) + "; awaiting the operator's consent (hostdevctl apply asks for it; destroy = "
                             "\"when-idle\" in the configuration allows it)";
}

// approval_key() from inputs already computed. What the action destroys is part of it, as listed to the
// operator (each device with its driver): a VF rebound since is not what was approved.
std::string approval_of(const Action& a, const std::string& inputs) {
    std::string key = effect_key(a) + "|" + inputs;
    for (const std::string& d : a.destroys)
        key += "|" + d;
    return key;
}

} // namespace

const char* to_string(HoldKind kind) {
    switch (kind) {
    case HoldKind::NoEffect:
        return "no-effect";
    case HoldKind::Backoff:
        return "backoff";
    case HoldKind::Flapping:
        return "flapping";
    case HoldKind::Vetoed:
        return "vetoed";
    case HoldKind::Consent:
        return "consent";
    }
    return "?";
}

std::string approval_key(const Action& action, const ObservedState& observed) {
    return approval_of(action, gate_inputs(action, observed));
}

bool needs_consent(const Action& action) {
    return action.verdict == Verdict::Safe && !action.destroys.empty() &&
           action.destroy_policy == DestroyPolicy::Ask;
}

std::chrono::seconds backoff_delay(unsigned failures) {
    const unsigned shift = std::min(failures > 0 ? failures - 1 : 0u, 20u);
    return std::min(std::chrono::seconds(1ll << shift), kMaxBackoff);
}

const Hold* GateDecision::hold_of(size_t action_index) const {
    auto it = held.find(action_index);
    return it == held.end() ? nullptr : &it->second;
}

std::set<size_t> GateDecision::held_indexes() const {
    std::set<size_t> out;
    for (const auto& [index, hold] : held)
        out.insert(index);
    return out;
}

std::map<std::string, Hold> GateDecision::held_objects(const Plan& plan) const {
    std::map<std::string, Hold> out;
    for (const auto& [index, hold] : held)
        if (index < plan.actions.size())
            out.emplace(plan.actions[index].object, hold);
    return out;
}

std::vector<size_t> GateDecision::awaiting_consent() const {
    std::vector<size_t> out;
    for (const auto& [index, hold] : held)
        if (hold.kind == HoldKind::Consent)
            out.push_back(index);
    return out;
}

bool GateDecision::any_failed() const {
    return std::any_of(held.begin(), held.end(),
                       [](const auto& h) { return h.second.state == ObjectState::Failed; });
}

GateDecision decide(const Plan& plan, const ObservedState& observed, GateHistory history, GateTime now,
                    const GateOptions& options, const GateApprovals& approvals) {
    GateDecision out;

    // 1. What the plan still wants. A planned action carries its writes only when it is safe, so an
    //    effect counts as still wanted while any action of the same kind about the same object is planned
    //    (blocked by a guest meanwhile, say); one that no action asks for any more (done, or the
    //    configuration moved on) is settled.
    std::set<std::string> wanted;                      // object_kind of every planned action
    std::map<std::string, const Action*> safe_effects; // effect_key of every safe action
    std::set<std::string> safe_kinds;                  // object_kind of every safe action
    for (const Action& a : plan.actions) {
        wanted.insert(object_kind(a));
        if (a.verdict == Verdict::Safe) {
            safe_effects.emplace(effect_key(a), &a);
            safe_kinds.insert(object_kind(a));
        }
    }
    GateHistory settled;
    for (auto it = history.effects.begin(); it != history.effects.end();) {
        if (wanted.count(object_kind_of(it->first))) {
            ++it;
            continue;
        }
        settled.effects.insert(history.effects.extract(it++));
    }
    settle(settled, now);
    history.effects.merge(settled.effects);

    // 2. An effect that ran without error and is planned again, safe, did not take: the kernel accepted
    //    the writes and the device is not as asked (success of a write is not convergence). When the
    //    same object gets another safe action of that kind instead, it took and the world moved on;
    //    while that kind of action is only blocked or waiting, the check waits.
    for (auto& [key, e] : history.effects) {
        if (!e.awaiting_check)
            continue;
        auto again_it = safe_effects.find(key);
        if (again_it == safe_effects.end()) {
            if (safe_kinds.count(object_kind_of(key))) {
                e.awaiting_check = false;
                e.attempted_inputs.clear();
            }
            continue;
        }
        e.awaiting_check = false;
        const Action& again = *again_it->second;
        const std::string inputs = gate_inputs(again, observed);
        // An attempt whose outcome was never recorded (the process died during it): it did not take if
        // nothing differs from where it started; if something does, it did part of its work.
        const std::string started_from = std::exchange(e.attempted_inputs, std::string());
        if (!started_from.empty() && started_from != inputs)
            continue;
        const std::string what = describe_no_effect(again, observed);
        e.no_effect[inputs] = what;
        if (e.failed_inputs != inputs)
            e.failures = 0;
        ++e.failures;
        e.retry_at = now + backoff_delay(e.failures);
        e.failed_inputs = inputs;
        e.last_failure = what;
        e.last_failure_is_error = false;
    }

    // 3. Each safe action: run it, or hold it with the reason and the state its object reports.
    std::vector<std::pair<const Action*, std::string>> runnable;
    for (size_t index = 0; index < plan.actions.size(); ++index) {
        const Action& a = plan.actions[index];
        if (a.verdict != Verdict::Safe)
            continue;
        const std::string inputs = gate_inputs(a, observed);
        const std::string approval = approval_of(a, inputs);
        const bool approved = approvals.keys.count(approval) != 0;
        auto rec = history.effects.find(effect_key(a));
        if (approved) {
            runnable.emplace_back(&a, inputs);
            continue;
        }
        if (needs_consent(a) && (rec == history.effects.end() || !rec->second.no_effect.count(inputs))) {
            // Destroying what exists is the operator's decision: held until an approval for exactly this
            // action (effect and inputs) comes; never by a timer. (One that did not take from these inputs
            // is held as such below: that is what the operator needs to know first.)
            out.held.emplace(index, Hold{HoldKind::Consent, ObjectState::Consent, consent_reason(a),
                                         std::nullopt, consent_what(a), false});
            continue;
        }
        if (rec == history.effects.end()) {
            runnable.emplace_back(&a, inputs);
            continue;
        }
        EffectHistory& e = rec->second;
        if (a.disruptive) {
            if (auto known = e.no_effect.find(inputs); known != e.no_effect.end()) {
                // Never a second destruction from the same inputs: it would end where this one did.
                out.held.emplace(index, Hold{HoldKind::NoEffect, ObjectState::Failed,
                                             known->second + "; not repeated until the configuration or the "
                                                             "device changes",
                                             std::nullopt, known->second, false});
                continue;
            }
        }
        if (e.failures > 0 && e.failed_inputs != inputs) {
            e.failures = 0; // the inputs changed since: a new situation, tried at once
            e.retry_at = {};
        }
        if (e.failures > 0 && (!options.retry_after_backoff || now < e.retry_at)) {
            std::string reason = e.last_failure;
            if (options.retry_after_backoff) {
                reason += "; retrying after " + seconds_text(backoff_delay(e.failures));
                out.held.emplace(index, Hold{HoldKind::Backoff, ObjectState::Failed, reason, e.retry_at,
                                             e.last_failure, e.last_failure_is_error});
            } else {
                out.held.emplace(index, Hold{HoldKind::Backoff, ObjectState::Failed, reason, std::nullopt,
                                             e.last_failure, e.last_failure_is_error});
            }
            continue;
        }
        if (!e.veto.empty() && e.vetoed_inputs != inputs) {
            e.vetoes = 0; // its inputs changed since the veto: the hooks are asked at once
            e.veto.clear();
        }
        if (!e.veto.empty() && (!options.retry_after_backoff || now < e.veto_retry_at)) {
            // The reason stays the same while the veto does (no "retrying after N s"): the object's
            // blocked state is logged once per reason. The hooks are asked again after backoff_delay().
            out.held.emplace(index,
                             Hold{HoldKind::Vetoed, ObjectState::Blocked, e.veto,
                                  options.retry_after_backoff ? std::optional(e.veto_retry_at) : std::nullopt,
                                  e.veto, false});
            continue;
        }
        if (e.flapping && now < e.flap_retry_at) {
            out.held.emplace(index,
                             Hold{HoldKind::Flapping, ObjectState::Failed,
                                  a.summary + ": something else keeps undoing this; re-applying with "
                                              "back-off",
                                  e.flap_retry_at, a.summary + ": something else keeps undoing this", false});
            continue;
        }
        runnable.emplace_back(&a, inputs);
    }

    // 4. One wave: the earliest wave that has something to run. Held actions of an earlier wave do not
    //    stop later ones (a held VF count does not keep the PF's existing VFs from being bound).
    int wave = -1;
    for (const auto& [a, inputs] : runnable)
        if (wave == -1 || static_cast<int>(a->wave) < wave)
            wave = static_cast<int>(a->wave);
    for (const auto& [a, inputs] : runnable) {
        if (static_cast<int>(a->wave) != wave)
            continue;
        out.run.push_back(a);
        out.run_inputs.push_back(inputs);
        if (const std::string approval = approval_of(*a, inputs); approvals.keys.count(approval))
            out.approvals_used.insert(approval);
        if (a->disruptive) {
            EffectHistory& e = history.effects[effect_key(*a)];
            e.awaiting_check = true;
            e.attempted_inputs = inputs;
        }
    }
    for (const auto& [a, hold] : out.held)
        if (hold.retry_at && *hold.retry_at > now && (!out.wake_at || *hold.retry_at < *out.wake_at))
            out.wake_at = hold.retry_at;
    out.history = std::move(history);
    return out;
}

void record(GateHistory& history, const std::vector<const Action*>& run,
            const std::vector<std::string>& inputs, const ExecutionReport& report, GateTime now,
            const std::vector<std::optional<bool>>& took) {
    for (size_t i = 0; i < run.size() && i < report.results.size() && i < inputs.size(); ++i) {
        const Action& a = *run[i];
        const ActionResult& r = report.results[i];
        EffectHistory& e = history.effects[effect_key(a)];
        e.attempted_inputs.clear();
        if (r.outcome == ActionOutcome::Blocked) {
            e.awaiting_check = false; // not attempted: the in-use re-check found a holder, or a hook vetoed
            if (!r.veto.empty()) {
                // A veto is a gate input: the hooks are not asked again in a tight loop (back-off), but
                // at once when what the action would do changes (decide() compares the inputs).
                if (e.vetoed_inputs != inputs[i])
                    e.vetoes = 0;
                ++e.vetoes;
                e.veto = r.veto;
                e.vetoed_inputs = inputs[i];
                e.veto_retry_at = now + backoff_delay(e.vetoes);
            }
            continue;
        }
        e.vetoes = 0; // attempted: the hooks let it through
        e.veto.clear();
        if (r.outcome == ActionOutcome::Failed) {
            e.awaiting_check = false;
            if (e.failed_inputs != inputs[i])
                e.failures = 0;
            ++e.failures;
            e.retry_at = now + backoff_delay(e.failures);
            e.failed_inputs = inputs[i];
            e.last_failure = r.message;
            e.last_failure_is_error = true;
            continue;
        }
        // Ok, or Stuck: every write went through, a stuck one after the kernel held it for seconds (the
        // executor's report and the daemon's incident say so). Either way its effect is in place, so it is
        // treated as applied: awaiting its check, and planned again from the same inputs it is held like
        // any effect that did not take (a destructive one is never repeated until an input changes).
        // Seen in place right after the writes: it took, whatever happens to it next.
        e.awaiting_check = !(i < took.size() && took[i] == true);
        if (e.applications == 0 || now - e.window_start > kFlapWindow) {
            e.window_start = now;
            e.applications = 0;
        }
        ++e.applications;
        if (e.applications > kFlapLimit) {
            e.flapping = true;
            e.flap_retry_at = now + backoff_delay(e.applications - kFlapLimit);
        }
    }
}

} // namespace hostdevd
