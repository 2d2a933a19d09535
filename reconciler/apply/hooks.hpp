// Veto hooks (safety.md "In use: the signals"; docs/hooks.md): executables in <config dir>/hooks.d
// (/etc/hostdevd/hooks.d) run before each destructive or rebinding action (Action::disruptive) with the
// action's details in their environment; a non-zero exit vetoes it. After the action they run again as
// a notification (exit status logged, ignored). mdevctl's callouts are the prior art (a script per
// directory entry, run in name order, non-zero exit of a "pre" call vetoes); this is hostdevd's own.
//
// A hook runs with a clean environment, stdin /dev/null, stdout and stderr captured (the first line is
// the veto's reason), in its own session; at the timeout its whole process group is killed and the
// action is vetoed. Hooks are checked like the configuration files, and the directories on the way too:
// a hook someone other than root can change is refused, and a refused hook vetoes the action it would
// have been asked about (a veto cannot be bypassed by breaking the hook).
#pragma once

#include "apply/executor.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

struct HookSettings {
    std::string dir = "/etc/hostdevd/hooks.d";
    std::chrono::milliseconds timeout{10000};
};

// The settings for a configuration directory: <config_dir>/hooks.d, and the timeout from the
// environment variable HOSTDEVD_HOOK_TIMEOUT (seconds, 1 ... 3600; default 10).
HookSettings hook_settings_for(const std::string& config_dir);

// What one hook run said.
struct HookRun {
    std::string hook;       // file name ("50-nova-guard")
    int exit_status = -1;   // 128+N when killed by signal N; -1 when it did not run
    bool timed_out = false; // killed at the timeout
    std::string refused;    // why it was not run (permissions, not executable, cannot spawn)
    std::string first_line; // the first non-empty line of its output (stdout and stderr together)
    bool ok() const { return refused.empty() && !timed_out && exit_status == 0; }
};

class HookRunner final : public ActionHooks {
public:
    explicit HookRunner(HookSettings settings) : settings_(std::move(settings)) {}

    // ActionHooks: every hook in name order; the first that does not exit 0 vetoes, and the rest are not
    // asked. The veto's reason: "hook 50-guard vetoed: <first line>" / "... did not answer within 10 s" /
    // "hook 50-guard refused: it is writable by group/other ...".
    std::optional<std::string> before(const Action& action) override;
    void after(const Action& action, const ActionResult& result) override;

    // The hooks hostdevd would run, in order (names in the directory that are not dot files); empty
    // when the directory does not exist. A directory that cannot be trusted is reported by `problem`.
    std::vector<std::string> hooks(std::string& problem) const;

private:
    HookRun run(const std::string& name, const std::vector<std::string>& env) const;
    HookSettings settings_;
};

// Owner and mode check of a path and every directory above it: each must be owned by root and not
// writable by group/other (a directory on the way may be world-writable if it is sticky, like /tmp: no
// one else can then rename what root put there). Returns the problem, or "" when the path is trusted.
std::string untrusted_path_problem(const std::string& path);

} // namespace hostdevd
