// Tests of exercise 06-02, the specification of ex::RateLimiter: N permits per window of the
// schedule and no more, none before its window starts; waiters served first come, first served;
// dropped waiters lose no permit and stall nobody; one timer for all the waiters. Counts are
// taken per window from the windows the permits report, never from measured durations. Every
// test ends on its own, even against the starter: the executor is driven by run_bounded below,
// which stops as soon as nothing is left that could wake the test's task.
#include <doctest/doctest.h>

#include <rate_limiter.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/timeout.hpp"
#include "testing/run_bounded.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using Acquire = ex::RateLimiter::Acquire;
using TimePoint = rt::Clock::time_point;

using testing::run_bounded;

namespace {

// The interface: acquire() is a future of the start of the permit's window.
static_assert(rt::Future<Acquire>);
static_assert(std::same_as<Acquire::Output, TimePoint>);
static_assert(!std::is_copy_constructible_v<ex::RateLimiter>);

constexpr char stuck[] =
    "the test's task never finished: an acquire answered pending and nothing is left that could "
    "wake it (no task ready, no timer registered)";

/// The window a permit reports, as a number: 0 for the first window, 1 for the next, ...; -1
/// when the time is not the start of a window of `limiter`'s schedule.
long long window_number(const ex::RateLimiter& limiter, TimePoint window) {
    const rt::Clock::duration since = window - limiter.start();
    if (since < rt::Clock::duration::zero() || since % limiter.period() != 0ns) return -1;
    return static_cast<long long>(since / limiter.period());
}

/// What poll_window gives for an acquire that answered pending.
constexpr long long waiting = -2;

/// Poll `acquire` once with `waker`: the window's number if it was ready, `waiting` if not.
long long poll_window(const ex::RateLimiter& limiter, Acquire& acquire, const rt::Waker& waker) {
    rt::Poll<TimePoint> polled = testing::poll_once(acquire, waker);
    return polled.is_ready() ? window_number(limiter, polled.value()) : waiting;
}

/// What a task saw when its acquire completed.
struct Served {
    int id;
    long long window;        // window_number of the permit
    TimePoint at;            // the time the acquire completed
    TimePoint window_start;  // the start of that window
};

/// Waits for a permit, then records who got one, of which window, and when.
rt::Task<void> take_permit(ex::RateLimiter& limiter, std::vector<Served>& served, int id) {
    const TimePoint window = co_await limiter.acquire();
    served.push_back(Served{id, window_number(limiter, window), rt::Clock::now(), window});
}

/// Waits for a permit for at most `patience`; `gave_up` says whether it stopped waiting.
rt::Task<void> take_permit_within(ex::RateLimiter& limiter, std::chrono::milliseconds patience,
                                  bool& gave_up) {
    const std::optional<TimePoint> window = co_await rt::timeout(patience, limiter.acquire());
    gave_up = !window.has_value();
}

}  // namespace

TEST_SUITE("rate limiter: permits per period") {
    TEST_CASE("the first N acquisitions are ready at once, in the first window, with no timer") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            ex::RateLimiter limiter(3, 200ms);
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            CHECK(poll_window(limiter, a, waker.waker()) == 0);
            CHECK(poll_window(limiter, b, waker.waker()) == 0);
            CHECK(poll_window(limiter, c, waker.waker()) == 0);
            CHECK(executor.time_driver().registered() == 0);  // nothing to wait for
            CHECK(waker.clones() == 0);                       // so no waker was kept
            CHECK(limiter.waiters() == 0);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("the next acquisition waits for the next window, not before it starts") {
        rt::Executor executor;
        const std::optional<long long> window =
            run_bounded(executor, [&executor]() -> rt::Task<long long> {
                ex::RateLimiter limiter(2, 100ms);
                testing::CountingWaker waker;
                Acquire a = limiter.acquire();
                Acquire b = limiter.acquire();
                Acquire c = limiter.acquire();
                CHECK(poll_window(limiter, a, waker.waker()) == 0);
                CHECK(poll_window(limiter, b, waker.waker()) == 0);
                CHECK(poll_window(limiter, c, waker.waker()) == waiting);  // the window is used up
                CHECK(limiter.waiters() == 1);
                CHECK(executor.time_driver().registered() == 1);  // it waits for the next window
                const TimePoint got = co_await c;  // polled in place, now by this task
                CHECK(rt::Clock::now() >= got);    // never before its window starts
                CHECK(limiter.waiters() == 0);
                CHECK(executor.time_driver().registered() == 0);
                co_return window_number(limiter, got);
            });
        REQUIRE_MESSAGE(window.has_value(), stuck);
        CHECK(*window >= 1);  // 1, unless this thread stalled for a whole period
    }

    TEST_CASE("unused permits do not pile up: after idle windows the burst is still N") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(2, 200ms, start);
            co_await rt::sleep_until(start + 450ms);  // two windows unused, a quarter of the third
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            const long long first = poll_window(limiter, a, waker.waker());
            CHECK(first >= 2);  // the window of now, on the schedule: not a saved-up one
            CHECK(poll_window(limiter, b, waker.waker()) == first);
            CHECK(poll_window(limiter, c, waker.waker()) == waiting);  // two, not six
            CHECK(executor.time_driver().registered() == 1);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("many tasks: no window gives out more than N permits, and none before it starts") {
        constexpr int tasks = 10;
        constexpr std::size_t per_window = 3;
        ex::RateLimiter limiter(per_window, 40ms);
        std::vector<Served> served;
        rt::Executor executor;  // after the limiter and the log: its tasks use them
        const std::optional<bool> done =
            run_bounded(executor, [&limiter, &served, &executor]() -> rt::Task<bool> {
                std::vector<rt::JoinHandle<void>> handles;
                for (int id = 0; id < tasks; ++id) {
                    handles.push_back(rt::spawn(take_permit(limiter, served, id)));
                }
                for (rt::JoinHandle<void>& handle : handles) co_await handle;
                CHECK(executor.time_driver().registered() == 0);
                co_return true;
            });
        REQUIRE_MESSAGE(done.has_value(), stuck);
        REQUIRE(served.size() == static_cast<std::size_t>(tasks));
        std::sort(served.begin(), served.end(),
                  [](const Served& x, const Served& y) { return x.id < y.id; });
        std::map<long long, std::size_t> per_window_count;
        long long previous = 0;
        for (const Served& one : served) {
            CHECK(one.window >= 0);             // the start of a window of the schedule
            CHECK(one.at >= one.window_start);  // not before that window started
            CHECK(one.window >= previous);      // in arrival order: a later task, a later window
            previous = one.window;
            ++per_window_count[one.window];
        }
        for (const auto& [window, count] : per_window_count) {
            INFO("window ", window);
            CHECK(count <= per_window);
        }
        CHECK(per_window_count.size() >= 4);  // ten permits, three a window
    }

    TEST_CASE("tasks waiting on the limiter share one timer, kept by the oldest") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, 100ms, start);
            testing::CountingWaker wa, wb, wc, wd, we;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            Acquire d = limiter.acquire();
            Acquire e = limiter.acquire();
            CHECK(poll_window(limiter, a, wa.waker()) == 0);
            CHECK(poll_window(limiter, b, wb.waker()) == waiting);
            CHECK(poll_window(limiter, c, wc.waker()) == waiting);
            CHECK(poll_window(limiter, d, wd.waker()) == waiting);
            CHECK(poll_window(limiter, e, we.waker()) == waiting);
            CHECK(limiter.waiters() == 4);
            CHECK(executor.time_driver().registered() == 1);  // one timer, not four

            co_await rt::sleep_until(start + 100ms);  // the next window has started
            CHECK(wb.wakes() == 1);                   // the oldest was woken, by its timer...
            CHECK(wc.wakes() + wd.wakes() + we.wakes() == 0);  // ...and nobody else
            CHECK(poll_window(limiter, b, wb.waker()) >= 1);   // the refill served it
            CHECK(wc.wakes() == 1);  // the new oldest, woken to keep the time from now on
            CHECK(poll_window(limiter, c, wc.waker()) == waiting);
            CHECK(executor.time_driver().registered() == 1);  // still one timer: c's
            CHECK(limiter.waiters() == 3);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }
}

TEST_SUITE("rate limiter: fairness") {
    TEST_CASE("waiters are served first come, first served") {
        ex::RateLimiter limiter(1, 30ms);
        std::vector<Served> served;
        rt::Executor executor;
        const std::optional<bool> done =
            run_bounded(executor, [&limiter, &served]() -> rt::Task<bool> {
                std::vector<rt::JoinHandle<void>> handles;
                for (int id = 0; id < 5; ++id) {  // spawned, so first polled, in this order
                    handles.push_back(rt::spawn(take_permit(limiter, served, id)));
                }
                for (rt::JoinHandle<void>& handle : handles) co_await handle;
                co_return true;
            });
        REQUIRE_MESSAGE(done.has_value(), stuck);
        REQUIRE(served.size() == 5);
        for (std::size_t i = 0; i < served.size(); ++i) {
            CHECK(served[i].id == static_cast<int>(i));
            if (i > 0) CHECK(served[i].window > served[i - 1].window);  // one a window
        }
        CHECK(served[0].window == 0);
    }

    TEST_CASE("a newcomer does not take a refilled permit ahead of older waiters") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, 100ms, start);
            testing::CountingWaker wa, wb, wc, wd;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            CHECK(poll_window(limiter, a, wa.waker()) == 0);
            CHECK(poll_window(limiter, b, wb.waker()) == waiting);
            CHECK(poll_window(limiter, c, wc.waker()) == waiting);

            co_await rt::sleep_until(start + 100ms);
            // The newcomer is polled first, before b and c get their turn: the new window's
            // permit still goes to b, the oldest waiter.
            Acquire d = limiter.acquire();
            CHECK(poll_window(limiter, d, wd.waker()) == waiting);
            CHECK(poll_window(limiter, b, wb.waker()) >= 1);
            CHECK(poll_window(limiter, c, wc.waker()) == waiting);
            CHECK(limiter.waiters() == 2);  // c, then d
            CHECK(executor.time_driver().registered() == 1);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }
}

TEST_SUITE("rate limiter: dropped waiters") {
    TEST_CASE("a waiter dropped while it keeps the time hands the timer to the next one") {
        rt::Executor executor;
        const std::optional<long long> window =
            run_bounded(executor, [&executor]() -> rt::Task<long long> {
                ex::RateLimiter limiter(1, 100ms);
                testing::CountingWaker wa, wb, wc;
                Acquire a = limiter.acquire();
                std::optional<Acquire> b(limiter.acquire());
                Acquire c = limiter.acquire();
                CHECK(poll_window(limiter, a, wa.waker()) == 0);
                CHECK(poll_window(limiter, *b, wb.waker()) == waiting);
                CHECK(poll_window(limiter, c, wc.waker()) == waiting);
                CHECK(executor.time_driver().registered() == 1);  // b's

                b.reset();  // b gives up: its timer goes with it
                CHECK(executor.time_driver().registered() == 0);
                CHECK(wb.alive() == 0);  // and the limiter keeps no waker of it
                CHECK(limiter.waiters() == 1);
                CHECK(wc.wakes() == 1);  // c is woken: it keeps the time now
                CHECK(poll_window(limiter, c, wc.waker()) == waiting);
                CHECK(executor.time_driver().registered() == 1);  // c's
                const TimePoint got = co_await c;
                co_return window_number(limiter, got);
            });
        REQUIRE_MESSAGE(window.has_value(), stuck);
        CHECK(*window >= 1);
    }

    TEST_CASE("a waiter handed a permit but dropped before taking it passes the permit on") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, []() -> rt::Task<bool> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, 100ms, start);
            testing::CountingWaker wa, wb, wc, wd;
            Acquire a = limiter.acquire();
            std::optional<Acquire> b(limiter.acquire());
            Acquire c = limiter.acquire();
            CHECK(poll_window(limiter, a, wa.waker()) == 0);
            CHECK(poll_window(limiter, *b, wb.waker()) == waiting);
            CHECK(poll_window(limiter, c, wc.waker()) == waiting);

            co_await rt::sleep_until(start + 100ms);
            Acquire d = limiter.acquire();
            CHECK(poll_window(limiter, d, wd.waker()) == waiting);  // the permit went to b
            CHECK(wc.wakes() == 1);  // c became the oldest waiter (and keeps the time)
            b.reset();               // b never takes its permit: it goes to c, the next in line
            CHECK(wc.wakes() == 2);
            const long long window = poll_window(limiter, c, wc.waker());
            CHECK(window >= 1);
            CHECK(poll_window(limiter, d, wd.waker()) == waiting);  // still one per window
            CHECK(limiter.waiters() == 1);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("a permit handed over and dropped goes back to the bucket when nobody waits") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, []() -> rt::Task<bool> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, 100ms, start);
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            std::optional<Acquire> b(limiter.acquire());
            CHECK(poll_window(limiter, a, waker.waker()) == 0);
            CHECK(poll_window(limiter, *b, waker.waker()) == waiting);

            co_await rt::sleep_until(start + 100ms);
            std::optional<Acquire> d(limiter.acquire());
            CHECK(poll_window(limiter, *d, waker.waker()) == waiting);  // the permit went to b
            d.reset();                                                  // d gives up
            b.reset();  // and b never takes its permit: nobody waits, so the bucket keeps it
            CHECK(limiter.waiters() == 0);
            Acquire e = limiter.acquire();
            Acquire f = limiter.acquire();
            const long long window = poll_window(limiter, e, waker.waker());
            CHECK(window >= 1);                                        // ready at once: not lost
            CHECK(poll_window(limiter, f, waker.waker()) == waiting);  // and not doubled
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("a task that gives up waiting stalls nobody") {
        ex::RateLimiter limiter(1, 60ms);
        std::vector<Served> served;
        bool gave_up = false;
        rt::Executor executor;
        const std::optional<bool> done =
            run_bounded(executor, [&limiter, &served, &gave_up]() -> rt::Task<bool> {
                rt::JoinHandle<void> first = rt::spawn(take_permit(limiter, served, 0));
                // The second waits first in line, keeping the time, and gives up after 20 ms.
                rt::JoinHandle<void> impatient =
                    rt::spawn(take_permit_within(limiter, 20ms, gave_up));
                rt::JoinHandle<void> third = rt::spawn(take_permit(limiter, served, 2));
                co_await first;
                co_await impatient;
                co_await third;
                co_return true;
            });
        REQUIRE_MESSAGE(done.has_value(), stuck);
        CHECK(gave_up);
        REQUIRE(served.size() == 2);
        CHECK(served[0].window == 0);
        CHECK(served[1].id == 2);
        CHECK(served[1].window >= 1);  // 1: the permit the impatient task left is not lost
    }
}
