// Behaviours of the timer-thread sleep of chapters 2 to 5: a Sleep is woken by a thread of its
// own, so it can be polled by hand, outside any executor, and its wake arrives from that
// thread. (From chapter 6 on, timers live in the executor, and these no longer hold.)
//
// Each test here needs its polls to come before a sleep's deadline and then waits for the
// timer thread to fire it; how soon the polls come is the machine's business (sanitizers, a
// loaded machine), so a test tries a short deadline and, when a poll came too late for it,
// tries again with a longer one (with_growing_spans). Every wait for a wake is bounded.
#include <doctest/doctest.h>

#include <chrono>

#include "rt/sleep.hpp"
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

/// Polls `sleep` once with `waker`: true if it answered pending. Ready is an answer only for a
/// sleep whose deadline has passed (checked), and then the caller's attempt came too late.
bool polled_pending(rt::Sleep& sleep, const rt::Waker& waker) {
    if (testing::poll_once(sleep, waker).is_pending()) return true;
    CHECK(rt::Sleep::Clock::now() >= sleep.deadline());  // never ready before the deadline
    return false;
}

}  // namespace

TEST_SUITE("timer-thread sleep") {
    TEST_CASE("a sleep polled with a new waker wakes the new one") {
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds duration) {
            testing::CountingWaker first;
            testing::CountingWaker second;
            rt::Sleep sleep = rt::sleep(duration);
            if (!polled_pending(sleep, first.waker())) return false;
            if (!polled_pending(sleep, second.waker())) return false;
            REQUIRE_MESSAGE(testing::eventually([&] { return first.wakes() + second.wakes() > 0; },
                                                duration + testing::patience()),
                            "the timer thread never woke the sleep's waker");
            CHECK(second.wakes() == 1);
            CHECK(first.wakes() == 0);
            CHECK(first.alive() == 0);  // replaced by the second poll's, and released
            CHECK(testing::poll_once(sleep, second.waker()).is_ready());
            return true;
        });
        CHECK_MESSAGE(in_time, "no two polls of a sleep came within 10 s of its creation");
    }

    TEST_CASE("a sleep dropped before its deadline wakes nobody and releases its waker") {
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds duration) {
            testing::CountingWaker dropped;
            testing::CountingWaker later;
            const auto deadline = rt::Sleep::Clock::now() + duration;
            {
                rt::Sleep sleep = rt::sleep_until(deadline);
                if (!polled_pending(sleep, dropped.waker())) return false;
                CHECK(dropped.alive() == 1);  // the clone the sleep keeps
            }
            CHECK(dropped.alive() == 0);
            // The timer thread fires in deadline order: once it has woken `after`, it has been
            // through the dropped sleep's entry, which stays in its heap until its deadline.
            rt::Sleep after = rt::sleep_until(deadline + 1ms);
            if (!polled_pending(after, later.waker())) return false;
            REQUIRE_MESSAGE(testing::eventually([&] { return later.wakes() == 1; },
                                                duration + testing::patience()),
                            "the timer thread never woke the sleep that was not dropped");
            CHECK(dropped.wakes() == 0);
            return true;
        });
        CHECK_MESSAGE(in_time, "no sleep was polled within 10 s of its creation");
    }
}
