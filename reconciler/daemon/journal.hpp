// hostdevd's one place that decides where log lines go and in what form (docs/daemon.md, Logging).
// Under systemd, stderr is a journal stream (JOURNAL_STREAM names its device and inode): every line then
// goes to journald natively, with a real priority, and device events carry structured fields and a
// stable MESSAGE_ID, so that `journalctl HOSTDEVD_DEVICE=0000:3b:02.1` is one device's history and
// `journalctl -p err` finds what went wrong. Anywhere else (a terminal, a file, a test) the same lines
// go to stderr as plain text, as before: "device=0000:3b:02.1 action=bind vfio-pci applied".
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace hostdevd::journal {

// syslog(3) priorities, as journald stores them in PRIORITY=.
enum class Priority { Err = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

// The kinds of device event with a stable MESSAGE_ID (generated once with `systemd-id128 new`; never
// change them: administrators filter and alert on them). docs/daemon.md lists them.
enum class Kind {
    Applied,   // an action's writes went through
    Converged, // an object reached the configured state after being pending, blocked or failed
    Blocked,   // an object is blocked (in use, or a conflict); once per reason, with the holders
    Failed,    // a write failed, or succeeded without effect
    Undone,    // something else keeps undoing a change (flapping); hostdevd backs off
    Destroyed, // hostdevd's write removed a device (VFs of a PF through sriov_numvfs, an mdev)
    Vetoed,    // a hook vetoed a destructive or rebinding action (docs/hooks.md); once per veto
    ConfigInvalid,
    ExportWritten, // an [export] file got new content, or was written again after a failure
    ExportFailed,  // an [export] file could not be written or made (once per distinct failure)
};
const char* message_id(Kind kind); // 32 hex digits
const char* kind_name(Kind kind);  // "applied", "converged", ...

struct Event {
    Kind kind;
    Priority priority;
    std::string device;  // HOSTDEVD_DEVICE: PCI address or mdev UUID (empty for configuration events)
    std::string action;  // HOSTDEVD_ACTION: the action's summary ("sriov_numvfs 2 -> 0 -> 1")
    std::string verdict; // HOSTDEVD_VERDICT: the object's state or the action's outcome
    std::string message; // MESSAGE (and the whole line on stderr)
    std::vector<std::pair<std::string, std::string>> fields; // more HOSTDEVD_* fields (REASON, HOLDERS, ...)
};

// Chooses the destination once, at start: the journal when stderr is the journal stream JOURNAL_STREAM
// names (systemd.exec(5): compare device and inode, not just the variable's presence), else stderr as
// plain text (spdlog's default sink). `debug` enables debug lines either way.
void init(bool debug);
bool to_journal();

// One device or configuration event: to journald with its fields, or to stderr as its message.
void log(const Event& event);

} // namespace hostdevd::journal
