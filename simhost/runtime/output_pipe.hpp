// One thread that carries out, strictly in order, what must reach the outside world after a change of the
// simulated kernel: cache invalidations sent to the kernel's FUSE client, uevents, /dev/vfio nodes, and
// then the reply that completes the write(2) which caused them (docs/simhost.md "Caching").
//
// Why a thread of its own: an invalidation may wait for a directory lock that a process holds while it
// waits for an answer from simhost (a lookup in that directory). FUSE request handlers therefore never
// send invalidations and never wait for this thread; they post their replies here instead, so the loop's
// threads stay free to answer whatever the kernel is waiting for.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace simhost {

class OutputPipe {
public:
    OutputPipe();
    ~OutputPipe(); // carries out what was posted, then stops
    OutputPipe(const OutputPipe&) = delete;
    OutputPipe& operator=(const OutputPipe&) = delete;

    void post(std::function<void()> task);
    // Returns once every task posted before the call has been carried out. Not from a FUSE handler.
    void barrier();

private:
    void run();

    std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable done_;
    std::deque<std::function<void()>> tasks_;
    unsigned long long posted_ = 0, finished_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace simhost
