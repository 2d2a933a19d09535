#include "model/plan.hpp"

namespace hostdevd {

const char* to_string(Verdict v) {
    switch (v) {
    case Verdict::Safe:
        return "safe";
    case Verdict::Waiting:
        return "waiting";
    case Verdict::Blocked:
        return "blocked";
    case Verdict::Invalid:
        return "invalid";
    case Verdict::Never:
        return "never";
    }
    return "?";
}

const char* to_string(ActionKind k) {
    switch (k) {
    case ActionKind::SetAutoprobe:
        return "set-autoprobe";
    case ActionKind::SetNumVfs:
        return "set-numvfs";
    case ActionKind::Bind:
        return "bind";
    case ActionKind::Unbind:
        return "unbind";
    case ActionKind::CreateMdev:
        return "create-mdev";
    case ActionKind::RemoveMdev:
        return "remove-mdev";
    case ActionKind::SetVgpu:
        return "set-vgpu";
    case ActionKind::LoadModule:
        return "load-module";
    }
    return "?";
}

const char* to_string(ObjectState s) {
    switch (s) {
    case ObjectState::Converged:
        return "converged";
    case ObjectState::Pending:
        return "pending";
    case ObjectState::Blocked:
        return "blocked";
    case ObjectState::Failed:
        return "failed";
    case ObjectState::Absent:
        return "absent";
    case ObjectState::Foreign:
        return "foreign";
    case ObjectState::Consent:
        return "consent";
    }
    return "?";
}

std::string effect_key(const Action& a) {
    std::string last = a.module;
    if (!a.writes.empty())
        last = a.writes.back().path + "=" + a.writes.back().value;
    return a.object + "|" + to_string(a.kind) + "|" + last;
}

std::vector<const Action*> Plan::next_wave() const {
    std::vector<const Action*> out;
    int wave = -1;
    for (const auto& a : actions) {
        if (a.verdict != Verdict::Safe)
            continue;
        int w = static_cast<int>(a.wave);
        if (wave == -1 || w < wave) {
            wave = w;
            out.clear();
        }
        if (w == wave)
            out.push_back(&a);
    }
    return out;
}

bool Plan::converged() const {
    for (const auto& a : actions)
        if (a.verdict != Verdict::Never)
            return false;
    return true;
}

} // namespace hostdevd
