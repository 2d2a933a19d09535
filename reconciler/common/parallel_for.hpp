// Spreading independent pieces of work over a few threads. Used where hostdevd waits on the kernel
// for many devices that do not depend on one another: reading them (observe/parallel_read.hpp) and
// binding the unbound ones (apply/executor.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hostdevd {

// Calls body(index, worker) for every index in [begin, end), on `workers` threads at most (the calling
// thread is worker 0; no thread is started for a single worker or a single index). Each worker takes
// the next index not yet started, so uneven pieces even out. The first exception a body throws stops
// the others at their next index and is rethrown here once every worker has stopped.
template <typename Body>
void parallel_for(size_t begin, size_t end, size_t workers, Body body) {
    std::atomic<size_t> next{begin};
    std::mutex failure_mutex;
    std::exception_ptr failure;
    auto work = [&](size_t worker) {
        try {
            for (size_t index = next++; index < end; index = next++)
                body(index, worker);
        } catch (...) {
            std::lock_guard lock(failure_mutex);
            if (!failure)
                failure = std::current_exception();
            next = end;
        }
    };
    workers = std::clamp<size_t>(workers, 1, std::max<size_t>(1, end - std::min(begin, end)));
    {
        std::vector<std::jthread> threads;
        threads.reserve(workers - 1);
        for (size_t worker = 1; worker < workers; ++worker)
            threads.emplace_back(work, worker);
        work(0);
    } // the threads join here
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace hostdevd
