// Tests of what chapter 2 changed about chapter 1's executor. The behaviours this stage
// shares with later ones (queued once, sleeping, shutdown, the timer-thread sleep) are in
// common/behaviours/waking_executor.cpp.
#include <doctest/doctest.h>

#include "rt/executor.hpp"

namespace {

/// Answers pending `times` times without waking anyone. Chapter 1 completed it anyway,
/// because it polled every task on every round.
class SilentlyPending {
public:
    using Output = void;
    explicit SilentlyPending(int times) : times_(times) {}
    rt::Poll<void> poll(rt::Context&) {
        if (times_-- == 0) return rt::ready;
        return rt::pending;
    }

private:
    int times_;
};

}  // namespace

TEST_SUITE("polled only when woken") {
    TEST_CASE("a future that answers pending without arranging a wake is never polled again") {
        rt::Executor executor;
        executor.spawn(SilentlyPending(1));
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 1);
        CHECK(executor.pending_tasks() == 1);  // it broke the contract, and waits for ever
    }
}
