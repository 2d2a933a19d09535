// hostdevctl's exit statuses: one small table shared by every command, so a script can act on them
// (documented in `hostdevctl --help`, hostdevctl(8) and the README).
//
//   0  done / nothing to do: the host matches the configuration (plan, apply, status), the configuration
//      is valid (validate), the command did what it was asked (devices, import-mdevctl)
//   1  error: invalid configuration, a write failed, a device failed, hostdevd not reachable
//   2  usage error: unknown command or option, missing or malformed value
//   3  blocked: what is left cannot be done now (blocked by a device in use, waiting for the host,
//      invalid for this host) and nothing failed
//   4  pending: safe changes are still to be made (plan: `apply` would change the host; status and
//      apply through the daemon: hostdevd is still applying)
#pragma once

namespace hostdevd::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBlocked = 3;
constexpr int kExitPending = 4;

// The table above as the help prints it.
inline constexpr const char* kExitStatusHelp =
    R"(  0  ok: nothing to do, the host matches the configuration, the configuration is valid
  1  error: invalid configuration, a write or a device failed, hostdevd not reachable
  2  usage error
  3  blocked: what is left cannot be done now (in use, waiting, invalid); nothing failed
  4  pending: safe changes are still to be made (plan), or hostdevd is still applying them
)";

} // namespace hostdevd::cli
