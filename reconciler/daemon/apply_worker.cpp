#include "daemon/apply_worker.hpp"

#include "daemon/event_loop.hpp"

#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace hostdevd {

// Wraps the real writer to publish which write is in flight (for "write to X blocked for N s").
class ApplyWorker::TrackingWriter : public Writer {
public:
    TrackingWriter(Writer& inner, ApplyWorker& owner) : inner_(inner), owner_(owner) {}
    WriteOutcome write(const SysfsWrite& w) override {
        std::list<InFlightWrite>::iterator mine;
        {
            std::lock_guard lock(owner_.mutex_);
            mine = owner_.in_flight_.insert(owner_.in_flight_.end(),
                                            InFlightWrite{w, std::chrono::steady_clock::now()});
        }
        WriteOutcome out = inner_.write(w);
        std::lock_guard lock(owner_.mutex_);
        owner_.in_flight_.erase(mine);
        return out;
    }

private:
    Writer& inner_;
    ApplyWorker& owner_;
};

ApplyWorker::ApplyWorker(EventLoop& loop, Writer& writer, ModuleLoader& modules, InUseCheck check,
                         std::chrono::milliseconds stuck_after)
    : loop_(loop), writer_(std::make_unique<TrackingWriter>(writer, *this)), modules_(modules),
      check_(std::move(check)), stuck_after_(stuck_after) {
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
    loop_.watch(event_fd_, [this] { on_eventfd(); });
    thread_ = std::thread([this] { thread_main(); });
}

ApplyWorker::~ApplyWorker() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    // The owner waits for a running wave with wait_idle() and, if a write is stuck in the kernel, exits
    // without destroying the worker (see Daemon::run). Here the thread is idle or about to be.
    thread_.join();
    loop_.unwatch(event_fd_);
    close(event_fd_);
}

bool ApplyWorker::busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
}

std::optional<InFlightWrite> ApplyWorker::in_flight() const {
    std::lock_guard lock(mutex_);
    if (in_flight_.empty())
        return std::nullopt;
    return in_flight_.front();
}

bool ApplyWorker::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return !job_ && !running_; });
}

void ApplyWorker::submit(std::vector<Action> wave, Done done) {
    {
        std::lock_guard lock(mutex_);
        busy_ = true;
        job_ = std::move(wave);
        done_ = std::move(done);
    }
    wake_.notify_all();
}

void ApplyWorker::thread_main() {
    for (;;) {
        std::vector<Action> job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || job_.has_value(); });
            if (stopping_)
                return;
            job = std::move(*job_);
            job_.reset();
            running_ = true;
        }
        std::vector<const Action*> wave;
        for (const auto& a : job)
            wave.push_back(&a);
        ExecutionReport report = execute(wave, *writer_, modules_, check_, kParallelBinds, stuck_after_);
        {
            std::lock_guard lock(mutex_);
            result_ = std::move(report);
            running_ = false;
        }
        idle_.notify_all();
        uint64_t one = 1;
        (void)!::write(event_fd_, &one, sizeof one);
    }
}

void ApplyWorker::on_eventfd() {
    uint64_t n;
    (void)!::read(event_fd_, &n, sizeof n);
    std::optional<ExecutionReport> report;
    Done done;
    {
        std::lock_guard lock(mutex_);
        report = std::move(result_);
        result_.reset();
        done = std::move(done_);
        busy_ = false;
    }
    if (report && done)
        done(std::move(*report));
}

} // namespace hostdevd
