// A bounded wait for tests: testing::eventually(done) checks `done()` every millisecond and
// gives up after a generous limit, so a test waiting for something that never happens fails
// with its own message instead of hanging until the test runner kills it:
//
//     REQUIRE_MESSAGE(testing::eventually([&] { return waker.wakes() == 1; }),
//                     "the timer thread never woke the sleep's waker");
//
// The limit is not a timing requirement: it is far beyond what the slowest sanitized run on a
// loaded machine needs (docs/contributing.md), and a test never asserts that something happened
// quickly. TEST_PATIENCE_SECONDS in the environment changes it.
#pragma once

#include <chrono>
#include <cstdlib>
#include <thread>

namespace testing {

/// How long a test waits for something that should happen before calling it a failure.
inline std::chrono::milliseconds patience() {
    if (const char* text = std::getenv("TEST_PATIENCE_SECONDS")) {
        const long seconds = std::strtol(text, nullptr, 10);
        if (seconds > 0) return std::chrono::seconds(seconds);
    }
    return std::chrono::seconds(20);
}

/// True once `done()` is true; false if it still is not after `limit`.
template <class Done>
[[nodiscard]] bool eventually(Done done, std::chrono::milliseconds limit = patience()) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= give_up) return done();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace testing
