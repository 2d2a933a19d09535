// parallel_for (reconciler/common/parallel_for.hpp): every index once, on at most the given workers,
// and a failure stops the rest and reaches the caller.
#include "common/parallel_for.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <thread>
#include <unistd.h>
#include <vector>

using hostdevd::parallel_for;

TEST_CASE("every index in the range is visited once and by at most the given workers") {
    std::vector<int> visits(200, 0);
    std::mutex mutex;
    std::set<size_t> workers;
    std::set<std::thread::id> threads;
    parallel_for(10, 190, 4, [&](size_t index, size_t worker) {
        std::lock_guard lock(mutex);
        ++visits[index];
        workers.insert(worker);
        threads.insert(std::this_thread::get_id());
    });
    for (size_t i = 0; i < visits.size(); ++i)
        CHECK(visits[i] == (i >= 10 && i < 190 ? 1 : 0));
    CHECK(*workers.rbegin() < 4);
    CHECK(threads.size() <= 4);
}

TEST_CASE("one worker, one index or an empty range runs on the calling thread") {
    for (auto [begin, end, workers] : {std::tuple<size_t, size_t, size_t>{0, 50, 1}, {7, 8, 8}, {5, 5, 8}}) {
        std::set<std::thread::id> threads;
        size_t calls = 0;
        parallel_for(begin, end, workers, [&](size_t, size_t worker) {
            CHECK(worker == 0);
            ++calls;
            threads.insert(std::this_thread::get_id());
        });
        CHECK(calls == end - begin);
        CHECK((threads.empty() || threads == std::set<std::thread::id>{std::this_thread::get_id()}));
    }
}

TEST_CASE("the first failure stops the other workers and is rethrown to the caller") {
    // Independent of scheduling: every body waits (with a deadline) until the failing worker's thread
    // has ended, that is until its failure has been recorded. Each other worker then finishes the one
    // index it holds; an implementation that does not stop them would go on through the whole range.
    std::mutex mutex;
    std::set<size_t> done;
    std::atomic<pid_t> failed_tid{0};
    std::atomic<bool> timed_out{false};
    auto failing_thread_ended = [&] {
        const pid_t tid = failed_tid.load();
        return tid != 0 && access(("/proc/self/task/" + std::to_string(tid)).c_str(), F_OK) != 0;
    };
    auto run = [&] {
        parallel_for(0, 10000, 4, [&](size_t index, size_t worker) {
            if (worker == 1) { // worker 1 is a thread of its own (worker 0 is the caller)
                failed_tid = gettid();
                throw std::runtime_error("device vanished");
            }
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!timed_out && !failing_thread_ended()) {
                if (std::chrono::steady_clock::now() > deadline)
                    timed_out = true;
                std::this_thread::sleep_for(std::chrono::milliseconds(1)); // polling a state, deadline above
            }
            std::lock_guard lock(mutex);
            done.insert(index);
        });
    };
    CHECK_THROWS_WITH(run(), "device vanished");
    CHECK_FALSE(timed_out);  // worker 1 got an index and failed
    CHECK(done.size() <= 3); // the three others stopped after the piece they held (9999 if they had not)
}
