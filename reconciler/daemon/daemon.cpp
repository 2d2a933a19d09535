#include "daemon/daemon.hpp"

#include "config/loader.hpp"
#include "daemon/export_events.hpp"
#include "daemon/journal.hpp"
#include "gate/history_store.hpp"
#include "model/pci_address.hpp"
#include "observe/effect_check.hpp"
#include "observe/observe.hpp"
#include "plan/future.hpp"
#include "report/json.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <libudev.h>
#include <sdbus-c++/sdbus-c++.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <system_error>
#include <systemd/sd-daemon.h>
#include <unistd.h>

namespace hostdevd {

namespace {

uint64_t realtime_usec() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Subsystems whose events can change what hostdevd decides: PCI devices (VFs, binding, mdev parent
// registration), mdevs, network interfaces (in-use signals), VFIO group nodes.
constexpr const char* kWatchedSubsystems[] = {"pci", "mdev", "net", "vfio"};

} // namespace

sigset_t loop_signals() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    return mask;
}

void block_loop_signals() {
    sigset_t mask = loop_signals();
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
}

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)), writer_(layout_), hooks_(hook_settings_for(options_.config_dir)),
      worker_(std::make_unique<ApplyWorker>(
          loop_, writer_, modules_,
          [this](const std::string& object) {
              std::vector<std::string> holders = holders_now(layout_, object);
              for (std::string& claim : fresh_claims_.holders_of(object))
                  holders.push_back(std::move(claim));
              return holders;
          },
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.blocked_write_report), &hooks_)),
      // Changed claims: a pass without keys looks at every object's holders again (add_claims below).
      claims_(std::make_unique<ClaimsWatcher>(loop_, layout_,
                                              [this] { request_pass(std::chrono::milliseconds(0)); })) {}

Daemon::~Daemon() {
    publisher_.reset();
    claims_.reset();
    worker_.reset();
    if (monitor_)
        udev_monitor_unref(monitor_);
    if (udev_)
        udev_unref(udev_);
    if (signal_fd_ >= 0)
        close(signal_fd_);
    if (inotify_fd_ >= 0)
        close(inotify_fd_);
}

int Daemon::run() {
    // Signals arrive as events on the loop (SIGTERM/SIGINT stop, SIGHUP reloads). They are blocked in
    // every thread (block_loop_signals() runs before any thread starts), so only the signalfd sees them.
    sigset_t mask = loop_signals();
    signal_fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "signalfd");
    loop_.watch(signal_fd_, [this] { on_signal(); });

    // What the gate remembers of this boot (ineffective destructive attempts, also hostdevctl's).
    gate_history_ = load_gate_history(layout_);
    saved_history_ = persisted_part(gate_history_);

    // Configuration first: an invalid one at start still lets the daemon report why over D-Bus.
    std::string error;
    if (!load_config(error))
        log_invalid_config("configuration invalid; nothing will be changed until it is fixed", error);

    // The udev monitor is set up before the first observation so that nothing happening in between is lost.
    udev_ = udev_new();
    if (!udev_)
        throw std::runtime_error("udev_new failed");
    monitor_ = udev_monitor_new_from_netlink(udev_, "udev");
    if (!monitor_)
        throw std::runtime_error("cannot create a udev monitor (netlink)");
    // No socket filter on subsystems: an mdev parent that is not a PCI device announces itself
    // (MDEV_STATE=registered) under its own class ("mtty"), which no fixed list can name. on_udev()
    // drops the other events; hosts see few of them (udev's own bus traffic is small).
    udev_monitor_set_receive_buffer_size(monitor_, 32 * 1024 * 1024);
    if (udev_monitor_enable_receiving(monitor_) < 0)
        throw std::runtime_error("cannot enable the udev monitor");
    loop_.watch(udev_monitor_get_fd(monitor_), [this] { on_udev(); });

    inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd_ >= 0 && inotify_add_watch(inotify_fd_, options_.config_dir.c_str(),
                                              IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
                                                  IN_CREATE | IN_DELETE | IN_ATTRIB) >= 0)
        loop_.watch(inotify_fd_, [this] { on_config_change(); });
    else
        spdlog::warn("not watching {} for changes: {}", options_.config_dir, std::strerror(errno));

    bus_ = sdbus::createSystemBusConnection(kBusName);
    publisher_ = std::make_unique<BusPublisher>(*bus_, *this, manager_view());
    loop_.attach(*bus_);

    uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
        ping_watchdog(std::chrono::milliseconds(watchdog_usec / 2000));
    // The bound on READY=1 (docs/daemon.md, systemd): a device that never gets its driver cannot hold the
    // boot; what was still outstanding is logged.
    started_ = EventLoop::Clock::now();
    loop_.after(std::chrono::duration_cast<std::chrono::milliseconds>(options_.ready_timeout), [this] {
        if (ready_sent_)
            return;
        // (A safe action the gate holds back is not outstanding: it will not happen by waiting.)
        std::string outstanding;
        for (size_t i = 0; i < plan().actions.size(); ++i) {
            const Action& a = plan().actions[i];
            if ((a.verdict == Verdict::Waiting || a.verdict == Verdict::Safe) && !gate_.hold_of(i))
                outstanding += (outstanding.empty() ? "" : "; ") + a.object + " " + a.summary + " (" +
                               std::string(to_string(a.verdict)) + ": " + a.reason + ")";
        }
        spdlog::warn("ready: the configured state was not reached within --ready-timeout {} s; reporting "
                     "ready anyway. Outstanding: {}",
                     options_.ready_timeout.count(), outstanding.empty() ? "a wave of writes" : outstanding);
        notify_ready_once();
    });

    request_pass(std::chrono::milliseconds(0));
    int code = loop_.run();
    sd_notify(0, "STOPPING=1");
    // Let a running wave finish its current writes; a write stuck in the kernel cannot be interrupted,
    // so then exit at once instead of tearing down objects the worker still uses.
    if (!worker_->wait_idle(std::chrono::seconds(2))) {
        spdlog::warn("exiting with a sysfs write still blocked in the kernel");
        std::fflush(nullptr);
        _exit(code);
    }
    return code;
}

bool Daemon::load_config(std::string& error) {
    LoadResult loaded = load_config_dir(options_.config_dir);
    if (!loaded.ok()) {
        error.clear();
        for (const auto& e : loaded.errors)
            error += (error.empty() ? "" : "\n") + e.str();
        config_valid_ = false;
        config_error_ = loaded.errors.empty() ? "invalid configuration" : loaded.errors.front().str();
        return false;
    }
    desired_ = std::move(*loaded.state);
    ++generation_;
    full_refresh_ = true;
    config_valid_ = true;
    config_error_.clear();
    spdlog::info("configuration generation {} loaded from {} ({} files)", generation_, options_.config_dir,
                 desired_.files.size());
    return true;
}

void Daemon::reload() {
    std::string error;
    incidents_.clear(); // asked again: what was reported has been seen
    merge_failures();
    bool ok = load_config(error);
    publish();
    if (!ok) {
        log_invalid_config("reload failed, keeping configuration generation " + std::to_string(generation_),
                           error);
        throw sdbus::Error("io.hostdevd1.Error.InvalidConfig", config_error_);
    }
    request_pass(std::chrono::milliseconds(0));
}

// Approve(objects): every action awaiting consent on each object, keyed by what it does and the inputs it
// is planned from now (approval_key), so that the next pass runs exactly that and nothing the plan turns
// into meanwhile. All or nothing: one refused object approves none.
void Daemon::approve(const std::vector<std::string>& objects, uint32_t uid) {
    if (objects.empty())
        throw sdbus::Error("io.hostdevd1.Error.NothingAwaitingConsent", "no object given to approve");
    std::set<std::string> keys;
    std::vector<std::string> what;
    for (const std::string& given : objects) {
        std::string object = given;
        if (auto address = PciAddress::parse(given))
            object = address->str();
        else
            std::transform(object.begin(), object.end(), object.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        bool found = false;
        for (const Action& a : plan().actions) {
            if (a.object != object || !needs_consent(a))
                continue;
            found = true;
            keys.insert(approval_key(a, observed_));
            what.push_back(object + " " + a.summary);
        }
        if (found)
            continue;
        if (!generation_ || !plan().objects.count(object))
            throw sdbus::Error("io.hostdevd1.Error.UnknownObject",
                               "\"" + given + "\" is not a device or mdev of hostdevd's configuration");
        throw sdbus::Error("io.hostdevd1.Error.NothingAwaitingConsent",
                           object + " has no action awaiting consent (hostdevctl status shows its state)");
    }
    approvals_.keys.insert(keys.begin(), keys.end());
    for (const std::string& w : what)
        spdlog::info("approved by uid {}: {}", uid, w);
    request_pass(std::chrono::milliseconds(0));
}

// Drops the approvals the decision used (their action runs now) and those no action of the plan has any
// more: the plan for that object changed, and what was approved is not what would run.
void Daemon::keep_live_approvals() {
    for (const std::string& used : gate_.approvals_used)
        approvals_.keys.erase(used);
    if (approvals_.keys.empty())
        return;
    std::set<std::string> live;
    for (const Action& a : plan().actions)
        if (a.verdict == Verdict::Safe)
            live.insert(approval_key(a, observed_));
    for (auto it = approvals_.keys.begin(); it != approvals_.keys.end();) {
        if (live.count(*it)) {
            ++it;
            continue;
        }
        spdlog::info("approval lapsed, the plan changed since: {}", it->substr(0, it->find('|')));
        it = approvals_.keys.erase(it);
    }
}

void Daemon::reconcile_now() {
    incidents_.clear(); // asked again: what was reported has been seen
    merge_failures();
    full_refresh_ = true; // asked for explicitly: read everything again
    request_pass(std::chrono::milliseconds(0));
}

// A Describe() or Plan() answer was made or used: they are kept until unused for kAnswerCacheIdle. One
// timer at a time, and none on a daemon nobody asks (benchmark B6: an idle daemon does not wake up).
void Daemon::answers_used() {
    answers_last_used_ = EventLoop::Clock::now();
    if (!answers_release_timer_)
        release_answers_later(kAnswerCacheIdle);
}

void Daemon::release_answers_later(std::chrono::milliseconds delay) {
    answers_release_timer_ = loop_.after(delay, [this] {
        answers_release_timer_.reset();
        auto unused = std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::Clock::now() -
                                                                            answers_last_used_);
        if (unused >= kAnswerCacheIdle) {
            described_.reset();
            plan_rows_.reset();
        } else {
            release_answers_later(kAnswerCacheIdle - unused);
        }
    });
}

std::vector<PlanRow> Daemon::plan_rows() {
    if (!plan_rows_) {
        std::vector<PlanRow> rows;
        std::vector<Action> actions = plan().actions;
        // On VFs that do not exist yet: "(after the VFs appear)"; none after a VF count the gate holds back.
        for (Action& a : future_actions(plan(), desired_, observed_, gate_.held_indexes()))
            actions.push_back(std::move(a));
        for (size_t i = 0; i < actions.size(); ++i) {
            const Action& a = actions[i];
            std::string detail;
            for (const auto& w : a.writes)
                detail += (detail.empty() ? "" : "; ") + w.path + "=" + w.value;
            if (!a.module.empty())
                detail += (detail.empty() ? "" : "; ") + std::string("modprobe ") + a.module;
            if (!a.destroys.empty()) {
                detail += (detail.empty() ? "" : "; ") + std::string("destroys:");
                for (size_t d = 0; d < a.destroys.size(); ++d)
                    detail += (d ? ", " : " ") + a.destroys[d];
            }
            // An action the gate holds back is not what the next pass does: it shows the hold instead.
            const Hold* hold = i < plan().actions.size() ? gate_.hold_of(i) : nullptr;
            rows.emplace_back(a.object, a.summary.empty() ? to_string(a.kind) : a.summary,
                              hold ? to_string(hold->state) : to_string(a.verdict),
                              hold ? hold->reason : a.reason, detail);
        }
        plan_rows_ = std::move(rows);
    }
    answers_used();
    return *plan_rows_;
}

std::string Daemon::describe() {
    if (!described_)
        described_ = make_description();
    answers_used();
    return *described_;
}

std::string Daemon::make_description() const {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& [a, v] : views_.devices)
        devices.push_back(to_json(v));
    nlohmann::json mdevs = nlohmann::json::array();
    for (const auto& [u, v] : views_.mdevs)
        mdevs.push_back(to_json(v));
    nlohmann::json absent = nlohmann::json::array();
    for (const auto& [key, s] : views_.absent)
        absent.push_back(to_json(s));
    ManagerView m = manager_view();
    nlohmann::json manager = {{"version", m.version},
                              {"state", m.state},
                              {"config_generation", m.config_generation},
                              {"config_valid", m.config_valid},
                              {"config_error", m.config_error},
                              {"config_files", m.config_files},
                              {"last_reconcile_usec", m.last_reconcile_usec}};
    return nlohmann::json{
        {"manager", manager},
        {"devices", devices},
        {"mdevs", mdevs},
        {"absent", absent},
        {"plan", to_json(plan(), future_actions(plan(), desired_, observed_, gate_.held_indexes()), &gate_)}}
        .dump();
}

ManagerView Daemon::manager_view() const {
    ManagerView m;
    m.version = HOSTDEVD_VERSION;
    m.state = manager_state(views_, plan(), !gate_.run.empty(), config_valid_ || generation_ > 0, starting_);
    if (!config_valid_)
        m.state = "invalid-config";
    m.config_generation = generation_;
    m.config_valid = config_valid_;
    m.config_error = config_error_;
    m.config_files = desired_.files;
    m.last_reconcile_usec = last_reconcile_usec_;
    m.export_errors = exports_.errors();
    return m;
}

// Passes are debounced: the first request arms a short timer, later ones within the burst join it, and
// a burst can postpone the pass by at most `max_debounce`.
void Daemon::request_pass(std::chrono::milliseconds delay) {
    if (worker_->busy()) {
        pass_wanted_while_busy_ = true;
        return;
    }
    auto now = EventLoop::Clock::now();
    auto when = now + delay;
    if (pass_timer_) {
        if (pass_deadline_ && when > *pass_deadline_)
            when = *pass_deadline_;
        loop_.cancel(*pass_timer_);
    } else {
        pass_deadline_ = now + options_.max_debounce;
    }
    pass_timer_ = loop_.at(when, [this] {
        pass_timer_.reset();
        pass_deadline_.reset();
        pass();
    });
}

void Daemon::pass() {
    if (worker_->busy()) {
        pass_wanted_while_busy_ = true;
        return;
    }
    // A pass, not a reload or a report, is a reconcile; its time is when it looked at the host (a client
    // seeing a stamp later than its own change knows the pass saw that change).
    const uint64_t began = realtime_usec();
    ObservedChanges changes;
    const bool full = observe_for_pass(changes);
    if (generation_ == 0) {
        // Never had a valid configuration: observe and report, change nothing.
        last_reconcile_usec_ = began;
        planned_ = IncrementalPlan{};
        gate_ = GateDecision{};
        views_stale_ = true;
        publish();
        notify_ready_once();
        return;
    }
    plan_for_pass(full, changes);

    // The gate decides which of the plan's safe actions run in this pass (one wave). Decided on a copy of
    // its history: nothing is committed before the check below may send the pass back to read a PF.
    GateDecision decision = decide(plan(), observed_, gate_history_, gate_now(), {}, approvals_);

    // sriov_drivers_autoprobe decides which driver probes the VFs when they are enabled, and a change of it
    // sends no uevent (iov.c sriov_drivers_autoprobe_store): a PF not read in this pass is read again, and
    // planned again, before its VFs are enabled, so a hand-made change is seen (and repaired by the
    // PfSettings wave) first. No periodic polling: the value matters only at that moment.
    // (What this pass and the passes that came back here for this reason read counts as fresh.)
    if (!stale_retry_)
        read_for_enable_.clear();
    stale_retry_ = false;
    read_for_enable_.insert(changes.devices.begin(), changes.devices.end());
    if (!full) {
        bool stale = false;
        for (const Action* a : decision.run)
            if (a->kind == ActionKind::SetNumVfs && !a->writes.empty() && a->writes.back().value != "0" &&
                !read_for_enable_.count(a->object)) {
                dirty_.insert(a->object);
                stale = true;
            }
        if (stale) {
            spdlog::debug("reading the PF again before enabling its VFs");
            stale_retry_ = true;
            request_pass(std::chrono::milliseconds(0));
            return;
        }
    }
    // Stamped only now: a pass that went back to read a PF again published nothing, and a client that
    // follows LastReconcileUSec (hostdevctl apply) must not take its stamp for a settled pass.
    last_reconcile_usec_ = began;
    std::vector<Action> wave;
    gate_pass(std::move(decision), wave);

    starting_ = starting_ && !wave.empty();
    const bool settled = wave.empty();
    // READY=1 (docs/daemon.md): nothing left to apply now, and nothing that will become possible by
    // itself (a PF whose driver is still probing, a module still loading, mdev types not registered yet).
    bool waiting = false;
    for (const auto& a : plan().actions)
        waiting = waiting || a.verdict == Verdict::Waiting;
    // (A safe action the gate holds back is neither: it failed, did not take or keeps being undone, and is
    // reported; it does not hold READY=1.)
    if (!settled) {
        // The writes start first and the status is published while they run: publishing reads only the
        // loop thread's state, and on a large host it takes a while.
        spdlog::info("applying {} action(s)", wave.size());
        auto copy = wave;
        worker_->submit(std::move(wave), [this, copy = std::move(copy)](ExecutionReport report) {
            on_wave_done(copy, std::move(report));
        });
        stuck_timer_ =
            loop_.after(std::chrono::duration_cast<std::chrono::milliseconds>(options_.blocked_write_report),
                        [this] { check_stuck_write(); });
    }
    publish();
    watch_blocked_holders();
    if (settled && !waiting)
        notify_ready_once();
}

void Daemon::on_wave_done(std::vector<Action> wave, ExecutionReport report) {
    if (stuck_timer_) {
        loop_.cancel(*stuck_timer_);
        stuck_timer_.reset();
    }
    stuck_.clear();
    // The gate records the outcome: failures back off, what ran awaits its check by the next decision.
    // Each effect is checked at once too (one or two reads): someone may undo it before the next pass,
    // which is flapping, not "did not take".
    std::vector<const Action*> run;
    std::vector<std::optional<bool>> took;
    for (size_t i = 0; i < wave.size(); ++i) {
        run.push_back(&wave[i]);
        const bool ok = i < report.results.size() && report.results[i].outcome == ActionOutcome::Ok;
        took.push_back(ok ? effect_visible(layout_, wave[i]) : std::nullopt);
    }
    record(gate_history_, run, gate_.run_inputs, report, gate_now(), took);
    for (size_t i = 0; i < report.results.size() && i < wave.size(); ++i) {
        const auto& r = report.results[i];
        exports_.count(wave[i], r.outcome); // the metrics' action counters
        // A write that was stuck in the kernel: no success, even when it went through in the end (its
        // effect is in place, and the gate does not repeat it). Reported until the operator asks again.
        if (r.outcome == ActionOutcome::Stuck || (r.outcome == ActionOutcome::Failed && r.stuck))
            incidents_[wave[i].object] = ObjectFailure{wave[i].summary + ": " + r.message};
        // observed_ is still the observation the wave was planned from: it names what a write destroyed.
        for (const journal::Event& e : action_events(wave[i], r, observed_))
            journal::log(e);
    }
    merge_failures();
    for (const auto& a : wave)
        mark_dirty(a.object); // an mdev UUID or a module name means a full refresh
    // The pass that follows at once re-observes and publishes the outcome (failures included) together
    // with what the writes changed, and emits Reconciled for the finished wave.
    wave_unpublished_ = true;
    request_pass(std::chrono::milliseconds(0));
    if (pass_wanted_while_busy_) {
        pass_wanted_while_busy_ = false;
        request_pass(std::chrono::milliseconds(0));
    }
}

void Daemon::check_stuck_write() {
    stuck_timer_.reset();
    auto in_flight = worker_->in_flight();
    if (!in_flight)
        return;
    auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(EventLoop::Clock::now() - in_flight->started);
    std::string object;
    for (const auto& a : plan().actions)
        for (const auto& w : a.writes)
            if (w == in_flight->write)
                object = a.object;
    if (!object.empty()) {
        // The device is busy: its lock is held by this write, so nothing reads it (passes wait for the
        // wave) and it is shown from the last observation.
        std::string value = in_flight->write.value;
        value.erase(std::remove(value.begin(), value.end(), '\n'), value.end());
        stuck_[object] = ObjectFailure{"busy: write \"" + value + "\" to /sys/" + in_flight->write.path +
                                       " blocked for " + std::to_string(secs.count()) +
                                       " s in the kernel (the device is not read until it returns)"};
        merge_failures();
        publish();
    }
    stuck_timer_ = loop_.after(std::chrono::seconds(1), [this] { check_stuck_write(); });
}

// The gate's clock: the loop's monotonic clock, run `clock_scale` times faster from the daemon's start
// for tests (a 60 s back-off passes in 1 s of waiting at scale 60).
GateTime Daemon::gate_now() const {
    const auto now = EventLoop::Clock::now();
    if (options_.clock_scale == 1.0)
        return now;
    return clock_origin_ + std::chrono::duration_cast<EventLoop::Clock::duration>((now - clock_origin_) *
                                                                                  options_.clock_scale);
}

// Takes the gate's decision for this pass (no repeat of an ineffective destruction, back-off, flapping):
// its history, persisted when that part changed, the wave to run, what the held actions report, the
// journal entry of each new hold, and the timer for the earliest retry.
void Daemon::gate_pass(GateDecision decision, std::vector<Action>& wave) {
    gate_ = std::move(decision);
    gate_history_ = gate_.history;
    keep_live_approvals();
    if (GateHistory persisted = persisted_part(gate_history_); !(persisted == saved_history_)) {
        save_gate_history(layout_, gate_history_);
        saved_history_ = std::move(persisted);
    }
    for (const Action* a : gate_.run)
        wave.push_back(*a);
    log_holds();
    merge_failures();
    arm_retry_timer();
}

// Each hold goes to the journal once per episode of its effect (what happened and the kind of hold), not
// on every pass nor on every retry of the same failure:
//  - no-effect (a destructive action that did not take, not repeated until an input changes): err, as it
//    needs the administrator (nothing changes by itself);
//  - back-off after a write that ran without error and did not take: warning (retried by itself);
//    after a write that failed: not again, the executor's failure was logged with the write and errno;
//  - flapping: warning, "undone".
// An episode ends when the effect has nothing left on record: it converged, or moved on.
void Daemon::log_holds() {
    std::set<std::string> held_now;
    for (const auto& [index, hold] : gate_.held) {
        const Action& a = plan().actions[index];
        const std::string key = effect_key(a);
        held_now.insert(key);
        const std::string seen = std::string(to_string(hold.kind)) + "|" + hold.what;
        if (auto it = held_logged_.find(key); it != held_logged_.end() && it->second == seen)
            continue;
        held_logged_[key] = seen;
        if (hold.kind == HoldKind::Backoff && hold.write_failed)
            continue;
        const std::string line = "device=" + a.object + " action=" + a.summary;
        switch (hold.kind) {
        case HoldKind::NoEffect:
            journal::log({journal::Kind::Failed,
                          journal::Priority::Err,
                          a.object,
                          a.summary,
                          "no-effect",
                          line + " did not take: " + hold.reason,
                          {{"source", a.source}, {"reason", hold.reason}}});
            break;
        case HoldKind::Backoff:
            journal::log({journal::Kind::Failed,
                          journal::Priority::Warning,
                          a.object,
                          a.summary,
                          "no-effect",
                          line + " had no effect: " + hold.reason,
                          {{"source", a.source}, {"reason", hold.reason}}});
            break;
        case HoldKind::Consent:
            journal::log({journal::Kind::Blocked,
                          journal::Priority::Notice,
                          a.object,
                          a.summary,
                          "consent",
                          line + " awaits the operator's consent: " + hold.what,
                          {{"source", a.source}, {"reason", hold.reason}}});
            break;
        case HoldKind::Flapping:
            journal::log({journal::Kind::Undone,
                          journal::Priority::Warning,
                          a.object,
                          a.summary,
                          "undone",
                          line + " keeps being undone by something else; backing off",
                          {{"source", a.source}}});
            break;
        case HoldKind::Vetoed:
            journal::log({journal::Kind::Vetoed,
                          journal::Priority::Warning,
                          a.object,
                          a.summary,
                          "vetoed",
                          line + " vetoed: " + hold.reason,
                          {{"source", a.source}, {"reason", hold.reason}}});
            break;
        }
    }
    for (auto it = held_logged_.begin(); it != held_logged_.end();) {
        auto e = gate_history_.effects.find(it->first);
        const bool ongoing = held_now.count(it->first) ||
                             (e != gate_history_.effects.end() &&
                              (e->second.failures > 0 || !e->second.no_effect.empty() || e->second.flapping));
        it = ongoing ? std::next(it) : held_logged_.erase(it);
    }
}

// One timer for the earliest retry of a held action (only retries still to come: one that is due runs
// in this pass or is held for another reason).
void Daemon::arm_retry_timer() {
    if (retry_timer_) {
        loop_.cancel(*retry_timer_);
        retry_timer_.reset();
    }
    if (!gate_.wake_at)
        return;
    const auto now = EventLoop::Clock::now();
    const auto ahead = std::chrono::duration_cast<EventLoop::Clock::duration>((*gate_.wake_at - gate_now()) /
                                                                              options_.clock_scale);
    retry_timer_ = loop_.at(now + ahead, [this] {
        retry_timer_.reset();
        request_pass(std::chrono::milliseconds(0));
    });
}

// A pass plans only the units of the host its observation changed (plan/incremental.hpp); the whole host
// after a full observation, a configuration change, or a change of what every unit reads (drivers,
// modules, vGPU type names).
void Daemon::plan_for_pass(bool full, const ObservedChanges& changes) {
    if (full || changes.host_wide || planned_generation_ != generation_)
        planned_ = plan_all(desired_, observed_);
    else
        planned_ = replan(desired_, observed_, std::move(planned_), changes.devices, changes.mdevs);
    planned_generation_ = generation_;
    if (planned_.all_changed())
        views_stale_ = true;
    else
        unpublished_.insert(planned_.changed_objects().begin(), planned_.changed_objects().end());
}

void Daemon::publish() {
    // What Describe() and Plan() say is what was last published: made again on the next call.
    described_.reset();
    plan_rows_.reset();
    // Views follow the plan's changes and the failures that came or went since the last publish; the
    // bus objects are compared only where the views were re-derived (all of them after a rebuild).
    const bool rebuilt = views_stale_;
    const std::map<std::string, ObjectFailure>& failures = failures_;
    if (rebuilt) {
        views_ = Views{}; // freed first: old and new views of a big host together set the daemon's peak RSS
        views_ = derive_views(observed_, plan(), failures);
    } else {
        for (const auto& [object, failure] : failures)
            if (auto it = published_failures_.find(object);
                it == published_failures_.end() || !(it->second == failure))
                unpublished_.insert(object);
        for (const auto& [object, failure] : published_failures_)
            if (!failures.count(object))
                unpublished_.insert(object);
        update_views(views_, observed_, plan(), failures, unpublished_);
    }
    // The [export] files follow the views; written here, they are current before READY=1 too.
    if (exports_.wanted(desired_.exports))
        for (const ExportFileEvent& e : exports_.refresh(
                 desired_.exports, export_input(), rebuilt || !unpublished_.empty() || wave_unpublished_))
            journal::log(export_event(e));
    ManagerView m = manager_view();
    bool changed = false;
    if (publisher_)
        changed = rebuilt ? publisher_->publish(m, views_) : publisher_->publish(m, views_, unpublished_);
    // Journal: objects that became blocked (once per reason) or converged since the last publish.
    for (const journal::Event& e : state_journal_.update(views_, rebuilt ? nullptr : &unpublished_))
        journal::log(e);
    views_stale_ = false;
    unpublished_.clear();
    published_failures_ = failures;
    if (publisher_ && (changed || wave_unpublished_))
        publisher_->emit_reconciled(generation_, m.state);
    wave_unpublished_ = false;
    notify_status();
}

// What each object reports beyond its planned status: a write stuck in the kernel (an incident, until
// the operator asks again), over it the gate's hold of one of its actions (what happens now), over both
// a write that is stuck right now.
void Daemon::merge_failures() {
    failures_ = incidents_;
    for (const auto& [object, hold] : gate_.held_objects(plan()))
        failures_[object] = ObjectFailure{hold.reason, to_string(hold.state)};
    for (const auto& [object, failure] : stuck_)
        failures_[object] = failure;
}

void Daemon::notify_ready_once() {
    if (ready_sent_)
        return;
    ready_sent_ = true;
    starting_ = false;
    publish();
    sd_notify(0, "READY=1");
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::Clock::now() - started_).count();
    spdlog::info("ready: state {} after {}.{:03} s", manager_view().state, ms / 1000, ms % 1000);
}

void Daemon::log_invalid_config(const std::string& what, const std::string& errors) {
    journal::log({journal::Kind::ConfigInvalid,
                  journal::Priority::Err,
                  "",
                  "",
                  "invalid-config",
                  what + ": " + errors,
                  {{"config_dir", options_.config_dir}, {"config_error", config_error_}}});
}

void Daemon::notify_status() {
    size_t blocked = 0, failed = 0, pending = 0;
    for (const auto& [a, v] : views_.devices) {
        blocked += v.state == "blocked";
        failed += v.state == "failed";
        pending += v.state == "pending";
    }
    std::string status = "STATUS=" + manager_view().state + ": " + std::to_string(views_.devices.size()) +
                         " devices, " + std::to_string(pending) + " pending, " + std::to_string(blocked) +
                         " blocked, " + std::to_string(failed) + " failed";
    sd_notify(0, status.c_str());
}

// A guest letting go of a device (closing its VFIO group) sends no uevent. While some action is blocked,
// the holders are therefore looked at again every few seconds; a converged or idle host is never polled.
void Daemon::watch_blocked_holders() {
    bool blocked = false;
    for (const auto& a : plan().actions)
        blocked = blocked || a.verdict == Verdict::Blocked;
    if (!blocked || holder_poll_timer_)
        return;
    holder_poll_timer_ = loop_.after(options_.blocked_recheck, [this] {
        holder_poll_timer_.reset();
        request_pass(std::chrono::milliseconds(0)); // no keys: re-reads holders (and drivers, mdevs)
    });
}

// The watchdog is pinged from the loop itself: a loop stuck anywhere stops the pings.
void Daemon::ping_watchdog(std::chrono::milliseconds interval) {
    sd_notify(0, "WATCHDOG=1");
    loop_.after(interval, [this, interval] { ping_watchdog(interval); });
}

// Re-reads what the events since the last pass pointed at (work grows with what changed, not with the
// size of the host); everything at start, after a reload and when an event could not be attributed.
// Returns true for a full observation; otherwise `changes` says what the re-read touched.
bool Daemon::observe_for_pass(ObservedChanges& changes) {
    const bool full = full_refresh_;
    if (full) {
        observed_ = observe_host(layout_);
    } else {
        std::set<std::string> keys = dirty_;
        for (const auto& key : dirty_) // a VF's PF holds its count and list of VFs
            if (const PciDevice* d = observed_.find(key); d && !d->physfn.empty())
                keys.insert(d->physfn);
        changes = refresh_devices(layout_, std::vector<std::string>(keys.begin(), keys.end()), observed_);
    }
    // Consumers' claims as last read (off the loop), and a fresh read for the next pass: a claim that
    // changes makes the watcher ask for one.
    add_claims(observed_, claims_->claims(), full ? nullptr : &changes);
    claims_->refresh();
    full_refresh_ = false;
    dirty_.clear();
    return full;
}

void Daemon::mark_dirty(const std::string& key) {
    if (PciAddress::parse(key))
        dirty_.insert(key);
    else if (!observed_.mdev_parents.count(key)) // every pass re-reads the non-PCI mdev parents anyway
        full_refresh_ = true;
}

namespace {

// The PCI device an event is about: the device itself (pci), the device a netdev or mdev sits on
// (".../0000:3b:02.0/net/ens1f0v0", ".../0000:3d:00.0/<uuid>"). Empty when none can be named.
std::string pci_key_of(const char* subsystem, const char* devpath, const char* sysname) {
    std::string sub = subsystem ? subsystem : "";
    if (sub == "pci")
        return sysname ? sysname : "";
    std::string path = devpath ? devpath : "";
    if (sub == "net") {
        auto at = path.rfind("/net/");
        path = at == std::string::npos ? "" : path.substr(0, at);
    } else if (sub == "mdev") {
        path = path.substr(0, path.rfind('/'));
    } else {
        return "";
    }
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(slash + 1);
}

// Events of the watched subsystems, and an mdev parent of any class registering or unregistering.
bool relevant_event(udev_device* dev) {
    const char* subsystem = udev_device_get_subsystem(dev);
    for (const char* watched : kWatchedSubsystems)
        if (subsystem && std::strcmp(subsystem, watched) == 0)
            return true;
    return udev_device_get_property_value(dev, "MDEV_STATE") != nullptr;
}

} // namespace

void Daemon::on_udev() {
    // Level-triggered: an event only says what to look at; the pass re-reads its state.
    while (udev_device* dev = udev_monitor_receive_device(monitor_)) {
        if (!relevant_event(dev)) {
            udev_device_unref(dev);
            continue;
        }
        const char* action = udev_device_get_action(dev);
        const char* devpath = udev_device_get_devpath(dev);
        std::string key = pci_key_of(udev_device_get_subsystem(dev), devpath, udev_device_get_sysname(dev));
        spdlog::debug("uevent {} {} -> {}", action ? action : "?", devpath ? devpath : "?",
                      key.empty() ? "full refresh" : key);
        mark_dirty(key);
        udev_device_unref(dev);
    }
    request_pass(options_.debounce);
}

void Daemon::on_signal() {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            spdlog::info("SIGHUP: reloading configuration");
            try {
                reload();
            } catch (const sdbus::Error&) {
                // already logged and published; the previous configuration stays in force
            }
        } else {
            spdlog::info("signal {}: exiting", info.ssi_signo);
            loop_.quit(0);
        }
    }
}

void Daemon::on_config_change() {
    // Only *.toml files are configuration; an editor's or installer's temporary file is not (an atomic
    // write-then-rename shows up as the rename of the .toml file).
    alignas(inotify_event) char buf[4096];
    bool relevant = false;
    ssize_t n;
    while ((n = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            std::string name = ev->len ? ev->name : "";
            if (name.empty() || (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0))
                relevant = true;
            p += sizeof(inotify_event) + ev->len;
        }
    }
    if (!relevant)
        return;
    // Editors write in several steps: load once the directory has settled (daemon/config_settle.hpp).
    settle_config(ConfigSettle::kQuiet);
}

// Looks at the directory `delay` from now (a later change moves the look), and loads it once it has
// settled: no file in force missing (for up to 2 s), and the same on two looks.
void Daemon::settle_config(std::chrono::milliseconds delay) {
    if (reload_timer_)
        loop_.cancel(*reload_timer_);
    reload_timer_ = loop_.after(delay, [this] {
        reload_timer_.reset();
        if (config_settle_.look(stamp_config_dir(options_.config_dir), desired_.files,
                                EventLoop::Clock::now()) == ConfigSettle::Verdict::LookAgain) {
            settle_config(ConfigSettle::kQuiet);
            return;
        }
        try {
            reload();
        } catch (const sdbus::Error&) {
        }
    });
}

} // namespace hostdevd
