// parallel_for (reconciler/common/parallel_for.hpp): every index once, on at most the given workers,
// and a failure stops the rest and reaches the caller.
#include "common/parallel_for.hpp"

#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
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
    std::mutex mutex;
    std::set<size_t> done;
    auto run = [&] {
        parallel_for(0, 10000, 4, [&](size_t index, size_t) {
            if (index == 20)
                throw std::runtime_error("device 20 vanished");
            std::lock_guard lock(mutex);
            done.insert(index);
        });
    };
    CHECK_THROWS_WITH(run(), "device 20 vanished");
    CHECK_FALSE(done.count(20));
    CHECK(done.size() < 10000 - 1); // the others stopped instead of finishing the range
}
