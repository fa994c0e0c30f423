// Behaviours of the timer-thread sleep of chapters 2 to 5: a Sleep is woken by a thread of its
// own, so it can be polled by hand, outside any executor, and its wake arrives from that
// thread. (From chapter 6 on, timers live in the executor, and these no longer hold.)
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "rt/sleep.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

/// Waits (without a time bound: a hang is caught by the test runner's timeout) until `done`.
template <class Done>
void wait_until(Done done) {
    while (!done()) std::this_thread::sleep_for(1ms);
}

}  // namespace

TEST_SUITE("timer-thread sleep") {
    TEST_CASE("a sleep polled with a new waker wakes the new one") {
        testing::CountingWaker first;
        testing::CountingWaker second;
        rt::Waker first_waker = first.waker();
        rt::Waker second_waker = second.waker();
        rt::Sleep sleep = rt::sleep(10ms);
        CHECK(testing::poll_once(sleep, first_waker).is_pending());
        CHECK(testing::poll_once(sleep, second_waker).is_pending());
        wait_until([&] { return second.wakes() == 1; });
        CHECK(first.wakes() == 0);
        CHECK(testing::poll_once(sleep, second_waker).is_ready());
    }

    TEST_CASE("a sleep dropped before its deadline wakes nobody and releases its waker") {
        testing::CountingWaker dropped;
        testing::CountingWaker later;
        {
            rt::Sleep sleep = rt::sleep(5ms);
            CHECK(testing::poll_once(sleep, dropped.waker()).is_pending());
            CHECK(dropped.alive() == 1);  // the clone the sleep keeps
        }
        CHECK(dropped.alive() == 0);
        rt::Sleep after = rt::sleep(20ms);  // the timer fires in deadline order
        CHECK(testing::poll_once(after, later.waker()).is_pending());
        wait_until([&] { return later.wakes() == 1; });
        CHECK(dropped.wakes() == 0);
    }
}
