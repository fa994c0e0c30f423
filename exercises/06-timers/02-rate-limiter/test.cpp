// Tests of exercise 06-02, the specification of ex::RateLimiter: N permits per window of the
// schedule and no more, none before its window starts; waiters served first come, first served;
// dropped waiters lose no permit and stall nobody; one timer for all the waiters. Counts are
// taken per window from the windows the permits report, never from measured durations. No
// verdict depends on how fast the machine is: a test whose polls must fall into one window
// checks afterwards that they did, and tries again with a longer period if the machine stalled
// across a window's end (run_attempts, below, with testing::with_growing_spans). Every test
// ends on its own, even against the starter: the executor is driven by run_bounded below, which
// stops as soon as nothing is left that could wake the test's task.
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
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/run_bounded.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using Acquire = ex::RateLimiter::Acquire;
using TimePoint = rt::Clock::time_point;

namespace {

// The interface: acquire() is a future of the start of the permit's window.
static_assert(rt::Future<Acquire>);
static_assert(std::same_as<Acquire::Output, TimePoint>);
static_assert(!std::is_copy_constructible_v<ex::RateLimiter>);

constexpr char stuck[] =
    "the test's task never finished: an acquire answered pending and nothing is left that could "
    "wake it (no task ready, no timer registered), or it was still pending after the test's "
    "patience (testing::patience(), 20 s, plus its own waits)";

/// testing::run_bounded (testing/run_bounded.hpp), with the project's patience, plus the time
/// the test itself waits, as its backstop: run the task of `make()` on `executor` until it
/// finishes; std::nullopt when nothing is left that could wake it, or after that long.
template <class Make>
auto run_bounded(rt::Executor& executor, Make make,
                 std::chrono::milliseconds waits = std::chrono::milliseconds(0)) {
    return testing::run_bounded(executor, std::move(make), testing::patience() + waits);
}

/// The window a permit reports, as a number: 0 for the first window, 1 for the next, ...; -1
/// when the time is not the start of a window of `limiter`'s schedule.
long long window_number(const ex::RateLimiter& limiter, TimePoint window) {
    const rt::Clock::duration since = window - limiter.start();
    if (since < rt::Clock::duration::zero() || since % limiter.period() != 0ns) return -1;
    return static_cast<long long>(since / limiter.period());
}

/// The number of the window the clock is in now.
long long window_now(const ex::RateLimiter& limiter) {
    return static_cast<long long>((rt::Clock::now() - limiter.start()) / limiter.period());
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

/// Waits for a permit for at most `patience`; `got` is the permit's window, if it came first.
rt::Task<void> take_permit_within(ex::RateLimiter& limiter, std::chrono::milliseconds patience,
                                  std::optional<TimePoint>& got) {
    got = co_await rt::timeout(patience, limiter.acquire());
}

/// Sleep until `deadline` with a timer of the executor's time driver: true once it fired, and
/// with it every timer due by then. False at once if the deadline had already passed at its
/// first poll (the machine stalled): the timers due may not have fired yet.
rt::Task<bool> sleep_with_timers_until(TimePoint deadline) {
    rt::Sleep sleep = rt::sleep_until(deadline);
    if (testing::poll_once(sleep).is_ready()) co_return false;
    co_await sleep;  // registered: ready once the driver fired it
    co_return true;
}

// Real time and a stalled machine. These tests use the real clock, and a loaded machine can
// stop a thread for a long moment anywhere, even between two polls that must fall into the same
// window (the third acquisition of a window of two waits only if the window has not ended
// meanwhile). Such a test is a scenario that checks, after those polls and before asserting
// anything that depends on them, that the clock is still in the window it was in before: if it
// is not, the attempt says nothing, and run_attempts runs the scenario again with a longer
// period: 10 ms, 100 ms, 1 s, then 10 s (testing::with_growing_spans).

/// The period of a scenario's limiter.
using Period = std::chrono::milliseconds;

/// What an attempt at a scenario came to.
enum class Attempt {
    checked,  // the polls fell where the scenario needs them: its checks were made
    stalled,  // a window ended where the scenario needs none to end: try again
};

/// Run `scenario(executor, period)`, a coroutine of an Attempt, on a new executor, with a
/// period of 10 ms; again with a longer one each time it stalled. `waits` is how many periods
/// the scenario sleeps on its own.
template <class Scenario>
void run_attempts(int waits, Scenario scenario) {
    const bool in_time = testing::with_growing_spans([&scenario, waits](Period period) {
        rt::Executor executor;
        const std::optional<Attempt> attempt = run_bounded(
            executor, [&executor, &scenario, period] { return scenario(executor, period); },
            waits * period);
        REQUIRE_MESSAGE(attempt.has_value(), stuck);
        return *attempt == Attempt::checked;
    });
    CHECK_MESSAGE(in_time,
                  "a window ended among polls that must fall into one, in every attempt, even "
                  "with windows of 10 s");
}

}  // namespace

TEST_SUITE("rate limiter: permits per period") {
    TEST_CASE("the first N acquisitions are ready at once, in the first window, with no timer") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            ex::RateLimiter limiter(3, 1h);  // a window that no stall of the machine outlasts
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
        run_attempts(1, [](rt::Executor& executor, Period period) -> rt::Task<Attempt> {
            ex::RateLimiter limiter(2, period);
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            const long long first = poll_window(limiter, a, waker.waker());
            const long long second = poll_window(limiter, b, waker.waker());
            const long long third = poll_window(limiter, c, waker.waker());
            const std::size_t waiters = limiter.waiters();
            const std::size_t timers = executor.time_driver().registered();
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == 0);
            CHECK(third == waiting);  // the window is used up
            CHECK(waiters == 1);
            CHECK(timers == 1);  // it waits for the next window
            if (third != waiting) co_return Attempt::checked;

            const TimePoint got = co_await c;  // polled in place, now by this task
            CHECK(rt::Clock::now() >= got);    // never before its window starts
            CHECK(window_number(limiter, got) >= 1);
            CHECK(limiter.waiters() == 0);
            CHECK(executor.time_driver().registered() == 0);
            co_return Attempt::checked;
        });
    }

    TEST_CASE("unused permits do not pile up: after idle windows the burst is still N") {
        run_attempts(3, [](rt::Executor& executor, Period period) -> rt::Task<Attempt> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(2, period, start);
            // Two windows unused, a quarter of the third.
            co_await rt::sleep_until(start + 2 * period + period / 4);
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            const long long now = window_now(limiter);
            const long long first = poll_window(limiter, a, waker.waker());
            const long long second = poll_window(limiter, b, waker.waker());
            const long long third = poll_window(limiter, c, waker.waker());
            const std::size_t timers = executor.time_driver().registered();
            if (window_now(limiter) != now) co_return Attempt::stalled;
            CHECK(first >= 2);  // the window of now, on the schedule: not a saved-up one
            CHECK(second == first);
            CHECK(third == waiting);  // two, not six
            CHECK(timers == 1);
            co_return Attempt::checked;
        });
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
        run_attempts(1, [](rt::Executor& executor, Period period) -> rt::Task<Attempt> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, period, start);
            testing::CountingWaker wa, wb, wc, wd, we;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            Acquire d = limiter.acquire();
            Acquire e = limiter.acquire();
            const long long first = poll_window(limiter, a, wa.waker());
            const long long second = poll_window(limiter, b, wb.waker());
            const long long third = poll_window(limiter, c, wc.waker());
            const long long fourth = poll_window(limiter, d, wd.waker());
            const long long fifth = poll_window(limiter, e, we.waker());
            std::size_t waiters = limiter.waiters();
            std::size_t timers = executor.time_driver().registered();
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == waiting);
            CHECK(third == waiting);
            CHECK(fourth == waiting);
            CHECK(fifth == waiting);
            CHECK(waiters == 4);
            CHECK(timers == 1);  // one timer, not four

            // The next window has started, and its timers have fired.
            if (!co_await sleep_with_timers_until(start + period)) co_return Attempt::stalled;
            const long long now = window_now(limiter);
            CHECK(wb.wakes() == 1);  // the oldest was woken, by its timer...
            CHECK(wc.wakes() + wd.wakes() + we.wakes() == 0);  // ...and nobody else
            const long long served = poll_window(limiter, b, wb.waker());
            const int front_wakes = wc.wakes();
            const long long next = poll_window(limiter, c, wc.waker());
            timers = executor.time_driver().registered();
            waiters = limiter.waiters();
            if (window_now(limiter) != now) co_return Attempt::stalled;
            CHECK(served >= 1);       // the refill served it
            CHECK(front_wakes == 1);  // the new oldest, woken to keep the time from now on
            CHECK(next == waiting);
            CHECK(timers == 1);  // still one timer: c's
            CHECK(waiters == 3);
            co_return Attempt::checked;
        });
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
        // Which window the first is served in depends on when it is first polled: a stalled
        // machine may poll it in a later one. What holds whatever the timing is the order.
        for (std::size_t i = 0; i < served.size(); ++i) {
            CHECK(served[i].id == static_cast<int>(i));
            CHECK(served[i].window >= 0);                   // the start of a window
            CHECK(served[i].at >= served[i].window_start);  // not before that window started
            if (i > 0) CHECK(served[i].window > served[i - 1].window);  // one a window
        }
    }

    TEST_CASE("a newcomer does not take a refilled permit ahead of older waiters") {
        run_attempts(1, [](rt::Executor& executor, Period period) -> rt::Task<Attempt> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, period, start);
            testing::CountingWaker wa, wb, wc, wd;
            Acquire a = limiter.acquire();
            Acquire b = limiter.acquire();
            Acquire c = limiter.acquire();
            const long long first = poll_window(limiter, a, wa.waker());
            const long long second = poll_window(limiter, b, wb.waker());
            const long long third = poll_window(limiter, c, wc.waker());
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == waiting);
            CHECK(third == waiting);

            co_await rt::sleep_until(start + period);
            const long long now = window_now(limiter);
            // The newcomer is polled first, before b and c get their turn: the new window's
            // permit still goes to b, the oldest waiter.
            Acquire d = limiter.acquire();
            const long long newcomer = poll_window(limiter, d, wd.waker());
            const long long oldest = poll_window(limiter, b, wb.waker());
            const long long next = poll_window(limiter, c, wc.waker());
            const std::size_t waiters = limiter.waiters();
            const std::size_t timers = executor.time_driver().registered();
            if (window_now(limiter) != now) co_return Attempt::stalled;
            CHECK(newcomer == waiting);
            CHECK(oldest >= 1);
            CHECK(next == waiting);
            CHECK(waiters == 2);  // c, then d
            CHECK(timers == 1);
            co_return Attempt::checked;
        });
    }
}

TEST_SUITE("rate limiter: dropped waiters") {
    TEST_CASE("a waiter dropped while it keeps the time hands the timer to the next one") {
        run_attempts(1, [](rt::Executor& executor, Period period) -> rt::Task<Attempt> {
            ex::RateLimiter limiter(1, period);
            testing::CountingWaker wa, wb, wc;
            Acquire a = limiter.acquire();
            std::optional<Acquire> b(limiter.acquire());
            Acquire c = limiter.acquire();
            const long long first = poll_window(limiter, a, wa.waker());
            const long long second = poll_window(limiter, *b, wb.waker());
            const long long third = poll_window(limiter, c, wc.waker());
            const std::size_t timers_before = executor.time_driver().registered();

            b.reset();  // b gives up: its timer goes with it
            const std::size_t timers_after = executor.time_driver().registered();
            const int b_wakers = wb.alive();
            const std::size_t waiters = limiter.waiters();
            const int c_wakes = wc.wakes();
            const long long again = poll_window(limiter, c, wc.waker());
            const std::size_t timers = executor.time_driver().registered();
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == waiting);
            CHECK(third == waiting);
            CHECK(timers_before == 1);  // b's
            CHECK(timers_after == 0);
            CHECK(b_wakers == 0);  // and the limiter keeps no waker of it
            CHECK(waiters == 1);
            CHECK(c_wakes == 1);  // c is woken: it keeps the time now
            CHECK(again == waiting);
            CHECK(timers == 1);  // c's
            if (again != waiting) co_return Attempt::checked;

            const TimePoint got = co_await c;
            CHECK(window_number(limiter, got) >= 1);
            co_return Attempt::checked;
        });
    }

    TEST_CASE("a waiter handed a permit but dropped before taking it passes the permit on") {
        run_attempts(1, [](rt::Executor&, Period period) -> rt::Task<Attempt> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, period, start);
            testing::CountingWaker wa, wb, wc, wd;
            Acquire a = limiter.acquire();
            std::optional<Acquire> b(limiter.acquire());
            Acquire c = limiter.acquire();
            const long long first = poll_window(limiter, a, wa.waker());
            const long long second = poll_window(limiter, *b, wb.waker());
            const long long third = poll_window(limiter, c, wc.waker());
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == waiting);
            CHECK(third == waiting);

            co_await rt::sleep_until(start + period);
            const long long now = window_now(limiter);
            Acquire d = limiter.acquire();
            const long long newcomer = poll_window(limiter, d, wd.waker());  // the permit went to b
            const int c_wakes = wc.wakes();  // c became the oldest waiter (and keeps the time)
            b.reset();  // b never takes its permit: it goes to c, the next in line
            const int c_wakes_after = wc.wakes();
            const long long window = poll_window(limiter, c, wc.waker());
            const long long still = poll_window(limiter, d, wd.waker());
            const std::size_t waiters = limiter.waiters();
            if (window_now(limiter) != now) co_return Attempt::stalled;
            CHECK(newcomer == waiting);
            CHECK(c_wakes == 1);
            CHECK(c_wakes_after == 2);
            CHECK(window >= 1);
            CHECK(still == waiting);  // still one per window
            CHECK(waiters == 1);
            co_return Attempt::checked;
        });
    }

    TEST_CASE("a permit handed over and dropped goes back to the bucket when nobody waits") {
        run_attempts(1, [](rt::Executor&, Period period) -> rt::Task<Attempt> {
            const TimePoint start = rt::Clock::now();
            ex::RateLimiter limiter(1, period, start);
            testing::CountingWaker waker;
            Acquire a = limiter.acquire();
            std::optional<Acquire> b(limiter.acquire());
            const long long first = poll_window(limiter, a, waker.waker());
            const long long second = poll_window(limiter, *b, waker.waker());
            if (window_now(limiter) != 0) co_return Attempt::stalled;
            CHECK(first == 0);
            CHECK(second == waiting);

            co_await rt::sleep_until(start + period);
            const long long now = window_now(limiter);
            std::optional<Acquire> d(limiter.acquire());
            const long long newcomer =
                poll_window(limiter, *d, waker.waker());  // the permit went to b
            d.reset();                                    // d gives up
            b.reset();  // and b never takes its permit: nobody waits, so the bucket keeps it
            const std::size_t waiters = limiter.waiters();
            Acquire e = limiter.acquire();
            Acquire f = limiter.acquire();
            const long long window = poll_window(limiter, e, waker.waker());
            const long long next = poll_window(limiter, f, waker.waker());
            if (window_now(limiter) != now) co_return Attempt::stalled;
            CHECK(newcomer == waiting);
            CHECK(waiters == 0);
            CHECK(window >= 1);      // ready at once: not lost
            CHECK(next == waiting);  // and not doubled
            co_return Attempt::checked;
        });
    }

    TEST_CASE("a task that gives up waiting stalls nobody") {
        // The second task waits first in line, keeping the time, and gives up after a third of a
        // period. Only a machine that stalls until the next window can make it wait that long;
        // its timeout and the refill are then due together, and it is served instead (the value
        // wins, as with any timeout). Such an attempt is tried again with a longer period.
        const bool in_time = testing::with_growing_spans([](Period period) {
            ex::RateLimiter limiter(1, period);
            std::vector<Served> served;
            std::optional<TimePoint> impatient;  // the second task's permit, if it got one
            rt::Executor executor;  // after the limiter and the log: its tasks use them
            const std::optional<bool> done = run_bounded(
                executor,
                [&limiter, &served, &impatient, period]() -> rt::Task<bool> {
                    rt::JoinHandle<void> first = rt::spawn(take_permit(limiter, served, 0));
                    rt::JoinHandle<void> second =
                        rt::spawn(take_permit_within(limiter, period / 3, impatient));
                    rt::JoinHandle<void> third = rt::spawn(take_permit(limiter, served, 2));
                    co_await first;
                    co_await second;
                    co_await third;
                    co_return true;
                },
                2 * period);
            REQUIRE_MESSAGE(done.has_value(), stuck);
            if (impatient && window_number(limiter, *impatient) >= 1) return false;  // stalled
            CHECK_FALSE(impatient.has_value());                                      // it gave up
            REQUIRE(served.size() == 2);
            CHECK(served[1].id == 2);
            // The permit the impatient task left is not lost: the third is served next.
            CHECK(served[1].window > served[0].window);
            CHECK(served[1].at >= served[1].window_start);
            return true;
        });
        CHECK_MESSAGE(in_time,
                      "the task with a timeout of a third of a period was served instead of "
                      "giving up, in every attempt, even with windows of 10 s");
    }
}
