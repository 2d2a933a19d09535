// The oracle's second rule (see kernel_oracle_repeat.cpp). Internal to the model.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace simhost {

struct Impl;

// A destructive write about to be issued: which one ("<canonical path>=<value>"), the object it destroys
// (for object_state) and that object's state now.
struct DestructiveWrite {
    std::string key;
    std::string object;
    std::string before;
};

// For a write of `data` to `canon`, judged before it runs: the destructive write it is, or nothing.
std::optional<DestructiveWrite> destructive_write(const Impl& k, const std::string& canon,
                                                  std::string_view data);

// "" when `w` is not a repetition, else the reason: an identical destructive write succeeded before in this
// input epoch, from the same state, and the object has been in no other state since.
std::string repeated_destruction(const Impl& k, const DestructiveWrite& w);

// After `w` succeeded: remember it. Call with the model's mutex held.
void remember_destruction(Impl& k, const DestructiveWrite& w);

// After any change: note, for every remembered destruction, whether its object is now in a state other
// than the one before it and the one right after it (a change of input the object shows).
void track_destructions(Impl& k);

} // namespace simhost
