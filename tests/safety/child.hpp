// Runs a program with a deadline, or kills it with SIGKILL after a chosen delay: the crash-safety tests
// interrupt `hostdevctl apply` at random points, and a write hanging on a held device must fail the test
// instead of hanging it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace safety {

struct ChildResult {
    int exit_code = -1;     // 128+N when killed by signal N
    bool timed_out = false; // still running at the deadline (then killed)
    std::string output;     // stdout and stderr interleaved
};

// Runs argv (argv[0] is a path) and waits at most `deadline`; with `kill_after` (> 0) sends SIGKILL after
// that long instead of waiting for the deadline, as a crash would.
ChildResult run_child(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                      std::chrono::microseconds kill_after = std::chrono::microseconds(0));

} // namespace safety
