// hostdevd's reconcile loop (architecture.md): events only enqueue keys; a debounced pass re-observes,
// plans, publishes status on D-Bus and hands one wave of safe actions to the worker thread; when the
// wave is done the next pass re-observes (success of a write is not convergence).
#pragma once

#include "apply/executor.hpp"
#include "apply/hooks.hpp"
#include "apply/writer.hpp"
#include "daemon/apply_worker.hpp"
#include "daemon/bus_objects.hpp"
#include "daemon/claims_watcher.hpp"
#include "daemon/config_settle.hpp"
#include "daemon/device_events.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/systemd_module_loader.hpp"
#include "export/keeper.hpp"
#include "gate/gate.hpp"
#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "observe/observe.hpp"
#include "plan/incremental.hpp"
#include "report/views.hpp"
#include "sysfs/layout.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <signal.h>
#include <string>

struct udev;
struct udev_monitor;

namespace sdbus {
class IConnection;
}

namespace hostdevd {

// Describe()'s and Plan()'s answers are freed when no call has used them for this long.
inline constexpr std::chrono::milliseconds kAnswerCacheIdle{10'000};

struct DaemonOptions {
    std::string config_dir = "/etc/hostdevd";
    std::chrono::milliseconds debounce{20};          // coalesce a burst of uevents into one pass
    std::chrono::milliseconds max_debounce{250};     // ...but never delay a pass longer than this
    std::chrono::seconds blocked_write_report{5};    // a write stuck this long shows as `failed`
    std::chrono::seconds ready_timeout{60};          // READY=1 at the latest after this (--ready-timeout)
    std::chrono::milliseconds blocked_recheck{2000}; // while blocked: look at the holders again this often
    // The gate's clock (back-off, flapping) runs this many times faster than the wall clock. Tests only
    // (HOSTDEVD_TEST_CLOCK_SCALE): "nothing for 60 s of daemon time" without 60 s of waiting.
    double clock_scale = 1.0;
};

// SIGTERM, SIGINT and SIGHUP are handled through a signalfd on the loop. Call block_loop_signals() before
// any thread exists (threads inherit the mask), so that no thread dies of a signal meant for the loop.
sigset_t loop_signals();
void block_loop_signals();

class Daemon final : public ManagerBackend {
public:
    explicit Daemon(DaemonOptions options);
    ~Daemon() override;
    int run(); // returns the exit code

    // ManagerBackend (D-Bus methods, loop thread)
    void reload() override;
    void reconcile_now() override;
    void approve(const std::vector<std::string>& objects, uint32_t uid) override;
    std::vector<PlanRow> plan_rows() override;
    std::string describe() override;
    std::vector<ExportDocumentRow> export_documents(const std::string& format, bool all) override;

private:
    bool load_config(std::string& error); // keeps the last good configuration on failure
    void request_pass(std::chrono::milliseconds delay);
    void pass();
    void on_wave_done(std::vector<Action> wave, ExecutionReport report);
    void on_udev();
    void mark_dirty(const std::string& key);
    bool observe_for_pass(ObservedChanges& changes);
    void plan_for_pass(bool full, const ObservedChanges& changes);
    const Plan& plan() const { return planned_.plan(); }
    void on_signal();
    void on_config_change();
    void settle_config(std::chrono::milliseconds delay);
    void check_stuck_write();
    void publish();
    void notify_ready_once();
    void log_invalid_config(const std::string& what, const std::string& errors);
    void notify_status();
    void ping_watchdog(std::chrono::milliseconds interval);
    void watch_blocked_holders();
    void gate_pass(GateDecision decision, std::vector<Action>& wave);
    void log_holds();
    void arm_retry_timer();
    void merge_failures();
    void keep_live_approvals();
    GateTime gate_now() const;
    ManagerView manager_view() const;
    std::string make_description() const;
    void answers_used();
    void release_answers_later(std::chrono::milliseconds delay);
    ExportInput export_input() const; // daemon_exports.cpp

    DaemonOptions options_;
    SysfsLayout layout_;
    EventLoop loop_;
    SysfsWriter writer_;
    ModprobeLoader modprobe_; // when no systemd is on the bus to ask (systemd_module_loader.hpp)
    SystemdModuleLoader modules_{modprobe_, layout_.sys("module")};
    FreshClaims fresh_claims_{layout_}; // the worker's re-check of consumers' claims
    HookRunner hooks_;                  // <config dir>/hooks.d, run on the worker
    std::unique_ptr<ApplyWorker> worker_;
    std::unique_ptr<ClaimsWatcher> claims_; // consumers' claims as the passes see them
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<BusPublisher> publisher_;

    // configuration
    DesiredState desired_;
    uint64_t generation_ = 0;
    bool config_valid_ = false;
    std::string config_error_;

    // the world as last seen, and what we made of it
    ObservedState observed_;
    IncrementalPlan planned_;
    uint64_t planned_generation_ = 0; // the configuration planned_ was made for
    Views views_;
    // What each object reports beyond the plan (merge_failures()): the incidents, over them the gate's
    // holds (what happens now), over those a write stuck in the kernel right now.
    std::map<std::string, ObjectFailure> failures_;
    std::map<std::string, ObjectFailure> stuck_; // object → its write stuck in the kernel (this wave)
    // object → a write that was stuck in the kernel (the effect may be in place, the pass was no success):
    // reported until the operator asks again (Reload(), Reconcile(), SIGHUP, a configuration change).
    std::map<std::string, ObjectFailure> incidents_;
    // What the views have not caught up with yet: objects the plans since the last publish() changed
    // (all of them when views_stale_), and the failures they were derived with.
    std::set<std::string> unpublished_;
    bool views_stale_ = true;
    std::map<std::string, ObjectFailure> published_failures_;
    bool wave_unpublished_ = false; // a wave finished; the next publish() emits Reconciled for it
    // The gate (gate/gate.hpp): its decision on the current plan and its history, of which the no-effect
    // records are shared with hostdevctl through /run/hostdevd (gate/history_store.hpp).
    GateDecision gate_;
    GateHistory gate_history_;
    GateHistory saved_history_; // the persisted part as last written
    // Holds already logged (journal), by effect key: what happened and the kind of hold. Forgotten when
    // the effect's episode ends (it converged, or its inputs changed and it ran again).
    std::map<std::string, std::string> held_logged_;
    std::optional<EventLoop::TimerId> retry_timer_;
    // The operator's approvals (D-Bus Approve), by approval_key(): each is used up when its action runs,
    // and lapses when no action of the plan has that key any more (the plan for the object changed).
    // Not persisted: a restarted daemon asks again.
    GateApprovals approvals_;
    EventLoop::Clock::time_point clock_origin_ = EventLoop::Clock::now();
    // Describe() and Plan() answer what was last published, made once per publish() and then copied: a
    // flood of calls (anyone may make them) costs one serialisation per change of state, not one per
    // call (docs/dbus.md). Freed when no call came for kAnswerCacheIdle (a big host's text is megabytes).
    std::optional<std::string> described_;
    std::optional<std::vector<PlanRow>> plan_rows_;
    EventLoop::Clock::time_point answers_last_used_{};
    std::optional<EventLoop::TimerId> answers_release_timer_;
    ExportKeeper exports_; // the [export] files and the action counters of the metrics
    // PFs read by this pass, or by the passes that went straight on to it to read a PF again before
    // enabling its VFs (stale_retry_): see Daemon::pass.
    std::set<std::string> read_for_enable_;
    bool stale_retry_ = false;
    bool starting_ = true;
    bool ready_sent_ = false;
    EventLoop::Clock::time_point started_{};
    StateJournal state_journal_; // what the journal was last told about each object
    uint64_t last_reconcile_usec_ = 0;

    // What the next pass must re-read: device addresses the events pointed at, or everything.
    std::set<std::string> dirty_;
    bool full_refresh_ = true;

    // pass scheduling
    std::optional<EventLoop::TimerId> pass_timer_;
    std::optional<EventLoop::Clock::time_point> pass_deadline_;
    bool pass_wanted_while_busy_ = false;
    std::optional<EventLoop::TimerId> stuck_timer_;
    std::optional<EventLoop::TimerId> reload_timer_;
    ConfigSettle config_settle_; // when an edited directory is ready to be loaded
    std::optional<EventLoop::TimerId> holder_poll_timer_;

    // event sources
    struct udev* udev_ = nullptr;
    struct udev_monitor* monitor_ = nullptr;
    int signal_fd_ = -1;
    int inotify_fd_ = -1;
};

} // namespace hostdevd
