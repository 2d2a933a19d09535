#include "daemon/backoff.hpp"

#include <catch2/catch.hpp>

using hostdevd::Backoff;
using namespace std::chrono_literals;

TEST_CASE("a failed action waits 1 s then 2 s then 4 s and is capped at 5 min") {
    Backoff b;
    auto t = Backoff::Clock::time_point{} + 1h;
    CHECK(b.allowed("k", t));
    b.failed("k", t);
    CHECK_FALSE(b.allowed("k", t + 999ms));
    CHECK(b.allowed("k", t + 1s));
    b.failed("k", t);
    CHECK_FALSE(b.allowed("k", t + 1999ms));
    CHECK(b.allowed("k", t + 2s));
    b.failed("k", t);
    CHECK(b.allowed("k", t + 4s));
    for (int i = 0; i < 30; ++i)
        b.failed("k", t);
    CHECK(b.allowed("k", t + 300s));
    CHECK_FALSE(b.allowed("k", t + 299s));
    CHECK(b.next_retry() == t + 300s);
    CHECK(b.allowed("other", t));
}

TEST_CASE("success clears failures and settling forgets the action") {
    Backoff b;
    auto t = Backoff::Clock::time_point{} + 1h;
    b.failed("k", t);
    b.succeeded("k", t + 1s);
    CHECK(b.failures("k") == 0);
    CHECK(b.allowed("k", t + 1s));
    b.settled("k");
    CHECK_FALSE(b.next_retry().has_value());
}

TEST_CASE("an action undone again and again is held back as flapping, once per window") {
    Backoff b;
    auto t = Backoff::Clock::time_point{} + 1h;
    for (unsigned i = 0; i < Backoff::kFlapLimit; ++i) {
        b.succeeded("k", t + i * 1s);
        CHECK(b.allowed("k", t + i * 1s));
        CHECK_FALSE(b.flapping("k"));
    }
    b.succeeded("k", t + 10s);
    CHECK(b.flapping("k"));
    CHECK_FALSE(b.allowed("k", t + 10s));
    CHECK(b.allowed("k", t + 11s));
    b.settled("k"); // a flapping action keeps its history through the window
    CHECK(b.flapping("k"));
    // Outside the window the count starts again.
    Backoff fresh;
    fresh.succeeded("k", t);
    fresh.succeeded("k", t + 11min);
    CHECK_FALSE(fresh.flapping("k"));
}

TEST_CASE("effect keys tell a repeated action from the next step of the same kind") {
    hostdevd::Action clear;
    clear.object = "0000:ca:00.4";
    clear.kind = hostdevd::ActionKind::SetVgpu;
    clear.writes = {{"bus/pci/devices/0000:ca:00.4/nvidia/current_vgpu_type", "0"}};
    hostdevd::Action create = clear;
    create.writes = {{"bus/pci/devices/0000:ca:00.4/nvidia/current_vgpu_type", "906"}};
    CHECK(hostdevd::effect_key(clear) != hostdevd::effect_key(create));
    hostdevd::Action again = create;
    again.summary = "different words";
    CHECK(hostdevd::effect_key(again) == hostdevd::effect_key(create));
}
