// `hostdevctl status` as text, from the daemon's Describe() JSON (dbus.md): a summary line, a roll-up
// with one row per PF (its VFs counted by state, driver and pool) or other device, each distinct reason
// said once with the objects it applies to, and on request (or when it is short) the full table of every
// device and mdev. Pure: JSON in, text out, so it is tested without a daemon.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>

namespace hostdevd::cli {

struct StatusFilter {
    std::set<std::string> pfs;    // PF addresses: the PF, its VFs and mdevs on them
    std::set<std::string> states; // object states (converged, pending, blocked, failed, absent, foreign)
    std::set<std::string> pools;  // devices with one of these pools
    bool any() const { return !pfs.empty() || !states.empty() || !pools.empty(); }
};

enum class StatusDetail {
    Auto,    // the full table when it has at most kFullTableRows rows, else the summary
    Summary, // summary line, roll-up, distinct reasons: at most kSummaryLines lines
    Full,    // summary line and every device and mdev
};

inline constexpr size_t kFullTableRows = 30;
inline constexpr size_t kSummaryLines = 30;

struct StatusOptions {
    StatusFilter filter;
    StatusDetail detail = StatusDetail::Auto;
    size_t width = 0; // cut the summary's reason lines to this many columns (a terminal); 0 = never
};

// Writes the report; returns the exit status (exit_codes.hpp): 1 when the configuration is invalid or
// something failed, 4 while changes are pending, 3 when something is blocked, else 0. Without a filter
// this is the Manager's State; with one, the states of the objects shown (and 1 for an invalid
// configuration, which concerns every object).
int render_status(std::ostream& out, const nlohmann::json& describe, const StatusOptions& options);

// Every distinct (state, reason) of the objects that are not converged, each once with the objects it
// applies to ("blocked: 2 VFs of 0000:3b:00.0 (0000:3b:02.6, 0000:3b:02.7)" and the reason beneath),
// at most `max_lines` lines. Used by status and by apply through the daemon.
void render_reasons(std::ostream& out, const nlohmann::json& describe, const StatusFilter& filter,
                    size_t max_lines, size_t width);

// The exit status for a Describe() (see render_status).
int status_exit_status(const nlohmann::json& describe, const StatusFilter& filter);

} // namespace hostdevd::cli
