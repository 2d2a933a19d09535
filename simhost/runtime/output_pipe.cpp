#include "output_pipe.hpp"

namespace simhost {

OutputPipe::OutputPipe() : thread_([this] { run(); }) {}

OutputPipe::~OutputPipe() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void OutputPipe::post(std::function<void()> task) {
    {
        std::lock_guard lock(mu_);
        tasks_.push_back(std::move(task));
        ++posted_;
    }
    wake_.notify_one();
}

void OutputPipe::barrier() {
    std::unique_lock lock(mu_);
    const unsigned long long target = posted_;
    done_.wait(lock, [&] { return finished_ >= target; });
}

void OutputPipe::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty())
            return; // stopping, and everything posted was carried out
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        lock.lock();
        ++finished_;
        done_.notify_all();
    }
}

} // namespace simhost
