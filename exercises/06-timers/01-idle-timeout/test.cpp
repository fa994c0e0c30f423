// Tests of exercise 06-01, the specification of ex::IdleTimeout: items are handed out as they
// come, each one moves the deadline to `idle` after it, and the adapter times out only when the
// source has been silent that long; what the source has when the deadline passes wins; the end
// of the source, a timeout and a dropped adapter leave no timer and no waker behind.
// No verdict depends on how fast the machine is. A test that needs a deadline to have passed
// waits for it with a timer of its own (timers never fire early); a test that needs one not to
// have passed yet checks afterwards that it had not, and if the machine stalled that long, runs
// again with a longer idle time (scenario() below, with testing::with_growing_spans). Every test
// ends on its own, even against the starter: the executor is driven by run_bounded below, which
// stops as soon as nothing is left that could wake the test's task.
#include <doctest/doctest.h>

#include <idle_timeout.hpp>

#include <chrono>
#include <concepts>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "rt/timeout.hpp"
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/run_bounded.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using Feed = ex::Feed<int>;
using Idle = ex::IdleTimeout<Feed>;
using TimePoint = rt::Clock::time_point;

namespace {

// The interface: next() is a future of Received<Item>, for any source.
static_assert(ex::Source<Feed>);
static_assert(std::same_as<Idle::Item, int>);
static_assert(rt::Future<Idle::Next>);
static_assert(std::same_as<Idle::Next::Output, ex::Received<int>>);
static_assert(!ex::Source<int>);

constexpr char stuck[] =
    "the test's task never finished: a next() answered pending and nothing is left that could "
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

/// What one poll of a next() gave, in a form doctest prints: "pending", "item 3", "ended",
/// "timed out".
std::string poll_next(Idle::Next& next, const rt::Waker& waker) {
    rt::Poll<ex::Received<int>> polled = testing::poll_once(next, waker);
    if (polled.is_pending()) return "pending";
    ex::Received<int>& received = polled.value();
    if (received.has_item()) return "item " + std::to_string(received.item());
    return received.ended() ? "ended" : "timed out";
}

std::string poll_next(Idle::Next& next) { return poll_next(next, rt::noop_waker()); }

/// The same for a co_await's outcome.
std::string describe(ex::Received<int>& received) {
    if (received.has_item()) return "item " + std::to_string(received.item());
    return received.ended() ? "ended" : "timed out";
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

/// What an attempt at a scenario came to.
enum class Attempt {
    checked,  // the polls fell where the scenario needs them: its checks were made
    stalled,  // a deadline passed where the scenario needs it not to have: try again
};

/// Run `scenario(executor, idle)`, a coroutine of an Attempt, on a new executor, with an idle
/// time of 10 ms; again with a longer one (100 ms, 1 s, 10 s) each time it stalled. A scenario
/// waits at most `waits` idle times on its own.
template <class Scenario>
void scenario(int waits, Scenario run) {
    const bool in_time = testing::with_growing_spans([&run, waits](std::chrono::milliseconds idle) {
        rt::Executor executor;
        const std::optional<Attempt> attempt = run_bounded(
            executor, [&executor, &run, idle] { return run(executor, idle); }, waits * idle);
        REQUIRE_MESSAGE(attempt.has_value(), stuck);
        return *attempt == Attempt::checked;
    });
    CHECK_MESSAGE(in_time,
                  "a deadline passed where the test needs it not to have, in every attempt, "
                  "even with 10 s of idle time");
}

/// What a scenario comes to when the first poll of its next() did not wait: a stall if the
/// deadline had passed by then, a failure otherwise.
Attempt did_not_wait(const std::string& waited, TimePoint deadline) {
    if (rt::Clock::now() >= deadline) return Attempt::stalled;
    FAIL_CHECK("the first next() did not wait, though its deadline had not passed: " << waited);
    return Attempt::checked;
}

/// Push `count` items, 1 to count, into `feed` in one go, and fall silent (no close).
rt::Task<void> produce(Feed& feed, int count) {
    for (int item = 1; item <= count; ++item) feed.push(item);
    co_return;
}

/// Close `feed` after `delay`.
rt::Task<void> close_after(Feed& feed, std::chrono::milliseconds delay) {
    co_await rt::sleep(delay);
    feed.close();
}

}  // namespace

TEST_SUITE("idle timeout: items") {
    TEST_CASE("items already waiting are handed out at once, in order, with no timer") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            for (int item = 1; item <= 3; ++item) feed.push(item);
            Idle idle(feed, 1h);
            testing::CountingWaker waker;
            const rt::Waker handle = waker.waker();
            for (int item = 1; item <= 3; ++item) {
                Idle::Next next = idle.next();
                CHECK(poll_next(next, handle) == "item " + std::to_string(item));
            }
            CHECK(executor.time_driver().registered() == 0);  // nothing was waited for
            CHECK(waker.clones() == 0);                       // so no waker was kept
            CHECK(feed.size() == 0);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("each item moves the deadline to idle after it, with one timer all along") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            const TimePoint before = rt::Clock::now();
            Idle idle(feed, 1h);
            const TimePoint after = rt::Clock::now();
            CHECK(idle.deadline() >= before + 1h);  // the first silence starts with the adapter
            CHECK(idle.deadline() <= after + 1h);
            for (int item = 1; item <= 3; ++item) {
                const TimePoint previous = idle.deadline();
                Idle::Next next = idle.next();
                CHECK(poll_next(next) == "pending");  // nothing yet: waits, with a timer
                CHECK(executor.time_driver().registered() == 1);
                co_await rt::sleep(1ms);  // time moves on, so the deadline must too
                const TimePoint pushed = rt::Clock::now();
                feed.push(item);
                CHECK(poll_next(next) == "item " + std::to_string(item));
                const TimePoint taken = rt::Clock::now();
                CHECK(idle.deadline() >= pushed + 1h);
                CHECK(idle.deadline() <= taken + 1h);
                CHECK(idle.deadline() > previous);
                CHECK(executor.time_driver().registered() <= 1);  // never a timer per item
            }
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("a timer that fires at a deadline since moved is set again, not taken for silence") {
        scenario(
            3,
            [](rt::Executor& executor, std::chrono::milliseconds idle_time) -> rt::Task<Attempt> {
                Feed feed;
                Idle idle(feed, idle_time);
                const TimePoint first_deadline = idle.deadline();
                Idle::Next first = idle.next();
                const std::string waited = poll_next(first);
                if (waited != "pending") co_return did_not_wait(waited, first_deadline);
                co_await rt::sleep(idle_time / 2);  // half the silence allowed, then an item
                const TimePoint pushed = rt::Clock::now();
                feed.push(1);
                CHECK(poll_next(first) == "item 1");

                // The timer was set for the first deadline. Once that has passed (and the test's
                // own timer for it has fired, so has every timer set for it), the adapter must
                // wait on, for the deadline the item moved: idle after the item.
                Idle::Next second = idle.next();
                if (!co_await sleep_with_timers_until(first_deadline)) co_return Attempt::stalled;
                const std::string polled = poll_next(second);
                const TimePoint looked = rt::Clock::now();
                if (looked >= pushed + idle_time) co_return Attempt::stalled;  // silent long enough
                CHECK_MESSAGE(polled == "pending",
                              "the first deadline passed, but the item had moved the deadline "
                              "later: the adapter timed out at a deadline that was no longer its "
                              "own");
                CHECK(executor.time_driver().registered() == 1);  // set again, for the new deadline

                // And then the source falls silent for good.
                ex::Received<int> last = co_await second;
                CHECK(describe(last) == "timed out");
                CHECK_FALSE(feed.has_waiter());  // cancelled in the poll that timed out
                CHECK(rt::Clock::now() >= pushed + idle_time);  // never before idle after the item
                CHECK(executor.time_driver().registered() == 0);
                co_return Attempt::checked;
            });
    }

    TEST_CASE("the silence is counted from the last item, not from the call to next()") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            feed.push(1);
            Idle idle(feed, 20ms);
            Idle::Next first = idle.next();
            CHECK(poll_next(first) == "item 1");
            // The caller is busy for the whole idle time (a sleep never ends early), and only
            // then asks again: the source has been silent that long already.
            co_await rt::sleep(20ms);
            testing::CountingWaker waker;
            {
                const rt::Waker handle = waker.waker();
                Idle::Next second = idle.next();
                CHECK_MESSAGE(poll_next(second, handle) == "timed out",
                              "the source was silent for the idle time since its last item, so "
                              "the first poll of the next next() must time out");
                // The source's next() was destroyed in that poll, with `second` still alive.
                CHECK_FALSE(feed.has_waiter());
            }
            CHECK(executor.time_driver().registered() == 0);
            CHECK_FALSE(feed.has_waiter());
            CHECK(waker.alive() == 0);  // no clone of the waker kept anywhere
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }
}

TEST_SUITE("idle timeout: at the edges") {
    TEST_CASE("an item that comes when the timer has already fired is handed out") {
        scenario(
            3,
            [](rt::Executor& executor, std::chrono::milliseconds idle_time) -> rt::Task<Attempt> {
                Feed feed;
                Idle idle(feed, idle_time);
                const TimePoint deadline = idle.deadline();
                testing::CountingWaker waker;
                const rt::Waker handle = waker.waker();
                Idle::Next next = idle.next();
                const std::string waited = poll_next(next, handle);
                if (waited != "pending") co_return did_not_wait(waited, deadline);
                // The deadline passes and the adapter's timer fires (it wakes the waker)...
                if (!co_await sleep_with_timers_until(deadline)) co_return Attempt::stalled;
                CHECK_MESSAGE(waker.wakes() == 1, "the adapter's timer did not wake its task");
                // ...and before the task is polled, an item comes: both are there at this poll.
                const TimePoint pushed = rt::Clock::now();
                feed.push(7);
                CHECK_MESSAGE(poll_next(next, handle) == "item 7",
                              "the item was there at the poll: it wins over the deadline");

                // The adapter goes on, with the deadline the item set.
                Idle::Next after = idle.next();
                const std::string polled = poll_next(after, handle);
                if (rt::Clock::now() >= pushed + idle_time) co_return Attempt::stalled;
                CHECK_MESSAGE(polled == "pending",
                              "the item moved the deadline; nothing to time out");
                CHECK(executor.time_driver().registered() == 1);
                ex::Received<int> last = co_await after;
                CHECK(describe(last) == "timed out");
                co_return Attempt::checked;
            });
    }

    TEST_CASE("with no silence allowed, what the source has still comes first") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            feed.push(1);
            feed.push(2);
            Idle idle(feed, 0ns);  // its deadline has passed by its first poll
            Idle::Next first = idle.next();
            CHECK(poll_next(first) == "item 1");
            Idle::Next second = idle.next();
            CHECK(poll_next(second) == "item 2");
            Idle::Next third = idle.next();
            CHECK(poll_next(third) == "timed out");  // empty: at once, with no timer
            CHECK(executor.time_driver().registered() == 0);

            Feed closed;
            closed.close();
            Idle ending(closed, 0ns);
            Idle::Next end = ending.next();
            CHECK(poll_next(end) == "ended");  // the end was there: it is not a timeout
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("a source that ends reports its end, and the timer goes with it") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            feed.push(1);
            Idle idle(feed, 1h);
            rt::spawn(close_after(feed, 10ms));
            std::vector<std::string> seen;
            for (;;) {
                ex::Received<int> received = co_await idle.next();
                seen.push_back(describe(received));
                if (!received.has_item()) break;
            }
            CHECK(seen == std::vector<std::string>{"item 1", "ended"});
            CHECK(idle.finished());
            CHECK(executor.time_driver().registered() == 0);  // the adapter is still alive
            Idle::Next again = idle.next();
            CHECK(poll_next(again) == "ended");  // and says so again
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("a source that falls silent times out, and its next() is cancelled") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            Idle idle(feed, 20ms);
            rt::spawn(produce(feed, 3));  // three items, then nothing, and no close
            std::vector<std::string> seen;
            for (;;) {
                ex::Received<int> received = co_await idle.next();
                seen.push_back(describe(received));
                if (!received.has_item()) break;
            }
            CHECK(seen == std::vector<std::string>{"item 1", "item 2", "item 3", "timed out"});
            CHECK(idle.finished());
            CHECK(executor.time_driver().registered() == 0);  // the adapter is still alive
            CHECK_FALSE(feed.has_waiter());  // the source's next() was cancelled where it waited

            // Timed out is final: the source is not asked again, even when it has an item.
            feed.push(4);
            Idle::Next again = idle.next();
            CHECK(poll_next(again) == "timed out");
            CHECK(feed.size() == 1);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("the timeout is not before idle after the last item") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, []() -> rt::Task<bool> {
            Feed feed;
            Idle idle(feed, 30ms);
            feed.push(1);
            const TimePoint asked = rt::Clock::now();
            ex::Received<int> item = co_await idle.next();
            CHECK(describe(item) == "item 1");
            ex::Received<int> silence = co_await idle.next();
            CHECK(describe(silence) == "timed out");
            CHECK(rt::Clock::now() >= asked + 30ms);  // timers never fire early
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }
}

TEST_SUITE("idle timeout: cancelling and dropping") {
    TEST_CASE("a next() cancelled by its caller is not an item, and lets go of the source") {
        rt::Executor executor;
        const std::optional<bool> done = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            Feed feed;
            Idle idle(feed, 1h);
            const TimePoint deadline = idle.deadline();
            // The caller gives up on one next() (a timeout of its own, a select...).
            const std::optional<ex::Received<int>> gave_up = co_await rt::timeout(5ms, idle.next());
            CHECK_FALSE(gave_up.has_value());
            CHECK_FALSE(feed.has_waiter());      // the source's next() went with it
            CHECK(idle.deadline() == deadline);  // no item came: the silence goes on
            // The timer belongs to the adapter, not to one call: it stays for the next one.
            CHECK(executor.time_driver().registered() == 1);
            feed.push(4);
            ex::Received<int> received = co_await idle.next();
            CHECK(describe(received) == "item 4");  // the adapter works on
            CHECK(idle.deadline() > deadline);
            co_return true;
        });
        REQUIRE_MESSAGE(done.has_value(), stuck);
    }

    TEST_CASE("dropping the adapter while its timer is set leaves no timer, no waker, no wake") {
        scenario(
            2,
            [](rt::Executor& executor, std::chrono::milliseconds idle_time) -> rt::Task<Attempt> {
                Feed feed;
                testing::CountingWaker waker;
                TimePoint deadline{};
                {
                    Idle idle(feed, idle_time);
                    deadline = idle.deadline();
                    const rt::Waker handle = waker.waker();
                    Idle::Next next = idle.next();
                    const std::string waited = poll_next(next, handle);
                    if (waited != "pending") co_return did_not_wait(waited, deadline);
                    CHECK(executor.time_driver().registered() == 1);
                    CHECK(feed.has_waiter());
                }  // the next() and the adapter are dropped here, with the timer set
                CHECK(executor.time_driver().registered() == 0);
                CHECK_FALSE(feed.has_waiter());
                CHECK(waker.alive() == 0);  // neither the timer nor the source keeps a clone
                // Past the old deadline, nobody was woken for it.
                const bool fired = co_await sleep_with_timers_until(deadline + 1ms);
                CHECK(waker.wakes() == 0);
                co_return fired ? Attempt::checked : Attempt::stalled;
            });
    }
}
